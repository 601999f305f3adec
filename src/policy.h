/* policy.h: what a run asks for, from the command line and a profile, validated.
 * Pure data: nothing here touches the kernel or the filesystem (profile.c reads the file). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>

#include "addr.h"

#define CAGE_NAME_MAX 32

enum link_mode {
	LINK_UNSET = 0,
	LINK_NONE,
	LINK_VETH,
	LINK_WIREGUARD,
};

/* A pool of IPv4 addresses cages' /30 subnets are taken from, e.g. 10.200.0.0/16. */
struct pool {
	struct in_addr base; /* network byte order, masked to len */
	unsigned len;        /* prefix length, 8..28 */
};

struct policy {
	char name[CAGE_NAME_MAX + 1]; /* empty: derived from the command */
	enum link_mode link;
	bool has_proxy;
	struct endpoint proxy;
	struct endpoint *allow; /* extra allowed endpoints (--allow, allow:) */
	size_t n_allow;
	char **env; /* NULL-terminated "K=V" list (--env, env:); later entries win */
	char *user; /* NULL: the invoking user (SUDO_UID) or refuse root */
	struct pool pool;
	bool has_pool;
	bool verbose;
};

void policy_init(struct policy *p);
void policy_free(struct policy *p);

/* Setters used by both the command line and the profile; each validates its value and
 * returns -EINVAL with a message in err (without position: the caller adds it). */
int policy_set_name(struct policy *p, const char *v, char *err, size_t errlen);
int policy_set_link(struct policy *p, const char *v, char *err, size_t errlen);
int policy_set_proxy(struct policy *p, const char *v, char *err, size_t errlen);
int policy_add_allow(struct policy *p, const char *v, char *err, size_t errlen);
int policy_add_env(struct policy *p, const char *k_eq_v, char *err, size_t errlen);
int policy_set_user(struct policy *p, const char *v, char *err, size_t errlen);
int policy_set_pool(struct policy *p, const char *v, char *err, size_t errlen);

/*
 * Load a profile (YAML, libyaml) into p. Keys: name, link, proxy, allow (list), env (map),
 * user, subnet_pool, verbose. Unknown keys, wrong node types and bad values fail with
 * err_invalid("FILE:LINE:COLUMN: what is wrong") (1-based line and column).
 * Returns 0 or a negative errno (-ENOENT etc. for an unreadable file, via err_set).
 */
int profile_load(const char *path, struct policy *p);

/* Resolve --profile's argument: a path if it contains '/' or ends in .yaml/.yml, else
 * NAME is looked up as ./profiles/NAME.yaml then /etc/sluice/NAME.yaml.
 * Writes the path into buf. Returns 0 or -ENOENT (with err_set naming where it looked). */
int profile_find(const char *arg, char *buf, size_t len);

/* Whole-policy checks after profile and command line are merged: link mode supported,
 * proxy scheme, duplicate endpoints, defaults filled in (link veth, pool 10.200.0.0/16).
 * Returns 0 or err_invalid(). */
int policy_finish(struct policy *p);
