/* sysfilter.c: the cage's system call filter. libseccomp builds it from the tables below (the
 * same tables `sluice check` prints), exports it as BPF, and the cage's first process loads
 * it with the flags libseccomp 2.5 cannot set (a listener whose waiters ignore signals once the
 * supervisor has a notification). Refusals are EPERM, never a kill: a program that probes for
 * a feature gets an error it knows how to handle. */
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <seccomp.h>

#include "log.h"
#include "sysfilter.h"

DEFINE_CLEANUP_FUNC(void, seccomp_release)

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* The namespaces a process could make for itself without privilege only by making a user
 * namespace first; every one is refused, so that nothing in the cage builds a view of the
 * file system sluice did not make (a host directory bound under a cage's own path, say). */
static const struct {
	const char *name;
	unsigned long flag;
} ns_flags[] = {
    {"user", CLONE_NEWUSER},	 {"mount", CLONE_NEWNS},
    {"net", CLONE_NEWNET},	 {"pid", CLONE_NEWPID},
    {"ipc", CLONE_NEWIPC},	 {"uts", CLONE_NEWUTS},
    {"cgroup", CLONE_NEWCGROUP}, {"time", 0x00000080 /* CLONE_NEWTIME */},
};

/* The default denylist, in the spirit of Docker's default profile: families an agent, a build
 * or an actor tree has no business calling. Most need a capability the cage does not have;
 * they are refused here too, so that no path around the capability checks reaches them. */
struct deny_group {
	const char *what;
	const char *const names[12];
};

static const struct deny_group deny_groups[] = {
    {"keyrings", {"add_key", "keyctl", "request_key"}},
    {"bpf, perf", {"bpf", "perf_event_open"}},
    {"userfaultfd", {"userfaultfd"}},
    {"modules, kexec, reboot",
     {"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot"}},
    {"mounts",
     {"mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
      "fspick", "mount_setattr"}},
    {"namespaces", {"setns"}},
    {"file handles", {"open_by_handle_at", "name_to_handle_at"}},
    {"system",
     {"swapon", "swapoff", "acct", "settimeofday", "clock_settime", "syslog", "vhangup", "quotactl",
      "quotactl_fd", "lookup_dcookie", "fanotify_init"}},
    {"i/o ports, ldt", {"iopl", "ioperm", "modify_ldt"}},
};

/* The socket families a cage may make: AF_UNIX (1), AF_INET (2), AF_INET6 (10), AF_NETLINK
 * (16). The others are refused (EAFNOSUPPORT, so programs fall back): a family the network
 * namespace does not confine (AF_VSOCK before Linux 7.0 reaches the host's and the
 * hypervisor's services whatever the cage's topology), or one neither the nftables nor the
 * eBPF layer judges. As the complement, in few comparisons (each costs the filter time to
 * build, in the start of every cage): the kernel reads the family as an int, and a value
 * with high bits set is at least 17 as 64 bits, so refused too. */
static const struct {
	uint64_t mask, value; /* refused if (family & mask) == value */
} refused_families[] = {
    {~0ULL, 0},	 /* AF_UNSPEC */
    {~0ULL, 3},	 /* AF_AX25 */
    {~3ULL, 4},	 /* AF_IPX .. AF_X25 */
    {~1ULL, 8},	 /* AF_ATMPVC, AF_X25 */
    {~0ULL, 11}, /* AF_ROSE */
    {~3ULL, 12}, /* AF_DECnet .. AF_KEY */
};
#define FAMILY_ABOVE_NETLINK 17 /* and every family from here: packet, vsock, ... */

/* io_uring's operations (connect, sendmsg, ...) are not system calls: no filter sees them. */
static const char *const uring_names[] = {"io_uring_setup", "io_uring_enter", "io_uring_register"};

/* The calls that can reach a unix socket by its path, handed to the supervisor (broker.c);
 * sendto only with a destination (without one it goes to the connected peer). */
static const char *const notify_names[] = {"connect", "sendto", "sendmsg", "sendmmsg"};

/* What pushes input into a terminal: TIOCSTI (on this machine and many distributions still
 * on: dev.tty.legacy_tiocsti) and TIOCLINUX (a virtual console's selection, pasted). */
static const struct {
	const char *name;
	unsigned long request;
} tty_ioctls[] = {{"TIOCSTI", TIOCSTI}, {"TIOCLINUX", TIOCLINUX}};

int sysfilter_probe_notify(void)
{
	uint32_t action = SECCOMP_RET_USER_NOTIF;

	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) < 0)
		return negative_errno();
	/* Only its arguments are wrong: the call exists. */
	if (syscall(SYS_pidfd_getfd, -1, -1, 0) < 0 && errno == ENOSYS)
		return -ENOSYS;
	return 0;
}

