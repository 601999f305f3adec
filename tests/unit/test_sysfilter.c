/* test_sysfilter.c: the cage's seccomp filter, loaded for real in a child (the filter stays with
 * a process for good): what it refuses, with which errno, whatever the high bits of an argument
 * say; what it lets through; what "off" turns off; a listener when asked for; and the Landlock
 * plan for the kernels that will have ABI 9. */
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "landlock.h"
#include "sysfilter.h"
#include "util.h"

/* One call's errno in the child (0 for success). */
typedef long (*call_fn)(void);

static long do_keyctl(void)
{
	return syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL);
}

static long do_unshare_user(void)
{
	return unshare(CLONE_NEWUSER);
}

static long do_unshare_files(void)
{
	return unshare(CLONE_FILES); /* no namespace: allowed */
}

static long do_clone3(void)
{
	uint64_t args[8] = {0};
	long pid;

	args[4] = SIGCHLD;
	pid = syscall(SYS_clone3, args, sizeof(args));
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return pid < 0 ? -1 : 0;
}

static long do_tiocsti_high(void)
{
	char c = 'x';

	/* On a pipe the kernel itself would say ENOTTY: EPERM is the filter's. */
	return syscall(SYS_ioctl, 0, 0xabcd000000000000UL | TIOCSTI, &c);
}

static long do_listener(void)
{
	return syscall(SYS_seccomp, 0xffffffff00000000UL | SECCOMP_SET_MODE_FILTER,
		       SECCOMP_FILTER_FLAG_NEW_LISTENER, NULL);
}

static long do_io_uring(void)
{
	char params[120] = {0};

	return syscall(SYS_io_uring_setup, 1, params);
}

static long do_getpid(void)
{
	return getpid() > 0 ? 0 : -1;
}

static long do_socket_pair(void)
{
	int sv[2];
	long r = socketpair(AF_UNIX, SOCK_STREAM, 0, sv);

	if (r == 0) {
		close(sv[0]);
		close(sv[1]);
	}
	return r;
}

static long do_vsock_high(void)
{
	/* socket(2) reads the family as an int: high bits must not get it past the rule. */
	long fd = syscall(SYS_socket, 0x7fff000000000000UL | AF_VSOCK, SOCK_STREAM, 0);

	if (fd >= 0)
		close((int)fd);
	return fd;
}

static long do_packet(void)
{
	long fd = socket(AF_PACKET, SOCK_DGRAM, 0);

	if (fd >= 0)
		close((int)fd);
	return fd;
}

static long do_vsock_pair(void)
{
	int sv[2];
	long r = socketpair(AF_VSOCK, SOCK_STREAM, 0, sv);

	if (r == 0) {
		close(sv[0]);
		close(sv[1]);
	}
	return r;
}

static int family; /* for do_family, set before the fork */

static long do_family(void)
{
	long fd = syscall(SYS_socket, family, SOCK_DGRAM, 0);

	if (fd >= 0)
		close((int)fd);
	return fd;
}

/* Fork, load the filter in the child (after no_new_privs, as a cage does), make the call with
 * stdin a pipe, and return its errno (0: it worked); -1 if the child died. */
static int errno_in_filter(enum seccomp_mode mode, bool notify, call_fn fn)
{
	int status, p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sysfilter_config cfg = {.mode = mode, .notify = notify};
		int listener;

		dup2(p[0], 0);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    sysfilter_install(&cfg, &listener) < 0)
			_exit(200);
		if (notify != (listener >= 0))
			_exit(201);
		_exit(fn() < 0 ? (errno & 0xff) : 0);
	}
	close(p[0]);
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void default_refuses_the_denylist_with_eperm(void **state)
{
	assert_int_equal(errno_in_filter(SECCOMP_DEFAULT, false, do_keyctl), EPERM);
	assert_int_equal(errno_in_filter(SECCOMP_DEFAULT, false, do_unshare_user), EPERM);
	assert_int_equal(errno_in_filter(SECCOMP_DEFAULT, false, do_clone3), ENOSYS);
}

static void ordinary_calls_pass(void **state)
{
	assert_int_equal(errno_in_filter(SECCOMP_DEFAULT, false, do_getpid), 0);
	assert_int_equal(errno_in_filter(SECCOMP_DEFAULT, false, do_unshare_files), 0);
	assert_int_equal(errno_in_filter(SECCOMP_DEFAULT, false, do_socket_pair), 0);
}

