/* bpf.c: the eBPF layer. The hooks are loaded once and attached to the cgroup that holds every
 * cage, where they stay ("resident"): a cage's cgroup inherits them when it is made, and a
 * cage's policy is a set of entries in their maps under its cgroup id, entered before its
 * first process starts and removed after its last has gone. The resident keeping below serves
 * the sock_addr hooks (bpf/sock.bpf.c, here) and the unix hooks (unixguard.c) alike. libbpf's
 * own messages go to log_debug. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf.h"
#include "cgroup.h"
#include "log.h"
#include "sock.build.h"
#include "sock.skel.h"
#include "state.h"

DEFINE_CLEANUP_FUNC(struct sock_bpf, sock_bpf__destroy)

/* The allow map's key; the same layout as struct sock_key in bpf/sock.bpf.c. */
struct sock_key {
	uint64_t cage;
	uint8_t family;
	uint8_t proto;
	uint16_t port; /* network byte order */
	uint8_t addr[16];
	uint32_t pad;
};

_printf_(2, 0) static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t len;

	if (log_max_level < LOG_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	log_debug("%s", buf); /* libbpf prefixes its own "libbpf: " */
	return 0;
}

/* The library never prints: libbpf's default prints warnings to stderr, so replace it before
 * our first libbpf call. libbpf_set_print() is process-wide and cheap; calling it again is
 * harmless. */
void bpf_route_libbpf_log(void)
{
	libbpf_set_print(libbpf_print);
}

/* ---- attaching ------------------------------------------------------------------------ */

int bpf_hooks_attach(int cgroup_fd, const struct bpf_hook *h, const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (bpf_prog_attach(fds[i], cgroup_fd, h[i].type, BPF_F_ALLOW_MULTI) < 0) {
			int r = err_set(negative_errno(), "attach %s hook to cgroup", h[i].name);

			/* Undo in reverse; what cannot be detached goes with the cgroup. */
			while (i-- > 0)
				(void)bpf_prog_detach2(fds[i], cgroup_fd, h[i].type);
			return r;
		}
	}
	return 0;
}

int bpf_hooks_detach(int cgroup_fd, const struct bpf_hook *h, const int *fds, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n; i++)
		if (bpf_prog_detach2(fds[i], cgroup_fd, h[i].type) < 0 && r == 0)
			r = err_set(negative_errno(), "detach %s hook from cgroup", h[i].name);
	return r;
}

/* ---- resident hooks ------------------------------------------------------------------- */

#define MAX_PROGS 64 /* programs of one attach type on the cgroup of all cages */
#define MAX_MAPS  8  /* maps of one program */

/* The ids of the programs attached (directly) to cgroup_fd for one attach type. */
static int attached_ids(int cgroup_fd, enum bpf_attach_type type, uint32_t *ids, uint32_t *n)
{
	uint32_t flags = 0;

	*n = MAX_PROGS;
	if (bpf_prog_query(cgroup_fd, type, 0, &flags, ids, n) < 0)
		return negative_errno();
	return 0;
}

/* A program by id: its fd, name and the ids of the maps it uses. */
static int prog_by_id(uint32_t id, char name[BPF_OBJ_NAME_LEN], uint32_t *map_ids, uint32_t *n_maps)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	_cleanup_close_ int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		return negative_errno();
	info.nr_map_ids = MAX_MAPS;
	info.map_ids = (uint64_t)(uintptr_t)map_ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return negative_errno();
	memcpy(name, info.name, BPF_OBJ_NAME_LEN);
	name[BPF_OBJ_NAME_LEN - 1] = '\0';
	*n_maps = info.nr_map_ids < MAX_MAPS ? info.nr_map_ids : MAX_MAPS;
	return TAKE_FD(fd);
}

/* The program with this id if it is named want: its fd and its maps' ids; else -1. */
static int prog_named(uint32_t id, const char *want, uint32_t *map_ids, uint32_t *n_maps)
{
	char name[BPF_OBJ_NAME_LEN];
	_cleanup_close_ int fd = prog_by_id(id, name, map_ids, n_maps);

	if (fd >= 0 && !streq(name, want))
		return -1;
	return TAKE_FD(fd);
}

/*
 * Given one of hook 0's programs' maps, take ours: the named ones (their fds into map_fds, in
 * r->maps order) and the build id from the .rodata map that holds nothing else. Returns true
 * if every named map was found and the build is r's; fds taken are closed otherwise.
 */
