/* test_api.c: include/sluice.h as a program of its own would use it (nothing but the public
 * header): a profile's errors with their place, a plan as text and JSON, a real run of a
 * command in a cage (as root, in a network namespace of the test's own), its exit status,
 * and the log lines that reached the program's function. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <sluice.h>

static char dir[] = "/tmp/sluice-test-api-XXXXXX";
static char lines[1 << 18]; /* a run at -v logs some kilobytes */

static bool keep(int level, const char *line, size_t len)
{
	size_t n = strlen(lines);

	if (n + len < sizeof(lines))
		memcpy(lines + n, line, len + 1);
	return true;
}

static const char *profile(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.yaml", dir, name);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int setup(void **state)
{
	if (!mkdtemp(dir) || unshare(CLONE_NEWNET) < 0)
		return -1;
	sluice_set_log(keep, SLUICE_LOG_DEBUG);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void a_bad_profile_says_where(void **state)
{
	struct sluice_policy *p = NULL;
	int r = sluice_policy_from_profile(profile("bad", "link: none\nlink_mode: x\n"), &p);

	assert_true(r < 0);
	assert_null(p);
	assert_non_null(strstr(sluice_error(r), "bad.yaml:2:1: "));
}

static void a_plan_is_text_and_json(void **state)
{
	struct sluice_policy *p;
	struct sluice_plan *pl;
	char *argv[] = {"/bin/true", NULL}, *text;

	assert_int_equal(sluice_policy_from_profile(
			     profile("plan", "name: apiplan\nlink: none\nuser: root\n"), &p),
			 0);
	assert_int_equal(sluice_plan_new(p, argv, &pl), 0);
	assert_int_equal(sluice_plan_text(pl, false, &text), 0);
	assert_non_null(strstr(text, "cage apiplan\n"));
	assert_non_null(strstr(text, "  link       none: lo only\n"));
	free(text);
	assert_int_equal(sluice_plan_text(pl, true, &text), 0);
	assert_non_null(strstr(text, "\"name\": \"apiplan\""));
	assert_non_null(strstr(text, "\"command\": [\"/bin/true\"]"));
	free(text);
	sluice_plan_free(pl);
}

static void a_run_passes_the_status_on_and_logs_through_the_programs_function(void **state)
{
	struct sluice_policy *p;
	struct sluice_plan *pl;
	char *argv[] = {"/bin/sh", "-c", "exit 7", NULL};
	int status = -1;

	assert_int_equal(sluice_policy_from_profile(
			     profile("run", "name: apirun\nlink: none\nuser: root\n"), &p),
			 0);
	assert_int_equal(sluice_plan_new(p, argv, &pl), 0);
	lines[0] = '\0';
	assert_int_equal(sluice_run(pl, &status), 0);
	assert_int_equal(status, 7);
	assert_int_equal(access("/run/sluice/apirun", F_OK), -1); /* its record went with it */
	assert_non_null(strstr(lines, "sluice: enforcement layers of this run:\n"));
	sluice_plan_free(pl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_bad_profile_says_where),
	    cmocka_unit_test(a_plan_is_text_and_json),
	    cmocka_unit_test(a_run_passes_the_status_on_and_logs_through_the_programs_function),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
