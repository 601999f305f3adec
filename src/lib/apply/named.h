/* named.h: what makes a cage a named one that others attach to: its netns bound at
 * /run/netns/<name> (iproute2's convention) and its control socket beside its record. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define NETNS_DIR "/run/netns"

/* STATE_DIR/.<name>.ctl: hidden from the records' listing, removed with the record. */
void named_ctl_path(const char *name, char *buf, size_t len);

/*
 * Bind the netns open at netns_fd to NETNS_DIR/<name>, as `ip netns add` does (a shared mount
 * of NETNS_DIR, so mount namespaces made later see binds made after them). -EEXIST (with the
 * error recorded) if that name is taken. *ret_ino is the netns's inode, what an attaching
 * runtime compares the file's with.
 */
int named_bind_netns(const char *name, int netns_fd, unsigned long long *ret_ino);
/* Undo it: detach the mount, remove the file; only if the file still is the netns of inode
 * ino (a name taken since by another's netns is left alone). */
int named_unbind_netns(const char *name, unsigned long long ino);
/* Whether NETNS_DIR/<name> is a bind of the netns of inode ino. */
bool named_netns_is(const char *name, unsigned long long ino);

/*
 * Stop the cage of that name: SIGTERM to its supervisor (which ends the cage's processes and
 * undoes everything), then wait up to timeout_ms for it to exit; past that, SIGKILL (gc
 * removes what it left). -ESRCH if its supervisor is gone already (its leftovers are gc's),
 * -ENOENT (recorded) if there is no such cage, -ETIMEDOUT (recorded) if it had to be killed.
 */
int named_down(const char *name, int timeout_ms);
