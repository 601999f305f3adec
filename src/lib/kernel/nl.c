/* nl.c: rtnetlink through libmnl: the veth pair (born with its peer inside the cage's netns),
 * addresses, routes and link state, and the dumps of the host's addresses and routes that
 * subnet planning avoids; and the one sock_diag question the unix broker asks (which unix
 * sockets of a netns are bound to a file, and at which name). One helper sends a request and checks seq and port id of
 * every answer; replies are parsed with one attribute callback per nesting level. */
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <linux/veth.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <libmnl/libmnl.h>

#include "log.h"
#include "nl.h"

uint32_t nl_seq(void)
{
	static uint32_t seq;
	uint32_t zero = 0;

	/* The broker's threads ask too (nl_unix_bound). */
	__atomic_compare_exchange_n(&seq, &zero, (uint32_t)time(NULL), false, __ATOMIC_RELAXED,
				    __ATOMIC_RELAXED);
	return __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
}

int nl_open(int bus, struct mnl_socket **ret)
{
	_cleanup_(mnl_socket_closep) struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_CLOEXEC);

	if (!nl)
		return err_set(negative_errno(), "open netlink socket");
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return err_set(negative_errno(), "bind netlink socket");
	*ret = TAKE_PTR(nl);
	return 0;
}

static void nl_drain(struct mnl_socket *nl, char *buf, size_t len)
{
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, len);
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;

		if (n <= 0)
			return;
		for (int left = (int)n; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left))
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
				return;
	}
}

/* Send one request and read answers until its ack (or the end of a dump). The kernel's
 * verdict comes back as -1 with errno from mnl_cb_run. */
int nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[32768]; /* a dump batch is up to 32 KiB */
	uint32_t portid = mnl_socket_get_portid(nl);
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int r;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return negative_errno();
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return negative_errno();
		errno = 0;
		r = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (r == MNL_CB_STOP)
			return 0;
		if (r < 0) {
			/* A callback's own failure leaves errno alone: call it EINVAL. */
			r = errno ? -errno : -EINVAL;
			/* A dump stopped half-way (or marked NLM_F_DUMP_INTR: the table changed
			 * under it) still has parts in flight; read them off so the socket
			 * stays usable for the next request. */
			if ((nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP) /* EXCL shares a bit */
				nl_drain(nl, buf, sizeof(buf));
			return r;
		}
	}
}

static struct nlmsghdr *put_header(void *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	return nlh;
}

struct nlmsghdr *nl_build_veth_add(void *buf, uint32_t seq, const char *host_if,
				   const char *cage_if, int cage_netns_fd)
{
	struct nlmsghdr *nlh =
		put_header(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, seq);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *linkinfo, *data, *peer;
	struct ifinfomsg *pifi;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, host_if);
	/* One queue each way, on both ends, said at creation: a veth is otherwise made with a
	 * queue per CPU and cut down to one after registration, and each cut waits for an
	 * expedited RCU grace period with the RTNL held. */
	mnl_attr_put_u32(nlh, IFLA_NUM_TX_QUEUES, 1);
	mnl_attr_put_u32(nlh, IFLA_NUM_RX_QUEUES, 1);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer's attributes follow its own ifinfomsg inside VETH_INFO_PEER. */
	pifi = (struct ifinfomsg *)((char *)nlh + nlh->nlmsg_len);
	memset(pifi, 0, sizeof(*pifi));
	pifi->ifi_family = AF_UNSPEC;
	nlh->nlmsg_len += MNL_ALIGN(sizeof(*pifi));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, cage_if);
	mnl_attr_put_u32(nlh, IFLA_NUM_TX_QUEUES, 1);
	mnl_attr_put_u32(nlh, IFLA_NUM_RX_QUEUES, 1);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)cage_netns_fd);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return nlh;
}

int nl_veth_add(struct mnl_socket *nl, const char *host_if, const char *cage_if,
		int cage_netns_fd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int r = nl_talk(nl, nl_build_veth_add(buf, nl_seq(), host_if, cage_if, cage_netns_fd),
			NULL, NULL);

	return r < 0 ? err_set(r, "create veth %s", host_if) : 0;
}

