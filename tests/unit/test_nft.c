/* test_nft.c: the nftables rulesets. The text is checked against golden copies, the batch is
 * parsed back with libnftnl, and (as root) both are loaded into a throwaway network namespace,
 * listed by `nft` and compared with the rendered text, and tried with real connects. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "log.h"
#include "nft.h"
#include "nl.h"

static struct allowed allowed[3];
static struct plan plan;

static void fill_plan(struct plan *p, bool masquerade)
{
	memset(allowed, 0, sizeof(allowed));
	allowed[0] = (struct allowed){.on_host = true, .is_proxy = true};
	allowed[0].ep = (struct endpoint){
	    .family = AF_INET, .proto = IPPROTO_TCP, .port = 8888, .scheme = SCHEME_HTTP};
	inet_pton(AF_INET, "10.250.0.1", &allowed[0].ep.ip.v4);
	allowed[1].ep = (struct endpoint){.family = AF_INET, .proto = IPPROTO_TCP, .port = 443};
	inet_pton(AF_INET, "203.0.113.7", &allowed[1].ep.ip.v4);
	allowed[2].ep = (struct endpoint){.family = AF_INET6, .proto = IPPROTO_UDP, .port = 53};
	inet_pton(AF_INET6, "2001:db8::53", &allowed[2].ep.ip.v6);

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "agent");
	p->link = LINK_VETH;
	snprintf(p->host_if, sizeof(p->host_if), "sl-1234abcd");
	snprintf(p->cage_if, sizeof(p->cage_if), "eth0");
	inet_pton(AF_INET, "10.250.0.1", &p->host_v4);
	inet_pton(AF_INET, "10.250.0.2", &p->cage_v4);
	p->v4_prefix = 30;
	inet_pton(AF_INET6, "fd12:3456:789a:bcde::1", &p->host_v6);
	inet_pton(AF_INET6, "fd12:3456:789a:bcde::2", &p->cage_v6);
	p->v6_prefix = 64;
	p->ipv6 = true;
	p->allowed = allowed;
	p->n_allowed = ARRAY_SIZE(allowed);
	p->masquerade = masquerade;
	snprintf(p->cage_table, sizeof(p->cage_table), "sluice");
	snprintf(p->host_table, sizeof(p->host_table), "sluice_agent");
}

static int setup_plan(void **state)
{
	fill_plan(&plan, true);
	err_clear();
	return 0;
}

static const char golden_cage[] = "table inet sluice {\n"
				  "\tchain input {\n"
				  "\t\ttype filter hook input priority filter; policy drop;\n"
				  "\t\tiif \"lo\" accept\n"
				  "\t\tct state established,related accept\n"
				  "\t\ticmpv6 type nd-neighbor-solicit accept\n"
				  "\t\ticmpv6 type nd-neighbor-advert accept\n"
				  "\t\tmeta l4proto tcp counter reject with tcp reset\n"
				  "\t\tcounter\n"
				  "\t}\n"
				  "\n"
				  "\tchain output {\n"
				  "\t\ttype filter hook output priority filter; policy drop;\n"
				  "\t\toif \"lo\" accept\n"
				  "\t\tct state established,related accept\n"
				  "\t\ticmpv6 type nd-neighbor-solicit accept\n"
				  "\t\ticmpv6 type nd-neighbor-advert accept\n"
				  "\t\tip daddr 10.250.0.1 tcp dport 8888 accept\n"
				  "\t\tip daddr 203.0.113.7 tcp dport 443 accept\n"
				  "\t\tip6 daddr 2001:db8::53 udp dport 53 accept\n"
				  "\t\tmeta l4proto tcp counter reject with tcp reset\n"
				  "\t\tcounter reject with icmpx admin-prohibited\n"
				  "\t}\n"
				  "\n"
				  "\tchain forward {\n"
				  "\t\ttype filter hook forward priority filter; policy drop;\n"
				  "\t}\n"
				  "}\n";

static const char golden_host[] =
    "table inet sluice_agent {\n"
    "\tchain input {\n"
    "\t\ttype filter hook input priority filter - 10; policy accept;\n"
    "\t\tiifname != \"sl-1234abcd\" accept\n"
    "\t\tct state established,related accept\n"
    "\t\ticmpv6 type nd-neighbor-solicit accept\n"
    "\t\ticmpv6 type nd-neighbor-advert accept\n"
    "\t\tip daddr 10.250.0.1 tcp dport 8888 accept\n"
    "\t\tmeta l4proto tcp counter reject with tcp reset\n"
    "\t\tcounter drop\n"
    "\t}\n"
    "\n"
    "\tchain forward {\n"
    "\t\ttype filter hook forward priority filter - 10; policy accept;\n"
    "\t\tiifname \"sl-1234abcd\" ip daddr 203.0.113.7 tcp dport 443 accept\n"
    "\t\tiifname \"sl-1234abcd\" ip6 daddr 2001:db8::53 udp dport 53 accept\n"
    "\t\tiifname \"sl-1234abcd\" counter drop\n"
    "\t\toifname \"sl-1234abcd\" ct state established,related accept\n"
    "\t\toifname \"sl-1234abcd\" counter drop\n"
    "\t}\n"
    "\n"
    "\tchain postrouting {\n"
    "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
    "\t\tip saddr 10.250.0.2 oifname != \"sl-1234abcd\" masquerade\n"
    "\t\tip6 saddr fd12:3456:789a:bcde::2 oifname != \"sl-1234abcd\" masquerade\n"
    "\t}\n"
    "}\n";

/* The rendered text, in a string the caller frees. */
static char *render(int (*fn)(const struct plan *, struct text *), const struct plan *p)
{
	struct text t = TEXT_INIT;

	assert_int_equal(fn(p, &t), 0);
	return t.buf;
}

