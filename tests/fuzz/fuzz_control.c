/* fuzz_control.c: libFuzzer harness for the control socket's request parser (control.c),
 * which reads what a client and the cage's pid 1 send: whatever the bytes, it refuses or
 * returns lists that encode back to exactly the bytes it read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **argv = NULL, **env = NULL;
	struct text t = TEXT_INIT;

	if (control_parse_lists((const char *)data, size, &argv, &env) < 0) {
		if (argv || env)
			abort();
		return 0;
	}
	if (!argv || !argv[0] || !argv[0][0] || !env)
		abort();
	for (char **e = env; *e; e++)
		if (!strchr(*e, '=') || (*e)[0] == '=')
			abort();
	if (control_put_lists(&t, argv, env, SIZE_MAX) < 0 || t.len != size ||
	    memcmp(t.buf, data, size) != 0)
		abort();
	text_free(&t);
	strv_free(argv);
	strv_free(env);
	return 0;
}
