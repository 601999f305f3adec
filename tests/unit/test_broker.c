/* test_broker.c: the unix broker against the real kernel (as root): a child loads the cage's
 * filter and makes its calls; this process serves the notifications with a broker on a loop,
 * as the supervisor does. A "host" server in a network namespace of its own stands for the
 * host's daemons, and says when something reaches it. Also the pure parts: the ancillary data
 * walk, the address parse, path resolution in a root of the caller's. */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <libmnl/libmnl.h>

#include "broker.h"
#include "cgroup.h"
#include "log.h"
#include "loop.h"
#include "nl.h"
#include "sysfilter.h"
#include "unixpath.h"

static char base[64];
static int host_pipe = -1; /* the host server writes 'c' per connection, 'd' per datagram */
static pid_t host_pid;

static socklen_t sun_of(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static int bind_at(int type, const char *path)
{
	struct sockaddr_un sun;
	socklen_t len = sun_of(&sun, path);
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0))
		return -1;
	chmod(path, 0777);
	return fd;
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", base, name);
}

/* The host: sockets bound in another netns (so no sock_diag of ours lists them). */
static _Noreturn void host_main(int out, int ready)
{
	char p[128];
	struct pollfd fds[4];
	int n = 0;

	if (unshare(CLONE_NEWNET) < 0)
		_exit(1);
	path_of(p, sizeof(p), "host.sock");
	fds[n++].fd = bind_at(SOCK_STREAM, p);
	path_of(p, sizeof(p), "host.dgram");
	fds[n++].fd = bind_at(SOCK_DGRAM, p);
	path_of(p, sizeof(p), "private.sock"); /* root's alone */
	fds[n++].fd = bind_at(SOCK_STREAM, p);
	chmod(p, 0600);
	for (int i = 0; i < n; i++) {
		if (fds[i].fd < 0)
			_exit(2);
		fds[i].events = POLLIN;
	}
	(void)!write(ready, "r", 1);
	for (;;) {
		if (poll(fds, (nfds_t)n, -1) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			char buf[64];

			if (!(fds[i].revents & POLLIN))
				continue;
			if (i == 1) {
				(void)!recv(fds[i].fd, buf, sizeof(buf), 0);
				(void)!write(out, "d", 1);
			} else {
				close(accept(fds[i].fd, NULL, NULL));
				(void)!write(out, "c", 1);
			}
		}
	}
}

/* How many times the host was reached since the last call. */
static int host_reached(void)
{
	char buf[256];
	ssize_t n;
	int total = 0;

	usleep(20000);
	while ((n = read(host_pipe, buf, sizeof(buf))) > 0)
		total += (int)n;
	return total;
}

static int group_setup(void **state)
{
	int p[2], ready[2];
	char c;

	struct mnl_socket *rt;

	if (unshare(CLONE_NEWNET) < 0) /* ours: its sock_diag lists only this test's sockets */
		return -1;
	if (nl_open(NETLINK_ROUTE, &rt) < 0 || nl_link_up(rt, 1) < 0)
		return -1;
	mnl_socket_close(rt);
	snprintf(base, sizeof(base), "/var/tmp/sluice-broker-XXXXXX");
	if (!mkdtemp(base) || chmod(base, 01777) < 0)
		return -1;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(ready, O_CLOEXEC) < 0)
		return -1;
	host_pid = fork();
	if (host_pid == 0)
		host_main(p[1], ready[1]);
	close(p[1]);
	close(ready[1]);
	host_pipe = p[0];
	return read(ready[0], &c, 1) == 1 ? 0 : -1;
}

