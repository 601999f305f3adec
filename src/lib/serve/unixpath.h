/* unixpath.h: which pathname unix socket a caged process reaches, and whether it may: the
 * address read as the kernel reads it, resolved in the caller's own root and working
 * directory to the socket file it names (symlinks and mounts followed as the kernel follows
 * them for the caller), pinned by an fd, and judged by what that file is, never by its name:
 * a socket bound by a process of the same cage, or a file (or a file below a directory) the
 * policy allows, pinned when the cage started. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy.h"

struct mnl_socket;

enum unixpath_kind {
	UNIXPATH_UNNAMED,  /* only the family: no address at all */
	UNIXPATH_ABSTRACT, /* a NUL first: the netns's own name space */
	UNIXPATH_PATH,	   /* a file system path */
};

/* The address addr (len bytes, as passed to connect or sendto) as the kernel reads it: the path
 * ends at its first NUL or at len. -EINVAL if it is not AF_UNIX or too long (> 110 bytes). */
int unixpath_parse(const void *addr, size_t len, enum unixpath_kind *ret_kind,
		   char ret_path[UNIX_PATH_MAX + 1]);

/* An allowed file or directory, pinned by device and inode when the cage starts. */
struct unixpath_pin {
	dev_t dev;
	ino_t ino;
	bool dir;
};

/* Pin the allowed paths as this process sees them (symlinks followed); one that is not there
 * is left out (a daemon that makes its socket later is reached by allowing its directory). */
int unixpath_pin_allowed(const struct unix_allow *allow, size_t n, struct unixpath_pin **ret,
			 size_t *ret_n);

/*
 * Resolve PATH for a caller whose root is root_fd (an O_PATH fd of /proc/TID/root) and whose
 * working directory is cwd (its path as the caller sees it, for relative paths): the socket file
 * (an O_PATH fd, *ret_fd) and the directory it is in (*ret_dir), after every symlink. With the
 * caller's errors: -ENOENT, -EACCES, -ELOOP, -ENOTDIR; -ECONNREFUSED for what is not a socket.
 * Runs with the credentials of the caller, so that directory permissions are the caller's.
 */
int unixpath_resolve(int root_fd, const char *cwd, const char *path, int *ret_fd, int *ret_dir);

enum unixpath_verdict {
	UNIXPATH_REFUSED = 0,
	UNIXPATH_IN_CAGE, /* bound by a socket of the cage's own netns */
	UNIXPATH_ALLOWED, /* an allowed file, or a socket bound below an allowed directory */
};

/*
 * Judge the socket file fd: an allowed file (pinned) first; then whether a unix socket of the
 * cage's netns (diag_cage, a NETLINK_SOCK_DIAG socket opened there) is bound to it (root_fd:
 * the caller's root, to check the path it was bound at where the kernel's answer is not exact);
 * then, for allowed directories, whether a socket of this process's netns (diag_host) was bound
 * to it at a path below one of them. Either diag may be NULL.
 */
int unixpath_judge(int fd, int root_fd, const struct unixpath_pin *pins, size_t n_pins,
		   struct mnl_socket *diag_cage, struct mnl_socket *diag_host,
		   enum unixpath_verdict *ret);
