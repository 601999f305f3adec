/* dns.c: the cage's DNS stub served on the supervisor's loop: UDP datagrams, and TCP
 * connections with pipelined queries (RFC 7766). What it answers is dns_answer()'s
 * (dns_wire.c). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>

#include "dns.h"
#include "log.h"
#include "util.h"

/* A TCP message's length, the two bytes before it in network order (RFC 7766). */
static size_t tcp_len(const uint8_t *p)
{
	uint16_t n;

	memcpy(&n, p, sizeof(n));
	return ntohs(n);
}

/* --- serving ---------------------------------------------------------------------------- */

#define UDP_BATCH    64	  /* datagrams per wakeup before other sources get a turn */
#define ACCEPT_BATCH 16	  /* connections per wakeup, likewise */
#define TCP_BUF	     1024 /* a connection's first input buffer; grows to fit one message */
#define DESC_MAX     1200 /* a question's name escaped, and every address it has */
#define TICK_MS	     1000 /* how often idle connections are looked for */

struct dns_conn {
	struct dns *dns;
	struct dns_conn *prev, *next;
	struct loop_source src;
	int fd;
	/* CLOCK_MONOTONIC: the last query answered or reply byte sent */
	uint64_t last_ms;
	/* Queries as they arrive, each after its two-byte length; grown to fit a whole one. */
	uint8_t *in;
	size_t in_len, in_cap;
	/* The rest of a reply the socket would not take at once; nothing is read meanwhile. */
	uint8_t *out;
	size_t out_len, out_off;
};

struct dns {
	struct loop *loop;
	struct dns_entry *table;
	size_t n;
	bool verbose;
	int udp_fd, tcp_fd, timer_fd;
	struct loop_source udp, tcp, timer;
	bool timer_armed;
	bool accept_paused; /* at DNS_TCP_CONN_MAX, or out of fds */
	struct dns_conn *conns;
	size_t n_conns;
	uint8_t buf[DNS_MSG_MAX];     /* one datagram */
	uint8_t out[2 + DNS_MSG_MAX]; /* one reply, after room for TCP's length prefix */
	dns_refused_fn refused;
	void *refused_ctx;
};

/* Answer Q into d->out + 2 and log it at -v. Returns 1 with *OUTLEN set, or 0: no reply. */
static int answer(struct dns *d, const uint8_t *q, size_t qlen, size_t maxlen, size_t *outlen)
{
	char desc[DESC_MAX];
	int r = dns_answer(q, qlen, maxlen, d->table, d->n, d->out + 2, sizeof(d->out) - 2, outlen,
			   d->verbose ? desc : NULL, sizeof(desc));

	if (d->verbose)
		log_info("dns: %s", desc);
	if (r && d->refused) {
		char name[256];

		if (dns_refused_name(q, qlen, d->out + 2, *outlen, name, sizeof(name)))
			d->refused(d->refused_ctx, name);
	}
	return r;
}

void dns_set_refused(struct dns *d, dns_refused_fn fn, void *ctx)
{
	d->refused = fn;
	d->refused_ctx = ctx;
}

/* The loop ticks while there is something to time: connections, or a paused listener. */
static void timer_update(struct dns *d)
{
	bool want = d->conns || d->accept_paused;
	struct itimerspec its = {0};

	if (want == d->timer_armed || d->timer_fd < 0)
		return;
	if (want) {
		its.it_value.tv_nsec = (TICK_MS % 1000) * 1000000L;
		its.it_value.tv_sec = TICK_MS / 1000;
		its.it_interval = its.it_value;
	}
	if (timerfd_settime(d->timer_fd, 0, &its, NULL) == 0)
		d->timer_armed = want;
}

static void accept_pause(struct dns *d)
{
	if (loop_mod(d->loop, &d->tcp, 0) == 0)
		d->accept_paused = true;
	timer_update(d);
}

static void accept_resume(struct dns *d)
{
	if (d->accept_paused && d->n_conns < DNS_TCP_CONN_MAX &&
	    loop_mod(d->loop, &d->tcp, EPOLLIN) == 0)
		d->accept_paused = false;
}

static void on_udp(struct loop_source *s, uint32_t events)
{
	struct dns *d = container_of(s, struct dns, udp);

	for (int i = 0; i < UDP_BATCH; i++) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		size_t len;
		ssize_t n = recvfrom(d->udp_fd, d->buf, sizeof(d->buf), MSG_DONTWAIT,
				     (struct sockaddr *)&sa, &salen);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) /* EAGAIN, or a pending error now taken */
			return;
		if (!answer(d, d->buf, (size_t)n, DNS_UDP_MAX, &len))
			continue;
		/* Over UDP a reply the socket will not take is lost, as a client expects. */
		if (sendto(d->udp_fd, d->out + 2, len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (struct sockaddr *)&sa, salen) < 0)
			log_debug("dns: udp reply: %m");
	}
}

