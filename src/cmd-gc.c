/* cmd-gc.c: `sluice gc`: remove what runs whose supervisor is gone left behind: the
 * recorded cages first, then any sluice object no live cage owns (a crash can come before
 * the record is complete). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <libmnl/libmnl.h>

#include "bpf.h"
#include "cage.h"
#include "cgroup.h"
#include "cmds.h"
#include "log.h"
#include "nft.h"
#include "nl.h"
#include "state.h"
#include "unixguard.h"
#include "wg.h"

struct live {
	struct cage_state *s;
	size_t n;
};

static bool owned(const struct live *l, const char *what, const char *name)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct cage_state *s = &l->s[i];

		if ((streq(what, "cgroup") && streq(s->name, name)) ||
		    (streq(what, "link") && streq(s->host_if, name)) ||
		    (streq(what, "table") && streq(s->host_table, name)))
			return true;
	}
	return false;
}

/* A wireguard-go of a cage dies with its supervisor, but killed it cannot remove its UAPI
 * socket: remove the sockets of cage tunnels (sw-*) that nothing answers on any more. */
static int remove_dead_wg_sockets(void)
{
	_cleanup_strv_free_ char **names = NULL;
	int ret = 0;

	if (dir_list(WG_RUN_DIR, false, &names) < 0)
		return 0;
	for (char **n = names; *n; n++) {
		char path[sizeof(WG_RUN_DIR) + 32];
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		_cleanup_close_ int fd = -1;

		if (!startswith(*n, "sw-") || strlen(*n) > 20)
			continue;
		snprintf(path, sizeof(path), "%s/%s", WG_RUN_DIR, *n);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			continue; /* a live cage's tunnel */
		if (unlink(path) < 0 && errno != ENOENT)
			ret = log_errno(negative_errno(), "remove %s", path);
		else
			printf("removed %s\n", path);
	}
	return ret;
}

static int remove_orphans(const char *cgmount, const struct live *live)
{
	_cleanup_strv_free_ char **cgs = NULL, **links = NULL, **tables = NULL;
	struct mnl_socket *nl;
	int r, ret = 0;

	if (cgroup_list_cages(cgmount, &cgs) == 0)
		for (char **c = cgs; *c; c++) {
			char rel[128];

			if (owned(live, "cgroup", *c))
				continue;
			snprintf(rel, sizeof(rel), "sluice/%s", *c);
			r = cgroup_destroy(cgmount, rel);
			if (r < 0 && r != -ENOENT)
				ret = log_errno(r, "remove cgroup %s", rel);
			else
				printf("removed cgroup %s\n", rel);
		}
	if (nl_open(NETLINK_ROUTE, &nl) == 0) {
		if (nl_list_links(nl, "sl-", &links) == 0)
			for (char **l = links; *l; l++) {
				if (owned(live, "link", *l))
					continue;
				r = nl_link_del(nl, *l);
				if (r < 0 && r != -ENODEV)
					ret = log_errno(r, "remove link %s", *l);
				else
					printf("removed link %s\n", *l);
			}
		mnl_socket_close(nl);
	}
	if (remove_dead_wg_sockets() < 0)
		ret = -EIO;
	if (nl_open(NETLINK_NETFILTER, &nl) == 0) {
		if (nft_list_tables(nl, "sluice_", &tables) == 0)
			for (char **t = tables; *t; t++) {
				if (owned(live, "table", *t))
					continue;
				r = nft_delete_table(nl, *t);
				if (r < 0 && r != -ENOENT)
					ret = log_errno(r, "remove table inet %s", *t);
				else
					printf("removed table inet %s\n", *t);
			}
		mnl_socket_close(nl);
	}
	return ret;
}

/*
 * The eBPF hooks stay attached to <cgroup2>/sluice between runs; a run whose supervisor was
 * killed leaves its entries in their maps. Remove the entries of every cgroup id that is not
 * a cage's now, and with --unload take the hooks off (and the then empty cgroup away).
 */
