/* cmd-exec.c: `sluice exec NAME [-u USER] [-e K=V]... -- CMD [ARGS...]`: run a command in a
 * named cage, as its first process's child (its namespaces, cgroup, filter, user, no
 * capabilities), with this process's stdin, stdout and stderr (a terminal among them through
 * a pseudo-terminal of ours); pass its status on. Signals sent to this process go to the
 * command's process group. */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>

#include "cmds.h"
#include "control.h"
#include "log.h"
#include "named.h"
#include "policy.h"
#include "state.h"

static const char exec_help[] =
	"Usage: sluice exec NAME [OPTIONS] -- CMD [ARGS...]\n"
	"Run CMD in the standing cage NAME (see sluice up) with this terminal's stdin,\n"
	"stdout and stderr; its exit status is passed on.\n\n"
	"  -e, --env K=V            set K in the command's environment (repeatable; the\n"
	"                           cage's environment is the base)\n"
	"  -u, --user USER          the user to run as: only the cage's own (its first\n"
	"                           process has no capabilities to become another)\n"
	"  -h, --help               this help\n";

/*
 * A terminal is never handed into the cage: a process the command leaves behind would keep
 * it after exec returns, and read what is typed into the caller's shell next. The command
 * gets a pseudo-terminal of this process's instead, relayed to the real one while the
 * command runs and hung up when it ends (a leftover holding it then reads EIO).
 */
struct term {
	int master, slave;
	int out;	/* where the command's terminal output goes: stdout or stderr */
	bool input;	/* stdin is the terminal, and ours to read (we are its foreground) */
	bool saved;
	struct termios tio;
	char buf[4096]; /* input read from stdin, not yet taken by the pty */
	size_t len, off;
};

static void term_winsize(struct term *t)
{
	struct winsize ws;

	if (ioctl(t->out, TIOCGWINSZ, &ws) == 0)
		(void)ioctl(t->master, TIOCSWINSZ, &ws);
}

/* Make the pty if any of stdin, stdout, stderr is a terminal; stdio[] then names its slave
 * in their place. t->master is -1 when there is none. */
static int term_open(struct term *t, int stdio[3])
{
	int tty = isatty(STDIN_FILENO) ? STDIN_FILENO
		  : isatty(STDOUT_FILENO) ? STDOUT_FILENO
		  : isatty(STDERR_FILENO) ? STDERR_FILENO : -1;
	struct termios tio;
	char name[64];

	t->master = t->slave = -1;
	if (tty < 0)
		return 0;
	t->out = isatty(STDOUT_FILENO) ? STDOUT_FILENO : STDERR_FILENO;
	t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t->master < 0 || grantpt(t->master) < 0 || unlockpt(t->master) < 0 ||
	    ptsname_r(t->master, name, sizeof(name)) != 0)
		return err_set(negative_errno(), "a pseudo-terminal for the command");
	t->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t->slave < 0)
		return err_set(negative_errno(), "open %s", name);
	if (tcgetattr(tty, &tio) == 0)
		(void)tcsetattr(t->slave, TCSANOW, &tio);
	term_winsize(t);
	for (int i = 0; i < 3; i++)
		if (isatty(i))
			stdio[i] = t->slave;
	t->input = tty == STDIN_FILENO && tcgetpgrp(STDIN_FILENO) == getpgrp();
	if (t->input && tcgetattr(STDIN_FILENO, &t->tio) == 0) {
		/* Raw: the pty's own line discipline does the editing and the signals. */
		tio = t->tio;
		cfmakeraw(&tio);
		tio.c_oflag = t->tio.c_oflag; /* what others write to the terminal meanwhile */
		t->saved = tcsetattr(STDIN_FILENO, TCSADRAIN, &tio) == 0;
	}
	(void)fcntl(t->master, F_SETFL, O_NONBLOCK);
	return 0;
}

static void term_close(struct term *t)
{
	if (t->saved)
		(void)tcsetattr(STDIN_FILENO, TCSADRAIN, &t->tio);
	if (t->slave >= 0)
		close(t->slave);
	if (t->master >= 0)
		close(t->master); /* the hangup: what still holds the slave reads EIO */
}

