/* wguapi.c: wireguard-go's UAPI: the text protocol (a "set" built from a configuration, a
 * "get" parsed into a struct wg_device_info) and the client on its unix socket. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "wg.h"
#include "wgconf.h"

#define UAPI_TIMEOUT_MS 5000
#define UAPI_REPLY_MAX	(16 * 1024 * 1024)

/* --- UAPI text ----------------------------------------------------------------------------- */

struct strbuf {
	char *s;
	size_t len, cap;
	int err;
};

static void sb_printf(struct strbuf *b, const char *fmt, ...) _printf_(2, 3);
static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = -EINVAL;
			return;
		}
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t cap = b->cap ? b->cap * 2 : 4096;
			char *ns;

			while (cap <= b->len + (size_t)n)
				cap *= 2;
			/* not realloc: the old buffer may hold the private key and is wiped */
			ns = malloc(cap);
			if (!ns) {
				b->err = -ENOMEM;
				return;
			}
			if (b->s) {
				memcpy(ns, b->s, b->len);
				explicit_bzero(b->s, b->cap);
				free(b->s);
			}
			b->s = ns;
			b->cap = cap;
		}
	}
}

static void sb_key(struct strbuf *b, const char *name, const uint8_t key[32])
{
	static const char hex[] = "0123456789abcdef";
	char s[65];

	for (int i = 0; i < 32; i++) {
		s[2 * i] = hex[key[i] >> 4];
		s[2 * i + 1] = hex[key[i] & 15];
	}
	s[64] = '\0';
	sb_printf(b, "%s=%s\n", name, s);
	explicit_bzero(s, sizeof(s));
}

int wg_uapi_build_set(const struct wg_config *c, char **ret, size_t *ret_len)
{
	struct strbuf b = {0};
	char s[WG_ENDPOINT_STR_MAX > WG_PREFIX_STR_MAX ? WG_ENDPOINT_STR_MAX : WG_PREFIX_STR_MAX];

	sb_printf(&b, "set=1\n");
	sb_key(&b, "private_key", c->private_key);
	if (c->has_listen_port)
		sb_printf(&b, "listen_port=%u\n", c->listen_port);
	sb_printf(&b, "replace_peers=true\n");
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct wg_peer_config *p = &c->peers[i];

		sb_key(&b, "public_key", p->public_key);
		if (p->has_preshared_key)
			sb_key(&b, "preshared_key", p->preshared_key);
		if (p->endpoint.sa.sa_family) {
			wg_endpoint_format(&p->endpoint, s);
			sb_printf(&b, "endpoint=%s\n", s);
		}
		sb_printf(&b, "persistent_keepalive_interval=%u\n", p->persistent_keepalive);
		sb_printf(&b, "replace_allowed_ips=true\n");
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			wg_prefix_format(&p->allowed_ips[j], s);
			sb_printf(&b, "allowed_ip=%s\n", s);
		}
	}
	sb_printf(&b, "\n");
	if (b.err) {
		if (b.s)
			explicit_bzero(b.s, b.cap);
		free(b.s);
		return b.err;
	}
	*ret = b.s;
	*ret_len = b.len;
	return 0;
}

static int hex_val(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int hex_key(const char *s, uint8_t key[32])
{
	if (strlen(s) != 64)
		return -EPROTO;
	for (int i = 0; i < 32; i++) {
		int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EPROTO;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > 20)
		return -EPROTO;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -EPROTO;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > max)
		return -EPROTO;
	*ret = v;
	return 0;
}

/* Call line(key, value, data) for each "key=value" line up to the blank line that ends a
 * reply. -EPROTO for a line without '=', one too long, or no blank line at the end. */
static int uapi_lines(const char *text, size_t len,
		      int (*line)(const char *key, const char *value, void *data), void *data)
{
	char buf[512];
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n;
		char *eq;
		int r;

		if (!nl)
			return -EPROTO;
		n = (size_t)(nl - (text + pos));
		if (n == 0)
			return 0;
		if (n >= sizeof(buf) || memchr(text + pos, '\0', n))
			return -EPROTO;
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		pos += n + 1;
		eq = strchr(buf, '=');
		if (!eq)
			return -EPROTO;
		*eq = '\0';
		r = line(buf, eq + 1, data);
		explicit_bzero(buf, sizeof(buf));
		if (r < 0)
			return r;
	}
	return -EPROTO;
}

static int errno_line(const char *key, const char *value, void *data)
{
	int *status = data;
	uint64_t v;
	bool neg = value[0] == '-';

	if (!streq(key, "errno"))
		return 0;
	if (parse_u64(value + neg, 4095, &v) < 0)
		return -EPROTO;
	*status = v ? -(int)v : 0;
	return 0;
}

int wg_uapi_parse_errno(const char *text, size_t len)
{
	int status = 1;
	int r = uapi_lines(text, len, errno_line, &status);

	if (r < 0)
		return r;
	return status > 0 ? -EPROTO : status;
}

struct get_parse {
	struct wg_device_info *d;
	struct wg_peer_info *peer;
	int status; /* 1 until the errno line */
};

