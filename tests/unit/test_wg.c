/* test_wg.c: WireGuard devices. X25519 against RFC 7748's vectors; the genetlink and rtnetlink
 * builders parsed back attribute by attribute with libmnl (the kernel path cannot run where
 * the kernel has no WireGuard), a configuration split across messages put back together; the
 * UAPI text built and parsed; and a real wireguard-go, run only inside a private network
 * namespace this process makes: started, configured, read back, stopped, and nothing left. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/wireguard.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <libmnl/libmnl.h>

#include "log.h"
#include "nl.h"
#include "nlassert.h"
#include "wg.h"
#include "wgconf.h"

/* RFC 7748 6.1 */
#define ALICE_PRIV_HEX "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PUB_HEX  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define BOB_PRIV_HEX   "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
#define BOB_PUB_HEX    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
#define ALICE_PRIV     "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
#define ALICE_PUB      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
#define BOB_PUB	       "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="
#define REF_KEY	       "g3x7z0AdV1rM6UQU22CC7IL3/ivn4DzrE7ikDhCZ/Dc="
#define REF_KEY_HEX    "837c7bcf401d575acce94414db6082ec82f7fe2be7e03ceb13b8a40e1099fc37"
#define SEQ_KEY	       "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static void hex32(const char *s, uint8_t out[32])
{
	assert_int_equal(strlen(s), 64);
	for (int i = 0; i < 32; i++)
		assert_int_equal(sscanf(s + 2 * i, "%2hhx", &out[i]), 1);
}

static void assert_hex32(const uint8_t got[32], const char *want_hex)
{
	uint8_t want[32];

	hex32(want_hex, want);
	assert_memory_equal(got, want, 32);
}

static void parse_config(const char *text, struct wg_config *c)
{
	int r = wgconf_parse(text, strlen(text), "test.conf", c);

	if (r < 0)
		fail_msg("%s", err_message(r));
}

/* --- public keys ------------------------------------------------------------------------- */

static void public_keys_match_rfc7748_section_6_1(void **state)
{
	uint8_t priv[32], pub[32];

	hex32(ALICE_PRIV_HEX, priv);
	assert_int_equal(wg_public_key(pub, priv), 0);
	assert_hex32(pub, ALICE_PUB_HEX);
	hex32(BOB_PRIV_HEX, priv);
	assert_int_equal(wg_public_key(pub, priv), 0);
	assert_hex32(pub, BOB_PUB_HEX);
}

static void public_key_of_a_wg_key_matches_wg_pubkey(void **state)
{
	uint8_t priv[32], pub[32];
	char s[WG_KEY_B64_LEN + 1];

	/* `echo dwdt... | wg pubkey` prints hSDw...: the clamping is wg's too */
	assert_int_equal(wg_key_b64_decode(ALICE_PRIV, priv), 0);
	assert_int_equal(wg_public_key(pub, priv), 0);
	wg_key_b64_encode(pub, s);
	assert_string_equal(s, ALICE_PUB);
}

/* --- netlink parsing helpers beyond nlassert.h's --------------------------------------------- */

/* WireGuard's genetlink wants NLA_F_NESTED on every nest. */
static void parse_wg_nest(const struct nlattr *nest, const struct nlattr *tb[MAX_ATTR])
{
	assert_non_null(nest);
	assert_true(nest->nla_type & NLA_F_NESTED);
	parse_nest(nest, tb);
}

/* A nest that is a list (peers, allowed IPs): nested elements of type 0 that tile it. */
static void parse_list(const struct nlattr *nest)
{
	const struct nlattr *attr;

	assert_non_null(nest);
	assert_true(nest->nla_type & NLA_F_NESTED);
	mnl_attr_for_each_nested(attr, nest)
	{
		assert_int_equal(mnl_attr_get_type(attr), 0);
		assert_true(attr->nla_type & NLA_F_NESTED);
	}
	assert_ptr_equal((const char *)attr,
			 (const char *)mnl_attr_get_payload(nest) + mnl_attr_get_payload_len(nest));
}

static void assert_u16_attr(const struct nlattr *a, uint16_t want)
{
	assert_non_null(a);
	assert_int_equal(mnl_attr_get_payload_len(a), 2);
	assert_int_equal(mnl_attr_get_u16(a), want);
}

static void assert_genl(const struct nlmsghdr *nlh, uint8_t cmd, uint8_t version)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);

	assert_int_equal(g->cmd, cmd);
	assert_int_equal(g->version, version);
	assert_int_equal(g->reserved, 0);
}

/* --- rtnetlink and genetlink builders ------------------------------------------------------- */

static void newlink_builder_makes_kind_wireguard_with_name_and_mtu(void **state)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlattr *tb[MAX_ATTR], *info[MAX_ATTR];
	const struct ifinfomsg *ifi;
	struct nlmsghdr *nlh;

	memset(buf, 0xa5, sizeof(buf));
	nlh = wg_build_newlink(buf, 77, "wg-agent", 1420);
	assert_header(nlh, buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
		      77);
	ifi = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(ifi->ifi_family, AF_UNSPEC);
	assert_int_equal(ifi->ifi_index, 0);
	assert_int_equal(ifi->ifi_flags, 0);
	assert_int_equal(ifi->ifi_change, 0);
	parse_msg(nlh, sizeof(*ifi), tb);
	assert_strz_attr(tb[IFLA_IFNAME], "wg-agent");
	assert_u32_attr(tb[IFLA_MTU], 1420);
	parse_wg_nest(tb[IFLA_LINKINFO], info);
	assert_strz_attr(info[IFLA_INFO_KIND], "wireguard");
	assert_null(info[IFLA_INFO_DATA]);

	/* mtu 0: the kernel's default, no attribute */
	nlh = wg_build_newlink(buf, 78, "wg0", 0);
	parse_msg(nlh, sizeof(*ifi), tb);
	assert_null(tb[IFLA_MTU]);
	assert_strz_attr(tb[IFLA_IFNAME], "wg0");
}

static void getfamily_builder_asks_the_controller_for_wireguard(void **state)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlattr *tb[MAX_ATTR];
	struct nlmsghdr *nlh;

	memset(buf, 0xa5, sizeof(buf));
	nlh = wg_build_getfamily(buf, 5);
	assert_header(nlh, buf, GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, 5);
	assert_genl(nlh, CTRL_CMD_GETFAMILY, 1);
	parse_msg(nlh, sizeof(struct genlmsghdr), tb);
	assert_strz_attr(tb[CTRL_ATTR_FAMILY_NAME], WG_GENL_NAME);
	assert_null(tb[CTRL_ATTR_FAMILY_ID]);
}

