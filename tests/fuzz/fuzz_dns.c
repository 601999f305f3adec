/* fuzz_dns.c: libFuzzer harness for dns_answer(), which parses every byte a caged process
 * sends the DNS stub: whatever the input, it must not crash, must never answer a response,
 * and a reply must fit its limit, echo the id, and echo the question byte for byte; a name
 * it tells as refused (dns_refused_name) is printable.
 * Links with dns_wire.c, dns.c, loop.c and log.c (src/lib). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

static struct dns_entry table[4];
static size_t n_table;

static void add(const char *name, const char *addr)
{
	struct dns_entry *e = &table[n_table++];

	strcpy(e->name, name);
	e->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	inet_pton(e->family, addr, &e->ip);
}

/* Answer DATA with a reply limit of MAXLEN and check the reply. */
static void check(const uint8_t *data, size_t size, size_t maxlen)
{
	static uint8_t out[DNS_MSG_MAX];
	char desc[256];
	size_t len = 0, limit = maxlen > DNS_EDNS_MAX ? maxlen : DNS_EDNS_MAX;
	int r = dns_answer(data, size, maxlen, table, n_table, out, sizeof(out), &len, desc,
			   sizeof(desc));

	if (r != 0 && r != 1)
		abort();
	if (!memchr(desc, '\0', sizeof(desc)) || strchr(desc, '\n'))
		abort();
	if (r == 0)
		return;
	if (size < 12 || data[2] & 0x80) /* no id to echo, or a response */
		abort();
	if (len < 12 || len > limit || memcmp(out, data, 2) || !(out[2] & 0x80))
		abort();
	/* A name told of (audit.h) goes to a terminal: printable bytes only. */
	{
		char name[256];

		if (dns_refused_name(data, size, out, len, name, sizeof(name)))
			for (const char *c = name; *c; c++)
				if (*c < 0x21 || *c > 0x7e)
					abort();
	}
	/* A question in the reply is the query's own, as asked. */
	if (out[5] == 1) {
		size_t q = 12;

		while (q < len && out[q])
			q += 1u + out[q];
		q += 5;
		if (q > len || q > size || memcmp(out + 12, data + 12, q - 12))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!n_table) {
		add("proxy.internal", "127.0.0.1");
		add("dual.example", "192.0.2.1");
		add("dual.example", "2001:db8::1");
		add("a.b.example", "198.51.100.7");
	}
	check(data, size, DNS_UDP_MAX);
	check(data, size, DNS_MSG_MAX);
	return 0;
}
