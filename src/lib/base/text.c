/* text.c: see text.h. */
#include <stdarg.h>
#include <stdio.h>

#include "text.h"

static bool grow(struct text *t, size_t more)
{
	size_t cap;
	char *b;

	if (t->failed)
		return false;
	if (t->len + more + 1 <= t->cap)
		return true;
	cap = t->cap ? t->cap : 256;
	while (cap < t->len + more + 1)
		cap *= 2;
	b = realloc(t->buf, cap);
	if (!b) {
		t->failed = true;
		return false;
	}
	t->buf = b;
	t->cap = cap;
	return true;
}

void text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->failed = true;
		return;
	}
	if (!grow(t, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

void text_puts(struct text *t, const char *s)
{
	size_t n = strlen(s);

	if (!grow(t, n))
		return;
	memcpy(t->buf + t->len, s, n + 1);
	t->len += n;
}

void text_putc(struct text *t, char c)
{
	if (!grow(t, 1))
		return;
	t->buf[t->len++] = c;
	t->buf[t->len] = '\0';
}

const char *text_str(const struct text *t)
{
	return t->buf ? t->buf : "";
}

int text_error(const struct text *t)
{
	return t->failed ? -ENOMEM : 0;
}

void text_free(struct text *t)
{
	free(t->buf);
	*t = (struct text)TEXT_INIT;
}

void text_json_str(struct text *f, const char *s)
{
	text_putc(f, '"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			text_printf(f, "\\%c", c);
		else if (c == '\n')
			text_puts(f, "\\n");
		else if (c == '\t')
			text_puts(f, "\\t");
		else if (c < 0x20 || c == 0x7f)
			text_printf(f, "\\u%04x", c);
		else
			text_putc(f, (char)c);
	}
	text_putc(f, '"');
}