int nl_link_del(struct mnl_socket *nl, const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = put_header(buf, RTM_DELLINK, NLM_F_ACK, nl_seq());
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	int r;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	r = nl_talk(nl, nlh, NULL, NULL);
	if (r == -ENODEV)
		return r;
	return r < 0 ? err_set(r, "delete link %s", name) : 0;
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFLA_MAX) < 0)
		return MNL_CB_OK;
	if (type == IFLA_IFNAME && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

struct link_query {
	unsigned index;
	const char *prefix;
	char **names;
	size_t n;
	int err;
};

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_query *q = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1] = {0};

	if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	q->index = (unsigned)ifi->ifi_index;
	if (q->prefix && tb[IFLA_IFNAME]) {
		const char *name = mnl_attr_get_str(tb[IFLA_IFNAME]);
		char **nv;

		if (!startswith(name, q->prefix))
			return MNL_CB_OK;
		nv = realloc(q->names, (q->n + 2) * sizeof(char *));
		if (!nv || !(nv[q->n] = strdup(name))) {
			if (nv)
				q->names = nv;
			q->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		q->names = nv;
		q->names[++q->n] = NULL;
	}
	return MNL_CB_OK;
}

int nl_link_index(struct mnl_socket *nl, const char *name, unsigned *ret)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = put_header(buf, RTM_GETLINK, NLM_F_ACK, nl_seq());
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct link_query q = {0};
	int r;

	/* By name through the socket, not if_nametoindex(): that asks the netns of the calling
	 * thread, while this socket may live in the cage's. */
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	r = nl_talk(nl, nlh, link_cb, &q);
	if (r < 0)
		return err_set(r, "find link %s", name);
	*ret = q.index;
	return 0;
}

int nl_list_links(struct mnl_socket *nl, const char *prefix, char ***ret)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = put_header(buf, RTM_GETLINK, NLM_F_DUMP, nl_seq());
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct link_query q = {.prefix = prefix};
	int r;

	ifi->ifi_family = AF_UNSPEC;
	q.names = calloc(1, sizeof(char *));
	if (!q.names)
		return -ENOMEM;
	r = nl_talk(nl, nlh, link_cb, &q);
	if (r < 0 || q.err < 0) {
		strv_free(q.names);
		return err_set(q.err < 0 ? q.err : r, "list links");
	}
	*ret = q.names;
	return 0;
}

struct nlmsghdr *nl_build_link_up(void *buf, uint32_t seq, unsigned ifindex)
{
	struct nlmsghdr *nlh = put_header(buf, RTM_NEWLINK, NLM_F_ACK, seq);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nlh;
}

int nl_link_up(struct mnl_socket *nl, unsigned ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int r = nl_talk(nl, nl_build_link_up(buf, nl_seq(), ifindex), NULL, NULL);

	return r < 0 ? err_set(r, "bring link %u up", ifindex) : 0;
}

static size_t addr_len(int family)
{
	return family == AF_INET ? sizeof(struct in_addr) : sizeof(struct in6_addr);
}

struct nlmsghdr *nl_build_addr_add(void *buf, uint32_t seq, unsigned ifindex, int family,
				   const void *addr, unsigned prefixlen)
{
	struct nlmsghdr *nlh =
		put_header(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, seq);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = (uint8_t)prefixlen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, addr_len(family), addr);
	mnl_attr_put(nlh, IFA_ADDRESS, addr_len(family), addr);
	/* Without NODAD an IPv6 address stays tentative for a second of duplicate address
	 * detection, and the command's first connects would fail with EADDRNOTAVAIL. */
	if (family == AF_INET6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	return nlh;
}

int nl_addr_add(struct mnl_socket *nl, unsigned ifindex, int family, const void *addr,
		unsigned prefixlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE], s[INET6_ADDRSTRLEN];
	int r = nl_talk(nl, nl_build_addr_add(buf, nl_seq(), ifindex, family, addr, prefixlen),
			NULL, NULL);

	if (r < 0) {
		inet_ntop(family, addr, s, sizeof(s));
		return err_set(r, "add address %s/%u to link %u", s, prefixlen, ifindex);
	}
	return 0;
}

struct nlmsghdr *nl_build_route_default(void *buf, uint32_t seq, unsigned ifindex, int family,
					const void *gw)
{
	struct nlmsghdr *nlh =
		put_header(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, seq);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_GATEWAY, addr_len(family), gw);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	return nlh;
}

int nl_route_add_default(struct mnl_socket *nl, unsigned ifindex, int family, const void *gw)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int r = nl_talk(nl, nl_build_route_default(buf, nl_seq(), ifindex, family, gw), NULL,
			NULL);

	return r < 0 ? err_set(r, "add default route via link %u", ifindex) : 0;
}

struct nlmsghdr *nl_build_link_move(void *buf, uint32_t seq, unsigned ifindex, int netns_fd,
				    const char *new_name)
{
	struct nlmsghdr *nlh = put_header(buf, RTM_NEWLINK, NLM_F_ACK, seq);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)netns_fd);
	if (new_name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, new_name);
	return nlh;
}

