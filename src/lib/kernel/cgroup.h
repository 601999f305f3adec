/* cgroup.h: the cage's cgroup v2 directory: finding the cgroup2 mount, creating the
 * directory the cage is cloned into, killing everything in it and removing it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The first cgroup2 mount in /proc/self/mountinfo (never assumed to be /sys/fs/cgroup). */
int cgroup_find_mount(char *buf, size_t len);

/* mkdir <mount>/<rel> (its parent too) and open it O_DIRECTORY. -EEXIST if it exists. */
int cgroup_create(const char *mount, const char *rel, int *ret_fd);

/* Kill every process in the cgroup and below it (cgroup.kill), wait until it is empty, and
 * rmdir it and what is below it. -ENOENT if it does not exist. With an id other than 0, only
 * the cgroup of that id (listed earlier, say) is removed: -ESTALE if the name is another's
 * now. 0 for a name that cannot be another's (the run's own; a record's, under its lock). */
int cgroup_destroy(const char *mount, const char *rel, uint64_t id);

#define CGROUP_PATH_MAX 448 /* a cage's cgroup below the mount, "sluice/NAME" or deeper */

/* Whether a service manager delegated this process's own cgroup to it (systemd's Delegate=:
 * the xattr trusted.delegate or user.delegate is "1"): 1 with its path below mount in buf
 * (no leading '/'), 0 if not, or a negative errno. */
int cgroup_self_delegated(const char *mount, char *buf, size_t len);

/* Names of the directories below <mount>/sluice (for gc); NULL-terminated strv. */
int cgroup_list_cages(const char *mount, char ***ret);

/* The cgroup's id, as bpf_get_current_cgroup_id() reports it for a process in it. */
int cgroup_id(int fd, uint64_t *ret);

/* How many directories below the cgroup parent_fd (other than except, which may be NULL) have
 * processes in them (cgroup.events: populated 1), counting their own descendants. */
int cgroup_children_populated(int parent_fd, const char *except, size_t *ret);
