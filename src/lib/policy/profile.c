/* profile.c: reads a profile (YAML, libyaml's document API) into a struct policy through the
 * same setters the command line uses, and finds a profile by name. Every error names
 * FILE:LINE:COLUMN (1-based) of the node that is wrong. */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "log.h"
#include "policy.h"
#include "wgconf.h"

#ifndef SLUICE_PROFILE_DIR
#define SLUICE_PROFILE_DIR "/etc/sluice"
#endif

/* A profile is a handful of keys; anything bigger is a mistake, not a profile. */
#define PROFILE_SIZE_MAX (1024 * 1024)

struct loader {
	const char *path;
	yaml_document_t *doc;
	struct policy *p;
};

static unsigned line_of(const yaml_node_t *n)
{
	return (unsigned)n->start_mark.line + 1;
}

static unsigned col_of(const yaml_node_t *n)
{
	return (unsigned)n->start_mark.column + 1;
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* A key quoted in a message: at most 64 bytes, control characters as '?', so the message
 * stays one line whatever a quoted YAML key holds. */
static const char *quote(const yaml_node_t *n, char buf[static 72])
{
	const char *v = scalar(n);
	size_t i;

	for (i = 0; v[i] && i < 64; i++)
		buf[i] = iscntrl((unsigned char)v[i]) ? '?' : v[i];
	buf[i] = '\0';
	if (v[i])
		strcat(buf, "...");
	return buf;
}

/* A plain "", "~" or "null" is YAML's null: a key with no value, not the text "~". */
static bool is_null(const yaml_node_t *n)
{
	const char *v = scalar(n);

	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*v || streq(v, "~") || strcasecmp(v, "null") == 0);
}

/* "\0" is a valid YAML escape; C strings would silently end there, so refuse it. */
static int check_nul(const struct loader *l, const yaml_node_t *n)
{
	if (strlen(scalar(n)) != n->data.scalar.length)
		return err_invalid("%s:%u:%u: a NUL character is not allowed here", l->path,
				   line_of(n), col_of(n));
	return 0;
}

typedef int (*setter_fn)(struct policy *p, const char *v);

/* key: "string" through a policy setter; the setter's message gets the value's position. */
static int load_string(struct loader *l, const char *key, yaml_node_t *v, setter_fn set)
{
	int r;

	if (v->type != YAML_SCALAR_NODE)
		return err_invalid("%s:%u:%u: \"%s\" must be a string", l->path, line_of(v),
				   col_of(v), key);
	if (is_null(v))
		return err_invalid("%s:%u:%u: \"%s\" needs a value", l->path, line_of(v), col_of(v),
				   key);
	r = check_nul(l, v);
	if (r < 0)
		return r;
	r = set(l->p, scalar(v));
	if (r == -EINVAL)
		return err_wrap(r, "%s:%u:%u: %s", l->path, line_of(v), col_of(v), key);
	if (r < 0)
		return err_wrap(r, "%s: %s", l->path, key);
	return 0;
}

/* A list of strings, each given to add: allow, publish, listen, env_pass, command. */
static int load_strings(struct loader *l, const char *key, yaml_node_t *v,
			int (*add)(struct policy *, const char *))
{
	int r;

	if (v->type != YAML_SEQUENCE_NODE)
		return err_invalid("%s:%u:%u: \"%s\" must be a list", l->path, line_of(v),
				   col_of(v), key);
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
	     i++) {
		yaml_node_t *item = yaml_document_get_node(l->doc, *i);

		if (!item || item->type != YAML_SCALAR_NODE || is_null(item))
			return err_invalid("%s:%u:%u: %s: each entry must be %s", l->path,
					   item ? line_of(item) : line_of(v),
					   item ? col_of(item) : col_of(v), key,
					   streq(key, "command") || streq(key, "env_pass") ? "a string"
											  : "an address");
		r = check_nul(l, item);
		if (r < 0)
			return r;
		r = add(l->p, scalar(item));
		if (r == -EINVAL)
			return err_wrap(r, "%s:%u:%u: %s", l->path, line_of(item), col_of(item),
					key);
		if (r < 0)
			return err_wrap(r, "%s: %s", l->path, key);
	}
	return 0;
}

