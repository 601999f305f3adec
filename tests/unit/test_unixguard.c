/* test_unixguard.c: the in-kernel layer behind the unix broker, against the real kernel (needs
 * root and a kernel with the cgroup unix hooks, 6.7+; without either it fails, never skips):
 * the hooks on a temporary cgroup refuse every pathname socket to a process inside it and let
 * one outside (the supervisor) connect the cage's sockets; and the cage's private socket
 * directories made by ns_setup_cage() in a child's own mount namespace. */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h> /* after stdarg.h, stddef.h, setjmp.h and stdint.h */

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf.h"
#include "cgroup.h"
#include "hookworld.h"
#include "log.h"
#include "ns.h"
#include "unix.skel.h"
#include "unixguard.h"

#define ATTACH_UNIX_CONNECT ((enum bpf_attach_type)49)
#define ATTACH_UNIX_SENDMSG ((enum bpf_attach_type)50)
static const enum bpf_attach_type hook_types[] = {ATTACH_UNIX_CONNECT, ATTACH_UNIX_SENDMSG};

/* Host sockets live in base (below /var/tmp) and tmpbase (below /tmp, a cage's own /tmp in a
 * cage: the hooks refuse it all the same). */
static char base[64], tmpbase[64];
static int fds[16];
static size_t n_fds;

struct world {
	char parent[PATH_MAX + 32]; /* the temporary cgroup of all cages, where the hooks go */
	char path[PATH_MAX + 64];   /* the cage's cgroup below it */
	int parent_fd, cgroup_fd;
	struct unixguard *guard;
	bool inside;
	struct hook_ids ids;
};

/* ---- the world ----------------------------------------------------------------------- */

static socklen_t sun_of(struct sockaddr_un *sun, const char *path, size_t n)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
}

/* A listener (stream) or a bound datagram socket at path ('@' first: abstract). */
static int serve(int type, const char *path)
{
	struct sockaddr_un sun;
	bool abstract = path[0] == '@';
	socklen_t len = sun_of(&sun, path, strlen(path) + !abstract);
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	if (abstract)
		sun.sun_path[0] = '\0';
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		fprintf(stderr, "serve %s: %m\n", path);
		return -1;
	}
	fds[n_fds++] = fd;
	return 0;
}

static int group_setup(void **state)
{
	char p[128];

	if (hookworld_init("test_unixguard") < 0)
		return -1;
	if (unixguard_probe() < 0) {
		fprintf(stderr,
			"test_unixguard: this kernel lacks the cgroup unix hooks "
			"(connect_unix, sendmsg_unix; Linux 6.7+): %s\n",
			strerror(-unixguard_probe()));
		return -1;
	}
	/* Our own netns: its abstract socket namespace is ours alone. */
	if (unshare(CLONE_NEWNET) < 0)
		return -1;

	snprintf(base, sizeof(base), "/var/tmp/sluice-ug-XXXXXX");
	snprintf(tmpbase, sizeof(tmpbase), "/tmp/sluice-ug-XXXXXX");
	if (!mkdtemp(base) || !mkdtemp(tmpbase))
		return -1;
	snprintf(p, sizeof(p), "%s/dir", base);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dirx", base);
	mkdir(p, 0755);

#define SERVE(type, fmt, b)                                                                        \
	do {                                                                                       \
		snprintf(p, sizeof(p), fmt, b);                                                    \
		if (serve(type, p) < 0)                                                            \
			return -1;                                                                 \
	} while (0)
	SERVE(SOCK_STREAM, "%s/out.sock", base);
	SERVE(SOCK_DGRAM, "%s/out.dgram", base);
	SERVE(SOCK_STREAM, "%s/allowed.sock", base);
	SERVE(SOCK_STREAM, "%s/allowed.sockx", base);
	SERVE(SOCK_STREAM, "%s/trunc.sock", base);
	SERVE(SOCK_STREAM, "%s/dir/a.sock", base);
	SERVE(SOCK_DGRAM, "%s/dir/d.dgram", base);
	SERVE(SOCK_STREAM, "%s/dirx/a.sock", base);
	SERVE(SOCK_STREAM, "%s/own.sock", tmpbase);
	SERVE(SOCK_DGRAM, "%s/own.dgram", tmpbase);
	SERVE(SOCK_STREAM, "%s", "@sluice-ug-abstract");
#undef SERVE
	return 0;
}