static int prune_hooks(const char *cgmount, bool unload)
{
	static const struct bpf_resident *const res[] = {&bpf_sock_resident, &unixguard_resident};
	_cleanup_strv_free_ char **cgs = NULL;
	_cleanup_free_ uint64_t *ids = NULL;
	_cleanup_close_ int parent = -1;
	char path[4200];
	size_t n = 0, n_cgs = 0;
	int r, ret = 0;

	snprintf(path, sizeof(path), "%s/sluice", cgmount);
	parent = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent < 0)
		return errno == ENOENT ? 0 : log_errno(negative_errno(), "open %s", path);
	if (cgroup_list_cages(cgmount, &cgs) < 0)
		return log_errno(-EIO, "list %s", path);
	while (cgs[n_cgs])
		n_cgs++;
	ids = calloc(n_cgs + 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (char **c = cgs; *c; c++) {
		_cleanup_close_ int fd = openat(parent, *c, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd >= 0 && cgroup_id(fd, &ids[n]) == 0)
			n++;
	}
	for (size_t i = 0; i < ARRAY_SIZE(res); i++) {
		size_t removed = 0;

		r = bpf_resident_prune(parent, res[i], ids, n, &removed);
		if (r < 0)
			ret = log_errno(r, "prune the %s", res[i]->what);
		else if (removed)
			printf("removed %zu entries of dead cages from the %s\n", removed,
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
		}
		else if (r > 0)
			printf("unloaded the %s\n", res[i]->what);
	}
	/* Nothing of sluice's is left in it: let the cgroup of all cages go too. */
	if (ret == 0 && n_cgs == 0 && rmdir(path) == 0)
		printf("removed cgroup sluice\n");
	return ret;
}

int cmd_gc(int argc, char **argv)
{
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_free_ struct cage_state *states = NULL;
	struct live live = {0};
	char cgmount[4096];
	size_t n = 0;
	int r, ret = 0;

	bool unload = false;

	if (argc > 1 && streq(argv[1], "--unload")) {
		unload = true;
		argc--;
		argv++;
	}
	if (argc > 1) {
		bool help = streq(argv[1], "--help") || streq(argv[1], "-h");

		fprintf(help ? stdout : stderr,
			"Usage: sluice gc [--unload]\n"
			"Remove what runs whose supervisor is gone left behind: cgroups, links,\n"
			"nftables tables, state records, tunnel sockets, and their entries in the\n"
			"eBPF hooks' maps. The hooks themselves stay attached to the cgroup of all\n"
			"cages between runs; --unload takes them off too (refused while a cage runs).\n");
		return help ? 0 : EXIT_SLUICE;
	}
	if (geteuid() != 0) {
		log_error("gc needs root");
		return EXIT_SLUICE;
	}
	r = cgroup_find_mount(cgmount, sizeof(cgmount));
	if (r == 0)
		r = state_list(&names);
	if (r < 0) {
		log_error("%s", err_message(r));
		return EXIT_SLUICE;
	}
	while (names[n])
		n++;
	states = calloc(n + 1, sizeof(*states));
	if (!states)
		return EXIT_SLUICE;

	for (char **name = names; *name; name++) {
		struct cage_state s;

		err_clear();
		if (state_read(*name, &s) < 0) {
			/* A record cut short by a crash: nothing to go on but the name. */
			(void)state_remove(*name);
			continue;
		}
		if (state_alive(&s)) {
			states[live.n++] = s;
			continue;
		}
		r = cage_remove_leftovers(&s, cgmount);
		if (r < 0) {
			log_error("cage \"%s\": %s", s.name, err_message(r));
			ret = r;
		}
		else
			printf("removed cage %s\n", s.name);
	}
	live.s = states;
	if (remove_orphans(cgmount, &live) < 0)
		ret = -1;
	if (prune_hooks(cgmount, unload) < 0)
		ret = -1;
	return ret < 0 ? EXIT_SLUICE : 0;
}
