/* test_socks5.c: the SOCKS5 parsers and builders of stream isolation, no sockets: every
 * address type, every truncation, every malformed byte the parsers must catch, and garbage
 * that must never make them claim more bytes than they were given. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h> /* after the three above, which it needs */

#include "socks5.h"

/* clang-format off */
static const uint8_t req_v4[] = {5, 1, 0, 1, 10, 0, 0, 1, 0x1f, 0x90};
static const uint8_t req_v6[] = {5, 1, 0, 4, 0xfd, 0, 0, 0, 0, 0, 0, 0,
				 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0xbb};
static const uint8_t req_name[] = {5, 1, 0, 3, 11,
				   'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'o', 'r', 'g',
				   0, 80};
/* clang-format on */

/* --- greeting ------------------------------------------------------------------------- */

static void greeting_with_no_auth_among_methods(void **state)
{
	const uint8_t g[] = {5, 3, 2, 0, 1};
	bool no_auth = false;

	assert_int_equal(socks5_parse_greeting(g, sizeof(g), &no_auth), 5);
	assert_true(no_auth);
}

static void greeting_without_no_auth(void **state)
{
	const uint8_t g[] = {5, 2, 1, 2};
	bool no_auth = true;

	assert_int_equal(socks5_parse_greeting(g, sizeof(g), &no_auth), 4);
	assert_false(no_auth);
}

static void greeting_length_excludes_what_follows(void **state)
{
	const uint8_t g[] = {5, 1, 0, 5, 1, 0, 1};
	bool no_auth = false;

	assert_int_equal(socks5_parse_greeting(g, sizeof(g), &no_auth), 3);
	assert_true(no_auth);
}

static void greeting_truncated_at_every_length_needs_more(void **state)
{
	uint8_t g[SOCKS5_GREETING_MAX];
	bool no_auth = false;

	g[0] = 5;
	g[1] = 255;
	for (size_t i = 0; i < 255; i++)
		g[2 + i] = (uint8_t)(254 - i); /* 00 comes last */
	for (size_t len = 0; len < sizeof(g); len++)
		assert_int_equal(socks5_parse_greeting(g, len, &no_auth), 0);
	assert_int_equal(socks5_parse_greeting(g, sizeof(g), &no_auth), SOCKS5_GREETING_MAX);
	assert_true(no_auth);
}

static void greeting_bad_version_and_zero_methods_are_malformed(void **state)
{
	const uint8_t v4[] = {4, 1, 0}, v0[] = {0}, none[] = {5, 0, 0, 0};
	bool no_auth;

	assert_int_equal(socks5_parse_greeting(v4, 1, &no_auth), -EBADMSG);
	assert_int_equal(socks5_parse_greeting(v4, sizeof(v4), &no_auth), -EBADMSG);
	assert_int_equal(socks5_parse_greeting(v0, sizeof(v0), &no_auth), -EBADMSG);
	assert_int_equal(socks5_parse_greeting(none, 2, &no_auth), -EBADMSG);
	assert_int_equal(socks5_parse_greeting(none, sizeof(none), &no_auth), -EBADMSG);
}

/* --- request -------------------------------------------------------------------------- */

static void request_ipv4(void **state)
{
	struct socks5_request req;

	assert_int_equal(socks5_parse_request(req_v4, sizeof(req_v4), &req), 10);
	assert_int_equal(req.len, 10);
	assert_int_equal(req.cmd, SOCKS5_CMD_CONNECT);
	assert_int_equal(req.atyp, SOCKS5_ATYP_IPV4);
	assert_int_equal(req.port, 8080);
	assert_string_equal(req.dest, "10.0.0.1:8080");
}

static void request_ipv6(void **state)
{
	struct socks5_request req;

	assert_int_equal(socks5_parse_request(req_v6, sizeof(req_v6), &req), 22);
	assert_int_equal(req.len, 22);
	assert_int_equal(req.atyp, SOCKS5_ATYP_IPV6);
	assert_int_equal(req.port, 443);
	assert_string_equal(req.dest, "[fd00::1]:443");
}

