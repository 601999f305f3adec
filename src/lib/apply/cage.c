/* cage.c: the apply sequence, read top to bottom: state record, cgroup, eBPF hooks, the
 * cage's first process (cloned into new namespaces and the cgroup; unprivileged, into a new
 * user namespace too), which opens what must be made inside the cage's netns (its netlink
 * sockets, the forwards' listeners, the DNS stub's sockets) and hands them over; then the
 * veth pair, the host side's address and ruleset, the cage side's link, route and ruleset,
 * the forwards and the DNS stub on the supervisor's loop, then "go". Each step pushes its
 * undo; on failure, and at the end of the run, the undo list runs in reverse. The first
 * process itself is cage_child.c; what a dead cage leaves, gc.c removes. */
#include <fcntl.h>
#include <grp.h>
#include <linux/membarrier.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

#include <libmnl/libmnl.h>
#include <systemd/sd-daemon.h>

#include "audit.h"
#include "broker.h"
#include "cage.h"
#include "caps.h"
#include "cage_child.h"
#include "cgroup.h"
#include "control.h"
#include "dns.h"
#include "inward.h"
#include "log.h"
#include "named.h"
#include "nft.h"
#include "nl.h"
#include "relay.h"
#include "state.h"
#include "nest.h"
#include "supervise.h"
#include "targets.h"
#include "unixguard.h"
#include "wg.h"

const char *const cage_steps[] = {"cgroup",   "clone",	 "bpf",	     "inside",	 "veth",
				  "host-link", "host-nft", "wireguard", "cage-link", "cage-nft",
				  "serve",     "start",	 "filter",    "broker",	 "nest",
				  "named",     NULL};

struct cage;
typedef void (*undo_fn)(struct cage *c);

struct cage {
	const struct plan *plan;
	char cgmount[4096];
	int cgroup_fd;
	int parent_fd; /* <cgroup2>/sluice, where the hooks of all cages are attached */
	struct bpf_cage *bpf;
	struct unixguard *ug; /* the unix-socket hooks, where the kernel has them */
	struct mnl_socket *nl_host, *nft_host; /* root only */
	struct mnl_socket *cage_rt, *cage_nft; /* opened in the cage's netns by its first process */
	int cage_netns_fd;
	pid_t pid;
	int pidfd;
	int sync_fd; /* a socketpair: "m" says the user namespace is mapped, "g" says go, and
		      * the child's sockets come back on it; closing it says "give up" */
	int err_fd;  /* read end of the child's failure report */
	int in[IN_MAX]; /* the child's sockets until they are taken over */
	size_t n_in;
	struct loop *loop;
	struct relay *relay;
	struct dns *dns;
	struct inward *inward; /* published ports: makes their sockets in the cage's netns */
	struct broker *broker; /* the cage's seccomp notifications */
	bool handed_ip;	       /* an IP socket from outside is among the command's fds */
	enum unix_backstop backstop; /* the plan's, unless the kernel turned out not to have it */
	struct wggo wggo;   /* link wireguard, userspace: the wireguard-go process */
	bool wg_made;       /* link wireguard: wg_if exists here (not yet in the cage) */
	bool reaped; /* the cage's first process has exited and been waited for */
	bool host_table_made; /* link veth: the host's table is loaded, to go once all is over */
	bool pipe_default; /* SIGPIPE was at its default when sluice started: the command's too */
	bool named;        /* sluice up: bound at /run/netns/<name>, served a control socket */
	unsigned long long bound; /* named: the inode of the netns bound there */
	struct control *ctl;      /* named: `sluice exec` and `sluice ls` come this way */
	int nest_fd;              /* --nest: the child cages' listener in pid 1, by its number */
	struct loop_source lifeline; /* a child cage: its parent's supervisor's pipe */
	struct nest *nest;        /* --nest: child cages are asked for this way */
	struct audit *audit;      /* what the cage is refused, told (audit.h) */
	struct targets *targets;  /* the proxy and forward targets tried, until "go" */
	int learn_fd;             /* --learn: the profile written at the end */
	struct loop_source ip_events; /* the eBPF hooks' ring of the cage's denials */
	uint64_t ip_dropped;          /* of them, the ones not sent that were told so far */
	uint64_t ux_total;            /* the unix hooks' refusals told so far, and per path */
	struct {
		char path[112];
		uint64_t count;
	} ux_seen[8];
	size_t n_ux_seen;
	undo_fn undo[24];
	size_t n_undo;
};

int cage_check_fault_env(void)
{
	const char *f = getenv("SLUICE_FAIL_AT");

	if (!f)
		return 0;
	char all[256] = "";
	size_t n = 0;

	for (const char *const *s = cage_steps; *s; s++) {
		if (streq(*s, f))
			return 0;
		n += (size_t)snprintf(all + n, n < sizeof(all) ? sizeof(all) - n : 0, "%s%s",
				      n ? " " : "", *s);
	}
	return err_invalid("SLUICE_FAIL_AT=%s: no such setup step (the steps: %s)", f, all);
}

int cage_fault(const char *step)
{
	const char *f = getenv("SLUICE_FAIL_AT");

	log_trace(step);

	if (f && streq(f, step))
		return err_set(-EIO, "injected failure at %s", step);
	return 0;
}

static void undo_push(struct cage *c, undo_fn fn)
{
	/* The array is sized for every step of the sequence; overflowing it is a bug. */
	if (c->n_undo >= ARRAY_SIZE(c->undo))
		abort();
	c->undo[c->n_undo++] = fn;
}

static void undo_all(struct cage *c)
{
	log_trace("teardown");
	while (c->n_undo > 0)
		c->undo[--c->n_undo](c);
	log_trace("done");
}

/* --- undo steps ----------------------------------------------------------------------- */

static void undo_state(struct cage *c)
{
	(void)state_remove(c->plan->name);
}

static void undo_cgroup(struct cage *c)
{
	if (c->cgroup_fd >= 0)
		close(c->cgroup_fd);
	c->cgroup_fd = -1;
	if (c->parent_fd >= 0)
		close(c->parent_fd);
	c->parent_fd = -1;
	(void)cgroup_destroy(c->cgmount, c->plan->cgroup, 0);
}

static void undo_bpf(struct cage *c)
{
	loop_del(c->loop, &c->ip_events); /* its fd is the ring's, freed with it */
	/* The hooks stay on the cgroup of all cages; the cage's entries go. */
	(void)bpf_cage_detach(c->bpf);
	bpf_cage_free(c->bpf);
	c->bpf = NULL;
}

static void undo_unixguard(struct cage *c)
{
	struct unixguard_denial d[8];
	uint64_t total = 0;
	size_t n = 0;

	if (unixguard_denied(c->ug, &total, d, ARRAY_SIZE(d), &n) == 0 && total)
		for (size_t i = 0; i < n; i++)
			log_debug("unix socket refused %llu time(s): %s",
				  (unsigned long long)d[i].count, d[i].path[0] ? d[i].path : "?");
	(void)unixguard_detach(c->ug);
	unixguard_free(c->ug);
	c->ug = NULL;
}

/* The in-kernel layer behind the unix broker: the cgroup unix hooks refuse a pathname socket
 * to any process of the cage that reaches one by itself. A kernel that turns out not to have
 * them (the plan went by its version) leaves the broker alone: it then performs every call. */
static int step_unixguard(struct cage *c)
{
	int r = unixguard_attach(c->parent_fd, c->plan->name, c->cgroup_fd, &c->ug);

	if (r == -EOPNOTSUPP) {
		if (c->plan->unix_mode == UNIX_STRICT)
			return err_invalid("unix: strict, but this kernel has no cgroup unix socket "
					   "hooks (Linux 6.7+)");
		log_debug("this kernel has no cgroup unix socket hooks: the supervisor performs "
			  "every connect and send of the cage");
		c->backstop = UNIX_BACKSTOP_NONE;
		return 0;
	}
	if (r < 0)
		return r;
	undo_push(c, undo_unixguard);
	return 0;
}

