/* test_nl.c: rtnetlink through libmnl. The builders are parsed back attribute by attribute with
 * libmnl (no kernel); the calls run against the real kernel, but only inside private network
 * namespaces made by this process: one "host" and one "cage" netns per test, never the
 * machine's own. Kernel state is read back with our own dumps, ioctls, sockets and `ip -j`. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <libmnl/libmnl.h>

#include "log.h"
#include "nl.h"
#include "nlassert.h"
#include "plan.h"

/* --- addresses ------------------------------------------------------------------------- */

static struct in_addr v4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static struct in6_addr v6(const char *s)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

/* --- builders, no kernel ---------------------------------------------------------------- */

static void veth_builder_nests_peer_name_and_netns_fd_under_linkinfo(void **state)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlattr *tb[MAX_ATTR], *info[MAX_ATTR], *data[MAX_ATTR], *peer[MAX_ATTR];
	const struct ifinfomsg *ifi, *pifi;
	const struct nlattr *p;
	struct nlmsghdr *nlh;

	/* garbage first: every field the kernel reads must be written by the builder */
	memset(buf, 0xa5, sizeof(buf));
	nlh = nl_build_veth_add(buf, 4242, "sl-0123abcd", "eth0", 37);
	assert_header(nlh, buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
		      4242);

	ifi = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(ifi->ifi_family, AF_UNSPEC);
	assert_int_equal(ifi->ifi_index, 0);
	assert_int_equal(ifi->ifi_flags, 0);
	assert_int_equal(ifi->ifi_change, 0);

	parse_msg(nlh, sizeof(*ifi), tb);
	assert_strz_attr(tb[IFLA_IFNAME], "sl-0123abcd");
	assert_null(tb[IFLA_NET_NS_FD]); /* the host end stays here */
	assert_u32_attr(tb[IFLA_NUM_TX_QUEUES], 1);
	assert_u32_attr(tb[IFLA_NUM_RX_QUEUES], 1);

	parse_nest(tb[IFLA_LINKINFO], info);
	assert_strz_attr(info[IFLA_INFO_KIND], "veth");
	parse_nest(info[IFLA_INFO_DATA], data);
	p = data[VETH_INFO_PEER];
	assert_non_null(p);

	/* VETH_INFO_PEER: a struct ifinfomsg, then the peer's own attributes */
	assert_true(mnl_attr_get_payload_len(p) >= MNL_ALIGN(sizeof(*pifi)));
	pifi = mnl_attr_get_payload(p);
	assert_int_equal(pifi->ifi_family, AF_UNSPEC);
	assert_int_equal(pifi->__ifi_pad, 0);
	assert_int_equal(pifi->ifi_type, 0);
	assert_int_equal(pifi->ifi_index, 0);
	assert_int_equal(pifi->ifi_flags, 0);
	assert_int_equal(pifi->ifi_change, 0);
	parse_exact((const char *)pifi + MNL_ALIGN(sizeof(*pifi)),
		    mnl_attr_get_payload_len(p) - MNL_ALIGN(sizeof(*pifi)), peer);
	assert_strz_attr(peer[IFLA_IFNAME], "eth0");
	assert_u32_attr(peer[IFLA_NET_NS_FD], 37);
	assert_u32_attr(peer[IFLA_NUM_TX_QUEUES], 1);
	assert_u32_attr(peer[IFLA_NUM_RX_QUEUES], 1);
	assert_null(peer[IFLA_LINKINFO]);
}

static void addr_builder_v4_has_local_and_address_and_no_flags_attr(void **state)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlattr *tb[MAX_ATTR];
	struct in_addr a = v4("10.77.0.1");
	const struct ifaddrmsg *ifa;
	struct nlmsghdr *nlh;

	memset(buf, 0xa5, sizeof(buf));
	nlh = nl_build_addr_add(buf, 7, 12, AF_INET, &a, 30);
	assert_header(nlh, buf, RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
		      7);
	ifa = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(ifa->ifa_family, AF_INET);
	assert_int_equal(ifa->ifa_prefixlen, 30);
	assert_int_equal(ifa->ifa_index, 12);
	assert_int_equal(ifa->ifa_scope, RT_SCOPE_UNIVERSE);
	assert_int_equal(ifa->ifa_flags, 0);

	parse_msg(nlh, sizeof(*ifa), tb);
	assert_bytes_attr(tb[IFA_LOCAL], &a, sizeof(a));
	assert_bytes_attr(tb[IFA_ADDRESS], &a, sizeof(a));
	assert_null(tb[IFA_FLAGS]);
}

