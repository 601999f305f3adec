/* test_log.c: the error record: err_set() replaces, err_wrap() adds context outward in to the
 * record of the same failure and replaces one of another, a whole message (err_invalid) stays
 * whole; and log lines reach the sink the program set, or are counted as dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

static void wrap_reads_outward_in(void **state)
{
	err_clear();
	err_set(-EEXIST, "veth %s", "sl-1234abcd");
	err_wrap(-EEXIST, "link of cage %s", "agent");
	assert_string_equal(err_message(-EEXIST),
			    "link of cage agent: veth sl-1234abcd: File exists");
	/* a whole message stays whole: no strerror after it */
	err_invalid("prof.yaml:3:7: allow: \"x\" is not an endpoint");
	err_wrap(-EINVAL, "profile agent");
	assert_string_equal(err_message(-EINVAL),
			    "profile agent: prof.yaml:3:7: allow: \"x\" is not an endpoint");
}

static void wrap_of_another_failure_or_none_is_a_set(void **state)
{
	err_clear();
	err_set(-ENOENT, "open %s", "/nonexistent");
	/* another errno: the record is of another failure (one that was handled) */
	err_wrap(-ENOMEM, "relay: watch timerfd");
	assert_string_equal(err_message(-ENOMEM), "relay: watch timerfd: Cannot allocate memory");
	err_clear();
	err_wrap(-EIO, "watch the cage");
	assert_string_equal(err_message(-EIO), "watch the cage: Input/output error");
	/* and err_set still replaces */
	err_set(-EIO, "read %s", "x");
	assert_string_equal(err_message(-EIO), "read x: Input/output error");
}

static char got[256];

static bool sink(enum log_level level, const char *line, size_t len)
{
	snprintf(got, sizeof(got), "%d %.*s", (int)level, (int)len, line);
	return true;
}

static bool broken(enum log_level level, const char *line, size_t len)
{
	return false;
}

static void lines_go_to_the_sink_or_are_counted(void **state)
{
	unsigned long before;

	log_set_sink(sink);
	log_error("cage %s: %s", "x", "gone");
	assert_string_equal(got, "0 sluice: cage x: gone\n");
	before = log_dropped();
	log_set_sink(broken);
	log_error("lost");
	assert_int_equal(log_dropped(), before + 1);
	log_set_sink(NULL);
	log_error("lost too");
	assert_int_equal(log_dropped(), before + 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(wrap_reads_outward_in),
	    cmocka_unit_test(wrap_of_another_failure_or_none_is_a_set),
	    cmocka_unit_test(lines_go_to_the_sink_or_are_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
