// SPDX-License-Identifier: GPL-2.0
/* unix.bpf.c: the cage's cgroup unix sock_addr hooks (connect_unix, sendmsg_unix; kernel 6.7+).
 * A pathname destination passes if it equals an allowed path or lies below an allowed
 * directory (the cage's private /tmp and runtime directory among them); abstract addresses
 * pass (they belong to the cage's own netns). Anything else is counted, its path kept for -v,
 * and refused, which the kernel turns into EPERM. */

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

/* The allow map's key (an LPM trie): keep in step with struct unix_key in src/unixguard.c.
 * A directory "/d/" is stored with prefixlen 8 * strlen: it matches every path below it. A
 * socket "/d/s" is stored with its terminating NUL, prefixlen 8 * (strlen + 1): it matches
 * that path and nothing longer. One lookup answers both. The path has room for a 108-byte
 * sun_path, its NUL, and the ".." scan's look-ahead. */
#define KEY_PATH_SIZE 112
struct unix_key {
	__u32 prefixlen; /* in bits */
	char path[KEY_PATH_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1); /* resized by the loader before load */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct unix_key);
	__type(value, __u8);
} allow SEC(".maps");

/* One counter per cage, per CPU (summed by the loader), like sock.bpf.c's. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} denied SEC(".maps");

/* The paths refused, with a count each; least recently refused ones make room. An empty path
 * stands for an address that could not be read. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, char[KEY_PATH_SIZE]);
	__type(value, __u64);
} denied_paths SEC(".maps");

static __always_inline int deny(const char *path)
{
	__u32 zero = 0;
	__u64 one = 1, *n = bpf_map_lookup_elem(&denied, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	n = bpf_map_lookup_elem(&denied_paths, path);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&denied_paths, path, &one, BPF_NOEXIST);
	return 0;
}

/* The path being judged, and what the scan for ".." found. */
struct judged {
	struct unix_key key;
	bool dotdot;
};

/* bpf_loop() callback: is position i the start of a ".." component? (A bpf_loop() callback is
 * verified once; the same scan as a bounded loop kept a verifier state per iteration and took
 * 11 ms per program to verify, unrolled 6 ms; this way the whole object loads in about 2 ms.) */
static long dotdot_at(__u32 i, void *data)
{
	struct judged *j = data;
	const char *p;

	if (i >= KEY_PATH_SIZE - 3)
		return 1;
	p = j->key.path + i;
	if (p[0] == '\0')
		return 1;
	if (p[0] == '/' && p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0')) {
		j->dotdot = true;
		return 1;
	}
	return 0;
}

static __always_inline int judge(struct bpf_sock_addr *ctx)
{
	struct sock_addr_kern_head head;
	struct judged j = {};
	__u16 family = 0;
	__u32 len;

	if (bpf_probe_read_kernel(&head, sizeof(head), ctx) < 0 ||
	    bpf_probe_read_kernel(&family, sizeof(family), (void *)head.uaddr) < 0 ||
	    family != AF_UNIX || ctx->user_family != AF_UNIX)
		return deny(j.key.path);
	/* unix_validate_addr() admits 3..110 bytes: the family and 1..108 of sun_path. */
	len = head.uaddrlen;
	if (len <= sizeof(__u16) || len > sizeof(__u16) + SUN_PATH_SIZE)
		return deny(j.key.path);
	len -= sizeof(__u16);

	/*
	 * The path as the kernel uses it: the caller's bytes up to the first NUL or to addrlen
	 * (unix_mkname_bsd() ends it there; past addrlen lies whatever the kernel's buffer held
	 * before). The _str read stops at either and ends the copy with a NUL; the key was
	 * zeroed, so the key (and the path kept for -v) is exactly that string.
	 */
	if (bpf_probe_read_kernel_str(j.key.path, len + 1, (void *)(head.uaddr + sizeof(__u16))) <
	    0)
		return deny(j.key.path);
	/* Abstract (a NUL first): the name space is the netns's, and the cage's is its own. */
	if (j.key.path[0] == '\0')
		return 1;
	/* A relative path means something else in every working directory: no prefix can
	 * judge it, so it is refused (bind and connect by absolute path in the cage). */
	if (j.key.path[0] != '/')
		return deny(j.key.path);
	/* "/tmp/../run/x" must not pass as below "/tmp/". */
	if (bpf_loop(KEY_PATH_SIZE - 3, dotdot_at, &j, 0) < 0 || j.dotdot)
		return deny(j.key.path);

	j.key.prefixlen = KEY_PATH_SIZE * 8;
	if (bpf_map_lookup_elem(&allow, &j.key))
		return 1;
	return deny(j.key.path);
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
