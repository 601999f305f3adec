/* hookworld.h: what the unit tests of the resident eBPF hooks (test_bpf, test_unixguard)
 * share: the cgroup2 mount and the cgroup this process started in, moving this process into
 * a cgroup (sockets are judged by the cgroup of the process that uses them) and back, and
 * the ids of the programs and maps attached to a cgroup, to see them go. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/bpf.h>

#include "bpf.h"

struct hook_ids {
	uint32_t prog[16], map[16];
	unsigned n_prog, n_map;
};

/* Find the cgroup2 mount and this process's cgroup; say what is missing as TEST if not. */
int hookworld_init(const char *test);
/* Where cgroup2 is mounted. */
const char *hookworld_mount(void);
/* Move this process into the cgroup at PATH, or back where it started. */
int hookworld_enter(const char *path);
int hookworld_leave(void);

/* The ids of the programs attached to CGROUP_FD for TYPE (at most MAX), and how many. */
unsigned hookworld_attached(int cgroup_fd, enum bpf_attach_type type, uint32_t *ids, unsigned max);
/* Assert that nothing is attached to CGROUP_FD for any of TYPES. */
void hookworld_assert_none(int cgroup_fd, const enum bpf_attach_type *types, size_t n);
/* Record the one program attached for each of TYPES and every map they use. */
void hookworld_record(struct hook_ids *ids, int cgroup_fd, const enum bpf_attach_type *types,
		      size_t n);
/* How many entries R's maps (found through the hooks on PARENT_FD) hold for the cage whose
 * cgroup id is ID. */
unsigned hookworld_entries(int parent_fd, const struct bpf_resident *r, uint64_t id);
/* Assert that the recorded programs and maps are gone (freed after an RCU grace period, so
 * this polls for up to 3 s). */
void hookworld_assert_gone(const struct hook_ids *ids);
