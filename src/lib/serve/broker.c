/* broker.c: the cage's seccomp notifications, served on the supervisor's loop. For each call
 * the loop thread reads what it needs from the caller (its destination, message and data, with
 * process_vm_readv, then checks the notification is still that caller's) and takes a copy of
 * its socket (pidfd_getfd); then it lets the kernel carry on (nothing to judge, and an
 * in-kernel layer behind it), or the call is performed for the caller: by the loop thread only
 * for an IP send with no ancillary data that cannot block; otherwise by a
 * performer, a process forked from the supervisor that holds the cage user's credentials and
 * no capability, sharing with it one slot of memory per call and receiving the fds over a
 * socket. A performed call is made on the caller's own socket, to the file judged, so that a
 * change to the caller's memory or fd table after the check changes nothing, and the peer
 * sees the cage (its user; as root a process in the cage's cgroup), never the supervisor. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include <grp.h>
#include <libmnl/libmnl.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include "broker.h"
#include "caps.h"
#include "log.h"
#include "loop.h"
#include "nl.h"
#include "unixpath.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* include/uapi/linux/pidfd.h, Linux 6.9 */
#endif

#define DATA_MAX       (256 * 1024) /* bytes of one performed call (a stream's send is cut there) */
#define CONTROL_MAX    (64 * 1024)  /* ancillary data of one performed call */
#define IOVS_MAX       1024	    /* UIO_MAXIOV: iovecs of a message */
#define MSGS_MAX       256 /* messages of a sendmmsg performed at once; the rest wait for the next */
#define FDS_MAX	       240 /* fds handed to a performer with a call (SCM_MAX_FD is 253) */
#define PERFORMERS_MAX 8   /* and so calls in flight; past that, notifications wait */
#define TICK_MS	       50  /* how often a long call's caller is checked for signals */
#define SLOW_MS	       100 /* how long a call runs before its caller is checked */
#define OWN_CACHE      64  /* socket files known to be bound in the cage, held open */

struct msg {
	struct sockaddr_storage name;
	socklen_t namelen;
	bool judge; /* a pathname unix socket: resolved and judged before it is reached */
	char path[UNIX_PATH_MAX + 1];
	int target_ix; /* the path named a fd of the caller's (/proc/self/fd/N): op->fds[ix] */
	size_t data_off, len;
	size_t control_off, controllen;
	uint64_t len_at; /* sendmmsg: where the caller's msg_len is */
	ssize_t sent;
};

/* One call, in memory the supervisor and the performers share. Its fds are the supervisor's
 * while it prepares the call; a performer receives them, in this order: sock, pidfd, root_fd (if
 * judging), then fds[] (the SCM_RIGHTS ones first, n_scm of them, then /proc/self/fd targets). */
struct op {
	uint64_t id;
	pid_t tid;
	int nr, flags;
	int domain, type;
	bool judging;
	char cwd[PATH_MAX];
	int sock, pidfd, root_fd;
	int fds[FDS_MAX];
	size_t n_fds, n_scm;
	size_t n_msgs;
	struct msg msgs[MSGS_MAX];
	size_t data_used, control_used;
	/* the outcome */
	long val;
	int error;
	bool answered; /* by the performer */
	bool refused;  /* a pathname socket it named was refused: refused_path, for the audit */
	char refused_path[UNIX_PATH_MAX + 1];
	char refused_comm[16]; /* the caller's name, read while it still waits for the answer */
	bool cancel;   /* the caller is to be interrupted (set by the loop thread) */
	struct timespec started;
	uint8_t data[DATA_MAX];
	uint8_t control[CONTROL_MAX];
};

struct shared {
	struct broker_stats stats;
	struct op slots[PERFORMERS_MAX];
};

struct performer {
	pid_t pid; /* 0: not started (or gone) */
	int pidfd;
	int sock;
	struct loop_source src;
	bool busy;
	struct broker *b;
};

struct broker {
	struct loop *loop;
	void (*refused)(void *ctx, pid_t tid, bool connect, const char *path, const char *comm);
	void *refused_ctx;
	pid_t supervisor;
	int listener;
	struct loop_source src;
	bool paused;
	int tfd; /* while calls run in performers: checks their callers for signals */
	struct loop_source tick_src;
	bool ticking;
	struct mnl_socket *diag;      /* in the cage's netns */
	struct mnl_socket *diag_host; /* in this one: where an allowed directory's sockets are */
	struct unixpath_pin *pins;
	size_t n_pins;
	bool perform_all, root;
	ino_t cage_netns; /* the inode of the cage's netns (its sock_diag socket's) */
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	int cgroup_fd, userns_fd;
	struct seccomp_notif *req;
	struct shared *sh; /* MAP_SHARED: the performers see the same */
	struct performer perf[PERFORMERS_MAX];
	size_t busy;
	/* a performer's own: socket files a socket of the cage is bound to, each held by an O_PATH
	 * fd. An inode held is not reused, and a file is bound to at most one socket in its life
	 * (bind makes the file), so the answer stays true and sock_diag is asked once a file. */
	struct {
		dev_t dev;
		ino_t ino;
		int fd;
	} own[OWN_CACHE];
	size_t n_own, next_own;
};

/* The fds of a call as the one performing it holds them. */
struct held {
	int sock, pidfd, root_fd;
	int fds[FDS_MAX];
};

static int sig_interrupt(void)
{
	return SIGRTMIN; /* glibc keeps two below it for itself */
}

static void on_interrupt(int sig)
{
	(void)sig; /* only there to end a blocking call with EINTR */
}

/* ---- the pure part ------------------------------------------------------------------- */

int broker_cmsg_walk(void *control, size_t len, int (*fn)(struct cmsghdr *c, void *data),
		     void *data)
{
	size_t off = 0;

	/* for_each_cmsghdr() and CMSG_OK() in the kernel's __scm_send(). */
	while (len - off >= sizeof(struct cmsghdr)) {
		struct cmsghdr *c = (struct cmsghdr *)((char *)control + off);
		int r;

		if (c->cmsg_len < sizeof(struct cmsghdr) || c->cmsg_len > len - off)
			return -EINVAL;
		r = fn(c, data);
		if (r < 0)
			return r;
		if (CMSG_ALIGN(c->cmsg_len) >= len - off)
			break;
		off += CMSG_ALIGN(c->cmsg_len);
	}
	return 0;
}

/* ---- the caller ------------------------------------------------------------------------ */

