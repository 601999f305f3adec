/* addr.h: every address form sluice takes, parsed by one module: multiaddrs
 * (/ip4/h/tcp/p, /ip6/h/udp/p, ...), host:port, [v6]:port and proxy URLs
 * (http://, socks5://, socks5h://). Pure: no name resolution, no I/O. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum addr_scheme {
	SCHEME_NONE = 0, /* a bare endpoint: host:port or a multiaddr */
	SCHEME_HTTP,     /* http://host[:port] (default port 8080) */
	SCHEME_SOCKS5,   /* socks5://host[:port] (default port 1080) */
	SCHEME_SOCKS5H,  /* socks5h:// : like socks5, names resolved by the proxy */
};

/*
 * One endpoint: an IP address, a transport protocol and a port. IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d) are stored as the IPv4 address they carry, so every
 * layer judges them as IPv4.
 */
struct endpoint {
	int family;     /* AF_INET or AF_INET6 */
	uint8_t proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;  /* host byte order, 1..65535 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} ip;
	enum addr_scheme scheme;

	/* A WireGuard multiaddr: the key of the peer that carries this endpoint
	 * (/.../wg/u<key>), and in the infix form that peer's UDP endpoint, the bearer
	 * (/ip4/B/udp/P/wg/u<key>/ip4/...). */
	bool has_wg;
	uint8_t wg_key[32];
	bool has_bearer;
	struct wg_bearer {
		int family;
		uint16_t port; /* host byte order */
		union {
			struct in_addr v4;
			struct in6_addr v6;
		} ip;
	} bearer;
};

/*
 * Parse an endpoint. Accepted forms:
 *   /ip4/10.0.11.1/tcp/1616   /ip6/fd00::1/udp/53      (multiaddr)
 *   10.0.0.1:80   [fd00::1]:443                        (TCP unless prefixed)
 *   tcp:10.0.0.1:80   udp:[fd00::1]:53                 (explicit protocol)
 *   http://10.0.0.1:8888   socks5://h:1080   socks5h://h   (proxy URLs; TCP)
 * Host names are not resolved: a name gives -EINVAL with a message saying so.
 * On error returns -EINVAL, one line (what and where, byte offset) recorded (err_message()).
 */
int addr_parse(const char *s, struct endpoint *ret);

/* Like addr_parse, but requires a proxy URL (http://, socks5://, socks5h://). */
int addr_parse_proxy(const char *s, struct endpoint *ret);

/* "10.0.0.1" or "fd00::1" (no brackets, no port). buf of at least INET6_ADDRSTRLEN. */
const char *addr_ip_str(const struct endpoint *e, char *buf, size_t len);

/* "tcp 10.0.0.1:80" / "udp [fd00::1]:53". Returns buf. */
const char *addr_format(const struct endpoint *e, char *buf, size_t len);

/* The URL form of a proxy endpoint: "http://10.0.0.1:8888". Returns buf. */
const char *addr_format_url(const struct endpoint *e, char *buf, size_t len);

/* WireGuard keys in multiaddrs: multibase base64url, 'u' and 43 characters, no padding.
 * decode returns 0 or -EINVAL, what is wrong recorded (err_message()). */
int addr_wg_key_decode(const char *s, size_t n, uint8_t key[32]);
void addr_wg_key_encode(const uint8_t key[32], char out[45]);

/* An address with a prefix length: 10.0.11.0/24, fd00::/64, or a bare address (its full
 * length). Host bits must be zero. */
struct cidr {
	int family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} ip;
	unsigned len;
};
/* 0 or -EINVAL with the reason recorded. IPv4-mapped IPv6 is refused (say the IPv4). */
int addr_parse_cidr(const char *s, struct cidr *ret);
/* "10.0.11.0/24". buf of at least INET6_ADDRSTRLEN + 4. */
const char *addr_format_cidr(const struct cidr *c, char *buf, size_t len);

bool addr_is_loopback(const struct endpoint *e);
bool addr_equal(const struct endpoint *a, const struct endpoint *b);

#define ADDR_STR_MAX 64
