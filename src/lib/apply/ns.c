/* ns.c: the cage's view of the system. Every mount here happens inside the cage's own mount
 * namespace after propagation is made private, so none of it is seen outside; nothing here
 * writes to a host filesystem. */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "log.h"
#include "ns.h"

#define MNT_SAFE (MS_NOSUID | MS_NODEV | MS_NOEXEC)
/* The private socket directories: programs run from /tmp (builds do), so no noexec there. */
#define MNT_PRIVATE_DIR (MS_NOSUID | MS_NODEV)

static int ro_bind_self(const char *path)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_set(negative_errno(), "bind %s", path);
	if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MNT_SAFE, NULL) < 0)
		return err_set(negative_errno(), "make %s read-only", path);
	return 0;
}

static int write_generated(const char *path, void (*gen)(const struct plan *, struct text *),
			   const struct plan *p)
{
	_cleanup_text_ struct text t = TEXT_INIT;
	_cleanup_close_ int fd = -1;
	const char *s;
	size_t left;

	gen(p, &t);
	if (text_error(&t) < 0)
		return err_set(-ENOMEM, "write %s", path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(negative_errno(), "create %s", path);
	for (s = text_str(&t), left = t.len; left > 0;) {
		ssize_t n = write(fd, s, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(n < 0 ? negative_errno() : -EIO, "write %s", path);
		s += n;
		left -= (size_t)n;
	}
	return 0;
}

/* Bind SRC read-only over DST (following a symlink at DST, as /etc/resolv.conf often is).
 * A DST that does not exist is left alone: the resolver then asks 127.0.0.1:53, the stub. */
static int ro_bind_file(const char *src, const char *dst)
{
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0) {
		if (errno == ENOENT) {
			log_debug("%s does not exist: not replaced", dst);
			return 0;
		}
		return err_set(negative_errno(), "bind over %s", dst);
	}
	if (mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MNT_SAFE, NULL) < 0)
		return err_set(negative_errno(), "make %s read-only", dst);
	return 0;
}

/*
 * /etc/resolv.conf and /etc/hosts, generated. They are written into a small tmpfs mounted
 * on /sys and bound over the host's files; the fresh sysfs mounted on /sys next covers the
 * tmpfs (as it covers the host's /sys mounts), which the cage, without CAP_SYS_ADMIN, cannot
 * uncover. Unmounting it instead would wait for an RCU grace period on every start. Nothing
 * is ever written on the host's filesystems.
 */
static int generated_etc(const struct plan *p)
{
	int r;

	if (mount("sluice", "/sys", "tmpfs", MNT_SAFE, "mode=0755,size=64k,nr_inodes=8") < 0)
		return err_set(negative_errno(), "mount a tmpfs for /etc/resolv.conf");
	r = write_generated("/sys/resolv.conf", plan_render_resolv, p);
	if (r == 0)
		r = write_generated("/sys/hosts", plan_render_hosts, p);
	if (r == 0)
		r = ro_bind_file("/sys/resolv.conf", "/etc/resolv.conf");
	if (r == 0)
		r = ro_bind_file("/sys/hosts", "/etc/hosts");
	return r;
}

/* ---- unix sockets: private socket directories ------------------------------------------
 *
 * A network namespace keeps abstract unix sockets apart but not pathname ones: a socket file
 * in the host's /run or /tmp (docker, the D-Bus system bus, X11, ssh-agent, gpg-agent) is
 * reachable from any netns that can see the file. So the cage's mount namespace gets fresh
 * tmpfs mounts on the places where such sockets live, its own runtime directory inside, and
 * only the sockets its policy allows are bound back in, at their paths. With root the unix
 * hooks (unixguard.c) refuse every other path as well; unprivileged, this is all there is.
 * The replacements are made in every mode: the hooks judge the path a program names, and a
 * symlink or bind mount the cage makes in its own /tmp can name any socket the cage sees.
 */

const char *const ns_hidden_dirs[] = {"/run", "/var/run", "/tmp", NULL};

