/* relay.c: forwards served on the supervisor's loop. Each accepted connection gets a
 * non-blocking connect to its target (after a SOCKS5 exchange for isolate_streams) and then
 * two flows. A flow reads into the relay's one buffer and sends straight on; what its
 * destination cannot take yet waits in the flow's pipe, and the flow reads no more until the
 * pipe is empty again (splice(2) drains it), so at most a pipe's worth is held each way. */
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>

#include <sodium.h>

#include "addr.h"
#include "httphead.h"
#include "inward.h"
#include "log.h"
#include "relay.h"
#include "socks5.h"
#include "util.h"

#define ACCEPT_BATCH	64	  /* accepts per wakeup before other sources get a turn */
#define PUMP_ROUNDS	16	  /* reads or drains per flow per wakeup, likewise */
#define FLOW_BYTES	(1 << 20) /* the relay's buffer, asked of each pipe (default 64 KiB) */
#define ACCEPT_PAUSE_MS 100	  /* how long listeners rest when fds or memory run out */
#define HS_BUF		512	  /* holds any one greeting or request (SOCKS5_*_MAX) and more */
#define CRED_BYTES	16	  /* random bytes in each of username and password */
#define LABEL_MAX	(2 * ADDR_STR_MAX + UNIX_PATH_MAX + 16)

struct relay {
	struct loop *loop;
	struct listener *listeners;
	struct conn *conns;
	struct loop_source timer; /* wakes paused listeners */
	int timer_fd;
	bool timer_armed;
	uint64_t next_id;
	struct relay_stats stats;
	uint8_t *buf; /* FLOW_BYTES, shared by every flow (one loop), made on first use */
	relay_report_fn report; /* a target that did not answer */
	void *report_ctx;
};

struct listener {
	struct relay *relay;
	struct listener *next;
	struct loop_source src;
	int fd;
	bool paused;
	struct forward fwd;
	struct inward *inward; /* a published port: its targets' sockets are made in the cage */
	struct proxy_auth *auth; /* the proxy's credentials, added on the way; NULL: none */
	char *basic;		 /* an http:// target's: "Basic <base64 of user:pass>" */
	struct sockaddr_storage sa; /* the target, ready for connect() */
	socklen_t salen;
	char label[LABEL_MAX]; /* "tcp 127.0.0.1:8888 -> tcp 10.0.0.1:80", for -v */
};

enum conn_state {
	CONN_HTTP_HEAD,	     /* reading the client's request head, to add the credentials */
	CONN_SOCKS_GREETING, /* reading the client's method offer */
	CONN_SOCKS_REQUEST,  /* reading the client's CONNECT */
	CONN_CONNECTING,     /* connect() to the target in progress */
	CONN_UP_METHOD,	     /* waiting for the upstream's method choice */
	CONN_UP_AUTH,	     /* waiting for the upstream's verdict on our credentials */
	CONN_RELAYING,	     /* splicing both ways */
};

/* One socket of a connection. */
struct side {
	struct loop_source src; /* src.fd < 0 while not in epoll */
	int fd;
	bool hup; /* EPOLLHUP seen: while paused it is taken out of epoll, not to spin */
};

/* One direction: from → pipe → to. */
struct flow {
	int pipe[2];	/* made on first use */
	size_t room;	/* what the pipe holds at most: the most a read asks for */
	size_t pending; /* bytes in the pipe */
	bool eof;	/* from has reached EOF */
	bool done;	/* eof and drained; to has been shut down for writing */
	uint64_t bytes; /* written to `to` */
};

/* The SOCKS5 exchange of an isolate_streams connection; freed once it relays. */
struct handshake {
	uint8_t buf[HS_BUF]; /* from the client: greeting, request, what it pipelined after */
	size_t len;
	size_t req_len; /* the request's length, once parsed (at buf[0]) */
	uint8_t up[2];	/* the upstream's current two-byte reply */
	size_t up_len;
};

struct conn {
	struct relay *relay;
	struct listener *lst;
	struct conn *prev, *next;
	uint64_t id;
	enum conn_state state;
	bool ended;
	const char *why; /* what went wrong, for -v, where errno alone would puzzle */
	struct side client, target;
	struct flow up, down; /* client → target, target → client */
	struct handshake *hs;
	struct http_head *http; /* CONN_HTTP_HEAD only */
};

/* What the client sent of its request head so far. */
struct http_head {
	size_t len;
	char buf[HTTP_HEAD_MAX];
};

