/* unixguard.c: the unix sock_addr hooks (bpf/unix.bpf.c, embedded as a skeleton), kept attached
 * to the cgroup of all cages by bpf.c's resident keeping; a cage's entry (its denial counter,
 * under its cgroup id, which marks the cgroup as a cage's) goes in before it starts and out at
 * teardown, with the paths it was refused, which -v shows. */
#include <stdio.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf.h"
#include "cgroup.h"
#include "log.h"
#include "unix.build.h"
#include "unix.skel.h"
#include "unixguard.h"

DEFINE_CLEANUP_FUNC(struct unix_bpf, unix_bpf__destroy)

#define PATHS_MAX 1024 /* the refused paths map's size, as in bpf/unix.bpf.c */

/* Debian's libbpf 1.1 and its UAPI headers predate the unix hooks (kernel 6.7): the attach
 * types by number (include/uapi/linux/bpf.h, enum bpf_attach_type), and the program and attach
 * types set by hand, since libbpf 1.1 does not know the section names either. */
#define ATTACH_UNIX_CONNECT ((enum bpf_attach_type)49) /* BPF_CGROUP_UNIX_CONNECT */
#define ATTACH_UNIX_SENDMSG ((enum bpf_attach_type)50) /* BPF_CGROUP_UNIX_SENDMSG */

/* The refused paths map's key; the same layout as struct unix_key in bpf/unix.bpf.c. */
#define KEY_PATH_SIZE 112
struct unix_key {
	uint8_t cage[8];
	char path[KEY_PATH_SIZE];
};

enum { HOOK_CONNECT, HOOK_SENDMSG, N_HOOKS };
enum { MAP_DENIED, MAP_PATHS, N_MAPS };

static const struct bpf_hook hooks[N_HOOKS] = {
    [HOOK_CONNECT] = {"connect_unix", ATTACH_UNIX_CONNECT},
    [HOOK_SENDMSG] = {"sendmsg_unix", ATTACH_UNIX_SENDMSG},
};
static const char *const map_names[N_MAPS] = {[MAP_DENIED] = "unix_denied",
					      [MAP_PATHS] = "unix_paths"};
static const size_t cage_at[N_MAPS] = {[MAP_DENIED] = 0,
				       [MAP_PATHS] = offsetof(struct unix_key, cage)};

struct unixguard {
	int map_fds[N_MAPS];
	uint64_t id;
	bool counted;
};

int unixguard_probe(void)
{
	/* r0 = 1; exit: the smallest program; the kernel refuses the expected attach type if it
	 * does not know it (EINVAL), and refuses BPF altogether without privilege (EPERM). */
	static const struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	static int cached = 1;
	struct bpf_prog_load_opts opts = {.sz = sizeof(opts),
					  .expected_attach_type = ATTACH_UNIX_CONNECT};
	int fd;

	if (cached <= 0)
		return cached;
	bpf_route_libbpf_log();
	fd = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "sluice_unix", "GPL", insns,
			   ARRAY_SIZE(insns), &opts);
	if (fd >= 0) {
		close(fd);
		cached = 0;
	} else {
		cached = fd == -EINVAL ? -EOPNOTSUPP : fd;
	}
	return cached;
}

