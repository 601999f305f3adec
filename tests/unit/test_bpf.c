/* test_bpf.c: the cage's eBPF hooks against the real kernel (needs root; CI runs as root and
 * this test fails, never skips, without it). The test process lives in its own network
 * namespace holding only lo, so no probe can leave the machine; it steps into a temporary
 * cgroup to be judged by the hooks and back out to judge them from outside. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <cmocka.h> /* after stdarg.h, stddef.h, setjmp.h and stdint.h */

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf.h"
#include "cgroup.h"
#include "hookworld.h"
#include "log.h"
#include "sock.skel.h"

#define PORT	 8888
#define UDP_PORT 5353

static const enum bpf_attach_type hook_types[] = {
    BPF_CGROUP_INET4_CONNECT,
    BPF_CGROUP_INET6_CONNECT,
    BPF_CGROUP_UDP4_SENDMSG,
    BPF_CGROUP_UDP6_SENDMSG,
};

static int listener_fd = -1;

struct world {
	char parent[PATH_MAX + 32]; /* the temporary cgroup of all cages */
	char path[PATH_MAX + 64];   /* a cage's cgroup below it, "c" ("d" is another) */
	int parent_fd, cgroup_fd, other_fd;
	struct bpf_cage *cage, *other;
	bool inside;
	struct hook_ids ids;
};

/* ---- setting up the world ------------------------------------------------------------ */

static void ifreq_addr4(struct ifreq *ifr, const char *ip)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr->ifr_addr;

	memset(&ifr->ifr_addr, 0, sizeof(ifr->ifr_addr));
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
}

/* struct in6_ifreq from <linux/ipv6.h>, which does not mix with glibc's headers. */
struct in6_ifreq_compat {
	struct in6_addr addr;
	uint32_t prefixlen;
	int ifindex;
};

/* lo up, 10.9.9.9/32 and fd00::9/128 on it: local addresses that are not loopback, so an
 * allowed endpoint can be served and a listed-but-other-port one refused by the kernel. */