static int group_teardown(void **state)
{
	static const char *const names[] = {"host.sock", "host.dgram", "private.sock",
					    "cage.sock", "cage.dgram", "link",
					    "file",	 "peer.sock"};
	char p[128];

	if (host_pid > 0) {
		kill(host_pid, SIGKILL);
		waitpid(host_pid, NULL, 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		path_of(p, sizeof(p), names[i]);
		unlink(p);
	}
	rmdir(base);
	return 0;
}

/* ---- a caged child ------------------------------------------------------------------------ */

/* What a scenario says: a line "label errno" per call, to out. */
static void say(int out, const char *label, long r)
{
	char line[128];

	snprintf(line, sizeof(line), "%s %d\n", label, r < 0 ? errno : 0);
	(void)!write(out, line, strlen(line));
}

typedef void (*scenario_fn)(int out);

struct run {
	bool perform_all;
	bool as_nobody; /* the child runs as nobody, the performers take its credentials */
	const struct unix_allow *allow;
	size_t n_allow;
};

/* The cgroup this process is in, for the performers (they go where the test is). */
static int own_cgroup(void)
{
	char mount[4096], line[4096], path[8200];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int fd = -1;

	assert_int_equal(cgroup_find_mount(mount, sizeof(mount)), 0);
	while (f && fgets(line, sizeof(line), f))
		if (startswith(line, "0::")) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(path, sizeof(path), "%s%s", mount, line + 3);
			fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		}
	if (f)
		fclose(f);
	assert_true(fd >= 0);
	return fd;
}