static void get_device_builder_is_a_dump_by_name(void **state)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlattr *tb[MAX_ATTR];
	struct nlmsghdr *nlh;

	memset(buf, 0xa5, sizeof(buf));
	nlh = wg_build_get_device(buf, 9, 0x1d, "wg-agent");
	assert_header(nlh, buf, 0x1d, NLM_F_REQUEST | NLM_F_DUMP, 9);
	assert_genl(nlh, WG_CMD_GET_DEVICE, WG_GENL_VERSION);
	parse_msg(nlh, sizeof(struct genlmsghdr), tb);
	assert_strz_attr(tb[WGDEVICE_A_IFNAME], "wg-agent");
	assert_null(tb[WGDEVICE_A_IFINDEX]); /* the kernel wants exactly one of the two */
}

/* Put a WG_CMD_SET_DEVICE sequence back together into out (allocated like a parsed config),
 * checking every attribute and the rules of the split on the way. */
static void decode_set_sequence(struct nlmsghdr **msgs, size_t n, size_t size, uint16_t family,
				const struct wg_config *c, struct wg_config *out)
{
	memset(out, 0, sizeof(*out));
	out->peers = calloc(c->n_peers ? c->n_peers : 1, sizeof(*out->peers));
	assert_non_null(out->peers);
	for (size_t m = 0; m < n; m++) {
		const struct nlattr *tb[MAX_ATTR], *attr;
		bool first_in_msg = true;

		assert_header(msgs[m], msgs[m], family, NLM_F_REQUEST | NLM_F_ACK,
			      1000 + (uint32_t)m);
		assert_true(msgs[m]->nlmsg_len <= size);
		assert_genl(msgs[m], WG_CMD_SET_DEVICE, WG_GENL_VERSION);
		parse_msg(msgs[m], sizeof(struct genlmsghdr), tb);
		assert_strz_attr(tb[WGDEVICE_A_IFNAME], "wg-agent");
		assert_null(tb[WGDEVICE_A_IFINDEX]);
		assert_null(tb[WGDEVICE_A_FWMARK]);
		if (m == 0) {
			assert_bytes_attr(tb[WGDEVICE_A_PRIVATE_KEY], c->private_key, 32);
			memcpy(out->private_key, c->private_key, 32);
			assert_u32_attr(tb[WGDEVICE_A_FLAGS], WGDEVICE_F_REPLACE_PEERS);
			if (c->has_listen_port) {
				assert_u16_attr(tb[WGDEVICE_A_LISTEN_PORT], c->listen_port);
				out->has_listen_port = true;
				out->listen_port = c->listen_port;
			} else {
				assert_null(tb[WGDEVICE_A_LISTEN_PORT]);
			}
		} else {
			/* replace flags and secrets once only */
			assert_null(tb[WGDEVICE_A_PRIVATE_KEY]);
			assert_null(tb[WGDEVICE_A_FLAGS]);
			assert_null(tb[WGDEVICE_A_LISTEN_PORT]);
			assert_non_null(tb[WGDEVICE_A_PEERS]); /* no empty messages */
		}
		if (!tb[WGDEVICE_A_PEERS])
			continue;
		parse_list(tb[WGDEVICE_A_PEERS]);
		mnl_attr_for_each_nested(attr, tb[WGDEVICE_A_PEERS])
		{
			const struct nlattr *p[MAX_ATTR], *ip;
			struct wg_peer_config *o;
			bool cont;

			assert_true(attr->nla_type & NLA_F_NESTED);
			parse_wg_nest(attr, p);
			assert_non_null(p[WGPEER_A_PUBLIC_KEY]);
			assert_int_equal(mnl_attr_get_payload_len(p[WGPEER_A_PUBLIC_KEY]), 32);
			cont = first_in_msg && out->n_peers &&
			       memcmp(out->peers[out->n_peers - 1].public_key,
				      mnl_attr_get_payload(p[WGPEER_A_PUBLIC_KEY]), 32) == 0;
			first_in_msg = false;
			if (cont) {
				/* a continuation: its key and more IPs, nothing else */
				o = &out->peers[out->n_peers - 1];
				assert_null(p[WGPEER_A_FLAGS]);
				assert_null(p[WGPEER_A_PRESHARED_KEY]);
				assert_null(p[WGPEER_A_ENDPOINT]);
				assert_null(p[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL]);
				assert_non_null(p[WGPEER_A_ALLOWEDIPS]);
			} else {
				const struct wg_peer_config *want;

				assert_true(out->n_peers < c->n_peers);
				o = &out->peers[out->n_peers++];
				want = &c->peers[out->n_peers - 1];
				memcpy(o->public_key, mnl_attr_get_payload(p[WGPEER_A_PUBLIC_KEY]),
				       32);
				assert_u32_attr(p[WGPEER_A_FLAGS], WGPEER_F_REPLACE_ALLOWEDIPS);
				assert_u16_attr(p[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL],
						want->persistent_keepalive);
				o->persistent_keepalive = want->persistent_keepalive;
				if (want->has_preshared_key) {
					assert_bytes_attr(p[WGPEER_A_PRESHARED_KEY],
							  want->preshared_key, 32);
					o->has_preshared_key = true;
					memcpy(o->preshared_key, want->preshared_key, 32);
				} else {
					assert_null(p[WGPEER_A_PRESHARED_KEY]);
				}
				if (want->endpoint.sa.sa_family == AF_INET) {
					assert_bytes_attr(p[WGPEER_A_ENDPOINT], &want->endpoint.in,
							  sizeof(struct sockaddr_in));
					o->endpoint = want->endpoint;
				} else if (want->endpoint.sa.sa_family == AF_INET6) {
					assert_bytes_attr(p[WGPEER_A_ENDPOINT], &want->endpoint.in6,
							  sizeof(struct sockaddr_in6));
					o->endpoint = want->endpoint;
				} else {
					assert_null(p[WGPEER_A_ENDPOINT]);
				}
			}
			if (!p[WGPEER_A_ALLOWEDIPS])
				continue;
			parse_list(p[WGPEER_A_ALLOWEDIPS]);
			mnl_attr_for_each_nested(ip, p[WGPEER_A_ALLOWEDIPS])
			{
				const struct nlattr *a[MAX_ATTR];
				struct wg_prefix pr = {0};

				parse_wg_nest(ip, a);
				assert_non_null(a[WGALLOWEDIP_A_FAMILY]);
				pr.family = mnl_attr_get_u16(a[WGALLOWEDIP_A_FAMILY]);
				assert_true(pr.family == AF_INET || pr.family == AF_INET6);
				assert_non_null(a[WGALLOWEDIP_A_IPADDR]);
				assert_int_equal(mnl_attr_get_payload_len(a[WGALLOWEDIP_A_IPADDR]),
						 pr.family == AF_INET ? 4 : 16);
				memcpy(&pr.ip, mnl_attr_get_payload(a[WGALLOWEDIP_A_IPADDR]),
				       pr.family == AF_INET ? 4 : 16);
				assert_non_null(a[WGALLOWEDIP_A_CIDR_MASK]);
				assert_int_equal(
				    mnl_attr_get_payload_len(a[WGALLOWEDIP_A_CIDR_MASK]), 1);
				pr.cidr = mnl_attr_get_u8(a[WGALLOWEDIP_A_CIDR_MASK]);
				o->allowed_ips =
				    realloc(o->allowed_ips, (o->n_allowed_ips + 1) * sizeof(pr));
				assert_non_null(o->allowed_ips);
				o->allowed_ips[o->n_allowed_ips++] = pr;
			}
		}
	}
}