int nl_link_move(struct mnl_socket *nl, const char *name, int netns_fd, const char *new_name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned idx;
	int r;

	r = nl_link_index(nl, name, &idx);
	if (r < 0)
		return r;
	r = nl_talk(nl, nl_build_link_move(buf, nl_seq(), idx, netns_fd, new_name), NULL, NULL);
	return r < 0 ? err_set(r, "move link %s into the cage", name) : 0;
}

struct nlmsghdr *nl_build_link_mtu(void *buf, uint32_t seq, unsigned ifindex, unsigned mtu)
{
	struct nlmsghdr *nlh = put_header(buf, RTM_NEWLINK, NLM_F_ACK, seq);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nlh;
}

int nl_link_mtu(struct mnl_socket *nl, unsigned ifindex, unsigned mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int r = nl_talk(nl, nl_build_link_mtu(buf, nl_seq(), ifindex, mtu), NULL, NULL);

	return r < 0 ? err_set(r, "set the MTU of link %u to %u", ifindex, mtu) : 0;
}

struct nlmsghdr *nl_build_route_dev(void *buf, uint32_t seq, unsigned ifindex, int family,
				    const void *dst, unsigned dst_len)
{
	struct nlmsghdr *nlh =
		put_header(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK, seq);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = (uint8_t)dst_len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (dst_len)
		mnl_attr_put(nlh, RTA_DST, addr_len(family), dst);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	return nlh;
}

int nl_route_add_dev(struct mnl_socket *nl, unsigned ifindex, int family, const void *dst,
		     unsigned dst_len)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	char a[INET6_ADDRSTRLEN];
	int r = nl_talk(nl, nl_build_route_dev(buf, nl_seq(), ifindex, family, dst, dst_len), NULL,
			NULL);

	return r < 0 ? err_set(r, "add route %s/%u via link %u",
			       inet_ntop(family, dst, a, sizeof(a)), dst_len, ifindex)
		     : 0;
}

/* --- dumps ---------------------------------------------------------------------------- */

struct prefix_list {
	struct prefix *v;
	size_t n;
};

static int prefix_push(struct prefix_list *l, int family, const void *addr, unsigned len)
{
	struct prefix *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	l->v = nv;
	memset(&nv[l->n], 0, sizeof(nv[l->n]));
	nv[l->n].family = family;
	nv[l->n].len = len;
	memcpy(&nv[l->n].ip, addr, addr_len(family));
	l->n++;
	return 0;
}

static bool uninteresting(int family, const void *addr)
{
	const uint8_t *a = addr;

	if (family == AF_INET6)
		return (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || a[0] == 0xff;
	return a[0] >= 224;
}

struct dump_ctx {
	struct prefix_list taken, local;
	int err;
};

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFA_MAX) < 0)
		return MNL_CB_OK;
	if ((type == IFA_ADDRESS || type == IFA_LOCAL) &&
	    mnl_attr_validate(attr, MNL_TYPE_BINARY) < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1] = {0};
	const struct nlattr *a;

	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) ||
	    mnl_attr_get_payload_len(a) != addr_len(ifa->ifa_family))
		return MNL_CB_OK;
	if (uninteresting(ifa->ifa_family, mnl_attr_get_payload(a)))
		return MNL_CB_OK;
	d->err = prefix_push(&d->taken, ifa->ifa_family, mnl_attr_get_payload(a),
			     ifa->ifa_prefixlen);
	if (d->err == 0)
		d->err = prefix_push(&d->local, ifa->ifa_family, mnl_attr_get_payload(a),
				     ifa->ifa_family == AF_INET ? 32 : 128);
	return d->err < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, RTA_MAX) < 0)
		return MNL_CB_OK;
	if (type == RTA_DST && mnl_attr_validate(attr, MNL_TYPE_BINARY) < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = {0};
	const void *dst;

	if (mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (rtm->rtm_dst_len == 0 || !tb[RTA_DST] || rtm->rtm_table != RT_TABLE_MAIN ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
	    mnl_attr_get_payload_len(tb[RTA_DST]) != addr_len(rtm->rtm_family))
		return MNL_CB_OK;
	dst = mnl_attr_get_payload(tb[RTA_DST]);
	if (uninteresting(rtm->rtm_family, dst))
		return MNL_CB_OK;
	d->err = prefix_push(&d->taken, rtm->rtm_family, dst, rtm->rtm_dst_len);
	return d->err < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int nl_dump_prefixes(struct mnl_socket *nl, struct host_facts *facts)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct dump_ctx d = {0};
	struct nlmsghdr *nlh;
	struct rtgenmsg *g;
	int r;

	/* A dump that the kernel marks interrupted (addresses or routes changed while it was
	 * being read, as when another cage starts) is simply taken again. */
	for (int tries = 0; tries < 5; tries++) {
		free(d.taken.v);
		free(d.local.v);
		d = (struct dump_ctx){0};
		nlh = put_header(buf, RTM_GETADDR, NLM_F_DUMP, nl_seq());
		g = mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifaddrmsg));
		g->rtgen_family = AF_UNSPEC;
		r = nl_talk(nl, nlh, addr_cb, &d);
		if (r == 0) {
			nlh = put_header(buf, RTM_GETROUTE, NLM_F_DUMP, nl_seq());
			g = mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg));
			g->rtgen_family = AF_UNSPEC;
			r = nl_talk(nl, nlh, route_cb, &d);
		}
		if (r != -EINTR)
			break;
	}
	if (r < 0 || d.err < 0) {
		free(d.taken.v);
		free(d.local.v);
		return err_set(d.err < 0 ? d.err : r, "read the host's addresses and routes");
	}
	facts->taken = d.taken.v;
	facts->n_taken = d.taken.n;
	facts->local = d.local.v;
	facts->n_local = d.local.n;
	return 0;
}

