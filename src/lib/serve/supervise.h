/* supervise.h: the supervisor's one event loop while the command runs: signals to forward,
 * the child's setup/exec error report, and its exit. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "loop.h"

/* The signals sluice forwards to the cage (and blocks in itself while a cage runs). */
void supervise_signals(sigset_t *ret);

/* What the cage's first process reports over the error pipe when setup or exec fails. */
struct child_report {
	int code;        /* the exit status this failure maps to: 125, 126 or 127 */
	int err;         /* negative errno */
	char msg[1000];  /* what failed, with context */
};

/*
 * Run LOOP (where the forwards and the DNS stub are served too) until the cage's first
 * process (PIDFD) exits, forwarding signals that were sent to the supervisor with kill(2) (a
 * terminal's signals already reach the command's process group), and collecting a
 * child_report from ERR_FD if one arrives before it closes. Returns 0 with *ret_status
 * (exit code or 128+signal) and *ret_report filled if reported.
 */
int supervise(struct loop *loop, int pidfd, int err_fd, int *ret_status,
	      struct child_report *ret_report, bool *ret_reported);
