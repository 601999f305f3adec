/* test_dns.c: the DNS stub. dns_answer() gets real query packets built here byte by byte
 * and its replies are parsed back field by field (no resolver library on either side). The
 * server runs on a loop in this process, in a private network namespace made at start, while
 * a forked child asks over real UDP and TCP sockets; every server test ends with as many fds
 * open as it began. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include "dns.h"
#include "log.h"
#include "loop.h"

#define T_A	1
#define T_NS	2
#define T_MX	15
#define T_TXT	16
#define T_AAAA	28
#define T_OPT	41
#define T_HTTPS 65
#define T_ANY	255
#define C_IN	1
#define C_CH	3

#define F_QR 0x8000
#define F_AA 0x0400
#define F_TC 0x0200
#define F_RD 0x0100
#define F_RA 0x0080
#define F_CD 0x0010

#define NOERROR	 0
#define FORMERR	 1
#define NXDOMAIN 3
#define NOTIMP	 4
#define REFUSED	 5

#define DESC_LEN 1024
#define MAX_ANS	 128

/* --- building queries ------------------------------------------------------------------- */

struct msg {
	uint8_t b[DNS_MSG_MAX];
	size_t len;
	size_t qd_len; /* the question's length (name, type, class), once put */
};

static void put8(struct msg *m, uint8_t v)
{
	assert_true(m->len < sizeof(m->b));
	m->b[m->len++] = v;
}

static void put16(struct msg *m, uint16_t v)
{
	put8(m, (uint8_t)(v >> 8));
	put8(m, (uint8_t)v);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

static void put_header(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
		       uint16_t ns, uint16_t ar)
{
	m->len = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

/* "a.b.c" as labels; "" or "." is the root. */
static void put_name(struct msg *m, const char *name)
{
	while (*name && !(name[0] == '.' && !name[1])) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		put8(m, (uint8_t)l);
		for (size_t i = 0; i < l; i++)
			put8(m, (uint8_t)name[i]);
		name += l + (dot ? 1 : 0);
	}
	put8(m, 0);
}

static void put_question(struct msg *m, const char *name, uint16_t type, uint16_t class)
{
	size_t start = m->len;

	put_name(m, name);
	put16(m, type);
	put16(m, class);
	m->qd_len = m->len - start;
}

/* An OPT record: root owner, payload size, extended rcode 0, VERSION, no flags, no options. */
static void put_opt(struct msg *m, uint16_t size, uint8_t version)
{
	put8(m, 0);
	put16(m, T_OPT);
	put16(m, size);
	put32(m, (uint32_t)version << 16);
	put16(m, 0);
}

/* An OPT record with a PADDING option (RFC 7830) of LEN zero bytes. */
static void put_opt_padded(struct msg *m, uint16_t len)
{
	put8(m, 0);
	put16(m, T_OPT);
	put16(m, 1232);
	put32(m, 0);
	put16(m, (uint16_t)(4 + len));
	put16(m, 12);
	put16(m, len);
	for (size_t i = 0; i < len; i++)
		put8(m, 0);
}

/* A stub resolver's query: RD set, one question in class IN, an OPT if EDNS_SIZE. */
static void build_query(struct msg *m, uint16_t id, const char *name, uint16_t type,
			uint16_t edns_size)
{
	put_header(m, id, F_RD, 1, 0, 0, edns_size ? 1 : 0);
	put_question(m, name, type, C_IN);
	if (edns_size)
		put_opt(m, edns_size, 0);
}

/* --- parsing replies -------------------------------------------------------------------- */

struct reply {
	uint16_t id, flags, qd, an, ns, ar;
	unsigned rcode;
	size_t n_ans;
	uint8_t ans[MAX_ANS][16]; /* each answer's rdata */
	size_t ans_len[MAX_ANS];
	bool opt;
	uint16_t opt_size;
	uint32_t opt_ttl;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* Parse R (LEN bytes), the reply to Q, checking everything the stub promises: the question
 * echoed byte for byte, answers that point at it, of its type, class IN, TTL 60, the right
 * rdata length, an OPT last if any, nothing after. */
static void parse_reply(const uint8_t *r, size_t len, const struct msg *q, struct reply *out)
{
	size_t off = 12;
	uint16_t qtype;

	memset(out, 0, sizeof(*out));
	assert_true(len >= 12);
	out->id = get16(r);
	out->flags = get16(r + 2);
	out->qd = get16(r + 4);
	out->an = get16(r + 6);
	out->ns = get16(r + 8);
	out->ar = get16(r + 10);
	out->rcode = out->flags & 0xf;
	assert_int_equal(out->id, get16(q->b));
	assert_true(out->flags & F_QR);
	assert_int_equal(out->ns, 0);
	if (out->qd == 0) {
		assert_int_equal(out->an, 0);
		assert_int_equal(out->ar, 0);
		assert_int_equal(len, 12);
		return;
	}
	assert_int_equal(out->qd, 1);
	assert_true(len >= off + q->qd_len);
	assert_memory_equal(r + off, q->b + 12, q->qd_len);
	qtype = get16(q->b + 12 + q->qd_len - 4);
	off += q->qd_len;
	assert_true(out->an <= MAX_ANS);
	for (size_t i = 0; i < out->an; i++) {
		uint16_t rdlen;

		assert_true(len >= off + 12);
		assert_int_equal(get16(r + off), 0xc00c);
		assert_int_equal(get16(r + off + 2), qtype);
		assert_int_equal(get16(r + off + 4), C_IN);
		assert_int_equal(get32(r + off + 6), 60);
		rdlen = get16(r + off + 10);
		assert_int_equal(rdlen, qtype == T_A ? 4 : 16);
		off += 12;
		assert_true(len >= off + rdlen);
		memcpy(out->ans[i], r + off, rdlen);
		out->ans_len[i] = rdlen;
		off += rdlen;
	}
	out->n_ans = out->an;
	assert_true(out->ar <= 1);
	if (out->ar) {
		assert_true(len >= off + 11);
		assert_int_equal(r[off], 0);
		assert_int_equal(get16(r + off + 1), T_OPT);
		out->opt = true;
		out->opt_size = get16(r + off + 3);
		out->opt_ttl = get32(r + off + 5);
		assert_int_equal(get16(r + off + 9), 0);
		off += 11;
	}
	assert_int_equal(off, len);
}

/* --- the table -------------------------------------------------------------------------- */

static struct dns_entry table[16];
static size_t n_table;

static void add_entry(struct dns_entry *t, size_t *n, const char *name, const char *addr)
{
	struct dns_entry *e = &t[(*n)++];

	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (inet_pton(AF_INET, addr, &e->ip.v4) == 1)
		e->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &e->ip.v6) == 1)
		e->family = AF_INET6;
	else
		fail_msg("bad address %s", addr);
}

