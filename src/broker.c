/* broker.c: the cage's seccomp notifications, served on the supervisor's loop. For each call
 * the loop thread reads what it needs from the caller (its address, message and data, with
 * process_vm_readv, then checks the notification is still that caller's), takes a copy of its
 * socket (pidfd_getfd), and either lets the kernel carry on (nothing it judges, and an
 * in-kernel layer behind it) or performs the call: in the loop thread when that cannot block
 * and needs no other credentials, else in one of a few threads that hold the cage user's
 * credentials, whose results the loop thread hands back (writing sendmmsg's lengths, raising
 * SIGPIPE, answering the notification). A performed call is done on the caller's own socket,
 * to the file judged, so a change to the caller's memory or fd table after the check changes
 * nothing. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <seccomp.h>
#include <sys/capability.h>

#include "broker.h"
#include "log.h"
#include "loop.h"
#include "unixpath.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* include/uapi/linux/pidfd.h, Linux 6.9 */
#endif

#define DATA_MAX       (256 * 1024) /* bytes of one performed send (a stream send is cut there) */
#define CONTROL_MAX    (64 * 1024)  /* a send's ancillary data */
#define MSGS_MAX       1024	    /* UIO_MAXIOV: iovecs of a message, messages of a sendmmsg */
#define SCM_FDS_MAX    253	    /* SCM_MAX_FD */
#define PERFORMERS_MAX 8
#define IN_FLIGHT_MAX  16  /* calls performed or waiting; past that, notifications wait */
#define TICK_MS	       50  /* how often a long call's caller is checked for signals */
#define SLOW_MS	       100 /* how long a call runs before its caller is checked */
#define OWN_CACHE      64  /* socket files known to be bound in the cage, held open */

struct msg {
	struct sockaddr_storage name;
	socklen_t namelen;
	bool judge; /* a pathname unix socket: resolved and judged before it is reached */
	char path[UNIX_PATH_MAX + 1];
	int target, target_dir; /* the file judged (O_PATH) and its directory */
	uint8_t *data;
	size_t len;
	uint8_t *control;
	size_t controllen;
	int fds[SCM_FDS_MAX]; /* ours, passed on with SCM_RIGHTS */
	size_t n_fds;
	uint64_t len_at; /* sendmmsg: where the caller's msg_len is */
	ssize_t sent;
};

struct performer;

struct op {
	struct op *next;
	struct broker *b;
	uint64_t id;
	pid_t tid;
	int pidfd;
	int nr;
	int sock;
	int domain, type;
	int root_fd;
	char cwd[PATH_MAX];
	int flags;
	struct msg *msgs;
	size_t n_msgs;
	bool judging; /* some message is judged */
	/* the answer */
	long val;
	int error;
	struct timespec started;
	bool cancel;
	bool answered; /* by the performer */
	struct performer *perf;
};

struct performer {
	struct broker *b;
	pthread_t thread;
	bool started;
	struct op *op; /* being performed */
};

struct broker {
	struct loop *loop;
	int listener;
	struct loop_source src;
	bool paused;
	int efd; /* performers' completions */
	struct loop_source done_src;
	int tfd; /* while calls run in performers: checks their callers for signals */
	struct loop_source tick_src;
	bool ticking;
	struct mnl_socket *diag;
	pthread_mutex_t diag_lock; /* the diag socket and the cache below */
	/* Socket files a socket of the cage is bound to, each held by an O_PATH fd: an inode
	 * held cannot be reused, and a file is bound to at most one socket in its life (bind
	 * makes the file), so the answer stays true, and sock_diag is asked once per file. */
	struct {
		dev_t dev;
		ino_t ino;
		int fd;
	} own[OWN_CACHE];
	size_t n_own, next_own;
	struct unixpath_pin *pins;
	size_t n_pins;
	bool perform_all, switch_creds;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;

	pthread_mutex_t lock;
	pthread_cond_t work;
	struct op *queue, *queue_tail; /* waiting for a performer */
	struct op *done;	       /* performed, to be answered */
	size_t in_flight;	       /* queued, running or done but not answered */
	struct performer perf[PERFORMERS_MAX];
	size_t n_perf, busy;
	bool stopping;

