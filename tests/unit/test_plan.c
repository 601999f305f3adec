/* test_plan.c: subnet derivation and collision handling, names, and the plan built from a
 * policy and host facts (allowed endpoints, masquerade, environment). No kernel needed. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"
#include "plan.h"
#include "wgconf.h"

static struct pool pool16(void)
{
	struct pool p = {.len = 16};

	inet_pton(AF_INET, "10.200.0.0", &p.base);
	return p;
}

static struct prefix v4prefix(const char *a, unsigned len)
{
	struct prefix p = {.family = AF_INET, .len = len};

	inet_pton(AF_INET, a, &p.ip.v4);
	return p;
}

static void subnet_is_stable_and_in_pool(void **state)
{
	struct pool pool = pool16();
	struct in_addr a, b;

	assert_int_equal(plan_subnet("agent", &pool, NULL, 0, &a), 0);
	assert_int_equal(plan_subnet("agent", &pool, NULL, 0, &b), 0);
	assert_int_equal(a.s_addr, b.s_addr);
	assert_int_equal(ntohl(a.s_addr) & 3, 0);
	assert_int_equal(ntohl(a.s_addr) >> 16, (10 << 8) | 200);
}

static void different_names_spread(void **state)
{
	struct pool pool = pool16();
	struct in_addr a, b;

	assert_int_equal(plan_subnet("agent", &pool, NULL, 0, &a), 0);
	assert_int_equal(plan_subnet("builder", &pool, NULL, 0, &b), 0);
	assert_int_not_equal(a.s_addr, b.s_addr);
}

static void subnet_avoids_taken_address_and_route(void **state)
{
	struct pool pool = pool16();
	struct in_addr a, b, c;
	char s[INET_ADDRSTRLEN];
	struct prefix taken[2];

	assert_int_equal(plan_subnet("agent", &pool, NULL, 0, &a), 0);
	inet_ntop(AF_INET, &a, s, sizeof(s));
	/* the host has an address inside that /30 (as a /24 subnet) */
	taken[0] = v4prefix(s, 24);
	assert_int_equal(plan_subnet("agent", &pool, taken, 1, &b), 0);
	assert_int_not_equal(ntohl(a.s_addr) >> 8, ntohl(b.s_addr) >> 8);
	/* a route to exactly the /30 the name maps to moves it too */
	taken[0] = v4prefix(s, 30);
	assert_int_equal(plan_subnet("agent", &pool, taken, 1, &c), 0);
	assert_int_not_equal(a.s_addr, c.s_addr);
	/* ...to the next /30 of the pool (wrapping round at its end) */
	uint32_t base = ntohl(pool.base.s_addr), slot = (ntohl(a.s_addr) - base) / 4;
	assert_int_equal(ntohl(c.s_addr), base + ((slot + 1) % 16384) * 4);
}

static void default_route_does_not_block_pool(void **state)
{
	struct pool pool = pool16();
	struct prefix taken[1] = {v4prefix("0.0.0.0", 0)};
	struct in_addr a, b;

	assert_int_equal(plan_subnet("agent", &pool, NULL, 0, &a), 0);
	assert_int_equal(plan_subnet("agent", &pool, taken, 1, &b), 0);
	assert_int_equal(a.s_addr, b.s_addr);
}

static void full_pool_is_an_error(void **state)
{
	struct pool pool = {.len = 28};
	struct prefix taken[1];
	struct in_addr a;

	inet_pton(AF_INET, "10.9.9.0", &pool.base);
	taken[0] = v4prefix("10.9.9.0", 24);
	assert_int_equal(plan_subnet("agent", &pool, taken, 1, &a), -EADDRNOTAVAIL);
}