static int table_setup(void **state)
{
	n_table = 0;
	add_entry(table, &n_table, "proxy.internal", "127.0.0.1");
	add_entry(table, &n_table, "multi.example", "10.0.0.1");
	add_entry(table, &n_table, "dual.example", "192.0.2.1");
	add_entry(table, &n_table, "multi.example", "10.0.0.2");
	add_entry(table, &n_table, "dual.example", "2001:db8::1");
	add_entry(table, &n_table, "v6only.example", "2001:db8::2");
	add_entry(table, &n_table, "multi.example", "10.0.0.3");
	add_entry(table, &n_table, "a.b.deep.example", "192.0.2.9");
	add_entry(table, &n_table, "under_score-1.example", "192.0.2.10");
	return 0;
}

static size_t last_len; /* of the last reply ask_table() got */

/* Answer Q from the table with a reply buffer of exactly its promised size, so ASan sees any
 * write past it. Returns dns_answer()'s value; R is parsed if there is a reply. */
static int ask_table(const struct msg *q, size_t maxlen, const struct dns_entry *t, size_t n,
		     struct reply *r, char *desc)
{
	uint8_t *out = malloc(DNS_MSG_MAX), *in = malloc(q->len ? q->len : 1);
	size_t len = 12345;
	int ret;

	assert_non_null(out);
	assert_non_null(in);
	memcpy(in, q->b, q->len); /* exactly the query's bytes: any read past it is caught */
	ret = dns_answer(in, q->len, maxlen, t, n, out, DNS_MSG_MAX, &len, desc, DESC_LEN);
	assert_true(ret == 0 || ret == 1);
	if (ret) {
		/* maxlen, or more with EDNS (never beyond DNS_EDNS_MAX then) */
		assert_true(len >= 12 && len <= (maxlen > DNS_EDNS_MAX ? maxlen : DNS_EDNS_MAX));
		parse_reply(out, len, q, r);
		last_len = len;
	}
	if (desc) {
		assert_non_null(memchr(desc, '\0', DESC_LEN));
		assert_null(strchr(desc, '\n'));
	}
	free(in);
	free(out);
	return ret;
}

static int ask(const struct msg *q, size_t maxlen, struct reply *r, char *desc)
{
	return ask_table(q, maxlen, table, n_table, r, desc);
}

static void assert_v4(const struct reply *r, size_t i, const char *addr)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, addr, &a), 1);
	assert_int_equal(r->ans_len[i], 4);
	assert_memory_equal(r->ans[i], &a, 4);
}

static void assert_v6(const struct reply *r, size_t i, const char *addr)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, addr, &a), 1);
	assert_int_equal(r->ans_len[i], 16);
	assert_memory_equal(r->ans[i], &a, 16);
}

/* A NOERROR or NXDOMAIN reply to Q with no answer. */
static void assert_empty(const char *name, uint16_t type, unsigned rcode)
{
	struct msg q;
	struct reply r;

	build_query(&q, 7, name, type, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.rcode, rcode);
	assert_int_equal(r.qd, 1);
	assert_int_equal(r.an, 0);
}

/* --- dns_answer ------------------------------------------------------------------------- */