static void assert_same_config(const struct wg_config *a, const struct wg_config *b)
{
	assert_memory_equal(a->private_key, b->private_key, 32);
	assert_int_equal(a->has_listen_port, b->has_listen_port);
	assert_int_equal(a->listen_port, b->listen_port);
	assert_int_equal(a->n_peers, b->n_peers);
	for (size_t i = 0; i < a->n_peers; i++) {
		const struct wg_peer_config *p = &a->peers[i], *q = &b->peers[i];

		assert_memory_equal(p->public_key, q->public_key, 32);
		assert_int_equal(p->has_preshared_key, q->has_preshared_key);
		assert_memory_equal(p->preshared_key, q->preshared_key, 32);
		assert_memory_equal(&p->endpoint, &q->endpoint, sizeof(p->endpoint));
		assert_int_equal(p->persistent_keepalive, q->persistent_keepalive);
		assert_int_equal(p->n_allowed_ips, q->n_allowed_ips);
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			assert_int_equal(p->allowed_ips[j].family, q->allowed_ips[j].family);
			assert_int_equal(p->allowed_ips[j].cidr, q->allowed_ips[j].cidr);
			assert_memory_equal(&p->allowed_ips[j].ip, &q->allowed_ips[j].ip,
					    p->allowed_ips[j].family == AF_INET ? 4 : 16);
		}
	}
}

/* Build the whole sequence in buffers of size bytes; returns how many messages. */
static size_t build_sequence(const struct wg_config *c, size_t size, struct nlmsghdr ***ret)
{
	struct wg_set_cursor cur = {0};
	struct nlmsghdr **msgs = NULL;
	size_t n = 0;

	while (!cur.done) {
		char *buf = malloc(size);
		struct nlmsghdr *nlh;

		assert_non_null(buf);
		memset(buf, 0xa5, size);
		nlh = wg_build_set_device(buf, size, 1000 + (uint32_t)n, 0x1d, "wg-agent", c, &cur);
		if (!nlh)
			fail_msg("no progress at message %zu with size %zu", n, size);
		assert_true(n < 100000);
		msgs = realloc(msgs, (n + 1) * sizeof(*msgs));
		assert_non_null(msgs);
		msgs[n++] = nlh;
	}
	*ret = msgs;
	return n;
}

static void free_sequence(struct nlmsghdr **msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(msgs[i]);
	free(msgs);
}

static const char two_peers[] = "[Interface]\n"
				"PrivateKey = " ALICE_PRIV "\n"
				"ListenPort = 51820\n"
				"[Peer]\n"
				"PublicKey = " BOB_PUB "\n"
				"PresharedKey = " SEQ_KEY "\n"
				"Endpoint = 192.0.2.10:51820\n"
				"AllowedIPs = 10.0.11.0/24, fd00:11::/64\n"
				"PersistentKeepalive = 25\n"
				"[Peer]\n"
				"PublicKey = " REF_KEY "\n"
				"Endpoint = [2001:db8::1]:51821\n"
				"AllowedIPs = 0.0.0.0/0, ::/0\n";

static void set_device_builder_puts_every_attribute_in_one_message(void **state)
{
	struct wg_config c, back;
	struct nlmsghdr **msgs;
	size_t n;

	parse_config(two_peers, &c);
	n = build_sequence(&c, MNL_SOCKET_BUFFER_SIZE, &msgs);
	assert_int_equal(n, 1);
	decode_set_sequence(msgs, n, MNL_SOCKET_BUFFER_SIZE, 0x1d, &c, &back);
	assert_same_config(&c, &back);
	free_sequence(msgs, n);
	wg_config_free(&back);
	wg_config_free(&c);
}

static void set_device_builder_without_peers_or_port(void **state)
{
	static const char text[] = "[Interface]\nPrivateKey = " ALICE_PRIV "\n";
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlattr *tb[MAX_ATTR];
	struct wg_set_cursor cur = {0};
	struct wg_config c;
	struct nlmsghdr *nlh;

	parse_config(text, &c);
	nlh = wg_build_set_device(buf, sizeof(buf), 3, 0x1d, "wg0", &c, &cur);
	assert_non_null(nlh);
	assert_true(cur.done);
	parse_msg(nlh, sizeof(struct genlmsghdr), tb);
	assert_strz_attr(tb[WGDEVICE_A_IFNAME], "wg0");
	assert_bytes_attr(tb[WGDEVICE_A_PRIVATE_KEY], c.private_key, 32);
	/* replacing the peers with none removes every peer the device had */
	assert_u32_attr(tb[WGDEVICE_A_FLAGS], WGDEVICE_F_REPLACE_PEERS);
	assert_null(tb[WGDEVICE_A_LISTEN_PORT]);
	assert_null(tb[WGDEVICE_A_PEERS]);
	/* nothing more to build */
	assert_null(wg_build_set_device(buf, sizeof(buf), 4, 0x1d, "wg0", &c, &cur));
	wg_config_free(&c);
}

/* 40 peers with 0..390 allowed IPs each: too much for one message. */
static void big_config(struct wg_config *c)
{
	parse_config(two_peers, c);
	wg_config_free(c);
	parse_config(two_peers, c);
	c->peers = realloc(c->peers, 40 * sizeof(*c->peers));
	assert_non_null(c->peers);
	for (size_t i = 2; i < 40; i++) {
		struct wg_peer_config *p = &c->peers[i];

		memset(p, 0, sizeof(*p));
		memset(p->public_key, (int)i, 32);
		p->persistent_keepalive = (uint16_t)i;
		p->has_preshared_key = i % 3 == 0;
		memset(p->preshared_key, p->has_preshared_key ? 0x33 : 0, 32);
		if (i % 2) {
			p->endpoint.in.sin_family = AF_INET;
			p->endpoint.in.sin_port = htons((uint16_t)(1000 + i));
			p->endpoint.in.sin_addr.s_addr = htonl(0xc0000200u + (uint32_t)i);
		}
		p->n_allowed_ips = (i * 37) % 400;
		p->allowed_ips = calloc(p->n_allowed_ips + 1, sizeof(struct wg_prefix));
		assert_non_null(p->allowed_ips);
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			struct wg_prefix *a = &p->allowed_ips[j];

			if (j % 4 == 3) {
				a->family = AF_INET6;
				a->ip.v6.s6_addr[0] = 0xfd;
				a->ip.v6.s6_addr[1] = (uint8_t)i;
				a->ip.v6.s6_addr[2] = (uint8_t)(j >> 8);
				a->ip.v6.s6_addr[3] = (uint8_t)j;
				a->cidr = 64;
			} else {
				a->family = AF_INET;
				a->ip.v4.s_addr =
				    htonl(0x0a000000u | (uint32_t)i << 16 | (uint32_t)j);
				a->cidr = 32;
			}
		}
	}
	c->n_peers = 40;
}

