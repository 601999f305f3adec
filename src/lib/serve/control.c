/* control.c: a named cage's control socket: requests from `sluice exec` and `sluice ls`
 * taken on the supervisor's loop, exec requests passed on to the cage's first process, its
 * reports passed back. What pid 1 says is the cage's word and is parsed as such: bounded, and
 * routed only to the session it names. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "control.h"
#include "log.h"

struct session {
	struct loop_source src; /* watching fd */
	int fd;                 /* the client's connection; -1 once it is gone */
	struct control *ctl;
	unsigned id;
	bool running; /* pid 1 has it and has not said it ended */
};

struct control {
	struct loop *loop;
	struct loop_source listen;
	struct loop_source pid1;
	char *const *env;
	uid_t uid;
	control_info_fn info;
	void *info_data;
	control_handing_fn handing;
	void *handing_data;
	struct session *sessions[CTL_SESSIONS_MAX];
	unsigned next_id;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

int control_parse_lists(const char *buf, size_t len, char ***ret_argv, char ***ret_env)
{
	_cleanup_strv_free_ char **argv = NULL, **env = NULL;
	size_t n_argv = 0, n_env = 0, n = 0, off;
	unsigned long argc;
	char *end;

	if (len == 0 || buf[len - 1] != '\0')
		return err_invalid("a request not ended by NUL");
	/* <argc>\0 first, in decimal digits and no leading zero: an argument may be empty, so
	 * no empty string can end argv. */
	if (buf[0] < '1' || buf[0] > '9')
		return err_invalid("a request without a command");
	argc = strtoul(buf, &end, 10);
	if (*end)
		return err_invalid("a request without a command");
	off = (size_t)(end - buf) + 1;
	for (size_t o = off; o < len; o += strlen(buf + o) + 1)
		if (++n > CTL_ARGS_MAX)
			return err_invalid("a request of more than %d strings", CTL_ARGS_MAX);
	if (argc > n)
		return err_invalid("a request without a command");
	if (!buf[off])
		return err_invalid("a request with an empty command name");
	argv = calloc(argc + 1, sizeof(char *));
	env = calloc(n - argc + 1, sizeof(char *));
	if (!argv || !env)
		return -ENOMEM;
	for (; off < len; off += strlen(buf + off) + 1) {
		char *s;

		if (n_argv == argc) {
			const char *eq = strchr(buf + off, '=');

			if (!eq || eq == buf + off)
				return err_invalid("an environment entry is KEY=VALUE");
		}
		s = strdup(buf + off);
		if (!s)
			return -ENOMEM;
		if (n_argv < argc)
			argv[n_argv++] = s;
		else
			env[n_env++] = s;
	}
	*ret_argv = TAKE_PTR(argv);
	*ret_env = TAKE_PTR(env);
	return 0;
}

int control_put_lists(struct text *out, char *const *argv, char *const *env, size_t max)
{
	size_t need = 24, argc = 0;

	for (char *const *a = argv; a && *a; a++, argc++)
		need += strlen(*a) + 1;
	for (char *const *e = env; e && *e; e++)
		need += strlen(*e) + 1;
	if (out->len + need > max)
		return -E2BIG;
	text_printf(out, "%zu", argc);
	text_putc(out, '\0');
	for (char *const *a = argv; a && *a; a++) {
		text_puts(out, *a);
		text_putc(out, '\0');
	}
	for (char *const *e = env; e && *e; e++) {
		text_puts(out, *e);
		text_putc(out, '\0');
	}
	return text_error(out);
}

/* One packet, with fds if n_fds. */
int control_send_packet(int fd, const void *buf, size_t len, const int *fds, size_t n_fds)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int) * 3)];
		struct cmsghdr align;
	} u = {0};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (n_fds) {
		struct cmsghdr *cm;

		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	}
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	return (size_t)n == len ? 0 : -EIO;
}

