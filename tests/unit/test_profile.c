/* test_profile.c: profiles read into a policy, and every way a profile is refused, each
 * naming FILE:LINE:COLUMN; profile_find's lookup order. Files live in a mkdtemp directory. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

/* cmocka.h needs <stdarg.h>, <stddef.h>, <setjmp.h> and <stdint.h> first. */
#include <cmocka.h>

#include "log.h"
#include "policy.h"
#include "wgconf.h"

static char dir[] = "/tmp/sluice-test-profile-XXXXXX";
static char path[256];

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/prof.yaml", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "we");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Load text as prof.yaml into p; returns profile_load's result. */
static int load(const char *text, struct policy *p)
{
	write_file(path, text);
	policy_init(p);
	err_clear();
	return profile_load(path, p);
}

static void assert_load_fails(const char *text, const char *want)
{
	struct policy p;
	int r = load(text, &p);
	const char *msg = err_message(r);

	assert_int_equal(r, -EINVAL);
	if (!strstr(msg, want))
		fail_msg("got \"%s\", want \"%s\"", msg, want);
	assert_non_null(strstr(msg, "prof.yaml:"));
	assert_null(strchr(msg, '\n'));
	policy_free(&p);
}

/* command: a list of words, or a program alone; env_pass: names; audit, quiet and
 * check_targets as their options. */
static void command_and_denial_keys_load(void **state)
{
	struct policy p;

	(void)state;
	assert_int_equal(load("command: [/usr/bin/env, \"a b\"]\n"
			      "env_pass: [API_KEY]\n"
			      "audit: denials.json\n"
			      "quiet: true\n"
			      "check_targets: require\n",
			      &p),
			 0);
	assert_string_equal(p.command[0], "/usr/bin/env");
	assert_string_equal(p.command[1], "a b");
	assert_null(p.command[2]);
	assert_string_equal(p.env_pass[0], "API_KEY");
	assert_string_equal(p.audit, "denials.json");
	assert_true(p.quiet);
	assert_int_equal(p.check_targets, CHECK_TARGETS_REQUIRE);
	policy_free(&p);
	assert_int_equal(load("command: /bin/true\n", &p), 0);
	assert_string_equal(p.command[0], "/bin/true");
	assert_null(p.command[1]);
	policy_free(&p);
	assert_int_equal(load("check_targets: maybe\n", &p), -EINVAL);
	policy_free(&p);
}

static void full_profile_loads_every_key(void **state)
{
	struct policy p;
	char ip[INET_ADDRSTRLEN];

	assert_int_equal(load("# agent profile\n"
			      "name: agent\n"
			      "link: veth\n"
			      "proxy: http://10.0.0.1:8888\n"
			      "allow:\n"
			      "  - 10.0.0.2:443\n"
			      "  - /ip6/fd00::1/udp/53\n"
			      "env:\n"
			      "  PORT: 8080\n"
			      "  DEBUG: true\n"
			      "  GREETING: \"hello world\"\n"
			      "  EMPTY:\n"
			      "user: nobody\n"
			      "subnet_pool: 10.99.0.0/16\n"
			      "verbose: yes\n",
			      &p),
			 0);
	assert_string_equal(p.name, "agent");
	assert_int_equal(p.link, LINK_VETH);
	assert_true(p.has_proxy);
	assert_int_equal(p.proxy.scheme, SCHEME_HTTP);
	assert_int_equal(p.proxy.port, 8888);
	assert_int_equal(p.n_allow, 2);
	assert_int_equal(p.allow[0].port, 443);
	assert_int_equal(p.allow[1].proto, IPPROTO_UDP);
	assert_string_equal(p.env[0], "PORT=8080");
	assert_string_equal(p.env[1], "DEBUG=true");
	assert_string_equal(p.env[2], "GREETING=hello world");
	assert_string_equal(p.env[3], "EMPTY=");
	assert_null(p.env[4]);
	assert_string_equal(p.user, "nobody");
	assert_int_equal(p.pool.len, 16);
	assert_string_equal(inet_ntop(AF_INET, &p.pool.base, ip, sizeof(ip)), "10.99.0.0");
	assert_true(p.verbose);
	assert_int_equal(policy_finish(&p), 0);
	policy_free(&p);
}

