/* plan.h: everything a run will create, derived purely from a validated policy and the
 * facts gathered about the host (addresses, routes, live cages). `sluice check` prints
 * this same structure; cage.c applies it. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "addr.h"
#include "cgroup.h"
#include "policy.h"
#include "text.h"
#include "util.h"
#include "wgconf.h"

#define PLAN_TABLE_MAX 32 /* a host table's name, with its NUL */

/* An IPv4 or IPv6 prefix the host already uses (an address's subnet or a route). */
struct prefix {
	int family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} ip;
	unsigned len;
};

/* What the host already has, gathered before planning (nl.c, state.c). */
struct host_facts {
	struct prefix *taken; /* host addresses' subnets, routes (not default), live cages */
	size_t n_taken;
	struct prefix *local; /* the host's own addresses (/32 or /128 each) */
	size_t n_local;
	char **live_names; /* names of live cages */
	size_t n_live_names;
	uint32_t nonce; /* differs between runs (random bits and the pid): see plan_host_ifname */
	bool unprivileged; /* sluice runs without root: a user namespace, no cgroup, no eBPF */
	const struct wg_config *wg; /* link wireguard: the tunnel's configuration, loaded */
	bool wg_kernel;		    /* the kernel has WireGuard */
	bool unotify;	  /* seccomp user notification and pidfd_getfd: the unix broker can run */
	bool unix_hooks;  /* root, and a kernel with the cgroup unix socket hooks (6.7+) */
	int landlock_abi; /* 0: no Landlock */
	bool ip_forward_off; /* net.ipv4.ip_forward is 0 (or could not be read) */
	/* The cgroup a service manager delegated to this process (below the cgroup2 mount), or
	 * "": the cage's cgroup goes below it rather than below <cgroup2>/sluice. */
	char delegated[CGROUP_PATH_MAX - CAGE_NAME_MAX - 16];
	/* Socket activation: the sockets the service manager passed (fds 3.., LISTEN_FDS for
	 * this process), and their names (LISTEN_FDNAMES, ':'-separated; NULL if none given). */
	int listen_fds;
	char *listen_names;
};

/* What refuses a pathname unix socket to a caged process that reaches it by itself, behind
 * the supervisor's judgment (broker.h). */
enum unix_backstop {
	UNIX_BACKSTOP_NONE = 0, /* nothing: the supervisor performs every call it sees */
	UNIX_BACKSTOP_HOOKS,	/* the cgroup unix hooks (unixguard.h) */
	UNIX_BACKSTOP_LANDLOCK, /* Landlock ABI 9 (landlock.h) */
};

/* An endpoint the cage may reach, and whether it is the host itself or beyond it. */
struct allowed {
	struct endpoint ep;
	bool on_host; /* one of the host's addresses: reached by routing to the host side */
	bool is_proxy;
};

struct plan {
	char name[CAGE_NAME_MAX + 1];
	enum link_mode link;

	/* Unprivileged: a user namespace maps the invoking user to itself, and neither the
	 * cgroup nor the eBPF hooks exist (they need root); link none only. */
	bool userns;

	/* cgroup, relative to the cgroup2 mount: "sluice/<name>"; empty with userns */
	char cgroup[CGROUP_PATH_MAX];

	/* links (veth only; empty with link none) */
	char host_if[IFNAMSIZ];		  /* "sl-<8 hex>" in the host netns */
	char cage_if[IFNAMSIZ];		  /* "eth0" in the cage netns */
	struct in_addr host_v4, cage_v4;  /* a /30 from the pool */
	unsigned v4_prefix;		  /* 30 */
	bool ipv6;			  /* only if an allowed endpoint is IPv6 */
	struct in6_addr host_v6, cage_v6; /* a /64 (ULA) derived from the name */
	unsigned v6_prefix;		  /* 64 */

	struct allowed *allowed; /* proxy first, then --allow in order */
	size_t n_allowed;
	bool masquerade; /* some allowed endpoint is off-host */

	/* What the cage's first process sets in its netns before anything else runs. */
	bool v6_off_default; /* net.ipv6.conf.default.disable_ipv6=1: the link gets no IPv6 */
	bool v6_off_all;     /* net.ipv6.conf.all.disable_ipv6=1 too: no [::1] forward needs lo's */
	bool lo_v4_second;   /* 127.0.0.2/32 on lo (link none: AI_ADDRCONFIG sees IPv4 then) */

