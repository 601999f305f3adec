/* gc.c: what runs whose supervisor is gone left behind, removed: the recorded cages first,
 * then any sluice object no live cage owns (a crash can come before the record is
 * complete). `sluice gc` runs it; so can a unit's ExecStopPost or `down`. What is removed is
 * told to the caller, one line each; what fails is logged and returned. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include <libmnl/libmnl.h>

#include "bpf.h"
#include "cage.h"
#include "cgroup.h"
#include "gc.h"
#include "log.h"
#include "named.h"
#include "nft.h"
#include "nl.h"
#include "state.h"
#include "unixguard.h"
#include "wg.h"

struct gc {
	gc_said_fn said;
	void *data;
};

static void _printf_(2, 3) say(const struct gc *g, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!g->said)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	g->said(line, g->data);
}

struct live {
	struct cage_state *s;
	size_t n;
};

static bool owned(const struct live *l, const char *what, const char *name)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct cage_state *s = &l->s[i];

		if ((streq(what, "cgroup") && streq(s->name, name)) ||
		    (streq(what, "link") && (streq(s->host_if, name) || streq(s->wg_if, name))) ||
		    (streq(what, "table") && streq(s->host_table, name)))
			return true;
	}
	return false;
}

/* A wireguard-go of a cage dies with its supervisor, but killed it cannot remove its UAPI
 * socket: remove the sockets of cage tunnels (sw-*) that nothing answers on any more. */
static int remove_dead_wg_sockets(const struct gc *g)
{
	_cleanup_strv_free_ char **names = NULL;
	int ret = 0;

	if (dir_list(WG_RUN_DIR, false, &names) < 0)
		return 0;
	for (char **n = names; *n; n++) {
		char path[sizeof(WG_RUN_DIR) + 32], ifname[IFNAMSIZ];
		size_t len = strlen(*n);
		struct stat st;

		/* sw-XXXXXXXX.sock: a cage tunnel's (not another wireguard-go's) */
		if (len != 16 || !streq(*n + 11, ".sock"))
			continue;
		snprintf(ifname, sizeof(ifname), "%.11s", *n);
		if (!plan_is_wg_ifname(ifname))
			continue;
		snprintf(path, sizeof(path), "%s/%s", WG_RUN_DIR, *n);
		if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || wg_uapi_live(path))
			continue; /* not a socket, or a live cage's tunnel */
		if (unlink(path) < 0 && errno != ENOENT)
			ret = log_errno(negative_errno(), "remove %s", path);
		else
			say(g, "removed %s", path);
	}
	return ret;
}

/* The id of the cgroup name below the cgroup of all cages (parent). */
static int id_at(int parent, const char *name, uint64_t *ret)
{
	_cleanup_close_ int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? negative_errno() : cgroup_id(fd, ret);
}

/* The records of the cages alive now. */
static int read_live(struct live *l)
{
	_cleanup_strv_free_ char **names = NULL;
	size_t n = 0;
	int r;

	r = state_list(&names);
	if (r < 0)
		return r;
	while (names[n])
		n++;
	l->s = calloc(n + 1, sizeof(*l->s));
	if (!l->s)
		return -ENOMEM;
	l->n = 0;
	for (char **name = names; *name; name++) {
		r = state_read(*name, &l->s[l->n]);
		if (r == -ENOENT || r == -ENODATA || r == -ENAMETOOLONG || r == -EBADF)
			continue; /* gone meanwhile, cut short, or not a record of sluice's */
		/* a record not read may be a live cage's: remove nothing rather than its objects */
		if (r < 0)
			return err_set(r, "read the record %s/%s", STATE_DIR, *name);
		if (state_alive(&l->s[l->n]))
			l->n++;
	}
	return 0;
}

/*
 * Objects named like sluice's that no live cage owns. They are listed first and the live
 * records read after: a run makes its record before its cgroup, link and table, so whatever
 * the listing shows of a run that is starting now, that run's record is there to own it.
 */