static void host_ifname_fits_and_differs_per_run(void **state)
{
	char a[IFNAMSIZ], b[IFNAMSIZ];

	plan_host_ifname("a-very-long-cage-name-indeed-0123", 7, a);
	plan_host_ifname("a-very-long-cage-name-indeed-0123", 7, b);
	assert_string_equal(a, b);
	plan_host_ifname("a-very-long-cage-name-indeed-0123", 8, b);
	assert_string_not_equal(a, b);
	assert_int_equal(strlen(a), 11);
	assert_memory_equal(a, "sl-", 3);
}

static void default_name_from_command_is_unique(void **state)
{
	char name[CAGE_NAME_MAX + 1];
	char *live[] = {"curl", "curl-2"};

	assert_int_equal(plan_default_name("/usr/bin/curl", NULL, 0, name, sizeof(name)), 0);
	assert_string_equal(name, "curl");
	assert_int_equal(plan_default_name("/usr/bin/curl", live, 2, name, sizeof(name)), 0);
	assert_string_equal(name, "curl-3");
	assert_int_equal(plan_default_name("/x/Py Thon!", NULL, 0, name, sizeof(name)), 0);
	assert_string_equal(name, "python");
	assert_int_equal(plan_default_name("/x/!!!", NULL, 0, name, sizeof(name)), 0);
	assert_string_equal(name, "cage");
}

static const char *env_get(char **env, const char *k)
{
	size_t n = strlen(k);

	for (; env && *env; env++)
		if (!strncmp(*env, k, n) && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static void build_link(struct plan *p, struct policy *pol, enum link_mode link, bool unprivileged,
		       const char *proxy, const char *allow)
{
	struct prefix local[1] = {v4prefix("198.51.100.1", 32)};
	struct host_facts f = {.local = local, .n_local = 1, .unprivileged = unprivileged};
	char *argv[] = {"curl", "-s", NULL};
	char *env[] = {"PATH=/bin", "SECRET_TOKEN=x", "LC_ALL=C", "HOME=/root", NULL};
	struct identity id = {.uid = 1000, .gid = 1000, .user = "dev", .home = "/home/dev"};

	policy_init(pol);
	pol->link = link;
	assert_int_equal(policy_set_name(pol, "agent"), 0);
	if (proxy)
		assert_int_equal(policy_set_proxy(pol, proxy), 0);
	if (allow)
		assert_int_equal(policy_add_allow(pol, allow), 0);
	assert_int_equal(policy_add_env(pol, "HTTP_PROXY=http://override:1"), 0);
	assert_int_equal(policy_finish(pol), 0);
	assert_int_equal(plan_build(pol, &f, argv, env, &id, p), 0);
}

static void build(struct plan *p, struct policy *pol, const char *proxy, const char *allow)
{
	build_link(p, pol, LINK_VETH, false, proxy, allow);
}

static const char *dns_get(const struct plan *p, const char *name, char *buf)
{
	for (size_t i = 0; i < p->n_dns; i++)
		if (streq(p->dns[i].name, name))
			return inet_ntop(p->dns[i].family, &p->dns[i].ip, buf, INET6_ADDRSTRLEN);
	return NULL;
}

static void link_none_plans_forwards_and_no_link(void **state)
{
	struct policy pol;
	struct plan p;
	char a[INET6_ADDRSTRLEN];

	build_link(&p, &pol, LINK_NONE, false, "http://198.51.100.1:8888", NULL);
	assert_int_equal(p.link, LINK_NONE);
	assert_int_equal(p.n_allowed, 0);
	assert_int_equal(p.n_forwards, 1);
	assert_true(p.forwards[0].is_proxy);
	assert_string_equal(p.host_if, "");
	assert_string_equal(p.host_table, "");
	assert_string_equal(p.cgroup, "sluice/agent");
	assert_false(p.userns);
	/* the proxy as the cage reaches it: its forward on the cage's loopback */
	assert_string_equal(env_get(p.env, "https_proxy"), "http://127.0.0.1:8888");
	assert_string_equal(p.proxy_url, "http://127.0.0.1:8888");
	assert_string_equal(dns_get(&p, "proxy.internal", a), "127.0.0.1");
	plan_free(&p);
	policy_free(&pol);
}

static void veth_proxy_on_host_is_routed_and_named(void **state)
{
	struct policy pol;
	struct plan p;
	char a[INET6_ADDRSTRLEN];

	build(&p, &pol, "http://198.51.100.1:8888", NULL);
	assert_int_equal(p.n_forwards, 0);
	assert_string_equal(dns_get(&p, "proxy.internal", a), "198.51.100.1");
	plan_free(&p);
	policy_free(&pol);
}

static void unprivileged_plan_has_no_cgroup_and_refuses_veth(void **state)
{
	struct prefix local[1] = {v4prefix("198.51.100.1", 32)};
	struct host_facts f = {.local = local, .n_local = 1, .unprivileged = true};
	struct identity id = {.uid = 1000, .gid = 1000, .user = "dev", .home = "/home/dev"};
	char *argv[] = {"true", NULL};
	struct policy pol;
	struct plan p;
	char *env[] = {NULL};
	int r;

	build_link(&p, &pol, LINK_NONE, true, "http://127.0.0.1:8888", NULL);
	assert_true(p.userns);
	assert_string_equal(p.cgroup, "");
	plan_free(&p);
	policy_free(&pol);

	policy_init(&pol);
	pol.link = LINK_VETH;
	assert_int_equal(policy_finish(&pol), 0);
	r = plan_build(&pol, &f, argv, env, &id, &p);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err_message(r), "link veth needs root"));
	policy_free(&pol);
}