static int peek(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = {.iov_base = buf, .iov_len = len};
	struct iovec r = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};

	if (len == 0)
		return 0;
	if (process_vm_readv(tid, &l, 1, &r, 1, 0) != (ssize_t)len)
		return -EFAULT;
	return 0;
}

static int poke(pid_t tid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec l = {.iov_base = (void *)buf, .iov_len = len};
	struct iovec r = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};

	if (process_vm_writev(tid, &l, 1, &r, 1, 0) != (ssize_t)len)
		return -EFAULT;
	return 0;
}

static int caller_pidfd(pid_t tid)
{
	char tgid[32];
	long fd = syscall(SYS_pidfd_open, tid, PIDFD_THREAD);

	if (fd >= 0 || errno != EINVAL)
		return fd < 0 ? negative_errno() : (int)fd;
	/* Before Linux 6.9 only a thread group has a pidfd. */
	if (proc_status_field(tid, "Tgid", tgid, sizeof(tgid)) < 0)
		return -ESRCH;
	fd = syscall(SYS_pidfd_open, (pid_t)strtol(tgid, NULL, 10), 0);
	return fd < 0 ? negative_errno() : (int)fd;
}

static int take_fd(int pidfd, int fd)
{
	long r = syscall(SYS_pidfd_getfd, pidfd, fd, 0);

	return r < 0 ? negative_errno() : (int)r;
}

/* ---- one call ---------------------------------------------------------------------------- */

static void op_init(struct op *op, const struct seccomp_notif *req)
{
	/* Only what the call uses: the buffers are written as they are filled. */
	op->id = req->id;
	op->tid = (pid_t)req->pid;
	op->nr = req->data.nr;
	op->flags = 0;
	op->domain = op->type = 0;
	op->judging = false;
	op->cwd[0] = '\0';
	op->sock = op->pidfd = op->root_fd = -1;
	op->n_fds = op->n_scm = op->n_msgs = 0;
	op->data_used = op->control_used = 0;
	op->val = 0;
	op->error = 0;
	op->answered = false;
	op->refused = false;
	op->cancel = false;
}

/* Close the supervisor's fds of a call (after a performer has them, or when it is over). */
static void op_close(struct op *op)
{
	closep(&op->sock);
	closep(&op->pidfd);
	closep(&op->root_fd);
	for (size_t i = 0; i < op->n_fds; i++)
		closep(&op->fds[i]);
}

static struct msg *op_msg(struct op *op)
{
	struct msg *m = &op->msgs[op->n_msgs++];

	memset(m, 0, offsetof(struct msg, path));
	m->path[0] = '\0';
	m->target_ix = -1;
	m->data_off = m->len = m->control_off = m->controllen = 0;
	m->len_at = 0;
	m->sent = 0;
	return m;
}

/* The destination of a message: read, and marked for judging if it names a pathname unix
 * socket (the socket's own family is checked once the socket is in hand). */
static int read_name(struct op *op, struct msg *m, uint64_t addr, uint64_t len)
{
	enum unixpath_kind kind;

	m->namelen = 0;
	m->judge = false;
	if (addr == 0 || len == 0)
		return 0; /* the connected peer */
	if (len > sizeof(m->name))
		return -EINVAL; /* move_addr_to_kernel() */
	if (peek(op->tid, addr, &m->name, (size_t)len) < 0)
		return -EFAULT;
	m->namelen = (socklen_t)len;
	if (m->name.ss_family == AF_UNIX && unixpath_parse(&m->name, len, &kind, m->path) == 0 &&
	    kind == UNIXPATH_PATH) {
		m->judge = true;
		op->judging = true;
	}
	return 0;
}

/* The data of a message, gathered from the caller's iovecs into the call's buffer. A stream's
 * data is cut where the buffer ends (*cut says so); a datagram that does not fit is EMSGSIZE. */
static int read_data(struct op *op, struct msg *m, const struct iovec *riov, size_t n, bool *cut)
{
	size_t total = 0, room = DATA_MAX - op->data_used;
	struct iovec l;
	ssize_t got;

	*cut = false;
	for (size_t i = 0; i < n; i++) {
		if (riov[i].iov_len > SSIZE_MAX - total)
			return -EINVAL;
		total += riov[i].iov_len;
	}
	if (total > room) {
		if (op->type != SOCK_STREAM)
			return -EMSGSIZE;
		total = room;
		*cut = true;
	}
	m->data_off = op->data_used;
	l = (struct iovec){.iov_base = op->data + op->data_used, .iov_len = total};
	got = total ? process_vm_readv(op->tid, &l, 1, riov, n, 0) : 0;
	if (got < 0 || (size_t)got != total)
		return -EFAULT;
	m->len = total;
	op->data_used += total;
	return 0;
}

/* The caller's own credentials, as SCM_CREDENTIALS may claim them (the kernel's
 * scm_check_creds() for the caller): its pid in its own pid namespace, one of its uids, gids. */
static bool caller_may_claim(const struct op *op, const struct ucred *uc)
{
	char buf[256], *p, *last, *save;
	long ids[4];
	bool uid_ok = false, gid_ok = false;

	if (proc_status_field(op->tid, "NStgid", buf, sizeof(buf)) < 0)
		return false;
	last = NULL;
	for (p = strtok_r(buf, " \t\n", &save); p; p = strtok_r(NULL, " \t\n", &save))
		last = p;
	if (!last || strtol(last, NULL, 10) != uc->pid)
		return false;
	if (proc_status_field(op->tid, "Uid", buf, sizeof(buf)) == 0 &&
	    sscanf(buf, "%ld %ld %ld %ld", &ids[0], &ids[1], &ids[2], &ids[3]) == 4)
		uid_ok = ids[0] == uc->uid || ids[1] == uc->uid || ids[2] == uc->uid;
	if (proc_status_field(op->tid, "Gid", buf, sizeof(buf)) == 0 &&
	    sscanf(buf, "%ld %ld %ld %ld", &ids[0], &ids[1], &ids[2], &ids[3]) == 4)
		gid_ok = ids[0] == uc->gid || ids[1] == uc->gid || ids[2] == uc->gid;
	return uid_ok && gid_ok;
}

/* Ancillary data that is passed on as it is: what needs no privilege, so that nothing a
 * capability would let through (SO_MARK, IPv6 routing headers) is ever sent for the cage. The
 * performers have no capability at all; the loop, which rootless owns the cage's user
 * namespace, sends no ancillary data (inline_ok). */