static void on_client(struct loop_source *s, uint32_t events);
static void on_target(struct loop_source *s, uint32_t events);

/* close() that sends a RST instead of a FIN, so the peer sees a reset, not a clean EOF. */
static void close_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static int sock_error(int fd)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		return negative_errno();
	return -e;
}

/* The few handshake bytes go to a fresh socket whose send buffer is empty: a short write
 * cannot happen in practice and is treated as a failure rather than queued. */
static int send_all(int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0)
		return negative_errno();
	return (size_t)n == len ? 0 : -ENOBUFS;
}

/* --- listeners ------------------------------------------------------------------------ */

static void listeners_pause(struct listener *lst)
{
	struct relay *r = lst->relay;
	struct itimerspec its = {.it_value.tv_nsec = ACCEPT_PAUSE_MS * 1000000L};

	if (loop_mod(r->loop, &lst->src, 0) < 0)
		return;
	lst->paused = true;
	if (!r->timer_armed && timerfd_settime(r->timer_fd, 0, &its, NULL) == 0)
		r->timer_armed = true;
}

static void on_timer(struct loop_source *s, uint32_t events)
{
	struct relay *r = container_of(s, struct relay, timer);
	uint64_t ticks;

	(void)!read(r->timer_fd, &ticks, sizeof(ticks));
	r->timer_armed = false;
	for (struct listener *lst = r->listeners; lst; lst = lst->next)
		if (lst->paused && loop_mod(r->loop, &lst->src, EPOLLIN) == 0)
			lst->paused = false;
}

/* --- connections ---------------------------------------------------------------------- */

static void conn_end(struct conn *c, bool reset)
{
	struct relay *r = c->relay;
	struct side *sides[] = {&c->client, &c->target};
	struct flow *flows[] = {&c->up, &c->down};

	c->ended = true;
	for (size_t i = 0; i < ARRAY_SIZE(sides); i++) {
		loop_del(r->loop, &sides[i]->src);
		if (sides[i]->fd < 0)
			continue;
		if (reset)
			close_reset(sides[i]->fd);
		else
			close(sides[i]->fd);
		sides[i]->fd = -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(flows); i++)
		for (size_t j = 0; j < 2; j++)
			if (flows[i]->pipe[j] >= 0)
				close(flows[i]->pipe[j]);
	free(c->hs);
	c->hs = NULL;
	free(c->http);
	c->http = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	r->stats.open--;
}

/* End C with a reset of both sides: an error on one side is passed on to the other. */
static void conn_fail(struct conn *c, int err)
{
	struct relay *r = c->relay;

	if (c->ended)
		return;
	if (c->state != CONN_RELAYING)
		r->stats.refused++;
	if (c->state == CONN_CONNECTING && r->report)
		r->report(r->report_ctx, &c->lst->fwd, err);
	log_debug("%s: connection %" PRIu64 " reset: %s (%" PRIu64 " bytes up, %" PRIu64 " down)",
		  c->lst->label, c->id, c->why ? c->why : strerror(-err), c->up.bytes,
		  c->down.bytes);
	conn_end(c, true);
	(void)loop_defer_free(r->loop, free, c);
}

static void conn_close(struct conn *c)
{
	struct relay *r = c->relay;

	log_debug("%s: connection %" PRIu64 " closed (%" PRIu64 " bytes up, %" PRIu64 " down)",
		  c->lst->label, c->id, c->up.bytes, c->down.bytes);
	conn_end(c, false);
	(void)loop_defer_free(r->loop, free, c);
}

/* Ask epoll for WANT on S. A paused side normally stays in epoll (it still reports
 * EPOLLERR, so a reset is noticed); one that has hung up is taken out instead, because
 * EPOLLHUP is reported whatever is asked for and would fire on every wait. */
static int side_watch(struct conn *c, struct side *s, uint32_t want)
{
	struct loop *l = c->relay->loop;
	loop_fn fn = s == &c->client ? on_client : on_target;

	if (s->fd < 0)
		return 0;
	if (s->src.fd < 0)
		return want ? loop_add(l, &s->src, s->fd, want, fn) : 0;
	if (!want && s->hup) {
		loop_del(l, &s->src);
		return 0;
	}
	return loop_mod(l, &s->src, want);
}

/* A flow waits for its destination while the pipe holds bytes, else for its source. */
static void flow_want(const struct flow *f, uint32_t *from, uint32_t *to)
{
	if (f->done)
		return;
	if (f->pending)
		*to |= EPOLLOUT;
	else
		*from |= EPOLLIN;
}

