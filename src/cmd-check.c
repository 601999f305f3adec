/* cmd-check.c: `sluice check [OPTIONS] [-- CMD]`: validate everything run would, then print
 * the plan run would apply (names, addresses, routes, rulesets, hooks). */
#include <stdio.h>

#include "cmds.h"
#include "log.h"
#include "options.h"
#include "prepare.h"

int cmd_check(int argc, char **argv)
{
	struct plan p;
	int r;

	r = options_plan(argc, argv, false, &p);
	if (r == 1) {
		printf("Usage: sluice check [OPTIONS] [-- CMD [ARGS...]]\n\n%s", options_help);
		return 0;
	}
	if (r < 0) {
		log_error("%s", err_message(r));
		return EXIT_SLUICE;
	}
	{
		_cleanup_text_ struct text t = TEXT_INIT;

		plan_render(&p, &t);
		plan_free(&p);
		if (text_error(&t) < 0) {
			log_error("render the plan: %s", strerror(ENOMEM));
			return EXIT_SLUICE;
		}
		fwrite(text_str(&t), 1, t.len, stdout);
	}
	return 0;
}