/* The pty's output to the terminal; false once it has none to give (every slave closed). */
static bool term_output(struct term *t)
{
	char buf[4096];
	ssize_t n = read(t->master, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	for (ssize_t off = 0, w; off < n; off += w) {
		w = write(t->out, buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			w = 0;
		else if (w <= 0)
			return false;
	}
	return true;
}

/* Relay the signals this process gets, and the pty, until the command's status comes. */
static int wait_relaying(int fd, struct term *t, int *ret_status, bool *ret_failed)
{
	_cleanup_close_ int sfd = -1;
	bool input = t->input;
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		return negative_errno();
	for (;;) {
		struct pollfd pfd[4] = {{.fd = fd, .events = POLLIN},
					{.fd = sfd, .events = POLLIN},
					{.fd = t->master, .events = POLLIN},
					{.fd = -1}};
		struct signalfd_siginfo si;

		if (t->master >= 0 && t->len > t->off)
			pfd[2].events |= POLLOUT;
		else if (input)
			pfd[3] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (pfd[1].revents && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGWINCH && t->master >= 0)
				term_winsize(t);
			else
				(void)control_send_signal(fd, (int)si.ssi_signo);
		}
		if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))
			(void)term_output(t);
		if (pfd[2].revents & POLLOUT) {
			ssize_t w = write(t->master, t->buf + t->off, t->len - t->off);

			if (w > 0)
				t->off += (size_t)w;
		}
		if (pfd[3].revents) {
			ssize_t n = read(STDIN_FILENO, t->buf, sizeof(t->buf));

			if (n > 0) {
				t->off = 0;
				t->len = (size_t)n;
			} else if (n == 0 || errno != EINTR)
				input = false;
		}
		if (pfd[0].revents)
			break;
	}
	r = control_wait_exec(fd, ret_status, ret_failed);
	/* What the command wrote last may still be on its way through the pty: take it until
	 * the pty is hung up, or is quiet for a moment (a leftover may hold it open). */
	while (r == 0 && t->master >= 0) {
		struct pollfd pfd = {.fd = t->master, .events = POLLIN};

		if (poll(&pfd, 1, 100) <= 0 || !term_output(t))
			break;
	}
	return r;
}

int exec_wait(int fd, int *ret_status, bool *ret_failed)
{
	struct term none = {.master = -1, .slave = -1};

	return wait_relaying(fd, &none, ret_status, ret_failed);
}

int cmd_exec(int argc, char **argv)
{
	static const struct option longopts[] = {{"env", required_argument, NULL, 'e'},
						 {"user", required_argument, NULL, 'u'},
						 {"help", no_argument, NULL, 'h'},
						 {0}};
	_cleanup_free_ char **env = calloc((size_t)argc + 1, sizeof(char *));
	_cleanup_close_ int fd = -1;
	int stdio[3] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
	struct term term = {0};
	const char *name;
	struct cage_state st;
	char path[160];
	size_t n_env = 0;
	long uid = -1;
	bool failed;
	int opt, r, status;

	if (!env)
		return EXIT_SLUICE;
	if (argc < 2 || argv[1][0] == '-') {
		bool help = argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"));

		fputs(exec_help, help ? stdout : stderr);
		return help ? 0 : EXIT_SLUICE;
	}
	name = argv[1];
	if (policy_check_name(name) < 0) {
		log_error("exec: %s", err_message(-EINVAL));
		return EXIT_SLUICE;
	}
	argc--;
	argv++;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+e:u:h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(exec_help, stdout);
			return 0;
		} else if (opt == 'e') {
			const char *eq = strchr(optarg, '=');

			if (!eq || eq == optarg) {
				log_error("exec --env %s: expected KEY=VALUE", optarg);
				return EXIT_SLUICE;
			}
			env[n_env++] = optarg;
		} else if (opt == 'u') {
			struct passwd *pw = getpwnam(optarg);
			char *end;

			uid = strtol(optarg, &end, 10);
			if (pw)
				uid = (long)pw->pw_uid;
			else if (end == optarg || *end || uid < 0) {
				log_error("exec --user %s: no such user", optarg);
				return EXIT_SLUICE;
			}
		} else {
			log_error("exec: unknown option %s (see sluice exec --help)", argv[optind - 1]);
			return EXIT_SLUICE;
		}
	}
	if (optind >= argc) {
		log_error("exec: no command (sluice exec NAME -- CMD [ARGS...])");
		return EXIT_SLUICE;
	}
	if (geteuid() != 0) {
		log_error("exec needs root (a cage's control socket is root's)");
		return EXIT_SLUICE;
	}
	named_ctl_path(name, path, sizeof(path));
	r = control_connect(path, &fd);
	if (r < 0) {
		if (state_read(name, &st) == 0 && state_alive(&st))
			log_error("cage \"%s\" is running, but is not a named one (see sluice up)",
				  name);
		else
			log_error("no cage named \"%s\" is up (see sluice ls)", name);
		return EXIT_SLUICE;
	}
	r = term_open(&term, stdio);
	if (r == 0)
		r = control_send_exec(fd, uid, argv + optind, env, stdio);
	if (r == 0 && term.slave >= 0) {
		/* The cage has it now: the hangup must come once the command's side closes. */
		close(term.slave);
		term.slave = -1;
	}
	if (r == 0)
		r = wait_relaying(fd, &term, &status, &failed);
	term_close(&term);
	if (r == -EPIPE) {
		log_error("cage \"%s\" went down", name);
		return EXIT_SLUICE;
	}
	if (r < 0) {
		log_error("cage \"%s\": %s", name, err_message(r));
		return EXIT_SLUICE;
	}
	if (failed)
		log_error("cage \"%s\": %s", name, err_message(-EINVAL));
	return status;
}
