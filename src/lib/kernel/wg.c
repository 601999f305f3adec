/* wg.c: WireGuard devices through the kernel backend, and reading live devices of either:
 * the link by rtnetlink, its configuration by the "wireguard" generic-netlink family, both
 * with libmnl and parsed with one attribute callback per nesting level; devices listed from
 * rtnetlink (kernel) and wireguard-go's sockets (userspace, wguapi.c). Reading a device from
 * either gives one struct wg_device_info. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/wireguard.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <libmnl/libmnl.h>

#include "log.h"
#include "nl.h"
#include "wg.h"
#include "wgconf.h"

bool wg_ifname_valid(const char *name)
{
	size_t n = strnlen(name, IFNAMSIZ);

	if (n == 0 || n >= IFNAMSIZ || streq(name, ".") || streq(name, ".."))
		return false;
	for (; *name; name++)
		if (*name == '/' || *name == ':' || *name == ' ' ||
		    (*name >= '\t' && *name <= '\r'))
			return false;
	return true;
}

/* --- netlink plumbing ------------------------------------------------------------------- */

static struct nlmsghdr *put_header(void *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	return nlh;
}

static struct nlmsghdr *put_genl_header(void *buf, uint16_t family, uint8_t cmd, uint8_t version,
					uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = put_header(buf, family, flags, seq);
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));

	g->cmd = cmd;
	g->version = version;
	return nlh;
}

/* --- builders --------------------------------------------------------------------------- */

struct nlmsghdr *wg_build_newlink(void *buf, uint32_t seq, const char *ifname, unsigned mtu)
{
	struct nlmsghdr *nlh =
	    put_header(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, seq);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *linkinfo;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, WG_GENL_NAME);
	mnl_attr_nest_end(nlh, linkinfo);
	return nlh;
}

struct nlmsghdr *wg_build_getfamily(void *buf, uint32_t seq)
{
	struct nlmsghdr *nlh =
	    put_genl_header(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_ACK, seq);

	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	return nlh;
}

struct nlmsghdr *wg_build_get_device(void *buf, uint32_t seq, uint16_t family, const char *ifname)
{
	/* WG_CMD_GET_DEVICE exists only as a dump, even for one device */
	struct nlmsghdr *nlh =
	    put_genl_header(buf, family, WG_CMD_GET_DEVICE, WG_GENL_VERSION, NLM_F_DUMP, seq);

	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
	return nlh;
}

static size_t sockaddr_len(const union wg_sockaddr *e)
{
	return e->sa.sa_family == AF_INET ? sizeof(e->in) : sizeof(e->in6);
}

/* The peer's own attributes: everything but its allowed IPs. */
static bool put_peer_head(struct nlmsghdr *nlh, size_t size, const struct wg_peer_config *p)
{
	if (!mnl_attr_put_u32_check(nlh, size, WGPEER_A_FLAGS, WGPEER_F_REPLACE_ALLOWEDIPS))
		return false;
	if (p->has_preshared_key &&
	    !mnl_attr_put_check(nlh, size, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, p->preshared_key))
		return false;
	if (p->endpoint.sa.sa_family &&
	    !mnl_attr_put_check(nlh, size, WGPEER_A_ENDPOINT, sockaddr_len(&p->endpoint),
				&p->endpoint))
		return false;
	/* always, so that 0 turns it off on a peer that had it */
	return mnl_attr_put_u16_check(nlh, size, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
				      p->persistent_keepalive);
}

static bool put_allowed_ip(struct nlmsghdr *nlh, size_t size, const struct wg_prefix *a)
{
	struct nlattr *nest = mnl_attr_nest_start_check(nlh, size, 0);

	if (!nest)
		return false;
	if (!mnl_attr_put_u16_check(nlh, size, WGALLOWEDIP_A_FAMILY, (uint16_t)a->family) ||
	    !mnl_attr_put_check(nlh, size, WGALLOWEDIP_A_IPADDR, a->family == AF_INET ? 4 : 16,
				&a->ip) ||
	    !mnl_attr_put_u8_check(nlh, size, WGALLOWEDIP_A_CIDR_MASK, (uint8_t)a->cidr)) {
		mnl_attr_nest_cancel(nlh, nest);
		return false;
	}
	mnl_attr_nest_end(nlh, nest);
	return true;
}

