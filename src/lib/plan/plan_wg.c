/* plan_wg.c: the plan's WireGuard part: the peers that infix wg multiaddrs in --allow
 * declare, merged into the tunnel's configuration, and every allowed endpoint checked to lie
 * inside a peer's AllowedIPs. */
#include "log.h"
#include "plan.h"
#include <arpa/inet.h>
#include <stdio.h>

static bool prefix_covers(const struct wg_prefix *pf, const struct endpoint *e)
{
	const uint8_t *a = (const uint8_t *)&pf->ip, *b = (const uint8_t *)&e->ip;
	unsigned bits = pf->cidr;

	if (pf->family != e->family)
		return false;
	for (unsigned i = 0; bits > 0; i++, bits = bits > 8 ? bits - 8 : 0) {
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		if ((a[i] & mask) != (b[i] & mask))
			return false;
	}
	return true;
}

static const struct wg_peer_config *wg_find_peer(const struct wg_config *wg, const uint8_t *key)
{
	for (size_t i = 0; i < wg->n_peers; i++)
		if (!memcmp(wg->peers[i].public_key, key, WG_KEY_LEN))
			return &wg->peers[i];
	return NULL;
}

static int push_allowed_ip(struct wg_peer_config *peer, const struct endpoint *e)
{
	struct wg_prefix *v;

	for (size_t i = 0; i < peer->n_allowed_ips; i++)
		if (prefix_covers(&peer->allowed_ips[i], e))
			return 0;
	v = realloc(peer->allowed_ips, (peer->n_allowed_ips + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	peer->allowed_ips = v;
	v[peer->n_allowed_ips] =
	    (struct wg_prefix){.family = e->family, .cidr = e->family == AF_INET ? 32 : 128};
	memcpy(&v[peer->n_allowed_ips].ip, &e->ip, sizeof(v->ip));
	peer->n_allowed_ips++;
	return 0;
}

int plan_wg_merge_allow(struct wg_config *wg, const struct endpoint *allow, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct endpoint *e = &allow[i];
		struct wg_peer_config *peer = (struct wg_peer_config *)wg_find_peer(wg, e->wg_key);
		int r;

		if (!e->has_wg || !e->has_bearer)
			continue;
		if (!peer) {
			struct wg_peer_config *v =
			    realloc(wg->peers, (wg->n_peers + 1) * sizeof(*v));

			if (!v)
				return -ENOMEM;
			wg->peers = v;
			peer = &v[wg->n_peers++];
			memset(peer, 0, sizeof(*peer));
			memcpy(peer->public_key, e->wg_key, WG_KEY_LEN);
		}
		if (!peer->endpoint.sa.sa_family) {
			if (e->bearer.family == AF_INET) {
				peer->endpoint.in.sin_family = AF_INET;
				peer->endpoint.in.sin_port = htons(e->bearer.port);
				memcpy(&peer->endpoint.in.sin_addr, &e->bearer.ip, 4);
			} else {
				peer->endpoint.in6.sin6_family = AF_INET6;
				peer->endpoint.in6.sin6_port = htons(e->bearer.port);
				memcpy(&peer->endpoint.in6.sin6_addr, &e->bearer.ip, 16);
			}
		}
		r = push_allowed_ip(peer, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Every endpoint declared with /wg/u<key> must name a peer of the tunnel, and lie inside
 * what that peer carries: checked before anything is made. */
int plan_wg_check_allowed(const struct plan *p, const struct wg_config *wg)
{
	for (size_t i = 0; i < p->n_allowed; i++) {
		const struct endpoint *e = &p->allowed[i].ep;
		const struct wg_peer_config *peer;
		char ep[ADDR_STR_MAX + 64], want[WG_KEY_B64_LEN + 1];
		bool inside = false;

		if (!e->has_wg)
			continue;
		addr_format(e, ep, sizeof(ep));
		wg_key_b64_encode(e->wg_key, want);
		peer = wg_find_peer(wg, e->wg_key);
		if (!peer) {
			_cleanup_text_ struct text peers = TEXT_INIT;

			for (size_t k = 0; k < wg->n_peers; k++) {
				char b64[WG_KEY_B64_LEN + 1];

				wg_key_b64_encode(wg->peers[k].public_key, b64);
				text_printf(&peers, "%s%s", k ? ", " : "", b64);
			}
			if (text_error(&peers) < 0)
				return -ENOMEM;
			return err_invalid("allow %s: WireGuard key %s is not a peer of the tunnel "
					   "(its peers: %s)",
					   ep, want, wg->n_peers ? text_str(&peers) : "none");
		}
		for (size_t k = 0; k < peer->n_allowed_ips && !inside; k++)
			inside = prefix_covers(&peer->allowed_ips[k], e);
		if (!inside)
			return err_invalid("allow %s: not inside the AllowedIPs of peer %s, so the "
					   "tunnel would not carry it",
					   ep, want);
	}
	return 0;
}
