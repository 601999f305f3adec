/* landlock.h: Landlock where it backs the unix broker: from ABI 9 (Linux 7.1) a domain that
 * handles LANDLOCK_ACCESS_FS_RESOLVE_UNIX refuses its processes every pathname unix socket
 * made outside it, which is what the cgroup unix hooks do for a root run, without root. */
#pragma once

/* The kernel's Landlock ABI version, 0 if it has none (or it is off). */
int landlock_abi(void);

/* Make the calling thread (the cage's first process, before the command) and what it starts
 * a Landlock domain refusing pathname unix sockets made outside it; every other access stays
 * as it was. For ABI 9 and later; -EOPNOTSUPP before. */
int landlock_restrict_unix(void);

/* The handled accesses and the one rule for an ABI (0 if it cannot restrict unix sockets):
 * pure, for the unit tests. */
struct landlock_plan {
	unsigned long long handled_fs;
	unsigned long long root_allowed; /* granted on "/" */
};
int landlock_plan_for(int abi, struct landlock_plan *ret);
