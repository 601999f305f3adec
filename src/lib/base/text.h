/* text.h: a string that grows as it is written: what the library renders (the plan, the
 * rulesets, the filter, files it generates) goes into one, never to a stream. The library
 * prints nothing; its caller writes the text where it wants. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct text {
	char *buf; /* NUL-terminated once anything is written; NULL before */
	size_t len, cap;
	bool failed; /* an append ran out of memory: the text is incomplete */
};

#define TEXT_INIT                                                                                  \
	{                                                                                          \
		NULL, 0, 0, false                                                                  \
	}

void text_printf(struct text *t, const char *fmt, ...) _printf_(2, 3);
void text_puts(struct text *t, const char *s);
/* s as a JSON string, quoted and escaped (NULL: ""). */
void text_json_str(struct text *t, const char *s);
void text_putc(struct text *t, char c);
/* The text so far ("" if none). */
const char *text_str(const struct text *t);
/* 0, or -ENOMEM if an append failed. */
int text_error(const struct text *t);
void text_free(struct text *t);

static inline void text_freep(struct text *t)
{
	text_free(t);
}
#define _cleanup_text_ _cleanup_(text_freep)