static void generated_etc_files_list_the_names(void **state)
{
	struct policy pol;
	struct plan p;
	struct text t = TEXT_INIT;

	policy_init(&pol);
	assert_int_equal(policy_set_name(&pol, "agent"), 0);
	assert_int_equal(policy_set_proxy(&pol, "http://127.0.0.1:3128"), 0);
	assert_int_equal(policy_add_dns(&pol, "db.internal=fd00::5"), 0);
	assert_int_equal(policy_finish(&pol), 0);
	{
		struct host_facts fa = {0};
		struct identity id = {.uid = 1000, .gid = 1000, .user = "dev"};
		char *argv[] = {"true", NULL}, *env[] = {NULL};

		assert_int_equal(plan_build(&pol, &fa, argv, env, &id, &p), 0);
	}
	plan_render_hosts(&p, &t);
	assert_non_null(strstr(text_str(&t), "127.0.0.1\tlocalhost agent\n"));
	assert_non_null(strstr(text_str(&t), "127.0.0.1\tproxy.internal\n"));
	assert_non_null(strstr(text_str(&t), "fd00::5\tdb.internal\n"));
	text_free(&t);
	plan_render_resolv(&p, &t);
	assert_non_null(strstr(text_str(&t), "\nnameserver 127.0.0.1\n"));
	assert_null(strstr(text_str(&t), "search"));
	text_free(&t);
	plan_free(&p);
	policy_free(&pol);
}

static void plan_marks_proxy_on_host_and_allow_off_host(void **state)
{
	struct policy pol;
	struct plan p;

	build(&p, &pol, "http://198.51.100.1:8888", "203.0.113.7:443");
	assert_int_equal(p.n_allowed, 2);
	assert_true(p.allowed[0].is_proxy);
	assert_true(p.allowed[0].on_host);
	assert_false(p.allowed[1].is_proxy);
	assert_false(p.allowed[1].on_host);
	assert_true(p.masquerade);
	assert_false(p.ipv6);
	assert_string_equal(p.host_table + strlen("sluice_agent_"), p.host_if + strlen("sl-"));
	p.host_table[strlen("sluice_agent")] = '\0';
	assert_string_equal(p.host_table, "sluice_agent");
	assert_string_equal(p.cgroup, "sluice/agent");
	assert_int_equal(ntohl(p.cage_v4.s_addr), ntohl(p.host_v4.s_addr) + 1);
	plan_free(&p);
	policy_free(&pol);
}

