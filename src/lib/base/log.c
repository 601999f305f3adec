/* log.c: sluice's messages, a line each, prefixed "sluice: ", handed to the sink the program
 * set (log_set_sink; the CLI's writes them to stderr): the library itself writes nowhere.
 * Debug lines are made only at -v; errors always. A line the sink could not write (stderr
 * closed: `sluice run -v ... 2>&1 | head`) is dropped and counted, never fatal. The error
 * record is per thread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

int log_max_level = LOG_INFO;
static unsigned long dropped;
static log_sink_fn sink;

void log_set_sink(log_sink_fn fn)
{
	sink = fn;
}

static void put_line(enum log_level level, const char *line)
{
	if (!sink || !sink(level, line, strlen(line)))
		__atomic_add_fetch(&dropped, 1, __ATOMIC_RELAXED);
}

unsigned long log_dropped(void)
{
	return __atomic_load_n(&dropped, __ATOMIC_RELAXED);
}

static void vlog(enum log_level level, int r, const char *fmt, va_list ap)
{
	char buf[1024], line[1200];
	int saved = errno;

	if ((int)level > log_max_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (r < 0)
		snprintf(line, sizeof(line), "sluice: %s: %s\n", buf, strerror(-r));
	else
		snprintf(line, sizeof(line), "sluice: %s\n", buf);
	put_line(level, line);
	errno = saved;
}

void log_trace(const char *step)
{
	static struct timespec t0;
	struct timespec now;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!t0.tv_sec)
		t0 = now;
	ms = (double)(now.tv_sec - t0.tv_sec) * 1e3 + (double)(now.tv_nsec - t0.tv_nsec) / 1e6;
	if (getenv("SLUICE_TRACE")) {
		char line[128];

		snprintf(line, sizeof(line), "sluice: trace %8.3f ms  %s\n", ms, step);
		put_line(LOG_INFO, line);
	} else
		log_debug("%8.3f ms  %s", ms, step);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, 0, fmt, ap);
	va_end(ap);
}

int log_errno(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, r, fmt, ap);
	va_end(ap);
	return r;
}

static _Thread_local char err_buf[1024];
static _Thread_local bool err_verbatim;
static _Thread_local int err_r; /* the errno the record is of */

static int err_vset(int r, bool verbatim, const char *fmt, va_list ap)
{
	vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	err_verbatim = verbatim;
	err_r = r;
	return r;
}

int err_wrap(int r, const char *fmt, ...)
{
	char outer[512], inner[sizeof(err_buf)];
	va_list ap;

	va_start(ap, fmt);
	if (!err_buf[0] || err_r != r) {
		err_vset(r, false, fmt, ap);
		va_end(ap);
		return r;
	}
	vsnprintf(outer, sizeof(outer), fmt, ap);
	va_end(ap);
	memcpy(inner, err_buf, sizeof(inner));
	/* the inner record's kind stays: whole, or to be followed by strerror */
	snprintf(err_buf, sizeof(err_buf), "%s: %s", outer, inner);
	return r;
}

int err_set(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(r, false, fmt, ap);
	va_end(ap);
	return r;
}

int err_set_whole(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(r, true, fmt, ap);
	va_end(ap);
	return r;
}

int err_invalid(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(-EINVAL, true, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *err_message(int r)
{
	static _Thread_local char out[1200];

	if (!err_buf[0])
		snprintf(out, sizeof(out), "%s", strerror(r < 0 ? -r : r));
	else if (err_verbatim || r >= 0)
		snprintf(out, sizeof(out), "%s", err_buf);
	else
		snprintf(out, sizeof(out), "%s: %s", err_buf, strerror(-r));
	return out;
}

void err_clear(void)
{
	err_buf[0] = '\0';
	err_verbatim = false;
	err_r = 0;
}

bool err_is_set(void)
{
	return err_buf[0] != '\0';
}
