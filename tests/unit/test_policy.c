/* test_policy.c: each policy setter's accepted values and every refusal with its message,
 * the list limits, and policy_finish's defaults, dedupe and loopback/unspecified checks. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka.h needs <stdarg.h>, <stddef.h>, <setjmp.h> and <stdint.h> first. */
#include <cmocka.h>

#include "log.h"
#include "policy.h"

typedef int (*setter_fn)(struct policy *p, const char *v);

static void assert_set_fails(setter_fn set, const char *v, const char *want)
{
	struct policy p;
	const char *err;

	policy_init(&p);
	err_clear();
	assert_int_equal(set(&p, v), -EINVAL);
	err = err_message(-EINVAL);
	if (!strstr(err, want))
		fail_msg("setter(\"%s\"): got \"%s\", want \"%s\"", v, err, want);
	assert_null(strchr(err, '\n'));
	policy_free(&p);
}

static void set_ok(struct policy *p, setter_fn set, const char *v)
{
	int r = set(p, v);

	if (r != 0)
		fail_msg("setter(\"%s\") failed: %s", v, err_message(r));
}

static void assert_finish_fails(struct policy *p, const char *want)
{
	int r = policy_finish(p);

	assert_int_equal(r, -EINVAL);
	if (!strstr(err_message(r), want))
		fail_msg("policy_finish: got \"%s\", want \"%s\"", err_message(r), want);
}

static void name_accepts_valid_names(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_set_name, "agent");
	assert_string_equal(p.name, "agent");
	set_ok(&p, policy_set_name, "0a_b.c-D");
	assert_string_equal(p.name, "0a_b.c-D");
	set_ok(&p, policy_set_name, "abcdefghijklmnopqrstuvwxyz012345"); /* 32 */
	assert_string_equal(p.name, "abcdefghijklmnopqrstuvwxyz012345");
	policy_free(&p);
}

static void name_refuses_bad_names(void **state)
{
	const char *bad[] = {"",    "-x",  ".x",
			     "_x",  "a b", "a/b",
			     "a:b", "ä",   "abcdefghijklmnopqrstuvwxyz0123456" /* 33 */};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_set_fails(policy_set_name, bad[i], "is not a valid cage name (1-32 of");
	assert_set_fails(policy_set_name, "a\nb", "\"a?b\" is not a valid cage name");
}

static void link_none_veth_and_wireguard_are_available(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_set_link, "veth");
	assert_int_equal(p.link, LINK_VETH);
	set_ok(&p, policy_set_link, "none");
	assert_int_equal(p.link, LINK_NONE);
	set_ok(&p, policy_set_link, "wireguard");
	assert_int_equal(p.link, LINK_WIREGUARD);
	policy_free(&p);
	assert_set_fails(policy_set_link, "tun",
			 "unknown link mode \"tun\" (veth, none or wireguard)");
}

static void proxy_takes_a_url_and_later_wins(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_set_proxy, "http://10.0.0.1:8888");
	assert_true(p.has_proxy);
	assert_int_equal(p.proxy.scheme, SCHEME_HTTP);
	set_ok(&p, policy_set_proxy, "socks5://10.0.0.2");
	assert_int_equal(p.proxy.scheme, SCHEME_SOCKS5);
	assert_int_equal(p.proxy.port, 1080);
	policy_free(&p);
	assert_set_fails(policy_set_proxy, "10.0.0.1:8888", "a proxy must be a URL");
	assert_set_fails(policy_set_proxy, "http://proxy:1", "host names are not resolved");
}