static void request_domain(void **state)
{
	struct socks5_request req;

	assert_int_equal(socks5_parse_request(req_name, sizeof(req_name), &req), 18);
	assert_int_equal(req.len, 18);
	assert_int_equal(req.atyp, SOCKS5_ATYP_DOMAIN);
	assert_int_equal(req.port, 80);
	assert_string_equal(req.dest, "example.org:80");
}

static void request_longest_domain_fits_dest(void **state)
{
	uint8_t r[SOCKS5_REQUEST_MAX];
	struct socks5_request req;

	memcpy(r, (const uint8_t[]){5, 1, 0, 3, 255}, 5);
	memset(r + 5, 'a', 255);
	r[260] = 0xff;
	r[261] = 0xff;
	assert_int_equal(socks5_parse_request(r, sizeof(r), &req), SOCKS5_REQUEST_MAX);
	assert_int_equal(strlen(req.dest), 255 + 6);
	assert_string_equal(req.dest + 255, ":65535");
}

static void request_name_bytes_are_made_printable_for_logs(void **state)
{
	const uint8_t r[] = {5, 1, 0, 3, 5, 'a', '\n', 0, 0x80, ' ', 0, 1};
	struct socks5_request req;

	assert_int_equal(socks5_parse_request(r, sizeof(r), &req), sizeof(r));
	assert_string_equal(req.dest, "a????:1");
}

static void request_truncated_at_every_length_needs_more(void **state)
{
	const struct {
		const uint8_t *buf;
		size_t len;
	} reqs[] = {
	    {req_v4, sizeof(req_v4)}, {req_v6, sizeof(req_v6)}, {req_name, sizeof(req_name)}};
	struct socks5_request req;

	for (size_t i = 0; i < 3; i++) {
		for (size_t len = 0; len < reqs[i].len; len++)
			assert_int_equal(socks5_parse_request(reqs[i].buf, len, &req), 0);
		assert_int_equal(socks5_parse_request(reqs[i].buf, reqs[i].len, &req),
				 (int)reqs[i].len);
	}
}

static void request_length_excludes_pipelined_bytes(void **state)
{
	uint8_t r[sizeof(req_name) + 5];
	struct socks5_request req;

	memcpy(r, req_name, sizeof(req_name));
	memcpy(r + sizeof(req_name), "GET /", 5);
	assert_int_equal(socks5_parse_request(r, sizeof(r), &req), sizeof(req_name));
}

static void request_malformed(void **state)
{
	const uint8_t bad_ver[] = {4, 1, 0, 1, 1, 2, 3, 4, 0, 80};
	const uint8_t bad_rsv[] = {5, 1, 1, 1, 1, 2, 3, 4, 0, 80};
	const uint8_t empty_name[] = {5, 1, 0, 3, 0, 0, 80};
	struct socks5_request req;

	assert_int_equal(socks5_parse_request(bad_ver, 1, &req), -EBADMSG);
	assert_int_equal(socks5_parse_request(bad_ver, sizeof(bad_ver), &req), -EBADMSG);
	assert_int_equal(socks5_parse_request(bad_rsv, 3, &req), -EBADMSG);
	assert_int_equal(socks5_parse_request(bad_rsv, sizeof(bad_rsv), &req), -EBADMSG);
	assert_int_equal(socks5_parse_request(empty_name, 5, &req), -EBADMSG);
	assert_int_equal(socks5_parse_request(empty_name, sizeof(empty_name), &req), -EBADMSG);
}

static void request_commands_other_than_connect_are_unsupported(void **state)
{
	const uint8_t cmds[] = {SOCKS5_CMD_BIND, SOCKS5_CMD_UDP_ASSOCIATE, 0x00, 0x04, 0xff};
	uint8_t r[sizeof(req_v4)];
	struct socks5_request req;

	for (size_t i = 0; i < sizeof(cmds); i++) {
		memcpy(r, req_v4, sizeof(r));
		r[1] = cmds[i];
		assert_int_equal(socks5_parse_request(r, 1, &req), 0);
		assert_int_equal(socks5_parse_request(r, 2, &req), -EOPNOTSUPP);
		assert_int_equal(socks5_parse_request(r, sizeof(r), &req), -EOPNOTSUPP);
	}
}