static int remove_orphans(const struct gc *g, const char *cgmount)
{
	_cleanup_strv_free_ char **cgs = NULL, **links = NULL, **tables = NULL;
	_cleanup_(mnl_socket_closep) struct mnl_socket *rt = NULL;
	_cleanup_(mnl_socket_closep) struct mnl_socket *nft = NULL;
	_cleanup_free_ uint64_t *cg_ids = NULL;
	_cleanup_close_ int parent = -1;
	struct live live = {0};
	char path[4200];
	size_t n_cgs = 0;
	int r, ret = 0;

	/* A listing that fails leaves its list empty: nothing of that kind is removed. Each
	 * cgroup is taken with its id: a cage's cgroup has the cage's name, which the next run
	 * of that cage takes again, and only the one listed is removed. */
	snprintf(path, sizeof(path), "%s/sluice", cgmount);
	parent = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent >= 0 && cgroup_list_cages(cgmount, &cgs) == 0) {
		while (cgs[n_cgs])
			n_cgs++;
		cg_ids = calloc(n_cgs + 1, sizeof(*cg_ids));
		for (size_t i = 0; cg_ids && i < n_cgs; i++)
			if (id_at(parent, cgs[i], &cg_ids[i]) < 0)
				cg_ids[i] = 0; /* not read: left alone */
	}
	if (nl_open(NETLINK_ROUTE, &rt) == 0)
		(void)nl_list_links(rt, "s", &links);
	if (nl_open(NETLINK_NETFILTER, &nft) == 0)
		(void)nft_list_tables(nft, "sluice_", &tables);
	r = read_live(&live);
	if (r < 0) {
		free(live.s);
		log_error("%s: no orphan removed", err_message(r));
		return r;
	}
	for (size_t i = 0; cg_ids && i < n_cgs; i++) {
		char rel[128];

		if (!cg_ids[i] || owned(&live, "cgroup", cgs[i]))
			continue;
		snprintf(rel, sizeof(rel), "sluice/%s", cgs[i]);
		r = cgroup_destroy(cgmount, rel, cg_ids[i]);
		if (r == 0)
			say(g, "removed cgroup %s", rel);
		else if (r != -ENOENT && r != -ESTALE)
			ret = log_errno(r, "remove cgroup %s", rel);
	}
	for (char **l = links; l && *l; l++) {
		/* named as sluice names a host link, or a WireGuard link not yet moved */
		if ((!plan_is_host_ifname(*l) && !plan_is_wg_ifname(*l)) ||
		    owned(&live, "link", *l))
			continue;
		r = nl_link_del(rt, *l);
		if (r < 0 && r != -ENODEV)
			ret = log_errno(r, "remove link %s", *l);
		else
			say(g, "removed link %s", *l);
	}
	for (char **t = tables; t && *t; t++) {
		if (!plan_is_host_table(*t) || owned(&live, "table", *t))
			continue;
		r = nft_delete_table(nft, *t);
		if (r < 0 && r != -ENOENT)
			ret = log_errno(r, "remove table inet %s", *t);
		else
			say(g, "removed table inet %s", *t);
	}
	free(live.s);
	return ret;
}

/*
 * The eBPF hooks stay attached to <cgroup2>/sluice between runs; a run whose supervisor was
 * killed leaves its entries in their maps. Remove the entries of every cgroup id that is not
 * a cage's now, and with --unload take the hooks off (and the then empty cgroup away).
 */
struct cages_dir {
	const char *cgmount;
	int parent; /* <cgroup2>/sluice */
};