static void addr_builder_v6_sets_nodad(void **state)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlattr *tb[MAX_ATTR];
	struct in6_addr a = v6("fd00:77::1");
	const struct ifaddrmsg *ifa;
	struct nlmsghdr *nlh;

	memset(buf, 0xa5, sizeof(buf));
	nlh = nl_build_addr_add(buf, 0xfffffffe, 3, AF_INET6, &a, 64);
	assert_header(nlh, buf, RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
		      0xfffffffe);
	ifa = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(ifa->ifa_family, AF_INET6);
	assert_int_equal(ifa->ifa_prefixlen, 64);
	assert_int_equal(ifa->ifa_index, 3);
	assert_int_equal(ifa->ifa_scope, RT_SCOPE_UNIVERSE);

	parse_msg(nlh, sizeof(*ifa), tb);
	assert_bytes_attr(tb[IFA_LOCAL], &a, sizeof(a));
	assert_bytes_attr(tb[IFA_ADDRESS], &a, sizeof(a));
	assert_u32_attr(tb[IFA_FLAGS], IFA_F_NODAD);
}

static void check_route_default(int family, const void *gw, size_t gwlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlattr *tb[MAX_ATTR];
	const struct rtmsg *rtm;
	struct nlmsghdr *nlh;

	memset(buf, 0xa5, sizeof(buf));
	nlh = nl_build_route_default(buf, 99, 5, family, gw);
	assert_header(nlh, buf, RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
		      99);
	rtm = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(rtm->rtm_family, family);
	assert_int_equal(rtm->rtm_dst_len, 0);
	assert_int_equal(rtm->rtm_src_len, 0);
	assert_int_equal(rtm->rtm_tos, 0);
	assert_int_equal(rtm->rtm_table, RT_TABLE_MAIN);
	assert_int_equal(rtm->rtm_protocol, RTPROT_STATIC);
	assert_int_equal(rtm->rtm_scope, RT_SCOPE_UNIVERSE);
	assert_int_equal(rtm->rtm_type, RTN_UNICAST);
	assert_int_equal(rtm->rtm_flags, 0);

	parse_msg(nlh, sizeof(*rtm), tb);
	assert_bytes_attr(tb[RTA_GATEWAY], gw, gwlen);
	assert_u32_attr(tb[RTA_OIF], 5);
	assert_null(tb[RTA_DST]);
}

static void route_builder_is_static_main_default_via_gateway_on_oif(void **state)
{
	struct in_addr g4 = v4("10.77.0.1");
	struct in6_addr g6 = v6("fd00:77::1");

	check_route_default(AF_INET, &g4, sizeof(g4));
	check_route_default(AF_INET6, &g6, sizeof(g6));
}

static void link_up_builder_sets_and_changes_only_iff_up(void **state)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct ifinfomsg *ifi;
	struct nlmsghdr *nlh;

	memset(buf, 0xa5, sizeof(buf));
	nlh = nl_build_link_up(buf, 1, 17);
	assert_header(nlh, buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 1);
	ifi = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(nlh->nlmsg_len, MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*ifi)));
	assert_int_equal(ifi->ifi_family, AF_UNSPEC);
	assert_int_equal(ifi->ifi_index, 17);
	assert_int_equal(ifi->ifi_flags, IFF_UP);
	assert_int_equal(ifi->ifi_change, IFF_UP);
}

/* --- the kernel, in private netns -------------------------------------------------------- */

struct world {
	int host_ns, cage_ns;		/* netns fds */
	struct mnl_socket *host, *cage; /* a NETLINK_ROUTE socket in each */
};

/* A fresh "host" netns for each test and a "cage" netns beside it; the test process stays
 * in the host one. Both go away when their fds and sockets are closed in teardown. */
