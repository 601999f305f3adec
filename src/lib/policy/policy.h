/* policy.h: what a run asks for, from the command line and a profile, validated.
 * Pure data: nothing here touches the kernel or the filesystem (profile.c reads the file). */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "text.h"
#include "sysfilter.h"

#define CAGE_NAME_MAX 32

/* The DNS stub's address in every cage (UDP and TCP). */
#define DNS_STUB_ADDR "127.0.0.1"
#define DNS_STUB_PORT 53

enum link_mode {
	LINK_UNSET = 0,
	LINK_NONE,
	LINK_VETH,
	LINK_WIREGUARD,
};

/* A pool of IPv4 addresses cages' /30 subnets are taken from, e.g. 10.200.0.0/16. */
struct pool {
	struct in_addr base; /* network byte order, masked to len */
	unsigned len;	     /* prefix length, 8..28 */
};

/* A forward: a TCP listener inside the cage, on a loopback address, served by the supervisor
 * from where sluice runs by connecting to a target there. */
enum target_kind {
	TARGET_TCP,  /* target.ip:port (scheme SOCKS5/SOCKS5H: a SOCKS5 proxy) */
	TARGET_UNIX, /* a unix stream socket at path */
};

#define UNIX_PATH_MAX 108

struct forward {
	struct endpoint listen; /* in the cage: 127.x.y.z or ::1, TCP */
	enum target_kind kind;
	struct endpoint target;	  /* TARGET_TCP */
	char path[UNIX_PATH_MAX]; /* TARGET_UNIX: an absolute path */
	bool isolate_streams;	  /* speak SOCKS5 to the client and give each connection fresh
				   * credentials upstream (target scheme SOCKS5 or SOCKS5H) */
	bool is_proxy;		  /* made for --proxy */
};

/* A service the cage offers through the supervisor (--publish): it listens at host, in the
 * netns sluice runs in, and joins each connection to 127.0.0.1:cage_port inside the cage. */
struct publish {
	struct endpoint host; /* TCP; 127.0.0.1 unless an address is given */
	uint16_t cage_port;
};

/* Inbound the cage accepts on its link (--listen): TCP to ep, one of the cage's own addresses
 * (family 0: only a port, on every address of its link), from the sources (none: from
 * whatever the link carries). */
#define LISTEN_FROM_MAX 8
struct listen_rule {
	struct endpoint ep;
	struct cidr from[LISTEN_FROM_MAX];
	size_t n_from;
};

/* A pathname unix socket the cage may connect or send to although no process of the cage
 * serves it (--allow /unix/PATH); PATH ending in '/' allows every socket below it. */
struct unix_allow {
	char path[UNIX_PATH_MAX];
	bool prefix;
};

enum unix_mode {
	UNIX_AUTO = 0, /* the supervisor judges; an in-kernel layer backs it where there is one */
	UNIX_STRICT,   /* refuse to start without the in-kernel layer too */
};

/* A name the cage's DNS stub answers, with one of its addresses (a name may repeat). */
#define DNS_NAME_MAX 253
struct dns_entry {
	char name[DNS_NAME_MAX + 1]; /* lower case, no trailing dot */
	int family;		     /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} ip;
};

enum wg_backend {
	WG_BACKEND_AUTO = 0, /* the kernel's where it has WireGuard, else wireguard-go */
	WG_BACKEND_KERNEL,
	WG_BACKEND_USERSPACE,
};

struct wg_config;

/* Whether the proxy and the forwards' targets are tried from outside the cage at start. */
enum check_targets {
	CHECK_TARGETS_WARN = 0, /* a line for each that does not answer; the run goes on */
	CHECK_TARGETS_REQUIRE,	/* one that does not answer: exit 125 */
	CHECK_TARGETS_OFF,
};

/* The credentials of a proxy URL (http://user:pass@host:port): only the supervisor holds
 * them, and adds them on the way out (Proxy-Authorization: Basic for HTTP, RFC 1929 for
 * SOCKS5). Percent-decoded; user 1..255 bytes, pass 0..255 (1..255 for SOCKS5). */
#define PROXY_CRED_MAX 255
struct proxy_auth {
	char user[PROXY_CRED_MAX + 1];
	char pass[PROXY_CRED_MAX + 1];
};