static bool take_maps(const struct bpf_resident *r, const uint32_t *map_ids, uint32_t n_maps,
		      int *map_fds, uint32_t *ret_ids)
{
	uint64_t build = 0;
	size_t found = 0;

	for (size_t k = 0; k < r->n_maps; k++)
		map_fds[k] = -1;
	for (uint32_t i = 0; i < n_maps; i++) {
		struct bpf_map_info info = {};
		uint32_t len = sizeof(info);
		_cleanup_close_ int fd = bpf_map_get_fd_by_id(map_ids[i]);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
			size_t nl = strnlen(info.name, sizeof(info.name));
			uint32_t zero = 0;

			if (nl >= 7 && streq(info.name + nl - 7, ".rodata") && info.value_size == 8)
				(void)bpf_map_lookup_elem(fd, &zero, &build);
			for (size_t k = 0; k < r->n_maps; k++)
				if (map_fds[k] < 0 && streq(info.name, r->maps[k])) {
					map_fds[k] = TAKE_FD(fd);
					ret_ids[k] = map_ids[i];
					found++;
					break;
				}
		}
	}
	if (found == r->n_maps && build == r->build)
		return true;
	for (size_t k = 0; k < r->n_maps; k++)
		closep(&map_fds[k]);
	return false;
}

/* Is one of hook h's programs, attached to parent_fd, a user of the map with id map_id? */
static bool hook_present(int parent_fd, const struct bpf_hook *h, uint32_t map_id)
{
	uint32_t ids[MAX_PROGS], n;

	if (attached_ids(parent_fd, h->type, ids, &n) < 0)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t maps[MAX_MAPS], n_maps;
		_cleanup_close_ int fd = prog_named(ids[i], h->name, maps, &n_maps);

		if (fd < 0)
			continue;
		for (uint32_t j = 0; j < n_maps; j++)
			if (maps[j] == map_id)
				return true;
	}
	return false;
}

/*
 * This build's hooks, complete, on parent_fd: 0 and their maps' fds; -ENOENT if none of ours
 * is there; -ESTALE if another build's are, or ours are not on every hook (a loader killed
 * half way).
 */
static int resident_find(int parent_fd, const struct bpf_resident *r, int *map_fds)
{
	uint32_t ids[MAX_PROGS], n, map_ids[MAX_MAPS];
	bool seen = false, mine = false;
	int e;

	e = attached_ids(parent_fd, r->hooks[0].type, ids, &n);
	if (e < 0)
		return err_set(e, "list the hooks on the cgroup of all cages");
	for (uint32_t i = 0; i < n && !mine; i++) {
		uint32_t maps[MAX_MAPS], n_maps;
		_cleanup_close_ int fd = prog_named(ids[i], r->hooks[0].name, maps, &n_maps);

		if (fd < 0)
			continue;
		seen = true;
		mine = take_maps(r, maps, n_maps, map_fds, map_ids);
	}
	if (!mine)
		return seen ? -ESTALE : -ENOENT;
	for (size_t h = 1; h < r->n_hooks; h++)
		if (!hook_present(parent_fd, &r->hooks[h], map_ids[0])) {
			for (size_t k = 0; k < r->n_maps; k++)
				closep(&map_fds[k]);
			return -ESTALE;
		}
	return 0;
}

/* Detach every program of ours (by name, whatever its build) from parent_fd; how many. */
static int detach_ours(int parent_fd, const struct bpf_resident *r)
{
	int ret = 0, n_detached = 0;

	for (size_t h = 0; h < r->n_hooks; h++) {
		uint32_t ids[MAX_PROGS], n;

		if (attached_ids(parent_fd, r->hooks[h].type, ids, &n) < 0)
			continue;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t maps[MAX_MAPS], n_maps;
			_cleanup_close_ int fd =
			    prog_named(ids[i], r->hooks[h].name, maps, &n_maps);

			if (fd < 0)
				continue;
			if (bpf_prog_detach2(fd, parent_fd, r->hooks[h].type) == 0)
				n_detached++;
			else if (ret == 0)
				ret = err_set(negative_errno(), "detach %s hook", r->hooks[h].name);
		}
	}
	return ret < 0 ? ret : n_detached;
}

static int refuse_if_cages_run(int parent_fd, const char *own, const char *doing)
{
	size_t running;
	int e = cgroup_children_populated(parent_fd, own, &running);

	if (e < 0)
		return e;
	if (running > 0)
		return err_set(-EBUSY, "%s while %zu cage(s) run under them: stop them first",
			       doing, running);
	return 0;
}

