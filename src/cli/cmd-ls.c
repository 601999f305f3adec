/* cmd-ls.c: `sluice ls [--json]`: the cages on this host, from their records; a named one's
 * supervisor is asked what it is (control.h), one line each, or a JSON array. */
#include <stdio.h>

#include "cmds.h"
#include "control.h"
#include "log.h"
#include "named.h"
#include "state.h"

/* One cage: its supervisor's answer (named), else what its record says; a child cage is
 * indented below its parent. */
static void list_one(const char *name, unsigned depth, bool json, bool *first)
{
	struct cage_state s;
	char shown[CAGE_NAME_MAX + 2 * 8 + 1];
	_cleanup_free_ char *info = NULL;
	_cleanup_close_ int fd = -1;
	char path[160];
	bool alive;

	if (state_read(name, &s) < 0)
		return; /* ended meanwhile, or not a record */
	alive = state_alive(&s);
	snprintf(shown, sizeof(shown), "%*s%s", 2 * (int)(depth < 8 ? depth : 8), "", s.name);
	named_ctl_path(name, path, sizeof(path));
	if (alive && control_connect(path, &fd) == 0 && control_info(fd, &info) == 0) {
		/* "<name>\t<pid>\t<link>\t<processes>\t<connections>\n<json>" */
		char *nl = strchr(info, '\n');

		if (!nl)
			return;
		*nl = '\0';
		if (json) {
			printf("%s%s", *first ? "" : ",\n  ", nl + 1);
		} else {
			char f[5][72] = {{0}};
			char *save = NULL, *tok = strtok_r(info, "\t", &save);

			for (int i = 0; i < 5 && tok; i++, tok = strtok_r(NULL, "\t", &save))
				snprintf(f[i], sizeof(f[i]), "%s", tok);
			printf("%-20s %-8s %-10s %-6s %-6s /run/netns/%s\n", shown, f[1], f[2], f[3],
			       f[4], f[0]);
		}
		*first = false;
		return;
	}
	if (json) {
		printf("%s{\"name\": \"%s\", \"supervisor_pid\": %d, \"named\": %s, "
		       "\"alive\": %s, \"parent\": ",
		       *first ? "" : ",\n  ", s.name, (int)s.pid, s.bound ? "true" : "false",
		       alive ? "true" : "false");
		printf(s.parent[0] ? "\"%s\"}" : "null}", s.parent);
	} else
		printf("%-20s %-8d %-10s %-6s %-6s %s\n", shown, (int)s.pid, "-", "-", "-",
		       !alive	 ? "(dead: sluice gc removes it)"
		       : s.bound ? "(named: its supervisor did not answer)"
				 : "(sluice run)");
	*first = false;
}

/* The cages whose parent is parent (NULL: those with none, or whose parent has no record),
 * each followed by its own children. Records are names of cages: a parent chain cannot loop
 * but through a record edited by hand, which depth bounds. */
static void list_tree(char **names, const char *parent, unsigned depth, bool json, bool *first)
{
	for (char **n = names; *n; n++) {
		struct cage_state s, ps;
		bool root;

		if (state_read(*n, &s) < 0)
			continue;
		root = !s.parent[0] || state_read(s.parent, &ps) < 0;
		if (parent ? root || !streq(s.parent, parent) : !root)
			continue;
		list_one(*n, depth, json, first);
		if (depth < 16)
			list_tree(names, s.name, depth + 1, json, first);
	}
}

int cmd_ls(int argc, char **argv)
{
	_cleanup_strv_free_ char **names = NULL;
	bool json = false, first = true;
	int r;

	if (argc == 2 && streq(argv[1], "--json"))
		json = true;
	else if (argc != 1) {
		bool help = argc == 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"));

		fprintf(help ? stdout : stderr,
			"Usage: sluice ls [--json]\n"
			"List the cages on this host: name, supervisor pid, link, processes,\n"
			"connections served, and where a named cage's netns is; a child cage is\n"
			"indented under its parent. --json: an array of objects (see sluice(1),\n"
			"LS JSON).\n");
		return help ? 0 : EXIT_SLUICE;
	}
	r = state_list(&names);
	if (r < 0) {
		log_errno(r, "list %s", STATE_DIR);
		return EXIT_SLUICE;
	}
	if (json)
		printf("[");
	else
		printf("%-20s %-8s %-10s %-6s %-6s %s\n", "NAME", "PID", "LINK", "PROCS", "CONNS",
		       "NETNS");
	list_tree(names, NULL, 0, json, &first);
	if (json)
		printf("%s]\n", first ? "" : "\n");
	return 0;
}
