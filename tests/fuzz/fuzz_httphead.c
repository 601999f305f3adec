/* fuzz_httphead.c: libFuzzer harness for httphead.c, what the proxy's forward reads of a caged
 * client's request: whatever the bytes, the head found is within them, a rewrite stays in its
 * buffer, is one head (CRLF line ends, no bare CR or NUL, ending in exactly one empty line),
 * carries the credentials once and the client's own never, and reads the same again. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httphead.h"

#define CRED "Basic Zm9vOmJhcg=="

static size_t count(const char *s, size_t n, const char *what)
{
	size_t c = 0, w = strlen(what);

	for (size_t i = 0; i + w <= n; i++)
		if (strncasecmp(s + i, what, w) == 0)
			c++;
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[HTTP_HEAD_MAX + 1024], again[HTTP_HEAD_MAX + 2048];
	const char *in = (const char *)data;
	bool connect, connect2;
	int len = http_head_len(in, size), n, m;

	if (len > (int)size || len > HTTP_HEAD_MAX)
		abort();
	if (len <= 0)
		return 0;
	n = http_head_rewrite(in, (size_t)len, CRED, out, sizeof(out), &connect);
	if (n == -EBADMSG || n == -ENOBUFS)
		return 0;
	if (n <= 0 || (size_t)n > sizeof(out))
		abort();
	if (n < 4 || memcmp(out + n - 4, "\r\n\r\n", 4) != 0)
		abort();
	for (int i = 0; i < n; i++)
		if (out[i] == '\0' || (out[i] == '\r' && (i + 1 == n || out[i + 1] != '\n')) ||
		    (out[i] == '\n' && (i == 0 || out[i - 1] != '\r')))
			abort();
	if (count(out, (size_t)n, "\r\n\r\n") != 1 || count(out, (size_t)n, "\r\nproxy-authorization:") != 1 ||
	    count(out, (size_t)n, "\r\nProxy-Authorization: " CRED "\r\n") != 1)
		abort();
	/* the rewrite of a rewrite is itself (the credentials replaced by the same) */
	if (http_head_len(out, (size_t)n) != n)
		abort();
	m = http_head_rewrite(out, (size_t)n, CRED, again, sizeof(again), &connect2);
	if (m != n || memcmp(out, again, (size_t)n) != 0 || connect != connect2)
		abort();
	return 0;
}