static void cage_text_matches_golden(void **state)
{
	_cleanup_free_ char *s = render(nft_render_cage, &plan);

	assert_string_equal(s, golden_cage);
}

static void host_text_matches_golden(void **state)
{
	_cleanup_free_ char *s = render(nft_render_host, &plan);

	assert_string_equal(s, golden_host);
}

static void host_without_masquerade_has_no_postrouting(void **state)
{
	_cleanup_free_ char *s = NULL;

	plan.masquerade = false;
	s = render(nft_render_host, &plan);
	assert_null(strstr(s, "postrouting"));
	assert_null(strstr(s, "masquerade"));
	assert_non_null(strstr(s, "chain forward"));
}

static void ipv4_only_cage_has_no_neighbour_discovery(void **state)
{
	_cleanup_free_ char *s = NULL;

	plan.ipv6 = false;
	plan.n_allowed = 2;
	s = render(nft_render_cage, &plan);
	assert_null(strstr(s, "icmpv6"));
	assert_null(strstr(s, "ip6"));
	assert_non_null(strstr(s, "ip daddr 203.0.113.7 tcp dport 443 accept"));
}

static void bad_endpoint_is_einval(void **state)
{
	char buf[4096];
	_cleanup_text_ struct text t = TEXT_INIT;
	struct text *f = &t;

	allowed[1].ep.proto = IPPROTO_SCTP;
	assert_int_equal(nft_render_cage(&plan, f), -EINVAL);
	assert_int_equal(nft_build_host(&plan, buf, sizeof(buf), 1), -EINVAL);
	assert_true(err_is_set());
	allowed[1].ep.proto = IPPROTO_TCP;
	allowed[1].ep.family = AF_UNIX;
	assert_int_equal(nft_render_host(&plan, f), -EINVAL);
}

/* ---- the batch, parsed back ---- */

struct want_chain {
	const char *name, *type;
	uint32_t hook;
	int32_t prio;
	uint32_t policy;
	unsigned rules;
};

struct parsed {
	char table[64];
	unsigned n_chains, n_rules;
	unsigned rules_in[8]; /* per want_chain index */
	char exprs[64][256];  /* each rule's expressions, space separated, cmp=DATA in hex */
};

static int expr_name_cb(struct nftnl_expr *e, void *data)
{
	char *s = data;
	size_t n = strlen(s);

	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	n += (size_t)snprintf(s + n, 256 - n, "%s%s", n ? " " : "", name);
	/* a comparison with what it compares to, so that a wrong address or port shows */
	if (streq(name, "cmp") && n < 256) {
		uint32_t len = 0;
		const uint8_t *d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);

		n += (size_t)snprintf(s + n, 256 - n, "=");
		for (uint32_t i = 0; d && i < len && n < 256; i++)
			n += (size_t)snprintf(s + n, 256 - n, "%02x", d[i]);
	}
	return 0;
}

