/* nft.c: the cage's and the host side's nftables rulesets. Each is described once, as a list of
 * rules (chain, matches, counter, verdict, description) built from the plan; that list is
 * rendered as `nft -f` text for `sluice check` and built as one libnftnl batch for apply. Also
 * owns sending a batch, draining its acks, and the table delete and list used by gc. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter_ipv4.h>

#include "log.h"
#include "nft.h"

/* The ack for a batch arrives while sendmsg() runs (nfnetlink processes the batch in the
 * sender's context), so this only guards against a kernel that never answers. */
#define ACK_TIMEOUT_MS 5000
/* A ruleset grows with the allowed endpoints; a batch larger than this is a bug. */
#define BATCH_MAX  (1024 * 1024)
#define TABLES_MAX 4096
/* What one queued ack costs the receive buffer (skb overhead included), generously. */
#define ACK_TRUESIZE 2048
/* One message: our largest rule is well under 2 KiB. */
#define SCRATCH_SIZE 8192

/* The loopback device has ifindex 1 in every network namespace (LOOPBACK_IFINDEX), which is
 * what `nft` itself resolves `iif "lo"` to. */
#define LOOPBACK_IFINDEX 1

#define ICMPV6_ND_SOLICIT 135
#define ICMPV6_ND_ADVERT  136

/* Conntrack state bits, as the ct expression reports them (NF_CT_STATE_BIT). */
#define CT_STATE_BIT_ESTABLISHED (1U << 1)
#define CT_STATE_BIT_RELATED	 (1U << 2)

enum rs_match_kind {
	RS_IIF,		/* iif "lo" (by index) */
	RS_OIF,		/* oif "lo" */
	RS_IIFNAME,	/* iifname ["!="] "name" */
	RS_OIFNAME,	/* oifname ["!="] "name" */
	RS_CT_EST,	/* ct state established,related */
	RS_ICMPV6_TYPE, /* icmpv6 type T */
	RS_SADDR,	/* ip/ip6 saddr A */
	RS_DADDR,	/* ip/ip6 daddr A */
	RS_L4PROTO,	/* meta l4proto P */
	RS_DPORT,	/* tcp/udp dport N */
};

struct rs_match {
	enum rs_match_kind kind;
	bool neq;
	const char *ifname; /* RS_IIF, RS_OIF, RS_IIFNAME, RS_OIFNAME */
	int family;	    /* RS_SADDR, RS_DADDR: AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} ip;
	unsigned plen; /* RS_SADDR, RS_DADDR: a prefix's length; 0 the whole address */
	uint8_t proto; /* RS_L4PROTO, RS_DPORT */
	uint16_t port; /* RS_DPORT, host byte order */
	uint8_t icmp_type;
};

enum rs_verdict {
	RS_NONE, /* no verdict: the chain's policy decides (a counting rule) */
	RS_ACCEPT,
	RS_DROP,
	RS_REJECT_TCP_RST,
	RS_REJECT_ADMIN, /* icmpx admin-prohibited */
	RS_MASQUERADE,
};

#define RS_MATCH_MAX 4

struct rs_chain {
	const char *name;
	const char *type; /* "filter" or "nat" */
	unsigned hook;	  /* NF_INET_* */
	int prio;
	unsigned policy; /* NF_ACCEPT or NF_DROP */
};

struct rs_rule {
	const struct rs_chain *chain;
	struct rs_match match[RS_MATCH_MAX];
	size_t n_match;
	bool counter;
	enum rs_verdict verdict;
	char desc[96]; /* "output: allow proxy tcp 10.250.0.1:8888", names the rule in errors */
};

struct ruleset {
	const char *table;
	const struct rs_chain *chains;
	size_t n_chains;
	struct rs_rule *rules;
	size_t n_rules, max_rules;
};

static void ruleset_free(struct ruleset *rs)
{
	free(rs->rules);
	free(rs);
}
DEFINE_CLEANUP_FUNC(struct ruleset, ruleset_free)

static const struct rs_chain cage_chains[] = {
    {"input", "filter", NF_INET_LOCAL_IN, NF_IP_PRI_FILTER, NF_DROP},
    {"output", "filter", NF_INET_LOCAL_OUT, NF_IP_PRI_FILTER, NF_DROP},
    {"forward", "filter", NF_INET_FORWARD, NF_IP_PRI_FILTER, NF_DROP},
};

/* The host side runs before any filter chain the host's own firewall has at priority 0, so an
 * accept elsewhere cannot open what this table drops (a drop is final across tables). */
static const struct rs_chain host_chains[] = {
    {"input", "filter", NF_INET_LOCAL_IN, NF_IP_PRI_FILTER - 10, NF_ACCEPT},
    {"forward", "filter", NF_INET_FORWARD, NF_IP_PRI_FILTER - 10, NF_ACCEPT},
    {"postrouting", "nat", NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC, NF_ACCEPT},
};

/* ---- describing a ruleset ---- */