struct nlmsghdr *wg_build_set_device(void *buf, size_t size, uint32_t seq, uint16_t family,
				     const char *ifname, const struct wg_config *c,
				     struct wg_set_cursor *cur)
{
	struct nlmsghdr *nlh;
	struct nlattr *peers, *peer, *ips;
	bool progress = false;

	if (cur->done || size < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct genlmsghdr)))
		return NULL;
	nlh = put_genl_header(buf, family, WG_CMD_SET_DEVICE, WG_GENL_VERSION, NLM_F_ACK, seq);
	if (!mnl_attr_put_strz_check(nlh, size, WGDEVICE_A_IFNAME, ifname))
		return NULL;
	if (!cur->device_done) {
		if (!mnl_attr_put_check(nlh, size, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN,
					c->private_key) ||
		    (c->has_listen_port &&
		     !mnl_attr_put_u16_check(nlh, size, WGDEVICE_A_LISTEN_PORT, c->listen_port)) ||
		    !mnl_attr_put_u32_check(nlh, size, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS))
			return NULL;
		cur->device_done = true;
		progress = true;
	}
	if (cur->peer >= c->n_peers) {
		cur->done = true;
		return nlh;
	}
	peers = mnl_attr_nest_start_check(nlh, size, WGDEVICE_A_PEERS);
	if (!peers)
		return progress ? nlh : NULL;
	for (; cur->peer < c->n_peers; cur->peer++, cur->allowed_ip = 0, cur->peer_open = false) {
		const struct wg_peer_config *p = &c->peers[cur->peer];
		bool put_ips = false;

		peer = mnl_attr_nest_start_check(nlh, size, 0);
		if (!peer ||
		    !mnl_attr_put_check(nlh, size, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN,
					p->public_key) ||
		    (!cur->peer_open && !put_peer_head(nlh, size, p))) {
			if (peer)
				mnl_attr_nest_cancel(nlh, peer);
			goto full;
		}
		if (cur->allowed_ip < p->n_allowed_ips) {
			ips = mnl_attr_nest_start_check(nlh, size, WGPEER_A_ALLOWEDIPS);
			for (; ips && cur->allowed_ip < p->n_allowed_ips; cur->allowed_ip++) {
				if (!put_allowed_ip(nlh, size, &p->allowed_ips[cur->allowed_ip]))
					break;
				put_ips = true;
			}
			if (ips && put_ips)
				mnl_attr_nest_end(nlh, ips);
			else if (ips)
				mnl_attr_nest_cancel(nlh, ips);
			if (cur->allowed_ip < p->n_allowed_ips) {
				/* cut short: the rest of its IPs go in the next message */
				if (cur->peer_open && !put_ips) {
					mnl_attr_nest_cancel(nlh, peer);
				} else {
					mnl_attr_nest_end(nlh, peer);
					cur->peer_open = true;
					progress = true;
				}
				goto full;
			}
		}
		mnl_attr_nest_end(nlh, peer);
		progress = true;
	}
	mnl_attr_nest_end(nlh, peers);
	cur->done = true;
	return nlh;
full:
	/* a nest's length is only written at its end: compare with the message's tail */
	if ((char *)mnl_nlmsg_get_payload_tail(nlh) == (char *)peers + MNL_ATTR_HDRLEN)
		mnl_attr_nest_cancel(nlh, peers);
	else
		mnl_attr_nest_end(nlh, peers);
	return progress ? nlh : NULL;
}

/* --- kernel backend --------------------------------------------------------------------- */

static int family_attr_cb(const struct nlattr *attr, void *data)
{
	uint16_t *id = data;

	if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID) {
		if (mnl_attr_validate(attr, MNL_TYPE_U16) < 0)
			return MNL_CB_ERROR;
		*id = mnl_attr_get_u16(attr);
	}
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb, data);
}

int wg_genl_family(struct mnl_socket *genl, uint16_t *ret)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint16_t id = 0;
	int r = nl_talk(genl, wg_build_getfamily(buf, nl_seq()), family_cb, &id);

	if (r == -ENOENT)
		return err_set(r, "the kernel has no WireGuard (genetlink family \"%s\")",
			       WG_GENL_NAME);
	if (r < 0)
		return err_set(r, "look up genetlink family \"%s\"", WG_GENL_NAME);
	if (id == 0)
		return err_set(-EPROTO, "genetlink family \"%s\" without an id", WG_GENL_NAME);
	*ret = id;
	return 0;
}

