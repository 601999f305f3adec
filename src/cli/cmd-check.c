/* cmd-check.c: `sluice check [--json] [OPTIONS] [-- CMD]`: validate everything run would,
 * then print the plan run would apply (names, addresses, routes, rulesets, hooks), as text or
 * as one JSON object. */
#include <stdio.h>

#include "cmds.h"
#include "log.h"
#include "options.h"
#include "prepare.h"

int cmd_check(int argc, char **argv)
{
	struct plan p;
	bool json = false;
	int r;

	/* --json is check's own: taken out before the options run and check share */
	for (int i = 1; i < argc && !streq(argv[i], "--"); i++)
		if (streq(argv[i], "--json")) {
			json = true;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
			argc--;
			i--;
		}
	r = options_plan(argc, argv, false, &p);
	if (r == 1) {
		printf("Usage: sluice check [--json] [OPTIONS] [-- CMD [ARGS...]]\n\n"
		       "  --json                   the plan as one JSON object\n%s",
		       options_help);
		return 0;
	}
	if (r < 0) {
		log_error("%s", err_message(r));
		return EXIT_SLUICE;
	}
	{
		_cleanup_text_ struct text t = TEXT_INIT;

		if (json)
			plan_render_json(&p, &t);
		else
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
