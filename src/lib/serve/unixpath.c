/* unixpath.c: pathname unix sockets judged by the socket reached. The kernel resolves a
 * connect's path in the caller's root and working directory, following every symlink and
 * mount of the caller's mount namespace; so does this, through /proc/TID/root with openat2's
 * RESOLVE_IN_ROOT (absolute symlinks stay inside that root, ".." stops at it). What comes out
 * is an fd: the broker connects to that very file (/proc/thread-self/fd/N), so nothing the cage
 * changes afterwards alters what was judged. */
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "log.h"
#include "nl.h"
#include "unixpath.h"

#define SYMLINK_HOPS 40	 /* the kernel's MAXSYMLINKS */
#define DIR_DEPTH    256 /* a bound on the walk up to an allowed directory */

int unixpath_parse(const void *addr, size_t len, enum unixpath_kind *ret_kind,
		   char ret_path[UNIX_PATH_MAX + 1])
{
	const struct sockaddr_un *sun = addr;
	size_t n;

	ret_path[0] = '\0';
	if (len < sizeof(sa_family_t) || len > sizeof(*sun) || sun->sun_family != AF_UNIX)
		return -EINVAL;
	n = len - sizeof(sa_family_t);
	if (n == 0) {
		*ret_kind = UNIXPATH_UNNAMED;
		return 0;
	}
	if (sun->sun_path[0] == '\0') {
		*ret_kind = UNIXPATH_ABSTRACT;
		return 0;
	}
	/* unix_mkname_bsd(): the path is the bytes up to the first NUL, or all of them. */
	n = strnlen(sun->sun_path, n);
	memcpy(ret_path, sun->sun_path, n);
	ret_path[n] = '\0';
	*ret_kind = UNIXPATH_PATH;
	return 0;
}

int unixpath_pin_allowed(const struct unix_allow *allow, size_t n, struct unixpath_pin **ret,
			 size_t *ret_n)
{
	struct unixpath_pin *pins = calloc(n ? n : 1, sizeof(*pins));
	size_t k = 0;

	if (!pins)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (stat(allow[i].path, &st) < 0) {
			log_debug("allowed unix socket %s: %m: not pinned", allow[i].path);
			continue;
		}
		if (allow[i].prefix != !!S_ISDIR(st.st_mode)) {
			log_debug("allowed unix socket %s: %s: not pinned", allow[i].path,
				  S_ISDIR(st.st_mode) ? "a directory (end it with /)"
						      : "not a directory");
			continue;
		}
		pins[k++] = (struct unixpath_pin){
		    .dev = st.st_dev, .ino = st.st_ino, .dir = allow[i].prefix};
	}
	*ret = pins;
	*ret_n = k;
	return 0;
}

static int open_in_root(int root_fd, const char *path, uint64_t flags)
{
	struct open_how how = {.flags = flags | O_PATH | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));

	return fd < 0 ? negative_errno() : (int)fd;
}

int unixpath_resolve(int root_fd, const char *cwd, const char *path, int *ret_fd, int *ret_dir)
{
	char cur[PATH_MAX], next[PATH_MAX];
	int n;

	if (path[0] == '/')
		n = snprintf(cur, sizeof(cur), "%s", path);
	else if (cwd[0] == '/')
		n = snprintf(cur, sizeof(cur), "%s/%s", cwd, path);
	else
		return -ENOENT; /* the working directory is gone */
	if (n < 0 || (size_t)n >= sizeof(cur))
		return -ENAMETOOLONG;

	for (int hops = 0; hops <= SYMLINK_HOPS; hops++) {
		_cleanup_close_ int dir = -1, fd = -1;
		char *slash = strrchr(cur, '/'), *base;
		char link[PATH_MAX];
		struct stat st;
		ssize_t len;

		/* "x/" names a directory (or fails on a socket), as the kernel sees it. */
		if (slash[1] == '\0') {
			fd = open_in_root(root_fd, cur, 0);
			return fd < 0 ? fd : -ECONNREFUSED;
		}
		base = slash + 1;
		*slash = '\0';
		dir = open_in_root(root_fd, cur[0] ? cur : "/", O_DIRECTORY);
		if (dir < 0)
			return dir;
		if (streq(base, ".") || streq(base, ".."))
			return -ECONNREFUSED; /* a directory */
		if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return negative_errno();
		if (S_ISLNK(st.st_mode)) {
			len = readlinkat(dir, base, link, sizeof(link) - 1);
			if (len < 0)
				return negative_errno();
			link[len] = '\0';
			if (link[0] == '/')
				n = snprintf(next, sizeof(next), "%s", link);
			else
				n = snprintf(next, sizeof(next), "%s/%s", cur, link);
			if (n < 0 || (size_t)n >= sizeof(next))
				return -ENAMETOOLONG;
			memcpy(cur, next, (size_t)n + 1);
			continue;
		}
		fd = openat(dir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return negative_errno();
		if (fstat(fd, &st) < 0)
			return negative_errno();
		if (!S_ISSOCK(st.st_mode))
			return -ECONNREFUSED;
		*ret_fd = TAKE_FD(fd);
		*ret_dir = TAKE_FD(dir);
		return 0;
	}
	return -ELOOP;
}

static bool pinned(const struct unixpath_pin *pins, size_t n, const struct stat *st, bool dir)
{
	for (size_t i = 0; i < n; i++)
		if (pins[i].dir == dir && pins[i].dev == st->st_dev && pins[i].ino == st->st_ino)
			return true;
	return false;
}

/* Walk up from dir (the socket's own directory) through "..", in the caller's mount tree,
 * looking for an allowed directory. The walk ends where ".." leads nowhere new: the root. */
static int below_allowed_dir(int dir, const struct unixpath_pin *pins, size_t n, bool *ret)
{
	_cleanup_close_ int cur = dup(dir);
	struct stat st, up;

	*ret = false;
	if (cur < 0)
		return negative_errno();
	if (fstat(cur, &st) < 0)
		return negative_errno();
	for (int depth = 0; depth < DIR_DEPTH; depth++) {
		_cleanup_close_ int parent = -1;

		if (pinned(pins, n, &st, true)) {
			*ret = true;
			return 0;
		}
		parent = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (parent < 0)
			return negative_errno();
		if (fstat(parent, &up) < 0)
			return negative_errno();
		closep(&cur);
		cur = TAKE_FD(parent);
		if (up.st_dev == st.st_dev && up.st_ino == st.st_ino)
			return 0;
		st = up;
	}
	return 0;
}

static bool have_dirs(const struct unixpath_pin *pins, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pins[i].dir)
			return true;
	return false;
}