static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
		const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);
	int r;

	if (nr == __NR_SCMP_ERROR)
		return 0; /* not a system call on this architecture */
	r = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	return r < 0 ? err_set(r, "seccomp rule for %s", name) : 0;
}

static int add_cage_rules(scmp_filter_ctx ctx, const struct sysfilter_config *cfg)
{
	uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	int r = 0;

	/* ioctl's request is an unsigned int in the kernel: only its low 32 bits may count, or
	 * a request with high bits set would pass the filter and still be TIOCSTI. (libseccomp's
	 * 32-bit comparisons still want the high word zero: a mask is what ignores it.) */
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(tty_ioctls); i++) {
		struct scmp_arg_cmp c[] = {
		    SCMP_A1_64(SCMP_CMP_MASKED_EQ, 0xffffffffULL, tty_ioctls[i].request)};

		r = rule(ctx, eperm, "ioctl", 1, c);
	}
	/* A filter of the cage's own with a listener of its own would take the notifications
	 * below first (the newest filter wins a tie) and could let every call through. */
	if (r == 0) {
		/* seccomp(2)'s operation and flags are unsigned ints too. */
		struct scmp_arg_cmp c[] = {
		    SCMP_A0_64(SCMP_CMP_MASKED_EQ, 0xffffffffULL, SECCOMP_SET_MODE_FILTER),
		    SCMP_A1_64(SCMP_CMP_MASKED_EQ, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			       SECCOMP_FILTER_FLAG_NEW_LISTENER),
		};

		r = rule(ctx, eperm, "seccomp", 2, c);
	}
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(uring_names); i++)
		r = rule(ctx, eperm, uring_names[i], 0, NULL);
	for (size_t i = 0; r == 0 && i <= ARRAY_SIZE(refused_families); i++) {
		struct scmp_arg_cmp c[1];

		if (i < ARRAY_SIZE(refused_families))
			c[0] = SCMP_A0_64(SCMP_CMP_MASKED_EQ, refused_families[i].mask,
					  refused_families[i].value);
		else
			c[0] = SCMP_A0_64(SCMP_CMP_GE, FAMILY_ABOVE_NETLINK);
		r = rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 1, c);
		if (r == 0)
			r = rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socketpair", 1, c);
	}
	if (!cfg->notify)
		return r;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(notify_names); i++) {
		struct scmp_arg_cmp c[] = {SCMP_A4(SCMP_CMP_NE, 0)};
		bool sendto = streq(notify_names[i], "sendto");

		r = rule(ctx, SCMP_ACT_NOTIFY, notify_names[i], sendto ? 1 : 0, sendto ? c : NULL);
	}
	return r;
}

static int add_denylist(scmp_filter_ctx ctx)
{
	uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	int r = 0;

	for (size_t g = 0; r == 0 && g < ARRAY_SIZE(deny_groups); g++)
		for (size_t i = 0; r == 0 && deny_groups[g].names[i]; i++)
			r = rule(ctx, eperm, deny_groups[g].names[i], 0, NULL);
	/* unshare(2) and clone(2) with any namespace flag (clone's flags are its first
	 * argument on every architecture sluice builds for). clone3(2) passes its flags in
	 * memory, which a filter cannot read: it is ENOSYS, and glibc falls back to clone. */
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(ns_flags); i++) {
		struct scmp_arg_cmp c[] = {
		    SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i].flag, ns_flags[i].flag)};

		r = rule(ctx, eperm, "unshare", 1, c);
		if (r == 0)
			r = rule(ctx, eperm, "clone", 1, c);
	}
	if (r == 0)
		r = rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
	return r;
}