/* Sizes as systemd gives the same places on a host (tmp.mount, /run, logind's
 * RuntimeDirectorySize), as shares of RAM; with root the pages are charged to the cage's
 * memory cgroup. */
#define RUN_TMPFS     "mode=0755,size=20%"
#define TMP_TMPFS     "mode=1777,size=50%"
#define RUNTIME_TMPFS "mode=0700,size=10%%,uid=%u,gid=%u"

/* A plain absolute path: no empty, "." or ".." component, no trailing '/'. */
static bool plain_path(const char *s)
{
	size_t n = strlen(s);

	if (s[0] != '/' || n < 2 || s[n - 1] == '/')
		return false;
	if (strstr(s, "//") || strstr(s, "/./") || strstr(s, "/../"))
		return false;
	return !(n >= 2 && streq(s + n - 2, "/.")) && !(n >= 3 && streq(s + n - 3, "/.."));
}

static const char *env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (char *const *e = env; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* The runtime directory, without a trailing '/': below /run or /tmp, where it can be made
 * afresh, so never a tmpfs over something of the host's (an $XDG_RUNTIME_DIR elsewhere is left
 * as it is, neither private nor allowed). */
static void runtime_dir(const struct plan *p, char *buf, size_t len)
{
	const char *x = env_get(p->env, "XDG_RUNTIME_DIR");

	if (x && plain_path(x) && strlen(x) + 2 <= UNIX_PATH_MAX &&
	    (startswith(x, "/run/") || startswith(x, "/tmp/")))
		snprintf(buf, len, "%s", x);
	else
		snprintf(buf, len, "/run/user/%u", (unsigned)p->uid);
}

/* /var/run is nearly always a symlink to /run; where it is a directory of its own, the new
 * /run is bound over it too. Either way "/var/run/X" is "/run/X" in the cage. */
static bool var_run_is_run(void)
{
	char buf[PATH_MAX];
	struct stat st;

	if (lstat("/var/run", &st) < 0)
		return false;
	if (S_ISDIR(st.st_mode))
		return true;
	return realpath("/var/run", buf) && streq(buf, "/run");
}

/* Where an absolute, plain PATH lies in the cage's new /run or /tmp (as "/run/..." or
 * "/tmp/..."), or false if it is not below them and stays as the host has it. */
static bool hidden_location(const char *path, bool var_run, char *buf, size_t len)
{
	if (var_run && (streq(path, "/var/run") || startswith(path, "/var/run/")))
		path += strlen("/var");
	if (!streq(path, "/run") && !startswith(path, "/run/") && !streq(path, "/tmp") &&
	    !startswith(path, "/tmp/"))
		return false;
	return snprintf(buf, len, "%s", path) < (int)len;
}

bool ns_is_hidden(const char *path)
{
	char buf[PATH_MAX];

	return path[0] == '/' && hidden_location(path, true, buf, sizeof(buf));
}

/* Collapse "//", "/./" and "/../" in an absolute path, textually. */
static void normalize(char *s)
{
	char *w = s, *r = s;

	while (*r) {
		if (r[0] == '/' && r[1] == '/') {
			r++;
		} else if (r[0] == '/' && r[1] == '.' && (r[2] == '/' || r[2] == '\0')) {
			r += 2;
		} else if (r[0] == '/' && r[1] == '.' && r[2] == '.' &&
			   (r[3] == '/' || r[3] == '\0')) {
			r += 3;
			while (w > s && *--w != '/')
				;
		} else {
			*w++ = *r++;
		}
	}
	if (w == s)
		*w++ = '/';
	*w = '\0';
}

/* Something of the host's that the cage keeps at a place below its new /run or /tmp: an
 * allowed socket (or directory of sockets), cloned from the host's mount tree before that is
 * covered and attached afterwards; or, with tree -1, an empty file for a generated file to be
 * bound over. */
struct keep {
	char where[PATH_MAX];
	int tree;
	bool dir;
};

/* One per allowed socket and generated file at most: sized by the caller. */
struct keeps {
	struct keep *k;
	size_t n, max;
};

static void keeps_free(struct keeps *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		closep(&ks->k[i].tree);
	free(ks->k);
	ks->k = NULL;
	ks->n = 0;
}

