/* nested.h: sluice run and up inside a --nest cage (nest.h): asking for a child cage there,
 * and making it when the parent's supervisor runs this program for the asker. */
#pragma once

#include <stdbool.h>

#include "plan.h"

/* Whether this process is in a --nest cage, where run and up ask for a child cage. */
bool nested_in_cage(void);
/* Whether this process is in a cage made without --nest (to say so, not to guess). */
bool nested_in_plain_cage(void);
/* Ask for one: run or up with argv (argv[0] is the subcommand); returns the exit status. */
int nested_ask(int argc, char **argv);
/* With SLUICE_NESTED set (run by a parent's supervisor): take the request's context, and
 * make options_parse() a child's. 0 if not set. */
int nested_enter(void);
/* The child's plan, checked against its parent's reach, given its parent's namespaces. */
int nested_apply(struct plan *p);
