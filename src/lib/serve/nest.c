/* nest.c: a --nest cage's socket for child cages (nest.h), served on the supervisor's loop:
 * each request is checked for form here, and run as a child cage by a process started for
 * it in the cage's netns; its status goes back to the asker. What the child may ask for is
 * the child's program's to check (plan_check_within()), before it makes anything. */
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "caps.h"
#include "control.h"
#include "log.h"
#include "nest.h"

struct nest_session {
	struct loop_source src;  /* the asker's connection */
	struct loop_source exit; /* the child's supervisor's pidfd, while it runs */
	struct nest *n;
	size_t slot;
	int fd; /* -1 once the asker is gone */
	pid_t pid;
};

struct nest {
	struct loop *loop;
	struct loop_source listen;
	char name[64];
	uid_t uid;
	unsigned depth;
	int userns_fd, netns_fd, mnt_fd;
	dev_t netns_dev;
	ino_t netns_ino;
	int life[2]; /* every child has the read end; this process alone the write end */
	char *reach;
	struct nest_session *sessions[NEST_SESSIONS_MAX];
};

static void session_free(void *p)
{
	free(p);
}

static void session_end(struct nest_session *s)
{
	struct nest *n = s->n;
	int pidfd = s->exit.fd;

	loop_del(n->loop, &s->src);
	loop_del(n->loop, &s->exit); /* which forgets its fd */
	if (s->fd >= 0)
		close(s->fd);
	if (pidfd >= 0)
		close(pidfd);
	n->sessions[s->slot] = NULL;
	(void)loop_defer_free(n->loop, session_free, s);
}

static void reply(struct nest_session *s, const char *msg)
{
	if (s->fd >= 0)
		(void)control_send_packet(s->fd, msg, strlen(msg), NULL, 0);
}

/* The child's supervisor ended: its status is the asker's. */
static void on_child_exit(struct loop_source *src, uint32_t events)
{
	struct nest_session *s = container_of(src, struct nest_session, exit);
	siginfo_t si = {0};
	char out[32];

	if (waitid((idtype_t)P_PIDFD, (id_t)src->fd, &si, WEXITED | WNOHANG) < 0 || !si.si_pid)
		return;
	snprintf(out, sizeof(out), "X%d",
		 si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status);
	reply(s, out);
	session_end(s);
}

/* In the child: stdio, the parent's mount namespace at 3, the environment at 4, the
 * lifeline at 5; nothing else. */
