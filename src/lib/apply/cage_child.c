/* cage_child.c: the cage's first process (its pid 1): it opens the sockets the supervisor
 * serves the cage with inside the new namespaces and hands them over (SCM_RIGHTS), builds its
 * mounts, installs its filter, waits for "go", spawns the command and waits for it. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <libmnl/libmnl.h>

#include "cage.h"
#include "cage_child.h"
#include "caps.h"
#include "landlock.h"
#include "log.h"
#include "nest.h"
#include "nl.h"
#include "ns.h"
#include "supervise.h"

static _Noreturn void child_fail(int err_fd, int code, int r)
{
	struct child_report rep = {.code = code, .err = r};

	snprintf(rep.msg, sizeof(rep.msg), "%s", err_message(r));
	(void)!write(err_fd, &rep, sizeof(rep));
	_exit(code);
}

/* The command, from pid 1, which has its user's ids and no capabilities already: spawned
 * (the child shares pid 1's memory until it execs, so nothing is copied) with nothing of
 * pid 1's beyond stdio and with the signal mask the invoker gave. On failure, *code is the
 * exit status to give: 127 not found, 126 cannot execute, 125 sluice could not spawn it. */
/* The command's environment with socket activation's variables: its own pid (as the cage's
 * pid namespace has it), the number of sockets and their names. NULL if out of memory. */
static char **listen_env(const struct plan *p)
{
	size_t n = 0, k = 0;
	char **env;

	while (p->env[n])
		n++;
	env = calloc(n + 4, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!startswith(p->env[i], "LISTEN_"))
			env[k++] = p->env[i];
	if (asprintf(&env[k++], "LISTEN_PID=%d", (int)getpid()) < 0 ||
	    asprintf(&env[k++], "LISTEN_FDS=%d", p->listen_fds) < 0 ||
	    (p->listen_names && asprintf(&env[k++], "LISTEN_FDNAMES=%s", p->listen_names) < 0))
		return NULL; /* the child that asked exits at once */
	return env;
}

static int spawn_command(const struct plan *p, const sigset_t *mask, bool pipe_default, int err_wr,
			 pid_t *ret, int *code)
{
	sigset_t dfl;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	pid_t pid;
	int r;

	*code = 125;
	/* Socket activation: LISTEN_PID is the command's own pid, known only once forked. */
	if (p->listen_fds)
		goto fork;
	if (posix_spawn_file_actions_init(&fa) != 0)
		return err_set(-ENOMEM, "spawn %s", p->argv[0]);
	if (posix_spawnattr_init(&attr) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return err_set(-ENOMEM, "spawn %s", p->argv[0]);
	}
	/* The supervisor ignores SIGPIPE (a closed stderr must not end it); the command gets
	 * what its caller gave sluice. */
	sigemptyset(&dfl);
	if (pipe_default)
		sigaddset(&dfl, SIGPIPE);
	r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (r == 0)
		r = posix_spawnattr_setsigmask(&attr, mask);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(&attr, &dfl);
	if (r == 0)
		r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (r != 0) {
		posix_spawnattr_destroy(&attr);
		posix_spawn_file_actions_destroy(&fa);
		return err_set(-r, "spawn %s", p->argv[0]);
	}
	r = posix_spawnp(ret, p->argv[0], &fa, &attr, p->argv, p->env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (r == 0) {
		log_trace("exec"); /* the command's exec has succeeded */
		return 0;
	}
	if (r == EAGAIN || r == ENOMEM) /* no process could be made: not the command's fault */
		return err_set(-r, "spawn %s", p->argv[0]);
	if (r != ENOEXEC) {
		*code = r == ENOENT ? 127 : 126;
		if (r == ENOENT && ns_is_hidden(p->argv[0]))
			return err_set(-r,
				       "cannot execute %s (the cage has its own /tmp and /run: "
				       "the host's are not in it; run it from its directory, or "
				       "keep it elsewhere)",
				       p->argv[0]);
		return err_set(-r, "cannot execute %s", p->argv[0]);
	}

	/* A script without "#!": execvpe() runs it with /bin/sh, posix_spawnp() does not. */
fork:
	pid = fork();
	if (pid < 0)
		return err_set(negative_errno(), "fork");
	if (pid == 0) {
		char **env = p->env;

		for (int fd = 3; fd < 3 + p->listen_fds; fd++)
			(void)fcntl(fd, F_SETFD, 0);
		(void)syscall(SYS_close_range, 3U + (unsigned)p->listen_fds, ~0U,
			      CLOSE_RANGE_CLOEXEC);
		if (p->listen_fds && !(env = listen_env(p)))
			child_fail(err_wr, 125, err_set(-ENOMEM, "spawn %s", p->argv[0]));
		if (pipe_default)
			signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, mask, NULL);
		execvpe(p->argv[0], p->argv, env);
		child_fail(err_wr, errno == ENOENT ? 127 : 126,
			   err_set(negative_errno(), "cannot execute %s", p->argv[0]));
	}
	*ret = pid;
	return 0;
}

