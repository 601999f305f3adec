/* state.h: the record of each live cage, /run/sluice/<name>, written before anything
 * is created, so `sluice gc` can find and remove what a crashed run left. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "plan.h"

#define STATE_DIR "/run/sluice"

struct cage_state {
	char name[CAGE_NAME_MAX + 1];
	pid_t pid;                /* the supervisor */
	unsigned long long start; /* its start time (/proc/PID/stat field 22), against pid reuse */
	unsigned long long netns; /* inode of the netns the host side lives in */
	char cgroup[CGROUP_PATH_MAX];
	char host_if[IFNAMSIZ];
	char wg_if[IFNAMSIZ]; /* made in the host netns before it is moved into the cage's */
	char host_table[PLAN_TABLE_MAX];
	unsigned long long bound; /* a named cage: the inode of its netns, bound at
				   * /run/netns/<name> (named.h); 0 if none */
	char parent[CAGE_NAME_MAX + 1]; /* a child cage: its parent's name (nest.h) */
};

/* Fill a record for this process and the plan. */
int state_from_plan(const struct plan *p, struct cage_state *ret);
/* Create /run/sluice/<name> atomically; -EEXIST if a record of that name exists. */
int state_create(const struct cage_state *s);
/* -ENOENT if there is none; -ENODATA for an older sluice's record cut short by a crash;
 * -ENAMETOOLONG, -EBADF for what is not a record. */
int state_read(const char *name, struct cage_state *ret);
/* Replace the record of s->name with s, atomically (the record must be this process's). */
int state_rewrite(const struct cage_state *s);
int state_remove(const char *name);
/* Remove the records that runs killed while writing them left half made; how many. Each one
 * removed is told to removed (if not NULL) by its file name in STATE_DIR. */
int state_remove_unfinished(void (*removed)(const char *file, void *data), void *data);
/* Names of all records (live or stale); NULL-terminated strv. */
int state_list(char ***ret);
/* Whether the record's supervisor is still running (true when it cannot be told). */
bool state_alive(const struct cage_state *s);
/* An flock on the state directory: serializes finding, loading and unloading the eBPF hooks
 * (bpf.h) between runs, and gc with all of that and with itself. Close the fd to unlock. */
int state_lock(int *ret_fd);
/* Whether a live cage other than self_name records host_if as its link. */
bool state_link_in_use(const char *host_if, const char *self_name);
/* The inode of the calling process's netns. */
unsigned long long state_current_netns(void);
/* Whether a netns of inode ino is still there: a process's, or one named in /run/netns (one
 * held only by an fd or a mount elsewhere is not seen); outside the initial pid namespace,
 * where /proc shows only some processes, it cannot be told and the answer is yes. */
bool state_netns_exists(unsigned long long ino);