/* Off-host endpoints need the host's forwarding on: refused in the plan, before anything is
 * made, when it is off; an endpoint on the host needs nothing of the kind. */
static void off_host_endpoint_without_ip_forward_is_refused_in_the_plan(void **state)
{
	static const char *const proxies[] = {"http://203.0.113.9:8888", "http://198.51.100.1:8888"};

	for (size_t i = 0; i < ARRAY_SIZE(proxies); i++) {
		struct prefix local = {.family = AF_INET, .len = 32};
		struct host_facts f = {.ip_forward_off = true, .local = &local, .n_local = 1};
		char *argv[] = {"true", NULL}, *env[] = {NULL};
		struct identity id = {.uid = 1000, .gid = 1000, .user = "dev"};
		struct policy pol;
		struct plan p;
		int r;

		inet_pton(AF_INET, "198.51.100.1", &local.ip);
		policy_init(&pol);
		pol.link = LINK_VETH;
		assert_int_equal(policy_set_name(&pol, "fwd"), 0);
		assert_int_equal(policy_set_proxy(&pol, proxies[i]), 0);
		assert_int_equal(policy_finish(&pol), 0);
		err_clear();
		r = plan_build(&pol, &f, argv, env, &id, &p);
		if (i == 0) {
			assert_int_equal(r, -EINVAL);
			assert_non_null(strstr(err_message(r), "net.ipv4.ip_forward=1"));
		} else {
			assert_int_equal(r, 0); /* the proxy is the host's own address */
			assert_false(p.masquerade);
			plan_free(&p);
		}
		policy_free(&pol);
	}
}

/* The host's table is the run's own: a new run of a cage does not meet the table of the last
 * one (deleted after it exits), and long names that share a beginning do not meet either. */
static void host_table_is_the_runs_own_and_fits(void **state)
{
	const char *names[] = {"a.very-long-cage-name-1", "a.very-long-cage-name-2"};
	char tables[4][32];
	int k = 0;

	for (uint32_t nonce = 1; nonce <= 2; nonce++)
		for (size_t i = 0; i < 2; i++) {
			struct host_facts f = {.nonce = nonce};
			char *argv[] = {"true", NULL}, *env[] = {NULL};
			struct identity id = {.uid = 1000, .gid = 1000, .user = "dev"};
			struct policy pol;
			struct plan p;

			policy_init(&pol);
			pol.link = LINK_VETH;
			assert_int_equal(policy_set_name(&pol, names[i]), 0);
			assert_int_equal(policy_set_proxy(&pol, "http://198.51.100.1:8888"), 0);
			assert_int_equal(policy_finish(&pol), 0);
			assert_int_equal(plan_build(&pol, &f, argv, env, &id, &p), 0);
			assert_true(strlen(p.host_table) <= 31);
			assert_int_equal(strncmp(p.host_table, "sluice_a_very_long_cag_", 23), 0);
			/* what gc derives from the record's name and link is what the run made */
			assert_true(plan_is_host_ifname(p.host_if));
			{
				char derived[PLAN_TABLE_MAX];

				plan_host_table(p.name, p.host_if, derived);
				assert_string_equal(derived, p.host_table);
			}
			for (int j = 0; j < k; j++)
				assert_string_not_equal(p.host_table, tables[j]);
			snprintf(tables[k++], sizeof(tables[0]), "%s", p.host_table);
			plan_free(&p);
			policy_free(&pol);
		}
}

/* gc deletes the link a record names only if it has the shape sluice gives its links. */
static void host_link_names_have_one_shape(void **state)
{
	assert_true(plan_is_host_ifname("sl-0123abcd"));
	assert_false(plan_is_host_ifname("eth0"));
	assert_false(plan_is_host_ifname("sl-0123abc"));
	assert_false(plan_is_host_ifname("sl-0123abcde"));
	assert_false(plan_is_host_ifname("sl-0123ABCD"));
	assert_false(plan_is_host_ifname("sw-0123abcd"));
	assert_false(plan_is_host_ifname(""));
	assert_true(plan_is_wg_ifname("sw-0123abcd"));
	assert_false(plan_is_wg_ifname("sl-0123abcd"));
	assert_false(plan_is_wg_ifname("sw-uplink0"));
}