static void undo_child(struct cage *c)
{
	siginfo_t si;

	if (c->sync_fd >= 0)
		close(c->sync_fd);
	c->sync_fd = -1;
	if (c->pidfd >= 0) {
		(void)syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
		(void)waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED);
		close(c->pidfd);
	}
	c->pidfd = -1;
	if (c->err_fd >= 0)
		close(c->err_fd);
	c->err_fd = -1;
	if (c->cage_netns_fd >= 0)
		close(c->cage_netns_fd);
	c->cage_netns_fd = -1;
	for (size_t i = 0; i < c->n_in; i++)
		if (c->in[i] >= 0)
			close(c->in[i]);
	c->n_in = 0;
	if (c->cage_rt)
		mnl_socket_close(c->cage_rt);
	if (c->cage_nft)
		mnl_socket_close(c->cage_nft);
	c->cage_rt = c->cage_nft = NULL;
}

static void undo_wireguard(struct cage *c)
{
	/* A kernel link still here (setup failed before the move) is deleted; in the cage it
	 * goes with the netns. wireguard-go is stopped: its tun goes with it. */
	if (c->plan->wg_backend == WG_BACKEND_KERNEL && c->wg_made)
		(void)nl_link_del(c->nl_host, c->plan->wg_if);
	if (c->plan->wg_backend == WG_BACKEND_USERSPACE)
		(void)wggo_stop(&c->wggo);
}

static void undo_broker(struct cage *c)
{
	struct broker_stats st;

	if (c->broker) {
		broker_get_stats(c->broker, &st);
		log_debug("unix broker: %llu call(s) seen, %llu performed, %llu refused",
			  (unsigned long long)st.notified, (unsigned long long)st.performed,
			  (unsigned long long)st.refused);
	}
	broker_free(c->broker);
	c->broker = NULL;
}

static void undo_serve(struct cage *c)
{
	relay_free(c->relay);
	dns_free(c->dns);
	inward_free(c->inward);
	c->relay = NULL;
	c->dns = NULL;
	c->inward = NULL;
}

static void undo_veth(struct cage *c)
{
	/* Once the cage's processes are gone its netns goes too, and takes the pair with it;
	 * deleting it here would cost an RCU grace period (about 15 ms) on the path the user
	 * waits on. Only a setup that failed with the cage still alive deletes it (one end
	 * takes the other along). */
	if (c->reaped)
		return;
	(void)nl_link_del(c->nl_host, c->plan->host_if);
}

static void undo_host_nft(struct cage *c)
{
	/* Deleted at the very end, once the cage's processes are gone (see
	 * drop_host_nft_in_background). */
	c->host_table_made = true;
}

/* Unprivileged: the new user namespace maps the invoking user (and group) to itself, and
 * nothing else; setgroups is denied first, as the kernel requires of an unprivileged map. */
static int map_userns(pid_t pid)
{
	char path[64], map[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
	r = cage_write_sysctl(path, "deny");
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)geteuid(), (unsigned)geteuid());
	r = cage_write_sysctl(path, map);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)getegid(), (unsigned)getegid());
	return cage_write_sysctl(path, map);
}

/* The asker's working directory, entered with the cage user's rights: one it cannot reach
 * is not reached this way (as root the check would be root's). Else the parent's "/". */
static void chdir_as_user(const struct plan *p)
{
	bool as_root = !p->userns;

	if (as_root && (setgroups(p->n_groups, p->groups) < 0 || setfsgid(p->gid) < 0 ||
			setfsuid(p->uid) < 0 || (gid_t)setfsgid((gid_t)-1) != p->gid ||
			(uid_t)setfsuid((uid_t)-1) != p->uid)) {
		(void)!chdir("/");
		return;
	}
	if (!p->nest_cwd[0] || chdir(p->nest_cwd) < 0)
		(void)!chdir("/");
	if (as_root) {
		(void)setfsuid(0);
		(void)setfsgid(0);
	}
}

/*
 * A child cage (nest.h) is made in its parent's mounts: a process of this one's enters them
 * (which this one, holding the host's or its own, must not), starts where the asker was, and
 * clones the cage's first process from there as this process's child (CLONE_PARENT), its
 * mount namespace a copy of the parent's. Unprivileged, entering takes the two capabilities
 * kept for it across exec (nest.c); they are dropped once the cage's first process exists.
 */
static long clone_in_parent_mounts(struct cage *c, struct clone_args *args, int child_sync,
				   int err_wr, const sigset_t *oldmask, int *ret_pidfd)
{
	const struct plan *p = c->plan;
	struct {
		long pid;
		int err;
	} res = {-1, 0};
	int rp[2], status, r;
	pid_t helper;

	if (pipe2(rp, O_CLOEXEC) < 0)
		return negative_errno();
	helper = fork();
	if (helper < 0) {
		r = negative_errno();
		close(rp[0]);
		close(rp[1]);
		return r;
	}
	if (helper == 0) {
		close(rp[0]);
		if (setns(p->nest_mnt_fd, CLONE_NEWNS) < 0) {
			res.err = errno;
		} else {
			chdir_as_user(p);
			args->flags = (args->flags & ~(uint64_t)CLONE_PIDFD) | CLONE_PARENT;
			args->pidfd = 0;
			args->exit_signal = 0; /* with CLONE_PARENT, this one's own (SIGCHLD) */
			res.pid = syscall(SYS_clone3, args, sizeof(*args));
			if (res.pid == 0) {
				close(rp[1]);
				cage_child_main(p, c->backstop, c->pipe_default, c->named, child_sync,
						err_wr, oldmask);
			}
			res.err = errno;
		}
		(void)!write(rp[1], &res, sizeof(res));
		_exit(0);
	}
	close(rp[1]);
	r = (int)read(rp[0], &res, sizeof(res));
	close(rp[0]);
	while (waitpid(helper, &status, 0) < 0 && errno == EINTR)
		;
	if (r != (int)sizeof(res))
		return -ECHILD;
	if (res.pid < 0)
		return res.err > 0 ? -res.err : -EIO;
	/* Ours (CLONE_PARENT), and not waited for yet: its pid is still it. */
	*ret_pidfd = (int)syscall(SYS_pidfd_open, (pid_t)res.pid, 0);
	if (*ret_pidfd < 0) {
		r = negative_errno();
		kill((pid_t)res.pid, SIGKILL);
		(void)waitpid((pid_t)res.pid, NULL, 0);
		return r;
	}
	if (p->userns) {
		r = caps_drop();
		if (r < 0) {
			(void)syscall(SYS_pidfd_send_signal, *ret_pidfd, SIGKILL, NULL, 0);
			(void)waitpid((pid_t)res.pid, NULL, 0);
			closep(ret_pidfd);
			return r;
		}
	}
	return res.pid;
}

static int step_clone(struct cage *c, const sigset_t *oldmask)
{
	const struct plan *p = c->plan;
	_cleanup_close_ int sync_fd = -1, child_sync = -1, err_rd = -1, err_wr = -1;
	int sock[2], errp[2];
	struct clone_args args = {0};
	long pid;
	int pidfd = -1;
	char path[64];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0)
		return err_set(negative_errno(), "socketpair");
	sync_fd = sock[0];
	child_sync = sock[1];
	if (pipe2(errp, O_CLOEXEC) < 0)
		return err_set(negative_errno(), "pipe");
	err_rd = errp[0];
	err_wr = errp[1];

	args.flags = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
		     CLONE_PIDFD;
	/* Cloned straight into the cage's cgroup: the hooks hold from its first instruction. */
	if (p->userns)
		args.flags |= CLONE_NEWUSER;
	else
		args.flags |= CLONE_INTO_CGROUP;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	args.cgroup = p->userns ? 0 : (uint64_t)c->cgroup_fd;

	if (p->nest_mnt_fd >= 0) {
		pid = clone_in_parent_mounts(c, &args, child_sync, err_wr, oldmask, &pidfd);
		if (pid < 0)
			errno = (int)-pid;
	} else {
		pid = syscall(SYS_clone3, &args, sizeof(args));
	}
	if (pid < 0) {
		int r = negative_errno();

		if (p->userns && (r == -EPERM || r == -ENOSPC))
			return err_set(r, "make a user namespace (unprivileged user namespaces "
					  "may be off here: sysctl user.max_user_namespaces, "
					  "kernel.unprivileged_userns_clone)");
		return err_set(r, "start the cage's first process (clone3)");
	}
	if (pid == 0) {
		/* The cage's first process: it never returns here, so none of the cleanups run. */
		close(sync_fd);
		close(err_rd);
		cage_child_main(c->plan, c->backstop, c->pipe_default, c->named, child_sync, err_wr,
				oldmask);
	}

	/* The child's ends are its own now; ours go to the cage. */
	closep(&child_sync);
	closep(&err_wr);
	c->pid = (pid_t)pid;
	c->pidfd = pidfd;
	c->sync_fd = TAKE_FD(sync_fd);
	c->err_fd = TAKE_FD(err_rd);
	undo_push(c, undo_child);

	if (!p->userns) {
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
		c->cage_netns_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (c->cage_netns_fd < 0)
			return err_set(negative_errno(), "open the cage's netns");
	}
	return 0;
}