/* A copy of A (NULL for none) in memory of its own, or NULL with *ret -ENOMEM; zeroed when
 * freed by proxy_auth_free. */
int proxy_auth_dup(const struct proxy_auth *a, struct proxy_auth **ret);
void proxy_auth_free(struct proxy_auth *a);

struct policy {
	char name[CAGE_NAME_MAX + 1]; /* empty: derived from the command */
	enum link_mode link;
	bool has_proxy;
	struct endpoint proxy;
	struct proxy_auth *proxy_auth; /* the proxy URL's credentials, if it has any */
	struct endpoint *allow; /* extra allowed endpoints (--allow, allow:) */
	size_t n_allow;
	char **env;		 /* NULL-terminated "K=V" list (--env, env:); later entries win */
	char **env_pass; /* names whose value is the caller's (--env NAME, env_pass:) */
	char **command;	 /* command: what runs when no -- CMD is given (a unit's profile) */
	struct forward *forward; /* --forward, forward: (the proxy's is added by policy_finish) */
	size_t n_forward;
	struct dns_entry *dns; /* --dns, dns: */
	size_t n_dns;
	struct publish *publish; /* --publish, publish: */
	size_t n_publish;
	struct listen_rule *listen; /* --listen, listen: */
	size_t n_listen;
	struct unix_allow *allow_unix; /* --allow /unix/PATH */
	size_t n_allow_unix;
	enum unix_mode unix_mode;	/* --unix, unix: */
	enum seccomp_mode seccomp_mode; /* --seccomp, seccomp: */
	bool isolate_streams;	    /* for the proxy's forward (a socks5:// or socks5h:// proxy) */
	char *wg_config;	    /* link wireguard: a wg-quick file (--wg-config, wg_config:) */
	struct wg_config *wg_built; /* or the configuration a profile's wireguard: mapping built */
	enum wg_backend wg_backend;
	char *user; /* NULL: the invoking user (SUDO_UID) or refuse root */
	struct pool pool;
	bool has_pool;
	bool verbose;
	bool nest; /* --nest, nest: the cage may ask for child cages (nest.h) */
	/* What is told of denials (audit.h): */
	bool quiet;			    /* --quiet, quiet: no line per denial */
	char *audit;			    /* --audit, audit: a file for JSON lines, "-" stdout */
	char *learn;			    /* --learn: the profile written at the end */
	enum check_targets check_targets; /* --check-targets, check_targets: */
};

void policy_init(struct policy *p);
void policy_free(struct policy *p);

/* Setters used by both the command line and the profile; each validates its value and
 * returns -EINVAL with what is wrong recorded (err_message(); without position: the caller
 * adds it with err_wrap()). */
int policy_set_name(struct policy *p, const char *v);
/* --env NAME (no "="): the caller's value of NAME goes to the command, and appears on no
 * command line; resolved when the plan is made (plan_build's environment). */
int policy_add_env_pass(struct policy *p, const char *name);
/* --env-file FILE: KEY=VALUE lines (blank lines and # comments skipped), as --env each. */
int policy_add_env_file(struct policy *p, const char *path);
/* command: one more word of the command (the first an absolute path or a name on PATH). */
int policy_add_command_word(struct policy *p, const char *word);
int policy_set_audit(struct policy *p, const char *v);
int policy_set_learn(struct policy *p, const char *v);
int policy_set_check_targets(struct policy *p, const char *v);
/* The policy as a profile (YAML) that loads back to the same endpoints: link, proxy,
 * wg_config and user in head; the items ("  - ...\n", "  NAME: ADDR\n") of allow (unix
 * sockets too), forward and dns apart, for learn mode to add its own to. */
/* "none", "veth", "wireguard": as --link takes it. */
const char *policy_link_name(enum link_mode link);
/* An endpoint as --allow and forward targets take it: A:P, [A]:P, udp:A:P (no scheme, no
 * WireGuard key). */