/* ... and a table only of the shape plan_host_table() gives. */
static void host_table_names_have_one_shape(void **state)
{
	char t[PLAN_TABLE_MAX];

	plan_host_table("a.very-long-cage-name", "sl-0123abcd", t);
	assert_true(plan_is_host_table(t));
	plan_host_table("x", "sl-0123abcd", t);
	assert_string_equal(t, "sluice_x_0123abcd");
	assert_true(plan_is_host_table(t));
	assert_false(plan_is_host_table("sluice_extra"));
	assert_false(plan_is_host_table("sluice__0123abcd"));
	assert_false(plan_is_host_table("sluice_x_0123ABCD"));
	assert_false(plan_is_host_table("sluice_x-y_0123abcd"));
	assert_false(plan_is_host_table("sluice_0123456789abcdef_0123abcd"));
	assert_false(plan_is_host_table("filter"));
}

static void plan_env_is_filtered_and_policy_wins(void **state)
{
	struct policy pol;
	struct plan p;

	build(&p, &pol, "http://198.51.100.1:8888", NULL);
	assert_string_equal(env_get(p.env, "PATH"), "/bin");
	assert_string_equal(env_get(p.env, "LC_ALL"), "C");
	assert_null(env_get(p.env, "SECRET_TOKEN"));
	assert_string_equal(env_get(p.env, "HOME"), "/home/dev");
	assert_string_equal(env_get(p.env, "USER"), "dev");
	assert_string_equal(env_get(p.env, "https_proxy"), "http://198.51.100.1:8888");
	assert_string_equal(env_get(p.env, "HTTP_PROXY"), "http://override:1");
	assert_string_equal(env_get(p.env, "SLUICE_CAGE"), "agent");
	assert_false(p.masquerade);
	plan_free(&p);
	policy_free(&pol);
}

static void ipv6_endpoint_turns_ipv6_on(void **state)
{
	struct policy pol;
	struct plan p;

	build(&p, &pol, NULL, "[2001:db8::7]:443");
	assert_true(p.ipv6);
	assert_int_equal(p.host_v6.s6_addr[0], 0xfd);
	assert_int_equal(p.host_v6.s6_addr[15], 1);
	assert_int_equal(p.cage_v6.s6_addr[15], 2);
	assert_memory_equal(&p.host_v6, &p.cage_v6, 15);
	plan_free(&p);
	policy_free(&pol);
}

#define ALICE_PRIV    "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
#define ALICE_PUB_MA  "uhSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"
#define BOB_PUB	      "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="
#define BOB_PUB_MA    "u3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"

/* A plan with one listen rule, veth or wireguard (Alice's tunnel at 10.0.11.1/24, Bob's peer
 * at 10.0.11.2): plan_build's result. */
static int build_listen(struct plan *p, struct policy *pol, enum link_mode link, const char *listen)
{
	static const char conf[] = "[Interface]\nPrivateKey = " ALICE_PRIV "\n"
				   "Address = 10.0.11.1/24\n"
				   "[Peer]\nPublicKey = " BOB_PUB "\nAllowedIPs = 10.0.11.2/32\n";
	struct wg_config wg;
	struct host_facts f = {.wg = &wg};
	char *argv[] = {"registrar", NULL};
	char *env[] = {"PATH=/bin", NULL};
	struct identity id = {.uid = 1000, .gid = 1000, .user = "dev", .home = "/home/dev"};
	int r;

	assert_int_equal(wgconf_parse(conf, strlen(conf), "t.conf", &wg), 0);
	policy_init(pol);
	pol->link = link;
	if (link == LINK_WIREGUARD)
		assert_int_equal(policy_set_wg_config(pol, "/t.conf"), 0);
	assert_int_equal(policy_set_name(pol, "registrar"), 0);
	assert_int_equal(policy_add_listen(pol, listen), 0);
	assert_int_equal(policy_finish(pol), 0);
	r = plan_build(pol, &f, argv, env, &id, p);
	wg_config_free(&wg);
	return r;
}