static int world_setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	w->host_ns = w->cage_ns = -1;
	if (unshare(CLONE_NEWNET) < 0)
		goto fail;
	w->host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (w->host_ns < 0 || unshare(CLONE_NEWNET) < 0)
		goto fail;
	w->cage_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (w->cage_ns < 0 || nl_open(NETLINK_ROUTE, &w->cage) < 0)
		goto fail;
	if (setns(w->host_ns, CLONE_NEWNET) < 0 || nl_open(NETLINK_ROUTE, &w->host) < 0)
		goto fail;
	err_clear();
	*state = w;
	return 0;
fail:
	fprintf(stderr, "world setup: %m\n");
	if (w->host_ns >= 0)
		(void)setns(w->host_ns, CLONE_NEWNET);
	if (w->cage)
		mnl_socket_close(w->cage);
	if (w->host_ns >= 0)
		close(w->host_ns);
	if (w->cage_ns >= 0)
		close(w->cage_ns);
	free(w);
	return -1;
}

static int world_teardown(void **state)
{
	struct world *w = *state;

	if (!w)
		return 0;
	/* back home first, in case a test failed while inside the cage */
	(void)setns(w->host_ns, CLONE_NEWNET);
	if (w->host)
		mnl_socket_close(w->host);
	if (w->cage)
		mnl_socket_close(w->cage);
	close(w->host_ns);
	close(w->cage_ns);
	free(w);
	return 0;
}

static void enter(int ns)
{
	assert_int_equal(setns(ns, CLONE_NEWNET), 0);
}

/* Run a shell command in the netns ns and return its stdout (static buffer). */
static const char *capture(int ns, const char *cmd)
{
	static char out[65536];
	size_t n = 0, k;
	FILE *f;

	enter(ns);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (n < sizeof(out) - 1 && (k = fread(out + n, 1, sizeof(out) - 1 - n, f)) > 0)
		n += k;
	out[n] = '\0';
	assert_int_equal(pclose(f), 0);
	return out;
}

static void run(int ns, const char *cmd)
{
	(void)capture(ns, cmd);
}

static unsigned index_of(struct mnl_socket *nl, const char *name)
{
	unsigned idx = 0;

	assert_int_equal(nl_link_index(nl, name, &idx), 0);
	assert_true(idx > 0);
	return idx;
}

static unsigned link_flags(int ns, const char *name)
{
	struct ifreq ifr = {0};
	int fd;

	enter(ns);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	close(fd);
	return (unsigned short)ifr.ifr_flags;
}

/* bind() fails with EADDRNOTAVAIL while an address is tentative: that is what a cage's first
 * connect would hit. Returns 0 or -errno. */
static int bind_v6_in(int ns, const char *addr)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = v6(addr)};
	int fd, r;

	enter(ns);
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Wait until a condition holds, for up to 5 s; false if it never did. */
#define WAIT_FOR(cond)                                                                             \
	({                                                                                         \
		bool _ok = false;                                                                  \
		for (int _i = 0; _i < 500 && !(_ok = (cond)); _i++)                                \
			usleep(10000);                                                             \
		_ok;                                                                               \
	})

/* The veth used by most tests: host end "sl-test" here, "eth0" in the cage. */
static void make_pair(struct world *w, unsigned *host_idx, unsigned *cage_idx)
{
	assert_int_equal(nl_veth_add(w->host, "sl-test", "eth0", w->cage_ns), 0);
	*host_idx = index_of(w->host, "sl-test");
	*cage_idx = index_of(w->cage, "eth0");
}

/* Addresses on both ends, both ends and the cage's lo up: what cage.c does. */
static void wire_pair(struct world *w, unsigned host_idx, unsigned cage_idx)
{
	struct in_addr h4 = v4("10.77.0.1"), c4 = v4("10.77.0.2");
	struct in6_addr h6 = v6("fd00:77::1"), c6 = v6("fd00:77::2");

	assert_int_equal(nl_addr_add(w->host, host_idx, AF_INET, &h4, 30), 0);
	assert_int_equal(nl_addr_add(w->host, host_idx, AF_INET6, &h6, 64), 0);
	assert_int_equal(nl_link_up(w->host, host_idx), 0);
	assert_int_equal(nl_link_up(w->cage, 1), 0);
	assert_int_equal(nl_addr_add(w->cage, cage_idx, AF_INET, &c4, 30), 0);
	assert_int_equal(nl_addr_add(w->cage, cage_idx, AF_INET6, &c6, 64), 0);
	assert_int_equal(nl_link_up(w->cage, cage_idx), 0);
}

