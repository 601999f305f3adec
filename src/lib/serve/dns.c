/* dns.c: the cage's DNS stub. dns_answer() is the whole protocol: RFC 1035's wire format
 * parsed and built by hand (no resolver library reads untrusted bytes here), EDNS as RFC 6891
 * has it; it is pure, unit-tested and fuzzed. The rest serves it on the supervisor's loop:
 * UDP datagrams, and TCP connections with pipelined queries (RFC 7766). */
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

/* --- the wire format (RFC 1035 4.1) ---------------------------------------------------- */

#define HDR_LEN	      12
#define WIRE_NAME_MAX 255    /* a name on the wire, length bytes and the root included */
#define RR_FIXED      10     /* type, class, TTL, RDLENGTH after a record's owner name */
#define OPT_LEN	      11     /* an OPT record with a root owner and no options */
#define NAME_PTR      0xc00c /* a pointer to the question's name, right after the header */

#define F_QR	      0x8000
#define F_AA	      0x0400
#define F_TC	      0x0200
#define F_RD	      0x0100
#define F_RA	      0x0080
#define F_CD	      0x0010
#define OPCODE(flags) (((flags) >> 11) & 0xf)

enum {
	TYPE_A = 1,
	TYPE_AAAA = 28,
	TYPE_OPT = 41,
	CLASS_IN = 1,
};

enum {
	RCODE_NOERROR = 0,
	RCODE_FORMERR = 1,
	RCODE_NXDOMAIN = 3,
	RCODE_NOTIMP = 4,
	RCODE_REFUSED = 5,
	RCODE_BADVERS = 16, /* extended: its upper 8 bits travel in the OPT record */
};

struct query {
	uint16_t id, flags;
	const uint8_t *qd; /* the question as asked: name, type, class */
	size_t name_len;   /* its name's length on the wire */
	uint16_t qtype, qclass;
	bool edns;
	uint16_t edns_size;
	uint8_t edns_version;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	return put16(put16(p, (uint16_t)(v >> 16)), (uint16_t)v);
}

/* The question's name at M[*OFF]: plain labels only. Queries never compress (there is nothing
 * before the question to point at), and following pointers is where parsers loop or read out
 * of bounds: refuse them. */
