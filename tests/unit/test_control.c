/* test_control.c: a named cage's control socket: the request body parses back to what was
 * put, malformed bodies are refused with a reason, limits hold; and over a real socket pair
 * the supervisor's side passes an exec request on to "pid 1" with the client's fds, refuses
 * a user that is not the cage's, and routes pid 1's report only to the session it names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cmocka.h>

#include "control.h"
#include "log.h"

static void lists_parse_back(void **state)
{
	char *argv[] = {"/bin/sh", "-c", "", "x y", NULL};
	char *env[] = {"A=1", "B=", "C==", NULL};
	_cleanup_text_ struct text t = TEXT_INIT;
	_cleanup_strv_free_ char **a = NULL, **e = NULL;

	/* an empty argument is an argument, not the end of argv */
	assert_int_equal(control_put_lists(&t, argv, env, CTL_MSG_MAX), 0);
	assert_memory_equal(t.buf, "4\0/bin/sh\0-c\0\0x y\0A=1\0B=\0C==\0", t.len);
	assert_int_equal(control_parse_lists(t.buf, t.len, &a, &e), 0);
	for (int i = 0; i < 4; i++)
		assert_string_equal(a[i], argv[i]);
	assert_null(a[4]);
	for (int i = 0; i < 3; i++)
		assert_string_equal(e[i], env[i]);
	assert_null(e[3]);
}

static void bad_bodies_are_refused(void **state)
{
	static const struct {
		const char *body;
		size_t len;
		const char *why;
	} bad[] = {
	    {"", 0, "a request not ended by NUL"},
	    {"1\0ls", 4, "a request not ended by NUL"},
	    {"ls\0", 3, "a request without a command"},
	    {"0\0", 2, "a request without a command"},
	    {"-1\0ls\0", 6, "a request without a command"},
	    /* one spelling of a count only: what is parsed encodes back to the same bytes */
	    {"01\0ls\0", 6, "a request without a command"},
	    {" 1\0ls\0", 6, "a request without a command"},
	    {"1 \0ls\0", 6, "a request without a command"},
	    {"2\0ls\0", 5, "a request without a command"},
	    {"1\0\0", 3, "a request with an empty command name"},
	    {"1\0ls\0=x\0", 9, "an environment entry is KEY=VALUE"},
	    {"1\0ls\0X\0", 8, "an environment entry is KEY=VALUE"},
	};
	char **a = NULL, **e = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(control_parse_lists(bad[i].body, bad[i].len, &a, &e), -EINVAL);
		assert_string_equal(err_message(-EINVAL), bad[i].why);
		assert_null(a);
	}
}

static void too_many_strings_or_bytes(void **state)
{
	_cleanup_free_ char *big = calloc(CTL_ARGS_MAX + 8, 2);
	char **a = NULL, **e = NULL;
	char *argv[] = {"x", NULL}, *env[] = {NULL, NULL};
	_cleanup_text_ struct text t = TEXT_INIT;
	_cleanup_free_ char *huge = malloc(CTL_MSG_MAX + 1);
	size_t len;

	assert_non_null(big);
	len = (size_t)sprintf(big, "%d", CTL_ARGS_MAX + 1) + 1;
	for (size_t i = 0; i <= CTL_ARGS_MAX; i++, len += 2)
		big[len] = 'a';
	assert_int_equal(control_parse_lists(big, len, &a, &e), -EINVAL);
	assert_non_null(strstr(err_message(-EINVAL), "more than"));
	memset(huge, 'A', CTL_MSG_MAX);
	huge[1] = '=';
	huge[CTL_MSG_MAX] = '\0';
	env[0] = huge;
	assert_int_equal(control_put_lists(&t, argv, env, CTL_MSG_MAX), -E2BIG);
}

/* The supervisor's side, on a loop, against a client and a "pid 1" made of socket pairs. */
static int pump(struct loop *l)
{
	int n = 0;

	while (loop_run_once(l, 50) > 0)
		n++;
	return n;
}

static void info(void *data, struct text *out)
{
	text_puts(out, "x\t1\tnone\t1\t0\n{}");
}

static void exec_is_passed_on_and_answered(void **state)
{
	char dir[] = "/tmp/sluice-ctl-XXXXXX", path[128], buf[CTL_MSG_MAX + 1];
	char *env[] = {"PATH=/bin", "A=cage", NULL};
	char *argv[] = {"/bin/echo", "hi", NULL};
	char *extra[] = {"A=client", NULL};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int pid1[2], client, fds[3], stdio[3] = {0, 1, 2};
	struct control *c = NULL;
	struct loop *l = NULL;
	size_t n_fds = 0;
	struct stat st;
	ssize_t n;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ctl", dir);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pid1), 0);
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(control_new(l, path, pid1[0], env, 0, info, NULL, &c), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	client = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(client, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(control_send_exec(client, -1, argv, extra, stdio), 0);
	pump(l);
	/* pid 1 gets E<id>, the command, the cage's env with the client's A replacing its own */
	n = control_recv(pid1[1], buf, CTL_MSG_MAX, fds, &n_fds);
	assert_true(n > 0);
	assert_int_equal(n_fds, 3);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	assert_int_equal(buf[0], 'E');
	assert_string_equal(buf + 1, "1");
	{
		_cleanup_strv_free_ char **a = NULL, **e = NULL;

		assert_int_equal(control_parse_lists(buf + 3, (size_t)n - 3, &a, &e), 0);
		assert_string_equal(a[1], "hi");
		assert_string_equal(a[0], "/bin/echo");
		assert_string_equal(e[0], "PATH=/bin");
		assert_string_equal(e[1], "A=client");
		assert_null(e[2]);
	}
	/* a report for another session goes nowhere; this one's reaches the client */
	assert_int_equal(write(pid1[1], "X2 9", 4), 4);
	assert_int_equal(write(pid1[1], "X1 7", 4), 4);
	pump(l);
	{
		int status = -1;
		bool failed = true;

		assert_int_equal(control_wait_exec(client, &status, &failed), 0);
		assert_int_equal(status, 7);
		assert_false(failed);
	}
	close(client);

	/* another user than the cage's (uid 0 here) is refused before pid 1 hears of it */
	client = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(client, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(control_send_exec(client, 65534, argv, NULL, stdio), 0);
	pump(l);
	{
		int status = -1;
		bool failed = false;

		assert_int_equal(control_wait_exec(client, &status, &failed), 0);
		assert_int_equal(status, 125);
		assert_true(failed);
		assert_non_null(strstr(err_message(-EINVAL), "exec --user can only name"));
	}
	assert_int_equal(control_recv(pid1[1], buf, CTL_MSG_MAX, NULL, NULL), -EAGAIN);
	close(client);

	/* info */
	client = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(client, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(client, "I", 1), 1);
	pump(l);
	n = control_recv(client, buf, CTL_MSG_MAX, NULL, NULL);
	assert_string_equal(buf, "Ix\t1\tnone\t1\t0\n{}");
	close(client);

	control_free(c);
	assert_int_equal(stat(path, &st), -1); /* the socket file went with it */
	loop_free(l);
	close(pid1[0]);
	close(pid1[1]);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(lists_parse_back),
	    cmocka_unit_test(bad_bodies_are_refused),
	    cmocka_unit_test(too_many_strings_or_bytes),
	    cmocka_unit_test(exec_is_passed_on_and_answered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
