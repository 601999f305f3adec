/* inward.c: see inward.h. The maker answers one request at a time: the supervisor's loop
 * asks for a socket when a published port takes a connection, and waits the few
 * microseconds a socket(2) and a sendmsg(2) take. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "inward.h"
#include "log.h"

struct inward {
	int sock; /* the supervisor's end of the pair */
	pid_t pid;
};

/* One reply: status (0 or an errno), with the socket fd if there is one. */
static int reply(int sock, int status, int fd)
{
	struct iovec iov = {.iov_base = &status, .iov_len = sizeof(status)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u = {0};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (status == 0 && fd >= 0) {
		struct cmsghdr *cm;

		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof(status) ? 0 : -1;
}

/* The maker: joins, says whether it could, then serves until the supervisor's end closes. */
static _Noreturn void maker(int sock, int userns_fd, int netns_fd, pid_t parent)
{
	int status = 0;
	char req;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(1);
	if (userns_fd >= 0 && setns(userns_fd, CLONE_NEWUSER) < 0)
		status = errno;
	else if (setns(netns_fd, CLONE_NEWNET) < 0)
		status = -errno; /* negative: the netns, not the user namespace */
	/* Nothing but the pair from here on. */
	if (sock > 0)
		(void)syscall(SYS_close_range, 0U, (unsigned)sock - 1, 0U);
	(void)syscall(SYS_close_range, (unsigned)sock + 1, ~0U, 0U);
	if (reply(sock, status, -1) < 0 || status)
		_exit(1);
	for (;;) {
		ssize_t n = recv(sock, &req, 1, 0);
		int fd;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		fd = socket(req == '6' ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
		if (reply(sock, fd < 0 ? errno : 0, fd) < 0)
			_exit(1);
		if (fd >= 0)
			close(fd);
	}
}

/* A reply: its status, and the socket it carried (or -1). */
static int get_reply(int sock, int *status, int *fd)
{
	struct iovec iov = {.iov_base = status, .iov_len = sizeof(*status)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	if (n != (ssize_t)sizeof(*status))
		return -EPIPE;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return 0;
}

int inward_start(int userns_fd, int netns_fd, struct inward **ret)
{
	_cleanup_(inward_freep) struct inward *w = calloc(1, sizeof(*w));
	pid_t parent = getpid();
	int pair[2], status, fd, r;

	if (!w)
		return -ENOMEM;
	w->sock = w->pid = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		return err_set(negative_errno(), "published ports: socketpair");
	w->pid = fork();
	if (w->pid < 0) {
		r = negative_errno();
		close(pair[0]);
		close(pair[1]);
		return err_set(r, "published ports: fork");
	}
	if (w->pid == 0) {
		close(pair[0]);
		maker(pair[1], userns_fd, netns_fd, parent);
	}
	close(pair[1]);
	w->sock = pair[0];
	r = get_reply(w->sock, &status, &fd);
	if (r < 0)
		return err_set(r, "published ports: the socket maker");
	if (status > 0)
		return err_set(-status, "published ports: join the cage's user namespace");
	if (status < 0)
		return err_set(status, "published ports: join the cage's netns");
	*ret = TAKE_PTR(w);
	return 0;
}

int inward_socket(struct inward *w, int family, int *ret_fd)
{
	char req = family == AF_INET6 ? '6' : '4';
	int status, fd, r;

	if (send(w->sock, &req, 1, MSG_NOSIGNAL) != 1)
		return negative_errno();
	r = get_reply(w->sock, &status, &fd);
	if (r < 0)
		return r;
	if (status)
		return -status;
	if (fd < 0)
		return -EPROTO;
	*ret_fd = fd;
	return 0;
}

void inward_free(struct inward *w)
{
	if (!w)
		return;
	if (w->sock >= 0)
		close(w->sock);
	if (w->pid > 0)
		while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
			;
	free(w);
}
