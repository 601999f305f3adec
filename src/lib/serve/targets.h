/* targets.h: at start, whether the proxy and each forward's target answer a connect from
 * here, outside the cage (--check-targets): a blackholed proxy is said at once, not found
 * out by the caged program two minutes later. */
#pragma once

#include "audit.h"
#include "plan.h"

#define TARGETS_CHECK_MS 1000 /* all of them together */

/* Try each at once, in parallel, for up to TARGETS_CHECK_MS; each that does not answer is
 * told to A (layer start, kind target). Returns how many did not answer. */
unsigned targets_check(const struct plan *p, struct audit *a);