static void request_unknown_address_types_are_unsupported(void **state)
{
	const uint8_t atyps[] = {0x00, 0x02, 0x05, 0xff};
	uint8_t r[sizeof(req_v4)];
	struct socks5_request req;

	for (size_t i = 0; i < sizeof(atyps); i++) {
		memcpy(r, req_v4, sizeof(r));
		r[3] = atyps[i];
		assert_int_equal(socks5_parse_request(r, 3, &req), 0);
		assert_int_equal(socks5_parse_request(r, 4, &req), -EAFNOSUPPORT);
	}
}

static void failed_request_leaves_result_untouched(void **state)
{
	struct socks5_request req, before;

	memset(&req, 0xa5, sizeof(req));
	before = req;
	assert_int_equal(socks5_parse_request(req_v4, sizeof(req_v4) - 1, &req), 0);
	assert_int_equal(socks5_parse_request((const uint8_t[]){5, 2}, 2, &req), -EOPNOTSUPP);
	assert_memory_equal(&req, &before, sizeof(req));
}

/* --- garbage -------------------------------------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random bytes, half of them starting like the real thing, at every length: a parser may
 * refuse or want more, but never claims more than it was given, and every complete
 * request it accepts parses to the same length from exactly its own bytes. */
static void garbage_never_overreads_or_overclaims(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	uint8_t buf[600], *p;
	struct socks5_request req;
	bool no_auth;
	uint8_t method;

	for (int round = 0; round < 20000; round++) {
		size_t len = xorshift(&seed) % sizeof(buf);
		int r;

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)xorshift(&seed);
		if (round & 1 && len >= 4) {
			buf[0] = 5;
			buf[1] = round & 2 ? 1 : buf[1] % 4;
			buf[2] = 0;
			buf[3] = (const uint8_t[]){1, 3, 4, 3}[(round >> 2) & 3];
		}
		/* Exactly LEN bytes on the heap: ASan catches a read past them. */
		p = malloc(len);
		assert_true(p || !len);
		memcpy(p, buf, len);
		r = socks5_parse_greeting(p, len, &no_auth);
		assert_true(r <= (int)len);
		r = socks5_parse_request(p, len, &req);
		assert_true(r <= (int)len);
		if (r > 0) {
			assert_int_equal(req.len, r);
			assert_true(strlen(req.dest) < sizeof(req.dest));
			assert_int_equal(socks5_parse_request(p, (size_t)r, &req), r);
			assert_int_equal(socks5_parse_request(p, (size_t)r - 1, &req), 0);
		}
		assert_true(socks5_parse_method_reply(p, len, &method) <= (int)len);
		assert_true(socks5_parse_auth_reply(p, len) <= (int)len);
		free(p);
	}
}

/* --- upstream replies ----------------------------------------------------------------- */

static void method_reply(void **state)
{
	uint8_t method = 0;

	assert_int_equal(socks5_parse_method_reply((const uint8_t[]){5, 2}, 0, &method), 0);
	assert_int_equal(socks5_parse_method_reply((const uint8_t[]){5, 2}, 1, &method), 0);
	assert_int_equal(socks5_parse_method_reply((const uint8_t[]){5, 2}, 2, &method), 2);
	assert_int_equal(method, SOCKS5_METHOD_USERPASS);
	assert_int_equal(socks5_parse_method_reply((const uint8_t[]){5, 0xff, 9}, 3, &method), 2);
	assert_int_equal(method, SOCKS5_METHOD_REFUSED);
	assert_int_equal(socks5_parse_method_reply((const uint8_t[]){4, 2}, 1, &method), -EBADMSG);
}

