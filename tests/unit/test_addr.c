/* test_addr.c: every address form addr.c accepts, every way it refuses one (with the message
 * and byte offset), printing and reading back, and IPv4-mapped IPv6 folded to IPv4. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka.h needs <stdarg.h>, <stddef.h>, <setjmp.h> and <stdint.h> first. */
#include <cmocka.h>

#include "addr.h"
#include "log.h"
#include "util.h"
#include "wgconf.h"

static struct endpoint parse_ok(const char *s)
{
	struct endpoint e;
	int r = addr_parse(s, &e);

	if (r != 0)
		fail_msg("addr_parse(\"%s\") failed: %s", s, err_message(r));
	return e;
}

static void assert_parse_fails(const char *s, const char *want)
{
	struct endpoint e;
	const char *err;

	err_clear();
	assert_int_equal(addr_parse(s, &e), -EINVAL);
	err = err_message(-EINVAL);
	if (!strstr(err, want))
		fail_msg("addr_parse(\"%s\"): got \"%s\", want \"%s\"", s, err, want);
	assert_null(strchr(err, '\n'));
}

static void assert_fmt(const struct endpoint *e, const char *want)
{
	char buf[ADDR_STR_MAX];

	assert_string_equal(addr_format(e, buf, sizeof(buf)), want);
}

static void multiaddr_ip4_tcp(void **state)
{
	struct endpoint e = parse_ok("/ip4/10.0.11.1/tcp/1616");

	assert_int_equal(e.family, AF_INET);
	assert_int_equal(e.proto, IPPROTO_TCP);
	assert_int_equal(e.port, 1616);
	assert_int_equal(e.scheme, SCHEME_NONE);
	assert_int_equal(e.ip.v4.s_addr, htonl(0x0a000b01));
}

static void multiaddr_ip6_udp(void **state)
{
	struct endpoint e = parse_ok("/ip6/fd00::1/udp/53");

	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.proto, IPPROTO_UDP);
	assert_int_equal(e.port, 53);
	assert_fmt(&e, "udp [fd00::1]:53");
}

static void hostport_defaults_to_tcp(void **state)
{
	struct endpoint e = parse_ok("10.0.0.1:80");

	assert_int_equal(e.proto, IPPROTO_TCP);
	assert_fmt(&e, "tcp 10.0.0.1:80");
	e = parse_ok("[fd00::1]:443");
	assert_int_equal(e.family, AF_INET6);
	assert_fmt(&e, "tcp [fd00::1]:443");
}

static void protocol_prefix_selects_protocol(void **state)
{
	struct endpoint e = parse_ok("udp:[fd00::1]:53");

	assert_int_equal(e.proto, IPPROTO_UDP);
	assert_fmt(&e, "udp [fd00::1]:53");
	e = parse_ok("tcp:10.0.0.1:80");
	assert_int_equal(e.proto, IPPROTO_TCP);
	e = parse_ok("udp:10.0.0.1:53");
	assert_fmt(&e, "udp 10.0.0.1:53");
}

static void url_schemes_and_default_ports(void **state)
{
	struct endpoint e = parse_ok("http://10.0.0.1:8888");

	assert_int_equal(e.scheme, SCHEME_HTTP);
	assert_int_equal(e.port, 8888);
	assert_int_equal(e.proto, IPPROTO_TCP);
	e = parse_ok("http://10.0.0.1");
	assert_int_equal(e.port, 8080);
	e = parse_ok("http://10.0.0.1/");
	assert_int_equal(e.port, 8080);
	e = parse_ok("socks5://10.0.0.2");
	assert_int_equal(e.scheme, SCHEME_SOCKS5);
	assert_int_equal(e.port, 1080);
	e = parse_ok("socks5h://[fd00::2]");
	assert_int_equal(e.scheme, SCHEME_SOCKS5H);
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.port, 1080);
	e = parse_ok("socks5h://[fd00::2]:9050/");
	assert_int_equal(e.port, 9050);
	e = parse_ok("HTTP://10.0.0.1:1");
	assert_int_equal(e.scheme, SCHEME_HTTP);
	assert_int_equal(e.port, 1);
}