static void open_of_unknown_bus_returns_negative_errno(void **state)
{
	struct mnl_socket *nl = (struct mnl_socket *)0x1;

	err_clear();
	assert_int_equal(nl_open(31, &nl), -EPROTONOSUPPORT);
	assert_ptr_equal(nl, (struct mnl_socket *)0x1); /* untouched on failure */
	assert_true(err_is_set());
}

static void veth_peer_is_born_in_the_cage_netns(void **state)
{
	struct world *w = *state;
	unsigned idx = 12345;
	unsigned host_idx, cage_idx;

	make_pair(w, &host_idx, &cage_idx);
	/* each end exists in its own netns only */
	assert_int_equal(nl_link_index(w->host, "eth0", &idx), -ENODEV);
	assert_int_equal(nl_link_index(w->cage, "sl-test", &idx), -ENODEV);
	assert_int_equal(idx, 12345); /* untouched on failure */
	/* ...and they are one pair: the host end's peer lives in another netns */
	assert_non_null(
	    strstr(capture(w->host_ns, "ip -j -d link show dev sl-test"), "\"link_netnsid\":"));
	assert_non_null(
	    strstr(capture(w->cage_ns, "ip -j -d link show dev eth0"), "\"info_kind\":\"veth\""));
	/* the caller's netns fd is not consumed */
	assert_true(fcntl(w->cage_ns, F_GETFD) >= 0);
}

static void link_index_of_missing_name_is_enodev(void **state)
{
	struct world *w = *state;
	unsigned idx = 777;

	assert_int_equal(nl_link_index(w->host, "sl-missing", &idx), -ENODEV);
	assert_int_equal(idx, 777);
	/* lo is always 1 in a netns; the lookup goes through the socket's netns */
	assert_int_equal(index_of(w->host, "lo"), 1);
	assert_int_equal(index_of(w->cage, "lo"), 1);
}

static void second_veth_with_same_name_is_eexist_and_leaves_the_first(void **state)
{
	struct world *w = *state;
	unsigned host_idx, cage_idx, idx;

	make_pair(w, &host_idx, &cage_idx);
	err_clear();
	assert_int_equal(nl_veth_add(w->host, "sl-test", "eth1", w->cage_ns), -EEXIST);
	assert_non_null(strstr(err_message(-EEXIST), "sl-test"));
	assert_int_equal(nl_veth_add(w->host, "sl-test", "eth0", w->cage_ns), -EEXIST);
	/* the first pair is untouched and no stray peer was made */
	assert_int_equal(index_of(w->host, "sl-test"), host_idx);
	assert_int_equal(index_of(w->cage, "eth0"), cage_idx);
	assert_int_equal(nl_link_index(w->cage, "eth1", &idx), -ENODEV);
}

static void mutations_on_a_missing_link_return_the_kernels_errno(void **state)
{
	struct world *w = *state;
	struct in_addr a = v4("10.77.0.1");
	int r;

	assert_int_equal(nl_link_up(w->host, 4242), -ENODEV);
	assert_int_equal(nl_addr_add(w->host, 4242, AF_INET, &a, 30), -ENODEV);
	/* the kernel checks the gateway against the missing link first */
	r = nl_route_add_default(w->host, 4242, AF_INET, &a);
	assert_true(r == -ENETUNREACH || r == -ENODEV);
	assert_non_null(strstr(err_message(r), "link 4242"));
	assert_int_equal(nl_link_del(w->host, "sl-missing"), -ENODEV);
}