static void parse_batch(const void *buf, ssize_t len, uint32_t seq, const struct want_chain *want,
			size_t n_want, struct parsed *out)
{
	const struct nlmsghdr *nlh = buf;
	int n = (int)len;
	uint32_t k = 0;

	memset(out, 0, sizeof(*out));
	assert_true(len > 0);
	for (; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n), k++) {
		uint16_t type = nlh->nlmsg_type;
		const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);

		/* consecutive sequence numbers are what maps an ack back to its rule */
		assert_int_equal(nlh->nlmsg_seq, seq + k);
		if (k == 0) {
			assert_int_equal(type, NFNL_MSG_BATCH_BEGIN);
			assert_int_equal(ntohs(nfg->res_id), NFNL_SUBSYS_NFTABLES);
			continue;
		}
		if (type == NFNL_MSG_BATCH_END) {
			k++;
			nlh = mnl_nlmsg_next(nlh, &n);
			break;
		}
		assert_int_equal(type >> 8, NFNL_SUBSYS_NFTABLES);
		assert_true(nlh->nlmsg_flags & NLM_F_ACK);
		assert_int_equal(nfg->nfgen_family, NFPROTO_INET);

		switch (type & 0xff) {
		case NFT_MSG_NEWTABLE: {
			_cleanup_(nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc();

			assert_int_equal(k, 1);
			assert_true(nlh->nlmsg_flags & NLM_F_EXCL);
			assert_int_equal(nftnl_table_nlmsg_parse(nlh, t), 0);
			snprintf(out->table, sizeof(out->table), "%s",
				 nftnl_table_get_str(t, NFTNL_TABLE_NAME));
			break;
		}
		case NFT_MSG_NEWCHAIN: {
			_cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
			const struct want_chain *w;

			assert_int_equal(nftnl_chain_nlmsg_parse(nlh, c), 0);
			assert_true(out->n_chains < n_want);
			assert_int_equal(out->n_rules, 0); /* chains before rules */
			w = &want[out->n_chains++];
			assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), out->table);
			assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), w->name);
			assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), w->type);
			assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), w->hook);
			assert_int_equal(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), w->prio);
			assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), w->policy);
			break;
		}
		case NFT_MSG_NEWRULE: {
			_cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
			const char *chain;
			size_t i;

			assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
			assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), out->table);
			chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
			for (i = 0; i < n_want && !streq(want[i].name, chain); i++)
				;
			assert_true(i < n_want);
			out->rules_in[i]++;
			assert_true(out->n_rules < ARRAY_SIZE(out->exprs));
			nftnl_expr_foreach(r, expr_name_cb, out->exprs[out->n_rules]);
			out->n_rules++;
			break;
		}
		default:
			fail_msg("unexpected message type %#x", type);
		}
	}
	/* the end message was last and nothing follows it */
	assert_int_equal(k, 3 + out->n_chains + out->n_rules); /* begin, table, end */
	assert_int_equal(n, 0);
	for (size_t i = 0; i < n_want; i++)
		assert_int_equal(out->rules_in[i], want[i].rules);
}

static void cage_batch_parses_back(void **state)
{
	static const struct want_chain want[] = {
	    {"input", "filter", NF_INET_LOCAL_IN, 0, NF_DROP, 6},
	    {"output", "filter", NF_INET_LOCAL_OUT, 0, NF_DROP, 9},
	    {"forward", "filter", NF_INET_FORWARD, 0, NF_DROP, 0},
	};
	static char buf[65536];
	struct parsed out;
	ssize_t len = nft_build_cage(&plan, buf, sizeof(buf), 1000);

	parse_batch(buf, len, 1000, want, ARRAY_SIZE(want), &out);
	assert_string_equal(out.table, "sluice");
	/* the expressions nft itself generates for these rules (nft --debug=netlink), with what
	 * each cmp compares to: iif 1 (lo), ct state, ICMPv6 ND types 135 and 136, tcp (6) */
	assert_string_equal(out.exprs[0], "meta cmp=01000000 immediate");
	assert_string_equal(out.exprs[1], "ct bitwise cmp=00000000 immediate");
	assert_string_equal(out.exprs[2], "meta cmp=0a meta cmp=3a payload cmp=87 immediate");
	assert_string_equal(out.exprs[3], "meta cmp=0a meta cmp=3a payload cmp=88 immediate");
	assert_string_equal(out.exprs[4], "meta cmp=06 counter reject");
	assert_string_equal(out.exprs[5], "counter");
	/* the allowed endpoints, address and port each: 10.250.0.1 tcp 8888, 203.0.113.7 tcp
	 * 443, 2001:db8::53 udp 53 */
	assert_string_equal(out.exprs[6 + 4], "meta cmp=02 payload cmp=0afa0001 meta cmp=06 "
					      "payload cmp=22b8 immediate");
	assert_string_equal(out.exprs[6 + 5], "meta cmp=02 payload cmp=cb007107 meta cmp=06 "
					      "payload cmp=01bb immediate");
	assert_string_equal(out.exprs[6 + 6],
			    "meta cmp=0a payload cmp=20010db8000000000000000000000053 meta cmp=11 "
			    "payload cmp=0035 immediate");
	assert_string_equal(out.exprs[6 + 8], "counter reject");
}