static void conn_close(struct dns_conn *c)
{
	struct dns *d = c->dns;

	loop_del(d->loop, &c->src);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->n_conns--;
	free(c->in);
	free(c->out);
	(void)loop_defer_free(d->loop, free, c);
	accept_resume(d);
	timer_update(d);
}

/* Send BUF, keeping what the socket would not take for EPOLLOUT. */
static int conn_send(struct dns_conn *c, const uint8_t *buf, size_t len)
{
	ssize_t n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return negative_errno();
	if (n < 0)
		n = 0;
	if ((size_t)n == len)
		return 0;
	c->out = malloc(len - (size_t)n);
	if (!c->out)
		return -ENOMEM;
	memcpy(c->out, buf + n, len - (size_t)n);
	c->out_len = len - (size_t)n;
	c->out_off = 0;
	return 0;
}

static int conn_flush(struct dns_conn *c)
{
	ssize_t n =
	    send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	c->last_ms = monotonic_ms();
	c->out_off += (size_t)n;
	if (c->out_off == c->out_len) {
		free(c->out);
		c->out = NULL;
	}
	return 0;
}

/* Answer every complete query in the buffer, in order, until a reply has to wait for the
 * socket; then make room for the whole of the next message. */
static int conn_answer(struct dns_conn *c)
{
	struct dns *d = c->dns;
	size_t off = 0, len;
	int r = 0;

	while (!c->out && c->in_len - off >= 2) {
		size_t qlen = tcp_len(c->in + off);

		if (c->in_len - off < 2 + qlen)
			break;
		c->last_ms = monotonic_ms();
		if (answer(d, c->in + off + 2, qlen, DNS_MSG_MAX, &len)) {
			uint16_t be = htons((uint16_t)len);

			memcpy(d->out, &be, sizeof(be));
			r = conn_send(c, d->out, 2 + len);
		}
		off += 2 + qlen;
		if (r < 0)
			return r;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	if (c->in_len >= 2 && 2 + tcp_len(c->in) > c->in_cap) {
		size_t cap = 2 + tcp_len(c->in);
		uint8_t *in = realloc(c->in, cap);

		if (!in)
			return -ENOMEM;
		c->in = in;
		c->in_cap = cap;
	}
	return 0;
}

static int conn_read(struct dns_conn *c)
{
	ssize_t n;

	if (c->in_len == c->in_cap) /* conn_answer() always leaves room */
		return -ENOBUFS;
	n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	if (n == 0)
		return -ECONNRESET; /* the client is done: whatever was complete is answered */
	c->in_len += (size_t)n;
	return 0;
}

static void on_conn(struct loop_source *s, uint32_t events)
{
	struct dns_conn *c = container_of(s, struct dns_conn, src);
	int r;

	/* EPOLLHUP on TCP: both directions are shut, no reply can leave any more. */
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_close(c);
		return;
	}
	if (c->out)
		r = conn_flush(c);
	else
		r = conn_read(c);
	/* Queries pipelined behind a reply that had to wait go out once it has. */
	if (r == 0 && !c->out)
		r = conn_answer(c);
	/* While a reply waits nothing more is read: a client that does not read its replies
	 * holds one reply of ours, not an unbounded queue. */
	if (r == 0)
		r = loop_mod(c->dns->loop, &c->src, c->out ? EPOLLOUT : EPOLLIN);
	if (r < 0)
		conn_close(c);
}

static void conn_start(struct dns *d, int accepted)
{
	_cleanup_close_ int fd = accepted;
	_cleanup_free_ struct dns_conn *c = calloc(1, sizeof(*c));
	_cleanup_free_ uint8_t *in = c ? malloc(TCP_BUF) : NULL;

	if (!in || loop_add(d->loop, &c->src, fd, EPOLLIN, on_conn) < 0)
		return;
	c->dns = d;
	c->fd = TAKE_FD(fd);
	c->in = TAKE_PTR(in);
	c->in_cap = TCP_BUF;
	c->last_ms = monotonic_ms();
	c->next = d->conns;
	if (c->next)
		c->next->prev = c;
	d->conns = TAKE_PTR(c);
	d->n_conns++;
	timer_update(d);
}