static int keep_add(struct keeps *ks, const char *where, int tree, bool dir)
{
	struct keep *k;

	if (ks->n >= ks->max) { /* sized for every caller: a bug */
		closep(&tree);
		return err_set(-E2BIG, "keep %s in the cage", where);
	}
	k = &ks->k[ks->n++];
	snprintf(k->where, sizeof(k->where), "%s", where);
	k->tree = tree;
	k->dir = dir;
	return 0;
}

/* An allowed socket or directory below /run or /tmp: a detached copy of its mount (the host's
 * object, symlinks followed as the host has them), to be attached at its place in the cage. */
static int keep_allowed(struct keeps *ks, const struct unix_allow *a, bool var_run)
{
	char path[UNIX_PATH_MAX], where[PATH_MAX];
	_cleanup_close_ int tree = -1;
	struct stat st;
	size_t n;

	snprintf(path, sizeof(path), "%s", a->path);
	n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	if (!hidden_location(path, var_run, where, sizeof(where)))
		return 0; /* the cage sees it where the host has it */
	tree = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0) {
		/* One that is not there (yet) cannot be kept: a daemon started later is reached
		 * through an allowed directory. */
		if (errno == ENOENT || errno == EACCES || errno == ENOTDIR) {
			log_debug("allowed unix socket %s: %m: not in the cage", a->path);
			return 0;
		}
		return err_set(negative_errno(), "keep allowed unix socket %s", a->path);
	}
	if (fstat(tree, &st) < 0)
		return err_set(negative_errno(), "keep allowed unix socket %s", a->path);
	return keep_add(ks, where, TAKE_FD(tree), S_ISDIR(st.st_mode));
}

/* A generated file (/etc/resolv.conf) may be a symlink into /run (systemd-resolved's
 * stub-resolv.conf): follow the chain to its first link below /run or /tmp, and keep an
 * empty file there for generated_etc() to bind over. */
static int keep_symlink_target(struct keeps *ks, const char *file, bool var_run)
{
	char cur[PATH_MAX], link[PATH_MAX], next[2 * PATH_MAX], where[PATH_MAX];
	ssize_t n;

	snprintf(cur, sizeof(cur), "%s", file);
	for (int hops = 0; hops < 8; hops++) {
		n = readlink(cur, link, sizeof(link) - 1);
		if (n < 0)
			return 0; /* not a symlink, or not there: bound (or not) as it is */
		link[n] = '\0';
		if (link[0] == '/') {
			snprintf(next, sizeof(next), "%s", link);
		} else {
			char *slash = strrchr(cur, '/');

			*slash = '\0';
			snprintf(next, sizeof(next), "%s/%s", cur, link);
		}
		normalize(next);
		if (strlen(next) >= sizeof(cur))
			return 0;
		snprintf(cur, sizeof(cur), "%s", next);
		if (hidden_location(cur, var_run, where, sizeof(where)))
			return keep_add(ks, where, -1, false);
	}
	return 0;
}

/* mkdir PATH and its missing parents, each owned like its parent (in the runtime directory,
 * the command's user; elsewhere root). Only ever called for paths inside the fresh tmpfs
 * mounts, so it creates nothing on a host filesystem. */
static int mkdir_parents_like(const char *path, bool include_last)
{
	char buf[PATH_MAX];
	char *s;

	snprintf(buf, sizeof(buf), "%s", path);
	if (!include_last) {
		s = strrchr(buf, '/');
		if (!s || s == buf)
			return 0;
		*s = '\0';
	}
	for (s = buf + 1;; s++) {
		bool last = *s == '\0';

		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) == 0) {
			char parent[PATH_MAX];
			char *slash;
			struct stat st;

			snprintf(parent, sizeof(parent), "%s", buf);
			slash = strrchr(parent, '/');
			if (slash == parent)
				slash[1] = '\0';
			else
				*slash = '\0';
			if (stat(parent, &st) < 0 || chown(buf, st.st_uid, st.st_gid) < 0)
				return err_set(negative_errno(), "make %s in the cage", buf);
		} else if (errno != EEXIST) {
			return err_set(negative_errno(), "make %s in the cage", buf);
		}
		if (last)
			return 0;
		*s = '/';
	}
}