/* env: KEY: value. Values are taken as their scalar text, so PORT: 8080 is "8080". */
static int load_env(struct loader *l, yaml_node_t *v)
{
	char q[72];
	int r;

	if (v->type != YAML_MAPPING_NODE)
		return err_invalid("%s:%u:%u: \"env\" must be a mapping", l->path, line_of(v),
				   col_of(v));
	for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, pr->key);
		yaml_node_t *val = yaml_document_get_node(l->doc, pr->value);
		_cleanup_free_ char *kv = NULL;

		if (!k || !val || k->type != YAML_SCALAR_NODE)
			return err_invalid("%s:%u:%u: env: names must be strings", l->path,
					   k ? line_of(k) : line_of(v), k ? col_of(k) : col_of(v));
		for (yaml_node_pair_t *o = v->data.mapping.pairs.start; o < pr; o++) {
			yaml_node_t *qk = yaml_document_get_node(l->doc, o->key);

			if (qk && qk->type == YAML_SCALAR_NODE && streq(scalar(qk), scalar(k)))
				return err_invalid("%s:%u:%u: env: duplicate variable \"%s\"",
						   l->path, line_of(k), col_of(k), quote(k, q));
		}
		if (strchr(scalar(k), '='))
			return err_invalid("%s:%u:%u: env: \"%s\" is not a valid variable name",
					   l->path, line_of(k), col_of(k), quote(k, q));
		if (val->type != YAML_SCALAR_NODE)
			return err_invalid("%s:%u:%u: env: the value of \"%s\" must be a string",
					   l->path, line_of(val), col_of(val), quote(k, q));
		r = check_nul(l, k);
		if (r < 0)
			return r;
		r = check_nul(l, val);
		if (r < 0)
			return r;
		if (asprintf(&kv, "%s=%s", scalar(k), is_null(val) ? "" : scalar(val)) < 0)
			return -ENOMEM;
		r = policy_add_env(l->p, kv);
		if (r == -EINVAL)
			return err_wrap(r, "%s:%u:%u: env", l->path, line_of(k), col_of(k));
		if (r < 0)
			return err_wrap(r, "%s: env", l->path);
	}
	return 0;
}

static int load_bool(struct loader *l, const char *key, yaml_node_t *v, bool *ret)
{
	static const char *const yes[] = {"true", "yes"}, *const no[] = {"false", "no"};

	if (v->type == YAML_SCALAR_NODE) {
		for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
			if (strcasecmp(scalar(v), yes[i]) == 0) {
				*ret = true;
				return 0;
			}
			if (strcasecmp(scalar(v), no[i]) == 0) {
				*ret = false;
				return 0;
			}
		}
	}
	return err_invalid("%s:%u:%u: \"%s\" must be true or false", l->path, line_of(v), col_of(v),
			   key);
}

/* forward: a list of "LISTEN=TARGET" strings or {listen, target, isolate_streams} maps. */
static int load_forward_map(struct loader *l, yaml_node_t *item)
{
	const char *listen = NULL, *target = NULL;
	bool iso = false;
	char q[72];
	int r;

	for (yaml_node_pair_t *pr = item->data.mapping.pairs.start;
	     pr < item->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, pr->key);
		yaml_node_t *val = yaml_document_get_node(l->doc, pr->value);

		if (!k || !val || k->type != YAML_SCALAR_NODE)
			return err_invalid("%s:%u:%u: forward: keys must be strings", l->path,
					   line_of(item), col_of(item));
		if (streq(scalar(k), "isolate_streams")) {
			r = load_bool(l, "isolate_streams", val, &iso);
			if (r < 0)
				return r;
			continue;
		}
		if (!streq(scalar(k), "listen") && !streq(scalar(k), "target"))
			return err_invalid("%s:%u:%u: forward: unknown key \"%s\" (listen, target, "
					   "isolate_streams)",
					   l->path, line_of(k), col_of(k), quote(k, q));
		if (val->type != YAML_SCALAR_NODE || is_null(val))
			return err_invalid("%s:%u:%u: forward: %s must be an address", l->path,
					   line_of(val), col_of(val), scalar(k));
		r = check_nul(l, val);
		if (r < 0)
			return r;
		if (streq(scalar(k), "listen"))
			listen = scalar(val);
		else
			target = scalar(val);
	}
	if (!listen || !target)
		return err_invalid("%s:%u:%u: forward: needs both listen and target", l->path,
				   line_of(item), col_of(item));
	r = policy_add_forward_parts(l->p, listen, target, iso);
	if (r == -EINVAL)
		return err_wrap(r, "%s:%u:%u: forward", l->path, line_of(item), col_of(item));
	return r < 0 ? err_wrap(r, "%s: forward", l->path) : 0;
}