static int get_line(const char *key, const char *value, void *data)
{
	struct get_parse *g = data;
	struct wg_device_info *d = g->d;
	uint8_t key32[32];
	uint64_t v;
	int r;

	if (g->status <= 0) /* nothing may follow the errno line */
		return -EPROTO;
	if (streq(key, "errno"))
		return errno_line(key, value, &g->status);
	if (streq(key, "private_key")) {
		if (hex_key(value, key32) < 0)
			return -EPROTO;
		d->has_public_key = wg_public_key(d->public_key, key32) == 0;
		explicit_bzero(key32, sizeof(key32));
		return 0;
	}
	if (streq(key, "listen_port")) {
		if (parse_u64(value, 65535, &v) < 0)
			return -EPROTO;
		d->listen_port = (uint16_t)v;
		return 0;
	}
	if (streq(key, "public_key")) {
		if (hex_key(value, key32) < 0)
			return -EPROTO;
		return wg_device_peer_add(d, key32, &g->peer);
	}
	if (!g->peer) /* device keys we do not keep: fwmark, ... */
		return 0;
	if (streq(key, "preshared_key")) {
		static const uint8_t zero[32];

		if (hex_key(value, key32) < 0)
			return -EPROTO;
		g->peer->has_preshared_key = memcmp(key32, zero, 32) != 0;
		explicit_bzero(key32, sizeof(key32));
	} else if (streq(key, "endpoint")) {
		/* one we cannot represent (a scoped IPv6 address) is left out, and so is the
		 * parser's record of why: it is no failure, and must not be wrapped as one */
		if (wg_endpoint_parse(value, &g->peer->endpoint) < 0) {
			memset(&g->peer->endpoint, 0, sizeof(g->peer->endpoint));
			err_clear();
		}
	} else if (streq(key, "persistent_keepalive_interval")) {
		if (parse_u64(value, 65535, &v) < 0)
			return -EPROTO;
		g->peer->persistent_keepalive = (uint16_t)v;
	} else if (streq(key, "last_handshake_time_sec")) {
		if (parse_u64(value, INT64_MAX, &v) < 0)
			return -EPROTO;
		g->peer->last_handshake_sec = (int64_t)v;
	} else if (streq(key, "rx_bytes")) {
		if (parse_u64(value, UINT64_MAX, &g->peer->rx_bytes) < 0)
			return -EPROTO;
	} else if (streq(key, "tx_bytes")) {
		if (parse_u64(value, UINT64_MAX, &g->peer->tx_bytes) < 0)
			return -EPROTO;
	} else if (streq(key, "allowed_ip")) {
		struct wg_prefix a;

		if (wg_prefix_parse(value, true, &a) < 0)
			return -EPROTO;
		r = wg_device_allowed_ip_add(d, g->peer, &a);
		if (r < 0)
			return r;
	}
	/* others (protocol_version, last_handshake_time_nsec, newer keys) are not kept */
	return 0;
}

int wg_uapi_parse_get(const char *text, size_t len, struct wg_device_info *ret)
{
	_cleanup_(wg_device_info_freep) struct wg_device_info d = {0};
	struct get_parse g = {.d = &d, .status = 1};
	int r = uapi_lines(text, len, get_line, &g);

	if (r == 0 && g.status > 0)
		r = -EPROTO;
	if (r == 0)
		r = g.status;
	if (r < 0)
		return r;
	*ret = TAKE_STRUCT(d);
	return 0;
}

/* --- UAPI client -------------------------------------------------------------------------- */

static int uapi_connect(const char *sock_path, int *ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = UAPI_TIMEOUT_MS / 1000};
	_cleanup_close_ int fd = -1;

	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	/* a daemon that stops answering must not hang the supervisor */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return negative_errno();
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negative_errno();
	*ret = TAKE_FD(fd);
	return 0;
}

/* Send req and read the reply through the blank line that ends it. */
int wg_uapi_exchange(const char *sock_path, const char *req, size_t req_len, char **ret,
		     size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0, sent = 0;
	int r = uapi_connect(sock_path, &fd), send_err = 0;

	if (r < 0)
		return r;
	while (sent < req_len) {
		ssize_t n = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* it may have refused the request half-way: its answer says why */
			send_err = negative_errno();
			break;
		}
		sent += (size_t)n;
	}
	for (;;) {
		ssize_t n;

		if (len + 4096 > cap) {
			char *nb;

			if (cap >= UAPI_REPLY_MAX)
				return -E2BIG;
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : negative_errno();
		if (n == 0)
			return send_err ? send_err : -EPROTO;
		len += (size_t)n;
		if ((len == 1 && buf[0] == '\n') ||
		    (len >= 2 && buf[len - 1] == '\n' && buf[len - 2] == '\n'))
			break;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int wg_uapi_set(const char *sock_path, const struct wg_config *c)
{
	char *req = NULL, *reply = NULL;
	size_t req_len = 0, reply_len = 0;
	int r = wg_uapi_build_set(c, &req, &req_len);

	if (r < 0)
		return err_set(r, "configure wireguard-go at %s", sock_path);
	r = wg_uapi_exchange(sock_path, req, req_len, &reply, &reply_len);
	explicit_bzero(req, req_len);
	free(req);
	if (r == 0)
		r = wg_uapi_parse_errno(reply, reply_len);
	free(reply);
	return r < 0 ? err_set(r, "configure wireguard-go at %s", sock_path) : 0;
}

/* The interface name in ".../NAME.sock". */
static void name_from_sock_path(const char *sock_path, char name[16])
{
	const char *base = strrchr(sock_path, '/');
	size_t n;

	base = base ? base + 1 : sock_path;
	n = strlen(base);
	if (n > 5 && streq(base + n - 5, ".sock"))
		n -= 5;
	snprintf(name, 16, "%.*s", (int)(n < 15 ? n : 15), base);
}

int wg_uapi_get(const char *sock_path, struct wg_device_info *ret)
{
	_cleanup_free_ char *reply = NULL;
	size_t reply_len = 0;
	int r = wg_uapi_exchange(sock_path, "get=1\n\n", 7, &reply, &reply_len);

	if (r == 0) {
		r = wg_uapi_parse_get(reply, reply_len, ret);
		explicit_bzero(reply, reply_len);
	}
	if (r < 0)
		return err_set(r, "read wireguard-go at %s", sock_path);
	name_from_sock_path(sock_path, ret->name);
	return 0;
}
