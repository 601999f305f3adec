/* policy.c: owns struct policy's values: the setters the command line and profile.c share
 * (each checks its one value) and policy_finish (checks of the whole, defaults). Pure: no
 * kernel, no filesystem. Every list a user can grow has a limit with its own error. */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "log.h"
#include "policy.h"
#include "wgconf.h"

#define POLICY_ALLOW_MAX 256
#define POLICY_ENV_MAX	 256
/* One "K=V" entry: generous for PATH-like values, small enough that a profile cannot make the
 * command's environment exceed the kernel's argument+environment limit on its own. */
#define POLICY_ENV_ENTRY_MAX 32768
#define POLICY_USER_MAX	     255
#define POLICY_FORWARD_MAX   64
#define POLICY_PUBLISH_MAX   32
#define POLICY_LISTEN_MAX    32
#define POLICY_DNS_MAX	     256

#define DEFAULT_POOL	 "10.200.0.0"
#define DEFAULT_POOL_LEN 16

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
	free(p->forward);
	free(p->publish);
	free(p->listen);
	free(p->dns);
	free(p->allow_unix);
	strv_free(p->env_pass);
	strv_free(p->command);
	free(p->audit);
	free(p->learn);
	free(p->wg_config);
	wg_config_free(p->wg_built);
	free(p->wg_built);
	strv_free(p->env);
	free(p->user);
	proxy_auth_free(p->proxy_auth);
	policy_init(p);
}