static void proxy_credentials_are_taken_out_of_the_url(void **state)
{
	struct policy p;
	char url[] = "socks5h://b%40b:p%3Ass@w%25rd@10.0.0.1:1080", *s;
	size_t at, len;

	policy_init(&p);
	set_ok(&p, policy_set_proxy, "http://alice:s3cr%2Ft@10.0.0.1:8888");
	assert_non_null(p.proxy_auth);
	assert_string_equal(p.proxy_auth->user, "alice");
	assert_string_equal(p.proxy_auth->pass, "s3cr/t");
	assert_int_equal(p.proxy.port, 8888);
	/* the last '@' ends them; the first ':' parts user from password */
	set_ok(&p, policy_set_proxy, url);
	assert_string_equal(p.proxy_auth->user, "b@b");
	assert_string_equal(p.proxy_auth->pass, "p:ss@w%rd");
	assert_int_equal(p.proxy.scheme, SCHEME_SOCKS5H);
	/* a later URL without credentials drops them */
	set_ok(&p, policy_set_proxy, "http://10.0.0.1:8888");
	assert_null(p.proxy_auth);
	policy_free(&p);

	assert_int_equal(policy_proxy_userinfo(url, &at, &len), 0);
	assert_int_equal(at, strlen("socks5h://"));
	assert_int_equal(len, strlen("b%40b:p%3Ass@w%25rd@"));
	assert_int_equal(policy_proxy_userinfo("http://10.0.0.1:1", &at, &len), -ENOENT);

	assert_set_fails(policy_set_proxy, "http://a:%4@10.0.0.1:1", "a bad %-escape in the password");
	assert_set_fails(policy_set_proxy, "http://a%00:b@10.0.0.1:1", "holds a NUL byte");
	assert_set_fails(policy_set_proxy, "http://:pw@10.0.0.1:1", "without a user name");
	/* no error shows the password */
	policy_init(&p);
	err_clear();
	assert_true(policy_set_proxy(&p, "http://a:t0ps3cret@proxy:1") < 0);
	assert_null(strstr(err_message(-EINVAL), "t0ps3cret"));
	policy_free(&p);
	s = malloc(600);
	assert_non_null(s);
	snprintf(s, 600, "http://%0300d:x@10.0.0.1:1", 7);
	assert_set_fails(policy_set_proxy, s, "user name is longer than 255 bytes");
	free(s);
}

static void finish_forwards_a_proxy_with_credentials_in_any_mode(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_set_link, "veth");
	set_ok(&p, policy_set_proxy, "http://u:p@10.0.0.1:8888");
	assert_int_equal(policy_finish(&p), 0);
	assert_int_equal(p.n_forward, 1);
	assert_true(p.forward[0].is_proxy);
	policy_free(&p);

	policy_init(&p);
	set_ok(&p, policy_set_proxy, "socks5://u:p@10.0.0.1:1080");
	p.isolate_streams = true;
	assert_finish_fails(&p, "cannot carry credentials too");
	policy_free(&p);

	policy_init(&p);
	set_ok(&p, policy_set_proxy, "socks5://u@10.0.0.1:1080");
	assert_finish_fails(&p, "need a password (RFC 1929)");
	policy_free(&p);

	policy_init(&p);
	set_ok(&p, policy_set_proxy, "http://u%3Av:p@10.0.0.1:1");
	assert_finish_fails(&p, "cannot hold ':'");
	policy_free(&p);
}

static void allow_appends_and_drops_repeats(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_add_allow, "10.0.0.1:80");
	set_ok(&p, policy_add_allow, "/ip6/fd00::1/udp/53");
	set_ok(&p, policy_add_allow, "/ip4/10.0.0.1/tcp/80");
	set_ok(&p, policy_add_allow, "[::ffff:10.0.0.1]:80");
	set_ok(&p, policy_add_allow, "udp:10.0.0.1:80");
	assert_int_equal(p.n_allow, 3);
	assert_int_equal(p.allow[0].port, 80);
	assert_int_equal(p.allow[1].family, AF_INET6);
	assert_int_equal(p.allow[2].proto, IPPROTO_UDP);
	policy_free(&p);
	assert_set_fails(policy_add_allow, "/ip4/10.0.0.300/tcp/80",
			 "/ip4/10.0.0.300/tcp/80: bad IPv4 address at byte 5");
}

static void allow_list_has_a_limit(void **state)
{
	struct policy p;
	char v[64];
	int r = 0;

	policy_init(&p);
	for (int i = 1; i <= 256; i++) {
		snprintf(v, sizeof(v), "10.0.%d.%d:80", i / 256, i % 256);
		set_ok(&p, policy_add_allow, v);
	}
	assert_int_equal(p.n_allow, 256);
	/* A repeat does not count against the limit. */
	set_ok(&p, policy_add_allow, "10.0.0.1:80");
	r = policy_add_allow(&p, "10.1.0.1:80");
	assert_int_equal(r, -EINVAL);
	assert_string_equal(err_message(r), "too many allowed endpoints (at most 256)");
	policy_free(&p);
}

static void env_later_key_replaces_earlier(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_add_env, "A=1");
	set_ok(&p, policy_add_env, "AB=2");
	set_ok(&p, policy_add_env, "_x9=");
	set_ok(&p, policy_add_env, "A=3=4");
	assert_string_equal(p.env[0], "A=3=4");
	assert_string_equal(p.env[1], "AB=2");
	assert_string_equal(p.env[2], "_x9=");
	assert_null(p.env[3]);
	policy_free(&p);
	assert_null(p.env);
}

