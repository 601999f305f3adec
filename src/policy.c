/* policy.c: owns struct policy's values: the setters the command line and profile.c share
 * (each checks its one value) and policy_finish (checks of the whole, defaults). Pure: no
 * kernel, no filesystem. Every list a user can grow has a limit with its own error. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "policy.h"

#define POLICY_ALLOW_MAX 256
#define POLICY_ENV_MAX	 256
/* One "K=V" entry: generous for PATH-like values, small enough that a profile cannot make the
 * command's environment exceed the kernel's argument+environment limit on its own. */
#define POLICY_ENV_ENTRY_MAX 32768
#define POLICY_USER_MAX	     255

#define DEFAULT_POOL	 "10.200.0.0"
#define DEFAULT_POOL_LEN 16

_printf_(3, 4) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Copy v for an error message: at most 64 bytes, control characters as '?' (one line). */
static const char *echo(const char *v, char *buf, size_t len)
{
	size_t i;

	for (i = 0; v[i] && i + 4 < len && i < 64; i++)
		buf[i] = iscntrl((unsigned char)v[i]) ? '?' : v[i];
	buf[i] = '\0';
	if (v[i])
		strcat(buf, "...");
	return buf;
}

void policy_init(struct policy *p)
{
	memset(p, 0, sizeof(*p));
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->allow);
	strv_free(p->env);
	free(p->user);
	policy_init(p);
}

/* [A-Za-z0-9][A-Za-z0-9_.-]{0,31}: it becomes part of cgroup, table and file names. */
int policy_set_name(struct policy *p, const char *v, char *err, size_t errlen)
{
	char e[80];
	size_t n = strlen(v);
	bool ok = n > 0 && n <= CAGE_NAME_MAX && isalnum((unsigned char)v[0]);

	for (size_t i = 1; ok && i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		ok = isalnum(c) || c == '_' || c == '.' || c == '-';
	}
	if (!ok)
		return fail(err, errlen,
			    "\"%s\" is not a valid cage name (1-%d of A-Z a-z 0-9 _ . -, starting "
			    "with a letter or digit)",
			    echo(v, e, sizeof(e)), CAGE_NAME_MAX);
	memcpy(p->name, v, n + 1);
	return 0;
}

int policy_set_link(struct policy *p, const char *v, char *err, size_t errlen)
{
	char e[80];

	if (streq(v, "veth")) {
		p->link = LINK_VETH;
		return 0;
	}
	if (streq(v, "none") || streq(v, "wireguard"))
		return fail(err, errlen,
			    "link mode \"%s\" is not available in this version (only veth)", v);
	return fail(err, errlen, "unknown link mode \"%s\" (veth, none or wireguard)",
		    echo(v, e, sizeof(e)));
}

int policy_set_proxy(struct policy *p, const char *v, char *err, size_t errlen)
{
	struct endpoint e;
	int r;

	r = addr_parse_proxy(v, &e, err, errlen);
	if (r < 0)
		return r;
	p->proxy = e;
	p->has_proxy = true;
	return 0;
}

/* Duplicates are dropped here (and again in policy_finish): the same endpoint named by the
 * profile and by --allow is one endpoint, not a mistake worth stopping for. */
int policy_add_allow(struct policy *p, const char *v, char *err, size_t errlen)
{
	struct endpoint e, *a;
	int r;

	r = addr_parse(v, &e, err, errlen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_allow; i++)
		if (addr_equal(&p->allow[i], &e))
			return 0;
	if (p->n_allow >= POLICY_ALLOW_MAX)
		return fail(err, errlen, "too many allowed endpoints (at most %d)",
			    POLICY_ALLOW_MAX);
	a = realloc(p->allow, (p->n_allow + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	a[p->n_allow++] = e;
	p->allow = a;
	return 0;
}

static bool env_key_valid(const char *k, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)k[0]) || k[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)k[i]) || k[i] == '_'))
			return false;
	return true;
}

int policy_add_env(struct policy *p, const char *k_eq_v, char *err, size_t errlen)
{
	const char *eq = strchr(k_eq_v, '=');
	size_t klen, n = 0;
	char e[80], **v;
	char *dup;

	if (!eq)
		return fail(err, errlen, "\"%s\": expected KEY=VALUE", echo(k_eq_v, e, sizeof(e)));
	klen = (size_t)(eq - k_eq_v);
	if (!env_key_valid(k_eq_v, klen))
		return fail(err, errlen,
			    "\"%.*s\" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)",
			    (int)(klen < 64 ? klen : 64), k_eq_v);
	if (strlen(k_eq_v) > POLICY_ENV_ENTRY_MAX)
		return fail(err, errlen, "%.*s: value too long (at most %d bytes)", (int)klen,
			    k_eq_v, POLICY_ENV_ENTRY_MAX);

	dup = strdup(k_eq_v);
	if (!dup)
		return -ENOMEM;
	if (p->env)
		for (; p->env[n]; n++)
			if (strncmp(p->env[n], k_eq_v, klen + 1) == 0) {
				free(p->env[n]);
				p->env[n] = dup;
				return 0;
			}
	if (n >= POLICY_ENV_MAX) {
		free(dup);
		return fail(err, errlen, "too many environment variables (at most %d)",
			    POLICY_ENV_MAX);
	}
	v = realloc(p->env, (n + 2) * sizeof(*v));
	if (!v) {
		free(dup);
		return -ENOMEM;
	}
	v[n] = dup;
	v[n + 1] = NULL;
	p->env = v;
	return 0;
}

