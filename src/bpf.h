/* bpf.h: the cage's eBPF layer: cgroup sock_addr programs (connect4/6, sendmsg4/6) that
 * allow only the plan's endpoints (and the cage's own loopback) and fail everything else at
 * once with EPERM, counting each denial. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <bpf/bpf.h>

#include "plan.h"

struct bpf_cage;

/*
 * Load the programs from the embedded skeleton, fill the allow map from allowed[], and
 * attach them to the cgroup with BPF_F_ALLOW_MULTI, so they stay attached for as long as
 * the cgroup lives even if every fd of ours is closed (a SIGKILLed supervisor must never
 * open the cage). On failure nothing stays attached.
 */
int bpf_cage_attach(int cgroup_fd, const struct allowed *allowed, size_t n,
		    struct bpf_cage **ret);
/* Detach from the cgroup (teardown; gc relies on the cgroup's removal instead). */
int bpf_cage_detach(struct bpf_cage *c, int cgroup_fd);
/* Number of connects/sends denied so far. */
int bpf_cage_denied(const struct bpf_cage *c, uint64_t *ret);
/* Close our fds (does not detach). Accepts NULL. */
void bpf_cage_free(struct bpf_cage *c);
/* 0 if the kernel can load and attach sock_addr programs here, else a negative errno. */
int bpf_probe(void);
/* Send libbpf's messages to our logger (log_debug) instead of stderr: call before any other
 * libbpf call. Process-wide, cheap, idempotent; unixguard.c shares it. */
void bpf_route_libbpf_log(void);

/* A cgroup hook: where a program attaches, and its name for messages. */
struct bpf_hook {
	const char *name;
	enum bpf_attach_type type;
};

/* Attach program fds[i] as hooks[i] to the cgroup, in order, each with BPF_F_ALLOW_MULTI
 * and not through a bpf_link: a program attached to the cgroup itself stays for as long as
 * the cgroup lives, whatever happens to our fds, and a parent cage's hooks keep running too
 * (all must allow). On a failure, those attached are detached again. */
int bpf_hooks_attach(int cgroup_fd, const struct bpf_hook *hooks, const int *fds, size_t n);
/* Detach them all (trying each even if one fails); the first failure is reported. */
int bpf_hooks_detach(int cgroup_fd, const struct bpf_hook *hooks, const int *fds, size_t n);
