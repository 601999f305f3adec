/* audit.c: the events of audit.h made into lines, JSON and learn mode's records. A refusal is
 * told at once the first time; its repeats within AUDIT_COLLAPSE_MS of its last line only
 * counted, and told as one line (and one JSON object with their count) when that time is up,
 * by a timer on the loop, or at the end. Nothing here blocks: the JSON file is written with
 * plain writes, a line that cannot be written is dropped. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/timerfd.h>
#include <time.h>

#include "audit.h"
#include "journal.h"
#include "log.h"

struct seen {
	char key[320];
	struct audit_event e; /* the first one's, with its strings copied below */
	char path[256], name[256], why[128];
	pid_t cage_pid;
	char exe[256];
	uint64_t last_ms; /* its last line */
	uint64_t repeats; /* since then, not yet told */
	bool used;
};

struct audit {
	struct loop *loop;
	struct loop_source tick;
	char cage[64];
	char *allowed;
	bool quiet;
	bool journal; /* stderr is the journal: lines go there with fields of their own */
	int json_fd;
	bool learn;
	void (*on_tick)(void *ctx);
	void *tick_ctx;
	uint64_t total;
	uint64_t total_at_tick; /* total at the last tick: none since, the timer stops */
	bool ticking;
	uint64_t by_layer[AUDIT_START + 1];
	struct seen seen[AUDIT_SEEN_MAX];
	struct audit_learned *learned;
	size_t n_learned;
};

static uint64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *const layer_names[] = {
    [AUDIT_IP_HOOKS] = "ip_hooks", [AUDIT_UNIX_BROKER] = "unix_broker",
    [AUDIT_UNIX_HOOKS] = "unix_hooks", [AUDIT_DNS] = "dns",
    [AUDIT_FORWARD] = "forward",	      [AUDIT_START] = "start"};
static const char *const kind_names[] = {
    [AUDIT_CONNECT] = "connect", [AUDIT_SEND] = "send",	      [AUDIT_NAME] = "name",
    [AUDIT_TARGET] = "target",	 [AUDIT_DROPPED] = "dropped"};

/* "198.51.100.2:80/tcp", "[fd00::1]:53/udp" */
static void put_dest(struct text *out, const struct endpoint *ep)
{
	char ip[INET6_ADDRSTRLEN];

	addr_ip_str(ep, ip, sizeof(ip));
	text_printf(out, ep->family == AF_INET6 ? "[%s]:%u/%s" : "%s:%u/%s", ip, ep->port,
		    ep->proto == IPPROTO_UDP ? "udp" : "tcp");
}

/* What a caged process chose (its comm, a path, a name) goes to the caller's terminal: no
 * byte of it may be a control character or an escape sequence. */
static void put_safe(struct text *out, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c >= 0x7f || *c == '\\')
			text_printf(out, "\\x%02x", *c);
		else
			text_putc(out, (char)*c);
}

static void put_who(struct text *out, const struct audit_event *e)
{
	if (!e->comm[0])
		return;
	put_safe(out, e->comm);
	if (e->pid > 0)
		text_printf(out, "[%d]", (int)e->pid);
	text_putc(out, ' ');
}