static bool plain_cmsg(const struct cmsghdr *c)
{
	switch (c->cmsg_level) {
	case SOL_IP:
		return c->cmsg_type == IP_PKTINFO || c->cmsg_type == IP_TOS ||
		       c->cmsg_type == IP_TTL;
	case SOL_IPV6:
		return c->cmsg_type == IPV6_PKTINFO || c->cmsg_type == IPV6_TCLASS ||
		       c->cmsg_type == IPV6_HOPLIMIT || c->cmsg_type == IPV6_DONTFRAG;
	case SOL_UDP:
		return c->cmsg_type == UDP_SEGMENT;
	default:
		return false;
	}
}

/* Ancillary data, made the supervisor's: the fds of SCM_RIGHTS are the caller's, taken with
 * pidfd_getfd; SCM_CREDENTIALS claims the caller's own identity or nothing (as the kernel checks
 * for the caller), and is sent as what the performer may claim (its own pid, the cage user's
 * ids: it sets them). Anything else but what needs no privilege is refused (EPERM), as the
 * kernel would refuse it to the caller, which has no capability at all. */
static int translate_cmsg(struct cmsghdr *c, void *data)
{
	struct op *op = data;

	if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && op->domain == AF_UNIX) {
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(c);

		if (n > FDS_MAX - op->n_fds)
			return -ETOOMANYREFS;
		for (size_t i = 0; i < n; i++) {
			int theirs, ours;

			memcpy(&theirs, &fds[i], sizeof(theirs));
			ours = take_fd(op->pidfd, theirs);
			if (ours < 0)
				return -EBADF;
			op->fds[op->n_fds++] = ours;
			op->n_scm++;
			memcpy(&fds[i], &ours, sizeof(ours));
		}
		return 0;
	}
	if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
	    op->domain == AF_UNIX) {
		struct ucred uc;

		if (c->cmsg_len != CMSG_LEN(sizeof(uc)))
			return -EINVAL;
		memcpy(&uc, CMSG_DATA(c), sizeof(uc));
		return caller_may_claim(op, &uc) ? 0 : -EPERM;
	}
	return plain_cmsg(c) ? 0 : -EPERM;
}

/* A struct msghdr of the caller's: its destination, and with with_data its data and ancillary
 * data too. A stream's data cut short sets *cut. */
static int read_msghdr(struct op *op, struct msg *m, const struct msghdr *h, bool with_data,
		       bool *cut)
{
	_cleanup_free_ struct iovec *riov = NULL;
	int r;

	r = read_name(op, m, (uint64_t)(uintptr_t)h->msg_name, h->msg_name ? h->msg_namelen : 0);
	if (r < 0 || !with_data)
		return r;
	if (h->msg_iovlen > IOVS_MAX)
		return -EMSGSIZE;
	if (h->msg_iovlen) {
		riov = calloc(h->msg_iovlen, sizeof(*riov));
		if (!riov)
			return -ENOMEM;
		r = peek(op->tid, (uint64_t)(uintptr_t)h->msg_iov, riov,
			 h->msg_iovlen * sizeof(*riov));
		if (r < 0)
			return r;
	}
	r = read_data(op, m, riov, h->msg_iovlen, cut);
	if (r < 0)
		return r;
	if (h->msg_controllen == 0 || !h->msg_control)
		return 0;
	if (h->msg_controllen > CONTROL_MAX - op->control_used)
		return -ENOBUFS;
	m->control_off = op->control_used;
	m->controllen = h->msg_controllen;
	r = peek(op->tid, (uint64_t)(uintptr_t)h->msg_control, op->control + m->control_off,
		 m->controllen);
	if (r < 0)
		return r;
	op->control_used += m->controllen;
	return broker_cmsg_walk(op->control + m->control_off, m->controllen, translate_cmsg, op);
}

/* Phase one, without the socket: only the destinations, which is all a call the kernel may
 * carry on with needs. sendmmsg's vector is kept in *ret_vec for phase two. */
static int read_destinations(struct op *op, const struct seccomp_notif *req,
			     struct mmsghdr **ret_vec)
{
	const __u64 *a = req->data.args;
	struct msghdr h;
	size_t n;
	int r;

	switch (op->nr) {
	case SYS_connect:
		return read_name(op, op_msg(op), a[1], (uint32_t)a[2]);
	case SYS_sendto:
		op->flags = (int)a[3];
		return read_name(op, op_msg(op), a[4], (uint32_t)a[5]);
	case SYS_sendmsg:
		op->flags = (int)a[2];
		r = peek(op->tid, a[1], &h, sizeof(h));
		return r < 0 ? r : read_msghdr(op, op_msg(op), &h, false, NULL);
	case SYS_sendmmsg:
		op->flags = (int)a[3];
		n = (uint32_t)a[2] > MSGS_MAX ? MSGS_MAX : (uint32_t)a[2];
		if (n == 0)
			return 0;
		*ret_vec = calloc(n, sizeof(**ret_vec));
		if (!*ret_vec)
			return -ENOMEM;
		r = peek(op->tid, a[1], *ret_vec, n * sizeof(**ret_vec));
		for (size_t i = 0; r == 0 && i < n; i++) {
			struct msg *m = op_msg(op);

			m->len_at =
			    a[1] + i * sizeof(struct mmsghdr) + offsetof(struct mmsghdr, msg_len);
			r = read_msghdr(op, m, &(*ret_vec)[i].msg_hdr, false, NULL);
		}
		return r;
	default:
		return -ENOSYS;
	}
}

/* /proc/self/fd/N (and /dev/fd/N) names the caller's own fd N: that file is the target. */
static int self_fd_target(struct op *op, struct msg *m)
{
	static const char *const prefixes[] = {"/proc/self/fd/", "/proc/thread-self/fd/",
					       "/dev/fd/"};
	const char *s = NULL;
	char *end;
	long fd;
	int t;

	for (size_t i = 0; i < ARRAY_SIZE(prefixes) && !s; i++)
		if (startswith(m->path, prefixes[i]))
			s = m->path + strlen(prefixes[i]);
	if (!s || *s < '0' || *s > '9')
		return 0;
	fd = strtol(s, &end, 10);
	if (*end || fd > INT_MAX)
		return 0;
	if (op->n_fds >= FDS_MAX)
		return -ETOOMANYREFS;
	t = take_fd(op->pidfd, (int)fd);
	if (t < 0)
		return t;
	m->target_ix = (int)op->n_fds;
	op->fds[op->n_fds++] = t;
	return 0;
}