static void a_query_for_listed_name_gets_its_address(void **state)
{
	struct msg q;
	struct reply r;
	char desc[DESC_LEN];

	build_query(&q, 0xbeef, "proxy.internal", T_A, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_int_equal(r.id, 0xbeef);
	assert_int_equal(r.flags, F_QR | F_AA | F_RD | F_RA | NOERROR);
	assert_int_equal(r.qd, 1);
	assert_int_equal(r.an, 1);
	assert_int_equal(r.ar, 0);
	assert_v4(&r, 0, "127.0.0.1");
	assert_string_equal(desc, "A proxy.internal -> 127.0.0.1");
}

static void aaaa_and_a_each_get_only_their_family(void **state)
{
	struct msg q;
	struct reply r;
	char desc[DESC_LEN];

	build_query(&q, 1, "dual.example", T_AAAA, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_int_equal(r.rcode, NOERROR);
	assert_int_equal(r.an, 1);
	assert_v6(&r, 0, "2001:db8::1");
	assert_string_equal(desc, "AAAA dual.example -> 2001:db8::1");

	build_query(&q, 2, "dual.example", T_A, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.an, 1);
	assert_v4(&r, 0, "192.0.2.1");

	build_query(&q, 3, "v6only.example", T_AAAA, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.an, 1);
	assert_v6(&r, 0, "2001:db8::2");
}

static void every_address_of_a_name_is_answered_in_table_order(void **state)
{
	struct msg q;
	struct reply r;
	char desc[DESC_LEN];

	build_query(&q, 9, "multi.example", T_A, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_int_equal(r.an, 3);
	assert_v4(&r, 0, "10.0.0.1");
	assert_v4(&r, 1, "10.0.0.2");
	assert_v4(&r, 2, "10.0.0.3");
	assert_string_equal(desc, "A multi.example -> 10.0.0.1, 10.0.0.2, 10.0.0.3");
}

static void names_match_in_any_case_and_the_question_is_echoed_as_asked(void **state)
{
	const char *names[] = {"PROXY.INTERNAL", "pRoXy.iNtErNaL", "Proxy.Internal.",
			       "Under_Score-1.Example"};
	struct msg q;
	struct reply r;
	char desc[DESC_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		build_query(&q, (uint16_t)i, names[i], T_A, 0);
		/* parse_reply() compares the echoed question byte for byte, case included. */
		assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
		assert_int_equal(r.rcode, NOERROR);
		assert_int_equal(r.an, 1);
	}
	build_query(&q, 1, "pRoXy.iNtErNaL", T_A, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_string_equal(desc, "A pRoXy.iNtErNaL -> 127.0.0.1");
}

static void unlisted_name_is_nxdomain(void **state)
{
	char desc[DESC_LEN];
	struct msg q;
	struct reply r;

	assert_empty("example.com", T_A, NXDOMAIN);
	assert_empty("example.com", T_AAAA, NXDOMAIN);
	assert_empty("example.com", T_MX, NXDOMAIN);
	assert_empty("roxy.internal", T_A, NXDOMAIN);	/* a suffix of a listed name */
	assert_empty("xproxy.internal", T_A, NXDOMAIN); /* ends with one */
	assert_empty("proxy.internal.evil", T_A, NXDOMAIN);
	assert_empty("proxy", T_A, NXDOMAIN);
	assert_empty("proxy-internal", T_A, NXDOMAIN);

	build_query(&q, 1, "example.com", T_AAAA, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_int_equal(r.flags, F_QR | F_AA | F_RD | F_RA | NXDOMAIN);
	assert_string_equal(desc, "AAAA example.com -> NXDOMAIN");
}

static void subdomain_of_listed_name_is_nxdomain(void **state)
{
	assert_empty("www.proxy.internal", T_A, NXDOMAIN);
	assert_empty("a.multi.example", T_A, NXDOMAIN);
	assert_empty("x.a.b.deep.example", T_AAAA, NXDOMAIN);
}

/* NXDOMAIN for a name above a listed one would say the listed one does not exist either
 * (RFC 8020): such names are NODATA. */
static void parent_of_listed_name_is_nodata(void **state)
{
	assert_empty("internal", T_A, NOERROR);
	assert_empty("b.deep.example", T_A, NOERROR);
	assert_empty("DEEP.example", T_A, NOERROR);
	assert_empty("example", T_NS, NOERROR);
	assert_empty(".", T_NS, NOERROR);
	assert_empty("eep.example", T_A, NXDOMAIN);
}

static void listed_name_asked_for_another_type_is_nodata(void **state)
{
	const uint16_t types[] = {T_MX, T_TXT, T_ANY, T_HTTPS, T_NS, 0, 0xffff};
	char desc[DESC_LEN];
	struct msg q;
	struct reply r;

	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		assert_empty("proxy.internal", types[i], NOERROR);
	assert_empty("proxy.internal", T_AAAA, NOERROR); /* v4 only */
	assert_empty("v6only.example", T_A, NOERROR);

	build_query(&q, 1, "proxy.internal", T_MX, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_int_equal(r.flags, F_QR | F_AA | F_RD | F_RA | NOERROR);
	assert_string_equal(desc, "MX proxy.internal -> NODATA");
	build_query(&q, 1, "proxy.internal", 99, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_string_equal(desc, "TYPE99 proxy.internal -> NODATA");
}

static void reply_echoes_id_rd_and_cd_only(void **state)
{
	struct msg q;
	struct reply r;

	put_header(&q, 0x1234, 0, 1, 0, 0, 0);
	put_question(&q, "proxy.internal", T_A, C_IN);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.flags, F_QR | F_AA | F_RA);

	/* AA, TC, RA, AD and Z in a query mean nothing; CD is copied (RFC 4035 3.2.2). */
	put_header(&q, 0x4321, F_RD | F_CD | F_AA | F_TC | F_RA | 0x0060, 1, 0, 0, 0);
	put_question(&q, "proxy.internal", T_A, C_IN);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.id, 0x4321);
	assert_int_equal(r.flags, F_QR | F_AA | F_RD | F_RA | F_CD);
	assert_int_equal(r.an, 1);
}

static void response_is_dropped(void **state)
{
	char desc[DESC_LEN];
	struct msg q;
	struct reply r;

	put_header(&q, 1, F_QR | F_RD | F_RA, 1, 1, 0, 0);
	put_question(&q, "proxy.internal", T_A, C_IN);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 0);
	assert_string_equal(desc, "dropped (a response)");
	/* Even a malformed one, and even a header alone. */
	put_header(&q, 1, F_QR | (4 << 11), 0, 0, 0, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 0);
}

static void question_count_other_than_one_is_formerr(void **state)
{
	char desc[DESC_LEN];
	struct msg q;
	struct reply r;

	put_header(&q, 0xaaaa, F_RD, 0, 0, 0, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_int_equal(r.id, 0xaaaa);
	assert_int_equal(r.flags, F_QR | F_RD | F_RA | FORMERR);
	assert_int_equal(r.qd, 0);
	assert_string_equal(desc, "FORMERR (0 questions)");

	put_header(&q, 0xbbbb, F_RD, 2, 0, 0, 0);
	put_question(&q, "proxy.internal", T_A, C_IN);
	put_question(&q, "multi.example", T_A, C_IN);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.rcode, FORMERR);
	assert_int_equal(r.qd, 0);
}

static void opcode_other_than_query_is_notimp(void **state)
{
	char desc[DESC_LEN];
	struct msg q;
	struct reply r;

	for (uint16_t op = 1; op < 16; op++) {
		put_header(&q, op, (uint16_t)(op << 11 | F_RD), 1, 0, 0, 0);
		put_question(&q, "proxy.internal", T_A, C_IN);
		assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
		assert_int_equal(r.flags, F_QR | op << 11 | F_RD | F_RA | NOTIMP);
		assert_int_equal(r.qd, 0);
	}
	assert_string_equal(desc, "NOTIMP (opcode 15)");
}

/* Cut a valid query (with an OPT) at every length: nothing reads past the end, a partial
 * header is dropped, anything longer is FORMERR with its id. */
static void every_truncation_is_dropped_or_formerr(void **state)
{
	struct msg q, cut;
	struct reply r;

	build_query(&q, 0x5150, "Proxy.Internal", T_A, 1232);
	for (size_t len = 0; len < q.len; len++) {
		cut = q;
		cut.len = len;
		if (len < 12) {
			assert_int_equal(ask(&cut, DNS_UDP_MAX, &r, NULL), 0);
			continue;
		}
		assert_int_equal(ask(&cut, DNS_UDP_MAX, &r, NULL), 1);
		assert_int_equal(r.id, 0x5150);
		assert_int_equal(r.rcode, FORMERR);
	}
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.rcode, NOERROR);
	assert_int_equal(r.an, 1);
}

static void trailing_bytes_are_formerr(void **state)
{
	char desc[DESC_LEN];
	struct msg q;
	struct reply r;

	build_query(&q, 3, "proxy.internal", T_A, 0);
	put8(&q, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_int_equal(r.rcode, FORMERR);
	assert_string_equal(desc, "FORMERR (trailing bytes)");
}

static void compression_pointer_in_question_is_formerr(void **state)
{
	char desc[DESC_LEN];
	struct msg q;
	struct reply r;

	/* To itself, and after a label (back at the header, then forward past the end). */
	const uint8_t names[][8] = {
	    {0xc0, 0x0c},
	    {3, 'w', 'w', 'w', 0xc0, 0x0c},
	    {3, 'w', 'w', 'w', 0xc0, 0x00},
	    {3, 'w', 'w', 'w', 0xff, 0xff},
	};
	const size_t lens[] = {2, 6, 6, 6};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		put_header(&q, 1, F_RD, 1, 0, 0, 0);
		for (size_t j = 0; j < lens[i]; j++)
			put8(&q, names[i][j]);
		put16(&q, T_A);
		put16(&q, C_IN);
		assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
		assert_int_equal(r.rcode, FORMERR);
		assert_string_equal(desc, "FORMERR (compression pointer in the question)");
	}
}

static void label_over_63_bytes_is_formerr(void **state)
{
	char desc[DESC_LEN], name[80];
	struct msg q;
	struct reply r;

	/* 63 is the most a label holds: fine (and unlisted). */
	memset(name, 'a', 63);
	name[63] = '\0';
	assert_empty(name, T_A, NXDOMAIN);

	/* 64..191 have a label type of 01 or 10 in their top bits. */
	for (unsigned l = 64; l < 192; l += 63) {
		put_header(&q, 1, F_RD, 1, 0, 0, 0);
		put8(&q, (uint8_t)l);
		for (unsigned i = 0; i < l; i++)
			put8(&q, 'a');
		put8(&q, 0);
		put16(&q, T_A);
		put16(&q, C_IN);
		assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
		assert_int_equal(r.rcode, FORMERR);
		assert_string_equal(desc, "FORMERR (label longer than 63 bytes)");
	}
}

static void name_over_255_bytes_is_formerr(void **state)
{
	char name[300], desc[DESC_LEN];
	struct msg q;
	struct reply r;

	/* 63+1 bytes a label, 3 of them, a 61-byte label and the root: 255 on the wire. */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	build_query(&q, 1, name, T_A, 0);
	assert_int_equal(q.qd_len, 255 + 4);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.rcode, NXDOMAIN);

	name[253] = 'a';
	name[254] = '\0';
	build_query(&q, 1, name, T_A, 0);
	assert_int_equal(q.qd_len, 256 + 4);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_int_equal(r.rcode, FORMERR);
	assert_string_equal(desc, "FORMERR (name longer than 255 bytes)");
}

static void odd_bytes_in_a_label_match_nothing_and_are_escaped(void **state)
{
	char desc[DESC_LEN];
	struct msg q;
	struct reply r;

	/* One label "proxy.internal" (a dot inside it) is not the name proxy.internal. */
	put_header(&q, 1, F_RD, 1, 0, 0, 0);
	put8(&q, 14);
	for (const char *s = "proxy.internal"; *s; s++)
		put8(&q, (uint8_t)*s);
	put8(&q, 0);
	put16(&q, T_A);
	put16(&q, C_IN);
	q.qd_len = 20;
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_int_equal(r.rcode, NXDOMAIN);
	assert_string_equal(desc, "A proxy\\046internal -> NXDOMAIN");

	put_header(&q, 1, F_RD, 1, 0, 0, 0);
	put8(&q, 3);
	put8(&q, 'a');
	put8(&q, 0);
	put8(&q, '\n');
	put8(&q, 0);
	put16(&q, T_A);
	put16(&q, C_IN);
	q.qd_len = 9;
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_int_equal(r.rcode, NXDOMAIN);
	assert_string_equal(desc, "A a\\000\\010 -> NXDOMAIN");
}

static void class_other_than_in_is_refused(void **state)
{
	char desc[DESC_LEN];
	struct msg q;
	struct reply r;

	put_header(&q, 1, F_RD, 1, 0, 0, 0);
	put_question(&q, "proxy.internal", T_A, C_CH);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_int_equal(r.rcode, REFUSED);
	assert_int_equal(r.an, 0);
	assert_string_equal(desc, "A proxy.internal -> REFUSED (class 3)");
}

static void edns_opt_is_accepted_and_answered_with_one(void **state)
{
	char desc[DESC_LEN];
	struct msg q;
	struct reply r;

	build_query(&q, 1, "proxy.internal", T_A, 4096);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, desc), 1);
	assert_int_equal(r.rcode, NOERROR);
	assert_int_equal(r.an, 1);
	assert_v4(&r, 0, "127.0.0.1");
	assert_true(r.opt);
	assert_int_equal(r.opt_size, DNS_EDNS_MAX);
	assert_int_equal(r.opt_ttl, 0);
	assert_string_equal(desc, "A proxy.internal -> 127.0.0.1");

	/* With an option in it (a cookie, as dig sends), and the DO bit. */
	put_header(&q, 2, F_RD, 1, 0, 0, 1);
	put_question(&q, "example.com", T_A, C_IN);
	put8(&q, 0);
	put16(&q, T_OPT);
	put16(&q, 1232);
	put32(&q, 0x8000);
	put16(&q, 12);
	put16(&q, 10); /* COOKIE */
	put16(&q, 8);
	put32(&q, 0x01020304);
	put32(&q, 0x05060708);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.rcode, NXDOMAIN);
	assert_true(r.opt);
}

