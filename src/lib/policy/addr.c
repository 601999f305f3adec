/* addr.c: parses and prints every address form sluice accepts (multiaddrs, host:port,
 * [v6]:port, proxy URLs) into one struct endpoint. Pure: no name resolution, no I/O.
 * Errors are one line naming the input, what is wrong and the byte offset where it is. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include <sodium.h>

#include "addr.h"
#include "log.h"
#include "util.h"

/* Longest input we echo back in an error: enough to recognise it, short enough for one line. */
#define ECHO_MAX 120

struct parse {
	const char *in; /* the whole input, for messages and offsets */
};

/* Record "<input>: <what> at byte N" (err_invalid). The input is echoed with control characters
 * replaced, so a value from a YAML block scalar cannot break the one-line rule. */
_printf_(3, 4) static int fail_at(const struct parse *ps, const char *where, const char *fmt, ...)
{
	char echo[ECHO_MAX + 4];
	char what[256];
	size_t i;
	va_list ap;

	for (i = 0; ps->in[i] && i < ECHO_MAX; i++)
		echo[i] = iscntrl((unsigned char)ps->in[i]) ? '?' : ps->in[i];
	echo[i] = '\0';
	if (ps->in[i])
		strcat(echo, "...");

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);

	/* Pieces of the input quoted in "what" (a protocol, a scheme) may hold control characters
	 * too. */
	for (char *c = what; *c; c++)
		if (iscntrl((unsigned char)*c))
			*c = '?';

	if (where)
		return err_invalid("%s: %s at byte %zu", echo, what, (size_t)(where - ps->in));
	return err_invalid("%s: %s", echo, what);
}

/* Decimal port, 1..65535, digits only (no sign, no spaces, no hex). */
static int parse_port(const struct parse *ps, const char *s, size_t n, uint16_t *ret)
{
	unsigned long v = 0;

	if (n == 0)
		return fail_at(ps, s, "missing port");
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return fail_at(ps, s, "bad port");
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > 65535)
			return fail_at(ps, s, "port out of range (1-65535)");
	}
	if (v == 0)
		return fail_at(ps, s, "port 0 is not a port one can connect to");
	*ret = (uint16_t)v;
	return 0;
}

/* Store an IPv6 address; a mapped IPv4 one (::ffff:a.b.c.d) becomes the IPv4 address it
 * carries, so an allow list, a loopback check or a rule never sees two spellings of one host. */
static void set_v6(struct endpoint *e, const struct in6_addr *a)
{
	if (IN6_IS_ADDR_V4MAPPED(a)) {
		e->family = AF_INET;
		memcpy(&e->ip.v4, &a->s6_addr[12], 4);
	} else {
		e->family = AF_INET6;
		e->ip.v6 = *a;
	}
}

static bool looks_like_name(const char *s, size_t n)
{
	bool alpha = false;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalpha(c))
			alpha = true;
		else if (!isdigit(c) && c != '.' && c != '-' && c != '_')
			return false;
	}
	return alpha;
}

/* An unbracketed host: an IPv4 address (a name is refused with a hint). */
static int parse_host4(const struct parse *ps, const char *s, size_t n, struct endpoint *e)
{
	char buf[INET6_ADDRSTRLEN];

	if (n == 0)
		return fail_at(ps, s, "missing address");
	if (n < sizeof(buf)) {
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET, buf, &e->ip.v4) == 1) {
			e->family = AF_INET;
			return 0;
		}
	}
	if (looks_like_name(s, n))
		return fail_at(ps, s, "host names are not resolved; give an IP address");
	return fail_at(ps, s, "bad IPv4 address");
}

static int parse_host6(const struct parse *ps, const char *s, size_t n, struct endpoint *e)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a;

	if (n == 0 || n >= sizeof(buf))
		return fail_at(ps, s, "bad IPv6 address");
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, &a) != 1)
		return fail_at(ps, s, "bad IPv6 address");
	set_v6(e, &a);
	return 0;
}