static void env_refuses_bad_entries(void **state)
{
	assert_set_fails(policy_add_env, "1A", "\"1A\" is not a valid variable name");
	assert_set_fails(policy_add_env, "A-B", "\"A-B\" is not a valid variable name");
	assert_set_fails(policy_add_env, "=x", "\"\" is not a valid variable name");
	assert_set_fails(policy_add_env, "1A=x",
			 "\"1A\" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)");
	assert_set_fails(policy_add_env, "A-B=x", "\"A-B\" is not a valid variable name");
	assert_set_fails(policy_add_env, "A B=x", "\"A B\" is not a valid variable name");
}

/* A name alone is passed through: its value is the caller's, resolved with the plan. */
static void env_name_alone_is_passed(void **state)
{
	struct policy p;

	(void)state;
	policy_init(&p);
	assert_int_equal(policy_add_env(&p, "API_KEY"), 0);
	assert_int_equal(policy_add_env(&p, "API_KEY"), 0); /* once */
	assert_null(p.env);
	assert_non_null(p.env_pass);
	assert_string_equal(p.env_pass[0], "API_KEY");
	assert_null(p.env_pass[1]);
	policy_free(&p);
}

static void env_value_length_has_a_limit(void **state)
{
	size_t n = 32768 + 10;
	char *big = malloc(n + 1);

	assert_non_null(big);
	memset(big, 'v', n);
	memcpy(big, "BIG=", 4);
	big[n] = '\0';
	assert_set_fails(policy_add_env, big, "BIG: value too long (at most 32768 bytes)");
	free(big);
}

static void env_list_has_a_limit(void **state)
{
	struct policy p;
	char v[32];

	policy_init(&p);
	for (int i = 0; i < 256; i++) {
		snprintf(v, sizeof(v), "V%d=x", i);
		set_ok(&p, policy_add_env, v);
	}
	/* Replacing an existing key still works at the limit. */
	set_ok(&p, policy_add_env, "V0=y");
	assert_string_equal(p.env[0], "V0=y");
	assert_int_equal(policy_add_env(&p, "MORE=1"), -EINVAL);
	assert_string_equal(err_message(-EINVAL), "too many environment variables (at most 256)");
	policy_free(&p);
}

static void user_accepts_names_and_uids(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_set_user, "nobody");
	set_ok(&p, policy_set_user, "1000");
	assert_string_equal(p.user, "1000");
	policy_free(&p);
	assert_null(p.user);
}

