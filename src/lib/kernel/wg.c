/* wg.c: WireGuard devices through either backend. Kernel: the link by rtnetlink, its
 * configuration by the "wireguard" generic-netlink family, both with libmnl and parsed with
 * one attribute callback per nesting level. Userspace: wireguard-go's UAPI text protocol on
 * its unix socket, and the wireguard-go process itself (started, watched by pidfd, stopped).
 * Reading a device from either gives one struct wg_device_info. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/sched.h> /* struct clone_args */
#include <linux/wireguard.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <libmnl/libmnl.h>

#include "log.h"
#include "nl.h"
#include "wg.h"
#include "wgconf.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define UAPI_TIMEOUT_MS	      5000
#define UAPI_REPLY_MAX	      (16 * 1024 * 1024)
#define WGGO_START_TIMEOUT_MS 5000
#define WGGO_TERM_TIMEOUT_MS  3000
#define WGGO_LOG_SIZE	      (64 * 1024)

DEFINE_CLEANUP_FUNC(struct mnl_socket, mnl_socket_close)

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

static int peer_add(struct wg_device_info *d, const uint8_t key[32], struct wg_peer_info **ret)
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

static int allowed_ip_add(struct wg_device_info *d, struct wg_peer_info *p,
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
		r = allowed_ip_add(d, p, &a);
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
			r = peer_add(d, key, &p);
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
	struct wg_device_info d = {0};
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
	if (r < 0) {
		wg_device_info_free(&d);
		return err_set(r, "read WireGuard device %s", ifname);
	}
	snprintf(d.name, sizeof(d.name), "%s", ifname);
	*ret = d;
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
		return peer_add(d, key32, &g->peer);
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
		/* one we cannot represent (a scoped IPv6 address) is left out */
		if (wg_endpoint_parse(value, &g->peer->endpoint, NULL) < 0)
			memset(&g->peer->endpoint, 0, sizeof(g->peer->endpoint));
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
		r = allowed_ip_add(d, g->peer, &a);
		if (r < 0)
			return r;
	}
	/* others (protocol_version, last_handshake_time_nsec, newer keys) are not kept */
	return 0;
}

int wg_uapi_parse_get(const char *text, size_t len, struct wg_device_info *ret)
{
	struct wg_device_info d = {0};
	struct get_parse g = {.d = &d, .status = 1};
	int r = uapi_lines(text, len, get_line, &g);

	if (r == 0 && g.status > 0)
		r = -EPROTO;
	if (r == 0)
		r = g.status;
	if (r < 0) {
		wg_device_info_free(&d);
		return r;
	}
	*ret = d;
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
static int uapi_exchange(const char *sock_path, const char *req, size_t req_len, char **ret,
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
	r = uapi_exchange(sock_path, req, req_len, &reply, &reply_len);
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
	int r = uapi_exchange(sock_path, "get=1\n\n", 7, &reply, &reply_len);

	if (r == 0) {
		r = wg_uapi_parse_get(reply, reply_len, ret);
		explicit_bzero(reply, reply_len);
	}
	if (r < 0)
		return err_set(r, "read wireguard-go at %s", sock_path);
	name_from_sock_path(sock_path, ret->name);
	return 0;
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

/* --- the wireguard-go process ------------------------------------------------------------ */

static const char *const wggo_paths[] = {"/usr/bin/wireguard-go", "/usr/local/bin/wireguard-go",
					 "/usr/sbin/wireguard-go"};

__attribute__((noreturn)) static void child_fail(const char *what)
{
	/* async-signal-safe only: this runs between clone and exec (strerrordesc_np neither
	 * allocates nor looks at the locale) */
	const char *e = strerrordesc_np(errno);

	if (!e)
		e = "unknown error";

	(void)!write(STDERR_FILENO, "sluice: ", 8);
	(void)!write(STDERR_FILENO, what, strlen(what));
	(void)!write(STDERR_FILENO, ": ", 2);
	(void)!write(STDERR_FILENO, e, strlen(e));
	(void)!write(STDERR_FILENO, "\n", 1);
	_exit(127);
}

/* Between clone and exec: no allocation, no locks. */
__attribute__((noreturn)) static void wggo_child(pid_t parent, int devnull, int log_fd,
						 const char *run_dir, const char *bin,
						 char *const argv[], char *const envp[])
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t all;

	/* its logger writes to stdout, the Go runtime to stderr: both to the log */
	if (dup2(devnull, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
	    dup2(log_fd, STDERR_FILENO) < 0)
		_exit(127);
	/* Dies with the supervisor, even on SIGKILL. PDEATHSIG follows the thread that
	 * created the child; sluice starts it from its main thread, which lives as long as
	 * the supervisor. If the parent is already gone, the signal will never come. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail("PR_SET_PDEATHSIG");
	if (getppid() != parent)
		_exit(127);
	/* its own process group: a ^C at the terminal is for the command, and the supervisor
	 * stops wireguard-go in its own time, after the cage */
	(void)setpgid(0, 0);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	if (run_dir) {
		/* wireguard-go's socket directory is compiled in (ipc/uapi_unix.go, and the
		 * inotify watch in uapi_linux.go needs the socket there even with WG_UAPI_FD):
		 * give it its own view of that directory, made private so the bind mount
		 * stays in this namespace. */
		if (unshare(CLONE_NEWNS) < 0)
			child_fail("unshare(CLONE_NEWNS)");
		if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
			child_fail("make / a slave mount");
		if (mount(run_dir, WG_RUN_DIR, NULL, MS_BIND, NULL) < 0)
			child_fail("bind the run directory over " WG_RUN_DIR);
	}
	if (close_range(3, ~0U, 0) < 0)
		child_fail("close_range");
	execve(bin, argv, envp);
	child_fail(bin);
}

static int wait_exit(int pidfd, int timeout_ms)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r < 0 ? negative_errno() : r; /* 1: it exited */
}

static int reap(struct wggo *w, siginfo_t *si)
{
	memset(si, 0, sizeof(*si));
	for (;;) {
		if (waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, si, WEXITED) == 0)
			return 0;
		if (errno == ECHILD) /* a waitpid(-1) elsewhere in the process got it first */
			return 0;
		if (errno != EINTR)
			return negative_errno();
	}
}