/* One packet into buf (NUL-terminated after len bytes; buf has max + 1 bytes); up to 3 fds
 * into fds (-1 where none came; more or other ancillary data are refused). 0 on EOF. */
ssize_t control_recv(int fd, char *buf, size_t max, int fds[3], size_t *ret_n_fds)
{
	struct iovec iov = {.iov_base = buf, .iov_len = max};
	union {
		char buf[CMSG_SPACE(sizeof(int) * 3)];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	size_t got = 0;
	ssize_t n;

	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int f = ((int *)CMSG_DATA(cm))[i];

			if (fds && got < 3)
				fds[got++] = f;
			else
				close(f);
		}
	}
	if (ret_n_fds)
		*ret_n_fds = got;
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (!fds && got)) {
		for (size_t i = 0; i < got; i++)
			close(fds[i]);
		if (ret_n_fds)
			*ret_n_fds = 0;
		return -EMSGSIZE;
	}
	buf[n] = '\0';
	return n;
}

static struct session *session_of(struct control *c, unsigned id)
{
	for (size_t i = 0; i < CTL_SESSIONS_MAX; i++)
		if (c->sessions[i] && c->sessions[i]->id == id)
			return c->sessions[i];
	return NULL;
}

static void session_end(struct session *s)
{
	struct control *c = s->ctl;

	for (size_t i = 0; i < CTL_SESSIONS_MAX; i++)
		if (c->sessions[i] == s)
			c->sessions[i] = NULL;
	loop_del(c->loop, &s->src);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	(void)loop_defer_free(c->loop, free, s);
}

static void session_reply(struct session *s, const char *msg)
{
	if (s->fd >= 0)
		(void)control_send_packet(s->fd, msg, strlen(msg), NULL, 0);
	session_end(s);
}

/* The cage's env with the request's entries added, a later one replacing one of its key. */
static char **merge_env(char *const *base, char *const *extra)
{
	size_t n = 0, m = 0, k = 0;
	char **v;

	for (char *const *e = base; e && *e; e++)
		n++;
	for (char *const *e = extra; e && *e; e++)
		m++;
	v = calloc(n + m + 1, sizeof(char *));
	if (!v)
		return NULL;
	for (char *const *e = base; e && *e; e++)
		v[k++] = *e;
	for (char *const *e = extra; e && *e; e++) {
		size_t key = strcspn(*e, "=") + 1;
		size_t i;

		for (i = 0; i < k && strncmp(v[i], *e, key) != 0; i++)
			;
		v[i] = *e;
		if (i == k)
			k++;
	}
	return v; /* borrowed strings: free only the array */
}

static int start_exec(struct session *s, const char *body, size_t len, const int fds[3])
{
	struct control *c = s->ctl;
	_cleanup_strv_free_ char **argv = NULL, **env = NULL;
	_cleanup_free_ char **all = NULL;
	_cleanup_text_ struct text t = TEXT_INIT;
	size_t ulen = strnlen(body, len);
	char *end;
	long uid;
	int r;

	/* <uid or -1>\0 first: the user the client asked for. The cage's processes are all its
	 * user's (pid 1 has no capabilities left to become another), so only that one is. */
	if (ulen == len)
		return err_invalid("a request without its user");
	uid = strtol(body, &end, 10);
	if (end == body || *end || uid < -1)
		return err_invalid("a request with a bad user");
	if (uid != -1 && (uid_t)uid != c->uid)
		return err_invalid("the cage's commands run as uid %u, its user: exec --user can only "
				   "name that one",
				   (unsigned)c->uid);
	body += ulen + 1;
	len -= ulen + 1;
	r = control_parse_lists(body, len, &argv, &env);
	if (r < 0)
		return r;
	all = merge_env(c->env, env);
	if (!all)
		return -ENOMEM;
	text_printf(&t, "E%u", s->id);
	text_putc(&t, '\0');
	r = control_put_lists(&t, argv, all, CTL_MSG_MAX);
	if (r == -E2BIG)
		return err_invalid("the command and its environment exceed %d bytes", CTL_MSG_MAX);
	if (r < 0)
		return r;
	if (c->handing && (r = c->handing(c->handing_data, fds)) < 0)
		return r;
	r = control_send_packet(c->pid1.fd, t.buf, t.len, fds, 3);
	if (r < 0)
		return err_set(r, "hand the command to the cage");
	s->running = true;
	return 0;
}