static const char *ip_str(int family, const void *ip, char *buf, size_t len)
{
	if (!inet_ntop(family, ip, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

static const char *proto_str(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

static const char *ep_str(const struct endpoint *e, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	ip_str(e->family, &e->ip, ip, sizeof(ip));
	snprintf(buf, len, e->family == AF_INET6 ? "%s [%s]:%u" : "%s %s:%u", proto_str(e->proto),
		 ip, e->port);
	return buf;
}

static struct rs_rule *rs_add(struct ruleset *rs, const struct rs_chain *chain, bool counter,
			      enum rs_verdict verdict, const char *fmt, ...) _printf_(5, 6);

static struct rs_rule *rs_add(struct ruleset *rs, const struct rs_chain *chain, bool counter,
			      enum rs_verdict verdict, const char *fmt, ...)
{
	struct rs_rule *r;
	va_list ap;
	int n;

	/* max_rules is computed from the plan before any rule is added; running past it is a
	 * bug in this file, not bad input. */
	if (rs->n_rules >= rs->max_rules)
		abort();
	r = &rs->rules[rs->n_rules++];
	*r = (struct rs_rule){.chain = chain, .counter = counter, .verdict = verdict};
	n = snprintf(r->desc, sizeof(r->desc), "%s: ", chain->name);
	va_start(ap, fmt);
	vsnprintf(r->desc + n, sizeof(r->desc) - n, fmt, ap);
	va_end(ap);
	return r;
}

static struct rs_match *rs_match(struct rs_rule *r, enum rs_match_kind kind)
{
	struct rs_match *m;

	if (r->n_match >= RS_MATCH_MAX)
		abort();
	m = &r->match[r->n_match++];
	*m = (struct rs_match){.kind = kind};
	return m;
}

static void match_ifname(struct rs_rule *r, enum rs_match_kind kind, bool neq, const char *name)
{
	struct rs_match *m = rs_match(r, kind);

	m->neq = neq;
	m->ifname = name;
}

static void match_addr(struct rs_rule *r, enum rs_match_kind kind, int family, const void *ip)
{
	struct rs_match *m = rs_match(r, kind);

	m->family = family;
	if (family == AF_INET6)
		memcpy(&m->ip.v6, ip, sizeof(m->ip.v6));
	else
		memcpy(&m->ip.v4, ip, sizeof(m->ip.v4));
}

/* "ip daddr A tcp dport P" for one allowed endpoint. */
static void match_endpoint(struct rs_rule *r, const struct endpoint *e)
{
	struct rs_match *m;

	match_addr(r, RS_DADDR, e->family, &e->ip);
	m = rs_match(r, RS_DPORT);
	m->proto = e->proto;
	m->port = e->port;
}

static void add_established(struct ruleset *rs, const struct rs_chain *c)
{
	rs_match(rs_add(rs, c, false, RS_ACCEPT, "established"), RS_CT_EST);
}

/* Without neighbour discovery an IPv6 address never resolves; conntrack does not track it. */
static void add_nd(struct ruleset *rs, const struct rs_chain *c)
{
	struct rs_rule *r;

	r = rs_add(rs, c, false, RS_ACCEPT, "neighbour solicitation");
	rs_match(r, RS_ICMPV6_TYPE)->icmp_type = ICMPV6_ND_SOLICIT;
	r = rs_add(rs, c, false, RS_ACCEPT, "neighbour advertisement");
	rs_match(r, RS_ICMPV6_TYPE)->icmp_type = ICMPV6_ND_ADVERT;
}

/* A refused TCP connect fails at once with a reset instead of hanging until a timeout. */
static void add_tcp_reset(struct ruleset *rs, const struct rs_chain *c)
{
	struct rs_rule *r = rs_add(rs, c, true, RS_REJECT_TCP_RST, "reset other tcp");

	rs_match(r, RS_L4PROTO)->proto = IPPROTO_TCP;
}

static void add_allow(struct ruleset *rs, const struct rs_chain *c, const char *iifname,
		      const struct allowed *a)
{
	char ep[ADDR_STR_MAX];
	struct rs_rule *r;

	r = rs_add(rs, c, false, RS_ACCEPT, "allow %s%s", a->is_proxy ? "proxy " : "",
		   ep_str(&a->ep, ep, sizeof(ep)));
	if (iifname)
		match_ifname(r, RS_IIFNAME, false, iifname);
	match_endpoint(r, &a->ep);
}

/* Inbound TCP to a listen rule's address and port, from each of its sources (any: one rule
 * without a source match), arriving on iifname (cage side) or leaving by oifname (host side). */
static void add_listen(struct ruleset *rs, const struct rs_chain *c, enum rs_match_kind ifkind,
		       const char *ifname, const struct listen_rule *l)
{
	char ep[ADDR_STR_MAX], src[INET6_ADDRSTRLEN + 8];
	size_t n = l->n_from ? l->n_from : 1;

	for (size_t i = 0; i < n; i++) {
		const struct cidr *from = l->n_from ? &l->from[i] : NULL;
		struct rs_rule *r;

		r = rs_add(rs, c, true, RS_ACCEPT, "listen %s from %s",
			   ep_str(&l->ep, ep, sizeof(ep)),
			   from ? addr_format_cidr(from, src, sizeof(src)) : "any");
		match_ifname(r, ifkind, false, ifname);
		match_endpoint(r, &l->ep);
		if (from && from->len) {
			struct rs_match *m;

			match_addr(r, RS_SADDR, from->family, &from->ip);
			m = &r->match[r->n_match - 1];
			m->plen = from->len == (from->family == AF_INET ? 32U : 128U) ? 0 : from->len;
		}
	}
}

/* Rules one listen rule adds to a chain. */
static size_t listen_rules(const struct plan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_listens; i++)
		n += p->listens[i].n_from ? p->listens[i].n_from : 1;
	return n;
}

static int check_allowed(const struct plan *p)
{
	for (size_t i = 0; i < p->n_allowed; i++) {
		const struct endpoint *e = &p->allowed[i].ep;

		if ((e->family != AF_INET && e->family != AF_INET6) ||
		    (e->proto != IPPROTO_TCP && e->proto != IPPROTO_UDP))
			return err_set(-EINVAL,
				       "nftables: allowed endpoint %zu is not tcp/udp over "
				       "IPv4/IPv6",
				       i);
	}
	return 0;
}

static int ruleset_new(const struct plan *p, const char *table, const struct rs_chain *chains,
		       size_t n_chains, struct ruleset **ret)
{
	_cleanup_(ruleset_freep) struct ruleset *rs = NULL;
	int r;

	r = check_allowed(p);
	if (r < 0)
		return r;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	rs->table = table;
	rs->chains = chains;
	rs->n_chains = n_chains;
	/* each allowed endpoint adds at most one rule per chain, and no chain has more than
	 * eight others */
	rs->max_rules = n_chains * (p->n_allowed + listen_rules(p) + 8);
	rs->rules = calloc(rs->max_rules, sizeof(*rs->rules));
	if (!rs->rules)
		return -ENOMEM;
	*ret = TAKE_PTR(rs);
	return 0;
}

static int cage_ruleset(const struct plan *p, struct ruleset **ret)
{
	_cleanup_(ruleset_freep) struct ruleset *rs = NULL;
	const struct rs_chain *in = &cage_chains[0], *out = &cage_chains[1];
	int r;

	r = ruleset_new(p, p->cage_table, cage_chains, ARRAY_SIZE(cage_chains), &rs);
	if (r < 0)
		return r;

	rs_match(rs_add(rs, in, false, RS_ACCEPT, "loopback"), RS_IIF)->ifname = "lo";
	add_established(rs, in);
	if (p->ipv6)
		add_nd(rs, in);
	for (size_t i = 0; i < p->n_listens; i++)
		add_listen(rs, in, RS_IIFNAME, p->cage_if, &p->listens[i]);
	add_tcp_reset(rs, in);
	rs_add(rs, in, true, RS_NONE, "count the rest");

	rs_match(rs_add(rs, out, false, RS_ACCEPT, "loopback"), RS_OIF)->ifname = "lo";
	add_established(rs, out);
	if (p->ipv6)
		add_nd(rs, out);
	for (size_t i = 0; i < p->n_allowed; i++)
		add_allow(rs, out, NULL, &p->allowed[i]);
	add_tcp_reset(rs, out);
	/* Other protocols get an ICMP error too, so a UDP send fails rather than vanishing. */
	rs_add(rs, out, true, RS_REJECT_ADMIN, "reject the rest");

	*ret = TAKE_PTR(rs);
	return 0;
}

static int host_ruleset(const struct plan *p, struct ruleset **ret)
{
	_cleanup_(ruleset_freep) struct ruleset *rs = NULL;
	const struct rs_chain *in = &host_chains[0], *fwd = &host_chains[1];
	struct rs_rule *rule;
	int r;

	r = ruleset_new(p, p->host_table, host_chains,
			p->masquerade ? ARRAY_SIZE(host_chains) : ARRAY_SIZE(host_chains) - 1, &rs);
	if (r < 0)
		return r;

	/* input: what the cage may reach on the host itself. Other interfaces are none of this
	 * table's business. */
	match_ifname(rs_add(rs, in, false, RS_ACCEPT, "not from the cage"), RS_IIFNAME, true,
		     p->host_if);
	add_established(rs, in);
	if (p->ipv6)
		add_nd(rs, in);
	for (size_t i = 0; i < p->n_allowed; i++)
		if (p->allowed[i].on_host)
			add_allow(rs, in, NULL, &p->allowed[i]);
	add_tcp_reset(rs, in);
	rs_add(rs, in, true, RS_DROP, "drop the rest");

	/* forward: only the off-host endpoints, and only replies back into the cage. */
	for (size_t i = 0; i < p->n_allowed; i++)
		if (!p->allowed[i].on_host)
			add_allow(rs, fwd, p->host_if, &p->allowed[i]);
	if (p->n_listens) {
		/* replies of what the cage accepted from beyond this host */
		rule = rs_add(rs, fwd, false, RS_ACCEPT, "established from the cage");
		match_ifname(rule, RS_IIFNAME, false, p->host_if);
		rs_match(rule, RS_CT_EST);
	}
	match_ifname(rs_add(rs, fwd, true, RS_DROP, "drop the rest from the cage"), RS_IIFNAME,
		     false, p->host_if);
	for (size_t i = 0; i < p->n_listens; i++)
		add_listen(rs, fwd, RS_OIFNAME, p->host_if, &p->listens[i]);
	rule = rs_add(rs, fwd, false, RS_ACCEPT, "established to the cage");
	match_ifname(rule, RS_OIFNAME, false, p->host_if);
	rs_match(rule, RS_CT_EST);
	match_ifname(rs_add(rs, fwd, true, RS_DROP, "drop the rest to the cage"), RS_OIFNAME, false,
		     p->host_if);

	if (p->masquerade) {
		rule = rs_add(rs, &host_chains[2], false, RS_MASQUERADE, "masquerade the cage");
		match_addr(rule, RS_SADDR, AF_INET, &p->cage_v4);
		match_ifname(rule, RS_OIFNAME, true, p->host_if);
		/* The cage's IPv6 address is a ULA nobody beyond the host routes back to. */
		if (p->ipv6) {
			rule = rs_add(rs, &host_chains[2], false, RS_MASQUERADE,
				      "masquerade the cage (IPv6)");
			match_addr(rule, RS_SADDR, AF_INET6, &p->cage_v6);
			match_ifname(rule, RS_OIFNAME, true, p->host_if);
		}
	}

	*ret = TAKE_PTR(rs);
	return 0;
}

/* ---- text ---- */

static const char *hook_str(unsigned hook)
{
	switch (hook) {
	case NF_INET_PRE_ROUTING:
		return "prerouting";
	case NF_INET_LOCAL_IN:
		return "input";
	case NF_INET_FORWARD:
		return "forward";
	case NF_INET_LOCAL_OUT:
		return "output";
	default:
		return "postrouting";
	}
}

/* The priority as `nft list` prints it: relative to the standard name for the chain type. */
static void render_prio(const struct rs_chain *c, struct text *f)
{
	bool nat = streq(c->type, "nat");
	const char *name = nat ? (c->hook == NF_INET_POST_ROUTING ? "srcnat" : "dstnat") : "filter";
	int base = nat ? (c->hook == NF_INET_POST_ROUTING ? NF_IP_PRI_NAT_SRC : NF_IP_PRI_NAT_DST)
		       : NF_IP_PRI_FILTER;
	int d = c->prio - base;

	if (d == 0)
		text_printf(f, "%s", name);
	else
		text_printf(f, "%s %c %d", name, d < 0 ? '-' : '+', d < 0 ? -d : d);
}

static void render_match(const struct rs_match *m, struct text *f)
{
	char ip[INET6_ADDRSTRLEN];
	const char *neq = m->neq ? "!= " : "";

	switch (m->kind) {
	case RS_IIF:
	case RS_OIF:
		text_printf(f, "%s %s\"%s\"", m->kind == RS_IIF ? "iif" : "oif", neq, m->ifname);
		break;
	case RS_IIFNAME:
	case RS_OIFNAME:
		text_printf(f, "%s %s\"%s\"", m->kind == RS_IIFNAME ? "iifname" : "oifname", neq,
			    m->ifname);
		break;
	case RS_CT_EST:
		text_printf(f, "ct state established,related");
		break;
	case RS_ICMPV6_TYPE:
		text_printf(f, "icmpv6 type %s",
			    m->icmp_type == ICMPV6_ND_SOLICIT ? "nd-neighbor-solicit"
							      : "nd-neighbor-advert");
		break;
	case RS_SADDR:
	case RS_DADDR:
		text_printf(f, "%s %s %s", m->family == AF_INET6 ? "ip6" : "ip",
			    m->kind == RS_SADDR ? "saddr" : "daddr",
			    ip_str(m->family, &m->ip, ip, sizeof(ip)));
		if (m->plen)
			text_printf(f, "/%u", m->plen);
		break;
	case RS_L4PROTO:
		text_printf(f, "meta l4proto %s", proto_str(m->proto));
		break;
	case RS_DPORT:
		text_printf(f, "%s dport %u", proto_str(m->proto), m->port);
		break;
	}
}

static const char *verdict_str(enum rs_verdict v)
{
	switch (v) {
	case RS_ACCEPT:
		return "accept";
	case RS_DROP:
		return "drop";
	case RS_REJECT_TCP_RST:
		return "reject with tcp reset";
	case RS_REJECT_ADMIN:
		return "reject with icmpx admin-prohibited";
	case RS_MASQUERADE:
		return "masquerade";
	default:
		return NULL;
	}
}

static void render_rule(const struct rs_rule *r, struct text *f)
{
	const char *sep = "";

	text_puts(f, "\t\t");
	for (size_t i = 0; i < r->n_match; i++, sep = " ") {
		text_puts(f, sep);
		render_match(&r->match[i], f);
	}
	if (r->counter) {
		text_printf(f, "%scounter", sep);
		sep = " ";
	}
	if (verdict_str(r->verdict))
		text_printf(f, "%s%s", sep, verdict_str(r->verdict));
	text_putc(f, '\n');
}

static int render(const struct ruleset *rs, struct text *f)
{
	text_printf(f, "table inet %s {\n", rs->table);
	for (size_t c = 0; c < rs->n_chains; c++) {
		const struct rs_chain *ch = &rs->chains[c];

		if (c > 0)
			text_putc(f, '\n');
		text_printf(f, "\tchain %s {\n\t\ttype %s hook %s priority ", ch->name, ch->type,
			    hook_str(ch->hook));
		render_prio(ch, f);
		text_printf(f, "; policy %s;\n", ch->policy == NF_DROP ? "drop" : "accept");
		for (size_t i = 0; i < rs->n_rules; i++)
			if (rs->rules[i].chain == ch)
				render_rule(&rs->rules[i], f);
		text_puts(f, "\t}\n");
	}
	text_puts(f, "}\n");
	if (text_error(f) < 0)
		return err_set(text_error(f), "render nftables table %s", rs->table);
	return 0;
}

int nft_render_cage(const struct plan *p, struct text *f)
{
	_cleanup_(ruleset_freep) struct ruleset *rs = NULL;
	int r;

	r = cage_ruleset(p, &rs);
	if (r < 0)
		return r;
	return render(rs, f);
}

int nft_render_host(const struct plan *p, struct text *f)
{
	_cleanup_(ruleset_freep) struct ruleset *rs = NULL;
	int r;

	r = host_ruleset(p, &rs);
	if (r < 0)
		return r;
	return render(rs, f);
}

/* ---- libnftnl ---- */

/* Append one expression to rule; the rule owns it afterwards. */
static int add_expr(struct nftnl_rule *rule, struct nftnl_expr **e)
{
	if (!*e)
		return -ENOMEM;
	nftnl_rule_add_expr(rule, TAKE_PTR(*e));
	return 0;
}

static int expr_meta(struct nftnl_rule *rule, uint32_t key)
{
	_cleanup_(nftnl_expr_freep) struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	return add_expr(rule, &e);
}

static int expr_cmp(struct nftnl_rule *rule, bool neq, const void *data, uint32_t len)
{
	_cleanup_(nftnl_expr_freep) struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, neq ? NFT_CMP_NEQ : NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return add_expr(rule, &e);
}

static int expr_payload(struct nftnl_rule *rule, uint32_t base, uint32_t offset, uint32_t len)
{
	_cleanup_(nftnl_expr_freep) struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	return add_expr(rule, &e);
}

static int meta_eq_u8(struct nftnl_rule *rule, uint32_t key, uint8_t v)
{
	int r = expr_meta(rule, key);

	return r < 0 ? r : expr_cmp(rule, false, &v, sizeof(v));
}

/* One match as the expressions `nft` generates for it: in the inet family a network header
 * field needs `meta nfproto` first and a transport header field `meta l4proto` first, else
 * the payload would be read from the wrong protocol's header. */
static int build_match(struct nftnl_rule *rule, const struct rs_match *m)
{
	uint32_t u32;
	uint16_t port;
	char name[IFNAMSIZ] = {};
	int r = 0;
	bool v6 = m->family == AF_INET6;

	switch (m->kind) {
	case RS_IIF:
	case RS_OIF:
		u32 = LOOPBACK_IFINDEX;
		r = expr_meta(rule, m->kind == RS_IIF ? NFT_META_IIF : NFT_META_OIF);
		if (r >= 0)
			r = expr_cmp(rule, m->neq, &u32, sizeof(u32));
		break;
	case RS_IIFNAME:
	case RS_OIFNAME:
		strncpy(name, m->ifname, sizeof(name) - 1);
		r = expr_meta(rule, m->kind == RS_IIFNAME ? NFT_META_IIFNAME : NFT_META_OIFNAME);
		if (r >= 0)
			r = expr_cmp(rule, m->neq, name, sizeof(name));
		break;
	case RS_CT_EST: {
		_cleanup_(nftnl_expr_freep) struct nftnl_expr *ct = nftnl_expr_alloc("ct");
		_cleanup_(nftnl_expr_freep) struct nftnl_expr *bw = nftnl_expr_alloc("bitwise");
		uint32_t mask = CT_STATE_BIT_ESTABLISHED | CT_STATE_BIT_RELATED, zero = 0;

		if (ct) {
			nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
			nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_DREG, NFT_REG_1);
		}
		if (bw) {
			nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
			nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
			nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_LEN, sizeof(mask));
			nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
			nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
		}
		r = add_expr(rule, &ct);
		if (r >= 0)
			r = add_expr(rule, &bw);
		if (r >= 0)
			r = expr_cmp(rule, true, &zero, sizeof(zero));
		break;
	}
	case RS_ICMPV6_TYPE:
		r = meta_eq_u8(rule, NFT_META_NFPROTO, NFPROTO_IPV6);
		if (r >= 0)
			r = meta_eq_u8(rule, NFT_META_L4PROTO, IPPROTO_ICMPV6);
		if (r >= 0)
			r = expr_payload(rule, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
		if (r >= 0)
			r = expr_cmp(rule, m->neq, &m->icmp_type, 1);
		break;
	case RS_SADDR:
	case RS_DADDR:
		r = meta_eq_u8(rule, NFT_META_NFPROTO, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
		if (r >= 0)
			/* iphdr saddr 12, daddr 16; ipv6hdr saddr 8, daddr 24 */
			r = expr_payload(rule, NFT_PAYLOAD_NETWORK_HEADER,
					 v6 ? (m->kind == RS_SADDR ? 8 : 24)
					    : (m->kind == RS_SADDR ? 12 : 16),
					 v6 ? 16 : 4);
		if (r >= 0 && m->plen) {
			/* a prefix: the address masked first, as nft does for ADDR/LEN */
			_cleanup_(nftnl_expr_freep) struct nftnl_expr *bw =
			    nftnl_expr_alloc("bitwise");
			uint8_t mask[16] = {0}, zero[16] = {0};

			for (unsigned b = 0; b < m->plen; b++)
				mask[b / 8] |= (uint8_t)(0x80 >> (b % 8));
			if (bw) {
				nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
				nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
				nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_LEN, v6 ? 16 : 4);
				nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_MASK, mask, v6 ? 16 : 4);
				nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_XOR, zero, v6 ? 16 : 4);
			}
			r = add_expr(rule, &bw);
		}
		if (r >= 0)
			r = expr_cmp(rule, m->neq, &m->ip, v6 ? 16 : 4);
		break;
	case RS_L4PROTO:
		r = expr_meta(rule, NFT_META_L4PROTO);
		if (r >= 0)
			r = expr_cmp(rule, m->neq, &m->proto, 1);
		break;
	case RS_DPORT:
		port = htons(m->port);
		r = meta_eq_u8(rule, NFT_META_L4PROTO, m->proto);
		if (r >= 0)
			/* the destination port sits at offset 2 in both tcp and udp headers */
			r = expr_payload(rule, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
		if (r >= 0)
			r = expr_cmp(rule, m->neq, &port, sizeof(port));
		break;
	}
	return r;
}

static int build_verdict(struct nftnl_rule *rule, const struct rs_rule *rr)
{
	_cleanup_(nftnl_expr_freep) struct nftnl_expr *e = NULL;
	int r;

	if (rr->counter) {
		e = nftnl_expr_alloc("counter");
		r = add_expr(rule, &e);
		if (r < 0)
			return r;
	}
	switch (rr->verdict) {
	case RS_NONE:
		return 0;
	case RS_ACCEPT:
	case RS_DROP:
		e = nftnl_expr_alloc("immediate");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
			nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT,
					   rr->verdict == RS_ACCEPT ? NF_ACCEPT : NF_DROP);
		}
		break;
	case RS_REJECT_TCP_RST:
	case RS_REJECT_ADMIN:
		/* The inet reject expression: a tcp reset, or an ICMP/ICMPv6 error chosen by the
		 * packet's family (icmpx). */
		e = nftnl_expr_alloc("reject");
		if (e) {
			bool rst = rr->verdict == RS_REJECT_TCP_RST;

			nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE,
					   rst ? NFT_REJECT_TCP_RST : NFT_REJECT_ICMPX_UNREACH);
			nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE,
					  rst ? 0 : NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		}
		break;
	case RS_MASQUERADE:
		e = nftnl_expr_alloc("masq");
		break;
	}
	return add_expr(rule, &e);
}