/* Bring C's epoll interest in line with its state, or close it if both flows are done. */
static void conn_sync(struct conn *c)
{
	uint32_t cw = 0, tw = 0;
	int r;

	switch (c->state) {
	case CONN_HTTP_HEAD:
	case CONN_SOCKS_GREETING:
	case CONN_SOCKS_REQUEST:
		cw = EPOLLIN;
		break;
	case CONN_CONNECTING:
		tw = EPOLLOUT;
		break;
	case CONN_UP_METHOD:
	case CONN_UP_AUTH:
		tw = EPOLLIN;
		break;
	case CONN_RELAYING:
		if (c->up.done && c->down.done) {
			conn_close(c);
			return;
		}
		flow_want(&c->up, &cw, &tw);
		flow_want(&c->down, &tw, &cw);
		break;
	}
	r = side_watch(c, &c->client, cw);
	if (r >= 0)
		r = side_watch(c, &c->target, tw);
	if (r < 0)
		conn_fail(c, r);
}

static int flow_pipe(struct flow *f)
{
	int size;

	if (pipe2(f->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return negative_errno();
	/* A larger pipe lets a bulk stream go in fewer, larger reads; its pages are taken only
	 * while bytes wait in it. Best effort: past the user's pipe quota the kernel refuses,
	 * and the default size works too. */
	(void)fcntl(f->pipe[0], F_SETPIPE_SZ, FLOW_BYTES);
	size = fcntl(f->pipe[0], F_GETPIPE_SZ);
	f->room = size > 0 ? (size_t)size : 4096;
	if (f->room > FLOW_BYTES)
		f->room = FLOW_BYTES;
	return 0;
}

/*
 * Move bytes along F until a side would block, F ends, or its turn is used up (then the
 * level-triggered interest flow_want() asks for is ready at once and brings us back). A read
 * (no more than the pipe holds) is sent on at once from the relay's buffer; what the
 * destination does not take goes into the empty pipe, which then drains by splice before
 * anything more is read. Copying beat splicing both ways on Linux 6.18 (a relay of one bulk
 * TCP stream: 2.2-2.5 against 1.6-1.8 GB/s, though splice took less CPU), and the pipe
 * keeps what is held bounded and per flow. 1 MiB moved about 10 % more than 256 KiB.
 */
static int flow_pump(struct relay *r, struct flow *f, int from, int to, uint64_t *total)
{
	for (int round = 0; round < PUMP_ROUNDS; round++) {
		ssize_t n, m;

		if (f->pending) {
			n = splice(f->pipe[0], NULL, to, NULL, f->pending,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
			f->pending -= (size_t)n;
			f->bytes += (uint64_t)n;
			*total += (uint64_t)n;
			continue;
		}
		if (f->eof) {
			/* Half-close: pass the EOF on; the other direction keeps flowing. The
			 * peer may be gone already (ENOTCONN): the other flow finds out. */
			(void)shutdown(to, SHUT_WR);
			f->done = true;
			return 0;
		}
		if (f->pipe[0] < 0 && (n = flow_pipe(f)) < 0)
			return (int)n;
		if (!r->buf && !(r->buf = malloc(FLOW_BYTES)))
			return -ENOMEM;
		n = recv(from, r->buf, f->room, MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
		if (n == 0) {
			f->eof = true;
			continue;
		}
		m = send(to, r->buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (m < 0 && errno != EAGAIN && errno != EINTR)
			return negative_errno();
		if (m < 0)
			m = 0;
		f->bytes += (uint64_t)m;
		*total += (uint64_t)m;
		if (m < n) {
			/* The pipe is empty and holds at least n: this write is whole. */
			ssize_t w = write(f->pipe[1], r->buf + m, (size_t)(n - m));

			if (w != n - m)
				return w < 0 ? negative_errno() : -EIO;
			f->pending = (size_t)(n - m);
		}
	}
	return 0;
}

static int conn_pump_up(struct conn *c)
{
	return flow_pump(c->relay, &c->up, c->client.fd, c->target.fd, &c->relay->stats.bytes_up);
}

static int conn_pump_down(struct conn *c)
{
	return flow_pump(c->relay, &c->down, c->target.fd, c->client.fd,
			 &c->relay->stats.bytes_down);
}

/* The target is connected: greet it as a SOCKS5 client, or start relaying. */
static int conn_ready(struct conn *c)
{
	uint8_t greeting[3];
	int r;

	if (!c->hs) {
		c->state = CONN_RELAYING;
		log_debug("%s: connection %" PRIu64 " relaying", c->lst->label, c->id);
		return 0;
	}
	r = socks5_build_greeting(greeting, sizeof(greeting));
	if (r < 0)
		return r;
	c->state = CONN_UP_METHOD;
	return send_all(c->target.fd, greeting, (size_t)r);
}

/* Open the connection to the forward's target from our own netns. */
static int conn_connect(struct conn *c)
{
	const struct listener *lst = c->lst;

	if (lst->inward) {
		int r = inward_socket(lst->inward, lst->sa.ss_family, &c->target.fd);

		if (r < 0)
			return r;
	} else {
		c->target.fd =
		    socket(lst->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->target.fd < 0)
			return negative_errno();
	}
	c->state = CONN_CONNECTING;
	/* A target that never answers fails the connect in RELAY_CONNECT_MS, not the kernel's
	 * two minutes of SYNs; the limit is lifted once connected. */
	if (lst->sa.ss_family != AF_UNIX)
		(void)setsockopt(c->target.fd, IPPROTO_TCP, TCP_USER_TIMEOUT,
				 &(unsigned){RELAY_CONNECT_MS}, sizeof(unsigned));
	if (connect(c->target.fd, (const struct sockaddr *)&lst->sa, lst->salen) == 0)
		return conn_ready(c);
	/* A unix socket with a full backlog says EAGAIN: that is a refusal too. */
	return errno == EINPROGRESS ? 0 : negative_errno();
}

static int conn_connected(struct conn *c)
{
	int r = sock_error(c->target.fd);

	if (r == 0 && c->lst->sa.ss_family != AF_UNIX)
		(void)setsockopt(c->target.fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &(unsigned){0},
				 sizeof(unsigned));

	return r < 0 ? r : conn_ready(c);
}

/* The proxy URL's credentials; for isolate_streams fresh ones for every connection: Tor's
 * IsolateSOCKSAuth gives each distinct username/password its own circuit. */
static int socks_send_auth(struct conn *c)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[2 * CRED_BYTES], msg[SOCKS5_AUTH_MAX];
	char user[2 * CRED_BYTES + 1], pass[2 * CRED_BYTES + 1];
	ssize_t n;
	int r;

	/* GRND_NONBLOCK: never stall the loop (the pool is only empty early in boot). */
	n = getrandom(rnd, sizeof(rnd), GRND_NONBLOCK);
	if (n < 0)
		return negative_errno();
	if ((size_t)n != sizeof(rnd))
		return -EIO;
	for (size_t i = 0; i < CRED_BYTES; i++) {
		user[2 * i] = hex[rnd[i] >> 4];
		user[2 * i + 1] = hex[rnd[i] & 15];
		pass[2 * i] = hex[rnd[CRED_BYTES + i] >> 4];
		pass[2 * i + 1] = hex[rnd[CRED_BYTES + i] & 15];
	}
	user[2 * CRED_BYTES] = pass[2 * CRED_BYTES] = '\0';
	if (c->lst->auth)
		r = socks5_build_auth(c->lst->auth->user, c->lst->auth->pass, msg, sizeof(msg));
	else
		r = socks5_build_auth(user, pass, msg, sizeof(msg));
	explicit_bzero(user, sizeof(user));
	explicit_bzero(pass, sizeof(pass));
	if (r < 0)
		return r;
	r = send_all(c->target.fd, msg, (size_t)r);
	explicit_bzero(msg, sizeof(msg));
	return r;
}

/* An answer to a client whose request never reaches the proxy: the relay's own, closing. */
static void http_refuse(struct conn *c, const char *status, const char *why)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg),
			 "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s\n",
			 status, strlen(why) + 1, why);

	c->why = why;
	if (n > 0 && (size_t)n < sizeof(msg))
		(void)send_all(c->client.fd, msg, (size_t)n);
}

/* The client's request head, as it arrives: once whole, it goes into the flow's pipe with
 * the credentials added, what followed it behind it, and the target is connected. */
static int http_from_client(struct conn *c)
{
	struct http_head *h = c->http;
	_cleanup_free_ char *out = NULL;
	size_t room = HTTP_HEAD_MAX + 1024, head, rest;
	bool connect;
	ssize_t n, w;
	int len, r;

	n = recv(c->client.fd, h->buf + h->len, sizeof(h->buf) - h->len, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	if (n == 0)
		return -ECONNABORTED; /* the client left before its request was whole */
	h->len += (size_t)n;
	len = http_head_len(h->buf, h->len);
	if (len == -EMSGSIZE) {
		http_refuse(c, "431 Request Header Fields Too Large",
			    "sluice: the request head is longer than the proxy's forward reads");
		return len;
	}
	if (len == 0)
		return 0;
	out = malloc(room);
	if (!out)
		return -ENOMEM;
	r = http_head_rewrite(h->buf, (size_t)len, c->lst->basic, out, room, &connect);
	if (r < 0) {
		http_refuse(c, "400 Bad Request",
			    "sluice: not an HTTP/1.x request the proxy's forward can pass on");
		return r == -ENOBUFS ? r : -EBADMSG;
	}
	head = (size_t)r;
	rest = h->len - (size_t)len;
	r = flow_pipe(&c->up);
	if (r < 0)
		return r;
	if (head + rest > c->up.room)
		return -ENOBUFS; /* cannot be: the pipe holds at least 64 KiB */
	w = write(c->up.pipe[1], out, head);
	if (w == (ssize_t)head && rest)
		w += write(c->up.pipe[1], h->buf + len, rest);
	if (w != (ssize_t)(head + rest))
		return w < 0 ? negative_errno() : -EIO;
	c->up.pending = (size_t)w;
	explicit_bzero(out, room);
	log_debug("%s: connection %" PRIu64 " %s, credentials added", c->lst->label, c->id,
		  connect ? "CONNECT" : "a request");
	free(TAKE_PTR(c->http));
	return conn_connect(c);
}

/* The client's greeting and request, as they arrive. */
static int socks_from_client(struct conn *c)
{
	static const uint8_t no_auth[] = {SOCKS5_VERSION, SOCKS5_METHOD_NONE};
	static const uint8_t refused[] = {SOCKS5_VERSION, SOCKS5_METHOD_REFUSED};
	struct handshake *h = c->hs;
	struct socks5_request req;
	uint8_t reply[SOCKS5_REPLY_LEN];
	ssize_t n;
	int r;

	n = recv(c->client.fd, h->buf + h->len, sizeof(h->buf) - h->len, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	if (n == 0)
		return -ECONNABORTED; /* the client left mid-handshake */
	h->len += (size_t)n;

	if (c->state == CONN_SOCKS_GREETING) {
		bool offers_no_auth = false;

		r = socks5_parse_greeting(h->buf, h->len, &offers_no_auth);
		if (r < 0)
			c->why = "malformed SOCKS5 greeting from the client";
		if (r <= 0)
			return r;
		if (!offers_no_auth) {
			c->why = "the client offers no SOCKS5 method without authentication";
			(void)send_all(c->client.fd, refused, sizeof(refused));
			return -EACCES;
		}
		/* Keep what the client sent after its greeting: its request, maybe more. */
		memmove(h->buf, h->buf + r, h->len - (size_t)r);
		h->len -= (size_t)r;
		r = send_all(c->client.fd, no_auth, sizeof(no_auth));
		if (r < 0)
			return r;
		c->state = CONN_SOCKS_REQUEST;
	}

	r = socks5_parse_request(h->buf, h->len, &req);
	if (r < 0)
		c->why = r == -EOPNOTSUPP     ? "the client asks for a command other than CONNECT"
			 : r == -EAFNOSUPPORT ? "unknown address type in the client's request"
					      : "malformed SOCKS5 request from the client";
	if (r == -EOPNOTSUPP || r == -EAFNOSUPPORT) {
		socks5_build_reply(r == -EOPNOTSUPP ? SOCKS5_REP_CMD_UNSUPPORTED
						    : SOCKS5_REP_ATYP_UNSUPPORTED,
				   reply);
		(void)send_all(c->client.fd, reply, sizeof(reply));
		return r;
	}
	if (r <= 0)
		return r;
	h->req_len = (size_t)r;
	log_debug("%s: connection %" PRIu64 " CONNECT %s", c->lst->label, c->id, req.dest);
	return conn_connect(c);
}

/* The upstream's method choice and its verdict on our credentials. */
static int socks_from_upstream(struct conn *c)
{
	struct handshake *h = c->hs;
	uint8_t method;
	ssize_t n;
	int r;

	/* Exactly what the current reply lacks: nothing of what follows is taken. */
	n = recv(c->target.fd, h->up + h->up_len, sizeof(h->up) - h->up_len, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	if (n == 0)
		return -ECONNABORTED;
	h->up_len += (size_t)n;

	if (c->state == CONN_UP_METHOD) {
		r = socks5_parse_method_reply(h->up, h->up_len, &method);
		if (r < 0)
			c->why = "malformed SOCKS5 method reply from the proxy";
		if (r <= 0)
			return r;
		if (method != SOCKS5_METHOD_USERPASS) {
			/* Isolation needs credentials: never go on without. */
			c->why = "the proxy does not take username/password authentication";
			return -EPROTO;
		}
		h->up_len = 0;
		c->state = CONN_UP_AUTH;
		return socks_send_auth(c);
	}

	r = socks5_parse_auth_reply(h->up, h->up_len);
	if (r < 0)
		c->why = r == -EACCES ? "the proxy refuses the credentials"
				      : "malformed SOCKS5 authentication reply from the proxy";
	if (r <= 0)
		return r;
	/* The client's request byte for byte (a name stays a name for socks5h), then what it
	 * pipelined; the upstream's reply reaches the client through the relay. */
	r = send_all(c->target.fd, h->buf, h->len);
	if (r < 0)
		return r;
	c->up.bytes += h->len - h->req_len;
	c->relay->stats.bytes_up += h->len - h->req_len;
	free(TAKE_PTR(c->hs));
	c->state = CONN_RELAYING;
	log_debug("%s: connection %" PRIu64 " relaying", c->lst->label, c->id);
	return 0;
}

static int conn_step(struct conn *c, bool client, uint32_t events)
{
	bool in = events & (EPOLLIN | EPOLLHUP), out = events & EPOLLOUT;
	int r = 0;

	switch (c->state) {
	case CONN_HTTP_HEAD:
		return client && in ? http_from_client(c) : 0;
	case CONN_SOCKS_GREETING:
	case CONN_SOCKS_REQUEST:
		return client && in ? socks_from_client(c) : 0;
	case CONN_CONNECTING:
		return !client && (in || out) ? conn_connected(c) : 0;
	case CONN_UP_METHOD:
	case CONN_UP_AUTH:
		return !client && in ? socks_from_upstream(c) : 0;
	case CONN_RELAYING:
		if (client ? in : out)
			r = conn_pump_up(c);
		if (r >= 0 && (client ? out : in))
			r = conn_pump_down(c);
		return r;
	}
	return 0;
}

static void conn_event(struct conn *c, struct side *s, uint32_t events)
{
	int r;

	if (c->ended)
		return;
	if (events & EPOLLHUP)
		s->hup = true;
	/* EPOLLERR on a TCP socket is its pending error: a reset, or a failed connect. */
	if (events & EPOLLERR) {
		r = sock_error(s->fd);
		if (r == 0)
			r = -EIO;
	} else {
		r = conn_step(c, s == &c->client, events);
	}
	if (r < 0)
		conn_fail(c, r);
	else
		conn_sync(c);
}

static void on_client(struct loop_source *s, uint32_t events)
{
	struct conn *c = container_of(s, struct conn, client.src);

	conn_event(c, &c->client, events);
}

static void on_target(struct loop_source *s, uint32_t events)
{
	struct conn *c = container_of(s, struct conn, target.src);

	conn_event(c, &c->target, events);
}

static void conn_start(struct listener *lst, int fd)
{
	struct relay *r = lst->relay;
	struct conn *c = calloc(1, sizeof(*c));
	int ret = 0;

	if (!c) {
		r->stats.refused++;
		close_reset(fd);
		return;
	}
	*c = (struct conn){
	    .relay = r,
	    .lst = lst,
	    .id = ++r->next_id,
	    .client = {.src.fd = -1, .fd = fd},
	    .target = {.src.fd = -1, .fd = -1},
	    .up.pipe = {-1, -1},
	    .down.pipe = {-1, -1},
	};
	c->next = r->conns;
	if (c->next)
		c->next->prev = c;
	r->conns = c;
	r->stats.open++;
	log_debug("%s: connection %" PRIu64 " accepted", lst->label, c->id);

	if (lst->basic) {
		c->http = malloc(sizeof(*c->http));
		if (c->http)
			c->http->len = 0;
		else
			ret = -ENOMEM;
		c->state = CONN_HTTP_HEAD;
	} else if (lst->fwd.isolate_streams || lst->auth) {
		c->hs = calloc(1, sizeof(*c->hs));
		if (!c->hs)
			ret = -ENOMEM;
		c->state = CONN_SOCKS_GREETING;
	} else {
		ret = conn_connect(c);
	}
	if (ret < 0)
		conn_fail(c, ret);
	else
		conn_sync(c);
}

static void on_accept(struct loop_source *s, uint32_t events)
{
	struct listener *lst = container_of(s, struct listener, src);

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(lst->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			lst->relay->stats.accepted++;
			conn_start(lst, fd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			return;
		/* The connection's own trouble (accept(2) says to retry on these). */
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
		case ENETDOWN:
		case ENOPROTOOPT:
		case EHOSTDOWN:
		case ENONET:
		case EHOSTUNREACH:
		case EOPNOTSUPP:
		case ENETUNREACH:
		case EPERM:
			continue;
		default:
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM: the pending connection stays queued
			 * and level-triggered epoll would report it forever; rest instead. */
			log_debug("%s: accept: %s; pausing %d ms", lst->label, strerror(errno),
				  ACCEPT_PAUSE_MS);
			listeners_pause(lst);
			return;
		}
	}
}

/* --- the relay ------------------------------------------------------------------------ */

void relay_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_debug("relay: raising the fd limit: %m");
	}
}

int relay_new(struct loop *l, struct relay **ret)
{
	_cleanup_free_ struct relay *r = NULL;
	_cleanup_close_ int tfd = -1;
	struct sigaction pipe_now;
	int e;

	/* splice(2) into a socket has no MSG_NOSIGNAL: a peer gone mid-write raises SIGPIPE,
	 * which the process must ignore. Its owner says so, not this constructor. */
	if (sigaction(SIGPIPE, NULL, &pipe_now) < 0 || pipe_now.sa_handler != SIG_IGN)
		return err_set(-EINVAL, "relay: SIGPIPE must be ignored by the process serving it");
	r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(-ENOMEM, "relay");
	r->loop = l;
	r->timer.fd = -1;

	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tfd < 0)
		return err_set(negative_errno(), "relay: timerfd");
	e = loop_add(l, &r->timer, tfd, EPOLLIN, on_timer);
	if (e < 0)
		return err_wrap(e, "relay: watch timerfd");
	r->timer_fd = TAKE_FD(tfd);
	*ret = TAKE_PTR(r);
	return 0;
}

/* Check F and turn its target into a sockaddr; write a label for -v. */
static int listener_target(struct listener *lst, const struct forward *f)
{
	char from[ADDR_STR_MAX], to[ADDR_STR_MAX + UNIX_PATH_MAX];

	memset(&lst->sa, 0, sizeof(lst->sa));
	if (f->kind == TARGET_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)&lst->sa;
		size_t n = strnlen(f->path, sizeof(f->path));

		if (f->isolate_streams)
			return err_invalid("forward: isolate_streams needs a TCP socks5 target");
		if (n == 0 || n >= sizeof(un->sun_path))
			return err_invalid("forward: bad unix socket path");
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, f->path, n);
		lst->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		snprintf(to, sizeof(to), "unix %s", f->path);
	} else if (f->kind == TARGET_TCP && f->target.family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&lst->sa;

		in->sin_family = AF_INET;
		in->sin_port = htons(f->target.port);
		in->sin_addr = f->target.ip.v4;
		lst->salen = sizeof(*in);
	} else if (f->kind == TARGET_TCP && f->target.family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&lst->sa;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(f->target.port);
		in6->sin6_addr = f->target.ip.v6;
		lst->salen = sizeof(*in6);
	} else {
		return err_invalid("forward: unknown target");
	}
	if (f->kind == TARGET_TCP) {
		if (f->isolate_streams && f->target.scheme != SCHEME_SOCKS5 &&
		    f->target.scheme != SCHEME_SOCKS5H)
			return err_invalid("forward: isolate_streams needs a socks5 target");
		if (f->target.scheme == SCHEME_NONE)
			addr_format(&f->target, to, sizeof(to));
		else
			addr_format_url(&f->target, to, sizeof(to));
	}
	if (f->listen.family == AF_INET || f->listen.family == AF_INET6)
		addr_format(&f->listen, from, sizeof(from));
	else
		snprintf(from, sizeof(from), "forward");
	snprintf(lst->label, sizeof(lst->label), "%s -> %s%s", from, to,
		 f->isolate_streams ? " (isolated)" : "");
	return 0;
}

