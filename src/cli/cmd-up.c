/* cmd-up.c: `sluice up NAME [OPTIONS] [-- CMD [ARGS...]]`: build a named cage and leave it
 * standing (its netns at /run/netns/NAME, a supervisor serving it), returning once it is
 * ready. The supervisor is this process's child, in a session of its own; until the cage is
 * ready its lines go to the caller's stderr, then nowhere (stdio of the cage: /dev/null). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>

#include "cage.h"
#include "cmds.h"
#include "log.h"
#include "named.h"
#include "options.h"

static int saved_stderr = -1; /* the caller's stderr, in the supervisor until ready */

static bool saved_sink(enum log_level level, const char *line, size_t len)
{
	size_t done = 0;

	while (saved_stderr >= 0 && done < len) {
		ssize_t n = write(saved_stderr, line + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return saved_stderr >= 0;
}

/* The cage is up: the caller may go, and the supervisor's stderr is no longer anyone's. */
static void on_ready(void *data)
{
	int *ready = data;

	(void)!write(*ready, "r", 1);
	close(*ready);
	*ready = -1;
	close(saved_stderr);
	saved_stderr = -1;
}

static int supervisor(struct plan *p, int ready)
{
	int status = EXIT_SLUICE, devnull, r;

	if (setsid() < 0)
		return EXIT_SLUICE;
	saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (saved_stderr < 0 || devnull < 0)
		return EXIT_SLUICE;
	log_set_sink(saved_sink);
	for (int fd = 0; fd < 3; fd++)
		if (dup2(devnull, fd) < 0)
			return EXIT_SLUICE;
	close(devnull);
	r = cage_up(p, on_ready, &ready, &status);
	if (r < 0) {
		log_error("cage \"%s\": %s", p->name, err_message(r));
		status = EXIT_SLUICE;
	}
	return status;
}

int cmd_up(int argc, char **argv)
{
	_cleanup_free_ char **args = NULL;
	struct plan p;
	int ready[2], status, r;
	pid_t pid;
	char c;

	if (argc < 2 || argv[1][0] == '-') {
		bool help = argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"));

		fprintf(help ? stdout : stderr,
			"Usage: sluice up NAME [OPTIONS] [-- CMD [ARGS...]]\n"
			"Build the cage NAME and leave it standing: its netns at %s/NAME, its\n"
			"supervisor serving it; CMD (if given) is its first process, and the cage\n"
			"ends with it. `sluice exec NAME -- CMD` runs commands in it, `sluice\n"
			"down NAME` ends it, `sluice ls` lists cages. OPTIONS are run's:\n\n%s",
			NETNS_DIR, options_help);
		return help ? 0 : EXIT_SLUICE;
	}
	/* NAME is --name NAME, given first so that nothing after it may rename the cage. */
	args = calloc((size_t)argc + 3, sizeof(char *));
	if (!args)
		return EXIT_SLUICE;
	args[0] = argv[0];
	args[1] = (char *)"--name";
	args[2] = argv[1];
	for (int i = 2; i < argc; i++) {
		if (streq(argv[i], "--"))
			break;
		if (streq(argv[i], "-n") || startswith(argv[i], "--name")) {
			log_error("up: the cage's name is NAME, not %s", argv[i]);
			return EXIT_SLUICE;
		}
	}
	memcpy(args + 3, argv + 2, sizeof(char *) * (size_t)(argc - 2));
	r = cage_check_fault_env();
	if (r == 0)
		r = options_plan(argc + 1, args, false, &p);
	if (r == 1) {
		printf("Usage: sluice up NAME [OPTIONS] [-- CMD [ARGS...]]\n\n%s", options_help);
		return 0;
	}
	if (r < 0) {
		log_error("%s", err_message(r));
		return EXIT_SLUICE;
	}
	if (p.userns) {
		log_error("up: a named cage needs root (its netns is bound at %s/%s)", NETNS_DIR,
			  p.name);
		plan_free(&p);
		return EXIT_SLUICE;
	}
	if (pipe2(ready, O_CLOEXEC) < 0) {
		log_errno(negative_errno(), "pipe");
		plan_free(&p);
		return EXIT_SLUICE;
	}
	pid = fork();
	if (pid < 0) {
		log_errno(negative_errno(), "fork");
		plan_free(&p);
		return EXIT_SLUICE;
	}
	if (pid == 0) {
		close(ready[0]);
		status = supervisor(&p, ready[1]);
		plan_free(&p);
		_exit(status);
	}
	close(ready[1]);
	plan_free(&p);
	/* "r": ready. Without it, the supervisor ended: it said why, its status is ours. */
	while ((r = (int)read(ready[0], &c, 1)) < 0 && errno == EINTR)
		;
	close(ready[0]);
	if (r == 1 && c == 'r')
		return 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return EXIT_SLUICE;
	if (WIFEXITED(status))
		return WEXITSTATUS(status) ? WEXITSTATUS(status) : EXIT_SLUICE;
	return EXIT_SLUICE;
}
