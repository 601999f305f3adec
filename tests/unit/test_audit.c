/* test_audit.c: what a denial becomes. The line names the program, what it tried and what
 * the cage allows, with what the caged program chose escaped; the JSON object has the fields
 * sluice(1) AUDIT lists, for each kind; repeats are collapsed into one "again" line; learn
 * mode records each destination once with its count and programs. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "audit.h"
#include "log.h"

static struct audit_event tcp_event(void)
{
	struct audit_event e = {.layer = AUDIT_IP_HOOKS, .kind = AUDIT_CONNECT, .pid = 42,
				.has_ep = true};

	snprintf(e.comm, sizeof(e.comm), "curl");
	e.ep.family = AF_INET;
	e.ep.proto = IPPROTO_TCP;
	e.ep.port = 80;
	inet_pton(AF_INET, "198.51.100.2", &e.ep.ip.v4);
	return e;
}

static void line_names_program_destination_and_what_is_allowed(void **state)
{
	struct audit_event e = tcp_event();
	_cleanup_text_ struct text t = TEXT_INIT, again = TEXT_INIT;

	(void)state;
	audit_render_line(&e, "tcp 127.0.0.1:8888", 0, &t);
	assert_string_equal(text_str(&t), "refused curl[42] connect 198.51.100.2:80/tcp (not an "
					  "allowed endpoint; allowed: tcp 127.0.0.1:8888)");
	audit_render_line(&e, "tcp 127.0.0.1:8888", 7, &again);
	assert_string_equal(text_str(&again),
			    "refused curl[42] connect 198.51.100.2:80/tcp again, 7 more time(s)");
}

static void what_the_cage_chose_is_escaped(void **state)
{
	struct audit_event e = {.layer = AUDIT_UNIX_BROKER, .kind = AUDIT_CONNECT, .pid = 7,
				.path = "/tmp/\x1b]0;owned\x07.sock"};
	_cleanup_text_ struct text t = TEXT_INIT;

	(void)state;
	snprintf(e.comm, sizeof(e.comm), "x\x1b[2J");
	audit_render_line(&e, NULL, 0, &t);
	assert_null(strchr(text_str(&t), '\x1b'));
	assert_null(strchr(text_str(&t), '\x07'));
	assert_non_null(strstr(text_str(&t), "x\\x1b[2J[7] connect /tmp/\\x1b]0;owned\\x07.sock (unix)"));
}

static void json_has_every_field(void **state)
{
	struct audit_event e = tcp_event();
	struct audit_event n = {.layer = AUDIT_DNS, .kind = AUDIT_NAME, .name = "exfil.example"};
	_cleanup_text_ struct text t = TEXT_INIT, d = TEXT_INIT;

	(void)state;
	audit_render_json(&e, "agent", 3, "/usr/bin/curl", 1796428800123ULL, 1, &t);
	assert_string_equal(text_str(&t),
			    "{\"time\": \"2026-12-05T00:00:00.123Z\", \"cage\": \"agent\", \"pid\": 42, "
			    "\"cage_pid\": 3, \"comm\": \"curl\", \"exe\": \"/usr/bin/curl\", "
			    "\"layer\": \"ip_hooks\", \"kind\": \"connect\", \"destination\": "
			    "\"198.51.100.2\", \"port\": 80, \"protocol\": \"tcp\", \"verdict\": "
			    "\"refused\", \"count\": 1}");
	audit_render_json(&n, "agent", 0, NULL, 1796428800123ULL, 2, &d);
	assert_non_null(strstr(text_str(&d), "\"pid\": null, \"cage_pid\": null, \"comm\": null, "
					     "\"exe\": null, \"layer\": \"dns\", \"kind\": \"name\", "
					     "\"destination\": \"exfil.example\", \"port\": null, "
					     "\"protocol\": \"dns\", \"verdict\": \"refused\", "
					     "\"count\": 2}"));
}

static char said[8][512];
static size_t n_said;

static bool sink(enum log_level level, const char *line, size_t len)
{
	(void)level;
	if (n_said < 8)
		snprintf(said[n_said++], sizeof(said[0]), "%.*s", (int)len, line);
	return true;
}

static void repeats_are_collapsed_and_learned_once(void **state)
{
	struct audit_config cfg = {.cage = "c", .json_fd = -1, .learn = true, .allowed = ""};
	struct audit_event e = tcp_event();
	const struct audit_learned *l;
	struct loop *loop = NULL;
	struct audit *a = NULL;

	(void)state;
	log_set_sink(sink);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(audit_new(loop, &cfg, &a), 0);
	for (int i = 0; i < 5; i++)
		audit_report(a, &e);
	snprintf(e.comm, sizeof(e.comm), "wget");
	audit_report(a, &e);
	assert_int_equal(n_said, 2); /* curl's first, wget's first */
	audit_flush(a);
	assert_int_equal(n_said, 3);
	assert_non_null(strstr(said[2], "curl[42] connect 198.51.100.2:80/tcp again, 4 more"));
	assert_int_equal(audit_count(a), 6);
	assert_int_equal(audit_learned(a, &l), 1);
	assert_int_equal(l[0].count, 6);
	assert_string_equal(l[0].comms, "curl,wget");
	audit_free(a);
	loop_free(loop);
	log_set_sink(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(line_names_program_destination_and_what_is_allowed),
	    cmocka_unit_test(what_the_cage_chose_is_escaped),
	    cmocka_unit_test(json_has_every_field),
	    cmocka_unit_test(repeats_are_collapsed_and_learned_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