static void rm_tree(const char *dir)
{
	static const char *const names[] = {"out.sock",	     "out.dgram",   "allowed.sock",
					    "allowed.sockx", "trunc.sock",  "dir/a.sock",
					    "dir/d.dgram",   "dirx/a.sock", "own.sock",
					    "own.dgram",     "dir",	    "dirx"};
	char p[128];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		if (unlink(p) < 0)
			rmdir(p);
	}
	rmdir(dir);
}

static int group_teardown(void **state)
{
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	if (base[0])
		rm_tree(base);
	if (tmpbase[0])
		rm_tree(tmpbase);
	return 0;
}

static void drain_servers(void);

static int world_setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	w->cgroup_fd = w->parent_fd = -1;
	snprintf(w->parent, sizeof(w->parent), "%s/sluice-test-XXXXXX", hookworld_mount());
	*state = w;
	if (!mkdtemp(w->parent))
		return -1;
	snprintf(w->path, sizeof(w->path), "%s/c", w->parent);
	if (mkdir(w->path, 0755) < 0)
		return -1;
	w->parent_fd = open(w->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	w->cgroup_fd = open(w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return w->cgroup_fd >= 0 && w->parent_fd >= 0 ? 0 : -1;
}

static int world_teardown(void **state)
{
	struct world *w = *state;
	struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};

	if (w->inside && hookworld_leave() == 0)
		w->inside = false;
	if (w->guard)
		unixguard_detach(w->guard);
	unixguard_free(w->guard);
	if (w->parent_fd >= 0)
		(void)bpf_resident_unload(w->parent_fd, &unixguard_resident);
	closep(&w->cgroup_fd);
	closep(&w->parent_fd);
	drain_servers();
	for (int tries = 0; tries < 100 && rmdir(w->path) < 0 && errno == EBUSY; tries++)
		nanosleep(&ts, NULL);
	rmdir(w->parent);
	free(w);
	return 0;
}

/* Sockets are judged by the cgroup they were created in: make them after entering. */
static void enter(struct world *w)
{
	assert_int_equal(hookworld_enter(w->path), 0);
	w->inside = true;
}

static void leave(struct world *w)
{
	assert_int_equal(hookworld_leave(), 0);
	w->inside = false;
}

static void assert_nothing_attached(int cgroup_fd)
{
	hookworld_assert_none(cgroup_fd, hook_types, ARRAY_SIZE(hook_types));
}

static void record_ids(struct world *w)
{
	hookworld_record(&w->ids, w->parent_fd, hook_types, ARRAY_SIZE(hook_types));
	assert_int_equal(w->ids.n_map, 3); /* unix_denied, unix_paths, .rodata */
}

/* How many entries the maps hold under the cage's cgroup id. */
static unsigned entries_of(struct world *w)
{
	uint64_t id = 0;

	assert_int_equal(cgroup_id(w->cgroup_fd, &id), 0);
	return hookworld_entries(w->parent_fd, &unixguard_resident, id);
}

/* tmpl with its "%s" (if any) replaced by with. */
static void subst(const char *tmpl, const char *with, char *buf, size_t len)
{
	const char *at = strstr(tmpl, "%s");

	if (!at)
		snprintf(buf, len, "%s", tmpl);
	else
		snprintf(buf, len, "%.*s%s%s", (int)(at - tmpl), tmpl, with, at + 2);
}

/* A plan with the given unix allowances ("%s" in them: base); uid 4242's runtime directory. */
struct test_plan {
	struct plan p;
	struct unix_allow allow[8];
};

static void plan_with(struct test_plan *tp, const char *const *allow, size_t n)
{
	memset(tp, 0, sizeof(*tp));
	tp->p.uid = 4242;
	tp->p.gid = 4242;
	for (size_t i = 0; i < n; i++) {
		subst(allow[i], base, tp->allow[i].path, sizeof(tp->allow[i].path));
		tp->allow[i].prefix = tp->allow[i].path[strlen(tp->allow[i].path) - 1] == '/';
	}
	tp->p.unix_allow = tp->allow;
	tp->p.n_unix_allow = n;
}

static int attach(struct world *w)
{
	return unixguard_attach(w->parent_fd, "c", w->cgroup_fd, &w->guard);
}

/* ---- probes -------------------------------------------------------------------------- */

enum op { CONNECT, SENDTO };

struct probe {
	const char *what;
	int type;
	enum op op;
	const char *fmt;       /* "%s": base, "%t": tmpbase, '@' first: abstract */
	int addrlen_cut;       /* > 0: pass only this many bytes of the path */
	int expect;	       /* 0 or an errno */
	const char *denied_as; /* the path the hook reports ("%s": base), if refused */
};

