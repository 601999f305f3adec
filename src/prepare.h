/* prepare.h: from a subcommand's argv to a plan: options and profile into a policy, the
 * user resolved, the host's addresses and live cages gathered, the plan derived. `run` and
 * `check` both go through here, so check shows exactly what run would do. */
#pragma once

#include "plan.h"

/* need_command: for `run` (a command and root are required; `check` needs neither).
 * Returns 0, 1 for --help, or a negative errno with the error recorded. */
int prepare_plan(int argc, char **argv, bool need_command, struct plan *ret);