	struct broker_stats stats;
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

/* A line "Key:\tvalue" of /proc/TID/status. */
static int status_field(pid_t tid, const char *key, char *buf, size_t len)
{
	char path[64], line[512];
	size_t k = strlen(key);
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, k) == 0 && line[k] == ':') {
			snprintf(buf, len, "%s", line + k + 1);
			r = 0;
			break;
		}
	fclose(f);
	return r;
}

static int caller_pidfd(pid_t tid)
{
	char tgid[32];
	long fd = syscall(SYS_pidfd_open, tid, PIDFD_THREAD);

	if (fd >= 0 || errno != EINVAL)
		return fd < 0 ? negative_errno() : (int)fd;
	/* Before Linux 6.9 only a thread group has a pidfd. */
	if (status_field(tid, "Tgid", tgid, sizeof(tgid)) < 0)
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

static struct op *op_new(struct broker *b, const struct seccomp_notif *req)
{
	struct op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->b = b;
	op->id = req->id;
	op->tid = (pid_t)req->pid;
	op->nr = req->data.nr;
	op->pidfd = op->sock = op->root_fd = -1;
	return op;
}

static void msgs_release(struct msg *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		closep(&m[i].target);
		closep(&m[i].target_dir);
		for (size_t j = 0; j < m[i].n_fds; j++)
			close(m[i].fds[j]);
		m[i].n_fds = 0;
		free(m[i].data);
		free(m[i].control);
		m[i].data = m[i].control = NULL;
	}
}

static void msgs_free(struct msg *m, size_t n)
{
	msgs_release(m, n);
	free(m);
}

static void op_free(struct op *op)
{
	if (!op)
		return;
	msgs_free(op->msgs, op->n_msgs);
	closep(&op->pidfd);
	closep(&op->sock);
	closep(&op->root_fd);
	free(op);
}

