/* cage_child.h: between the supervisor's side of a cage (cage.c) and its first process
 * (cage_child.c). */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "plan.h"

/* What the cage's first process opens inside the cage's netns and hands over, in order: its
 * rtnetlink and nfnetlink sockets, the sock_diag socket the unix broker asks which sockets are
 * the cage's own, the DNS stub's sockets, then one listener per forward. */
enum { IN_RT, IN_NFT, IN_DIAG, IN_DNS_UDP, IN_DNS_TCP, IN_FORWARD };
#define IN_MAX (IN_FORWARD + 64)

/* The cage's first process, from clone to its end: sock is its end of the supervisor's
 * socket pair (kept when named: `sluice exec` comes that way), err_wr where a failure before
 * exec is reported. Never returns. */
_Noreturn void cage_child_main(const struct plan *p, enum unix_backstop backstop, bool pipe_default,
			       bool named, int sock, int err_wr, const sigset_t *oldmask);
/* Its loop once the cage runs (cage_init.c): passes signals on to cmd (-1: none, an idle
 * named cage, which ends on SIGTERM), reaps orphans, ends with cmd; serves exec requests on
 * sock (-1: not named). set: the signals to take, blocked already. */
_Noreturn void cage_init_main(pid_t cmd, int sock, const sigset_t *set);
/* Receive want fds sent over sock (SCM_RIGHTS, possibly in several messages). */
int cage_recv_fds(int sock, int *fds, size_t want);
int cage_write_sysctl(const char *path, const char *value);
/* SLUICE_FAIL_AT: -EIO (recorded) if step is the one to fail at; the step traced. */
int cage_fault(const char *step);
