/* relay.h: the forwards: listeners made inside the cage netns, served on the supervisor's
 * loop by connecting to each forward's target from the supervisor's own netns and splicing
 * bytes both ways; and the published ports, the other way round. A forward with isolate_streams speaks SOCKS5 to the
 * in-cage client and gives every connection fresh random credentials upstream. */
#pragma once

#include <stdint.h>

#include "loop.h"
#include "policy.h"
#include "util.h"

struct relay;

/*
 * The relay serves forwards on loop L (level-triggered sources; connections end through
 * loop_defer_free). At -v (log_max_level LOG_DEBUG) it logs each connection and its end.
 *
 * It changes nothing of the process's. What it needs of it is its owner's to set:
 *  - SIGPIPE ignored: splice(2) to a socket whose peer has gone raises SIGPIPE (there is no
 *    MSG_NOSIGNAL for it); relay_new() refuses (-EINVAL) otherwise.
 *  - enough fds: each connection holds up to six (two sockets and a pipe each way);
 *    relay_raise_fd_limit() raises the soft limit to the hard one. A process that execs a
 *    command later should give it back its own limits.
 * Returns 0 or a negative errno (err_set).
 */
int relay_new(struct loop *l, struct relay **ret);
void relay_raise_fd_limit(void);

/*
 * Serve LISTEN_FD (a listening TCP socket made inside the cage netns) as forward F (copied).
 * The relay takes LISTEN_FD in every case (closed on failure) and makes it non-blocking and
 * close-on-exec. Every accepted connection is joined to a new connection to F's target,
 * opened from the supervisor's own netns: TCP (F->target, IPv4 or IPv6) or a unix stream
 * socket (F->path). If that connect fails, or the SOCKS5 exchange of an isolate_streams
 * forward does, the in-cage client's connection is reset at once; there is no other path.
 * Returns 0 or a negative errno (err_set): -EINVAL for a socket that is not listening or a
 * forward the relay cannot serve (isolate_streams needs a TCP socks5/socks5h target).
 *
 * With AUTH (copied; the proxy URL's credentials), the forward adds them on the way: for an
 * http:// target it reads each connection's request head and sends it on with
 * Proxy-Authorization: Basic (the client's own dropped; a request other than CONNECT also
 * gets Connection: close, so that every request carries them); for socks5:// and socks5h://
 * it answers the client's greeting itself and does RFC 1929 with the proxy. A head that is
 * not an HTTP request gets 400, one over HTTP_HEAD_MAX 431, and a reset.
 */
int relay_add_forward(struct relay *r, int listen_fd, const struct forward *f,
		      const struct proxy_auth *auth);

/*
 * Serve LISTEN_FD (a listening TCP socket made by the supervisor, where it runs) as the
 * published port PUB: every accepted connection is joined to 127.0.0.1:PUB->cage_port in the
 * cage, through a socket INWARD (borrowed: it must outlive the relay) makes in the cage's
 * netns. LISTEN_FD is the relay's in every case. Returns 0 or a negative errno (err_set).
 */
struct inward;
int relay_add_publish(struct relay *r, int listen_fd, const struct publish *pub,
		      struct inward *inward);

/* Close every listener and connection (open connections are reset, so a peer never takes
 * a cut stream for a complete one). Call it before loop_free(); NULL is accepted. */
void relay_free(struct relay *r);
DEFINE_CLEANUP_FUNC(struct relay, relay_free)

/* Counters, for -v and tests. accepted: connections taken from the listeners; open: being
 * served now; refused: reset before relaying began (target down, SOCKS5 refusal, no fds or
 * memory); bytes_up (client → target) and bytes_down (target → client): bytes written to
 * the destination. With isolate_streams the relay's own SOCKS5 exchange is not counted; the
 * client's request is not either, but the upstream's reply to it (which reaches the client
 * through the splice) is. */
struct relay_stats {
	uint64_t accepted, open, refused, bytes_up, bytes_down;
};
void relay_get_stats(const struct relay *r, struct relay_stats *ret);

#define RELAY_CONNECT_MS 10000 /* a TCP target that does not answer in this is down */
/* Told of each connection whose target could not be connected to (err: -ECONNREFUSED,
 * -ETIMEDOUT...), so that a forward to a target that is down is not silent. */
typedef void (*relay_report_fn)(void *ctx, const struct forward *f, int err);
void relay_set_report(struct relay *r, relay_report_fn fn, void *ctx);