static void host_addresses_are_added_and_ipv6_is_usable_at_once(void **state)
{
	struct world *w = *state;
	struct in_addr h4 = v4("10.77.0.1");
	struct in6_addr h6 = v6("fd00:77::1");
	unsigned host_idx, cage_idx;
	const char *out;

	make_pair(w, &host_idx, &cage_idx);
	assert_int_equal(nl_addr_add(w->host, host_idx, AF_INET, &h4, 30), 0);
	assert_int_equal(nl_addr_add(w->host, host_idx, AF_INET6, &h6, 64), 0);
	/* Checked at once, no sleep: without NODAD the address stays tentative for DAD. */
	assert_int_equal(bind_v6_in(w->host_ns, "fd00:77::1"), 0);
	out = capture(w->host_ns, "ip -j -6 addr show dev sl-test scope global");
	assert_non_null(strstr(out, "\"local\":\"fd00:77::1\",\"prefixlen\":64"));
	assert_null(strstr(out, "tentative"));
	out = capture(w->host_ns, "ip -j -4 addr show dev sl-test");
	assert_non_null(strstr(out, "\"local\":\"10.77.0.1\",\"prefixlen\":30"));
	/* the same address again is refused (NLM_F_EXCL) */
	assert_int_equal(nl_addr_add(w->host, host_idx, AF_INET, &h4, 30), -EEXIST);

	assert_false(link_flags(w->host_ns, "sl-test") & IFF_UP);
	assert_int_equal(nl_link_up(w->host, host_idx), 0);
	assert_true(link_flags(w->host_ns, "sl-test") & IFF_UP);
	assert_false(link_flags(w->cage_ns, "eth0") & IFF_UP); /* only the one asked for */
	assert_int_equal(nl_link_up(w->host, host_idx), 0);    /* idempotent */
	/* with the cage end up too the pair gets carrier; the address is still usable */
	assert_int_equal(nl_link_up(w->cage, cage_idx), 0);
	assert_true(link_flags(w->cage_ns, "eth0") & IFF_UP);
	assert_int_equal(bind_v6_in(w->host_ns, "fd00:77::1"), 0);
	assert_null(strstr(capture(w->host_ns, "ip -j -6 addr show dev sl-test scope global"),
			   "tentative"));
}

static const struct prefix *find_prefix(const struct prefix *v, size_t n, int family,
					const char *addr, unsigned len, bool masked)
{
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} want = {0};
	size_t alen = family == AF_INET ? 4 : 16;

	assert_int_equal(inet_pton(family, addr, &want), 1);
	for (size_t i = 0; i < n; i++) {
		uint8_t got[16] = {0};

		if (v[i].family != family || v[i].len != len)
			continue;
		memcpy(got, &v[i].ip, alen);
		/* a subnet may be reported by any address inside it */
		if (masked)
			for (unsigned b = len; b < alen * 8; b++)
				got[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
		if (memcmp(got, &want, alen) == 0)
			return &v[i];
	}
	return NULL;
}

static bool has_link_local_v6(const struct prefix *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].family == AF_INET6 && v[i].ip.v6.s6_addr[0] == 0xfe &&
		    (v[i].ip.v6.s6_addr[1] & 0xc0) == 0x80)
			return true;
	return false;
}

static bool has_default(const struct prefix *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].len == 0)
			return true;
	return false;
}

static void dump(struct world *w, struct host_facts *f)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(nl_dump_prefixes(w->host, f), 0);
}