static void on_client(struct loop_source *src, uint32_t events)
{
	struct session *s = container_of(src, struct session, src);
	_cleanup_free_ char *buf = malloc(CTL_MSG_MAX + 1);
	int fds[3] = {-1, -1, -1}, r = 0;
	size_t n_fds = 0;
	ssize_t n;
	char out[1100];

	if (!buf)
		return;
	n = control_recv(s->fd, buf, CTL_MSG_MAX, fds, &n_fds);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		/* The client went away: its command gets the hangup a terminal would give, and
		 * the session ends when pid 1 says the command did. */
		if (s->running) {
			char k[32];

			snprintf(k, sizeof(k), "K%u %d", s->id, SIGHUP);
			(void)control_send_packet(s->ctl->pid1.fd, k, strlen(k), NULL, 0);
			loop_del(s->ctl->loop, &s->src);
			close(s->fd);
			s->fd = -1;
			return;
		}
		session_end(s);
		return;
	}
	if (buf[0] == 'E' && !s->running) {
		if (n_fds != 3)
			r = err_invalid("an exec request carries stdin, stdout and stderr");
		else
			r = start_exec(s, buf + 1, (size_t)n - 1, fds);
	} else if (buf[0] == 'K' && s->running) {
		char k[32];
		int sig = atoi(buf + 1);

		if (sig > 0 && sig < 65) {
			snprintf(k, sizeof(k), "K%u %d", s->id, sig);
			(void)control_send_packet(s->ctl->pid1.fd, k, strlen(k), NULL, 0);
		}
	} else if (buf[0] == 'I' && !s->running) {
		_cleanup_text_ struct text t = TEXT_INIT;

		text_putc(&t, 'I');
		s->ctl->info(s->ctl->info_data, &t);
		if (text_error(&t) == 0 && t.len <= CTL_MSG_MAX)
			(void)control_send_packet(s->fd, t.buf, t.len, NULL, 0);
		session_end(s);
	} else {
		r = err_invalid("an unknown request");
	}
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	if (r < 0) {
		snprintf(out, sizeof(out), "F125 %s", err_message(r));
		session_reply(s, out);
	}
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/*
 * Whether the peer may drive the cage: root of this user namespace, holding CAP_SYS_ADMIN,
 * as sluice exec run by root or through sudo is. A cage's own processes never are (they
 * have no capabilities, and a rootless cage's root is another user namespace's), so one
 * that can see this socket still cannot start commands in another cage. The peer's pidfd,
 * alive after its status was read, says the pid was not reused in between.
 */
static bool peer_is_admin(int fd, const struct ucred *cred)
{
	_cleanup_close_ int pidfd = -1, sfd = -1;
	struct stat mine, theirs;
	socklen_t len = sizeof(pidfd);
	unsigned long long eff;
	char path[64], buf[4096];
	const char *at;
	ssize_t n;

	if (cred->uid != 0 || cred->pid <= 0)
		return false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0 && errno != ENOPROTOOPT)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)cred->pid);
	if (stat(path, &theirs) < 0 || stat("/proc/self/ns/user", &mine) < 0 ||
	    theirs.st_ino != mine.st_ino || theirs.st_dev != mine.st_dev)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)cred->pid);
	sfd = open(path, O_RDONLY | O_CLOEXEC);
	n = sfd < 0 ? -1 : read(sfd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	at = strstr(buf, "\nCapEff:");
	if (!at || sscanf(at + 9, "%llx", &eff) != 1 || !(eff & (1ULL << CAP_SYS_ADMIN)))
		return false;
	return pidfd < 0 || syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
}

