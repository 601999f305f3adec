/* options.c: command-line options of `run` and `check`. Each option has a profile key and
 * goes through the same policy setter, so the command line and a profile can never accept
 * different things. */
#include <getopt.h>
#include <stdio.h>

#include "log.h"
#include "nested.h"
#include "options.h"
#include "prepare.h"

extern char **environ;

const char options_help[] =
	"  -p, --profile FILE|NAME  read a profile (NAME: ./profiles/NAME.yaml, then\n"
	"                           /etc/sluice/NAME.yaml, then the shipped ones, built\n"
	"                           in); options given here override it\n"
	"  -n, --name NAME          the cage's name (default: from the command)\n"
	"      --link none|veth|wireguard\n"
	"                           the cage's link: none (default: lo only, the way out\n"
	"                           is forwards; works without root), veth (a routed\n"
	"                           link to this host; root) or wireguard (a tunnel whose\n"
	"                           encrypted UDP stays outside; root)\n"
	"      --wg-config FILE     link wireguard: the tunnel, as a wg-quick file\n"
	"      --wg-backend auto|kernel|userspace\n"
	"                           kernel WireGuard, or wireguard-go (auto: the kernel's\n"
	"                           where it has WireGuard)\n"
	"      --proxy URL          the one way out: http://, socks5:// or socks5h://\n"
	"                           host:port; sets the proxy variables in the cage. A\n"
	"                           loopback proxy (any proxy with link none) is served\n"
	"                           by a forward at 127.0.0.1 on the same port. With\n"
	"                           credentials (http://user:pass@host:port) the proxy\n"
	"                           is always forwarded and the supervisor adds them\n"
	"  -f, --forward LISTEN=TARGET\n"
	"                           serve LISTEN in the cage (PORT, 127.0.0.1:PORT or\n"
	"                           [::1]:PORT) by connecting to TARGET from here:\n"
	"                           host:port, [v6]:port, /path/to/unix.sock, or\n"
	"                           socks5h://host:port[,isolate_streams] (repeatable)\n"
	"  -P, --publish [HOSTADDR:]PORT[=CAGEPORT]\n"
	"                           a service of the cage: the supervisor listens at\n"
	"                           HOSTADDR:PORT here (default 127.0.0.1) and joins each\n"
	"                           connection to 127.0.0.1:CAGEPORT in the cage (default\n"
	"                           PORT); any link (repeatable)\n"
	"      --listen ENDPOINT[@SOURCE[,SOURCE...]]\n"
	"                           link veth or wireguard: accept TCP on the cage's link\n"
	"                           to ENDPOINT (PORT, ADDR:PORT or /ip4/A/tcp/P, with\n"
	"                           /wg/uKEY the cage's own key) from SOURCEs (ADDR or\n"
	"                           ADDR/PREFIX; default: whatever the link carries);\n"
	"                           nothing else comes in (repeatable)\n"
	"      --isolate-streams    give each connection through the socks5 proxy fresh\n"
	"                           credentials (Tor's per-stream circuits)\n"
	"  -d, --dns NAME=ADDR      NAME resolves to ADDR in the cage (repeatable); all\n"
	"                           other names but proxy.internal are NXDOMAIN\n"
	"  -a, --allow ADDR         also allow ADDR: host:port, [v6]:port, udp:host:port\n"
	"                           /ip4/A/tcp/P, /ip4/A/tcp/P/wg/uKEY (through the peer\n"
	"                           whose key is KEY), /ip4/B/udp/P/wg/uKEY/ip4/A/tcp/P\n"
	"                           (that peer at B:P), or a unix socket /unix/PATH (a PATH\n"
	"                           ending in / allows the sockets below it) (repeatable)\n"
	"      --unix auto|strict   a pathname unix socket is reached only if a process of\n"
	"                           the cage serves it or it is allowed (judged by the\n"
	"                           socket reached); strict: refuse to run unless the\n"
	"                           kernel backs that too (cgroup unix hooks: root)\n"
	"      --seccomp default|off\n"
	"                           the default system call denylist (new namespaces,\n"
	"                           keyrings, bpf, perf, userfaultfd, mounts...), or off;\n"
	"                           the unix broker's and the terminal's rules stay\n"
	"  -e, --env K=V|NAME       set K in the command's environment; NAME alone passes\n"
	"                           this caller's value of NAME, on no command line\n"
	"                           (repeatable)\n"
	"      --env-file FILE      KEY=VALUE lines, each as --env (# comments)\n"
	"  -u, --user USER          run the command as USER (default: the user who ran\n"
	"                           sudo; as plain root, --user root must be given)\n"
	"      --pool CIDR          IPv4 pool for cage subnets (default 10.200.0.0/16)\n"
	"      --nest               the cage's processes may make child cages (sluice run\n"
	"                           or up inside it, named PARENT.NAME) that reach only\n"
	"                           what it reaches; rootless too\n"
	"  -q, --quiet              no line on stderr for each denial (--audit, --learn\n"
	"                           still record them)\n"
	"      --audit FILE|-       write each denial as a JSON line to FILE (appended;\n"
	"                           -: stdout); see sluice(1) AUDIT\n"
	"      --learn FILE         run as usual (refusing as usual), then write FILE: a\n"
	"                           profile of this run's options and, marked for\n"
	"                           review, what the command tried and was refused\n"
	"      --check-targets warn|require|off\n"
	"                           at start, try the proxy and each forward's target from\n"
	"                           outside the cage: warn (default) says which does not\n"
	"                           answer, require refuses to run then\n"
	"  -v, --verbose            say what is done, step by step\n"
	"  -h, --help               this help\n";