static bool below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static int keep_attach(const struct keeps *ks, size_t i)
{
	const struct keep *k = &ks->k[i];
	_cleanup_close_ int fd = -1;

	/* Kept already; or inside a host directory kept before it (they are sorted), where the
	 * place is the host's: never create anything there (the host's object is in the cage
	 * already, through that directory). */
	for (size_t j = 0; j < i; j++) {
		const struct keep *e = &ks->k[j];

		if (streq(k->where, e->where) ||
		    (e->dir && e->tree >= 0 && below(k->where, e->where)))
			return 0;
	}

	if (streq(k->where, "/run") || streq(k->where, "/tmp")) {
		/* All of it allowed: the host's, over the private one. */
	} else if (k->dir) {
		int r = mkdir_parents_like(k->where, true);

		if (r < 0)
			return r;
	} else {
		int r = mkdir_parents_like(k->where, false);

		if (r < 0)
			return r;
		fd = open(k->where, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			return err_set(negative_errno(), "make %s in the cage", k->where);
	}
	if (k->tree < 0)
		return 0;
	if (move_mount(k->tree, "", AT_FDCWD, k->where, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return err_set(negative_errno(), "bind allowed unix socket %s", k->where);
	log_debug("unix: %s kept in the cage", k->where);
	return 0;
}

/* By place: a directory sorts before everything below it, and a place's duplicates together. */
static int keep_cmp(const void *a, const void *b)
{
	return strcmp(((const struct keep *)a)->where, ((const struct keep *)b)->where);
}

static int mount_tmpfs(const char *where, const char *opts)
{
	if (mount("sluice", where, "tmpfs", MNT_PRIVATE_DIR, opts) < 0)
		return err_set(negative_errno(), "mount a private %s", where);
	return 0;
}

/*
 * A working directory below the hidden places (a build in /tmp/proj, say) would stay the host's
 * through the reference the process holds, while "/tmp/proj" by name would be the cage's empty
 * /tmp: relative and absolute paths would disagree. So that directory is kept, the host's, at
 * its place in the cage; relative and absolute paths then reach the same files. The hidden
 * places themselves, and the runtime directory and what holds it, stay the cage's own: a
 * command started in /tmp starts in the cage's /tmp.
 */
static int keep_cwd(struct keeps *ks, const struct plan *p, bool var_run, char *cwd, size_t len)
{
	char where[PATH_MAX], rt[UNIX_PATH_MAX];
	int tree;

	if (!getcwd(cwd, len) || !plain_path(cwd)) {
		cwd[0] = '\0';
		return 0;
	}
	if (!hidden_location(cwd, var_run, where, sizeof(where)))
		return 0; /* the cage sees it where the host has it */
	runtime_dir(p, rt, sizeof(rt));
	if (streq(where, "/run") || streq(where, "/tmp") || below(rt, where))
		return 0;
	tree = open_tree(AT_FDCWD, cwd, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		return err_set(negative_errno(), "keep the working directory %s", cwd);
	log_debug("the working directory %s is kept in the cage", cwd);
	return keep_add(ks, where, tree, true);
}

static int private_socket_dirs(const struct plan *p)
{
	_cleanup_(keeps_free) struct keeps ks = {.max = p->n_unix_allow + 3};
	char cwd[PATH_MAX];
	char rt[UNIX_PATH_MAX], opts[96];
	bool var_run = var_run_is_run();
	struct stat st;
	int r;

	ks.k = calloc(ks.max, sizeof(*ks.k));
	if (!ks.k)
		return err_set(-ENOMEM, "private socket directories");
	/* First, what must stay: clones of the host's objects, taken while they are visible. */
	for (size_t i = 0; i < p->n_unix_allow; i++) {
		r = keep_allowed(&ks, &p->unix_allow[i], var_run);
		if (r < 0)
			return r;
	}
	r = keep_symlink_target(&ks, "/etc/resolv.conf", var_run);
	if (r == 0)
		r = keep_symlink_target(&ks, "/etc/hosts", var_run);
	if (r == 0)
		r = keep_cwd(&ks, p, var_run, cwd, sizeof(cwd));
	if (r < 0)
		return r;

	/* Then cover the host's. */
	r = mount_tmpfs("/run", RUN_TMPFS);
	if (r == 0)
		r = mount_tmpfs("/tmp", TMP_TMPFS);
	if (r < 0)
		return r;

	/* The runtime directory: a tmpfs of its own, owned by the command's user, like logind
	 * makes one at login. */
	runtime_dir(p, rt, sizeof(rt));
	r = mkdir_parents_like(rt, true);
	if (r < 0)
		return r;
	snprintf(opts, sizeof(opts), RUNTIME_TMPFS, (unsigned)p->uid, (unsigned)p->gid);
	r = mount_tmpfs(rt, opts);
	if (r < 0)
		return r;

	qsort(ks.k, ks.n, sizeof(ks.k[0]), keep_cmp);
	for (size_t i = 0; i < ks.n; i++) {
		r = keep_attach(&ks, i);
		if (r < 0)
			return r;
	}

	/* A /var/run that is a directory of its own shows the same new /run. */
	if (lstat("/var/run", &st) == 0 && S_ISDIR(st.st_mode) &&
	    mount("/run", "/var/run", NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_set(negative_errno(), "bind the private /run over /var/run");

	/* The working directory by its name, in the cage's view: the kept one, or the cage's
	 * own /tmp (or /run...) for a command started there. */
	if (cwd[0] && chdir(cwd) < 0) {
		log_debug("the working directory %s is not in the cage: starting in /", cwd);
		if (chdir("/") < 0)
			return err_set(negative_errno(), "chdir /");
	}
	return 0;
}

int ns_setup_cage(const struct plan *p)
{
	int r;

	/* The cgroup namespace is entered here, not at clone: a namespace made by clone3()
	 * is rooted at the parent's cgroup even with CLONE_INTO_CGROUP, since namespaces are
	 * copied before the child is moved. Unsharing now roots it at the cage's cgroup. */
	if (unshare(CLONE_NEWCGROUP) < 0)
		return err_set(negative_errno(), "new cgroup namespace");

	/* Nothing mounted below may propagate back to the host's mount namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return err_set(negative_errno(), "make mounts private");

	/* A fresh /proc for the new pid namespace: the cage sees only its own processes. */
	if (mount("proc", "/proc", "proc", MNT_SAFE, NULL) < 0)
		return err_set(negative_errno(), "mount /proc");
	/* Unprivileged and --nest, /proc/sys is left as it is: a child cage's own user
	 * namespace may mount a proc only where one is fully visible (the kernel's
	 * mount_too_revealing()), and the bind would cover part of this one. The cage's
	 * sysctls are its user namespace's root's, which no process of the cage is. */
	r = p->userns && p->nest ? 0 : ro_bind_self("/proc/sys");
	if (r < 0)
		return r;

	/* Before generated_etc(): /etc/resolv.conf may be a symlink into /run, and its
	 * replacement must be bound where that symlink leads in the cage's new /run. */
	r = private_socket_dirs(p);
	if (r < 0)
		return r;

	r = generated_etc(p);
	if (r < 0)
		return r;

	/* A fresh sysfs shows the cage's netns (a bind of the host's would list the host's
	 * interfaces); read-only, with only the cage's own cgroup under it, read-only too, so
	 * the cage cannot write cgroup.procs anywhere and move itself out. */
	if (mount("sysfs", "/sys", "sysfs", MS_RDONLY | MNT_SAFE, NULL) < 0)
		return err_set(negative_errno(), "mount /sys");
	if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_RDONLY | MNT_SAFE, NULL) < 0)
		return err_set(negative_errno(), "mount /sys/fs/cgroup");

	if (sethostname(p->name, strlen(p->name)) < 0)
		return err_set(negative_errno(), "set hostname");
	return 0;
}
