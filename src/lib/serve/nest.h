/* nest.h: child cages. A cage made with --nest has a socket at NEST_SOCKET in its own /run
 * (bound by its first process, so in its netns; any of its users may connect), served on the
 * supervisor's loop: `sluice run` or `sluice up` inside the cage asks there, and the
 * supervisor runs that request for it as a child cage, by starting its own program again
 * (/proc/self/exe: the sluice binary) in the cage's netns, so that whatever the child's
 * forwards connect to is connected to from inside the parent, under the parent's rules. The
 * child's mount namespace is a copy of the parent's (handed over as fd 3), so it sees no
 * file the parent does not; it runs as the parent's user (an unprivileged parent's child is
 * made in the parent's user namespace, as an unprivileged cage nested in it: the asker's
 * cage itself never makes a user namespace); what it may ask for is checked
 * against what the parent reaches (plan_check_within(), the parent's reach in
 * SLUICE_NESTED_REACH) before anything is made. A child's supervisor is stopped and waited
 * for when the parent ends, and ends its cage when the parent's supervisor is gone however
 * it went (the lifeline below), so a tree comes down from any level, leaving nothing.
 *
 * Every message is one SOCK_SEQPACKET packet of at most CTL_MSG_MAX bytes:
 *   asker -> supervisor   N<cwd>\0<lists> with SCM_RIGHTS: stdin, stdout, stderr; argv[0]
 *                         of <lists> (control.h) is "run" or "up", the rest its arguments;
 *                         the env entries are the child command's environment
 *                         K<signal>   to the child's supervisor (as to `sluice run`)
 *   supervisor -> asker   X<status>   the child ended: sluice's status for it
 *                         F<code> <message>   it could not be started
 * The program started gets, besides fds 0-3, the asker's environment at fd 4 (NUL-separated),
 * the read end of a pipe only this supervisor writes at fd 5 (its hangup: the parent is gone,
 * and the child, run or up, ends at once) and
 * SLUICE_NESTED=<parent>:<uid>:<the child's depth>, SLUICE_NESTED_CWD, SLUICE_NESTED_REACH in
 * its own.
 */
#pragma once

#include <sys/types.h>

#include "loop.h"

#define NEST_SOCKET	  "/run/sluice.nest"
#define NEST_SESSIONS_MAX 64 /* child cages asked for at once */
#define NEST_DEPTH_MAX	  8  /* levels of cages below one made on the host */

struct nest_config {
	const char *name;  /* the parent cage's */
	uid_t uid;         /* its user: every asker is it */
	unsigned depth;    /* its plan's */
	int listen_fd;     /* NEST_SOCKET's listener (taken) */
	int userns_fd;     /* the cage's namespaces (taken); user: unprivileged only, else -1 */
	int netns_fd;
	int mnt_fd;
	const char *reach; /* plan_render_reach() of the parent (copied) */
};

struct nest;

int nest_new(struct loop *l, const struct nest_config *cfg, struct nest **ret);
/* Stop serving: the lifeline is cut, the children still running get SIGTERM and are waited
 * for (5 s in all, then SIGKILL). NULL is fine. */
void nest_free(struct nest *n);
DEFINE_CLEANUP_FUNC(struct nest, nest_free)
/* How many child cages run now. */
unsigned nest_children(const struct nest *n);
