/* wggo.c: the wireguard-go process: started with its own log, watched by pidfd, stopped. */
#include <fcntl.h>
#include <linux/sched.h> /* struct clone_args */
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "log.h"
#include "wg.h"
#include "wgconf.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define WGGO_START_TIMEOUT_MS 5000
#define WGGO_TERM_TIMEOUT_MS  3000
#define WGGO_LOG_SIZE	      (64 * 1024)

/* --- the wireguard-go process ------------------------------------------------------------ */

static const char *const wggo_paths[] = {"/usr/bin/wireguard-go", "/usr/local/bin/wireguard-go",
					 "/usr/sbin/wireguard-go"};

__attribute__((noreturn)) static void child_fail(const char *what)
{
	/* async-signal-safe only: this runs between clone and exec (strerrordesc_np neither
	 * allocates nor looks at the locale) */
	const char *e = strerrordesc_np(errno);

	if (!e)
		e = "unknown error";

	(void)!write(STDERR_FILENO, "sluice: ", 8);
	(void)!write(STDERR_FILENO, what, strlen(what));
	(void)!write(STDERR_FILENO, ": ", 2);
	(void)!write(STDERR_FILENO, e, strlen(e));
	(void)!write(STDERR_FILENO, "\n", 1);
	_exit(127);
}

/* Between clone and exec: no allocation, no locks. */
__attribute__((noreturn)) static void wggo_child(pid_t parent, int devnull, int log_fd,
						 const char *run_dir, const char *bin,
						 char *const argv[], char *const envp[])
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t all;

	/* its logger writes to stdout, the Go runtime to stderr: both to the log */
	if (dup2(devnull, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
	    dup2(log_fd, STDERR_FILENO) < 0)
		_exit(127);
	/* Dies with the supervisor, even on SIGKILL. PDEATHSIG follows the thread that
	 * created the child; sluice starts it from its main thread, which lives as long as
	 * the supervisor. If the parent is already gone, the signal will never come. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail("PR_SET_PDEATHSIG");
	if (getppid() != parent)
		_exit(127);
	/* its own process group: a ^C at the terminal is for the command, and the supervisor
	 * stops wireguard-go in its own time, after the cage */
	(void)setpgid(0, 0);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	if (run_dir) {
		/* wireguard-go's socket directory is compiled in (ipc/uapi_unix.go, and the
		 * inotify watch in uapi_linux.go needs the socket there even with WG_UAPI_FD):
		 * give it its own view of that directory, made private so the bind mount
		 * stays in this namespace. */
		if (unshare(CLONE_NEWNS) < 0)
			child_fail("unshare(CLONE_NEWNS)");
		if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
			child_fail("make / a slave mount");
		if (mount(run_dir, WG_RUN_DIR, NULL, MS_BIND, NULL) < 0)
			child_fail("bind the run directory over " WG_RUN_DIR);
	}
	if (close_range(3, ~0U, 0) < 0)
		child_fail("close_range");
	execve(bin, argv, envp);
	child_fail(bin);
}

static int wait_exit(int pidfd, int timeout_ms)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r < 0 ? negative_errno() : r; /* 1: it exited */
}

static int reap(struct wggo *w, siginfo_t *si)
{
	memset(si, 0, sizeof(*si));
	for (;;) {
		if (waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, si, WEXITED) == 0)
			return 0;
		if (errno == ECHILD) /* a waitpid(-1) elsewhere in the process got it first */
			return 0;
		if (errno != EINTR)
			return negative_errno();
	}
}

static void wggo_close(struct wggo *w)
{
	if (w->pidfd >= 0)
		close(w->pidfd);
	if (w->log_fd >= 0)
		close(w->log_fd);
	w->pidfd = w->log_fd = -1;
}

size_t wggo_log(const struct wggo *w, char *buf, size_t size)
{
	ssize_t n;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	if (w->log_fd < 0)
		return 0;
	/* pread: the daemon writes through the shared file offset, which must not move */
	n = pread(w->log_fd, buf, size - 1, 0);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return strlen(buf); /* the rest of the sealed file is zeros */
}

/* Its log's last non-empty line, for a one-line error. */
static const char *last_line(char *log)
{
	char *e = log + strlen(log), *s;

	while (e > log && (e[-1] == '\n' || e[-1] == ' '))
		*--e = '\0';
	s = strrchr(log, '\n');
	return s ? s + 1 : log;
}

