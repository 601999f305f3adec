/* fuzz_broker.c: libFuzzer harness for what the unix broker reads from a caged process's
 * memory before anything else: the destination (as the kernel reads a sockaddr_un) and the
 * ancillary data (walked as the kernel walks it). Whatever the bytes, neither may crash or read
 * past them; a path parsed is a string within sun_path; every message walked lies inside the
 * buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "broker.h"
#include "unixpath.h"

struct span {
	const char *start;
	size_t len;
};

static int inside(struct cmsghdr *c, void *data)
{
	const struct span *s = data;
	const char *p = (const char *)c;

	if (p < s->start || p + c->cmsg_len > s->start + s->len || c->cmsg_len < sizeof(*c))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[UNIX_PATH_MAX + 1];
	enum unixpath_kind kind;
	struct sockaddr_un sun;
	void *control;
	struct span s;

	if (size <= sizeof(sun)) {
		memset(&sun, 0, sizeof(sun));
		memcpy(&sun, data, size);
		if (unixpath_parse(&sun, size, &kind, path) == 0 &&
		    (strlen(path) > sizeof(sun.sun_path) ||
		     (kind == UNIXPATH_PATH) != (path[0] != '\0')))
			abort();
	}
	/* The broker's control buffer is a malloc'd copy: aligned, exactly size bytes. */
	control = malloc(size ? size : 1);
	if (!control)
		return 0;
	memcpy(control, data, size);
	s.start = control;
	s.len = size;
	(void)broker_cmsg_walk(control, size, inside, &s);
	free(control);
	return 0;
}