static void user_refuses_empty_colon_slash(void **state)
{
	char big[300];

	assert_set_fails(policy_set_user, "", "user name is empty");
	assert_set_fails(policy_set_user, "a:b", "\"a:b\" is not a valid user name");
	assert_set_fails(policy_set_user, "../x", "\"../x\" is not a valid user name");
	assert_set_fails(policy_set_user, "a\nb", "\"a?b\" is not a valid user name");
	memset(big, 'u', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_set_fails(policy_set_user, big, "user name too long (at most 255 bytes)");
}

static void pool_parses_and_masks(void **state)
{
	struct policy p;
	char ip[INET_ADDRSTRLEN];

	policy_init(&p);
	set_ok(&p, policy_set_pool, "10.99.0.0/16");
	assert_true(p.has_pool);
	assert_int_equal(p.pool.len, 16);
	assert_string_equal(inet_ntop(AF_INET, &p.pool.base, ip, sizeof(ip)), "10.99.0.0");
	set_ok(&p, policy_set_pool, "192.168.4.16/28");
	assert_int_equal(p.pool.len, 28);
	set_ok(&p, policy_set_pool, "10.0.0.0/8");
	assert_int_equal(p.pool.len, 8);
	policy_free(&p);
}

static void pool_refusals_say_why(void **state)
{
	assert_set_fails(policy_set_pool, "10.0.0.0", "\"10.0.0.0\": expected A.B.C.D/N");
	assert_set_fails(policy_set_pool, "10.0.0/16", "\"10.0.0/16\": bad IPv4 address");
	assert_set_fails(policy_set_pool, "10.0.0.0/", "bad prefix length");
	assert_set_fails(policy_set_pool, "10.0.0.0/1x", "bad prefix length");
	assert_set_fails(policy_set_pool, "10.0.0.0/123", "bad prefix length");
	assert_set_fails(policy_set_pool, "10.0.0.0/7", "prefix length must be 8 to 28");
	assert_set_fails(policy_set_pool, "10.0.0.0/29", "prefix length must be 8 to 28");
	assert_set_fails(policy_set_pool, "10.200.1.0/16",
			 "\"10.200.1.0/16\": host bits set (did you mean 10.200.0.0/16?)");
}

static void finish_fills_in_defaults(void **state)
{
	struct policy p;
	char ip[INET_ADDRSTRLEN];

	policy_init(&p);
	assert_int_equal(policy_finish(&p), 0);
	assert_int_equal(p.link, LINK_NONE);
	assert_int_equal(p.n_forward, 0);
	assert_true(p.has_pool);
	assert_int_equal(p.pool.len, 16);
	assert_string_equal(inet_ntop(AF_INET, &p.pool.base, ip, sizeof(ip)), "10.200.0.0");
	policy_free(&p);

	policy_init(&p);
	set_ok(&p, policy_set_pool, "172.20.0.0/20");
	assert_int_equal(policy_finish(&p), 0);
	assert_int_equal(p.pool.len, 20);
	policy_free(&p);
}

static void finish_checks_the_wireguard_configuration(void **state)
{
	struct policy p;

	policy_init(&p);
	p.link = LINK_WIREGUARD;
	assert_finish_fails(&p, "link wireguard needs the tunnel's configuration: --wg-config");
	policy_free(&p);

	policy_init(&p);
	set_ok(&p, policy_set_wg_config, "/etc/sluice/wg0.conf");
	assert_finish_fails(&p, "a WireGuard configuration is given, but the link is not "
				"wireguard");
	p.link = LINK_WIREGUARD;
	assert_int_equal(policy_finish(&p), 0);
	policy_free(&p);
	assert_set_fails(policy_set_wg_backend, "bpf", "unknown WireGuard backend \"bpf\"");
}

/* A proxy the cage cannot route to becomes the first forward, at 127.0.0.1 on its port. */
static void finish_forwards_a_loopback_proxy_in_any_mode(void **state)
{
	const char *proxies[] = {"http://127.0.0.1:8888", "socks5://[::1]:1080",
				 "http://[::ffff:127.0.0.1]:3128"};
	const uint16_t ports[] = {8888, 1080, 3128};

	for (int link = LINK_NONE; link <= LINK_VETH; link++)
		for (size_t i = 0; i < ARRAY_SIZE(proxies); i++) {
			struct policy p;

			policy_init(&p);
			p.link = (enum link_mode)link;
			set_ok(&p, policy_add_forward, "9000=10.0.0.9:80");
			set_ok(&p, policy_set_proxy, proxies[i]);
			assert_int_equal(policy_finish(&p), 0);
			assert_int_equal(p.n_forward, 2);
			assert_true(p.forward[0].is_proxy);
			assert_false(p.forward[1].is_proxy);
			assert_int_equal(p.forward[0].listen.family, AF_INET);
			assert_int_equal(p.forward[0].listen.ip.v4.s_addr, htonl(INADDR_LOOPBACK));
			assert_int_equal(p.forward[0].listen.port, ports[i]);
			assert_true(addr_equal(&p.forward[0].target, &p.proxy));
			policy_free(&p);
		}
}

static void finish_forwards_any_proxy_in_link_none_only(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_set_proxy, "http://10.0.0.1:8888");
	assert_int_equal(policy_finish(&p), 0);
	assert_int_equal(p.n_forward, 1);
	assert_true(p.forward[0].is_proxy);
	policy_free(&p);

	policy_init(&p);
	p.link = LINK_VETH;
	set_ok(&p, policy_set_proxy, "http://10.0.0.1:8888");
	assert_int_equal(policy_finish(&p), 0);
	assert_int_equal(p.n_forward, 0);
	policy_free(&p);

	/* The proxy's port is taken by a forward the user declared. */
	policy_init(&p);
	set_ok(&p, policy_add_forward, "8888=/run/x.sock");
	set_ok(&p, policy_set_proxy, "http://127.0.0.1:8888");
	assert_finish_fails(&p, "its forward would listen on tcp 127.0.0.1:8888, which another "
				"forward already takes");
	policy_free(&p);
}