static void bring_up_lo(void)
{
	_cleanup_close_ int fd4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	_cleanup_close_ int fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct in6_ifreq_compat ifr6 = {};
	struct ifreq ifr = {};

	assert_true(fd4 >= 0 && fd6 >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	assert_int_equal(ioctl(fd4, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(fd4, SIOCSIFFLAGS, &ifr), 0);

	/* An alias label makes SIOCSIFADDR add an address instead of replacing 127.0.0.1. */
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo:1");
	ifreq_addr4(&ifr, "10.9.9.9");
	assert_int_equal(ioctl(fd4, SIOCSIFADDR, &ifr), 0);
	ifreq_addr4(&ifr, "255.255.255.255");
	assert_int_equal(ioctl(fd4, SIOCSIFNETMASK, &ifr), 0);

	assert_int_equal(inet_pton(AF_INET6, "fd00::9", &ifr6.addr), 1);
	ifr6.prefixlen = 128;
	ifr6.ifindex = (int)if_nametoindex("lo");
	assert_int_equal(ioctl(fd6, SIOCSIFADDR, &ifr6), 0);
}

static int group_setup(void **state)
{
	struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_port = htons(PORT)};
	int off = 0;

	if (hookworld_init("test_bpf") < 0)
		return -1;
	/* Our own netns: only lo, no route anywhere, so nothing we try can leave. */
	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	bring_up_lo();

	/* One dual-stack TCP listener on every local address: 127.0.0.1, ::1, 10.9.9.9,
	 * fd00::9. Connections complete in the kernel; nobody needs to accept them. */
	listener_fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener_fd < 0 ||
	    setsockopt(listener_fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0 ||
	    bind(listener_fd, (struct sockaddr *)&any, sizeof(any)) < 0 ||
	    listen(listener_fd, 128) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	closep(&listener_fd);
	return 0;
}

/* The parent stands for <cgroup2>/sluice (the hooks go there), "c" and "d" for two cages. */
static int world_setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	char path[PATH_MAX + 64];

	if (!w)
		return -1;
	w->cgroup_fd = w->parent_fd = w->other_fd = -1;
	snprintf(w->parent, sizeof(w->parent), "%s/sluice-test-XXXXXX", hookworld_mount());
	*state = w;
	if (!mkdtemp(w->parent))
		return -1;
	snprintf(path, sizeof(path), "%s/c", w->parent);
	snprintf(w->path, sizeof(w->path), "%s", path);
	if (mkdir(path, 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/d", w->parent);
	if (mkdir(path, 0755) < 0)
		return -1;
	w->parent_fd = open(w->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	w->cgroup_fd = open(w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	w->other_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return w->parent_fd >= 0 && w->cgroup_fd >= 0 && w->other_fd >= 0 ? 0 : -1;
}

static void leave(struct world *w)
{
	if (w->inside) {
		assert_int_equal(hookworld_leave(), 0);
		w->inside = false;
	}
}

static int world_teardown(void **state)
{
	struct world *w = *state;
	char path[PATH_MAX + 64];

	if (w->inside && hookworld_leave() == 0)
		w->inside = false;
	if (w->cage)
		bpf_cage_detach(w->cage);
	bpf_cage_free(w->cage);
	if (w->other)
		bpf_cage_detach(w->other);
	bpf_cage_free(w->other);
	if (w->parent_fd >= 0)
		(void)bpf_resident_unload(w->parent_fd, &bpf_sock_resident);
	closep(&w->cgroup_fd);
	closep(&w->other_fd);
	closep(&w->parent_fd);
	rmdir(w->path);
	snprintf(path, sizeof(path), "%s/d", w->parent);
	rmdir(path);
	rmdir(w->parent);
	free(w);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------- */

/* Sockets are judged by the cgroup of the process that uses them: enter before probing. */
static void enter_path(struct world *w, const char *path)
{
	assert_int_equal(hookworld_enter(path), 0);
	w->inside = true;
}

static void enter(struct world *w)
{
	enter_path(w, w->path);
}

/* Remember the ids of the programs (and their maps) on the parent, to check they go away. */
static void record_ids(struct world *w)
{
	hookworld_record(&w->ids, w->parent_fd, hook_types, ARRAY_SIZE(hook_types));
	assert_int_equal(w->ids.n_map, 4); /* ip_allow, ip_denied, ip_events, .rodata */
}

static void assert_nothing_attached(int cgroup_fd)
{
	hookworld_assert_none(cgroup_fd, hook_types, ARRAY_SIZE(hook_types));
}

/* How many entries the maps hold under the cgroup id (allow + denial counter). */
static unsigned entries_of(struct world *w, uint64_t id)
{
	return hookworld_entries(w->parent_fd, &bpf_sock_resident, id);
}

static uint64_t id_of(int cgroup_fd)
{
	uint64_t id = 0;

	assert_int_equal(cgroup_id(cgroup_fd, &id), 0);
	assert_true(id != 0);
	return id;
}

enum op { CONNECT, SENDTO };

struct probe {
	const char *what;
	int family; /* of the socket */
	int type;
	int proto;	/* given to socket(): 0 or explicit */
	const char *ip; /* "::ffff:a.b.c.d" on an AF_INET6 socket tries the mapped form */
	uint16_t port;
	enum op op;
	int expect; /* 0 or an errno */
};

/* Returns 0 or the errno the operation failed with. */
static int try_probe(const struct probe *p)
{
	_cleanup_close_ int fd = socket(p->family, p->type | SOCK_CLOEXEC, p->proto);
	struct sockaddr_storage ss = {};
	socklen_t len;
	int r;

	assert_true(fd >= 0);
	if (p->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(p->port);
		assert_int_equal(inet_pton(AF_INET, p->ip, &sin->sin_addr), 1);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p->port);
		assert_int_equal(inet_pton(AF_INET6, p->ip, &sin6->sin6_addr), 1);
		len = sizeof(*sin6);
	}
	if (p->op == CONNECT)
		r = connect(fd, (struct sockaddr *)&ss, len);
	else
		r = sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len) == 1 ? 0 : -1;
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

static struct allowed allow_ep(int family, uint8_t proto, const char *ip, uint16_t port)
{
	struct allowed a = {.ep = {.family = family, .proto = proto, .port = port}};

	assert_int_equal(inet_pton(family, ip, &a.ep.ip), 1);
	return a;
}

static int attach_default(struct world *w)
{
	struct allowed allowed[] = {
	    allow_ep(AF_INET, IPPROTO_TCP, "10.9.9.9", PORT),
	    allow_ep(AF_INET, IPPROTO_UDP, "10.9.9.9", UDP_PORT),
	    allow_ep(AF_INET6, IPPROTO_TCP, "fd00::9", PORT),
	    allow_ep(AF_INET6, IPPROTO_UDP, "fd00::9", UDP_PORT),
	};

	return bpf_cage_attach(w->parent_fd, "c", w->cgroup_fd, allowed, ARRAY_SIZE(allowed),
			       &w->cage);
}

#define S SOCK_STREAM
#define D SOCK_DGRAM
#define T IPPROTO_TCP
#define U IPPROTO_UDP

/* ---- tests --------------------------------------------------------------------------- */

static void unlisted_gets_eperm_listed_and_loopback_pass_denials_counted(void **state)
{
	struct world *w = *state;
	static const struct probe probes[] = {
	    /* listed endpoints; sockets made with protocol 0 prove ctx->protocol is filled */
	    {"tcp 10.9.9.9:8888 (listed, proto 0)", AF_INET, S, 0, "10.9.9.9", PORT, CONNECT, 0},
	    {"tcp 10.9.9.9:8888 (listed, proto TCP)", AF_INET, S, T, "10.9.9.9", PORT, CONNECT, 0},
	    {"udp 10.9.9.9:5353 (listed)", AF_INET, D, 0, "10.9.9.9", UDP_PORT, SENDTO, 0},
	    {"udp connect 10.9.9.9:5353 (listed)", AF_INET, D, U, "10.9.9.9", UDP_PORT, CONNECT, 0},
	    {"tcp [fd00::9]:8888 (listed)", AF_INET6, S, 0, "fd00::9", PORT, CONNECT, 0},
	    {"udp [fd00::9]:5353 (listed)", AF_INET6, D, 0, "fd00::9", UDP_PORT, SENDTO, 0},
	    {"tcp [::ffff:10.9.9.9]:8888 (listed as v4)", AF_INET6, S, 0, "::ffff:10.9.9.9", PORT,
	     CONNECT, 0},
	    {"udp [::ffff:10.9.9.9]:5353 (listed as v4)", AF_INET6, D, 0, "::ffff:10.9.9.9",
	     UDP_PORT, SENDTO, 0},
	    /* the cage's own loopback, any port */
	    {"tcp 127.0.0.1:8888", AF_INET, S, 0, "127.0.0.1", PORT, CONNECT, 0},
	    {"tcp 127.0.0.1:8889 (refused by lo)", AF_INET, S, 0, "127.0.0.1", PORT + 1, CONNECT,
	     ECONNREFUSED},
	    {"udp 127.0.0.53:53", AF_INET, D, 0, "127.0.0.53", 53, SENDTO, 0},
	    {"tcp [::1]:8888", AF_INET6, S, 0, "::1", PORT, CONNECT, 0},
	    {"udp [::1]:53", AF_INET6, D, 0, "::1", 53, SENDTO, 0},
	    {"tcp [::ffff:127.0.0.1]:8888", AF_INET6, S, 0, "::ffff:127.0.0.1", PORT, CONNECT, 0},
	    /* everything else */
	    {"tcp 10.1.2.3:80", AF_INET, S, 0, "10.1.2.3", 80, CONNECT, EPERM},
	    {"tcp 10.9.9.9:8889 (wrong port)", AF_INET, S, 0, "10.9.9.9", PORT + 1, CONNECT, EPERM},
	    {"udp 10.9.9.9:8888 (tcp only listed)", AF_INET, D, 0, "10.9.9.9", PORT, SENDTO, EPERM},
	    {"udp 10.1.2.3:53", AF_INET, D, 0, "10.1.2.3", 53, SENDTO, EPERM},
	    {"udp connect 10.1.2.3:53", AF_INET, D, 0, "10.1.2.3", 53, CONNECT, EPERM},
	    {"tcp [::ffff:10.1.2.3]:80", AF_INET6, S, 0, "::ffff:10.1.2.3", 80, CONNECT, EPERM},
	    {"udp [::ffff:10.1.2.3]:53", AF_INET6, D, 0, "::ffff:10.1.2.3", 53, SENDTO, EPERM},
	    {"udp connect [::ffff:10.1.2.3]:53", AF_INET6, D, 0, "::ffff:10.1.2.3", 53, CONNECT,
	     EPERM},
	    {"tcp [fd00::1]:80", AF_INET6, S, 0, "fd00::1", 80, CONNECT, EPERM},
	    {"tcp [fd00::9]:8889 (wrong port)", AF_INET6, S, 0, "fd00::9", PORT + 1, CONNECT,
	     EPERM},
	    {"udp [fd00::1]:53", AF_INET6, D, 0, "fd00::1", 53, SENDTO, EPERM},
	    {"tcp 0.0.0.0:8888 (not the loopback form)", AF_INET, S, 0, "0.0.0.0", PORT, CONNECT,
	     EPERM},
	};
	uint64_t before, after, id = id_of(w->cgroup_fd);
	unsigned denials;

	assert_int_equal(attach_default(w), 0);
	assert_non_null(w->cage);
	assert_true(bpf_cage_id(w->cage) == id);
	record_ids(w);
	/* The hooks are on the parent only: the cage's cgroup inherits them. */
	assert_nothing_attached(w->cgroup_fd);
	assert_int_equal(entries_of(w, id), 5); /* four endpoints and the counter */
	assert_int_equal(bpf_cage_denied(w->cage, &before), 0);
	assert_int_equal(before, 0);

	enter(w);
	denials = run_probes(probes, ARRAY_SIZE(probes));
	leave(w);

	assert_int_equal(bpf_cage_denied(w->cage, &after), 0);
	assert_int_equal(after - before, denials);

	/* Teardown removes the cage's entries; the hooks stay for the next cage. */
	assert_int_equal(bpf_cage_detach(w->cage), 0);
	assert_int_equal(entries_of(w, id), 0);
	bpf_cage_free(w->cage);
	w->cage = NULL;
	record_ids(w);

	/* Unloading takes them off and frees them. */
	assert_int_equal(bpf_resident_unload(w->parent_fd, &bpf_sock_resident), 4); /* detached */
	assert_nothing_attached(w->parent_fd);
	hookworld_assert_gone(&w->ids);
}

struct events_seen {
	size_t n;
	struct bpf_ip_event first;
};

static void collect(void *ctx, const struct bpf_ip_event *e)
{
	struct events_seen *seen = ctx;

	if (seen->n++ == 0)
		seen->first = *e;
}

/* Each denial comes to the cage's ring as an event naming the process and destination; a
 * storm past the hooks' rate is counted, not sent; detach takes the ring's entry out. */
static void denials_are_events_and_a_storm_is_counted(void **state)
{
	struct world *w = *state;
	static const struct probe one[] = {
	    {"tcp 10.9.9.8:8887", AF_INET, S, 0, "10.9.9.8", PORT - 1, CONNECT, EPERM},
	};
	static const struct probe six[] = {
	    {"udp [fd00::7]:53", AF_INET6, D, 0, "fd00::7", 53, SENDTO, EPERM},
	};
	struct events_seen seen = {0};
	uint64_t id = id_of(w->cgroup_fd), denied, dropped;
	unsigned char want[4] = {10, 9, 9, 8};
	char comm[16] = "";
	int fd = -1;

	assert_int_equal(attach_default(w), 0);
	assert_int_equal(bpf_cage_events(w->cage, collect, &seen, &fd), 0);
	assert_true(fd >= 0);
	assert_int_equal(entries_of(w, id), 6); /* four endpoints, the counter, the ring */

	enter(w);
	run_probes(one, 1);
	leave(w);
	assert_int_equal(bpf_cage_events_read(w->cage), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.first.pid, getpid());
	assert_int_equal(seen.first.hook, 0); /* connect4 */
	assert_int_equal(seen.first.family, AF_INET);
	assert_int_equal(seen.first.proto, IPPROTO_TCP);
	assert_int_equal(seen.first.port, PORT - 1);
	assert_memory_equal(seen.first.addr, want, 4);
	prctl(PR_GET_NAME, comm);
	assert_string_equal(seen.first.comm, comm);

	seen.n = 0;
	enter(w);
	run_probes(six, 1);
	leave(w);
	assert_int_equal(bpf_cage_events_read(w->cage), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.first.hook, 3); /* sendmsg6 */
	assert_int_equal(seen.first.family, AF_INET6);
	assert_int_equal(seen.first.proto, IPPROTO_UDP);

	/* 2000 refusals at once: at most the rate's worth are sent, every one is counted */
	seen.n = 0;
	enter(w);
	for (int i = 0; i < 2000; i++)
		(void)try_probe(&one[0]);
	leave(w);
	assert_int_equal(bpf_cage_events_read(w->cage), 0);
	assert_int_equal(bpf_cage_denied(w->cage, &denied), 0);
	assert_int_equal(bpf_cage_dropped(w->cage, &dropped), 0);
	assert_true(seen.n > 0 && seen.n <= 64 * 2 * (size_t)libbpf_num_possible_cpus());
	assert_true(dropped > 0);
	assert_int_equal(denied, 2 + seen.n + dropped);

	assert_int_equal(bpf_cage_detach(w->cage), 0);
	assert_int_equal(entries_of(w, id), 0);
}

static void nothing_listed_allows_only_loopback(void **state)
{
	struct world *w = *state;
	static const struct probe probes[] = {
	    {"tcp 127.0.0.1:8888", AF_INET, S, 0, "127.0.0.1", PORT, CONNECT, 0},
	    {"tcp [::1]:8888", AF_INET6, S, 0, "::1", PORT, CONNECT, 0},
	    {"tcp 10.9.9.9:8888", AF_INET, S, 0, "10.9.9.9", PORT, CONNECT, EPERM},
	    {"udp [fd00::9]:5353", AF_INET6, D, 0, "fd00::9", UDP_PORT, SENDTO, EPERM},
	};
	uint64_t n;

	assert_int_equal(bpf_cage_attach(w->parent_fd, "c", w->cgroup_fd, NULL, 0, &w->cage), 0);
	enter(w);
	assert_int_equal(run_probes(probes, ARRAY_SIZE(probes)), 2);
	leave(w);
	assert_int_equal(bpf_cage_denied(w->cage, &n), 0);
	assert_int_equal(n, 2);
}

/* Each cage is judged by its own entries; a cgroup below with none gets loopback only. */
static void each_cage_gets_its_own_policy_and_unknown_gets_none(void **state)
{
	struct world *w = *state;
	struct allowed six = allow_ep(AF_INET6, IPPROTO_TCP, "fd00::9", PORT);
	static const struct probe in_c[] = {
	    {"tcp 10.9.9.9:8888 (c's)", AF_INET, S, 0, "10.9.9.9", PORT, CONNECT, 0},
	    {"tcp [fd00::9]:8888 (d's)", AF_INET6, S, 0, "fd00::9", PORT, CONNECT, 0},
	};
	static const struct probe in_d[] = {
	    {"tcp 10.9.9.9:8888 (c's)", AF_INET, S, 0, "10.9.9.9", PORT, CONNECT, EPERM},
	    {"tcp [fd00::9]:8888 (d's)", AF_INET6, S, 0, "fd00::9", PORT, CONNECT, 0},
	};
	static const struct probe unknown[] = {
	    {"tcp 10.9.9.9:8888", AF_INET, S, 0, "10.9.9.9", PORT, CONNECT, EPERM},
	    {"tcp [fd00::9]:8888", AF_INET6, S, 0, "fd00::9", PORT, CONNECT, EPERM},
	    {"tcp 127.0.0.1:8888", AF_INET, S, 0, "127.0.0.1", PORT, CONNECT, 0},
	};
	char path[PATH_MAX + 64];
	uint64_t n;

	assert_int_equal(attach_default(w), 0);
	enter(w);
	run_probes(in_c, ARRAY_SIZE(in_c));
	leave(w);

	/* d has entries of its own, and c's do not reach it. */
	assert_int_equal(bpf_cage_attach(w->parent_fd, "d", w->other_fd, &six, 1, &w->other), 0);
	snprintf(path, sizeof(path), "%s/d", w->parent);
	enter_path(w, path);
	run_probes(in_d, ARRAY_SIZE(in_d));
	leave(w);
	assert_int_equal(bpf_cage_denied(w->other, &n), 0);
	assert_int_equal(n, 1);

	/* Once d's entries are gone, d is refused everything but loopback. */
	assert_int_equal(bpf_cage_detach(w->other), 0);
	enter_path(w, path);
	run_probes(unknown, ARRAY_SIZE(unknown));
	leave(w);
	assert_int_equal(bpf_cage_denied(w->cage, &n), 0);
	assert_int_equal(n, 0); /* c's counter did not count d's denials */
}

/* bpf_live_fn for the prune test: a cage "d" is made only now, after prune has read the
 * entries, and the listing of live cages misses it; its entries must stay all the same. */
static int late_cage_unlisted(void *ctx, uint64_t **ret_ids, size_t *ret_n)
{
	struct world *w = ctx;
	struct allowed six = allow_ep(AF_INET6, IPPROTO_TCP, "fd00::9", PORT);

	assert_int_equal(bpf_cage_attach(w->parent_fd, "d", w->other_fd, &six, 1, &w->other), 0);
	*ret_ids = calloc(1, sizeof(**ret_ids));
	*ret_n = 0;
	return *ret_ids ? 0 : -ENOMEM;
}

/* The supervisor's fds closing (as on SIGKILL) must not open the cage: the hooks and the
 * entries stay; gc's prune removes the entries of a cage no longer alive, and only entries
 * it read before it asked which cages live. */
static void hooks_outlive_our_fds_and_prune_removes_dead_cages(void **state)
{
	struct world *w = *state;
	static const struct probe held[] = {
	    {"tcp 10.1.2.3:80", AF_INET, S, 0, "10.1.2.3", 80, CONNECT, EPERM},
	    {"udp [fd00::1]:53", AF_INET6, D, 0, "fd00::1", 53, SENDTO, EPERM},
	    {"tcp 10.9.9.9:8888 (listed)", AF_INET, S, 0, "10.9.9.9", PORT, CONNECT, 0},
	};
	static const struct probe pruned[] = {
	    {"tcp 10.9.9.9:8888 (listed, pruned)", AF_INET, S, 0, "10.9.9.9", PORT, CONNECT, EPERM},
	};
	uint64_t id = id_of(w->cgroup_fd), other = id_of(w->other_fd);
	size_t removed = 0;

	assert_int_equal(attach_default(w), 0);
	record_ids(w);
	bpf_cage_free(w->cage);
	w->cage = NULL;

	enter(w);
	run_probes(held, ARRAY_SIZE(held));
	leave(w);
	record_ids(w); /* still exactly one program per hook */
	assert_int_equal(entries_of(w, id), 5);

	/* c is not alive: its entries go; d's, made after prune read the maps, stay. */
	assert_int_equal(
	    bpf_resident_prune(w->parent_fd, &bpf_sock_resident, late_cage_unlisted, w, &removed),
	    0);
	assert_int_equal(removed, 5);
	assert_int_equal(entries_of(w, id), 0);
	assert_int_equal(entries_of(w, other), 2);
	enter(w);
	run_probes(pruned, ARRAY_SIZE(pruned));
	leave(w);
}

/* A second cage finds the hooks of the first (nothing loaded again); an incomplete set (one
 * hook gone) is replaced, but not while another cage runs on it. */
static void hooks_are_found_again_and_an_incomplete_set_replaced(void **state)
{
	struct world *w = *state;
	uint32_t first[8], ids[4];
	unsigned n_first;
	int fd;

	assert_int_equal(attach_default(w), 0);
	record_ids(w);
	n_first = w->ids.n_prog;
	memcpy(first, w->ids.prog, sizeof(first));
	assert_int_equal(bpf_cage_attach(w->parent_fd, "d", w->other_fd, NULL, 0, &w->other), 0);
	record_ids(w);
	assert_memory_equal(first, w->ids.prog, n_first * sizeof(first[0]));
	bpf_cage_detach(w->other);
	bpf_cage_free(w->other);
	w->other = NULL;

	/* Take sendmsg6 away, as a loader killed half way would have left it. */
	assert_int_equal(hookworld_attached(w->parent_fd, BPF_CGROUP_UDP6_SENDMSG, ids, 4), 1);
	fd = bpf_prog_get_fd_by_id(ids[0]);
	assert_true(fd >= 0);
	assert_int_equal(bpf_prog_detach2(fd, w->parent_fd, BPF_CGROUP_UDP6_SENDMSG), 0);
	close(fd);

	/* Cage c runs (this process is in it): d may not replace the set under it. */
	enter(w);
	err_clear();
	assert_int_equal(bpf_cage_attach(w->parent_fd, "d", w->other_fd, NULL, 0, &w->other),
			 -EBUSY);
	assert_null(w->other);
	assert_non_null(strstr(err_message(-EBUSY), "run under them"));
	assert_int_equal(bpf_resident_unload(w->parent_fd, &bpf_sock_resident), -EBUSY);
	leave(w);

	/* With nothing running, it is replaced: a complete new set. */
	bpf_cage_detach(w->cage);
	bpf_cage_free(w->cage);
	w->cage = NULL;
	assert_int_equal(bpf_cage_attach(w->parent_fd, "d", w->other_fd, NULL, 0, &w->other), 0);
	record_ids(w);
	for (unsigned i = 0; i < w->ids.n_prog; i++)
		for (unsigned j = 0; j < n_first; j++)
			assert_true(w->ids.prog[i] != first[j]);
}

/* An exclusive program on the parent makes attaching fail: nothing of ours stays, on the
 * parent or in any map. */
static void failed_attach_leaves_nothing_attached(void **state)
{
	struct world *w = *state;
	struct sock_bpf *other = sock_bpf__open_and_load();
	struct bpf_cage *cage = NULL;
	uint32_t ids[4];
	int fd;

	assert_non_null(other);
	fd = bpf_program__fd(other->progs.sendmsg6);
	/* Attached without flags, it is exclusive: the kernel refuses a multi attach beside it. */
	assert_int_equal(bpf_prog_attach(fd, w->parent_fd, BPF_CGROUP_UDP6_SENDMSG, 0), 0);

	err_clear();
	assert_int_equal(attach_default(w), -EPERM);
	assert_null(w->cage);
	assert_non_null(strstr(err_message(-EPERM), "attach sendmsg6 hook to cgroup"));
	for (size_t t = 0; t < 3; t++)
		assert_int_equal(
		    hookworld_attached(w->parent_fd, hook_types[t], ids, ARRAY_SIZE(ids)), 0);
	assert_int_equal(
	    hookworld_attached(w->parent_fd, BPF_CGROUP_UDP6_SENDMSG, ids, ARRAY_SIZE(ids)), 1);

	assert_int_equal(bpf_prog_detach2(fd, w->parent_fd, BPF_CGROUP_UDP6_SENDMSG), 0);
	sock_bpf__destroy(other);
	assert_nothing_attached(w->parent_fd);

	/* Not a cgroup at all. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(bpf_cage_attach(fd, "c", w->cgroup_fd, NULL, 0, &cage) < 0);
	assert_null(cage);
	close(fd);
}

static size_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A map the object does not have: refused by its name, and nothing attached. */
static void missing_map_is_named_and_leaves_nothing_attached(void **state)
{
	struct world *w = *state;
	const char *const maps[] = {bpf_sock_resident.maps[0], "sluice_no_such_map"};
	const size_t at[] = {bpf_sock_resident.cage_at[0], 0};
	struct bpf_resident r = bpf_sock_resident;
	int fds[2] = {-1, -1};

	size_t open_before = open_fds();

	r.maps = maps;
	r.cage_at = at;
	r.n_maps = 2;
	err_clear();
	assert_int_equal(bpf_resident_get(w->parent_fd, "c", &r, fds), -ENOENT);
	assert_non_null(strstr(err_message(-ENOENT), "no map sluice_no_such_map"));
	assert_int_equal(open_fds(), open_before); /* the first map's fd is closed again */
	assert_nothing_attached(w->parent_fd);
}

static void bad_endpoint_is_refused_and_leaves_no_entries(void **state)
{
	struct world *w = *state;
	struct allowed a[] = {
	    allow_ep(AF_INET, IPPROTO_TCP, "10.9.9.9", PORT),
	    allow_ep(AF_INET, IPPROTO_TCP, "10.9.9.9", PORT + 1),
	};

	a[1].ep.proto = IPPROTO_SCTP;
	assert_int_equal(bpf_cage_attach(w->parent_fd, "c", w->cgroup_fd, a, 2, &w->cage), -EINVAL);
	assert_null(w->cage);
	assert_int_equal(entries_of(w, id_of(w->cgroup_fd)), 0);
}

static void probe_succeeds_as_root(void **state)
{
	assert_int_equal(bpf_probe(), 0);
}

static void detach_and_denied_reject_null(void **state)
{
	uint64_t n;

	assert_int_equal(bpf_cage_detach(NULL), -EBADF);
	assert_int_equal(bpf_cage_denied(NULL, &n), -EBADF);
	bpf_cage_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(probe_succeeds_as_root),
	    cmocka_unit_test(detach_and_denied_reject_null),
	    cmocka_unit_test_setup_teardown(
		unlisted_gets_eperm_listed_and_loopback_pass_denials_counted, world_setup,
		world_teardown),
	    cmocka_unit_test_setup_teardown(denials_are_events_and_a_storm_is_counted, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(nothing_listed_allows_only_loopback, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(each_cage_gets_its_own_policy_and_unknown_gets_none,
					    world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(hooks_outlive_our_fds_and_prune_removes_dead_cages,
					    world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(hooks_are_found_again_and_an_incomplete_set_replaced,
					    world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(failed_attach_leaves_nothing_attached, world_setup,
					    world_teardown),
	    cmocka_unit_test_setup_teardown(missing_map_is_named_and_leaves_nothing_attached,
					    world_setup, world_teardown),
	    cmocka_unit_test_setup_teardown(bad_endpoint_is_refused_and_leaves_no_entries,
					    world_setup, world_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
