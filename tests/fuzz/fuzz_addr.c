/* fuzz_addr.c: libFuzzer harness for addr.c, the parser of every address a user or profile
 * gives: whatever the input, parsing must not crash, must record a one-line error on failure,
 * and what it formats must parse back to the same endpoint. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[512], buf[ADDR_STR_MAX + 16];
	struct endpoint e, back;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	err_clear();
	if (addr_parse(s, &e) < 0) {
		if (!err_is_set() || strchr(err_message(-EINVAL), '\n'))
			abort();
		return 0;
	}
	addr_format_url(&e, buf, sizeof(buf));
	if (addr_parse(buf, &back) < 0 || !addr_equal(&e, &back))
		abort();
	return 0;
}