static void edns_version_above_zero_is_badvers(void **state)
{
	struct msg q;
	struct reply r;

	put_header(&q, 1, F_RD, 1, 0, 0, 1);
	put_question(&q, "proxy.internal", T_A, C_IN);
	put_opt(&q, 1232, 1);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.rcode, 0); /* BADVERS is 16: its low bits are 0 ... */
	assert_int_equal(r.an, 0);
	assert_true(r.opt);
	assert_int_equal(r.opt_ttl >> 24, 1); /* ... and its high bits 1, in the OPT */
	assert_int_equal((r.opt_ttl >> 16) & 0xff, 0);
}

static void misplaced_or_repeated_opt_is_formerr(void **state)
{
	struct msg q;
	struct reply r;

	/* Two OPTs. */
	put_header(&q, 1, F_RD, 1, 0, 0, 2);
	put_question(&q, "proxy.internal", T_A, C_IN);
	put_opt(&q, 1232, 0);
	put_opt(&q, 1232, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.rcode, FORMERR);

	/* In the authority section. */
	put_header(&q, 1, F_RD, 1, 0, 1, 0);
	put_question(&q, "proxy.internal", T_A, C_IN);
	put_opt(&q, 1232, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.rcode, FORMERR);

	/* Owned by a name other than the root. */
	put_header(&q, 1, F_RD, 1, 0, 0, 1);
	put_question(&q, "proxy.internal", T_A, C_IN);
	put8(&q, 1);
	put8(&q, 'x');
	put_opt(&q, 1232, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.rcode, FORMERR);
}