static void flow_style_profile_loads(void **state)
{
	struct policy p;

	assert_int_equal(
	    load("{proxy: 'socks5://10.0.0.1', allow: [10.0.0.2:80], env: {A: b}}\n", &p), 0);
	assert_int_equal(p.proxy.scheme, SCHEME_SOCKS5);
	assert_int_equal(p.n_allow, 1);
	assert_string_equal(p.env[0], "A=b");
	policy_free(&p);
}

static void empty_file_is_an_empty_profile(void **state)
{
	const char *empties[] = {"", "# only a comment\n", "---\n", "\n\n"};

	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		struct policy p;

		assert_int_equal(load(empties[i], &p), 0);
		assert_false(p.has_proxy);
		assert_int_equal(p.n_allow, 0);
		assert_null(p.env);
		assert_string_equal(p.name, "");
		policy_free(&p);
	}
}

static void verbose_takes_true_false_yes_no(void **state)
{
	const char *yes[] = {"true", "yes", "True", "YES"}, *no[] = {"false", "no", "False"};
	char text[64];
	struct policy p;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(text, sizeof(text), "verbose: %s\n", yes[i]);
		assert_int_equal(load(text, &p), 0);
		assert_true(p.verbose);
		policy_free(&p);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(text, sizeof(text), "verbose: %s\n", no[i]);
		assert_int_equal(load(text, &p), 0);
		assert_false(p.verbose);
		policy_free(&p);
	}
	assert_load_fails("verbose: 1\n", "prof.yaml:1:10: \"verbose\" must be true or false");
	assert_load_fails("verbose: [yes]\n", "prof.yaml:1:10: \"verbose\" must be true or false");
}

static void unknown_key_names_line_and_column(void **state)
{
	assert_load_fails("name: a\n\nproxyy: http://10.0.0.1\n",
			  "prof.yaml:3:1: unknown key \"proxyy\"");
	assert_load_fails("env:\n  A: b\n    \nfoo: 1\n", "prof.yaml:4:1: unknown key \"foo\"");
	assert_load_fails("{name: a,  bogus: 1}\n", "prof.yaml:1:12: unknown key \"bogus\"");
}

static void wrong_node_types_name_the_key(void **state)
{
	assert_load_fails("allow: 10.0.0.1:80\n", "prof.yaml:1:8: \"allow\" must be a list");
	assert_load_fails("env: [A=b]\n", "prof.yaml:1:6: \"env\" must be a mapping");
	assert_load_fails("\nproxy:\n  - http://10.0.0.1\n",
			  "prof.yaml:3:3: \"proxy\" must be a string");
	assert_load_fails("name: {a: b}\n", "prof.yaml:1:7: \"name\" must be a string");
	assert_load_fails("allow:\n  - [10.0.0.1:80]\n",
			  "prof.yaml:2:5: allow: each entry must be an address");
	assert_load_fails("allow:\n  -\n", "prof.yaml:2:4: allow: each entry must be an address");
	assert_load_fails("env:\n  A: [1]\n",
			  "prof.yaml:2:6: env: the value of \"A\" must be a string");
	assert_load_fails("env:\n  [A]: 1\n", "prof.yaml:2:3: env: names must be strings");
	assert_load_fails("[a, b]\n",
			  "prof.yaml:1:1: a profile must be a mapping of keys to values");
	assert_load_fails("just text\n", "prof.yaml:1:1: a profile must be a mapping");
	assert_load_fails("[a]: b\n", "prof.yaml:1:1: keys must be strings");
}

static void null_values_are_refused_for_strings(void **state)
{
	assert_load_fails("user:\n", "prof.yaml:1:6: \"user\" needs a value");
	assert_load_fails("user: ~\n", "prof.yaml:1:7: \"user\" needs a value");
	assert_load_fails("proxy: null\n", "prof.yaml:1:8: \"proxy\" needs a value");
}

