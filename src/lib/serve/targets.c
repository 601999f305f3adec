/* targets.c: the start-up check of targets.h. Non-blocking connects, one poll over those
 * still pending, each socket closed once it has an answer; nothing is sent. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "log.h"
#include "targets.h"

#define TARGETS_MAX 64

struct target {
	char what[96];
	bool is_unix;
	struct endpoint ep;
	const char *path;
	int fd;	 /* while the connect is pending */
	int err; /* 0 answered, else a positive errno */
};

struct targets {
	uint64_t deadline;
	size_t n;
	struct target t[TARGETS_MAX];
};

void targets_name(const struct forward *f, char *buf, size_t len)
{
	char ep[ADDR_STR_MAX];

	if (f->is_proxy)
		snprintf(buf, len, "the proxy");
	else
		snprintf(buf, len, "the target of forward %s", addr_format(&f->listen, ep, sizeof(ep)));
}

static void connect_one(struct target *t)
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
	if (connect(t->fd, (struct sockaddr *)&sa, len) == 0 || errno != EINPROGRESS) {
		t->err = errno == EINPROGRESS ? 0 : errno;
		closep(&t->fd);
	}
}

static struct target *add(struct targets *ts)
{
	struct target *t = ts->n < TARGETS_MAX ? &ts->t[ts->n++] : NULL;

	if (t) {
		memset(t, 0, sizeof(*t));
		t->fd = -1;
	}
	return t;
}

int targets_start(const struct plan *p, struct targets **ret)
{
	struct targets *ts = calloc(1, sizeof(*ts));
	struct target *t;

	if (!ts)
		return -ENOMEM;
	ts->deadline = monotonic_ms() + TARGETS_CHECK_MS;
	for (size_t i = 0; i < p->n_forwards && (t = add(ts)); i++) {
		targets_name(&p->forwards[i], t->what, sizeof(t->what));
		t->is_unix = p->forwards[i].kind == TARGET_UNIX;
		t->path = p->forwards[i].path;
		t->ep = p->forwards[i].target;
	}
	/* Over a link the proxy is reached by routing, not a forward: try it all the same. */
	for (size_t i = 0; i < p->n_allowed; i++)
		if (p->allowed[i].is_proxy && (t = add(ts))) {
			snprintf(t->what, sizeof(t->what), "the proxy");
			t->ep = p->allowed[i].ep;
		}
	for (size_t i = 0; i < ts->n; i++)
		connect_one(&ts->t[i]);
	*ret = ts;
	return 0;
}

unsigned targets_finish(struct targets *ts, struct audit *a)
{
	struct pollfd pfd[TARGETS_MAX];
	unsigned down = 0;

	for (;;) {
		uint64_t now = monotonic_ms();
		size_t k = 0;
		int got;

		for (size_t i = 0; i < ts->n; i++)
			if (ts->t[i].fd >= 0)
				pfd[k++] = (struct pollfd){.fd = ts->t[i].fd, .events = POLLOUT};
		if (!k)
			break;
		got = poll(pfd, k, ts->deadline > now ? (int)(ts->deadline - now) : 0);
		if (got < 0 && errno == EINTR)
			continue;
		for (size_t i = 0, j = 0; i < ts->n; i++) {
			struct target *t = &ts->t[i];
			socklen_t len = sizeof(t->err);

			if (t->fd < 0)
				continue;
			if (got <= 0)
				t->err = ETIMEDOUT; /* the deadline passed without an answer */
			else if (!pfd[j].revents) {
				j++;
				continue;
			} else if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &t->err, &len) < 0)
				t->err = errno;
			j++;
			closep(&t->fd);
		}
	}
	for (size_t i = 0; i < ts->n; i++) {
		struct audit_event e = {.layer = AUDIT_START, .kind = AUDIT_TARGET};
		const struct target *t = &ts->t[i];

		if (!t->err)
			continue;
		down++;
		e.name = t->what;
		e.why = t->err == ETIMEDOUT ? "no answer in a second" : strerror(t->err);
		e.has_ep = !t->is_unix;
		e.ep = t->ep;
		e.path = t->is_unix ? t->path : NULL;
		audit_report(a, &e);
	}
	return down;
}

void targets_free(struct targets *ts)
{
	for (size_t i = 0; ts && i < ts->n; i++)
		closep(&ts->t[i].fd);
	free(ts);
}
