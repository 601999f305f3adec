/* ns.c: the cage's view of the system. Every mount here happens inside the cage's own mount
 * namespace after propagation is made private, so none of it is seen outside. */
#include <sched.h>
#include <sys/mount.h>

#include "log.h"
#include "ns.h"

#define MNT_SAFE (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static int ro_bind_self(const char *path)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_set(negative_errno(), "bind %s", path);
	if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MNT_SAFE, NULL) < 0)
		return err_set(negative_errno(), "make %s read-only", path);
	return 0;
}

int ns_setup_cage(const char *hostname)
{
	int r;

	/* The cgroup namespace is entered here, not at clone: a namespace made by clone3()
	 * is rooted at the parent's cgroup even with CLONE_INTO_CGROUP, since namespaces are
	 * copied before the child is moved. Unsharing now roots it at the cage's cgroup. */
	if (unshare(CLONE_NEWCGROUP) < 0)
		return err_set(negative_errno(), "new cgroup namespace");

	/* Nothing mounted below may propagate back to the host's mount namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return err_set(negative_errno(), "make mounts private");

	/* A fresh /proc for the new pid namespace: the cage sees only its own processes. */
	if (mount("proc", "/proc", "proc", MNT_SAFE, NULL) < 0)
		return err_set(negative_errno(), "mount /proc");
	r = ro_bind_self("/proc/sys");
	if (r < 0)
		return r;

	/* A fresh sysfs shows the cage's netns (a bind of the host's would list the host's
	 * interfaces); read-only, with only the cage's own cgroup under it, read-only too, so
	 * the cage cannot write cgroup.procs anywhere and move itself out. */
	if (mount("sysfs", "/sys", "sysfs", MS_RDONLY | MNT_SAFE, NULL) < 0)
		return err_set(negative_errno(), "mount /sys");
	if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_RDONLY | MNT_SAFE, NULL) < 0)
		return err_set(negative_errno(), "mount /sys/fs/cgroup");

	if (hostname && sethostname(hostname, strlen(hostname)) < 0)
		return err_set(negative_errno(), "set hostname");
	return 0;
}