static int load_forward(struct loader *l, yaml_node_t *v)
{
	int r;

	if (v->type != YAML_SEQUENCE_NODE)
		return err_invalid("%s:%u:%u: \"forward\" must be a list", l->path, line_of(v),
				   col_of(v));
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
	     i++) {
		yaml_node_t *item = yaml_document_get_node(l->doc, *i);

		if (item && item->type == YAML_MAPPING_NODE) {
			r = load_forward_map(l, item);
			if (r < 0)
				return r;
			continue;
		}
		if (!item || item->type != YAML_SCALAR_NODE || is_null(item))
			return err_invalid("%s:%u:%u: forward: each entry must be LISTEN=TARGET or "
					   "a mapping with listen and target",
					   l->path, item ? line_of(item) : line_of(v),
					   item ? col_of(item) : col_of(v));
		r = check_nul(l, item);
		if (r < 0)
			return r;
		r = policy_add_forward(l->p, scalar(item));
		if (r == -EINVAL)
			return err_wrap(r, "%s:%u:%u: forward", l->path, line_of(item),
					col_of(item));
		if (r < 0)
			return err_wrap(r, "%s: forward", l->path);
	}
	return 0;
}

/* dns: NAME: ADDRESS, or NAME: [ADDRESS, ...]. */
static int load_dns_one(struct loader *l, yaml_node_t *k, yaml_node_t *a)
{
	int r;

	if (a->type != YAML_SCALAR_NODE || is_null(a))
		return err_invalid("%s:%u:%u: dns: %s: each value must be an address", l->path,
				   line_of(a), col_of(a), scalar(k));
	r = check_nul(l, a);
	if (r < 0)
		return r;
	r = policy_add_dns_parts(l->p, scalar(k), scalar(a));
	if (r == -EINVAL) {
		unsigned char ip[sizeof(struct in6_addr)];
		/* A good address means the name was what was wrong: point at the name. */
		yaml_node_t *at = inet_pton(AF_INET, scalar(a), ip) == 1 ||
					  inet_pton(AF_INET6, scalar(a), ip) == 1
				      ? k
				      : a;

		return err_wrap(r, "%s:%u:%u: dns", l->path, line_of(at), col_of(at));
	}
	return r < 0 ? err_wrap(r, "%s: dns", l->path) : 0;
}

static int load_dns(struct loader *l, yaml_node_t *v)
{
	int r;

	if (v->type != YAML_MAPPING_NODE)
		return err_invalid("%s:%u:%u: \"dns\" must be a mapping of names to addresses",
				   l->path, line_of(v), col_of(v));
	for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, pr->key);
		yaml_node_t *val = yaml_document_get_node(l->doc, pr->value);

		if (!k || !val || k->type != YAML_SCALAR_NODE)
			return err_invalid("%s:%u:%u: dns: names must be strings", l->path,
					   k ? line_of(k) : line_of(v), k ? col_of(k) : col_of(v));
		r = check_nul(l, k);
		if (r < 0)
			return r;
		if (val->type != YAML_SEQUENCE_NODE) {
			r = load_dns_one(l, k, val);
			if (r < 0)
				return r;
			continue;
		}
		for (yaml_node_item_t *i = val->data.sequence.items.start;
		     i < val->data.sequence.items.top; i++) {
			yaml_node_t *a = yaml_document_get_node(l->doc, *i);

			r = a ? load_dns_one(l, k, a) : -EINVAL;
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/*
 * wireguard: the keys of a wg-quick file in YAML, given key by key to the one parser of the
 * format (wgconf.c's builder), so that the two forms cannot drift apart and every message
 * names the key's own line and column:
 *   wireguard:
 *     private_key_file: /etc/sluice/actor.key
 *     address: 10.0.11.2/24            (or a list)
 *     listen_port: 51820   mtu: 1420
 *     peers:
 *       - public_key: g3x7...=
 *         preshared_key_file: /etc/sluice/psk
 *         endpoint: 192.168.1.50:51820
 *         allowed_ips: [10.0.11.1/32]   (or one string)
 *         persistent_keepalive: 25
 * Key files are read here; a key never sits in the profile itself.
 */
static int wg_put(struct loader *l, yaml_node_t *n, struct wgconf_builder *b, const char *wgkey,
		  const char *value)
{
	char where[4200];

	snprintf(where, sizeof(where), "%s:%u:%u: wireguard", l->path, line_of(n), col_of(n));
	return wgconf_builder_set(b, wgkey, value, line_of(n), where);
}

static int wg_scalar_or_list(struct loader *l, yaml_node_t *v, const char *key,
			     struct wgconf_builder *b, const char *wgkey)
{
	if (v->type == YAML_SCALAR_NODE && !is_null(v))
		return wg_put(l, v, b, wgkey, scalar(v));
	if (v->type != YAML_SEQUENCE_NODE)
		return err_invalid("%s:%u:%u: wireguard: %s must be a string or a list", l->path,
				   line_of(v), col_of(v), key);
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
	     i++) {
		yaml_node_t *it = yaml_document_get_node(l->doc, *i);
		int r;

		if (!it || it->type != YAML_SCALAR_NODE || is_null(it))
			return err_invalid("%s:%u:%u: wireguard: each %s must be a string", l->path,
					   line_of(v), col_of(v), key);
		r = check_nul(l, it);
		if (r == 0)
			r = wg_put(l, it, b, wgkey, scalar(it));
		if (r < 0)
			return r;
	}
	return 0;
}