/* bpf_live_fn: the cgroup ids of the cages under <cgroup2>/sluice now. */
static int live_cage_ids(void *ctx, uint64_t **ret_ids, size_t *ret_n)
{
	struct cages_dir *d = ctx;
	_cleanup_strv_free_ char **cgs = NULL;
	_cleanup_free_ uint64_t *ids = NULL;
	size_t n_cgs = 0, n = 0;

	if (cgroup_list_cages(d->cgmount, &cgs) < 0)
		return log_errno(-EIO, "list %s/sluice", d->cgmount);
	while (cgs[n_cgs])
		n_cgs++;
	ids = calloc(n_cgs + 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (char **c = cgs; *c; c++) {
		int r = id_at(d->parent, *c, &ids[n]);

		if (r == 0)
			n++;
		else if (r != -ENOENT) {
			/* a cage whose id is not known would lose its entries: prune nothing */
			return log_errno(r, "read the id of cgroup sluice/%s", *c);
		}
	}
	*ret_ids = TAKE_PTR(ids);
	*ret_n = n;
	return 0;
}

static int prune_hooks(const struct gc *g, const char *cgmount, bool unload)
{
	static const struct bpf_resident *const res[] = {&bpf_sock_resident, &unixguard_resident};
	_cleanup_close_ int parent = -1;
	struct cages_dir dir = {.cgmount = cgmount};
	char path[4200];
	int r, ret = 0;

	snprintf(path, sizeof(path), "%s/sluice", cgmount);
	parent = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent < 0)
		return errno == ENOENT ? 0 : log_errno(negative_errno(), "open %s", path);
	dir.parent = parent;
	for (size_t i = 0; i < ARRAY_SIZE(res); i++) {
		size_t removed = 0;

		r = bpf_resident_prune(parent, res[i], live_cage_ids, &dir, &removed);
		if (r < 0)
			ret = log_errno(r, "prune the %s", res[i]->what);
		else if (removed)
			say(g, "removed %zu entries of dead cages from the %s", removed,
			    res[i]->what);
	}
	if (!unload)
		return ret;
	for (size_t i = 0; i < ARRAY_SIZE(res); i++) {
		err_clear();
		r = bpf_resident_unload(parent, res[i]);
		if (r < 0) {
			log_error("%s", err_message(r));
			ret = r;
		} else if (r > 0)
			say(g, "unloaded the %s", res[i]->what);
	}
	/* Nothing of sluice's is left in it: let the cgroup of all cages go too (rmdir refuses
	 * while a cage's cgroup is below it). */
	if (ret == 0 && rmdir(path) == 0)
		say(g, "removed cgroup sluice");
	return ret;
}

/* Whether a record's cgroup is the cage's own: OWN ("sluice/NAME"), below the cgroup2 mount
 * or below a cgroup a service manager delegated ("system.slice/sluice@x.service/sluice/NAME"),
 * with no "." or ".." on the way. */
static bool cgroup_is_cages(const char *cg, const char *own)
{
	size_t n = strlen(cg), m = strlen(own);

	if (n < m || !streq(cg + n - m, own) || (n > m && cg[n - m - 1] != '/'))
		return false;
	for (const char *c = cg; *c; c += strcspn(c, "/"), c += *c == '/') {
		size_t len = strcspn(c, "/");

		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
	}
	return true;
}

/* What a dead cage's record names, removed: its cgroup (what is in it killed), its link and
 * host table, the record. Only ever the cage's own, with the names sluice gives them. */