/* Load the object and attach its programs to parent_fd; return the maps' fds. */
static int resident_install(int parent_fd, const struct bpf_resident *r, int *map_fds)
{
	struct bpf_object *obj = NULL;
	void *skel = NULL;
	int fds[MAX_PROGS];
	int e;

	e = r->load(r, &skel, &obj);
	if (e < 0)
		return e;
	for (size_t h = 0; h < r->n_hooks; h++) {
		struct bpf_program *p = bpf_object__find_program_by_name(obj, r->hooks[h].name);

		fds[h] = p ? bpf_program__fd(p) : -1;
		if (fds[h] < 0) {
			r->destroy(skel);
			return err_set(-ENOENT, "%s: no program %s", r->what, r->hooks[h].name);
		}
	}
	for (size_t k = 0; k < r->n_maps; k++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, r->maps[k]);

		map_fds[k] = m ? fcntl(bpf_map__fd(m), F_DUPFD_CLOEXEC, 3) : -1;
		if (map_fds[k] < 0) {
			int e2 = m ? negative_errno() : -ENOENT;

			for (size_t j = 0; j < k; j++)
				closep(&map_fds[j]);
			r->destroy(skel);
			return m ? err_set(e2, "%s: map %s", r->what, r->maps[k])
				 : err_set(e2, "%s: no map %s", r->what, r->maps[k]);
		}
	}
	/* Attached to the cgroup itself, not through a bpf_link: they stay for as long as the
	 * cgroup does, whatever becomes of our fds. */
	e = bpf_hooks_attach(parent_fd, r->hooks, fds, r->n_hooks);
	r->destroy(skel);
	if (e < 0) {
		for (size_t k = 0; k < r->n_maps; k++)
			closep(&map_fds[k]);
		return e;
	}
	log_debug("loaded the %s and attached them to the cgroup of all cages", r->what);
	return 0;
}

int bpf_resident_get(int parent_fd, const char *own, const struct bpf_resident *r, int *map_fds)
{
	_cleanup_close_ int lock = -1;
	int e;

	e = state_lock(&lock);
	if (e < 0)
		return e;
	e = resident_find(parent_fd, r, map_fds);
	if (e != -ENOENT && e != -ESTALE)
		return e;
	if (e == -ESTALE) {
		char doing[160];

		snprintf(doing, sizeof(doing),
			 "the %s attached are another build's (or incomplete), and cannot be "
			 "replaced",
			 r->what);
		e = refuse_if_cages_run(parent_fd, own, doing);
		if (e == 0)
			e = detach_ours(parent_fd, r);
		if (e < 0)
			return e;
		log_debug("replaced the %s of another build", r->what);
	}
	return resident_install(parent_fd, r, map_fds);
}

int bpf_resident_unload(int parent_fd, const struct bpf_resident *r)
{
	char doing[128];
	int e;

	snprintf(doing, sizeof(doing), "cannot unload the %s", r->what);
	e = refuse_if_cages_run(parent_fd, NULL, doing);
	if (e == 0)
		e = detach_ours(parent_fd, r);
	return e;
}

static bool is_live(uint64_t id, const uint64_t *live, size_t n_live)
{
	for (size_t i = 0; i < n_live; i++)
		if (live[i] == id)
			return true;
	return false;
}

