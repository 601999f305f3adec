/* ns.c: the cage's view of the system. Every mount here happens inside the cage's own mount
 * namespace after propagation is made private, so none of it is seen outside. */
#include <sched.h>
#include <stdio.h>
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

static int write_generated(const char *path, void (*gen)(const struct plan *, FILE *),
			   const struct plan *p)
{
	FILE *f = fopen(path, "we");
	int r = 0;

	if (!f)
		return err_set(negative_errno(), "create %s", path);
	gen(p, f);
	if (ferror(f))
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = negative_errno();
	return r < 0 ? err_set(r, "write %s", path) : 0;
}

/* Bind SRC read-only over DST (following a symlink at DST, as /etc/resolv.conf often is).
 * A DST that does not exist is left alone: the resolver then asks 127.0.0.1:53, the stub. */
static int ro_bind_file(const char *src, const char *dst)
{
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0) {
		if (errno == ENOENT) {
			log_debug("%s does not exist: not replaced", dst);
			return 0;
		}
		return err_set(negative_errno(), "bind over %s", dst);
	}
	if (mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MNT_SAFE, NULL) < 0)
		return err_set(negative_errno(), "make %s read-only", dst);
	return 0;
}

/*
 * /etc/resolv.conf and /etc/hosts, generated. They are written into a small tmpfs mounted
 * for the moment on /sys (about to be replaced by a fresh sysfs anyway), bound over the
 * host's files, and the tmpfs is unmounted again: the binds keep its files alive, and
 * nothing is ever written on the host's filesystems.
 */
static int generated_etc(const struct plan *p)
{
	int r;

	if (mount("sluice", "/sys", "tmpfs", MNT_SAFE, "mode=0755,size=64k,nr_inodes=8") < 0)
		return err_set(negative_errno(), "mount a tmpfs for /etc/resolv.conf");
	r = write_generated("/sys/resolv.conf", plan_write_resolv, p);
	if (r == 0)
		r = write_generated("/sys/hosts", plan_write_hosts, p);
	if (r == 0)
		r = ro_bind_file("/sys/resolv.conf", "/etc/resolv.conf");
	if (r == 0)
		r = ro_bind_file("/sys/hosts", "/etc/hosts");
	if (umount2("/sys", MNT_DETACH) < 0 && r == 0)
		r = err_set(negative_errno(), "unmount the tmpfs on /sys");
	return r;
}

int ns_setup_cage(const struct plan *p)
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

	r = generated_etc(p);
	if (r < 0)
		return r;

	/* A fresh sysfs shows the cage's netns (a bind of the host's would list the host's
	 * interfaces); read-only, with only the cage's own cgroup under it, read-only too, so
	 * the cage cannot write cgroup.procs anywhere and move itself out. */
	if (mount("sysfs", "/sys", "sysfs", MS_RDONLY | MNT_SAFE, NULL) < 0)
		return err_set(negative_errno(), "mount /sys");
	if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_RDONLY | MNT_SAFE, NULL) < 0)
		return err_set(negative_errno(), "mount /sys/fs/cgroup");

	if (sethostname(p->name, strlen(p->name)) < 0)
		return err_set(negative_errno(), "set hostname");
	return 0;
}