/* The listener's copy of AUTH, and for an http:// target the Basic credentials. */
static int listener_auth(struct listener *lst, const struct proxy_auth *auth)
{
	char pair[2 * PROXY_CRED_MAX + 2];
	size_t b64;
	int n;

	if (!auth)
		return 0;
	if (lst->fwd.kind != TARGET_TCP || lst->fwd.target.scheme == SCHEME_NONE ||
	    lst->fwd.isolate_streams)
		return err_invalid("forward: credentials need an http:// or socks5:// target, "
				   "without isolate_streams");
	if (proxy_auth_dup(auth, &lst->auth) < 0)
		return -ENOMEM;
	if (lst->fwd.target.scheme != SCHEME_HTTP)
		return 0;
	n = snprintf(pair, sizeof(pair), "%s:%s", auth->user, auth->pass);
	b64 = sodium_base64_ENCODED_LEN((size_t)n, sodium_base64_VARIANT_ORIGINAL);
	lst->basic = malloc(6 + b64);
	if (lst->basic) {
		memcpy(lst->basic, "Basic ", 6);
		sodium_bin2base64(lst->basic + 6, b64, (const unsigned char *)pair, (size_t)n,
				  sodium_base64_VARIANT_ORIGINAL);
	}
	explicit_bzero(pair, sizeof(pair));
	return lst->basic ? 0 : -ENOMEM;
}

