/* cgroup.c: the cage's cgroup v2 directory. The cage's first process is cloned straight
 * into it (CLONE_INTO_CGROUP), so the eBPF hooks attached to it hold from the first
 * instruction; removal kills what is left (cgroup.kill, Linux 5.14) before rmdir. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
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

static int write_file(const char *path, const char *s)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return negative_errno();
	if (write(fd, s, strlen(s)) < 0)
		return negative_errno();
	return 0;
}

static bool populated(const char *dir)
{
	char path[4200], buf[256];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, "populated 1") != NULL;
}

int cgroup_destroy(const char *mount, const char *rel)
{
	char path[4096], kill_path[4200];
	struct timespec start, now;

	snprintf(path, sizeof(path), "%s/%s", mount, rel);
	if (access(path, F_OK) < 0)
		return -ENOENT;
	snprintf(kill_path, sizeof(kill_path), "%s/cgroup.kill", path);
	if (populated(path))
		(void)write_file(kill_path, "1");

	/* cgroup.kill sends SIGKILL; the cgroup stays populated until the processes are
	 * reaped, so wait (bounded) for "populated 0" before rmdir, which fails with EBUSY
	 * while any process remains. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (rmdir(path) < 0) {
		int r = negative_errno();

		if (r != -EBUSY)
			return err_set(r, "remove cgroup %s", path);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 5)
			return err_set(r, "remove cgroup %s", path);
		(void)write_file(kill_path, "1");
		poll(NULL, 0, 1);
	}
	return 0;
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
	int dfd = openat(parent_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (dfd < 0)
		return err_set(negative_errno(), "list cgroups");
	d = fdopendir(dfd);
	if (!d) {
		int r = negative_errno();

		close(dfd);
		return err_set(r, "list cgroups");
	}
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