/* Run fn in a child under the filter, serving its notifications here; return what it said. */
static char *caged(const struct run *run, scenario_fn fn)
{
	int lp[2], op[2], status;
	struct broker *b = NULL;
	struct loop *loop;
	struct mnl_socket *diag;
	char num[16] = "", *out;
	size_t len = 0, cap = 4096;
	long pidfd, listener;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(lp, O_CLOEXEC), 0);
	assert_int_equal(pipe2(op, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sysfilter_config cfg = {.mode = SECCOMP_DEFAULT, .notify = true};
		int l;

		close(lp[0]);
		close(op[0]);
		if (run->as_nobody &&
		    (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		     setresuid(65534, 65534, 65534) < 0))
			_exit(100);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sysfilter_install(&cfg, &l) < 0)
			_exit(101);
		snprintf(num, sizeof(num), "%d", l);
		if (write(lp[1], num, strlen(num)) < 0)
			_exit(102);
		close(lp[1]);
		fn(op[1]);
		_exit(0);
	}
	close(lp[1]);
	close(op[1]);
	assert_true(read(lp[0], num, sizeof(num) - 1) > 0);
	close(lp[0]);
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	assert_true(pidfd >= 0);
	listener = syscall(SYS_pidfd_getfd, (int)pidfd, atoi(num), 0);
	assert_true(listener >= 0);
	assert_int_equal(nl_open(NETLINK_SOCK_DIAG, &diag), 0);
	assert_int_equal(loop_new(&loop), 0);
	{
		struct broker_config cfg = {
		    .listener = (int)listener,
		    .diag_fd = dup(mnl_socket_get_fd(diag)),
		    .perform_all = run->perform_all,
		    .root = true,
		    .uid = run->as_nobody ? 65534 : 0,
		    .gid = run->as_nobody ? 65534 : 0,
		    .cgroup_fd = own_cgroup(),
		    .userns_fd = -1,
		    .allow = run->allow,
		    .n_allow = run->n_allow,
		};
		assert_int_equal(broker_new(loop, &cfg, &b), 0);
	}
	mnl_socket_close(diag);

	out = calloc(1, cap);
	fcntl(op[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		loop_run_once(loop, 20);
		while ((n = read(op[0], out + len, cap - len - 1)) > 0)
			len += (size_t)n;
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	while ((n = read(op[0], out + len, cap - len - 1)) > 0)
		len += (size_t)n;
	close(op[0]);
	close((int)pidfd);
	broker_free(b);
	loop_free(loop);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	return out;
}

/* The errno the scenario said for label (-1 if it said nothing). */
static int said(const char *out, const char *label)
{
	char key[64];
	const char *at;

	snprintf(key, sizeof(key), "%s ", label);
	for (at = out; (at = strstr(at, key)); at++)
		if (at == out || at[-1] == '\n')
			return atoi(at + strlen(key));
	return -1;
}

#define assert_said(out, label, e)                                                                 \
	do {                                                                                       \
		int got_ = said(out, label);                                                       \
		if (got_ != (e))                                                                   \
			fail_msg("%s: expected %s, got %s\n%s", label, strerror(e),                \
				 got_ < 0 ? "nothing" : strerror(got_), out);                      \
	} while (0)

static long connect_path(const char *path)
{
	struct sockaddr_un sun;
	socklen_t len = sun_of(&sun, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	long r = connect(fd, (struct sockaddr *)&sun, len);
	int e = errno;

	close(fd);
	errno = e;
	return r;
}

static long send_path(const char *path)
{
	struct sockaddr_un sun;
	socklen_t len = sun_of(&sun, path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	long r = sendto(fd, "x", 1, 0, (struct sockaddr *)&sun, len);
	int e = errno;

	close(fd);
	errno = e;
	return r < 0 ? -1 : 0;
}

/* ---- scenarios --------------------------------------------------------------------------- */

static void sc_reach(int out)
{
	char p[128], q[128];
	int ls, ld, fd;

	path_of(p, sizeof(p), "cage.sock");
	ls = bind_at(SOCK_STREAM, p);
	say(out, "own-stream", connect_path(p));
	path_of(q, sizeof(q), "cage.dgram");
	ld = bind_at(SOCK_DGRAM, q);
	say(out, "own-dgram", send_path(q));
	path_of(p, sizeof(p), "host.sock");
	say(out, "host-stream", connect_path(p));
	path_of(p, sizeof(p), "host.dgram");
	say(out, "host-dgram", send_path(p));
	path_of(q, sizeof(q), "link");
	unlink(q);
	path_of(p, sizeof(p), "host.sock");
	(void)!symlink(p, q);
	say(out, "host-by-link", connect_path(q));
	(void)!chdir(base);
	say(out, "host-relative", connect_path("./host.sock"));
	fd = open(p, O_PATH | O_CLOEXEC);
	snprintf(q, sizeof(q), "/proc/self/fd/%d", fd);
	say(out, "host-by-fd", connect_path(q));
	close(ls);
	close(ld);
}

static void sc_errors(int out)
{
	char p[128];
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), pp[2];
	struct iovec iov = {.iov_base = "x", .iov_len = 1};
	struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u = {0};
	struct cmsghdr *c;
	int ld;

	path_of(p, sizeof(p), "cage.dgram");
	ld = bind_at(SOCK_DGRAM, p);
	h.msg_name = &sun;
	h.msg_namelen = sun_of(&sun, p);
	say(out, "bad-address", connect(fd, (struct sockaddr *)8, sizeof(sun)));
	say(out, "long-address", connect(fd, (struct sockaddr *)&sun, 200));
	say(out, "bad-fd", connect(999, (struct sockaddr *)&sun, sizeof(sun)));
	(void)!pipe(pp);
	say(out, "not-a-socket", connect(pp[0], (struct sockaddr *)&sun, sizeof(sun)));
	path_of(p, sizeof(p), "none.sock");
	say(out, "missing", connect_path(p));
	path_of(p, sizeof(p), "file");
	close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	say(out, "a-file", connect_path(p));
	say(out, "a-directory", connect_path(base));
	h.msg_iovlen = 2000;
	say(out, "many-iovecs", sendmsg(fd, &h, 0));
	h.msg_iovlen = 1;
	h.msg_control = u.buf;
	h.msg_controllen = 1 << 20;
	say(out, "huge-control", sendmsg(fd, &h, 0));
	c = (struct cmsghdr *)u.buf;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &(int){999}, sizeof(int));
	h.msg_controllen = sizeof(u.buf);
	say(out, "rights-bad-fd", sendmsg(fd, &h, 0));
	c->cmsg_len = 2; /* shorter than a header */
	say(out, "malformed-control", sendmsg(fd, &h, 0));
	close(ld);
	close(fd);
}

static void sc_messages(int out)
{
	char p[128], buf[8];
	int ld = -1, fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), pp[2], got = -1;
	struct sockaddr_un sun;
	struct iovec iov[3] = {{"a", 1}, {"bb", 2}, {"ccc", 3}};
	struct mmsghdr v[3];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u = {0};
	struct msghdr h = {.msg_iov = &iov[1], .msg_iovlen = 1};
	struct cmsghdr *c = (struct cmsghdr *)u.buf;
	struct msghdr rh = {0};
	int n;

	path_of(p, sizeof(p), "cage.dgram");
	ld = bind_at(SOCK_DGRAM, p);
	memset(v, 0, sizeof(v));
	for (int i = 0; i < 3; i++) {
		v[i].msg_hdr.msg_name = &sun;
		v[i].msg_hdr.msg_namelen = sun_of(&sun, p);
		v[i].msg_hdr.msg_iov = &iov[i];
		v[i].msg_hdr.msg_iovlen = 1;
	}
	n = sendmmsg(fd, v, 3, 0);
	say(out, "sendmmsg-count", n == 3 ? 0 : (errno = EPROTO, -1));
	say(out, "sendmmsg-lens",
	    v[0].msg_len == 1 && v[1].msg_len == 2 && v[2].msg_len == 3 ? 0 : (errno = EPROTO, -1));
	for (int i = 0; i < 3; i++)
		(void)!recv(ld, buf, sizeof(buf), 0);

	/* An fd passed along with a datagram arrives as one. */
	(void)!pipe(pp);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &pp[1], sizeof(int));
	h.msg_name = &sun;
	h.msg_namelen = sun_of(&sun, p);
	h.msg_control = u.buf;
	h.msg_controllen = sizeof(u.buf);
	say(out, "rights-send", sendmsg(fd, &h, 0) == 2 ? 0 : -1);
	memset(&u, 0, sizeof(u));
	rh.msg_iov = &(struct iovec){buf, sizeof(buf)};
	rh.msg_iovlen = 1;
	rh.msg_control = u.buf;
	rh.msg_controllen = sizeof(u.buf);
	if (recvmsg(ld, &rh, 0) == 2 && c->cmsg_type == SCM_RIGHTS)
		memcpy(&got, CMSG_DATA(c), sizeof(int));
	say(out, "rights-arrive",
	    got >= 0 && write(got, "z", 1) == 1 && read(pp[0], buf, 1) == 1 && buf[0] == 'z'
		? 0
		: (errno = EPROTO, -1));
	close(ld);
	close(fd);
}

