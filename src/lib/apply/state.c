/* state.c: /run/sluice/<name>, one small key=value file per live cage naming its supervisor
 * (pid + start time, so a reused pid is not mistaken for it) and the kernel objects it owns.
 * Written before the first object is created. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "state.h"

/* Field 22 of /proc/PID/stat, its start time; *ret_state (if not NULL) field 3, its state
 * ('Z' a zombie). */
static int proc_starttime(pid_t pid, unsigned long long *ret, char *ret_state)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -1;
	const char *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and parentheses: count fields after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EIO;
	if (ret_state)
		*ret_state = p[2];
	for (int field = 2; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EIO;
	}
	*ret = strtoull(p + 1, NULL, 10);
	return 0;
}

unsigned long long state_current_netns(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

#define PROC_PID_INIT_INO 0xEFFFFFFCU /* the initial pid namespace's (include/linux/proc_ns.h) */

/* Whether the nsfs inode of path is ino. */
static bool ns_is(const char *path, unsigned long long ino)
{
	struct stat st;

	return stat(path, &st) == 0 && (unsigned long long)st.st_ino == ino;
}

bool state_netns_exists(unsigned long long ino)
{
	static const char *const named[] = {"/run/netns", "/var/run/netns"};
	bool found = false;
	struct dirent *de;
	DIR *d;

	/* Only the initial pid namespace's /proc shows every process. */
	if (!ns_is("/proc/self/ns/pid", PROC_PID_INIT_INO))
		return true;

	for (size_t i = 0; i < ARRAY_SIZE(named) && !found; i++) {
		if (!(d = opendir(named[i])))
			continue;
		while (!found && (de = readdir(d))) {
			char path[300];

			snprintf(path, sizeof(path), "%s/%s", named[i], de->d_name);
			found = de->d_name[0] != '.' && ns_is(path, ino);
		}
		closedir(d);
	}
	if (found)
		return true;
	d = opendir("/proc");
	if (!d)
		return true; /* cannot tell: it may be */
	while (!found && (de = readdir(d))) {
		char path[300];

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		found = ns_is(path, ino);
	}
	closedir(d);
	return found;
}

int state_from_plan(const struct plan *p, struct cage_state *ret)
{
	struct cage_state s = {0};
	int r;

	snprintf(s.name, sizeof(s.name), "%s", p->name);
	s.pid = getpid();
	r = proc_starttime(s.pid, &s.start, NULL);
	if (r < 0)
		return err_set(r, "read /proc/self/stat");
	s.netns = state_current_netns();
	snprintf(s.cgroup, sizeof(s.cgroup), "%s", p->cgroup);
	snprintf(s.host_if, sizeof(s.host_if), "%s", p->host_if);
	snprintf(s.wg_if, sizeof(s.wg_if), "%s", p->wg_if);
	snprintf(s.host_table, sizeof(s.host_table), "%s", p->host_table);
	snprintf(s.parent, sizeof(s.parent), "%s", p->parent);
	*ret = s;
	return 0;
}

/* The record's text, written whole under a name of this process's own: *tmp. */
static int write_tmp(const struct cage_state *s, char *tmp, size_t len)
{
	char rec[1024];
	int fd, n, r = 0;

	if (mkdir(STATE_DIR, 0755) < 0 && errno != EEXIST)
		return err_set(negative_errno(), "create %s", STATE_DIR);
	snprintf(tmp, len, STATE_DIR "/.%s.%d", s->name, (int)getpid());
	n = snprintf(rec, sizeof(rec),
		     "pid=%d\nstart=%llu\nnetns=%llu\ncgroup=%s\nhost_if=%s\nhost_table=%s\n"
		     "wg_if=%s\nbound=%llu\nparent=%s\n",
		     (int)s->pid, s->start, s->netns, s->cgroup, s->host_if, s->host_table,
		     s->wg_if, s->bound, s->parent);
	if (n < 0 || (size_t)n >= sizeof(rec))
		return err_set(-ENAMETOOLONG, "the record of %s", s->name);
	/* The name is this pid's: one left by an earlier boot's (/run on a disk) is truncated. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(negative_errno(), "write %s", tmp);
	if (write(fd, rec, (size_t)n) != n)
		r = err_set(negative_errno(), "write %s", tmp);
	if (close(fd) < 0 && r == 0)
		r = err_set(negative_errno(), "write %s", tmp);
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

/* The record is written whole under a name of this process's own, then linked to its final
 * name: link() fails if that exists, so a record appears complete or not at all, and two
 * runs of one name cannot both have it. A file, not a directory: removing a directory on
 * a disk filesystem (where /run is not a tmpfs) waits for its block to be discarded. */
int state_create(const struct cage_state *s)
{
	char tmp[160], path[160];
	int r;

	r = write_tmp(s, tmp, sizeof(tmp));
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), STATE_DIR "/%s", s->name);
	if (link(tmp, path) < 0)
		r = errno == EEXIST ? -EEXIST : err_set(negative_errno(), "write %s", path);
	(void)unlink(tmp);
	return r;
}

int state_rewrite(const struct cage_state *s)
{
	char tmp[160], path[160];
	int r;

	r = write_tmp(s, tmp, sizeof(tmp));
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), STATE_DIR "/%s", s->name);
	if (rename(tmp, path) < 0) {
		r = err_set(negative_errno(), "write %s", path);
		(void)unlink(tmp);
	}
	return r;
}

