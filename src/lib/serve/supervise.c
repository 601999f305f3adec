/* supervise.c: the supervisor's part of the event loop while a cage runs: a signalfd, the
 * child's pidfd and its error pipe, on the same loop the forwards and the DNS stub are
 * served from. It forwards signals, reads the child's failure report, and reaps the child. */
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

struct sup {
	struct loop *loop;
	int pidfd;
	struct loop_source sig, pid, err;
	struct child_report rep;
	size_t have;
	bool exited;
	int error;
};

static int read_report(int fd, struct child_report *rep, size_t *have)
{
	ssize_t n = read(fd, (char *)rep + *have, sizeof(*rep) - *have);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : negative_errno();
	if (n == 0)
		return 0; /* closed: exec succeeded, or the child is gone */
	*have += (size_t)n;
	return *have < sizeof(*rep);
}

static void on_signal(struct loop_source *s, uint32_t events)
{
	struct sup *sp = container_of(s, struct sup, sig);
	struct signalfd_siginfo ssi;

	(void)events;
	while (read(s->fd, &ssi, sizeof(ssi)) == sizeof(ssi)) {
		/* A terminal's ^C or ^\ reaches the command's process group from the kernel
		 * already; only what was sent to us with kill(2) is ours to pass on. */
		if (ssi.ssi_code == SI_KERNEL)
			continue;
		log_debug("forwarding signal %u to the cage", ssi.ssi_signo);
		(void)syscall(SYS_pidfd_send_signal, sp->pidfd, (int)ssi.ssi_signo, NULL, 0);
	}
}

static void on_exit_(struct loop_source *s, uint32_t events)
{
	struct sup *sp = container_of(s, struct sup, pid);

	(void)events;
	sp->exited = true;
	loop_del(sp->loop, s);
}

static void on_report(struct loop_source *s, uint32_t events)
{
	struct sup *sp = container_of(s, struct sup, err);

	(void)events;
	if (read_report(s->fd, &sp->rep, &sp->have) <= 0)
		loop_del(sp->loop, s); /* the caller owns and closes the fd */
}

int supervise(struct loop *loop, int pidfd, int err_fd, int *ret_status,
	      struct child_report *ret_report, bool *ret_reported)
{
	_cleanup_close_ int sfd = -1;
	struct sup sp = {.loop = loop, .pidfd = pidfd};
	siginfo_t si = {0};
	sigset_t set;
	int r;

	sp.sig.fd = sp.pid.fd = sp.err.fd = -1;
	supervise_signals(&set);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return err_set(negative_errno(), "signalfd");
	r = loop_add(loop, &sp.sig, sfd, EPOLLIN, on_signal);
	if (r == 0)
		r = loop_add(loop, &sp.pid, pidfd, EPOLLIN, on_exit_);
	if (r == 0 && err_fd >= 0)
		r = loop_add(loop, &sp.err, err_fd, EPOLLIN, on_report);
	if (r < 0) {
		r = err_wrap(r, "watch the cage");
		goto out;
	}

	while (!sp.exited) {
		r = loop_run_once(loop, -1);
		if (r < 0)
			goto out;
	}

	/* Drain a report that raced with the exit. */
	if (sp.err.fd >= 0)
		while (read_report(err_fd, &sp.rep, &sp.have) > 0)
			;
	if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0) {
		r = err_set(negative_errno(), "wait for the cage");
		goto out;
	}
	*ret_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	*ret_reported = sp.have == sizeof(sp.rep);
	if (*ret_reported) {
		sp.rep.msg[sizeof(sp.rep.msg) - 1] = '\0';
		*ret_report = sp.rep;
	}
	r = 0;
out:
	loop_del(loop, &sp.sig);
	loop_del(loop, &sp.pid);
	loop_del(loop, &sp.err);
	return r;
}