/* The cage's first process ended before it was let go: its report says why. */
static int child_gone(struct cage *c)
{
	struct child_report rep;

	if (read(c->err_fd, &rep, sizeof(rep)) == (ssize_t)sizeof(rep)) {
		rep.msg[sizeof(rep.msg) - 1] = '\0';
		return err_set_whole(rep.err, "%s", rep.msg);
	}
	return err_set(-ECHILD, "the cage's first process ended before it was ready");
}

/* Let the cage's first process go on to open its sockets (once its user namespace is
 * mapped, unprivileged); it works on them while the supervisor loads the hooks. */
static int step_release(struct cage *c)
{
	if (c->plan->userns) {
		int r = map_userns(c->pid);

		if (r < 0)
			return r;
	}
	if (send(c->sync_fd, "m", 1, MSG_NOSIGNAL) != 1)
		return err_set(negative_errno(), "start the cage");
	return 0;
}

/* Take the sockets the cage's first process opened inside. */
static int step_inside(struct cage *c)
{
	const struct plan *p = c->plan;
	size_t want = IN_FORWARD + p->n_forwards;
	int r;

	r = cage_recv_fds(c->sync_fd, c->in, want);
	if (r == -ECHILD)
		return child_gone(c);
	if (r < 0)
		return r;
	c->n_in = want;
	c->cage_rt = mnl_socket_fdopen(c->in[IN_RT]);
	if (!c->cage_rt)
		return err_set(negative_errno(), "take the cage's netlink socket");
	c->in[IN_RT] = -1;
	c->cage_nft = mnl_socket_fdopen(c->in[IN_NFT]);
	if (!c->cage_nft)
		return err_set(negative_errno(), "take the cage's netlink socket");
	c->in[IN_NFT] = -1;
	return 0;
}

static int step_host_link(struct cage *c)
{
	const struct plan *p = c->plan;
	unsigned idx;
	int r;

	r = nl_link_index(c->nl_host, p->host_if, &idx);
	if (r < 0)
		return r;
	r = nl_addr_add(c->nl_host, idx, AF_INET, &p->host_v4, p->v4_prefix);
	if (r < 0)
		return r;
	if (p->ipv6) {
		r = nl_addr_add(c->nl_host, idx, AF_INET6, &p->host_v6, p->v6_prefix);
		if (r < 0)
			return r;
	}
	if (p->masquerade) {
		char path[128];

		/* net.ipv4.ip_forward is on: the plan was refused otherwise (plan_build). */
		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", p->host_if);
		r = cage_write_sysctl(path, "1");
		if (r < 0)
			return r;
	}
	return nl_link_up(c->nl_host, idx);
}

/* The tunnel is made here, in the netns sluice runs in, so that its UDP socket is made here
 * too; configured; then moved into the cage as wg0. */
static int step_wireguard(struct cage *c)
{
	const struct plan *p = c->plan;
	int r;

	if (p->wg_backend == WG_BACKEND_KERNEL) {
		_cleanup_(mnl_socket_closep) struct mnl_socket *genl = NULL;

		r = wg_kernel_link_add(c->nl_host, p->wg_if, p->wg.mtu);
		if (r < 0)
			return r;
		c->wg_made = true;
		undo_push(c, undo_wireguard);
		r = nl_open(NETLINK_GENERIC, &genl);
		if (r == 0)
			r = wg_kernel_set(genl, p->wg_if, &p->wg);
	} else {
		char log[512];

		r = wggo_start(p->wg_if, NULL, &c->wggo);
		if (r < 0) {
			wggo_log(&c->wggo, log, sizeof(log));
			if (log[0])
				log_error("wireguard-go: %s", log);
			return r;
		}
		c->wg_made = true;
		undo_push(c, undo_wireguard);
		r = wg_uapi_set(c->wggo.sock_path, &p->wg);
	}
	if (r < 0)
		return r;
	r = nl_link_move(c->nl_host, p->wg_if, c->cage_netns_fd, p->cage_if);
	if (r == 0)
		c->wg_made = false;
	return r;
}

static int step_cage_wireguard(struct cage *c)
{
	const struct plan *p = c->plan;
	struct mnl_socket *rt = c->cage_rt;
	unsigned idx;
	int r;

	r = nl_link_index(rt, p->cage_if, &idx);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->wg.n_addresses; i++) {
		r = nl_addr_add(rt, idx, p->wg.addresses[i].family, &p->wg.addresses[i].ip,
				p->wg.addresses[i].cidr);
		if (r < 0)
			return r;
	}
	if (p->wg.mtu) {
		r = nl_link_mtu(rt, idx, p->wg.mtu);
		if (r < 0)
			return r;
	}
	r = nl_link_up(rt, idx);
	if (r < 0)
		return r;
	/* The cage's only routes: what each peer carries. */
	for (size_t i = 0; i < p->wg.n_peers; i++)
		for (size_t j = 0; j < p->wg.peers[i].n_allowed_ips; j++) {
			const struct wg_prefix *a = &p->wg.peers[i].allowed_ips[j];

			if (a->family == AF_INET6 && !p->ipv6)
				continue;
			r = nl_route_add_dev(rt, idx, a->family, &a->ip, a->cidr);
			if (r < 0)
				return r;
		}
	return 0;
}

static int step_cage_link(struct cage *c)
{
	const struct plan *p = c->plan;
	struct mnl_socket *rt = c->cage_rt;
	unsigned idx;
	int r;

	r = nl_link_index(rt, p->cage_if, &idx);
	if (r < 0)
		return r;
	r = nl_addr_add(rt, idx, AF_INET, &p->cage_v4, p->v4_prefix);
	if (r < 0)
		return r;
	if (p->ipv6) {
		r = nl_addr_add(rt, idx, AF_INET6, &p->cage_v6, p->v6_prefix);
		if (r < 0)
			return r;
	}
	r = nl_link_up(rt, idx);
	if (r < 0)
		return r;
	r = nl_route_add_default(rt, idx, AF_INET, &p->host_v4);
	if (r == 0 && p->ipv6)
		r = nl_route_add_default(rt, idx, AF_INET6, &p->host_v6);
	return r;
}

/* A published port's listener, here (where sluice runs). */
static int publish_listen(const struct publish *pub, int *ret)
{
	struct sockaddr_storage ss = {0};
	_cleanup_close_ int fd = -1;
	socklen_t len;
	int one = 1;
	char a[ADDR_STR_MAX];

	if (pub->host.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(pub->host.port);
		sin->sin_addr = pub->host.ip.v4;
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(pub->host.port);
		sin6->sin6_addr = pub->host.ip.v6;
		len = sizeof(*sin6);
	}
	fd = socket(pub->host.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(negative_errno(), "publish %s",
			       addr_format(&pub->host, a, sizeof(a)));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (pub->host.family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4096) < 0)
		return err_set(negative_errno(), "publish %s",
			       addr_format(&pub->host, a, sizeof(a)));
	*ret = TAKE_FD(fd);
	return 0;
}

/* The published ports: listeners here, and the maker of their sockets in the cage's netns
 * (unprivileged, it joins the cage's user namespace first). */