/*
 * A batch under construction. Each message is built in a scratch buffer (libnftnl's builders
 * do not check bounds) and copied in only if it fits, so a short buffer gives -ENOSPC and
 * never an overrun.
 */
struct batch {
	char *buf;
	size_t len, used;
	uint32_t seq;
	char scratch[SCRATCH_SIZE];
};

static int batch_put(struct batch *b, const struct nlmsghdr *nlh)
{
	if (nlh->nlmsg_len > b->len - b->used)
		return -ENOSPC;
	memcpy(b->buf + b->used, nlh, nlh->nlmsg_len);
	b->used += nlh->nlmsg_len;
	b->seq++;
	return 0;
}

static int batch_table(struct batch *b, uint16_t msg, uint16_t flags, const char *name)
{
	_cleanup_(nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	nlh = nftnl_nlmsg_build_hdr(b->scratch, msg, NFPROTO_INET, flags | NLM_F_ACK, b->seq);
	nftnl_table_nlmsg_build_payload(nlh, t);
	return batch_put(b, nlh);
}

static int batch_chain(struct batch *b, const char *table, const struct rs_chain *c)
{
	_cleanup_(nftnl_chain_freep) struct nftnl_chain *ch = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!ch)
		return -ENOMEM;
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, c->name);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, c->type);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, c->hook);
	nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, c->prio);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, c->policy);
	nlh = nftnl_nlmsg_build_hdr(b->scratch, NFT_MSG_NEWCHAIN, NFPROTO_INET,
				    NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, b->seq);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	return batch_put(b, nlh);
}