static void expand(const char *fmt, char *buf, size_t len)
{
	if (startswith(fmt, "%t"))
		snprintf(buf, len, "%s%s", tmpbase, fmt + 2);
	else
		subst(fmt, base, buf, len);
}

static int try_probe(const struct probe *pr)
{
	_cleanup_close_ int fd = socket(AF_UNIX, pr->type | SOCK_CLOEXEC, 0);
	char path[128];
	struct sockaddr_un sun;
	socklen_t len;
	size_t n;
	int r;

	assert_true(fd >= 0);
	expand(pr->fmt, path, sizeof(path));
	n = pr->addrlen_cut > 0 ? (size_t)pr->addrlen_cut : strlen(path);
	len = sun_of(&sun, path, n);
	memcpy(sun.sun_path, path, strlen(path)); /* bytes past addrlen too, for the cut case */
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	if (pr->op == CONNECT)
		r = connect(fd, (struct sockaddr *)&sun, len);
	else
		r = sendto(fd, "x", 1, 0, (struct sockaddr *)&sun, len) == 1 ? 0 : -1;
	return r < 0 ? errno : 0;
}

static unsigned run_probes(const struct probe *probes, size_t n)
{
	unsigned denials = 0, bad = 0;

	for (size_t i = 0; i < n; i++) {
		int got = try_probe(&probes[i]);

		if (got != probes[i].expect) {
			print_error("%s: expected %s, got %s\n", probes[i].what,
				    probes[i].expect ? strerror(probes[i].expect) : "success",
				    got ? strerror(got) : "success");
			bad++;
		}
		denials += probes[i].expect == EPERM;
	}
	if (bad)
		fail_msg("%u of %zu probes gave the wrong answer", bad, n);
	return denials;
}

#define S SOCK_STREAM
#define D SOCK_DGRAM

/* ---- tests: the hooks ----------------------------------------------------------------- */

static void probe_finds_the_unix_hooks(void **state)
{
	assert_int_equal(unixguard_probe(), 0);
	assert_int_equal(unixguard_probe(), 0); /* cached */
}

/* Inside a cage's cgroup every pathname socket is refused, wherever it is and however it is
 * named (the supervisor alone reaches them, for the cage); abstract ones are the netns's. */
static void pathname_sockets_refused_to_a_cages_process_counted_with_paths(void **state)
{
	struct world *w = *state;
	static const struct probe probes[] = {
	    {"stream", S, CONNECT, "%s/out.sock", 0, EPERM, "%s/out.sock"},
	    {"datagram (sendto)", D, SENDTO, "%s/out.dgram", 0, EPERM, "%s/out.dgram"},
	    {"datagram (connect)", D, CONNECT, "%s/out.dgram", 0, EPERM, "%s/out.dgram"},
	    {"below /tmp (stream)", S, CONNECT, "%t/own.sock", 0, EPERM, "%t/own.sock"},
	    {"below /tmp (datagram)", D, SENDTO, "%t/own.dgram", 0, EPERM, "%t/own.dgram"},
	    {"relative", S, CONNECT, "out.sock", 0, EPERM, "out.sock"},
	    {"not there", S, CONNECT, "%s/none.sock", 0, EPERM, "%s/none.sock"},
	    /* addrlen ends the path at "trunc.sock": the path kept is the one the kernel uses. */
	    {"cut short by addrlen", S, CONNECT, "%s/trunc.sock.ok", -1, EPERM, "%s/trunc.sock"},
	    {"abstract", S, CONNECT, "@sluice-ug-abstract", 0, 0, NULL},
	    {"abstract, nobody there", S, CONNECT, "@sluice-ug-nobody", 0, ECONNREFUSED, NULL},
	};
	struct probe cut[ARRAY_SIZE(probes)];
	struct unixguard_denial d[16];
	_cleanup_close_ int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t total;
	unsigned denials;
	size_t n;

	memcpy(cut, probes, sizeof(probes));
	for (size_t i = 0; i < ARRAY_SIZE(cut); i++)
		if (cut[i].addrlen_cut < 0)
			cut[i].addrlen_cut = (int)(strlen(base) + strlen("/trunc.sock"));

	assert_true(cwd >= 0);
	assert_int_equal(attach(w), 0);
	record_ids(w);
	assert_int_equal(unixguard_denied(w->guard, &total, d, ARRAY_SIZE(d), &n), 0);
	assert_int_equal(total, 0);
	assert_int_equal(n, 0);

	assert_int_equal(chdir(base), 0);
	enter(w);
	denials = run_probes(cut, ARRAY_SIZE(cut));
	leave(w);
	assert_int_equal(fchdir(cwd), 0);

	assert_int_equal(unixguard_denied(w->guard, &total, d, ARRAY_SIZE(d), &n), 0);
	assert_int_equal(total, denials);
	assert_int_equal(n, denials - 1); /* out.dgram twice */
	for (size_t i = 0; i < ARRAY_SIZE(cut); i++) {
		char want[128];
		bool found = false;

		if (!cut[i].denied_as)
			continue;
		expand(cut[i].denied_as, want, sizeof(want));
		for (size_t j = 0; j < n; j++)
			found |= streq(d[j].path, want);
		if (!found)
			fail_msg("%s: not among the denied paths", want);
	}
	/* Most frequent first. */
	assert_int_equal(d[0].count, 2);
	assert_non_null(strstr(d[0].path, "/out.dgram"));

	/* Teardown removes the cage's entries (the refused paths too); the hooks stay on the
	 * cgroup of all cages, and come off only when unloaded. */
	assert_true(entries_of(w) > 0);
	assert_int_equal(unixguard_detach(w->guard), 0);
	assert_int_equal(entries_of(w), 0);
	assert_nothing_attached(w->cgroup_fd);
	unixguard_free(w->guard);
	w->guard = NULL;
	record_ids(w);
	drain_servers();
	assert_int_equal(bpf_resident_unload(w->parent_fd, &unixguard_resident), 2); /* detached */
	assert_nothing_attached(w->parent_fd);
	hookworld_assert_gone(&w->ids);
}