static void on_accept(struct loop_source *src, uint32_t events)
{
	struct control *c = container_of(src, struct control, listen);
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct session *s;
	size_t slot;
	int fd;

	fd = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	/* The socket is root's alone (0600 in a 0755 root directory); the peer is checked as
	 * well: the file's mode may have been changed, and root without capabilities (a cage's
	 * --user root) is not root enough. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || !peer_is_admin(fd, &cred)) {
		const char *no = "F125 only root with CAP_SYS_ADMIN may use a cage's control socket";

		(void)control_send_packet(fd, no, strlen(no), NULL, 0);
		close(fd);
		return;
	}
	for (slot = 0; slot < CTL_SESSIONS_MAX && c->sessions[slot]; slot++)
		;
	s = slot < CTL_SESSIONS_MAX ? calloc(1, sizeof(*s)) : NULL;
	if (!s) {
		const char *busy = "F125 the cage runs as many exec'd commands as it takes";

		(void)control_send_packet(fd, busy, strlen(busy), NULL, 0);
		close(fd);
		return;
	}
	s->ctl = c;
	s->fd = fd;
	s->id = ++c->next_id;
	if (loop_add(c->loop, &s->src, fd, EPOLLIN, on_client) < 0) {
		close(fd);
		free(s);
		return;
	}
	c->sessions[slot] = s;
}

/* X<id> <status> or F<id> <code> <message> from pid 1. */
static void on_pid1(struct loop_source *src, uint32_t events)
{
	struct control *c = container_of(src, struct control, pid1);
	char buf[1200], out[1200];
	struct session *s;
	unsigned id;
	int code, off = 0;
	ssize_t n;

	n = control_recv(src->fd, buf, sizeof(buf) - 1, NULL, NULL);
	if (n == -EAGAIN || n == -EMSGSIZE)
		return;
	if (n <= 0) {
		loop_del(c->loop, src); /* pid 1 is gone: supervise() sees its exit */
		return;
	}
	if ((buf[0] != 'X' && buf[0] != 'F') ||
	    sscanf(buf + 1, "%u %d%n", &id, &code, &off) != 2 || !(s = session_of(c, id)) ||
	    !s->running)
		return;
	if (buf[0] == 'X')
		snprintf(out, sizeof(out), "X%d", code);
	else
		snprintf(out, sizeof(out), "F%d%.1100s", code, buf + 1 + off);
	s->running = false;
	session_reply(s, out); /* or only ends it, if its client is gone */
}

void control_set_handing(struct control *c, control_handing_fn fn, void *data)
{
	c->handing = fn;
	c->handing_data = data;
}

int control_new(struct loop *l, const char *path, int pid1_fd, char *const *env, uid_t uid,
		control_info_fn info, void *info_data, struct control **ret)
{
	_cleanup_(control_freep) struct control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	int r;

	if (!c)
		return -ENOMEM;
	c->loop = l;
	c->listen.fd = c->pid1.fd = -1;
	c->env = env;
	c->uid = uid;
	c->info = info;
	c->info_data = info_data;
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(-ENAMETOOLONG, "control socket %s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(negative_errno(), "control socket");
	(void)unlink(path);
	/* fchmod before bind is not possible for a socket's file: umask says 0600 instead. */
	{
		mode_t old = umask(0177);

		r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		umask(old);
	}
	if (r < 0)
		return err_set(negative_errno(), "bind %s", path);
	snprintf(c->path, sizeof(c->path), "%s", path); /* control_free unlinks it from here */
	if (listen(fd, 64) < 0)
		return err_set(negative_errno(), "listen on %s", path);
	r = loop_add(l, &c->listen, fd, EPOLLIN, on_accept);
	if (r < 0)
		return err_set(r, "serve %s", path);
	TAKE_FD(fd);
	r = loop_add(l, &c->pid1, pid1_fd, EPOLLIN, on_pid1);
	if (r < 0)
		return err_set(r, "serve %s", path);
	*ret = TAKE_PTR(c);
	return 0;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CTL_SESSIONS_MAX; i++)
		if (c->sessions[i]) {
			struct session *s = c->sessions[i];

			c->sessions[i] = NULL;
			loop_del(c->loop, &s->src);
			if (s->fd >= 0) {
				(void)control_send_packet(s->fd, "F125 the cage went down", 23, NULL, 0);
				close(s->fd);
			}
			free(s);
		}
	if (c->listen.fd >= 0) {
		int fd = c->listen.fd;

		loop_del(c->loop, &c->listen);
		close(fd);
	}
	loop_del(c->loop, &c->pid1); /* borrowed: not closed */
	if (c->path[0])
		(void)unlink(c->path);
	free(c);
}

/* The client side. */

int control_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = negative_errno();

		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int control_send_exec(int fd, long uid, char *const *argv, char *const *env, const int stdio[3])
{
	_cleanup_text_ struct text t = TEXT_INIT;
	int r;

	text_printf(&t, "E%ld", uid);
	text_putc(&t, '\0');
	r = control_put_lists(&t, argv, env, CTL_MSG_MAX);
	if (r == -E2BIG)
		return err_invalid("the command and its environment exceed %d bytes", CTL_MSG_MAX);
	if (r < 0)
		return r;
	r = control_send_packet(fd, t.buf, t.len, stdio, 3);
	if (r < 0) {
		/* Refused at once: the supervisor said why before it closed. */
		char buf[1200];
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

		if (n < 0 && errno == ECONNRESET)
			n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n > 5 && buf[0] == 'F') {
			buf[n] = '\0';
			return err_set_whole(-EACCES, "%s", buf + 5);
		}
		return err_set(r, "send the command to the cage");
	}
	return 0;
}

