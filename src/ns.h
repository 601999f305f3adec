/* ns.h: the inside of the cage's mount, cgroup and uts namespaces, set up by the cage's
 * first process before anything of the user's runs. */
#pragma once

#include "plan.h"

/* Run in the cage's first process (already in its new net, mnt, pid, ipc and uts
 * namespaces and in the cage cgroup): enter a new cgroup namespace rooted at the cage's
 * cgroup, make mounts private, mount a fresh /proc, make /proc/sys read-only, mount a fresh
 * read-only /sys (showing the cage's netns) with the cage's cgroup read-only at
 * /sys/fs/cgroup, bind the generated /etc/resolv.conf and /etc/hosts read-only over the
 * host's, and set the hostname to the cage's name. */
int ns_setup_cage(const struct plan *p);