static int batch_rule(struct batch *b, const char *table, const struct rs_rule *rr)
{
	_cleanup_(nftnl_rule_freep) struct nftnl_rule *rule = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!rule)
		return -ENOMEM;
	nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, rr->chain->name);
	for (size_t i = 0; i < rr->n_match; i++) {
		r = build_match(rule, &rr->match[i]);
		if (r < 0)
			return r;
	}
	r = build_verdict(rule, rr);
	if (r < 0)
		return r;
	nlh = nftnl_nlmsg_build_hdr(b->scratch, NFT_MSG_NEWRULE, NFPROTO_INET,
				    NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, b->seq);
	nftnl_rule_nlmsg_build_payload(nlh, rule);
	return batch_put(b, nlh);
}

static struct batch *batch_new(void *buf, size_t len, uint32_t seq)
{
	struct batch *b = malloc(sizeof(*b));

	if (b)
		*b = (struct batch){.buf = buf, .len = len, .seq = seq};
	return b;
}

/*
 * Message k of a ruleset's batch has sequence number seq + k: 0 the batch begin, 1 the table,
 * then the chains, then the rules in order, then the batch end. Acks are mapped back to what
 * they answer by that arithmetic alone.
 */
static ssize_t build(const struct ruleset *rs, void *buf, size_t len, uint32_t seq)
{
	_cleanup_free_ struct batch *b = batch_new(buf, len, seq);
	int r;

	if (!b)
		return -ENOMEM;
	r = batch_put(b, nftnl_batch_begin(b->scratch, b->seq));
	if (r >= 0)
		/* EXCL: a table of this name is never ours to reuse (the plan made it unique) */
		r = batch_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, rs->table);
	for (size_t i = 0; r >= 0 && i < rs->n_chains; i++)
		r = batch_chain(b, rs->table, &rs->chains[i]);
	for (size_t i = 0; r >= 0 && i < rs->n_rules; i++)
		r = batch_rule(b, rs->table, &rs->rules[i]);
	if (r >= 0)
		r = batch_put(b, nftnl_batch_end(b->scratch, b->seq));
	return r < 0 ? r : (ssize_t)b->used;
}