static void other_records_in_a_query_are_stepped_over(void **state)
{
	struct msg q;
	struct reply r;

	/* An answer (compressed owner), then a TSIG-like record and an OPT in additional. */
	put_header(&q, 1, F_RD, 1, 1, 0, 2);
	put_question(&q, "proxy.internal", T_A, C_IN);
	put16(&q, 0xc00c);
	put16(&q, T_A);
	put16(&q, C_IN);
	put32(&q, 60);
	put16(&q, 4);
	put32(&q, 0x7f000001);
	put_name(&q, "key.example");
	put16(&q, 250);
	put16(&q, 255);
	put32(&q, 0);
	put16(&q, 0);
	put_opt(&q, 512, 0);
	assert_int_equal(ask(&q, DNS_UDP_MAX, &r, NULL), 1);
	assert_int_equal(r.rcode, NOERROR);
	assert_int_equal(r.an, 1);
	assert_true(r.opt);
}

/* All "many.example" (12 + 18 bytes of header and question, 16 an A answer): 30 answers fill
 * 510 bytes, 31 would take 526. */
static void udp_reply_over_512_bytes_is_truncated(void **state)
{
	struct dns_entry many[80];
	char desc[DESC_LEN], addr[32];
	struct msg q;
	struct reply r;
	size_t n = 0;

	for (int i = 0; i < 80; i++) {
		snprintf(addr, sizeof(addr), "10.1.0.%d", i + 1);
		add_entry(many, &n, "many.example", addr);
	}
	build_query(&q, 1, "many.example", T_A, 0);
	assert_int_equal(ask_table(&q, DNS_UDP_MAX, many, 30, &r, NULL), 1);
	assert_false(r.flags & F_TC);
	assert_int_equal(r.an, 30);
	assert_int_equal(last_len, 510);

	assert_int_equal(ask_table(&q, DNS_UDP_MAX, many, 31, &r, desc), 1);
	assert_int_equal(r.flags, F_QR | F_AA | F_TC | F_RD | F_RA | NOERROR);
	assert_int_equal(r.qd, 1);
	assert_int_equal(r.an, 0);
	assert_string_equal(desc, "A many.example -> TC (31 addresses do not fit 512 bytes)");

	/* Over TCP, all of them. */
	assert_int_equal(ask_table(&q, DNS_MSG_MAX, many, 80, &r, NULL), 1);
	assert_false(r.flags & F_TC);
	assert_int_equal(r.an, 80);
	assert_v4(&r, 79, "10.1.0.80");

	/* EDNS raises the limit to what both sides take: 1232 bytes hold 74 answers and the
	 * OPT (30 + 74 * 16 + 11 = 1225), not 75 ... */
	build_query(&q, 1, "many.example", T_A, 4096);
	assert_int_equal(ask_table(&q, DNS_UDP_MAX, many, 74, &r, NULL), 1);
	assert_false(r.flags & F_TC);
	assert_int_equal(r.an, 74);
	assert_true(r.opt);
	assert_int_equal(last_len, 1225);
	assert_int_equal(ask_table(&q, DNS_UDP_MAX, many, 75, &r, NULL), 1);
	assert_true(r.flags & F_TC);
	assert_int_equal(r.an, 0);
	/* ... but not less than 512, and never past what the client said. */
	build_query(&q, 1, "many.example", T_A, 100);
	assert_int_equal(ask_table(&q, DNS_UDP_MAX, many, 80, &r, NULL), 1);
	assert_true(r.flags & F_TC);
	assert_true(r.opt);
	build_query(&q, 1, "many.example", T_A, 700);
	assert_int_equal(ask_table(&q, DNS_UDP_MAX, many, 80, &r, NULL), 1);
	assert_true(r.flags & F_TC);
	assert_int_equal(ask_table(&q, DNS_UDP_MAX, many, 40, &r, NULL), 1);
	assert_false(r.flags & F_TC);
	assert_int_equal(r.an, 40);
	assert_true(last_len > DNS_UDP_MAX && last_len <= 700);
}

static void empty_table_answers_nxdomain_for_everything(void **state)
{
	struct msg q;
	struct reply r;

	build_query(&q, 1, "proxy.internal", T_A, 0);
	assert_int_equal(ask_table(&q, DNS_UDP_MAX, NULL, 0, &r, NULL), 1);
	assert_int_equal(r.rcode, NXDOMAIN);
	build_query(&q, 1, ".", T_NS, 0);
	assert_int_equal(ask_table(&q, DNS_UDP_MAX, NULL, 0, &r, NULL), 1);
	assert_int_equal(r.rcode, NXDOMAIN);
}

static void short_message_and_small_buffer_are_dropped(void **state)
{
	uint8_t out[DNS_UDP_MAX];
	char desc[DESC_LEN];
	struct msg q;
	size_t len;

	build_query(&q, 1, "proxy.internal", T_A, 0);
	assert_int_equal(dns_answer(q.b, 11, DNS_UDP_MAX, table, n_table, out, sizeof(out), &len,
				    desc, sizeof(desc)),
			 0);
	assert_string_equal(desc, "dropped (11 bytes: shorter than a header)");
	assert_int_equal(
	    dns_answer(q.b, q.len, DNS_UDP_MAX, table, n_table, out, 511, &len, NULL, 0), 0);
	/* A tiny DESC is cut, not overrun. */
	assert_int_equal(
	    dns_answer(q.b, q.len, DNS_UDP_MAX, table, n_table, out, sizeof(out), &len, desc, 6),
	    1);
	assert_string_equal(desc, "A pro");
}

/* --- the server, over real sockets -------------------------------------------------------- */

#define PORT 53

struct world {
	struct loop *l;
	struct dns *dns;
	int fds_before;
};

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

static struct sockaddr_in stub_addr(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT)};

	inet_pton(AF_INET, DNS_STUB_ADDR, &sa.sin_addr);
	return sa;
}

static int stub_socket(int type)
{
	struct sockaddr_in sa = stub_addr();
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 128), 0);
	return fd;
}

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
	return 0;
}

/* A loop and a stub on 127.0.0.1:53. SNDBUF (if not 0) goes on the listener, which accepted
 * connections inherit: replies then back up in the stub rather than in the kernel. */