	/* link wireguard: the tunnel, made where sluice runs as wg_if and moved into the cage as
	 * cage_if ("wg0"), so its encrypted UDP socket stays outside */
	struct wg_config wg;	    /* owned (prepare moves the loaded configuration in) */
	enum wg_backend wg_backend; /* resolved: kernel or userspace */
	char wg_if[IFNAMSIZ];	    /* "sw-<8 hex>", new each run like host_if */

	/* forwards (the proxy's first, if it has one), served by the supervisor */
	struct forward *forwards;
	size_t n_forwards;
	/* services: ports the supervisor listens on here and joins to 127.0.0.1:cage_port in
	 * the cage (any link), and TCP the cage accepts on its link (veth, wireguard), each
	 * listen rule's address one of the cage's own (a port alone was made one per address) */
	struct publish *publish;
	size_t n_publish;
	struct listen_rule *listens;
	size_t n_listens;
	/* what the DNS stub answers: proxy.internal (when there is a proxy), then the policy's */
	struct dns_entry *dns;
	size_t n_dns;
	char proxy_url[ADDR_STR_MAX + 16]; /* as the cage reaches it; empty: no proxy */
	/* The proxy URL's credentials, added by the proxy's forward (never in the cage); NULL
	 * if it has none. */
	struct proxy_auth *proxy_auth;

	/* pathname unix sockets outside the cage it may reach (copied from the policy) */
	struct unix_allow *unix_allow;
	size_t n_unix_allow;
	enum unix_mode unix_mode;
	bool unix_broker; /* the supervisor judges them (seccomp user notification) */
	/* Socket activation: fds 3..3+listen_fds-1 are the service's listeners, handed to the
	 * command as its own (LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES set for it). */
	int listen_fds;
	char *listen_names;
	enum unix_backstop unix_backstop;

	/* the cage's system call filter (sysfilter.h) */
	struct sysfilter_config filter;

	/* the nftables tables, by name */
	char cage_table[32];		 /* "sluice" (family inet) in the cage netns */
	char host_table[PLAN_TABLE_MAX]; /* "sluice_<name>_<hash>" (inet) in the host netns */

	/* --nest: the cage's supervisor makes child cages on its processes' request (nest.h) */
	bool nest;
	/* A child cage, made on its parent's request: the parent's name; the parent's mount
	 * namespace, which this one's copies; and the directory its first process starts in (a
	 * path of the parent's). -1 and empty for any other cage. */
	char parent[CAGE_NAME_MAX + 1];
	unsigned depth; /* 0 for a cage made on the host; its children's 1, and so on */
	int nest_mnt_fd;
	int nest_lifeline_fd; /* the read end of a pipe the parent's supervisor holds: at its
			       * hangup the parent is gone, and so is this cage */
	char nest_cwd[4096];

	/* denials told (audit.h): lines unless quiet, JSON to audit (a path, "-": stdout),
	 * learn mode's profile written to learn, from this run's policy (policy_render_profile:
	 * its head and the items of allow, forward and dns) and what was refused */
	bool quiet;
	char *audit;
	char *learn;
	char *learn_head, *learn_allow, *learn_forward, *learn_dns;
	enum check_targets check_targets;

	/* the process */
	char **argv; /* the command, NULL-terminated */
	char **env_passed; /* names in env whose value is the caller's: check does not show it */
	char **env;  /* full environment for the command, NULL-terminated */
	uid_t uid;
	gid_t gid;
	char *user;    /* name, for display */
	gid_t *groups; /* supplementary groups, resolved before the cage (no NSS inside) */
	size_t n_groups;
};

/* Derive a cage's /30 from its name: stable for a name, skipping any /30 that overlaps a
 * taken prefix. Returns 0 and the subnet base (network byte order) or -EADDRNOTAVAIL. */
int plan_subnet(const char *name, const struct pool *pool, const struct prefix *taken,
		size_t n_taken, struct in_addr *ret);

/* The /64 for a cage's IPv6 side: fdXX:XXXX:XXXX:XXXX::/64 from a hash of the name. */
void plan_subnet6(const char *name, struct in6_addr *ret);

