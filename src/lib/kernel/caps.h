/* caps.h: the cage's process leaves with no capabilities at all: bounding, ambient,
 * effective, permitted and inheritable sets empty, no_new_privs, as the chosen user. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/capability.h>
#include <sys/types.h>

#include "util.h"

/* libcap's cap_t (a struct _cap_struct *), freed on every way out of its holder. */
DEFINE_CLEANUP_FUNC(struct _cap_struct, cap_free)

/* Switch to uid/gid with the supplementary groups given (looked up beforehand: no NSS in
 * the cage) and drop every capability.
 * Must run while the process still has CAP_SETPCAP, CAP_SETUID and CAP_SETGID. In a user
 * namespace (USERNS) groups cannot be changed (setgroups is denied there): the invoking
 * user's stay. */
int caps_become(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, bool userns);

/* Keep these capabilities (held now) across execve as a non-root user: inheritable and
 * ambient. A child cage's program made for an unprivileged parent gets, this way, the two it
 * needs in the parent's user namespace to enter its mounts (nest.h). */
int caps_keep_across_exec(const cap_value_t *keep, size_t n);
/* Drop every capability held (ambient, effective, permitted, inheritable); ids stay. */
int caps_drop(void);
