/* cmd-gc.c: `sluice gc [--unload]`: the library's gc (gc.h), each removal printed. */
#include <stdio.h>

#include "cmds.h"
#include "gc.h"
#include "log.h"
#include "policy.h"
#include "util.h"

static void print_removed(const char *line, void *data)
{
	printf("%s\n", line);
}

int cmd_gc(int argc, char **argv)
{
	bool unload = false;
	const char *only = NULL;
	int r;

	if (argc > 1 && streq(argv[1], "--unload")) {
		unload = true;
		argc--;
		argv++;
	}
	if (argc == 2 && argv[1][0] != '-' && policy_check_name(argv[1]) == 0) {
		only = argv[1];
		argc--;
	}
	if (argc > 1) {
		bool help = streq(argv[1], "--help") || streq(argv[1], "-h");

		fprintf(
		    help ? stdout : stderr,
		    "Usage: sluice gc [--unload] [NAME]\n"
		    "Remove what runs whose supervisor is gone left behind: cgroups, links,\n"
		    "nftables tables, state records, tunnel sockets, and their entries in the\n"
		    "eBPF hooks' maps. The hooks themselves stay attached to the cgroup of all\n"
		    "cages between runs; --unload takes them off too (refused while a cage "
		    "runs).\n"
		    "With NAME, only that cage's leftovers (a unit's ExecStopPost).\n");
		return help ? 0 : EXIT_SLUICE;
	}
	if (geteuid() != 0) {
		log_error("gc needs root");
		return EXIT_SLUICE;
	}
	/* what failed is logged by gc itself, each thing once */
	r = gc_run(unload, only, print_removed, NULL);
	return r < 0 ? EXIT_SLUICE : 0;
}