ssize_t nft_build_cage(const struct plan *p, void *buf, size_t len, uint32_t seq)
{
	_cleanup_(ruleset_freep) struct ruleset *rs = NULL;
	int r;

	r = cage_ruleset(p, &rs);
	if (r < 0)
		return r;
	return build(rs, buf, len, seq);
}

ssize_t nft_build_host(const struct plan *p, void *buf, size_t len, uint32_t seq)
{
	_cleanup_(ruleset_freep) struct ruleset *rs = NULL;
	int r;

	r = host_ruleset(p, &rs);
	if (r < 0)
		return r;
	return build(rs, buf, len, seq);
}

/* ---- talking to the kernel ---- */

/* Sequence numbers never repeat within a process, so an answer left over from an earlier,
 * abandoned exchange on the same socket cannot be taken for one of this batch. */
static uint32_t seq_reserve(uint32_t n)
{
	static uint32_t next;
	uint32_t seq;

	if (next == 0)
		next = (uint32_t)time(NULL);
	seq = next;
	next += n;
	return seq;
}

static int recv_timeout(struct mnl_socket *nl, void *buf, size_t len)
{
	struct pollfd pfd = {.fd = mnl_socket_get_fd(nl), .events = POLLIN};
	ssize_t n;
	int r;

	r = poll(&pfd, 1, ACK_TIMEOUT_MS);
	if (r < 0)
		return negative_errno();
	if (r == 0)
		return -ETIMEDOUT;
	n = mnl_socket_recvfrom(nl, buf, len);
	if (n < 0)
		return negative_errno();
	return (int)n;
}