static void auth_reply(void **state)
{
	assert_int_equal(socks5_parse_auth_reply((const uint8_t[]){1, 0}, 0), 0);
	assert_int_equal(socks5_parse_auth_reply((const uint8_t[]){1, 0}, 1), 0);
	assert_int_equal(socks5_parse_auth_reply((const uint8_t[]){1, 0}, 2), 2);
	assert_int_equal(socks5_parse_auth_reply((const uint8_t[]){1, 1}, 2), -EACCES);
	assert_int_equal(socks5_parse_auth_reply((const uint8_t[]){1, 0xff}, 2), -EACCES);
	/* Some servers answer with the SOCKS version; RFC 1929 says 01. */
	assert_int_equal(socks5_parse_auth_reply((const uint8_t[]){5, 0}, 2), -EBADMSG);
}

/* --- builders ------------------------------------------------------------------------- */

static void greeting_offers_only_userpass(void **state)
{
	uint8_t buf[8];

	assert_int_equal(socks5_build_greeting(buf, sizeof(buf)), 3);
	assert_memory_equal(buf, ((const uint8_t[]){5, 1, 2}), 3);
	assert_int_equal(socks5_build_greeting(buf, 2), -ENOBUFS);
}

static void auth_layout(void **state)
{
	uint8_t buf[SOCKS5_AUTH_MAX];

	assert_int_equal(socks5_build_auth("ab", "xyz", buf, sizeof(buf)), 8);
	assert_memory_equal(buf, ((const uint8_t[]){1, 2, 'a', 'b', 3, 'x', 'y', 'z'}), 8);
	assert_int_equal(socks5_build_auth("ab", "xyz", buf, 7), -ENOBUFS);
}

static void auth_field_sizes(void **state)
{
	char max[256], over[257];
	uint8_t buf[SOCKS5_AUTH_MAX];

	memset(max, 'u', 255);
	max[255] = '\0';
	memset(over, 'o', 256);
	over[256] = '\0';
	assert_int_equal(socks5_build_auth(max, max, buf, sizeof(buf)), SOCKS5_AUTH_MAX);
	assert_int_equal(buf[1], 255);
	assert_int_equal(buf[2 + 255], 255);
	assert_int_equal(socks5_build_auth(over, "p", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(socks5_build_auth("u", over, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(socks5_build_auth("", "p", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(socks5_build_auth("u", "", buf, sizeof(buf)), -EINVAL);
}

static void refusal_reply_layout(void **state)
{
	uint8_t buf[SOCKS5_REPLY_LEN];

	memset(buf, 0xaa, sizeof(buf));
	socks5_build_reply(SOCKS5_REP_CMD_UNSUPPORTED, buf);
	assert_memory_equal(buf, ((const uint8_t[]){5, 7, 0, 1, 0, 0, 0, 0, 0, 0}),
			    SOCKS5_REPLY_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(greeting_with_no_auth_among_methods),
	    cmocka_unit_test(greeting_without_no_auth),
	    cmocka_unit_test(greeting_length_excludes_what_follows),
	    cmocka_unit_test(greeting_truncated_at_every_length_needs_more),
	    cmocka_unit_test(greeting_bad_version_and_zero_methods_are_malformed),
	    cmocka_unit_test(request_ipv4),
	    cmocka_unit_test(request_ipv6),
	    cmocka_unit_test(request_domain),
	    cmocka_unit_test(request_longest_domain_fits_dest),
	    cmocka_unit_test(request_name_bytes_are_made_printable_for_logs),
	    cmocka_unit_test(request_truncated_at_every_length_needs_more),
	    cmocka_unit_test(request_length_excludes_pipelined_bytes),
	    cmocka_unit_test(request_malformed),
	    cmocka_unit_test(request_commands_other_than_connect_are_unsupported),
	    cmocka_unit_test(request_unknown_address_types_are_unsupported),
	    cmocka_unit_test(failed_request_leaves_result_untouched),
	    cmocka_unit_test(garbage_never_overreads_or_overclaims),
	    cmocka_unit_test(method_reply),
	    cmocka_unit_test(auth_reply),
	    cmocka_unit_test(greeting_offers_only_userpass),
	    cmocka_unit_test(auth_layout),
	    cmocka_unit_test(auth_field_sizes),
	    cmocka_unit_test(refusal_reply_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
