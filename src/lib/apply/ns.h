/* ns.h: the inside of the cage's mount, cgroup and uts namespaces, set up by the cage's
 * first process before anything of the user's runs. */
#pragma once

#include "plan.h"

/* Run in the cage's first process (already in its new net, mnt, pid, ipc and uts
 * namespaces and in the cage cgroup): enter a new cgroup namespace rooted at the cage's
 * cgroup, make mounts private, mount a fresh /proc, make /proc/sys read-only, replace the
 * places where host sockets live (/run, /var/run, /tmp) with private tmpfs mounts, the
 * runtime directory among them, and bind back into them only the allowed sockets
 * (plan->unix_allow), bind the generated /etc/resolv.conf and /etc/hosts read-only over the
 * host's, mount a fresh read-only /sys (showing the cage's netns) with the cage's cgroup
 * read-only at /sys/fs/cgroup, and set the hostname to the cage's name. */
int ns_setup_cage(const struct plan *p);

/* Whether an absolute path lies in the places the cage has its own of (/tmp, /run, /var/run),
 * where the host's files are not in sight. */
bool ns_is_hidden(const char *path);

/* The host locations a cage's mount namespace replaces with private tmpfs mounts (where host
 * sockets usually live: /var/run goes with /run), for check and the man page. */
extern const char *const ns_hidden_dirs[];
