// SPDX-License-Identifier: GPL-2.0
/* unix.bpf.c: the unix sock_addr hooks of every cage (connect_unix, sendmsg_unix; kernel 6.7+),
 * loaded once and attached to the cgroup that holds all cages, like sock.bpf.c's. They back
 * the supervisor, which judges every pathname unix socket a caged process names by the socket
 * it reaches and connects or sends on the caller's behalf (src/broker.c): a process of a cage
 * (a cgroup with an entry) reaching a pathname socket by itself is refused, whatever the path;
 * the supervisor, outside every cage, is not. So a call the supervisor let the kernel carry on
 * with, and whose address or socket the caller then swapped, ends here with EPERM. Abstract
 * addresses pass: they belong to the cage's own netns. Refusals are counted per cage and their
 * paths kept for -v. */
/*
 * No CO-RE and no kfuncs here either: either makes libbpf parse the kernel's whole BTF (see
 * sock.bpf.c). The kernel's own way to read the path
 * (tools/testing/selftests/bpf/progs/connect_unix_prog.c) is bpf_cast_to_kern_ctx() and
 * bpf_rdonly_cast(), two kfuncs resolved against kernel BTF: a program doing that took 15 to
 * 25 ms to load on 6.18, this whole object about 1 ms. Instead, the context
 * pointer is handed to bpf_probe_read_kernel(), which reads struct bpf_sock_addr_kern (the
 * context really is one: __cgroup_bpf_run_filter_sock_addr() builds it on its stack) and then
 * the address it points to. The verifier lets a context pointer be a helper's plain argument
 * only for a loader with CAP_PERFMON ("allow_ptr_leaks"); sluice loads hooks as root anyway.
 * The layout read is checked at every call (the family must match what the verifier-rewritten
 * ctx->user_family reads through the same pointer, and the length must be one that
 * unix_validate_addr() let through); anything else is refused, so a kernel that changed the
 * layout gets EPERM everywhere, never an open door.
 */
#define BPF_NO_PRESERVE_ACCESS_INDEX
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define AF_UNIX	      1
#define SUN_PATH_SIZE 108 /* sizeof(((struct sockaddr_un *)0)->sun_path) */

/*
 * The head of struct bpf_sock_addr_kern (include/linux/filter.h) as it has been since the unix
 * hooks came (6.7, which added uaddrlen): declared here rather than taken from vmlinux.h, so the
 * build does not depend on the build machine's kernel having the hooks.
 * https://github.com/torvalds/linux/blob/master/include/linux/filter.h (bpf_sock_addr_kern)
 */
struct sock_addr_kern_head {
	__u64 sk;
	__u64 uaddr; /* struct sockaddr *: the kernel's copy of the caller's address */
	__u64 tmp_reg;
	__u64 t_ctx;
	__u32 uaddrlen; /* the caller's addrlen, already checked by unix_validate_addr() */
};

/* Which build of sluice loaded these hooks (see sock.bpf.c); the only .rodata variable. */
const volatile __u64 sluice_build = 0;

/* The refused paths map's key: keep in step with struct unix_key in src/unixguard.c. The cage
 * is its cgroup id (8 bytes, as stored in memory); the path has room for a 108-byte sun_path
 * and its NUL. */
#define KEY_PATH_SIZE 112
struct unix_key {
	__u8 cage[8];
	char path[KEY_PATH_SIZE];
};

/* Denials per cage, per CPU (summed by the loader), like sock.bpf.c's. Its entries are also
 * what makes a cgroup a cage's: the loader enters one before the cage's first process may run
 * anything of the user's, and removes it once the cage's processes are gone. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, __u64);
} unix_denied SEC(".maps");

/* The paths refused, with a count each; the least
 * recently refused ones (of any cage) make room. An empty path stands for an address that
 * could not be read. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct unix_key);
	__type(value, __u64);
} unix_paths SEC(".maps");

static __always_inline int deny(__u64 *count, struct unix_key *key)
{
	__u64 one = 1, *n;

	__sync_fetch_and_add(count, 1);
	n = bpf_map_lookup_elem(&unix_paths, key);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&unix_paths, key, &one, BPF_NOEXIST);
	/* A (volatile) read of the build id puts .rodata among the programs' maps. */
	(void)sluice_build;
	return 0;
}

static __always_inline int judge(struct bpf_sock_addr *ctx)
{
	struct sock_addr_kern_head head;
	struct unix_key key = {};
	__u64 cage = bpf_get_current_cgroup_id();
	__u64 *count = bpf_map_lookup_elem(&unix_denied, &cage);
	__u16 family = 0;
	__u32 len;

	/* Not a process of a cage: the supervisor, connecting for one on a socket it made. */
	if (!count)
		return 1;
	__builtin_memcpy(key.cage, &cage, sizeof(cage));

	if (bpf_probe_read_kernel(&head, sizeof(head), ctx) < 0 ||
	    bpf_probe_read_kernel(&family, sizeof(family), (void *)head.uaddr) < 0 ||
	    family != AF_UNIX || ctx->user_family != AF_UNIX)
		return deny(count, &key);
	/* unix_validate_addr() admits 3..110 bytes: the family and 1..108 of sun_path. */
	len = head.uaddrlen;
	if (len <= sizeof(__u16) || len > sizeof(__u16) + SUN_PATH_SIZE)
		return deny(count, &key);
	len -= sizeof(__u16);

	/* The path as the kernel uses it: the caller's bytes up to the first NUL or to addrlen;
	 * the key was zeroed, so the path kept for -v is exactly that string. */
	if (bpf_probe_read_kernel_str(key.path, len + 1, (void *)(head.uaddr + sizeof(__u16))) < 0)
		return deny(count, &key);
	/* Abstract (a NUL first): the name space is the netns's, and the cage's is its own. */
	if (key.path[0] == '\0')
		return 1;
	return deny(count, &key);
}

SEC("cgroup/connect_unix")
int connect_unix(struct bpf_sock_addr *ctx)
{
	return judge(ctx);
}

SEC("cgroup/sendmsg_unix")
int sendmsg_unix(struct bpf_sock_addr *ctx)
{
	return judge(ctx);
}

char LICENSE[] SEC("license") = "GPL";