static int step_publish(struct cage *c)
{
	const struct plan *p = c->plan;
	_cleanup_close_ int userns = -1, netns = -1;
	char path[64];
	int r;

	if (p->userns) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)c->pid);
		userns = open(path, O_RDONLY | O_CLOEXEC);
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)c->pid);
		netns = open(path, O_RDONLY | O_CLOEXEC);
		if (userns < 0 || netns < 0)
			return err_set(negative_errno(), "open the cage's namespaces");
	}
	r = inward_start(userns, p->userns ? netns : c->cage_netns_fd, &c->inward);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_publish; i++) {
		int fd = -1;

		r = publish_listen(&p->publish[i], &fd);
		if (r == 0)
			r = relay_add_publish(c->relay, fd, &p->publish[i], c->inward);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- what the cage is refused (audit.h) --------------------------------------------------- */

/* An audit or learn file: made for the cage's user if sluice (as root) makes it. */
static int open_report_file(const struct plan *p, const char *path, bool truncate, int *ret)
{
	int flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW | (truncate ? O_TRUNC : O_APPEND);
	int fd;

	if (streq(path, "-")) {
		*ret = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
		return *ret < 0 ? err_set(negative_errno(), "the audit's stdout") : 0;
	}
	fd = open(path, flags | O_CREAT | O_EXCL, 0644);
	if (fd >= 0 && geteuid() == 0 && p->uid != 0 && fchown(fd, p->uid, p->gid) < 0) {
		int r = negative_errno();

		close(fd);
		(void)unlink(path);
		return err_set(r, "give %s to the cage's user", path);
	}
	if (fd < 0 && errno == EEXIST)
		fd = open(path, flags);
	if (fd < 0)
		return err_set(negative_errno(), "open %s", path);
	*ret = fd;
	return 0;
}

/* What the lines say the cage reaches: its reach, but for names, on one line. */
static void reach_line(const struct plan *p, struct text *out)
{
	_cleanup_text_ struct text reach = TEXT_INIT;
	const char *s;

	plan_render_reach(p, &reach);
	s = text_str(&reach);
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);

		if (len && strncmp(s, "dns ", 4) != 0) {
			if (out->len > 160) {
				text_puts(out, ", ...");
				break;
			}
			text_printf(out, "%s%.*s", out->len ? ", " : "", (int)len, s);
		}
		s += len + (nl ? 1 : 0);
	}
}

static void tell_ip_dropped(struct cage *c)
{
	uint64_t dropped = 0;

	if (bpf_cage_dropped(c->bpf, &dropped) == 0 && dropped > c->ip_dropped) {
		struct audit_event e = {.layer = AUDIT_IP_HOOKS, .kind = AUDIT_DROPPED,
					.count = dropped - c->ip_dropped};

		c->ip_dropped = dropped;
		audit_report(c->audit, &e);
	}
}

/* The unix hooks keep counts per refused path, not events: what grew since last looked at
 * is told, with how much (a caged process reaching a pathname socket past the broker). */
static void tell_unix_hooks(struct cage *c)
{
	struct unixguard_denial d[8];
	uint64_t total = 0;
	size_t n = 0;

	/* The total first (one lookup); the paths (a walk of the map of all cages) if it grew. */
	if (unixguard_denied(c->ug, &total, NULL, 0, &n) < 0 || total <= c->ux_total ||
	    unixguard_denied(c->ug, &total, d, ARRAY_SIZE(d), &n) < 0)
		return;
	c->ux_total = total;
	for (size_t i = 0; i < n; i++) {
		struct audit_event e = {.layer = AUDIT_UNIX_HOOKS, .kind = AUDIT_CONNECT,
					.path = d[i].path[0] ? d[i].path : "?"};
		uint64_t before = 0;
		size_t k;

		for (k = 0; k < c->n_ux_seen && !streq(c->ux_seen[k].path, e.path); k++)
			;
		if (k < c->n_ux_seen)
			before = c->ux_seen[k].count;
		else if (k < ARRAY_SIZE(c->ux_seen)) {
			snprintf(c->ux_seen[k].path, sizeof(c->ux_seen[k].path), "%s", e.path);
			c->n_ux_seen++;
		}
		if (k < ARRAY_SIZE(c->ux_seen))
			c->ux_seen[k].count = d[i].count;
		if (d[i].count > before) {
			e.count = d[i].count - before;
			audit_report(c->audit, &e);
		}
	}
}

static void on_audit_tick(void *ctx)
{
	struct cage *c = ctx;

	if (c->bpf)
		tell_ip_dropped(c);
	if (c->ug)
		tell_unix_hooks(c);
}

static void on_ip_event(void *ctx, const struct bpf_ip_event *ev)
{
	struct cage *c = ctx;
	struct audit_event e = {
	    .layer = AUDIT_IP_HOOKS,
	    .kind = ev->hook >= 2 ? AUDIT_SEND : AUDIT_CONNECT,
	    .pid = (pid_t)ev->pid,
	    .has_ep = true,
	};

	memcpy(e.comm, ev->comm, sizeof(e.comm));
	e.ep.family = ev->family;
	e.ep.proto = ev->proto;
	e.ep.port = ev->port;
	if (ev->family == AF_INET)
		memcpy(&e.ep.ip.v4, ev->addr, 4);
	else
		memcpy(&e.ep.ip.v6, ev->addr, 16);
	audit_report(c->audit, &e);
}

static void on_ip_events(struct loop_source *src, uint32_t events)
{
	struct cage *c = container_of(src, struct cage, ip_events);

	(void)events;
	(void)bpf_cage_events_read(c->bpf);
}

static void on_name_refused(void *ctx, const char *name)
{
	struct cage *c = ctx;
	struct audit_event e = {.layer = AUDIT_DNS, .kind = AUDIT_NAME, .name = name};

	audit_report(c->audit, &e);
}

static void on_unix_refused(void *ctx, pid_t tid, bool connect, const char *path,
			    const char *comm)
{
	struct cage *c = ctx;
	struct audit_event e = {.layer = AUDIT_UNIX_BROKER,
				.kind = connect ? AUDIT_CONNECT : AUDIT_SEND,
				.pid = tid,
				.path = path};

	if (!*path) {
		e.path = NULL;
		e.why = "on an IP socket handed in from outside the cage";
	}
	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	audit_report(c->audit, &e);
}

static void on_target_down(void *ctx, const struct forward *f, int err)
{
	struct cage *c = ctx;
	char what[96];
	struct audit_event e = {.layer = AUDIT_FORWARD, .kind = AUDIT_TARGET, .name = what};

	targets_name(f, what, sizeof(what));
	e.why = err == -ETIMEDOUT ? "no answer in 10 s" : strerror(-err);
	e.has_ep = f->kind != TARGET_UNIX;
	e.ep = f->target;
	e.path = f->kind == TARGET_UNIX ? f->path : NULL;
	audit_report(c->audit, &e);
}

/* Learn mode's profile: the run's own options, and in the same lists what the command
 * tried and was refused, each marked for review; what cannot be an entry (a name, whose
 * address sluice does not know; a forward whose port is taken) is a comment. */
static bool port_taken(const struct plan *p, const struct audit_learned *l, size_t upto,
		       uint16_t port)
{
	for (size_t i = 0; i < p->n_forwards; i++)
		if (p->forwards[i].listen.port == port)
			return true;
	for (size_t i = 0; i < upto; i++)
		if (l[i].has_ep && l[i].layer == AUDIT_IP_HOOKS && l[i].ep.port == port &&
		    l[i].ep.proto == IPPROTO_TCP)
			return true;
	return false;
}

static void learned_endpoint(const struct plan *p, const struct audit_learned *l, size_t i,
			     struct text *t)
{
	bool forward = p->link == LINK_NONE;
	bool comment = forward && (l[i].ep.proto != IPPROTO_TCP ||
				   port_taken(p, l, i, l[i].ep.port));

	text_puts(t, comment ? "  # - \"" : "  - \"");
	if (forward)
		text_printf(t, "%u=", l[i].ep.port);
	policy_put_endpoint(t, &l[i].ep);
	text_printf(t, "\"  # learned: %s %llu time(s) by %s%s\n",
		    l[i].kind == AUDIT_SEND ? "sent to" : "connected to",
		    (unsigned long long)l[i].count, l[i].comms[0] ? l[i].comms : "?",
		    !comment		       ? ""
		    : l[i].ep.proto != IPPROTO_TCP ? " (a forward carries TCP only)"
						   : " (its port is taken in the cage)");
}

