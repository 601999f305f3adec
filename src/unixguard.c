/* unixguard.c: loads the cage's unix sock_addr programs (bpf/unix.bpf.c, embedded as a
 * skeleton), fills their allow map from the plan and the cage's private socket directories,
 * attaches them to the cage's cgroup so that they outlive us, reads what they refused, and
 * detaches them at teardown. */
#include <stdio.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf.h"
#include "log.h"
#include "ns.h"
#include "unix.skel.h"
#include "unixguard.h"

DEFINE_CLEANUP_FUNC(struct unix_bpf, unix_bpf__destroy)

/* Debian's libbpf 1.1 and its UAPI headers predate the unix hooks (kernel 6.7): the attach
 * types by number (include/uapi/linux/bpf.h, enum bpf_attach_type), and the program and attach
 * types set by hand, since libbpf 1.1 does not know the section names either. */
#define ATTACH_UNIX_CONNECT ((enum bpf_attach_type)49) /* BPF_CGROUP_UNIX_CONNECT */
#define ATTACH_UNIX_SENDMSG ((enum bpf_attach_type)50) /* BPF_CGROUP_UNIX_SENDMSG */

/* The allow map's key; the same layout as struct unix_key in bpf/unix.bpf.c (the denied
 * paths map's key is its path alone). */
#define KEY_PATH_SIZE 112
struct unix_key {
	uint32_t prefixlen; /* bits */
	char path[KEY_PATH_SIZE];
};

struct unixguard {
	struct unix_bpf *skel;
};

enum { HOOK_CONNECT, HOOK_SENDMSG, N_HOOKS };

static const struct bpf_hook hooks[N_HOOKS] = {
    [HOOK_CONNECT] = {"connect_unix", ATTACH_UNIX_CONNECT},
    [HOOK_SENDMSG] = {"sendmsg_unix", ATTACH_UNIX_SENDMSG},
};

static struct bpf_program *hook_prog(struct unix_bpf *skel, int i)
{
	return i == HOOK_CONNECT ? skel->progs.connect_unix : skel->progs.sendmsg_unix;
}

static void prog_fds(struct unix_bpf *skel, int fds[N_HOOKS])
{
	for (int i = 0; i < N_HOOKS; i++)
		fds[i] = bpf_program__fd(hook_prog(skel, i));
}

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