/*
 * Send a batch whose messages k = 1..n_acked carry NLM_F_ACK, and drain one ack per message
 * (the kernel answers every one, even after a failure, before it aborts the batch). Returns 0,
 * or the first error with *ret_k set to the message it answers (0 for the batch itself).
 */
static int batch_talk(struct mnl_socket *nl, const void *buf, size_t len, uint32_t seq,
		      size_t n_acked, size_t *ret_k)
{
	_cleanup_free_ char *rbuf = malloc(MNL_SOCKET_BUFFER_SIZE);
	uint32_t portid = mnl_socket_get_portid(nl);
	size_t acks = 0;
	int err = 0;

	*ret_k = 0;
	if (!rbuf)
		return -ENOMEM;
	if (mnl_socket_sendto(nl, buf, len) < 0)
		return negative_errno();

	while (acks < n_acked) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)rbuf;
		int n = recv_timeout(nl, rbuf, MNL_SOCKET_BUFFER_SIZE);

		if (n < 0)
			return err < 0 ? err : n;
		for (; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			size_t k = nlh->nlmsg_seq - seq;

			/* not an answer to this batch: a stale message on a reused socket */
			if (nlh->nlmsg_pid != portid || k > n_acked + 1 ||
			    nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				return -EBADMSG;
			if (e->error < 0 && err == 0) {
				err = e->error;
				*ret_k = k;
			}
			/* the begin or end message refused: nothing else will be answered */
			if (k == 0 || k == n_acked + 1)
				return err < 0 ? err : -EPROTO;
			acks++;
		}
	}
	return err;
}

