/* dns.h: the cage's DNS stub. It answers A and AAAA for the names a profile lists, NXDOMAIN
 * for every other name, and forwards nothing anywhere: the only DNS a cage has. Served on
 * the supervisor's loop over UDP and TCP from sockets made inside the cage's netns. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "policy.h"
#include "util.h"

#define DNS_UDP_MAX  512   /* a UDP reply without EDNS (RFC 1035 4.2.1) */
#define DNS_EDNS_MAX 1232  /* the UDP payload we take and advertise with EDNS (DNS flag day) */
#define DNS_MSG_MAX  65535 /* any message: TCP's two-byte length prefix */
#define DNS_TTL	     60

/*
 * Pure: the reply to query Q (QLEN bytes) from TABLE (N entries: names lower case without
 * a trailing dot, as policy.c stores them), written into OUT (OUTCAP bytes, at least
 * DNS_UDP_MAX), *OUTLEN set.
 *
 * MAXLEN is the transport's limit without EDNS: DNS_UDP_MAX for UDP, DNS_MSG_MAX for TCP.
 * A query with an EDNS OPT record raises it to its payload size, at most DNS_EDNS_MAX (never
 * lowers it), and gets an OPT back. A reply whose answers would not fit is sent with TC set
 * and no answers, so the client retries over TCP.
 *
 *  - a listed name: its addresses of the asked family (TTL DNS_TTL), or NOERROR with no
 *    answer for any other type (NODATA); so does a name above a listed one (an empty
 *    non-terminal: NXDOMAIN there would deny the listed name below it, RFC 8020);
 *  - any other name: NXDOMAIN;
 *  - class other than IN: REFUSED; opcode other than QUERY: NOTIMP; EDNS version > 0:
 *    BADVERS; QDCOUNT != 1, a compression pointer or bad label in the question, a name over
 *    255 bytes, a truncated record, trailing bytes, a second or misplaced OPT: FORMERR
 *    (header only, the id echoed).
 * The question is echoed byte for byte (DNS 0x20 case randomisation survives); names match
 * ASCII case-insensitively.
 *
 * DESC (if not NULL) gets a one-line description for -v, e.g. "A proxy.internal -> 127.0.0.1",
 * "AAAA example.com -> NXDOMAIN", "FORMERR (compression pointer in the question)",
 * "dropped (a response)".
 *
 * Returns 1 with a reply in OUT, or 0 if the message must be dropped without a reply: shorter
 * than a header (no id to echo), a response (QR set: never answer one, no loops), or OUTCAP
 * too small for the reply's header and question.
 */
int dns_answer(const uint8_t *q, size_t qlen, size_t maxlen, const struct dns_entry *table,
	       size_t n, uint8_t *out, size_t outcap, size_t *outlen, char *desc, size_t desclen);

/* Pure: whether REPLY to Q says the name is not there (NXDOMAIN), and that name (lower case,
 * host characters only; a name of other bytes is not told). */
bool dns_refused_name(const uint8_t *q, size_t qlen, const uint8_t *reply, size_t rlen,
		      char *name, size_t len);

struct dns;

#define DNS_TCP_CONN_MAX 64    /* concurrent TCP connections; more wait in the backlog */
#define DNS_TCP_IDLE_MS	 10000 /* a connection with no query answered nor reply byte sent */

/*
 * Serve UDP_FD (a bound UDP socket) and TCP_FD (a listening TCP socket) on loop L, answering
 * from TABLE (N entries, copied). Either fd may be -1: that transport is not served.
 * On success the stub owns both fds (made non-blocking and close-on-exec); on failure the
 * caller still does. TCP: several and pipelined queries per connection, replies in order; at
 * most DNS_TCP_CONN_MAX connections at once (accepting pauses), each closed after
 * DNS_TCP_IDLE_MS without progress. VERBOSE: log_info() each query with its answer ("dns: "
 * and DESC above). Returns 0 or a negative errno (err_set; -EINVAL for a socket of the wrong
 * kind).
 */
int dns_new(struct loop *l, int udp_fd, int tcp_fd, const struct dns_entry *table, size_t n,
	    bool verbose, struct dns **ret);

/* Told of each name answered NXDOMAIN (a name the cage was not given). */
typedef void (*dns_refused_fn)(void *ctx, const char *name);
void dns_set_refused(struct dns *d, dns_refused_fn fn, void *ctx);

/* Close both sockets and every connection; call before loop_free(). NULL is accepted. */
void dns_free(struct dns *d);
DEFINE_CLEANUP_FUNC(struct dns, dns_free)