static void bad_values_carry_the_value_position(void **state)
{
	assert_load_fails("name: ok\nproxy:   http://10.0.0.1:0\n",
			  "prof.yaml:2:10: proxy: http://10.0.0.1:0: port 0 is not a port one can "
			  "connect to at byte 16");
	assert_load_fails("proxy: 10.0.0.1:8080\n",
			  "prof.yaml:1:8: proxy: 10.0.0.1:8080: a proxy must be a URL");
	assert_load_fails(
	    "allow:\n  - 10.0.0.1:80\n  - /ip4/10.0.0.300/tcp/80\n",
	    "prof.yaml:3:5: allow: /ip4/10.0.0.300/tcp/80: bad IPv4 address at byte 5");
	assert_load_fails("name: \"a b\"\n",
			  "prof.yaml:1:7: name: \"a b\" is not a valid cage name");
	assert_load_fails("link: tun\n", "prof.yaml:1:7: link: unknown link mode \"tun\"");
	assert_load_fails("wireguard:\n  private_key: x\n",
			  "prof.yaml:2:3: wireguard: unknown key \"private_key\"");
	assert_load_fails("wireguard:\n  peers: {a: b}\n",
			  "prof.yaml:2:10: wireguard: peers must be a list");
	assert_load_fails("wireguard:\n  private_key_file: /nonexistent/key\n",
			  "prof.yaml:2:21: wireguard: read /nonexistent/key");
	/* a value is one value of the format: a line break would add a [Peer] of its own, and
	 * a comment character is no part of an address */
	assert_load_fails("wireguard:\n  address: \"10.0.11.2/24\\n[Peer]\\nPublicKey = x\"\n",
			  "prof.yaml:2:12: wireguard: Address: a control character is not allowed");
	{
		char keyfile[300], text[1024];

		snprintf(keyfile, sizeof(keyfile), "%s/bad-values.key", dir);
		write_file(keyfile, "YEkDD8wpBW0hIjEv2vubJGTt+JfdyBHZMoMb/yDmFWk=\n");
		snprintf(text, sizeof(text),
			 "wireguard:\n  private_key_file: %s\n  peers:\n"
			 "    - public_key: g3x7z0AdV1rM6UQU22CC7IL3/ivn4DzrE7ikDhCZ/Dc=\n"
			 "      allowed_ips: [\"10.0.11.0/24 # x\"]\n",
			 keyfile);
		assert_load_fails(text, "prof.yaml:5:21: wireguard: AllowedIPs: \"10.0.11.0/24 # "
					"x\" is not an address/prefix");
	}
	assert_load_fails("user: a:b\n", "prof.yaml:1:7: user: \"a:b\" is not a valid user name");
	assert_load_fails("subnet_pool: 10.200.1.0/16\n",
			  "prof.yaml:1:14: subnet_pool: \"10.200.1.0/16\": host bits set");
	assert_load_fails("env:\n  1A: x\n",
			  "prof.yaml:2:3: env: \"1A\" is not a valid variable name");
	assert_load_fails("env:\n  A=B: x\n",
			  "prof.yaml:2:3: env: \"A=B\" is not a valid variable name");
	assert_load_fails("allow:\n  - localhost:80\n",
			  "prof.yaml:2:5: allow: localhost:80: host names are not resolved");
}

static void messages_stay_on_one_line(void **state)
{
	assert_load_fails("\"a\\nb\": 1\n", "prof.yaml:1:1: unknown key \"a?b\"");
	assert_load_fails("name: \"a\\nb\"\n",
			  "prof.yaml:1:7: name: \"a?b\" is not a valid cage name");
	assert_load_fails("allow: [\"x\\ty:1\"]\n", "prof.yaml:1:9: allow: x?y:1:");
}

static void nul_characters_are_refused(void **state)
{
	assert_load_fails("proxy: \"http://10.0.0.1\\0junk\"\n",
			  "prof.yaml:1:8: a NUL character is not allowed here");
	assert_load_fails("allow: [\"10.0.0.1:80\\0\"]\n",
			  "prof.yaml:1:9: a NUL character is not allowed here");
	assert_load_fails("env: {\"A\\0B\": 1}\n",
			  "prof.yaml:1:7: a NUL character is not allowed here");
	assert_load_fails("env: {A: \"1\\0\"}\n",
			  "prof.yaml:1:10: a NUL character is not allowed here");
}

static void duplicate_keys_are_refused(void **state)
{
	assert_load_fails("proxy: http://10.0.0.1\nname: a\nproxy: http://10.0.0.2\n",
			  "prof.yaml:3:1: duplicate key \"proxy\"");
	assert_load_fails("env:\n  A: 1\n  B: 2\n  A: 3\n",
			  "prof.yaml:4:3: env: duplicate variable \"A\"");
}

