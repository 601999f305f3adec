/* options.h: the options `run` and `check` share, read into a policy: the profile first
 * (wherever --profile stands), then every other option on top of it. */
#pragma once

#include "policy.h"

/* Parse argv (argv[0] is the subcommand). On success *ret_cmd points into argv at the
 * command (NULL if none) and p holds the finished policy. -EINVAL with err_invalid() on bad
 * input; 1 if --help was given (usage printed by the caller). */
int options_parse(int argc, char **argv, struct policy *p, char ***ret_cmd);

/* The option lines for --help and the man page's synopsis. */
extern const char options_help[];