/*
 * "host:port" or "[v6]:port" in s[0..n). With port_optional, a missing port keeps *e's port
 * (a URL's default). Colons in an unbracketed host mean an IPv6 address without brackets,
 * which is ambiguous with its port, so it is refused with a hint.
 */
static int parse_hostport(const struct parse *ps, const char *s, size_t n, bool port_optional,
			  struct endpoint *e)
{
	const char *end = s + n, *colon;
	int r;

	if (n == 0)
		return fail_at(ps, s, "missing address");
	if (*s == '[') {
		const char *close = memchr(s, ']', n);

		if (!close)
			return fail_at(ps, s, "missing ']' after IPv6 address");
		r = parse_host6(ps, s + 1, (size_t)(close - s - 1), e);
		if (r < 0)
			return r;
		if (close + 1 == end) {
			if (port_optional)
				return 0;
			return fail_at(ps, close + 1, "missing port (expected [address]:port)");
		}
		if (close[1] != ':')
			return fail_at(ps, close + 1, "expected ':' and a port after ']'");
		return parse_port(ps, close + 2, (size_t)(end - close - 2), &e->port);
	}

	colon = memchr(s, ':', n);
	if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
		return fail_at(ps, s, "an IPv6 address needs brackets: [address]:port");
	if (!colon) {
		r = parse_host4(ps, s, n, e);
		if (r < 0)
			return r;
		if (port_optional)
			return 0;
		return fail_at(ps, end, "missing port (expected address:port)");
	}
	r = parse_host4(ps, s, (size_t)(colon - s), e);
	if (r < 0)
		return r;
	return parse_port(ps, colon + 1, (size_t)(end - colon - 1), &e->port);
}

/* One multiaddr segment: [*pos, next '/' or end). Advances *pos past it. */
static size_t next_segment(const char **pos, const char **seg)
{
	const char *s = *pos, *slash;
	size_t n;

	if (*s == '/')
		s++;
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	*seg = s;
	*pos = s + n;
	return n;
}

static bool seg_is(const char *seg, size_t n, const char *name)
{
	return strlen(name) == n && strncmp(seg, name, n) == 0;
}

/* Protocols of the multiaddr table that sluice will take later (DESIGN.md, Addresses). */
static const char *const later_protocols[] = {
    "dnsaddr", "ip6zone", "sctp", "quic", "quic-v1",
};

/* multibase 'u': base64url without padding, 43 characters for 32 bytes and 2 bits more,
 * which must be 0 (libsodium's decoder refuses them otherwise). The characters are looked at
 * first only to say what is wrong. */
int addr_wg_key_decode(const char *s, size_t n, uint8_t key[32])
{
	size_t len = 0;
	const char *end = NULL;

	if (n == 0 || s[0] != 'u')
		return err_invalid("a WireGuard key is multibase base64url: 'u' and 43 characters");
	if (n < 44)
		return err_invalid("WireGuard key too short (32 bytes: 'u' and 43 characters)");
	if (n > 44)
		return err_invalid("WireGuard key too long (32 bytes: 'u' and 43 characters)");
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z'))
			continue;
		if (c == '=')
			return err_invalid("a WireGuard key in a multiaddr has no '=' padding");
		if (c == '+' || c == '/')
			return err_invalid("a WireGuard key in a multiaddr is base64url ('-' and "
					   "'_', not '+' and '/')");
		return err_invalid("bad character in a WireGuard key");
	}
	if (sodium_init() < 0 ||
	    sodium_base642bin(key, 32, s + 1, n - 1, NULL, &len, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) < 0 ||
	    len != 32 || end != s + n)
		return err_invalid("WireGuard key: the last character has bits set beyond the 32 "
				   "bytes");
	return 0;
}

