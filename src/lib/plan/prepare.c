/* prepare.c: gathers what a plan needs beside the policy, and nothing more: who runs the
 * command (passwd), the host's prefixes (rtnetlink dump), the kernel's facts and the live
 * cages (state). */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/utsname.h>

#include <libmnl/libmnl.h>

#include "cgroup.h"
#include "landlock.h"
#include <systemd/sd-daemon.h>
#include "log.h"
#include "nl.h"
#include "prepare.h"
#include "state.h"
#include "sysfilter.h"



struct ident_store {
	struct identity id;
	char user[256], home[4096], shell[4096];
	gid_t *groups;
};

/* The user's supplementary groups, looked up here rather than by initgroups() in the cage:
 * NSS modules there would load libraries and parse files on the path of every start, and
 * a directory service's socket under /run is hidden from the cage. A command that runs as
 * the user who started sluice keeps the groups that user has now, as any command it runs
 * does (no NSS lookup at all). Root only: without root the cage's user namespace maps one
 * group and the list cannot be set. */
static int ident_groups(const struct passwd *pw, struct ident_store *s)
{
	int n = 32;

	if (geteuid() != 0)
		return 0;
	if (pw->pw_uid == getuid()) {
		int k = getgroups(0, NULL);

		s->groups = k >= 0 ? calloc((size_t)k + 1, sizeof(*s->groups)) : NULL;
		k = s->groups ? getgroups(k, s->groups) : -1;
		if (k < 0)
			return err_set(s->groups ? negative_errno() : -ENOMEM,
				       "list the groups of %s", s->user);
		s->id.groups = s->groups;
		s->id.n_groups = (size_t)k;
		return 0;
	}
	for (;;) {
		gid_t *g = realloc(s->groups, (size_t)n * sizeof(*g));
		int want = n;

		if (!g)
			return -ENOMEM;
		s->groups = g;
		if (getgrouplist(s->user, pw->pw_gid, g, &want) >= 0) {
			s->id.groups = g;
			s->id.n_groups = (size_t)want;
			return 0;
		}
		if (want <= n) /* no growth asked for: give up rather than loop */
			return err_set(-EIO, "list the groups of %s", s->user);
		n = want;
	}
}

static int ident_from_pw(const struct passwd *pw, struct ident_store *s)
{
	snprintf(s->user, sizeof(s->user), "%s", pw->pw_name);
	snprintf(s->home, sizeof(s->home), "%s", pw->pw_dir);
	snprintf(s->shell, sizeof(s->shell), "%s", pw->pw_shell);
	s->id = (struct identity){
	    .uid = pw->pw_uid,
	    .gid = pw->pw_gid,
	    .user = s->user,
	    .home = s->home,
	    .shell = s->shell,
	};
	return ident_groups(pw, s);
}

static int resolve_identity(const struct policy *pol, struct ident_store *s)
{
	const struct passwd *pw;
	const char *sudo_uid = getenv("SUDO_UID");

	if (pol->user) {
		char *end;
		unsigned long uid = strtoul(pol->user, &end, 10);

		pw = *end == '\0' ? getpwuid((uid_t)uid) : getpwnam(pol->user);
		if (!pw)
			return err_invalid("--user %s: no such user", pol->user);
		if (geteuid() != 0 && pw->pw_uid != geteuid())
			return err_invalid("--user %s: without root a command runs as the user who "
					   "started sluice (uid %u)",
					   pol->user, (unsigned)geteuid());
		return ident_from_pw(pw, s);
	}
	if (getuid() != 0) {
		pw = getpwuid(getuid());
		if (!pw)
			return err_invalid("the calling uid %u has no passwd entry; give --user",
					   (unsigned)getuid());
		return ident_from_pw(pw, s);
	}
	if (sudo_uid && *sudo_uid) {
		pw = getpwuid((uid_t)strtoul(sudo_uid, NULL, 10));
		if (!pw)
			return err_invalid("SUDO_UID=%s has no passwd entry; give --user",
					   sudo_uid);
		return ident_from_pw(pw, s);
	}
	return err_invalid("refusing to run the command as root: give --user root if that is "
			   "what you mean, or --user NAME");
}

/* From uname's release ("6.18.44-..."): whether the running kernel is major.minor or later. */
static bool kernel_at_least(unsigned major, unsigned minor)
{
	struct utsname u;
	unsigned a = 0, b = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &a, &b) != 2)
		return false;
	return a > major || (a == major && b >= minor);
}

static bool ip_forward_on(void)
{
	_cleanup_close_ int fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
	char on = '0';

	return fd >= 0 && read(fd, &on, 1) == 1 && on == '1';
}

/* The sockets a service manager passed this process (sd_listen_fds: LISTEN_PID must be ours),
 * left where they are: the run takes them (cage.c). */