static void read_comm(pid_t tid, char comm[16]);

/* The inode of the netns socket FD lives in (SIOCGSKNS), or a negative errno. */
static int64_t socket_netns(int fd)
{
	_cleanup_close_ int ns = ioctl(fd, SIOCGSKNS);
	struct stat st;

	if (ns < 0)
		return negative_errno();
	if (fstat(ns, &st) < 0)
		return negative_errno();
	return (int64_t)st.st_ino;
}

/*
 * An IP socket of another network namespace (handed into the cage from outside: a socket on
 * its stdin, a listener the service manager passed) reaches that namespace's network, where
 * neither the cage's nftables rules nor its eBPF hooks (which judge a socket by the cgroup
 * that made it) apply: after connect(AF_UNSPEC), or shutdown() of a listener, it would connect
 * anywhere from there. Its connects and sends with an address are refused; the calls go
 * through here, on the socket taken, so no swap of the caller's fds after the check counts. A
 * socket whose netns this process may not even ask about is not the cage's either.
 */
static int own_netns(struct broker *b, struct op *op)
{
	int64_t ns;

	if (op->domain != AF_INET && op->domain != AF_INET6)
		return 0;
	ns = socket_netns(op->sock);
	if (ns >= 0 && (ino_t)ns == b->cage_netns)
		return 0;
	op->refused = true;
	op->refused_path[0] = '\0'; /* told as no path: a socket from outside */
	read_comm(op->tid, op->refused_comm);
	return -EPERM;
}

/* Phase two, for a call performed for the caller: the socket, the data, and for what is judged
 * the caller's root and working directory. Reads the caller's memory again: what phase two
 * reads is what is performed. */
static int read_for_perform(struct broker *b, struct op *op, const struct seccomp_notif *req,
			    const struct mmsghdr *vec)
{
	const __u64 *a = req->data.args;
	socklen_t len = sizeof(int);
	char path[64];
	struct msghdr h;
	bool cut = false;
	int r = 0;

	op->pidfd = caller_pidfd(op->tid);
	if (op->pidfd < 0)
		return op->pidfd;
	op->sock = take_fd(op->pidfd, (int)a[0]);
	if (op->sock < 0)
		return op->sock;
	if (getsockopt(op->sock, SOL_SOCKET, SO_DOMAIN, &op->domain, &len) < 0)
		return negative_errno(); /* ENOTSOCK, as the kernel says */
	len = sizeof(int);
	if (getsockopt(op->sock, SOL_SOCKET, SO_TYPE, &op->type, &len) < 0)
		return negative_errno();
	r = own_netns(b, op);
	if (r < 0)
		return r;

	switch (op->nr) {
	case SYS_connect:
		break;
	case SYS_sendto: {
		struct iovec riov = {.iov_base = (void *)(uintptr_t)a[1], .iov_len = (size_t)a[2]};

		r = read_data(op, &op->msgs[0], &riov, 1, &cut);
		break;
	}
	case SYS_sendmsg:
		r = peek(op->tid, a[1], &h, sizeof(h));
		if (r == 0)
			r = read_msghdr(op, &op->msgs[0], &h, true, &cut);
		break;
	case SYS_sendmmsg:
		for (size_t i = 0; i < op->n_msgs; i++) {
			r = read_msghdr(op, &op->msgs[i], &vec[i].msg_hdr, true, &cut);
			/* What does not fit waits for the caller's next sendmmsg, as when the
			 * kernel stops early: a message cut short is the last. */
			if (r == 0 && cut && i + 1 < op->n_msgs) {
				op->n_msgs = i + 1;
				break;
			}
			if (r < 0 && i > 0 &&
			    (r == -EMSGSIZE || r == -ENOBUFS || r == -ETOOMANYREFS)) {
				op->n_msgs = i;
				r = 0;
				break;
			}
			if (r < 0)
				break;
		}
		break;
	default:
		r = -ENOSYS;
	}
	if (r == -ETOOMANYREFS)
		r = -EINVAL;
	if (r < 0)
		return r;

	/* A unix address on a socket of another family fails in the kernel as it is. */
	op->judging = false;
	for (size_t i = 0; i < op->n_msgs; i++) {
		op->msgs[i].judge &= op->domain == AF_UNIX;
		op->judging |= op->msgs[i].judge;
	}
	if (!op->judging)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/root", (int)op->tid);
	op->root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (op->root_fd < 0)
		return negative_errno();
	/* The working directory only matters to a relative path. */
	for (size_t i = 0; i < op->n_msgs; i++)
		if (op->msgs[i].judge && op->msgs[i].path[0] != '/' && !op->cwd[0]) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%d/cwd", (int)op->tid);
			n = readlink(path, op->cwd, sizeof(op->cwd) - 1);
			op->cwd[n > 0 ? n : 0] = '\0';
		}
	for (size_t i = 0; i < op->n_msgs; i++)
		if (op->msgs[i].judge && (r = self_fd_target(op, &op->msgs[i])) < 0)
			return r == -ETOOMANYREFS ? -EINVAL : r;
	return 0;
}

/* ---- performing ---------------------------------------------------------------------------- */

/* unixpath_judge(), with the files known to be the cage's own answered from the cache. */
static int judge_cached(struct broker *b, int target, int root_fd, enum unixpath_verdict *ret)
{
	struct stat st;
	int r;

	if (fstat(target, &st) < 0)
		return negative_errno();
	for (size_t i = 0; i < b->n_own; i++)
		if (b->own[i].dev == st.st_dev && b->own[i].ino == st.st_ino) {
			*ret = UNIXPATH_IN_CAGE;
			return 0;
		}
	r = unixpath_judge(target, root_fd, b->pins, b->n_pins, b->diag, b->diag_host, ret);
	if (r == 0 && *ret == UNIXPATH_IN_CAGE) {
		size_t i = b->n_own < OWN_CACHE ? b->n_own++ : b->next_own++ % OWN_CACHE;
		int fd = fcntl(target, F_DUPFD_CLOEXEC, 3);

		if (b->own[i].fd > 0)
			close(b->own[i].fd);
		b->own[i].fd = fd;
		b->own[i].dev = fd >= 0 ? st.st_dev : 0;
		b->own[i].ino = fd >= 0 ? st.st_ino : 0;
	}
	return r;
}