enum { OPT_LINK = 0x100, OPT_PROXY, OPT_POOL, OPT_ISOLATE, OPT_UNIX, OPT_WG_CONFIG, OPT_WG_BACKEND, OPT_SECCOMP, OPT_LISTEN, OPT_NEST, OPT_AUDIT, OPT_LEARN, OPT_CHECK_TARGETS, OPT_ENV_FILE };

static const struct option longopts[] = {
	{"profile", required_argument, NULL, 'p'}, {"name", required_argument, NULL, 'n'},
	{"link", required_argument, NULL, OPT_LINK}, {"proxy", required_argument, NULL, OPT_PROXY},
	{"allow", required_argument, NULL, 'a'},     {"env", required_argument, NULL, 'e'},
	{"user", required_argument, NULL, 'u'},      {"pool", required_argument, NULL, OPT_POOL},
	{"verbose", no_argument, NULL, 'v'},         {"help", no_argument, NULL, 'h'},
	{"forward", required_argument, NULL, 'f'},   {"dns", required_argument, NULL, 'd'},
	{"isolate-streams", no_argument, NULL, OPT_ISOLATE}, {"unix", required_argument, NULL, OPT_UNIX},
	{"wg-config", required_argument, NULL, OPT_WG_CONFIG},
	{"wg-backend", required_argument, NULL, OPT_WG_BACKEND},
	{"seccomp", required_argument, NULL, OPT_SECCOMP},
	{"publish", required_argument, NULL, 'P'},
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"nest", no_argument, NULL, OPT_NEST},
	{"quiet", no_argument, NULL, 'q'},
	{"audit", required_argument, NULL, OPT_AUDIT},
	{"learn", required_argument, NULL, OPT_LEARN},
	{"check-targets", required_argument, NULL, OPT_CHECK_TARGETS},
	{"env-file", required_argument, NULL, OPT_ENV_FILE},
	{0},
};

static const char shortopts[] = "+p:n:a:e:u:f:d:P:vqh";

const struct nested *options_nested;