static void mapped_v4_is_stored_as_ipv4(void **state)
{
	const char *forms[] = {"[::ffff:1.2.3.4]:80", "/ip6/::ffff:1.2.3.4/tcp/80",
			       "http://[::ffff:1.2.3.4]:80", "1.2.3.4:80"};
	struct endpoint plain = parse_ok("/ip4/1.2.3.4/tcp/80");

	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		struct endpoint e = parse_ok(forms[i]);

		assert_int_equal(e.family, AF_INET);
		assert_int_equal(e.ip.v4.s_addr, htonl(0x01020304));
		assert_true(addr_equal(&e, &plain));
		assert_fmt(&e, "tcp 1.2.3.4:80");
	}
}

static void mapped_v4_loopback_is_loopback(void **state)
{
	struct endpoint e = parse_ok("[::ffff:127.0.0.1]:8888");

	assert_int_equal(e.family, AF_INET);
	assert_true(addr_is_loopback(&e));
}

static void loopback_detection(void **state)
{
	struct endpoint e = parse_ok("127.0.0.1:1");

	assert_true(addr_is_loopback(&e));
	e = parse_ok("127.255.0.9:1");
	assert_true(addr_is_loopback(&e));
	e = parse_ok("[::1]:1");
	assert_true(addr_is_loopback(&e));
	e = parse_ok("10.0.0.1:1");
	assert_false(addr_is_loopback(&e));
	e = parse_ok("[fd00::1]:1");
	assert_false(addr_is_loopback(&e));
	e = parse_ok("128.0.0.1:1");
	assert_false(addr_is_loopback(&e));
}

static void equal_ignores_scheme_but_not_proto_or_port(void **state)
{
	struct endpoint a = parse_ok("http://10.0.0.1:80");
	struct endpoint b = parse_ok("10.0.0.1:80");
	struct endpoint c = parse_ok("udp:10.0.0.1:80");
	struct endpoint d = parse_ok("10.0.0.1:81");
	struct endpoint x = parse_ok("10.0.0.2:80");
	struct endpoint y = parse_ok("[fd00::1]:80");
	struct endpoint z = parse_ok("/ip6/fd00::1/tcp/80");

	assert_true(addr_equal(&a, &b));
	assert_false(addr_equal(&b, &c));
	assert_false(addr_equal(&b, &d));
	assert_false(addr_equal(&b, &x));
	assert_false(addr_equal(&b, &y));
	assert_true(addr_equal(&y, &z));
}

static void format_url_round_trips(void **state)
{
	const char *urls[] = {"http://10.0.0.1:8888",	  "socks5://10.0.0.2:1080",
			      "socks5h://[fd00::2]:9050", "tcp:10.0.0.1:80",
			      "udp:[fd00::1]:53",	  "http://[2001:db8::1]:3128"};
	char buf[ADDR_STR_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(urls); i++) {
		struct endpoint e = parse_ok(urls[i]), back;

		assert_string_equal(addr_format_url(&e, buf, sizeof(buf)), urls[i]);
		back = parse_ok(buf);
		assert_true(addr_equal(&e, &back));
		assert_int_equal(e.scheme, back.scheme);
	}
}

static void format_url_fills_in_default_port(void **state)
{
	struct endpoint e = parse_ok("socks5://10.0.0.1");
	char buf[ADDR_STR_MAX];

	assert_string_equal(addr_format_url(&e, buf, sizeof(buf)), "socks5://10.0.0.1:1080");
}

