/* wgconf.c: the wg-quick file format, as far as sluice takes it: [Interface] and [Peer]
 * sections, keys case-insensitive, '#' and ';' comments. Everything that would run a command
 * or touch routing (PostUp, Table, FwMark, ...) and every unknown key is refused with
 * FILE:LINE, never ignored. Also the base64 keys of wg(8) and their public keys (libsodium),
 * and the IP-only endpoint and prefix forms that the UAPI text uses too. Pure: a fuzz harness
 * includes this file directly. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include <sodium.h>

#include "log.h"
#include "wgconf.h"

/* --- keys ------------------------------------------------------------------------------- */

/* Whether every character but the last is of base64's alphabet, and the last is '='. No
 * branch on a character: keys are secrets. (libsodium 1.0.18's decoder takes some bytes above
 * 0x7f for characters of the alphabet, so they are refused here first.) */
static bool b64_key_alphabet(const char *s)
{
	unsigned bad = (unsigned char)s[WG_KEY_B64_LEN - 1] ^ '=';

	for (size_t i = 0; i < WG_KEY_B64_LEN - 1; i++) {
		unsigned c = (unsigned char)s[i];
		unsigned ok =
		    (c - 'A' < 26u) | (c - 'a' < 26u) | (c - '0' < 10u) | (c == '+') | (c == '/');

		bad |= ok ^ 1u;
	}
	return bad == 0;
}

/* Keys are secrets: libsodium's codecs are constant time, and refuse a last character
 * with padding bits set, so that every key has exactly one spelling. */
int wg_key_b64_decode(const char *s, uint8_t key[WG_KEY_LEN])
{
	uint8_t out[WG_KEY_LEN];
	size_t len = 0;
	const char *end = NULL;
	int r;

	if (!s || strnlen(s, WG_KEY_B64_LEN + 1) != WG_KEY_B64_LEN || !b64_key_alphabet(s) ||
	    sodium_init() < 0)
		return -EINVAL;
	r = sodium_base642bin(out, sizeof(out), s, WG_KEY_B64_LEN, NULL, &len, &end,
			      sodium_base64_VARIANT_ORIGINAL);
	if (r < 0 || len != WG_KEY_LEN || end != s + WG_KEY_B64_LEN) {
		sodium_memzero(out, sizeof(out));
		return -EINVAL;
	}
	memcpy(key, out, WG_KEY_LEN);
	sodium_memzero(out, sizeof(out));
	return 0;
}

void wg_key_b64_encode(const uint8_t key[WG_KEY_LEN], char out[WG_KEY_B64_LEN + 1])
{
	sodium_bin2base64(out, WG_KEY_B64_LEN + 1, key, WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

int wg_public_key(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN])
{
	/* X25519 of the clamped key and the base point, as wg pubkey does. */
	if (sodium_init() < 0 || crypto_scalarmult_curve25519_base(pub, priv) < 0)
		return err_set(-EINVAL, "derive a WireGuard public key");
	return 0;
}

/* --- endpoints and prefixes ------------------------------------------------------------- */

/* Digits only (no sign, no spaces), at most max. */
static int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 10)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static bool looks_like_name(const char *s)
{
	for (; *s; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '-')
			return true;
	return false;
}

/* What an endpoint's host is instead of an IPv4 address: a name, or nothing usable. */
static int not_ipv4(const char *host)
{
	if (looks_like_name(host))
		return err_invalid("is a host name: only IP addresses are accepted (a name would "
				   "need a DNS lookup)");
	return err_invalid("is not an IPv4 address");
}

