/* cmd-down.c: `sluice down NAME`: stop a cage (named or run) and wait until nothing of it is
 * left; a cage whose supervisor is gone already is gc'd. */
#include <stdio.h>

#include "cmds.h"
#include "gc.h"
#include "log.h"
#include "named.h"
#include "policy.h"
#include "state.h"

static void say_removed(const char *line, void *data)
{
	log_debug("%s", line);
}

int cmd_down(int argc, char **argv)
{
	struct cage_state s;
	int r;

	if (argc != 2 || argv[1][0] == '-') {
		bool help = argc == 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"));

		fprintf(help ? stdout : stderr,
			"Usage: sluice down NAME\n"
			"Stop the cage NAME: its processes end, and its netns, links, rules, hooks'\n"
			"entries, cgroup and record go. Waits until they have.\n");
		return help ? 0 : EXIT_SLUICE;
	}
	if (policy_check_name(argv[1]) < 0) {
		log_error("down: %s", err_message(-EINVAL));
		return EXIT_SLUICE;
	}
	if (geteuid() != 0) {
		log_error("down needs root");
		return EXIT_SLUICE;
	}
	r = named_down(argv[1], 10000);
	if (r == -ETIMEDOUT)
		log_error("%s; removing what it left", err_message(r));
	if (r == -ESRCH || r == -ETIMEDOUT) {
		/* Its supervisor died without undoing anything: what it left is gc's. */
		if (gc_run(false, argv[1], say_removed, NULL) < 0)
			return EXIT_SLUICE; /* what failed, gc said */
		if (state_read(argv[1], &s) == 0)
			r = err_set(-EBUSY, "cage \"%s\": gc could not remove it", argv[1]);
		else
			r = 0;
	}
	if (r < 0) {
		log_error("%s", err_message(r));
		return EXIT_SLUICE;
	}
	return 0;
}
