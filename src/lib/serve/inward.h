/* inward.h: sockets in the cage's netns for the supervisor, which lives outside it. A small
 * process of the supervisor's, joined to the cage's netns (unprivileged, to the cage's user
 * namespace first), makes each one on request and hands it over; the relay connects it to the
 * cage's loopback for a published port. It is not in the cage: not in its cgroup, pid
 * namespace or filter, and nothing of the cage's can reach it (it talks only to the
 * supervisor, over a socket pair). */
#pragma once

#include "util.h"

struct inward;

/* Start the maker in the netns open at netns_fd (userns_fd >= 0: joined first). Both fds are
 * borrowed. Returns 0 once it is in, or a negative errno (recorded) saying which join failed. */
int inward_start(int userns_fd, int netns_fd, struct inward **ret);
/* A TCP socket (non-blocking, close-on-exec) of family AF_INET or AF_INET6 made in the
 * cage's netns. */
int inward_socket(struct inward *w, int family, int *ret_fd);
/* Stop the maker (it ends on the socket's close) and reap it. NULL is fine. */
void inward_free(struct inward *w);
DEFINE_CLEANUP_FUNC(struct inward, inward_free)