int bpf_resident_prune(int parent_fd, const struct bpf_resident *r, bpf_live_fn live, void *ctx,
		       size_t *ret_removed)
{
	uint8_t *keys[MAX_MAPS] = {NULL};
	_cleanup_free_ uint64_t *ids = NULL;
	size_t n[MAX_MAPS] = {0}, size[MAX_MAPS] = {0}, n_ids = 0, removed = 0;
	int map_fds[MAX_MAPS];
	int e;

	*ret_removed = 0;
	e = resident_find(parent_fd, r, map_fds);
	if (e == -ENOENT || e == -ESTALE)
		return 0; /* nothing of this build's to prune */
	if (e < 0)
		return e;
	/* Every key first (deleting while walking restarts the walk), then who is alive. */
	for (size_t k = 0; k < r->n_maps; k++) {
		struct bpf_map_info info = {};
		uint32_t len = sizeof(info);
		uint8_t key[256], next[256];
		const void *prev = NULL;
		size_t cap = 0;

		if (bpf_obj_get_info_by_fd(map_fds[k], &info, &len) < 0 ||
		    info.key_size > sizeof(key) || r->cage_at[k] + 8 > info.key_size)
			continue;
		size[k] = info.key_size;
		while (bpf_map_get_next_key(map_fds[k], prev, next) == 0) {
			memcpy(key, next, info.key_size);
			prev = key;
			if (n[k] == cap) {
				uint8_t *more =
				    realloc(keys[k], (cap ? 2 * cap : 64) * info.key_size);

				if (!more)
					break;
				keys[k] = more;
				cap = cap ? 2 * cap : 64;
			}
			memcpy(keys[k] + n[k]++ * info.key_size, key, info.key_size);
		}
	}
	e = live(ctx, &ids, &n_ids);
	for (size_t k = 0; e == 0 && k < r->n_maps; k++)
		for (size_t i = 0; i < n[k]; i++) {
			const uint8_t *key = keys[k] + i * size[k];
			uint64_t id;

			memcpy(&id, key + r->cage_at[k], sizeof(id));
			if (!is_live(id, ids, n_ids))
				removed += bpf_map_delete_elem(map_fds[k], key) == 0;
		}
	for (size_t k = 0; k < r->n_maps; k++) {
		close(map_fds[k]);
		free(keys[k]);
	}
	*ret_removed = removed;
	return e;
}

/* ---- the sock_addr hooks -------------------------------------------------------------- */

enum { HOOK_CONNECT4, HOOK_CONNECT6, HOOK_SENDMSG4, HOOK_SENDMSG6, N_HOOKS };
enum { MAP_ALLOW, MAP_DENIED, MAP_EVENTS, N_MAPS };

/* The denial counter's value, per CPU; the same layout as in bpf/sock.bpf.c. */
struct cage_count {
	uint64_t denied, window, told, dropped;
};

#define EVENT_RING_SIZE (64 * 1024) /* as bpf/sock.bpf.c's inner map: the kernel compares */

static const struct bpf_hook hooks[N_HOOKS] = {
    [HOOK_CONNECT4] = {"connect4", BPF_CGROUP_INET4_CONNECT},
    [HOOK_CONNECT6] = {"connect6", BPF_CGROUP_INET6_CONNECT},
    [HOOK_SENDMSG4] = {"sendmsg4", BPF_CGROUP_UDP4_SENDMSG},
    [HOOK_SENDMSG6] = {"sendmsg6", BPF_CGROUP_UDP6_SENDMSG},
};
static const char *const map_names[N_MAPS] = {
    [MAP_ALLOW] = "ip_allow", [MAP_DENIED] = "ip_denied", [MAP_EVENTS] = "ip_events"};
static const size_t cage_at[N_MAPS] = {
    [MAP_ALLOW] = offsetof(struct sock_key, cage), [MAP_DENIED] = 0, [MAP_EVENTS] = 0};

/* Open the skeleton, stamp it with this build and load it into the kernel. */
static int load(struct sock_bpf **ret)
{
	_cleanup_(sock_bpf__destroyp) struct sock_bpf *skel = NULL;
	int r;

	bpf_route_libbpf_log();
	skel = sock_bpf__open();
	if (!skel)
		return err_set(negative_errno(), "open eBPF programs");
	if (bpf_map__key_size(skel->maps.ip_allow) != sizeof(struct sock_key))
		return err_set(-EPROTO, "eBPF allow map key is %u bytes, expected %zu",
			       bpf_map__key_size(skel->maps.ip_allow), sizeof(struct sock_key));
	if (bpf_map__value_size(skel->maps.ip_denied) != sizeof(struct cage_count))
		return err_set(-EPROTO, "eBPF denial map value is %u bytes, expected %zu",
			       bpf_map__value_size(skel->maps.ip_denied), sizeof(struct cage_count));
	skel->rodata->sluice_build = SOCK_BPF_BUILD;
	r = sock_bpf__load(skel);
	if (r < 0)
		return err_set(r, "load eBPF programs");
	*ret = TAKE_PTR(skel);
	return 0;
}

static int resident_load(const struct bpf_resident *res, void **skel, struct bpf_object **obj)
{
	struct sock_bpf *s = NULL;
	int r = load(&s);

	if (r < 0)
		return r;
	*skel = s;
	*obj = s->obj;
	return 0;
}

static void resident_destroy(void *skel)
{
	sock_bpf__destroy(skel);
}