static void dump_prefixes_lists_subnets_and_addresses_but_not_link_local(void **state)
{
	struct world *w = *state;
	unsigned host_idx, cage_idx;
	struct host_facts f;

	make_pair(w, &host_idx, &cage_idx);
	wire_pair(w, host_idx, cage_idx);
	/* the kernel adds fe80:: once the pair has carrier: wait for it, so skipping it is
	 * really tested */
	assert_true(
	    WAIT_FOR(strstr(capture(w->host_ns, "ip -j -6 addr show dev sl-test scope link"),
			    "\"local\":\"fe80:") != NULL));
	run(w->host_ns, "ip route add 198.51.100.0/24 via 10.77.0.2");
	run(w->host_ns, "ip route add default via 10.77.0.2");
	run(w->host_ns, "ip -6 route add default via fd00:77::2");

	dump(w, &f);
	assert_non_null(find_prefix(f.taken, f.n_taken, AF_INET, "10.77.0.0", 30, true));
	assert_non_null(find_prefix(f.taken, f.n_taken, AF_INET6, "fd00:77::", 64, true));
	assert_non_null(find_prefix(f.taken, f.n_taken, AF_INET, "198.51.100.0", 24, false));
	assert_non_null(find_prefix(f.local, f.n_local, AF_INET, "10.77.0.1", 32, false));
	assert_non_null(find_prefix(f.local, f.n_local, AF_INET6, "fd00:77::1", 128, false));
	/* the cage's side is not the host's */
	assert_null(find_prefix(f.local, f.n_local, AF_INET, "10.77.0.2", 32, false));
	assert_false(has_link_local_v6(f.taken, f.n_taken));
	assert_false(has_link_local_v6(f.local, f.n_local));
	assert_false(has_default(f.taken, f.n_taken));
	for (size_t i = 0; i < f.n_local; i++)
		assert_int_equal(f.local[i].len, f.local[i].family == AF_INET ? 32 : 128);
	host_facts_free(&f);

	/* the address's subnet is taken by the address itself, not only by its route */
	run(w->host_ns, "ip route del default");
	run(w->host_ns, "ip route del 198.51.100.0/24");
	run(w->host_ns, "ip route del 10.77.0.0/30 dev sl-test");
	assert_null(strstr(capture(w->host_ns, "ip -j -4 route show table main"), "10.77.0.0"));
	dump(w, &f);
	assert_non_null(find_prefix(f.taken, f.n_taken, AF_INET, "10.77.0.0", 30, true));
	assert_null(find_prefix(f.taken, f.n_taken, AF_INET, "198.51.100.0", 24, false));
	host_facts_free(&f);
}

static void dump_prefixes_of_an_empty_netns_is_empty(void **state)
{
	struct world *w = *state;
	struct host_facts f;

	/* a fresh netns: lo down, no addresses, no routes */
	dump(w, &f);
	assert_int_equal(f.n_taken, 0);
	assert_int_equal(f.n_local, 0);
	host_facts_free(&f);
}

/* Our own route dump, through a socket of the netns to look in: is there a default route of
 * family via gw out of oif in the main table, as nl_route_add_default makes it? */
struct route_want {
	int family;
	const void *gw;
	unsigned oif;
	bool found;
};

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, RTA_MAX) > 0)
		tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_want *want = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = {0};
	size_t len = want->family == AF_INET ? 4 : 16;

	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb);
	if (rtm->rtm_family == want->family && rtm->rtm_dst_len == 0 && !tb[RTA_DST] &&
	    rtm->rtm_table == RT_TABLE_MAIN && rtm->rtm_protocol == RTPROT_STATIC &&
	    rtm->rtm_type == RTN_UNICAST && tb[RTA_GATEWAY] && tb[RTA_OIF] &&
	    mnl_attr_get_payload_len(tb[RTA_GATEWAY]) == len &&
	    memcmp(mnl_attr_get_payload(tb[RTA_GATEWAY]), want->gw, len) == 0 &&
	    mnl_attr_get_u32(tb[RTA_OIF]) == want->oif)
		want->found = true;
	return MNL_CB_OK;
}

static bool has_default_route(struct mnl_socket *nl, int family, const void *gw, unsigned oif)
{
	char buf[32768];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	struct route_want want = {.family = family, .gw = gw, .oif = oif};
	uint32_t portid = mnl_socket_get_portid(nl), seq = 0x5eed;
	int r;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	assert_true(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) > 0);
	do {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		assert_true(n > 0);
		r = mnl_cb_run(buf, (size_t)n, seq, portid, route_cb, &want);
		assert_true(r >= 0);
	} while (r != MNL_CB_STOP);
	return want.found;
}