static void read_comm(pid_t tid, char comm[16])
{
	char path[64];
	_cleanup_close_ int fd = -1;
	ssize_t n = -1;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		n = read(fd, comm, 15);
	if (n > 0 && comm[n - 1] == '\n')
		n--;
	comm[n > 0 ? n : 0] = '\0';
}

/* Judge a message's pathname destination and point it at the file judged; *target is held
 * (and closed by the caller) so that the name stays that file. */
static int judge(struct broker *b, struct op *op, struct msg *m, const struct held *h, int *target)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&m->name;
	enum unixpath_verdict v;
	int r, dir = -1;

	if (m->target_ix >= 0) {
		*target = fcntl(h->fds[m->target_ix], F_DUPFD_CLOEXEC, 3);
		r = *target < 0 ? negative_errno() : 0;
	} else {
		r = unixpath_resolve(h->root_fd, op->cwd, m->path, target, &dir);
	}
	if (r < 0)
		return r;
	closep(&dir);
	r = judge_cached(b, *target, h->root_fd, &v);
	if (r < 0) {
		log_debug("unix: judging %s: %s: refused", m->path, strerror(-r));
		v = UNIXPATH_REFUSED;
	}
	if (v == UNIXPATH_REFUSED) {
		__atomic_add_fetch(&b->sh->stats.refused, 1, __ATOMIC_RELAXED);
		op->refused = true;
		snprintf(op->refused_path, sizeof(op->refused_path), "%s", m->path);
		read_comm(op->tid, op->refused_comm);
		log_debug("unix: refused %s to %s (the socket it reaches is neither the cage's own "
			  "nor allowed)",
			  op->nr == SYS_connect ? "connect" : "send", m->path);
		return -EPERM;
	}
	/* The file judged, whatever the caller's path now leads to. */
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "/proc/thread-self/fd/%d", *target);
	m->namelen =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sun->sun_path) + 1);
	return 0;
}

/* The fds of SCM_RIGHTS as the one performing holds them, and SCM_CREDENTIALS as what it may
 * claim: its own pid and ids (the cage user's, in a performer). */
struct rewrite {
	const struct held *h;
	size_t next;
};

static int rewrite_cmsg(struct cmsghdr *c, void *data)
{
	struct rewrite *x = data;

	if (c->cmsg_level != SOL_SOCKET)
		return 0;
	if (c->cmsg_type == SCM_RIGHTS) {
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < n; i++)
			memcpy(CMSG_DATA(c) + i * sizeof(int), &x->h->fds[x->next++], sizeof(int));
	} else if (c->cmsg_type == SCM_CREDENTIALS) {
		struct ucred uc = {.pid = getpid(), .uid = getuid(), .gid = getgid()};

		memcpy(CMSG_DATA(c), &uc, sizeof(uc));
	}
	return 0;
}

/* Whether the call was interrupted for its caller's sake (else an EINTR is a stray signal of
 * ours, and the call goes on). */
static bool cancelled(const struct op *op)
{
	return __atomic_load_n(&op->cancel, __ATOMIC_ACQUIRE);
}

static void perform(struct broker *b, struct op *op, const struct held *h, int extra_flags)
{
	int targets[MSGS_MAX];
	struct rewrite rw = {.h = h};
	int r;

	op->refused = false;
	for (size_t i = 0; i < op->n_msgs; i++)
		targets[i] = -1;
	for (size_t i = 0; i < op->n_msgs; i++) {
		struct msg *m = &op->msgs[i];

		if (m->controllen)
			(void)broker_cmsg_walk(op->control + m->control_off, m->controllen,
					       rewrite_cmsg, &rw);
		if (m->judge && (r = judge(b, op, m, h, &targets[i])) < 0) {
			op->error = r;
			goto out;
		}
	}
	if (op->nr == SYS_connect) {
		struct msg *m = &op->msgs[0];

		do
			r = connect(h->sock, (struct sockaddr *)&m->name, m->namelen);
		while (r < 0 && errno == EINTR && !cancelled(op));
		op->error = r < 0 ? negative_errno() : 0;
		goto out;
	}
	for (size_t i = 0; i < op->n_msgs; i++) {
		struct msg *m = &op->msgs[i];
		size_t done = 0;
		ssize_t n;

		/* A stream send that blocks goes on until all is sent, as the caller's would,
		 * unless the caller is interrupted (then it says how much went). Never
		 * MSG_ZEROCOPY: the pages sent would be reused before the kernel is done. */
		do {
			struct iovec iov = {.iov_base = op->data + m->data_off + done,
					    .iov_len = m->len - done};
			struct msghdr mh = {
			    .msg_name = m->namelen ? &m->name : NULL,
			    .msg_namelen = m->namelen,
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control =
				done || !m->controllen ? NULL : op->control + m->control_off,
			    .msg_controllen = done ? 0 : m->controllen,
			};

			n = sendmsg(h->sock, &mh,
				    (op->flags & ~MSG_ZEROCOPY) | MSG_NOSIGNAL | extra_flags);
			if (n > 0)
				done += (size_t)n;
		} while (((n < 0 && errno == EINTR) ||
			  (n > 0 && done < m->len && op->type == SOCK_STREAM)) &&
			 !cancelled(op));
		if (n < 0 && done == 0) {
			if (i == 0)
				op->error = negative_errno();
			break;
		}
		m->sent = (ssize_t)done;
		op->val = op->nr == SYS_sendmmsg ? (long)i + 1 : (long)done;
		if (done < m->len)
			break;
	}
out:
	for (size_t i = 0; i < op->n_msgs; i++)
		closep(&targets[i]);
}

/* ---- answering -------------------------------------------------------------------------- */

/* From the loop thread or a performer: each answers its own notifications. */
static void answer(struct broker *b, uint64_t id, long val, int error, bool carry_on)
{
	struct seccomp_notif_resp resp = {.id = id};

	if (carry_on) {
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	} else {
		resp.val = error ? 0 : val;
		resp.error = error;
	}
	/* -ENOENT: the caller is gone, or was interrupted before we answered. */
	(void)seccomp_notify_respond(b->listener, &resp);
}

/* SIGPIPE, which the caller's send would have raised (MSG_NOSIGNAL was ours): the caller's
 * pidfd needs only the caller's uid, which a performer has. */
