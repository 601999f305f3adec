/* fuzz_socks5.c: libFuzzer harness for socks5.c, the parsers of what an in-cage client and
 * an upstream proxy send: whatever the bytes, no parser reads past them or claims more than
 * it was given, an accepted request parses the same from exactly its own bytes (and wants
 * more from one byte less), and its destination text is one bounded line. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks5.h"

static void check_request(const uint8_t *data, size_t size)
{
	struct socks5_request req, again;
	int r = socks5_parse_request(data, size, &req);

	if (r > (int)size)
		abort();
	if (r <= 0)
		return;
	if (req.len != (size_t)r || req.len > SOCKS5_REQUEST_MAX || req.cmd != SOCKS5_CMD_CONNECT)
		abort();
	if (strnlen(req.dest, sizeof(req.dest)) >= sizeof(req.dest) || strchr(req.dest, '\n'))
		abort();
	if (socks5_parse_request(data, req.len, &again) != r || strcmp(req.dest, again.dest))
		abort();
	if (socks5_parse_request(data, req.len - 1, &again) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool no_auth;
	uint8_t method;
	int r;

	r = socks5_parse_greeting(data, size, &no_auth);
	if (r > (int)size || r > SOCKS5_GREETING_MAX)
		abort();
	if (r > 0)
		check_request(data + r, size - (size_t)r); /* a pipelined request after it */
	check_request(data, size);
	if (socks5_parse_method_reply(data, size, &method) > (int)size)
		abort();
	if (socks5_parse_auth_reply(data, size) > (int)size)
		abort();
	return 0;
}