static int world_new(void **state, int sndbuf)
{
	struct world *w = calloc(1, sizeof(*w));
	int udp, tcp;

	assert_non_null(w);
	table_setup(NULL);
	w->fds_before = count_fds();
	assert_int_equal(loop_new(&w->l), 0);
	udp = stub_socket(SOCK_DGRAM);
	tcp = stub_socket(SOCK_STREAM);
	if (sndbuf)
		assert_int_equal(setsockopt(tcp, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)),
				 0);
	assert_int_equal(
	    dns_new(w->l, udp, tcp, table, n_table, !!getenv("SLUICE_TEST_DEBUG"), &w->dns), 0);
	*state = w;
	return 0;
}

static int server_setup(void **state)
{
	return world_new(state, 0);
}

static int server_setup_tight(void **state)
{
	return world_new(state, 4096);
}

static int server_teardown(void **state)
{
	struct world *w = *state;

	dns_free(w->dns);
	loop_free(w->l);
	assert_int_equal(count_fds(), w->fds_before);
	free(w);
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the stub's loop until CHILD exits (at most LIMIT_MS); it must exit 0. */
static void serve_until_exit(struct world *w, pid_t child, int limit_ms)
{
	int64_t end = mono_ms() + limit_ms;
	int status;

	for (;;) {
		pid_t p = waitpid(child, &status, WNOHANG);

		assert_true(p >= 0);
		if (p == child)
			break;
		if (mono_ms() > end) {
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
			fail_msg("the client did not finish in %d ms", limit_ms);
		}
		assert_true(loop_run_once(w->l, 20) >= 0);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* In the child: no cmocka (its jumps belong to the parent); a failed check exits 1. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "child: %s:%d: %s (%m)\n", __FILE__, __LINE__, #cond);     \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

/* Wait up to MS for EVENTS on FD; true if they came. */
static bool wait_fd(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};

	return poll(&p, 1, ms) == 1;
}

static int tcp_connect(void)
{
	struct sockaddr_in sa = stub_addr();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

static void send_all(int fd, const uint8_t *b, size_t len)
{
	while (len) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		CHECK(n > 0);
		b += n;
		len -= (size_t)n;
	}
}

/* Read exactly LEN bytes within 3 s; false on EOF or timeout. */
static bool recv_all(int fd, uint8_t *b, size_t len)
{
	while (len) {
		ssize_t n;

		if (!wait_fd(fd, POLLIN, 3000))
			return false;
		n = recv(fd, b, len, 0);
		if (n <= 0)
			return false;
		b += n;
		len -= (size_t)n;
	}
	return true;
}

/* Q with TCP's length prefix, appended to BUF at *LEN. */
static void tcp_frame(uint8_t *buf, size_t *len, const struct msg *q)
{
	buf[(*len)++] = (uint8_t)(q->len >> 8);
	buf[(*len)++] = (uint8_t)q->len;
	memcpy(buf + *len, q->b, q->len);
	*len += q->len;
}

/* One framed reply from FD: its id, rcode, answer count, and the first A answer's address. */
struct quick {
	uint16_t id, flags, an;
	uint32_t first_v4;
	size_t len;
};

static bool parse_quick(const uint8_t *b, size_t len, struct quick *r)
{
	size_t off = 12;

	memset(r, 0, sizeof(*r));
	if (len < 12)
		return false;
	r->id = get16(b);
	r->flags = get16(b + 2);
	r->an = get16(b + 6);
	r->len = len;
	if (!get16(b + 4))
		return true;
	while (off < len && b[off]) /* our own question: plain labels */
		off += 1u + b[off];
	off += 5;
	if (r->an && off + 16 <= len && get16(b + off + 2) == T_A)
		r->first_v4 = get32(b + off + 12);
	return true;
}

static bool tcp_reply(int fd, struct quick *r)
{
	uint8_t b[DNS_MSG_MAX];
	uint8_t hdr[2];

	if (!recv_all(fd, hdr, 2) || !recv_all(fd, b, get16(hdr)))
		return false;
	return parse_quick(b, get16(hdr), r);
}

static void child_udp_and_pipelined_tcp(void)
{
	static uint8_t big[2 * (2 + DNS_MSG_MAX)];
	static struct msg q1, q2, q3;
	struct sockaddr_in sa = stub_addr();
	uint8_t buf[4 * DNS_UDP_MAX];
	size_t big_len;
	struct quick r;
	size_t len = 0;
	ssize_t n;
	int fd;

	/* UDP: an answer, an NXDOMAIN, a FORMERR, and silence for a response. */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	build_query(&q1, 0x1111, "proxy.internal", T_A, 0);
	CHECK(send(fd, q1.b, q1.len, 0) == (ssize_t)q1.len);
	CHECK(wait_fd(fd, POLLIN, 3000));
	n = recv(fd, buf, sizeof(buf), 0);
	CHECK(n > 0 && parse_quick(buf, (size_t)n, &r));
	CHECK(r.id == 0x1111 && (r.flags & 0xf) == NOERROR && r.an == 1);
	CHECK(r.first_v4 == 0x7f000001);

	build_query(&q1, 0x2222, "example.com", T_A, 0);
	CHECK(send(fd, q1.b, q1.len, 0) == (ssize_t)q1.len);
	CHECK(wait_fd(fd, POLLIN, 3000));
	n = recv(fd, buf, sizeof(buf), 0);
	CHECK(n > 0 && parse_quick(buf, (size_t)n, &r));
	CHECK(r.id == 0x2222 && (r.flags & 0xf) == NXDOMAIN && r.an == 0);

	put_header(&q1, 0x3333, F_QR, 1, 0, 0, 0); /* a response: no reply */
	put_question(&q1, "proxy.internal", T_A, C_IN);
	CHECK(send(fd, q1.b, q1.len, 0) == (ssize_t)q1.len);
	q1.len = 14; /* a cut question */
	q1.b[2] = 0;
	CHECK(send(fd, q1.b, q1.len, 0) == (ssize_t)q1.len);
	CHECK(wait_fd(fd, POLLIN, 3000));
	n = recv(fd, buf, sizeof(buf), 0);
	CHECK(n == 12 && parse_quick(buf, (size_t)n, &r));
	CHECK(r.id == 0x3333 && (r.flags & 0xf) == FORMERR);
	close(fd);

	/* TCP: two queries in one write, answered in order on the same connection. */
	fd = tcp_connect();
	build_query(&q1, 0xa001, "multi.example", T_A, 0);
	build_query(&q2, 0xa002, "dual.example", T_AAAA, 1232);
	tcp_frame(buf, &len, &q1);
	tcp_frame(buf, &len, &q2);
	send_all(fd, buf, len);
	CHECK(tcp_reply(fd, &r));
	CHECK(r.id == 0xa001 && (r.flags & 0xf) == NOERROR && r.an == 3);
	CHECK(r.first_v4 == 0x0a000001);
	CHECK(tcp_reply(fd, &r));
	CHECK(r.id == 0xa002 && (r.flags & 0xf) == NOERROR && r.an == 1);

	/* Then one sent a byte at a time, and one with a zero length (dropped, no reply). */
	build_query(&q3, 0xa003, "PROXY.internal", T_A, 0);
	len = 0;
	tcp_frame(buf, &len, &q3);
	for (size_t i = 0; i < len; i++) {
		send_all(fd, buf + i, 1);
		usleep(1000);
	}
	CHECK(tcp_reply(fd, &r));
	CHECK(r.id == 0xa003 && r.an == 1 && r.first_v4 == 0x7f000001);
	len = 0;
	buf[len++] = 0;
	buf[len++] = 0;
	build_query(&q3, 0xa004, "nope.example", T_A, 0);
	tcp_frame(buf, &len, &q3);
	send_all(fd, buf, len);
	CHECK(tcp_reply(fd, &r));
	CHECK(r.id == 0xa004 && (r.flags & 0xf) == NXDOMAIN);

	/* One far larger than the stub's first buffer (60 kB of padding), then a small one. */
	put_header(&q3, 0xa00a, F_RD, 1, 0, 0, 1);
	put_question(&q3, "proxy.internal", T_A, C_IN);
	put_opt_padded(&q3, 60000);
	big_len = 0;
	tcp_frame(big, &big_len, &q3);
	build_query(&q3, 0xa00b, "v6only.example", T_AAAA, 0);
	tcp_frame(big, &big_len, &q3);
	send_all(fd, big, big_len);
	CHECK(tcp_reply(fd, &r));
	CHECK(r.id == 0xa00a && r.an == 1 && r.first_v4 == 0x7f000001);
	CHECK(tcp_reply(fd, &r));
	CHECK(r.id == 0xa00b && r.an == 1);

	/* A query and our half-close: the reply still comes, then the stub's EOF. */
	len = 0;
	build_query(&q3, 0xa005, "proxy.internal", T_A, 0);
	tcp_frame(buf, &len, &q3);
	send_all(fd, buf, len);
	CHECK(shutdown(fd, SHUT_WR) == 0);
	CHECK(tcp_reply(fd, &r));
	CHECK(r.id == 0xa005 && r.an == 1);
	CHECK(wait_fd(fd, POLLIN, 3000) && recv(fd, buf, 1, 0) == 0);
	close(fd);
	_exit(0);
}

static void serves_udp_and_pipelined_tcp_queries(void **state)
{
	struct world *w = *state;
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0)
		child_udp_and_pipelined_tcp();
	serve_until_exit(w, child, 20000);
}

/* A client that writes many queries and reads late (a small receive buffer): the stub holds
 * back, never drops or reorders a reply. */
static void child_slow_reader(void)
{
	enum { N = 20000 };
	static uint8_t out[N * 40];
	size_t out_len = 0, sent = 0, got = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), small = 2048;
	struct sockaddr_in sa = stub_addr();

	CHECK(fd >= 0);
	CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	for (int i = 0; i < N; i++) {
		struct msg q;

		build_query(&q, (uint16_t)i, i % 2 ? "multi.example" : "nope.example", T_A, 0);
		tcp_frame(out, &out_len, &q);
	}
	/* Write everything first (the stub stops reading once its replies back up) ... */
	while (sent < out_len) {
		ssize_t n;

		if (!wait_fd(fd, POLLOUT, 500))
			break;
		n = send(fd, out + sent, out_len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		CHECK(n > 0);
		sent += (size_t)n;
	}
	usleep(200 * 1000);
	/* ... then read, writing the rest as room comes. */
	while (got < N) {
		struct quick r;

		if (sent < out_len && wait_fd(fd, POLLOUT, 0)) {
			ssize_t n =
			    send(fd, out + sent, out_len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);

			CHECK(n > 0);
			sent += (size_t)n;
		}
		CHECK(tcp_reply(fd, &r));
		CHECK(r.id == got);
		CHECK(r.an == (got % 2 ? 3 : 0));
		got++;
	}
	close(fd);
	_exit(0);
}

static void slow_reader_gets_every_reply_in_order(void **state)
{
	struct world *w = *state;
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0)
		child_slow_reader();
	serve_until_exit(w, child, 30000);
}

