/* unixguard.h: the cage's unix-socket egress hooks: cgroup connect_unix and sendmsg_unix
 * programs (kernel 6.7+) that let the cage reach only the pathname sockets its policy allows
 * and those in its own private directories, failing everything else with EPERM and keeping
 * the refused paths for -v. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "plan.h"

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

/*
 * Load the programs, fill their allow map with plan->unix_allow and the cage's private socket
 * directories (ns_private_socket_dirs()), and attach them to the cgroup with BPF_F_ALLOW_MULTI,
 * so they stay attached for as long as the cgroup lives even if every fd of ours is closed.
 * On failure nothing stays attached.
 */
int unixguard_attach(int cgroup_fd, const struct plan *p, struct unixguard **ret);
/* Detach both programs from the cgroup (teardown); tries both, reports the first failure. */
int unixguard_detach(struct unixguard *g, int cgroup_fd);
/* Close our fds (does not detach). Accepts NULL. */
void unixguard_free(struct unixguard *g);

/*
 * How many connects and sends were refused in all (ret_total), and up to max of the refused
 * paths with their counts, most frequent first (*ret_n of them). The hook keeps the 64 most
 * recently refused distinct paths, so the per-path counts may not add up to the total.
 * recent may be NULL when max is 0.
 */
int unixguard_denied(const struct unixguard *g, uint64_t *ret_total,
		     struct unixguard_denial *recent, size_t max, size_t *ret_n);
