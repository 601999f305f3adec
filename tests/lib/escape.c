/* escape: what a hostile program in a cage tries, for sluice's escape tests. Each verb prints
 * one line per attempt, "LABEL VERDICT" (ok or the errno name); whether a host socket was
 * really reached is judged by the host side, never by what this program says.
 *
 *   escape syscalls                  the default denylist's families, one call each
 *   escape tiocsti TEXT              push TEXT into the controlling terminal's input
 *   escape seccomp-listener          install a filter with a listener of its own
 *   escape userns-bind SRC DST PATH  a user and mount namespace of its own, SRC bound on DST,
 *                                    then connect to PATH (stream) and send to PATH.dgram
 *   escape connect-fdpath PATH       open PATH (O_PATH) and connect to /proc/self/fd/N
 *   escape cmsgs                     UDP sends to a listener of its own with ancillary data:
 *                                    IP_TTL (needs nothing), SO_MARK and SO_PRIORITY above 6
 *                                    (need a capability it does not have), and a unix
 *                                    SCM_CREDENTIALS claiming a uid not its own
 *   escape race-addr SAFE HOST N     connect and send N times while a thread flips the
 *                                    address between SAFE and HOST (HOST.dgram for sends)
 *   escape race-fd HOST N            connect and send N times on an fd a thread keeps swapping
 *                                    between an IP socket (to a listener of its own) and a
 *                                    unix one, the address between that listener and HOST
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void verdict(const char *label, long r)
{
	const char *name = "ok";

	if (r < 0) {
		name = strerrorname_np(errno);
		if (!name)
			name = "EUNKNOWN";
	}
	printf("%s %s\n", label, name);
	fflush(stdout);
}

static int usage(void)
{
	fprintf(
	    stderr,
	    "usage: escape syscalls | tiocsti TEXT | seccomp-listener |\n"
	    "       userns-bind SRC DST PATH | cmsgs | race-addr SAFE HOST N | race-fd HOST N\n");
	return 2;
}

/* ---- the denylist ---------------------------------------------------------------------- */

static long try_clone_newuser(void)
{
	/* A raw clone with CLONE_NEWUSER; the child exits at once. */
	long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return pid < 0 ? -1 : 0;
}

static long try_clone3(void)
{
	struct {
		uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	} args = {.exit_signal = SIGCHLD};
	long pid = syscall(SYS_clone3, &args, sizeof(args));

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return pid < 0 ? -1 : 0;
}

static long try_unshare_user(void)
{
	/* In a child: the namespace would be ours for good. */
	pid_t pid = fork();
	int st;

	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) < 0 ? errno : 0);
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	errno = WEXITSTATUS(st);
	return errno ? -1 : 0;
}

static long try_keyctl(void)
{
	return syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 ? -1 : 0;
}

static long try_add_key(void)
{
	return syscall(SYS_add_key, "user", "sluice-escape", "x", 1, KEY_SPEC_PROCESS_KEYRING) < 0
		   ? -1
		   : 0;
}

static long try_bpf(void)
{
	char attr[128] = {0};

	return syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof(attr)) < 0 ? -1 : 0;
}

static long try_perf(void)
{
	struct perf_event_attr a = {.type = PERF_TYPE_SOFTWARE,
				    .size = sizeof(a),
				    .config = PERF_COUNT_SW_TASK_CLOCK,
				    .exclude_kernel = 1};
	long fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);

	if (fd >= 0)
		close((int)fd);
	return fd < 0 ? -1 : 0;
}

static long try_userfaultfd(void)
{
	long fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);

	if (fd >= 0)
		close((int)fd);
	return fd < 0 ? -1 : 0;
}

static long try_io_uring(void)
{
	struct io_uring_params p = {0};
	long fd = syscall(SYS_io_uring_setup, 4, &p);

	if (fd >= 0)
		close((int)fd);
	return fd < 0 ? -1 : 0;
}

static long try_mount(void)
{
	char dir[] = "/tmp/escape-mount-XXXXXX";
	long r;

	if (!mkdtemp(dir))
		return -1;
	r = mount("none", dir, "tmpfs", 0, NULL);
	if (r == 0)
		umount(dir);
	rmdir(dir);
	return r;
}