static void on_accept(struct loop_source *s, uint32_t events)
{
	struct dns *d = container_of(s, struct dns, tcp);

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd;

		/* At the cap the next connections wait in the backlog until one ends. */
		if (d->n_conns >= DNS_TCP_CONN_MAX) {
			accept_pause(d);
			return;
		}
		fd = accept4(d->tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			conn_start(d, fd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			return;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/* The connection stays queued and level-triggered epoll would report it
			 * forever: rest until a connection ends or the next tick. */
			log_debug("dns: accept: %m; pausing");
			accept_pause(d);
			return;
		default:
			continue; /* the connection's own trouble (accept(2): retry) */
		}
	}
}

static void on_tick(struct loop_source *s, uint32_t events)
{
	struct dns *d = container_of(s, struct dns, timer);
	uint64_t ticks, now = monotonic_ms();
	struct dns_conn *next;

	(void)!read(d->timer_fd, &ticks, sizeof(ticks));
	for (struct dns_conn *c = d->conns; c; c = next) {
		next = c->next;
		if (now - c->last_ms >= DNS_TCP_IDLE_MS) {
			log_debug("dns: closing a TCP connection idle for %d s",
				  DNS_TCP_IDLE_MS / 1000);
			conn_close(c);
		}
	}
	accept_resume(d);
	timer_update(d);
}

/* Check that FD is a socket of TYPE (listening, for a stream) and make it ours to serve. */
static int take_socket(int fd, int type, const char *what)
{
	int v = 0, flags;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0)
		return err_set(negative_errno(), "dns: %s socket", what);
	if (v != type)
		return err_invalid("dns: the %s socket is of the wrong type", what);
	len = sizeof(v);
	if (type == SOCK_STREAM && (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v))
		return err_invalid("dns: the %s socket is not listening", what);
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return err_set(negative_errno(), "dns: %s socket flags", what);
	return 0;
}

int dns_new(struct loop *l, int udp_fd, int tcp_fd, const struct dns_entry *table, size_t n,
	    bool verbose, struct dns **ret)
{
	_cleanup_(dns_freep) struct dns *d = NULL;
	int r;

	r = udp_fd >= 0 ? take_socket(udp_fd, SOCK_DGRAM, "UDP") : 0;
	if (r == 0 && tcp_fd >= 0)
		r = take_socket(tcp_fd, SOCK_STREAM, "TCP");
	if (r < 0)
		return r;
	d = calloc(1, sizeof(*d));
	if (!d)
		return err_set(-ENOMEM, "dns");
	/* The fds become d's only on success: until then dns_free() only forgets them. */
	d->loop = l;
	d->verbose = verbose;
	d->udp_fd = d->tcp_fd = d->timer_fd = -1;
	d->udp.fd = d->tcp.fd = d->timer.fd = -1;
	if (n) {
		d->table = malloc(n * sizeof(*table));
		if (!d->table)
			return err_set(-ENOMEM, "dns");
		memcpy(d->table, table, n * sizeof(*table));
		d->n = n;
	}
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->timer_fd < 0)
		return err_set(negative_errno(), "dns: timerfd");
	r = loop_add(l, &d->timer, d->timer_fd, EPOLLIN, on_tick);
	if (r == 0 && udp_fd >= 0)
		r = loop_add(l, &d->udp, udp_fd, EPOLLIN, on_udp);
	if (r == 0 && tcp_fd >= 0)
		r = loop_add(l, &d->tcp, tcp_fd, EPOLLIN, on_accept);
	if (r < 0)
		return err_wrap(r, "dns: epoll");
	/* Ours from here on (the callbacks read them; no event is dispatched before we return). */
	d->udp_fd = udp_fd;
	d->tcp_fd = tcp_fd;
	*ret = TAKE_PTR(d);
	return 0;
}

void dns_free(struct dns *d)
{
	if (!d)
		return;
	while (d->conns) {
		struct dns_conn *c = d->conns;

		d->conns = c->next;
		loop_del(d->loop, &c->src);
		close(c->fd);
		free(c->in);
		free(c->out);
		free(c);
	}
	loop_del(d->loop, &d->udp);
	loop_del(d->loop, &d->tcp);
	loop_del(d->loop, &d->timer);
	if (d->udp_fd >= 0)
		close(d->udp_fd);
	if (d->tcp_fd >= 0)
		close(d->tcp_fd);
	if (d->timer_fd >= 0)
		close(d->timer_fd);
	free(d->table);
	free(d);
}