static void set_device_builder_splits_a_big_config_and_loses_nothing(void **state)
{
	const size_t sizes[] = {MNL_SOCKET_BUFFER_SIZE, 1024, 200};
	struct wg_config c;

	big_config(&c);
	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		struct wg_config back;
		struct wg_device_info d = {0};
		struct nlmsghdr **msgs;
		size_t n = build_sequence(&c, sizes[s], &msgs), total = 0;
		uint8_t pub[32];

		assert_true(n > 1);
		decode_set_sequence(msgs, n, sizes[s], 0x1d, &c, &back);
		assert_same_config(&c, &back);
		wg_config_free(&back);

		/* the dump parser joins a peer continued in the next message the same way */
		for (size_t i = 0; i < n; i++)
			assert_int_equal(wg_parse_device_msg(msgs[i], &d), 0);
		assert_int_equal(d.n_peers, c.n_peers);
		for (size_t i = 0; i < d.n_peers; i++) {
			assert_memory_equal(d.peers[i].public_key, c.peers[i].public_key, 32);
			assert_int_equal(d.peers[i].n_allowed_ips, c.peers[i].n_allowed_ips);
			total += d.peers[i].n_allowed_ips;
		}
		assert_true(total > 5000);
		/* only the private key was there: the public key is derived */
		assert_int_equal(wg_public_key(pub, c.private_key), 0);
		assert_true(d.has_public_key);
		assert_memory_equal(d.public_key, pub, 32);
		wg_device_info_free(&d);
		free_sequence(msgs, n);
	}
	wg_config_free(&c);
}

static void set_device_builder_refuses_a_buffer_too_small_to_progress(void **state)
{
	char buf[256];
	struct wg_set_cursor cur = {0};
	struct wg_config c;

	parse_config(two_peers, &c);
	assert_null(wg_build_set_device(buf, 16, 1, 0x1d, "wg-agent", &c, &cur));
	assert_false(cur.done);
	/* the device's part fits in 100 bytes (88), no peer does: one message, then none */
	cur = (struct wg_set_cursor){0};
	assert_non_null(wg_build_set_device(buf, 100, 1, 0x1d, "wg-agent", &c, &cur));
	assert_true(cur.device_done);
	assert_int_equal(cur.peer, 0);
	assert_null(wg_build_set_device(buf, 100, 2, 0x1d, "wg-agent", &c, &cur));
	wg_config_free(&c);
}

/* A WG_CMD_GET_DEVICE reply as the kernel writes one. */
static struct nlmsghdr *kernel_reply(void *buf, bool with_public, const uint8_t *peer_key,
				     unsigned cidr)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	struct nlattr *peers, *peer, *ips, *ip;
	struct sockaddr_in6 ep = {.sin6_family = AF_INET6, .sin6_port = htons(51821)};
	int64_t ts[2] = {1700000000, 5};
	uint8_t priv[32], pub[32];
	uint32_t v4 = htonl(0x0a000b00);

	nlh->nlmsg_type = 0x1d;
	nlh->nlmsg_flags = NLM_F_MULTI;
	g->cmd = WG_CMD_GET_DEVICE;
	g->version = WG_GENL_VERSION;
	hex32(ALICE_PRIV_HEX, priv);
	hex32(ALICE_PUB_HEX, pub);
	inet_pton(AF_INET6, "2001:db8::1", &ep.sin6_addr);
	mnl_attr_put_u32(nlh, WGDEVICE_A_IFINDEX, 7);
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "wg-k");
	mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, 32, priv);
	if (with_public)
		mnl_attr_put(nlh, WGDEVICE_A_PUBLIC_KEY, 32, pub);
	mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, 51820);
	mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, 0);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 32, peer_key);
	mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, 32, priv);
	mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(ep), &ep);
	mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
	mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(ts), ts);
	mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, 92);
	mnl_attr_put_u64(nlh, WGPEER_A_TX_BYTES, 148);
	mnl_attr_put_u32(nlh, WGPEER_A_PROTOCOL_VERSION, 1);
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	ip = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, AF_INET);
	mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, 4, &v4);
	mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, (uint8_t)cidr);
	mnl_attr_nest_end(nlh, ip);
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	return nlh;
}

static void device_parser_reads_a_kernel_reply(void **state)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct wg_device_info d = {0};
	uint8_t bob[32], priv[32];
	char s[WG_ENDPOINT_STR_MAX];

	hex32(BOB_PUB_HEX, bob);
	assert_int_equal(wg_parse_device_msg(kernel_reply(buf, true, bob, 24), &d), 0);
	assert_true(d.kernel);
	assert_string_equal(d.name, "wg-k");
	assert_true(d.has_public_key);
	assert_hex32(d.public_key, ALICE_PUB_HEX);
	assert_int_equal(d.listen_port, 51820);
	assert_int_equal(d.n_peers, 1);
	assert_memory_equal(d.peers[0].public_key, bob, 32);
	assert_true(d.peers[0].has_preshared_key);
	wg_endpoint_format(&d.peers[0].endpoint, s);
	assert_string_equal(s, "[2001:db8::1]:51821");
	assert_int_equal(d.peers[0].persistent_keepalive, 25);
	assert_int_equal(d.peers[0].last_handshake_sec, 1700000000);
	assert_int_equal(d.peers[0].rx_bytes, 92);
	assert_int_equal(d.peers[0].tx_bytes, 148);
	assert_int_equal(d.peers[0].n_allowed_ips, 1);
	assert_int_equal(d.peers[0].allowed_ips[0].cidr, 24);
	/* the same peer first in the next message of the dump: joined, not repeated */
	assert_int_equal(wg_parse_device_msg(kernel_reply(buf, true, bob, 25), &d), 0);
	assert_int_equal(d.n_peers, 1);
	assert_int_equal(d.peers[0].n_allowed_ips, 2);
	assert_int_equal(d.peers[0].allowed_ips[1].cidr, 25);
	wg_device_info_free(&d);
	assert_int_equal(d.n_peers, 0);

	/* without WGDEVICE_A_PUBLIC_KEY the key is derived from the private one */
	hex32(ALICE_PRIV_HEX, priv);
	assert_int_equal(wg_parse_device_msg(kernel_reply(buf, false, bob, 24), &d), 0);
	assert_hex32(d.public_key, ALICE_PUB_HEX);
	wg_device_info_free(&d);
}