int wg_kernel_link_add(struct mnl_socket *rtnl, const char *ifname, unsigned mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int r;

	if (!wg_ifname_valid(ifname))
		return err_invalid("\"%s\" is not a valid interface name", ifname);
	r = nl_talk(rtnl, wg_build_newlink(buf, nl_seq(), ifname, mtu), NULL, NULL);
	if (r == -EOPNOTSUPP)
		return err_set(r, "create WireGuard link %s (no WireGuard in this kernel)", ifname);
	return r < 0 ? err_set(r, "create WireGuard link %s", ifname) : 0;
}

int wg_kernel_set(struct mnl_socket *genl, const char *ifname, const struct wg_config *c)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct wg_set_cursor cur = {0};
	uint16_t family;
	int r;

	if (!wg_ifname_valid(ifname))
		return err_invalid("\"%s\" is not a valid interface name", ifname);
	r = wg_genl_family(genl, &family);
	if (r < 0)
		return r;
	while (!cur.done) {
		struct nlmsghdr *nlh =
		    wg_build_set_device(buf, sizeof(buf), nl_seq(), family, ifname, c, &cur);

		if (!nlh)
			return err_set(-E2BIG, "configure WireGuard device %s", ifname);
		r = nl_talk(genl, nlh, NULL, NULL);
		explicit_bzero(buf, sizeof(buf)); /* the first held the private key */
		if (r < 0)
			return err_set(r, "configure WireGuard device %s", ifname);
	}
	return 0;
}

/* One callback per nesting level, each validating what it keeps. */
static int allowedip_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, WGALLOWEDIP_A_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case WGALLOWEDIP_A_FAMILY:
		if (mnl_attr_validate(attr, MNL_TYPE_U16) < 0)
			return MNL_CB_ERROR;
		break;
	case WGALLOWEDIP_A_CIDR_MASK:
		if (mnl_attr_validate(attr, MNL_TYPE_U8) < 0)
			return MNL_CB_ERROR;
		break;
	case WGALLOWEDIP_A_IPADDR:
		if (mnl_attr_validate(attr, MNL_TYPE_BINARY) < 0)
			return MNL_CB_ERROR;
		break;
	}
	tb[type] = attr;
	return MNL_CB_OK;
}