static void yaml_syntax_errors_carry_libyaml_position(void **state)
{
	assert_load_fails("name: a\nproxy: [unclosed\n", "prof.yaml:3:1: did not find expected");
	assert_load_fails("a: b: c\n",
			  "prof.yaml:1:5: mapping values are not allowed in this context");
	assert_load_fails("name: \"x\n", "prof.yaml:2:1: found unexpected end of stream");
	assert_load_fails("name: *nope\n", "prof.yaml:1:7: found undefined alias");
	assert_load_fails("\tname: a\n",
			  "prof.yaml:1:1: found character that cannot start any token");
}

static void invalid_utf8_names_byte_offset(void **state)
{
	assert_load_fails("name: a\xff\n", "prof.yaml: invalid leading UTF-8 octet at byte 7");
}

static void second_document_is_refused(void **state)
{
	assert_load_fails("name: a\n---\nname: b\n",
			  "prof.yaml:2:1: a profile is a single YAML document");
}

static void list_limits_apply_to_profiles(void **state)
{
	size_t cap = 300 * 32 + 16;
	char *text = malloc(cap), *t = text;
	struct policy p;
	int r;

	assert_non_null(text);
	t += sprintf(t, "allow:\n");
	for (int i = 0; i < 300; i++)
		t += sprintf(t, "  - 10.1.%d.%d:80\n", i / 256, i % 256);
	r = load(text, &p);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err_message(r),
			       "prof.yaml:258:5: allow: too many allowed endpoints (at most 256)"));
	policy_free(&p);
	free(text);
}

static void forward_dns_and_isolation_keys_load(void **state)
{
	struct policy p;

	assert_int_equal(load("proxy: socks5h://127.0.0.1:9050\n"
			      "isolate_streams: true\n"
			      "forward:\n"
			      "  - 5432=/run/postgresql/.s.PGSQL.5432\n"
			      "  - listen: 127.0.0.1:1080\n"
			      "    target: socks5h://127.0.0.1:9150\n"
			      "    isolate_streams: yes\n"
			      "  - {listen: \"[::1]:8443\", target: \"[fd00::1]:443\"}\n"
			      "dns:\n"
			      "  db.internal: 127.0.0.1\n"
			      "  web.test: [10.0.0.5, \"fd00::5\"]\n",
			      &p),
			 0);
	assert_true(p.isolate_streams);
	assert_int_equal(p.n_forward, 3);
	assert_int_equal(p.forward[0].kind, TARGET_UNIX);
	assert_string_equal(p.forward[0].path, "/run/postgresql/.s.PGSQL.5432");
	assert_int_equal(p.forward[1].listen.port, 1080);
	assert_true(p.forward[1].isolate_streams);
	assert_int_equal(p.forward[1].target.scheme, SCHEME_SOCKS5H);
	assert_int_equal(p.forward[2].listen.family, AF_INET6);
	assert_false(p.forward[2].isolate_streams);
	assert_int_equal(p.n_dns, 3);
	assert_string_equal(p.dns[0].name, "db.internal");
	assert_string_equal(p.dns[2].name, "web.test");
	assert_int_equal(p.dns[2].family, AF_INET6);
	assert_int_equal(policy_finish(&p), 0);
	assert_int_equal(p.n_forward, 4); /* the proxy's, first */
	assert_true(p.forward[0].is_proxy);
	assert_true(p.forward[0].isolate_streams);
	policy_free(&p);
}

static void forward_and_dns_errors_carry_positions(void **state)
{
	assert_load_fails("forward: 8080=10.0.0.1:80\n",
			  "prof.yaml:1:10: \"forward\" must be a list");
	assert_load_fails("forward:\n  - 8080\n",
			  "prof.yaml:2:5: forward: \"8080\": expected LISTEN=TARGET");
	assert_load_fails("forward:\n  - listen: 8080\n",
			  "prof.yaml:2:5: forward: needs both listen and target");
	assert_load_fails("forward:\n  - listen: 8080\n    target: /run/x\n    isolate: true\n",
			  "prof.yaml:4:5: forward: unknown key \"isolate\"");
	assert_load_fails("forward:\n  - listen: 8080\n    target: [a]\n",
			  "prof.yaml:3:13: forward: target must be an address");
	assert_load_fails("forward:\n  - listen: 8080\n    target: /run/x\n"
			  "    isolate_streams: maybe\n",
			  "prof.yaml:4:22: \"isolate_streams\" must be true or false");
	assert_load_fails("forward:\n  - listen: 8080\n    target: 10.0.0.1:80\n"
			  "    isolate_streams: true\n",
			  "prof.yaml:2:5: forward: isolate_streams needs a socks5");
	assert_load_fails("dns: [a]\n", "prof.yaml:1:6: \"dns\" must be a mapping");
	assert_load_fails("dns:\n  web.test: nowhere\n",
			  "prof.yaml:2:13: dns: web.test: \"nowhere\" is not an IPv4 or IPv6");
	assert_load_fails("dns:\n  web.test: [10.0.0.1, {a: b}]\n",
			  "prof.yaml:2:24: dns: web.test: each value must be an address");
	assert_load_fails("dns:\n  \"bad name\": 10.0.0.1\n",
			  "prof.yaml:2:3: dns: \"bad name\" is not a valid host name");
	assert_load_fails("isolate_streams: 1\n",
			  "prof.yaml:1:18: \"isolate_streams\" must be true or false");
}

