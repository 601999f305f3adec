/* bpf.c: loads the cage's sock_addr programs (bpf/sock.bpf.c, embedded as a skeleton), fills
 * their allow map from the plan and attaches them to the cage's cgroup so that they outlive
 * us; reads the denial counter; detaches at teardown. libbpf's own messages go to log_debug. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf.h"
#include "log.h"
#include "sock.skel.h"

DEFINE_CLEANUP_FUNC(struct sock_bpf, sock_bpf__destroy)

/* The allow map's key; the same layout as struct sock_key in bpf/sock.bpf.c. */
struct sock_key {
	uint8_t family;
	uint8_t proto;
	uint16_t port; /* network byte order */
	uint8_t addr[16];
};

struct bpf_cage {
	struct sock_bpf *skel;
};

/* The hooks, in the order they are attached (and rolled back in reverse). */
enum { HOOK_CONNECT4, HOOK_CONNECT6, HOOK_SENDMSG4, HOOK_SENDMSG6, N_HOOKS };

static const struct bpf_hook hooks[N_HOOKS] = {
    [HOOK_CONNECT4] = {"connect4", BPF_CGROUP_INET4_CONNECT},
    [HOOK_CONNECT6] = {"connect6", BPF_CGROUP_INET6_CONNECT},
    [HOOK_SENDMSG4] = {"sendmsg4", BPF_CGROUP_UDP4_SENDMSG},
    [HOOK_SENDMSG6] = {"sendmsg6", BPF_CGROUP_UDP6_SENDMSG},
};

static struct bpf_program *hook_prog(struct sock_bpf *skel, int i)
{
	switch (i) {
	case HOOK_CONNECT4:
		return skel->progs.connect4;
	case HOOK_CONNECT6:
		return skel->progs.connect6;
	case HOOK_SENDMSG4:
		return skel->progs.sendmsg4;
	default:
		return skel->progs.sendmsg6;
	}
}

static void prog_fds(struct sock_bpf *skel, int fds[N_HOOKS])
{
	for (int i = 0; i < N_HOOKS; i++)
		fds[i] = bpf_program__fd(hook_prog(skel, i));
}

_printf_(2, 0) static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t len;

	if (log_max_level < LOG_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	log_debug("%s", buf); /* libbpf prefixes its own "libbpf: " */
	return 0;
}

/* The library never prints: libbpf's default prints warnings to stderr, so replace it before
 * our first libbpf call. libbpf_set_print() is process-wide and cheap; calling it again is
 * harmless. */
static void route_libbpf_log(void)
{
	libbpf_set_print(libbpf_print);
}

/* Open the skeleton with room for n allow entries and load it into the kernel. */
static int load(size_t n, struct sock_bpf **ret)
{
	_cleanup_(sock_bpf__destroyp) struct sock_bpf *skel = NULL;
	int r;

	route_libbpf_log();

	skel = sock_bpf__open();
	if (!skel)
		return err_set(negative_errno(), "open eBPF programs");
	if (bpf_map__key_size(skel->maps.allow) != sizeof(struct sock_key))
		return err_set(-EPROTO, "eBPF allow map key is %u bytes, expected %zu",
			       bpf_map__key_size(skel->maps.allow), sizeof(struct sock_key));
	/* A hash map cannot have 0 entries; a cage with nothing allowed still needs the map. */
	r = bpf_map__set_max_entries(skel->maps.allow, n > 0 ? n : 1);
	if (r < 0)
		return err_set(r, "size eBPF allow map for %zu endpoints", n);
	r = sock_bpf__load(skel);
	if (r < 0)
		return err_set(r, "load eBPF programs");

	*ret = TAKE_PTR(skel);
	return 0;
}

static int key_from_endpoint(const struct endpoint *e, struct sock_key *ret)
{
	struct sock_key k = {};

	if (e->proto != IPPROTO_TCP && e->proto != IPPROTO_UDP)
		return -EINVAL;
	k.proto = e->proto;
	k.port = htons(e->port);
	if (e->family == AF_INET) {
		k.family = AF_INET;
		memcpy(k.addr, &e->ip.v4, sizeof(e->ip.v4));
	} else if (e->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&e->ip.v6)) {
		/* addr.c already stores these as IPv4; the hooks judge them as IPv4 too. */
		k.family = AF_INET;
		memcpy(k.addr, &e->ip.v6.s6_addr[12], 4);
	} else if (e->family == AF_INET6) {
		k.family = AF_INET6;
		memcpy(k.addr, &e->ip.v6, sizeof(e->ip.v6));
	} else {
		return -EAFNOSUPPORT;
	}
	*ret = k;
	return 0;
}