/* Refuse to try anything with capabilities: outside a cage these calls would really act. */
static bool has_caps(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	bool caps = true;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7))
			caps = strtoull(line + 7, NULL, 16) != 0;
	if (f)
		fclose(f);
	return caps;
}

static long try_setns(void)
{
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	long r = setns(fd, CLONE_NEWNET);

	close(fd);
	return r;
}

static long try_init_module(void)
{
	return syscall(SYS_init_module, NULL, 0, "");
}

static long try_kexec(void)
{
	return syscall(SYS_kexec_load, 0, 0, NULL, 0);
}

static long try_open_by_handle(void)
{
	return syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, O_RDONLY);
}

static int syscalls(void)
{
	static const struct {
		const char *label;
		long (*fn)(void);
	} tries[] = {
	    {"unshare-user", try_unshare_user},
	    {"clone-newuser", try_clone_newuser},
	    {"clone3", try_clone3},
	    {"setns", try_setns},
	    {"keyctl", try_keyctl},
	    {"add_key", try_add_key},
	    {"bpf", try_bpf},
	    {"perf_event_open", try_perf},
	    {"userfaultfd", try_userfaultfd},
	    {"io_uring_setup", try_io_uring},
	    {"mount", try_mount},
	    {"init_module", try_init_module},
	    {"kexec_load", try_kexec},
	    {"open_by_handle_at", try_open_by_handle},
	};

	if (has_caps()) {
		fprintf(stderr, "escape syscalls: has capabilities: run it in a cage\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++)
		verdict(tries[i].label, tries[i].fn());
	return 0;
}

/* ---- the terminal -------------------------------------------------------------------------- */

static int tiocsti(const char *text)
{
	long r = 0;

	for (const char *c = text; *c && r == 0; c++)
		r = ioctl(0, TIOCSTI, c);
	verdict("tiocsti", r);
	/* A request with high bits set is still TIOCSTI to the kernel (an unsigned int). */
	r = syscall(SYS_ioctl, 0, 0xffffffff00000000UL | TIOCSTI, text);
	verdict("tiocsti-high-bits", r);
	return 0;
}

/* ---- a seccomp listener of the cage's own -------------------------------------------------- */

static int seccomp_listener(void)
{
	/* Notify every getppid, allow the rest: enough to get a listener. */
	struct sock_filter insns[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = 4, .filter = insns};
	long fd;

	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	verdict("seccomp-listener", fd < 0 ? -1 : 0);
	return 0;
}

/* ---- unix sockets ---------------------------------------------------------------------------- */

static socklen_t sun_of(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

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

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : write(fd, s, strlen(s));

	if (fd >= 0)
		close(fd);
	return n < 0 ? -1 : 0;
}

static int userns_bind(const char *src, const char *dst, const char *path)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64], dgram[256];

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		verdict("unshare", -1);
		return 0;
	}
	verdict("unshare", 0);
	/* uid 0 may not map itself without CAP_SETFCAP; the mount needs no map anyway. */
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	write_file("/proc/self/setgroups", "deny");
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	write_file("/proc/self/gid_map", map);
	mkdir(dst, 0755);
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0) {
		verdict("bind", -1);
		return 0;
	}
	verdict("bind", 0);
	verdict("connect", connect_path(path));
	snprintf(dgram, sizeof(dgram), "%s.dgram", path);
	verdict("dgram", send_path(dgram));
	return 0;
}

static int connect_fdpath(const char *path)
{
	char p[64];
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0)
		return verdict("fdpath-open", -1), 0;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	verdict("fdpath", connect_path(p));
	return 0;
}

/* ---- races ------------------------------------------------------------------------------- */

static atomic_bool stop;

struct flip {
	struct sockaddr_storage *addr;
	struct sockaddr_storage a, b;
};

static void *flipper(void *arg)
{
	struct flip *f = arg;

	while (!atomic_load(&stop)) {
		memcpy(f->addr, &f->a, sizeof(f->a));
		memcpy(f->addr, &f->b, sizeof(f->b));
	}
	return NULL;
}

/* Connect and send n times while another thread flips the destination between SAFE (a socket
 * of the cage's own, served here) and HOST. */
