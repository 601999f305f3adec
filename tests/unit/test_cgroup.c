/* test_cgroup.c: removing a cage's cgroup (as root, on the real cgroup2 mount): what is in it
 * and below it is killed and removed, and only the cgroup asked for, by its id, is touched. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"
#include "util.h"

static char mount_point[4096];

/* A child sleeping in the cgroup at mount_point/rel (cloned straight into it). */
static pid_t sleeper_in(const char *rel)
{
	char path[4300];
	pid_t pid;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/cgroup.procs", mount_point, rel);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char me[32];

		fd = open(path, O_WRONLY | O_CLOEXEC);
		snprintf(me, sizeof(me), "%d", (int)getpid());
		if (fd < 0 || write(fd, me, strlen(me)) < 0)
			_exit(1);
		close(fd);
		pause();
		_exit(0);
	}
	/* moved once the child shows in cgroup.procs */
	for (int i = 0; i < 500; i++) {
		char buf[256] = "";

		fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_true(read(fd, buf, sizeof(buf) - 1) >= 0);
		close(fd);
		if (atoi(buf) == pid)
			return pid;
		usleep(2000);
	}
	fail_msg("the sleeper never reached %s", rel);
	return -1;
}

/* Whether the child has been killed (reaps it if so). */
static bool killed(pid_t pid)
{
	int status;

	return waitpid(pid, &status, WNOHANG) == pid && WIFSIGNALED(status) &&
	       WTERMSIG(status) == SIGKILL;
}

static bool exists(const char *rel)
{
	char path[4300];

	snprintf(path, sizeof(path), "%s/%s", mount_point, rel);
	return access(path, F_OK) == 0;
}

static uint64_t id_of(const char *rel)
{
	char path[4300];
	uint64_t id = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", mount_point, rel);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(cgroup_id(fd, &id), 0);
	close(fd);
	return id;
}

static void kills_and_removes_the_cgroup_and_all_below(void **state)
{
	char rel[64], inner[96];
	pid_t top, below;
	int fd;

	snprintf(rel, sizeof(rel), "sluice-test-cg.%d", (int)getpid());
	snprintf(inner, sizeof(inner), "%s/inner", rel);
	assert_int_equal(cgroup_create(mount_point, rel, &fd), 0);
	close(fd);
	/* a process in a cgroup may not have cgroups below it with processes too (no internal
	 * processes) unless no controller is on: none is here */
	top = sleeper_in(rel);
	{
		char path[4300];

		snprintf(path, sizeof(path), "%s/%s", mount_point, inner);
		assert_int_equal(mkdir(path, 0755), 0);
	}
	below = sleeper_in(inner);

	assert_int_equal(cgroup_destroy(mount_point, rel, 0), 0);
	assert_true(killed(top));
	assert_true(killed(below));
	assert_false(exists(inner));
	assert_false(exists(rel));
	assert_int_equal(cgroup_destroy(mount_point, rel, 0), -ENOENT);
}

static void another_cgroup_of_the_name_is_left_alone(void **state)
{
	char rel[64];
	uint64_t listed;
	pid_t pid;
	int fd;

	/* gc listed one cgroup of this name; by the time it removes it, that one is gone and
	 * a new cage has taken the name */
	snprintf(rel, sizeof(rel), "sluice-test-cg2.%d", (int)getpid());
	assert_int_equal(cgroup_create(mount_point, rel, &fd), 0);
	close(fd);
	listed = id_of(rel);
	assert_int_equal(cgroup_destroy(mount_point, rel, listed), 0);
	assert_int_equal(cgroup_create(mount_point, rel, &fd), 0);
	close(fd);
	pid = sleeper_in(rel);
	assert_int_not_equal(id_of(rel), listed);

	assert_int_equal(cgroup_destroy(mount_point, rel, listed), -ESTALE);
	assert_false(killed(pid));
	assert_true(exists(rel));

	assert_int_equal(cgroup_destroy(mount_point, rel, id_of(rel)), 0);
	assert_true(killed(pid));
	assert_false(exists(rel));
}

/* Whatever a failed test left: killed and removed, as gc would. */
static int scrub(void **state)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "sluice-test-cg.%d", (int)getpid());
	(void)cgroup_destroy(mount_point, rel, 0);
	snprintf(rel, sizeof(rel), "sluice-test-cg2.%d", (int)getpid());
	(void)cgroup_destroy(mount_point, rel, 0);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(kills_and_removes_the_cgroup_and_all_below, scrub),
	    cmocka_unit_test_teardown(another_cgroup_of_the_name_is_left_alone, scrub),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_cgroup: needs root (cgroups are made and removed)\n");
		return 1;
	}
	if (cgroup_find_mount(mount_point, sizeof(mount_point)) < 0) {
		fprintf(stderr, "test_cgroup: no cgroup2 mount\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