static void write_learned(struct cage *c)
{
	const struct plan *p = c->plan;
	_cleanup_text_ struct text t = TEXT_INIT, allow = TEXT_INIT, forward = TEXT_INIT,
				   dns = TEXT_INIT;
	const struct audit_learned *l;
	size_t n = audit_learned(c->audit, &l);

	text_puts(&allow, p->learn_allow ? p->learn_allow : "");
	text_puts(&forward, p->learn_forward ? p->learn_forward : "");
	text_puts(&dns, p->learn_dns ? p->learn_dns : "");
	for (size_t i = 0; i < n; i++) {
		if (l[i].layer == AUDIT_IP_HOOKS && l[i].has_ep)
			learned_endpoint(p, l, i, p->link == LINK_NONE ? &forward : &allow);
		else if (l[i].layer == AUDIT_UNIX_BROKER) {
			_cleanup_text_ struct text path = TEXT_INIT;

			text_printf(&path, "/unix%s", l[i].what);
			text_puts(&allow, "  - ");
			text_json_str(&allow, text_str(&path));
			text_printf(&allow, "  # learned: %llu time(s) by %s\n",
				    (unsigned long long)l[i].count,
				    l[i].comms[0] ? l[i].comms : "?");
		} else if (l[i].layer == AUDIT_DNS) {
			text_printf(&dns, "  # %s: ADDRESS  # learned: looked up %llu time(s), "
				    "not listed; give it its address\n",
				    l[i].what, (unsigned long long)l[i].count);
		}
	}
	text_puts(&t, "# Written by sluice run --learn: this run's options, and in the same lists "
		      "what the command\n# tried and was refused (marked \"learned\"), with how "
		      "often and by which programs.\n# Review each before you use this file "
		      "(sluice run --profile FILE): what is listed is\n# allowed then. sluice "
		      "resolves no names: a name needs the address you choose for it.\n");
	if (p->argv && p->argv[0]) {
		text_puts(&t, "# The command: ");
		text_json_str(&t, p->argv[0]);
		text_putc(&t, '\n');
	}
	text_puts(&t, p->learn_head ? p->learn_head : "");
	if (allow.len)
		text_printf(&t, "allow:\n%s", text_str(&allow));
	if (forward.len)
		text_printf(&t, "forward:\n%s", text_str(&forward));
	/* A mapping of comments only would be null: its entries come in as a comment block. */
	if (p->learn_dns && *p->learn_dns)
		text_printf(&t, "dns:\n%s", text_str(&dns));
	else if (dns.len)
		text_printf(&t, "# dns:\n%s", text_str(&dns));
	if (text_error(&t) || write(c->learn_fd, t.buf, t.len) != (ssize_t)t.len)
		log_error("--learn: writing the profile: %s", strerror(errno));
}

static void undo_audit(struct cage *c)
{
	if (c->learn_fd >= 0) {
		write_learned(c);
		closep(&c->learn_fd);
	}
	targets_free(c->targets);
	c->targets = NULL;
	audit_free(c->audit);
	c->audit = NULL;
}

/* First of all: the files the denials go to, and the targets' connects started. */
static int step_audit(struct cage *c)
{
	const struct plan *p = c->plan;
	_cleanup_text_ struct text reach = TEXT_INIT;
	struct audit_config cfg = {.cage = p->name,
				   .quiet = p->quiet,
				   .json_fd = -1,
				   .learn = p->learn != NULL,
				   .on_tick = on_audit_tick,
				   .tick_ctx = c};
	int r;

	/* Pushed first: a learn file opened is closed (and written) whatever fails after. */
	undo_push(c, undo_audit);
	if (p->learn) {
		r = open_report_file(p, p->learn, true, &c->learn_fd);
		if (r < 0)
			return err_wrap(r, "--learn");
	}
	if (p->audit) {
		r = open_report_file(p, p->audit, false, &cfg.json_fd);
		if (r < 0)
			return err_wrap(r, "--audit");
	}
	reach_line(p, &reach);
	if (text_error(&reach)) {
		closep(&cfg.json_fd);
		return -ENOMEM;
	}
	cfg.allowed = text_str(&reach);
	r = audit_new(c->loop, &cfg, &c->audit);
	if (r == 0 && p->check_targets != CHECK_TARGETS_OFF)
		r = targets_start(p, &c->targets);
	return r;
}

/* The targets' answers, once the cage is built (the connects went on meanwhile). */
static int step_targets(struct cage *c)
{
	unsigned down;

	if (!c->targets)
		return 0;
	down = targets_finish(c->targets, c->audit);
	targets_free(c->targets);
	c->targets = NULL;
	if (down && c->plan->check_targets == CHECK_TARGETS_REQUIRE)
		return err_invalid("--check-targets require: %u target(s) do not answer (above)",
				   down);
	return 0;
}

/* The hooks' events of this cage's denials, on the loop. */
static int step_ip_events(struct cage *c)
{
	int fd = -1, r = bpf_cage_events(c->bpf, on_ip_event, c, &fd);

	if (r == 0)
		r = loop_add(c->loop, &c->ip_events, fd, EPOLLIN, on_ip_events);
	return r < 0 ? err_wrap(r, "the eBPF hooks' events") : 0;
}

/* At the end, before teardown: what was not told yet. */
static void tell_the_rest(struct cage *c)
{
	if (c->bpf) {
		(void)bpf_cage_events_read(c->bpf);
		tell_ip_dropped(c);
	}
	if (c->ug)
		tell_unix_hooks(c);
	audit_flush(c->audit);
}

/* The forwards and the DNS stub, on the loop the supervisor runs while the cage lives. */
static int step_serve(struct cage *c)
{
	const struct plan *p = c->plan;
	int r;

	/* The cage's first process is running already: only the supervisor gets the limit. */
	relay_raise_fd_limit();
	r = relay_new(c->loop, &c->relay);
	if (r == 0)
		r = dns_new(c->loop, c->in[IN_DNS_UDP], c->in[IN_DNS_TCP], p->dns, p->n_dns,
			    log_max_level >= LOG_DEBUG, &c->dns);
	undo_push(c, undo_serve);
	if (r < 0)
		return r;
	c->in[IN_DNS_UDP] = c->in[IN_DNS_TCP] = -1;
	dns_set_refused(c->dns, on_name_refused, c);
	relay_set_report(c->relay, on_target_down, c);
	for (size_t i = 0; i < p->n_forwards; i++) {
		r = relay_add_forward(c->relay, c->in[IN_FORWARD + i], &p->forwards[i],
				      p->forwards[i].is_proxy ? p->proxy_auth : NULL);
		c->in[IN_FORWARD + i] = -1; /* the relay has it, whatever happened */
		if (r < 0)
			return r;
	}
	return p->n_publish ? step_publish(c) : 0;
}

/* Where the broker's performers go. As root, a cgroup of their own below the cage's: the peer
 * of a socket they connect sees a process of the cage's; the unix hooks do not count it as the
 * cage's (it has no entry), so its connects pass. Where the kernel has no unix hooks they go in
 * the cage's cgroup itself, where the IP hooks know the cage's endpoints. Without root, the
 * cage's user namespace. */
static int performers_home(struct cage *c, int *ret_cgroup, int *ret_userns)
{
	char path[64];

	*ret_cgroup = *ret_userns = -1;
	if (c->plan->userns) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)c->pid);
		*ret_userns = open(path, O_RDONLY | O_CLOEXEC);
		return *ret_userns < 0 ? err_set(negative_errno(), "open the cage's user namespace")
				       : 0;
	}
	if (c->backstop != UNIX_BACKSTOP_HOOKS) {
		*ret_cgroup = fcntl(c->cgroup_fd, F_DUPFD_CLOEXEC, 3);
		return *ret_cgroup < 0 ? err_set(negative_errno(), "the cage's cgroup") : 0;
	}
	if (mkdirat(c->cgroup_fd, "broker", 0755) < 0 && errno != EEXIST)
		return err_set(negative_errno(), "create the broker's cgroup below the cage's");
	*ret_cgroup = openat(c->cgroup_fd, "broker", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return *ret_cgroup < 0 ? err_set(negative_errno(), "open the broker's cgroup") : 0;
}

/* The cage's first process has its mounts and its filter: take the filter's listener from it
 * and serve the notifications on the loop, from before the command's first call. */