static void off_keeps_only_the_cages_own_rules(void **state)
{
	assert_int_equal(errno_in_filter(SECCOMP_OFF, false, do_keyctl), 0);
	assert_int_equal(errno_in_filter(SECCOMP_OFF, false, do_clone3), 0);
	assert_int_equal(errno_in_filter(SECCOMP_OFF, false, do_tiocsti_high), EPERM);
	assert_int_equal(errno_in_filter(SECCOMP_OFF, false, do_listener), EPERM);
	assert_int_equal(errno_in_filter(SECCOMP_OFF, false, do_io_uring), EPERM);
}

static void high_bits_do_not_get_past_a_rule(void **state)
{
	assert_int_equal(errno_in_filter(SECCOMP_DEFAULT, false, do_tiocsti_high), EPERM);
	assert_int_equal(errno_in_filter(SECCOMP_DEFAULT, false, do_listener), EPERM);
}

static void only_the_families_a_cage_is_judged_in(void **state)
{
	/* Without the filter both are made here (root, a kernel with vsock): the refusal is the
	 * filter's, with the errno that makes programs fall back. */
	if (do_vsock_high() < 0 || do_packet() < 0)
		skip();
	for (int m = SECCOMP_DEFAULT; m <= SECCOMP_OFF; m++) {
		assert_int_equal(errno_in_filter(m, false, do_vsock_high), EAFNOSUPPORT);
		assert_int_equal(errno_in_filter(m, false, do_packet), EAFNOSUPPORT);
		assert_int_equal(errno_in_filter(m, false, do_vsock_pair), EAFNOSUPPORT);
		assert_int_equal(errno_in_filter(m, false, do_socket_pair), 0);
	}
	/* Every family: the filter's EAFNOSUPPORT for all but the four (whatever the kernel
	 * itself would say of them). */
	for (family = 0; family < 64; family++) {
		bool ok = family == AF_UNIX || family == AF_INET || family == AF_INET6 ||
			  family == AF_NETLINK;
		int e = errno_in_filter(SECCOMP_DEFAULT, false, do_family);

		if (ok ? e == EAFNOSUPPORT : e != EAFNOSUPPORT)
			fail_msg("family %d: %s", family, strerror(e));
	}
}

static void notify_gives_a_listener(void **state)
{
	assert_int_equal(sysfilter_probe_notify(), 0);
	/* No supervisor answers: a call it would notify fails (ENOSYS once the listener is
	 * gone), and the rest goes on. */
	assert_int_equal(errno_in_filter(SECCOMP_DEFAULT, true, do_getpid), 0);
}

static void print_lists_what_the_filter_has(void **state)
{
	struct sysfilter_config cfg = {.mode = SECCOMP_DEFAULT, .notify = true};
	struct text t = TEXT_INIT;
	const char *buf;

	sysfilter_render(&cfg, &t, "  ");
	cfg.mode = SECCOMP_OFF;
	cfg.notify = false;
	sysfilter_render(&cfg, &t, "> ");
	assert_int_equal(text_error(&t), 0);
	buf = text_str(&t);
	assert_non_null(strstr(buf, "  seccomp: always: ioctl TIOCSTI TIOCLINUX"));
	assert_non_null(strstr(buf, "  seccomp: to the supervisor: connect sendto"));
	assert_non_null(strstr(buf, " keyctl "));
	assert_non_null(strstr(buf, "clone3: ENOSYS"));
	assert_non_null(strstr(buf, "> seccomp: default denylist off"));
	assert_null(strstr(buf, "> seccomp: to the supervisor"));
	text_free(&t);
}

static void landlock_plan_needs_abi_9_and_keeps_refer(void **state)
{
	struct landlock_plan lp;

	assert_int_equal(landlock_plan_for(7, &lp), -EOPNOTSUPP);
	assert_int_equal(landlock_plan_for(8, &lp), -EOPNOTSUPP);
	assert_int_equal(landlock_plan_for(9, &lp), 0);
	assert_int_equal(lp.handled_fs, (1ULL << 16) | (1ULL << 13));
	assert_int_equal(lp.root_allowed, 1ULL << 13);
	/* This kernel: ABI 7, so restricting says so rather than half doing it. */
	if (landlock_abi() < 9)
		assert_int_equal(landlock_restrict_unix(), -EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(default_refuses_the_denylist_with_eperm),
	    cmocka_unit_test(ordinary_calls_pass),
	    cmocka_unit_test(off_keeps_only_the_cages_own_rules),
	    cmocka_unit_test(high_bits_do_not_get_past_a_rule),
	    cmocka_unit_test(only_the_families_a_cage_is_judged_in),
	    cmocka_unit_test(notify_gives_a_listener),
	    cmocka_unit_test(print_lists_what_the_filter_has),
	    cmocka_unit_test(landlock_plan_needs_abi_9_and_keeps_refer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