/* Open the skeleton with room for n allow entries and load it into the kernel. */
static int load(size_t n, struct unix_bpf **ret)
{
	_cleanup_(unix_bpf__destroyp) struct unix_bpf *skel = NULL;
	int r;

	bpf_route_libbpf_log();
	skel = unix_bpf__open();
	if (!skel)
		return err_set(negative_errno(), "open eBPF unix programs");
	if (bpf_map__key_size(skel->maps.allow) != sizeof(struct unix_key))
		return err_set(-EPROTO, "eBPF unix allow map key is %u bytes, expected %zu",
			       bpf_map__key_size(skel->maps.allow), sizeof(struct unix_key));
	for (int i = 0; i < N_HOOKS; i++) {
		struct bpf_program *prog = hook_prog(skel, i);

		r = bpf_program__set_type(prog, BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
		if (r == 0)
			r = bpf_program__set_expected_attach_type(prog, hooks[i].type);
		if (r < 0)
			return err_set(r, "set up eBPF %s program", hooks[i].name);
	}
	r = bpf_map__set_max_entries(skel->maps.allow, n > 0 ? n : 1);
	if (r < 0)
		return err_set(r, "size eBPF unix allow map for %zu paths", n);
	r = unix_bpf__load(skel);
	if (r < 0)
		return err_set(r, "load eBPF unix programs");
	*ret = TAKE_PTR(skel);
	return 0;
}

/* A directory ("/d/") matches every path that starts with it; a socket matches only itself,
 * so its key takes its terminating NUL along (see bpf/unix.bpf.c). */
static int allow_path(struct unix_bpf *skel, const char *path, bool dir)
{
	struct unix_key key = {};
	size_t n = strlen(path);
	uint8_t one = 1;

	if (n == 0 || n >= UNIX_PATH_MAX || path[0] != '/' || dir != (path[n - 1] == '/'))
		return err_set(-EINVAL,
			       "eBPF unix allow %s: not an absolute path of at most %d "
			       "bytes",
			       path, UNIX_PATH_MAX - 1);
	memcpy(key.path, path, n);
	key.prefixlen = 8 * (uint32_t)(dir ? n : n + 1);
	if (bpf_map__update_elem(skel->maps.allow, &key, sizeof(key), &one, sizeof(one), BPF_ANY) <
	    0)
		return err_set(negative_errno(), "eBPF unix allow %s", path);
	return 0;
}

int unixguard_attach(int cgroup_fd, const struct plan *p, struct unixguard **ret)
{
	_cleanup_(unix_bpf__destroyp) struct unix_bpf *skel = NULL;
	char dirs[NS_SOCKET_DIRS_MAX][UNIX_PATH_MAX];
	size_t n_dirs = ns_private_socket_dirs(p, dirs);
	struct unixguard *g;
	int fds[N_HOOKS];
	int r;

	r = load(p->n_unix_allow + n_dirs, &skel);
	if (r < 0)
		return r;
	for (size_t j = 0; j < n_dirs; j++) {
		r = allow_path(skel, dirs[j], true);
		if (r < 0)
			return r;
	}
	for (size_t j = 0; j < p->n_unix_allow; j++) {
		r = allow_path(skel, p->unix_allow[j].path, p->unix_allow[j].prefix);
		if (r < 0)
			return r;
	}

	/* Attached to the cgroup itself, not through a bpf_link: see bpf_hooks_attach(). */
	prog_fds(skel, fds);
	r = bpf_hooks_attach(cgroup_fd, hooks, fds, N_HOOKS);
	if (r < 0)
		return r;

	g = calloc(1, sizeof(*g));
	if (!g) {
		(void)bpf_hooks_detach(cgroup_fd, hooks, fds, N_HOOKS);
		return err_set(-ENOMEM, "attach eBPF unix programs");
	}
	g->skel = TAKE_PTR(skel);
	*ret = g;
	return 0;
}

int unixguard_detach(struct unixguard *g, int cgroup_fd)
{
	int fds[N_HOOKS];

	if (!g || !g->skel)
		return -EBADF;
	prog_fds(g->skel, fds);
	return bpf_hooks_detach(cgroup_fd, hooks, fds, N_HOOKS);
}

void unixguard_free(struct unixguard *g)
{
	if (!g)
		return;
	unix_bpf__destroy(g->skel);
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
	uint32_t zero = 0;
	uint64_t sum = 0;
	int ncpus, r;

	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 0)
		return err_set(ncpus, "count possible CPUs");
	per_cpu = calloc(ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	r = bpf_map__lookup_elem(g->skel->maps.denied, &zero, sizeof(zero), per_cpu,
				 ncpus * sizeof(*per_cpu), 0);
	if (r < 0)
		return err_set(r, "read eBPF unix denial counter");
	for (int i = 0; i < ncpus; i++)
		sum += per_cpu[i];
	*ret = sum;
	return 0;
}

int unixguard_denied(const struct unixguard *g, uint64_t *ret_total,
		     struct unixguard_denial *recent, size_t max, size_t *ret_n)
{
	_cleanup_free_ struct unixguard_denial *all = NULL;
	char key[KEY_PATH_SIZE], next[KEY_PATH_SIZE];
	const void *prev = NULL;
	size_t n = 0, n_all = 0, max_all;
	int r;

	if (!g || !g->skel)
		return -EBADF;
	r = read_total(g, ret_total);
	if (r < 0)
		return r;

	/* The hook's LRU map is small (64 paths): collect them all, return the top max. */
	max_all = bpf_map__max_entries(g->skel->maps.denied_paths);
	all = calloc(max_all, sizeof(*all));
	if (!all)
		return -ENOMEM;
	while (n_all < max_all &&
	       bpf_map__get_next_key(g->skel->maps.denied_paths, prev, next, sizeof(next)) == 0) {
		uint64_t count;

		memcpy(key, next, sizeof(key));
		prev = key;
		if (bpf_map__lookup_elem(g->skel->maps.denied_paths, key, sizeof(key), &count,
					 sizeof(count), 0) < 0)
			continue; /* evicted meanwhile */
		/* The hook's key ends in NULs: at most 108 bytes and a NUL. */
		memcpy(all[n_all].path, key, sizeof(all[n_all].path) - 1);
		all[n_all].path[sizeof(all[n_all].path) - 1] = '\0';
		all[n_all].count = count;
		n_all++;
	}
	qsort(all, n_all, sizeof(all[0]), denial_cmp);
	for (; n < max && n < n_all; n++)
		recent[n] = all[n];
	if (ret_n)
		*ret_n = n;
	return 0;
}