/* Whether the other end of a socket is closed (its process died): without waiting. */
static bool peer_gone(int sock)
{
	struct pollfd pfd = {.fd = sock, .events = POLLIN | POLLRDHUP};

	return poll(&pfd, 1, 0) != 0 && (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

/* Keep stdio, the service manager's sockets (3..first-1) and the two pipes; the supervisor's
 * netlink sockets, netns and BPF fds are no business of the cage's. */
static void close_all_but(int first, int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > first)
		(void)syscall(SYS_close_range, (unsigned)first, (unsigned)lo - 1, 0U);
	if (hi > lo + 1)
		(void)syscall(SYS_close_range, (unsigned)lo + 1, (unsigned)hi - 1, 0U);
	(void)syscall(SYS_close_range, (unsigned)hi + 1, ~0U, 0U);
}

int cage_write_sysctl(const char *path, const char *value)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, value, strlen(value)) < 0)
		return err_set(negative_errno(), "write %s", path);
	return 0;
}

static int listen_on(const struct endpoint *e, int type, int *ret)
{
	struct sockaddr_storage ss = {0};
	_cleanup_close_ int fd = -1;
	socklen_t len;
	int one = 1;
	char a[ADDR_STR_MAX];

	if (e->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(e->port);
		sin->sin_addr = e->ip.v4;
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(e->port);
		sin6->sin6_addr = e->ip.v6;
		len = sizeof(*sin6);
	}
	fd = socket(e->family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(negative_errno(), "socket for %s", addr_format(e, a, sizeof(a)));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 4096) < 0)) {
		int r = negative_errno();

		return err_set(r, "listen on %s in the cage", addr_format(e, a, sizeof(a)));
	}
	*ret = TAKE_FD(fd);
	return 0;
}

/* In the cage's netns, before anything of the user's runs: lo up, IPv6 off where nothing
 * needs it, and the sockets the supervisor serves the cage with. */
static int open_inside(const struct plan *p, int *in, size_t *n)
{
	struct endpoint dns = {.family = AF_INET, .port = DNS_STUB_PORT};
	_cleanup_(mnl_socket_closep) struct mnl_socket *rt = NULL, *nft = NULL, *diag = NULL;
	int r;

	*n = 0;
	r = nl_open(NETLINK_ROUTE, &rt);
	if (r == 0)
		r = nl_link_up(rt, 1); /* lo is ifindex 1 in every netns */
	if (r == 0)
		r = nl_open(NETLINK_NETFILTER, &nft);
	if (r == 0)
		r = nl_open(NETLINK_SOCK_DIAG, &diag);
	if (r < 0)
		return r;
	/* /proc/sys/net is the opener's netns's. What and why: plan_build. */
	if (p->v6_off_all)
		r = cage_write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	if (r == 0 && p->v6_off_default)
		r = cage_write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	if (r < 0)
		return r;
	if (p->lo_v4_second) {
		struct in_addr lo2 = {htonl(INADDR_LOOPBACK + 1)};

		r = nl_addr_add(rt, 1, AF_INET, &lo2, 32);
		if (r < 0)
			return r;
	}
	/* The netlink sockets stay open through their fds in in[]; the wrappers are let go. */
	in[(*n)++] = mnl_socket_get_fd(TAKE_PTR(rt));
	in[(*n)++] = mnl_socket_get_fd(TAKE_PTR(nft));
	in[(*n)++] = mnl_socket_get_fd(TAKE_PTR(diag));

	inet_pton(AF_INET, DNS_STUB_ADDR, &dns.ip.v4);
	r = listen_on(&dns, SOCK_DGRAM, &in[*n]);
	if (r < 0)
		return r;
	(*n)++;
	r = listen_on(&dns, SOCK_STREAM, &in[*n]);
	if (r < 0)
		return r;
	(*n)++;
	for (size_t i = 0; i < p->n_forwards; i++) {
		r = listen_on(&p->forwards[i].listen, SOCK_STREAM, &in[*n]);
		if (r < 0)
			return r;
		(*n)++;
	}
	return 0;
}

static int send_fds(int sock, const int *fds, size_t n)
{
	char data = 'i';
	struct iovec iov = {.iov_base = &data, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int) * IN_MAX)];
		struct cmsghdr align;
	} u = {0};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
		return err_set(negative_errno(), "hand the cage's sockets over");
	return 0;
}

int cage_recv_fds(int sock, int *fds, size_t want)
{
	char data;
	struct iovec iov = {.iov_base = &data, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int) * IN_MAX)];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm;
	ssize_t n;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_set(negative_errno(), "receive the cage's sockets");
	if (n == 0)
		return -ECHILD; /* the child gave up: its report says why */
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int) * want) ||
	    (msg.msg_flags & MSG_CTRUNC)) {
		if (cm && cm->cmsg_type == SCM_RIGHTS) {
			size_t got = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < got; i++)
				close(((int *)CMSG_DATA(cm))[i]);
		}
		return err_set(-EPROTO, "receive the cage's sockets: not what was expected");
	}
	memcpy(fds, CMSG_DATA(cm), sizeof(int) * want);
	return 0;
}