static void format_round_trips_through_multiaddr(void **state)
{
	const char *in[] = {"/ip4/10.0.0.1/tcp/80", "/ip6/fd00::1/udp/53",
			    "/ip6/2001:db8::abcd/tcp/65535"};
	const char *want[] = {"tcp 10.0.0.1:80", "udp [fd00::1]:53", "tcp [2001:db8::abcd]:65535"};
	char buf[ADDR_STR_MAX], ip[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
		struct endpoint e = parse_ok(in[i]), back;

		assert_string_equal(addr_format(&e, buf, sizeof(buf)), want[i]);
		/* "tcp A:P" is "tcp:A:P" with a space: read it back that way. */
		buf[3] = ':';
		back = parse_ok(buf);
		assert_true(addr_equal(&e, &back));
	}
	{
		struct endpoint e = parse_ok("[fd00::1]:1");

		assert_string_equal(addr_ip_str(&e, ip, sizeof(ip)), "fd00::1");
		e = parse_ok("10.1.2.3:1");
		assert_string_equal(addr_ip_str(&e, ip, sizeof(ip)), "10.1.2.3");
	}
}

static void bad_ipv4_in_multiaddr_names_byte_offset(void **state)
{
	assert_parse_fails("/ip4/10.0.0.300/tcp/80",
			   "/ip4/10.0.0.300/tcp/80: bad IPv4 address at byte 5");
	assert_parse_fails("/ip4/fd00::1/tcp/80", "bad IPv4 address at byte 5");
	assert_parse_fails("/ip6/10.0.0.1/tcp/80", "bad IPv6 address at byte 5");
}

static void multiaddr_later_protocols_are_not_supported_yet(void **state)
{
	assert_parse_fails("/dnsaddr/example.com", "/dnsaddr is not supported yet at byte 0");
	assert_parse_fails("/ip4/10.0.0.1/udp/443/quic", "/quic is not supported yet at byte 21");
	assert_parse_fails("/ip4/10.0.11.1/tcp/1616/wg/uAAAA",
			   "WireGuard key too short (32 bytes: 'u' and 43 characters) (segment "
			   "/wg/uAAAA) at byte 27");
}

static void multiaddr_malformed_forms(void **state)
{
	assert_parse_fails("/foo/1", "malformed multiaddr: unknown protocol \"foo\" at byte 0");
	assert_parse_fails("/ip4", "missing address after /ip4 at byte 4");
	assert_parse_fails("/ip4/10.0.0.1", "missing /tcp/PORT or /udp/PORT at byte 13");
	assert_parse_fails("/ip4/10.0.0.1/tcp", "missing port after /tcp at byte 17");
	assert_parse_fails("/ip4/10.0.0.1/sctp/5", "/sctp is not supported yet at byte 13");
	assert_parse_fails("/ip4/10.0.0.1/ip4/5", "expected /tcp or /udp at byte 13");
	assert_parse_fails("/ip4/10.0.0.1/tcp/80/", "empty protocol at byte 21");
	assert_parse_fails("//ip4", "empty protocol at byte 1");
	assert_parse_fails("/ip4/10.0.0.1/tcp/80/bar", "unknown protocol \"bar\" at byte 20");
	assert_parse_fails("/ip4/10.0.0.1/tcp/x", "bad port at byte 18");
}

static void port_zero_and_out_of_range_are_refused(void **state)
{
	assert_parse_fails("10.0.0.1:0",
			   "10.0.0.1:0: port 0 is not a port one can connect to at byte 9");
	assert_parse_fails("10.0.0.1:65536", "port out of range (1-65535) at byte 9");
	assert_parse_fails("10.0.0.1:99999999999999999999", "port out of range");
	assert_parse_fails("/ip4/10.0.0.1/tcp/0", "port 0");
	assert_parse_fails("http://10.0.0.1:0", "port 0");
	assert_parse_fails("10.0.0.1:-1", "bad port at byte 9");
	assert_parse_fails("10.0.0.1:8a", "bad port at byte 9");
	assert_parse_fails("10.0.0.1:", "missing port at byte 9");
	assert_parse_fails("10.0.0.1", "missing port (expected address:port) at byte 8");
	assert_parse_fails("[fd00::1]", "missing port (expected [address]:port) at byte 9");
	assert_int_equal(parse_ok("10.0.0.1:65535").port, 65535);
	assert_int_equal(parse_ok("10.0.0.1:1").port, 1);
}