static void wireguard_mapping_becomes_a_wg_quick_config(void **state)
{
	char keyfile[300], text[1024];
	struct wg_config c;
	struct policy p;

	snprintf(keyfile, sizeof(keyfile), "%s/actor.key", dir);
	write_file(keyfile, "YEkDD8wpBW0hIjEv2vubJGTt+JfdyBHZMoMb/yDmFWk=\n");
	snprintf(text, sizeof(text),
		 "link: wireguard\n"
		 "wireguard:\n"
		 "  private_key_file: %s\n"
		 "  address: [10.0.11.2/24, \"fd11::2/64\"]\n"
		 "  listen_port: 51820\n"
		 "  peers:\n"
		 "    - public_key: g3x7z0AdV1rM6UQU22CC7IL3/ivn4DzrE7ikDhCZ/Dc=\n"
		 "      endpoint: 192.168.1.50:51820\n"
		 "      allowed_ips: [10.0.11.1/32, 10.0.11.3/32]\n"
		 "      persistent_keepalive: 25\n",
		 keyfile);
	assert_int_equal(load(text, &p), 0);
	assert_int_equal(p.link, LINK_WIREGUARD);
	assert_non_null(p.wg_built);
	c = *p.wg_built;
	assert_int_equal(c.n_addresses, 2);
	assert_int_equal(c.listen_port, 51820);
	assert_int_equal(c.n_peers, 1);
	assert_int_equal(c.peers[0].n_allowed_ips, 2);
	assert_int_equal(c.peers[0].persistent_keepalive, 25);
	assert_int_equal(c.peers[0].endpoint.sa.sa_family, AF_INET);
	{
		char b64[WG_KEY_B64_LEN + 1];

		wg_key_b64_encode(c.peers[0].public_key, b64);
		assert_string_equal(b64, "g3x7z0AdV1rM6UQU22CC7IL3/ivn4DzrE7ikDhCZ/Dc=");
		wg_key_b64_encode(c.private_key, b64);
		assert_string_equal(b64, "YEkDD8wpBW0hIjEv2vubJGTt+JfdyBHZMoMb/yDmFWk=");
	}
	assert_int_equal(policy_finish(&p), 0);
	policy_free(&p);
}

static void profile_fills_policy_before_command_line(void **state)
{
	struct policy p;

	/* The command line runs the same setters after the profile: later values win. */
	assert_int_equal(load("proxy: http://10.0.0.1:1\nenv: {A: 1}\nallow: [10.0.0.9:9]\n", &p),
			 0);
	assert_int_equal(policy_set_proxy(&p, "http://10.0.0.2:2"), 0);
	assert_int_equal(policy_add_env(&p, "A=2"), 0);
	assert_int_equal(policy_add_allow(&p, "10.0.0.9:9"), 0);
	assert_int_equal(p.proxy.port, 2);
	assert_string_equal(p.env[0], "A=2");
	assert_int_equal(p.n_allow, 1);
	policy_free(&p);
}

