/* log.c: writes sluice's messages to stderr, prefixed "sluice: ".
 * Debug lines appear only at -v; errors always. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

int log_max_level = LOG_INFO;

static void vlog(enum log_level level, int r, const char *fmt, va_list ap)
{
	char buf[1024];

	if ((int)level > log_max_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (r < 0)
		fprintf(stderr, "sluice: %s: %s\n", buf, strerror(-r));
	else
		fprintf(stderr, "sluice: %s\n", buf);
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
	if (getenv("SLUICE_TRACE"))
		fprintf(stderr, "sluice: trace %8.3f ms  %s\n", ms, step);
	else
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

static char err_buf[1024];
static bool err_verbatim;

static int err_vset(int r, bool verbatim, const char *fmt, va_list ap)
{
	vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	err_verbatim = verbatim;
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
	static char out[1200];

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
}

bool err_is_set(void)
{
	return err_buf[0] != '\0';
}