int wg_endpoint_parse(const char *s, union wg_sockaddr *ret)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port;
	unsigned long p;
	size_t hl;

	memset(ret, 0, sizeof(*ret));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return err_invalid("an IPv6 endpoint is written [address]:port");
		hl = (size_t)(end - s - 1);
		port = end + 2;
		if (hl >= sizeof(host))
			return err_invalid("is not an IPv6 address in brackets");
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET6, host, &ret->in6.sin6_addr) != 1) {
			if (strchr(host, '%'))
				return err_invalid("scoped IPv6 addresses are not supported");
			return err_invalid("is not an IPv6 address in brackets");
		}
		ret->in6.sin6_family = AF_INET6;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon)
			return err_invalid("needs a port (address:port)");
		if (memchr(s, ':', (size_t)(colon - s)))
			return err_invalid("an IPv6 endpoint is written [address]:port");
		hl = (size_t)(colon - s);
		port = colon + 1;
		if (hl >= sizeof(host))
			return not_ipv4(s);
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, &ret->in.sin_addr) != 1)
			return not_ipv4(host);
		ret->in.sin_family = AF_INET;
	}
	if (parse_uint(port, 65535, &p) < 0 || p == 0) {
		memset(ret, 0, sizeof(*ret));
		return err_invalid("has no valid port (1-65535)");
	}
	if (ret->sa.sa_family == AF_INET)
		ret->in.sin_port = htons((uint16_t)p);
	else
		ret->in6.sin6_port = htons((uint16_t)p);
	return 0;
}

void wg_endpoint_format(const union wg_sockaddr *e, char *out)
{
	char host[INET6_ADDRSTRLEN];

	if (e->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &e->in.sin_addr, host, sizeof(host));
		snprintf(out, WG_ENDPOINT_STR_MAX, "%s:%u", host, ntohs(e->in.sin_port));
	} else if (e->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &e->in6.sin6_addr, host, sizeof(host));
		snprintf(out, WG_ENDPOINT_STR_MAX, "[%s]:%u", host, ntohs(e->in6.sin6_port));
	} else {
		snprintf(out, WG_ENDPOINT_STR_MAX, "(none)");
	}
}

static void prefix_mask(struct wg_prefix *p)
{
	uint8_t *b = p->family == AF_INET ? (uint8_t *)&p->ip.v4 : p->ip.v6.s6_addr;
	unsigned bytes = p->family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = p->cidr > i * 8 ? p->cidr - i * 8 : 0;

		if (keep < 8)
			b[i] &= (uint8_t)(0xff00u >> keep);
	}
}

int wg_prefix_parse(const char *s, bool mask, struct wg_prefix *ret)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t al = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long cidr;
	struct wg_prefix p = {0};

	if (al >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, al);
	addr[al] = '\0';
	p.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(p.family, addr, &p.ip) != 1)
		return -EINVAL;
	p.cidr = p.family == AF_INET ? 32 : 128;
	if (slash) {
		if (parse_uint(slash + 1, p.cidr, &cidr) < 0 || strlen(slash + 1) > 3)
			return -EINVAL;
		p.cidr = (unsigned)cidr;
	}
	if (mask)
		prefix_mask(&p);
	*ret = p;
	return 0;
}

void wg_prefix_format(const struct wg_prefix *p, char *out)
{
	char host[INET6_ADDRSTRLEN];

	inet_ntop(p->family, &p->ip, host, sizeof(host));
	snprintf(out, WG_PREFIX_STR_MAX, "%s/%u", host, p->cidr);
}

/* --- the file --------------------------------------------------------------------------- */

enum section { SEC_NONE, SEC_INTERFACE, SEC_PEER };

enum key {
	K_PRIVATE_KEY,
	K_ADDRESS,
	K_LISTEN_PORT,
	K_MTU,
	K_DNS,
	K_PUBLIC_KEY,
	K_PRESHARED_KEY,
	K_ENDPOINT,
	K_ALLOWED_IPS,
	K_KEEPALIVE,
};

static const struct {
	const char *name;
	enum section section;
	bool list; /* may repeat; values accumulate */
} keys[] = {
    [K_PRIVATE_KEY] = {"PrivateKey", SEC_INTERFACE, false},
    [K_ADDRESS] = {"Address", SEC_INTERFACE, true},
    [K_LISTEN_PORT] = {"ListenPort", SEC_INTERFACE, false},
    [K_MTU] = {"MTU", SEC_INTERFACE, false},
    [K_DNS] = {"DNS", SEC_INTERFACE, true},
    [K_PUBLIC_KEY] = {"PublicKey", SEC_PEER, false},
    [K_PRESHARED_KEY] = {"PresharedKey", SEC_PEER, false},
    [K_ENDPOINT] = {"Endpoint", SEC_PEER, false},
    [K_ALLOWED_IPS] = {"AllowedIPs", SEC_PEER, true},
    [K_KEEPALIVE] = {"PersistentKeepalive", SEC_PEER, false},
};

