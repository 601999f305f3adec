/* cmd-run.c: `sluice run [OPTIONS] -- CMD [ARGS...]`: plan, build the cage, run the command
 * in it, pass its exit status on. */
#include <stdio.h>

#include "cage.h"
#include "cmds.h"
#include "log.h"
#include "options.h"
#include "prepare.h"

int cmd_run(int argc, char **argv)
{
	struct plan p;
	int r, status = EXIT_SLUICE;

	log_trace("plan");
	r = cage_check_fault_env();
	if (r == 0)
		r = options_plan(argc, argv, true, &p);
	if (r == 1) {
		printf("Usage: sluice run [OPTIONS] -- CMD [ARGS...]\n\n%s", options_help);
		return 0;
	}
	if (r < 0) {
		log_error("%s", err_message(r));
		return EXIT_SLUICE;
	}
	if (p.link == LINK_VETH)
		log_debug("cage %s: link veth %s, host table inet %s, cgroup %s", p.name, p.host_if,
			  p.host_table, p.cgroup);
	else if (p.link == LINK_WIREGUARD)
		log_debug("cage %s: link wireguard %s (%s), cgroup %s", p.name, p.wg_if,
			  p.wg_backend == WG_BACKEND_KERNEL ? "kernel" : "wireguard-go", p.cgroup);
	else
		log_debug("cage %s: link none, %zu forward(s), cgroup %s", p.name, p.n_forwards,
			  p.userns ? "none (unprivileged)" : p.cgroup);
	r = cage_run(&p, &status);
	if (r < 0) {
		log_error("cage \"%s\": %s", p.name, err_message(r));
		status = EXIT_SLUICE;
	}
	plan_free(&p);
	return status;
}
