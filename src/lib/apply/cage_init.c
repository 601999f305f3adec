/* cage_init.c: the cage's pid 1 once the cage runs: it passes signals on to the command,
 * reaps orphans and ends with the command; in a named cage it also starts what `sluice exec`
 * asks for (its children have what it has: namespaces, cgroup, filter, user, no
 * capabilities) and reports how each ended. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cage_child.h"
#include "control.h"
#include "log.h"

struct running {
	unsigned id;
	pid_t pid;
};

static int status_of(int wstatus)
{
	return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

/* pid 1 talks to the supervisor with write(2): sendmsg(2) is one of the calls its filter
 * hands to the supervisor. */
static void say(int sock, char what, unsigned id, int code, const char *msg)
{
	char buf[1200];
	int n = snprintf(buf, sizeof(buf), "%c%u %d%s%s", what, id, code, *msg ? " " : "", msg);

	if (n > 0)
		(void)!write(sock, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/*
 * Start argv with fds[0..2] as its stdio, in a session of its own, every signal at its
 * default and none blocked. A pipe that closes on exec tells whether it did: on failure the
 * child writes its errno there. Returns the pid, or a negative errno with *code the status
 * to report (127 not found, 126 cannot execute, 125 no process).
 */
static pid_t start(char **argv, char **env, const int fds[3], int *code)
{
	int pipefd[2], err = 0;
	sigset_t none;
	pid_t pid;
	ssize_t n;

	*code = 125;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return negative_errno();
	pid = fork();
	if (pid < 0) {
		err = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return -err;
	}
	if (pid == 0) {
		close(pipefd[0]);
		(void)setsid();
		for (int i = 0; i < 3; i++)
			if (dup2(fds[i], i) < 0)
				goto fail;
		/* A terminal (sluice exec's pty) is the session's: ^C typed at it is SIGINT here. */
		if (isatty(STDIN_FILENO))
			(void)ioctl(STDIN_FILENO, TIOCSCTTY, 0);
		if (pipefd[1] < 3) /* cannot be: 0-2 are held */
			goto fail;
		(void)syscall(SYS_close_range, 3U, (unsigned)pipefd[1] - 1, 0U);
		(void)syscall(SYS_close_range, (unsigned)pipefd[1] + 1, ~0U, 0U);
		for (int sig = 1; sig < _NSIG; sig++)
			signal(sig, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvpe(argv[0], argv, env);
	fail:
		err = errno;
		(void)!write(pipefd[1], &err, sizeof(err));
		_exit(127);
	}
	close(pipefd[1]);
	do
		n = read(pipefd[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n != (ssize_t)sizeof(err))
		return pid; /* exec'd */
	(void)waitpid(pid, NULL, 0);
	*code = err == ENOENT ? 127 : 126;
	return -err;
}

/* An exec request: E<id>\0<argv>\0\0<env> with the command's stdio. */
static void on_request(int sock, struct running *run)
{
	_cleanup_free_ char *buf = malloc(CTL_MSG_MAX + 1);
	_cleanup_strv_free_ char **argv = NULL, **env = NULL;
	int fds[3] = {-1, -1, -1}, code, r;
	size_t n_fds = 0, idlen;
	unsigned id;
	char *end, msg[1100];
	ssize_t n;

	if (!buf)
		return;
	n = control_recv(sock, buf, CTL_MSG_MAX, fds, &n_fds);
	if (n == 0)
		_exit(125); /* the supervisor is gone: so is the cage (its death signal is on too) */
	if (n < 0)
		return;
	if (buf[0] == 'K') {
		int sig;

		if (sscanf(buf + 1, "%u %d", &id, &sig) != 2 || sig < 1 || sig >= _NSIG)
			return;
		for (size_t i = 0; i < CTL_SESSIONS_MAX; i++)
			if (run[i].pid > 0 && run[i].id == id)
				kill(-run[i].pid, sig);
		return;
	}
	if (buf[0] != 'E' || n_fds != 3)
		goto out;
	idlen = strnlen(buf + 1, (size_t)n - 1);
	id = (unsigned)strtoul(buf + 1, &end, 10);
	if (idlen == (size_t)n - 1 || end == buf + 1 || *end)
		goto out;
	r = control_parse_lists(buf + 2 + idlen, (size_t)n - 2 - idlen, &argv, &env);
	if (r < 0) {
		say(sock, 'F', id, 125, err_message(r));
		goto out;
	}
	for (size_t i = 0; i < CTL_SESSIONS_MAX; i++) {
		pid_t pid;

		if (run[i].pid > 0)
			continue;
		pid = start(argv, env, fds, &code);
		if (pid < 0) {
			snprintf(msg, sizeof(msg), "cannot execute %s: %s", argv[0], strerror(-pid));
			say(sock, 'F', id, code, msg);
		} else {
			run[i].id = id;
			run[i].pid = pid;
		}
		goto out;
	}
	say(sock, 'F', id, 125, "the cage runs as many exec'd commands as it takes");
out:
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
}

_Noreturn void cage_init_main(pid_t cmd, int sock, const sigset_t *set)
{
	struct running run[CTL_SESSIONS_MAX] = {{0}};
	int sfd = signalfd(-1, set, SFD_CLOEXEC);

	if (sfd < 0)
		_exit(125);
	/* Named: the socket pair stays, and pid 1 holds it; no process of the cage (its user's,
	 * no capabilities, like pid 1 now) may take it over through ptrace or /proc/1/fd. */
	if (sock >= 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(125);
	for (;;) {
		struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN}, {.fd = sock, .events = POLLIN}};
		struct signalfd_siginfo si;
		int wstatus;
		pid_t w;

		if (poll(pfd, sock >= 0 ? 2 : 1, -1) < 0)
			continue;
		if (sock >= 0 && pfd[1].revents)
			on_request(sock, run);
		if (!pfd[0].revents || read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo != SIGCHLD) {
			/* A terminal's signals reach the command's process group directly; and
			 * what the cage's own processes send pid 1 (ssi_pid is 0 for a sender
			 * outside its pid namespace, the supervisor) does not end the cage. */
			if (si.ssi_code == SI_KERNEL || si.ssi_pid != 0)
				continue;
			if (cmd > 0)
				kill(cmd, (int)si.ssi_signo);
			else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT ||
				 si.ssi_signo == SIGHUP || si.ssi_signo == SIGQUIT)
				_exit(0); /* an idle named cage, told to end */
			continue;
		}
		while ((w = waitpid(-1, &wstatus, WNOHANG)) > 0) {
			if (w == cmd)
				_exit(status_of(wstatus));
			for (size_t i = 0; i < CTL_SESSIONS_MAX; i++)
				if (run[i].pid == w) {
					say(sock, 'X', run[i].id, status_of(wstatus), "");
					run[i].pid = 0;
				}
		}
	}
}
