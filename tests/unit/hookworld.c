/* hookworld.c: see hookworld.h. */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h> /* after stdarg.h, stddef.h, setjmp.h and stdint.h */

#include "cgroup.h"
#include "hookworld.h"
#include "util.h"

static char mount_point[PATH_MAX];
static char home[2 * PATH_MAX];

/* "0::/some/path" from /proc/self/cgroup, as a path under the cgroup2 mount. */
static int find_home(void)
{
	_cleanup_free_ char *line = NULL;
	size_t n = 0;
	FILE *f = fopen("/proc/self/cgroup", "re");
	int r = -ENOENT;

	if (!f)
		return negative_errno();
	while (getline(&line, &n, f) > 0) {
		if (!startswith(line, "0::"))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(home, sizeof(home), "%s%s", mount_point, line + 3);
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

int hookworld_init(const char *test)
{
	if (geteuid() != 0) {
		fprintf(stderr, "%s: must run as root (eBPF, cgroups, namespaces)\n", test);
		return -1;
	}
	if (cgroup_find_mount(mount_point, sizeof(mount_point)) < 0 || find_home() < 0) {
		fprintf(stderr, "%s: no cgroup2 mount, or this process is in none\n", test);
		return -1;
	}
	return 0;
}

const char *hookworld_mount(void)
{
	return mount_point;
}

int hookworld_enter(const char *path)
{
	char procs[PATH_MAX + 32], buf[32];
	_cleanup_close_ int fd = -1;
	int len;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	len = snprintf(buf, sizeof(buf), "%d\n", getpid());
	if (write(fd, buf, (size_t)len) != len)
		return negative_errno();
	return 0;
}

int hookworld_leave(void)
{
	return hookworld_enter(home);
}

unsigned hookworld_attached(int cgroup_fd, enum bpf_attach_type type, uint32_t *ids, unsigned max)
{
	uint32_t n = max, flags = 0;

	assert_int_equal(bpf_prog_query(cgroup_fd, type, 0, &flags, ids, &n), 0);
	return n;
}

void hookworld_assert_none(int cgroup_fd, const enum bpf_attach_type *types, size_t n)
{
	uint32_t ids[4];

	for (size_t t = 0; t < n; t++)
		assert_int_equal(hookworld_attached(cgroup_fd, types[t], ids, ARRAY_SIZE(ids)), 0);
}

void hookworld_record(struct hook_ids *ids, int cgroup_fd, const enum bpf_attach_type *types,
		      size_t n)
{
	ids->n_prog = ids->n_map = 0;
	for (size_t t = 0; t < n && ids->n_prog < ARRAY_SIZE(ids->prog); t++) {
		uint32_t got[4];

		assert_int_equal(hookworld_attached(cgroup_fd, types[t], got, ARRAY_SIZE(got)), 1);
		ids->prog[ids->n_prog++] = got[0];
	}
	for (unsigned i = 0; i < ids->n_prog; i++) {
		_cleanup_close_ int fd = bpf_prog_get_fd_by_id(ids->prog[i]);
		struct bpf_prog_info info = {};
		uint32_t maps[8] = {}, len = sizeof(info);

		assert_true(fd >= 0);
		info.nr_map_ids = ARRAY_SIZE(maps);
		info.map_ids = (uint64_t)(uintptr_t)maps;
		assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
		for (unsigned j = 0; j < info.nr_map_ids && j < ARRAY_SIZE(maps); j++) {
			bool seen = false;

			for (unsigned k = 0; k < ids->n_map; k++)
				seen |= ids->map[k] == maps[j];
			if (!seen && ids->n_map < ARRAY_SIZE(ids->map))
				ids->map[ids->n_map++] = maps[j];
		}
	}
}

unsigned hookworld_entries(int parent_fd, const struct bpf_resident *r, uint64_t id)
{
	int fds[8];
	unsigned n = 0;

	assert_true(r->n_maps <= ARRAY_SIZE(fds));
	assert_int_equal(bpf_resident_get(parent_fd, NULL, r, fds), 0);
	for (size_t k = 0; k < r->n_maps; k++) {
		uint8_t key[256], next[256];
		const void *prev = NULL;

		while (bpf_map_get_next_key(fds[k], prev, next) == 0) {
			uint64_t cage;

			memcpy(key, next, sizeof(key));
			prev = key;
			memcpy(&cage, key + r->cage_at[k], sizeof(cage));
			n += cage == id;
		}
		close(fds[k]);
	}
	return n;
}

void hookworld_assert_gone(const struct hook_ids *ids)
{
	struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
	unsigned left = 0;

	for (int tries = 0; tries < 300; tries++) {
		left = 0;
		for (unsigned i = 0; i < ids->n_prog; i++) {
			int fd = bpf_prog_get_fd_by_id(ids->prog[i]);

			left += fd >= 0;
			closep(&fd);
		}
		for (unsigned i = 0; i < ids->n_map; i++) {
			int fd = bpf_map_get_fd_by_id(ids->map[i]);

			left += fd >= 0;
			closep(&fd);
		}
		if (!left)
			break;
		nanosleep(&ts, NULL);
	}
	assert_int_equal(left, 0);
}