/* A user name or numeric uid; ':' and '/' would make it a path or a user:group pair. */
int policy_set_user(struct policy *p, const char *v, char *err, size_t errlen)
{
	char e[80];
	char *dup;

	if (!*v)
		return fail(err, errlen, "user name is empty");
	if (strlen(v) > POLICY_USER_MAX)
		return fail(err, errlen, "user name too long (at most %d bytes)", POLICY_USER_MAX);
	for (const char *c = v; *c; c++)
		if (*c == ':' || *c == '/' || iscntrl((unsigned char)*c) || *c == ' ')
			return fail(err, errlen, "\"%s\" is not a valid user name",
				    echo(v, e, sizeof(e)));
	dup = strdup(v);
	if (!dup)
		return -ENOMEM;
	free(p->user);
	p->user = dup;
	return 0;
}

int policy_set_pool(struct policy *p, const char *v, char *err, size_t errlen)
{
	char addr[INET_ADDRSTRLEN], e[80], base[INET_ADDRSTRLEN];
	const char *slash = strchr(v, '/');
	struct in_addr a;
	uint32_t mask;
	unsigned len = 0;
	size_t n;

	if (!slash || (size_t)(slash - v) >= sizeof(addr))
		return fail(err, errlen, "\"%s\": expected A.B.C.D/N", echo(v, e, sizeof(e)));
	n = (size_t)(slash - v);
	memcpy(addr, v, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, &a) != 1)
		return fail(err, errlen, "\"%s\": bad IPv4 address", echo(v, e, sizeof(e)));
	if (!slash[1] || strlen(slash + 1) > 2)
		return fail(err, errlen, "\"%s\": bad prefix length", echo(v, e, sizeof(e)));
	for (const char *c = slash + 1; *c; c++) {
		if (!isdigit((unsigned char)*c))
			return fail(err, errlen, "\"%s\": bad prefix length",
				    echo(v, e, sizeof(e)));
		len = len * 10 + (unsigned)(*c - '0');
	}
	/* At least /28: the pool must hold a few /30s; at most /8: a pool is a private range. */
	if (len < 8 || len > 28)
		return fail(err, errlen, "\"%s\": prefix length must be 8 to 28",
			    echo(v, e, sizeof(e)));
	mask = htonl(~0U << (32 - len));
	if (a.s_addr & ~mask) {
		struct in_addr b = {.s_addr = a.s_addr & mask};

		inet_ntop(AF_INET, &b, base, sizeof(base));
		return fail(err, errlen, "\"%s\": host bits set (did you mean %s/%u?)",
			    echo(v, e, sizeof(e)), base, len);
	}
	p->pool.base = a;
	p->pool.len = len;
	p->has_pool = true;
	return 0;
}

static bool addr_is_unspecified(const struct endpoint *e)
{
	if (e->family == AF_INET)
		return e->ip.v4.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&e->ip.v6);
}

/* Where the cage reaches an endpoint: a veth cage has its own lo, so 127.0.0.1 there is the
 * cage itself, never the host's proxy; 0.0.0.0 and :: likewise mean "this host" to connect(). */
static int check_reachable(const struct policy *p, const struct endpoint *e, bool is_proxy)
{
	const char *noun = is_proxy ? "proxy" : "endpoint";
	char s[ADDR_STR_MAX];

	if (is_proxy)
		addr_format_url(e, s, sizeof(s));
	else
		addr_format(e, s, sizeof(s));
	if (addr_is_unspecified(e))
		return err_invalid("%s %s: an unspecified address (0.0.0.0, ::) is not a "
				   "destination; use a host address",
				   is_proxy ? "proxy" : "allow", s);
	if (p->link == LINK_VETH && addr_is_loopback(e))
		return err_invalid("%s %s: a loopback %s is not reachable from a veth cage; use a "
				   "host address",
				   is_proxy ? "proxy" : "allow", s, noun);
	return 0;
}

int policy_finish(struct policy *p)
{
	size_t n = 0;
	int r;

	if (p->link == LINK_UNSET)
		p->link = LINK_VETH;
	if (p->link != LINK_VETH)
		return err_invalid("link mode \"%s\" is not available in this version (only veth)",
				   p->link == LINK_NONE ? "none" : "wireguard");

	if (!p->has_pool) {
		inet_pton(AF_INET, DEFAULT_POOL, &p->pool.base);
		p->pool.len = DEFAULT_POOL_LEN;
		p->has_pool = true;
	}

	if (p->has_proxy) {
		if (p->proxy.scheme == SCHEME_NONE)
			return err_invalid(
			    "proxy must be a URL (http://, socks5:// or socks5h://)");
		r = check_reachable(p, &p->proxy, true);
		if (r < 0)
			return r;
	}

	/* Drop repeats, and entries that are the proxy itself: plan lists the proxy first. */
	for (size_t i = 0; i < p->n_allow; i++) {
		bool dup = p->has_proxy && addr_equal(&p->allow[i], &p->proxy);

		for (size_t j = 0; j < n && !dup; j++)
			dup = addr_equal(&p->allow[j], &p->allow[i]);
		if (dup)
			continue;
		r = check_reachable(p, &p->allow[i], false);
		if (r < 0)
			return r;
		p->allow[n++] = p->allow[i];
	}
	p->n_allow = n;
	return 0;
}