/* --nest: the socket the cage's processes ask for child cages on, in the cage's own /run
 * (so in its netns, and any of its users may connect); the supervisor takes it and serves
 * it (nest.h). */
static int nest_listen(int *ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = NEST_SOCKET};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(NEST_SOCKET, 0666) < 0 || listen(fd, 64) < 0) {
		int r = err_set(negative_errno(), "listen on %s", NEST_SOCKET);

		if (fd >= 0)
			close(fd);
		return r;
	}
	*ret = fd;
	return 0;
}

/* The cage's pid 1: opens the cage's sockets and hands them over, sets up the mount side,
 * starts the command, forwards signals to it and reaps orphans, then exits with the
 * command's status (everything else in the pid namespace dies with it). */
_Noreturn void cage_child_main(const struct plan *p, enum unix_backstop backstop, bool pipe_default,
			       bool named, int sock, int err_wr, const sigset_t *oldmask)
{
	int in[IN_MAX];
	size_t n_in = 0;
	sigset_t set;
	pid_t cmd = -1;
	char go, msg[32];
	int r, code, listener = -1, nest = -1;

	/* If the supervisor dies, so does the cage. Closing the socket covers a death before
	 * this line: the reads below then see EOF instead of "m" or "g". */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		_exit(125);
	/* A child cage's first process was cloned in its parent's mounts, where its asker was
	 * (cage.c): it sees the parent's files, and no more. */
	close_all_but(3 + p->listen_fds, sock, err_wr);
	/* Unprivileged, nothing works in the new user namespace until it is mapped. */
	if (read(sock, &go, 1) != 1 || go != 'm')
		_exit(125);
	/* Named, pid 1 holds the control socket for the cage's life: nothing it starts (the
	 * command, its user's, runs before cage_init_main) may ptrace it or take it from
	 * /proc/1/fd. (After the map: the supervisor writes it through this one's /proc.) */
	if (named && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(125);
	r = cage_fault("inside");
	if (r == 0)
		r = open_inside(p, in, &n_in);
	if (r == 0)
		r = send_fds(sock, in, n_in);
	if (r < 0)
		child_fail(err_wr, 125, r);
	for (size_t i = 0; i < n_in; i++)
		close(in[i]);
	/* The mount side is built while the supervisor configures the netns: nothing of the
	 * user's runs before "g", and every mount is in the cage's own namespace. */
	r = cage_fault("start");
	if (r == 0)
		r = ns_setup_cage(p);
	if (r == 0 && p->nest)
		r = nest_listen(&nest);
	if (r < 0)
		child_fail(err_wr, 125, r);
	log_trace("mounted");

	/* The filter is the last thing before "go": from here on pid 1 makes no call the
	 * filter hands to the supervisor (it would wait for an answer nobody gives yet), and
	 * says where the listener is with a plain write; the supervisor takes it with
	 * pidfd_getfd. */
	r = cage_fault("filter");
	if (r == 0 && p->unix_broker && backstop == UNIX_BACKSTOP_LANDLOCK)
		r = landlock_restrict_unix();
	if (r == 0)
		r = sysfilter_install(&p->filter, &listener);
	if (r < 0)
		child_fail(err_wr, 125, r);
	snprintf(msg, sizeof(msg), "s%d %d", listener, nest);
	if (write(sock, msg, strlen(msg)) < 0 || read(sock, &go, 1) != 1 || go != 'g')
		_exit(125);
	if (listener >= 0)
		close(listener);
	if (nest >= 0)
		close(nest);

	supervise_signals(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);

	/* pid 1 becomes the command's user with no capabilities before the command exists;
	 * the command inherits that. Changing credentials clears the parent-death signal: it
	 * is set again, and a supervisor that died in between has closed its end of sock. */
	r = caps_become(p->uid, p->gid, p->groups, p->n_groups, p->userns);
	if (r < 0)
		child_fail(err_wr, 125, r);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || peer_gone(sock))
		_exit(125);

	/* Named, pid 1 keeps its end: what `sluice exec` asks for comes that way. */
	if (!named)
		closep(&sock);

	if (p->argv && p->argv[0]) {
		r = spawn_command(p, oldmask, pipe_default, err_wr, &cmd, &code);
		if (r < 0)
			child_fail(err_wr, code, r);
	}
	/* The command has the service's sockets; pid 1 has no use for them. */
	if (p->listen_fds)
		(void)syscall(SYS_close_range, 3U, 2U + (unsigned)p->listen_fds, 0U);
	close(err_wr);
	cage_init_main(cmd, sock, &set);
}