/* The supervisor connects and sends for the cage on the cage's own sockets: a socket made
 * in the cage's cgroup, used by a process outside every cage, passes. */
static void the_supervisor_reaches_sockets_for_the_cage(void **state)
{
	struct world *w = *state;
	_cleanup_close_ int st = -1, dg = -1;
	struct sockaddr_un sun;
	char path[128];
	socklen_t len;
	uint64_t total;

	assert_int_equal(attach(w), 0);
	enter(w);
	st = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	dg = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	leave(w);
	assert_true(st >= 0 && dg >= 0);
	len = sun_of(&sun, path, (size_t)snprintf(path, sizeof(path), "%s/out.sock", base));
	assert_int_equal(connect(st, (struct sockaddr *)&sun, len), 0);
	len = sun_of(&sun, path, (size_t)snprintf(path, sizeof(path), "%s/out.dgram", base));
	assert_int_equal(sendto(dg, "x", 1, 0, (struct sockaddr *)&sun, len), 1);
	assert_int_equal(unixguard_denied(w->guard, &total, NULL, 0, NULL), 0);
	assert_int_equal(total, 0);
}

/* A unix connect makes the server's end of the connection in the caller's cgroup, and a
 * datagram holds its sender until read: either keeps a removed cgroup (and its programs)
 * alive. Accept and read everything the probes left queued at our servers. */
static void drain_servers(void)
{
	char buf[16];

	for (size_t i = 0; i < n_fds; i++) {
		int c;

		/* accept4's SOCK_NONBLOCK is for the new socket: the wait needs the listener's. */
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
		while ((c = accept4(fds[i], NULL, NULL, SOCK_CLOEXEC)) >= 0)
			close(c);
		while (recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT) >= 0)
			;
	}
}

/* bpf_live_fn: no cage is alive. */
static int no_live_cages(void *ctx, uint64_t **ret_ids, size_t *ret_n)
{
	*ret_ids = calloc(1, sizeof(**ret_ids));
	*ret_n = 0;
	return *ret_ids ? 0 : -ENOMEM;
}

/* The supervisor's fds closing (as on SIGKILL) must not open the cage: hooks and entries
 * stay. gc's prune removes the entries of a cage no longer alive (its processes are killed
 * first). */
static void hooks_outlive_our_fds_and_prune_removes_a_dead_cages_entries(void **state)
{
	struct world *w = *state;
	static const struct probe probes[] = {
	    {"stream", S, CONNECT, "%s/out.sock", 0, EPERM, NULL},
	    {"below /tmp", S, CONNECT, "%t/own.sock", 0, EPERM, NULL},
	};
	size_t removed = 0;

	assert_int_equal(attach(w), 0);
	record_ids(w);
	unixguard_free(w->guard);
	w->guard = NULL;

	enter(w);
	run_probes(probes, ARRAY_SIZE(probes));
	leave(w);
	record_ids(w);
	assert_true(entries_of(w) > 0);

	assert_int_equal(
	    bpf_resident_prune(w->parent_fd, &unixguard_resident, no_live_cages, NULL, &removed),
	    0);
	assert_true(removed > 0);
	assert_int_equal(entries_of(w), 0);
}

