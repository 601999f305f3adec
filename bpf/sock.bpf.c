// SPDX-License-Identifier: GPL-2.0
/* sock.bpf.c: the sock_addr hooks of every cage (connect4/6, sendmsg4/6). They are loaded once
 * and attached to the cgroup that holds all cages, so each cage's cgroup inherits them when it
 * is made; src/bpf.c keeps them there. A destination is allowed if it is the cage's own
 * loopback or an exact {cage, family, proto, port, addr} entry in the allow map, where the cage
 * is the cgroup id of the calling process; anything else is counted and refused, which the
 * kernel turns into EPERM. A cgroup with no entries (nothing was entered for it) gets loopback
 * only: unknown means refused. */

/*
 * The only kernel type used is struct bpf_sock_addr, the UAPI context, whose field accesses
 * the verifier itself rewrites: CO-RE relocations on it buy nothing, and resolving them makes
 * libbpf parse the kernel's whole BTF (5 MB) on every load: 12 ms of a cage's start, against
 * 1 ms for the whole load without (measured on 6.18). So take vmlinux.h's types without
 * preserve_access_index.
 */
#define BPF_NO_PRESERVE_ACCESS_INDEX
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define AF_INET	 2
#define AF_INET6 10

/* Which build of sluice loaded these hooks (set by the loader; the only .rodata variable). A
 * sluice finding another build's hooks attached replaces them rather than guess their maps. */
const volatile __u64 sluice_build = 0;

/* Keep in step with struct sock_key in src/bpf.c (it checks the size at load time). */
struct sock_key {
	__u64 cage;    /* the cage's cgroup id */
	__u8 family;   /* AF_INET or AF_INET6; IPv4-mapped IPv6 is stored as AF_INET */
	__u8 proto;    /* IPPROTO_TCP or IPPROTO_UDP */
	__be16 port;   /* network byte order, as in ctx->user_port */
	__u8 addr[16]; /* IPv4 in the first 4 bytes (network order), the rest zero */
	__u32 pad;     /* zero */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* endpoints of all cages together */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sock_key);
	__type(value, __u8);
} ip_allow SEC(".maps");

/* Denials per cage, per CPU, so that a process hammering a denied address does not bounce a
 * cache line between CPUs; the loader enters a cage's zeros and sums them. Keep in step with
 * struct cage_count in src/bpf.c. */
struct cage_count {
	__u64 denied;
	__u64 window;  /* the current rate window: bpf_ktime_get_ns() >> WINDOW_SHIFT */
	__u64 told;    /* events sent in it, on this CPU */
	__u64 dropped; /* denials not sent as events: over the rate, or the ring was full */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct cage_count);
} ip_denied SEC(".maps");

/*
 * Each denial is also an event, for the cage's supervisor to tell (src/audit.c): into the
 * cage's own ring buffer, which its supervisor made and entered here under the cage's id (a
 * cage without one sends none). At most EVENTS_PER_WINDOW per cage and CPU in a window of
 * about a second: a storm of refusals costs the supervisor a few hundred events a second,
 * and the rest are only counted (dropped), which it reports.
 */
#define WINDOW_SHIFT	  30 /* 1.07 s */
#define EVENTS_PER_WINDOW 64
#define EVENT_RING_SIZE	  (64 * 1024) /* keep in step with src/bpf.c */

/* Keep in step with struct bpf_ip_event in src/bpf.h. */
struct ip_event {
	__u64 cage;
	__u32 pid; /* the thread group's, in the initial pid namespace */
	__u8 hook; /* 0 connect4, 1 connect6, 2 sendmsg4, 3 sendmsg6 */
	__u8 family;
	__u8 proto;
	__u8 pad;
	__be16 port;
	__u16 pad2;
	__u8 addr[16];
	char comm[16];
};

struct event_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENT_RING_SIZE);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__array(values, struct event_ring);
} ip_events SEC(".maps");

/*
 * ctx->protocol is sk->sk_protocol, which inet_create()/inet6_create() fill in from the
 * protosw entry when the socket was made with protocol 0: a plain socket(AF_INET,
 * SOCK_STREAM, 0) reads IPPROTO_TCP here (measured on 6.18, and test_bpf.c depends on it).
 * Were it ever 0, no allow entry would match and the hook would fail closed.
 */