static void forward_parses_listen_and_every_target_form(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_add_forward, "8080=10.0.0.1:80");
	set_ok(&p, policy_add_forward, "127.0.0.2:8080=[fd00::1]:443");
	set_ok(&p, policy_add_forward, "[::1]:9000=/ip4/10.0.0.1/tcp/9000");
	set_ok(&p, policy_add_forward, "5432=/run/postgresql/.s.PGSQL.5432");
	set_ok(&p, policy_add_forward, "5433=/unix/run/db.sock");
	set_ok(&p, policy_add_forward, "9050=socks5h://127.0.0.1:9050,isolate_streams");
	set_ok(&p, policy_add_forward, "9051=socks5://127.0.0.1:9050");
	assert_int_equal(p.n_forward, 7);

	assert_int_equal(p.forward[0].listen.ip.v4.s_addr, htonl(INADDR_LOOPBACK));
	assert_int_equal(p.forward[0].listen.port, 8080);
	assert_int_equal(p.forward[0].kind, TARGET_TCP);
	assert_int_equal(p.forward[0].target.port, 80);
	assert_int_equal(p.forward[1].listen.ip.v4.s_addr, htonl(0x7f000002));
	assert_int_equal(p.forward[1].target.family, AF_INET6);
	assert_int_equal(p.forward[2].listen.family, AF_INET6);
	assert_int_equal(p.forward[2].target.port, 9000);
	assert_int_equal(p.forward[3].kind, TARGET_UNIX);
	assert_string_equal(p.forward[3].path, "/run/postgresql/.s.PGSQL.5432");
	assert_int_equal(p.forward[4].kind, TARGET_UNIX);
	assert_string_equal(p.forward[4].path, "/run/db.sock");
	assert_true(p.forward[5].isolate_streams);
	assert_int_equal(p.forward[5].target.scheme, SCHEME_SOCKS5H);
	assert_false(p.forward[6].isolate_streams);
	assert_int_equal(p.forward[6].target.scheme, SCHEME_SOCKS5);
	policy_free(&p);
}

static void forward_refusals_say_why(void **state)
{
	char longpath[200];

	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "1=/", 3);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_set_fails(policy_add_forward, "8080", "expected LISTEN=TARGET");
	assert_set_fails(policy_add_forward, "10.0.0.1:8080=10.0.0.2:80",
			 "a forward listens on the cage's loopback");
	assert_set_fails(policy_add_forward, "udp:127.0.0.1:53=10.0.0.2:53",
			 "a forward listens on a TCP port");
	assert_set_fails(policy_add_forward, "8080=udp:10.0.0.2:53",
			 "a forward's target is TCP or a unix socket");
	assert_set_fails(policy_add_forward, "8080=10.0.0.2:80,isolate_streams",
			 "isolate_streams needs a socks5:// or socks5h:// target");
	assert_set_fails(policy_add_forward, "8080=http://10.0.0.2:80,isolate_streams",
			 "isolate_streams needs a socks5:// or socks5h:// target");
	assert_set_fails(policy_add_forward, longpath, "a unix socket path is at most 107 bytes");
	assert_set_fails(policy_add_forward, "8080=host.example:80", "host names are not resolved");
	assert_set_fails(policy_add_forward, "99999=10.0.0.2:80", "");
}

static void forward_same_listener_twice_is_refused(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_add_forward, "8080=10.0.0.1:80");
	assert_int_equal(policy_add_forward(&p, "127.0.0.1:8080=/run/x"), -EINVAL);
	assert_non_null(strstr(err_message(-EINVAL), "tcp 127.0.0.1:8080 is forwarded twice"));
	/* another loopback address, same port: a different listener */
	set_ok(&p, policy_add_forward, "127.0.0.2:8080=/run/x");
	policy_free(&p);
}

static void forward_on_the_dns_stub_is_refused(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_add_forward, "53=10.0.0.1:53");
	assert_finish_fails(&p, "forward 127.0.0.1:53: that is where the cage's DNS stub listens");
	policy_free(&p);
}

