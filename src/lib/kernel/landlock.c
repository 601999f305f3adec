/* landlock.c: a Landlock domain that refuses pathname unix sockets made outside the cage (ABI
 * 9's LANDLOCK_ACCESS_FS_RESOLVE_UNIX; sockets the cage's own processes bind stay reachable,
 * since they belong to the domain), applied by the cage's first process. The headers of the
 * build machine may predate the access right, so its bit is spelled out here. */
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/syscall.h>

#include "landlock.h"
#include "log.h"

#define ACCESS_FS_REFER	       (1ULL << 13) /* ABI 2 */
#define ACCESS_FS_RESOLVE_UNIX (1ULL << 16) /* ABI 9 */

int landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return v < 0 ? 0 : (int)v;
}

int landlock_plan_for(int abi, struct landlock_plan *ret)
{
	if (abi < 9)
		return -EOPNOTSUPP;
	/*
	 * Only the unix right is asked for. REFER is another matter: a domain refuses renames and
	 * links across directories whether or not it handles REFER (the one right Landlock denies
	 * unasked, for compatibility), so it is handled and granted on the whole tree, leaving
	 * mv and ln as they were. https://docs.kernel.org/userspace-api/landlock.html
	 */
	ret->handled_fs = ACCESS_FS_RESOLVE_UNIX | ACCESS_FS_REFER;
	ret->root_allowed = ACCESS_FS_REFER;
	return 0;
}

int landlock_restrict_unix(void)
{
	struct landlock_plan lp;
	struct landlock_ruleset_attr attr = {0};
	struct landlock_path_beneath_attr root = {0};
	_cleanup_close_ int rs = -1, root_fd = -1;
	int r = landlock_plan_for(landlock_abi(), &lp);

	if (r < 0)
		return r;
	attr.handled_access_fs = lp.handled_fs;
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs < 0)
		return err_set(negative_errno(), "Landlock ruleset");
	root_fd = open("/", O_PATH | O_CLOEXEC);
	if (root_fd < 0)
		return err_set(negative_errno(), "Landlock: open /");
	root.allowed_access = lp.root_allowed;
	root.parent_fd = root_fd;
	if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &root, 0) < 0)
		return err_set(negative_errno(), "Landlock rule for /");
	if (syscall(SYS_landlock_restrict_self, rs, 0) < 0)
		return err_set(negative_errno(), "Landlock: restrict the cage");
	return 0;
}
