/* control.h: a named cage's control socket (STATE_DIR/.<name>.ctl, root's only), served on
 * the supervisor's loop: `sluice exec` runs a command in the cage through it, `sluice ls`
 * asks what the cage is. The commands are spawned by the cage's first process, so they have
 * what it has: its namespaces, cgroup, filter, user, no capabilities.
 *
 * Every message is one SOCK_SEQPACKET packet of at most CTL_MSG_MAX bytes, a letter first:
 *   client -> supervisor   E<uid>\0<lists>      with SCM_RIGHTS: stdin, stdout, stderr
 *                          (uid -1: the cage's user; any other must be it)
 *                          K<signal>          to the command's process group
 *                          I                  what the cage is (answered with I<json>)
 *   supervisor -> client   X<status>          the command ended (its status, as sluice's)
 *                          F<code> <message>  it could not be started (126, 127, 125)
 *   supervisor -> pid 1    E<id>\0<lists> with the three fds;  K<id> <signal>
 *   pid 1 -> supervisor    X<id> <status>;    F<id> <code> <message>
 * <lists> is <argc>\0 then argc strings (argv), then the env entries (KEY=VALUE), each
 * NUL-terminated; a client's env entries are added to the cage's, replacing one of the same
 * key.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "loop.h"
#include "text.h"

#define CTL_MSG_MAX	 65536
#define CTL_ARGS_MAX	 4096 /* strings in one request: argv and env together */
#define CTL_SESSIONS_MAX 64   /* commands exec'd at once */

/* What `sluice ls` is told of the cage: the caller renders a JSON object into out. */
typedef void (*control_info_fn)(void *data, struct text *out);

struct control;

/* Listen at path (mode 0600; a stale socket there is replaced: the caller owns the name) and
 * serve it on loop l. pid1_fd: the supervisor's end of the socket pair with the cage's first
 * process (borrowed); env: the cage's environment (borrowed); uid: its user's. */
int control_new(struct loop *l, const char *path, int pid1_fd, char *const *env, uid_t uid,
		control_info_fn info, void *info_data, struct control **ret);
/* Called with the stdin, stdout and stderr a client hands over, before they reach the cage;
 * a negative errno refuses the command (its message recorded). */
typedef int (*control_handing_fn)(void *data, const int fds[3]);
void control_set_handing(struct control *c, control_handing_fn fn, void *data);
/* Stop serving: clients still attached are told their command ended with 125... and the
 * socket file is removed. NULL is fine. */
void control_free(struct control *c);
DEFINE_CLEANUP_FUNC(struct control, control_free)

/* The two lists of a request's body (<lists> above). -EINVAL (recorded) for a body that is
 * not that: no command, an empty argv[0], an env entry without "KEY=", more than
 * CTL_ARGS_MAX strings, or no final NUL. ret_argv/ret_env are NULL-terminated strv. */
int control_parse_lists(const char *buf, size_t len, char ***ret_argv, char ***ret_env);
/* Append argv and env to out as <lists>. -E2BIG if out would be longer than max. */
int control_put_lists(struct text *out, char *const *argv, char *const *env, size_t max);

/* Send one packet, with up to 3 fds. */
int control_send_packet(int fd, const void *buf, size_t len, const int *fds, size_t n_fds);
/* One packet into buf (NUL-terminated after what came; buf has max + 1 bytes), without
 * waiting; up to 3 fds into fds (NULL: none are taken). Returns its length, 0 at EOF,
 * -EAGAIN if none is there, -EMSGSIZE (nothing kept) if it or its fds did not fit. */
ssize_t control_recv(int fd, char *buf, size_t max, int fds[3], size_t *ret_n_fds);

/* The client side, for `sluice exec` and `sluice ls`: connect to a named cage's socket (at
 * named_ctl_path()). -ENOENT or -ECONNREFUSED when no cage of that name is up. */
int control_connect(const char *path, int *ret_fd);
/* Send an exec request with stdio[3], as uid (-1: the cage's user). */
int control_send_exec(int fd, long uid, char *const *argv, char *const *env, const int stdio[3]);
/* Wait for the command's end: 0 with *ret_status, or 0 with *ret_status 125.. and the message
 * recorded when it could not start (F), -EPIPE if the cage went away first. */
int control_wait_exec(int fd, int *ret_status, bool *ret_failed);
int control_send_signal(int fd, int sig);
/* Ask what the cage is: its JSON object (malloc'd) in *ret. */
int control_info(int fd, char **ret);