static void dns_entries_parse_lower_and_dedupe(void **state)
{
	struct policy p;
	char a[INET6_ADDRSTRLEN];

	policy_init(&p);
	set_ok(&p, policy_add_dns, "Web.Test.=10.0.0.5");
	set_ok(&p, policy_add_dns, "web.test=fd00::5");
	set_ok(&p, policy_add_dns, "WEB.test=10.0.0.5"); /* the same entry again */
	set_ok(&p, policy_add_dns, "db_1.internal=127.0.0.1");
	assert_int_equal(p.n_dns, 3);
	assert_string_equal(p.dns[0].name, "web.test");
	assert_int_equal(p.dns[0].family, AF_INET);
	assert_string_equal(inet_ntop(AF_INET, &p.dns[0].ip, a, sizeof(a)), "10.0.0.5");
	assert_int_equal(p.dns[1].family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, &p.dns[1].ip, a, sizeof(a)), "fd00::5");
	assert_string_equal(p.dns[2].name, "db_1.internal");
	policy_free(&p);

	assert_set_fails(policy_add_dns, "web.test", "expected NAME=ADDRESS");
	assert_set_fails(policy_add_dns, "web..test=10.0.0.1", "is not a valid host name");
	assert_set_fails(policy_add_dns, "-=10.0.0.1", "");
	assert_set_fails(policy_add_dns, "a b=10.0.0.1", "is not a valid host name");
	assert_set_fails(policy_add_dns, "web.test=example.org", "is not an IPv4 or IPv6 address");
	assert_set_fails(policy_add_dns, "proxy.internal=10.0.0.1",
			 "proxy.internal always names the proxy");
}

static void isolate_streams_needs_a_forwarded_socks_proxy(void **state)
{
	struct policy p;

	policy_init(&p);
	p.isolate_streams = true;
	assert_finish_fails(&p, "isolate_streams needs a socks5:// or socks5h:// proxy");
	policy_free(&p);

	policy_init(&p);
	p.isolate_streams = true;
	set_ok(&p, policy_set_proxy, "http://127.0.0.1:8888");
	assert_finish_fails(&p, "isolate_streams needs a socks5:// or socks5h:// proxy");
	policy_free(&p);

	policy_init(&p);
	p.isolate_streams = true;
	p.link = LINK_VETH;
	set_ok(&p, policy_set_proxy, "socks5h://10.0.0.1:9050");
	assert_finish_fails(&p, "stream isolation needs it forwarded");
	policy_free(&p);

	policy_init(&p);
	p.isolate_streams = true;
	set_ok(&p, policy_set_proxy, "socks5h://127.0.0.1:9050");
	assert_int_equal(policy_finish(&p), 0);
	assert_true(p.forward[0].isolate_streams);
	policy_free(&p);
}

static void allow_needs_a_link(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_add_allow, "10.0.0.1:80");
	assert_finish_fails(&p, "allow tcp 10.0.0.1:80: link none has no route to anything; reach "
				"it through a forward");
	policy_free(&p);
}

static void finish_refuses_loopback_allow_in_veth_mode(void **state)
{
	struct policy p;

	policy_init(&p);
	p.link = LINK_VETH;
	set_ok(&p, policy_add_allow, "10.0.0.1:80");
	set_ok(&p, policy_add_allow, "127.0.0.53:53");
	assert_finish_fails(&p, "allow tcp 127.0.0.53:53: the cage's loopback is its own, not the "
				"host's; reach a host loopback service through a forward");
	policy_free(&p);
}

static void finish_refuses_unspecified_addresses(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_set_proxy, "http://0.0.0.0:8080");
	assert_finish_fails(&p, "proxy http://0.0.0.0:8080: an unspecified address");
	policy_free(&p);

	policy_init(&p);
	set_ok(&p, policy_add_allow, "[::]:80");
	assert_finish_fails(&p, "allow tcp [::]:80: an unspecified address (0.0.0.0, ::) is not a "
				"destination");
	policy_free(&p);
}

static void finish_dedupes_allow_and_drops_the_proxy(void **state)
{
	struct policy p;
	struct endpoint e;

	policy_init(&p);
	p.link = LINK_VETH;
	set_ok(&p, policy_set_proxy, "http://10.0.0.1:8888");
	set_ok(&p, policy_add_allow, "10.0.0.1:8888"); /* the proxy itself */
	set_ok(&p, policy_add_allow, "10.0.0.2:80");
	/* A repeat put in by hand (not through the setter) is dropped by finish too. */
	assert_int_equal(addr_parse("10.0.0.2:80", &e), 0);
	p.allow = realloc(p.allow, (p.n_allow + 1) * sizeof(*p.allow));
	assert_non_null(p.allow);
	p.allow[p.n_allow++] = e;
	set_ok(&p, policy_add_allow, "10.0.0.3:80");
	assert_int_equal(p.n_allow, 4);
	assert_int_equal(policy_finish(&p), 0);
	assert_int_equal(p.n_allow, 2);
	assert_int_equal(p.allow[0].ip.v4.s_addr, htonl(0x0a000002));
	assert_int_equal(p.allow[1].ip.v4.s_addr, htonl(0x0a000003));
	policy_free(&p);
}