/* The lines of one record file into s; -EISDIR if path is a directory, -EBADF if it is not a
 * regular file (a FIFO there must not hang gc). */
static int read_record(const char *path, struct cage_state *s)
{
	char line[CGROUP_PATH_MAX + 64];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	FILE *f;
	int r = 0;

	if (fd < 0)
		return errno == ELOOP ? -EBADF : negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EBADF;
	f = fdopen(fd, "r");
	if (!f)
		return negative_errno();
	TAKE_FD(fd); /* f's now: fclose() closes it */
	while (fgets(line, sizeof(line), f)) {
		int pid;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "pid=%d", &pid) == 1)
			s->pid = pid;
		else if (sscanf(line, "start=%llu", &s->start) == 1 ||
			 sscanf(line, "netns=%llu", &s->netns) == 1 ||
			 sscanf(line, "bound=%llu", &s->bound) == 1)
			continue;
		else if (startswith(line, "parent="))
			snprintf(s->parent, sizeof(s->parent), "%s", line + 7);
		else if (startswith(line, "cgroup="))
			snprintf(s->cgroup, sizeof(s->cgroup), "%s", line + 7);
		else if (startswith(line, "host_if="))
			snprintf(s->host_if, sizeof(s->host_if), "%s", line + 8);
		else if (startswith(line, "host_table="))
			snprintf(s->host_table, sizeof(s->host_table), "%s", line + 11);
		else if (startswith(line, "wg_if="))
			snprintf(s->wg_if, sizeof(s->wg_if), "%s", line + 6);
	}
	if (ferror(f))
		r = errno ? negative_errno() : -EIO;
	fclose(f);
	return r;
}

int state_read(const char *name, struct cage_state *ret)
{
	char path[160];
	struct cage_state s = {0};
	int r;

	if (strlen(name) > CAGE_NAME_MAX)
		return -ENAMETOOLONG; /* not a name sluice gives */
	snprintf(s.name, sizeof(s.name), "%s", name);
	snprintf(path, sizeof(path), STATE_DIR "/%s", name);
	r = read_record(path, &s);
	if (r == -EISDIR) {
		/* An older sluice kept the record in a directory: <name>/cage; without it, the
		 * record was cut short by a crash. */
		snprintf(path, sizeof(path), STATE_DIR "/%s/cage", name);
		r = read_record(path, &s);
		if (r == -ENOENT)
			r = -ENODATA;
	}
	if (r < 0)
		return r;
	*ret = s;
	return 0;
}

int state_remove(const char *name)
{
	char path[160];

	snprintf(path, sizeof(path), STATE_DIR "/%s", name);
	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return negative_errno();
	/* An older sluice kept the record in a directory: <name>/cage. */
	snprintf(path, sizeof(path), STATE_DIR "/%s/cage", name);
	(void)unlink(path);
	snprintf(path, sizeof(path), STATE_DIR "/%s/.cage.tmp", name);
	(void)unlink(path);
	snprintf(path, sizeof(path), STATE_DIR "/%s", name);
	if (rmdir(path) < 0 && errno != ENOENT)
		return negative_errno();
	return 0;
}

int state_remove_unfinished(void (*removed)(const char *file, void *data), void *data)
{
	DIR *d = opendir(STATE_DIR);
	struct dirent *de;
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : err_set(negative_errno(), "list %s", STATE_DIR);
	while ((de = readdir(d))) {
		const char *dot = strrchr(de->d_name, '.');
		char *end;
		long pid;

		/* .<name>.<pid>: a record a run was writing when it was killed. */
		if (de->d_name[0] != '.' || dot == de->d_name)
			continue;
		pid = strtol(dot + 1, &end, 10);
		if (end == dot + 1 || *end || pid <= 0)
			continue;
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0) {
			if (removed)
				removed(de->d_name, data);
			n++;
		}
	}
	closedir(d);
	return n;
}

int state_list(char ***ret)
{
	return dir_list(STATE_DIR, false, ret);
}

bool state_alive(const struct cage_state *s)
{
	unsigned long long start;
	char state = '?';
	int r;

	if (s->pid <= 0)
		return false;
	r = proc_starttime(s->pid, &start, &state);
	/* Only a pid that is gone, a zombie (killed, not yet reaped: it undoes nothing now), or
	 * another process under it now, is a dead supervisor: anything else (out of fds, say)
	 * must not make gc remove a live cage. */
	if (r == -ENOENT || r == -ESRCH)
		return false;
	if (r == 0 && start == s->start && (state == 'Z' || state == 'X'))
		return false;
	return r < 0 || start == s->start;
}

int state_lock(int *ret_fd)
{
	_cleanup_close_ int fd = -1;

	if (mkdir(STATE_DIR, 0755) < 0 && errno != EEXIST)
		return err_set(negative_errno(), "create %s", STATE_DIR);
	fd = open(STATE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(negative_errno(), "open %s", STATE_DIR);
	if (flock(fd, LOCK_EX) < 0)
		return err_set(negative_errno(), "lock %s", STATE_DIR);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

bool state_link_in_use(const char *host_if, const char *self_name)
{
	_cleanup_strv_free_ char **names = NULL;

	if (state_list(&names) < 0)
		return true; /* cannot tell: assume it is */
	for (char **n = names; *n; n++) {
		struct cage_state s;

		if (streq(*n, self_name) || state_read(*n, &s) < 0)
			continue;
		if (streq(s.host_if, host_if) && state_alive(&s))
			return true;
	}
	return false;
}