static int wg_key_file(struct loader *l, yaml_node_t *v, struct wgconf_builder *b,
		       const char *wgkey)
{
	char key[128] = "";
	FILE *f;
	size_t n;
	int r;

	if (v->type != YAML_SCALAR_NODE || is_null(v))
		return err_invalid("%s:%u:%u: wireguard: a key file must be a path", l->path,
				   line_of(v), col_of(v));
	f = fopen(scalar(v), "re");
	if (!f)
		return err_invalid("%s:%u:%u: wireguard: read %s: %s", l->path, line_of(v),
				   col_of(v), scalar(v), strerror(errno));
	n = fread(key, 1, sizeof(key) - 1, f);
	fclose(f);
	key[n] = '\0';
	key[strcspn(key, "\r\n")] = '\0';
	if (strchr(key, '=') != key + strlen(key) - 1 || strlen(key) != 44) {
		explicit_bzero(key, sizeof(key));
		return err_invalid("%s:%u:%u: wireguard: %s does not hold one key as wg(8) writes "
				   "it (44 characters of base64)",
				   l->path, line_of(v), col_of(v), scalar(v));
	}
	r = wg_put(l, v, b, wgkey, key);
	explicit_bzero(key, sizeof(key));
	return r;
}

static int wg_map(struct loader *l, yaml_node_t *m, struct wgconf_builder *b, bool peer)
{
	static const char *const iface_keys[][2] = {
	    {"address", "Address"}, {"listen_port", "ListenPort"}, {"mtu", "MTU"}};
	static const char *const peer_keys[][2] = {{"public_key", "PublicKey"},
						   {"endpoint", "Endpoint"},
						   {"allowed_ips", "AllowedIPs"},
						   {"persistent_keepalive", "PersistentKeepalive"}};
	const char *const(*keys)[2] = peer ? peer_keys : iface_keys;
	size_t nkeys = peer ? ARRAY_SIZE(peer_keys) : ARRAY_SIZE(iface_keys);
	char q[72];
	int r;

	if (m->type != YAML_MAPPING_NODE)
		return err_invalid("%s:%u:%u: wireguard: %s must be a mapping", l->path, line_of(m),
				   col_of(m), peer ? "a peer" : "the interface");
	r = wgconf_builder_section(b, peer, line_of(m));
	if (r < 0)
		return r;
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(l->doc, pr->value);
		size_t i;

		if (!k || !v || k->type != YAML_SCALAR_NODE)
			return err_invalid("%s:%u:%u: wireguard: keys must be strings", l->path,
					   line_of(m), col_of(m));
		r = check_nul(l, k);
		if (r == 0 && v->type == YAML_SCALAR_NODE)
			r = check_nul(l, v);
		if (r < 0)
			return r;
		if (!peer && streq(scalar(k), "peers")) {
			if (v->type != YAML_SEQUENCE_NODE)
				return err_invalid("%s:%u:%u: wireguard: peers must be a list",
						   l->path, line_of(v), col_of(v));
			continue; /* after the interface's own keys, below */
		}
		if (streq(scalar(k), peer ? "preshared_key_file" : "private_key_file")) {
			r = wg_key_file(l, v, b, peer ? "PresharedKey" : "PrivateKey");
			if (r < 0)
				return r;
			continue;
		}
		for (i = 0; i < nkeys && !streq(scalar(k), keys[i][0]); i++)
			;
		if (i == nkeys)
			return err_invalid("%s:%u:%u: wireguard: unknown key \"%s\"", l->path,
					   line_of(k), col_of(k), quote(k, q));
		r = wg_scalar_or_list(l, v, keys[i][0], b, keys[i][1]);
		if (r < 0)
			return r;
	}
	if (peer)
		return 0;
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(l->doc, pr->value);

		if (!streq(scalar(k), "peers"))
			continue;
		for (yaml_node_item_t *it = v->data.sequence.items.start;
		     it < v->data.sequence.items.top; it++) {
			yaml_node_t *pn = yaml_document_get_node(l->doc, *it);

			r = pn ? wg_map(l, pn, b, true) : -EINVAL;
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int load_wireguard(struct loader *l, yaml_node_t *v)
{
	struct wgconf_builder *b;
	struct wg_config *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	r = wgconf_builder_new(l->path, &b);
	if (r < 0) {
		free(c);
		return r;
	}
	r = wg_map(l, v, b, false);
	if (r < 0) {
		wgconf_builder_free(b);
		free(c);
		return r;
	}
	r = wgconf_builder_finish(b, c);
	if (r < 0) {
		free(c);
		return r;
	}
	policy_set_wg_built(l->p, c);
	return 0;
}

enum key {
	KEY_NAME,
	KEY_LINK,
	KEY_PROXY,
	KEY_ALLOW,
	KEY_ENV,
	KEY_USER,
	KEY_SUBNET_POOL,
	KEY_VERBOSE,
	KEY_FORWARD,
	KEY_DNS,
	KEY_ISOLATE,
	KEY_UNIX,
	KEY_SECCOMP,
	KEY_WG_CONFIG,
	KEY_WG_BACKEND,
	KEY_WIREGUARD,
	KEY_PUBLISH,
	KEY_LISTEN,
	KEY_NEST,
	KEY_QUIET,
	KEY_AUDIT,
	KEY_CHECK_TARGETS,
	KEY_ENV_PASS,
	KEY_ENV_FILE,
	KEY_COMMAND,
	_KEY_MAX,
};

static const char *const key_names[_KEY_MAX] = {
    [KEY_NAME] = "name",
    [KEY_LINK] = "link",
    [KEY_PROXY] = "proxy",
    [KEY_ALLOW] = "allow",
    [KEY_ENV] = "env",
    [KEY_USER] = "user",
    [KEY_SUBNET_POOL] = "subnet_pool",
    [KEY_VERBOSE] = "verbose",
    [KEY_FORWARD] = "forward",
    [KEY_DNS] = "dns",
    [KEY_ISOLATE] = "isolate_streams",
    [KEY_UNIX] = "unix",
    [KEY_SECCOMP] = "seccomp",
    [KEY_WG_CONFIG] = "wg_config",
    [KEY_WG_BACKEND] = "wg_backend",
    [KEY_WIREGUARD] = "wireguard",
    [KEY_PUBLISH] = "publish",
    [KEY_LISTEN] = "listen",
    [KEY_NEST] = "nest",
    [KEY_QUIET] = "quiet",
    [KEY_AUDIT] = "audit",
    [KEY_CHECK_TARGETS] = "check_targets",
    [KEY_ENV_PASS] = "env_pass",
    [KEY_ENV_FILE] = "env_file",
    [KEY_COMMAND] = "command",
};

static int load_key(struct loader *l, enum key key, yaml_node_t *v)
{
	switch (key) {
	case KEY_NAME:
		return load_string(l, "name", v, policy_set_name);
	case KEY_LINK:
		return load_string(l, "link", v, policy_set_link);
	case KEY_PROXY:
		return load_string(l, "proxy", v, policy_set_proxy);
	case KEY_ALLOW:
		return load_strings(l, "allow", v, policy_add_allow);
	case KEY_ENV:
		return load_env(l, v);
	case KEY_USER:
		return load_string(l, "user", v, policy_set_user);
	case KEY_SUBNET_POOL:
		return load_string(l, "subnet_pool", v, policy_set_pool);
	case KEY_VERBOSE:
		return load_bool(l, "verbose", v, &l->p->verbose);
	case KEY_FORWARD:
		return load_forward(l, v);
	case KEY_DNS:
		return load_dns(l, v);
	case KEY_ISOLATE:
		return load_bool(l, "isolate_streams", v, &l->p->isolate_streams);
	case KEY_UNIX:
		return load_string(l, "unix", v, policy_set_unix);
	case KEY_SECCOMP:
		return load_string(l, "seccomp", v, policy_set_seccomp);
	case KEY_WG_CONFIG:
		return load_string(l, "wg_config", v, policy_set_wg_config);
	case KEY_WG_BACKEND:
		return load_string(l, "wg_backend", v, policy_set_wg_backend);
	case KEY_WIREGUARD:
		return load_wireguard(l, v);
	case KEY_PUBLISH:
		return load_strings(l, "publish", v, policy_add_publish);
	case KEY_LISTEN:
		return load_strings(l, "listen", v, policy_add_listen);
	case KEY_NEST:
		return load_bool(l, "nest", v, &l->p->nest);
	case KEY_QUIET:
		return load_bool(l, "quiet", v, &l->p->quiet);
	case KEY_AUDIT:
		return load_string(l, "audit", v, policy_set_audit);
	case KEY_CHECK_TARGETS:
		return load_string(l, "check_targets", v, policy_set_check_targets);
	case KEY_ENV_PASS:
		return load_strings(l, "env_pass", v, policy_add_env_pass);
	case KEY_ENV_FILE:
		return load_string(l, "env_file", v, policy_add_env_file);
	case KEY_COMMAND:
		if (v->type == YAML_SCALAR_NODE)
			return load_string(l, "command", v, policy_add_command_word);
		return load_strings(l, "command", v, policy_add_command_word);
	default:
		return -EINVAL;
	}
}

static int load_root(struct loader *l, yaml_node_t *root)
{
	bool seen[_KEY_MAX] = {false};
	char q[72];
	int r;

	/* An empty file, or one holding only comments, is an empty profile. */
	if (root->type == YAML_SCALAR_NODE && is_null(root))
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return err_invalid("%s:%u:%u: a profile must be a mapping of keys to values",
				   l->path, line_of(root), col_of(root));

	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(l->doc, pr->value);
		enum key key;

		if (!k || !v || k->type != YAML_SCALAR_NODE)
			return err_invalid("%s:%u:%u: keys must be strings", l->path,
					   k ? line_of(k) : line_of(root),
					   k ? col_of(k) : col_of(root));
		for (key = 0; key < _KEY_MAX; key++)
			if (streq(scalar(k), key_names[key]))
				break;
		if (key == _KEY_MAX)
			return err_invalid("%s:%u:%u: unknown key \"%s\"", l->path, line_of(k),
					   col_of(k), quote(k, q));
		if (seen[key])
			return err_invalid("%s:%u:%u: duplicate key \"%s\"", l->path, line_of(k),
					   col_of(k), quote(k, q));
		seen[key] = true;
		r = load_key(l, key, v);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parser_error(const char *path, const yaml_parser_t *y)
{
	if (y->error == YAML_MEMORY_ERROR)
		return err_set(-ENOMEM, "%s", path);
	if (y->error == YAML_READER_ERROR)
		return err_invalid("%s: %s at byte %zu", path,
				   y->problem ? y->problem : "bad input", y->problem_offset);
	if (y->context)
		return err_invalid("%s:%zu:%zu: %s %s", path, y->problem_mark.line + 1,
				   y->problem_mark.column + 1, y->problem ? y->problem : "error",
				   y->context);
	return err_invalid("%s:%zu:%zu: %s", path, y->problem_mark.line + 1,
			   y->problem_mark.column + 1, y->problem ? y->problem : "syntax error");
}

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

/* The profiles shipped with sluice, built in (Makefile: profiles.builtin.h). */
static const struct {
	const char *name, *text;
} builtin[] = {
#include "profiles.builtin.h"
};

#define BUILTIN_PREFIX "built-in:"

/* Parse what y reads (its input set) into p; path names it in messages. */
static int load_parsed(yaml_parser_t *y, const char *path, struct policy *p)
{
	yaml_document_t doc, next;
	yaml_node_t *root;
	int r = 0;

	if (!yaml_parser_load(y, &doc))
		return parser_error(path, y);
	root = yaml_document_get_root_node(&doc);
	if (root) {
		struct loader l = {.path = path, .doc = &doc, .p = p};

		r = load_root(&l, root);
		if (r < 0)
			goto out;
	}
	/* A second document would be silently ignored; say so instead. */
	if (!yaml_parser_load(y, &next)) {
		r = parser_error(path, y);
		goto out;
	}
	root = yaml_document_get_root_node(&next);
	if (root)
		r = err_invalid("%s:%u:%u: a profile is a single YAML document", path,
				(unsigned)next.start_mark.line + 1,
				(unsigned)next.start_mark.column + 1);
	yaml_document_delete(&next);
out:
	yaml_document_delete(&doc);
	return r;
}

int profile_load(const char *path, struct policy *p)
{
	_cleanup_(fclosep) FILE *f = NULL;
	_cleanup_close_ int fd = -1;
	yaml_parser_t y;
	struct stat st;
	int r;

	if (startswith(path, BUILTIN_PREFIX)) {
		for (size_t i = 0; i < ARRAY_SIZE(builtin); i++)
			if (streq(builtin[i].name, path + strlen(BUILTIN_PREFIX))) {
				if (!yaml_parser_initialize(&y))
					return err_set(-ENOMEM, "profile %s", path);
				yaml_parser_set_input_string(&y, (const unsigned char *)builtin[i].text,
							     strlen(builtin[i].text));
				r = load_parsed(&y, path, p);
				yaml_parser_delete(&y);
				return r;
			}
		return err_set(-ENOENT, "profile %s", path);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return err_set(negative_errno(), "profile %s", path);
	if (fstat(fd, &st) < 0)
		return err_set(negative_errno(), "profile %s", path);
	if (S_ISDIR(st.st_mode))
		return err_set(-EISDIR, "profile %s", path);
	if (!S_ISREG(st.st_mode))
		return err_invalid("profile %s: not a regular file", path);
	if (st.st_size > PROFILE_SIZE_MAX)
		return err_invalid("profile %s: larger than %d bytes", path, PROFILE_SIZE_MAX);
	f = fdopen(fd, "re");
	if (!f)
		return err_set(negative_errno(), "profile %s", path);
	TAKE_FD(fd);

	if (!yaml_parser_initialize(&y))
		return err_set(-ENOMEM, "profile %s", path);
	yaml_parser_set_input_file(&y, f);
	r = load_parsed(&y, path, p);
	yaml_parser_delete(&y);
	return r;
}

static bool endswith(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && streq(s + n - m, suffix);
}

static const char *builtin_names(void)
{
	static char names[256];
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(builtin) && n < sizeof(names); i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
				      builtin[i].name);
	return names;
}

/* An explicit path is used as given (profile_load reports if it cannot be read); a bare name
 * is looked up in the working directory's profiles/ first, so a project can carry its own,
 * then in SLUICE_PROFILE_DIR, then among the built-in ones (the shipped profiles). */
int profile_find(const char *arg, char *buf, size_t len)
{
	const char *const dirs[] = {"./profiles", SLUICE_PROFILE_DIR};
	struct stat st;
	int n;

	if (!*arg)
		return err_invalid("profile: empty name");
	if (strchr(arg, '/') || endswith(arg, ".yaml") || endswith(arg, ".yml")) {
		n = snprintf(buf, len, "%s", arg);
		if (n < 0 || (size_t)n >= len)
			return err_set(-ENAMETOOLONG, "profile %s", arg);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		n = snprintf(buf, len, "%s/%s.yaml", dirs[i], arg);
		if (n < 0 || (size_t)n >= len)
			return err_set(-ENAMETOOLONG, "profile %s", arg);
		if (stat(buf, &st) == 0)
			return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(builtin); i++)
		if (streq(builtin[i].name, arg)) {
			snprintf(buf, len, BUILTIN_PREFIX "%s", arg);
			return 0;
		}
	return err_set(-ENOENT, "profile \"%s\" (looked for %s/%s.yaml and %s/%s.yaml; the "
				"built-in ones are %s)",
		       arg, dirs[0], arg, dirs[1], arg, builtin_names());
}
