/* bpf.h: the cage's eBPF layer. The hooks (cgroup sock_addr connect4/6 and sendmsg4/6 here,
 * connect_unix and sendmsg_unix in unixguard.h) are loaded once and attached to the cgroup that
 * holds every cage ("<cgroup2>/sluice"), where they stay: each cage's cgroup inherits them when
 * it is made, so nothing is loaded or attached per cage. A cage's policy is a set of entries in
 * their maps under its cgroup's id; a cgroup below with no entries gets its own loopback only,
 * and every denial fails at once with EPERM and is counted per cage. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "plan.h"
#include "util.h"

/* A cgroup hook: where a program attaches, and the program's name (its function's). */
struct bpf_hook {
	const char *name;
	enum bpf_attach_type type;
};

/* One BPF object kept attached to the cgroup of all cages. */
struct bpf_resident {
	const char *what;	      /* for messages: "eBPF sock_addr hooks" */
	const struct bpf_hook *hooks; /* all of them are attached; hooks[0] is looked up first */
	size_t n_hooks;
	const char *const *maps; /* the maps a cage's entries go in, by name */
	const size_t *cage_at;	 /* where in each map's key the cage's cgroup id lies */
	size_t n_maps;
	uint64_t build; /* this build's id, stamped into the object's .rodata at load */
	/* Open and load the object, stamped with build, not attached. */
	int (*load)(const struct bpf_resident *r, void **skel, struct bpf_object **obj);
	void (*destroy)(void *skel);
};

extern const struct bpf_resident bpf_sock_resident;

/*
 * Under state_lock(): find this build's programs attached to parent_fd,
 * all of them, or load and attach them there (with BPF_F_ALLOW_MULTI, not through a link, so
 * they stay whatever becomes of our fds). Another build's programs, or an incomplete set, are
 * replaced if no cage below parent_fd other than own (a directory name, or NULL) has processes;
 * otherwise -EBUSY says so. Gives the fds of r->maps, in order (the caller closes them).
 */
int bpf_resident_get(int parent_fd, const char *own, const struct bpf_resident *r, int *map_fds);
/* Detach r's programs (of any build) from parent_fd: refused (-EBUSY) while a cage runs.
 * Returns how many were detached. The caller holds state_lock() (gc does, throughout). */
int bpf_resident_unload(int parent_fd, const struct bpf_resident *r);
/* The cgroup ids of the cages there are now (a heap array the caller frees). */
typedef int (*bpf_live_fn)(void *ctx, uint64_t **ret_ids, size_t *ret_n);
/* Remove the entries of every cage whose cgroup id is not among those live() gives (gc: runs
 * whose supervisor was killed leave theirs). live() is asked after the entries are read, so
 * a cage made meanwhile (its cgroup comes before its entries) keeps them. */
int bpf_resident_prune(int parent_fd, const struct bpf_resident *r, bpf_live_fn live, void *ctx,
		       size_t *ret_removed);

struct bpf_cage;

/*
 * Make sure the hooks are on parent_fd (bpf_resident_get()), then enter the cage's policy under
 * the id of its cgroup (cgroup_fd, a directory below parent_fd named own): the allowed
 * endpoints and a zeroed denial counter. Call before any process is in the cgroup. On failure
 * nothing of the cage's is left in the maps.
 */
int bpf_cage_attach(int parent_fd, const char *own, int cgroup_fd, const struct allowed *allowed,
		    size_t n, struct bpf_cage **ret);
/* Remove the cage's entries (teardown; gc prunes those of a killed supervisor). Its cgroup's
 * processes, if any were left, are refused everything from then on. */
int bpf_cage_detach(struct bpf_cage *c);
/* Number of connects/sends denied so far. */
int bpf_cage_denied(const struct bpf_cage *c, uint64_t *ret);
/* Of them, how many were not sent as events (over the hooks' rate, or the ring full). */
int bpf_cage_dropped(const struct bpf_cage *c, uint64_t *ret);

/* A denial, as the hooks send it (bpf/sock.bpf.c's struct ip_event; port in host order). */
struct bpf_ip_event {
	uint64_t cage;
	uint32_t pid; /* the thread group's, as the host sees it */
	uint8_t hook; /* 0 connect4, 1 connect6, 2 sendmsg4, 3 sendmsg6 */
	uint8_t family;
	uint8_t proto;
	uint8_t pad;
	uint16_t port;
	uint16_t pad2;
	uint8_t addr[16];
	char comm[16];
};
typedef void (*bpf_event_fn)(void *ctx, const struct bpf_ip_event *e);
/* Make the cage's event ring and enter it, so that the hooks send it the cage's denials (at
 * most 64 a second per CPU; the rest counted as dropped). *ret_fd: an fd that polls readable
 * when events wait; then bpf_cage_events_read() hands each to fn. bpf_cage_detach() removes
 * the entry, bpf_cage_free() the ring. */
int bpf_cage_events(struct bpf_cage *c, bpf_event_fn fn, void *ctx, int *ret_fd);
int bpf_cage_events_read(struct bpf_cage *c);
/* The cgroup id the cage's entries are under. */
uint64_t bpf_cage_id(const struct bpf_cage *c);
/* Close our fds (removes nothing). Accepts NULL. */
void bpf_cage_free(struct bpf_cage *c);
DEFINE_CLEANUP_FUNC(struct bpf_cage, bpf_cage_free)
/* A zeroed buffer for one per-CPU counter (a u64 per possible CPU): the number of CPUs, or a
 * negative errno. The caller frees *ret. */
int bpf_percpu_zeros(uint64_t **ret);
/* 0 if the kernel can load the sock_addr programs here, else a negative errno. */
int bpf_probe(void);
/* Send libbpf's messages to our logger (log_debug) instead of stderr: call before any other
 * libbpf call. Process-wide, cheap, idempotent; unixguard.c shares it. */
void bpf_route_libbpf_log(void);

/* Attach program fds[i] as hooks[i] to the cgroup, in order, each with BPF_F_ALLOW_MULTI
 * and not through a bpf_link: a program attached to the cgroup itself stays for as long as
 * the cgroup lives, whatever happens to our fds. On a failure, those attached are detached
 * again. */
int bpf_hooks_attach(int cgroup_fd, const struct bpf_hook *hooks, const int *fds, size_t n);
/* Detach them all (trying each even if one fails); the first failure is reported. */
int bpf_hooks_detach(int cgroup_fd, const struct bpf_hook *hooks, const int *fds, size_t n);