/* sendmsg_unix is attached second: make it fail and check connect_unix is rolled back (from
 * the cgroup of all cages, where the hooks go). */
static void failed_attach_leaves_nothing_attached(void **state)
{
	struct world *w = *state;
	struct unix_bpf *other = unix_bpf__open();
	uint32_t ids[4];
	int fd;

	assert_non_null(other);
	bpf_program__set_type(other->progs.sendmsg_unix, BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
	bpf_program__set_expected_attach_type(other->progs.sendmsg_unix, ATTACH_UNIX_SENDMSG);
	bpf_program__set_autoload(other->progs.connect_unix, false);
	assert_int_equal(unix_bpf__load(other), 0);
	fd = bpf_program__fd(other->progs.sendmsg_unix);
	/* Attached without flags it is exclusive: the kernel refuses a multi attach beside it. */
	assert_int_equal(bpf_prog_attach(fd, w->parent_fd, ATTACH_UNIX_SENDMSG, 0), 0);

	err_clear();
	assert_int_equal(attach(w), -EPERM);
	assert_null(w->guard);
	assert_non_null(strstr(err_message(-EPERM), "attach sendmsg_unix hook to cgroup"));
	assert_int_equal(
	    hookworld_attached(w->parent_fd, ATTACH_UNIX_CONNECT, ids, ARRAY_SIZE(ids)), 0);
	assert_int_equal(bpf_prog_detach2(fd, w->parent_fd, ATTACH_UNIX_SENDMSG), 0);
	unix_bpf__destroy(other);
	assert_nothing_attached(w->parent_fd);
}

static void detach_and_denied_reject_null(void **state)
{
	uint64_t n;

	assert_int_equal(unixguard_detach(NULL), -EBADF);
	assert_int_equal(unixguard_denied(NULL, &n, NULL, 0, NULL), -EBADF);
	unixguard_free(NULL);
}

/* ---- tests: the private socket directories ---------------------------------------------- */

/* Host objects for the mount test, below /run (hidden in the cage) and /tmp (likewise). */
static char runbase[64];

static int connect_path(const char *path)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun;
	socklen_t len = sun_of(&sun, path, strlen(path));

	return connect(fd, (struct sockaddr *)&sun, len) < 0 ? errno : 0;
}

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "ns child: %s (line %d): %m\n", #cond, __LINE__);          \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

/* In the child, after ns_setup_cage(): what the cage sees. */
static _Noreturn void check_cage_view(const char *marker_tmp)
{
	char p[160], buf[256];
	struct stat st;
	FILE *f;

	/* The host's /tmp and /run are gone; the cage's are empty tmpfs mounts. */
	CHECK(access(marker_tmp, F_OK) < 0 && errno == ENOENT);
	snprintf(p, sizeof(p), "%s/hidden.sock", runbase);
	CHECK(connect_path(p) == ENOENT);
	CHECK(stat("/tmp", &st) == 0 && (st.st_mode & 07777) == 01777);
	CHECK(access("/run/dbus", F_OK) < 0);
	/* The runtime directory: the command's user's, private. */
	CHECK(stat("/run/user/4242", &st) == 0 && st.st_uid == 4242 && st.st_gid == 4242 &&
	      (st.st_mode & 07777) == 0700);
	/* The allowed ones, at their paths (the /var/run spelling too), and nothing beside them. */
	snprintf(p, sizeof(p), "%s/kept.sock", runbase);
	CHECK(connect_path(p) == 0);
	snprintf(p, sizeof(p), "/var%s/kept.sock", runbase);
	CHECK(connect_path(p) == 0);
	snprintf(p, sizeof(p), "%s/vr.sock", runbase);
	CHECK(connect_path(p) == 0);
	snprintf(p, sizeof(p), "%s/keptdir/in.sock", runbase);
	CHECK(connect_path(p) == 0);
	snprintf(p, sizeof(p), "%s/kept.sock", tmpbase);
	CHECK(connect_path(p) == 0);
	snprintf(p, sizeof(p), "%s/own.sock", tmpbase);
	CHECK(connect_path(p) == ENOENT);
	/* Listed but not there: no placeholder for it either. */
	snprintf(p, sizeof(p), "%s/missing.sock", runbase);
	CHECK(access(p, F_OK) < 0);
	/* resolv.conf, a symlink into /run: the generated one is where it leads. */
	f = fopen("/etc/resolv.conf", "re");
	CHECK(f && fgets(buf, sizeof(buf), f) && strstr(buf, "generated by sluice"));
	fclose(f);
	CHECK(stat("/run/systemd/resolve/stub-resolv.conf", &st) == 0);
	_exit(0);
}

