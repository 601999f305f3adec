/* plan.c: turns a validated policy and the facts about the host into everything a run will
 * create: names, the per-cage subnet, the allowed endpoints, the environment, the layers.
 * Pure: no kernel, no filesystem; `sluice check` prints the very structure that cage.c
 * applies (plan_render.c), its WireGuard part is plan_wg.c. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>

#include "log.h"
#include "plan.h"

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
	/* Passed: the caller's value, which is on no command line (the caller's environment
	 * is this process's, or a child cage's asker's). */
	for (char **name = pol->env_pass; name && *name && r == 0; name++) {
		size_t len = strlen(*name);
		const char *v = NULL;

		for (char *const *e = environ_in; e && *e && !v; e++)
			if (strncmp(*e, *name, len) == 0 && (*e)[len] == '=')
				v = *e + len + 1;
		if (!v)
			return err_invalid("--env %s: %s is not set here, so there is no value to "
					   "pass", *name, *name);
		r = env_add(env, &n, *name, v);
	}
	if (r < 0)
		return err_set(r, "environment");
	*ret = TAKE_PTR(env);
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

/* Whether ip (of family) is one of the cage's own addresses on its link. */
static bool cage_has_addr(const struct plan *p, const struct wg_config *wg, int family,
			  const void *ip)
{
	size_t n = family == AF_INET ? 4 : 16;

	if (p->link == LINK_VETH)
		return family == AF_INET ? !memcmp(ip, &p->cage_v4, n)
					 : p->ipv6 && !memcmp(ip, &p->cage_v6, n);
	for (size_t i = 0; wg && i < wg->n_addresses; i++)
		if (wg->addresses[i].family == family && !memcmp(ip, &wg->addresses[i].ip, n))
			return true;
	return false;
}

/* The listen rules, checked against the cage's link: each address one of the cage's, a
 * /wg/u<key> the cage's own key; a port alone becomes one rule per address of the link. */
static int plan_listens(struct plan *p, const struct policy *pol, const struct wg_config *wg)
{
	char a[ADDR_STR_MAX];

	p->listens = calloc(pol->n_listen * (wg ? wg->n_addresses + 2 : 2) + 1,
			    sizeof(*p->listens));
	if (!p->listens)
		return -ENOMEM;
	for (size_t i = 0; i < pol->n_listen; i++) {
		const struct listen_rule *l = &pol->listen[i];

		if (l->ep.has_wg) {
			uint8_t own[WG_KEY_LEN];
			char k[WG_KEY_B64_LEN + 1];

			if (p->link != LINK_WIREGUARD)
				return err_invalid("listen %s: a /wg/ key, but the cage's link is "
						   "not wireguard",
						   addr_format(&l->ep, a, sizeof(a)));
			if (wg_public_key(own, wg->private_key) < 0 ||
			    memcmp(own, l->ep.wg_key, WG_KEY_LEN) != 0) {
				wg_key_b64_encode(own, k);
				return err_invalid("listen %s: the /wg/ key is not the cage's own "
						   "(its tunnel's public key is %s)",
						   addr_format(&l->ep, a, sizeof(a)), k);
			}
		}
		if (l->ep.family) {
			if (!cage_has_addr(p, wg, l->ep.family, &l->ep.ip))
				return err_invalid(
				    "listen %s: not an address of the cage's link%s",
				    addr_format(&l->ep, a, sizeof(a)),
				    p->link == LINK_VETH && l->ep.family == AF_INET6 && !p->ipv6
					? " (it has no IPv6: no allowed endpoint is IPv6)"
					: "");
			p->listens[p->n_listens++] = *l;
			continue;
		}
		/* A port alone: every address of the link, of the sources' family if they
		 * have one. */
		for (int k = 0; k < 2; k++) {
			int family = k ? AF_INET6 : AF_INET;
			size_t n = p->link == LINK_VETH ? 1 : wg ? wg->n_addresses : 0;

			for (size_t j = 0; j < n; j++) {
				struct listen_rule one = *l;
				bool fits = true;

				if (p->link == LINK_VETH) {
					if (family == AF_INET6 && !p->ipv6)
						continue;
					if (family == AF_INET)
						one.ep.ip.v4 = p->cage_v4;
					else
						one.ep.ip.v6 = p->cage_v6;
				} else {
					if (wg->addresses[j].family != family)
						continue;
					memcpy(&one.ep.ip, &wg->addresses[j].ip, sizeof(one.ep.ip));
				}
				one.ep.family = family;
				for (size_t s = 0; s < l->n_from; s++)
					fits &= l->from[s].family == family;
				if (fits)
					p->listens[p->n_listens++] = one;
			}
		}
	}
	return 0;
}