/* Open the skeleton, stamp it with this build and load it into the kernel. */
static int load(struct unix_bpf **ret)
{
	_cleanup_(unix_bpf__destroyp) struct unix_bpf *skel = NULL;
	int r;

	bpf_route_libbpf_log();
	skel = unix_bpf__open();
	if (!skel)
		return err_set(negative_errno(), "open eBPF unix programs");
	if (bpf_map__key_size(skel->maps.unix_paths) != sizeof(struct unix_key))
		return err_set(-EPROTO, "eBPF unix paths map key is %u bytes, expected %zu",
			       bpf_map__key_size(skel->maps.unix_paths), sizeof(struct unix_key));
	for (int i = 0; i < N_HOOKS; i++) {
		struct bpf_program *prog =
		    i == HOOK_CONNECT ? skel->progs.connect_unix : skel->progs.sendmsg_unix;

		r = bpf_program__set_type(prog, BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
		if (r == 0)
			r = bpf_program__set_expected_attach_type(prog, hooks[i].type);
		if (r < 0)
			return err_set(r, "set up eBPF %s program", hooks[i].name);
	}
	skel->rodata->sluice_build = UNIX_BPF_BUILD;
	r = unix_bpf__load(skel);
	if (r < 0)
		return err_set(r, "load eBPF unix programs");
	*ret = TAKE_PTR(skel);
	return 0;
}

static int resident_load(const struct bpf_resident *res, void **skel, struct bpf_object **obj)
{
	struct unix_bpf *u = NULL;
	/* Asked only when there is something to load: hooks found attached prove the kernel
	 * has them, and the probe costs a program load. */
	int r = unixguard_probe();

	if (r == 0)
		r = load(&u);

	if (r < 0)
		return r;
	*skel = u;
	*obj = u->obj;
	return 0;
}

static void resident_destroy(void *skel)
{
	unix_bpf__destroy(skel);
}

const struct bpf_resident unixguard_resident = {
    .what = "eBPF unix hooks",
    .hooks = hooks,
    .n_hooks = N_HOOKS,
    .maps = map_names,
    .cage_at = cage_at,
    .n_maps = N_MAPS,
    .build = UNIX_BPF_BUILD,
    .load = resident_load,
    .destroy = resident_destroy,
};

int unixguard_attach(int parent_fd, const char *own, int cgroup_fd, struct unixguard **ret)
{
	_cleanup_free_ uint64_t *zeros = NULL;
	_cleanup_(unixguard_freep) struct unixguard *g = NULL;
	int r;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	for (size_t k = 0; k < N_MAPS; k++)
		g->map_fds[k] = -1;
	r = cgroup_id(cgroup_fd, &g->id);
	if (r == 0)
		r = bpf_resident_get(parent_fd, own, &unixguard_resident, g->map_fds);
	if (r == 0)
		r = bpf_percpu_zeros(&zeros);
	if (r >= 0) {
		r = bpf_map_update_elem(g->map_fds[MAP_DENIED], &g->id, zeros, BPF_NOEXIST) < 0
			? err_set(negative_errno(), "eBPF unix denial counter")
			: 0;
		g->counted = r == 0;
	}
	if (r < 0) {
		(void)unixguard_detach(g);
		return r;
	}
	*ret = TAKE_PTR(g);
	return 0;
}

/* The refused paths kept for this cage, with their counts: walked only when there were
 * refusals (the map is shared by all cages). */
static size_t collect_paths(const struct unixguard *g, struct unixguard_denial *all, size_t max,
			    bool remove)
{
	struct unix_key key, next;
	const void *prev = NULL;
	size_t n = 0;
	_cleanup_free_ struct unix_key *mine = calloc(max, sizeof(*mine));

	if (!mine)
		return 0;
	while (n < max && bpf_map_get_next_key(g->map_fds[MAP_PATHS], prev, &next) == 0) {
		uint64_t count;

		key = next;
		prev = &key;
		if (memcmp(key.cage, &g->id, sizeof(key.cage)) != 0)
			continue;
		if (bpf_map_lookup_elem(g->map_fds[MAP_PATHS], &key, &count) < 0)
			continue; /* evicted meanwhile */
		if (all) {
			/* The hook's key ends in NULs: at most 108 bytes and a NUL. */
			memcpy(all[n].path, key.path, sizeof(all[n].path) - 1);
			all[n].path[sizeof(all[n].path) - 1] = '\0';
			all[n].count = count;
		}
		mine[n++] = key;
	}
	if (remove)
		for (size_t i = 0; i < n; i++)
			(void)bpf_map_delete_elem(g->map_fds[MAP_PATHS], &mine[i]);
	return n;
}

int unixguard_detach(struct unixguard *g)
{
	uint64_t total = 0;
	int r = 0;

	if (!g)
		return -EBADF;
	if (g->counted) {
		if (unixguard_denied(g, &total, NULL, 0, NULL) == 0 && total > 0)
			(void)collect_paths(g, NULL, PATHS_MAX, true);
		if (bpf_map_delete_elem(g->map_fds[MAP_DENIED], &g->id) < 0 && errno != ENOENT &&
		    r == 0)
			r = err_set(negative_errno(), "remove the cage's eBPF unix denial counter");
	}
	g->counted = false;
	return r;
}

void unixguard_free(struct unixguard *g)
{
	if (!g)
		return;
	for (size_t k = 0; k < N_MAPS; k++)
		closep(&g->map_fds[k]);
	free(g);
}

static int denial_cmp(const void *a, const void *b)
{
	const struct unixguard_denial *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->path, y->path);
}

static int read_total(const struct unixguard *g, uint64_t *ret)
{
	_cleanup_free_ uint64_t *per_cpu = NULL;
	uint64_t sum = 0;
	int ncpus;

	ncpus = bpf_percpu_zeros(&per_cpu);
	if (ncpus < 0)
		return ncpus;
	if (bpf_map_lookup_elem(g->map_fds[MAP_DENIED], &g->id, per_cpu) < 0)
		return err_set(negative_errno(), "read eBPF unix denial counter");
	for (int i = 0; i < ncpus; i++)
		sum += per_cpu[i];
	*ret = sum;
	return 0;
}

int unixguard_denied(const struct unixguard *g, uint64_t *ret_total,
		     struct unixguard_denial *recent, size_t max, size_t *ret_n)
{
	_cleanup_free_ struct unixguard_denial *all = NULL;
	size_t n = 0, n_all, max_all = PATHS_MAX;
	int r;

	if (!g || !g->counted)
		return -EBADF;
	r = read_total(g, ret_total);
	if (r < 0)
		return r;
	if (max == 0 || *ret_total == 0) {
		if (ret_n)
			*ret_n = 0;
		return 0;
	}
	all = calloc(max_all, sizeof(*all));
	if (!all)
		return -ENOMEM;
	n_all = collect_paths(g, all, max_all, false);
	qsort(all, n_all, sizeof(all[0]), denial_cmp);
	for (; n < max && n < n_all; n++)
		recent[n] = all[n];
	if (ret_n)
		*ret_n = n;
	return 0;
}