int proxy_auth_dup(const struct proxy_auth *a, struct proxy_auth **ret)
{
	*ret = NULL;
	if (!a)
		return 0;
	*ret = malloc(sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	**ret = *a;
	return 0;
}

void proxy_auth_free(struct proxy_auth *a)
{
	if (!a)
		return;
	explicit_bzero(a, sizeof(*a));
	free(a);
}

/* [A-Za-z0-9][A-Za-z0-9_.-]{0,31}: it becomes part of cgroup, table and file names. */
int policy_check_name(const char *v)
{
	char e[80];
	size_t n = strlen(v);
	bool ok = n > 0 && n <= CAGE_NAME_MAX && isalnum((unsigned char)v[0]);

	for (size_t i = 1; ok && i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		ok = isalnum(c) || c == '_' || c == '.' || c == '-';
	}
	if (!ok)
		return err_invalid(
		    "\"%s\" is not a valid cage name (1-%d of A-Z a-z 0-9 _ . -, starting "
		    "with a letter or digit)",
		    echo(v, e, sizeof(e)), CAGE_NAME_MAX);
	return 0;
}

static bool endswith_slash(const char *s)
{
	size_t n = strlen(s);

	return n && s[n - 1] == '/';
}

int policy_set_name(struct policy *p, const char *v)
{
	int r = policy_check_name(v);

	if (r == 0)
		memcpy(p->name, v, strlen(v) + 1);
	return r;
}

static int set_path(char **field, const char *what, const char *v)
{
	char *c;

	if (!v || !*v)
		return err_invalid("%s: a file name is needed", what);
	if (strlen(v) >= 4096)
		return err_invalid("%s: the file name is too long", what);
	c = strdup(v);
	if (!c)
		return -ENOMEM;
	free(*field);
	*field = c;
	return 0;
}

int policy_set_audit(struct policy *p, const char *v)
{
	return set_path(&p->audit, "audit", v);
}

int policy_set_learn(struct policy *p, const char *v)
{
	if (v && streq(v, "-"))
		return err_invalid("learn: a file name is needed (the profile is written there)");
	return set_path(&p->learn, "learn", v);
}

int policy_set_check_targets(struct policy *p, const char *v)
{
	if (streq(v, "warn"))
		p->check_targets = CHECK_TARGETS_WARN;
	else if (streq(v, "require"))
		p->check_targets = CHECK_TARGETS_REQUIRE;
	else if (streq(v, "off"))
		p->check_targets = CHECK_TARGETS_OFF;
	else
		return err_invalid("\"%s\": check_targets is warn, require or off", v);
	return 0;
}

int policy_set_link(struct policy *p, const char *v)
{
	char e[80];

	if (streq(v, "veth")) {
		p->link = LINK_VETH;
		return 0;
	}
	if (streq(v, "none")) {
		p->link = LINK_NONE;
		return 0;
	}
	if (streq(v, "wireguard")) {
		p->link = LINK_WIREGUARD;
		return 0;
	}
	return err_invalid("unknown link mode \"%s\" (veth, none or wireguard)",
			   echo(v, e, sizeof(e)));
}

int policy_proxy_userinfo(const char *v, size_t *ret_at, size_t *ret_len)
{
	const char *auth = strstr(v, "://"), *end, *at;

	if (!auth)
		return -ENOENT;
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	/* The last '@' ends it: a password may hold one unencoded, a host never does. */
	at = memrchr(auth, '@', (size_t)(end - auth));
	if (!at)
		return -ENOENT;
	*ret_at = (size_t)(auth - v);
	*ret_len = (size_t)(at + 1 - auth);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode the LEN bytes at S into OUT (SIZE bytes, NUL-terminated). */
static int pct_decode(const char *s, size_t len, char *out, size_t size, const char *what)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(s[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return err_invalid("proxy URL: a bad %%-escape in the %s", what);
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0)
			return err_invalid("proxy URL: the %s holds a NUL byte", what);
		if (n + 1 >= size)
			return err_invalid("proxy URL: the %s is longer than %zu bytes", what,
					   size - 1);
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

int policy_set_proxy(struct policy *p, const char *v)
{
	_cleanup_free_ char *bare = NULL;
	struct proxy_auth *a = NULL;
	struct endpoint e;
	size_t at, len;
	int r;

	if (policy_proxy_userinfo(v, &at, &len) == 0) {
		const char *ui = v + at, *colon = memchr(ui, ':', len - 1);
		size_t ulen = colon ? (size_t)(colon - ui) : len - 1;

		bare = malloc(strlen(v) + 1);
		a = calloc(1, sizeof(*a));
		if (!bare || !a) {
			free(a);
			return -ENOMEM;
		}
		memcpy(bare, v, at);
		strcpy(bare + at, v + at + len);
		r = pct_decode(ui, ulen, a->user, sizeof(a->user), "user name");
		if (r == 0 && colon)
			r = pct_decode(colon + 1, len - 1 - ulen - 1, a->pass, sizeof(a->pass),
				       "password");
		if (r == 0 && !a->user[0])
			r = err_invalid("proxy URL: credentials without a user name");
		if (r < 0) {
			proxy_auth_free(a);
			return r;
		}
		v = bare;
	}
	r = addr_parse_proxy(v, &e);
	if (r < 0) {
		proxy_auth_free(a);
		return r;
	}
	p->proxy = e;
	p->has_proxy = true;
	proxy_auth_free(p->proxy_auth);
	p->proxy_auth = a;
	return 0;
}

/* Duplicates are dropped here (and again in policy_finish): the same endpoint named by the
 * profile and by --allow is one endpoint, not a mistake worth stopping for. */
static int add_allow_unix(struct policy *p, const char *path)
{
	struct unix_allow u = {0}, *a;
	size_t n = strlen(path);
	char e[80];

	if (path[0] != '/' || n < 2)
		return err_invalid("\"%s\": a unix socket is allowed by its absolute path",
				   echo(path, e, sizeof(e)));
	if (n >= sizeof(u.path))
		return err_invalid("\"%s\": a unix socket path is at most %zu bytes",
				   echo(path, e, sizeof(e)), sizeof(u.path) - 1);
	if (strstr(path, "/../") || strstr(path, "/./") || strstr(path, "//") ||
	    (n >= 3 && streq(path + n - 3, "/..")))
		return err_invalid("\"%s\": the path must be plain (no //, . or ..)",
				   echo(path, e, sizeof(e)));
	memcpy(u.path, path, n + 1);
	u.prefix = path[n - 1] == '/';
	for (size_t i = 0; i < p->n_allow_unix; i++)
		if (streq(p->allow_unix[i].path, u.path))
			return 0;
	if (p->n_allow_unix >= POLICY_ALLOW_MAX)
		return err_invalid("too many allowed unix sockets (at most %d)", POLICY_ALLOW_MAX);
	a = realloc(p->allow_unix, (p->n_allow_unix + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	a[p->n_allow_unix++] = u;
	p->allow_unix = a;
	return 0;
}

void policy_set_wg_built(struct policy *p, struct wg_config *c)
{
	wg_config_free(p->wg_built);
	free(p->wg_built);
	p->wg_built = c;
}

int policy_set_wg_config(struct policy *p, const char *v)
{
	char *dup;

	if (!*v)
		return err_invalid("the WireGuard config path is empty");
	dup = strdup(v);
	if (!dup)
		return -ENOMEM;
	free(p->wg_config);
	p->wg_config = dup;
	return 0;
}

int policy_set_wg_backend(struct policy *p, const char *v)
{
	char e[80];

	if (streq(v, "auto"))
		p->wg_backend = WG_BACKEND_AUTO;
	else if (streq(v, "kernel"))
		p->wg_backend = WG_BACKEND_KERNEL;
	else if (streq(v, "userspace"))
		p->wg_backend = WG_BACKEND_USERSPACE;
	else
		return err_invalid("unknown WireGuard backend \"%s\" (auto, kernel or "
				   "userspace)",
				   echo(v, e, sizeof(e)));
	return 0;
}

int policy_set_seccomp(struct policy *p, const char *v)
{
	char e[80];

	if (streq(v, "default"))
		p->seccomp_mode = SECCOMP_DEFAULT;
	else if (streq(v, "off"))
		p->seccomp_mode = SECCOMP_OFF;
	else
		return err_invalid("unknown seccomp mode \"%s\" (default or off)",
				   echo(v, e, sizeof(e)));
	return 0;
}

int policy_set_unix(struct policy *p, const char *v)
{
	char e[80];

	if (streq(v, "auto"))
		p->unix_mode = UNIX_AUTO;
	else if (streq(v, "strict"))
		p->unix_mode = UNIX_STRICT;
	else
		return err_invalid("unknown unix mode \"%s\" (auto or strict)",
				   echo(v, e, sizeof(e)));
	return 0;
}

int policy_add_allow(struct policy *p, const char *v)
{
	struct endpoint e, *a;
	int r;

	if (startswith(v, "/unix/"))
		return add_allow_unix(p, v + 5);

	r = addr_parse(v, &e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_allow; i++)
		if (addr_equal(&p->allow[i], &e))
			return 0;
	if (p->n_allow >= POLICY_ALLOW_MAX)
		return err_invalid("too many allowed endpoints (at most %d)", POLICY_ALLOW_MAX);
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

int policy_add_env(struct policy *p, const char *k_eq_v)
{
	const char *eq = strchr(k_eq_v, '=');
	size_t klen, n = 0;
	char **v;
	char *dup;

	if (!eq)
		return policy_add_env_pass(p, k_eq_v);
	klen = (size_t)(eq - k_eq_v);
	if (!env_key_valid(k_eq_v, klen))
		return err_invalid("\"%.*s\" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)",
				   (int)(klen < 64 ? klen : 64), k_eq_v);
	if (strlen(k_eq_v) > POLICY_ENV_ENTRY_MAX)
		return err_invalid("%.*s: value too long (at most %d bytes)", (int)klen, k_eq_v,
				   POLICY_ENV_ENTRY_MAX);

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
		return err_invalid("too many environment variables (at most %d)", POLICY_ENV_MAX);
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

int policy_add_env_pass(struct policy *p, const char *name)
{
	size_t n = 0;
	char **v, *dup;

	if (!env_key_valid(name, strlen(name)))
		return err_invalid("\"%.64s\" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)",
				   name);
	for (; p->env_pass && p->env_pass[n]; n++)
		if (streq(p->env_pass[n], name))
			return 0;
	if (n >= POLICY_ENV_MAX)
		return err_invalid("too many variables passed (at most %d)", POLICY_ENV_MAX);
	dup = strdup(name);
	v = dup ? realloc(p->env_pass, (n + 2) * sizeof(*v)) : NULL;
	if (!v) {
		free(dup);
		return -ENOMEM;
	}
	v[n] = dup;
	v[n + 1] = NULL;
	p->env_pass = v;
	return 0;
}

int policy_add_command_word(struct policy *p, const char *word)
{
	size_t n = 0;
	char **v, *dup;

	for (; p->command && p->command[n]; n++)
		;
	if (n == 0 && !*word)
		return err_invalid("command: the program's name is empty");
	if (n >= 4096)
		return err_invalid("command: too many words");
	dup = strdup(word);
	v = dup ? realloc(p->command, (n + 2) * sizeof(*v)) : NULL;
	if (!v) {
		free(dup);
		return -ENOMEM;
	}
	v[n] = dup;
	v[n + 1] = NULL;
	p->command = v;
	return 0;
}

int policy_add_env_file(struct policy *p, const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, line = 1;
	struct stat st;
	int r;

	if (fd < 0)
		return err_set(negative_errno(), "%s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 1024 * 1024)
		return err_invalid("%s: not a regular file of at most 1 MiB", path);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (len < (size_t)st.st_size) {
		ssize_t got = read(fd, buf + len, (size_t)st.st_size - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len))
		return err_invalid("%s: a NUL byte", path);
	for (char *s = buf, *nl; s && *s; s = nl ? nl + 1 : NULL, line++) {
		nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		if (nl && nl > s && nl[-1] == '\r')
			nl[-1] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			continue;
		if (!strchr(s, '='))
			return err_invalid("%s:%zu: expected KEY=VALUE", path, line);
		r = policy_add_env(p, s);
		if (r < 0)
			return err_wrap(r, "%s:%zu", path, line);
	}
	return 0;
}

/* A user name or numeric uid; ':' and '/' would make it a path or a user:group pair. */
int policy_set_user(struct policy *p, const char *v)
{
	char e[80];
	char *dup;

	if (!*v)
		return err_invalid("user name is empty");
	if (strlen(v) > POLICY_USER_MAX)
		return err_invalid("user name too long (at most %d bytes)", POLICY_USER_MAX);
	for (const char *c = v; *c; c++)
		if (*c == ':' || *c == '/' || iscntrl((unsigned char)*c) || *c == ' ')
			return err_invalid("\"%s\" is not a valid user name",
					   echo(v, e, sizeof(e)));
	dup = strdup(v);
	if (!dup)
		return -ENOMEM;
	free(p->user);
	p->user = dup;
	return 0;
}

int policy_set_pool(struct policy *p, const char *v)
{
	char addr[INET_ADDRSTRLEN], e[80], base[INET_ADDRSTRLEN];
	const char *slash = strchr(v, '/');
	struct in_addr a;
	uint32_t mask;
	unsigned len = 0;
	size_t n;

	if (!slash || (size_t)(slash - v) >= sizeof(addr))
		return err_invalid("\"%s\": expected A.B.C.D/N", echo(v, e, sizeof(e)));
	n = (size_t)(slash - v);
	memcpy(addr, v, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, &a) != 1)
		return err_invalid("\"%s\": bad IPv4 address", echo(v, e, sizeof(e)));
	if (!slash[1] || strlen(slash + 1) > 2)
		return err_invalid("\"%s\": bad prefix length", echo(v, e, sizeof(e)));
	for (const char *c = slash + 1; *c; c++) {
		if (!isdigit((unsigned char)*c))
			return err_invalid("\"%s\": bad prefix length", echo(v, e, sizeof(e)));
		len = len * 10 + (unsigned)(*c - '0');
	}
	/* At least /28: the pool must hold a few /30s; at most /8: a pool is a private range. */
	if (len < 8 || len > 28)
		return err_invalid("\"%s\": prefix length must be 8 to 28", echo(v, e, sizeof(e)));
	mask = htonl(~0U << (32 - len));
	if (a.s_addr & ~mask) {
		struct in_addr b = {.s_addr = a.s_addr & mask};

		inet_ntop(AF_INET, &b, base, sizeof(base));
		return err_invalid("\"%s\": host bits set (did you mean %s/%u?)",
				   echo(v, e, sizeof(e)), base, len);
	}
	p->pool.base = a;
	p->pool.len = len;
	p->has_pool = true;
	return 0;
}

/* LISTEN: "PORT" (127.0.0.1), "127.x.y.z:PORT" or "[::1]:PORT": a TCP port on the cage's lo. */
static int parse_listen(const char *v, struct endpoint *ret)
{
	char e[80], buf[16];
	bool digits = *v != '\0';
	int r;

	for (const char *c = v; *c; c++)
		digits &= isdigit((unsigned char)*c) != 0;
	if (digits && strlen(v) <= 5) {
		snprintf(buf, sizeof(buf), "127.0.0.1:%s", v);
		v = buf;
	}
	r = addr_parse(v, ret);
	if (r < 0)
		return r;
	if (ret->scheme != SCHEME_NONE || ret->proto != IPPROTO_TCP)
		return err_invalid("\"%s\": a forward listens on a TCP port (PORT, "
				   "127.0.0.1:PORT or [::1]:PORT)",
				   echo(v, e, sizeof(e)));
	if (!addr_is_loopback(ret))
		return err_invalid("\"%s\": a forward listens on the cage's loopback "
				   "(127.0.0.0/8 or ::1)",
				   echo(v, e, sizeof(e)));
	return 0;
}

static int parse_target(const char *v, struct forward *f)
{
	const char *path = NULL;
	char e[80];

	if (startswith(v, "/unix/"))
		path = v + 5;
	else if (v[0] == '/' && !startswith(v, "/ip4/") && !startswith(v, "/ip6/") &&
		 !startswith(v, "/dns"))
		path = v;
	if (path) {
		if (strlen(path) >= sizeof(f->path))
			return err_invalid("\"%s\": a unix socket path is at most %zu bytes",
					   echo(v, e, sizeof(e)), sizeof(f->path) - 1);
		f->kind = TARGET_UNIX;
		snprintf(f->path, sizeof(f->path), "%s", path);
		return 0;
	}
	f->kind = TARGET_TCP;
	if (addr_parse(v, &f->target) < 0)
		return -EINVAL;
	if (f->target.proto != IPPROTO_TCP)
		return err_invalid("\"%s\": a forward's target is TCP or a unix socket",
				   echo(v, e, sizeof(e)));
	return 0;
}

int policy_add_forward_parts(struct policy *p, const char *listen, const char *target,
			     bool isolate_streams)
{
	struct forward f = {.isolate_streams = isolate_streams}, *v;
	int r;

	r = parse_listen(listen, &f.listen);
	if (r == 0)
		r = parse_target(target, &f);
	if (r < 0)
		return r;
	if (isolate_streams && (f.kind != TARGET_TCP || (f.target.scheme != SCHEME_SOCKS5 &&
							 f.target.scheme != SCHEME_SOCKS5H)))
		return err_invalid("isolate_streams needs a socks5:// or socks5h:// target");
	for (size_t i = 0; i < p->n_forward; i++)
		if (addr_equal(&p->forward[i].listen, &f.listen)) {
			char s[ADDR_STR_MAX];

			return err_invalid("%s is forwarded twice",
					   addr_format(&f.listen, s, sizeof(s)));
		}
	if (p->n_forward >= POLICY_FORWARD_MAX)
		return err_invalid("too many forwards (at most %d)", POLICY_FORWARD_MAX);
	v = realloc(p->forward, (p->n_forward + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[p->n_forward++] = f;
	p->forward = v;
	return 0;
}

int policy_add_forward(struct policy *p, const char *v)
{
	static const char suffix[] = ",isolate_streams";
	const char *eq = strchr(v, '=');
	_cleanup_free_ char *listen = NULL, *target = NULL;
	size_t n;
	bool iso;
	char e[80];

	if (!eq)
		return err_invalid("\"%s\": expected LISTEN=TARGET", echo(v, e, sizeof(e)));
	listen = strndup(v, (size_t)(eq - v));
	target = strdup(eq + 1);
	if (!listen || !target)
		return -ENOMEM;
	n = strlen(target);
	iso = n > sizeof(suffix) - 1 && streq(target + n - (sizeof(suffix) - 1), suffix);
	if (iso)
		target[n - (sizeof(suffix) - 1)] = '\0';
	return policy_add_forward_parts(p, listen, target, iso);
}

static bool all_digits(const char *v)
{
	if (!*v)
		return false;
	for (; *v; v++)
		if (!isdigit((unsigned char)*v))
			return false;
	return true;
}

static int parse_port(const char *v, uint16_t *ret)
{
	char e[80];
	unsigned long n;

	if (!all_digits(v) || strlen(v) > 5 || (n = strtoul(v, NULL, 10)) == 0 || n > 65535)
		return err_invalid("\"%s\": a port is 1..65535", echo(v, e, sizeof(e)));
	*ret = (uint16_t)n;
	return 0;
}

int policy_add_publish(struct policy *p, const char *v)
{
	_cleanup_free_ char *host = strdup(v);
	struct publish pub = {0}, *n;
	char *eq, e[80], buf[80];
	int r;

	if (!host)
		return -ENOMEM;
	eq = strrchr(host, '=');
	if (eq)
		*eq = '\0';
	if (all_digits(host) && strlen(host) <= 5) {
		snprintf(buf, sizeof(buf), "127.0.0.1:%s", host);
		r = addr_parse(buf, &pub.host);
	} else {
		r = addr_parse(host, &pub.host);
	}
	if (r < 0)
		return r;
	if (pub.host.scheme != SCHEME_NONE || pub.host.proto != IPPROTO_TCP || pub.host.has_wg)
		return err_invalid("\"%s\": a published port is TCP: [HOSTADDR:]PORT[=CAGEPORT]",
				   echo(v, e, sizeof(e)));
	pub.cage_port = pub.host.port;
	if (eq) {
		r = parse_port(eq + 1, &pub.cage_port);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < p->n_publish; i++)
		if (addr_equal(&p->publish[i].host, &pub.host))
			return err_invalid("%s is published twice",
					   addr_format(&pub.host, buf, sizeof(buf)));
	if (p->n_publish >= POLICY_PUBLISH_MAX)
		return err_invalid("too many published ports (at most %d)", POLICY_PUBLISH_MAX);
	n = realloc(p->publish, (p->n_publish + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	n[p->n_publish++] = pub;
	p->publish = n;
	return 0;
}

int policy_add_listen(struct policy *p, const char *v)
{
	_cleanup_free_ char *ep = strdup(v);
	struct listen_rule l = {0}, *n;
	char *at, e[80];
	int r;

	if (!ep)
		return -ENOMEM;
	at = strchr(ep, '@');
	if (at)
		*at++ = '\0';
	if (all_digits(ep)) {
		r = parse_port(ep, &l.ep.port);
		l.ep.proto = IPPROTO_TCP;
	} else {
		r = addr_parse(ep, &l.ep);
		if (r == 0 && (l.ep.scheme != SCHEME_NONE || l.ep.proto != IPPROTO_TCP))
			r = err_invalid("\"%s\": a cage listens on TCP: PORT, ADDR:PORT or "
					"/ip4/ADDR/tcp/PORT",
					echo(v, e, sizeof(e)));
		if (r == 0 && l.ep.has_bearer)
			r = err_invalid("\"%s\": a listen address has no bearer: "
					"/ip4/ADDR/tcp/PORT/wg/u<key>",
					echo(v, e, sizeof(e)));
	}
	if (r < 0)
		return r;
	while (at && *at) {
		char *comma = strchr(at, ',');

		if (comma)
			*comma = '\0';
		if (l.n_from >= LISTEN_FROM_MAX)
			return err_invalid("\"%s\": at most %d sources", echo(v, e, sizeof(e)),
					   LISTEN_FROM_MAX);
		r = addr_parse_cidr(at, &l.from[l.n_from]);
		if (r < 0)
			return r;
		if (l.ep.family && l.from[l.n_from].family != l.ep.family)
			return err_invalid("\"%s\": a source of another address family than the "
					   "address it may reach",
					   echo(v, e, sizeof(e)));
		l.n_from++;
		at = comma ? comma + 1 : NULL;
		if (!at)
			break;
	}
	if (at && !*at)
		return err_invalid("\"%s\": nothing after \"@\" or \",\" (sources: ADDR or "
				   "ADDR/PREFIX)",
				   echo(v, e, sizeof(e)));
	if (p->n_listen >= POLICY_LISTEN_MAX)
		return err_invalid("too many listen rules (at most %d)", POLICY_LISTEN_MAX);
	n = realloc(p->listen, (p->n_listen + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	n[p->n_listen++] = l;
	p->listen = n;
	return 0;
}

/* RFC 1123 host names: labels of letters, digits and '-' (not first or last; '_' too, which
 * real zones use), 1-63 bytes each, 253 in all; stored lower case without a trailing dot. */
static bool dns_name_valid(const char *n, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > DNS_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)n[i];

		if (c == '.') {
			if (label == 0 || n[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum(c) || c == '-' || c == '_') || ++label > 63 ||
		    (c == '-' && label == 1))
			return false;
	}
	return label > 0 && n[len - 1] != '-';
}

int policy_add_dns_parts(struct policy *p, const char *name, const char *addr)
{
	struct dns_entry d = {0}, *v;
	size_t n = strlen(name);
	char e[80];

	if (n && name[n - 1] == '.')
		n--;
	if (!dns_name_valid(name, n))
		return err_invalid("\"%s\" is not a valid host name", echo(name, e, sizeof(e)));
	for (size_t i = 0; i < n; i++)
		d.name[i] = (char)tolower((unsigned char)name[i]);
	if (inet_pton(AF_INET, addr, &d.ip.v4) == 1)
		d.family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &d.ip.v6) == 1)
		d.family = AF_INET6;
	else
		return err_invalid("%s: \"%s\" is not an IPv4 or IPv6 address", d.name,
				   echo(addr, e, sizeof(e)));
	if (streq(d.name, "proxy.internal"))
		return err_invalid("proxy.internal always names the proxy; it cannot be set");
	for (size_t i = 0; i < p->n_dns; i++)
		if (!memcmp(&p->dns[i], &d, sizeof(d)))
			return 0;
	if (p->n_dns >= POLICY_DNS_MAX)
		return err_invalid("too many DNS entries (at most %d)", POLICY_DNS_MAX);
	v = realloc(p->dns, (p->n_dns + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[p->n_dns++] = d;
	p->dns = v;
	return 0;
}

int policy_add_dns(struct policy *p, const char *v)
{
	const char *eq = strchr(v, '=');
	_cleanup_free_ char *name = NULL;
	char e[80];

	if (!eq)
		return err_invalid("\"%s\": expected NAME=ADDRESS", echo(v, e, sizeof(e)));
	name = strndup(v, (size_t)(eq - v));
	if (!name)
		return -ENOMEM;
	return policy_add_dns_parts(p, name, eq + 1);
}

static bool addr_is_unspecified(const struct endpoint *e)
{
	if (e->family == AF_INET)
		return e->ip.v4.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&e->ip.v6);
}

/* Where the cage reaches an endpoint: a veth cage has its own lo, so 127.0.0.1 there is the
 * cage itself, never the host's; 0.0.0.0 and :: likewise mean "this host" to connect(). */
static int check_reachable(const struct policy *p, const struct endpoint *e)
{
	char s[ADDR_STR_MAX];

	addr_format(e, s, sizeof(s));
	if (addr_is_unspecified(e))
		return err_invalid("allow %s: an unspecified address (0.0.0.0, ::) is not a "
				   "destination; use a host address",
				   s);
	if (p->link == LINK_NONE)
		return err_invalid("allow %s: link none has no route to anything; reach it "
				   "through a forward (--forward PORT=%s)",
				   s, s);
	if (e->has_wg && p->link != LINK_WIREGUARD)
		return err_invalid("allow %s: a WireGuard endpoint needs link wireguard", s);
	if (addr_is_loopback(e))
		return err_invalid("allow %s: the cage's loopback is its own, not the host's; "
				   "reach a host loopback service through a forward (--forward)",
				   s);
	return 0;
}

/* The proxy becomes a forward when the cage could not route to it: on the host's loopback
 * (any link), or anywhere in link none; and always when its URL has credentials, which the
 * supervisor adds on the way (the cage never holds them, nor reaches the proxy by itself).
 * The cage then reaches it at 127.0.0.1 on the same port; a forward the user declared on that
 * port already wins and must point there too. */
static int proxy_forward(struct policy *p)
{
	struct forward f = {.kind = TARGET_TCP, .target = p->proxy, .is_proxy = true};
	char s[ADDR_STR_MAX], u[ADDR_STR_MAX];
	struct forward *v;

	addr_format_url(&p->proxy, u, sizeof(u));
	if (addr_is_unspecified(&p->proxy))
		return err_invalid("proxy %s: an unspecified address (0.0.0.0, ::) is not a "
				   "destination; use a host address",
				   u);
	if (p->proxy_auth && p->isolate_streams)
		return err_invalid("isolate_streams gives each connection credentials of its own: "
				   "the proxy URL %s cannot carry credentials too",
				   u);
	if (p->proxy_auth && p->proxy.scheme == SCHEME_HTTP && strchr(p->proxy_auth->user, ':'))
		return err_invalid("proxy %s: an HTTP proxy's user name cannot hold ':' (Basic "
				   "authentication)",
				   u);
	if (p->proxy_auth && p->proxy.scheme != SCHEME_HTTP && !p->proxy_auth->pass[0])
		return err_invalid("proxy %s: a SOCKS5 proxy's credentials need a password "
				   "(RFC 1929)",
				   u);
	if (p->link != LINK_NONE && !addr_is_loopback(&p->proxy) && !p->proxy_auth) {
		if (p->isolate_streams)
			return err_invalid("isolate_streams: the proxy %s is reached by routing; "
					   "stream isolation needs it forwarded (a loopback proxy, "
					   "or link none)",
					   u);
		return 0;
	}
	f.listen.family = AF_INET;
	f.listen.proto = IPPROTO_TCP;
	f.listen.port = p->proxy.port;
	f.listen.ip.v4.s_addr = htonl(INADDR_LOOPBACK);
	f.isolate_streams = p->isolate_streams;
	for (size_t i = 0; i < p->n_forward; i++)
		if (addr_equal(&p->forward[i].listen, &f.listen))
			return err_invalid("proxy %s: its forward would listen on %s, which "
					   "another forward already takes",
					   u, addr_format(&f.listen, s, sizeof(s)));
	v = realloc(p->forward, (p->n_forward + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	/* The proxy's forward comes first, as the proxy does everywhere else. */
	memmove(v + 1, v, p->n_forward * sizeof(*v));
	v[0] = f;
	p->forward = v;
	p->n_forward++;
	return 0;
}

int policy_finish(struct policy *p)
{
	size_t n = 0;
	int r;

	if (p->link == LINK_UNSET)
		p->link = LINK_NONE;
	if (p->link == LINK_WIREGUARD && !p->wg_config && !p->wg_built)
		return err_invalid("link wireguard needs the tunnel's configuration: --wg-config "
				   "FILE (a wg-quick file) or a wireguard: mapping in the profile");
	if (p->link != LINK_WIREGUARD && (p->wg_config || p->wg_built))
		return err_invalid("a WireGuard configuration is given, but the link is not "
				   "wireguard (--link wireguard)");

	if (!p->has_pool) {
		inet_pton(AF_INET, DEFAULT_POOL, &p->pool.base);
		p->pool.len = DEFAULT_POOL_LEN;
		p->has_pool = true;
	}

	if (p->isolate_streams && !(p->has_proxy && (p->proxy.scheme == SCHEME_SOCKS5 ||
						     p->proxy.scheme == SCHEME_SOCKS5H)))
		return err_invalid("isolate_streams needs a socks5:// or socks5h:// proxy");
	if (p->has_proxy) {
		if (p->proxy.scheme == SCHEME_NONE)
			return err_invalid(
			    "proxy must be a URL (http://, socks5:// or socks5h://)");
		r = proxy_forward(p);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < p->n_forward; i++) {
		const struct endpoint *l = &p->forward[i].listen;

		if (l->family == AF_INET && l->port == DNS_STUB_PORT &&
		    l->ip.v4.s_addr == htonl(INADDR_LOOPBACK))
			return err_invalid("forward 127.0.0.1:53: that is where the cage's DNS "
					   "stub listens");
	}

	if (p->n_listen && p->link == LINK_NONE)
		return err_invalid("--listen takes inbound on the cage's link, and link none has "
				   "none: publish a port instead (--publish)");
	for (size_t i = 0; i < p->n_publish; i++) {
		uint16_t port = p->publish[i].cage_port;

		if (port == DNS_STUB_PORT)
			return err_invalid("publish: 127.0.0.1:53 in the cage is its DNS stub");
		for (size_t j = 0; j < p->n_forward; j++)
			if (p->forward[j].listen.family == AF_INET &&
			    p->forward[j].listen.ip.v4.s_addr == htonl(INADDR_LOOPBACK) &&
			    p->forward[j].listen.port == port)
				return err_invalid("publish: 127.0.0.1:%u in the cage is a forward's",
						   port);
	}

	/* Drop repeats, and entries that are the proxy itself: plan lists the proxy first. */
	for (size_t i = 0; i < p->n_allow; i++) {
		bool dup = p->has_proxy && addr_equal(&p->allow[i], &p->proxy) &&
			   !(p->n_forward && p->forward[0].is_proxy);

		for (size_t j = 0; j < n && !dup; j++)
			dup = addr_equal(&p->allow[j], &p->allow[i]);
		if (dup)
			continue;
		r = check_reachable(p, &p->allow[i]);
		if (r < 0)
			return r;
		p->allow[n++] = p->allow[i];
	}
	p->n_allow = n;
	return 0;
}

const char *policy_link_name(enum link_mode link)
{
	static const char *const names[] = {
	    [LINK_NONE] = "none", [LINK_VETH] = "veth", [LINK_WIREGUARD] = "wireguard"};

	return (unsigned)link < ARRAY_SIZE(names) ? names[link] : "?";
}

void policy_put_endpoint(struct text *out, const struct endpoint *e)
{
	char ip[INET6_ADDRSTRLEN];

	addr_ip_str(e, ip, sizeof(ip));
	text_printf(out, e->family == AF_INET6 ? "%s[%s]:%u" : "%s%s:%u",
		    e->proto == IPPROTO_UDP ? "udp:" : "", ip, e->port);
}

void policy_render_profile(const struct policy *p, struct profile_parts *parts)
{
	char url[ADDR_STR_MAX + 16];
	struct text *out = &parts->head;

	text_printf(out, "link: %s\n", policy_link_name(p->link));
	if (p->has_proxy)
		text_printf(out, "proxy: %s\n", addr_format_url(&p->proxy, url, sizeof(url)));
	if (p->proxy_auth)
		text_puts(out, "# the proxy's credentials are not written here: add them to its "
			       "URL (user:password@)\n");
	if (p->wg_config)
		text_printf(out, "wg_config: %s\n", p->wg_config);
	if (p->user)
		text_printf(out, "user: \"%s\"\n", p->user);
	for (size_t i = 0; p->env_pass && p->env_pass[i]; i++)
		text_printf(out, "%s  - %s\n", i ? "" : "env_pass:\n", p->env_pass[i]);
	out = &parts->allow;
	for (size_t i = 0; i < p->n_allow; i++) {
		text_puts(out, "  - \"");
		policy_put_endpoint(out, &p->allow[i]);
		text_puts(out, "\"\n");
	}
	for (size_t i = 0; i < p->n_allow_unix; i++)
		text_printf(out, "  - \"/unix%s%s\"\n", p->allow_unix[i].path,
			    p->allow_unix[i].prefix && !endswith_slash(p->allow_unix[i].path) ? "/"
											       : "");
	out = &parts->forward;
	for (size_t i = 0; i < p->n_forward; i++) {
		const struct forward *f = &p->forward[i];
		char ip[INET6_ADDRSTRLEN];

		if (f->is_proxy)
			continue;
		addr_ip_str(&f->listen, ip, sizeof(ip));
		text_printf(out, f->listen.family == AF_INET6 ? "  - \"[%s]:%u=" : "  - \"%s:%u=", ip,
			    f->listen.port);
		if (f->kind == TARGET_UNIX)
			text_puts(out, f->path);
		else
			policy_put_endpoint(out, &f->target);
		text_puts(out, "\"\n");
	}
	out = &parts->dns;
	for (size_t i = 0; i < p->n_dns; i++) {
		struct endpoint e = {.family = p->dns[i].family};
		char ip[INET6_ADDRSTRLEN];

		memcpy(&e.ip, &p->dns[i].ip, sizeof(e.ip));
		text_printf(out, "  %s: \"%s\"\n", p->dns[i].name, addr_ip_str(&e, ip, sizeof(ip)));
	}
}
