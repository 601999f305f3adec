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
 * cache line between CPUs; the loader enters a cage's zeros and sums them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, __u64);
} ip_denied SEC(".maps");

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

static __always_inline int deny(__u64 cage)
{
	__u64 *n = bpf_map_lookup_elem(&ip_denied, &cage);

	if (n)
		__sync_fetch_and_add(n, 1); /* this CPU's slot, but we may be preempted */
	/* A (volatile) read of the build id puts .rodata among the maps of every program, where
	 * the loader looks for it. */
	(void)sluice_build;
	return 0;
}

static __always_inline int judge4(struct bpf_sock_addr *ctx, __be32 ip4)
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
	return deny(key.cage);
}

static __always_inline int judge6(struct bpf_sock_addr *ctx)
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
		return judge4(ctx, ip6[3]);
	if (ip6[0] == 0 && ip6[1] == 0 && ip6[2] == 0 && ip6[3] == bpf_htonl(1))
		return 1; /* ::1 */

	key.cage = bpf_get_current_cgroup_id();
	key.family = AF_INET6;
	key.proto = sock_proto(ctx);
	key.port = (__be16)ctx->user_port;
	__builtin_memcpy(key.addr, ip6, sizeof(ip6));
	if (bpf_map_lookup_elem(&ip_allow, &key))
		return 1;
	return deny(key.cage);
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	return judge4(ctx, ctx->user_ip4);
}

SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx)
{
	return judge4(ctx, ctx->user_ip4);
}

SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx)
{
	return judge6(ctx);
}

SEC("cgroup/sendmsg6")
int sendmsg6(struct bpf_sock_addr *ctx)
{
	return judge6(ctx);
}

char LICENSE[] SEC("license") = "GPL";