static void host_names_are_not_resolved(void **state)
{
	assert_parse_fails("localhost:80",
			   "host names are not resolved; give an IP address at byte 0");
	assert_parse_fails("http://proxy.internal:3128",
			   "host names are not resolved; give an IP address at byte 7");
	assert_parse_fails("udp:dns.example:53",
			   "host names are not resolved; give an IP address at byte 4");
}

static void bracket_and_ipv6_errors(void **state)
{
	assert_parse_fails("fd00::1:80",
			   "an IPv6 address needs brackets: [address]:port at byte 0");
	assert_parse_fails("[fd00::1:80", "missing ']' after IPv6 address at byte 0");
	assert_parse_fails("[fd00::1]80", "expected ':' and a port after ']' at byte 9");
	assert_parse_fails("[fd00::zz]:80", "bad IPv6 address at byte 1");
	assert_parse_fails("[]:80", "bad IPv6 address at byte 1");
	assert_parse_fails(":80", "missing address at byte 0");
	assert_parse_fails("1.2.3:80", "bad IPv4 address at byte 0");
	assert_parse_fails("", "empty address");
}

static void url_errors(void **state)
{
	assert_parse_fails("ftp://10.0.0.1",
			   "unsupported scheme \"ftp\" (http, socks5 or socks5h) at byte 0");
	assert_parse_fails("http://10.0.0.1:8080/proxy",
			   "a proxy URL takes no path, query or fragment at byte 20");
	assert_parse_fails("http://10.0.0.1?x=1", "takes no path");
	assert_parse_fails("socks5://user:pass@10.0.0.1:1080",
			   "credentials belong only in the proxy URL (--proxy, proxy:) at byte 9");
	assert_parse_fails("http://", "missing address at byte 7");
	assert_parse_fails("http://10.0.0.1:", "missing port at byte 16");
}

static void proxy_must_be_url(void **state)
{
	struct endpoint e;

	assert_int_equal(addr_parse_proxy("10.0.0.1:8080", &e), -EINVAL);
	assert_string_equal(err_message(-EINVAL), "10.0.0.1:8080: a proxy must be a URL (http://, "
						  "socks5:// or socks5h://)");
	assert_int_equal(addr_parse_proxy("/ip4/10.0.0.1/tcp/1", &e), -EINVAL);
	assert_int_equal(addr_parse_proxy("http://1.2.3:1", &e), -EINVAL);
	assert_non_null(strstr(err_message(-EINVAL), "bad IPv4 address at byte 7"));
	assert_int_equal(addr_parse_proxy("socks5h://10.0.0.1", &e), 0);
	assert_int_equal(e.scheme, SCHEME_SOCKS5H);
}

