/* httphead.c: see httphead.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "httphead.h"
#include "util.h"

int http_head_len(const char *buf, size_t len)
{
	size_t n = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;

	/* An empty line: "\n" then "\r\n" or "\n". */
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < n && buf[i + 1] == '\n')
			return (int)(i + 2);
		if (i + 2 < n && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return (int)(i + 3);
	}
	return len >= HTTP_HEAD_MAX ? -EMSGSIZE : 0;
}

/* RFC 9110's tchar. */
static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

struct out {
	char *buf;
	size_t size, len;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || n > o->size - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* The next line of [*at, end): its bytes without the line end, in *ret and *ret_len. A
 * bare CR, or a NUL, anywhere is malformed. */
static int next_line(const char **at, const char *end, const char **ret, size_t *ret_len)
{
	const char *s = *at, *nl = memchr(s, '\n', (size_t)(end - s));
	size_t n;

	if (!nl)
		return -EBADMSG;
	n = (size_t)(nl - s);
	if (n && s[n - 1] == '\r')
		n--;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\0')
			return -EBADMSG;
	*ret = s;
	*ret_len = n;
	*at = nl + 1;
	return 0;
}

static bool field_is(const char *line, size_t name_len, const char *name)
{
	return strlen(name) == name_len && strncasecmp(line, name, name_len) == 0;
}

static int request_line(const char *l, size_t n, bool *ret_connect)
{
	const char *sp1 = memchr(l, ' ', n), *sp2;
	size_t mlen;

	if (!sp1 || sp1 == l)
		return -EBADMSG;
	mlen = (size_t)(sp1 - l);
	for (size_t i = 0; i < mlen; i++)
		if (!is_tchar(l[i]))
			return -EBADMSG;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(l + n - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1)
		return -EBADMSG;
	for (const char *c = sp1 + 1; c < sp2; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return -EBADMSG;
	if ((size_t)(l + n - sp2 - 1) != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return -EBADMSG;
	*ret_connect = mlen == 7 && memcmp(l, "CONNECT", 7) == 0;
	return 0;
}

int http_head_rewrite(const char *head, size_t len, const char *credentials, char *out,
		      size_t size, bool *ret_connect)
{
	struct out o = {.buf = out, .size = size};
	const char *at = head, *end = head + len, *l;
	bool connect = false;
	size_t n;
	int r;

	/* RFC 9112 2.2: empty lines before the request line are ignored. */
	while (at < end && (*at == '\n' || (*at == '\r' && at + 1 < end && at[1] == '\n')))
		at += *at == '\n' ? 1 : 2;
	r = next_line(&at, end, &l, &n);
	if (r == 0)
		r = request_line(l, n, &connect);
	if (r < 0)
		return r;
	put(&o, l, n);
	puts_(&o, "\r\n");
	for (;;) {
		const char *colon;
		size_t name_len;

		r = next_line(&at, end, &l, &n);
		if (r < 0)
			return r;
		if (n == 0)
			break;
		/* Obsolete line folding, and a field without a token name or with space before
		 * its colon: read differently by different servers (request smuggling). */
		colon = memchr(l, ':', n);
		if (!colon || colon == l)
			return -EBADMSG;
		name_len = (size_t)(colon - l);
		for (size_t i = 0; i < name_len; i++)
			if (!is_tchar(l[i]))
				return -EBADMSG;
		if (field_is(l, name_len, "Proxy-Authorization"))
			continue;
		if (!connect && (field_is(l, name_len, "Connection") ||
				 field_is(l, name_len, "Proxy-Connection") ||
				 field_is(l, name_len, "Keep-Alive")))
			continue;
		put(&o, l, n);
		puts_(&o, "\r\n");
	}
	if (at != end)
		return -EBADMSG; /* the head must end where http_head_len said */
	puts_(&o, "Proxy-Authorization: ");
	puts_(&o, credentials);
	puts_(&o, "\r\n");
	if (!connect)
		puts_(&o, "Connection: close\r\n");
	puts_(&o, "\r\n");
	if (o.full)
		return -ENOBUFS;
	*ret_connect = connect;
	return (int)o.len;
}