/* DNS_TCP_CONN_MAX connections are served; the next waits until one of them ends. */
static void child_connection_cap(void)
{
	int fds[DNS_TCP_CONN_MAX + 1];
	uint8_t buf[DNS_UDP_MAX];
	struct quick r;
	struct msg q;
	size_t len;

	for (int i = 0; i <= DNS_TCP_CONN_MAX; i++) {
		fds[i] = tcp_connect();
		build_query(&q, (uint16_t)i, "proxy.internal", T_A, 0);
		len = 0;
		tcp_frame(buf, &len, &q);
		send_all(fds[i], buf, len);
		if (i < DNS_TCP_CONN_MAX) {
			CHECK(tcp_reply(fds[i], &r));
			CHECK(r.id == i && r.an == 1);
		}
	}
	/* The last one is in the backlog: connected, unanswered. */
	CHECK(!wait_fd(fds[DNS_TCP_CONN_MAX], POLLIN, 500));
	close(fds[0]);
	CHECK(tcp_reply(fds[DNS_TCP_CONN_MAX], &r));
	CHECK(r.id == DNS_TCP_CONN_MAX && r.an == 1);
	/* The others still work. */
	build_query(&q, 0x7777, "multi.example", T_A, 0);
	len = 0;
	tcp_frame(buf, &len, &q);
	send_all(fds[1], buf, len);
	CHECK(tcp_reply(fds[1], &r));
	CHECK(r.id == 0x7777 && r.an == 3);
	for (int i = 1; i <= DNS_TCP_CONN_MAX; i++)
		close(fds[i]);
	_exit(0);
}

static void connections_over_the_cap_wait_in_the_backlog(void **state)
{
	struct world *w = *state;
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0)
		child_connection_cap();
	serve_until_exit(w, child, 20000);
}

/* Idle connections, and one stalled halfway through a message, are closed after about
 * DNS_TCP_IDLE_MS; a busy one is not. */
