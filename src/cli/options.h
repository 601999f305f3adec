/* options.h: the options `run` and `check` share, read into a policy: the profile first
 * (wherever --profile stands), then every other option on top of it. */
#pragma once

#include "plan.h"
#include "policy.h"

/* Parse argv (argv[0] is the subcommand). On success *ret_cmd points into argv at the
 * command (NULL if none) and p holds the finished policy. -EINVAL with err_invalid() on bad
 * input; 1 if --help was given (usage printed by the caller). */
int options_parse(int argc, char **argv, struct policy *p, char ***ret_cmd);

/* options_parse(), then the plan (plan_prepare()): what `run` and `check` start with. -v
 * raises the log level. Returns 0, 1 for --help, or a negative errno with the error
 * recorded. */
int options_plan(int argc, char **argv, bool need_command, struct plan *ret);

/* The option lines for --help and the man page's synopsis. */
extern const char options_help[];

/* Set while a child cage's request is run (sluice run or up inside a cage with --nest, run
 * here for it by the parent's supervisor): options_parse() takes only the options a child
 * may give, its link is none and its user the parent's. */
struct nested {
	const char *parent;
	uid_t uid;
	unsigned depth;    /* the child's: 1 below a cage made on the host */
	const char *reach; /* what the parent reaches (plan_render_reach()) */
	const char *cwd;   /* the asker's working directory, a path of the parent's */
	char **env;        /* the asker's environment: the child command's is made from it */
};
extern const struct nested *options_nested;
