/* targets.c: the start-up check of targets.h. Non-blocking connects, one poll over all of
 * them, each socket closed at once; nothing is sent. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "log.h"
#include "targets.h"

#define TARGETS_MAX 64

struct target {
	char what[96];
	bool is_unix;
	struct endpoint ep;
	const char *path;
	int fd;
	int err; /* 0 answered, else a positive errno */
};

static void start(struct target *t)
{
	struct sockaddr_storage sa = {0};
	socklen_t len;

	t->fd = socket(t->is_unix ? AF_UNIX : t->ep.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (t->fd < 0) {
		t->err = errno;
		return;
	}
	if (t->is_unix) {
		struct sockaddr_un *un = (struct sockaddr_un *)&sa;

		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", t->path);
		len = sizeof(*un);
	} else if (t->ep.family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;

		in->sin_family = AF_INET;
		in->sin_port = htons(t->ep.port);
		in->sin_addr = t->ep.ip.v4;
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(t->ep.port);
		in6->sin6_addr = t->ep.ip.v6;
		len = sizeof(*in6);
	}
	if (connect(t->fd, (struct sockaddr *)&sa, len) == 0) {
		closep(&t->fd);
		return;
	}
	if (errno != EINPROGRESS) {
		t->err = errno;
		closep(&t->fd);
	}
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

unsigned targets_check(const struct plan *p, struct audit *a)
{
	struct target t[TARGETS_MAX];
	struct pollfd pfd[TARGETS_MAX];
	long deadline = now_ms() + TARGETS_CHECK_MS;
	size_t n = 0, waiting = 0;
	unsigned down = 0;
	char buf[ADDR_STR_MAX];

	for (size_t i = 0; i < p->n_forwards && n < TARGETS_MAX; i++) {
		const struct forward *f = &p->forwards[i];
		struct target *x = &t[n++];

		memset(x, 0, sizeof(*x));
		x->fd = -1;
		if (f->is_proxy)
			snprintf(x->what, sizeof(x->what), "the proxy");
		else
			snprintf(x->what, sizeof(x->what), "the target of forward %s",
				 addr_format(&f->listen, buf, sizeof(buf)));
		x->is_unix = f->kind == TARGET_UNIX;
		x->path = f->path;
		x->ep = f->target;
	}
	/* Over a link the proxy is reached by routing, not a forward: try it all the same. */
	for (size_t i = 0; i < p->n_allowed && n < TARGETS_MAX; i++) {
		struct target *x;

		if (!p->allowed[i].is_proxy)
			continue;
		x = &t[n++];
		memset(x, 0, sizeof(*x));
		x->fd = -1;
		snprintf(x->what, sizeof(x->what), "the proxy");
		x->ep = p->allowed[i].ep;
	}
	for (size_t i = 0; i < n; i++) {
		start(&t[i]);
		waiting += t[i].fd >= 0;
	}
	while (waiting) {
		long left = deadline - now_ms();
		size_t k = 0;
		int got;

		for (size_t i = 0; i < n; i++)
			if (t[i].fd >= 0)
				pfd[k++] = (struct pollfd){.fd = t[i].fd, .events = POLLOUT};
		got = left > 0 ? poll(pfd, k, (int)left) : 0;
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			for (size_t i = 0; i < n; i++)
				if (t[i].fd >= 0) {
					t[i].err = ETIMEDOUT;
					closep(&t[i].fd);
				}
			break;
		}
		for (size_t j = 0; j < k; j++) {
			struct target *x = NULL;
			int e = 0;
			socklen_t len = sizeof(e);

			if (!pfd[j].revents)
				continue;
			for (size_t i = 0; i < n && !x; i++)
				if (t[i].fd == pfd[j].fd)
					x = &t[i];
			if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
				e = errno;
			x->err = e;
			closep(&x->fd);
			waiting--;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct audit_event e = {.layer = AUDIT_START, .kind = AUDIT_TARGET};

		if (!t[i].err)
			continue;
		down++;
		e.name = t[i].what;
		e.why = t[i].err == ETIMEDOUT ? "no answer in a second" : strerror(t[i].err);
		e.has_ep = !t[i].is_unix;
		e.ep = t[i].ep;
		e.path = t[i].is_unix ? t[i].path : NULL;
		audit_report(a, &e);
	}
	return down;
}
