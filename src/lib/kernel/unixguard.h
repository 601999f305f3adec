/* unixguard.h: the in-kernel layer behind the unix broker (broker.h): cgroup connect_unix and
 * sendmsg_unix programs (kernel 6.7+) that refuse (EPERM) every pathname unix socket a process
 * of a cage reaches by itself, so that only the calls the supervisor performs for it get one,
 * and keep the refused paths for -v. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "bpf.h"
#include "util.h"

struct unixguard;

/* A path refused, and how often (an empty path: an address the hook could not read). */
struct unixguard_denial {
	char path[UNIX_PATH_MAX + 1];
	uint64_t count;
};

/*
 * 0 if this kernel has the cgroup unix hooks and we may load them; -EOPNOTSUPP if the kernel
 * predates them (before 6.7); another negative errno if BPF cannot be loaded at all (-EPERM
 * without root). The answer is cached: only the first call costs a syscall (tens of µs).
 */
int unixguard_probe(void);

/* The unix hooks, for bpf_resident_get() and friends (bpf.h). */
extern const struct bpf_resident unixguard_resident;

/*
 * Make sure the unix hooks are attached to parent_fd, the cgroup of all cages (as
 * bpf_cage_attach() does for the IP hooks), then enter the cage's zeroed denial counter under
 * the id of its cgroup (cgroup_fd, named own below parent_fd), which makes it a cage's. On
 * failure nothing of the cage's is left in the maps; -EOPNOTSUPP if the kernel has no unix
 * hooks (unixguard_probe()).
 */
int unixguard_attach(int parent_fd, const char *own, int cgroup_fd, struct unixguard **ret);
/* Remove the cage's entries, the refused paths kept for it included (teardown). */
int unixguard_detach(struct unixguard *g);
/* Close our fds (removes nothing). Accepts NULL. */
void unixguard_free(struct unixguard *g);
DEFINE_CLEANUP_FUNC(struct unixguard, unixguard_free)

/*
 * How many connects and sends were refused in all (ret_total), and up to max of the refused
 * paths with their counts, most frequent first (*ret_n of them). The hooks keep the 1024 most
 * recently refused distinct paths of all cages, so the per-path counts may not add up to the total.
 * recent may be NULL when max is 0.
 */
int unixguard_denied(const struct unixguard *g, uint64_t *ret_total,
		     struct unixguard_denial *recent, size_t max, size_t *ret_n);