static void cage_side_gets_address_link_and_default_routes(void **state)
{
	struct world *w = *state;
	struct in_addr h4 = v4("10.77.0.1");
	struct in6_addr h6 = v6("fd00:77::1");
	unsigned host_idx, cage_idx;
	const char *out;

	make_pair(w, &host_idx, &cage_idx);
	wire_pair(w, host_idx, cage_idx);
	assert_int_equal(nl_route_add_default(w->cage, cage_idx, AF_INET, &h4), 0);
	assert_int_equal(nl_route_add_default(w->cage, cage_idx, AF_INET6, &h6), 0);

	assert_true(link_flags(w->cage_ns, "eth0") & IFF_UP);
	assert_true(link_flags(w->cage_ns, "lo") & IFF_UP);
	assert_int_equal(bind_v6_in(w->cage_ns, "fd00:77::2"), 0);
	assert_true(has_default_route(w->cage, AF_INET, &h4, cage_idx));
	assert_true(has_default_route(w->cage, AF_INET6, &h6, cage_idx));
	/* the routes went into the cage, not the host */
	assert_false(has_default_route(w->host, AF_INET, &h4, cage_idx));
	out = capture(w->cage_ns, "ip -j route show default");
	assert_non_null(strstr(out, "\"gateway\":\"10.77.0.1\",\"dev\":\"eth0\""));
	assert_null(strstr(capture(w->host_ns, "ip -j route show default"), "gateway"));
	/* a second default route of the same kind is refused (NLM_F_EXCL) */
	assert_int_equal(nl_route_add_default(w->cage, cage_idx, AF_INET, &h4), -EEXIST);
}

/* Send a datagram from the cage to dst and receive it on the host: the default routes carry
 * traffic, over the pair, in both families. */
static void send_from_cage_to_host(struct world *w, int family, const char *dst)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	struct pollfd pfd;
	char got[8] = {0};
	int rx, tx;

	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(4711);
		s->sin_addr = v4(dst);
		sl = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(4711);
		s->sin6_addr = v6(dst);
		sl = sizeof(*s);
	}
	enter(w->host_ns);
	rx = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(rx >= 0);
	assert_int_equal(bind(rx, (struct sockaddr *)&ss, sl), 0);
	enter(w->cage_ns);
	tx = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(tx >= 0);
	enter(w->host_ns);
	assert_int_equal(sendto(tx, "caged", 5, 0, (struct sockaddr *)&ss, sl), 5);
	pfd = (struct pollfd){.fd = rx, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 3000), 1);
	assert_int_equal(recv(rx, got, sizeof(got), 0), 5);
	assert_string_equal(got, "caged");
	close(tx);
	close(rx);
}

static void cage_default_routes_carry_traffic_to_the_host(void **state)
{
	struct world *w = *state;
	struct in_addr h4 = v4("10.77.0.1");
	struct in6_addr h6 = v6("fd00:77::1");
	unsigned host_idx, cage_idx;

	make_pair(w, &host_idx, &cage_idx);
	wire_pair(w, host_idx, cage_idx);
	assert_int_equal(nl_route_add_default(w->cage, cage_idx, AF_INET, &h4), 0);
	assert_int_equal(nl_route_add_default(w->cage, cage_idx, AF_INET6, &h6), 0);
	/* addresses beyond the cage's subnets, reachable only by the default routes */
	run(w->host_ns, "ip link set lo up && ip addr add 198.51.100.7/32 dev lo && "
			"ip addr add 2001:db8::7/128 dev lo nodad");
	assert_true(WAIT_FOR(strstr(capture(w->host_ns, "ip -j link show dev sl-test"),
				    "\"operstate\":\"UP\"") != NULL));
	send_from_cage_to_host(w, AF_INET, "198.51.100.7");
	send_from_cage_to_host(w, AF_INET6, "2001:db8::7");
	/* the cage's own side is usable at once too (no tentative source address) */
	send_from_cage_to_host(w, AF_INET6, "fd00:77::1");
}

static bool strv_has(char **v, const char *s)
{
	for (; *v; v++)
		if (streq(*v, s))
			return true;
	return false;
}