static void finish_refuses_proxy_without_scheme(void **state)
{
	struct policy p;

	policy_init(&p);
	assert_int_equal(addr_parse("10.0.0.1:80", &p.proxy), 0);
	p.has_proxy = true;
	assert_finish_fails(&p, "proxy must be a URL");
	policy_free(&p);
}

static void free_accepts_null_and_empty(void **state)
{
	struct policy p;

	policy_free(NULL);
	policy_init(&p);
	policy_free(&p);
	policy_free(&p);
}

static void publish_parses_host_and_cage_ports(void **state)
{
	struct policy p;
	char a[ADDR_STR_MAX];

	policy_init(&p);
	set_ok(&p, policy_add_publish, "8080");
	set_ok(&p, policy_add_publish, "8081=80");
	set_ok(&p, policy_add_publish, "0.0.0.0:8082=8000");
	set_ok(&p, policy_add_publish, "[::1]:8083");
	assert_int_equal(p.n_publish, 4);
	assert_string_equal(addr_format(&p.publish[0].host, a, sizeof(a)), "tcp 127.0.0.1:8080");
	assert_int_equal(p.publish[0].cage_port, 8080);
	assert_int_equal(p.publish[1].cage_port, 80);
	assert_string_equal(addr_format(&p.publish[2].host, a, sizeof(a)), "tcp 0.0.0.0:8082");
	assert_int_equal(p.publish[2].cage_port, 8000);
	assert_string_equal(addr_format(&p.publish[3].host, a, sizeof(a)), "tcp [::1]:8083");
	assert_int_equal(policy_add_publish(&p, "127.0.0.1:8080=9"), -EINVAL);
	assert_non_null(strstr(err_message(-EINVAL), "tcp 127.0.0.1:8080 is published twice"));
	policy_free(&p);
}

static void publish_refusals_say_why(void **state)
{
	assert_set_fails(policy_add_publish, "", "empty address");
	assert_set_fails(policy_add_publish, "8080=0", "a port is 1..65535");
	assert_set_fails(policy_add_publish, "8080=x", "a port is 1..65535");
	assert_set_fails(policy_add_publish, "8080=70000", "a port is 1..65535");
	assert_set_fails(policy_add_publish, "udp:127.0.0.1:53", "a published port is TCP");
	assert_set_fails(policy_add_publish, "http://127.0.0.1:80", "a published port is TCP");
	assert_set_fails(policy_add_publish, "localhost:80", "not resolved");
}

static void publish_on_the_stub_or_a_forward_is_refused(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_add_publish, "5353=53");
	assert_finish_fails(&p, "publish: 127.0.0.1:53 in the cage is its DNS stub");
	policy_free(&p);
	policy_init(&p);
	set_ok(&p, policy_add_forward, "9000=10.0.0.1:80");
	set_ok(&p, policy_add_publish, "9001=9000");
	assert_finish_fails(&p, "publish: 127.0.0.1:9000 in the cage is a forward's");
	policy_free(&p);
}

static void listen_parses_endpoints_and_sources(void **state)
{
	struct policy p;
	char a[ADDR_STR_MAX], c[64];

	policy_init(&p);
	set_ok(&p, policy_add_listen, "1616");
	set_ok(&p, policy_add_listen, "10.0.11.1:1616@10.0.11.2,10.0.12.0/24");
	set_ok(&p, policy_add_listen, "/ip4/10.0.11.1/tcp/1617@0.0.0.0/0");
	set_ok(&p, policy_add_listen, "[fd00::1]:80@fd00::/64");
	assert_int_equal(p.n_listen, 4);
	assert_int_equal(p.listen[0].ep.family, 0);
	assert_int_equal(p.listen[0].ep.port, 1616);
	assert_int_equal(p.listen[0].n_from, 0);
	assert_string_equal(addr_format(&p.listen[1].ep, a, sizeof(a)), "tcp 10.0.11.1:1616");
	assert_int_equal(p.listen[1].n_from, 2);
	assert_string_equal(addr_format_cidr(&p.listen[1].from[0], c, sizeof(c)), "10.0.11.2/32");
	assert_string_equal(addr_format_cidr(&p.listen[1].from[1], c, sizeof(c)), "10.0.12.0/24");
	assert_int_equal(p.listen[2].from[0].len, 0);
	assert_string_equal(addr_format_cidr(&p.listen[3].from[0], c, sizeof(c)), "fd00::/64");
	policy_free(&p);
}