static void listen_port_alone_is_each_address_of_the_link(void **state)
{
	struct policy pol;
	struct plan p;
	char a[ADDR_STR_MAX];

	assert_int_equal(build_listen(&p, &pol, LINK_VETH, "1616@198.51.100.0/24"), 0);
	assert_int_equal(p.n_listens, 1);
	assert_int_equal(p.listens[0].ep.family, AF_INET);
	assert_int_equal(p.listens[0].ep.ip.v4.s_addr, p.cage_v4.s_addr);
	assert_int_equal(p.listens[0].n_from, 1);
	plan_free(&p);
	policy_free(&pol);

	assert_int_equal(build_listen(&p, &pol, LINK_WIREGUARD, "1616"), 0);
	assert_int_equal(p.n_listens, 1);
	assert_string_equal(addr_format(&p.listens[0].ep, a, sizeof(a)), "tcp 10.0.11.1:1616");
	plan_free(&p);
	policy_free(&pol);
}

static void listen_on_another_address_is_refused(void **state)
{
	struct policy pol;
	struct plan p;

	assert_int_equal(build_listen(&p, &pol, LINK_WIREGUARD, "10.0.11.9:1616"), -EINVAL);
	assert_string_equal(err_message(-EINVAL),
			    "listen tcp 10.0.11.9:1616: not an address of the cage's link");
	policy_free(&pol);
	assert_int_equal(build_listen(&p, &pol, LINK_VETH, "10.0.11.1:1616"), -EINVAL);
	policy_free(&pol);
}

static void listen_wg_key_must_be_the_cages_own(void **state)
{
	struct policy pol;
	struct plan p;

	assert_int_equal(build_listen(&p, &pol, LINK_WIREGUARD,
				      "/ip4/10.0.11.1/tcp/1616/wg/" ALICE_PUB_MA "@10.0.11.2"),
			 0);
	assert_int_equal(p.n_listens, 1);
	plan_free(&p);
	policy_free(&pol);
	assert_int_equal(build_listen(&p, &pol, LINK_WIREGUARD,
				      "/ip4/10.0.11.1/tcp/1616/wg/" BOB_PUB_MA),
			 -EINVAL);
	assert_non_null(strstr(err_message(-EINVAL), "the /wg/ key is not the cage's own (its "
						     "tunnel's public key is hSDwCYkwp1R0"));
	policy_free(&pol);
	assert_int_equal(build_listen(&p, &pol, LINK_VETH, "/ip4/10.0.11.1/tcp/1616/wg/" ALICE_PUB_MA),
			 -EINVAL);
	assert_non_null(strstr(err_message(-EINVAL), "the cage's link is not wireguard"));
	policy_free(&pol);
}

/* A child cage inside a veth parent that reaches its proxy and 198.51.100.7:443: a forward
 * to either is within it; anything else, another link, a name it does not resolve are not. */
