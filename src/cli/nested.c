/* nested.c: sluice run and sluice up inside a cage. There the command asks the cage's
 * supervisor (nest.h) for a child cage, passing its arguments, environment, working
 * directory and stdio, and waits for its status, relaying the signals it gets. The
 * supervisor runs the request as this program again, with SLUICE_NESTED set: then the
 * options are a child's (options.h), and the plan is checked against what the parent
 * reaches before anything is made. */
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "cmds.h"
#include "control.h"
#include "log.h"
#include "nest.h"
#include "nested.h"
#include "options.h"

extern char **environ;

static struct nested nested;
static char parent[CAGE_NAME_MAX + 1];

/* ---- the asking side, in the cage ------------------------------------------------------ */

static bool can_make_cages(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};

	return syscall(SYS_capget, &h, d) < 0 || (d[0].effective & (1U << CAP_SYS_ADMIN));
}

bool nested_in_cage(void)
{
	struct stat st;

	/* The socket, and no CAP_SYS_ADMIN to make a cage here: a --nest cage's process. */
	return stat(NEST_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode) && !can_make_cages();
}

bool nested_in_plain_cage(void)
{
	const char *cage = getenv("SLUICE_CAGE");
	char host[CAGE_NAME_MAX + 2];

	/* A cage's processes have its name in SLUICE_CAGE and as the hostname, and no
	 * CAP_SYS_ADMIN; only a message hangs on this. */
	return cage && !can_make_cages() && gethostname(host, sizeof(host)) == 0 &&
	       streq(host, cage) && !nested_in_cage();
}

int nested_ask(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = NEST_SOCKET};
	_cleanup_text_ struct text t = TEXT_INIT;
	_cleanup_close_ int fd = -1;
	const int stdio[3] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
	char cwd[4096];
	bool failed;
	int r, status;

	(void)argc;
	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), "/");
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_errno(negative_errno(), "ask this cage's supervisor for a child cage (%s)",
			  NEST_SOCKET);
		return EXIT_SLUICE;
	}
	text_putc(&t, 'N');
	text_puts(&t, cwd);
	text_putc(&t, '\0');
	r = control_put_lists(&t, argv, environ, CTL_MSG_MAX);
	if (r == 0)
		r = text_error(&t);
	if (r == 0)
		r = control_send_packet(fd, t.buf, t.len, stdio, 3);
	if (r == 0)
		r = exec_wait(fd, &status, &failed);
	if (r == -EPIPE) {
		log_error("the cage's supervisor went away");
		return EXIT_SLUICE;
	}
	if (r < 0) {
		log_error("a child cage: %s", err_message(r));
		return EXIT_SLUICE;
	}
	if (failed)
		log_error("a child cage: %s", err_message(-EINVAL));
	return status;
}

/* ---- the making side: run for the asker by its cage's supervisor ------------------------ */

/* fd is a namespace of type nstype (a child of nsfs, as the supervisor handed it over). */
static bool is_ns(int fd, int nstype)
{
	return ioctl(fd, NS_GET_NSTYPE) == nstype;
}

/* The asker's environment, NUL-separated at fd 4: the child command's is made from it. Not
 * this process's own: it runs as root, and the asker's LD_*, TZ, HOSTALIASES and the like
 * are not its to say. */
static int take_environment(void)
{
	_cleanup_close_ int fd = 4;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0, n = 0;
	char **env;
	ssize_t got;

	for (;;) {
		if (len == cap) {
			char *b;

			cap = cap ? cap * 2 : 65536;
			if (cap > 4 * CTL_MSG_MAX)
				return -E2BIG;
			b = realloc(buf, cap);
			if (!b)
				return -ENOMEM;
			buf = b;
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0)
			return negative_errno();
		if (got == 0)
			break;
		len += (size_t)got;
	}
	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\0';
	env = calloc(n + 1, sizeof(char *));
	if (!env)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
		if (strchr(buf + i, '='))
			env[n++] = buf + i;
	nested.env = env;
	buf = NULL; /* env points into it: ours until exit */
	return 0;
}

int nested_enter(void)
{
	const char *v = getenv("SLUICE_NESTED"), *reach = getenv("SLUICE_NESTED_REACH"),
		   *cwd = getenv("SLUICE_NESTED_CWD"), *colon;
	char *end;
	unsigned long uid, depth;
	struct stat st;
	int r;

	if (!v)
		return 0;
	colon = strchr(v, ':');
	if (!colon || colon == v || (size_t)(colon - v) > CAGE_NAME_MAX || !reach || !cwd)
		return err_invalid("SLUICE_NESTED=%s: not a child cage's request", v);
	uid = strtoul(colon + 1, &end, 10);
	if (*end != ':' || end == colon + 1)
		return err_invalid("SLUICE_NESTED=%s: not a child cage's request", v);
	depth = strtoul(end + 1, &end, 10);
	if (*end || depth < 1 || depth > NEST_DEPTH_MAX)
		return err_invalid("SLUICE_NESTED=%s: not a child cage's request", v);
	if (!is_ns(3, CLONE_NEWNS) || fstat(5, &st) < 0 || !S_ISFIFO(st.st_mode))
		return err_invalid("a child cage's request comes with its parent's mount "
				   "namespace at fd 3 and its lifeline at fd 5");
	memcpy(parent, v, (size_t)(colon - v));
	parent[colon - v] = '\0';
	nested.parent = parent;
	nested.uid = (uid_t)uid;
	nested.depth = (unsigned)depth;
	nested.reach = strdup(reach);
	nested.cwd = strdup(cwd);
	if (!nested.reach || !nested.cwd)
		return -ENOMEM;
	r = take_environment();
	if (r < 0)
		return err_set(r, "the child cage's environment");
	options_nested = &nested;
	return 0;
}

int nested_apply(struct plan *p)
{
	int r = plan_check_within(p, nested.parent, nested.reach);

	if (r < 0)
		return r;
	snprintf(p->parent, sizeof(p->parent), "%s", nested.parent);
	snprintf(p->nest_cwd, sizeof(p->nest_cwd), "%s", nested.cwd);
	p->nest_mnt_fd = 3;
	p->nest_lifeline_fd = 5;
	p->depth = nested.depth;
	return 0;
}