static void device_parser_refuses_malformed_attributes(void **state)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct wg_device_info d = {0};
	struct nlmsghdr *nlh;
	struct nlattr *peers, *peer;
	uint8_t bob[32];

	hex32(BOB_PUB_HEX, bob);
	/* a /33 IPv4 allowed IP */
	assert_int_equal(wg_parse_device_msg(kernel_reply(buf, true, bob, 33), &d), -EPROTO);
	wg_device_info_free(&d);

	/* a public key of 31 bytes */
	nlh = mnl_nlmsg_put_header(buf);
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct genlmsghdr));
	mnl_attr_put(nlh, WGDEVICE_A_PUBLIC_KEY, 31, bob);
	assert_int_equal(wg_parse_device_msg(nlh, &d), -EPROTO);
	wg_device_info_free(&d);

	/* a peer without a public key */
	nlh = mnl_nlmsg_put_header(buf);
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct genlmsghdr));
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 1);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	assert_int_equal(wg_parse_device_msg(nlh, &d), -EPROTO);
	wg_device_info_free(&d);
}

/* --- UAPI text ------------------------------------------------------------------------------ */

static void uapi_set_text_replaces_everything(void **state)
{
	static const char want[] =
	    "set=1\n"
	    "private_key=" ALICE_PRIV_HEX "\n"
	    "listen_port=51820\n"
	    "replace_peers=true\n"
	    "public_key=" BOB_PUB_HEX "\n"
	    "preshared_key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
	    "endpoint=192.0.2.10:51820\n"
	    "persistent_keepalive_interval=25\n"
	    "replace_allowed_ips=true\n"
	    "allowed_ip=10.0.11.0/24\n"
	    "allowed_ip=fd00:11::/64\n"
	    "public_key=" REF_KEY_HEX "\n"
	    "endpoint=[2001:db8::1]:51821\n"
	    "persistent_keepalive_interval=0\n"
	    "replace_allowed_ips=true\n"
	    "allowed_ip=0.0.0.0/0\n"
	    "allowed_ip=::/0\n"
	    "\n";
	struct wg_config c;
	char *text;
	size_t len;

	parse_config(two_peers, &c);
	assert_int_equal(wg_uapi_build_set(&c, &text, &len), 0);
	assert_int_equal(len, strlen(text));
	assert_string_equal(text, want);
	free(text);
	wg_config_free(&c);

	/* no port, no peers */
	parse_config("[Interface]\nPrivateKey=" ALICE_PRIV, &c);
	assert_int_equal(wg_uapi_build_set(&c, &text, &len), 0);
	assert_string_equal(text, "set=1\nprivate_key=" ALICE_PRIV_HEX "\nreplace_peers=true\n\n");
	free(text);
	wg_config_free(&c);
}

static void uapi_errno_reply_is_read_in_either_sign(void **state)
{
	assert_int_equal(wg_uapi_parse_errno("errno=0\n\n", 9), 0);
	assert_int_equal(wg_uapi_parse_errno("errno=-22\n\n", 11), -EINVAL);
	assert_int_equal(wg_uapi_parse_errno("errno=98\n\n", 10), -EADDRINUSE);
	assert_int_equal(wg_uapi_parse_errno("errno=0\n", 8), -EPROTO); /* no end */
	assert_int_equal(wg_uapi_parse_errno("\n", 1), -EPROTO);	/* no errno */
	assert_int_equal(wg_uapi_parse_errno("errno=x\n\n", 9), -EPROTO);
	assert_int_equal(wg_uapi_parse_errno("errno=99999\n\n", 13), -EPROTO);
	assert_int_equal(wg_uapi_parse_errno("garbage\n\n", 9), -EPROTO);
}

/* What wireguard-go answers to get=1, as it writes it. */
static const char get_reply[] =
    "private_key=" ALICE_PRIV_HEX "\n"
    "listen_port=51820\n"
    "public_key=" BOB_PUB_HEX "\n"
    "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
    "protocol_version=1\n"
    "endpoint=192.0.2.10:51820\n"
    "last_handshake_time_sec=0\n"
    "last_handshake_time_nsec=0\n"
    "tx_bytes=148\n"
    "rx_bytes=92\n"
    "persistent_keepalive_interval=25\n"
    "allowed_ip=10.0.11.0/24\n"
    "allowed_ip=fd00:11::/64\n"
    "public_key=" REF_KEY_HEX "\n"
    "preshared_key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
    "protocol_version=1\n"
    "endpoint=[fe80::1%eth0]:51821\n"
    "last_handshake_time_sec=1700000000\n"
    "persistent_keepalive_interval=0\n"
    "errno=0\n"
    "\n";

static void uapi_get_reply_is_parsed_and_public_key_derived(void **state)
{
	struct wg_device_info d;
	char s[WG_ENDPOINT_STR_MAX];

	assert_int_equal(wg_uapi_parse_get(get_reply, strlen(get_reply), &d), 0);
	assert_false(d.kernel);
	assert_true(d.has_public_key);
	assert_hex32(d.public_key, ALICE_PUB_HEX);
	assert_int_equal(d.listen_port, 51820);
	assert_int_equal(d.n_peers, 2);
	assert_hex32(d.peers[0].public_key, BOB_PUB_HEX);
	assert_false(d.peers[0].has_preshared_key); /* all zeros: none */
	wg_endpoint_format(&d.peers[0].endpoint, s);
	assert_string_equal(s, "192.0.2.10:51820");
	assert_int_equal(d.peers[0].tx_bytes, 148);
	assert_int_equal(d.peers[0].rx_bytes, 92);
	assert_int_equal(d.peers[0].persistent_keepalive, 25);
	assert_int_equal(d.peers[0].n_allowed_ips, 2);
	assert_hex32(d.peers[1].public_key, REF_KEY_HEX);
	assert_true(d.peers[1].has_preshared_key);
	assert_int_equal(d.peers[1].endpoint.sa.sa_family, 0); /* scoped: left out */
	assert_int_equal(d.peers[1].last_handshake_sec, 1700000000);
	assert_int_equal(d.peers[1].n_allowed_ips, 0);
	wg_device_info_free(&d);
	wg_device_info_free(&d);
	wg_device_info_free(NULL);

	/* a device without a private key has no public key */
	assert_int_equal(wg_uapi_parse_get("listen_port=1\nerrno=0\n\n", 23, &d), 0);
	assert_false(d.has_public_key);
	wg_device_info_free(&d);
}