static void raise_sigpipe(const struct op *op, int pidfd)
{
	if (op->error == -EPIPE && op->nr != SYS_connect && !(op->flags & MSG_NOSIGNAL))
		(void)syscall(SYS_pidfd_send_signal, pidfd, SIGPIPE, NULL, 0);
}

/* sendmmsg's lengths are written into the caller's memory: the loop thread's (privileged)
 * part, and only while the notification is still pending, so the caller is that task. */
/* In the loop thread, once a call is over: a refusal is told (broker.h). */
static void tell_refusal(struct broker *b, struct op *op)
{
	if (op->refused && b->refused)
		b->refused(b->refused_ctx, op->tid, op->nr == SYS_connect, op->refused_path,
			   op->refused_comm);
	op->refused = false;
}

static void finish_in_loop(struct broker *b, struct op *op)
{
	if (op->nr == SYS_sendmmsg && !op->error &&
	    seccomp_notify_id_valid(b->listener, op->id) == 0)
		for (size_t i = 0; i < op->n_msgs && op->msgs[i].sent > 0; i++) {
			unsigned len = (unsigned)op->msgs[i].sent;

			(void)poke(op->tid, op->msgs[i].len_at, &len, sizeof(len));
		}
	answer(b, op->id, op->val, op->error, false);
}

/* ---- performers ------------------------------------------------------------------------ */

/* Keep only the fds in keep (and stdio): a performer holds nothing else of the supervisor's. */
static void close_all_but(const int *keep, size_t n)
{
	int lo = 3;

	for (;;) {
		int next = INT_MAX;

		for (size_t i = 0; i < n; i++)
			if (keep[i] >= lo && keep[i] < next)
				next = keep[i];
		if (next == INT_MAX) {
			(void)syscall(SYS_close_range, (unsigned)lo, ~0U, 0U);
			return;
		}
		if (next > lo)
			(void)syscall(SYS_close_range, (unsigned)lo, (unsigned)next - 1, 0U);
		lo = next + 1;
	}
}

/* The cage user's credentials and nothing more: as root, the user's ids in a cgroup of the
 * cage's; without root, the cage's own user namespace, where owning it counts for nothing. */
static int become_performer(struct broker *b)
{
	_cleanup_(cap_freep) cap_t none = NULL;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != b->supervisor)
		return -ESRCH;
	if (b->root) {
		_cleanup_close_ int procs =
		    openat(b->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

		if (procs < 0 || write(procs, "0", 1) != 1)
			return negative_errno();
		if (setgroups(b->n_groups, b->groups) < 0 ||
		    setresgid(b->gid, b->gid, b->gid) < 0 || setresuid(b->uid, b->uid, b->uid) < 0)
			return negative_errno();
	} else if (setns(b->userns_fd, CLONE_NEWUSER) < 0) {
		return negative_errno();
	}
	none = cap_init();
	if (!none)
		return -ENOMEM;
	if (cap_set_proc(none) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return negative_errno();
	return 0;
}

/* Receive a call's fds, in the order of struct op's comment. */
static int receive_call(int sock, const struct op *op, struct held *h)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * (FDS_MAX + 3))];
		struct cmsghdr align;
	} u;
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c;
	size_t want, got, k = 0;
	int fds[FDS_MAX + 3];
	ssize_t n;

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? -EPIPE : negative_errno();
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS || (mh.msg_flags & MSG_CTRUNC))
		return -EPROTO;
	got = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	memcpy(fds, CMSG_DATA(c), got * sizeof(int));
	/* The op is read only now: the supervisor filled it in before it sent. */
	want = 2 + (op->judging ? 1 : 0) + op->n_fds;
	if (got != want) {
		for (size_t i = 0; i < got; i++)
			close(fds[i]);
		return -EPROTO;
	}
	h->sock = fds[k++];
	h->pidfd = fds[k++];
	h->root_fd = op->judging ? fds[k++] : -1;
	for (size_t i = 0; i < op->n_fds; i++)
		h->fds[i] = fds[k++];
	return 0;
}

static void held_close(struct held *h, size_t n_fds)
{
	closep(&h->sock);
	closep(&h->pidfd);
	closep(&h->root_fd);
	for (size_t i = 0; i < n_fds; i++)
		closep(&h->fds[i]);
}

static _Noreturn void performer_main(struct broker *b, size_t i, int sock)
{
	struct op *op = &b->sh->slots[i];
	int keep[] = {
	    sock,	  b->listener, mnl_socket_get_fd(b->diag), mnl_socket_get_fd(b->diag_host),
	    b->cgroup_fd, b->userns_fd};
	sigset_t set;
	int r;

	close_all_but(keep, ARRAY_SIZE(keep));
	r = become_performer(b);
	if (r < 0) {
		log_error("unix broker: a performer could not take the cage user's credentials: %s",
			  strerror(-r));
		_exit(1); /* its calls fail: never performed as the supervisor */
	}
	closep(&b->cgroup_fd);
	closep(&b->userns_fd);
	sigemptyset(&set);
	sigaddset(&set, sig_interrupt());
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	b->n_own = b->next_own = 0;

	for (;;) {
		struct held h;

		if (receive_call(sock, op, &h) < 0)
			_exit(0); /* the supervisor is gone or broke the protocol */
		perform(b, op, &h, 0);
		raise_sigpipe(op, h.pidfd);
		/* The caller goes on as soon as it is answered: from here where that can be. */
		if (op->nr != SYS_sendmmsg) {
			answer(b, op->id, op->val, op->error, false);
			op->answered = true;
		}
		held_close(&h, op->n_fds);
		if (send(sock, "d", 1, MSG_NOSIGNAL) != 1)
			_exit(0);
	}
}

static int spawn(struct broker *b, size_t i)
{
	struct performer *p = &b->perf[i];
	_cleanup_close_ int ours = -1, theirs = -1;
	int sv[2], r;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return negative_errno();
	ours = sv[0];
	theirs = sv[1];
	pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0)
		performer_main(b, i, theirs);
	closep(&theirs);
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (p->pidfd < 0) {
		r = negative_errno();
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return r;
	}
	p->pid = pid;
	p->sock = TAKE_FD(ours);
	return 0;
}

static void on_reply(struct loop_source *s, uint32_t events);

