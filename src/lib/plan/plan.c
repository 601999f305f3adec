/* plan.c: turns a validated policy and the facts about the host into everything a run will
 * create: names, the per-cage subnet, the allowed endpoints, the environment. Pure: no
 * kernel, no filesystem; `sluice check` prints the very structure that cage.c applies. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>

#include "bpf.h"
#include "log.h"
#include "nft.h"
#include "plan.h"
#include "sysfilter.h"
#include "unixguard.h"

#define ENV_MAX 1024

/* FNV-1a, 64 bit: small, stable across builds and machines, good enough to spread names. */
static uint64_t name_hash(const char *name, uint64_t salt)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ salt;

	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		h ^= *c;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static bool v4_overlaps(uint32_t a, unsigned alen, uint32_t b, unsigned blen)
{
	unsigned len = alen < blen ? alen : blen;
	uint32_t mask = len ? htonl(~0U << (32 - len)) : 0;

	return (a & mask) == (b & mask);
}

int plan_subnet(const char *name, const struct pool *pool, const struct prefix *taken,
		size_t n_taken, struct in_addr *ret)
{
	uint32_t slots, start;

	if (pool->len < 8 || pool->len > 30)
		return -EINVAL;
	slots = 1U << (30 - pool->len);
	start = (uint32_t)(name_hash(name, 0) % slots);

	/* Probe linearly from the name's slot: the same name lands on the same /30 for as long
	 * as nothing else claims it, and a collision moves it to the next free one. */
	for (uint32_t i = 0; i < slots; i++) {
		uint32_t slot = (start + i) % slots;
		uint32_t cand = htonl(ntohl(pool->base.s_addr) + slot * 4);
		bool clash = false;

		for (size_t t = 0; t < n_taken && !clash; t++) {
			if (taken[t].family != AF_INET || taken[t].len == 0)
				continue;
			clash = v4_overlaps(cand, 30, taken[t].ip.v4.s_addr, taken[t].len);
		}
		if (!clash) {
			ret->s_addr = cand;
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}

void plan_subnet6(const char *name, struct in6_addr *ret)
{
	uint64_t h = name_hash(name, 6);

	/* A ULA /64 (RFC 4193): fd00::/8 plus 56 bits from the name. */
	memset(ret, 0, sizeof(*ret));
	ret->s6_addr[0] = 0xfd;
	for (int i = 1; i < 8; i++)
		ret->s6_addr[i] = (uint8_t)(h >> (8 * (i - 1)));
}

void plan_host_ifname(const char *name, uint32_t nonce, char ret[IFNAMSIZ])
{
	snprintf(ret, IFNAMSIZ, "sl-%08x", (uint32_t)name_hash(name, 0x5e00000000ULL | nonce));
}

/* "sluice_" + up to 15 characters of the name + "_" + the host link's hash: the run's own (a
 * table of an earlier run of this cage may still be going away, see cage.c) and unique
 * however long the names are. */
void plan_host_table(const char *name, const char *host_if, char ret[PLAN_TABLE_MAX])
{
	snprintf(ret, PLAN_TABLE_MAX, "sluice_%.15s_%s", name,
		 startswith(host_if, "sl-") ? host_if + 3 : host_if);
	for (size_t i = 7; ret[i] && i < 7 + 15; i++)
		if (!isalnum((unsigned char)ret[i]))
			ret[i] = '_';
}

/* Whether s is n lowercase hex digits and nothing more. */
static bool is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

bool plan_is_host_ifname(const char *s)
{
	return startswith(s, "sl-") && is_hex(s + 3, 8);
}

bool plan_is_wg_ifname(const char *s)
{
	return startswith(s, "sw-") && is_hex(s + 3, 8);
}

bool plan_is_host_table(const char *s)
{
	size_t n = strlen(s);

	/* "sluice_" + 1 to 15 of [A-Za-z0-9_] + "_" + 8 hex digits */
	if (!startswith(s, "sluice_") || n < 7 + 1 + 9 || n > 7 + 15 + 9 || s[n - 9] != '_' ||
	    !is_hex(s + n - 8, 8))
		return false;
	for (size_t i = 7; i < n - 9; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

static bool name_live(const char *name, char *const *live, size_t n_live)
{
	for (size_t i = 0; i < n_live; i++)
		if (streq(live[i], name))
			return true;
	return false;
}

int plan_default_name(const char *argv0, char *const *live, size_t n_live, char *ret, size_t len)
{
	char base[CAGE_NAME_MAX - 4] = "";
	const char *b = strrchr(argv0, '/');
	size_t n = 0;

	b = b ? b + 1 : argv0;
	for (; *b && n < sizeof(base) - 1; b++) {
		unsigned char c = (unsigned char)*b;

		if (isalnum(c) || c == '_' || c == '.' || c == '-')
			base[n++] = (char)tolower(c);
	}
	base[n] = '\0';
	if (n == 0 || !isalnum((unsigned char)base[0]))
		snprintf(base, sizeof(base), "cage");

	snprintf(ret, len, "%s", base);
	for (unsigned i = 2; name_live(ret, live, n_live); i++) {
		if (i > 9999)
			return -EADDRINUSE;
		snprintf(ret, len, "%s-%u", base, i);
	}
	return 0;
}

static bool is_local(const struct host_facts *f, const struct endpoint *e)
{
	for (size_t i = 0; i < f->n_local; i++) {
		const struct prefix *l = &f->local[i];

		if (l->family != e->family)
			continue;
		if (e->family == AF_INET && l->ip.v4.s_addr == e->ip.v4.s_addr)
			return true;
		if (e->family == AF_INET6 && !memcmp(&l->ip.v6, &e->ip.v6, sizeof(e->ip.v6)))
			return true;
	}
	return false;
}

static int env_add(char **env, size_t *n, const char *k, const char *v)
{
	size_t klen = strlen(k);
	char *entry;

	if (asprintf(&entry, "%s=%s", k, v) < 0)
		return -ENOMEM;
	/* Later entries win: replace an earlier one with the same key. */
	for (size_t i = 0; i < *n; i++) {
		if (!strncmp(env[i], k, klen) && env[i][klen] == '=') {
			free(env[i]);
			env[i] = entry;
			return 0;
		}
	}
	if (*n + 1 >= ENV_MAX) {
		free(entry);
		return -E2BIG;
	}
	env[(*n)++] = entry;
	env[*n] = NULL;
	return 0;
}

static bool env_passes(const char *kv)
{
	static const char *const keep[] = {"PATH=", "TERM=", "LANG=", "LC_", "TZ=", "COLORTERM="};

	for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
		if (startswith(kv, keep[i]))
			return true;
	return false;
}

static int plan_env(const struct policy *pol, char *const *environ_in, const struct identity *id,
		    const struct plan *p, char ***ret)
{
	_cleanup_strv_free_ char **env = calloc(ENV_MAX, sizeof(char *));
	size_t n = 0;
	bool has_path = false;
	int r = 0;

	if (!env)
		return -ENOMEM;
	for (char *const *e = environ_in; e && *e && r == 0; e++) {
		const char *eq = strchr(*e, '=');

		if (!eq || !env_passes(*e))
			continue;
		_cleanup_free_ char *k = strndup(*e, (size_t)(eq - *e));
		if (!k)
			return -ENOMEM;
		has_path |= streq(k, "PATH");
		r = env_add(env, &n, k, eq + 1);
	}
	if (r == 0 && !has_path)
		r = env_add(env, &n, "PATH",
			    "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin");
	if (r == 0 && id->home)
		r = env_add(env, &n, "HOME", id->home);
	if (r == 0 && id->user)
		r = env_add(env, &n, "USER", id->user);
	if (r == 0 && id->user)
		r = env_add(env, &n, "LOGNAME", id->user);
	if (r == 0 && id->shell)
		r = env_add(env, &n, "SHELL", id->shell);
	if (r == 0 && p->proxy_url[0]) {
		static const char *const vars[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
						   "HTTPS_PROXY", "all_proxy",	"ALL_PROXY"};

		for (size_t i = 0; i < ARRAY_SIZE(vars) && r == 0; i++)
			r = env_add(env, &n, vars[i], p->proxy_url);
		if (r == 0)
			r = env_add(env, &n, "no_proxy", "localhost,127.0.0.1,::1");
		if (r == 0)
			r = env_add(env, &n, "NO_PROXY", "localhost,127.0.0.1,::1");
	}
	if (r == 0)
		r = env_add(env, &n, "SLUICE_CAGE", p->name);
	for (char **e = pol->env; e && *e && r == 0; e++) {
		const char *eq = strchr(*e, '=');
		_cleanup_free_ char *k = strndup(*e, (size_t)(eq - *e));

		if (!k)
			return -ENOMEM;
		r = env_add(env, &n, k, eq + 1);
	}
	if (r < 0)
		return err_set(r, "environment");
	*ret = TAKE_PTR(env);
	return 0;
}

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
static int check_wg_allowed(const struct plan *p, const struct wg_config *wg)
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

static int add_allowed(struct plan *p, const struct host_facts *f, const struct endpoint *e,
		       bool is_proxy)
{
	for (size_t i = 0; i < p->n_allowed; i++)
		if (addr_equal(&p->allowed[i].ep, e))
			return 0;
	p->allowed[p->n_allowed] = (struct allowed){
	    .ep = *e,
	    .on_host = is_local(f, e),
	    .is_proxy = is_proxy,
	};
	p->masquerade |= !p->allowed[p->n_allowed].on_host;
	p->ipv6 |= e->family == AF_INET6;
	p->n_allowed++;
	return 0;
}

/* Who judges the cage's pathname unix sockets, and what backs that in the kernel; strict
 * refuses to start without both. */
static int plan_unix(struct plan *p, const struct host_facts *facts)
{
	p->unix_broker = facts->unotify;
	if (facts->unix_hooks)
		p->unix_backstop = UNIX_BACKSTOP_HOOKS;
	else if (facts->landlock_abi >= 9)
		p->unix_backstop = UNIX_BACKSTOP_LANDLOCK;
	else
		p->unix_backstop = UNIX_BACKSTOP_NONE;
	p->filter.notify = p->unix_broker;
	if (p->unix_mode != UNIX_STRICT)
		return 0;
	if (!p->unix_broker)
		return err_invalid("unix: strict, but this kernel cannot hand a caged process's "
				   "connect and send calls to the supervisor (seccomp user "
				   "notification and pidfd_getfd, Linux 5.6+)");
	if (p->unix_backstop == UNIX_BACKSTOP_NONE)
		return err_invalid(
		    "unix: strict needs the kernel to refuse pathname unix sockets to "
		    "the cage on its own as well: the cgroup unix socket hooks (root, "
		    "Linux 6.7+) or Landlock ABI 9 (Linux 7.1; this kernel: ABI %d)%s",
		    facts->landlock_abi, facts->unprivileged ? "; this run has no root" : "");
	return 0;
}

int plan_build(const struct policy *pol, const struct host_facts *facts, char *const *argv,
	       char *const *environ_in, const struct identity *id, struct plan *ret)
{
	struct plan p = {0};
	struct in_addr net;
	size_t argc = 0;
	int r;

	snprintf(p.name, sizeof(p.name), "%s", pol->name);
	p.link = pol->link;
	p.userns = facts->unprivileged;
	if (p.userns && p.link != LINK_NONE)
		return err_invalid("link %s needs root (CAP_NET_ADMIN in this host's network "
				   "namespace, to make the %s): run with sudo, or use link none "
				   "with forwards, which works without",
				   p.link == LINK_VETH ? "veth" : "wireguard",
				   p.link == LINK_VETH ? "pair and its rules" : "tunnel");
	if (!p.userns)
		snprintf(p.cgroup, sizeof(p.cgroup), "sluice/%s", p.name);
	snprintf(p.cage_table, sizeof(p.cage_table), "sluice");

	if (p.link == LINK_WIREGUARD) {
		if (!facts->wg)
			return err_invalid("link wireguard: no tunnel configuration loaded");
		snprintf(p.cage_if, sizeof(p.cage_if), "wg0");
		snprintf(p.wg_if, sizeof(p.wg_if), "sw-%08x",
			 (uint32_t)name_hash(p.name, 0x7700000000ULL | facts->nonce));
		p.wg_backend = pol->wg_backend;
		if (p.wg_backend == WG_BACKEND_AUTO)
			p.wg_backend = facts->wg_kernel ? WG_BACKEND_KERNEL : WG_BACKEND_USERSPACE;
		for (size_t i = 0; i < facts->wg->n_addresses; i++)
			p.ipv6 |= facts->wg->addresses[i].family == AF_INET6;
	}
	if (p.link == LINK_VETH) {
		plan_host_ifname(p.name, facts->nonce, p.host_if);
		snprintf(p.cage_if, sizeof(p.cage_if), "eth0");
		plan_host_table(p.name, p.host_if, p.host_table);

		r = plan_subnet(p.name, &pol->pool, facts->taken, facts->n_taken, &net);
		if (r < 0) {
			char pool[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &pol->pool.base, pool, sizeof(pool));
			return err_invalid("no free /30 left in the subnet pool %s/%u for cage "
					   "\"%s\"",
					   pool, pol->pool.len, p.name);
		}
		p.host_v4.s_addr = htonl(ntohl(net.s_addr) + 1);
		p.cage_v4.s_addr = htonl(ntohl(net.s_addr) + 2);
		p.v4_prefix = 30;
		plan_subnet6(p.name, &p.host_v6);
		p.cage_v6 = p.host_v6;
		p.host_v6.s6_addr[15] = 1;
		p.cage_v6.s6_addr[15] = 2;
		p.v6_prefix = 64;
	}

	p.allowed = calloc(pol->n_allow + 1, sizeof(*p.allowed));
	p.forwards = calloc(pol->n_forward + 1, sizeof(*p.forwards));
	p.dns = calloc(pol->n_dns + 2, sizeof(*p.dns));
	p.unix_allow = calloc(pol->n_allow_unix + 1, sizeof(*p.unix_allow));
	if (!p.allowed || !p.forwards || !p.dns || !p.unix_allow) {
		plan_free(&p);
		return -ENOMEM;
	}
	if (pol->has_proxy) {
		struct endpoint in_cage = pol->proxy;
		bool fwd = pol->n_forward && pol->forward[0].is_proxy;

		/* A forwarded proxy is reached at its forward's listener; otherwise by routing. */
		if (fwd) {
			in_cage.family = pol->forward[0].listen.family;
			in_cage.ip = pol->forward[0].listen.ip;
		} else {
			add_allowed(&p, facts, &pol->proxy, true);
		}
		addr_format_url(&in_cage, p.proxy_url, sizeof(p.proxy_url));
		snprintf(p.dns[0].name, sizeof(p.dns[0].name), "proxy.internal");
		p.dns[0].family = in_cage.family;
		memcpy(&p.dns[0].ip, &in_cage.ip, sizeof(p.dns[0].ip));
		p.n_dns = 1;
	}
	for (size_t i = 0; i < pol->n_allow; i++)
		add_allowed(&p, facts, &pol->allow[i], false);
	if (p.link == LINK_WIREGUARD) {
		/* beyond the tunnel: nothing is masqueraded on this host */
		p.masquerade = false;
		r = check_wg_allowed(&p, facts->wg);
		if (r < 0) {
			plan_free(&p);
			return r;
		}
	}
	/* Replies from beyond the host are forwarded back in on the uplink, which only the
	 * host-wide switch allows; sluice does not turn routing on for a whole host. Said here,
	 * before anything is made (and by check). */
	if (p.link == LINK_VETH && p.masquerade && facts->ip_forward_off) {
		plan_free(&p);
		return err_invalid("an allowed endpoint is off this host, and reaching it needs "
				   "IPv4 forwarding (sysctl net.ipv4.ip_forward=1), which is off; "
				   "sluice does not turn it on for the host");
	}
	for (size_t i = 0; i < pol->n_forward; i++)
		p.forwards[p.n_forwards++] = pol->forward[i];
	/* IPv6 off where nothing needs it: "default" covers the link that arrives later; "all"
	 * would take ::1 from lo too, which a [::1] forward needs. With no link at all, IPv6 on
	 * lo goes nowhere and stays, as /etc/hosts' ::1 localhost expects. glibc's getaddrinfo()
	 * with AI_ADDRCONFIG (Node's default) returns no IPv4 address at all on a host whose only
	 * one is 127.0.0.1, so a link-none cage gets a second loopback address, which adds no
	 * way out. */
	p.v6_off_default = !p.ipv6 && p.link != LINK_NONE;
	p.v6_off_all = p.v6_off_default;
	for (size_t i = 0; i < p.n_forwards; i++)
		p.v6_off_all &= p.forwards[i].listen.family != AF_INET6;
	p.lo_v4_second = p.link == LINK_NONE;
	for (size_t i = 0; i < pol->n_dns; i++)
		p.dns[p.n_dns++] = pol->dns[i];
	for (size_t i = 0; i < pol->n_allow_unix; i++)
		p.unix_allow[p.n_unix_allow++] = pol->allow_unix[i];
	p.unix_mode = pol->unix_mode;
	p.filter.mode = pol->seccomp_mode;
	r = plan_unix(&p, facts);
	if (r < 0) {
		plan_free(&p);
		return r;
	}

	while (argv && argv[argc])
		argc++;
	p.argv = calloc(argc + 1, sizeof(char *));
	if (!p.argv) {
		plan_free(&p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < argc; i++)
		if (!(p.argv[i] = strdup(argv[i]))) {
			plan_free(&p);
			return -ENOMEM;
		}

	p.uid = id->uid;
	p.gid = id->gid;
	p.user = strdup(id->user ? id->user : "");
	if (p.user && id->n_groups) {
		p.groups = calloc(id->n_groups, sizeof(*p.groups));
		if (p.groups) {
			memcpy(p.groups, id->groups, id->n_groups * sizeof(*p.groups));
			p.n_groups = id->n_groups;
		}
	}
	r = p.user && (p.groups || !id->n_groups) ? plan_env(pol, environ_in, id, &p, &p.env)
						  : -ENOMEM;
	if (r < 0) {
		plan_free(&p);
		return r;
	}
	*ret = p;
	return 0;
}

void plan_free(struct plan *p)
{
	free(p->allowed);
	free(p->forwards);
	free(p->dns);
	free(p->unix_allow);
	wg_config_free(&p->wg);
	strv_free(p->argv);
	strv_free(p->env);
	free(p->user);
	free(p->groups);
	memset(p, 0, sizeof(*p));
}

void host_facts_free(struct host_facts *f)
{
	free(f->taken);
	free(f->local);
	for (size_t i = 0; i < f->n_live_names; i++)
		free(f->live_names[i]);
	free(f->live_names);
	memset(f, 0, sizeof(*f));
}

static const char *forward_target(const struct forward *fw, char *buf, size_t len)
{
	char a[ADDR_STR_MAX];

	if (fw->kind == TARGET_UNIX)
		snprintf(buf, len, "unix:%s", fw->path);
	else if (fw->target.scheme != SCHEME_NONE)
		snprintf(buf, len, "%s%s", addr_format_url(&fw->target, a, sizeof(a)),
			 fw->isolate_streams ? " (SOCKS5, fresh credentials per connection)" : "");
	else
		snprintf(buf, len, "%s", addr_format(&fw->target, a, sizeof(a)));
	return buf;
}

/* The hooks a resident object attaches, by the names it attaches them under. */
static void hook_names(struct text *f, const struct bpf_resident *r)
{
	for (size_t i = 0; i < r->n_hooks; i++)
		text_printf(f, "%s%s",
			    i ? (i + 1 == r->n_hooks && r->n_hooks == 2 ? " and " : " ") : " ",
			    r->hooks[i].name);
}

void plan_render_layers(const struct plan *p, struct text *f, const char *indent)
{
	if (p->link == LINK_VETH)
		text_printf(f, "%stopology: lo + one veth, one route (via the host side)\n",
			    indent);
	else if (p->link == LINK_WIREGUARD)
		text_printf(f,
			    "%stopology: lo + one WireGuard tunnel whose encrypted UDP stays "
			    "outside; routes only to its peers' AllowedIPs\n",
			    indent);
	else
		text_printf(f,
			    "%stopology: lo only, no route out; forwards and DNS served from "
			    "outside\n",
			    indent);
	if (p->link == LINK_VETH)
		text_printf(f, "%snftables: table inet %s in the cage, table inet %s on the host\n",
			    indent, p->cage_table, p->host_table);
	else
		text_printf(f, "%snftables: table inet %s in the cage\n", indent, p->cage_table);
	if (p->userns)
		text_printf(f,
			    "%seBPF: off: cgroup hooks need root (CAP_BPF, CAP_NET_ADMIN and a "
			    "cgroup of its own), which this run does not have; topology and "
			    "nftables hold without them\n",
			    indent);
	else {
		text_printf(f, "%seBPF: cgroup", indent);
		hook_names(f, &bpf_sock_resident);
		text_printf(f, " hooks, EPERM for all but loopback and the allowed endpoints\n");
	}
	text_printf(f,
		    "%sunix: /run, /var/run, /tmp and the runtime dir are the cage's own, with the "
		    "%zu allowed socket(s) bound in\n",
		    indent, p->n_unix_allow);
	if (p->unix_broker)
		text_printf(
		    f,
		    "%sunix: a pathname socket is reached only if a process of this cage bound "
		    "it or it is allowed, judged by the socket reached (symlinks, mounts and "
		    "namespaces followed, hard links and moves not taken for the place "
		    "allowed): the supervisor gets every connect and send (seccomp user "
		    "notification); a performer, a process of the cage's user with no "
		    "capabilities, connects or sends on the caller's own socket to the file "
		    "judged; refused: EPERM\n",
		    indent);
	if (p->unix_broker && p->unix_backstop == UNIX_BACKSTOP_HOOKS) {
		text_printf(f, "%sunix: behind it, cgroup", indent);
		hook_names(f, &unixguard_resident);
		text_printf(f, " hooks refuse every pathname socket a caged process reaches by "
			       "itself; calls with nothing to judge go on in the kernel\n");
	} else if (p->unix_broker && p->unix_backstop == UNIX_BACKSTOP_LANDLOCK)
		text_printf(
		    f,
		    "%sunix: behind it, Landlock (ABI 9) refuses every pathname socket made "
		    "outside the cage to a caged process; calls with nothing to judge go on "
		    "in the kernel\n",
		    indent);
	else if (p->unix_broker)
		text_printf(f,
			    "%sunix: no in-kernel layer behind it (cgroup unix hooks need root; "
			    "Landlock ABI 9 is not here): the performers make every call the "
			    "supervisor gets, so none can be changed after the check (unix: strict "
			    "refuses to run)\n",
			    indent);
	else if (p->unix_backstop == UNIX_BACKSTOP_HOOKS)
		text_printf(
		    f,
		    "%sunix: this kernel cannot hand calls to the supervisor: the cgroup unix "
		    "hooks refuse every pathname socket, the cage's own too\n",
		    indent);
	else
		text_printf(
		    f,
		    "%sunix: not judged: this kernel cannot hand calls to the supervisor, and "
		    "there is no in-kernel layer; only the private directories hide host "
		    "sockets\n",
		    indent);
	sysfilter_render(&p->filter, f, indent);
	text_printf(f,
		    "%sprocess: no capabilities (all five sets), no_new_privs, /sys and /proc/sys "
		    "read-only%s\n",
		    indent, p->userns ? ", a user namespace mapping only the invoking user" : "");
}

void plan_render_hosts(const struct plan *p, struct text *f)
{
	char a[INET6_ADDRSTRLEN];

	text_printf(f, "# generated by sluice for cage %s\n", p->name);
	text_printf(f, "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		    p->name);
	for (size_t i = 0; i < p->n_dns; i++)
		text_printf(f, "%s\t%s\n", inet_ntop(p->dns[i].family, &p->dns[i].ip, a, sizeof(a)),
			    p->dns[i].name);
}

void plan_render_resolv(const struct plan *p, struct text *f)
{
	text_printf(f,
		    "# generated by sluice for cage %s: a stub that answers only the names the\n"
		    "# profile lists; nothing is forwarded\n"
		    "nameserver %s\noptions edns0 trust-ad\n",
		    p->name, DNS_STUB_ADDR);
}

void plan_render(const struct plan *p, struct text *f)
{
	char h4[INET_ADDRSTRLEN], c4[INET_ADDRSTRLEN], h6[INET6_ADDRSTRLEN], c6[INET6_ADDRSTRLEN];
	char ep[ADDR_STR_MAX], tg[ADDR_STR_MAX + 160];

	inet_ntop(AF_INET, &p->host_v4, h4, sizeof(h4));
	inet_ntop(AF_INET, &p->cage_v4, c4, sizeof(c4));
	inet_ntop(AF_INET6, &p->host_v6, h6, sizeof(h6));
	inet_ntop(AF_INET6, &p->cage_v6, c6, sizeof(c6));

	text_printf(f, "cage %s\n", p->name);
	if (p->userns)
		text_printf(f, "  cgroup     none (unprivileged run)\n");
	else
		text_printf(f, "  cgroup     <cgroup2>/%s\n", p->cgroup);
	text_printf(f, "  namespaces %snet mnt pid ipc uts cgroup (new)\n",
		    p->userns ? "user " : "");
	text_printf(f, "  lo         up: 127.0.0.1%s, ::1\n",
		    p->lo_v4_second
			? " and 127.0.0.2 (so that getaddrinfo's AI_ADDRCONFIG sees IPv4)"
			: "");
	if (p->link == LINK_VETH) {
		text_printf(f, "  link       veth %s (host) %s/%u <-> %s (cage) %s/%u\n",
			    p->host_if, h4, p->v4_prefix, p->cage_if, c4, p->v4_prefix);
		if (p->ipv6)
			text_printf(f, "             ipv6 %s/%u <-> %s/%u\n", h6, p->v6_prefix, c6,
				    p->v6_prefix);
		text_printf(f, "  route      default via %s dev %s (the cage's only route)\n", h4,
			    p->cage_if);
		if (p->ipv6)
			text_printf(f, "  route6     default via %s dev %s\n", h6, p->cage_if);
	} else if (p->link == LINK_WIREGUARD) {
		char a[WG_PREFIX_STR_MAX], e[WG_ENDPOINT_STR_MAX], k[WG_KEY_B64_LEN + 1];

		text_printf(
		    f,
		    "  link       wireguard %s (%s), made as %s here and moved into the cage; "
		    "its UDP socket stays here\n",
		    p->cage_if, p->wg_backend == WG_BACKEND_KERNEL ? "kernel" : "wireguard-go",
		    p->wg_if);
		for (size_t i = 0; i < p->wg.n_addresses; i++) {
			wg_prefix_format(&p->wg.addresses[i], a);
			text_printf(f, "  %-10s %s\n", i ? "" : "address", a);
		}
		for (size_t i = 0; i < p->wg.n_peers; i++) {
			const struct wg_peer_config *pe = &p->wg.peers[i];

			wg_key_b64_encode(pe->public_key, k);
			if (pe->endpoint.sa.sa_family)
				wg_endpoint_format(&pe->endpoint, e);
			else
				snprintf(e, sizeof(e), "(none)");
			text_printf(f, "  peer       %s at %s\n", k, e);
			for (size_t j = 0; j < pe->n_allowed_ips; j++) {
				wg_prefix_format(&pe->allowed_ips[j], a);
				text_printf(f, "  route      %s dev %s\n", a, p->cage_if);
			}
		}
	} else {
		text_printf(f, "  link       none: lo only\n");
		text_printf(f, "  route      none (loopback only)\n");
	}
	if (p->v6_off_default)
		text_printf(f,
			    "  ipv6       off in the cage (no allowed endpoint is IPv6): "
			    "net.ipv6.conf.default.disable_ipv6=1%s\n",
			    p->v6_off_all ? ", all.disable_ipv6=1"
					  : " (all kept: a [::1] forward)");
	if (p->link == LINK_VETH && !p->n_allowed)
		text_printf(f, "  allowed    nothing routed\n");
	for (size_t i = 0; i < p->n_allowed; i++) {
		char key[WG_KEY_B64_LEN + 1] = "";

		if (p->allowed[i].ep.has_wg)
			wg_key_b64_encode(p->allowed[i].ep.wg_key, key);
		text_printf(f, "  %-10s %s%s%s%s, %s\n", i ? "" : "allowed",
			    addr_format(&p->allowed[i].ep, ep, sizeof(ep)),
			    p->allowed[i].is_proxy ? " (proxy)" : "", key[0] ? " via peer " : "",
			    key,
			    p->link == LINK_WIREGUARD ? "through the tunnel"
			    : p->allowed[i].on_host   ? "on this host"
						      : "off-host, forwarded and masqueraded");
	}
	if (!p->n_forwards)
		text_printf(f, "  forwards   none\n");
	for (size_t i = 0; i < p->n_forwards; i++)
		text_printf(f, "  %-10s %s in the cage -> %s%s\n", i ? "" : "forwards",
			    addr_format(&p->forwards[i].listen, ep, sizeof(ep)),
			    forward_target(&p->forwards[i], tg, sizeof(tg)),
			    p->forwards[i].is_proxy ? " (proxy)" : "");
	text_printf(f, "  dns        stub at %s:%d (udp, tcp); NXDOMAIN for all but:\n",
		    DNS_STUB_ADDR, DNS_STUB_PORT);
	for (size_t i = 0; i < p->n_dns; i++)
		text_printf(f, "             %s %s\n", p->dns[i].name,
			    inet_ntop(p->dns[i].family, &p->dns[i].ip, c6, sizeof(c6)));
	if (!p->n_dns)
		text_printf(f, "             (no names)\n");
	text_printf(f, "  layers\n");
	plan_render_layers(p, f, "             ");
	if (p->user && *p->user)
		text_printf(f, "  user       %s (uid %u, gid %u)\n", p->user, (unsigned)p->uid,
			    (unsigned)p->gid);
	else
		text_printf(f, "  user       not chosen: as plain root, run needs --user root or "
			       "--user NAME\n");
	text_printf(f, "  command   ");
	for (char **a = p->argv; a && *a; a++)
		text_printf(f, " %s", *a);
	text_printf(f, "%s\n", p->argv && p->argv[0] ? "" : " (none)");
	text_printf(f, "  env\n");
	for (char **e = p->env; e && *e; e++)
		text_printf(f, "    %s\n", *e);
	text_printf(f, "\n# nftables, in the cage's netns\n");
	nft_render_cage(p, f);
	if (p->link == LINK_VETH) {
		text_printf(f, "\n# nftables, in the host's netns\n");
		nft_render_host(p, f);
	}
}

/* A JSON string: the escapes RFC 8259 requires, control characters as \u00XX. */
static void json_str(struct text *f, const char *s)
{
	text_putc(f, '"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			text_printf(f, "\\%c", c);
		else if (c == '\n')
			text_puts(f, "\\n");
		else if (c == '\t')
			text_puts(f, "\\t");
		else if (c < 0x20 || c == 0x7f)
			text_printf(f, "\\u%04x", c);
		else
			text_putc(f, (char)c);
	}
	text_putc(f, '"');
}

static void json_key(struct text *f, bool *first, const char *key)
{
	text_puts(f, *first ? "\n  " : ",\n  ");
	*first = false;
	json_str(f, key);
	text_puts(f, ": ");
}

/* The lines of a text as a JSON array, each without its leading blanks. */
static void json_lines(struct text *f, const char *s)
{
	bool first = true;

	text_putc(f, '[');
	while (s && *s) {
		const char *nl = strchrnul(s, '\n');
		char line[2048];
		size_t n = (size_t)(nl - s);

		while (n && *s == ' ')
			s++, n--;
		snprintf(line, sizeof(line), "%.*s", (int)n, s);
		text_puts(f, first ? "" : ", ");
		first = false;
		json_str(f, line);
		s = *nl ? nl + 1 : nl;
	}
	text_putc(f, ']');
}

void plan_render_json(const struct plan *p, struct text *f)
{
	static const char *const links[] = {
	    [LINK_NONE] = "none", [LINK_VETH] = "veth", [LINK_WIREGUARD] = "wireguard"};
	_cleanup_text_ struct text sub = TEXT_INIT;
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], ep[ADDR_STR_MAX], tg[ADDR_STR_MAX + 160];
	bool first = true;

	text_putc(f, '{');
	json_key(f, &first, "name");
	json_str(f, p->name);
	json_key(f, &first, "cgroup");
	if (p->userns)
		text_puts(f, "null");
	else
		json_str(f, p->cgroup);
	json_key(f, &first, "user_namespace");
	text_puts(f, p->userns ? "true" : "false");
	json_key(f, &first, "link");
	json_str(f, links[p->link]);
	if (p->link == LINK_VETH) {
		json_key(f, &first, "veth");
		text_puts(f, "{\"host_if\": ");
		json_str(f, p->host_if);
		text_puts(f, ", \"cage_if\": ");
		json_str(f, p->cage_if);
		text_printf(f, ", \"host_v4\": \"%s/%u\", \"cage_v4\": \"%s/%u\"",
			    inet_ntop(AF_INET, &p->host_v4, a, sizeof(a)), p->v4_prefix,
			    inet_ntop(AF_INET, &p->cage_v4, b, sizeof(b)), p->v4_prefix);
		if (p->ipv6)
			text_printf(f, ", \"host_v6\": \"%s/%u\", \"cage_v6\": \"%s/%u\"",
				    inet_ntop(AF_INET6, &p->host_v6, a, sizeof(a)), p->v6_prefix,
				    inet_ntop(AF_INET6, &p->cage_v6, b, sizeof(b)), p->v6_prefix);
		text_puts(f, "}");
	} else if (p->link == LINK_WIREGUARD) {
		json_key(f, &first, "wireguard");
		text_puts(f, "{\"wg_if\": ");
		json_str(f, p->wg_if);
		text_puts(f, ", \"cage_if\": ");
		json_str(f, p->cage_if);
		text_printf(f, ", \"backend\": \"%s\"}",
			    p->wg_backend == WG_BACKEND_KERNEL ? "kernel" : "wireguard-go");
	}
	json_key(f, &first, "ipv6");
	text_puts(f, p->ipv6 ? "true" : "false");
	json_key(f, &first, "allowed");
	text_putc(f, '[');
	for (size_t i = 0; i < p->n_allowed; i++) {
		text_puts(f, i ? ", {\"endpoint\": " : "{\"endpoint\": ");
		json_str(f, addr_format(&p->allowed[i].ep, ep, sizeof(ep)));
		text_printf(f, ", \"proxy\": %s, \"on_host\": %s}",
			    p->allowed[i].is_proxy ? "true" : "false",
			    p->allowed[i].on_host ? "true" : "false");
	}
	text_putc(f, ']');
	json_key(f, &first, "forwards");
	text_putc(f, '[');
	for (size_t i = 0; i < p->n_forwards; i++) {
		text_puts(f, i ? ", {\"listen\": " : "{\"listen\": ");
		json_str(f, addr_format(&p->forwards[i].listen, ep, sizeof(ep)));
		text_puts(f, ", \"target\": ");
		json_str(f, forward_target(&p->forwards[i], tg, sizeof(tg)));
		text_puts(f, "}");
	}
	text_putc(f, ']');
	json_key(f, &first, "dns");
	text_putc(f, '{');
	for (size_t i = 0; i < p->n_dns; i++) {
		text_puts(f, i ? ", " : "");
		json_str(f, p->dns[i].name);
		text_puts(f, ": ");
		json_str(f, inet_ntop(p->dns[i].family, &p->dns[i].ip, a, sizeof(a)));
	}
	text_putc(f, '}');
	json_key(f, &first, "layers");
	plan_render_layers(p, &sub, "");
	json_lines(f, text_str(&sub));
	text_free(&sub);
	json_key(f, &first, "user");
	if (p->user && *p->user) {
		text_puts(f, "{\"name\": ");
		json_str(f, p->user);
		text_printf(f, ", \"uid\": %u, \"gid\": %u}", (unsigned)p->uid, (unsigned)p->gid);
	} else {
		text_puts(f, "null");
	}
	json_key(f, &first, "command");
	text_putc(f, '[');
	for (char **v = p->argv; v && *v; v++) {
		text_puts(f, v == p->argv ? "" : ", ");
		json_str(f, *v);
	}
	text_putc(f, ']');
	json_key(f, &first, "env");
	text_putc(f, '[');
	for (char **v = p->env; v && *v; v++) {
		text_puts(f, v == p->env ? "" : ", ");
		json_str(f, *v);
	}
	text_putc(f, ']');
	json_key(f, &first, "nftables");
	text_puts(f, "{\"cage\": ");
	nft_render_cage(p, &sub);
	json_str(f, text_str(&sub));
	text_free(&sub);
	if (p->link == LINK_VETH) {
		text_puts(f, ", \"host\": ");
		nft_render_host(p, &sub);
		json_str(f, text_str(&sub));
	}
	text_puts(f, "}\n}\n");
}