static void uapi_get_reply_refusals(void **state)
{
	static const struct {
		const char *text;
		int want;
	} cases[] = {
	    {"listen_port=1\n\n", -EPROTO},		 /* no errno line */
	    {"listen_port=1\nerrno=0\n", -EPROTO},	 /* no blank line */
	    {"errno=-5\n\n", -EIO},			 /* its own failure */
	    {"errno=0\nlisten_port=1\n\n", -EPROTO},	 /* after errno */
	    {"listen_port=65536\nerrno=0\n\n", -EPROTO}, /* out of range */
	    {"private_key=abcd\nerrno=0\n\n", -EPROTO},	 /* short key */
	    {"public_key=" BOB_PUB_HEX "\nallowed_ip=10.0.0.0/33\nerrno=0\n\n", -EPROTO},
	    {"public_key=" BOB_PUB_HEX "\ntx_bytes=-1\nerrno=0\n\n", -EPROTO},
	    {"listen_port\nerrno=0\n\n", -EPROTO}, /* no '=' */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct wg_device_info d = {0};
		int r = wg_uapi_parse_get(cases[i].text, strlen(cases[i].text), &d);

		if (r != cases[i].want)
			fail_msg("\"%s\": %d, want %d", cases[i].text, r, cases[i].want);
		assert_int_equal(d.n_peers, 0); /* untouched on failure */
	}
}

static void uapi_get_reply_limits_peers(void **state)
{
	size_t cap = (WG_MAX_PEERS + 1) * 80 + 64, len = 0;
	char *text = malloc(cap);
	struct wg_device_info d = {0};

	assert_non_null(text);
	for (unsigned i = 0; i <= WG_MAX_PEERS; i++)
		len += (size_t)snprintf(text + len, cap - len, "public_key=%064x\n", i);
	len += (size_t)snprintf(text + len, cap - len, "errno=0\n\n");
	assert_int_equal(wg_uapi_parse_get(text, len, &d), -E2BIG);
	free(text);
}

/* --- a real wireguard-go, in a private network namespace ------------------------------------ */

/* Missing tools fail the test: a skipped test would hide a broken backend. */
static void require_wireguard_go(void)
{
	if (access("/usr/bin/wireguard-go", X_OK) < 0 &&
	    access("/usr/local/bin/wireguard-go", X_OK) < 0)
		fail_msg("wireguard-go is not installed: run `make deps`");
	if (access("/usr/bin/wg", X_OK) < 0)
		fail_msg("wg (wireguard-tools, used to inspect) is not installed: run `make deps`");
}

static const char *capture(const char *cmd)
{
	static char out[65536];
	size_t n = 0, k;
	FILE *f = popen(cmd, "r");

	assert_non_null(f);
	while (n < sizeof(out) - 1 && (k = fread(out + n, 1, sizeof(out) - 1 - n, f)) > 0)
		n += k;
	out[n] = '\0';
	if (pclose(f) != 0)
		fail_msg("`%s` failed: %s", cmd, out);
	return out;
}

#define WAIT_FOR(cond)                                                                             \
	({                                                                                         \
		bool _ok = false;                                                                  \
		for (int _i = 0; _i < 500 && !(_ok = (cond)); _i++)                                \
			usleep(10000);                                                             \
		_ok;                                                                               \
	})

/* Is any process `wireguard-go -f IFNAME` alive (anywhere on this machine)? */
static bool wggo_running(const char *ifname)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool found = false;

	assert_non_null(d);
	while (!found && (e = readdir(d))) {
		char path[64], cmd[256];
		ssize_t n;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n <= 0)
			continue;
		cmd[n] = '\0';
		/* argv is NUL-separated: wireguard-go\0-f\0IFNAME\0 */
		if (strstr(cmd, "wireguard-go") && (size_t)n > strlen(cmd) + 4 &&
		    streq(cmd + strlen(cmd) + 1, "-f") && streq(cmd + strlen(cmd) + 4, ifname))
			found = true;
	}
	closedir(d);
	return found;
}

static void test_ifname(char name[IFNAMSIZ], const char *tag)
{
	snprintf(name, IFNAMSIZ, "sl%s%u", tag, (unsigned)getpid() % 100000);
}

static const struct wg_peer_info *find_peer(const struct wg_device_info *d, const uint8_t key[32])
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (memcmp(d->peers[i].public_key, key, 32) == 0)
			return &d->peers[i];
	return NULL;
}

static bool has_prefix(const struct wg_peer_info *p, const struct wg_prefix *a)
{
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		if (p->allowed_ips[i].family == a->family && p->allowed_ips[i].cidr == a->cidr &&
		    memcmp(&p->allowed_ips[i].ip, &a->ip, a->family == AF_INET ? 4 : 16) == 0)
			return true;
	return false;
}

/* The device holds exactly c (peers and their IPs in any order: wireguard-go keeps maps). */
static void assert_device_is(const struct wg_device_info *d, const struct wg_config *c)
{
	uint8_t pub[32];

	assert_int_equal(wg_public_key(pub, c->private_key), 0);
	assert_true(d->has_public_key);
	assert_memory_equal(d->public_key, pub, 32);
	if (c->has_listen_port)
		assert_int_equal(d->listen_port, c->listen_port);
	assert_int_equal(d->n_peers, c->n_peers);
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct wg_peer_config *want = &c->peers[i];
		const struct wg_peer_info *got = find_peer(d, want->public_key);

		assert_non_null(got);
		assert_int_equal(got->has_preshared_key, want->has_preshared_key);
		assert_int_equal(got->persistent_keepalive, want->persistent_keepalive);
		assert_int_equal(got->endpoint.sa.sa_family, want->endpoint.sa.sa_family);
		if (want->endpoint.sa.sa_family) {
			char a[WG_ENDPOINT_STR_MAX], b[WG_ENDPOINT_STR_MAX];

			wg_endpoint_format(&got->endpoint, a);
			wg_endpoint_format(&want->endpoint, b);
			assert_string_equal(a, b);
		}
		assert_int_equal(got->n_allowed_ips, want->n_allowed_ips);
		for (size_t j = 0; j < want->n_allowed_ips; j++)
			assert_true(has_prefix(got, &want->allowed_ips[j]));
	}
}