/* Hand the call in slot i to its performer (started if need be). */
static int dispatch(struct broker *b, size_t i)
{
	struct performer *p = &b->perf[i];
	struct op *op = &b->sh->slots[i];
	union {
		char buf[CMSG_SPACE(sizeof(int) * (FDS_MAX + 3))];
		struct cmsghdr align;
	} u = {0};
	struct iovec iov = {.iov_base = "c", .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf};
	struct cmsghdr *c = (struct cmsghdr *)u.buf;
	int fds[FDS_MAX + 3];
	size_t n = 0;
	int r;

	if (!p->pid) {
		r = spawn(b, i);
		if (r == 0)
			r = loop_add(b->loop, &p->src, p->sock, EPOLLIN, on_reply);
		if (r < 0)
			return err_wrap(r, "unix broker: start a performer");
	}
	fds[n++] = op->sock;
	fds[n++] = op->pidfd;
	if (op->judging)
		fds[n++] = op->root_fd;
	for (size_t k = 0; k < op->n_fds; k++)
		fds[n++] = op->fds[k];
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
	clock_gettime(CLOCK_MONOTONIC, &op->started);
	if (sendmsg(p->sock, &mh, MSG_NOSIGNAL) != 1)
		return err_set(negative_errno(), "unix broker: hand a call over");
	op_close(op); /* the performer has them now */
	p->busy = true;
	b->busy++;
	if (!b->ticking) {
		struct itimerspec it = {.it_interval = {0, TICK_MS * 1000000L},
					.it_value = {0, TICK_MS * 1000000L}};

		if (timerfd_settime(b->tfd, 0, &it, NULL) == 0)
			b->ticking = true;
	}
	return 0;
}

/* A performer that died: what it was doing fails; a new one is started for the next call. */
static void performer_gone(struct broker *b, struct performer *p)
{
	loop_del(b->loop, &p->src);
	if (p->pidfd >= 0) {
		(void)syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
		(void)waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &(siginfo_t){0}, WEXITED);
	}
	closep(&p->pidfd);
	closep(&p->sock);
	p->pid = 0;
}

static void slot_done(struct broker *b, struct performer *p)
{
	struct itimerspec off = {0};

	p->busy = false;
	b->busy--;
	if (b->paused && loop_mod(b->loop, &b->src, EPOLLIN) == 0)
		b->paused = false;
	if (b->ticking && b->busy == 0) {
		(void)timerfd_settime(b->tfd, 0, &off, NULL);
		b->ticking = false;
	}
}

static void on_reply(struct loop_source *s, uint32_t events)
{
	struct performer *p = container_of(s, struct performer, src);
	struct broker *b = p->b;
	struct op *op = &b->sh->slots[p - b->perf];
	char byte;
	ssize_t n = recv(p->sock, &byte, 1, MSG_DONTWAIT);

	(void)events;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != 1) {
		performer_gone(b, p);
		if (p->busy && !op->answered)
			answer(b, op->id, 0, -EIO, false);
	} else if (!op->answered) {
		finish_in_loop(b, op);
	}
	if (n == 1)
		tell_refusal(b, op);
	if (p->busy)
		slot_done(b, p);
}

/* Blocked callers of long calls: interrupt the call if the caller has a signal to take (or is
 * gone), as the kernel would have interrupted the caller's own call. */
static void on_tick(struct loop_source *s, uint32_t events)
{
	struct broker *b = container_of(s, struct broker, tick_src);
	struct timespec now;
	uint64_t n;

	(void)events;
	(void)!read(b->tfd, &n, sizeof(n));
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (size_t i = 0; i < PERFORMERS_MAX; i++) {
		struct op *op = &b->sh->slots[i];
		char pnd[32], shd[32], blk[32], ign[32];
		uint64_t pending = 0;
		long ms;

		if (!b->perf[i].busy)
			continue;
		ms = (now.tv_sec - op->started.tv_sec) * 1000 +
		     (now.tv_nsec - op->started.tv_nsec) / 1000000;
		if (ms < SLOW_MS)
			continue;
		if (!cancelled(op)) {
			bool gone = seccomp_notify_id_valid(b->listener, op->id) < 0;

			if (!gone && proc_status_field(op->tid, "SigPnd", pnd, sizeof(pnd)) == 0 &&
			    proc_status_field(op->tid, "ShdPnd", shd, sizeof(shd)) == 0 &&
			    proc_status_field(op->tid, "SigBlk", blk, sizeof(blk)) == 0 &&
			    proc_status_field(op->tid, "SigIgn", ign, sizeof(ign)) == 0)
				pending = (strtoull(pnd, NULL, 16) | strtoull(shd, NULL, 16)) &
					  ~strtoull(blk, NULL, 16) & ~strtoull(ign, NULL, 16);
			if (gone || pending)
				__atomic_store_n(&op->cancel, true, __ATOMIC_RELEASE);
		}
		/* Again at every tick: the first may have come before the call blocked. */
		if (cancelled(op))
			(void)syscall(SYS_pidfd_send_signal, b->perf[i].pidfd, sig_interrupt(),
				      NULL, 0);
	}
}

/* ---- notifications ------------------------------------------------------------------------ */

/* The supervisor performs a call itself only when nothing in it depends on who makes it
 * (no unix path to judge, no ancillary data) and it cannot block: a send on a socket that was
 * non-blocking, or with MSG_DONTWAIT, made with MSG_DONTWAIT whatever the caller changes. */
static bool inline_ok(const struct op *op)
{
	int fl;

	/* A unix peer may read who sent (SO_PASSCRED): that is a performer, never the loop. */
	if (op->judging || op->nr == SYS_connect || op->domain == AF_UNIX)
		return false;
	for (size_t i = 0; i < op->n_msgs; i++)
		if (op->msgs[i].controllen)
			return false;
	if (op->flags & MSG_DONTWAIT)
		return true;
	fl = fcntl(op->sock, F_GETFL);
	return fl >= 0 && (fl & O_NONBLOCK);
}

/* A slot for the next call: an idle performer's, or one not started yet; -1 if all are busy. */
static int free_slot(struct broker *b)
{
	for (size_t i = 0; i < PERFORMERS_MAX; i++)
		if (!b->perf[i].busy)
			return (int)i;
	return -1;
}

