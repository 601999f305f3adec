/* loop.h: the supervisor's one event loop (epoll). Every fd the supervisor serves while a
 * cage runs (signals, the child's pidfd, forwards, the DNS stub) is a source on it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "util.h"

struct loop;
struct loop_source;

/* Called with the epoll events that fired (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP...). */
typedef void (*loop_fn)(struct loop_source *s, uint32_t events);

/* Embedded in the caller's own structure (container_of gets back to it). The caller owns
 * the memory and the fd; loop_del() forgets it. */
struct loop_source {
	int fd;
	loop_fn fn;
	uint32_t events; /* what is currently asked for (0 while paused) */
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

int loop_new(struct loop **ret);
/* Closes nothing but its own epoll fd; runs the deferred frees that are pending. */
void loop_free(struct loop *l);
DEFINE_CLEANUP_FUNC(struct loop, loop_free)

/* Start watching s->fd for EVENTS (level-triggered) calling FN. */
int loop_add(struct loop *l, struct loop_source *s, int fd, uint32_t events, loop_fn fn);
/* Change what s waits for; 0 pauses it without forgetting it. A no-op if unchanged. */
int loop_mod(struct loop *l, struct loop_source *s, uint32_t events);
/* Stop watching s (safe to call on a source never added: fd < 0). */
void loop_del(struct loop *l, struct loop_source *s);

/* Free P (with FN) once the current batch of events has been dispatched: a callback may
 * end an object whose other sources still have events waiting in the same batch. Those
 * sources must have been loop_del()'d: events of deleted sources in the batch are
 * skipped. */
int loop_defer_free(struct loop *l, void (*fn)(void *), void *p);

/* Wait up to TIMEOUT_MS (-1: forever) and dispatch one batch. Returns the number of
 * events dispatched (0 on timeout or EINTR) or a negative errno. */
int loop_run_once(struct loop *l, int timeout_ms);