/* Grow a socket buffer to at least want bytes. Root may exceed the sysctl maximum (FORCE);
 * otherwise the kernel caps the request and the send or the acks fail visibly. */
static void grow_sockbuf(int fd, int opt, int opt_force, size_t want)
{
	int cur = 0, v = (int)want;
	socklen_t len = sizeof(cur);

	if (getsockopt(fd, SOL_SOCKET, opt, &cur, &len) == 0 && (size_t)cur >= want)
		return;
	if (setsockopt(fd, SOL_SOCKET, opt_force, &v, sizeof(v)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

static int load(struct mnl_socket *nl, const struct ruleset *rs)
{
	_cleanup_free_ void *buf = NULL;
	size_t len = 16384, k, n_acked = 1 + rs->n_chains + rs->n_rules;
	uint32_t seq = seq_reserve(n_acked + 2);
	ssize_t n;
	int r;

	for (;;) {
		free(buf);
		buf = malloc(len);
		if (!buf)
			return -ENOMEM;
		n = build(rs, buf, len, seq);
		if (n != -ENOSPC || len >= BATCH_MAX)
			break;
		len *= 2;
	}
	if (n == -ENOSPC)
		return err_set(-E2BIG, "nftables table %s: %zu rules do not fit in one batch",
			       rs->table, rs->n_rules);
	if (n < 0)
		return err_set((int)n, "nftables batch for table %s", rs->table);

	/* Netlink refuses a message larger than the send buffer, and the kernel queues every
	 * ack of a batch before sendmsg() returns, so both buffers must hold a whole batch. */
	grow_sockbuf(mnl_socket_get_fd(nl), SO_SNDBUF, SO_SNDBUFFORCE, (size_t)n + 4096);
	grow_sockbuf(mnl_socket_get_fd(nl), SO_RCVBUF, SO_RCVBUFFORCE, n_acked * ACK_TRUESIZE);

	r = batch_talk(nl, buf, n, seq, n_acked, &k);
	if (r >= 0)
		return 0;
	if (k == 1)
		return err_set(r, "nftables table %s", rs->table);
	if (k >= 2 && k < 2 + rs->n_chains)
		return err_set(r, "nftables chain %s in table %s", rs->chains[k - 2].name,
			       rs->table);
	if (k >= 2 + rs->n_chains && k < 2 + rs->n_chains + rs->n_rules)
		return err_set(r, "nftables rule \"%s\" in table %s",
			       rs->rules[k - 2 - rs->n_chains].desc, rs->table);
	return err_set(r, "nftables batch for table %s", rs->table);
}

int nft_load_cage(struct mnl_socket *nl, const struct plan *p)
{
	_cleanup_(ruleset_freep) struct ruleset *rs = NULL;
	int r;

	r = cage_ruleset(p, &rs);
	if (r < 0)
		return r;
	return load(nl, rs);
}

int nft_load_host(struct mnl_socket *nl, const struct plan *p)
{
	_cleanup_(ruleset_freep) struct ruleset *rs = NULL;
	int r;

	r = host_ruleset(p, &rs);
	if (r < 0)
		return r;
	return load(nl, rs);
}

int nft_delete_table(struct mnl_socket *nl, const char *name)
{
	_cleanup_free_ struct batch *b = NULL;
	_cleanup_free_ char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	uint32_t seq = seq_reserve(3);
	size_t k;
	int r;

	b = batch_new(buf, MNL_SOCKET_BUFFER_SIZE, seq);
	if (!buf || !b)
		return -ENOMEM;
	r = batch_put(b, nftnl_batch_begin(b->scratch, b->seq));
	if (r >= 0)
		r = batch_table(b, NFT_MSG_DELTABLE, 0, name);
	if (r >= 0)
		r = batch_put(b, nftnl_batch_end(b->scratch, b->seq));
	if (r >= 0)
		r = batch_talk(nl, b->buf, b->used, seq, 1, &k);
	if (r < 0)
		return err_set(r, "deleting nftables table %s", name);
	return 0;
}

struct list_ctx {
	const char *prefix;
	char **names;
	size_t n;
	int error;
};

static int list_cb(const struct nlmsghdr *nlh, void *data)
{
	_cleanup_(nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc();
	struct list_ctx *ctx = data;
	const char *name;
	char **v;

	if (!t || nftnl_table_nlmsg_parse(nlh, t) < 0) {
		ctx->error = t ? -EBADMSG : -ENOMEM;
		return MNL_CB_ERROR;
	}
	name = nftnl_table_get_str(t, NFTNL_TABLE_NAME);
	if (nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY) != NFPROTO_INET || !name ||
	    !startswith(name, ctx->prefix))
		return MNL_CB_OK;
	if (ctx->n >= TABLES_MAX) {
		ctx->error = -E2BIG;
		return MNL_CB_ERROR;
	}
	v = realloc(ctx->names, (ctx->n + 2) * sizeof(*v));
	if (!v) {
		ctx->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	ctx->names = v;
	v[ctx->n] = strdup(name);
	v[ctx->n + 1] = NULL;
	if (!v[ctx->n]) {
		ctx->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	ctx->n++;
	return MNL_CB_OK;
}

int nft_list_tables(struct mnl_socket *nl, const char *prefix, char ***ret)
{
	_cleanup_free_ char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	struct list_ctx ctx = {.prefix = prefix};
	uint32_t seq = seq_reserve(1), portid = mnl_socket_get_portid(nl);
	struct nlmsghdr *nlh;
	int r;

	if (!buf)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_DUMP, seq);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = negative_errno();
		goto fail;
	}
	do {
		r = recv_timeout(nl, buf, MNL_SOCKET_BUFFER_SIZE);
		if (r < 0)
			goto fail;
		r = mnl_cb_run(buf, r, seq, portid, list_cb, &ctx);
		if (r < 0) {
			r = ctx.error < 0 ? ctx.error : negative_errno();
			goto fail;
		}
	} while (r > MNL_CB_STOP);

	if (!ctx.names) {
		ctx.names = calloc(1, sizeof(char *));
		if (!ctx.names)
			return -ENOMEM;
	}
	*ret = ctx.names;
	return 0;
fail:
	strv_free(ctx.names);
	return err_set(r, "listing nftables tables");
}