static bool same_file(int fd, const struct stat *st)
{
	struct stat o;

	return fstat(fd, &o) == 0 && o.st_dev == st->st_dev && o.st_ino == st->st_ino;
}

struct own_ctx {
	const struct stat *st;
	int root_fd;
};

/*
 * A socket of the cage bound to a file with the target's inode number. sock_diag gives only
 * the low 32 bits of the number, and the superblock's device (which is not what stat says on
 * btrfs): an exact match is both equal and the number fits; otherwise the path the socket was
 * bound at, resolved as the caller sees it, must be the target itself.
 */
static int own_match(dev_t dev, const char *name, void *data)
{
	const struct own_ctx *x = data;
	_cleanup_close_ int fd = -1, dir = -1;

	if (dev == x->st->st_dev && x->st->st_ino <= UINT32_MAX)
		return 1;
	if (name[0] != '/' || unixpath_resolve(x->root_fd, "/", name, &fd, &dir) < 0)
		return 0;
	return same_file(fd, x->st);
}

struct origin_ctx {
	const struct stat *st;
	const struct unixpath_pin *pins;
	size_t n_pins;
};

/*
 * A socket of the host's bound to the target: allowed by a directory only if it was bound in
 * that directory, that is if the path it was bound at still names the target and lies below
 * the directory (as this process sees them). A socket linked or moved into an allowed
 * directory from elsewhere was bound elsewhere.
 */
static int origin_match(dev_t dev, const char *name, void *data)
{
	const struct origin_ctx *x = data;
	char parent[UNIX_PATH_MAX + 1], *slash;
	_cleanup_close_ int fd = -1, dir = -1;
	bool below = false;

	(void)dev;
	if (name[0] != '/')
		return 0;
	fd = open(name, O_PATH | O_CLOEXEC);
	if (fd < 0 || !same_file(fd, x->st))
		return 0;
	closep(&fd);
	snprintf(parent, sizeof(parent), "%s", name);
	slash = strrchr(parent, '/');
	slash[slash == parent ? 1 : 0] = '\0';
	dir = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return 0;
	if (below_allowed_dir(dir, x->pins, x->n_pins, &below) < 0)
		below = false;
	return below;
}

int unixpath_judge(int fd, int root_fd, const struct unixpath_pin *pins, size_t n_pins,
		   struct mnl_socket *diag_cage, struct mnl_socket *diag_host,
		   enum unixpath_verdict *ret)
{
	struct stat st;
	int r;

	*ret = UNIXPATH_REFUSED;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISSOCK(st.st_mode))
		return 0;
	if (pinned(pins, n_pins, &st, false)) {
		*ret = UNIXPATH_ALLOWED;
		return 0;
	}
	if (diag_cage) {
		struct own_ctx x = {.st = &st, .root_fd = root_fd};

		r = nl_unix_bound_each(diag_cage, (uint32_t)st.st_ino, own_match, &x);
		if (r < 0)
			return r;
		if (r > 0) {
			*ret = UNIXPATH_IN_CAGE;
			return 0;
		}
	}
	if (diag_host && have_dirs(pins, n_pins)) {
		struct origin_ctx x = {.st = &st, .pins = pins, .n_pins = n_pins};

		r = nl_unix_bound_each(diag_host, (uint32_t)st.st_ino, origin_match, &x);
		if (r < 0)
			return r;
		if (r > 0)
			*ret = UNIXPATH_ALLOWED;
	}
	return 0;
}
