/* cgroup.c: the cage's cgroup v2 directory. The cage's first process is cloned straight
 * into it (CLONE_INTO_CGROUP), so the eBPF hooks attached to it hold from the first
 * instruction; removal kills what is left (cgroup.kill, Linux 5.14) before rmdir. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>

#include "cgroup.h"
#include "log.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

int cgroup_find_mount(char *buf, size_t len)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int r = -ENOENT;

	if (!f)
		return err_set(negative_errno(), "read /proc/self/mountinfo");
	while (getline(&line, &cap, f) > 0) {
		char mnt[4096], fstype[64];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || !streq(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		unescape(mnt);
		if (strlen(mnt) >= len) {
			r = -ENAMETOOLONG;
			break;
		}
		strcpy(buf, mnt);
		r = 0;
		break;
	}
	fclose(f);
	if (r == -ENOENT)
		return err_set(r, "no cgroup v2 mount in /proc/self/mountinfo");
	return r;
}

int cgroup_self_delegated(const char *mount, char *buf, size_t len)
{
	static const char *const names[] = {"trusted.delegate", "user.delegate"};
	_cleanup_free_ char *line = NULL;
	char path[4096], v[4];
	size_t cap = 0;
	FILE *f = fopen("/proc/self/cgroup", "re");
	bool found = false;

	if (!f)
		return err_set(negative_errno(), "read /proc/self/cgroup");
	while (getline(&line, &cap, f) > 0)
		if (startswith(line, "0::/")) {
			line[strcspn(line, "\n")] = '\0';
			found = true;
			break;
		}
	fclose(f);
	/* The root ("0::/") is no service's own. */
	if (!found || !line[4])
		return 0;
	if (strlen(line + 4) >= len)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", mount, line + 4);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		ssize_t n = getxattr(path, names[i], v, sizeof(v));

		if (n == 1 && v[0] == '1') {
			snprintf(buf, len, "%s", line + 4);
			return 1;
		}
	}
	return 0;
}

int cgroup_create(const char *mount, const char *rel, int *ret_fd)
{
	char path[4096], parent[4096];
	const char *slash = strrchr(rel, '/');
	int fd;

	snprintf(path, sizeof(path), "%s/%s", mount, rel);
	if (slash) {
		snprintf(parent, sizeof(parent), "%s/%.*s", mount, (int)(slash - rel), rel);
		if (mkdir(parent, 0755) < 0 && errno != EEXIST)
			return err_set(negative_errno(), "create cgroup %s", parent);
	}
	if (mkdir(path, 0755) < 0)
		return err_set(negative_errno(), "create cgroup %s", path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int r = negative_errno();

		rmdir(path);
		return err_set(r, "open cgroup %s", path);
	}
	*ret_fd = fd;
	return 0;
}

static bool populated(int dir_fd)
{
	char buf[256];
	_cleanup_close_ int fd = openat(dir_fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, "populated 1") != NULL;
}

static void kill_all(int dir_fd)
{
	_cleanup_close_ int fd = openat(dir_fd, "cgroup.kill", O_WRONLY | O_CLOEXEC);

	if (fd >= 0)
		(void)!write(fd, "1", 1);
}

/* rmdir every cgroup below dir_fd, deepest first (cgroup.kill has emptied them all). */
static void remove_below(int dir_fd)
{
	_cleanup_close_ int dir = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dir >= 0 ? fdopendir(dir) : NULL;
	struct dirent *de;
	int dfd;

	if (!d)
		return;
	dfd = TAKE_FD(dir); /* d's now: closedir() closes it */
	while ((de = readdir(d))) {
		_cleanup_close_ int sub = -1;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0)
			remove_below(sub);
		(void)unlinkat(dfd, de->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

/* Whether path is still the cgroup whose id is id. */
static bool still(const char *path, uint64_t id)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t now;

	return fd >= 0 && cgroup_id(fd, &now) == 0 && now == id;
}

int cgroup_destroy(const char *mount, const char *rel, uint64_t id)
{
	char path[4096];
	_cleanup_close_ int fd = -1;
	struct timespec start, now;
	int r;

	snprintf(path, sizeof(path), "%s/%s", mount, rel);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT
				       : err_set(negative_errno(), "open cgroup %s", path);
	if (id) {
		uint64_t own;

		r = cgroup_id(fd, &own);
		if (r < 0)
			return r;
		if (own != id)
			return -ESTALE; /* another cgroup of that name now */
	}
	/* Through the fd: what is killed is this cgroup (and all below it), even should its
	 * name be taken by another meanwhile. */
	if (populated(fd))
		kill_all(fd);

	/* cgroup.kill sends SIGKILL; the cgroup stays populated until the processes are
	 * reaped, so wait (bounded) for "populated 0" before rmdir, which fails with EBUSY
	 * while any process or cgroup remains below. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (id && !still(path, id))
			return 0; /* gone (or another's now, which is not ours to remove) */
		remove_below(fd); /* a cgroup below (the broker's) would make rmdir wait a round */
		if (rmdir(path) == 0)
			return 0;
		r = negative_errno();
		if (r != -EBUSY)
			return err_set(r, "remove cgroup %s", path);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 5)
			return err_set(r, "remove cgroup %s", path);
		kill_all(fd);
		remove_below(fd);
		poll(NULL, 0, 1);
	}
}

int cgroup_list_cages(const char *mount, char ***ret)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/sluice", mount);
	return dir_list(path, true, ret);
}

int cgroup_id(int fd, uint64_t *ret)
{
	/* The cgroup id the kernel's BPF helpers report is the directory's kernfs node id,
	 * which its file handle carries (FILEID_KERNFS: 8 bytes). */
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h = {.fh.handle_bytes = sizeof(uint64_t)};
	int mnt;

	if (name_to_handle_at(fd, "", &h.fh, &mnt, AT_EMPTY_PATH) < 0)
		return err_set(negative_errno(), "read the cgroup's id");
	if (h.fh.handle_bytes != sizeof(uint64_t))
		return err_set(-EPROTO, "read the cgroup's id: a handle of %u bytes",
			       h.fh.handle_bytes);
	memcpy(ret, h.fh.f_handle, sizeof(*ret));
	return 0;
}

int cgroup_children_populated(int parent_fd, const char *except, size_t *ret)
{
	_cleanup_close_ int dir = openat(parent_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int dfd;

	if (dir < 0)
		return err_set(negative_errno(), "list cgroups");
	d = fdopendir(dir);
	if (!d)
		return err_set(negative_errno(), "list cgroups");
	dfd = TAKE_FD(dir); /* d's now: closedir() closes it */
	while ((de = readdir(d))) {
		char path[NAME_MAX + 32], buf[256];
		_cleanup_close_ int fd = -1;
		ssize_t len;

		if (de->d_type != DT_DIR || de->d_name[0] == '.' ||
		    (except && streq(de->d_name, except)))
			continue;
		snprintf(path, sizeof(path), "%s/cgroup.events", de->d_name);
		fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		n += strstr(buf, "populated 1") != NULL;
	}
	closedir(d);
	*ret = n;
	return 0;
}
