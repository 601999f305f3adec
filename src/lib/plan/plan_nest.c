/* plan_nest.c: what a cage's processes reach, as a list a child cage's plan is checked
 * against: a child made inside a cage may ask only for what its parent has. */
#include <stdio.h>

#include "log.h"
#include "plan.h"
#include "text.h"

static void reach_line(struct text *t, const struct endpoint *e)
{
	char s[ADDR_STR_MAX];

	text_printf(t, "%s\n", addr_format(e, s, sizeof(s))); /* "tcp ADDR:PORT" */
}

void plan_render_reach(const struct plan *p, struct text *t)
{
	/* The forwards listen in the cage; a routed link reaches its allowed endpoints. */
	for (size_t i = 0; i < p->n_forwards; i++)
		reach_line(t, &p->forwards[i].listen);
	if (p->link != LINK_NONE)
		for (size_t i = 0; i < p->n_allowed; i++)
			reach_line(t, &p->allowed[i].ep);
	for (size_t i = 0; i < p->n_dns; i++)
		text_printf(t, "dns %s\n", p->dns[i].name);
}

static bool has_line(const char *reach, const char *line)
{
	size_t n = strlen(line);

	for (const char *at = reach; at && *at; at = strchr(at, '\n'), at = at ? at + 1 : NULL)
		if (strncmp(at, line, n) == 0 && (at[n] == '\n' || at[n] == '\0'))
			return true;
	return false;
}

/* The endpoints of reach, as "a, b" for a message. */
static const char *reach_list(const char *reach, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (const char *at = reach; at && *at; at = strchr(at, '\n'), at = at ? at + 1 : NULL) {
		const char *end = strchr(at, '\n');
		int n = end ? (int)(end - at) : (int)strlen(at);

		if (strncmp(at, "dns ", 4) == 0 || n < 4 || off >= len)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%.*s", off ? ", " : "", n, at);
	}
	return off ? buf : "nothing";
}

int plan_check_within(const struct plan *p, const char *parent, const char *reach)
{
	_cleanup_text_ struct text t = TEXT_INIT;

	if (p->link != LINK_NONE)
		return err_invalid("a child cage's link is none: its forwards are served from its "
				   "parent's side");
	if (p->n_publish || p->n_listens || p->n_unix_allow)
		return err_invalid("a child cage offers no services and reaches no unix socket "
				   "of the host");
	for (size_t i = 0; i < p->n_forwards; i++) {
		const struct forward *f = &p->forwards[i];

		if (f->kind != TARGET_TCP)
			return err_invalid("forward to %s: a child cage forwards only to what its "
					   "parent reaches, over TCP",
					   f->path);
		t.len = 0;
		reach_line(&t, &f->target);
		if (text_error(&t))
			return -ENOMEM;
		t.buf[--t.len] = '\0'; /* the line without its newline */
		if (!has_line(reach, text_str(&t))) {
			char has[512];

			return err_invalid("%s: cage \"%s\" does not reach it, so a cage inside it "
					   "cannot (it reaches %s)",
					   text_str(&t), parent,
					   reach_list(reach, has, sizeof(has)));
		}
	}
	for (size_t i = 0; i < p->n_dns; i++) {
		char line[DNS_NAME_MAX + 8];

		if (streq(p->dns[i].name, "proxy.internal"))
			continue; /* the child's own proxy, checked as a forward above */
		snprintf(line, sizeof(line), "dns %s", p->dns[i].name);
		if (!has_line(reach, line))
			return err_invalid("--dns %s: cage \"%s\" does not resolve it, so a cage "
					   "inside it cannot",
					   p->dns[i].name, parent);
	}
	return 0;
}