void addr_wg_key_encode(const uint8_t key[32], char out[45])
{
	out[0] = 'u';
	sodium_bin2base64(out + 1, 44, key, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int multiaddr_unsupported(const struct parse *ps, const char *seg, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(later_protocols); i++)
		if (seg_is(seg, n, later_protocols[i]))
			return fail_at(ps, seg - 1, "/%.*s is not supported yet", (int)n, seg);
	return fail_at(ps, seg - 1, "malformed multiaddr: unknown protocol \"%.*s\"", (int)n, seg);
}

static int parse_multiaddr_at(const struct parse *ps, const char *pos, struct endpoint *e);

/*
 * After /wg: the peer's key, then either nothing (suffix form: what came before is the
 * service, carried by that peer) or the service in the overlay (infix form: what came
 * before is the peer's UDP endpoint, the bearer).
 */
static int parse_wg(const struct parse *ps, const char *pos, struct endpoint *e)
{
	const char *seg;
	size_t n;
	struct endpoint svc = {.proto = IPPROTO_TCP};
	int r;

	if (!*pos)
		return fail_at(ps, pos, "malformed multiaddr: missing key after /wg");
	n = next_segment(&pos, &seg);
	r = addr_wg_key_decode(seg, n, e->wg_key);
	if (r < 0)
		return fail_at(ps, seg, "%s (segment /wg/%.*s)", err_message(r),
			       (int)(n > 50 ? 50 : n), seg);
	e->has_wg = true;
	if (!*pos)
		return 0;
	if (e->proto != IPPROTO_UDP)
		return fail_at(ps, pos, "malformed multiaddr: a WireGuard bearer is UDP "
					"(/ip4/A/udp/P/wg/u<key>/ip4/...)");
	r = parse_multiaddr_at(ps, pos, &svc);
	if (r < 0)
		return r;
	if (svc.has_wg)
		return fail_at(ps, pos, "malformed multiaddr: a second /wg");
	svc.has_wg = true;
	memcpy(svc.wg_key, e->wg_key, sizeof(svc.wg_key));
	svc.has_bearer = true;
	svc.bearer.family = e->family;
	svc.bearer.port = e->port;
	memcpy(&svc.bearer.ip, &e->ip, sizeof(svc.bearer.ip));
	*e = svc;
	return 0;
}

/* /ip4/<a>/tcp|udp/<port> and /ip6/<a>/tcp|udp/<port>, optionally with /wg/u<key>. */
static int parse_multiaddr(const struct parse *ps, struct endpoint *e)
{
	return parse_multiaddr_at(ps, ps->in, e);
}

static int parse_multiaddr_at(const struct parse *ps, const char *pos, struct endpoint *e)
{
	const char *seg;
	size_t n;
	int r;

	n = next_segment(&pos, &seg);
	if (seg_is(seg, n, "ip4") || seg_is(seg, n, "ip6")) {
		bool v4 = seg[2] == '4';
		const char *a;
		size_t an;

		if (!*pos)
			return fail_at(ps, pos, "malformed multiaddr: missing address after /%.*s",
				       (int)n, seg);
		an = next_segment(&pos, &a);
		r = v4 ? parse_host4(ps, a, an, e) : parse_host6(ps, a, an, e);
		if (r < 0)
			return r;
	} else if (n == 0) {
		return fail_at(ps, seg, "malformed multiaddr: empty protocol");
	} else if (seg_is(seg, n, "dns") || seg_is(seg, n, "dns4") || seg_is(seg, n, "dns6")) {
		return fail_at(ps, seg - 1, "host names are not resolved: give an IP address "
					    "(/ip4 or /ip6)");
	} else if (seg_is(seg, n, "unix")) {
		return fail_at(ps, seg - 1, "a unix socket is not an IP endpoint here");
	} else {
		return multiaddr_unsupported(ps, seg, n);
	}

	if (!*pos)
		return fail_at(ps, pos, "malformed multiaddr: missing /tcp/PORT or /udp/PORT");
	n = next_segment(&pos, &seg);
	if (seg_is(seg, n, "tcp"))
		e->proto = IPPROTO_TCP;
	else if (seg_is(seg, n, "udp"))
		e->proto = IPPROTO_UDP;
	else if (n == 0)
		return fail_at(ps, seg, "malformed multiaddr: empty protocol");
	else if (seg_is(seg, n, "ip4") || seg_is(seg, n, "ip6"))
		return fail_at(ps, seg - 1, "malformed multiaddr: expected /tcp or /udp");
	else
		return multiaddr_unsupported(ps, seg, n);

	if (!*pos)
		return fail_at(ps, pos, "malformed multiaddr: missing port after /%.*s", (int)n,
			       seg);
	n = next_segment(&pos, &seg);
	r = parse_port(ps, seg, n, &e->port);
	if (r < 0)
		return r;

	if (*pos) {
		n = next_segment(&pos, &seg);
		if (n == 0)
			return fail_at(ps, seg, "malformed multiaddr: empty protocol");
		if (!seg_is(seg, n, "wg"))
			return multiaddr_unsupported(ps, seg, n);
		return parse_wg(ps, pos, e);
	}
	return 0;
}

static const struct {
	const char *name;
	enum addr_scheme scheme;
	uint16_t default_port;
} schemes[] = {
    {"http", SCHEME_HTTP, 8080},
    {"socks5", SCHEME_SOCKS5, 1080},
    {"socks5h", SCHEME_SOCKS5H, 1080},
};

/* scheme://host[:port][/]. No path; credentials are taken off by policy_set_proxy first. */
static int parse_url(const struct parse *ps, const char *sep, struct endpoint *e)
{
	const char *auth = sep + 3, *end;
	size_t sn = (size_t)(sep - ps->in);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(schemes); i++)
		if (strlen(schemes[i].name) == sn && strncasecmp(ps->in, schemes[i].name, sn) == 0)
			break;
	if (i == ARRAY_SIZE(schemes))
		return fail_at(ps, ps->in, "unsupported scheme \"%.*s\" (http, socks5 or socks5h)",
			       (int)sn, ps->in);
	e->scheme = schemes[i].scheme;
	e->port = schemes[i].default_port;
	e->proto = IPPROTO_TCP;

	end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(end - auth)))
		return fail_at(ps, auth, "credentials belong only in the proxy URL (--proxy, proxy:)");
	if (*end && !(end[0] == '/' && end[1] == '\0'))
		return fail_at(ps, end, "a proxy URL takes no path, query or fragment");
	return parse_hostport(ps, auth, (size_t)(end - auth), true, e);
}

