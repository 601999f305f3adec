/* test_relay.c: the forward relay with real sockets, all in this process and in a private
 * network namespace made at start (nothing touches a real network). The relay runs on its
 * loop; the test's clients and servers are non-blocking sockets stepped between loop turns.
 * Streams carry a position-dependent pattern seeded per connection, so a lost, duplicated,
 * reordered or crossed byte is caught. Every test ends with as many fds open as it began. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include "log.h"
#include "loop.h"
#include "relay.h"
#include "socks5.h"

#define MAX_PEERS 1024
#define MAX_RAWS  16
#define CHUNK	  65536
#define K_REPLY	  0x5bd1e9955bd1e995ULL /* a server answers seed S with seed S ^ K_REPLY */

/* --- the world: a loop, a relay, and the test's own sockets ------------------------------ */

/* One end of a patterned stream each way. A client knows its seed; a server learns it from
 * the first 8 bytes it receives (the pattern's word 0 is the seed) and answers with its
 * own. */
struct peer {
	int fd;
	bool server;
	uint64_t tx_seed;
	bool tx_ready; /* tx_seed known */
	size_t tx_total, tx_off;
	bool tx_after_eof;   /* send nothing before the other side's EOF (half-close) */
	bool shut_when_sent; /* shutdown(SHUT_WR) once tx_total is out */
	bool tx_shut;
	uint64_t rx_seed;
	size_t rx_off;
	bool rx_eof, rx_pause, rx_bad;
	int err; /* errno of a failed send or recv */
};

/* A plain server: accepts into peers made from tmpl. */
struct bulk_server {
	int fd;
	struct peer tmpl;
	size_t accepted;
};

/* A raw client: what it receives is kept as is. */
struct raw {
	int fd;
	uint8_t rx[4096];
	size_t len;
	bool eof;
	int err;
};

/* A tiny SOCKS5 server that records what the relay sends it, then echoes. */
struct socks_conn {
	int fd;
	int stage; /* 0 greeting, 1 auth, 2 request, 3 echo, 4 done */
	uint8_t buf[2048];
	size_t len;
	uint8_t greeting[3];
	char user[256], pass[256];
	uint8_t req[300];
	size_t req_len;
};

struct socks_server {
	int fd;
	bool refuse_userpass; /* answer 05 FF: isolation must not go on without credentials */
	struct socks_conn conns[8];
	size_t n;
};

