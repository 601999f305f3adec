/* gc.h: removing what runs whose supervisor is gone left behind (gc.c). */
#pragma once

#include <stdbool.h>

/* One line for each thing removed ("removed cage NAME", ...), without a newline. */
typedef void (*gc_said_fn)(const char *line, void *data);

/* As root: the dead cages' cgroups, links, tables, records, tunnel sockets and hook
 * entries, and what no live cage owns; with unload, the resident hooks too (refused while a
 * cage runs). With only (a cage's name), of the records only that cage's, and no orphans
 * (what a service's stop leaves is its own cage's). Each removal is told to said (if set). Returns 0, or a negative errno after
 * doing all it could (each failure logged here, once). */
int gc_run(bool unload, const char *only, gc_said_fn said, void *data);