void audit_render_line(const struct audit_event *e, const char *allowed, uint64_t repeats,
		       struct text *out)
{
	switch (e->kind) {
	case AUDIT_CONNECT:
	case AUDIT_SEND:
		text_puts(out, "refused ");
		put_who(out, e);
		text_printf(out, "%s ", kind_names[e->kind]);
		if (e->has_ep)
			put_dest(out, &e->ep);
		else if (e->why)
			put_safe(out, e->why);
		else {
			put_safe(out, e->path ? e->path : "?");
			text_puts(out, " (unix)");
		}
		break;
	case AUDIT_NAME:
		text_puts(out, "refused ");
		put_who(out, e);
		text_puts(out, "name ");
		put_safe(out, e->name ? e->name : "?");
		break;
	case AUDIT_TARGET:
		text_printf(out, "%s ", e->name ? e->name : "a target");
		if (e->has_ep)
			put_dest(out, &e->ep);
		else if (e->path)
			put_safe(out, e->path);
		text_printf(out, " does not answer%s%s", e->why ? ": " : "", e->why ? e->why : "");
		break;
	case AUDIT_DROPPED:
		text_printf(out, "%llu more refusal(s) by the %s, over the rate limit: counted, "
			    "not told one by one",
			    (unsigned long long)e->count,
			    e->layer == AUDIT_IP_HOOKS ? "eBPF hooks" : layer_names[e->layer]);
		return;
	}
	if (repeats) {
		text_printf(out, " again, %llu more time(s)", (unsigned long long)repeats);
		return;
	}
	switch (e->kind) {
	case AUDIT_CONNECT:
	case AUDIT_SEND:
		if (e->has_ep)
			text_printf(out, " (not an allowed endpoint; allowed: %s)",
				    allowed && *allowed ? allowed : "loopback only");
		else if (e->why)
			text_puts(out, " (its network namespace is not the cage's: it would connect "
				       "from outside)");
		else
			text_puts(out, " (the socket it reaches is neither the cage's own nor "
				       "allowed)");
		break;
	case AUDIT_NAME:
		text_puts(out, " (not listed: the cage's DNS answers only the names it is given)");
		break;
	case AUDIT_TARGET:
		if (e->layer == AUDIT_FORWARD)
			text_puts(out, " (a forward's connection was closed)");
		break;
	default:
		break;
	}
}

void audit_render_json(const struct audit_event *e, const char *cage, pid_t cage_pid,
		       const char *exe, uint64_t time_ms, uint64_t count, struct text *out)
{
	time_t secs = (time_t)(time_ms / 1000);
	char when[40], ip[INET6_ADDRSTRLEN];
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	text_printf(out, "{\"time\": \"%s.%03uZ\", \"cage\": ", when, (unsigned)(time_ms % 1000));
	text_json_str(out, cage);
	text_puts(out, ", \"pid\": ");
	if (e->pid > 0)
		text_printf(out, "%d", (int)e->pid);
	else
		text_puts(out, "null");
	text_puts(out, ", \"cage_pid\": ");
	if (cage_pid > 0)
		text_printf(out, "%d", (int)cage_pid);
	else
		text_puts(out, "null");
	text_puts(out, ", \"comm\": ");
	if (e->comm[0])
		text_json_str(out, e->comm);
	else
		text_puts(out, "null");
	text_puts(out, ", \"exe\": ");
	if (exe && *exe)
		text_json_str(out, exe);
	else
		text_puts(out, "null");
	text_printf(out, ", \"layer\": \"%s\", \"kind\": \"%s\", \"destination\": ",
		    layer_names[e->layer], kind_names[e->kind]);
	if (e->has_ep)
		text_json_str(out, addr_ip_str(&e->ep, ip, sizeof(ip)));
	else if (e->path)
		text_json_str(out, e->path);
	else if (e->name && e->kind == AUDIT_NAME)
		text_json_str(out, e->name);
	else
		text_puts(out, "null");
	text_puts(out, ", \"port\": ");
	if (e->has_ep)
		text_printf(out, "%u", e->ep.port);
	else
		text_puts(out, "null");
	text_puts(out, ", \"protocol\": ");
	if (e->has_ep)
		text_puts(out, e->ep.proto == IPPROTO_UDP ? "\"udp\"" : "\"tcp\"");
	else if (e->path)
		text_puts(out, "\"unix\"");
	else if (e->kind == AUDIT_NAME)
		text_puts(out, "\"dns\"");
	else
		text_puts(out, "null");
	text_printf(out, ", \"verdict\": \"%s\", \"count\": %llu",
		    e->kind == AUDIT_TARGET ? "down" : e->kind == AUDIT_DROPPED ? "unreported"
										: "refused",
		    (unsigned long long)count);
	if (e->kind == AUDIT_TARGET && e->why) {
		text_puts(out, ", \"reason\": ");
		text_json_str(out, e->why);
	}
	text_putc(out, '}');
}