static void on_notify(struct loop_source *s, uint32_t events)
{
	struct broker *b = container_of(s, struct broker, src);
	_cleanup_free_ struct mmsghdr *vec = NULL;
	int slot = free_slot(b), r;
	struct op *op;

	(void)events;
	if (slot < 0) {
		/* Every performer is busy: the callers wait in the kernel until one is free. */
		if (loop_mod(b->loop, &b->src, 0) == 0)
			b->paused = true;
		return;
	}
	memset(b->req, 0, sizeof(*b->req));
	if (seccomp_notify_receive(b->listener, b->req) < 0)
		return; /* the caller is gone already (ENOENT), or EINTR */
	b->sh->stats.notified++;
	op = &b->sh->slots[slot];
	op_init(op, b->req);
	r = read_destinations(op, b->req, &vec);
	if (r < 0)
		goto fail;
	if (!op->judging && !b->perform_all) {
		/* Nothing to judge, and an in-kernel layer refuses a pathname socket should the
		 * caller now swap one in: the kernel carries on. Only if what was read was the
		 * caller's (the notification still pending: not a reused pid's memory). */
		if (seccomp_notify_id_valid(b->listener, op->id) == 0)
			answer(b, op->id, 0, 0, true);
		return;
	}
	r = read_for_perform(b, op, b->req, vec);
	if (r < 0)
		goto fail;
	if (seccomp_notify_id_valid(b->listener, op->id) < 0) {
		op_close(op);
		return;
	}
	b->sh->stats.performed++;
	if (inline_ok(op)) {
		struct held h = {.sock = op->sock, .pidfd = op->pidfd, .root_fd = op->root_fd};

		perform(b, op, &h, MSG_DONTWAIT);
		raise_sigpipe(op, op->pidfd);
		finish_in_loop(b, op);
		tell_refusal(b, op);
		op_close(op);
		return;
	}
	r = dispatch(b, (size_t)slot);
	if (r < 0)
		goto fail;
	return;
fail:
	answer(b, op->id, 0, r, false);
	tell_refusal(b, op);
	op_close(op);
}

void broker_perform_all(struct broker *b)
{
	b->perform_all = true;
}

int broker_new(struct loop *loop, const struct broker_config *cfg, struct broker **ret)
{
	/* Taken in every case: what the broker does not get is closed on the way out. */
	_cleanup_close_ int listener = cfg->listener, diag_fd = cfg->diag_fd,
			    cgroup_fd = cfg->cgroup_fd, userns_fd = cfg->userns_fd;
	_cleanup_(broker_freep) struct broker *b = NULL;
	struct sigaction sa = {.sa_handler = on_interrupt};
	int r = 0;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->loop = loop;
	b->supervisor = getpid();
	b->listener = TAKE_FD(listener);
	b->src.fd = b->tick_src.fd = -1;
	b->tfd = -1;
	b->cgroup_fd = TAKE_FD(cgroup_fd);
	b->userns_fd = TAKE_FD(userns_fd);
	b->perform_all = cfg->perform_all;
	b->refused = cfg->refused;
	b->refused_ctx = cfg->refused_ctx;
	b->root = cfg->root;
	b->uid = cfg->uid;
	b->gid = cfg->gid;
	for (size_t i = 0; i < PERFORMERS_MAX; i++) {
		b->perf[i] = (struct performer){.pidfd = -1, .sock = -1, .b = b};
		b->perf[i].src.fd = -1;
	}
	b->diag = mnl_socket_fdopen(diag_fd);
	if (b->diag)
		TAKE_FD(diag_fd);
	else
		r = err_set(-ENOMEM, "unix broker: the cage's sock_diag socket");
	if (r == 0) {
		int64_t ns = socket_netns(mnl_socket_get_fd(b->diag));

		if (ns < 0)
			r = err_set((int)ns, "unix broker: the cage's network namespace");
		else
			b->cage_netns = (ino_t)ns;
	}
	if (r == 0)
		r = nl_open(NETLINK_SOCK_DIAG, &b->diag_host);
	if (r == 0 && cfg->n_groups) {
		b->groups = calloc(cfg->n_groups, sizeof(*b->groups));
		if (b->groups) {
			memcpy(b->groups, cfg->groups, cfg->n_groups * sizeof(*b->groups));
			b->n_groups = cfg->n_groups;
		} else {
			r = -ENOMEM;
		}
	}
	if (r == 0 && (b->root ? b->cgroup_fd < 0 : b->userns_fd < 0))
		r = err_set(-EBADF, "unix broker: no %s for the performers",
			    b->root ? "cgroup" : "user namespace");
	if (r == 0)
		r = unixpath_pin_allowed(cfg->allow, cfg->n_allow, &b->pins, &b->n_pins);
	if (r == 0 && seccomp_notify_alloc(&b->req, NULL) < 0)
		r = err_set(-ENOMEM, "unix broker: notification buffer");
	if (r == 0) {
		/* Pages are given only as calls use them. */
		b->sh = mmap(NULL, sizeof(*b->sh), PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (b->sh == MAP_FAILED) {
			b->sh = NULL;
			r = err_set(negative_errno(), "unix broker: shared memory");
		}
	}
	if (r == 0 && sigaction(sig_interrupt(), &sa, NULL) < 0)
		r = err_set(negative_errno(), "unix broker: signal handler");
	if (r == 0) {
		b->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (b->tfd < 0)
			r = err_set(negative_errno(), "unix broker: timerfd");
	}
	if (r == 0)
		r = loop_add(loop, &b->src, b->listener, EPOLLIN, on_notify);
	if (r == 0)
		r = loop_add(loop, &b->tick_src, b->tfd, EPOLLIN, on_tick);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(b);
	return 0;
}

void broker_free(struct broker *b)
{
	if (!b)
		return;
	/* The performers hold nothing to finish: the cage's processes are gone, or go now. */
	for (size_t i = 0; i < PERFORMERS_MAX; i++)
		if (b->perf[i].pid)
			performer_gone(b, &b->perf[i]);
	loop_del(b->loop, &b->src);
	loop_del(b->loop, &b->tick_src);
	closep(&b->listener);
	closep(&b->tfd);
	closep(&b->cgroup_fd);
	closep(&b->userns_fd);
	if (b->diag)
		mnl_socket_close(b->diag);
	if (b->diag_host)
		mnl_socket_close(b->diag_host);
	seccomp_notify_free(b->req, NULL);
	if (b->sh)
		munmap(b->sh, sizeof(*b->sh));
	free(b->pins);
	free(b->groups);
	free(b);
}

void broker_get_stats(const struct broker *b, struct broker_stats *ret)
{
	*ret = b->sh->stats;
	ret->refused = __atomic_load_n(&b->sh->stats.refused, __ATOMIC_RELAXED);
}