static volatile sig_atomic_t piped;

static void on_pipe(int sig)
{
	piped = 1;
}

static void sc_sigpipe(int out)
{
	char p[128];
	struct sockaddr_un sun;
	struct iovec iov = {.iov_base = "x", .iov_len = 1};
	struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1};
	int ls, fd, srv;

	signal(SIGPIPE, on_pipe);
	path_of(p, sizeof(p), "cage.sock");
	ls = bind_at(SOCK_STREAM, p);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	say(out, "connect", connect(fd, (struct sockaddr *)&sun, sun_of(&sun, p)));
	srv = accept(ls, NULL, NULL);
	close(srv);
	/* On a connected socket, without an address: performed only when all is. */
	say(out, "closed-peer", sendmsg(fd, &h, 0));
	say(out, "got-sigpipe", piped ? 0 : (errno = EPROTO, -1));
	close(fd);
	close(ls);
}

static void sc_tcp(int out)
{
	struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(lo);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;

	(void)!bind(l, (struct sockaddr *)&lo, sizeof(lo));
	(void)!listen(l, 8);
	(void)!getsockname(l, (struct sockaddr *)&lo, &len);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	say(out, "tcp", connect(fd, (struct sockaddr *)&lo, sizeof(lo)));
	close(fd);
	close(l);
}

static void sc_allowed(int out)
{
	char p[128];

	path_of(p, sizeof(p), "host.sock");
	say(out, "allowed", connect_path(p));
	path_of(p, sizeof(p), "private.sock");
	say(out, "allowed-private", connect_path(p));
	path_of(p, sizeof(p), "host.dgram");
	say(out, "not-allowed", send_path(p));
}

/* The in-cage server sees its client as the cage's user. */
static void sc_peer(int out)
{
	char p[128];
	struct ucred uc;
	socklen_t len = sizeof(uc);
	int ls, fd, srv;
	struct sockaddr_un sun;

	path_of(p, sizeof(p), "peer.sock");
	ls = bind_at(SOCK_STREAM, p);
	say(out, "bind", ls);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	say(out, "connect", connect(fd, (struct sockaddr *)&sun, sun_of(&sun, p)));
	srv = accept(ls, NULL, NULL);
	(void)!getsockopt(srv, SOL_SOCKET, SO_PEERCRED, &uc, &len);
	say(out, "peer-uid", uc.uid == getuid() && uc.gid == getgid() ? 0 : (errno = EPROTO, -1));
	/* the peer is a performer of the cage's user, never the supervisor */
	say(out, "peer-not-supervisor",
	    uc.pid != getppid() && uc.pid > 0 ? 0 : (errno = EPROTO, -1));
	close(srv);
	close(fd);
	close(ls);
	unlink(p);
}