static _Noreturn void child_exec(struct nest *n, pid_t supervisor, const char *cwd, char **argv,
				 int env_fd, const int fds[3])
{
	int keep[6] = {fds[0], fds[1], fds[2], n->mnt_fd, env_fd, n->life[0]};
	char nested[96], *envp[5], *cmd[CTL_ARGS_MAX + 2];
	_cleanup_text_ struct text reach = TEXT_INIT, dir = TEXT_INIT;
	size_t argc = 0;
	sigset_t none;

	if (setsid() < 0 || setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0}) < 0 || chdir("/") < 0)
		_exit(125);
	/* An unprivileged parent's child is made in the parent's user namespace, which this
	 * process (its owner's) enters with every capability there; it keeps across exec only
	 * the two that enter the parent's mounts (setns needs CAP_SYS_ADMIN over them and
	 * CAP_SYS_CHROOT), and its program drops them once the child cage's first process is
	 * made. What it then makes is an unprivileged cage nested in the parent's. */
	if (n->userns_fd >= 0) {
		static const cap_value_t mounts[] = {CAP_SYS_ADMIN, CAP_SYS_CHROOT};

		if (setns(n->userns_fd, CLONE_NEWUSER) < 0 ||
		    caps_keep_across_exec(mounts, ARRAY_SIZE(mounts)) < 0)
			_exit(125);
	}
	/* After the credentials changed (which clears it), and checked: the supervisor may have
	 * gone before. */
	if (setns(n->netns_fd, CLONE_NEWNET) < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 ||
	    getppid() != supervisor)
		_exit(125);
	/* Out of the way of 0-5 first, then into place. */
	for (int i = 0; i < 6; i++) {
		keep[i] = fcntl(keep[i], F_DUPFD, 10);
		if (keep[i] < 0)
			_exit(125);
	}
	for (int i = 0; i < 6; i++)
		if (dup2(keep[i], i) < 0)
			_exit(125);
	(void)syscall(SYS_close_range, 6U, ~0U, 0U);
	for (int sig = 1; sig < _NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* Its own environment is this, not the asker's: the program runs as root here. */
	snprintf(nested, sizeof(nested), "SLUICE_NESTED=%s:%u:%u", n->name, (unsigned)n->uid,
		 n->depth + 1);
	text_printf(&reach, "SLUICE_NESTED_REACH=%s", n->reach);
	text_printf(&dir, "SLUICE_NESTED_CWD=%s", cwd);
	if (text_error(&reach) || text_error(&dir))
		_exit(125);
	envp[0] = (char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	envp[1] = nested;
	envp[2] = reach.buf;
	envp[3] = dir.buf;
	envp[4] = NULL;
	cmd[argc++] = (char *)"sluice";
	for (char **a = argv; *a && argc < CTL_ARGS_MAX + 1; a++)
		cmd[argc++] = *a;
	cmd[argc] = NULL;
	execve("/proc/self/exe", cmd, envp);
	/* The asker's stderr is this one's: the report goes there, as its run's would. */
	{
		char msg[160];
		int len = snprintf(msg, sizeof(msg), "sluice: start a child cage of \"%s\": %s\n",
				   n->name, strerror(errno));

		(void)!write(STDERR_FILENO, msg, len > 0 ? (size_t)len : 0);
	}
	_exit(125);
}

/* The child command's environment, for the child's program to read at fd 4. */
static int env_memfd(char **env)
{
	int fd = (int)syscall(SYS_memfd_create, "sluice-nest-env", MFD_CLOEXEC);

	if (fd < 0)
		return negative_errno();
	for (char **e = env; *e; e++)
		if (write(fd, *e, strlen(*e) + 1) < 0) {
			int r = negative_errno();

			close(fd);
			return r;
		}
	(void)lseek(fd, 0, SEEK_SET);
	return fd;
}

/* N<cwd>\0<lists>: start the child's program for it. */
static int start(struct nest_session *s, const char *body, size_t len, const int fds[3])
{
	_cleanup_strv_free_ char **argv = NULL, **env = NULL;
	_cleanup_close_ int env_fd = -1, pidfd = -1;
	size_t cwdlen = strnlen(body, len);
	pid_t pid, self = getpid();
	sigset_t all, old;
	int r;

	if (cwdlen == len || body[0] != '/')
		return err_invalid("a child cage's request names its working directory first");
	r = control_parse_lists(body + cwdlen + 1, len - cwdlen - 1, &argv, &env);
	if (r < 0)
		return r;
	if (!streq(argv[0], "run") && !streq(argv[0], "up"))
		return err_invalid("a child cage is made by sluice run or sluice up, not %s",
				   argv[0]);
	if (s->n->depth >= NEST_DEPTH_MAX)
		return err_invalid("cage \"%s\" is %u levels deep already: no child cage below it",
				   s->n->name, s->n->depth);
	env_fd = env_memfd(env);
	if (env_fd < 0)
		return err_set(env_fd, "the child cage's environment");
	/* Signals blocked across fork: the child resets them before it can take one. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0)
		child_exec(s->n, self, body, argv, env_fd, fds);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		return err_set(negative_errno(), "start a child cage");
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		r = negative_errno();
		kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		return err_set(r, "watch a child cage");
	}
	r = loop_add(s->n->loop, &s->exit, pidfd, EPOLLIN, on_child_exit);
	if (r < 0) {
		(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		(void)waitpid(pid, NULL, 0);
		return err_set(r, "watch a child cage");
	}
	TAKE_FD(pidfd);
	s->pid = pid;
	return 0;
}

static void on_asker(struct loop_source *src, uint32_t events)
{
	struct nest_session *s = container_of(src, struct nest_session, src);
	_cleanup_free_ char *buf = malloc(CTL_MSG_MAX + 1);
	int fds[3] = {-1, -1, -1}, r = 0;
	size_t n_fds = 0;
	char out[1100];
	ssize_t n;

	if (!buf)
		return;
	n = control_recv(s->fd, buf, CTL_MSG_MAX, fds, &n_fds);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		/* The asker went away: its child goes too (and is waited for). */
		if (s->pid > 0) {
			(void)syscall(SYS_pidfd_send_signal, s->exit.fd, SIGTERM, NULL, 0);
			loop_del(s->n->loop, &s->src);
			close(s->fd);
			s->fd = -1;
			return;
		}
		session_end(s);
		return;
	}
	if (buf[0] == 'N' && s->pid == 0) {
		if (n_fds != 3)
			r = err_invalid("a child cage's request carries stdin, stdout and stderr");
		else
			r = start(s, buf + 1, (size_t)n - 1, fds);
	} else if (s->pid > 0) {
		/* While its child runs a session takes signals for it, and nothing else. */
		int sig = buf[0] == 'K' ? atoi(buf + 1) : 0;

		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT ||
		    sig == SIGUSR1 || sig == SIGUSR2 || sig == SIGWINCH)
			(void)syscall(SYS_pidfd_send_signal, s->exit.fd, sig, NULL, 0);
	} else {
		r = err_invalid("an unknown request");
	}
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	if (r < 0) {
		snprintf(out, sizeof(out), "F125 %s", err_message(r));
		reply(s, out);
		session_end(s);
	}
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* include/uapi/asm-generic/socket.h, Linux 6.5 */
#endif