/* two_peers and a third with 300 allowed IPs, to make a long UAPI text */
static void live_config(struct wg_config *c)
{
	char *text = malloc(300 * 32 + 1024);
	size_t len = 0;

	assert_non_null(text);
	len += (size_t)sprintf(text + len, "%s[Peer]\nPublicKey = %s\n", two_peers,
			       "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	for (unsigned i = 0; i < 300; i++)
		len += (size_t)sprintf(text + len, "AllowedIPs = 10.%u.%u.0/24\n", 100 + i / 256,
				       i % 256);
	parse_config(text, c);
	free(text);
}

static void wireguard_go_is_started_configured_read_back_and_stopped(void **state)
{
	char ifname[IFNAMSIZ], cmd[256], b64[WG_KEY_B64_LEN + 1];
	struct wggo w;
	struct wg_device_info d;
	struct wg_config c, c2;
	char **names = NULL;
	bool listed = false;
	int r;

	require_wireguard_go();
	test_ifname(ifname, "wg");
	live_config(&c);
	err_clear();
	r = wggo_start(ifname, NULL, &w);
	if (r < 0)
		fail_msg("wggo_start: %s", err_message(r));
	assert_true(w.pid > 0);
	assert_true(w.pidfd >= 0);
	assert_true(if_nametoindex(ifname) > 0); /* its tun, here in this netns */
	assert_true(wggo_running(ifname));
	snprintf(cmd, sizeof(cmd), "%s/%s.sock", WG_RUN_DIR, ifname);
	assert_string_equal(w.sock_path, cmd);

	/* configure and read back, by socket and by name */
	r = wg_uapi_set(w.sock_path, &c);
	if (r < 0)
		fail_msg("wg_uapi_set: %s", err_message(r));
	assert_int_equal(wg_get_device(ifname, &d), 0);
	assert_string_equal(d.name, ifname);
	assert_false(d.kernel);
	assert_device_is(&d, &c);
	wg_device_info_free(&d);
	assert_int_equal(wg_uapi_get(w.sock_path, &d), 0);
	assert_string_equal(d.name, ifname);
	assert_device_is(&d, &c);
	wg_device_info_free(&d);

	/* wg(8) sees the same public key as the one derived here */
	snprintf(cmd, sizeof(cmd), "wg show %s public-key", ifname);
	{
		uint8_t pub[32];

		assert_int_equal(wg_public_key(pub, c.private_key), 0);
		wg_key_b64_encode(pub, b64);
	}
	assert_non_null(strstr(capture(cmd), b64));
	snprintf(cmd, sizeof(cmd), "wg show %s peers | wc -l", ifname);
	assert_int_equal(atoi(capture(cmd)), 3);

	assert_int_equal(wg_list_devices(&names), 0);
	for (char **n = names; *n; n++)
		listed |= streq(*n, ifname);
	assert_true(listed);
	strv_free(names);

	/* a second set replaces everything: one peer left, its IPs replaced */
	parse_config("[Interface]\nPrivateKey = " ALICE_PRIV "\nListenPort = 51999\n"
		     "[Peer]\nPublicKey = " BOB_PUB "\nAllowedIPs = 10.9.9.0/24\n",
		     &c2);
	assert_int_equal(wg_uapi_set(w.sock_path, &c2), 0);
	assert_int_equal(wg_get_device(ifname, &d), 0);
	assert_device_is(&d, &c2);
	assert_int_equal(d.listen_port, 51999);
	wg_device_info_free(&d);

	/* a second daemon of the same name is refused before it starts */
	{
		struct wggo w2;

		err_clear();
		assert_int_equal(wggo_start(ifname, NULL, &w2), -EADDRINUSE);
		assert_non_null(strstr(err_message(-EADDRINUSE), ifname));
	}

	assert_int_equal(wggo_stop(&w), 0);
	assert_int_equal(w.pidfd, -1);
	assert_int_equal(wggo_stop(&w), 0); /* idempotent */
	assert_false(wggo_running(ifname));
	assert_int_equal(kill(w.pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(if_nametoindex(ifname), 0);
	assert_int_equal(access(w.sock_path, F_OK), -1);
	assert_int_equal(wg_get_device(ifname, &d), -ENODEV);
	wg_config_free(&c);
	wg_config_free(&c2);
}

static void wireguard_go_in_its_own_run_dir_leaves_the_shared_one_alone(void **state)
{
	char dir[] = "/tmp/test_wg.XXXXXX", ifname[IFNAMSIZ], shared[128], want[256];
	struct wg_device_info d;
	struct wg_config c;
	struct wggo w;
	char log[4096];
	int r;

	require_wireguard_go();
	assert_non_null(mkdtemp(dir));
	test_ifname(ifname, "rd");
	snprintf(shared, sizeof(shared), "%s/%s.sock", WG_RUN_DIR, ifname);
	err_clear();
	r = wggo_start(ifname, dir, &w);
	if (r < 0)
		fail_msg("wggo_start: %s", err_message(r));
	snprintf(want, sizeof(want), "%s/%s.sock", dir, ifname);
	assert_string_equal(w.sock_path, want);
	assert_int_equal(access(want, F_OK), 0);
	assert_int_equal(access(shared, F_OK), -1);
	/* and the host's mount table did not get its bind mount */
	assert_null(strstr(capture("cat /proc/self/mountinfo"), WG_RUN_DIR + 4));

	parse_config(two_peers, &c);
	assert_int_equal(wg_uapi_set(w.sock_path, &c), 0);
	assert_int_equal(wg_uapi_get(w.sock_path, &d), 0);
	assert_device_is(&d, &c);
	wg_device_info_free(&d);

	/* a request the daemon refuses comes back as its errno: a port already taken here */
	{
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(51830)};
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		assert_true(fd >= 0);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		c.listen_port = 51830;
		err_clear();
		r = wg_uapi_set(w.sock_path, &c);
		assert_int_equal(r, -EADDRINUSE);
		assert_non_null(strstr(err_message(r), w.sock_path));
		close(fd);
	}
	wg_config_free(&c);

	/* and its own account of it is in its log */
	{
		size_t n = wggo_log(&w, log, sizeof(log));

		assert_int_equal(n, strlen(log));
		if (!strstr(log, "failed to set listen_port: address already in use"))
			fail_msg("wireguard-go's log: \"%s\"", log);
	}
	assert_int_equal(wggo_stop(&w), 0);
	assert_false(wggo_running(ifname));
	assert_int_equal(if_nametoindex(ifname), 0);
	assert_int_equal(access(want, F_OK), -1);
	assert_int_equal(rmdir(dir), 0); /* empty */
}

static void wireguard_go_killed_from_outside_is_still_stopped_cleanly(void **state)
{
	char dir[] = "/tmp/test_wg.XXXXXX", ifname[IFNAMSIZ];
	struct wggo w;
	int r;

	require_wireguard_go();
	assert_non_null(mkdtemp(dir));
	test_ifname(ifname, "kl");
	r = wggo_start(ifname, dir, &w);
	if (r < 0)
		fail_msg("wggo_start: %s", err_message(r));
	assert_int_equal(kill(w.pid, SIGKILL), 0);
	assert_int_equal(wggo_stop(&w), 0);
	assert_false(wggo_running(ifname));
	assert_true(WAIT_FOR(if_nametoindex(ifname) == 0));
	/* killed, it could not remove its socket: stop did */
	assert_int_equal(access(w.sock_path, F_OK), -1);
	assert_int_equal(rmdir(dir), 0);
}

static void wireguard_go_dies_with_its_supervisor(void **state)
{
	char dir[] = "/tmp/test_wg.XXXXXX", ifname[IFNAMSIZ], sock[256];
	int pipefd[2], status, pidfd;
	pid_t helper, wggo_pid = 0;
	struct pollfd pfd;

	require_wireguard_go();
	assert_non_null(mkdtemp(dir));
	test_ifname(ifname, "pd");
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	helper = fork();
	assert_true(helper >= 0);
	if (helper == 0) {
		/* a supervisor that starts wireguard-go and is then SIGKILLed */
		struct wggo w;

		if (wggo_start(ifname, dir, &w) < 0)
			_exit(1);
		(void)!write(pipefd[1], &w.pid, sizeof(w.pid));
		for (;;)
			pause();
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &wggo_pid, sizeof(wggo_pid)), sizeof(wggo_pid));
	close(pipefd[0]);
	pidfd = (int)syscall(SYS_pidfd_open, wggo_pid, 0);
	assert_true(pidfd >= 0);
	assert_true(wggo_running(ifname));

	assert_int_equal(kill(helper, SIGKILL), 0);
	assert_int_equal(waitpid(helper, &status, 0), helper);
	pfd = (struct pollfd){.fd = pidfd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 5000), 1); /* it exited */
	close(pidfd);
	assert_true(WAIT_FOR(!wggo_running(ifname)));
	assert_true(WAIT_FOR(if_nametoindex(ifname) == 0));
	/* SIGKILLed, it leaves its socket: what `sluice gc` clears */
	snprintf(sock, sizeof(sock), "%s/%s.sock", dir, ifname);
	unlink(sock);
	assert_int_equal(rmdir(dir), 0);
}