int plan_build(const struct policy *pol, const struct host_facts *facts, char *const *argv,
	       char *const *environ_in, const struct identity *id, struct plan *ret)
{
	_cleanup_(plan_freep) struct plan p = {0};
	struct in_addr net;
	size_t argc = 0;
	int r;

	snprintf(p.name, sizeof(p.name), "%s", pol->name);
	p.link = pol->link;
	p.nest = pol->nest;
	p.quiet = pol->quiet;
	p.check_targets = pol->check_targets;
	if ((pol->audit && !(p.audit = strdup(pol->audit))) ||
	    (pol->learn && !(p.learn = strdup(pol->learn))))
		return -ENOMEM;
	if (pol->learn) {
		struct profile_parts parts = {TEXT_INIT, TEXT_INIT, TEXT_INIT, TEXT_INIT};
		bool failed;

		policy_render_profile(pol, &parts);
		failed = text_error(&parts.head) || text_error(&parts.allow) ||
			 text_error(&parts.forward) || text_error(&parts.dns);
		p.learn_head = TAKE_PTR(parts.head.buf);
		p.learn_allow = TAKE_PTR(parts.allow.buf);
		p.learn_forward = TAKE_PTR(parts.forward.buf);
		p.learn_dns = TAKE_PTR(parts.dns.buf);
		if (failed)
			return -ENOMEM;
	}
	p.nest_mnt_fd = p.nest_lifeline_fd = -1;
	p.userns = facts->unprivileged;
	if (p.userns && p.link != LINK_NONE)
		return err_invalid("link %s needs root (CAP_NET_ADMIN in this host's network "
				   "namespace, to make the %s): run with sudo, or use link none "
				   "with forwards, which works without",
				   p.link == LINK_VETH ? "veth" : "wireguard",
				   p.link == LINK_VETH ? "pair and its rules" : "tunnel");
	p.listen_fds = facts->listen_fds;
	if (facts->listen_names && !(p.listen_names = strdup(facts->listen_names)))
		return -ENOMEM;
	if (!p.userns && facts->delegated[0])
		snprintf(p.cgroup, sizeof(p.cgroup), "%s/sluice/%s", facts->delegated, p.name);
	else if (!p.userns)
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
	if (!p.allowed || !p.forwards || !p.dns || !p.unix_allow)
		return -ENOMEM;
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
		if (proxy_auth_dup(pol->proxy_auth, &p.proxy_auth) < 0)
			return -ENOMEM;
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
		r = plan_wg_check_allowed(&p, facts->wg);
		if (r < 0)
			return r;
	}
	/* Replies from beyond the host are forwarded back in on the uplink, which only the
	 * host-wide switch allows; sluice does not turn routing on for a whole host. Said here,
	 * before anything is made (and by check). */
	if (p.link == LINK_VETH && p.masquerade && facts->ip_forward_off)
		return err_invalid("an allowed endpoint is off this host, and reaching it needs "
				   "IPv4 forwarding (sysctl net.ipv4.ip_forward=1), which is off; "
				   "sluice does not turn it on for the host");
	for (size_t i = 0; i < pol->n_forward; i++)
		p.forwards[p.n_forwards++] = pol->forward[i];
	if (pol->n_publish) {
		p.publish = calloc(pol->n_publish, sizeof(*p.publish));
		if (!p.publish)
			return -ENOMEM;
		memcpy(p.publish, pol->publish, pol->n_publish * sizeof(*p.publish));
		p.n_publish = pol->n_publish;
	}
	r = plan_listens(&p, pol, p.link == LINK_WIREGUARD ? facts->wg : NULL);
	if (r < 0)
		return r;
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
	if (r < 0)
		return r;

	while (argv && argv[argc])
		argc++;
	p.argv = calloc(argc + 1, sizeof(char *));
	if (!p.argv)
		return -ENOMEM;
	for (size_t i = 0; i < argc; i++)
		if (!(p.argv[i] = strdup(argv[i])))
			return -ENOMEM;

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
	if (r == 0 && pol->env_pass) {
		size_t k = 0;

		while (pol->env_pass[k])
			k++;
		p.env_passed = calloc(k + 1, sizeof(char *));
		for (size_t i = 0; p.env_passed && i < k; i++)
			if (!(p.env_passed[i] = strdup(pol->env_pass[i])))
				r = -ENOMEM;
		if (!p.env_passed)
			r = -ENOMEM;
	}
	if (r < 0)
		return r;
	*ret = TAKE_STRUCT(p);
	return 0;
}

void plan_free(struct plan *p)
{
	free(p->allowed);
	free(p->forwards);
	free(p->publish);
	free(p->listens);
	free(p->dns);
	free(p->unix_allow);
	free(p->listen_names);
	proxy_auth_free(p->proxy_auth);
	wg_config_free(&p->wg);
	strv_free(p->argv);
	strv_free(p->env);
	strv_free(p->env_passed);
	free(p->user);
	free(p->groups);
	free(p->audit);
	free(p->learn);
	free(p->learn_head);
	free(p->learn_allow);
	free(p->learn_forward);
	free(p->learn_dns);
	memset(p, 0, sizeof(*p));
}

void host_facts_free(struct host_facts *f)
{
	free(f->taken);
	free(f->local);
	for (size_t i = 0; i < f->n_live_names; i++)
		free(f->live_names[i]);
	free(f->live_names);
	free(f->listen_names);
	memset(f, 0, sizeof(*f));
}