int control_send_signal(int fd, int sig)
{
	char k[16];

	snprintf(k, sizeof(k), "K%d", sig);
	return control_send_packet(fd, k, strlen(k), NULL, 0);
}

/* Block until a packet arrives (the socket is blocking on the client side). */
static ssize_t recv_reply(int fd, char *buf, size_t max)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	bool reset = false;
	ssize_t n;

	/* A supervisor that refuses says why and closes before reading the request: the
	 * reset comes first, then the answer queued before it. */
	do {
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return negative_errno();
		n = control_recv(fd, buf, max, NULL, NULL);
		if (n == -ECONNRESET && !reset) {
			reset = true;
			n = -EAGAIN;
		}
	} while (n == -EAGAIN || n == -EINTR);
	return n;
}

int control_wait_exec(int fd, int *ret_status, bool *ret_failed)
{
	char buf[1200];
	int code, off = 0;
	ssize_t n;

	n = recv_reply(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return n;
	if (n == 0)
		return -EPIPE;
	if ((buf[0] != 'X' && buf[0] != 'F') || sscanf(buf + 1, "%d%n", &code, &off) != 1)
		return err_set(-EPROTO, "the cage's answer");
	*ret_status = code;
	*ret_failed = buf[0] == 'F';
	if (*ret_failed)
		err_invalid("%s", buf + 1 + off + (buf[1 + off] == ' '));
	return 0;
}

int control_info(int fd, char **ret)
{
	_cleanup_free_ char *buf = malloc(CTL_MSG_MAX + 1);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	if (control_send_packet(fd, "I", 1, NULL, 0) < 0)
		return negative_errno();
	n = recv_reply(fd, buf, CTL_MSG_MAX);
	if (n < 0)
		return n;
	if (n == 0 || buf[0] != 'I')
		return -EPIPE;
	memmove(buf, buf + 1, (size_t)n); /* with its NUL */
	*ret = TAKE_PTR(buf);
	return 0;
}