static int step_broker(struct cage *c)
{
	const struct plan *p = c->plan;
	struct broker_config cfg = {
	    .diag_fd = c->in[IN_DIAG],
	    .perform_all = c->backstop == UNIX_BACKSTOP_NONE || c->handed_ip,
	    .root = !p->userns,
	    .uid = p->uid,
	    .gid = p->gid,
	    .groups = p->groups,
	    .n_groups = p->n_groups,
	    .allow = p->unix_allow,
	    .n_allow = p->n_unix_allow,
	    .refused = on_unix_refused,
	    .refused_ctx = c,
	};
	_cleanup_close_ int cgroup_fd = -1, userns_fd = -1;
	char msg[16];
	ssize_t n;
	long fd;
	int r;

	do
		n = recv(c->sync_fd, msg, sizeof(msg) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? child_gone(c) : err_set(negative_errno(), "wait for the cage's filter");
	msg[n] = '\0';
	if (msg[0] != 's' || sscanf(msg + 1, "%ld %d", &fd, &c->nest_fd) != 2 || fd < -1)
		return err_set(-EPROTO, "the cage's first process said \"%s\"", msg);
	if (!p->unix_broker)
		return 0;
	r = performers_home(c, &cgroup_fd, &userns_fd);
	if (r < 0)
		return r;
	cfg.listener = (int)syscall(SYS_pidfd_getfd, c->pidfd, (int)fd, 0);
	if (cfg.listener < 0)
		return err_set(negative_errno(), "take the cage's seccomp listener");
	/* The broker has them all, whatever happens. */
	cfg.cgroup_fd = TAKE_FD(cgroup_fd);
	cfg.userns_fd = TAKE_FD(userns_fd);
	c->in[IN_DIAG] = -1;
	r = broker_new(c->loop, &cfg, &c->broker);
	if (r < 0)
		return r;
	undo_push(c, undo_broker);
	return 0;
}

/* The parent's supervisor is gone: so is this child cage, at once (its processes first; the
 * supervisor then undoes the rest as after any end). */
static void on_lifeline(struct loop_source *src, uint32_t events)
{
	struct cage *c = container_of(src, struct cage, lifeline);

	log_debug("the parent cage %s is gone: ending this one", c->plan->parent);
	(void)syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
	loop_del(c->loop, src);
}

static void undo_lifeline(struct cage *c)
{
	loop_del(c->loop, &c->lifeline);
}

static void undo_nest(struct cage *c)
{
	nest_free(c->nest);
	c->nest = NULL;
}

/* A namespace of the cage's first process, checked to be still that process's after. */
static int open_ns_of_child(struct cage *c, const char *which, int *ret)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)c->pid, which);
	*ret = open(path, O_RDONLY | O_CLOEXEC);
	if (*ret < 0)
		return err_set(negative_errno(), "open %s", path);
	if (syscall(SYS_pidfd_send_signal, c->pidfd, 0, NULL, 0) < 0) {
		closep(ret);
		return child_gone(c);
	}
	return 0;
}

/* --nest: serve the socket pid 1 made for child cages (nest.h). */
static int step_nest(struct cage *c)
{
	const struct plan *p = c->plan;
	_cleanup_text_ struct text reach = TEXT_INIT;
	struct nest_config cfg = {.name = p->name,
				  .uid = p->uid,
				  .depth = p->depth,
				  .userns_fd = -1,
				  .netns_fd = -1,
				  .mnt_fd = -1};
	int r;

	if (p->nest_lifeline_fd >= 0) {
		r = loop_add(c->loop, &c->lifeline, p->nest_lifeline_fd, EPOLLIN, on_lifeline);
		if (r < 0)
			return err_set(r, "watch the parent cage");
		undo_push(c, undo_lifeline);
	}
	if (!p->nest)
		return 0;
	plan_render_reach(p, &reach);
	if (text_error(&reach))
		return -ENOMEM;
	cfg.reach = reach.buf ? reach.buf : "";
	r = open_ns_of_child(c, "net", &cfg.netns_fd);
	if (r < 0)
		return r;
	r = open_ns_of_child(c, "mnt", &cfg.mnt_fd);
	if (r == 0 && p->userns)
		r = open_ns_of_child(c, "user", &cfg.userns_fd);
	if (r == 0) {
		cfg.listen_fd = (int)syscall(SYS_pidfd_getfd, c->pidfd, c->nest_fd, 0);
		if (cfg.listen_fd < 0)
			r = err_set(negative_errno(), "take the cage's %s", NEST_SOCKET);
	}
	if (r < 0) {
		closep(&cfg.netns_fd);
		closep(&cfg.mnt_fd);
		closep(&cfg.userns_fd);
		return r;
	}
	r = nest_new(c->loop, &cfg, &c->nest);
	if (r < 0)
		return r;
	undo_push(c, undo_nest);
	return 0;
}

static void undo_named(struct cage *c)
{
	control_free(c->ctl);
	c->ctl = NULL;
	if (c->bound)
		(void)named_unbind_netns(c->plan->name, c->bound);
	c->bound = 0;
}

/* How many processes the cage runs: the lines of its cgroup's cgroup.procs (the broker's
 * performers are in a cgroup of their own below it). */
static unsigned count_processes(const struct cage *c)
{
	_cleanup_close_ int fd = openat(c->cgroup_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	char buf[4096];
	unsigned n = 0;
	ssize_t got;

	while (fd >= 0 && (got = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < got; i++)
			n += buf[i] == '\n';
	return n;
}

/* What `sluice ls` is told: a line of tab-separated fields (name, supervisor pid, link,
 * processes, connections), then the cage as a JSON object (see sluice(1), LS JSON). */
static void cage_info(void *data, struct text *out)
{
	const struct cage *c = data;
	const struct plan *p = c->plan;
	struct relay_stats rs = {0};
	struct broker_stats bs = {0};
	uint64_t ip = 0, ux = 0, dropped = 0;
	unsigned procs = count_processes(c);
	char netns[160];

	snprintf(netns, sizeof(netns), NETNS_DIR "/%s", p->name);
	relay_get_stats(c->relay, &rs);
	if (c->broker)
		broker_get_stats(c->broker, &bs);
	(void)bpf_cage_denied(c->bpf, &ip);
	if (c->ug)
		{
		size_t n;

		(void)unixguard_denied(c->ug, &ux, NULL, 0, &n);
	}
	text_printf(out, "%s\t%d\t%s\t%u\t%llu\n", p->name, (int)getpid(), policy_link_name(p->link), procs,
		    (unsigned long long)rs.accepted);
	text_puts(out, "{\"name\": ");
	text_json_str(out, p->name);
	text_printf(out, ", \"supervisor_pid\": %d, \"named\": true, \"netns\": ", (int)getpid());
	text_json_str(out, netns);
	text_printf(out, ", \"netns_inode\": %llu, \"link\": \"%s\", \"uid\": %u, "
		    "\"processes\": %u, ",
		    c->bound, policy_link_name(p->link), (unsigned)p->uid, procs);
	text_printf(out, "\"forwards\": {\"accepted\": %llu, \"open\": %llu, \"refused\": %llu, "
		    "\"bytes_up\": %llu, \"bytes_down\": %llu}, ",
		    (unsigned long long)rs.accepted, (unsigned long long)rs.open,
		    (unsigned long long)rs.refused, (unsigned long long)rs.bytes_up,
		    (unsigned long long)rs.bytes_down);
	(void)bpf_cage_dropped(c->bpf, &dropped);
	text_printf(out, "\"denials\": {\"ip_hooks\": %llu, \"ip_unreported\": %llu, "
		    "\"unix_hooks\": %llu, \"unix_broker\": %llu, \"names\": %llu, "
		    "\"targets_down\": %llu}, \"parent\": ",
		    (unsigned long long)ip, (unsigned long long)dropped, (unsigned long long)ux,
		    (unsigned long long)bs.refused,
		    (unsigned long long)audit_layer_count(c->audit, AUDIT_DNS),
		    (unsigned long long)(audit_layer_count(c->audit, AUDIT_FORWARD) +
					 audit_layer_count(c->audit, AUDIT_START)));
	if (p->parent[0])
		text_json_str(out, p->parent);
	else
		text_puts(out, "null");
	text_printf(out, ", \"depth\": %u, \"nest\": %s, \"children\": %u, \"plan\": ",
		    p->depth, p->nest ? "true" : "false", nest_children(c->nest));
	plan_render_json(p, out);
	text_putc(out, '}');
}

/*
 * An IP socket made outside the cage (a TCP connection on stdin, as inetd-style services and
 * `socat EXEC:` with sockets hand over) belongs to another network namespace: the cage's rules
 * and hooks do not apply to it, and after connect(AF_UNSPEC) it would connect anywhere from
 * there. The cage may still read and write it; every connect and send with an address then goes
 * through the broker, which refuses those on such a socket (broker.c). Without the broker (no
 * seccomp user notification) the run is refused instead.
 */
static int check_handed(const struct plan *p, const int *fds, size_t n, bool *ret)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0 && fd_is_ip_socket(fds[i])) {
			if (!p->unix_broker)
				return err_invalid(
				    "fd %d is an IP socket of the network namespace outside the "
				    "cage, through which the cage could connect from there; this "
				    "kernel cannot check its calls (seccomp user notification): "
				    "hand the cage a pipe or a unix socket instead",
				    fds[i]);
			*ret = true;
		}
	return 0;
}

