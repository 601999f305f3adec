/* named.c: a named cage's netns bound at /run/netns/<name>, as iproute2 binds one, so that
 * `ip netns`, `nsenter --net=/run/netns/<name>` and runtimes that setns() by fd find it;
 * and where its control socket lives. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "log.h"
#include "named.h"
#include "state.h"

void named_ctl_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, STATE_DIR "/.%s.ctl", name);
}

static void netns_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, NETNS_DIR "/%s", name);
}

/* NETNS_DIR as a shared mount point, as `ip netns add` leaves it: a bind made there after
 * another process made its own mount namespace (`ip netns exec` does) still reaches it.
 * Under the state lock: two cages making it a mount point at once would stack two. */
static int netns_dir_shared(void)
{
	_cleanup_close_ int lock = -1;
	int r;

	r = state_lock(&lock);
	if (r < 0)
		return r;
	if (mkdir(NETNS_DIR, 0755) < 0 && errno != EEXIST)
		return err_set(negative_errno(), "create %s", NETNS_DIR);
	if (mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
		return 0;
	if (errno != EINVAL)
		return err_set(negative_errno(), "make %s a shared mount", NETNS_DIR);
	/* EINVAL: not a mount point yet; make it one, then shared. */
	if (mount(NETNS_DIR, NETNS_DIR, "none", MS_BIND | MS_REC, NULL) < 0 ||
	    mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0)
		return err_set(negative_errno(), "make %s a shared mount", NETNS_DIR);
	return 0;
}

int named_bind_netns(const char *name, int netns_fd, unsigned long long *ret_ino)
{
	char path[128], src[64];
	struct stat st;
	int fd, r;

	if (fstat(netns_fd, &st) < 0)
		return err_set(negative_errno(), "stat the cage's netns");
	r = netns_dir_shared();
	if (r < 0)
		return r;
	netns_path(name, path, sizeof(path));
	/* O_EXCL: a name iproute2 or another tool already uses is not taken over. */
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd < 0) {
		if (errno == EEXIST)
			return err_invalid("%s exists: a netns of that name is there already "
					   "(`ip netns list`); name the cage otherwise",
					   path);
		return err_set(negative_errno(), "create %s", path);
	}
	close(fd);
	snprintf(src, sizeof(src), "/proc/self/fd/%d", netns_fd);
	if (mount(src, path, "none", MS_BIND, NULL) < 0) {
		r = err_set(negative_errno(), "bind the cage's netns at %s", path);
		(void)unlink(path);
		return r;
	}
	*ret_ino = (unsigned long long)st.st_ino;
	return 0;
}

bool named_netns_is(const char *name, unsigned long long ino)
{
	char path[128];
	struct stat st;

	netns_path(name, path, sizeof(path));
	return stat(path, &st) == 0 && (unsigned long long)st.st_ino == ino;
}

int named_unbind_netns(const char *name, unsigned long long ino)
{
	char path[128];

	netns_path(name, path, sizeof(path));
	if (!named_netns_is(name, ino))
		return 0; /* not ours (any more): left as it is */
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return err_set(negative_errno(), "unmount %s", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(negative_errno(), "remove %s", path);
	return 0;
}

/* Wait for the process behind pidfd to end, up to ms: whether it did. */
static bool ended_within(int pidfd, int ms)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
	int r;

	while ((r = poll(&pfd, 1, ms)) < 0 && errno == EINTR)
		;
	return r > 0;
}

int named_down(const char *name, int timeout_ms)
{
	_cleanup_close_ int pidfd = -1;
	struct cage_state s;
	int r;

	r = state_read(name, &s);
	if (r == -ENOENT)
		return err_set_whole(-ENOENT, "no cage named \"%s\" is up (see sluice ls)", name);
	if (r < 0)
		return err_set(r, "read the record of cage \"%s\"", name);
	pidfd = (int)syscall(SYS_pidfd_open, s.pid, 0);
	if (pidfd < 0 && errno != ESRCH)
		return err_set(negative_errno(), "open the supervisor of cage \"%s\"", name);
	/* Alive after the pidfd was opened: the pidfd is of that supervisor, not of a process
	 * that took its pid since. */
	if (pidfd < 0 || !state_alive(&s))
		return -ESRCH;
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0)
		return errno == ESRCH ? -ESRCH
				      : err_set(negative_errno(), "stop cage \"%s\"", name);
	if (ended_within(pidfd, timeout_ms))
		return 0;
	(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	(void)ended_within(pidfd, 5000);
	return err_set_whole(-ETIMEDOUT,
			     "cage \"%s\" did not end within %d ms of SIGTERM: its supervisor "
			     "was killed",
			     name, timeout_ms);
}