static int remove_leftovers(const struct cage_state *s, const char *cgroup_mount)
{
	_cleanup_(mnl_socket_closep) struct mnl_socket *rt = NULL;
	_cleanup_(mnl_socket_closep) struct mnl_socket *nft = NULL;
	char own[sizeof(s->cgroup) + 8], table[PLAN_TABLE_MAX];
	bool here;
	int r, ret = 0;

	/* gc kills what is in the cgroup and deletes the link and the table: only ever the
	 * cage's own, with the names sluice gives them, whatever the record says. */
	snprintf(own, sizeof(own), "sluice/%s", s->name);
	if (s->cgroup[0] && !cgroup_is_cages(s->cgroup, own))
		return err_set(-EINVAL, "the record of cage \"%s\" names cgroup %s: left alone",
			       s->name, s->cgroup);
	if ((s->host_if[0] && !plan_is_host_ifname(s->host_if)) ||
	    (s->wg_if[0] && !plan_is_wg_ifname(s->wg_if)))
		return err_set(-EINVAL, "the record of cage \"%s\" names link %s: left alone",
			       s->name, s->host_if[0] ? s->host_if : s->wg_if);
	plan_host_table(s->name, s->host_if, table);
	if (s->host_table[0] && (!s->host_if[0] || !streq(s->host_table, table)))
		return err_set(-EINVAL, "the record of cage \"%s\" names table %s: left alone",
			       s->name, s->host_table);
	r = s->cgroup[0] ? cgroup_destroy(cgroup_mount, s->cgroup, 0) : 0;
	if (r < 0 && r != -ENOENT)
		ret = r;
	/* A named cage's: its netns's bind (only if it still is that netns: a name taken since
	 * by someone else's is left alone) and its control socket. */
	if (s->bound) {
		char ctl[160];

		r = named_unbind_netns(s->name, s->bound);
		if (r < 0 && ret == 0)
			ret = r;
		named_ctl_path(s->name, ctl, sizeof(ctl));
		if (unlink(ctl) < 0 && errno != ENOENT && ret == 0)
			ret = err_set(negative_errno(), "remove %s", ctl);
	}

	/* Links and tables live in the netns the run was started from, and are removed from
	 * there. From elsewhere, a record goes if the cage made none (link none), or if that
	 * netns is gone (they went with it); a WireGuard link left in it (the run was killed
	 * before moving it into the cage's netns) is an orphan for a gc there. */
	here = s->netns == state_current_netns();
	if (!here && (s->host_if[0] || s->host_table[0]) && state_netns_exists(s->netns))
		return err_set(-EXDEV,
			       "cage \"%s\" was started in another network namespace; run `sluice "
			       "gc` there",
			       s->name);
	if (here && (s->host_if[0] || s->wg_if[0])) {
		r = nl_open(NETLINK_ROUTE, &rt);
		for (int i = 0; r == 0 && i < 2; i++) {
			const char *link = i ? s->wg_if : s->host_if;

			if (link[0] && (r = nl_link_del(rt, link)) == -ENODEV)
				r = 0;
		}
		if (r < 0 && ret == 0)
			ret = r;
	}
	if (here && s->host_table[0]) {
		r = nl_open(NETLINK_NETFILTER, &nft);
		if (r == 0 && (r = nft_delete_table(nft, s->host_table)) == -ENOENT)
			r = 0;
		if (r < 0 && ret == 0)
			ret = r;
	}
	if (ret == 0)
		ret = state_remove(s->name);
	return ret;
}

static void said_unfinished(const char *file, void *data)
{
	say(data, "removed the unfinished record %s/%s", STATE_DIR, file);
}

int gc_run(bool unload, const char *only, gc_said_fn said, void *data)
{
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_close_ int lock = -1;
	const struct gc gc = {.said = said, .data = data}, *g = &gc;
	char cgmount[4096];
	int r, ret = 0;

	r = cgroup_find_mount(cgmount, sizeof(cgmount));
	/* One gc at a time, and none while a run finds or loads the hooks. */
	if (r == 0)
		r = state_lock(&lock);
	if (r == 0)
		r = state_remove_unfinished(said_unfinished, (void *)g);
	if (r >= 0)
		r = state_list(&names);
	if (r < 0) {
		log_error("%s", err_message(r));
		return r;
	}
	for (char **name = names; *name; name++) {
		struct cage_state s;

		if (only && !streq(*name, only))
			continue;
		err_clear();
		r = state_read(*name, &s);
		if (r == -ENOENT)
			continue; /* its run ended meanwhile */
		if (r == -ENODATA) {
			/* an older sluice's, cut short: its objects are found as orphans below */
			if (state_remove(*name) == 0)
				say(g, "removed the unfinished record %s/%s", STATE_DIR, *name);
			continue;
		}
		if (r == -ENAMETOOLONG || r == -EBADF) {
			log_info("%s/%s is not a record of sluice's: left alone", STATE_DIR, *name);
			continue;
		}
		if (r < 0) {
			ret = log_errno(r, "read the record %s/%s", STATE_DIR, *name);
			continue;
		}
		if (state_alive(&s)) {
			if (only)
				log_info("cage \"%s\" still runs: left alone", only);
			continue;
		}
		r = remove_leftovers(&s, cgmount);
		if (r < 0) {
			log_error("cage \"%s\": %s", s.name, err_message(r));
			ret = r;
		} else
			say(g, "removed cage %s", s.name);
	}
	if (!only && remove_orphans(g, cgmount) < 0)
		ret = -1;
	/* What is left needs no lock (the prune reads the maps before the cages, see bpf.h),
	 * but unloading does: runs waiting for it should not wait longer. */
	if (!unload)
		closep(&lock);
	if (remove_dead_wg_sockets(g) < 0)
		ret = -1;
	if (prune_hooks(g, cgmount, unload) < 0)
		ret = -1;
	return ret < 0 ? (ret == -1 ? -EIO : ret) : 0;
}