static void listen_refusals_say_why(void **state)
{
	assert_set_fails(policy_add_listen, "0", "a port is 1..65535");
	assert_set_fails(policy_add_listen, "udp:10.0.0.1:53", "a cage listens on TCP");
	assert_set_fails(policy_add_listen, "1616@", "nothing after");
	assert_set_fails(policy_add_listen, "1616@10.0.0.1,", "nothing after");
	assert_set_fails(policy_add_listen, "1616@10.0.0.1/24", "host bits are set");
	assert_set_fails(policy_add_listen, "1616@10.0.0.0/33", "a prefix length is 0..32");
	assert_set_fails(policy_add_listen, "1616@10.0.0.0/024", "a prefix length is 0..32");
	assert_set_fails(policy_add_listen, "1616@host", "not an IPv4 or IPv6 address");
	assert_set_fails(policy_add_listen, "10.0.0.1:80@fd00::1", "another address family");
	/* parsed only, nothing is sent; documentation addresses (RFC 5737) all the same */
	assert_set_fails(policy_add_listen, "1@192.0.2.1,192.0.2.2,192.0.2.3,192.0.2.4,192.0.2.5,"
					    "192.0.2.6,192.0.2.7,192.0.2.8,192.0.2.9",
			 "at most 8 sources");
}

static void listen_needs_a_link(void **state)
{
	struct policy p;

	policy_init(&p);
	set_ok(&p, policy_add_listen, "1616");
	assert_finish_fails(&p, "link none has none: publish a port instead (--publish)");
	policy_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(name_accepts_valid_names),
	    cmocka_unit_test(publish_parses_host_and_cage_ports),
	    cmocka_unit_test(publish_refusals_say_why),
	    cmocka_unit_test(publish_on_the_stub_or_a_forward_is_refused),
	    cmocka_unit_test(listen_parses_endpoints_and_sources),
	    cmocka_unit_test(listen_refusals_say_why),
	    cmocka_unit_test(listen_needs_a_link),
	    cmocka_unit_test(name_refuses_bad_names),
	    cmocka_unit_test(link_none_veth_and_wireguard_are_available),
	    cmocka_unit_test(proxy_takes_a_url_and_later_wins),
	    cmocka_unit_test(proxy_credentials_are_taken_out_of_the_url),
	    cmocka_unit_test(finish_forwards_a_proxy_with_credentials_in_any_mode),
	    cmocka_unit_test(allow_appends_and_drops_repeats),
	    cmocka_unit_test(allow_list_has_a_limit),
	    cmocka_unit_test(env_later_key_replaces_earlier),
	    cmocka_unit_test(env_refuses_bad_entries),
	    cmocka_unit_test(env_name_alone_is_passed),
	    cmocka_unit_test(env_value_length_has_a_limit),
	    cmocka_unit_test(env_list_has_a_limit),
	    cmocka_unit_test(user_accepts_names_and_uids),
	    cmocka_unit_test(user_refuses_empty_colon_slash),
	    cmocka_unit_test(pool_parses_and_masks),
	    cmocka_unit_test(pool_refusals_say_why),
	    cmocka_unit_test(finish_fills_in_defaults),
	    cmocka_unit_test(finish_checks_the_wireguard_configuration),
	    cmocka_unit_test(finish_forwards_a_loopback_proxy_in_any_mode),
	    cmocka_unit_test(finish_forwards_any_proxy_in_link_none_only),
	    cmocka_unit_test(forward_parses_listen_and_every_target_form),
	    cmocka_unit_test(forward_refusals_say_why),
	    cmocka_unit_test(forward_same_listener_twice_is_refused),
	    cmocka_unit_test(forward_on_the_dns_stub_is_refused),
	    cmocka_unit_test(dns_entries_parse_lower_and_dedupe),
	    cmocka_unit_test(isolate_streams_needs_a_forwarded_socks_proxy),
	    cmocka_unit_test(allow_needs_a_link),
	    cmocka_unit_test(finish_refuses_loopback_allow_in_veth_mode),
	    cmocka_unit_test(finish_refuses_unspecified_addresses),
	    cmocka_unit_test(finish_dedupes_allow_and_drops_the_proxy),
	    cmocka_unit_test(finish_refuses_proxy_without_scheme),
	    cmocka_unit_test(free_accepts_null_and_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