/* libseccomp 2.5 cannot hand over a filter with flags of our choice: it writes the BPF to a
 * file, which is read back here and loaded with seccomp(2) directly. */
static int load_exported(scmp_filter_ctx ctx, bool notify, int *ret_listener)
{
	_cleanup_close_ int mfd = memfd_create("sluice-seccomp", MFD_CLOEXEC);
	_cleanup_free_ struct sock_filter *insns = NULL;
	unsigned long flags = 0;
	struct sock_fprog prog;
	struct stat st;
	long fd;
	int r;

	if (mfd < 0)
		return err_set(negative_errno(), "seccomp: memfd");
	r = seccomp_export_bpf(ctx, mfd);
	if (r < 0)
		return err_set(r, "seccomp: export the filter");
	if (fstat(mfd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(*insns) ||
	    st.st_size / sizeof(*insns) > BPF_MAXINSNS)
		return err_set(-EPROTO, "seccomp: the exported filter has %lld bytes",
			       (long long)st.st_size);
	insns = malloc((size_t)st.st_size);
	if (!insns)
		return -ENOMEM;
	if (pread(mfd, insns, (size_t)st.st_size, 0) != st.st_size)
		return err_set(-EIO, "seccomp: read the exported filter");
	prog.len = (unsigned short)(st.st_size / sizeof(*insns));
	prog.filter = insns;

	if (notify)
		flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (fd < 0 && errno == EINVAL && notify) {
		/* Before Linux 5.19: a waiter can still be interrupted (broker.c copes). */
		flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
		fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	}
	if (fd < 0)
		return err_set(negative_errno(), "seccomp: load the filter");
	*ret_listener = notify ? (int)fd : -1;
	return 0;
}

int sysfilter_install(const struct sysfilter_config *cfg, int *ret_listener)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	*ret_listener = -1;
	if (!ctx)
		return err_set(-ENOMEM, "seccomp: init");
	/* Another ABI's numbers mean other calls: no way around the filter through them. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		return err_set(r, "seccomp: kill other ABIs");
	r = add_cage_rules(ctx, cfg);
	if (r == 0 && cfg->mode == SECCOMP_DEFAULT)
		r = add_denylist(ctx);
	if (r < 0)
		return r;
	return load_exported(ctx, cfg->notify, ret_listener);
}

void sysfilter_render(const struct sysfilter_config *cfg, struct text *f, const char *indent)
{
	text_printf(f, "%sseccomp: always: ioctl", indent);
	for (size_t i = 0; i < ARRAY_SIZE(tty_ioctls); i++)
		text_printf(f, " %s", tty_ioctls[i].name);
	text_printf(f, ", seccomp with a listener of its own,");
	for (size_t i = 0; i < ARRAY_SIZE(uring_names); i++)
		text_printf(f, " %s", uring_names[i]);
	text_printf(f, ": EPERM; sockets of other families than unix, inet, inet6 and netlink "
		       "(vsock, packet...): EAFNOSUPPORT; other ABIs (i386, x32): killed\n");
	if (cfg->notify) {
		text_printf(f, "%sseccomp: to the supervisor:", indent);
		for (size_t i = 0; i < ARRAY_SIZE(notify_names); i++)
			text_printf(f, " %s%s", notify_names[i],
				    streq(notify_names[i], "sendto") ? " (with an address)" : "");
		text_printf(f, "\n");
	}
	if (cfg->mode == SECCOMP_OFF) {
		text_printf(f, "%sseccomp: default denylist off (seccomp: off)\n", indent);
		return;
	}
	text_printf(f, "%sseccomp: denied (EPERM):", indent);
	for (size_t g = 0; g < ARRAY_SIZE(deny_groups); g++)
		for (size_t i = 0; deny_groups[g].names[i]; i++)
			text_printf(f, " %s", deny_groups[g].names[i]);
	text_printf(f, "; unshare and clone with a namespace flag (");
	for (size_t i = 0; i < ARRAY_SIZE(ns_flags); i++)
		text_printf(f, "%s%s", i ? " " : "", ns_flags[i].name);
	text_printf(f, "); clone3: ENOSYS\n");
}