static int parse_qname(const uint8_t *m, size_t len, size_t *off, const char **why)
{
	size_t o = *off;

	for (;;) {
		uint8_t l;

		if (o >= len) {
			*why = "truncated question";
			return -EBADMSG;
		}
		l = m[o];
		if ((l & 0xc0) == 0xc0) {
			*why = "compression pointer in the question";
			return -EBADMSG;
		}
		if (l & 0xc0) { /* 0x40 and 0x80: extended and unassigned label types, or > 63 */
			*why = "label longer than 63 bytes";
			return -EBADMSG;
		}
		if (o + 1 + l - *off > WIRE_NAME_MAX) {
			*why = "name longer than 255 bytes";
			return -EBADMSG;
		}
		o += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	*off = o;
	return 0;
}

/* Step over a record's owner name after the question. A compression pointer ends it; where it
 * points does not matter, as nothing reads it. */
static int skip_name(const uint8_t *m, size_t len, size_t *off)
{
	size_t o = *off;

	for (;;) {
		uint8_t l;

		if (o >= len)
			return -EBADMSG;
		l = m[o];
		if ((l & 0xc0) == 0xc0) {
			if (o + 2 > len)
				return -EBADMSG;
			*off = o + 2;
			return 0;
		}
		if (l & 0xc0 || o + 1 + l - *off > WIRE_NAME_MAX)
			return -EBADMSG;
		o += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	*off = o;
	return 0;
}

/* COUNT records at M[*OFF], stepped over; an OPT record in the additional section is read. */
static int parse_records(const uint8_t *m, size_t len, size_t *off, unsigned count, bool additional,
			 struct query *q, const char **why)
{
	for (unsigned i = 0; i < count; i++) {
		size_t owner = *off;
		uint16_t type, rdlen;

		if (skip_name(m, len, off) < 0 || len - *off < RR_FIXED) {
			*why = "truncated record";
			return -EBADMSG;
		}
		type = get16(m + *off);
		rdlen = get16(m + *off + 8);
		if (len - *off - RR_FIXED < rdlen) {
			*why = "truncated record";
			return -EBADMSG;
		}
		if (type == TYPE_OPT) {
			/* RFC 6891 6.1.1: one, in the additional section, owned by the root. */
			if (!additional || q->edns || m[owner] != 0) {
				*why = "misplaced or repeated OPT record";
				return -EBADMSG;
			}
			q->edns = true;
			q->edns_size = get16(m + *off + 2);
			q->edns_version = (uint8_t)(get32(m + *off + 4) >> 16);
		}
		*off += RR_FIXED + rdlen;
	}
	return 0;
}

static int parse_query(const uint8_t *m, size_t len, struct query *q, const char **why)
{
	size_t off = HDR_LEN;
	int r;

	r = parse_qname(m, len, &off, why);
	if (r < 0)
		return r;
	if (len - off < 4) {
		*why = "truncated question";
		return -EBADMSG;
	}
	q->qd = m + HDR_LEN;
	q->name_len = off - HDR_LEN;
	q->qtype = get16(m + off);
	q->qclass = get16(m + off + 2);
	off += 4;
	/* Queries carry nothing in answer and authority; stepped over all the same. */
	r = parse_records(m, len, &off, get16(m + 6), false, q, why);
	if (r == 0)
		r = parse_records(m, len, &off, get16(m + 8), false, q, why);
	if (r == 0)
		r = parse_records(m, len, &off, get16(m + 10), true, q, why);
	if (r == 0 && off != len) {
		*why = "trailing bytes";
		r = -EBADMSG;
	}
	return r;
}

/* --- names ------------------------------------------------------------------------------ */

static bool host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* The wire name at NAME as lower-case text without a trailing dot ("" for the root) in BUF
 * (at least WIRE_NAME_MAX bytes). False if a label holds a byte no listed name can have (a
 * dot inside a label among them): such a name matches nothing. */
static bool qname_text(const uint8_t *name, char *buf)
{
	size_t n = 0;

	for (const uint8_t *p = name; *p; p += 1 + *p) {
		if (n)
			buf[n++] = '.';
		for (size_t i = 1; i <= *p; i++) {
			if (!host_char(p[i]))
				return false;
			buf[n++] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + ('a' - 'A') : p[i]);
		}
	}
	buf[n] = '\0';
	return true;
}

/* NAME is TEXT, or below it (TEXT is then an empty non-terminal, or the root). */
static bool name_at_or_below(const char *name, size_t name_len, const char *text, size_t len,
			     bool *below)
{
	*below = false;
	if (name_len == len)
		return memcmp(name, text, len) == 0;
	if (len == 0) {
		*below = true;
		return true;
	}
	if (name_len > len && name[name_len - len - 1] == '.' &&
	    memcmp(name + name_len - len, text, len) == 0) {
		*below = true;
		return true;
	}
	return false;
}

/* --- descriptions for -v ---------------------------------------------------------------- */

struct desc_buf {
	char *s;
	size_t cap, len;
};

static void _printf_(2, 3) text_add(struct desc_buf *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!t->s || t->len + 1 >= t->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len = t->len + (size_t)n < t->cap ? t->len + (size_t)n : t->cap - 1;
}

static void text_name(struct desc_buf *t, const uint8_t *name)
{
	if (!*name) {
		text_add(t, ".");
		return;
	}
	for (const uint8_t *p = name; *p; p += 1 + *p) {
		if (p != name)
			text_add(t, ".");
		for (size_t i = 1; i <= *p; i++)
			if (host_char(p[i]))
				text_add(t, "%c", p[i]);
			else
				text_add(t, "\\%03u", p[i]); /* RFC 1035 5.1's \DDD */
	}
}

static void text_type(struct desc_buf *t, uint16_t type)
{
	static const struct {
		uint16_t type;
		const char *name;
	} names[] = {
	    {1, "A"},	   {2, "NS"},	  {5, "CNAME"}, {6, "SOA"},  {12, "PTR"},
	    {15, "MX"},	   {16, "TXT"},	  {28, "AAAA"}, {33, "SRV"}, {64, "SVCB"},
	    {65, "HTTPS"}, {252, "AXFR"}, {255, "ANY"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].type == type) {
			text_add(t, "%s", names[i].name);
			return;
		}
	text_add(t, "TYPE%u", type);
}

/* --- replies ---------------------------------------------------------------------------- */

static bool entry_answers(const struct dns_entry *e, uint16_t qtype)
{
	return (qtype == TYPE_A && e->family == AF_INET) ||
	       (qtype == TYPE_AAAA && e->family == AF_INET6);
}

/* A header alone, for a query not understood well enough to echo its question. */
static int reply_error(const uint8_t *q, uint8_t *out, size_t *outlen, unsigned rcode)
{
	uint16_t flags = get16(q + 2);

	memset(out, 0, HDR_LEN);
	put16(out, get16(q));
	put16(out + 2,
	      (uint16_t)(F_QR | (OPCODE(flags) << 11) | (flags & (F_RD | F_CD)) | F_RA | rcode));
	*outlen = HDR_LEN;
	return 1;
}

int dns_answer(const uint8_t *q, size_t qlen, size_t maxlen, const struct dns_entry *table,
	       size_t n, uint8_t *out, size_t outcap, size_t *outlen, char *desc, size_t desclen)
{
	struct desc_buf t = {.s = desc, .cap = desc ? desclen : 0};
	struct query qy = {0};
	char qtext[WIRE_NAME_MAX];
	const char *why = NULL;
	unsigned rcode = RCODE_NXDOMAIN;
	size_t n_ans = 0, qtext_len = 0, rdlen, len, limit = maxlen;
	bool exists = false, tc = false;
	uint8_t *p;

	if (t.cap)
		t.s[0] = '\0';
	*outlen = 0;
	if (qlen < HDR_LEN) {
		text_add(&t, "dropped (%zu bytes: shorter than a header)", qlen);
		return 0;
	}
	qy.id = get16(q);
	qy.flags = get16(q + 2);
	if (qy.flags & F_QR) {
		text_add(&t, "dropped (a response)");
		return 0;
	}
	if (outcap < DNS_UDP_MAX) {
		text_add(&t, "dropped (no room for a reply)");
		return 0;
	}
	if (OPCODE(qy.flags) != 0) {
		text_add(&t, "NOTIMP (opcode %u)", OPCODE(qy.flags));
		return reply_error(q, out, outlen, RCODE_NOTIMP);
	}
	if (get16(q + 4) != 1) {
		text_add(&t, "FORMERR (%u questions)", get16(q + 4));
		return reply_error(q, out, outlen, RCODE_FORMERR);
	}
	if (parse_query(q, qlen, &qy, &why) < 0) {
		text_add(&t, "FORMERR (%s)", why);
		return reply_error(q, out, outlen, RCODE_FORMERR);
	}

	text_type(&t, qy.qtype);
	text_add(&t, " ");
	text_name(&t, qy.qd);
	text_add(&t, " -> ");
	rdlen = qy.qtype == TYPE_A ? 4 : 16;
	if (qy.edns_version > 0) {
		rcode = RCODE_BADVERS;
		text_add(&t, "BADVERS (EDNS version %u)", qy.edns_version);
	} else if (qy.qclass != CLASS_IN) {
		rcode = RCODE_REFUSED;
		text_add(&t, "REFUSED (class %u)", qy.qclass);
	} else if (qname_text(qy.qd, qtext)) {
		qtext_len = strlen(qtext);
		for (size_t i = 0; i < n; i++) {
			const char *name = table[i].name;
			bool below;

			if (!name_at_or_below(name, strnlen(name, sizeof(table[i].name)), qtext,
					      qtext_len, &below))
				continue;
			exists = true;
			if (!below && entry_answers(&table[i], qy.qtype))
				n_ans++;
		}
		if (exists)
			rcode = RCODE_NOERROR;
	}

	/* EDNS raises a UDP reply's limit to what the client can take, as far as we go. */
	if (qy.edns) {
		size_t edns = qy.edns_size < DNS_UDP_MAX ? DNS_UDP_MAX : qy.edns_size;

		if (edns > DNS_EDNS_MAX)
			edns = DNS_EDNS_MAX;
		if (edns > limit)
			limit = edns;
	}
	if (limit > outcap)
		limit = outcap;
	if (limit > DNS_MSG_MAX)
		limit = DNS_MSG_MAX;
	len = HDR_LEN + qy.name_len + 4 + (qy.edns ? OPT_LEN : 0);
	if (len > limit) { /* cannot happen with outcap >= 512: a question is at most 259 */
		text_add(&t, "dropped (no room for a reply)");
		return 0;
	}
	if (len + n_ans * (2 + RR_FIXED + rdlen) > limit) {
		tc = true;
		text_add(&t, "TC (%zu addresses do not fit %zu bytes)", n_ans, limit);
		n_ans = 0;
	}

	/* Header. AA and RA both: the stub is the last word on every name, and a NODATA reply
	 * with neither is taken for a lame referral by some resolvers (Go's among them). */
	p = put16(out, qy.id);
	p = put16(p, (uint16_t)(F_QR | F_AA | F_RA | (tc ? F_TC : 0) | (qy.flags & (F_RD | F_CD)) |
				(rcode & 0xf)));
	p = put16(p, 1);
	p = put16(p, (uint16_t)n_ans);
	p = put16(p, 0);
	p = put16(p, qy.edns ? 1 : 0);
	memcpy(p, qy.qd, qy.name_len + 4);
	p += qy.name_len + 4;

	/* n_ans is 0 unless qtext holds the question's name. */
	for (size_t i = 0, done = 0; i < n && done < n_ans; i++) {
		const struct dns_entry *e = &table[i];
		char a[INET6_ADDRSTRLEN];
		bool below;

		if (!name_at_or_below(e->name, strnlen(e->name, sizeof(e->name)), qtext, qtext_len,
				      &below) ||
		    below || !entry_answers(e, qy.qtype))
			continue;
		p = put16(p, NAME_PTR);
		p = put16(p, qy.qtype);
		p = put16(p, CLASS_IN);
		p = put32(p, DNS_TTL);
		p = put16(p, (uint16_t)rdlen);
		memcpy(p, &e->ip, rdlen);
		p += rdlen;
		text_add(&t, "%s%s", done ? ", " : "", inet_ntop(e->family, &e->ip, a, sizeof(a)));
		done++;
	}
	if (!tc && rcode == RCODE_NOERROR && !n_ans)
		text_add(&t, "NODATA");
	else if (rcode == RCODE_NXDOMAIN)
		text_add(&t, "NXDOMAIN");

	if (qy.edns) {
		*p++ = 0; /* the root */
		p = put16(p, TYPE_OPT);
		p = put16(p, DNS_EDNS_MAX);
		p = put32(p, (uint32_t)(rcode >> 4) << 24); /* extended rcode; version 0, no DO */
		p = put16(p, 0);
	}
	*outlen = (size_t)(p - out);
	return 1;
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
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Answer Q into d->out + 2 and log it at -v. Returns 1 with *OUTLEN set, or 0: no reply. */
static int answer(struct dns *d, const uint8_t *q, size_t qlen, size_t maxlen, size_t *outlen)
{
	char desc[DESC_MAX];
	int r = dns_answer(q, qlen, maxlen, d->table, d->n, d->out + 2, sizeof(d->out) - 2, outlen,
			   d->verbose ? desc : NULL, sizeof(desc));

	if (d->verbose)
		log_info("dns: %s", desc);
	return r;
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
	c->last_ms = now_ms();
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
		size_t qlen = get16(c->in + off);

		if (c->in_len - off < 2 + qlen)
			break;
		c->last_ms = now_ms();
		if (answer(d, c->in + off + 2, qlen, DNS_MSG_MAX, &len)) {
			put16(d->out, (uint16_t)len);
			r = conn_send(c, d->out, 2 + len);
		}
		off += 2 + qlen;
		if (r < 0)
			return r;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	if (c->in_len >= 2 && 2 + (size_t)get16(c->in) > c->in_cap) {
		size_t cap = 2 + (size_t)get16(c->in);
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

static void conn_start(struct dns *d, int fd)
{
	struct dns_conn *c = calloc(1, sizeof(*c));

	if (c)
		c->in = malloc(TCP_BUF);
	if (!c || !c->in || loop_add(d->loop, &c->src, fd, EPOLLIN, on_conn) < 0) {
		if (c)
			free(c->in);
		free(c);
		close(fd);
		return;
	}
	c->dns = d;
	c->fd = fd;
	c->in_cap = TCP_BUF;
	c->last_ms = now_ms();
	c->next = d->conns;
	if (c->next)
		c->next->prev = c;
	d->conns = c;
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
	uint64_t ticks, now = now_ms();
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
	struct dns *d;
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
		if (!d->table) {
			r = err_set(-ENOMEM, "dns");
			goto fail;
		}
		memcpy(d->table, table, n * sizeof(*table));
		d->n = n;
	}
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->timer_fd < 0) {
		r = err_set(negative_errno(), "dns: timerfd");
		goto fail;
	}
	r = loop_add(l, &d->timer, d->timer_fd, EPOLLIN, on_tick);
	if (r == 0 && udp_fd >= 0)
		r = loop_add(l, &d->udp, udp_fd, EPOLLIN, on_udp);
	if (r == 0 && tcp_fd >= 0)
		r = loop_add(l, &d->tcp, tcp_fd, EPOLLIN, on_accept);
	if (r < 0) {
		r = err_set(r, "dns: epoll");
		goto fail;
	}
	/* Ours from here on (the callbacks read them; no event is dispatched before we return). */
	d->udp_fd = udp_fd;
	d->tcp_fd = tcp_fd;
	*ret = d;
	return 0;
fail:
	dns_free(d);
	return r;
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