const struct bpf_resident bpf_sock_resident = {
    .what = "eBPF sock_addr hooks",
    .hooks = hooks,
    .n_hooks = N_HOOKS,
    .maps = map_names,
    .cage_at = cage_at,
    .n_maps = N_MAPS,
    .build = SOCK_BPF_BUILD,
    .load = resident_load,
    .destroy = resident_destroy,
};

struct bpf_cage {
	int map_fds[N_MAPS];
	uint64_t id;
	struct sock_key *keys; /* entered, to be removed */
	size_t n_keys;
	bool counted; /* the denial counter's entry is in */
	bool evented; /* the event ring's entry is in */
	int ring_fd;
	struct ring_buffer *rb;
	bpf_event_fn fn;
	void *fn_ctx;
};

static int key_from_endpoint(const struct endpoint *e, struct sock_key *ret)
{
	struct sock_key k = {};

	if (e->proto != IPPROTO_TCP && e->proto != IPPROTO_UDP)
		return -EINVAL;
	k.proto = e->proto;
	k.port = htons(e->port);
	if (e->family == AF_INET) {
		k.family = AF_INET;
		memcpy(k.addr, &e->ip.v4, sizeof(e->ip.v4));
	} else if (e->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&e->ip.v6)) {
		/* addr.c already stores these as IPv4; the hooks judge them as IPv4 too. */
		k.family = AF_INET;
		memcpy(k.addr, &e->ip.v6.s6_addr[12], 4);
	} else if (e->family == AF_INET6) {
		k.family = AF_INET6;
		memcpy(k.addr, &e->ip.v6, sizeof(e->ip.v6));
	} else {
		return -EAFNOSUPPORT;
	}
	*ret = k;
	return 0;
}

static int full_or(int r, const char *what)
{
	if (r == -E2BIG)
		return err_set(r, "the eBPF %s map of all cages is full", what);
	return r;
}

int bpf_percpu_zeros(uint64_t **ret)
{
	int ncpus = libbpf_num_possible_cpus();

	if (ncpus < 0)
		return err_set(ncpus, "count possible CPUs");
	*ret = calloc((size_t)ncpus, sizeof(uint64_t));
	return *ret ? ncpus : -ENOMEM;
}

static int percpu_counts(struct cage_count **ret)
{
	int ncpus = libbpf_num_possible_cpus();

	if (ncpus < 0)
		return err_set(ncpus, "count possible CPUs");
	*ret = calloc((size_t)ncpus, sizeof(struct cage_count));
	return *ret ? ncpus : -ENOMEM;
}

int bpf_cage_attach(int parent_fd, const char *own, int cgroup_fd, const struct allowed *allowed,
		    size_t n, struct bpf_cage **ret)
{
	_cleanup_free_ struct cage_count *zeros = NULL;
	_cleanup_(bpf_cage_freep) struct bpf_cage *c = NULL;
	char buf[ADDR_STR_MAX];
	uint8_t one = 1;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ring_fd = -1;
	for (size_t k = 0; k < N_MAPS; k++)
		c->map_fds[k] = -1;
	c->keys = calloc(n ? n : 1, sizeof(*c->keys));
	r = c->keys ? cgroup_id(cgroup_fd, &c->id) : -ENOMEM;
	if (r == 0)
		r = bpf_resident_get(parent_fd, own, &bpf_sock_resident, c->map_fds);
	if (r == 0)
		r = percpu_counts(&zeros);
	if (r >= 0) {
		r = bpf_map_update_elem(c->map_fds[MAP_DENIED], &c->id, zeros, BPF_ANY);
		r = r < 0 ? full_or(negative_errno(), "denial counter") : 0;
		c->counted = r == 0;
	}
	for (size_t j = 0; r == 0 && j < n; j++) {
		struct sock_key key;

		r = key_from_endpoint(&allowed[j].ep, &key);
		if (r < 0) {
			r = err_set(r, "eBPF allow entry %zu", j);
			break;
		}
		key.cage = c->id;
		if (bpf_map_update_elem(c->map_fds[MAP_ALLOW], &key, &one, BPF_ANY) < 0) {
			r = full_or(negative_errno(), "allow");
			r = err_set(r, "eBPF allow %s",
				    addr_format(&allowed[j].ep, buf, sizeof(buf)));
			break;
		}
		c->keys[c->n_keys++] = key;
	}
	if (r < 0) {
		(void)bpf_cage_detach(c);
		return r;
	}
	*ret = TAKE_PTR(c);
	return 0;
}