int addr_parse(const char *s, struct endpoint *ret)
{
	struct parse ps = {.in = s};
	struct endpoint e = {.proto = IPPROTO_TCP};
	const char *sep;
	int r;

	if (!s || !*s)
		return err_invalid("empty address");
	if (*s == '/')
		r = parse_multiaddr(&ps, &e);
	else if ((sep = strstr(s, "://")))
		r = parse_url(&ps, sep, &e);
	else if (startswith(s, "tcp:"))
		r = parse_hostport(&ps, s + 4, strlen(s + 4), false, &e);
	else if (startswith(s, "udp:")) {
		e.proto = IPPROTO_UDP;
		r = parse_hostport(&ps, s + 4, strlen(s + 4), false, &e);
	} else
		r = parse_hostport(&ps, s, strlen(s), false, &e);
	if (r < 0)
		return r;
	*ret = e;
	return 0;
}

int addr_parse_proxy(const char *s, struct endpoint *ret)
{
	struct endpoint e;
	int r;

	r = addr_parse(s, &e);
	if (r < 0)
		return r;
	if (e.scheme == SCHEME_NONE) {
		struct parse ps = {.in = s};

		return fail_at(&ps, NULL,
			       "a proxy must be a URL (http://, socks5:// or socks5h://)");
	}
	*ret = e;
	return 0;
}