/* Socket activation: the service manager's sockets (fds 3..) go to the command as they are.
 * Stream sockets only: a datagram socket of the host's netns could only answer by sending with
 * an address, which the broker refuses on it. They are the service's, not sluice's: no one
 * after this run is meant to take them from the environment. */
static int check_listen_fds(const struct plan *p, bool *ret_ip)
{
	for (int fd = 3; fd < 3 + p->listen_fds; fd++) {
		int type = 0;
		socklen_t len = sizeof(type);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
			return err_set(negative_errno(), "socket activation: fd %d", fd);
		if (type != SOCK_STREAM && type != SOCK_SEQPACKET)
			return err_invalid("socket activation: fd %d is not a stream socket: only "
					   "ListenStream= and ListenSequentialPacket= sockets are "
					   "handed into a cage (a datagram socket of the network "
					   "outside could only answer from there)",
					   fd);
		if (check_handed(p, &fd, 1, ret_ip) < 0)
			return -EINVAL;
	}
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDNAMES");
	return 0;
}

static int on_exec_fds(void *data, const int fds[3])
{
	struct cage *c = data;
	bool ip = false;
	int r = check_handed(c->plan, fds, 3, &ip);

	if (r < 0 || !ip || c->handed_ip)
		return r;
	if (!c->broker)
		return err_invalid("an IP socket among the command's stdin, stdout and stderr: "
				   "no broker checks its calls in this cage");
	broker_perform_all(c->broker);
	c->handed_ip = true;
	log_debug("cage %s: an IP socket from outside is handed in: the broker performs every "
		  "connect and send",
		  c->plan->name);
	return 0;
}

/* sluice up: the cage's netns bound at /run/netns/<name> (its inode recorded first, so gc
 * unbinds what a crash leaves, and only that), and its control socket beside its record. */
static int step_named(struct cage *c)
{
	const struct plan *p = c->plan;
	struct cage_state st;
	struct stat sb;
	char path[160];
	int r;

	if (fstat(c->cage_netns_fd, &sb) < 0)
		return err_set(negative_errno(), "the cage's netns");
	r = state_read(p->name, &st);
	if (r < 0)
		return err_set(r, "read the record of %s", p->name);
	st.bound = (unsigned long long)sb.st_ino;
	r = state_rewrite(&st);
	if (r < 0)
		return r;
	undo_push(c, undo_named);
	r = named_bind_netns(p->name, c->cage_netns_fd, &c->bound);
	if (r < 0)
		return r;
	named_ctl_path(p->name, path, sizeof(path));
	r = control_new(c->loop, path, c->sync_fd, p->env, p->uid, cage_info, c, &c->ctl);
	if (r == 0)
		control_set_handing(c->ctl, on_exec_fds, c);
	return r;
}

/* The layers as they were made: the plan's, with what the kernel turned out to have. */
static void log_layers(const struct cage *c)
{
	_cleanup_text_ struct text t = TEXT_INIT;
	struct plan made = *c->plan; /* a shallow copy, only to render */

	made.unix_backstop = c->backstop;
	plan_render_layers(&made, &t, "  ");
	log_debug("enforcement layers of this run:");
	for (char *line = t.buf, *nl; line && *line; line = nl + 1) {
		nl = strchrnul(line, '\n');
		log_debug("%.*s", (int)(nl - line), line);
		if (!*nl)
			break;
	}
}

static int apply(struct cage *c, const sigset_t *oldmask)
{
	const struct plan *p = c->plan;
	struct cage_state st;
	int r;

	r = step_audit(c);
	if (r < 0)
		return r;

	/* Unprivileged, nothing is made outside the cage's own namespaces (no cgroup, no host
	 * link or table): nothing there for gc to find, so no record either. */
	if (!p->userns) {
		r = state_from_plan(p, &st);
		if (r < 0)
			return r;
		r = state_create(&st);
		if (r == -EEXIST)
			return err_invalid("a cage named \"%s\" exists (see %s/%s; if its run "
					   "crashed, `sluice gc` removes it)",
					   p->name, STATE_DIR, p->name);
		if (r < 0)
			return r;
		undo_push(c, undo_state);

		r = cage_fault("cgroup");
		if (r == 0)
			r = cgroup_create(c->cgmount, p->cgroup, &c->cgroup_fd);
		if (r < 0)
			return r;
		undo_push(c, undo_cgroup);
		c->parent_fd = openat(c->cgroup_fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (c->parent_fd < 0)
			return err_set(negative_errno(), "open the cgroup of all cages");
	}

	r = cage_fault("clone");
	if (r == 0)
		r = step_clone(c, oldmask);
	/* The service manager's sockets are the command's now (the cage's first process holds
	 * them until it starts it): the supervisor does not accept on them. */
	if (r == 0 && p->listen_fds)
		(void)syscall(SYS_close_range, 3U, 2U + (unsigned)p->listen_fds, 0U);
	if (r == 0)
		r = step_release(c);
	if (r < 0)
		return r;

	/* The cage's entries go into the hooks' maps (the hooks themselves are loaded and
	 * attached to the cgroup of all cages by the first run only) while its first process
	 * makes its namespaces' insides; until they are in, that process is refused all but
	 * loopback, and it runs nothing of the user's before it is told to go. */
	if (!p->userns) {
		r = cage_fault("bpf");
		if (r == 0)
			r = bpf_cage_attach(c->parent_fd, p->name, c->cgroup_fd, p->allowed,
					    p->n_allowed, &c->bpf);
		if (r < 0)
			return r;
		undo_push(c, undo_bpf);
		r = step_ip_events(c);
		if (r == 0)
			r = step_unixguard(c);
		if (r < 0)
			return r;
	}

	r = step_inside(c);
	if (r < 0)
		return r;

	if (p->link == LINK_VETH) {
		r = cage_fault("veth");
		if (r == 0)
			r = nl_veth_add(c->nl_host, p->host_if, p->cage_if, c->cage_netns_fd);
		if (r == -EEXIST && !state_link_in_use(p->host_if, p->name)) {
			/* The pair of an earlier cage of this name, whose netns the kernel has
			 * not finished tearing down yet (that happens after the run returns). */
			log_debug("removing %s, left by an earlier cage \"%s\"", p->host_if,
				  p->name);
			r = nl_link_del(c->nl_host, p->host_if);
			if (r == 0 || r == -ENODEV)
				r = nl_veth_add(c->nl_host, p->host_if, p->cage_if,
						c->cage_netns_fd);
		}
		if (r < 0)
			return r;
		undo_push(c, undo_veth);

		r = cage_fault("host-link");
		if (r == 0)
			r = step_host_link(c);
		if (r < 0)
			return r;

		r = cage_fault("host-nft");
		if (r == 0)
			r = nft_load_host(c->nft_host, p);
		if (r < 0)
			return r;
		undo_push(c, undo_host_nft);

		r = cage_fault("cage-link");
		if (r == 0)
			r = step_cage_link(c);
		if (r < 0)
			return r;
	}

	if (p->link == LINK_WIREGUARD) {
		r = cage_fault("wireguard");
		if (r == 0)
			r = step_wireguard(c);
		if (r < 0)
			return r;
		r = cage_fault("cage-link");
		if (r == 0)
			r = step_cage_wireguard(c);
		if (r < 0)
			return r;
	}

	r = cage_fault("cage-nft");
	if (r == 0)
		r = nft_load_cage(c->cage_nft, p);
	if (r < 0)
		return r;

	r = cage_fault("serve");
	if (r == 0)
		r = step_serve(c);
	if (r < 0)
		return r;

	r = cage_fault("broker");
	if (r == 0)
		r = step_broker(c);
	if (r < 0)
		return r;

	r = cage_fault("nest");
	if (r == 0)
		r = step_nest(c);
	if (r < 0)
		return r;

	if (c->named) {
		r = cage_fault("named");
		if (r == 0)
			r = step_named(c);
		if (r < 0)
			return r;
	}

	r = step_targets(c);
	if (r < 0)
		return r;

	/* Everything holds: say what does (-v), and let the cage's first process go on. */
	if (log_max_level >= LOG_DEBUG)
		log_layers(c);
	log_trace("go");
	if (send(c->sync_fd, "g", 1, MSG_NOSIGNAL) != 1)
		return errno == EPIPE ? child_gone(c) : err_set(negative_errno(), "start the cage");
	/* sync_fd stays open while the cage runs: its closing tells pid 1 the supervisor is
	 * gone (see child_main). */
	return 0;
}

/*
 * The host's nftables, once nothing of the cage is left. Deleting the table commits a
 * transaction that waits on the netns's nftables mutex (other runs hold it while they
 * close their sockets, below); and the last close of a netfilter netlink socket, while a
 * deleted table still waits for its RCU grace period, waits for that grace period (about
 * 15 ms here) holding the mutex, which the next veth made in the netns needs to register
 * its host end. So a child that holds nothing else does both after sluice is gone: it
 * deletes the table, waits out a grace period of its own (membarrier's global barrier is
 * one), by which time the table is freed, and closes. Its interface went with the cage's
 * netns, so the table matches nothing meanwhile; its name is this run's own, so a new run
 * of the same cage does not collide with it; should the child not get to delete it,
 * `sluice gc` does. If the child cannot be made, the caller does both.
 */
static bool drop_host_nft_in_background(struct cage *c)
{
	int fd = mnl_socket_get_fd(c->nft_host);
	sigset_t all, old;
	pid_t pid;

	/* The child blocks every signal: a service manager that stops what is left of the
	 * service once sluice has exited (SIGTERM) must not cut it short; it takes ms. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid != 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return pid > 0; /* the caller closes its own copy, which is no longer the last */
	}
	(void)syscall(SYS_close_range, 0U, (unsigned)fd - 1, 0U);
	(void)syscall(SYS_close_range, (unsigned)fd + 1, ~0U, 0U);
	if (c->host_table_made)
		(void)nft_delete_table(c->nft_host, c->plan->host_table);
	(void)syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
	close(fd);
	_exit(0);
}