/* ---- the process behind an event, looked up once per destination ---------------------- */

/* Its pid in the innermost pid namespace (the cage's): the last of /proc/PID/status NSpid. */
static pid_t cage_pid_of(pid_t pid)
{
	char buf[256], *tok = buf, *next;
	pid_t last = 0;

	if (pid <= 0 || proc_status_field(pid, "NSpid", buf, sizeof(buf)) < 0)
		return 0;
	for (;;) {
		long v = strtol(tok, &next, 10);

		if (next == tok)
			return last;
		last = (pid_t)v;
		tok = next;
	}
}

static void exe_of(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	buf[0] = '\0';
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/* ---- telling ---------------------------------------------------------------------------- */

/* The line, as the journal's MESSAGE, with the event's fields beside it (journalctl
 * SLUICE_CAGE=agent, -o json). */
static void journal_line(const struct audit *a, const struct seen *s, const char *line,
			 uint64_t count)
{
	const struct audit_event *e = &s->e;
	char f[12][320], ip[INET6_ADDRSTRLEN];
	const char *fields[12];
	size_t n = 0;

#define FIELD(...)                                                                             \
	do {                                                                                   \
		(void)snprintf(f[n], sizeof(f[n]), __VA_ARGS__);                               \
		fields[n] = f[n];                                                              \
		n++;                                                                           \
	} while (0)
	FIELD("MESSAGE=sluice: %s", line);
	FIELD("SLUICE_CAGE=%s", a->cage);
	FIELD("SLUICE_LAYER=%s", layer_names[e->layer]);
	FIELD("SLUICE_KIND=%s", kind_names[e->kind]);
	if (e->has_ep) {
		FIELD("SLUICE_DESTINATION=%s", addr_ip_str(&e->ep, ip, sizeof(ip)));
		FIELD("SLUICE_PORT=%u", e->ep.port);
		FIELD("SLUICE_PROTOCOL=%s", e->ep.proto == IPPROTO_UDP ? "udp" : "tcp");
	} else if (e->path) {
		FIELD("SLUICE_DESTINATION=%s", e->path);
		FIELD("SLUICE_PROTOCOL=unix");
	} else if (e->name && e->kind == AUDIT_NAME) {
		FIELD("SLUICE_DESTINATION=%s", e->name);
		FIELD("SLUICE_PROTOCOL=dns");
	}
	if (e->pid > 0)
		FIELD("SLUICE_PID=%d", (int)e->pid);
	if (e->comm[0])
		FIELD("SLUICE_COMM=%s", e->comm);
	if (s->exe[0])
		FIELD("SLUICE_EXE=%s", s->exe);
	FIELD("SLUICE_COUNT=%llu", (unsigned long long)(count ? count : 1));
#undef FIELD
	(void)journal_send(JOURNAL_WARNING, fields, n);
}

static void emit(struct audit *a, const struct seen *s, uint64_t repeats, uint64_t count)
{
	_cleanup_text_ struct text t = TEXT_INIT;

	if (!a->quiet) {
		audit_render_line(&s->e, a->allowed, repeats, &t);
		if (!text_error(&t) && a->journal)
			journal_line(a, s, text_str(&t), count);
		else if (!text_error(&t))
			log_info("%s", text_str(&t));
	}
	if (a->json_fd >= 0) {
		text_free(&t);
		t = (struct text)TEXT_INIT;
		audit_render_json(&s->e, a->cage, s->cage_pid, s->exe, realtime_ms(),
				  count, &t);
		text_putc(&t, '\n');
		if (!text_error(&t))
			(void)!write(a->json_fd, t.buf, t.len);
	}
}

static void make_key(const struct audit_event *e, char *key, size_t len)
{
	_cleanup_text_ struct text t = TEXT_INIT;

	text_printf(&t, "%d %d %s ", e->layer, e->kind, e->comm);
	if (e->has_ep)
		put_dest(&t, &e->ep);
	text_printf(&t, " %s %s", e->path ? e->path : "", e->name ? e->name : "");
	snprintf(key, len, "%s", text_str(&t));
}

static void learn(struct audit *a, const struct audit_event *e)
{
	struct audit_learned *l = NULL;
	const char *what = e->path ? e->path : e->name ? e->name : "";

	if (e->kind != AUDIT_CONNECT && e->kind != AUDIT_SEND && e->kind != AUDIT_NAME)
		return;
	for (size_t i = 0; i < a->n_learned && !l; i++) {
		struct audit_learned *c = &a->learned[i];

		if (c->layer == e->layer && c->has_ep == e->has_ep && streq(c->what, what) &&
		    (!e->has_ep || (c->ep.family == e->ep.family && c->ep.proto == e->ep.proto &&
				    c->ep.port == e->ep.port &&
				    memcmp(&c->ep.ip, &e->ep.ip, sizeof(c->ep.ip)) == 0)))
			l = c;
	}
	if (!l) {
		if (a->n_learned == AUDIT_LEARN_MAX)
			return;
		if (a->n_learned % 64 == 0) {
			struct audit_learned *n =
			    realloc(a->learned, (a->n_learned + 64) * sizeof(*a->learned));

			if (!n)
				return;
			a->learned = n;
		}
		l = &a->learned[a->n_learned++];
		memset(l, 0, sizeof(*l));
		l->layer = e->layer;
		l->kind = e->kind;
		l->has_ep = e->has_ep;
		l->ep = e->ep;
		snprintf(l->what, sizeof(l->what), "%s", what);
	}
	l->count += e->count ? e->count : 1;
	if (e->comm[0] && !strstr(l->comms, e->comm) && strlen(l->comms) + strlen(e->comm) + 2 <
								  sizeof(l->comms))
		snprintf(l->comms + strlen(l->comms), sizeof(l->comms) - strlen(l->comms), "%s%s",
			 l->comms[0] ? "," : "", e->comm);
}

#define TICK_NS 500000000L

static void set_ticking(struct audit *a, bool on)
{
	struct itimerspec it = {{0, on ? TICK_NS : 0}, {0, on ? TICK_NS : 0}};

	if (a->ticking != on && timerfd_settime(a->tick.fd, 0, &it, NULL) == 0)
		a->ticking = on;
}

void audit_report(struct audit *a, const struct audit_event *in)
{
	uint64_t now = monotonic_ms();
	struct seen *s = NULL, *oldest = NULL;
	char key[320];

	if (!a)
		return;
	set_ticking(a, true);
	a->total += in->count ? in->count : 1;
	if (in->kind != AUDIT_DROPPED && (unsigned)in->layer <= AUDIT_START)
		a->by_layer[in->layer] += in->count ? in->count : 1;
	if (a->learn)
		learn(a, in);
	make_key(in, key, sizeof(key));
	for (size_t i = 0; i < AUDIT_SEEN_MAX; i++) {
		struct seen *c = &a->seen[i];

		if (c->used && streq(c->key, key)) {
			s = c;
			break;
		}
		if (!oldest || !c->used || (oldest->used && c->last_ms < oldest->last_ms))
			oldest = c;
	}
	/* Counts are told as they come: they are already one line for many. */
	if (in->kind == AUDIT_DROPPED) {
		struct seen one = {.e = *in};

		emit(a, &one, 0, in->count);
		return;
	}
	if (s && now - s->last_ms < AUDIT_COLLAPSE_MS) {
		s->repeats += in->count ? in->count : 1;
		return;
	}
	if (s && s->repeats)
		emit(a, s, s->repeats, s->repeats);
	if (!s) {
		s = oldest;
		if (s->used && s->repeats)
			emit(a, s, s->repeats, s->repeats);
		memset(s, 0, sizeof(*s));
		s->used = true;
		snprintf(s->key, sizeof(s->key), "%s", key);
		s->e = *in;
		if (in->path) {
			snprintf(s->path, sizeof(s->path), "%s", in->path);
			s->e.path = s->path;
		}
		if (in->name) {
			snprintf(s->name, sizeof(s->name), "%s", in->name);
			s->e.name = s->name;
		}
		if (in->why) {
			snprintf(s->why, sizeof(s->why), "%s", in->why);
			s->e.why = s->why;
		}
	}
	/* The process is looked at while it is (likely) still there. */
	s->e.pid = in->pid;
	s->cage_pid = cage_pid_of(in->pid);
	exe_of(in->pid, s->exe, sizeof(s->exe));
	s->repeats = 0;
	s->last_ms = now;
	emit(a, s, 0, in->count ? in->count : 1);
}

static void tell_repeats(struct audit *a, bool all)
{
	uint64_t now = monotonic_ms();

	for (size_t i = 0; i < AUDIT_SEEN_MAX; i++) {
		struct seen *s = &a->seen[i];

		if (s->used && s->repeats && (all || now - s->last_ms >= AUDIT_COLLAPSE_MS)) {
			emit(a, s, s->repeats, s->repeats);
			s->repeats = 0;
			s->last_ms = now;
		}
	}
}

static void on_tick(struct loop_source *src, uint32_t events)
{
	struct audit *a = container_of(src, struct audit, tick);
	uint64_t n;

	(void)events;
	(void)!read(src->fd, &n, sizeof(n));
	if (a->on_tick)
		a->on_tick(a->tick_ctx);
	tell_repeats(a, false);
	if (a->total == a->total_at_tick) {
		bool pending = false;

		for (size_t i = 0; i < AUDIT_SEEN_MAX && !pending; i++)
			pending = a->seen[i].used && a->seen[i].repeats;
		if (!pending)
			set_ticking(a, false);
	}
	a->total_at_tick = a->total;
}

void audit_flush(struct audit *a)
{
	if (a)
		tell_repeats(a, true);
}

uint64_t audit_count(const struct audit *a)
{
	return a ? a->total : 0;
}

uint64_t audit_layer_count(const struct audit *a, enum audit_layer layer)
{
	return a && (unsigned)layer <= AUDIT_START ? a->by_layer[layer] : 0;
}

int audit_new(struct loop *l, const struct audit_config *cfg, struct audit **ret)
{
	_cleanup_(audit_freep) struct audit *a = calloc(1, sizeof(*a));
	int fd, r;

	if (!a) {
		if (cfg->json_fd >= 0)
			close(cfg->json_fd);
		return -ENOMEM;
	}
	a->loop = l;
	a->json_fd = cfg->json_fd;
	a->tick.fd = -1;
	a->allowed = strdup(cfg->allowed ? cfg->allowed : "");
	if (!a->allowed)
		return -ENOMEM;
	snprintf(a->cage, sizeof(a->cage), "%s", cfg->cage);
	a->quiet = cfg->quiet;
	a->journal = journal_is_stderr();
	a->learn = cfg->learn;
	a->on_tick = cfg->on_tick;
	a->tick_ctx = cfg->tick_ctx;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return err_set(negative_errno(), "audit: timerfd");
	r = loop_add(l, &a->tick, fd, EPOLLIN, on_tick);
	if (r < 0) {
		close(fd);
		return err_set(r, "audit: watch its timer");
	}
	*ret = TAKE_PTR(a);
	return 0;
}

void audit_free(struct audit *a)
{
	if (!a)
		return;
	if (a->tick.fd >= 0) {
		int fd = a->tick.fd;

		loop_del(a->loop, &a->tick);
		close(fd);
	}
	if (a->json_fd >= 0)
		close(a->json_fd);
	free(a->learned);
	free(a->allowed);
	free(a);
}

size_t audit_learned(const struct audit *a, const struct audit_learned **ret)
{
	*ret = a ? a->learned : NULL;
	return a ? a->n_learned : 0;
}