static void unreadable_file_reports_errno(void **state)
{
	struct policy p;
	char missing[300];
	int r;

	snprintf(missing, sizeof(missing), "%s/missing.yaml", dir);
	policy_init(&p);
	err_clear();
	r = profile_load(missing, &p);
	assert_int_equal(r, -ENOENT);
	assert_non_null(strstr(err_message(r), "missing.yaml: No such file or directory"));
	assert_non_null(strstr(err_message(r), "profile /tmp/"));

	r = profile_load(dir, &p);
	assert_int_equal(r, -EISDIR);
	assert_non_null(strstr(err_message(r), ": Is a directory"));

	r = profile_load("/dev/null", &p);
	assert_int_equal(r, -EINVAL);
	assert_string_equal(err_message(r), "profile /dev/null: not a regular file");
	policy_free(&p);
}

static void oversized_file_is_refused(void **state)
{
	char big[300];
	struct policy p;
	FILE *f;
	int r;

	snprintf(big, sizeof(big), "%s/big.yaml", dir);
	f = fopen(big, "we");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 2 * 1024 * 1024), 0);
	fclose(f);
	policy_init(&p);
	r = profile_load(big, &p);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err_message(r), "big.yaml: larger than 1048576 bytes"));
	policy_free(&p);
}

static void find_uses_paths_as_given(void **state)
{
	char buf[256];

	assert_int_equal(profile_find("./x", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "./x");
	assert_int_equal(profile_find("agent.yaml", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "agent.yaml");
	assert_int_equal(profile_find("agent.yml", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "agent.yml");
	assert_int_equal(profile_find("/etc/x", buf, 4), -ENAMETOOLONG);
	assert_int_equal(profile_find("", buf, sizeof(buf)), -EINVAL);
	assert_string_equal(err_message(-EINVAL), "profile: empty name");
}

static void find_looks_in_local_profiles_first(void **state)
{
	char buf[256], sub[300], cwd[4096];
	int r;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(sub, sizeof(sub), "%s/profiles", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/profiles/agent-test-xyz.yaml", dir);
	write_file(sub, "name: a\n");
	assert_int_equal(chdir(dir), 0);

	assert_int_equal(profile_find("agent-test-xyz", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "./profiles/agent-test-xyz.yaml");

	r = profile_find("no-such-profile-xyz", buf, sizeof(buf));
	assert_int_equal(r, -ENOENT);
	assert_non_null(strstr(err_message(r),
			       "profile \"no-such-profile-xyz\" (looked for "
			       "./profiles/no-such-profile-xyz.yaml and "
			       "/etc/sluice/no-such-profile-xyz.yaml; the built-in ones are "
			       "actor-wg, agent, offline, registrar-wg, tor): No such file or "
			       "directory"));
	/* a shipped one, with no file of its name about: built in, and it loads */
	assert_int_equal(profile_find("offline", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "built-in:offline");
	{
		struct policy p;

		policy_init(&p);
		assert_int_equal(profile_load(buf, &p), 0);
		policy_free(&p);
	}
	assert_int_equal(chdir(cwd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(full_profile_loads_every_key),
	    cmocka_unit_test(command_and_denial_keys_load),
	    cmocka_unit_test(flow_style_profile_loads),
	    cmocka_unit_test(empty_file_is_an_empty_profile),
	    cmocka_unit_test(verbose_takes_true_false_yes_no),
	    cmocka_unit_test(unknown_key_names_line_and_column),
	    cmocka_unit_test(wrong_node_types_name_the_key),
	    cmocka_unit_test(null_values_are_refused_for_strings),
	    cmocka_unit_test(bad_values_carry_the_value_position),
	    cmocka_unit_test(messages_stay_on_one_line),
	    cmocka_unit_test(nul_characters_are_refused),
	    cmocka_unit_test(duplicate_keys_are_refused),
	    cmocka_unit_test(yaml_syntax_errors_carry_libyaml_position),
	    cmocka_unit_test(invalid_utf8_names_byte_offset),
	    cmocka_unit_test(second_document_is_refused),
	    cmocka_unit_test(list_limits_apply_to_profiles),
	    cmocka_unit_test(forward_dns_and_isolation_keys_load),
	    cmocka_unit_test(forward_and_dns_errors_carry_positions),
	    cmocka_unit_test(wireguard_mapping_becomes_a_wg_quick_config),
	    cmocka_unit_test(profile_fills_policy_before_command_line),
	    cmocka_unit_test(unreadable_file_reports_errno),
	    cmocka_unit_test(oversized_file_is_refused),
	    cmocka_unit_test(find_uses_paths_as_given),
	    cmocka_unit_test(find_looks_in_local_profiles_first),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