int bpf_hooks_attach(int cgroup_fd, const struct bpf_hook *h, const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (bpf_prog_attach(fds[i], cgroup_fd, h[i].type, BPF_F_ALLOW_MULTI) < 0) {
			int r = err_set(negative_errno(), "attach %s hook to cgroup", h[i].name);

			/* Undo in reverse; what cannot be detached goes with the cgroup. */
			while (i-- > 0)
				(void)bpf_prog_detach2(fds[i], cgroup_fd, h[i].type);
			return r;
		}
	}
	return 0;
}

int bpf_hooks_detach(int cgroup_fd, const struct bpf_hook *h, const int *fds, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n; i++)
		if (bpf_prog_detach2(fds[i], cgroup_fd, h[i].type) < 0 && r == 0)
			r = err_set(negative_errno(), "detach %s hook from cgroup", h[i].name);
	return r;
}

int bpf_cage_attach(int cgroup_fd, const struct allowed *allowed, size_t n, struct bpf_cage **ret)
{
	_cleanup_(sock_bpf__destroyp) struct sock_bpf *skel = NULL;
	struct bpf_cage *c;
	char buf[ADDR_STR_MAX];
	uint8_t one = 1;
	int fds[N_HOOKS];
	int r;

	r = load(n, &skel);
	if (r < 0)
		return r;

	for (size_t j = 0; j < n; j++) {
		struct sock_key key;

		r = key_from_endpoint(&allowed[j].ep, &key);
		if (r < 0)
			return err_set(r, "eBPF allow entry %zu", j);
		r = bpf_map__update_elem(skel->maps.allow, &key, sizeof(key), &one, sizeof(one),
					 BPF_ANY);
		if (r < 0)
			return err_set(r, "eBPF allow %s",
				       addr_format(&allowed[j].ep, buf, sizeof(buf)));
	}

	/* Attached to the cgroup itself, not through a bpf_link: see bpf_hooks_attach(). */
	prog_fds(skel, fds);
	r = bpf_hooks_attach(cgroup_fd, hooks, fds, N_HOOKS);
	if (r < 0)
		return r;

	c = calloc(1, sizeof(*c));
	if (!c) {
		(void)bpf_hooks_detach(cgroup_fd, hooks, fds, N_HOOKS);
		return err_set(-ENOMEM, "attach eBPF programs");
	}
	c->skel = TAKE_PTR(skel);
	*ret = c;
	return 0;
}

int bpf_cage_detach(struct bpf_cage *c, int cgroup_fd)
{
	int fds[N_HOOKS];

	if (!c || !c->skel)
		return -EBADF;
	prog_fds(c->skel, fds);
	return bpf_hooks_detach(cgroup_fd, hooks, fds, N_HOOKS);
}

int bpf_cage_denied(const struct bpf_cage *c, uint64_t *ret)
{
	_cleanup_free_ uint64_t *per_cpu = NULL;
	uint32_t zero = 0;
	uint64_t sum = 0;
	int ncpus, r;

	if (!c || !c->skel)
		return -EBADF;
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 0)
		return err_set(ncpus, "count possible CPUs");
	per_cpu = calloc(ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	r = bpf_map__lookup_elem(c->skel->maps.denied, &zero, sizeof(zero), per_cpu,
				 ncpus * sizeof(*per_cpu), 0);
	if (r < 0)
		return err_set(r, "read eBPF denial counter");
	for (int i = 0; i < ncpus; i++)
		sum += per_cpu[i];
	*ret = sum;
	return 0;
}

void bpf_cage_free(struct bpf_cage *c)
{
	if (!c)
		return;
	sock_bpf__destroy(c->skel);
	free(c);
}

void bpf_route_libbpf_log(void)
{
	route_libbpf_log();
}

int bpf_probe(void)
{
	_cleanup_(sock_bpf__destroyp) struct sock_bpf *skel = NULL;

	/* Loading the real programs (about 0.1 ms) proves what matters: this kernel accepts
	 * them, CO-RE relocations included, and we may load BPF at all. */
	return load(0, &skel);
}