static void list_links_returns_exactly_the_names_with_the_prefix(void **state)
{
	struct world *w = *state;
	char **names = NULL;

	assert_int_equal(nl_veth_add(w->host, "sl-one", "eth0", w->cage_ns), 0);
	assert_int_equal(nl_veth_add(w->host, "sl-two", "eth1", w->cage_ns), 0);
	assert_int_equal(nl_veth_add(w->host, "xsl-three", "eth2", w->cage_ns), 0);
	assert_int_equal(nl_veth_add(w->host, "sl0", "eth3", w->cage_ns), 0);
	assert_int_equal(nl_veth_add(w->host, "s", "eth4", w->cage_ns), 0);

	assert_int_equal(nl_list_links(w->host, "sl-", &names), 0);
	assert_non_null(names);
	assert_non_null(names[0]);
	assert_non_null(names[1]);
	assert_null(names[2]);
	assert_true(strv_has(names, "sl-one"));
	assert_true(strv_has(names, "sl-two"));
	strv_free(names);

	/* the cage's links are not listed from the host, and none match: an empty strv */
	names = NULL;
	assert_int_equal(nl_list_links(w->host, "eth", &names), 0);
	assert_non_null(names);
	assert_null(names[0]);
	strv_free(names);

	/* and from the cage, its own */
	names = NULL;
	assert_int_equal(nl_list_links(w->cage, "eth", &names), 0);
	for (int i = 0; i < 5; i++) {
		char n[8];

		snprintf(n, sizeof(n), "eth%d", i);
		assert_true(strv_has(names, n));
	}
	assert_null(names[5]);
	strv_free(names);
}

static void link_del_removes_both_ends_and_second_delete_is_enodev(void **state)
{
	struct world *w = *state;
	unsigned host_idx, cage_idx, idx;
	char **names = NULL;

	make_pair(w, &host_idx, &cage_idx);
	assert_int_equal(nl_link_del(w->host, "sl-test"), 0);
	assert_int_equal(nl_link_index(w->host, "sl-test", &idx), -ENODEV);
	assert_int_equal(nl_link_index(w->cage, "eth0", &idx), -ENODEV);
	assert_int_equal(nl_list_links(w->cage, "", &names), 0);
	assert_string_equal(names[0], "lo");
	assert_null(names[1]);
	strv_free(names);
	assert_int_equal(nl_link_del(w->host, "sl-test"), -ENODEV);
	/* and it can be made again under the same names */
	make_pair(w, &host_idx, &cage_idx);
}

#define KTEST(f) cmocka_unit_test_setup_teardown(f, world_setup, world_teardown)

int main(void)
{
	const struct CMUnitTest builders[] = {
	    cmocka_unit_test(veth_builder_nests_peer_name_and_netns_fd_under_linkinfo),
	    cmocka_unit_test(addr_builder_v4_has_local_and_address_and_no_flags_attr),
	    cmocka_unit_test(addr_builder_v6_sets_nodad),
	    cmocka_unit_test(route_builder_is_static_main_default_via_gateway_on_oif),
	    cmocka_unit_test(link_up_builder_sets_and_changes_only_iff_up),
	};
	const struct CMUnitTest kernel[] = {
	    cmocka_unit_test(open_of_unknown_bus_returns_negative_errno),
	    KTEST(veth_peer_is_born_in_the_cage_netns),
	    KTEST(link_index_of_missing_name_is_enodev),
	    KTEST(second_veth_with_same_name_is_eexist_and_leaves_the_first),
	    KTEST(mutations_on_a_missing_link_return_the_kernels_errno),
	    KTEST(host_addresses_are_added_and_ipv6_is_usable_at_once),
	    KTEST(dump_prefixes_lists_subnets_and_addresses_but_not_link_local),
	    KTEST(dump_prefixes_of_an_empty_netns_is_empty),
	    KTEST(cage_side_gets_address_link_and_default_routes),
	    KTEST(cage_default_routes_carry_traffic_to_the_host),
	    KTEST(list_links_returns_exactly_the_names_with_the_prefix),
	    KTEST(link_del_removes_both_ends_and_second_delete_is_enodev),
	};
	int fails;

	fails = cmocka_run_group_tests_name("builders", builders, NULL, NULL);
	fails += cmocka_run_group_tests_name("kernel", kernel, enter_private_netns, NULL);
	return fails;
}