/* ---- sock_diag: the unix sockets of a netns ------------------------------------------- */

struct nlmsghdr *nl_build_unix_diag(void *buf, uint32_t seq)
{
	struct nlmsghdr *nlh = put_header(buf, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, seq);
	struct unix_diag_req *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));

	req->sdiag_family = AF_UNIX;
	req->udiag_states = ~0U; /* bound datagram sockets are "closed", listeners "listen" */
	req->udiag_show = UDIAG_SHOW_VFS | UDIAG_SHOW_NAME;
	req->udiag_cookie[0] = req->udiag_cookie[1] = ~0U; /* INET_DIAG_NOCOOKIE */
	return nlh;
}

struct unix_bound {
	uint32_t ino;
	nl_unix_bound_fn fn;
	void *data;
	int verdict; /* the first non-zero answer of fn */
};

static int unix_diag_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(a, UNIX_DIAG_MAX) < 0)
		return MNL_CB_OK;
	if (mnl_attr_get_type(a) == UNIX_DIAG_VFS &&
	    mnl_attr_validate2(a, MNL_TYPE_UNSPEC, sizeof(struct unix_diag_vfs)) < 0)
		return MNL_CB_ERROR;
	tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static int unix_diag_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[UNIX_DIAG_MAX + 1] = {NULL};
	struct unix_bound *b = data;
	const struct unix_diag_vfs *vfs;
	char name[UNIX_PATH_MAX + 1] = "";

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct unix_diag_msg) ||
	    mnl_attr_parse(nlh, sizeof(struct unix_diag_msg), unix_diag_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (!tb[UNIX_DIAG_VFS] || b->verdict)
		return MNL_CB_OK; /* unbound, abstract, or answered: the dump is read to its end */
	vfs = mnl_attr_get_payload(tb[UNIX_DIAG_VFS]);
	if (vfs->udiag_vfs_ino != b->ino)
		return MNL_CB_OK;
	/* The address it was bound at: the bytes of sun_path, up to a NUL. */
	if (tb[UNIX_DIAG_NAME]) {
		size_t n = mnl_attr_get_payload_len(tb[UNIX_DIAG_NAME]);

		if (n > UNIX_PATH_MAX)
			n = UNIX_PATH_MAX;
		memcpy(name, mnl_attr_get_payload(tb[UNIX_DIAG_NAME]), n);
		name[n] = '\0';
	}
	/* The kernel's dev_t (major << 20 | minor), not the one stat(2) encodes. */
	b->verdict = b->fn(makedev(vfs->udiag_vfs_dev >> 20, vfs->udiag_vfs_dev & 0xfffff), name,
			   b->data);
	return MNL_CB_OK;
}

int nl_unix_bound_each(struct mnl_socket *diag, uint32_t ino, nl_unix_bound_fn fn, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct unix_bound b = {.ino = ino, .fn = fn, .data = data};
	int r = nl_talk(diag, nl_build_unix_diag(buf, nl_seq()), unix_diag_cb, &b);

	if (r < 0)
		return err_set(r, "list unix sockets (sock_diag)");
	return b.verdict;
}
