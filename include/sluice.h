/* sluice.h: libsluice's public interface, for programs that cage commands themselves (an
 * actor runtime, a service manager's helper). Small on purpose: a policy comes from a
 * profile (the same YAML `sluice run --profile` reads), a plan from the policy and the
 * host, and a run from the plan. The library prints nothing and never exits: it logs
 * through the function given to sluice_set_log(), and a failure returns a negative errno
 * whose message sluice_error() gives. Link with -lsluice and the libraries sluice(1) lists
 * under FILES. Not thread-safe: one call at a time per process.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define SLUICE_API_VERSION 1

/* Log levels, and where lines go ("sluice: ...\n", whole); without a function they are
 * dropped. Return false if the line could not be written (it is counted). */
enum { SLUICE_LOG_ERROR = 0, SLUICE_LOG_INFO = 1, SLUICE_LOG_DEBUG = 2 };
typedef bool (*sluice_log_fn)(int level, const char *line, size_t len);
void sluice_set_log(sluice_log_fn fn, int max_level);

/* The message of the last failure in this thread, with r's strerror where that helps. */
const char *sluice_error(int r);

struct sluice_policy;
struct sluice_plan;

/* A policy from a profile: a path, or a NAME looked up as ./profiles/NAME.yaml, then
 * /etc/sluice/NAME.yaml. Its errors name FILE:LINE:COLUMN. */
int sluice_policy_from_profile(const char *path_or_name, struct sluice_policy **ret);
void sluice_policy_free(struct sluice_policy *p);

/* The plan for running argv (NULL for none: a plan to look at, not to run) under the policy,
 * which it takes (freed whatever happens). Every decision is made here, from read-only facts
 * of the host: what would fail for the host's sake fails here. */
int sluice_plan_new(struct sluice_policy *p, char *const *argv, struct sluice_plan **ret);
/* The plan as `sluice check` prints it, or as its --json object: a string to free(). */
int sluice_plan_text(const struct sluice_plan *p, bool json, char **ret);
void sluice_plan_free(struct sluice_plan *p);

/* Build the cage, run the command in it, tear everything down. *status is the command's
 * exit status (125 if the cage's setup failed inside it, 126/127 if the command could not
 * run, 128+N if killed by signal N); a negative return: the cage could not be built, and
 * nothing is left behind. */
int sluice_run(const struct sluice_plan *p, int *status);

/* Remove what runs whose supervisor is gone left behind (root); each removal told to said. */
int sluice_gc(bool unload, void (*said)(const char *line, void *data), void *data);