/* The asker is the cage's: a process in its netns, or a performer of this supervisor's unix
 * broker connecting for one (broker.h). The socket is in the cage's /run, but a process
 * outside can reach the cage's files through /proc/PID/root: its uid alone says too little.
 * pid is looked at through /proc, then the peer's pidfd says it is still the peer's. */
static bool peer_in_cage(const struct nest *n, int fd, pid_t pid)
{
	_cleanup_close_ int pidfd = -1, ns = -1;
	socklen_t len = sizeof(pidfd);
	char path[64], ppid[32];
	bool ours = false;
	struct stat st;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0 || pidfd < 0 || pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns >= 0 && fstat(ns, &st) == 0)
		ours = st.st_dev == n->netns_dev && st.st_ino == n->netns_ino;
	if (!ours)
		ours = proc_status_field(pid, "PPid", ppid, sizeof(ppid)) == 0 && atoi(ppid) == getpid();
	return ours && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
}

static void on_accept(struct loop_source *src, uint32_t events)
{
	struct nest *n = container_of(src, struct nest, listen);
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct nest_session *s;
	size_t slot;
	int fd;

	fd = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != n->uid && cred.uid != 0) || !peer_in_cage(n, fd, cred.pid)) {
		close(fd);
		return;
	}
	for (slot = 0; slot < NEST_SESSIONS_MAX && n->sessions[slot]; slot++)
		;
	s = slot < NEST_SESSIONS_MAX ? calloc(1, sizeof(*s)) : NULL;
	if (!s) {
		const char *busy = "F125 the cage runs as many child cages as it takes";

		(void)control_send_packet(fd, busy, strlen(busy), NULL, 0);
		close(fd);
		return;
	}
	s->n = n;
	s->fd = fd;
	s->slot = slot;
	s->exit.fd = -1;
	if (loop_add(n->loop, &s->src, fd, EPOLLIN, on_asker) < 0) {
		close(fd);
		free(s);
		return;
	}
	n->sessions[slot] = s;
}

