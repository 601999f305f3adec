/* loop.c: epoll with deferred frees. Sources deleted during a batch are remembered so
 * that their pending events in the same batch are skipped, not dispatched to freed memory. */
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "util.h"

#define BATCH 64

struct deferred {
	void (*fn)(void *);
	void *p;
};

struct loop {
	int epfd;
	struct epoll_event ev[BATCH];
	int n_ev, i_ev; /* the batch being dispatched, and where we are in it */
	struct deferred *defer;
	size_t n_defer, cap_defer;
};

int loop_new(struct loop **ret)
{
	_cleanup_free_ struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return err_set(negative_errno(), "epoll_create1");
	*ret = TAKE_PTR(l);
	return 0;
}

static void run_deferred(struct loop *l)
{
	for (size_t i = 0; i < l->n_defer; i++)
		l->defer[i].fn(l->defer[i].p);
	l->n_defer = 0;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	run_deferred(l);
	free(l->defer);
	close(l->epfd);
	free(l);
}

int loop_add(struct loop *l, struct loop_source *s, int fd, uint32_t events, loop_fn fn)
{
	struct epoll_event ev = {.events = events, .data.ptr = s};

	s->fd = fd;
	s->fn = fn;
	s->events = events;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		s->fd = -1;
		return negative_errno();
	}
	return 0;
}

int loop_mod(struct loop *l, struct loop_source *s, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = s};

	if (s->events == events)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, s->fd, &ev) < 0)
		return negative_errno();
	s->events = events;
	return 0;
}

void loop_del(struct loop *l, struct loop_source *s)
{
	if (s->fd < 0)
		return;
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	/* Forget its events still waiting in this batch. */
	for (int i = l->i_ev; i < l->n_ev; i++)
		if (l->ev[i].data.ptr == s)
			l->ev[i].data.ptr = NULL;
	s->fd = -1;
	s->events = 0;
}

int loop_defer_free(struct loop *l, void (*fn)(void *), void *p)
{
	if (l->n_defer == l->cap_defer) {
		size_t cap = l->cap_defer ? 2 * l->cap_defer : 16;
		struct deferred *d = realloc(l->defer, cap * sizeof(*d));

		if (!d) {
			/* No memory to defer: nothing in the batch can refer to p once its
			 * sources are deleted, so freeing now is safe too. */
			fn(p);
			return -ENOMEM;
		}
		l->defer = d;
		l->cap_defer = cap;
	}
	l->defer[l->n_defer++] = (struct deferred){fn, p};
	return 0;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	int n = epoll_wait(l->epfd, l->ev, BATCH, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : err_set(negative_errno(), "epoll_wait");
	l->n_ev = n;
	for (l->i_ev = 0; l->i_ev < n; l->i_ev++) {
		struct loop_source *s = l->ev[l->i_ev].data.ptr;

		if (s)
			s->fn(s, l->ev[l->i_ev].events);
	}
	l->n_ev = l->i_ev = 0;
	run_deferred(l);
	return n;
}