const char *addr_ip_str(const struct endpoint *e, char *buf, size_t len)
{
	if (!inet_ntop(e->family, e->family == AF_INET ? (const void *)&e->ip.v4 : &e->ip.v6, buf,
		       (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

static const char *hostport(const struct endpoint *e, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	addr_ip_str(e, ip, sizeof(ip));
	if (e->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, e->port);
	else
		snprintf(buf, len, "%s:%u", ip, e->port);
	return buf;
}

const char *addr_format(const struct endpoint *e, char *buf, size_t len)
{
	char hp[ADDR_STR_MAX];

	snprintf(buf, len, "%s %s", e->proto == IPPROTO_UDP ? "udp" : "tcp",
		 hostport(e, hp, sizeof(hp)));
	return buf;
}

/* For a bare endpoint (no scheme) this gives "tcp:host:port", which addr_parse reads back. */
const char *addr_format_url(const struct endpoint *e, char *buf, size_t len)
{
	char hp[ADDR_STR_MAX];

	hostport(e, hp, sizeof(hp));
	switch (e->scheme) {
	case SCHEME_HTTP:
		snprintf(buf, len, "http://%s", hp);
		break;
	case SCHEME_SOCKS5:
		snprintf(buf, len, "socks5://%s", hp);
		break;
	case SCHEME_SOCKS5H:
		snprintf(buf, len, "socks5h://%s", hp);
		break;
	default:
		snprintf(buf, len, "%s:%s", e->proto == IPPROTO_UDP ? "udp" : "tcp", hp);
		break;
	}
	return buf;
}

bool addr_is_loopback(const struct endpoint *e)
{
	if (e->family == AF_INET)
		return (ntohl(e->ip.v4.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&e->ip.v6);
}

/* Same place: address, protocol and port. The scheme is how one talks there, not where. */
/* The same endpoint through another WireGuard peer (or none) is another declaration. */
bool addr_equal(const struct endpoint *a, const struct endpoint *b)
{
	if (a->family != b->family || a->proto != b->proto || a->port != b->port)
		return false;
	if (a->has_wg != b->has_wg || (a->has_wg && memcmp(a->wg_key, b->wg_key, 32) != 0))
		return false;
	if (a->family == AF_INET)
		return a->ip.v4.s_addr == b->ip.v4.s_addr;
	return IN6_ARE_ADDR_EQUAL(&a->ip.v6, &b->ip.v6);
}

int addr_parse_cidr(const char *s, struct cidr *ret)
{
	struct cidr c = {0};
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max;
	const uint8_t *b;

	if (n == 0 || n >= sizeof(buf))
		return err_invalid("\"%.64s\": expected an address or ADDR/PREFIX", s);
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &c.ip.v4) == 1)
		c.family = AF_INET;
	else if (inet_pton(AF_INET6, buf, &c.ip.v6) == 1)
		c.family = AF_INET6;
	else
		return err_invalid("\"%.64s\": not an IPv4 or IPv6 address (names are not "
				   "resolved)",
				   s);
	if (c.family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&c.ip.v6))
		return err_invalid("\"%.64s\": an IPv4-mapped address: give the IPv4 one", s);
	max = c.family == AF_INET ? 32 : 128;
	c.len = max;
	if (slash) {
		char *end;
		unsigned long l;

		if (!isdigit((unsigned char)slash[1]))
			return err_invalid("\"%.64s\": a prefix length is digits", s);
		l = strtoul(slash + 1, &end, 10);
		if (*end || l > max || (slash[1] == '0' && slash[2]))
			return err_invalid("\"%.64s\": a prefix length is 0..%u", s, max);
		c.len = (unsigned)l;
	}
	b = (const uint8_t *)&c.ip;
	for (unsigned bit = c.len; bit < max; bit++)
		if (b[bit / 8] & (0x80 >> (bit % 8)))
			return err_invalid("\"%.64s\": host bits are set (say %s/%u's network)", s,
					   buf, c.len);
	*ret = c;
	return 0;
}

const char *addr_format_cidr(const struct cidr *c, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(c->family, &c->ip, ip, sizeof(ip));
	snprintf(buf, len, "%s/%u", ip, c->len);
	return buf;
}