static void host_batch_parses_back(void **state)
{
	static const struct want_chain want[] = {
	    {"input", "filter", NF_INET_LOCAL_IN, -10, NF_ACCEPT, 7},
	    {"forward", "filter", NF_INET_FORWARD, -10, NF_ACCEPT, 5},
	    {"postrouting", "nat", NF_INET_POST_ROUTING, 100, NF_ACCEPT, 2},
	};
	static char buf[65536];
	struct parsed out;
	ssize_t len = nft_build_host(&plan, buf, sizeof(buf), 7);

	parse_batch(buf, len, 7, want, ARRAY_SIZE(want), &out);
	assert_string_equal(out.table, "sluice_agent");
	/* iifname "sl-1234abcd", then 203.0.113.7 tcp 443 and 2001:db8::53 udp 53 */
	assert_string_equal(out.exprs[7],
			    "meta cmp=736c2d31323334616263640000000000 meta cmp=02 "
			    "payload cmp=cb007107 meta cmp=06 payload cmp=01bb immediate");
	assert_string_equal(out.exprs[8],
			    "meta cmp=736c2d31323334616263640000000000 meta cmp=0a "
			    "payload cmp=20010db8000000000000000000000053 meta cmp=11 "
			    "payload cmp=0035 immediate");
	/* masquerade what comes from the cage's own address (10.250.0.2) out of the host */
	assert_string_equal(out.exprs[12], "meta cmp=02 payload cmp=0afa0002 meta "
					   "cmp=736c2d31323334616263640000000000 masq");

	plan.masquerade = false;
	len = nft_build_host(&plan, buf, sizeof(buf), 7);
	parse_batch(buf, len, 7, want, 2, &out);
}

static void small_buffer_is_enospc(void **state)
{
	static char buf[65536];
	ssize_t full = nft_build_cage(&plan, buf, sizeof(buf), 1);

	assert_true(full > 0);
	assert_int_equal(nft_build_cage(&plan, buf, 0, 1), -ENOSPC);
	assert_int_equal(nft_build_cage(&plan, buf, 16, 1), -ENOSPC);
	assert_int_equal(nft_build_cage(&plan, buf, full - 1, 1), -ENOSPC);
	assert_int_equal(nft_build_cage(&plan, buf, full, 1), full);
	assert_int_equal(nft_build_host(&plan, buf, 100, 1), -ENOSPC);
}

/* ---- in a throwaway network namespace (root) ---- */

static int host_netns = -1;

static int enter_netns(void **state)
{
	setup_plan(state);
	if (geteuid() != 0)
		return 0;
	host_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (host_netns < 0 || unshare(CLONE_NEWNET) < 0)
		return -1;
	return 0;
}

/* Back to the original namespace; the throwaway one and everything in it goes away. */
static int leave_netns(void **state)
{
	int r = 0;

	if (host_netns >= 0) {
		r = setns(host_netns, CLONE_NEWNET);
		close(host_netns);
		host_netns = -1;
	}
	return r;
}

static struct mnl_socket *nft_socket(void)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);

	assert_non_null(nl);
	assert_int_equal(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
	return nl;
}

static void require_root(void)
{
	if (geteuid() != 0)
		skip();
	/* the helpers below must run in the throwaway namespace, never in the host's */
	assert_true(host_netns >= 0);
}

/* `nft list table inet NAME` with the counters' values taken out, as render prints them. */
static char *nft_list(const char *table)
{
	char cmd[128], *s = NULL, *p, *q;
	size_t len = 0, n;
	FILE *in, *out;
	int c;

	snprintf(cmd, sizeof(cmd), "nft list table inet %s", table);
	in = popen(cmd, "r");
	assert_non_null(in);
	out = open_memstream(&s, &len);
	while ((c = fgetc(in)) != EOF)
		fputc(c, out);
	assert_int_equal(pclose(in), 0);
	fclose(out);
	while ((p = strstr(s, " packets "))) {
		q = strstr(p, " bytes ");
		assert_non_null(q);
		for (q += 7; *q >= '0' && *q <= '9'; q++)
			;
		n = strlen(q);
		memmove(p, q, n + 1);
	}
	return s;
}

static void loaded_rulesets_list_as_rendered(void **state)
{
	_cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
	_cleanup_free_ char *cage = NULL, *host = NULL, *cage_text = NULL, *host_text = NULL;

	require_root();
	nl = nft_socket();
	assert_int_equal(nft_load_cage(nl, &plan), 0);
	assert_int_equal(nft_load_host(nl, &plan), 0);

	cage = nft_list("sluice");
	host = nft_list("sluice_agent");
	cage_text = render(nft_render_cage, &plan);
	host_text = render(nft_render_host, &plan);
	/* what the kernel holds is exactly what `sluice check` shows */
	assert_string_equal(cage, cage_text);
	assert_string_equal(host, host_text);
}