static int listen_fds(struct host_facts *f)
{
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_text_ struct text t = TEXT_INIT;
	int n = sd_listen_fds_with_names(0, &names);

	if (n < 0)
		return err_set(n, "the sockets passed by the service manager (LISTEN_FDS)");
	f->listen_fds = n;
	if (n == 0 || !names)
		return 0;
	for (char **s = names; *s; s++)
		text_printf(&t, "%s%s", s == names ? "" : ":", *s);
	if (text_error(&t))
		return -ENOMEM;
	f->listen_names = strdup(text_str(&t));
	return f->listen_names ? 0 : -ENOMEM;
}

static int gather_facts(const struct policy *pol, struct host_facts *f)
{
	char **names = NULL;
	int r;

	f->unprivileged = geteuid() != 0;
	f->unotify = sysfilter_probe_notify() == 0;
	f->unix_hooks = !f->unprivileged && kernel_at_least(6, 7);
	f->landlock_abi = landlock_abi();
	r = listen_fds(f);
	if (r < 0)
		return r;
	if (!f->unprivileged) {
		char mount[4096];

		r = cgroup_find_mount(mount, sizeof(mount));
		if (r == 0)
			r = cgroup_self_delegated(mount, f->delegated, sizeof(f->delegated));
		if (r < 0)
			return r;
	}
	/* Only a veth link needs a subnet, and so the host's addresses and routes. */
	if (pol->link == LINK_VETH) {
		_cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;

		r = nl_open(NETLINK_ROUTE, &nl);
		if (r < 0)
			return r;
		r = nl_dump_prefixes(nl, f);
		if (r < 0)
			return r;
		f->ip_forward_off = !ip_forward_on();
	}
	/* New names for this run's host link and table: a pid alone can repeat (a fresh pid
	 * namespace for every run of a service), so random bits join it. */
	if (getrandom(&f->nonce, sizeof(f->nonce), GRND_NONBLOCK) != (ssize_t)sizeof(f->nonce))
		f->nonce = 0;
	f->nonce ^= (uint32_t)getpid();
	/* The live cages' names only matter for picking a default name: reading them all on
	 * every start would make starting the 1000th cage slower than the first. */
	if (pol->name[0])
		return 0;
	r = state_list(&names);
	if (r < 0)
		return err_set(r, "list %s", STATE_DIR);
	f->live_names = names;
	while (names[f->n_live_names])
		f->n_live_names++;
	return 0;
}

/* link wireguard: the tunnel's configuration (a wg-quick file, or what a profile's
 * wireguard: mapping built), and the peers that infix maddrs in --allow declare. */
static int load_wg(struct policy *pol, struct wg_config *ret)
{
	int r = 0;

	if (pol->wg_config) {
		r = wgconf_load(pol->wg_config, ret);
	} else {
		*ret = *pol->wg_built; /* taken: the policy's is left empty */
		memset(pol->wg_built, 0, sizeof(*pol->wg_built));
	}
	if (r < 0)
		return r;
	r = plan_wg_merge_allow(ret, pol->allow, pol->n_allow);
	return r < 0 ? err_wrap(r, "WireGuard peers from --allow") : 0;
}

int plan_prepare(struct policy *pol_in, char **cmd, bool need_command, char *const *env,
		 struct plan *ret)
{
	struct policy pol = *pol_in; /* ours now: freed here, whatever happens */
	struct wg_config wg = {0};
	struct host_facts facts = {0};
	struct ident_store ident = {0};
	int r = 0;

	policy_init(pol_in);
	if (need_command && !cmd) {
		r = err_invalid("no command given: sluice run [OPTIONS] -- CMD [ARGS...]");
		goto out;
	}
	r = resolve_identity(&pol, &ident);
	if (r < 0 && !need_command) {
		/* check shows the plan anyway: who runs the command depends on how run is
		 * invoked (sudo or not), not on the profile. */
		ident.id = (struct identity){.uid = 0, .gid = 0, .user = NULL};
		err_clear();
		r = 0;
	}
	if (r < 0)
		goto out;
	r = gather_facts(&pol, &facts);
	if (r < 0)
		goto out;
	if (pol.link == LINK_WIREGUARD) {
		r = load_wg(&pol, &wg);
		if (r < 0)
			goto out;
		facts.wg = &wg;
		facts.wg_kernel = access("/sys/module/wireguard", F_OK) == 0;
	}
	if (!pol.name[0]) {
		r = plan_default_name(cmd ? cmd[0] : "cage", facts.live_names, facts.n_live_names,
				      pol.name, sizeof(pol.name));
		if (r < 0) {
			r = err_invalid("no free default cage name; give --name");
			goto out;
		}
	}
	r = plan_build(&pol, &facts, cmd, env, &ident.id, ret);
	if (r == 0 && pol.link == LINK_WIREGUARD) {
		ret->wg = wg; /* the plan owns the configuration now */
		memset(&wg, 0, sizeof(wg));
	}
out:
	free(ident.groups);
	wg_config_free(&wg);
	host_facts_free(&facts);
	policy_free(&pol);
	return r;
}