int bpf_cage_detach(struct bpf_cage *c)
{
	int r = 0;

	if (!c)
		return -EBADF;
	for (size_t i = 0; i < c->n_keys; i++)
		if (bpf_map_delete_elem(c->map_fds[MAP_ALLOW], &c->keys[i]) < 0 &&
		    errno != ENOENT && r == 0)
			r = err_set(negative_errno(), "remove the cage's eBPF allow entries");
	c->n_keys = 0;
	if (c->evented && bpf_map_delete_elem(c->map_fds[MAP_EVENTS], &c->id) < 0 &&
	    errno != ENOENT && r == 0)
		r = err_set(negative_errno(), "remove the cage's eBPF event ring");
	c->evented = false;
	if (c->counted && bpf_map_delete_elem(c->map_fds[MAP_DENIED], &c->id) < 0 &&
	    errno != ENOENT && r == 0)
		r = err_set(negative_errno(), "remove the cage's eBPF denial counter");
	c->counted = false;
	return r;
}

static int counts(const struct bpf_cage *c, uint64_t *ret_denied, uint64_t *ret_dropped)
{
	_cleanup_free_ struct cage_count *per_cpu = NULL;
	uint64_t denied = 0, dropped = 0;
	int ncpus;

	if (!c || !c->counted)
		return -EBADF;
	ncpus = percpu_counts(&per_cpu);
	if (ncpus < 0)
		return ncpus;
	if (bpf_map_lookup_elem(c->map_fds[MAP_DENIED], &c->id, per_cpu) < 0)
		return err_set(negative_errno(), "read eBPF denial counter");
	for (int i = 0; i < ncpus; i++) {
		denied += per_cpu[i].denied;
		dropped += per_cpu[i].dropped;
	}
	if (ret_denied)
		*ret_denied = denied;
	if (ret_dropped)
		*ret_dropped = dropped;
	return 0;
}

int bpf_cage_denied(const struct bpf_cage *c, uint64_t *ret)
{
	return counts(c, ret, NULL);
}

int bpf_cage_dropped(const struct bpf_cage *c, uint64_t *ret)
{
	return counts(c, NULL, ret);
}

static int on_ring(void *ctx, void *data, size_t size)
{
	struct bpf_cage *c = ctx;
	struct bpf_ip_event e;

	if (size < sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	e.port = ntohs(e.port);
	e.comm[sizeof(e.comm) - 1] = '\0';
	c->fn(c->fn_ctx, &e);
	return 0;
}

int bpf_cage_events(struct bpf_cage *c, bpf_event_fn fn, void *ctx, int *ret_fd)
{
	int r;

	if (!c || !c->counted || c->rb)
		return -EBADF;
	c->ring_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "sluice_events", 0, 0, EVENT_RING_SIZE,
				    NULL);
	if (c->ring_fd < 0) {
		r = negative_errno();
		c->ring_fd = -1;
		return err_set(r, "make the cage's eBPF event ring");
	}
	c->fn = fn;
	c->fn_ctx = ctx;
	c->rb = ring_buffer__new(c->ring_fd, on_ring, c, NULL);
	if (!c->rb)
		return err_set(negative_errno(), "read the cage's eBPF event ring");
	if (bpf_map_update_elem(c->map_fds[MAP_EVENTS], &c->id, &c->ring_fd, BPF_ANY) < 0)
		return err_set(full_or(negative_errno(), "event"), "enter the cage's event ring");
	c->evented = true;
	*ret_fd = ring_buffer__epoll_fd(c->rb);
	return 0;
}

int bpf_cage_events_read(struct bpf_cage *c)
{
	int r = c && c->rb ? ring_buffer__consume(c->rb) : 0;

	return r < 0 ? r : 0;
}

uint64_t bpf_cage_id(const struct bpf_cage *c)
{
	return c ? c->id : 0;
}

void bpf_cage_free(struct bpf_cage *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	closep(&c->ring_fd);
	for (size_t k = 0; k < N_MAPS; k++)
		closep(&c->map_fds[k]);
	free(c->keys);
	free(c);
}

int bpf_probe(void)
{
	_cleanup_(sock_bpf__destroyp) struct sock_bpf *skel = NULL;

	/* Loading the real programs (about 1 ms) proves what matters: this kernel accepts
	 * them, and we may load BPF at all. */
	return load(&skel);
}