static int peer_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);
	int r = 0;

	if (mnl_attr_type_valid(attr, WGPEER_A_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case WGPEER_A_PUBLIC_KEY:
	case WGPEER_A_PRESHARED_KEY:
		r = mnl_attr_validate2(attr, MNL_TYPE_BINARY, WG_KEY_LEN);
		break;
	case WGPEER_A_ENDPOINT:
		r = mnl_attr_validate(attr, MNL_TYPE_BINARY);
		break;
	case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
		r = mnl_attr_validate(attr, MNL_TYPE_U16);
		break;
	case WGPEER_A_LAST_HANDSHAKE_TIME:
		r = mnl_attr_validate2(attr, MNL_TYPE_BINARY, 2 * sizeof(int64_t));
		break;
	case WGPEER_A_RX_BYTES:
	case WGPEER_A_TX_BYTES:
		r = mnl_attr_validate(attr, MNL_TYPE_U64);
		break;
	case WGPEER_A_ALLOWEDIPS:
		r = mnl_attr_validate(attr, MNL_TYPE_NESTED);
		break;
	}
	if (r < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int device_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);
	int r = 0;

	if (mnl_attr_type_valid(attr, WGDEVICE_A_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case WGDEVICE_A_IFNAME:
		r = mnl_attr_validate(attr, MNL_TYPE_NUL_STRING);
		break;
	case WGDEVICE_A_PRIVATE_KEY:
	case WGDEVICE_A_PUBLIC_KEY:
		r = mnl_attr_validate2(attr, MNL_TYPE_BINARY, WG_KEY_LEN);
		break;
	case WGDEVICE_A_LISTEN_PORT:
		r = mnl_attr_validate(attr, MNL_TYPE_U16);
		break;
	case WGDEVICE_A_PEERS:
		r = mnl_attr_validate(attr, MNL_TYPE_NESTED);
		break;
	}
	if (r < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

static size_t total_allowed_ips(const struct wg_device_info *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_peers; i++)
		n += d->peers[i].n_allowed_ips;
	return n;
}

int wg_device_peer_add(struct wg_device_info *d, const uint8_t key[32], struct wg_peer_info **ret)
{
	struct wg_peer_info *nv;

	if (d->n_peers >= WG_MAX_PEERS)
		return -E2BIG;
	nv = realloc(d->peers, (d->n_peers + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	d->peers = nv;
	*ret = memset(&nv[d->n_peers++], 0, sizeof(*nv));
	memcpy((*ret)->public_key, key, 32);
	return 0;
}

int wg_device_allowed_ip_add(struct wg_device_info *d, struct wg_peer_info *p,
			     const struct wg_prefix *a)
{
	struct wg_prefix *nv;

	if (total_allowed_ips(d) >= WG_MAX_ALLOWED_IPS)
		return -E2BIG;
	nv = realloc(p->allowed_ips, (p->n_allowed_ips + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	p->allowed_ips = nv;
	nv[p->n_allowed_ips++] = *a;
	return 0;
}

static int parse_allowed_ips(const struct nlattr *nest, struct wg_device_info *d,
			     struct wg_peer_info *p)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, nest)
	{
		const struct nlattr *tb[WGALLOWEDIP_A_MAX + 1] = {0};
		struct wg_prefix a = {0};
		size_t len;
		int r;

		if (mnl_attr_parse_nested(attr, allowedip_attr_cb, tb) < 0)
			return -EPROTO;
		if (!tb[WGALLOWEDIP_A_FAMILY] || !tb[WGALLOWEDIP_A_IPADDR] ||
		    !tb[WGALLOWEDIP_A_CIDR_MASK])
			return -EPROTO;
		a.family = mnl_attr_get_u16(tb[WGALLOWEDIP_A_FAMILY]);
		a.cidr = mnl_attr_get_u8(tb[WGALLOWEDIP_A_CIDR_MASK]);
		len = mnl_attr_get_payload_len(tb[WGALLOWEDIP_A_IPADDR]);
		if (!((a.family == AF_INET && len == 4 && a.cidr <= 32) ||
		      (a.family == AF_INET6 && len == 16 && a.cidr <= 128)))
			return -EPROTO;
		memcpy(&a.ip, mnl_attr_get_payload(tb[WGALLOWEDIP_A_IPADDR]), len);
		r = wg_device_allowed_ip_add(d, p, &a);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_peers(const struct nlattr *nest, struct wg_device_info *d)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, nest)
	{
		const struct nlattr *tb[WGPEER_A_MAX + 1] = {0};
		const uint8_t *key;
		struct wg_peer_info *p;
		int r;

		if (mnl_attr_parse_nested(attr, peer_attr_cb, tb) < 0 || !tb[WGPEER_A_PUBLIC_KEY])
			return -EPROTO;
		key = mnl_attr_get_payload(tb[WGPEER_A_PUBLIC_KEY]);
		/* a peer with many allowed IPs is continued in the next message of the dump */
		if (d->n_peers && memcmp(d->peers[d->n_peers - 1].public_key, key, 32) == 0) {
			p = &d->peers[d->n_peers - 1];
		} else {
			r = wg_device_peer_add(d, key, &p);
			if (r < 0)
				return r;
		}
		if (tb[WGPEER_A_PRESHARED_KEY]) {
			static const uint8_t zero[WG_KEY_LEN];

			p->has_preshared_key =
			    memcmp(mnl_attr_get_payload(tb[WGPEER_A_PRESHARED_KEY]), zero,
				   WG_KEY_LEN) != 0;
		}
		if (tb[WGPEER_A_ENDPOINT]) {
			size_t len = mnl_attr_get_payload_len(tb[WGPEER_A_ENDPOINT]);
			union wg_sockaddr e = {0};

			memcpy(&e, mnl_attr_get_payload(tb[WGPEER_A_ENDPOINT]),
			       len < sizeof(e) ? len : sizeof(e));
			if ((e.sa.sa_family == AF_INET && len == sizeof(e.in)) ||
			    (e.sa.sa_family == AF_INET6 && len == sizeof(e.in6)))
				p->endpoint = e;
		}
		if (tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL])
			p->persistent_keepalive =
			    mnl_attr_get_u16(tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL]);
		if (tb[WGPEER_A_LAST_HANDSHAKE_TIME]) {
			int64_t ts[2];

			memcpy(ts, mnl_attr_get_payload(tb[WGPEER_A_LAST_HANDSHAKE_TIME]),
			       sizeof(ts));
			p->last_handshake_sec = ts[0];
		}
		if (tb[WGPEER_A_RX_BYTES])
			p->rx_bytes = mnl_attr_get_u64(tb[WGPEER_A_RX_BYTES]);
		if (tb[WGPEER_A_TX_BYTES])
			p->tx_bytes = mnl_attr_get_u64(tb[WGPEER_A_TX_BYTES]);
		if (tb[WGPEER_A_ALLOWEDIPS]) {
			r = parse_allowed_ips(tb[WGPEER_A_ALLOWEDIPS], d, p);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int wg_parse_device_msg(const struct nlmsghdr *nlh, struct wg_device_info *d)
{
	const struct nlattr *tb[WGDEVICE_A_MAX + 1] = {0};

	if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), device_attr_cb, tb) < 0)
		return -EPROTO;
	d->kernel = true;
	if (tb[WGDEVICE_A_IFNAME])
		snprintf(d->name, sizeof(d->name), "%s", mnl_attr_get_str(tb[WGDEVICE_A_IFNAME]));
	if (tb[WGDEVICE_A_LISTEN_PORT])
		d->listen_port = mnl_attr_get_u16(tb[WGDEVICE_A_LISTEN_PORT]);
	if (tb[WGDEVICE_A_PUBLIC_KEY]) {
		memcpy(d->public_key, mnl_attr_get_payload(tb[WGDEVICE_A_PUBLIC_KEY]), 32);
		d->has_public_key = true;
	} else if (tb[WGDEVICE_A_PRIVATE_KEY] && !d->has_public_key) {
		d->has_public_key =
		    wg_public_key(d->public_key,
				  mnl_attr_get_payload(tb[WGDEVICE_A_PRIVATE_KEY])) == 0;
	}
	return tb[WGDEVICE_A_PEERS] ? parse_peers(tb[WGDEVICE_A_PEERS], d) : 0;
}

struct get_ctx {
	struct wg_device_info *d;
	int err;
};

static int device_cb(const struct nlmsghdr *nlh, void *data)
{
	struct get_ctx *ctx = data;

	ctx->err = wg_parse_device_msg(nlh, ctx->d);
	return ctx->err < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int wg_kernel_get(struct mnl_socket *genl, const char *ifname, struct wg_device_info *ret)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	_cleanup_(wg_device_info_freep) struct wg_device_info d = {0};
	struct get_ctx ctx = {.d = &d};
	uint16_t family;
	int r;

	if (!wg_ifname_valid(ifname))
		return err_invalid("\"%s\" is not a valid interface name", ifname);
	r = wg_genl_family(genl, &family);
	if (r < 0)
		return r;
	r = nl_talk(genl, wg_build_get_device(buf, nl_seq(), family, ifname), device_cb, &ctx);
	if (ctx.err < 0)
		r = ctx.err;
	if (r < 0)
		return err_set(r, "read WireGuard device %s", ifname);
	snprintf(d.name, sizeof(d.name), "%s", ifname);
	*ret = TAKE_STRUCT(d);
	return 0;
}

void wg_device_info_free(struct wg_device_info *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_peers; i++)
		free(d->peers[i].allowed_ips);
	free(d->peers);
	memset(d, 0, sizeof(*d));
}

/* --- listing and reading live devices ---------------------------------------------------- */

static int linkinfo_attr_cb(const struct nlattr *attr, void *data)
{
	bool *is_wg = data;

	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND) {
		if (mnl_attr_validate(attr, MNL_TYPE_STRING) < 0)
			return MNL_CB_ERROR;
		*is_wg = strncmp(mnl_attr_get_payload(attr), WG_GENL_NAME,
				 mnl_attr_get_payload_len(attr)) == 0 &&
			 strnlen(mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr)) ==
			     strlen(WG_GENL_NAME);
	}
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFLA_MAX) < 0)
		return MNL_CB_OK;
	if (type == IFLA_IFNAME && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_ERROR;
	if (type == IFLA_LINKINFO && mnl_attr_validate(attr, MNL_TYPE_NESTED) < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

struct name_list {
	char **v;
	size_t n;
	int err;
};

static int names_add(struct name_list *l, const char *name)
{
	char **nv;

	for (size_t i = 0; i < l->n; i++)
		if (streq(l->v[i], name))
			return 0;
	nv = realloc(l->v, (l->n + 2) * sizeof(char *));
	if (!nv)
		return -ENOMEM;
	l->v = nv;
	nv[l->n] = strdup(name);
	if (!nv[l->n])
		return -ENOMEM;
	nv[++l->n] = NULL;
	return 0;
}

static int wg_link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct name_list *l = data;
	const struct nlattr *tb[IFLA_MAX + 1] = {0};
	bool is_wg = false;

	if (mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (!tb[IFLA_IFNAME] || !tb[IFLA_LINKINFO])
		return MNL_CB_OK;
	if (mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, &is_wg) < 0)
		return MNL_CB_ERROR;
	if (is_wg)
		l->err = names_add(l, mnl_attr_get_str(tb[IFLA_IFNAME]));
	return l->err < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static int list_kernel(struct name_list *l)
{
	_cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int r = nl_open(NETLINK_ROUTE, &nl);

	if (r < 0)
		return r;
	/* an interrupted dump (links changed meanwhile) is taken again */
	for (int tries = 0; tries < 5; tries++) {
		nlh = put_header(buf, RTM_GETLINK, NLM_F_DUMP, nl_seq());
		ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
		ifi->ifi_family = AF_UNSPEC;
		r = nl_talk(nl, nlh, wg_link_cb, l);
		if (l->err < 0)
			return l->err;
		if (r != -EINTR)
			break;
	}
	return r < 0 ? err_set(r, "list links") : 0;
}

bool wg_uapi_live(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || strlen(path) >= sizeof(sa.sun_path))
		return false;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return true; /* cannot tell */
	/* Only refused (nothing listens) or gone is stale; a full backlog (EAGAIN at once, a
	 * daemon busy or stopped) is still someone's, as is anything that cannot be told. */
	return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
	       (errno != ECONNREFUSED && errno != ENOENT);
}

static int list_userspace(struct name_list *l)
{
	_cleanup_strv_free_ char **files = NULL;
	int r = dir_list(WG_RUN_DIR, false, &files);

	if (r < 0)
		return err_set(r, "list %s", WG_RUN_DIR);
	for (char **f = files; *f; f++) {
		char name[IFNAMSIZ + 8], path[sizeof(WG_RUN_DIR) + IFNAMSIZ + 8];
		size_t n = strlen(*f);

		if (n <= 5 || n - 5 >= IFNAMSIZ || !streq(*f + n - 5, ".sock"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - 5), *f);
		if (!wg_ifname_valid(name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", WG_RUN_DIR, *f);
		if (wg_uapi_live(path) && (r = names_add(l, name)) < 0)
			return r;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int wg_list_devices(char ***ret)
{
	struct name_list l = {0};
	int r;

	l.v = calloc(1, sizeof(char *));
	if (!l.v)
		return -ENOMEM;
	r = list_kernel(&l);
	if (r == 0)
		r = list_userspace(&l);
	if (r < 0) {
		strv_free(l.v);
		return r;
	}
	qsort(l.v, l.n, sizeof(char *), cmp_str);
	*ret = l.v;
	return 0;
}

int wg_get_device(const char *name, struct wg_device_info *ret)
{
	_cleanup_(mnl_socket_closep) struct mnl_socket *genl = NULL;
	char path[sizeof(WG_RUN_DIR) + IFNAMSIZ + 8];
	uint16_t family;
	struct stat st;
	int r;

	if (!wg_ifname_valid(name))
		return err_invalid("\"%s\" is not a valid interface name", name);
	r = nl_open(NETLINK_GENERIC, &genl);
	if (r < 0)
		return r;
	r = wg_genl_family(genl, &family);
	if (r == 0) {
		/* -EOPNOTSUPP: a link of that name that is not the kernel's WireGuard, such as
		 * wireguard-go's tun */
		r = wg_kernel_get(genl, name, ret);
		if (r != -ENODEV && r != -EOPNOTSUPP)
			return r;
	} else if (r != -ENOENT) {
		return r;
	}
	snprintf(path, sizeof(path), "%s/%s.sock", WG_RUN_DIR, name);
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return err_set(-ENODEV, "no WireGuard device %s", name);
	r = wg_uapi_get(path, ret);
	if (r == -ECONNREFUSED || r == -ENOENT)
		return err_set(-ENODEV, "no WireGuard device %s (stale socket %s)", name, path);
	return r;
}