static const char *option_name(int c)
{
	for (const struct option *o = longopts; o->name; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

/* What a child cage's request may say: nothing that names a file of the host (a profile, a
 * tunnel's configuration, a unix socket), widens (--allow, --publish, --listen, another link)
 * or changes who runs. The values are checked against the parent's after the plan is made. */
static bool nested_allows(int c)
{
	switch (c) {
	case 'n':
	case OPT_PROXY:
	case 'f':
	case 'd':
	case 'e':
	case OPT_ISOLATE:
	case OPT_NEST:
	case OPT_LINK:
	case 'v':
	case 'q':
	case 'h':
		return true;
	default:
		return false;
	}
}

/* The proxy URL's credentials, overwritten where the argument lies: ps, and /proc/1/cmdline
 * of the cage (its first process is a copy of this one), show the URL with stars for them. What a
 * process reads of another's command line before this runs cannot be taken back: a profile
 * (mode 0600) keeps them off every command line. */
static void hide_userinfo(char *url)
{
	size_t at, len;

	if (policy_proxy_userinfo(url, &at, &len) == 0)
		memset(url + at, '*', len - 1);
}

int options_parse(int argc, char **argv, struct policy *p, char ***ret_cmd)
{
	int c, r = 0;

	/* Pass 1: the profile, so options on the command line override what it says. */
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		char path[4096];

		if (c == 'h')
			return 1;
		if (c == '?') {
			if (optopt)
				return err_invalid("option -%c: unknown, or missing its value", optopt);
			return err_invalid("%s: unknown option, or missing its value",
					   argv[optind - 1]);
		}
		if (options_nested && !nested_allows(c))
			return err_invalid("--%s: a child cage (in cage \"%s\") takes only --name, "
					   "--proxy, --forward, --dns, --env, --isolate-streams, "
					   "--link none, --nest, --quiet and --verbose; it reaches only what its "
					   "parent reaches, as its user",
					   option_name(c), options_nested->parent);
		if (c != 'p')
			continue;
		r = profile_find(optarg, path, sizeof(path));
		if (r < 0)
			return r;
		r = profile_load(path, p);
		if (r < 0)
			return r;
	}

	optind = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const char *what = NULL;

		switch (c) {
		case 'n':
			what = "--name";
			r = policy_set_name(p, optarg);
			break;
		case OPT_LINK:
			what = "--link";
			r = policy_set_link(p, optarg);
			break;
		case OPT_PROXY:
			what = "--proxy";
			r = policy_set_proxy(p, optarg);
			hide_userinfo(optarg);
			break;
		case 'a':
			what = "--allow";
			r = policy_add_allow(p, optarg);
			break;
		case 'e':
			what = "--env";
			r = policy_add_env(p, optarg);
			break;
		case 'u':
			what = "--user";
			r = policy_set_user(p, optarg);
			break;
		case OPT_POOL:
			what = "--pool";
			r = policy_set_pool(p, optarg);
			break;
		case 'f':
			what = "--forward";
			r = policy_add_forward(p, optarg);
			break;
		case 'd':
			what = "--dns";
			r = policy_add_dns(p, optarg);
			break;
		case 'P':
			what = "--publish";
			r = policy_add_publish(p, optarg);
			break;
		case OPT_LISTEN:
			what = "--listen";
			r = policy_add_listen(p, optarg);
			break;
		case OPT_WG_CONFIG:
			what = "--wg-config";
			r = policy_set_wg_config(p, optarg);
			break;
		case OPT_WG_BACKEND:
			what = "--wg-backend";
			r = policy_set_wg_backend(p, optarg);
			break;
		case OPT_UNIX:
			what = "--unix";
			r = policy_set_unix(p, optarg);
			break;
		case OPT_SECCOMP:
			what = "--seccomp";
			r = policy_set_seccomp(p, optarg);
			break;
		case OPT_ISOLATE:
			p->isolate_streams = true;
			break;
		case OPT_NEST:
			p->nest = true;
			break;
		case 'v':
			p->verbose = true;
			break;
		case 'q':
			p->quiet = true;
			break;
		case OPT_AUDIT:
			what = "--audit";
			r = policy_set_audit(p, optarg);
			break;
		case OPT_LEARN:
			what = "--learn";
			r = policy_set_learn(p, optarg);
			break;
		case OPT_CHECK_TARGETS:
			what = "--check-targets";
			r = policy_set_check_targets(p, optarg);
			break;
		case OPT_ENV_FILE:
			what = "--env-file";
			r = policy_add_env_file(p, optarg);
			break;
		default:
			break;
		}
		if (r < 0)
			return err_wrap(r, "%s %s", what, optarg);
	}

	*ret_cmd = optind < argc ? &argv[optind] : NULL;
	if (options_nested) {
		const char *parent = options_nested->parent;
		size_t plen = strlen(parent);
		char uid[16], name[CAGE_NAME_MAX + 16];

		snprintf(uid, sizeof(uid), "%u", (unsigned)options_nested->uid);
		r = policy_set_user(p, uid);
		if (r < 0)
			return r;
		/* A child's name says whose it is, so that none passes for a cage of the host's
		 * in ls or takes a name the host's may want: PARENT.NAME, by default
		 * PARENT.<the child's supervisor's pid>. */
		if (!p->name[0]) {
			snprintf(name, sizeof(name), "%s.%d", parent, (int)getpid());
			r = policy_set_name(p, name);
			if (r < 0)
				return err_wrap(r, "a child cage of \"%s\" (give --name %s.NAME)",
						parent, parent);
		} else if (strncmp(p->name, parent, plen) != 0 || p->name[plen] != '.' ||
			   !p->name[plen + 1]) {
			return err_invalid("a child cage of \"%s\" is named %s.NAME, not \"%s\"",
					   parent, parent, p->name);
		}
	}
	return policy_finish(p);
}

int options_plan(int argc, char **argv, bool need_command, struct plan *ret)
{
	struct policy pol;
	char **cmd = NULL;
	int r;

	policy_init(&pol);
	r = options_parse(argc, argv, &pol, &cmd);
	if (r == 0) {
		if (pol.verbose)
			log_max_level = LOG_DEBUG;
		/* No -- CMD: the profile's command: (a unit runs a profile, nothing else). */
		if (!cmd && pol.command)
			cmd = pol.command;
		r = plan_prepare(&pol, cmd, need_command,
				 options_nested ? options_nested->env : environ, ret);
		if (r == 0 && options_nested) {
			r = nested_apply(ret);
			if (r < 0)
				plan_free(ret);
		}
	}
	policy_free(&pol);
	return r;
}
