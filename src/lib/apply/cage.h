/* cage.h: the apply sequence (cgroup, hooks, namespaces, links, rulesets), the run and the
 * undo of all of it. */
#pragma once

#include "plan.h"

/* The setup steps, in order; SLUICE_FAIL_AT=<step> fails a run at that step (tests prove
 * with it that every error path unwinds what came before). */
extern const char *const cage_steps[];

/* 0 if SLUICE_FAIL_AT is unset or names a step, else err_invalid(). */
int cage_check_fault_env(void);

/*
 * Build the cage the plan describes, run its command in it, and tear everything down.
 * Returns 0 with *ret_status the exit status sluice should pass on (the command's own,
 * 126/127 when it cannot run, 128+N when killed by signal N), or a negative errno (with
 * the error recorded) when the cage could not be built; nothing is left behind either way.
 */
int cage_run(const struct plan *p, int *ret_status);


/*
 * The same cage, named (sluice up): its netns bound at /run/netns/<name> and a control socket
 * beside its record, through which `sluice exec` runs commands in it and `sluice ls` asks
 * what it is. p->argv NULL: an idle first process, which ends on SIGTERM. ready(data) is
 * called once the cage is up; cage_up returns when it ends, as cage_run does. Root only.
 */
int cage_up(const struct plan *p, void (*ready)(void *data), void *data, int *ret_status);