static int make_log(void)
{
	_cleanup_close_ int fd = memfd_create("wireguard-go-log", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return negative_errno();
	/* A fixed size, sealed: writes past the end fail instead of growing memory, and the
	 * daemon never blocks on a log nobody reads (as it could on a pipe). */
	if (ftruncate(fd, WGGO_LOG_SIZE) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

int wggo_start(const char *ifname, const char *run_dir, struct wggo *ret)
{
	char *argv[] = {(char *)"wireguard-go", (char *)"-f", (char *)ifname, NULL};
	/* a clean environment: an inherited WG_TUN_FD or WG_UAPI_FD would redirect it */
	char *envp[] = {(char *)"WG_PROCESS_FOREGROUND=1", (char *)"LOG_LEVEL=error",
			(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	_cleanup_(wggo_close) struct wggo w = {.pidfd = -1, .log_fd = -1};
	_cleanup_close_ int devnull = -1;
	struct clone_args ca = {0};
	const char *bin = NULL, *dir = run_dir ? run_dir : WG_RUN_DIR;
	pid_t parent = getpid(), pid;
	int pidfd = -1, r;
	struct timespec start, now;
	char log[512];
	siginfo_t si;

	if (!wg_ifname_valid(ifname))
		return err_invalid("\"%s\" is not a valid interface name", ifname);
	if (run_dir && (run_dir[0] != '/' || streq(run_dir, WG_RUN_DIR)))
		return err_invalid("wireguard-go run directory \"%s\" must be an absolute path "
				   "other than " WG_RUN_DIR " (or none)",
				   run_dir);
	if ((size_t)snprintf(w.sock_path, sizeof(w.sock_path), "%s/%s.sock", dir, ifname) >=
	    sizeof(w.sock_path))
		return err_set(-ENAMETOOLONG, "wireguard-go socket in %s", dir);
	snprintf(w.ifname, sizeof(w.ifname), "%s", ifname);
	for (size_t i = 0; i < ARRAY_SIZE(wggo_paths) && !bin; i++)
		if (access(wggo_paths[i], X_OK) == 0)
			bin = wggo_paths[i];
	if (!bin)
		return err_set(-ENOENT, "wireguard-go is not installed (Debian package "
					"wireguard-go; `make deps` installs it)");
	if (wg_uapi_live(w.sock_path))
		return err_set(-EADDRINUSE, "a wireguard-go for %s already answers on %s", ifname,
			       w.sock_path);
	/* wireguard-go makes WG_RUN_DIR itself; a bind mount needs it to exist first */
	if (mkdir(WG_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return err_set(negative_errno(), "create %s", WG_RUN_DIR);
	if (run_dir && mkdir(run_dir, 0700) < 0 && errno != EEXIST)
		return err_set(negative_errno(), "create %s", run_dir);

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return err_set(negative_errno(), "open /dev/null");
	w.log_fd = make_log();
	if (w.log_fd < 0)
		return err_set(w.log_fd, "wireguard-go log");

	/* clone3 with CLONE_PIDFD: the pidfd exists from the start, so there is no window in
	 * which the pid could be reaped and reused before we hold it. */
	ca.flags = CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0)
		return err_set(negative_errno(), "start wireguard-go");
	if (pid == 0)
		wggo_child(parent, devnull, w.log_fd, run_dir, bin, argv, envp);
	w.pid = pid;
	w.pidfd = pidfd;

	/* Ready when its UAPI socket answers a get; it makes the tun device first. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		_cleanup_free_ char *reply = NULL;
		size_t len;

		if (wg_uapi_exchange(w.sock_path, "get=1\n\n", 7, &reply, &len) == 0 &&
		    wg_uapi_parse_errno(reply, len) == 0) {
			explicit_bzero(reply, len);
			break;
		}
		r = wait_exit(w.pidfd, 10);
		if (r < 0)
			goto kill;
		if (r == 1) {
			reap(&w, &si);
			wggo_log(&w, log, sizeof(log));
			return err_set(-EIO, "wireguard-go for %s exited at start (%s %d): %s",
				       ifname, si.si_code == CLD_EXITED ? "status" : "signal",
				       si.si_status, last_line(log));
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
		    WGGO_START_TIMEOUT_MS) {
			r = -ETIMEDOUT;
			goto kill;
		}
	}
	*ret = w;
	w.pidfd = w.log_fd = -1; /* *ret's now */
	return 0;
kill:
	syscall(SYS_pidfd_send_signal, w.pidfd, SIGKILL, NULL, 0);
	reap(&w, &si);
	wggo_log(&w, log, sizeof(log));
	return err_set(r, "wireguard-go for %s did not answer on %s (%s)", ifname, w.sock_path,
		       last_line(log));
}

int wggo_stop(struct wggo *w)
{
	siginfo_t si;
	int r;

	if (!w || w->pidfd < 0)
		return 0;
	if (syscall(SYS_pidfd_send_signal, w->pidfd, SIGTERM, NULL, 0) < 0 && errno != ESRCH) {
		r = negative_errno();
		return err_set(r, "stop wireguard-go for %s", w->ifname);
	}
	r = wait_exit(w->pidfd, WGGO_TERM_TIMEOUT_MS);
	if (r == 0) {
		log_debug("wireguard-go for %s ignored SIGTERM; killing it", w->ifname);
		syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
	}
	r = reap(w, &si);
	if (r < 0)
		return err_set(r, "reap wireguard-go for %s", w->ifname);
	wggo_close(w);
	/* killed, it leaves its socket behind; nothing answers on it now */
	if (!wg_uapi_live(w->sock_path))
		(void)unlink(w->sock_path);
	return 0;
}