static int op_msgs(struct op *op, size_t n)
{
	op->msgs = calloc(n, sizeof(*op->msgs));
	if (!op->msgs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		op->msgs[i].target = op->msgs[i].target_dir = -1;
	op->n_msgs = n;
	return 0;
}

/* The destination of a message: read, and marked for judging if it names a pathname unix
 * socket (the socket's own family is checked once the socket is in hand). */
static int read_name(struct op *op, struct msg *m, uint64_t addr, uint64_t len)
{
	enum unixpath_kind kind;

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

/* The data of a message, gathered from the caller's iovecs into one buffer, at most *room
 * bytes (what is left of DATA_MAX for the call); cut_ok: a stream may be cut short. */
static int read_data(struct op *op, struct msg *m, const struct iovec *riov, size_t n, size_t *room,
		     bool cut_ok)
{
	struct iovec l;
	size_t total = 0;
	ssize_t got;

	for (size_t i = 0; i < n; i++) {
		if (riov[i].iov_len > SSIZE_MAX - total)
			return -EINVAL;
		total += riov[i].iov_len;
	}
	if (total > *room) {
		if (!cut_ok)
			return -EMSGSIZE;
		total = *room;
	}
	m->data = malloc(total ? total : 1);
	if (!m->data)
		return -ENOMEM;
	l = (struct iovec){.iov_base = m->data, .iov_len = total};
	got = total ? process_vm_readv(op->tid, &l, 1, riov, n, 0) : 0;
	if (got < 0 || (size_t)got != total)
		return -EFAULT;
	m->len = total;
	*room -= total;
	return 0;
}

struct cmsg_ctx {
	struct op *op;
	struct msg *m;
};

/* The caller's own credentials, as SCM_CREDENTIALS may claim them (the kernel's
 * scm_check_creds() for the caller): its pid in its own pid namespace, one of its uids, gids. */
static bool caller_may_claim(const struct op *op, const struct ucred *uc)
{
	char buf[256], *p, *last;
	long ids[4];
	bool uid_ok = false, gid_ok = false;

	if (status_field(op->tid, "NStgid", buf, sizeof(buf)) < 0)
		return false;
	last = NULL;
	for (p = strtok(buf, " \t\n"); p; p = strtok(NULL, " \t\n"))
		last = p;
	if (!last || strtol(last, NULL, 10) != uc->pid)
		return false;
	if (status_field(op->tid, "Uid", buf, sizeof(buf)) == 0 &&
	    sscanf(buf, "%ld %ld %ld %ld", &ids[0], &ids[1], &ids[2], &ids[3]) == 4)
		uid_ok = ids[0] == uc->uid || ids[1] == uc->uid || ids[2] == uc->uid;
	if (status_field(op->tid, "Gid", buf, sizeof(buf)) == 0 &&
	    sscanf(buf, "%ld %ld %ld %ld", &ids[0], &ids[1], &ids[2], &ids[3]) == 4)
		gid_ok = ids[0] == uc->gid || ids[1] == uc->gid || ids[2] == uc->gid;
	return uid_ok && gid_ok;
}

/* Ancillary data of a unix socket, made ours: the fds of SCM_RIGHTS are the caller's, taken
 * with pidfd_getfd; SCM_CREDENTIALS claims the caller's own identity or nothing (as the kernel
 * checks for the caller), and is sent as what the performing thread may claim: the supervisor's
 * pid with the cage user's ids. Everything else passes as it is. */
static int translate_cmsg(struct cmsghdr *c, void *data)
{
	struct cmsg_ctx *x = data;
	struct broker *b = x->op->b;

	if (c->cmsg_level != SOL_SOCKET)
		return 0;
	if (c->cmsg_type == SCM_RIGHTS) {
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(c);

		if (n > SCM_FDS_MAX - x->m->n_fds)
			return -EINVAL;
		for (size_t i = 0; i < n; i++) {
			int theirs, ours;

			memcpy(&theirs, &fds[i], sizeof(theirs));
			ours = take_fd(x->op->pidfd, theirs);
			if (ours < 0)
				return -EBADF;
			x->m->fds[x->m->n_fds++] = ours;
			memcpy(&fds[i], &ours, sizeof(ours));
		}
	} else if (c->cmsg_type == SCM_CREDENTIALS) {
		struct ucred uc;

		if (c->cmsg_len != CMSG_LEN(sizeof(uc)))
			return -EINVAL;
		memcpy(&uc, CMSG_DATA(c), sizeof(uc));
		if (!caller_may_claim(x->op, &uc))
			return -EPERM;
		uc.pid = getpid();
		uc.uid = b->switch_creds ? b->uid : getuid();
		uc.gid = b->switch_creds ? b->gid : getgid();
		memcpy(CMSG_DATA(c), &uc, sizeof(uc));
	}
	return 0;
}

/* A struct msghdr of the caller's, read: destination, data (up to *room) and control. */
static int read_msghdr(struct op *op, struct msg *m, const struct msghdr *h, size_t *room,
		       bool with_data)
{
	_cleanup_free_ struct iovec *riov = NULL;
	int r;

	r = read_name(op, m, (uint64_t)(uintptr_t)h->msg_name, h->msg_name ? h->msg_namelen : 0);
	if (r < 0 || !with_data)
		return r;
	if (h->msg_iovlen > MSGS_MAX)
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
	r = read_data(op, m, riov, h->msg_iovlen, room, op->type == SOCK_STREAM);
	if (r < 0)
		return r;
	if (h->msg_controllen == 0 || !h->msg_control)
		return 0;
	if (h->msg_controllen > CONTROL_MAX)
		return -ENOBUFS;
	m->control = malloc(h->msg_controllen);
	if (!m->control)
		return -ENOMEM;
	m->controllen = h->msg_controllen;
	r = peek(op->tid, (uint64_t)(uintptr_t)h->msg_control, m->control, m->controllen);
	if (r < 0)
		return r;
	if (op->domain != AF_UNIX)
		return 0;
	return broker_cmsg_walk(m->control, m->controllen, translate_cmsg,
				&(struct cmsg_ctx){.op = op, .m = m});
}

/* Phase one, without the socket: only the destinations, which is all a call the kernel may
 * carry on with needs. Returns the number of messages to read, or a negative errno. */
static int read_destinations(struct op *op, const struct seccomp_notif *req,
			     struct mmsghdr **ret_vec)
{
	const __u64 *a = req->data.args;
	struct msghdr h;
	size_t n;
	int r;

	switch (op->nr) {
	case SYS_connect:
	case SYS_sendto:
		r = op_msgs(op, 1);
		if (r == 0)
			r = op->nr == SYS_connect
				? read_name(op, &op->msgs[0], a[1], (uint32_t)a[2])
				: read_name(op, &op->msgs[0], a[4], (uint32_t)a[5]);
		if (op->nr == SYS_sendto)
			op->flags = (int)a[3];
		return r;
	case SYS_sendmsg:
		op->flags = (int)a[2];
		r = peek(op->tid, a[1], &h, sizeof(h));
		if (r == 0)
			r = op_msgs(op, 1);
		if (r == 0)
			r = read_msghdr(op, &op->msgs[0], &h, NULL, false);
		return r;
	case SYS_sendmmsg:
		op->flags = (int)a[3];
		n = (uint32_t)a[2] > MSGS_MAX ? MSGS_MAX : (uint32_t)a[2];
		if (n == 0)
			return 0;
		*ret_vec = calloc(n, sizeof(**ret_vec));
		if (!*ret_vec)
			return -ENOMEM;
		r = peek(op->tid, a[1], *ret_vec, n * sizeof(**ret_vec));
		if (r == 0)
			r = op_msgs(op, n);
		for (size_t i = 0; r == 0 && i < n; i++) {
			op->msgs[i].len_at =
			    a[1] + i * sizeof(struct mmsghdr) + offsetof(struct mmsghdr, msg_len);
			r = read_msghdr(op, &op->msgs[i], &(*ret_vec)[i].msg_hdr, NULL, false);
		}
		return r;
	default:
		return -ENOSYS;
	}
}

/* A message read again, with its data: what phase one read is forgotten (the caller may
 * have changed it since; what is performed is what phase two reads). */
static void msg_reset(struct msg *m)
{
	uint64_t len_at = m->len_at;

	closep(&m->target);
	closep(&m->target_dir);
	for (size_t j = 0; j < m->n_fds; j++)
		close(m->fds[j]);
	free(m->data);
	free(m->control);
	*m = (struct msg){.target = -1, .target_dir = -1, .len_at = len_at};
}

/* /proc/self/fd/N (and /dev/fd/N) names the caller's own fd N: that file is the target. */
static int self_fd_target(struct op *op, struct msg *m)
{
	static const char *const prefixes[] = {"/proc/self/fd/", "/proc/thread-self/fd/",
					       "/dev/fd/"};
	const char *s = NULL;
	char *end;
	long fd;

	for (size_t i = 0; i < ARRAY_SIZE(prefixes) && !s; i++)
		if (startswith(m->path, prefixes[i]))
			s = m->path + strlen(prefixes[i]);
	if (!s || *s < '0' || *s > '9')
		return 0;
	fd = strtol(s, &end, 10);
	if (*end || fd > INT_MAX)
		return 0;
	m->target = take_fd(op->pidfd, (int)fd);
	return m->target < 0 ? m->target : 0;
}

/* Phase two, for a call performed here: the socket, the data, and for what is judged the
 * caller's root and working directory. */
static int read_for_perform(struct op *op, const struct seccomp_notif *req,
			    const struct mmsghdr *vec)
{
	const __u64 *a = req->data.args;
	size_t room = DATA_MAX;
	socklen_t len = sizeof(int);
	char path[64];
	struct msghdr h;
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

	switch (op->nr) {
	case SYS_connect:
		break;
	case SYS_sendto: {
		struct iovec riov = {.iov_base = (void *)(uintptr_t)a[1], .iov_len = (size_t)a[2]};

		r = read_data(op, &op->msgs[0], &riov, 1, &room, op->type == SOCK_STREAM);
		break;
	}
	case SYS_sendmsg:
		r = peek(op->tid, a[1], &h, sizeof(h));
		if (r == 0) {
			msg_reset(&op->msgs[0]);
			r = read_msghdr(op, &op->msgs[0], &h, &room, true);
		}
		break;
	case SYS_sendmmsg:
		for (size_t i = 0; i < op->n_msgs; i++) {
			msg_reset(&op->msgs[i]);
			r = read_msghdr(op, &op->msgs[i], &vec[i].msg_hdr, &room, true);
			/* What does not fit waits for the caller's next sendmmsg, as when the
			 * kernel stops early. */
			if (r < 0 && i > 0 && (r == -EMSGSIZE || room == 0)) {
				msgs_release(op->msgs + i, op->n_msgs - i);
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
			return r;
	return 0;
}

/* unixpath_judge(), with the files known to be the cage's own answered from the cache. */
static int judge_cached(struct broker *b, struct msg *m, enum unixpath_verdict *ret)
{
	struct stat st;
	int r;

	if (fstat(m->target, &st) < 0)
		return negative_errno();
	for (size_t i = 0; i < b->n_own; i++)
		if (b->own[i].dev == st.st_dev && b->own[i].ino == st.st_ino) {
			*ret = UNIXPATH_IN_CAGE;
			return 0;
		}
	r = unixpath_judge(m->target, m->target_dir, b->pins, b->n_pins, b->diag, ret);
	if (r == 0 && *ret == UNIXPATH_IN_CAGE) {
		size_t i = b->n_own < OWN_CACHE ? b->n_own++ : b->next_own++ % OWN_CACHE;
		int fd = fcntl(m->target, F_DUPFD_CLOEXEC, 3);

		if (b->own[i].fd > 0)
			close(b->own[i].fd);
		b->own[i].fd = fd;
		b->own[i].dev = fd >= 0 ? st.st_dev : 0;
		b->own[i].ino = fd >= 0 ? st.st_ino : 0;
	}
	return r;
}

/* Judge a message's pathname destination and point it at the file judged. */
static int judge(struct op *op, struct msg *m)
{
	struct broker *b = op->b;
	struct sockaddr_un *sun = (struct sockaddr_un *)&m->name;
	enum unixpath_verdict v;
	int r;

	if (m->target < 0) {
		r = unixpath_resolve(op->root_fd, op->cwd, m->path, &m->target, &m->target_dir);
		if (r < 0)
			return r;
	}
	pthread_mutex_lock(&b->diag_lock);
	r = judge_cached(b, m, &v);
	pthread_mutex_unlock(&b->diag_lock);
	if (r < 0) {
		log_debug("unix: judging %s: %s: refused", m->path, strerror(-r));
		v = UNIXPATH_REFUSED;
	}
	if (v == UNIXPATH_REFUSED) {
		__atomic_add_fetch(&b->stats.refused, 1, __ATOMIC_RELAXED);
		log_debug("unix: refused %s to %s (the socket it reaches is neither the cage's own "
			  "nor allowed)",
			  op->nr == SYS_connect ? "connect" : "send", m->path);
		return -EPERM;
	}
	/* The file judged, whatever the caller's path now leads to. */
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "/proc/thread-self/fd/%d", m->target);
	m->namelen =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sun->sun_path) + 1);
	return 0;
}

/* Whether the call was interrupted for its caller's sake (else an EINTR is a stray signal of
 * ours, and the call goes on). */
static bool cancelled(struct op *op)
{
	return __atomic_load_n(&op->cancel, __ATOMIC_ACQUIRE);
}

static void perform(struct op *op)
{
	int r;

	for (size_t i = 0; i < op->n_msgs; i++)
		if (op->msgs[i].judge && (r = judge(op, &op->msgs[i])) < 0) {
			op->error = r;
			return;
		}
	if (op->nr == SYS_connect) {
		struct msg *m = &op->msgs[0];

		do
			r = connect(op->sock, (struct sockaddr *)&m->name, m->namelen);
		while (r < 0 && errno == EINTR && !cancelled(op));
		op->error = r < 0 ? negative_errno() : 0;
		return;
	}
	for (size_t i = 0; i < op->n_msgs; i++) {
		struct msg *m = &op->msgs[i];
		size_t done = 0;
		ssize_t n;

		/* A stream send that blocks goes on until all is sent, as the caller's would,
		 * unless the caller is interrupted (then it says how much went). */
		do {
			struct iovec iov = {.iov_base = m->data + done, .iov_len = m->len - done};
			struct msghdr h = {
			    .msg_name = m->namelen ? &m->name : NULL,
			    .msg_namelen = m->namelen,
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = done ? NULL : m->control,
			    .msg_controllen = done ? 0 : m->controllen,
			};

			/* Never MSG_ZEROCOPY: the pages sent would be the supervisor's, reused
			 * before the kernel is done with them. */
			n = sendmsg(op->sock, &h, (op->flags & ~MSG_ZEROCOPY) | MSG_NOSIGNAL);
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

/* Whether finish() needs the loop thread's privileges (writing into the caller's memory). */
static bool finish_in_loop(const struct op *op)
{
	return op->nr == SYS_sendmmsg;
}

/* The call's answer; SIGPIPE through the caller's pidfd needs only the caller's uid, which a
 * performer has. */
static void finish(struct broker *b, struct op *op)
{
	if (op->nr == SYS_sendmmsg && !op->error)
		for (size_t i = 0; i < op->n_msgs && op->msgs[i].sent > 0; i++) {
			unsigned len = (unsigned)op->msgs[i].sent;

			(void)poke(op->tid, op->msgs[i].len_at, &len, sizeof(len));
		}
	/* MSG_NOSIGNAL was ours: the caller's send would have raised SIGPIPE. */
	if (op->error == -EPIPE && op->nr != SYS_connect && !(op->flags & MSG_NOSIGNAL))
		(void)syscall(SYS_pidfd_send_signal, op->pidfd, SIGPIPE, NULL, 0);
	answer(b, op->id, op->val, op->error, false);
}

/* ---- performers ------------------------------------------------------------------------ */

/* The cage user's credentials for this thread alone (the raw system calls: glibc's wrappers
 * would change every thread), and no capabilities. */
static int become_cage_user(struct broker *b)
{
	cap_t none;
	int r;

	if (syscall(SYS_setgroups, b->n_groups, b->groups) < 0 ||
	    syscall(SYS_setresgid, b->gid, b->gid, b->gid) < 0 ||
	    syscall(SYS_setresuid, b->uid, b->uid, b->uid) < 0)
		return negative_errno();
	none = cap_init();
	if (!none)
		return -ENOMEM;
	r = cap_set_proc(none) < 0 ? negative_errno() : 0; /* this thread's, in libcap 2.66 */
	cap_free(none);
	return r;
}

static void *performer_main(void *arg)
{
	struct performer *p = arg;
	struct broker *b = p->b;
	uint64_t one = 1;
	sigset_t set;
	int cred = 0;

	if (b->switch_creds)
		cred = become_cage_user(b);
	if (cred < 0)
		log_error("unix broker: take the cage user's credentials: %s", strerror(-cred));
	sigemptyset(&set);
	sigaddset(&set, sig_interrupt());
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	pthread_mutex_lock(&b->lock);
	for (;;) {
		struct op *op;

		while (!b->queue && !b->stopping)
			pthread_cond_wait(&b->work, &b->lock);
		if (b->stopping)
			break;
		op = b->queue;
		b->queue = op->next;
		if (!b->queue)
			b->queue_tail = NULL;
		p->op = op;
		op->perf = p;
		pthread_mutex_unlock(&b->lock);

		if (cred < 0)
			op->error = -EPERM; /* fail closed: never as the supervisor */
		else
			perform(op);
		/* The caller goes on as soon as it is answered: from here where that can be. */
		op->answered = !finish_in_loop(op);
		if (op->answered)
			finish(b, op);

		pthread_mutex_lock(&b->lock);
		p->op = NULL;
		op->perf = NULL;
		b->busy--;
		op->next = b->done;
		b->done = op;
		(void)!write(b->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

static int dispatch(struct broker *b, struct op *op)
{
	int r = 0;

	clock_gettime(CLOCK_MONOTONIC, &op->started);
	pthread_mutex_lock(&b->lock);
	if (b->busy == b->n_perf && b->n_perf < PERFORMERS_MAX) {
		struct performer *p = &b->perf[b->n_perf];

		p->b = b;
		r = -pthread_create(&p->thread, NULL, performer_main, p);
		if (r == 0) {
			p->started = true;
			b->n_perf++;
		}
	}
	if (r == 0 || b->n_perf > 0) {
		r = 0;
		op->next = NULL;
		if (b->queue_tail)
			b->queue_tail->next = op;
		else
			b->queue = op;
		b->queue_tail = op;
		b->busy++;
		b->in_flight++;
		pthread_cond_signal(&b->work);
	}
	pthread_mutex_unlock(&b->lock);
	if (r == 0 && !b->ticking) {
		struct itimerspec it = {.it_interval = {0, TICK_MS * 1000000L},
					.it_value = {0, TICK_MS * 1000000L}};

		if (timerfd_settime(b->tfd, 0, &it, NULL) == 0)
			b->ticking = true;
	}
	return r;
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
	pthread_mutex_lock(&b->lock);
	for (size_t i = 0; i < b->n_perf; i++) {
		struct op *op = b->perf[i].op;
		char pnd[32], shd[32], blk[32], ign[32];
		uint64_t pending;
		long ms;

		if (!op)
			continue;
		ms = (now.tv_sec - op->started.tv_sec) * 1000 +
		     (now.tv_nsec - op->started.tv_nsec) / 1000000;
		if (ms < SLOW_MS)
			continue;
		if (!cancelled(op)) {
			bool gone = seccomp_notify_id_valid(b->listener, op->id) < 0;

			pending = 0;
			if (!gone && status_field(op->tid, "SigPnd", pnd, sizeof(pnd)) == 0 &&
			    status_field(op->tid, "ShdPnd", shd, sizeof(shd)) == 0 &&
			    status_field(op->tid, "SigBlk", blk, sizeof(blk)) == 0 &&
			    status_field(op->tid, "SigIgn", ign, sizeof(ign)) == 0)
				pending = (strtoull(pnd, NULL, 16) | strtoull(shd, NULL, 16)) &
					  ~strtoull(blk, NULL, 16) & ~strtoull(ign, NULL, 16);
			if (gone || pending)
				__atomic_store_n(&op->cancel, true, __ATOMIC_RELEASE);
		}
		/* Again at every tick: the first may have come before the call blocked. */
		if (cancelled(op))
			pthread_kill(b->perf[i].thread, sig_interrupt());
	}
	pthread_mutex_unlock(&b->lock);
}

static void on_done(struct loop_source *s, uint32_t events)
{
	struct broker *b = container_of(s, struct broker, done_src);
	struct op *done;
	uint64_t n;

	(void)events;
	(void)!read(b->efd, &n, sizeof(n));
	pthread_mutex_lock(&b->lock);
	done = b->done;
	b->done = NULL;
	pthread_mutex_unlock(&b->lock);
	while (done) {
		struct op *next = done->next;

		if (!done->answered)
			finish(b, done);
		op_free(done);
		b->in_flight--;
		done = next;
	}
	if (b->paused && b->in_flight < IN_FLIGHT_MAX && loop_mod(b->loop, &b->src, EPOLLIN) == 0)
		b->paused = false;
	if (b->ticking && b->in_flight == 0) {
		struct itimerspec off = {0};

		(void)timerfd_settime(b->tfd, 0, &off, NULL);
		b->ticking = false;
	}
}

/* ---- notifications ------------------------------------------------------------------------ */

static bool may_block(const struct op *op)
{
	int fl = fcntl(op->sock, F_GETFL);

	if (fl >= 0 && (fl & O_NONBLOCK))
		return false;
	return op->nr == SYS_connect || !(op->flags & MSG_DONTWAIT);
}

static void on_notify(struct loop_source *s, uint32_t events)
{
	struct broker *b = container_of(s, struct broker, src);
	_cleanup_free_ struct mmsghdr *vec = NULL;
	struct op *op;
	int r;

	(void)events;
	memset(b->req, 0, sizeof(*b->req));
	if (seccomp_notify_receive(b->listener, b->req) < 0)
		return; /* the caller is gone already (ENOENT), or EINTR */
	b->stats.notified++;
	op = op_new(b, b->req);
	if (!op) {
		answer(b, b->req->id, 0, -ENOMEM, false);
		return;
	}
	r = read_destinations(op, b->req, &vec);
	if (r < 0)
		goto fail;
	if (!op->judging && !b->perform_all) {
		/* Nothing to judge, and an in-kernel layer refuses a pathname socket should the
		 * caller now swap one in: the kernel carries on. Only if what was read was the
		 * caller's (the notification still pending: not a reused pid's memory). */
		if (seccomp_notify_id_valid(b->listener, op->id) == 0)
			answer(b, op->id, 0, 0, true);
		op_free(op);
		return;
	}
	r = read_for_perform(op, b->req, vec);
	if (r < 0)
		goto fail;
	if (seccomp_notify_id_valid(b->listener, op->id) < 0) {
		op_free(op);
		return;
	}
	b->stats.performed++;
	if (!b->switch_creds && !may_block(op)) {
		perform(op);
		finish(b, op);
		op_free(op);
		return;
	}
	r = dispatch(b, op);
	if (r < 0)
		goto fail;
	if (b->in_flight >= IN_FLIGHT_MAX && loop_mod(b->loop, &b->src, 0) == 0)
		b->paused = true;
	return;
fail:
	answer(b, op->id, 0, r, false);
	op_free(op);
}

int broker_new(struct loop *loop, const struct broker_config *cfg, struct broker **ret)
{
	struct sigaction sa = {.sa_handler = on_interrupt};
	struct broker *b;
	int r;

	b = calloc(1, sizeof(*b));
	if (!b) {
		close(cfg->listener);
		close(cfg->diag_fd);
		return -ENOMEM;
	}
	b->loop = loop;
	b->listener = cfg->listener;
	b->src.fd = b->done_src.fd = b->tick_src.fd = -1;
	b->efd = b->tfd = -1;
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->diag_lock, NULL);
	pthread_cond_init(&b->work, NULL);
	b->perform_all = cfg->perform_all;
	b->switch_creds = cfg->switch_creds;
	b->uid = cfg->uid;
	b->gid = cfg->gid;
	if (cfg->diag_fd >= 0) {
		b->diag = mnl_socket_fdopen(cfg->diag_fd);
		if (!b->diag)
			close(cfg->diag_fd);
	}
	r = b->diag ? 0 : err_set(-ENOMEM, "unix broker: the cage's sock_diag socket");
	if (r == 0 && cfg->n_groups) {
		b->groups = calloc(cfg->n_groups, sizeof(*b->groups));
		if (b->groups) {
			memcpy(b->groups, cfg->groups, cfg->n_groups * sizeof(*b->groups));
			b->n_groups = cfg->n_groups;
		} else {
			r = -ENOMEM;
		}
	}
	if (r == 0)
		r = unixpath_pin_allowed(cfg->allow, cfg->n_allow, &b->pins, &b->n_pins);
	if (r == 0 && seccomp_notify_alloc(&b->req, &b->resp) < 0)
		r = err_set(-ENOMEM, "unix broker: notification buffers");
	if (r == 0 && sigaction(sig_interrupt(), &sa, NULL) < 0)
		r = err_set(negative_errno(), "unix broker: signal handler");
	if (r == 0) {
		b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		b->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (b->efd < 0 || b->tfd < 0)
			r = err_set(negative_errno(), "unix broker: eventfd, timerfd");
	}
	if (r == 0)
		r = loop_add(loop, &b->src, b->listener, EPOLLIN, on_notify);
	if (r == 0)
		r = loop_add(loop, &b->done_src, b->efd, EPOLLIN, on_done);
	if (r == 0)
		r = loop_add(loop, &b->tick_src, b->tfd, EPOLLIN, on_tick);
	if (r < 0) {
		broker_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

void broker_free(struct broker *b)
{
	if (!b)
		return;
	/* Calls still running (on a host socket that takes nothing, say) are interrupted until
	 * their threads are back; then the threads end. */
	pthread_mutex_lock(&b->lock);
	b->stopping = true;
	for (struct op *op = b->queue; op; op = op->next)
		op->cancel = true;
	pthread_cond_broadcast(&b->work);
	for (;;) {
		bool running = false;

		for (size_t i = 0; i < b->n_perf; i++)
			if (b->perf[i].op) {
				running = true;
				__atomic_store_n(&b->perf[i].op->cancel, true, __ATOMIC_RELEASE);
				pthread_kill(b->perf[i].thread, sig_interrupt());
			}
		if (!running)
			break;
		pthread_mutex_unlock(&b->lock);
		usleep(2000);
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	for (size_t i = 0; i < b->n_perf; i++)
		pthread_join(b->perf[i].thread, NULL);
	for (struct op *op = b->done, *next; op; op = next) {
		next = op->next;
		op_free(op);
	}
	for (struct op *op = b->queue, *next; op; op = next) {
		next = op->next;
		op_free(op);
	}
	loop_del(b->loop, &b->src);
	loop_del(b->loop, &b->done_src);
	loop_del(b->loop, &b->tick_src);
	closep(&b->listener);
	closep(&b->efd);
	closep(&b->tfd);
	if (b->diag)
		mnl_socket_close(b->diag);
	for (size_t i = 0; i < b->n_own; i++)
		if (b->own[i].fd > 0)
			close(b->own[i].fd);
	seccomp_notify_free(b->req, b->resp);
	free(b->pins);
	free(b->groups);
	pthread_cond_destroy(&b->work);
	pthread_mutex_destroy(&b->lock);
	pthread_mutex_destroy(&b->diag_lock);
	free(b);
}

void broker_get_stats(const struct broker *b, struct broker_stats *ret)
{
	*ret = b->stats;
	ret->refused = __atomic_load_n(&b->stats.refused, __ATOMIC_RELAXED);
}