static void wggo_close(struct wggo *w)
{
	if (w->pidfd >= 0)
		close(w->pidfd);
	if (w->log_fd >= 0)
		close(w->log_fd);
	w->pidfd = w->log_fd = -1;
}

size_t wggo_log(const struct wggo *w, char *buf, size_t size)
{
	ssize_t n;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	if (w->log_fd < 0)
		return 0;
	/* pread: the daemon writes through the shared file offset, which must not move */
	n = pread(w->log_fd, buf, size - 1, 0);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return strlen(buf); /* the rest of the sealed file is zeros */
}

/* Its log's last non-empty line, for a one-line error. */
static const char *last_line(char *log)
{
	char *e = log + strlen(log), *s;

	while (e > log && (e[-1] == '\n' || e[-1] == ' '))
		*--e = '\0';
	s = strrchr(log, '\n');
	return s ? s + 1 : log;
}

static int make_log(void)
{
	int fd = memfd_create("wireguard-go-log", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return negative_errno();
	/* A fixed size, sealed: writes past the end fail instead of growing memory, and the
	 * daemon never blocks on a log nobody reads (as it could on a pipe). */
	if (ftruncate(fd, WGGO_LOG_SIZE) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		int r = negative_errno();

		close(fd);
		return r;
	}
	return fd;
}

int wggo_start(const char *ifname, const char *run_dir, struct wggo *ret)
{
	char *argv[] = {(char *)"wireguard-go", (char *)"-f", (char *)ifname, NULL};
	/* a clean environment: an inherited WG_TUN_FD or WG_UAPI_FD would redirect it */
	char *envp[] = {(char *)"WG_PROCESS_FOREGROUND=1", (char *)"LOG_LEVEL=error",
			(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	struct wggo w = {.pidfd = -1, .log_fd = -1};
	_cleanup_close_ int devnull = -1;
	struct clone_args ca = {0};
	const char *bin = NULL, *dir = run_dir ? run_dir : WG_RUN_DIR;
	pid_t parent = getpid(), pid;
	int pidfd = -1, r;
	struct timespec start, now;
	char log[512];
	siginfo_t si;

	if (!wg_ifname_valid(ifname))
		return err_invalid("\"%s\" is not a valid interface name", ifname);
	if (run_dir && (run_dir[0] != '/' || streq(run_dir, WG_RUN_DIR)))
		return err_invalid("wireguard-go run directory \"%s\" must be an absolute path "
				   "other than " WG_RUN_DIR " (or none)",
				   run_dir);
	if ((size_t)snprintf(w.sock_path, sizeof(w.sock_path), "%s/%s.sock", dir, ifname) >=
	    sizeof(w.sock_path))
		return err_set(-ENAMETOOLONG, "wireguard-go socket in %s", dir);
	snprintf(w.ifname, sizeof(w.ifname), "%s", ifname);
	for (size_t i = 0; i < ARRAY_SIZE(wggo_paths) && !bin; i++)
		if (access(wggo_paths[i], X_OK) == 0)
			bin = wggo_paths[i];
	if (!bin)
		return err_set(-ENOENT, "wireguard-go is not installed (Debian package "
					"wireguard-go; `make deps` installs it)");
	if (wg_uapi_live(w.sock_path))
		return err_set(-EADDRINUSE, "a wireguard-go for %s already answers on %s", ifname,
			       w.sock_path);
	/* wireguard-go makes WG_RUN_DIR itself; a bind mount needs it to exist first */
	if (mkdir(WG_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return err_set(negative_errno(), "create %s", WG_RUN_DIR);
	if (run_dir && mkdir(run_dir, 0700) < 0 && errno != EEXIST)
		return err_set(negative_errno(), "create %s", run_dir);

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return err_set(negative_errno(), "open /dev/null");
	w.log_fd = make_log();
	if (w.log_fd < 0)
		return err_set(w.log_fd, "wireguard-go log");

	/* clone3 with CLONE_PIDFD: the pidfd exists from the start, so there is no window in
	 * which the pid could be reaped and reused before we hold it. */
	ca.flags = CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0) {
		r = negative_errno();
		wggo_close(&w);
		return err_set(r, "start wireguard-go");
	}
	if (pid == 0)
		wggo_child(parent, devnull, w.log_fd, run_dir, bin, argv, envp);
	w.pid = pid;
	w.pidfd = pidfd;

	/* Ready when its UAPI socket answers a get; it makes the tun device first. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		_cleanup_free_ char *reply = NULL;
		size_t len;

		if (uapi_exchange(w.sock_path, "get=1\n\n", 7, &reply, &len) == 0 &&
		    wg_uapi_parse_errno(reply, len) == 0) {
			explicit_bzero(reply, len);
			break;
		}
		r = wait_exit(w.pidfd, 10);
		if (r < 0)
			goto kill;
		if (r == 1) {
			reap(&w, &si);
			wggo_log(&w, log, sizeof(log));
			wggo_close(&w);
			return err_set(-EIO, "wireguard-go for %s exited at start (%s %d): %s",
				       ifname, si.si_code == CLD_EXITED ? "status" : "signal",
				       si.si_status, last_line(log));
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
		    WGGO_START_TIMEOUT_MS) {
			r = -ETIMEDOUT;
			goto kill;
		}
	}
	*ret = w;
	return 0;
kill:
	syscall(SYS_pidfd_send_signal, w.pidfd, SIGKILL, NULL, 0);
	reap(&w, &si);
	wggo_log(&w, log, sizeof(log));
	wggo_close(&w);
	return err_set(r, "wireguard-go for %s did not answer on %s (%s)", ifname, w.sock_path,
		       last_line(log));
}

int wggo_stop(struct wggo *w)
{
	siginfo_t si;
	int r;

	if (!w || w->pidfd < 0)
		return 0;
	if (syscall(SYS_pidfd_send_signal, w->pidfd, SIGTERM, NULL, 0) < 0 && errno != ESRCH) {
		r = negative_errno();
		return err_set(r, "stop wireguard-go for %s", w->ifname);
	}
	r = wait_exit(w->pidfd, WGGO_TERM_TIMEOUT_MS);
	if (r == 0) {
		log_debug("wireguard-go for %s ignored SIGTERM; killing it", w->ifname);
		syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
	}
	r = reap(w, &si);
	if (r < 0)
		return err_set(r, "reap wireguard-go for %s", w->ifname);
	wggo_close(w);
	/* killed, it leaves its socket behind; nothing answers on it now */
	if (!wg_uapi_live(w->sock_path))
		(void)unlink(w->sock_path);
	return 0;
}