void policy_put_endpoint(struct text *out, const struct endpoint *e);
struct profile_parts {
	struct text head, allow, forward, dns;
};
void policy_render_profile(const struct policy *p, struct profile_parts *out);
/* Whether v is a valid cage name (as policy_set_name takes it); says why not. */
int policy_check_name(const char *v);
int policy_set_link(struct policy *p, const char *v);
/* A proxy URL, credentials allowed (scheme://user:pass@host:port, percent-encoded). */
int policy_set_proxy(struct policy *p, const char *v);
/* Where the credentials of proxy URL V lie in it (the "user:pass@" part), for hiding them
 * from a command line: 0 with *ret_at and *ret_len, or -ENOENT if it has none. */
int policy_proxy_userinfo(const char *v, size_t *ret_at, size_t *ret_len);
int policy_add_allow(struct policy *p, const char *v);
int policy_add_env(struct policy *p, const char *k_eq_v);
int policy_set_user(struct policy *p, const char *v);
int policy_set_pool(struct policy *p, const char *v);
/* "LISTEN=TARGET[,isolate_streams]": LISTEN is PORT, 127.x.y.z:PORT or [::1]:PORT in the cage;
 * TARGET is host:port, [v6]:port, a multiaddr, socks5://h:p, socks5h://h:p, an absolute unix
 * socket path or /unix/PATH. */
int policy_add_forward(struct policy *p, const char *v);
/* The same from its parts (a profile's mapping form). */
int policy_add_forward_parts(struct policy *p, const char *listen, const char *target,
			     bool isolate_streams);
/* "[HOSTADDR:]PORT[=CAGEPORT]": HOSTADDR 127.0.0.1 unless given (an IPv4 address, or [v6]);
 * CAGEPORT PORT unless given. */
int policy_add_publish(struct policy *p, const char *v);
/* "ENDPOINT[@SOURCE[,SOURCE...]]": ENDPOINT is PORT, ADDR:PORT, [v6]:PORT or a multiaddr
 * (/ip4/A/tcp/P, with /wg/u<key> the cage's own WireGuard key), TCP; SOURCE an address or
 * ADDR/PREFIX, at most LISTEN_FROM_MAX. */
int policy_add_listen(struct policy *p, const char *v);
int policy_set_wg_config(struct policy *p, const char *v);
/* The configuration a profile built (the policy owns it now; an earlier one is freed). */
void policy_set_wg_built(struct policy *p, struct wg_config *c);
/* "auto", "kernel" or "userspace". */
int policy_set_wg_backend(struct policy *p, const char *v);
/* "default" or "off". */
int policy_set_seccomp(struct policy *p, const char *v);
/* "auto" or "strict". */
int policy_set_unix(struct policy *p, const char *v);
/* "NAME=ADDR": NAME resolves to ADDR (IPv4 or IPv6) in the cage's DNS stub; repeatable. */
int policy_add_dns(struct policy *p, const char *name_eq_addr);
int policy_add_dns_parts(struct policy *p, const char *name, const char *addr);

/*
 * Load a profile (YAML, libyaml) into p. Keys: name, link, proxy, allow (list), env (map),
 * user, subnet_pool, verbose, unix (auto, strict), forward (list of "LISTEN=TARGET" or {listen,
 * target, isolate_streams}), dns (map of name to an address or a list of them), isolate_streams,
 * publish (list of "[HOSTADDR:]PORT[=CAGEPORT]"), listen (list of "ENDPOINT[@SOURCES]").
 * Unknown keys, wrong node types and bad values fail with
 * err_invalid("FILE:LINE:COLUMN: what is wrong") (1-based line and column).
 * Returns 0 or a negative errno (-ENOENT etc. for an unreadable file, via err_set).
 */
int profile_load(const char *path, struct policy *p);

/* Resolve --profile's argument: a path if it contains '/' or ends in .yaml/.yml, else
 * NAME is looked up as ./profiles/NAME.yaml, then /etc/sluice/NAME.yaml, then among the
 * profiles built in (the shipped ones: "built-in:NAME", which profile_load reads too).
 * Writes the path into buf. Returns 0 or -ENOENT (with err_set naming where it looked). */
int profile_find(const char *arg, char *buf, size_t len);

/* Whole-policy checks after profile and command line are merged: link mode supported,
 * proxy scheme, duplicate endpoints, defaults filled in (link none, pool 10.200.0.0/16), the
 * proxy's forward added (a loopback proxy in any mode; any proxy in link none).
 * Returns 0 or err_invalid(). */
int policy_finish(struct policy *p);