static void error_echo_is_one_line_and_bounded(void **state)
{
	char longs[400];
	struct endpoint e;

	assert_parse_fails("bad\nname:80", "bad?name:80:");
	memset(longs, 'a', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	assert_int_equal(addr_parse(longs, &e), -EINVAL);
	assert_true(strlen(err_message(-EINVAL)) < 250);
	assert_non_null(strstr(err_message(-EINVAL), "...: "));
}

/* A failure sets the record; a success after it does not matter: the next failure records its
 * own message, with nothing of the last one's. */
static void each_failure_records_its_own_message(void **state)
{
	struct endpoint e;

	err_clear();
	assert_int_equal(addr_parse("", &e), -EINVAL);
	assert_string_equal(err_message(-EINVAL), "empty address");
	assert_int_equal(addr_parse("10.0.0.1:80", &e), 0);
	assert_int_equal(addr_parse("10.0.0.1:0", &e), -EINVAL);
	assert_string_equal(err_message(-EINVAL),
			    "10.0.0.1:0: port 0 is not a port one can connect to at byte 9");
}

static void failed_parse_leaves_result_untouched(void **state)
{
	struct endpoint e = {.port = 4242};

	assert_int_equal(addr_parse("10.0.0.1:0", &e), -EINVAL);
	assert_int_equal(e.port, 4242);
}

/* wg(8)'s key and its multibase form, from the project's test vectors. */
static const char *const KEY_B64 = "g3x7z0AdV1rM6UQU22CC7IL3/ivn4DzrE7ikDhCZ/Dc=";
static const char *const KEY_U = "ug3x7z0AdV1rM6UQU22CC7IL3_ivn4DzrE7ikDhCZ_Dc";

static void wg_key_multibase_round_trip(void **state)
{
	uint8_t k[32], k2[32];
	char out[45];

	assert_int_equal(wg_key_b64_decode(KEY_B64, k), 0);
	addr_wg_key_encode(k, out);
	assert_string_equal(out, KEY_U);
	assert_int_equal(addr_wg_key_decode(KEY_U, strlen(KEY_U), k2), 0);
	assert_memory_equal(k, k2, 32);
	/* every byte value survives, in every position */
	for (int v = 0; v < 256; v++) {
		memset(k, v, sizeof(k));
		k[v % 32] = (uint8_t)~v;
		addr_wg_key_encode(k, out);
		assert_int_equal(addr_wg_key_decode(out, strlen(out), k2), 0);
		assert_memory_equal(k, k2, 32);
	}
}

static void wg_key_multibase_refusals(void **state)
{
	static const struct {
		const char *in, *why;
	} bad[] = {
	    {"udG9vIHNob3J0", "too short"},
	    {"ug3x7z0AdV1rM6UQU22CC7IL3_ivn4DzrE7ikDhCZ_DcA", "too long"},
	    {"mg3x7z0AdV1rM6UQU22CC7IL3_ivn4DzrE7ikDhCZ_Dc", "multibase base64url"},
	    {"ug3x7z0AdV1rM6UQU22CC7IL3/ivn4DzrE7ikDhCZ_Dc", "base64url ('-' and '_'"},
	    {"ug3x7z0AdV1rM6UQU22CC7IL3+ivn4DzrE7ikDhCZ_Dc", "base64url ('-' and '_'"},
	    {"ug3x7z0AdV1rM6UQU22CC7IL3_ivn4DzrE7ikDhCZ_D=", "no '=' padding"},
	    {"ug3x7z0AdV1rM6UQU22CC7IL3_ivn4DzrE7ikDhCZ_Dd", "bits set beyond"},
	    {"ug3x7z0AdV1rM6UQU22CC7IL3_ivn4DzrE7ikDhCZ_D!", "bad character"},
	};
	uint8_t k[32];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err_clear();
		assert_int_equal(addr_wg_key_decode(bad[i].in, strlen(bad[i].in), k), -EINVAL);
		if (!strstr(err_message(-EINVAL), bad[i].why))
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i].in, err_message(-EINVAL),
				 bad[i].why);
	}
}

