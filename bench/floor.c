/*
 * floor.c: the kernel work a link-none cage cannot do without, done by the least program
 * that does it, so that the start table can tell the kernel's share of sluice's time from
 * sluice's own. Run as root: floor CMD [ARGS...]
 *
 * It makes a cgroup, clones its first process straight into it with new net, mount, pid,
 * ipc and uts namespaces, and that process (pid 1 of the new pid namespace) enters a new
 * cgroup namespace, makes its mounts private, mounts a fresh /proc, a read-only sysfs and
 * cgroup2, sets the hostname, spawns CMD and waits for it; then the cgroup is removed.
 * Missing, against sluice: the record, the user lookup, the nftables ruleset, the eBPF
 * map entries, the bind mounts of /proc/sys and the generated /etc files, the sockets and
 * the supervisor's loop, dropping capabilities, and every check and error path.
 *
 * Built twice by the Makefile: linked to libc alone, and to sluice's libraries as well
 * (--no-as-needed), to show what loading them costs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char cg[600]; /* the cgroup made, removed on every way out of main */
static pid_t main_pid;

static _Noreturn void die(const char *what)
{
	perror(what);
	if (cg[0] && getpid() == main_pid) {
		char kill_path[sizeof(cg) + 16];
		int fd;

		/* what is in the cgroup goes with it */
		snprintf(kill_path, sizeof(kill_path), "%s/cgroup.kill", cg);
		fd = open(kill_path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "1", 1);
			close(fd);
		}
		for (int i = 0; i < 500 && rmdir(cg) < 0 && errno == EBUSY; i++)
			usleep(1000);
	}
	_exit(125);
}

/* The cgroup2 mount point, from mountinfo (field 5 of the line whose fs type is cgroup2). */
static void cgroup2_mount(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (!f)
		die("mountinfo");
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;

		if (!strstr(line, " - cgroup2 "))
			continue;
		for (int i = 0; i < 4 && p; i++)
			p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
		end = p ? strchr(p, ' ') : NULL;
		if (!end)
			continue;
		*end = '\0';
		snprintf(buf, len, "%s", p);
		fclose(f);
		return;
	}
	die("no cgroup2 mount");
}

static _Noreturn void first_process(char **argv)
{
	pid_t pid;
	int status;

	if (unshare(CLONE_NEWCGROUP) < 0)
		die("unshare cgroup");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("private");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die("proc");
	if (mount("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die("sysfs");
	if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2",
		  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die("cgroup2");
	if (sethostname("floor", 5) < 0)
		die("hostname");
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		_exit(127);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(125);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

int main(int argc, char **argv)
{
	struct clone_args args = {0};
	char root[512];
	int cgfd, status;
	long pid;

	if (argc < 2) {
		fprintf(stderr, "usage: floor CMD [ARGS...]\n");
		return 125;
	}
	main_pid = getpid();
	cgroup2_mount(root, sizeof(root));
	snprintf(cg, sizeof(cg), "%s/sluice-bench-floor.%d", root, (int)main_pid);
	if (mkdir(cg, 0755) < 0) {
		cg[0] = '\0';
		die("mkdir cgroup");
	}
	cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0)
		die("open cgroup");

	args.flags = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
		     CLONE_INTO_CGROUP;
	args.exit_signal = SIGCHLD;
	args.cgroup = (uint64_t)cgfd;
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0)
		die("clone3");
	if (pid == 0)
		first_process(argv + 1);
	while (waitpid((pid_t)pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	close(cgfd);
	if (rmdir(cg) < 0) {
		perror("rmdir cgroup");
		return 125;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
