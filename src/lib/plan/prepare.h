/* prepare.h: from a policy to a plan: the user resolved, the host's addresses, the kernel's
 * facts and the live cages gathered, the plan derived. `run` and `check` both go through
 * here, so check shows exactly what run would do. */
#pragma once

#include "plan.h"
#include "policy.h"

/* cmd: the command and its arguments (NULL if none). need_command: for `run` (a command and
 * root are required; `check` needs neither). env: the environment the command's is made
 * from (this process's, usually). The policy is taken (and left empty, as policy_init()
 * leaves it). Returns 0 or a negative errno with the error recorded. */
int plan_prepare(struct policy *pol, char **cmd, bool need_command, char *const *env,
		 struct plan *ret);
