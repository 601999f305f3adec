/* dns_wire.c: dns_answer(), the whole protocol of the cage's DNS stub: RFC 1035's wire
 * format parsed and built by hand (no resolver library reads untrusted bytes here), EDNS as
 * RFC 6891 has it. Pure: unit-tested and fuzzed; dns.c serves it. */
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
static int parse_qname(const uint8_t *m, size_t len, size_t *off)
{
	size_t o = *off;

	for (;;) {
		uint8_t l;

		if (o >= len)
			return err_invalid("truncated question");
		l = m[o];
		if ((l & 0xc0) == 0xc0)
			return err_invalid("compression pointer in the question");
		if (l & 0xc0) /* 0x40 and 0x80: extended and unassigned label types, or > 63 */
			return err_invalid("label longer than 63 bytes");
		if (o + 1 + l - *off > WIRE_NAME_MAX)
			return err_invalid("name longer than 255 bytes");
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
			 struct query *q)
{
	for (unsigned i = 0; i < count; i++) {
		size_t owner = *off;
		uint16_t type, rdlen;

		if (skip_name(m, len, off) < 0 || len - *off < RR_FIXED)
			return err_invalid("truncated record");
		type = get16(m + *off);
		rdlen = get16(m + *off + 8);
		if (len - *off - RR_FIXED < rdlen)
			return err_invalid("truncated record");
		if (type == TYPE_OPT) {
			/* RFC 6891 6.1.1: one, in the additional section, owned by the root. */
			if (!additional || q->edns || m[owner] != 0)
				return err_invalid("misplaced or repeated OPT record");
			q->edns = true;
			q->edns_size = get16(m + *off + 2);
			q->edns_version = (uint8_t)(get32(m + *off + 4) >> 16);
		}
		*off += RR_FIXED + rdlen;
	}
	return 0;
}

/* The query at M, refused with what is wrong recorded (err_message()) for the FORMERR line. */
static int parse_query(const uint8_t *m, size_t len, struct query *q)
{
	size_t off = HDR_LEN;
	int r;

	r = parse_qname(m, len, &off);
	if (r < 0)
		return r;
	if (len - off < 4)
		return err_invalid("truncated question");
	q->qd = m + HDR_LEN;
	q->name_len = off - HDR_LEN;
	q->qtype = get16(m + off);
	q->qclass = get16(m + off + 2);
	off += 4;
	/* Queries carry nothing in answer and authority; stepped over all the same. */
	r = parse_records(m, len, &off, get16(m + 6), false, q);
	if (r == 0)
		r = parse_records(m, len, &off, get16(m + 8), false, q);
	if (r == 0)
		r = parse_records(m, len, &off, get16(m + 10), true, q);
	if (r == 0 && off != len)
		r = err_invalid("trailing bytes");
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
	if (parse_query(q, qlen, &qy) < 0) {
		text_add(&t, "FORMERR (%s)", err_message(-EINVAL));
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

bool dns_refused_name(const uint8_t *q, size_t qlen, const uint8_t *reply, size_t rlen,
		      char *name, size_t len)
{
	struct query qy = {0};
	char text[WIRE_NAME_MAX];

	if (rlen < HDR_LEN || (reply[3] & 0xf) != RCODE_NXDOMAIN || qlen < HDR_LEN ||
	    get16(q + 4) != 1 || parse_query(q, qlen, &qy) < 0 || !qname_text(qy.qd, text))
		return false;
	snprintf(name, len, "%s", text);
	return true;
}
