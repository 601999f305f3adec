/* audit.h: what a cage was refused, told. Each layer that refuses something hands an event
 * here on the supervisor's loop: the eBPF hooks (through the cage's ring buffer, bpf.h), the
 * unix broker, the DNS stub, the start-up check of the proxy and forward targets, a forward
 * whose target is down. Each becomes one readable line ("sluice: refused curl[42] connect
 * 198.51.100.2:80/tcp (not an allowed endpoint; allowed: tcp 127.0.0.1:8888)"), the repeats of
 * one (same layer, kind, program and destination) collapsed into a count line every
 * AUDIT_COLLAPSE_MS; a JSON object for each line to the --audit file (sluice(1), AUDIT); and,
 * for --learn, a record of every distinct thing tried. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "loop.h"
#include "text.h"
#include "util.h"

#define AUDIT_COLLAPSE_MS 2000 /* a repeat within this of its last line is only counted */
#define AUDIT_SEEN_MAX	  256  /* destinations whose repeats are collapsed at once */
#define AUDIT_LEARN_MAX	  4096 /* distinct things learn mode records */

enum audit_layer {
	AUDIT_IP_HOOKS,	   /* the eBPF connect/sendmsg hooks */
	AUDIT_UNIX_BROKER, /* the supervisor's judgment of pathname unix sockets */
	AUDIT_UNIX_HOOKS,  /* the cgroup unix hooks behind it (their counts, read as they grow) */
	AUDIT_DNS,	   /* the DNS stub */
	AUDIT_FORWARD,	   /* a forward's target, while the cage runs */
	AUDIT_START,	   /* the check of the proxy and forward targets at start */
};

enum audit_kind {
	AUDIT_CONNECT,	  /* an IP or unix connect refused */
	AUDIT_SEND,	  /* an IP or unix send refused */
	AUDIT_NAME,	  /* a name the stub does not list */
	AUDIT_TARGET,	  /* a target that does not answer */
	AUDIT_DROPPED,	  /* refusals over the rate limit: counted, not told one by one */
};

struct audit_event {
	enum audit_layer layer;
	enum audit_kind kind;
	pid_t pid; /* as this process sees it; 0: unknown */
	char comm[16];
	bool has_ep;
	struct endpoint ep; /* the destination: an IP connect or send, a target */
	const char *path;   /* a unix socket's path */
	const char *name;   /* a DNS name; for a target, which it is ("the proxy") */
	const char *why;    /* a target: how it failed */
	uint64_t count;	    /* how many it stands for (0 is 1): DROPPED's, the unix hooks' */
};

struct audit_config {
	const char *cage;
	bool quiet;	     /* no lines (JSON and learn still are) */
	int json_fd;	     /* --audit: JSON lines go here (taken), -1 for none */
	bool learn;	     /* record what was tried (audit_learned) */
	const char *allowed; /* what the cage reaches, for the lines ("tcp 127.0.0.1:8888") */
	/* Called on the timer too (counters to look at), or NULL. The timer runs while events
	 * come, and stops a tick after the last: an idle cage's supervisor is not woken. */
	void (*on_tick)(void *ctx);
	void *tick_ctx;
};

struct audit;

/* On loop L (a timer for the collapsed counts). Takes cfg->json_fd even on failure. */
int audit_new(struct loop *l, const struct audit_config *cfg, struct audit **ret);
/* Tell one event (NULL a: nothing). */
void audit_report(struct audit *a, const struct audit_event *e);
/* Tell the repeats not yet told (at the end of a run). */
void audit_flush(struct audit *a);
/* How many events were reported in all (collapsed or not). */
uint64_t audit_count(const struct audit *a);
/* Of them, those of one layer (not counting drops). */
uint64_t audit_layer_count(const struct audit *a, enum audit_layer layer);
void audit_free(struct audit *a);
DEFINE_CLEANUP_FUNC(struct audit, audit_free)

/* Learn mode: each distinct destination tried and refused, with how often and by which
 * programs (up to three names, comma-separated). */
struct audit_learned {
	enum audit_layer layer;
	enum audit_kind kind;
	bool has_ep;
	struct endpoint ep;
	char what[256]; /* a unix path or a DNS name */
	uint64_t count;
	char comms[64];
};
size_t audit_learned(const struct audit *a, const struct audit_learned **ret);

/* Pure, for the tests: the line for an event, without "sluice: " or a newline, and its JSON
 * object (one line, no newline): e->pid is the process's pid as the host sees it, CAGE_PID
 * its pid in the cage's pid namespace (0: unknown, it was gone), EXE
 * its executable (NULL: unknown), TIME_MS the time (CLOCK_REALTIME ms), COUNT how many it
 * stands for. */
void audit_render_line(const struct audit_event *e, const char *allowed, uint64_t repeats,
		       struct text *out);
void audit_render_json(const struct audit_event *e, const char *cage, pid_t cage_pid,
		       const char *exe, uint64_t time_ms, uint64_t count, struct text *out);
