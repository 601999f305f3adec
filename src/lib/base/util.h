/* util.h: cleanup helpers, ownership hand-off and small macros shared by every module.
 * Modelled on systemd's _cleanup_ conventions: destructors accept NULL (or -1 for fds). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

static inline void freep(void *p)
{
	free(*(void **)p);
}

/* Leaves -1 behind: an fd closed early with closep() is not closed again at scope exit (by
 * then its number may be another file's). */
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
		*fd = -1;
	}
}

static inline void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static inline void strv_freep(char ***v)
{
	strv_free(*v);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* DEFINE_CLEANUP_FUNC(struct mnl_socket, mnl_socket_close) gives mnl_socket_closep(). */
#define DEFINE_CLEANUP_FUNC(type, fn)                                                              \
	static inline void fn##p(type **p)                                                         \
	{                                                                                          \
		if (*p)                                                                            \
			fn(*p);                                                                    \
	}

/* Hand ownership over: returns the value and leaves the variable empty. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})
/* The same for a structure held by value, whose free function leaves a zeroed one alone. */
#define TAKE_STRUCT(s)                                                                             \
	({                                                                                         \
		__typeof__(s) _s = (s);                                                            \
		memset(&(s), 0, sizeof(s));                                                        \
		_s;                                                                                \
	})

/* Return -errno from a libc call that failed with -1; never returns 0. */
static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static inline bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The names in directory PATH (no dot entries; only subdirectories if DIRS_ONLY) as a
 * NULL-terminated vector. A missing directory is an empty list. */
int dir_list(const char *path, bool dirs_only, char ***ret);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t monotonic_ms(void);
/* Whether fd is an IPv4 or IPv6 socket. */
bool fd_is_ip_socket(int fd);

/* The value of the line "KEY:\tvalue" of /proc/PID/status (what follows the colon, the
 * newline included) into buf; -ENOENT if there is no such line, -errno if it cannot be read
 * (the process is gone). */
int proc_status_field(pid_t pid, const char *key, char *buf, size_t len);