/* The host's table and nft socket, once: by a child after sluice, or here if there is none. */
static void drop_host_nft(struct cage *c)
{
	if (!c->nft_host)
		return;
	if (!drop_host_nft_in_background(c) && c->host_table_made)
		(void)nft_delete_table(c->nft_host, c->plan->host_table);
	mnl_socket_close(c->nft_host);
	c->nft_host = NULL;
}

/* Under a service manager (NOTIFY_SOCKET, Type=notify): ready once the cage is built and its
 * command started, with what it reaches as the status (libsystemd's sd_notify). Nothing is
 * sent, and nothing fails, without one. */
static void notify_ready(struct cage *c)
{
	_cleanup_text_ struct text status = TEXT_INIT, reach = TEXT_INIT;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	reach_line(c->plan, &reach);
	text_printf(&status, "READY=1\nSTATUS=cage %s, link %s, reaches: %s", c->plan->name,
		    policy_link_name(c->plan->link), reach.len ? text_str(&reach) : "loopback only");
	if (!text_error(&status) && sd_notify(0, text_str(&status)) < 0)
		log_debug("sd_notify: could not tell the service manager");
}

static int cage_serve(const struct plan *p, bool named, void (*ready)(void *data), void *data,
		      int *ret_status)
{
	struct cage c = {
		.plan = p,
		.named = named,
		.cgroup_fd = -1,
		.parent_fd = -1,
		.cage_netns_fd = -1,
		.pidfd = -1,
		.sync_fd = -1,
		.nest_fd = -1,
		.lifeline = {.fd = -1},
		.ip_events = {.fd = -1},
		.learn_fd = -1,
		.err_fd = -1,
		.backstop = p->unix_backstop,
	};
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
	struct termios tty;
	bool tty_saved = false;
	struct child_report rep;
	bool reported = false;
	sigset_t set, oldmask;
	int r;

	r = check_handed(p, (const int[]){STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}, 3,
			 &c.handed_ip);
	if (r == 0)
		r = check_listen_fds(p, &c.handed_ip);
	if (r < 0)
		return r;
	if (!p->userns) {
		r = cgroup_find_mount(c.cgmount, sizeof(c.cgmount));
		if (r < 0)
			return r;
	}
	r = loop_new(&c.loop);
	if (r < 0)
		return r;
	/* A write to a closed stderr (-v into a pipe whose reader left) must not end the
	 * supervisor and strand the cage's record: lines that cannot be written are dropped. */
	sigaction(SIGPIPE, &ign, &old_pipe);
	c.pipe_default = old_pipe.sa_handler == SIG_DFL;

	c.wggo.pidfd = -1;
	c.wggo.log_fd = -1;
	if (p->link != LINK_NONE) {
		r = nl_open(NETLINK_ROUTE, &c.nl_host);
		if (r == 0)
			r = nl_open(NETLINK_NETFILTER, &c.nft_host);
		if (r < 0)
			goto out;
	}
	/* Only from the terminal's foreground: setting it from the background would stop us. */
	tty_saved = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp() &&
		    tcgetattr(STDIN_FILENO, &tty) == 0;

	/* Signals wait in a signalfd from here on: a ^C during setup unwinds cleanly. */
	supervise_signals(&set);
	sigprocmask(SIG_BLOCK, &set, &oldmask);

	r = apply(&c, &oldmask);
	if (r == 0)
		notify_ready(&c);
	if (r == 0 && ready)
		ready(data);
	if (r == 0) {
		r = supervise(c.loop, c.pidfd, c.err_fd, ret_status, &rep, &reported);
		if (r == 0) {
			/* Reaped: nothing left for undo_child to wait for (if supervising
			 * failed instead, undo_child kills the cage and waits for it). */
			close(c.pidfd);
			c.pidfd = -1;
			c.reaped = true;
		}
		tell_the_rest(&c);
		if (r == 0 && reported) {
			/* The failure happened inside the cage, before the command ran (125),
			 * or in exec'ing it (126/127): say what it was. */
			if (rep.code == 125)
				r = err_set_whole(rep.err, "%s", rep.msg);
			else
				log_error("%s", rep.msg);
		}
	}
	(void)sd_notify(0, "STOPPING=1"); /* nothing without a service manager */
	undo_all(&c);
	/* The terminal as the caller left it to the cage: a caged program that turned echo
	 * off or left it raw does not leave the caller's shell so. */
	if (tty_saved && tcgetpgrp(STDIN_FILENO) == getpgrp())
		(void)tcsetattr(STDIN_FILENO, TCSADRAIN, &tty);
	/* Still with signals blocked: a ^C left pending during teardown must not end sluice
	 * before the host's table is taken care of. */
	drop_host_nft(&c);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
out:
	if (c.nl_host)
		mnl_socket_close(c.nl_host);
	drop_host_nft(&c);
	loop_free(c.loop);
	if (log_dropped())
		log_debug("%lu line(s) could not be written to stderr", log_dropped());
	sigaction(SIGPIPE, &old_pipe, NULL);
	return r;
}

int cage_run(const struct plan *p, int *ret_status)
{
	return cage_serve(p, false, NULL, NULL, ret_status);
}

int cage_up(const struct plan *p, void (*ready)(void *data), void *data, int *ret_status)
{
	if (p->userns)
		return err_invalid("a named cage needs root (its netns is bound at %s/%s)",
				   NETNS_DIR, p->name);
	return cage_serve(p, true, ready, data, ret_status);
}