/* A datagram's sender, as a receiver with SO_PASSCRED reads it: the cage's user. */
static void sc_passcred(int out)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				    (size_t)snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
						     "sluice-broker-passcred-%d", getpid()));
	int r = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), on = 1;
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} u = {0};
	char byte;
	struct msghdr h = {.msg_iov = &(struct iovec){&byte, 1},
			   .msg_iovlen = 1,
			   .msg_control = u.buf,
			   .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = (struct cmsghdr *)u.buf;
	struct ucred uc = {0};

	(void)!setsockopt(r, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	(void)!bind(r, (struct sockaddr *)&sun, len);
	/* abstract, non-blocking: nothing to judge and nothing that blocks */
	say(out, "send", sendto(fd, "x", 1, 0, (struct sockaddr *)&sun, len));
	if (recvmsg(r, &h, 0) == 1 && c->cmsg_type == SCM_CREDENTIALS)
		memcpy(&uc, CMSG_DATA(c), sizeof(uc));
	say(out, "sender-uid", uc.uid == getuid() && uc.gid == getgid() ? 0 : (errno = EPROTO, -1));
	close(fd);
	close(r);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void own_sockets_reach_host_sockets_are_refused_however_named(void **state)
{
	for (int all = 0; all < 2; all++) {
		struct run run = {.perform_all = all};
		char *out = caged(&run, sc_reach);

		assert_said(out, "own-stream", 0);
		assert_said(out, "own-dgram", 0);
		assert_said(out, "host-stream", EPERM);
		assert_said(out, "host-dgram", EPERM);
		assert_said(out, "host-by-link", EPERM);
		assert_said(out, "host-relative", EPERM);
		assert_said(out, "host-by-fd", EPERM);
		assert_int_equal(host_reached(), 0);
		free(out);
	}
}

static void bad_calls_get_the_kernels_errors(void **state)
{
	for (int all = 0; all < 2; all++) {
		struct run run = {.perform_all = all};
		char *out = caged(&run, sc_errors);

		assert_said(out, "bad-address", EFAULT);
		assert_said(out, "long-address", EINVAL);
		assert_said(out, "bad-fd", EBADF);
		assert_said(out, "not-a-socket", ENOTSOCK);
		assert_said(out, "missing", ENOENT);
		assert_said(out, "a-file", ECONNREFUSED);
		assert_said(out, "a-directory", ECONNREFUSED);
		assert_said(out, "many-iovecs", EMSGSIZE);
		assert_said(out, "huge-control", ENOBUFS);
		assert_said(out, "rights-bad-fd", EBADF);
		assert_said(out, "malformed-control", EINVAL);
		free(out);
	}
}

static void sendmmsg_and_passed_fds_work(void **state)
{
	for (int all = 0; all < 2; all++) {
		struct run run = {.perform_all = all};
		char *out = caged(&run, sc_messages);

		assert_said(out, "sendmmsg-count", 0);
		assert_said(out, "sendmmsg-lens", 0);
		assert_said(out, "rights-send", 0);
		assert_said(out, "rights-arrive", 0);
		free(out);
	}
}

static void a_performed_send_raises_sigpipe(void **state)
{
	struct run run = {.perform_all = true};
	char *out = caged(&run, sc_sigpipe);

	assert_said(out, "connect", 0);
	assert_said(out, "closed-peer", EPIPE);
	assert_said(out, "got-sigpipe", 0);
	free(out);
}

static void ip_calls_go_on_either_way(void **state)
{
	for (int all = 0; all < 2; all++) {
		struct run run = {.perform_all = all};
		char *out = caged(&run, sc_tcp);

		assert_said(out, "tcp", 0);
		free(out);
	}
}

static void allowed_sockets_reach_with_the_cages_own_permissions(void **state)
{
	struct unix_allow allow[2];
	struct run run = {.allow = allow, .n_allow = 2};
	char *out;

	path_of(allow[0].path, sizeof(allow[0].path), "host.sock");
	path_of(allow[1].path, sizeof(allow[1].path), "private.sock");
	allow[0].prefix = allow[1].prefix = false;
	out = caged(&run, sc_allowed);
	assert_said(out, "allowed", 0);
	assert_said(out, "allowed-private", 0);
	assert_said(out, "not-allowed", EPERM);
	assert_int_equal(host_reached(), 2);
	free(out);

	/* As nobody the performer is nobody too: root's 0600 socket stays root's. */
	run.as_nobody = true;
	out = caged(&run, sc_allowed);
	assert_said(out, "allowed", 0);
	assert_said(out, "allowed-private", EACCES);
	assert_int_equal(host_reached(), 1);
	free(out);
	out = caged(&run, sc_peer);
	assert_said(out, "bind", 0);
	assert_said(out, "peer-uid", 0);
	assert_said(out, "peer-not-supervisor", 0);
	free(out);
	/* performed, though nothing is judged: never by the supervisor, which is root */
	run.perform_all = true;
	out = caged(&run, sc_passcred);
	assert_said(out, "send", 0);
	assert_said(out, "sender-uid", 0);
	free(out);
}

/* ---- the pure parts ------------------------------------------------------------------------- */

static int count_cmsg(struct cmsghdr *c, void *data)
{
	(*(int *)data)++;
	return c->cmsg_type == 99 ? -EPERM : 0;
}

static void cmsg_walk_is_the_kernels(void **state)
{
	union {
		char buf[3 * CMSG_SPACE(8)];
		struct cmsghdr align;
	} u;
	struct cmsghdr *c = (struct cmsghdr *)u.buf;
	int n = 0;

	memset(&u, 0, sizeof(u));
	for (int i = 0; i < 3; i++) {
		c = (struct cmsghdr *)(u.buf + i * CMSG_SPACE(8));
		c->cmsg_len = CMSG_LEN(8);
		c->cmsg_level = SOL_SOCKET;
	}
	assert_int_equal(broker_cmsg_walk(u.buf, sizeof(u.buf), count_cmsg, &n), 0);
	assert_int_equal(n, 3);
	/* a length past the buffer, a length below a header: EINVAL */
	c->cmsg_len = CMSG_LEN(64);
	assert_int_equal(broker_cmsg_walk(u.buf, sizeof(u.buf), count_cmsg, &n), -EINVAL);
	c->cmsg_len = 3;
	assert_int_equal(broker_cmsg_walk(u.buf, sizeof(u.buf), count_cmsg, &n), -EINVAL);
	/* the callback's verdict ends the walk */
	c->cmsg_len = CMSG_LEN(8);
	c->cmsg_type = 99;
	n = 0;
	assert_int_equal(broker_cmsg_walk(u.buf, sizeof(u.buf), count_cmsg, &n), -EPERM);
	assert_int_equal(n, 3);
	/* trailing bytes shorter than a header are not a message */
	n = 0;
	c->cmsg_type = 0;
	assert_int_equal(broker_cmsg_walk(u.buf, CMSG_SPACE(8) + 4, count_cmsg, &n), 0);
	assert_int_equal(n, 1);
}

static void unix_addresses_parse_as_the_kernel_reads_them(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char path[UNIX_PATH_MAX + 1];
	enum unixpath_kind k;

	assert_int_equal(unixpath_parse(&sun, 2, &k, path), 0);
	assert_int_equal(k, UNIXPATH_UNNAMED);
	memcpy(sun.sun_path, "\0abs", 4);
	assert_int_equal(unixpath_parse(&sun, 6, &k, path), 0);
	assert_int_equal(k, UNIXPATH_ABSTRACT);
	/* the path ends at the first NUL, or at addrlen */
	memcpy(sun.sun_path, "/a/b\0/c", 8);
	assert_int_equal(unixpath_parse(&sun, sizeof(sun), &k, path), 0);
	assert_int_equal(k, UNIXPATH_PATH);
	assert_string_equal(path, "/a/b");
	assert_int_equal(unixpath_parse(&sun, 2 + 2, &k, path), 0);
	assert_string_equal(path, "/a");
	/* 108 bytes, no NUL: all of them */
	memset(sun.sun_path, 'x', sizeof(sun.sun_path));
	assert_int_equal(unixpath_parse(&sun, sizeof(sun), &k, path), 0);
	assert_int_equal(strlen(path), sizeof(sun.sun_path));
	assert_int_equal(unixpath_parse(&sun, sizeof(sun) + 1, &k, path), -EINVAL);
	sun.sun_family = AF_INET;
	assert_int_equal(unixpath_parse(&sun, 10, &k, path), -EINVAL);
}

/* In a root of the caller's: absolute symlinks stay inside it, ".." stops at it. */
static void paths_resolve_in_the_callers_root(void **state)
{
	char root[96], p[160], link[160];
	int rootfd, fd = -1, dir = -1, s;
	struct stat st, want;

	snprintf(root, sizeof(root), "%s/root", base);
	mkdir(root, 0755);
	snprintf(p, sizeof(p), "%s/d", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/d/s.sock", root);
	s = bind_at(SOCK_STREAM, p);
	assert_true(s >= 0);
	assert_int_equal(stat(p, &want), 0);
	snprintf(link, sizeof(link), "%s/abs", root);
	assert_int_equal(symlink("/d/s.sock", link), 0); /* absolute: the root's /d */
	snprintf(link, sizeof(link), "%s/d/rel", root);
	assert_int_equal(symlink("s.sock", link), 0);
	snprintf(link, sizeof(link), "%s/loop", root);
	assert_int_equal(symlink("/loop", link), 0);
	snprintf(link, sizeof(link), "%s/up", root);
	assert_int_equal(symlink("../../../d/s.sock", link), 0); /* ".." stops at the root */
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

	static const char *const ok[][2] = {
	    {"/", "/d/s.sock"}, {"/", "/abs"}, {"/", "/d/rel"},	      {"/d", "s.sock"},
	    {"/d", "../abs"},	{"/", "/up"},  {"/", "//d/./s.sock"}, {"/d", "../../d/rel"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		int r = unixpath_resolve(rootfd, ok[i][0], ok[i][1], &fd, &dir);

		if (r < 0)
			fail_msg("%s in %s: %s", ok[i][1], ok[i][0], strerror(-r));
		assert_int_equal(fstat(fd, &st), 0);
		assert_true(st.st_ino == want.st_ino && st.st_dev == want.st_dev);
		close(fd);
		close(dir);
	}
	assert_int_equal(unixpath_resolve(rootfd, "/", "/loop", &fd, &dir), -ELOOP);
	assert_int_equal(unixpath_resolve(rootfd, "/", "/none", &fd, &dir), -ENOENT);
	assert_int_equal(unixpath_resolve(rootfd, "/", "/d", &fd, &dir), -ECONNREFUSED);
	assert_int_equal(unixpath_resolve(rootfd, "/", "/d/", &fd, &dir), -ECONNREFUSED);
	assert_int_equal(unixpath_resolve(rootfd, "/", "/d/s.sock/", &fd, &dir), -ENOTDIR);
	close(rootfd);
	close(s);
	unlink(p);
	unlink(link);
	snprintf(link, sizeof(link), "%s/up", root);
	unlink(link);
	snprintf(link, sizeof(link), "%s/abs", root);
	unlink(link);
	snprintf(link, sizeof(link), "%s/d/rel", root);
	unlink(link);
	snprintf(p, sizeof(p), "%s/d", root);
	rmdir(p);
	rmdir(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cmsg_walk_is_the_kernels),
	    cmocka_unit_test(unix_addresses_parse_as_the_kernel_reads_them),
	    cmocka_unit_test(paths_resolve_in_the_callers_root),
	    cmocka_unit_test(own_sockets_reach_host_sockets_are_refused_however_named),
	    cmocka_unit_test(bad_calls_get_the_kernels_errors),
	    cmocka_unit_test(sendmmsg_and_passed_fds_work),
	    cmocka_unit_test(a_performed_send_raises_sigpipe),
	    cmocka_unit_test(ip_calls_go_on_either_way),
	    cmocka_unit_test(allowed_sockets_reach_with_the_cages_own_permissions),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
