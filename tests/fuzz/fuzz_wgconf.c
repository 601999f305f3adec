/* fuzz_wgconf.c: libFuzzer harness for wgconf_parse(), the parser of wg-quick files a user
 * hands sluice. Whatever the input: no crash; a refusal is one line starting "NAME:"; a
 * config within every limit, with host bits cleared and ports set; written back out as a
 * wg-quick file it parses to the same config; and a key that decodes encodes back to the
 * same 44 characters. Includes the parser directly (as wireguard-tools' fuzzers do), so it
 * needs only log.c and util.c beside it. */
#include "../../src/lib/policy/wgconf.c"

static void emit(char **s, size_t *len, size_t *cap, const char *fmt, ...) _printf_(4, 5);
static void emit(char **s, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*s + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if (*len + (size_t)n < *cap)
			break;
		*cap = (*cap + (size_t)n) * 2;
		*s = realloc(*s, *cap);
		if (!*s)
			abort();
	}
	*len += (size_t)n;
}

/* c as a wg-quick file (every list item on its own line) */
static char *write_back(const struct wg_config *c, size_t *ret_len)
{
	size_t len = 0, cap = 4096;
	char *s = malloc(cap), k[WG_KEY_B64_LEN + 1], a[WG_ENDPOINT_STR_MAX + WG_PREFIX_STR_MAX];

	if (!s)
		abort();
	s[0] = '\0';
	wg_key_b64_encode(c->private_key, k);
	emit(&s, &len, &cap, "[Interface]\nPrivateKey = %s\n", k);
	if (c->has_listen_port)
		emit(&s, &len, &cap, "ListenPort = %u\n", c->listen_port);
	if (c->mtu)
		emit(&s, &len, &cap, "MTU = %u\n", c->mtu);
	for (size_t i = 0; i < c->n_addresses; i++) {
		wg_prefix_format(&c->addresses[i], a);
		emit(&s, &len, &cap, "Address = %s\n", a);
	}
	for (size_t i = 0; i < c->n_dns; i++) {
		wg_prefix_format(&c->dns[i], a);
		*strchr(a, '/') = '\0';
		emit(&s, &len, &cap, "DNS = %s\n", a);
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct wg_peer_config *p = &c->peers[i];

		wg_key_b64_encode(p->public_key, k);
		emit(&s, &len, &cap, "[Peer]\nPublicKey = %s\n", k);
		if (p->has_preshared_key) {
			wg_key_b64_encode(p->preshared_key, k);
			emit(&s, &len, &cap, "PresharedKey = %s\n", k);
		}
		if (p->endpoint.sa.sa_family) {
			wg_endpoint_format(&p->endpoint, a);
			emit(&s, &len, &cap, "Endpoint = %s\n", a);
		}
		emit(&s, &len, &cap, "PersistentKeepalive = %u\n", p->persistent_keepalive);
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			wg_prefix_format(&p->allowed_ips[j], a);
			emit(&s, &len, &cap, "AllowedIPs = %s\n", a);
		}
	}
	*ret_len = len;
	return s;
}

static bool same_prefixes(const struct wg_prefix *a, const struct wg_prefix *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].family != b[i].family || a[i].cidr != b[i].cidr ||
		    memcmp(&a[i].ip, &b[i].ip, a[i].family == AF_INET ? 4 : 16))
			return false;
	return true;
}

static void check_same(const struct wg_config *a, const struct wg_config *b)
{
	if (memcmp(a->private_key, b->private_key, 32) ||
	    a->has_listen_port != b->has_listen_port || a->listen_port != b->listen_port ||
	    a->mtu != b->mtu || a->n_addresses != b->n_addresses || a->n_dns != b->n_dns ||
	    a->n_peers != b->n_peers ||
	    !same_prefixes(a->addresses, b->addresses, a->n_addresses) ||
	    !same_prefixes(a->dns, b->dns, a->n_dns))
		abort();
	for (size_t i = 0; i < a->n_peers; i++) {
		const struct wg_peer_config *p = &a->peers[i], *q = &b->peers[i];

		if (memcmp(p->public_key, q->public_key, 32) ||
		    p->has_preshared_key != q->has_preshared_key ||
		    (p->has_preshared_key && memcmp(p->preshared_key, q->preshared_key, 32)) ||
		    memcmp(&p->endpoint, &q->endpoint, sizeof(p->endpoint)) ||
		    p->persistent_keepalive != q->persistent_keepalive ||
		    p->n_allowed_ips != q->n_allowed_ips ||
		    !same_prefixes(p->allowed_ips, q->allowed_ips, p->n_allowed_ips))
			abort();
	}
}

static void check_invariants(const struct wg_config *c)
{
	size_t total = 0;

	if (c->n_peers > WG_MAX_PEERS || c->n_addresses > WG_MAX_ADDRESSES || c->n_dns > WG_MAX_DNS)
		abort();
	if (c->mtu && (c->mtu < 576 || c->mtu > 65535))
		abort();
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct wg_peer_config *p = &c->peers[i];

		total += p->n_allowed_ips;
		if (p->endpoint.sa.sa_family == AF_INET	   ? p->endpoint.in.sin_port == 0
		    : p->endpoint.sa.sa_family == AF_INET6 ? p->endpoint.in6.sin6_port == 0
							   : p->endpoint.sa.sa_family != 0)
			abort();
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			struct wg_prefix m = p->allowed_ips[j];

			if (m.cidr > (m.family == AF_INET ? 32u : 128u))
				abort();
			prefix_mask(&m);
			if (memcmp(&m.ip, &p->allowed_ips[j].ip, sizeof(m.ip)))
				abort(); /* host bits left */
		}
	}
	if (total > WG_MAX_ALLOWED_IPS)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_config c, back;
	uint8_t key[32];
	char s[WG_KEY_B64_LEN + 1], *text;
	size_t len;
	int r;

	if (size >= WG_KEY_B64_LEN) {
		memcpy(s, data, WG_KEY_B64_LEN);
		s[WG_KEY_B64_LEN] = '\0';
		if (wg_key_b64_decode(s, key) == 0) {
			char again[WG_KEY_B64_LEN + 1];

			wg_key_b64_encode(key, again);
			if (strcmp(s, again))
				abort();
		}
	}

	err_clear();
	r = wgconf_parse((const char *)data, size, "fuzz.conf", &c);
	if (r < 0) {
		const char *m = err_message(r);

		if ((r != -EINVAL && r != -ENOMEM) || !startswith(m, "fuzz.conf:") ||
		    strchr(m, '\n'))
			abort();
		return 0;
	}
	check_invariants(&c);
	text = write_back(&c, &len);
	if (len <= WGCONF_MAX_SIZE) { /* one item a line can outgrow the input's limit */
		if (wgconf_parse(text, len, "back.conf", &back) < 0)
			abort();
		check_same(&c, &back);
		wg_config_free(&back);
	}
	free(text);
	wg_config_free(&c);
	return 0;
}