static void child_idle(void)
{
	int idle = tcp_connect(), half = tcp_connect(), busy = tcp_connect();
	int64_t start = mono_ms(), t;
	uint8_t buf[DNS_UDP_MAX], c;
	struct quick r;
	struct msg q;
	size_t len = 0;

	build_query(&q, 1, "proxy.internal", T_A, 0);
	tcp_frame(buf, &len, &q);
	send_all(half, buf, len / 2);
	/* busy asks every 2 s for 12 s. */
	for (int i = 0; i < 6; i++) {
		send_all(busy, buf, len);
		CHECK(tcp_reply(busy, &r));
		CHECK(r.id == 1 && r.an == 1);
		usleep(2000 * 1000);
	}
	t = mono_ms() - start;
	CHECK(t >= DNS_TCP_IDLE_MS);
	/* Closed by now (the stub checks every second): EOF, or a reset. */
	CHECK(wait_fd(idle, POLLIN, 0) && recv(idle, &c, 1, MSG_DONTWAIT) <= 0);
	CHECK(wait_fd(half, POLLIN, 0) && recv(half, &c, 1, MSG_DONTWAIT) <= 0);
	send_all(busy, buf, len);
	CHECK(tcp_reply(busy, &r));
	close(idle);
	close(half);
	close(busy);
	_exit(0);
}

static void idle_tcp_connections_are_closed(void **state)
{
	struct world *w = *state;
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0)
		child_idle();
	serve_until_exit(w, child, 30000);
}

static void new_refuses_sockets_of_the_wrong_kind_and_leaves_them_to_the_caller(void **state)
{
	struct loop *l;
	struct dns *d = NULL;
	int before = count_fds(), udp, tcp, unlistened;

	assert_int_equal(loop_new(&l), 0);
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlistened = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(listen(tcp, 1), 0);

	assert_int_equal(dns_new(l, tcp, udp, table, n_table, false, &d), -EINVAL);
	assert_int_equal(dns_new(l, udp, unlistened, table, n_table, false, &d), -EINVAL);
	assert_int_equal(dns_new(l, udp, udp, table, n_table, false, &d), -EINVAL);
	assert_null(d);
	/* Still the caller's. */
	assert_true(fcntl(udp, F_GETFD) >= 0);
	assert_true(fcntl(tcp, F_GETFD) >= 0);
	assert_true(fcntl(unlistened, F_GETFD) >= 0);
	close(unlistened);

	/* Either transport may be left out; the stub then owns what it was given. */
	assert_int_equal(dns_new(l, udp, -1, table, n_table, false, &d), 0);
	dns_free(d);
	assert_int_equal(dns_new(l, -1, tcp, NULL, 0, false, &d), 0);
	dns_free(d);
	dns_free(NULL);
	loop_free(l);
	assert_int_equal(count_fds(), before);
}

static void free_with_open_connections_closes_everything(void **state)
{
	struct loop *l;
	struct dns *d;
	struct sockaddr_in sa = stub_addr();
	int before = count_fds(), c[3];

	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(dns_new(l, stub_socket(SOCK_DGRAM), stub_socket(SOCK_STREAM), table,
				 n_table, false, &d),
			 0);
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		c[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(c[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	for (int i = 0; i < 5; i++)
		assert_true(loop_run_once(l, 10) >= 0);
	dns_free(d);
	loop_free(l);
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		char b;

		assert_true(wait_fd(c[i], POLLIN, 1000));
		assert_true(recv(c[i], &b, 1, 0) <= 0);
		close(c[i]);
	}
	assert_int_equal(count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest wire[] = {
	    cmocka_unit_test(a_query_for_listed_name_gets_its_address),
	    cmocka_unit_test(aaaa_and_a_each_get_only_their_family),
	    cmocka_unit_test(every_address_of_a_name_is_answered_in_table_order),
	    cmocka_unit_test(names_match_in_any_case_and_the_question_is_echoed_as_asked),
	    cmocka_unit_test(unlisted_name_is_nxdomain),
	    cmocka_unit_test(subdomain_of_listed_name_is_nxdomain),
	    cmocka_unit_test(parent_of_listed_name_is_nodata),
	    cmocka_unit_test(listed_name_asked_for_another_type_is_nodata),
	    cmocka_unit_test(reply_echoes_id_rd_and_cd_only),
	    cmocka_unit_test(response_is_dropped),
	    cmocka_unit_test(question_count_other_than_one_is_formerr),
	    cmocka_unit_test(opcode_other_than_query_is_notimp),
	    cmocka_unit_test(every_truncation_is_dropped_or_formerr),
	    cmocka_unit_test(trailing_bytes_are_formerr),
	    cmocka_unit_test(compression_pointer_in_question_is_formerr),
	    cmocka_unit_test(label_over_63_bytes_is_formerr),
	    cmocka_unit_test(name_over_255_bytes_is_formerr),
	    cmocka_unit_test(odd_bytes_in_a_label_match_nothing_and_are_escaped),
	    cmocka_unit_test(class_other_than_in_is_refused),
	    cmocka_unit_test(edns_opt_is_accepted_and_answered_with_one),
	    cmocka_unit_test(edns_version_above_zero_is_badvers),
	    cmocka_unit_test(misplaced_or_repeated_opt_is_formerr),
	    cmocka_unit_test(other_records_in_a_query_are_stepped_over),
	    cmocka_unit_test(udp_reply_over_512_bytes_is_truncated),
	    cmocka_unit_test(empty_table_answers_nxdomain_for_everything),
	    cmocka_unit_test(short_message_and_small_buffer_are_dropped),
	};
	const struct CMUnitTest server[] = {
	    cmocka_unit_test_setup_teardown(serves_udp_and_pipelined_tcp_queries, server_setup,
					    server_teardown),
	    cmocka_unit_test_setup_teardown(slow_reader_gets_every_reply_in_order,
					    server_setup_tight, server_teardown),
	    cmocka_unit_test_setup_teardown(connections_over_the_cap_wait_in_the_backlog,
					    server_setup, server_teardown),
	    cmocka_unit_test_setup_teardown(idle_tcp_connections_are_closed, server_setup,
					    server_teardown),
	    cmocka_unit_test(new_refuses_sockets_of_the_wrong_kind_and_leaves_them_to_the_caller),
	    cmocka_unit_test(free_with_open_connections_closes_everything),
	};
	int fails;

	fails = cmocka_run_group_tests_name("wire", wire, table_setup, NULL);
	fails += cmocka_run_group_tests_name("server", server, group_setup, NULL);
	return fails;
}