struct world {
	struct loop *l;
	struct relay *relay;
	int fds_before;
	char unix_path[64];
	struct peer *peers[MAX_PEERS];
	size_t n_peers;
	struct bulk_server srv;
	struct socks_server socks;
	struct raw raws[MAX_RAWS];
	size_t n_raws;
	uint64_t peak_open;
	uint64_t dispatched; /* events the loop dispatched in run_until */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static void set_nonblock(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* --- the pattern ----------------------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint8_t pattern_at(uint64_t seed, size_t pos)
{
	uint64_t k = pos / 8, w = k == 0 ? seed : mix(seed ^ (k * 0x9e3779b97f4a7c15ULL));

	return (uint8_t)(w >> (8 * (pos % 8)));
}

static void pattern(uint64_t seed, size_t off, uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern_at(seed, off + i);
}

/* --- stepping the test's sockets ------------------------------------------------------- */

static void peer_take(struct peer *p, const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++, p->rx_off++) {
		if (p->rx_off < 8) {
			p->rx_seed |= (uint64_t)buf[i] << (8 * p->rx_off);
			if (p->rx_off < 7)
				continue;
			if (p->server) {
				p->tx_seed = p->rx_seed ^ K_REPLY;
				p->tx_ready = true;
			} else if (p->rx_seed != (p->tx_seed ^ K_REPLY)) {
				p->rx_bad = true;
			}
		} else if (buf[i] != pattern_at(p->rx_seed, p->rx_off)) {
			p->rx_bad = true;
		}
	}
}

static bool peer_step(struct peer *p)
{
	static uint8_t buf[CHUNK];
	bool progress = false;
	ssize_t n;

	if (p->fd < 0 || p->err)
		return false;
	if (!p->rx_pause && !p->rx_eof) {
		n = recv(p->fd, buf, sizeof(buf), 0);
		if (n > 0)
			peer_take(p, buf, (size_t)n);
		else if (n == 0)
			p->rx_eof = true;
		else if (errno != EAGAIN)
			p->err = errno;
		progress |= n >= 0;
	}
	if (p->tx_ready && p->tx_off < p->tx_total && (!p->tx_after_eof || p->rx_eof) && !p->err) {
		size_t len = p->tx_total - p->tx_off < CHUNK ? p->tx_total - p->tx_off : CHUNK;

		pattern(p->tx_seed, p->tx_off, buf, len);
		n = send(p->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0)
			p->tx_off += (size_t)n;
		else if (n < 0 && errno != EAGAIN)
			p->err = errno;
		progress |= n > 0;
	}
	if (p->tx_ready && p->tx_off == p->tx_total && p->shut_when_sent && !p->tx_shut) {
		shutdown(p->fd, SHUT_WR);
		p->tx_shut = true;
		progress = true;
	}
	return progress;
}

static struct peer *peer_add(struct world *w, int fd, const struct peer *tmpl)
{
	struct peer *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_true(w->n_peers < MAX_PEERS);
	*p = *tmpl;
	p->fd = fd;
	w->peers[w->n_peers++] = p;
	return p;
}

static bool bulk_server_step(struct world *w)
{
	bool progress = false;
	int fd;

	if (w->srv.fd < 0)
		return false;
	while ((fd = accept4(w->srv.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		peer_add(w, fd, &w->srv.tmpl);
		w->srv.accepted++;
		progress = true;
	}
	return progress;
}

static bool raw_step(struct raw *r)
{
	ssize_t n;

	if (r->fd < 0 || r->eof || r->err || r->len == sizeof(r->rx))
		return false;
	n = recv(r->fd, r->rx + r->len, sizeof(r->rx) - r->len, 0);
	if (n > 0)
		r->len += (size_t)n;
	else if (n == 0)
		r->eof = true;
	else if (errno != EAGAIN)
		r->err = errno;
	return n >= 0 || errno != EAGAIN;
}

/* How many bytes the SOCKS5 request at b (len bytes in) takes, or 0 if not all in. */
static size_t socks_req_len(const uint8_t *b, size_t len)
{
	size_t need;

	if (len < 5)
		return 0;
	need = b[3] == 1 ? 10 : b[3] == 4 ? 22 : 7u + b[4];
	return len >= need ? need : 0;
}

static void socks_eat(struct socks_conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

static bool socks_conn_step(struct socks_server *s, struct socks_conn *c)
{
	static const uint8_t ok_reply[] = {5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	ssize_t n;
	size_t need;

	if (c->stage == 4)
		return false;
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n < 0)
		return false;
	if (n == 0) {
		shutdown(c->fd, SHUT_WR);
		c->stage = 4;
		return true;
	}
	c->len += (size_t)n;
	if (c->stage == 0 && c->len >= 3) {
		memcpy(c->greeting, c->buf, 3);
		socks_eat(c, 3);
		assert_int_equal(
		    send(c->fd, s->refuse_userpass ? "\x05\xff" : "\x05\x02", 2, MSG_NOSIGNAL), 2);
		c->stage = 1;
	}
	if (c->stage == 1 && c->len >= 2 && c->len >= 3u + c->buf[1] &&
	    c->len >= 3u + c->buf[1] + c->buf[2 + c->buf[1]]) {
		size_t ulen = c->buf[1], plen = c->buf[2 + ulen];

		memcpy(c->user, c->buf + 2, ulen);
		c->user[ulen] = '\0';
		memcpy(c->pass, c->buf + 3 + ulen, plen);
		c->pass[plen] = '\0';
		socks_eat(c, 3 + ulen + plen);
		assert_int_equal(send(c->fd, "\x01\x00", 2, MSG_NOSIGNAL), 2);
		c->stage = 2;
	}
	if (c->stage == 2 && (need = socks_req_len(c->buf, c->len))) {
		memcpy(c->req, c->buf, need);
		c->req_len = need;
		socks_eat(c, need);
		assert_int_equal(send(c->fd, ok_reply, sizeof(ok_reply), MSG_NOSIGNAL),
				 sizeof(ok_reply));
		c->stage = 3;
	}
	if (c->stage == 3 && c->len) {
		assert_int_equal(send(c->fd, c->buf, c->len, MSG_NOSIGNAL), (ssize_t)c->len);
		c->len = 0;
	}
	return true;
}

static bool socks_server_step(struct socks_server *s)
{
	bool progress = false;
	int fd;

	if (s->fd < 0)
		return false;
	while (s->n < ARRAY_SIZE(s->conns) &&
	       (fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		s->conns[s->n++] = (struct socks_conn){.fd = fd};
		progress = true;
	}
	for (size_t i = 0; i < s->n; i++)
		progress |= socks_conn_step(s, &s->conns[i]);
	return progress;
}

static bool world_step(struct world *w)
{
	bool progress = bulk_server_step(w);

	progress |= socks_server_step(&w->socks);
	for (size_t i = 0; i < w->n_peers; i++)
		progress |= peer_step(w->peers[i]);
	for (size_t i = 0; i < w->n_raws; i++)
		progress |= raw_step(&w->raws[i]);
	return progress;
}

typedef bool (*cond_fn)(struct world *w, void *arg);

/* Turn the loop and step the test's sockets until DONE or TIMEOUT_MS; false on timeout. */
static bool run_until(struct world *w, cond_fn done, void *arg, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	bool busy = true;

	w->dispatched = 0;
	while (!done(w, arg)) {
		struct relay_stats st;
		int n;

		if (now_ms() > end)
			return false;
		n = loop_run_once(w->l, busy ? 0 : 1);
		assert_true(n >= 0);
		w->dispatched += (uint64_t)n;
		busy = world_step(w) || n > 0;
		relay_get_stats(w->relay, &st);
		if (st.open > w->peak_open)
			w->peak_open = st.open;
	}
	return true;
}

static bool never(struct world *w, void *arg)
{
	return false;
}

static void run_for(struct world *w, int ms)
{
	run_until(w, never, NULL, ms);
}

/* --- sockets and forwards -------------------------------------------------------------- */

static int listen_tcp(int family, int rcvbuf, struct endpoint *ret)
{
	struct sockaddr_storage ss = {.ss_family = (sa_family_t)family};
	socklen_t len =
	    family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (rcvbuf)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(listen(fd, 4096), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*ret = (struct endpoint){.family = family, .proto = IPPROTO_TCP};
	if (family == AF_INET) {
		ret->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		ret->ip.v4 = ((struct sockaddr_in *)&ss)->sin_addr;
	} else {
		ret->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		ret->ip.v6 = ((struct sockaddr_in6 *)&ss)->sin6_addr;
	}
	return fd;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	assert_int_equal(listen(fd, 4096), 0);
	return fd;
}

/* A TCP endpoint where nothing listens: a port bound and given back. */
static struct endpoint dead_endpoint(void)
{
	struct endpoint e;

	close(listen_tcp(AF_INET, 0, &e));
	return e;
}

/* Connect (blocking: the relay's listener completes the handshake from its backlog), then
 * go non-blocking. */
static int connect_tcp(const struct endpoint *e, int sndbuf)
{
	struct sockaddr_storage ss = {.ss_family = (sa_family_t)e->family};
	socklen_t len;
	int fd = socket(e->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (e->family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_port = htons(e->port);
		((struct sockaddr_in *)&ss)->sin_addr = e->ip.v4;
		len = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(e->port);
		((struct sockaddr_in6 *)&ss)->sin6_addr = e->ip.v6;
		len = sizeof(struct sockaddr_in6);
	}
	if (sndbuf)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
	set_nonblock(fd);
	return fd;
}

/* Serve a new in-cage listener as forward F; its address in *ret_listen. */
static void add_forward(struct world *w, struct forward *f, int family, int rcvbuf,
			struct endpoint *ret_listen)
{
	int lfd = listen_tcp(family, rcvbuf, &f->listen);

	*ret_listen = f->listen;
	assert_int_equal(relay_add_forward(w->relay, lfd, f, NULL), 0);
}

static struct forward tcp_forward(const struct endpoint *target)
{
	return (struct forward){.kind = TARGET_TCP, .target = *target};
}

static struct peer *client_add(struct world *w, const struct endpoint *e, uint64_t seed,
			       size_t tx_total, int sndbuf)
{
	struct peer tmpl = {
	    .tx_seed = mix(seed + 1),
	    .tx_ready = true,
	    .tx_total = tx_total,
	    .shut_when_sent = true,
	};

	return peer_add(w, connect_tcp(e, sndbuf), &tmpl);
}

static struct raw *raw_add(struct world *w, const struct endpoint *e, const void *send_first,
			   size_t len)
{
	struct raw *r = &w->raws[w->n_raws++];

	assert_true(w->n_raws <= MAX_RAWS);
	*r = (struct raw){.fd = connect_tcp(e, 0)};
	if (len)
		assert_int_equal(send(r->fd, send_first, len, MSG_NOSIGNAL), (ssize_t)len);
	return r;
}

/* A peer is done when all is sent and what it receives has ended (or it failed). */
static bool peer_done(const struct peer *p)
{
	return p->fd < 0 || p->err || p->rx_bad ||
	       (p->tx_ready && p->tx_off == p->tx_total && p->rx_eof);
}

/* Every stream has ended at both ends and the relay holds no connection. */
static bool relay_idle(struct world *w, void *arg)
{
	struct relay_stats st;

	for (size_t i = 0; i < w->n_peers; i++)
		if (!peer_done(w->peers[i]))
			return false;
	relay_get_stats(w->relay, &st);
	return st.open == 0;
}

static void assert_client_got(const struct peer *p, size_t want)
{
	assert_int_equal(p->err, 0);
	assert_false(p->rx_bad);
	assert_true(p->rx_eof);
	assert_int_equal(p->tx_off, p->tx_total);
	assert_int_equal(p->rx_off, want);
}

static void assert_server_got(const struct peer *p, size_t want)
{
	assert_int_equal(p->err, 0);
	assert_false(p->rx_bad);
	assert_true(p->rx_eof);
	assert_int_equal(p->rx_off, want);
}

/* The server peer that answered client C (same seed, answered with seed ^ K_REPLY). */
static const struct peer *server_of(struct world *w, const struct peer *c)
{
	for (size_t i = 0; i < w->n_peers; i++)
		if (w->peers[i]->server && w->peers[i]->rx_off >= 8 &&
		    w->peers[i]->rx_seed == c->tx_seed)
			return w->peers[i];
	fail_msg("no server saw client seed %llx", (unsigned long long)c->tx_seed);
	return NULL;
}

/* --- fixtures -------------------------------------------------------------------------- */

static int lo_up(void)
{
	struct ifreq ifr = {.ifr_name = "lo"};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = -1;

	if (fd < 0)
		return -1;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return r;
}

static int group_setup(void **state)
{
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %m (the tests need root)\n");
		return -1;
	}
	if (lo_up() < 0) {
		fprintf(stderr, "bring lo up: %m\n");
		return -1;
	}
	if (getenv("SLUICE_TEST_DEBUG"))
		log_max_level = LOG_DEBUG;
	/* as the supervisor does before it serves forwards (relay.h) */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	w->fds_before = count_fds();
	w->srv.fd = w->socks.fd = -1;
	snprintf(w->unix_path, sizeof(w->unix_path), "/tmp/sluice-test-relay-%d.sock",
		 (int)getpid());
	if (loop_new(&w->l) < 0 || relay_new(w->l, &w->relay) < 0) {
		loop_free(w->l);
		free(w);
		return -1;
	}
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	int fds;

	relay_free(w->relay);
	loop_free(w->l);
	for (size_t i = 0; i < w->n_peers; i++) {
		if (w->peers[i]->fd >= 0)
			close(w->peers[i]->fd);
		free(w->peers[i]);
	}
	for (size_t i = 0; i < w->n_raws; i++)
		close(w->raws[i].fd);
	for (size_t i = 0; i < w->socks.n; i++)
		close(w->socks.conns[i].fd);
	if (w->srv.fd >= 0)
		close(w->srv.fd);
	if (w->socks.fd >= 0)
		close(w->socks.fd);
	unlink(w->unix_path);
	fds = count_fds() - w->fds_before;
	free(w);
	if (fds)
		fprintf(stderr, "fd leak: %d more open after the test than before\n", fds);
	return fds ? -1 : 0;
}

/* --- plain forwards -------------------------------------------------------------------- */

static void tcp_forward_moves_megabytes_both_ways_intact(void **state)
{
	struct world *w = *state;
	struct endpoint target, in_cage;
	struct forward f;
	struct relay_stats st;
	struct peer *c;
	const size_t up = 4 << 20, down = 3 << 20;

	w->srv.fd = listen_tcp(AF_INET, 0, &target);
	w->srv.tmpl = (struct peer){.server = true, .tx_total = down, .shut_when_sent = true};
	f = tcp_forward(&target);
	add_forward(w, &f, AF_INET, 0, &in_cage);
	c = client_add(w, &in_cage, 1, up, 0);

	assert_true(run_until(w, relay_idle, NULL, 20000));
	assert_client_got(c, down);
	assert_server_got(server_of(w, c), up);
	relay_get_stats(w->relay, &st);
	assert_int_equal(st.accepted, 1);
	assert_int_equal(st.open, 0);
	assert_int_equal(st.refused, 0);
	assert_int_equal(st.bytes_up, up);
	assert_int_equal(st.bytes_down, down);
}

static void ipv6_listener_and_target(void **state)
{
	struct world *w = *state;
	struct endpoint target, in_cage;
	struct forward f;
	struct peer *c;

	w->srv.fd = listen_tcp(AF_INET6, 0, &target);
	w->srv.tmpl = (struct peer){.server = true, .tx_total = 100000, .shut_when_sent = true};
	f = tcp_forward(&target);
	add_forward(w, &f, AF_INET6, 0, &in_cage);
	c = client_add(w, &in_cage, 2, 200000, 0);

	assert_true(run_until(w, relay_idle, NULL, 10000));
	assert_client_got(c, 100000);
	assert_server_got(server_of(w, c), 200000);
}

static void many_concurrent_connections_each_intact(void **state)
{
	struct world *w = *state;
	struct endpoint target, in_cage;
	struct forward f;
	struct relay_stats st;
	struct peer *c[250];
	const size_t n = ARRAY_SIZE(c);

	w->srv.fd = listen_tcp(AF_INET, 0, &target);
	/* Every server answers with the same length; clients send lengths of their own. */
	w->srv.tmpl = (struct peer){.server = true, .tx_total = 50000, .shut_when_sent = true};
	f = tcp_forward(&target);
	add_forward(w, &f, AF_INET, 0, &in_cage);
	for (size_t i = 0; i < n; i++)
		c[i] = client_add(w, &in_cage, 100 + i, 8 + 997 * i, 0);

	assert_true(run_until(w, relay_idle, NULL, 60000));
	for (size_t i = 0; i < n; i++) {
		assert_client_got(c[i], 50000);
		assert_server_got(server_of(w, c[i]), 8 + 997 * i);
	}
	relay_get_stats(w->relay, &st);
	assert_int_equal(st.accepted, n);
	assert_int_equal(w->srv.accepted, n);
	assert_int_equal(st.open, 0);
	/* They were served side by side, not one after another. */
	assert_true(w->peak_open >= n / 2);
}

static void half_close_keeps_the_other_direction_flowing(void **state)
{
	struct world *w = *state;
	struct endpoint target, in_cage;
	struct forward f;
	struct peer *c;

	/* The server answers only once it has seen the client's EOF: the relay must pass the
	 * client's shutdown on and still carry the whole answer back, then the EOF. */
	w->srv.fd = listen_tcp(AF_INET, 0, &target);
	w->srv.tmpl = (struct peer){
	    .server = true, .tx_total = 1 << 20, .tx_after_eof = true, .shut_when_sent = true};
	f = tcp_forward(&target);
	add_forward(w, &f, AF_INET, 0, &in_cage);
	c = client_add(w, &in_cage, 3, 100000, 0);

	assert_true(run_until(w, relay_idle, NULL, 10000));
	assert_true(c->tx_shut);
	assert_client_got(c, 1 << 20);
	assert_server_got(server_of(w, c), 100000);
}

static bool raw_ended(struct world *w, void *arg)
{
	const struct raw *r = arg;

	return r->eof || r->err;
}

static void down_target_resets_client_at_once(void **state)
{
	struct world *w = *state;
	struct endpoint target = dead_endpoint(), in_cage;
	struct forward f = tcp_forward(&target);
	struct relay_stats st;
	struct raw *r;
	int64_t t0;

	add_forward(w, &f, AF_INET, 0, &in_cage);
	r = raw_add(w, &in_cage, "hello", 5);
	t0 = now_ms();
	assert_true(run_until(w, raw_ended, r, 2000));
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(r->err, ECONNRESET);
	assert_int_equal(r->len, 0);
	relay_get_stats(w->relay, &st);
	assert_int_equal(st.accepted, 1);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.open, 0);
}

static bool server_ended(struct world *w, void *arg)
{
	const struct peer *s = w->n_peers > 1 ? w->peers[1] : NULL;

	return s && (s->err || s->rx_eof);
}

static void reset_by_the_client_resets_the_target(void **state)
{
	struct world *w = *state;
	struct endpoint target, in_cage;
	struct forward f;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	struct peer *c;

	/* A reset must arrive as a reset: a clean EOF would pass a cut stream for a whole one. */
	w->srv.fd = listen_tcp(AF_INET, 0, &target);
	w->srv.tmpl = (struct peer){.server = true, .tx_total = 1 << 20};
	f = tcp_forward(&target);
	add_forward(w, &f, AF_INET, 0, &in_cage);
	c = client_add(w, &in_cage, 7, 64 << 20, 0);
	assert_true(run_until(w, server_ended, NULL, 300) == false);
	assert_int_equal(w->n_peers, 2);
	assert_true(w->peers[1]->rx_off > 8);

	assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(c->fd);
	c->fd = -1;
	assert_true(run_until(w, server_ended, NULL, 2000));
	assert_int_equal(w->peers[1]->err, ECONNRESET);
	assert_false(w->peers[1]->rx_bad);
}

static void unix_socket_target(void **state)
{
	struct world *w = *state;
	struct endpoint in_cage;
	struct forward f = {.kind = TARGET_UNIX};
	struct peer *c;

	w->srv.fd = listen_unix(w->unix_path);
	w->srv.tmpl = (struct peer){.server = true, .tx_total = 1 << 20, .shut_when_sent = true};
	snprintf(f.path, sizeof(f.path), "%s", w->unix_path);
	add_forward(w, &f, AF_INET, 0, &in_cage);
	c = client_add(w, &in_cage, 4, 1 << 20, 0);

	assert_true(run_until(w, relay_idle, NULL, 10000));
	assert_client_got(c, 1 << 20);
	assert_server_got(server_of(w, c), 1 << 20);
}

static void unix_target_missing_resets_client(void **state)
{
	struct world *w = *state;
	struct endpoint in_cage;
	struct forward f = {.kind = TARGET_UNIX};
	struct raw *r;

	snprintf(f.path, sizeof(f.path), "%s", w->unix_path); /* nothing there */
	add_forward(w, &f, AF_INET, 0, &in_cage);
	r = raw_add(w, &in_cage, NULL, 0);
	assert_true(run_until(w, raw_ended, r, 2000));
	assert_int_equal(r->err, ECONNRESET);
}

static bool client_stalled(struct world *w, void *arg)
{
	static size_t last;
	static int64_t since;
	const struct peer *c = arg;

	if (c->tx_off != last || !since) {
		last = c->tx_off;
		since = now_ms();
	}
	return now_ms() - since > 300;
}

static void slow_reader_stops_the_relay_reading(void **state)
{
	struct world *w = *state;
	struct endpoint target, in_cage;
	struct forward f;
	struct relay_stats st1, st2;
	struct peer *c, *s;
	const size_t total = 48 << 20;

	/* Small fixed buffers where the test owns the socket; the relay's target socket keeps
	 * its autotuned send buffer (up to tcp_wmem's 4 MiB). */
	w->srv.fd = listen_tcp(AF_INET, 65536, &target);
	w->srv.tmpl = (struct peer){.server = true, .rx_pause = true, .shut_when_sent = true};
	f = tcp_forward(&target);
	add_forward(w, &f, AF_INET, 65536, &in_cage);
	c = client_add(w, &in_cage, 5, total, 65536);

	run_until(w, client_stalled, c, 20000);
	relay_get_stats(w->relay, &st1);
	/* Without backpressure the relay would have taken all of it. */
	assert_true(c->tx_off < 8 << 20);
	assert_true(st1.bytes_up < 6 << 20);
	run_for(w, 300);
	relay_get_stats(w->relay, &st2);
	assert_int_equal(st2.bytes_up, st1.bytes_up);
	/* The relay sleeps rather than polls while it waits. */
	assert_true(w->dispatched < 20);

	assert_int_equal(w->srv.accepted, 1);
	s = w->peers[1];
	assert_true(s->server);
	s->rx_pause = false;
	assert_true(run_until(w, relay_idle, NULL, 60000));
	assert_client_got(c, 0);
	assert_server_got(s, total);
}

static bool client_shut(struct world *w, void *arg)
{
	const struct peer *c = arg;

	return c->tx_shut || c->err;
}

static void hung_up_client_waiting_on_slow_target_does_not_spin(void **state)
{
	struct world *w = *state;
	struct endpoint target, in_cage;
	struct forward f;
	struct peer *c, *s;
	int big = 32 << 20, lfd;
	const size_t total = 12 << 20;

	/* The target closes its side at once and reads nothing; the client sends more than
	 * the target side holds, then its FIN. The relay has shut the client's write side, so
	 * the client socket reports EPOLLHUP while its data waits: the relay must not spin on
	 * it, and must pick it up again once the target reads. */
	w->srv.fd = listen_tcp(AF_INET, 65536, &target);
	w->srv.tmpl = (struct peer){
	    .server = true, .tx_ready = true, .rx_pause = true, .shut_when_sent = true};
	f = tcp_forward(&target);
	lfd = listen_tcp(AF_INET, 0, &f.listen);
	assert_int_equal(setsockopt(lfd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)), 0);
	in_cage = f.listen;
	assert_int_equal(relay_add_forward(w->relay, lfd, &f, NULL), 0);
	c = client_add(w, &in_cage, 6, total, 0);

	assert_true(run_until(w, client_shut, c, 20000));
	assert_int_equal(c->err, 0);
	run_for(w, 300);
	assert_true(c->rx_eof);
	assert_true(w->dispatched < 20);

	s = w->peers[1];
	assert_true(s->server);
	s->rx_pause = false;
	assert_true(run_until(w, relay_idle, NULL, 60000));
	assert_client_got(c, 0);
	assert_server_got(s, total);
}

/* --- stream isolation ------------------------------------------------------------------ */

static const uint8_t greeting_no_auth[] = {5, 1, 0};
/* CONNECT check.torproject.org:443, by name: it must reach the proxy as a name. */
/* clang-format off */
static const uint8_t connect_by_name[] = {5, 1, 0, 3, 20,
					  'c', 'h', 'e', 'c', 'k', '.', 't', 'o', 'r', 'p',
					  'r', 'o', 'j', 'e', 'c', 't', '.', 'o', 'r', 'g',
					  1, 0xbb};
/* clang-format on */

static struct forward socks_forward(const struct endpoint *proxy)
{
	struct forward f = tcp_forward(proxy);

	f.target.scheme = SCHEME_SOCKS5H;
	f.isolate_streams = true;
	return f;
}

static bool raws_have(struct world *w, void *arg)
{
	size_t want = *(const size_t *)arg;

	for (size_t i = 0; i < w->n_raws; i++)
		if (w->raws[i].len < want && !w->raws[i].err && !w->raws[i].eof)
			return false;
	return true;
}

static bool is_hex32(const char *s)
{
	if (strlen(s) != 32)
		return false;
	for (; *s; s++)
		if (!strchr("0123456789abcdef", *s))
			return false;
	return true;
}

static void isolate_streams_fresh_credentials_and_request_unchanged(void **state)
{
	static const uint8_t reply_ok[] = {5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	struct world *w = *state;
	struct endpoint proxy, in_cage;
	struct forward f;
	struct relay_stats st;
	uint8_t msg[64];
	char ping[2][8];
	size_t want = sizeof(reply_ok) + 6;

	w->socks.fd = listen_tcp(AF_INET, 0, &proxy);
	f = socks_forward(&proxy);
	add_forward(w, &f, AF_INET, 0, &in_cage);
	/* Greeting, request and the first data in one write: nothing pipelined is lost. */
	for (size_t i = 0; i < 2; i++) {
		size_t len = 0;

		snprintf(ping[i], sizeof(ping[i]), "ping-%zu", i);
		memcpy(msg, greeting_no_auth, sizeof(greeting_no_auth));
		len += sizeof(greeting_no_auth);
		memcpy(msg + len, connect_by_name, sizeof(connect_by_name));
		len += sizeof(connect_by_name);
		memcpy(msg + len, ping[i], 6);
		len += 6;
		raw_add(w, &in_cage, msg, len);
	}

	assert_true(run_until(w, raws_have, &want, 5000));
	assert_int_equal(w->socks.n, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct socks_conn *sc = &w->socks.conns[i];
		const struct raw *r = &w->raws[i];

		assert_int_equal(r->err, 0);
		assert_int_equal(r->len, want);
		assert_memory_equal(r->rx, reply_ok, sizeof(reply_ok));
		assert_memory_equal(r->rx + sizeof(reply_ok), ping[i], 6);
		assert_memory_equal(sc->greeting, ((const uint8_t[]){5, 1, 2}), 3);
		assert_true(is_hex32(sc->user));
		assert_true(is_hex32(sc->pass));
		assert_int_equal(sc->req_len, sizeof(connect_by_name));
		assert_memory_equal(sc->req, connect_by_name, sizeof(connect_by_name));
	}
	assert_string_not_equal(w->socks.conns[0].user, w->socks.conns[1].user);
	assert_string_not_equal(w->socks.conns[0].pass, w->socks.conns[1].pass);
	assert_string_not_equal(w->socks.conns[0].user, w->socks.conns[0].pass);
	relay_get_stats(w->relay, &st);
	assert_int_equal(st.bytes_up, 12);
	assert_int_equal(st.bytes_down, 2 * (SOCKS5_REPLY_LEN + 6));
	assert_int_equal(st.refused, 0);
}

static void isolate_streams_client_without_no_auth_is_refused(void **state)
{
	struct world *w = *state;
	struct endpoint proxy, in_cage;
	struct forward f;
	struct raw *r;

	w->socks.fd = listen_tcp(AF_INET, 0, &proxy);
	f = socks_forward(&proxy);
	add_forward(w, &f, AF_INET, 0, &in_cage);
	r = raw_add(w, &in_cage, "\x05\x01\x02", 3);

	assert_true(run_until(w, raw_ended, r, 2000));
	assert_int_equal(r->len, 2);
	assert_memory_equal(r->rx, "\x05\xff", 2);
	assert_int_equal(r->err, ECONNRESET);
	run_for(w, 50);
	assert_int_equal(w->socks.n, 0);
}

static void isolate_streams_bind_is_unsupported(void **state)
{
	static const uint8_t bind_req[] = {5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80};
	struct world *w = *state;
	struct endpoint proxy, in_cage;
	struct forward f;
	struct raw *r;

	w->socks.fd = listen_tcp(AF_INET, 0, &proxy);
	f = socks_forward(&proxy);
	add_forward(w, &f, AF_INET, 0, &in_cage);
	r = raw_add(w, &in_cage, bind_req, sizeof(bind_req));

	assert_true(run_until(w, raw_ended, r, 2000));
	assert_int_equal(r->len, 2 + SOCKS5_REPLY_LEN);
	assert_memory_equal(r->rx, "\x05\x00\x05\x07", 4);
	assert_int_equal(w->socks.n, 0);
}

static void isolate_streams_proxy_down_resets_client(void **state)
{
	struct world *w = *state;
	struct endpoint proxy = dead_endpoint(), in_cage;
	struct forward f = socks_forward(&proxy);
	struct relay_stats st;
	struct raw *r;
	uint8_t msg[64];

	memcpy(msg, greeting_no_auth, 3);
	memcpy(msg + 3, connect_by_name, sizeof(connect_by_name));
	add_forward(w, &f, AF_INET, 0, &in_cage);
	r = raw_add(w, &in_cage, msg, 3 + sizeof(connect_by_name));

	assert_true(run_until(w, raw_ended, r, 2000));
	assert_int_equal(r->err, ECONNRESET);
	relay_get_stats(w->relay, &st);
	assert_int_equal(st.refused, 1);
}

static void isolate_streams_proxy_without_userpass_resets_client(void **state)
{
	struct world *w = *state;
	struct endpoint proxy, in_cage;
	struct forward f;
	struct raw *r;
	uint8_t msg[64];

	w->socks.fd = listen_tcp(AF_INET, 0, &proxy);
	w->socks.refuse_userpass = true;
	f = socks_forward(&proxy);
	add_forward(w, &f, AF_INET, 0, &in_cage);
	memcpy(msg, greeting_no_auth, 3);
	memcpy(msg + 3, connect_by_name, sizeof(connect_by_name));
	r = raw_add(w, &in_cage, msg, 3 + sizeof(connect_by_name));

	assert_true(run_until(w, raw_ended, r, 2000));
	assert_int_equal(r->err, ECONNRESET);
	/* Never sent on without credentials. */
	assert_int_equal(w->socks.n, 1);
	assert_int_equal(w->socks.conns[0].req_len, 0);
	assert_int_equal(w->socks.conns[0].user[0], '\0');
}

/* --- a proxy URL's credentials -------------------------------------------------------- */

static const struct proxy_auth alice = {.user = "alice", .pass = "pw"};

/* What the "proxy" (a plain listener: accepted here, read without waiting) was sent. */
static ssize_t proxy_got(int lfd, int *ret_fd, char *buf, size_t size)
{
	ssize_t n;

	*ret_fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (*ret_fd < 0)
		return -1;
	n = recv(*ret_fd, buf, size - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* A forward to an http:// "proxy" (a plain listener, returned) that adds alice's
 * credentials; the forward's address in the cage in *in_cage. */
static int http_auth_forward(struct world *w, struct endpoint *in_cage)
{
	struct endpoint proxy;
	int pfd = listen_tcp(AF_INET, 0, &proxy);
	struct forward f = tcp_forward(&proxy);

	f.target.scheme = SCHEME_HTTP;
	assert_int_equal(relay_add_forward(w->relay, listen_tcp(AF_INET, 0, &f.listen), &f, &alice),
			 0);
	*in_cage = f.listen;
	return pfd;
}

static void credentials_are_added_to_an_http_request_head(void **state)
{
	static const char head[] = "GET http://x/ HTTP/1.1\r\nHost: x\r\n"
				   "Proxy-Authorization: Basic ZXZlOmV2ZQ==\r\n"
				   "Connection: keep-alive\r\n\r\nBODY";
	struct world *w = *state;
	struct endpoint in_cage;
	char got[1024];
	int pfd = http_auth_forward(w, &in_cage), a;
	struct raw *r;

	r = raw_add(w, &in_cage, head, sizeof(head) - 1);
	run_for(w, 200);
	assert_true(proxy_got(pfd, &a, got, sizeof(got)) > 0);
	/* the client's own credentials gone, the URL's in; one request per connection */
	assert_string_equal(got, "GET http://x/ HTTP/1.1\r\nHost: x\r\n"
				 "Proxy-Authorization: Basic YWxpY2U6cHc=\r\n"
				 "Connection: close\r\n\r\nBODY");
	/* the answer comes back as it is */
	assert_int_equal(send(a, "HTTP/1.1 200 OK\r\n\r\nhi", 21, 0), 21);
	close(a);
	assert_true(run_until(w, raw_ended, r, 2000));
	assert_int_equal(r->len, 21);
	assert_memory_equal(r->rx, "HTTP/1.1 200 OK\r\n\r\nhi", 21);
	close(pfd);
}

static void a_malformed_head_gets_400_and_never_reaches_the_proxy(void **state)
{
	struct world *w = *state;
	struct endpoint in_cage;
	char got[64];
	int pfd = http_auth_forward(w, &in_cage), a;
	struct raw *r;

	r = raw_add(w, &in_cage, "GET http://x/ HTTP/1.1\r\nHost : x\r\n\r\n", 36);
	assert_true(run_until(w, raw_ended, r, 2000));
	assert_true(r->len > 12);
	assert_memory_equal(r->rx, "HTTP/1.1 400", 12);
	assert_true(proxy_got(pfd, &a, got, sizeof(got)) < 0);
	close(pfd);
}

static void credentials_go_to_a_socks5_proxy_by_rfc_1929(void **state)
{
	static const uint8_t reply_ok[] = {5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	struct world *w = *state;
	struct endpoint proxy, in_cage;
	struct forward f;
	uint8_t msg[64];
	size_t want = sizeof(reply_ok);

	w->socks.fd = listen_tcp(AF_INET, 0, &proxy);
	f = tcp_forward(&proxy);
	f.target.scheme = SCHEME_SOCKS5H;
	assert_int_equal(relay_add_forward(w->relay, listen_tcp(AF_INET, 0, &f.listen), &f, &alice),
			 0);
	in_cage = f.listen;
	memcpy(msg, greeting_no_auth, 3);
	memcpy(msg + 3, connect_by_name, sizeof(connect_by_name));
	raw_add(w, &in_cage, msg, 3 + sizeof(connect_by_name));
	assert_true(run_until(w, raws_have, &want, 5000));
	assert_int_equal(w->socks.n, 1);
	assert_string_equal(w->socks.conns[0].user, "alice");
	assert_string_equal(w->socks.conns[0].pass, "pw");
	assert_memory_equal(w->socks.conns[0].req, connect_by_name, sizeof(connect_by_name));
	assert_memory_equal(w->raws[0].rx, reply_ok, sizeof(reply_ok));
}

/* --- lifetime and limits --------------------------------------------------------------- */

static bool all_accepted(struct world *w, void *arg)
{
	struct relay_stats st;

	relay_get_stats(w->relay, &st);
	return st.accepted >= *(const size_t *)arg && w->srv.accepted >= 10;
}

static void free_with_open_connections_leaks_nothing(void **state)
{
	struct world *w = *state;
	struct endpoint target, stuck, proxy = dead_endpoint(), in_cage, in_stuck, in_socks;
	struct forward f, fs, fp;
	struct relay_stats st;
	struct raw *half, *connecting;
	size_t want = 13;
	int stuck_fd;

	/* Ten relaying mid-transfer (the server does not read). */
	w->srv.fd = listen_tcp(AF_INET, 0, &target);
	w->srv.tmpl = (struct peer){.server = true, .rx_pause = true, .tx_total = 1 << 20};
	f = tcp_forward(&target);
	add_forward(w, &f, AF_INET, 0, &in_cage);
	for (size_t i = 0; i < 10; i++)
		client_add(w, &in_cage, 200 + i, 8 << 20, 0);
	/* Two to a target that never accepts: with a backlog of 0 the first connection waits
	 * in its queue, the second one's SYN is dropped and its connect stays in progress. */
	stuck_fd = listen_tcp(AF_INET, 0, &stuck);
	assert_int_equal(listen(stuck_fd, 0), 0);
	fs = tcp_forward(&stuck);
	add_forward(w, &fs, AF_INET, 0, &in_stuck);
	raw_add(w, &in_stuck, NULL, 0);
	connecting = raw_add(w, &in_stuck, NULL, 0);
	/* One mid-handshake: its greeting is one method short. */
	fp = socks_forward(&proxy);
	add_forward(w, &fp, AF_INET, 0, &in_socks);
	half = raw_add(w, &in_socks, "\x05\x02\x00", 3);

	assert_true(run_until(w, all_accepted, &want, 10000));
	run_for(w, 100);
	relay_get_stats(w->relay, &st);
	assert_int_equal(st.open, 13);
	assert_int_equal(st.refused, 0);

	relay_free(w->relay);
	w->relay = NULL;
	close(stuck_fd);
	/* The clients see their streams cut by a reset, not a clean end. */
	for (size_t i = 0; i < 10; i++) {
		struct peer *p = w->peers[i];
		char b[CHUNK];

		assert_false(p->server);
		while (recv(p->fd, b, sizeof(b), 0) > 0)
			;
		assert_int_equal(errno, ECONNRESET);
	}
	assert_int_equal(recv(connecting->fd, connecting->rx, sizeof(connecting->rx), 0), -1);
	assert_int_equal(errno, ECONNRESET);
	assert_int_equal(recv(half->fd, half->rx, sizeof(half->rx), 0), -1);
	assert_int_equal(errno, ECONNRESET);
	/* teardown counts the fds */
}

static void add_forward_refuses_what_it_cannot_serve(void **state)
{
	struct world *w = *state;
	struct endpoint e = dead_endpoint(), l;
	struct forward f = socks_forward(&e);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	/* Not listening: refused, and the fd is the relay's to close all the same. */
	assert_true(fd >= 0);
	assert_int_equal(relay_add_forward(w->relay, fd, &f, NULL), -EINVAL);
	/* isolate_streams without a socks5 scheme, or to a unix socket. */
	f.target.scheme = SCHEME_NONE;
	assert_int_equal(relay_add_forward(w->relay, listen_tcp(AF_INET, 0, &l), &f, NULL), -EINVAL);
	f = (struct forward){.kind = TARGET_UNIX, .isolate_streams = true};
	snprintf(f.path, sizeof(f.path), "/x");
	assert_int_equal(relay_add_forward(w->relay, listen_tcp(AF_INET, 0, &l), &f, NULL), -EINVAL);
	f.isolate_streams = false;
	f.path[0] = '\0';
	assert_int_equal(relay_add_forward(w->relay, listen_tcp(AF_INET, 0, &l), &f, NULL), -EINVAL);
}

/* A soft fd limit of 64, below the hard one, whatever this process started with; the limits
 * it had go to *saved. */
static void lower_fd_limit(struct rlimit *saved)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, saved), 0);
	if (saved->rlim_max <= 64)
		skip();
	rl = *saved;
	rl.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static void fd_limit_is_raised_to_the_hard_limit(void **state)
{
	struct rlimit saved, rl;

	lower_fd_limit(&saved);
	relay_raise_fd_limit();
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(rl.rlim_cur == saved.rlim_max);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

/* relay_new changes nothing of the process's: not the fd limit, not SIGPIPE's disposition,
 * which it needs ignored and refuses without. */
static void relay_new_leaves_the_process_alone(void **state)
{
	struct rlimit saved, rl;
	struct loop *l;
	struct relay *r = NULL;

	lower_fd_limit(&saved);
	assert_int_equal(loop_new(&l), 0);
	signal(SIGPIPE, SIG_DFL);
	err_clear();
	assert_int_equal(relay_new(l, &r), -EINVAL);
	assert_non_null(strstr(err_message(-EINVAL), "SIGPIPE must be ignored"));
	assert_true(signal(SIGPIPE, SIG_IGN) == SIG_DFL); /* still the default */
	assert_int_equal(relay_new(l, &r), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(rl.rlim_cur == 64);
	relay_free(r);
	loop_free(l);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

static void out_of_fds_pauses_accepting_without_spinning(void **state)
{
	struct world *w = *state;
	struct endpoint target, in_cage;
	struct forward f;
	struct rlimit saved, low;
	struct peer *c[10];
	int first_free;

	w->srv.fd = listen_tcp(AF_INET, 0, &target);
	w->srv.tmpl = (struct peer){.server = true, .tx_total = 1000, .shut_when_sent = true};
	f = tcp_forward(&target);
	add_forward(w, &f, AF_INET, 0, &in_cage);
	for (size_t i = 0; i < ARRAY_SIZE(c); i++)
		c[i] = client_add(w, &in_cage, 300 + i, 1000, 0);

	/* No fd can be made below the lowest free one: accept4 fails with EMFILE. */
	first_free = dup(0);
	assert_true(first_free >= 0);
	close(first_free);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = (rlim_t)first_free;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	run_for(w, 500);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	/* A level-triggered listener nobody pauses would be dispatched thousands of times. */
	assert_true(w->dispatched < 30);
	assert_int_equal(w->srv.accepted, 0);

	assert_true(run_until(w, relay_idle, NULL, 10000));
	for (size_t i = 0; i < ARRAY_SIZE(c); i++)
		assert_client_got(c[i], 1000);
}

#define RTEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    RTEST(tcp_forward_moves_megabytes_both_ways_intact),
	    RTEST(ipv6_listener_and_target),
	    RTEST(many_concurrent_connections_each_intact),
	    RTEST(half_close_keeps_the_other_direction_flowing),
	    RTEST(down_target_resets_client_at_once),
	    RTEST(reset_by_the_client_resets_the_target),
	    RTEST(unix_socket_target),
	    RTEST(unix_target_missing_resets_client),
	    RTEST(slow_reader_stops_the_relay_reading),
	    RTEST(hung_up_client_waiting_on_slow_target_does_not_spin),
	    RTEST(isolate_streams_fresh_credentials_and_request_unchanged),
	    RTEST(isolate_streams_client_without_no_auth_is_refused),
	    RTEST(isolate_streams_bind_is_unsupported),
	    RTEST(isolate_streams_proxy_down_resets_client),
	    RTEST(isolate_streams_proxy_without_userpass_resets_client),
	    RTEST(credentials_are_added_to_an_http_request_head),
	    RTEST(a_malformed_head_gets_400_and_never_reaches_the_proxy),
	    RTEST(credentials_go_to_a_socks5_proxy_by_rfc_1929),
	    RTEST(free_with_open_connections_leaks_nothing),
	    RTEST(add_forward_refuses_what_it_cannot_serve),
	    cmocka_unit_test(fd_limit_is_raised_to_the_hard_limit),
	    cmocka_unit_test(relay_new_leaves_the_process_alone),
	    RTEST(out_of_fds_pauses_accepting_without_spinning),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