static void listener_free(struct listener *lst)
{
	if (!lst)
		return;
	proxy_auth_free(lst->auth);
	if (lst->basic) {
		explicit_bzero(lst->basic, strlen(lst->basic));
		free(lst->basic);
	}
	free(lst);
}
DEFINE_CLEANUP_FUNC(struct listener, listener_free)

static int add_listener(struct relay *r, int listen_fd, const struct forward *f,
			const struct proxy_auth *auth, struct inward *inward, const char *what)
{
	_cleanup_close_ int fd = listen_fd;
	_cleanup_(listener_freep) struct listener *lst = NULL;
	int listening = 0, flags, e;
	socklen_t len = sizeof(listening);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
		return err_set(negative_errno(), "%s: listener", what);
	if (!listening)
		return err_invalid("%s: the socket is not listening", what);
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return err_set(negative_errno(), "%s: listener flags", what);

	lst = calloc(1, sizeof(*lst));
	if (!lst)
		return err_set(-ENOMEM, "%s", what);
	lst->relay = r;
	lst->fwd = *f;
	lst->inward = inward;
	lst->src.fd = -1;
	e = listener_target(lst, f);
	if (e == 0)
		e = listener_auth(lst, auth);
	if (e < 0)
		return e;
	if (lst->auth) {
		size_t n = strlen(lst->label);

		snprintf(lst->label + n, sizeof(lst->label) - n, " (credentials added)");
	}
	if (inward) {
		char label[LABEL_MAX];

		snprintf(label, sizeof(label), "publish %s in the cage", lst->label);
		memcpy(lst->label, label, sizeof(label));
	}
	e = loop_add(r->loop, &lst->src, fd, EPOLLIN, on_accept);
	if (e < 0)
		return err_wrap(e, "%s: watch listener", lst->label);
	lst->fd = TAKE_FD(fd);
	lst->next = r->listeners;
	r->listeners = TAKE_PTR(lst);
	log_debug("%s: serving", r->listeners->label);
	return 0;
}

