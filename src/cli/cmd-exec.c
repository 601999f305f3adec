/* cmd-exec.c: `sluice exec NAME [-u USER] [-e K=V]... -- CMD [ARGS...]`: run a command in a
 * named cage, as its first process's child (its namespaces, cgroup, filter, user, no
 * capabilities), with this process's stdin, stdout and stderr; pass its status on. Signals
 * sent to this process (a terminal's ^C among them) go to the command's process group. */
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>

#include "cmds.h"
#include "control.h"
#include "log.h"
#include "named.h"
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

/* Relay the signals this process gets until the command's status comes. */
static int wait_relaying(int fd, int *ret_status, bool *ret_failed)
{
	_cleanup_close_ int sfd = -1;
	sigset_t set;

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
		struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		struct signalfd_siginfo si;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (pfd[1].revents && read(sfd, &si, sizeof(si)) == sizeof(si))
			(void)control_send_signal(fd, (int)si.ssi_signo);
		if (pfd[0].revents)
			return control_wait_exec(fd, ret_status, ret_failed);
	}
}

int cmd_exec(int argc, char **argv)
{
	static const struct option longopts[] = {{"env", required_argument, NULL, 'e'},
						 {"user", required_argument, NULL, 'u'},
						 {"help", no_argument, NULL, 'h'},
						 {0}};
	_cleanup_free_ char **env = calloc((size_t)argc + 1, sizeof(char *));
	_cleanup_close_ int fd = -1;
	const int stdio[3] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
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
	r = control_send_exec(fd, uid, argv + optind, env, stdio);
	if (r == 0)
		r = wait_relaying(fd, &status, &failed);
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
