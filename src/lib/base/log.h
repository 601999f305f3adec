/* log.h: the one logger. The library reports through it at -v (debug) and leaves the
 * final error line to the cmd-* layer, which prints it once, with context. */
#pragma once

#include "util.h"

enum log_level { LOG_ERR = 0, LOG_INFO = 1, LOG_DEBUG = 2 };

extern int log_max_level;

/* Where lines go: a whole line, "sluice: ...\n". Returns whether it was written (a line that
 * was not is counted by log_dropped()). Without a sink every line is dropped. */
typedef bool (*log_sink_fn)(enum log_level level, const char *line, size_t len);
void log_set_sink(log_sink_fn fn);

void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);
/* How many lines the sink could not write (stderr closed or broken), or had no sink. */
unsigned long log_dropped(void);

/* Print "sluice: <what>: <strerror(-r)>" and return r (negative errno). */
int log_errno(int r, const char *fmt, ...) _printf_(2, 3);

/* -v shows when each step of a run starts, in ms since the run began (its first step):
 * where the start time goes. SLUICE_TRACE=1 shows only that, without -v's other messages
 * (which cost time to print). */
void log_trace(const char *step);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)

/*
 * Errors carry context up to main: a library function that fails records what it was doing
 * and returns the negative errno; the cmd-* layer prints the record once.
 *   err_set(r, "veth %s", name)   -> "sluice: veth sl-1234: File exists"
 *   err_invalid("%s:%u:%u: ...")  -> printed as is (bad input; returns -EINVAL)
 * err_set() records what this function was doing, replacing any record; err_wrap() adds
 * context to the record a callee left for the same failure (the same errno), so that the
 * message reads outward in: err_wrap(r, "WireGuard peers from --allow") over a callee's
 * "allow 10.0.0.1: not a peer" -> "WireGuard peers from --allow: allow 10.0.0.1: not a peer".
 * With no record of that failure it is err_set().
 */
int err_set(int r, const char *fmt, ...) _printf_(2, 3);
int err_invalid(const char *fmt, ...) _printf_(1, 2);
/* Like err_set(), for a message that is whole already (another process's err_message()):
 * printed as is, without strerror(-r) once more. */
int err_set_whole(int r, const char *fmt, ...) _printf_(2, 3);
int err_wrap(int r, const char *fmt, ...) _printf_(2, 3);
/* The recorded message (empty if none) formatted with strerror(-r) where that helps. */
const char *err_message(int r);
void err_clear(void);
bool err_is_set(void);
