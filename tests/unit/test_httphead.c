/* test_httphead.c: the request head the proxy's forward reads and rewrites to add the
 * credentials: where a head ends, what is kept and dropped, and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka.h needs <stdarg.h>, <stddef.h>, <setjmp.h> and <stdint.h> first. */
#include <cmocka.h>

#include "httphead.h"
#include "util.h"

#define CRED "Basic YTpi"

static int rewrite(const char *in, char *out, size_t size, bool *connect)
{
	int n = http_head_len(in, strlen(in));

	if (n <= 0)
		return n == 0 ? -EAGAIN : n;
	return http_head_rewrite(in, (size_t)n, CRED, out, size, connect);
}

static void head_len_finds_the_empty_line(void **state)
{
	const char *h = "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\nBODY";

	assert_int_equal(http_head_len(h, strlen(h)), (int)strlen(h) - 4);
	assert_int_equal(http_head_len(h, strlen(h) - 5), 0);
	assert_int_equal(http_head_len("GET / HTTP/1.0\n\nX", 17), 16);
	assert_int_equal(http_head_len("GET / HTTP/1.0\r\n", 16), 0);
}

static void head_len_gives_up_past_the_limit(void **state)
{
	char *big = malloc(HTTP_HEAD_MAX + 10);

	assert_non_null(big);
	memset(big, 'a', HTTP_HEAD_MAX + 10);
	assert_int_equal(http_head_len(big, HTTP_HEAD_MAX - 1), 0);
	assert_int_equal(http_head_len(big, HTTP_HEAD_MAX), -EMSGSIZE);
	assert_int_equal(http_head_len(big, HTTP_HEAD_MAX + 10), -EMSGSIZE);
	free(big);
}

static void connect_keeps_its_fields_and_gets_the_credentials(void **state)
{
	char out[512];
	bool connect = false;
	int n = rewrite("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nProxy-Connection: keep-alive\r\n"
			"proxy-authorization: Basic Zm9vOmJhcg==\r\n\r\n",
			out, sizeof(out), &connect);

	assert_true(n > 0);
	out[n] = '\0';
	assert_true(connect);
	assert_string_equal(out, "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n"
				 "Proxy-Connection: keep-alive\r\nProxy-Authorization: " CRED
				 "\r\n\r\n");
}

static void other_requests_get_a_connection_of_their_own(void **state)
{
	char out[512];
	bool connect = true;
	int n = rewrite("\r\nGET http://a/x HTTP/1.1\nHost: a\nConnection: keep-alive\n"
			"Keep-Alive: 5\nAccept: */*\n\n",
			out, sizeof(out), &connect);

	assert_true(n > 0);
	out[n] = '\0';
	assert_false(connect);
	assert_string_equal(out, "GET http://a/x HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n"
				 "Proxy-Authorization: " CRED "\r\nConnection: close\r\n\r\n");
}

static void malformed_heads_are_refused(void **state)
{
	static const char *const bad[] = {
	    "GET http://a/\r\n\r\n",			    /* no version */
	    "GET  http://a/ HTTP/1.1\r\n\r\n",		    /* empty target */
	    "G(T http://a/ HTTP/1.1\r\n\r\n",		    /* not a token */
	    "GET http://a/ HTTP/2.0\r\n\r\n",		    /* not 1.x */
	    "GET http://a/ HTTP/1.1\r\nHost : a\r\n\r\n",   /* space before the colon */
	    "GET http://a/ HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", /* obsolete folding */
	    "GET http://a/ HTTP/1.1\r\nNoColon\r\n\r\n",
	    "GET http://a/ HTTP/1.1\r\nX: a\rb\r\n\r\n", /* a bare CR */
	    " GET http://a/ HTTP/1.1\r\n\r\n",
	};
	char out[512];
	bool connect;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (rewrite(bad[i], out, sizeof(out), &connect) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
	/* a NUL inside */
	assert_int_equal(http_head_rewrite("GET / HTTP/1.1\r\nX: \0\r\n\r\n", 24, CRED, out,
					   sizeof(out), &connect),
			 -EBADMSG);
}

static void a_small_buffer_is_enobufs(void **state)
{
	char out[40];
	bool connect;

	assert_int_equal(rewrite("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", out, sizeof(out),
				 &connect),
			 -ENOBUFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(head_len_finds_the_empty_line),
	    cmocka_unit_test(head_len_gives_up_past_the_limit),
	    cmocka_unit_test(connect_keeps_its_fields_and_gets_the_credentials),
	    cmocka_unit_test(other_requests_get_a_connection_of_their_own),
	    cmocka_unit_test(malformed_heads_are_refused),
	    cmocka_unit_test(a_small_buffer_is_enobufs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