/* "sl-" + 8 hex digits of a hash of the name and the run's nonce. A new name each run: the
 * pair of the previous run of the same cage may still exist for a while, since the kernel
 * removes it with that cage's netns after the run has returned. */
void plan_host_ifname(const char *name, uint32_t nonce, char ret[IFNAMSIZ]);
/* Whether s has the shape of the names sluice gives: a host link (plan_host_ifname), a
 * WireGuard link ("sw-" + 8 hex digits) and a host table (plan_host_table). */
bool plan_is_host_ifname(const char *s);
bool plan_is_wg_ifname(const char *s);
bool plan_is_host_table(const char *s);
/* The host table of the cage name whose host link is host_if. */
void plan_host_table(const char *name, const char *host_if, char ret[PLAN_TABLE_MAX]);

/* A default cage name from the command: basename of argv[0], reduced to [a-z0-9_.-],
 * made unique against live names with "-2", "-3", ... */
int plan_default_name(const char *argv0, char *const *live, size_t n_live, char *ret, size_t len);

/* Who the command runs as (resolved by the caller from --user, SUDO_UID or the caller). */
struct identity {
	uid_t uid;
	gid_t gid;
	const char *user;
	const char *home;
	const char *shell;
	const gid_t *groups; /* supplementary groups (getgrouplist), n_groups of them */
	size_t n_groups;
};

/* Build the plan. environ_in is the invoking environment: only PATH, TERM, LANG, LC_*, TZ,
 * COLORTERM pass through; HOME, USER, LOGNAME and SHELL come from the identity; then the proxy
 * variables, then the policy's env (which wins). Returns 0 or err_invalid()/err_set(). */
int plan_build(const struct policy *pol, const struct host_facts *facts, char *const *argv,
	       char *const *environ_in, const struct identity *id, struct plan *ret);
void plan_free(struct plan *p);
void host_facts_free(struct host_facts *f);
/* For a plan or facts held by value: _cleanup_(plan_freep) struct plan p = {0}; a zeroed one
 * holds nothing, so TAKE_STRUCT hands it on. */
static inline void plan_freep(struct plan *p)
{
	plan_free(p);
}
static inline void host_facts_freep(struct host_facts *f)
{
	host_facts_free(f);
}

/* Merge the peers that allowed endpoints in the infix wg form declare (bearer, key, overlay
 * endpoint) into the tunnel's configuration: a new peer at the bearer with the overlay host
 * as its AllowedIPs, or that host added to the peer with the same key. */
int plan_wg_merge_allow(struct wg_config *wg, const struct endpoint *allow, size_t n);
/* Every allowed endpoint of a link-wireguard plan inside some peer's AllowedIPs, and an
 * infix wg key that of a peer; err_invalid() saying which otherwise. */
int plan_wg_check_allowed(const struct plan *p, const struct wg_config *wg);

/* The plan as `sluice check` shows it (names, addresses, routes, nft text, hooks, env). */
void plan_render(const struct plan *p, struct text *f);
/* What the cage's processes reach, a line each ("tcp ADDR:PORT", "udp ...", "dns NAME"):
 * what a child cage made inside it (nest.h) is checked against. */
void plan_render_reach(const struct plan *p, struct text *f);
/* Whether child plan p asks only for what its parent (reach, as plan_render_reach() gave
 * it) reaches: its link none, its forwards' targets among the parent's, its names the
 * parent's; -EINVAL naming the first that is not. */
int plan_check_within(const struct plan *p, const char *parent, const char *reach);
/* The same plan as one JSON object (check --json): name, cgroup, link and its addresses,
 * allowed endpoints, forwards, DNS names, the layers' lines, user, command, env, and the
 * nftables text. */
void plan_render_json(const struct plan *p, struct text *f);

/* The enforcement layers of a run, one line each: "topology: ...", "nftables: ...",
 * "eBPF: ..." (or why it is off), "process: ...". For check and -v. */
void plan_render_layers(const struct plan *p, struct text *f, const char *indent);

/* The cage's /etc/hosts and /etc/resolv.conf, generated from the plan. */
void plan_render_hosts(const struct plan *p, struct text *f);
void plan_render_resolv(const struct plan *p, struct text *f);