int relay_add_forward(struct relay *r, int listen_fd, const struct forward *f,
		      const struct proxy_auth *auth)
{
	return add_listener(r, listen_fd, f, auth, NULL, "forward");
}

int relay_add_publish(struct relay *r, int listen_fd, const struct publish *pub,
		      struct inward *inward)
{
	struct forward f = {.listen = pub->host, .kind = TARGET_TCP};

	f.target.family = AF_INET;
	f.target.proto = IPPROTO_TCP;
	f.target.port = pub->cage_port;
	f.target.ip.v4.s_addr = htonl(INADDR_LOOPBACK);
	return add_listener(r, listen_fd, &f, NULL, inward, "publish");
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	while (r->conns) {
		struct conn *c = r->conns;

		conn_end(c, true);
		free(c);
	}
	while (r->listeners) {
		struct listener *lst = r->listeners;

		r->listeners = lst->next;
		loop_del(r->loop, &lst->src);
		close(lst->fd);
		listener_free(lst);
	}
	loop_del(r->loop, &r->timer);
	close(r->timer_fd);
	free(r->buf);
	free(r);
}

void relay_get_stats(const struct relay *r, struct relay_stats *ret)
{
	*ret = r->stats;
}

void relay_set_report(struct relay *r, relay_report_fn fn, void *ctx)
{
	r->report = fn;
	r->report_ctx = ctx;
}
