/* main.c: sluice's entry point. It sends the library's log lines to stderr, and dispatches
 * to a subcommand from the table below, which also makes the usage text. */
#include <stdio.h>

#include "cmds.h"
#include "log.h"
#include "nested.h"
#include "options.h"
#include "util.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *description;
} subcommands[] = {
	{"run", cmd_run, "run a command in a cage whose one way out is the declared endpoint"},
	{"up", cmd_up, "build a named cage and leave it standing"},
	{"exec", cmd_exec, "run a command in a named cage"},
	{"down", cmd_down, "stop a named cage"},
	{"ls", cmd_ls, "list the cages on this host"},
	{"check", cmd_check, "validate options and profile, then print the plan"},
	{"gc", cmd_gc, "remove what crashed runs left behind"},
	{"maddr", cmd_maddr, "parse multiaddrs, convert WireGuard keys, verify a key"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: sluice COMMAND [OPTIONS] [-- CMD [ARGS...]]\n\n"
		   "Run a command in a fresh network namespace whose only egress is a declared\n"
		   "endpoint, enforced by the kernel.\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++)
		fprintf(f, "  %-8s %s\n", subcommands[i].name, subcommands[i].description);
	fprintf(f, "\nOptions of run and check:\n%s", options_help);
	fprintf(f, "\nExit status: the command's own; 125 if sluice failed before it started; "
		   "126 cannot\nexecute; 127 not found; 128+N killed by signal N.\n"
		   "See sluice(1).\n");
}

/* A line with one write(2): lines of the supervisor and of the cage's first process do not
 * interleave. A closed stderr drops it (the library counts it) and ends nothing. */
static bool stderr_sink(enum log_level level, const char *line, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(STDERR_FILENO, line + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

int main(int argc, char **argv)
{
	log_set_sink(stderr_sink);
	if (argc < 2) {
		usage(stderr);
		return EXIT_SLUICE;
	}
	if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (streq(argv[1], "--version")) {
		printf("sluice %s\n", SLUICE_VERSION);
		return 0;
	}
	/* Inside a --nest cage, run and up ask its supervisor for a child cage; run for the
	 * asker by that supervisor, they make it. */
	if (streq(argv[1], "run") || streq(argv[1], "up")) {
		int r = nested_enter();

		if (r < 0) {
			log_error("%s", err_message(r));
			return EXIT_SLUICE;
		}
		if (!options_nested && nested_in_cage())
			return nested_ask(argc - 1, argv + 1);
		if (!options_nested && nested_in_plain_cage()) {
			log_error("this is cage \"%s\", made without --nest: a cage inside it is "
				  "made by its supervisor, for a cage made with --nest",
				  getenv("SLUICE_CAGE"));
			return EXIT_SLUICE;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++)
		if (streq(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "sluice: unknown command \"%s\" (see sluice --help)\n", argv[1]);
	return EXIT_SLUICE;
}