/* wg-quick keys sluice will not take, and why. */
static const struct {
	const char *name;
	const char *why;
} refused[] = {
    {"PreUp", "runs a shell command; sluice never runs hooks from a config file"},
    {"PostUp", "runs a shell command; sluice never runs hooks from a config file"},
    {"PreDown", "runs a shell command; sluice never runs hooks from a config file"},
    {"PostDown", "runs a shell command; sluice never runs hooks from a config file"},
    {"SaveConfig", "would write the file back; sluice never does"},
    {"Table", "is wg-quick's routing; sluice routes the cage itself"},
    {"FwMark", "is wg-quick's routing; sluice routes the cage itself"},
};

struct parser {
	const char *name;
	unsigned line;
	struct wg_config *c;
	enum section section;
	unsigned seen;	       /* bit per enum key, in the current section */
	unsigned key_line[16]; /* where each was seen, in the current section */
	bool had_interface;
	unsigned interface_line;
	size_t n_allowed_ips; /* over all peers */
	const char *where;    /* a builder's place of the key at hand, instead of name:line */
	char place[256];
};

/* "NAME:LINE", or a builder's own place ("FILE:LINE:COLUMN: wireguard"). */
static const char *place(struct parser *p)
{
	if (p->where)
		return p->where;
	snprintf(p->place, sizeof(p->place), "%s:%u", p->name, p->line);
	return p->place;
}

#define fail(p, fmt, ...) err_invalid("%s: " fmt, place(p), ##__VA_ARGS__)

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