static int make_fake_etc(void)
{
	/* A tmpfs over /etc in the child's own mount namespace, with resolv.conf a symlink into
	 * /run as systemd-resolved leaves it, and a plain hosts. */
	if (mount("fake-etc", "/etc", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return -1;
	if (symlink("../run/systemd/resolve/stub-resolv.conf", "/etc/resolv.conf") < 0)
		return -1;
	return close(open("/etc/hosts", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
}

static void cage_sees_private_run_and_tmp_with_only_allowed_sockets_kept(void **state)
{
	char marker[96], p[128];
	char *env[] = {NULL};
	struct test_plan tp;
	int status;
	pid_t pid;

	snprintf(runbase, sizeof(runbase), "/run/sluice-ug-XXXXXX");
	assert_non_null(mkdtemp(runbase));
	snprintf(p, sizeof(p), "%s/keptdir", runbase);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(marker, sizeof(marker), "%s/marker", tmpbase);
	assert_int_equal(close(open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), 0);
	{
		static const char *const names[] = {"hidden.sock", "kept.sock", "vr.sock",
						    "keptdir/in.sock"};

		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			snprintf(p, sizeof(p), "%s/%s", runbase, names[i]);
			assert_int_equal(serve(SOCK_STREAM, p), 0);
		}
		snprintf(p, sizeof(p), "%s/kept.sock", tmpbase);
		assert_int_equal(serve(SOCK_STREAM, p), 0);
	}

	{
		const char *allow[5];
		char a[5][128];

		snprintf(a[0], sizeof(a[0]), "%s/kept.sock", runbase);
		snprintf(a[1], sizeof(a[1]), "/var%s/vr.sock", runbase);
		snprintf(a[2], sizeof(a[2]), "%s/keptdir/", runbase);
		snprintf(a[3], sizeof(a[3]), "%s/kept.sock", tmpbase);
		snprintf(a[4], sizeof(a[4]), "%s/missing.sock", runbase);
		for (size_t i = 0; i < 5; i++)
			allow[i] = a[i];
		plan_with(&tp, allow, 5);
	}
	snprintf(tp.p.name, sizeof(tp.p.name), "ugtest");
	tp.p.env = env;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNS | CLONE_NEWUTS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 || make_fake_etc() < 0) {
			fprintf(stderr, "ns child: set up: %m\n");
			_exit(2);
		}
		int r = ns_setup_cage(&tp.p);

		if (r < 0) {
			fprintf(stderr, "ns child: ns_setup_cage: %s\n", err_message(r));
			_exit(3);
		}
		check_cage_view(marker);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);

	/* Nothing of it reached the host: no placeholders, no runtime directory. */
	snprintf(p, sizeof(p), "%s/kept.sock", tmpbase);
	unlink(p);
	unlink(marker);
	{
		static const char *const names[] = {"hidden.sock", "kept.sock", "vr.sock",
						    "keptdir/in.sock", "keptdir"};

		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			snprintf(p, sizeof(p), "%s/%s", runbase, names[i]);
			if (unlink(p) < 0)
				rmdir(p);
		}
	}
	assert_int_equal(rmdir(runbase), 0); /* empty: nothing was created in it */
	assert_true(access("/run/user/4242", F_OK) < 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(probe_finds_the_unix_hooks),
	    cmocka_unit_test(detach_and_denied_reject_null),
	    cmocka_unit_test_setup_teardown(
		pathname_sockets_refused_to_a_cages_process_counted_with_paths, world_setup,
		world_teardown),
	    cmocka_unit_test_setup_teardown(the_supervisor_reaches_sockets_for_the_cage,
					    world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(
		hooks_outlive_our_fds_and_prune_removes_a_dead_cages_entries, world_setup,
		world_teardown),
	    cmocka_unit_test_setup_teardown(failed_attach_leaves_nothing_attached, world_setup,
					    world_teardown),
	    cmocka_unit_test(cage_sees_private_run_and_tmp_with_only_allowed_sockets_kept),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
