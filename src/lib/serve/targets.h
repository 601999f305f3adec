/* targets.h: at start, whether the proxy and each forward's target answer a connect from
 * here, outside the cage (--check-targets): a blackholed proxy is said at once, not found
 * out by the caged program two minutes later. The connects are started first thing and
 * looked at just before the cage's command may run, so the check overlaps the cage's setup
 * instead of adding to it. */
#pragma once

#include "audit.h"
#include "plan.h"

#define TARGETS_CHECK_MS 1000 /* from the start, for all of them together */

struct targets;

/* Start a non-blocking connect to each (nothing is sent). */
int targets_start(const struct plan *p, struct targets **ret);
/* Wait for those not done yet, up to TARGETS_CHECK_MS after the start; tell each that did
 * not answer to A (layer start, kind target). Returns how many did not. */
unsigned targets_finish(struct targets *t, struct audit *a);
void targets_free(struct targets *t);
DEFINE_CLEANUP_FUNC(struct targets, targets_free)

/* How a forward is named when its target is down: "the proxy", "the target of forward tcp
 * 127.0.0.1:8080". */
void targets_name(const struct forward *f, char *buf, size_t len);