static void child_plan_is_checked_against_the_parents_reach(void **state)
{
	_cleanup_text_ struct text reach = TEXT_INIT;
	struct policy pol, cpol;
	struct plan parent, child;
	struct host_facts f = {0};
	char *argv[] = {"actor", NULL};
	char *env[] = {"PATH=/bin", NULL};
	struct identity id = {.uid = 1000, .gid = 1000, .user = "dev", .home = "/home/dev"};

	build(&parent, &pol, "http://198.51.100.1:8888", "198.51.100.7:443");
	plan_render_reach(&parent, &reach);
	assert_non_null(strstr(text_str(&reach), "tcp 198.51.100.1:8888\n"));
	assert_non_null(strstr(text_str(&reach), "tcp 198.51.100.7:443\n"));

	policy_init(&cpol);
	assert_int_equal(policy_set_name(&cpol, "child"), 0);
	assert_int_equal(policy_set_proxy(&cpol, "http://198.51.100.1:8888"), 0);
	assert_int_equal(policy_add_forward(&cpol, "443=198.51.100.7:443"), 0);
	assert_int_equal(policy_finish(&cpol), 0);
	assert_int_equal(plan_build(&cpol, &f, argv, env, &id, &child), 0);
	assert_int_equal(plan_check_within(&child, "agent", text_str(&reach)), 0);
	plan_free(&child);
	policy_free(&cpol);

	policy_init(&cpol);
	assert_int_equal(policy_set_name(&cpol, "child"), 0);
	assert_int_equal(policy_add_forward(&cpol, "80=198.51.100.7:80"), 0);
	assert_int_equal(policy_finish(&cpol), 0);
	assert_int_equal(plan_build(&cpol, &f, argv, env, &id, &child), 0);
	assert_int_equal(plan_check_within(&child, "agent", text_str(&reach)), -EINVAL);
	assert_non_null(strstr(err_message(-EINVAL), "tcp 198.51.100.7:80: cage \"agent\" does "
						      "not reach it"));
	plan_free(&child);
	policy_free(&cpol);

	policy_init(&cpol);
	assert_int_equal(policy_set_name(&cpol, "child"), 0);
	assert_int_equal(policy_add_dns(&cpol, "api.example=198.51.100.7"), 0);
	assert_int_equal(policy_finish(&cpol), 0);
	assert_int_equal(plan_build(&cpol, &f, argv, env, &id, &child), 0);
	assert_int_equal(plan_check_within(&child, "agent", text_str(&reach)), -EINVAL);
	assert_non_null(strstr(err_message(-EINVAL), "--dns api.example"));
	plan_free(&child);
	policy_free(&cpol);

	/* The parent itself, a veth cage, is not a child's plan. */
	assert_int_equal(plan_check_within(&parent, "agent", text_str(&reach)), -EINVAL);
	plan_free(&parent);
	policy_free(&pol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(listen_port_alone_is_each_address_of_the_link),
	    cmocka_unit_test(listen_on_another_address_is_refused),
	    cmocka_unit_test(listen_wg_key_must_be_the_cages_own),
	    cmocka_unit_test(subnet_is_stable_and_in_pool),
	    cmocka_unit_test(different_names_spread),
	    cmocka_unit_test(subnet_avoids_taken_address_and_route),
	    cmocka_unit_test(default_route_does_not_block_pool),
	    cmocka_unit_test(full_pool_is_an_error),
	    cmocka_unit_test(host_ifname_fits_and_differs_per_run),
	    cmocka_unit_test(default_name_from_command_is_unique),
	    cmocka_unit_test(plan_marks_proxy_on_host_and_allow_off_host),
	    cmocka_unit_test(off_host_endpoint_without_ip_forward_is_refused_in_the_plan),
	    cmocka_unit_test(host_table_is_the_runs_own_and_fits),
	    cmocka_unit_test(host_link_names_have_one_shape),
	    cmocka_unit_test(host_table_names_have_one_shape),
	    cmocka_unit_test(plan_env_is_filtered_and_policy_wins),
	    cmocka_unit_test(ipv6_endpoint_turns_ipv6_on),
	    cmocka_unit_test(link_none_plans_forwards_and_no_link),
	    cmocka_unit_test(veth_proxy_on_host_is_routed_and_named),
	    cmocka_unit_test(unprivileged_plan_has_no_cgroup_and_refuses_veth),
	    cmocka_unit_test(generated_etc_files_list_the_names),
	    cmocka_unit_test(child_plan_is_checked_against_the_parents_reach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