static void wggo_start_refuses_bad_names_and_dirs(void **state)
{
	struct wggo w;

	assert_int_equal(wggo_start("", NULL, &w), -EINVAL);
	assert_int_equal(wggo_start("a/b", NULL, &w), -EINVAL);
	assert_int_equal(wggo_start("sixteen-chars-xx", NULL, &w), -EINVAL);
	assert_int_equal(wggo_start("..", NULL, &w), -EINVAL);
	assert_int_equal(wggo_start("wg0", "relative/dir", &w), -EINVAL);
	assert_int_equal(wggo_start("wg0", WG_RUN_DIR, &w), -EINVAL);
	assert_int_equal(wg_get_device("a/b", &(struct wg_device_info){0}), -EINVAL);
}

static void kernel_backend_where_the_kernel_has_wireguard_else_clear_errors(void **state)
{
	struct mnl_socket *genl, *rtnl;
	struct wg_device_info d;
	struct wg_config c;
	uint16_t family;
	int r;

	assert_int_equal(nl_open(NETLINK_GENERIC, &genl), 0);
	assert_int_equal(nl_open(NETLINK_ROUTE, &rtnl), 0);
	parse_config(two_peers, &c);
	err_clear();
	r = wg_genl_family(genl, &family);
	if (r == -ENOENT) {
		/* this machine: no module; both paths say so */
		assert_non_null(strstr(err_message(r), "no WireGuard"));
		r = wg_kernel_link_add(rtnl, "slk0", 0);
		assert_int_equal(r, -EOPNOTSUPP);
		assert_non_null(strstr(err_message(r), "slk0"));
		assert_int_equal(wg_kernel_set(genl, "slk0", &c), -ENOENT);
		assert_int_equal(wg_get_device("slk0", &d), -ENODEV);
	} else {
		/* a kernel with WireGuard: the whole path, for real */
		assert_int_equal(r, 0);
		assert_int_equal(wg_kernel_link_add(rtnl, "slk0", 1420), 0);
		assert_int_equal(wg_kernel_set(genl, "slk0", &c), 0);
		assert_int_equal(wg_kernel_get(genl, "slk0", &d), 0);
		assert_true(d.kernel);
		assert_device_is(&d, &c);
		wg_device_info_free(&d);
		assert_int_equal(wg_get_device("slk0", &d), 0);
		assert_device_is(&d, &c);
		wg_device_info_free(&d);
		assert_int_equal(wg_kernel_get(genl, "nosuch0", &d), -ENODEV);
		assert_int_equal(nl_link_del(rtnl, "slk0"), 0);
	}
	wg_config_free(&c);
	mnl_socket_close(genl);
	mnl_socket_close(rtnl);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
	    cmocka_unit_test(public_keys_match_rfc7748_section_6_1),
	    cmocka_unit_test(public_key_of_a_wg_key_matches_wg_pubkey),
	    cmocka_unit_test(newlink_builder_makes_kind_wireguard_with_name_and_mtu),
	    cmocka_unit_test(getfamily_builder_asks_the_controller_for_wireguard),
	    cmocka_unit_test(get_device_builder_is_a_dump_by_name),
	    cmocka_unit_test(set_device_builder_puts_every_attribute_in_one_message),
	    cmocka_unit_test(set_device_builder_without_peers_or_port),
	    cmocka_unit_test(set_device_builder_splits_a_big_config_and_loses_nothing),
	    cmocka_unit_test(set_device_builder_refuses_a_buffer_too_small_to_progress),
	    cmocka_unit_test(device_parser_reads_a_kernel_reply),
	    cmocka_unit_test(device_parser_refuses_malformed_attributes),
	    cmocka_unit_test(uapi_set_text_replaces_everything),
	    cmocka_unit_test(uapi_errno_reply_is_read_in_either_sign),
	    cmocka_unit_test(uapi_get_reply_is_parsed_and_public_key_derived),
	    cmocka_unit_test(uapi_get_reply_refusals),
	    cmocka_unit_test(uapi_get_reply_limits_peers),
	};
	const struct CMUnitTest live[] = {
	    cmocka_unit_test(wggo_start_refuses_bad_names_and_dirs),
	    cmocka_unit_test(wireguard_go_is_started_configured_read_back_and_stopped),
	    cmocka_unit_test(wireguard_go_in_its_own_run_dir_leaves_the_shared_one_alone),
	    cmocka_unit_test(wireguard_go_killed_from_outside_is_still_stopped_cleanly),
	    cmocka_unit_test(wireguard_go_dies_with_its_supervisor),
	    cmocka_unit_test(kernel_backend_where_the_kernel_has_wireguard_else_clear_errors),
	};
	int fails;

	fails = cmocka_run_group_tests_name("pure", pure, NULL, NULL);
	fails += cmocka_run_group_tests_name("live, in a private netns", live, enter_private_netns,
					     NULL);
	return fails;
}