static void table_exists_is_eexist_naming_table(void **state)
{
	_cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;

	require_root();
	nl = nft_socket();
	assert_int_equal(nft_load_host(nl, &plan), 0);
	err_clear();
	assert_int_equal(nft_load_host(nl, &plan), -EEXIST);
	assert_non_null(strstr(err_message(-EEXIST), "nftables table sluice_agent"));
	/* the socket is still usable: every ack of the failed batch was drained */
	assert_int_equal(nft_load_cage(nl, &plan), 0);
}

static void list_and_delete_tables(void **state)
{
	_cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
	_cleanup_strv_free_ char **names = NULL, **after = NULL, **all = NULL;

	require_root();
	nl = nft_socket();
	assert_int_equal(nft_load_cage(nl, &plan), 0);
	assert_int_equal(nft_load_host(nl, &plan), 0);
	assert_int_equal(system("nft add table ip sluice_other"), 0);

	assert_int_equal(nft_list_tables(nl, "sluice_", &names), 0);
	assert_non_null(names[0]);
	assert_string_equal(names[0], "sluice_agent");
	assert_null(names[1]); /* not the cage table, not the ip family one */
	assert_int_equal(nft_list_tables(nl, "sluice", &all), 0);
	assert_non_null(all[0]);
	assert_non_null(all[1]);
	assert_null(all[2]);

	assert_int_equal(nft_delete_table(nl, "sluice_agent"), 0);
	assert_int_equal(nft_list_tables(nl, "sluice_", &after), 0);
	assert_null(after[0]);
	assert_int_equal(nft_delete_table(nl, "sluice_agent"), -ENOENT);
	assert_non_null(strstr(err_message(-ENOENT), "sluice_agent"));
}

/* Start a non-blocking TCP connect and return its outcome within ms: 0 if still pending. */
static int try_connect(const char *ip, uint16_t port, int ms)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	socklen_t len = sizeof(int);
	int err = 0;

	assert_true(fd >= 0);
	inet_pton(AF_INET, ip, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 1;
	if (errno != EINPROGRESS)
		return -errno;
	if (poll(&pfd, 1, ms) == 0)
		return 0;
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	return err ? -err : 1;
}

static void cage_resets_denied_tcp_and_passes_allowed(void **state)
{
	_cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;

	require_root();
	/* a link with a default route, so packets get as far as the output hook; nobody
	 * answers on the other end */
	assert_int_equal(system("ip link set lo up && "
				"ip link add d0 type veth peer name d1 && "
				"ip addr add 192.0.2.2/24 dev d0 && ip link set d0 up && "
				"ip link set d1 up && ip route add default via 192.0.2.1"),
			 0);
	/* before the ruleset, nothing refuses the connect */
	assert_int_equal(try_connect("198.51.100.9", 80, 200), 0);

	nl = nft_socket();
	assert_int_equal(nft_load_cage(nl, &plan), 0);
	assert_int_equal(try_connect("198.51.100.9", 80, 2000), -ECONNREFUSED);
	assert_int_equal(try_connect("203.0.113.7", 80, 2000), -ECONNREFUSED);
	assert_int_equal(try_connect("203.0.113.7", 443, 200), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(cage_text_matches_golden, setup_plan),
	    cmocka_unit_test_setup(host_text_matches_golden, setup_plan),
	    cmocka_unit_test_setup(host_without_masquerade_has_no_postrouting, setup_plan),
	    cmocka_unit_test_setup(ipv4_only_cage_has_no_neighbour_discovery, setup_plan),
	    cmocka_unit_test_setup(bad_endpoint_is_einval, setup_plan),
	    cmocka_unit_test_setup(cage_batch_parses_back, setup_plan),
	    cmocka_unit_test_setup(host_batch_parses_back, setup_plan),
	    cmocka_unit_test_setup(small_buffer_is_enospc, setup_plan),
	    cmocka_unit_test_setup_teardown(loaded_rulesets_list_as_rendered, enter_netns,
					    leave_netns),
	    cmocka_unit_test_setup_teardown(table_exists_is_eexist_naming_table, enter_netns,
					    leave_netns),
	    cmocka_unit_test_setup_teardown(list_and_delete_tables, enter_netns, leave_netns),
	    cmocka_unit_test_setup_teardown(cage_resets_denied_tcp_and_passes_allowed, enter_netns,
					    leave_netns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