static __always_inline __u8 sock_proto(struct bpf_sock_addr *ctx)
{
	return ctx->protocol;
}

static __always_inline int deny(const struct sock_key *key, __u8 hook)
{
	struct cage_count *n = bpf_map_lookup_elem(&ip_denied, &key->cage);
	struct ip_event *e;
	__u64 window;
	void *ring;

	/* A (volatile) read of the build id puts .rodata among the maps of every program, where
	 * the loader looks for it. */
	(void)sluice_build;
	if (!n)
		return 0;
	__sync_fetch_and_add(&n->denied, 1); /* this CPU's slot, but we may be preempted */
	ring = bpf_map_lookup_elem(&ip_events, &key->cage);
	if (!ring)
		return 0;
	window = bpf_ktime_get_ns() >> WINDOW_SHIFT;
	if (n->window != window) {
		n->window = window;
		n->told = 0;
	}
	if (n->told >= EVENTS_PER_WINDOW) {
		__sync_fetch_and_add(&n->dropped, 1);
		return 0;
	}
	e = bpf_ringbuf_reserve(ring, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&n->dropped, 1);
		return 0;
	}
	n->told++;
	e->cage = key->cage;
	e->pid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	e->hook = hook;
	e->family = key->family;
	e->proto = key->proto;
	e->pad = 0;
	e->port = key->port;
	e->pad2 = 0;
	__builtin_memcpy(e->addr, key->addr, sizeof(e->addr));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int judge4(struct bpf_sock_addr *ctx, __be32 ip4, __u8 hook)
{
	struct sock_key key = {};

	/* 127.0.0.0/8 is the cage's own lo: the cage sits in its own netns. */
	if ((bpf_ntohl(ip4) >> 24) == 127)
		return 1;
	key.cage = bpf_get_current_cgroup_id();
	key.family = AF_INET;
	key.proto = sock_proto(ctx);
	key.port = (__be16)ctx->user_port;
	__builtin_memcpy(key.addr, &ip4, sizeof(ip4));
	if (bpf_map_lookup_elem(&ip_allow, &key))
		return 1;
	return deny(&key, hook);
}

static __always_inline int judge6(struct bpf_sock_addr *ctx, __u8 hook)
{
	struct sock_key key = {};
	__u32 ip6[4];

	/* The context only allows 4-byte loads of user_ip6, one word at a time. */
	ip6[0] = ctx->user_ip6[0];
	ip6[1] = ctx->user_ip6[1];
	ip6[2] = ctx->user_ip6[2];
	ip6[3] = ctx->user_ip6[3];

	/*
	 * An AF_INET6 socket reaches IPv4 through ::ffff:a.b.c.d. connect() to such an address
	 * runs only this connect6 hook (tcp_v6_connect() and ip6_datagram_connect() hand over to
	 * the IPv4 code after the hook point, without running connect4), so judge it as the IPv4
	 * address it carries. (udpv6_sendmsg() diverts mapped addresses to udp_sendmsg() before
	 * sendmsg6 runs, so there sendmsg4 judges them; the check here costs nothing.)
	 */
	if (ip6[0] == 0 && ip6[1] == 0 && ip6[2] == bpf_htonl(0x0000ffff))
		return judge4(ctx, ip6[3], hook);
	if (ip6[0] == 0 && ip6[1] == 0 && ip6[2] == 0 && ip6[3] == bpf_htonl(1))
		return 1; /* ::1 */

	key.cage = bpf_get_current_cgroup_id();
	key.family = AF_INET6;
	key.proto = sock_proto(ctx);
	key.port = (__be16)ctx->user_port;
	__builtin_memcpy(key.addr, ip6, sizeof(ip6));
	if (bpf_map_lookup_elem(&ip_allow, &key))
		return 1;
	return deny(&key, hook);
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	return judge4(ctx, ctx->user_ip4, 0);
}

SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx)
{
	return judge4(ctx, ctx->user_ip4, 2);
}

SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx)
{
	return judge6(ctx, 1);
}

SEC("cgroup/sendmsg6")
int sendmsg6(struct bpf_sock_addr *ctx)
{
	return judge6(ctx, 3);
}

char LICENSE[] SEC("license") = "GPL";
