/* broker.h: the supervisor's side of the cage's seccomp user notifications (sysfilter.h):
 * every connect, sendmsg, sendmmsg and sendto with an address a caged process makes comes
 * here first. One that names a pathname unix socket is judged by the socket it reaches
 * (unixpath.h) and, if allowed, performed on the caller's own socket, to the very file judged,
 * by a performer: a process of the supervisor's that has the cage user's credentials and no
 * capabilities (and, as root, a cgroup inside the cage's), so that the peer sees the cage and
 * permissions are the cage's. So is every call when no in-kernel layer backs the supervisor
 * (nothing the caller changes after the check can change what happens). The rest the kernel
 * carries on with, where the cgroup unix hooks (or Landlock) refuse any pathname socket a caged
 * process reaches by itself. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"
#include "util.h"

struct loop;
struct broker;

struct broker_config {
	int listener; /* the filter's notification fd (taken, even on failure) */
	int diag_fd;  /* a NETLINK_SOCK_DIAG socket opened in the cage's netns (taken) */
	/* No in-kernel layer refuses pathname sockets to the cage's processes: perform every
	 * call (with only the supervisor's judgment, the kernel must never carry on with a call
	 * whose memory the caller can still change). */
	bool perform_all;
	/* The cage's user: as root, the performers become it (uid, gid, groups) and go into
	 * cgroup_fd (taken; a cgroup of their own below the cage's, which the unix hooks do not
	 * count as the cage's); without root they join userns_fd (taken: the cage's user
	 * namespace), where they have no capability over the cage's netns. -1 where not used. */
	bool root;
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t n_groups;
	int cgroup_fd;
	int userns_fd;
	const struct unix_allow *allow; /* pinned by broker_new, as this process sees them */
	size_t n_allow;
	/* Told on the loop of each pathname socket refused: the caller's thread (as this
	 * process sees it) and name, connect or send, and the path it named ("" for a call on
	 * an IP socket from outside the cage's netns). NULL: not told. */
	void (*refused)(void *ctx, pid_t tid, bool connect, const char *path, const char *comm);
	void *refused_ctx;
};

struct broker_stats {
	uint64_t notified;  /* calls the supervisor saw */
	uint64_t performed; /* of them, performed for the caller */
	uint64_t refused;   /* pathname unix sockets refused */
};

int broker_new(struct loop *loop, const struct broker_config *cfg, struct broker **ret);
/* Stop: kill and reap the performers, close the fds. Accepts NULL. */
void broker_free(struct broker *b);
DEFINE_CLEANUP_FUNC(struct broker, broker_free)
/* From now on perform every call (as perform_all), so that the netns of the socket each is
 * made on is checked: an IP socket handed into the cage is about to reach it. */
void broker_perform_all(struct broker *b);
void broker_get_stats(const struct broker *b, struct broker_stats *ret);

/*
 * The pure part, for the fuzz harness and the unit tests: walk a control buffer as the kernel
 * does (__cmsg_nxthdr), calling fn for each message; -EINVAL for a malformed one, or fn's
 * negative return.
 */
struct cmsghdr;
int broker_cmsg_walk(void *control, size_t len, int (*fn)(struct cmsghdr *c, void *data),
		     void *data);
