/* supervise.c: the supervisor's event loop while a cage runs (poll over a signalfd, the
 * child's pidfd and its error pipe). It forwards signals, reads the child's failure report,
 * and reaps the child. */
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "log.h"
#include "supervise.h"

void supervise_signals(sigset_t *ret)
{
	sigemptyset(ret);
	sigaddset(ret, SIGINT);
	sigaddset(ret, SIGTERM);
	sigaddset(ret, SIGHUP);
	sigaddset(ret, SIGQUIT);
	sigaddset(ret, SIGUSR1);
	sigaddset(ret, SIGUSR2);
}

static int read_report(int fd, struct child_report *rep, size_t *have)
{
	ssize_t n = read(fd, (char *)rep + *have, sizeof(*rep) - *have);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : negative_errno();
	if (n == 0)
		return 0; /* closed: exec succeeded, or the child is gone */
	*have += (size_t)n;
	return 1;
}

int supervise(pid_t pid, int pidfd, int err_fd, int *ret_status, struct child_report *ret_report,
	      bool *ret_reported)
{
	_cleanup_close_ int sfd = -1;
	struct child_report rep = {0};
	size_t have = 0;
	sigset_t set;
	siginfo_t si = {0};

	supervise_signals(&set);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return err_set(negative_errno(), "signalfd");

	for (;;) {
		struct pollfd pfd[3] = {
			{.fd = pidfd, .events = POLLIN},
			{.fd = sfd, .events = POLLIN},
			{.fd = err_fd, .events = POLLIN},
		};

		if (poll(pfd, err_fd >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return err_set(negative_errno(), "poll");
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo ssi;

			while (read(sfd, &ssi, sizeof(ssi)) == sizeof(ssi)) {
				/* A terminal's ^C or ^\ reaches the command's process group from
				 * the kernel already; only what was sent to us with kill(2) is ours
				 * to pass on. */
				if (ssi.ssi_code == SI_KERNEL)
					continue;
				log_debug("forwarding signal %u to the cage", ssi.ssi_signo);
				(void)syscall(SYS_pidfd_send_signal, pidfd, (int)ssi.ssi_signo, NULL,
					      0);
			}
		}
		if (err_fd >= 0 && (pfd[2].revents & (POLLIN | POLLHUP))) {
			int r = read_report(err_fd, &rep, &have);

			if (r <= 0)
				err_fd = -1; /* the caller owns and closes it */
		}
		if (pfd[0].revents & POLLIN)
			break;
	}

	/* Drain a report that raced with the exit. */
	while (err_fd >= 0 && read_report(err_fd, &rep, &have) > 0)
		;
	if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0)
		return err_set(negative_errno(), "wait for the cage");
	*ret_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	*ret_reported = have == sizeof(rep);
	if (*ret_reported) {
		rep.msg[sizeof(rep.msg) - 1] = '\0';
		*ret_report = rep;
	}
	(void)pid;
	return 0;
}