static char *trim(char *s)
{
	char *e;

	while (is_space(*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_space(e[-1]))
		*--e = '\0';
	return s;
}

static int grow(void *pv, size_t *n, size_t size, size_t max)
{
	void **v = pv;
	void *nv;

	if (*n >= max)
		return -E2BIG;
	nv = realloc(*v, (*n + 1) * size);
	if (!nv)
		return -ENOMEM;
	memset((char *)nv + *n * size, 0, size);
	*v = nv;
	(*n)++;
	return 0;
}

/* Call one(p, item, data) for each comma-separated item of value; an empty value has none. */
static int for_each_item(struct parser *p, const char *key, char *value,
			 int (*one)(struct parser *, const char *, const char *))
{
	char *item, *next;
	int r;

	if (!*value)
		return 0;
	for (item = value; item; item = next) {
		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		item = trim(item);
		if (!*item)
			return fail(p, "%s has an empty item in its list", key);
		r = one(p, key, item);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_address(struct parser *p, const char *key, const char *item)
{
	struct wg_prefix pr;

	if (wg_prefix_parse(item, false, &pr) < 0)
		return fail(p, "%s: \"%.64s\" is not an address with an optional /prefix", key,
			    item);
	if (grow(&p->c->addresses, &p->c->n_addresses, sizeof(pr), WG_MAX_ADDRESSES) < 0)
		return fail(p, "%s: more than %d addresses", key, WG_MAX_ADDRESSES);
	p->c->addresses[p->c->n_addresses - 1] = pr;
	return 0;
}

static int add_dns(struct parser *p, const char *key, const char *item)
{
	struct wg_prefix pr;

	if (strchr(item, '/') || wg_prefix_parse(item, false, &pr) < 0)
		return fail(p,
			    "%s: \"%.64s\" is not an IP address (search domains and names are not "
			    "supported: the cage's DNS is sluice's own)",
			    key, item);
	if (grow(&p->c->dns, &p->c->n_dns, sizeof(pr), WG_MAX_DNS) < 0)
		return fail(p, "%s: more than %d servers", key, WG_MAX_DNS);
	p->c->dns[p->c->n_dns - 1] = pr;
	return 0;
}

static int add_allowed_ip(struct parser *p, const char *key, const char *item)
{
	struct wg_peer_config *peer = &p->c->peers[p->c->n_peers - 1];
	struct wg_prefix pr;

	/* Host bits are cleared, as the kernel and wireguard-go do with what they are given. */
	if (wg_prefix_parse(item, true, &pr) < 0)
		return fail(p, "%s: \"%.64s\" is not an address/prefix", key, item);
	if (p->n_allowed_ips >= WG_MAX_ALLOWED_IPS ||
	    grow(&peer->allowed_ips, &peer->n_allowed_ips, sizeof(pr), SIZE_MAX) < 0)
		return fail(p, "%s: more than %d allowed IPs in all", key, WG_MAX_ALLOWED_IPS);
	peer->allowed_ips[peer->n_allowed_ips - 1] = pr;
	p->n_allowed_ips++;
	return 0;
}

static int parse_key_value(struct parser *p, enum key k, const char *key, char *value)
{
	struct wg_config *c = p->c;
	struct wg_peer_config *peer = c->n_peers ? &c->peers[c->n_peers - 1] : NULL;
	union wg_sockaddr ep;
	unsigned long v;
	int r;

	switch (k) {
	case K_PRIVATE_KEY:
		/* a secret: never repeated in a message */
		if (wg_key_b64_decode(value, c->private_key) < 0)
			return fail(p, "%s is not a WireGuard key (44 characters of base64)", key);
		return 0;
	case K_PUBLIC_KEY:
		if (wg_key_b64_decode(value, peer->public_key) < 0)
			return fail(p,
				    "%s \"%.64s\" is not a WireGuard key (44 characters of base64)",
				    key, value);
		return 0;
	case K_PRESHARED_KEY:
		if (wg_key_b64_decode(value, peer->preshared_key) < 0)
			return fail(p, "%s is not a WireGuard key (44 characters of base64)", key);
		peer->has_preshared_key = true;
		return 0;
	case K_LISTEN_PORT:
		if (parse_uint(value, 65535, &v) < 0)
			return fail(p, "%s \"%.64s\" is not a port (0-65535)", key, value);
		c->has_listen_port = true;
		c->listen_port = (uint16_t)v;
		return 0;
	case K_MTU:
		if (parse_uint(value, 65535, &v) < 0 || v < 576)
			return fail(p, "%s \"%.64s\" is not an MTU (576-65535)", key, value);
		c->mtu = (unsigned)v;
		return 0;
	case K_KEEPALIVE:
		if (strcasecmp(value, "off") == 0)
			v = 0;
		else if (parse_uint(value, 65535, &v) < 0)
			return fail(p, "%s \"%.64s\" is not a number of seconds (0-65535) or off",
				    key, value);
		peer->persistent_keepalive = (uint16_t)v;
		return 0;
	case K_ENDPOINT:
		r = wg_endpoint_parse(value, &ep);
		if (r < 0)
			return fail(p, "%s \"%.64s\" %s", key, value, err_message(r));
		peer->endpoint = ep;
		return 0;
	case K_ADDRESS:
		return for_each_item(p, key, value, add_address);
	case K_DNS:
		return for_each_item(p, key, value, add_dns);
	case K_ALLOWED_IPS:
		return for_each_item(p, key, value, add_allowed_ip);
	}
	return -EINVAL;
}

static int end_section(struct parser *p)
{
	struct wg_config *c = p->c;

	if (p->section == SEC_INTERFACE && !(p->seen & (1u << K_PRIVATE_KEY)))
		return err_invalid("%s:%u: [Interface] has no PrivateKey", p->name,
				   p->interface_line);
	if (p->section == SEC_PEER) {
		struct wg_peer_config *peer = &c->peers[c->n_peers - 1];

		if (!(p->seen & (1u << K_PUBLIC_KEY)))
			return err_invalid("%s:%u: [Peer] has no PublicKey", p->name, peer->line);
		for (size_t i = 0; i + 1 < c->n_peers; i++)
			if (memcmp(c->peers[i].public_key, peer->public_key, WG_KEY_LEN) == 0)
				return err_invalid("%s:%u: [Peer] has the same PublicKey as the "
						   "[Peer] at line %u",
						   p->name, p->key_line[K_PUBLIC_KEY],
						   c->peers[i].line);
	}
	return 0;
}

static int parse_section(struct parser *p, const char *s)
{
	int r = end_section(p);

	if (r < 0)
		return r;
	p->seen = 0;
	if (strcasecmp(s, "[Interface]") == 0) {
		if (p->had_interface)
			return fail(p, "a second [Interface] (the first is at line %u)",
				    p->interface_line);
		p->had_interface = true;
		p->interface_line = p->line;
		p->section = SEC_INTERFACE;
		return 0;
	}
	if (strcasecmp(s, "[Peer]") == 0) {
		if (grow(&p->c->peers, &p->c->n_peers, sizeof(struct wg_peer_config),
			 WG_MAX_PEERS) < 0)
			return fail(p, "more than %d peers", WG_MAX_PEERS);
		p->c->peers[p->c->n_peers - 1].line = p->line;
		p->section = SEC_PEER;
		return 0;
	}
	return fail(p, "unknown section \"%.64s\" (only [Interface] and [Peer])", s);
}

/* A key = value of the current section, by its wg-quick name (case-insensitive). */
static int parse_key(struct parser *p, const char *key, char *value)
{
	unsigned k;

	for (k = 0; k < ARRAY_SIZE(refused); k++)
		if (strcasecmp(key, refused[k].name) == 0)
			return fail(p, "%s is not supported: it %s", refused[k].name,
				    refused[k].why);
	for (k = 0; k < ARRAY_SIZE(keys); k++)
		if (strcasecmp(key, keys[k].name) == 0)
			break;
	if (k == ARRAY_SIZE(keys))
		return fail(p, "unknown key \"%.64s\"", key);
	if (p->section == SEC_NONE)
		return fail(p, "%s before any [Interface] or [Peer] section", keys[k].name);
	if (keys[k].section != p->section)
		return fail(p, "%s belongs in %s, not %s", keys[k].name,
			    keys[k].section == SEC_PEER ? "[Peer]" : "[Interface]",
			    p->section == SEC_PEER ? "[Peer]" : "[Interface]");
	if (!keys[k].list && (p->seen & (1u << k)))
		return fail(p, "%s given twice in one section (first at line %u)", keys[k].name,
			    p->key_line[k]);
	p->seen |= 1u << k;
	p->key_line[k] = p->line;
	return parse_key_value(p, (enum key)k, keys[k].name, value);
}

static int parse_line(struct parser *p, char *s)
{
	char *eq, *key, *value;

	s[strcspn(s, "#;")] = '\0'; /* no value we take contains either */
	s = trim(s);
	if (!*s)
		return 0;
	if (*s == '[')
		return parse_section(p, s);
	eq = strchr(s, '=');
	if (!eq)
		return fail(p, "\"%.64s\" is not a key = value line", s);
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	return parse_key(p, key, value);
}

int wgconf_parse(const char *text, size_t len, const char *name_for_errors, struct wg_config *ret)
{
	struct parser p = {.name = name_for_errors, .line = 0};
	struct wg_config c = {0};
	char *buf, *s, *nl;
	int r = 0;

	if (len > WGCONF_MAX_SIZE)
		return err_invalid("%s: larger than %d bytes", p.name, WGCONF_MAX_SIZE);
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, text, len);
	buf[len] = '\0';
	p.c = &c;
	for (s = buf; r == 0 && s < buf + len; s = nl + 1) {
		size_t n;

		p.line++;
		nl = memchr(s, '\n', (size_t)(buf + len - s));
		if (!nl)
			nl = buf + len;
		*nl = '\0';
		n = (size_t)(nl - s);
		/* Control characters (a NUL included) would garble a message or hide text. */
		for (size_t i = 0; i < n; i++)
			if (((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\r') ||
			    s[i] == 0x7f) {
				r = fail(&p, "control character 0x%02x", (unsigned char)s[i]);
				break;
			}
		if (r == 0)
			r = parse_line(&p, s);
	}
	if (r == 0)
		r = end_section(&p);
	if (r == 0 && !p.had_interface)
		r = err_invalid("%s: no [Interface] section", p.name);
	explicit_bzero(buf, len); /* it held the private key */
	free(buf);
	if (r < 0) {
		wg_config_free(&c);
		return r;
	}
	*ret = c;
	return 0;
}

/* --- a configuration built key by key ---------------------------------------------------- */

struct wgconf_builder {
	struct parser p;
	struct wg_config c;
	int error; /* the first failure: every later call fails with it */
};

int wgconf_builder_new(const char *name_for_errors, struct wgconf_builder **ret)
{
	struct wgconf_builder *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->p.name = name_for_errors;
	b->p.c = &b->c;
	*ret = b;
	return 0;
}

int wgconf_builder_section(struct wgconf_builder *b, bool peer, unsigned line)
{
	if (b->error == 0) {
		b->p.line = line;
		b->p.where = NULL;
		b->error = parse_section(&b->p, peer ? "[Peer]" : "[Interface]");
	}
	return b->error;
}

int wgconf_builder_set(struct wgconf_builder *b, const char *key, const char *value, unsigned line,
		       const char *where)
{
	_cleanup_free_ char *v = NULL;
	size_t n;

	if (b->error)
		return b->error;
	n = strlen(value);
	/* one value of the format: what would end a line or cut the value is no part of one */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
			b->p.where = where;
			return b->error = fail(&b->p,
					       "%s: a control character is not allowed in "
					       "a value",
					       key);
		}
	if (n > WGCONF_MAX_SIZE || !(v = strdup(value)))
		return b->error = -ENOMEM;
	b->p.line = line;
	b->p.where = where;
	b->error = parse_key(&b->p, key, v);
	explicit_bzero(v, n); /* it may be a key */
	return b->error;
}

int wgconf_builder_finish(struct wgconf_builder *b, struct wg_config *ret)
{
	int r = b->error;

	b->p.where = NULL;
	if (r == 0)
		r = end_section(&b->p);
	if (r == 0 && !b->p.had_interface)
		r = err_invalid("%s: no interface", b->p.name);
	if (r == 0) {
		*ret = b->c;
		memset(&b->c, 0, sizeof(b->c));
	}
	wgconf_builder_free(b);
	return r;
}

void wgconf_builder_free(struct wgconf_builder *b)
{
	if (!b)
		return;
	wg_config_free(&b->c);
	free(b);
}

int wgconf_load(const char *path, struct wg_config *ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	struct stat st;
	int r;

	if (fd < 0)
		return err_set(negative_errno(), "open %s", path);
	if (fstat(fd, &st) < 0)
		return err_set(negative_errno(), "stat %s", path);
	if (!S_ISREG(st.st_mode))
		return err_invalid("%s: not a regular file", path);
	if (st.st_size > WGCONF_MAX_SIZE)
		return err_invalid("%s: larger than %d bytes", path, WGCONF_MAX_SIZE);
	text = malloc((size_t)st.st_size + 1);
	if (!text)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, text + len, (size_t)st.st_size + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(negative_errno(), "read %s", path);
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)st.st_size) /* grew while being read */
			return err_invalid("%s: changed while being read", path);
	}
	r = wgconf_parse(text, len, path, ret);
	explicit_bzero(text, len);
	return r;
}

void wg_config_free(struct wg_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_peers; i++)
		free(c->peers[i].allowed_ips);
	if (c->peers)
		explicit_bzero(c->peers, c->n_peers * sizeof(*c->peers));
	free(c->peers);
	free(c->addresses);
	free(c->dns);
	explicit_bzero(c, sizeof(*c));
}