int nest_new(struct loop *l, const struct nest_config *cfg, struct nest **ret)
{
	_cleanup_(nest_freep) struct nest *n = calloc(1, sizeof(*n));

	struct stat st;
	int r;

	if (!n || !(n->reach = strdup(cfg->reach))) {
		close(cfg->listen_fd);
		close(cfg->netns_fd);
		close(cfg->mnt_fd);
		if (cfg->userns_fd >= 0)
			close(cfg->userns_fd);
		return -ENOMEM;
	}
	n->loop = l;
	snprintf(n->name, sizeof(n->name), "%s", cfg->name);
	n->uid = cfg->uid;
	n->depth = cfg->depth;
	n->userns_fd = cfg->userns_fd;
	n->netns_fd = cfg->netns_fd;
	n->mnt_fd = cfg->mnt_fd;
	n->listen.fd = -1;
	if (fstat(n->netns_fd, &st) < 0) {
		n->life[0] = n->life[1] = -1;
		close(cfg->listen_fd);
		return err_set(negative_errno(), "the cage's netns");
	}
	n->netns_dev = st.st_dev;
	n->netns_ino = st.st_ino;
	if (pipe2(n->life, O_CLOEXEC) < 0) {
		n->life[0] = n->life[1] = -1;
		close(cfg->listen_fd);
		return err_set(negative_errno(), "the child cages' lifeline");
	}
	(void)fcntl(cfg->listen_fd, F_SETFL, O_NONBLOCK);
	r = loop_add(l, &n->listen, cfg->listen_fd, EPOLLIN, on_accept);
	if (r < 0) {
		close(cfg->listen_fd);
		return err_set(r, "serve %s", NEST_SOCKET);
	}
	*ret = TAKE_PTR(n);
	return 0;
}

void nest_free(struct nest *n)
{
	uint64_t deadline = monotonic_ms() + 5000;

	if (!n)
		return;
	/* All told first (the lifeline's hangup reaches standing children too), then each
	 * waited for, within one deadline for all: they come down together. */
	if (n->life[1] >= 0)
		closep(&n->life[1]);
	for (size_t i = 0; i < NEST_SESSIONS_MAX; i++)
		if (n->sessions[i] && n->sessions[i]->pid > 0)
			(void)syscall(SYS_pidfd_send_signal, n->sessions[i]->exit.fd, SIGTERM, NULL,
				      0);
	for (size_t i = 0; i < NEST_SESSIONS_MAX; i++) {
		struct nest_session *s = n->sessions[i];

		if (!s)
			continue;
		if (s->pid > 0) {
			struct pollfd pfd = {.fd = s->exit.fd, .events = POLLIN};
			uint64_t now = monotonic_ms();

			if (poll(&pfd, 1, deadline > now ? (int)(deadline - now) : 0) != 1)
				(void)syscall(SYS_pidfd_send_signal, s->exit.fd, SIGKILL, NULL, 0);
			(void)waitid((idtype_t)P_PIDFD, (id_t)s->exit.fd, &(siginfo_t){0}, WEXITED);
		}
		session_end(s);
	}
	if (n->listen.fd >= 0) {
		int fd = n->listen.fd;

		loop_del(n->loop, &n->listen);
		close(fd);
	}
	if (n->userns_fd >= 0)
		close(n->userns_fd);
	if (n->netns_fd >= 0)
		close(n->netns_fd);
	if (n->mnt_fd >= 0)
		close(n->mnt_fd);
	if (n->life[0] >= 0)
		close(n->life[0]);
	if (n->life[1] >= 0)
		close(n->life[1]);
	free(n->reach);
	free(n);
}

unsigned nest_children(const struct nest *n)
{
	unsigned k = 0;

	for (size_t i = 0; n && i < NEST_SESSIONS_MAX; i++)
		k += n->sessions[i] && n->sessions[i]->pid > 0;
	return k;
}
