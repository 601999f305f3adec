/* sysfilter.h: the cage's system call filter, built with libseccomp and installed by the cage's
 * first process before the command exists: the calls the unix-socket broker judges (user
 * notification), what would let a cage out from under it or drive the caller's terminal
 * (always refused), and a default denylist of what an agent or actor tree has no business
 * calling (refused with EPERM unless seccomp: off). */
#pragma once

#include "text.h"
#include <stdbool.h>

enum seccomp_mode {
	SECCOMP_DEFAULT = 0, /* the denylist below, and the cage's own rules */
	SECCOMP_OFF,	     /* the cage's own rules only (unix broker, terminal) */
};

struct sysfilter_config {
	enum seccomp_mode mode;
	bool notify; /* connect and sends go to the supervisor (unix broker) */
};

/* Whether this kernel can notify a supervisor of a system call (seccomp user notification
 * with a listener fd, Linux 5.0; pidfd_getfd, 5.6): 0, or a negative errno. Cheap. */
int sysfilter_probe_notify(void);

/*
 * Build the filter and load it on the calling thread (which must be the only one, and have
 * no_new_privs or CAP_SYS_ADMIN in its user namespace). With cfg->notify, the listener fd is
 * returned in *ret_listener (else -1). Processes of other ABIs than the native one (i386,
 * x32) are killed: their system calls would have other numbers and layouts.
 */
int sysfilter_install(const struct sysfilter_config *cfg, int *ret_listener);

/* What the filter refuses and what it hands to the supervisor, for check and the man page:
 * one line per group, each starting with indent. */
void sysfilter_render(const struct sysfilter_config *cfg, struct text *f, const char *indent);