static void wg_multiaddr_suffix_and_infix_forms(void **state)
{
	char s[200];
	uint8_t k[32];
	struct endpoint e;

	assert_int_equal(wg_key_b64_decode(KEY_B64, k), 0);
	snprintf(s, sizeof(s), "/ip4/10.0.11.1/tcp/1616/wg/%s", KEY_U);
	e = parse_ok(s);
	assert_true(e.has_wg);
	assert_false(e.has_bearer);
	assert_memory_equal(e.wg_key, k, 32);
	assert_int_equal(e.port, 1616);
	assert_int_equal(e.proto, IPPROTO_TCP);
	assert_int_equal(e.ip.v4.s_addr, htonl(0x0a000b01));

	snprintf(s, sizeof(s), "/ip4/192.168.1.50/udp/51820/wg/%s/ip4/10.0.11.1/tcp/1616", KEY_U);
	e = parse_ok(s);
	assert_true(e.has_wg);
	assert_true(e.has_bearer);
	assert_int_equal(e.bearer.family, AF_INET);
	assert_int_equal(e.bearer.port, 51820);
	assert_int_equal(e.bearer.ip.v4.s_addr, htonl(0xc0a80132));
	assert_int_equal(e.port, 1616);
	assert_int_equal(e.ip.v4.s_addr, htonl(0x0a000b01));

	/* the tractor peer form: bearer and key alone */
	e = parse_ok("/ip4/1.2.3.4/udp/51820/wg/urCzgw_sszhsg-SpR8V5IPmVnYPg2PliWW739_SWemwY");
	assert_true(e.has_wg);
	assert_int_equal(e.proto, IPPROTO_UDP);

	/* the same endpoint through another peer, or none, is another declaration */
	snprintf(s, sizeof(s), "/ip4/10.0.11.1/tcp/1616/wg/%s", KEY_U);
	e = parse_ok(s);
	{
		struct endpoint plain = parse_ok("10.0.11.1:1616");

		assert_false(addr_equal(&e, &plain));
	}
}

static void wg_multiaddr_errors_name_offset_and_segment(void **state)
{
	assert_parse_fails("/ip4/10.0.11.1/tcp/1616/wg/udG9vIHNob3J0",
			   "WireGuard key too short (32 bytes: 'u' and 43 characters) (segment "
			   "/wg/udG9vIHNob3J0) at byte 27");
	assert_parse_fails("/ip4/10.0.11.1/tcp/1616/wg", "missing key after /wg");
	assert_parse_fails("/ip4/10.0.11.1/tcp/51820/wg/ug3x7z0AdV1rM6UQU22CC7IL3_ivn4DzrE7ikDhCZ_Dc"
			   "/ip4/10.0.11.1/tcp/1",
			   "a WireGuard bearer is UDP");
	assert_parse_fails("/dns4/registrar.lan/tcp/1616", "host names are not resolved");
	assert_parse_fails("/unix/run/x.sock", "a unix socket is not an IP endpoint here");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(multiaddr_ip4_tcp),
	    cmocka_unit_test(multiaddr_ip6_udp),
	    cmocka_unit_test(hostport_defaults_to_tcp),
	    cmocka_unit_test(protocol_prefix_selects_protocol),
	    cmocka_unit_test(url_schemes_and_default_ports),
	    cmocka_unit_test(mapped_v4_is_stored_as_ipv4),
	    cmocka_unit_test(mapped_v4_loopback_is_loopback),
	    cmocka_unit_test(loopback_detection),
	    cmocka_unit_test(equal_ignores_scheme_but_not_proto_or_port),
	    cmocka_unit_test(format_url_round_trips),
	    cmocka_unit_test(format_url_fills_in_default_port),
	    cmocka_unit_test(format_round_trips_through_multiaddr),
	    cmocka_unit_test(bad_ipv4_in_multiaddr_names_byte_offset),
	    cmocka_unit_test(multiaddr_later_protocols_are_not_supported_yet),
	    cmocka_unit_test(multiaddr_malformed_forms),
	    cmocka_unit_test(port_zero_and_out_of_range_are_refused),
	    cmocka_unit_test(host_names_are_not_resolved),
	    cmocka_unit_test(bracket_and_ipv6_errors),
	    cmocka_unit_test(url_errors),
	    cmocka_unit_test(proxy_must_be_url),
	    cmocka_unit_test(error_echo_is_one_line_and_bounded),
	    cmocka_unit_test(each_failure_records_its_own_message),
	    cmocka_unit_test(failed_parse_leaves_result_untouched),
	    cmocka_unit_test(wg_key_multibase_round_trip),
	    cmocka_unit_test(wg_key_multibase_refusals),
	    cmocka_unit_test(wg_multiaddr_suffix_and_infix_forms),
	    cmocka_unit_test(wg_multiaddr_errors_name_offset_and_segment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