static int race_addr(const char *safe, const char *host, long n)
{
	struct sockaddr_storage addr;
	struct flip f = {.addr = &addr};
	char safe_d[256], host_d[256];
	long ok = 0, other = 0;
	int srv, srvd;
	pthread_t t;

	snprintf(safe_d, sizeof(safe_d), "%s.dgram", safe);
	snprintf(host_d, sizeof(host_d), "%s.dgram", host);
	srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	srvd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unlink(safe);
	unlink(safe_d);
	sun_of((struct sockaddr_un *)&f.a, safe);
	if (bind(srv, (struct sockaddr *)&f.a, sizeof(struct sockaddr_un)) < 0 ||
	    listen(srv, 4096) < 0)
		return perror("safe listener"), 1;
	sun_of((struct sockaddr_un *)&f.a, safe_d);
	if (bind(srvd, (struct sockaddr *)&f.a, sizeof(struct sockaddr_un)) < 0)
		return perror("safe datagram socket"), 1;
	fcntl(srv, F_SETFL, O_NONBLOCK);

	for (int dgram = 0; dgram < 2; dgram++) {
		sun_of((struct sockaddr_un *)&f.a, dgram ? safe_d : safe);
		sun_of((struct sockaddr_un *)&f.b, dgram ? host_d : host);
		atomic_store(&stop, false);
		pthread_create(&t, NULL, flipper, &f);
		ok = other = 0;
		for (long i = 0; i < n; i++) {
			int fd =
			    socket(AF_UNIX, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
			long r;

			if (dgram)
				r = sendto(fd, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&addr,
					   sizeof(struct sockaddr_un));
			else
				r = connect(fd, (struct sockaddr *)&addr,
					    sizeof(struct sockaddr_un));
			if (r >= 0)
				ok++;
			else
				other++;
			close(fd);
			/* Keep the safe side's queues empty. */
			for (int c; (c = accept(srv, NULL, NULL)) >= 0;)
				close(c);
			while (recv(srvd, safe_d, 1, MSG_DONTWAIT) > 0)
				;
		}
		atomic_store(&stop, true);
		pthread_join(t, NULL);
		printf("%s ok=%ld refused=%ld\n", dgram ? "race-addr-dgram" : "race-addr-stream",
		       ok, other);
		fflush(stdout);
	}
	unlink(safe);
	unlink(safe_d);
	return 0;
}

struct swap {
	int fd;	       /* the number being raced for */
	int ip, unx;   /* what it is made to be, by turns */
	struct flip f; /* and the address with it */
};

static void *swapper(void *arg)
{
	struct swap *s = arg;

	while (!atomic_load(&stop)) {
		dup2(s->ip, s->fd);
		memcpy(s->f.addr, &s->f.a, sizeof(s->f.a));
		dup2(s->unx, s->fd);
		memcpy(s->f.addr, &s->f.b, sizeof(s->f.b));
	}
	return NULL;
}

/* The call is made on fd F with an IP destination (nothing to judge: the kernel may carry on
 * with it) while a thread makes F a unix socket and the destination HOST. */
static int race_fd(const char *host, long n)
{
	struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_storage addr;
	socklen_t len = sizeof(lo);
	char host_d[256];
	int tcp_srv, udp_srv;
	pthread_t t;

	snprintf(host_d, sizeof(host_d), "%s.dgram", host);
	tcp_srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	udp_srv = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (bind(tcp_srv, (struct sockaddr *)&lo, sizeof(lo)) < 0 || listen(tcp_srv, 4096) < 0 ||
	    getsockname(tcp_srv, (struct sockaddr *)&lo, &len) < 0)
		return perror("tcp listener"), 1;

	for (int dgram = 0; dgram < 2; dgram++) {
		struct sockaddr_in to = lo;
		struct swap s = {.fd = 100, .f.addr = &addr};
		long ok = 0, other = 0;

		if (dgram) {
			to.sin_port = 0;
			len = sizeof(to);
			if (bind(udp_srv, (struct sockaddr *)&to, sizeof(to)) < 0 ||
			    getsockname(udp_srv, (struct sockaddr *)&to, &len) < 0)
				return perror("udp socket"), 1;
		}
		memset(&s.f.a, 0, sizeof(s.f.a));
		memcpy(&s.f.a, &to, sizeof(to));
		sun_of((struct sockaddr_un *)&s.f.b, dgram ? host_d : host);
		memcpy(&addr, &s.f.a, sizeof(addr));
		for (long i = 0; i < n; i++) {
			char buf[8];
			long r;

			s.ip =
			    socket(AF_INET, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
			s.unx =
			    socket(AF_UNIX, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
			dup2(s.ip, s.fd);
			atomic_store(&stop, false);
			pthread_create(&t, NULL, swapper, &s);
			if (dgram) {
				struct iovec iov = {.iov_base = "x", .iov_len = 1};
				struct msghdr h = {.msg_name = &addr,
						   .msg_namelen = sizeof(struct sockaddr_un),
						   .msg_iov = &iov,
						   .msg_iovlen = 1};

				r = sendmsg(s.fd, &h, MSG_DONTWAIT);
			} else {
				r = connect(s.fd, (struct sockaddr *)&addr,
					    sizeof(struct sockaddr_un));
			}
			atomic_store(&stop, true);
			pthread_join(t, NULL);
			if (r >= 0)
				ok++;
			else
				other++;
			close(s.ip);
			close(s.unx);
			close(s.fd);
			for (int c; (c = accept(tcp_srv, NULL, NULL)) >= 0;)
				close(c);
			while (recv(udp_srv, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
		}
		printf("%s ok=%ld refused=%ld\n", dgram ? "race-fd-dgram" : "race-fd-stream", ok,
		       other);
		fflush(stdout);
	}
	return 0;
}

/* ---- ancillary data ------------------------------------------------------------------------- */

static long send_cmsg(int fd, const struct sockaddr *to, socklen_t to_len, int level, int type,
		      const void *val, size_t len)
{
	union {
		char buf[CMSG_SPACE(64)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = "x", .iov_len = 1};
	struct msghdr h = {.msg_name = (void *)to,
			   .msg_namelen = to_len,
			   .msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = u.buf,
			   .msg_controllen = CMSG_SPACE(len)};
	struct cmsghdr *c = (struct cmsghdr *)u.buf;

	memset(&u, 0, sizeof(u));
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), val, len);
	return sendmsg(fd, &h, 0);
}

static int cmsgs(void)
{
	struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(lo);
	int l = socket(AF_INET, SOCK_DGRAM, 0), fd = socket(AF_INET, SOCK_DGRAM, 0), sv[2];
	int ttl = 9, mark = 7, prio = 7;
	struct ucred other = {.pid = getpid(), .uid = getuid() == 0 ? 1 : 0, .gid = getgid()};

	if (l < 0 || fd < 0 || bind(l, (struct sockaddr *)&lo, sizeof(lo)) < 0 ||
	    getsockname(l, (struct sockaddr *)&lo, &len) < 0) {
		perror("escape cmsgs: a listener");
		return 1;
	}
	verdict("ip-ttl",
		send_cmsg(fd, (struct sockaddr *)&lo, len, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)));
	verdict("so-mark", send_cmsg(fd, (struct sockaddr *)&lo, len, SOL_SOCKET, SO_MARK, &mark,
				     sizeof(mark)));
	verdict("so-priority", send_cmsg(fd, (struct sockaddr *)&lo, len, SOL_SOCKET, SO_PRIORITY,
					 &prio, sizeof(prio)));
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) {
		perror("escape cmsgs: socketpair");
		return 1;
	}
	verdict("creds-other",
		send_cmsg(sv[0], NULL, 0, SOL_SOCKET, SCM_CREDENTIALS, &other, sizeof(other)));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "cmsgs"))
		return cmsgs();
	if (argc == 2 && !strcmp(argv[1], "syscalls"))
		return syscalls();
	if (argc == 3 && !strcmp(argv[1], "tiocsti"))
		return tiocsti(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "seccomp-listener"))
		return seccomp_listener();
	if (argc == 5 && !strcmp(argv[1], "userns-bind"))
		return userns_bind(argv[2], argv[3], argv[4]);
	if (argc == 3 && !strcmp(argv[1], "connect-fdpath"))
		return connect_fdpath(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "race-addr"))
		return race_addr(argv[2], argv[3], strtol(argv[4], NULL, 10));
	if (argc == 4 && !strcmp(argv[1], "race-fd"))
		return race_fd(argv[2], strtol(argv[3], NULL, 10));
	return usage();
}
