/* caps.c: dropping privilege for good, through libcap. The bounding set is cleared first
 * (it needs CAP_SETPCAP), root is locked out of regaining capabilities on exec
 * (SECBIT_NOROOT), then the ids change and every remaining set is emptied. */
#include <grp.h>
#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "caps.h"
#include "log.h"

int caps_become(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, bool userns)
{
	_cleanup_(cap_freep) cap_t caps = NULL;

	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return err_set(negative_errno(), "drop capability %d from the bounding set", c);

	/* With SECBIT_NOROOT a uid-0 command does not get capabilities back by exec'ing;
	 * the _LOCKED bits keep the cage from turning that off again. */
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
					     SECBIT_NO_CAP_AMBIENT_RAISE |
					     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
		  0, 0, 0) < 0)
		return err_set(negative_errno(), "set securebits");

	/* The list was looked up before the cage was made (an empty one clears them). */
	if (!userns && setgroups(n_groups, groups) < 0)
		return err_set(negative_errno(), "set supplementary groups");
	if (setresgid(gid, gid, gid) < 0)
		return err_set(negative_errno(), "set gid %u", (unsigned)gid);
	if (setresuid(uid, uid, uid) < 0)
		return err_set(negative_errno(), "set uid %u", (unsigned)uid);

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return err_set(negative_errno(), "clear ambient capabilities");
	caps = cap_init(); /* all three sets empty */
	if (!caps)
		return err_set(negative_errno(), "cap_init");
	if (cap_set_proc(caps) < 0)
		return err_set(negative_errno(), "drop capabilities");

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set(negative_errno(), "set no_new_privs");
	return 0;
}

int caps_keep_across_exec(const cap_value_t *keep, size_t n)
{
	_cleanup_(cap_freep) cap_t caps = cap_get_proc();

	if (!caps)
		return err_set(negative_errno(), "cap_get_proc");
	if (cap_set_flag(caps, CAP_INHERITABLE, (int)n, keep, CAP_SET) < 0 ||
	    cap_set_proc(caps) < 0)
		return err_set(negative_errno(), "make capabilities inheritable");
	for (size_t i = 0; i < n; i++)
		if (cap_set_ambient(keep[i], CAP_SET) < 0)
			return err_set(negative_errno(), "keep capability %s across exec",
				       cap_to_name(keep[i]));
	return 0;
}

int caps_drop(void)
{
	_cleanup_(cap_freep) cap_t caps = cap_init();

	if (!caps)
		return err_set(negative_errno(), "cap_init");
	if (cap_reset_ambient() < 0 || cap_set_proc(caps) < 0)
		return err_set(negative_errno(), "drop capabilities");
	return 0;
}
