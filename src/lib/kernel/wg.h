/* wg.h: WireGuard devices, configured and read through either backend: the kernel's (link by
 * rtnetlink, configuration by the "wireguard" generic-netlink family) or wireguard-go's (the
 * UAPI text protocol on its unix socket), and the wireguard-go process itself. Sockets work
 * in the netns they were opened in. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "util.h"
#include "wgconf.h"

struct mnl_socket;
struct nlmsghdr;

/* Where wireguard-go puts its UAPI sockets: compiled into it, no flag or variable moves it. */
#define WG_RUN_DIR "/var/run/wireguard"

/* --- reading (the API `sluice maddr verify` uses) -------------------------------------- */

struct wg_peer_info {
	uint8_t public_key[32];
	bool has_preshared_key;	       /* the key itself is not kept */
	union wg_sockaddr endpoint;    /* family 0 if none (or not an IP:port we read) */
	uint16_t persistent_keepalive; /* seconds, 0 off */
	struct wg_prefix *allowed_ips;
	size_t n_allowed_ips;
	int64_t last_handshake_sec; /* 0 never */
	uint64_t rx_bytes, tx_bytes;
};

struct wg_device_info {
	char name[16];
	bool has_public_key;
	uint8_t public_key[32]; /* from the kernel, or derived (x25519) from the private key */
	struct wg_peer_info *peers;
	size_t n_peers;
	uint16_t listen_port;
	bool kernel; /* read by genetlink (else through a UAPI socket) */
};

/* Names of live WireGuard interfaces in this netns: kernel ones (rtnetlink kind "wireguard")
 * and userspace ones (UAPI sockets in /var/run/wireguard that accept a connection; that
 * directory is shared by every netns, so a wireguard-go whose tun was moved elsewhere is
 * listed too). Sorted, no repeats, NULL-terminated. */
int wg_list_devices(char ***ret);
/* Read one live device (kernel genetlink, else its UAPI socket); public key derived from the
 * private key (x25519) where only that is known. -ENODEV if there is none of that name. */
int wg_get_device(const char *name, struct wg_device_info *ret);
/* Free what it holds; accepts NULL and a zeroed struct. */
void wg_device_info_free(struct wg_device_info *d);
/* For one held by value: _cleanup_(wg_device_info_freep) struct wg_device_info d = {0}. */
static inline void wg_device_info_freep(struct wg_device_info *d)
{
	wg_device_info_free(d);
}

/* A valid Linux interface name: 1-15 bytes, not "." or "..", no '/', ':' or whitespace. */
bool wg_ifname_valid(const char *name);

/* --- kernel backend ------------------------------------------------------------------------ */

/* The id of the "wireguard" genetlink family; -ENOENT if the kernel has none. */
int wg_genl_family(struct mnl_socket *genl, uint16_t *ret);
/* Create a WireGuard link (mtu 0: the kernel's default). */
int wg_kernel_link_add(struct mnl_socket *rtnl, const char *ifname, unsigned mtu);
/* Replace the device's configuration (private key, port, all peers) with c's, in as many
 * messages as it takes. */
int wg_kernel_set(struct mnl_socket *genl, const char *ifname, const struct wg_config *c);
/* -ENODEV if there is no such link, -EOPNOTSUPP if it is not a kernel WireGuard one. */
int wg_kernel_get(struct mnl_socket *genl, const char *ifname, struct wg_device_info *ret);

/*
 * Message builders, used above and by the unit tests (which parse them back with libmnl).
 * Each writes one complete nlmsghdr into buf and returns it; the fixed-size ones need
 * MNL_SOCKET_BUFFER_SIZE bytes.
 */
struct nlmsghdr *wg_build_newlink(void *buf, uint32_t seq, const char *ifname, unsigned mtu);
/* CTRL_CMD_GETFAMILY for "wireguard". */
struct nlmsghdr *wg_build_getfamily(void *buf, uint32_t seq);
/* WG_CMD_GET_DEVICE, a dump, for ifname. */
struct nlmsghdr *wg_build_get_device(void *buf, uint32_t seq, uint16_t family, const char *ifname);

/* Where a WG_CMD_SET_DEVICE sequence stands. Start zeroed; each build continues from it. */
struct wg_set_cursor {
	bool device_done;  /* the first message, with the device's own attributes, is built */
	size_t peer;	   /* the next peer to put */
	size_t allowed_ip; /* its next allowed IP */
	bool peer_open;	   /* its own attributes went in an earlier message: only IPs follow */
	bool done;
};
/* The next WG_CMD_SET_DEVICE message of at most size bytes. As wireguard-tools does, a
 * configuration too big for one message is split: the first carries the private key, port
 * and WGDEVICE_F_REPLACE_PEERS; a peer cut short continues in the next message with only its
 * public key and the rest of its allowed IPs (no flags, so nothing is replaced twice).
 * Call until cur->done. NULL if size is too small to make progress. */
struct nlmsghdr *wg_build_set_device(void *buf, size_t size, uint32_t seq, uint16_t family,
				     const char *ifname, const struct wg_config *c,
				     struct wg_set_cursor *cur);
/* Add one message of a WG_CMD_GET_DEVICE dump to d (a peer split across messages is
 * joined). 0 or a negative errno. */
int wg_parse_device_msg(const struct nlmsghdr *nlh, struct wg_device_info *d);

/* --- userspace backend: wireguard-go's UAPI ---------------------------------------------- */

/* The "set=1" request for c, terminated by its blank line: replace_peers and
 * replace_allowed_ips, so the device ends up holding exactly c. Malloc'd, NUL-terminated;
 * it holds the private key (hex): wipe before freeing. */
int wg_uapi_build_set(const struct wg_config *c, char **ret, size_t *ret_len);
/* A reply's status: 0 for "errno=0", -N for errno=N (either sign), -EPROTO without one. */
int wg_uapi_parse_errno(const char *text, size_t len);
/* A "get=1" reply (through its errno line) into ret; the device name is left empty. */
int wg_uapi_parse_get(const char *text, size_t len, struct wg_device_info *ret);
/* Exchange with the daemon at sock_path (5 s timeouts). */
int wg_uapi_set(const char *sock_path, const struct wg_config *c);
int wg_uapi_get(const char *sock_path, struct wg_device_info *ret);
/* Whether path is a socket some wireguard-go answers on (a stale one refuses). It does not
 * wait: a full backlog counts as live, as does anything that cannot be told. */
bool wg_uapi_live(const char *path);

/* --- the wireguard-go process -------------------------------------------------------------- */

struct wggo {
	pid_t pid;
	int pidfd;  /* -1 once stopped */
	int log_fd; /* a sealed 64 KiB memfd holding its stdout and stderr (see wggo_log) */
	char ifname[IFNAMSIZ];
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Start `wireguard-go -f IFNAME` in the current netns (its tun and UDP socket are made
 * there) and wait until its UAPI socket answers (5 s at most). run_dir NULL: the socket is
 * /var/run/wireguard/IFNAME.sock as usual. Otherwise wireguard-go runs in a mount namespace
 * of its own where run_dir is bind-mounted over /var/run/wireguard, so the socket is
 * RUN_DIR/IFNAME.sock and no other netns's daemon of the same name collides with it.
 * The process is killed if this thread exits (PR_SET_PDEATHSIG). */
int wggo_start(const char *ifname, const char *run_dir, struct wggo *ret);
/* SIGTERM, then SIGKILL after 3 s; reaped (through its pidfd; a caller that reaps with
 * waitpid(-1) may get there first, which is fine); its socket removed if it was left. The
 * tun device goes with the process. Idempotent. */
int wggo_stop(struct wggo *w);
/* What it wrote (its log) so far (at most size - 1 bytes, NUL-terminated); the length. */
size_t wggo_log(const struct wggo *w, char *buf, size_t size);

/* Between the files of the WireGuard module (wg.c, wguapi.c, wggo.c): a device's peers and
 * allowed IPs as a parser adds them (both backends'), and one UAPI request and its reply. */
int wg_device_peer_add(struct wg_device_info *d, const uint8_t key[32], struct wg_peer_info **ret);
int wg_device_allowed_ip_add(struct wg_device_info *d, struct wg_peer_info *p,
			     const struct wg_prefix *a);
int wg_uapi_exchange(const char *sock_path, const char *req, size_t req_len, char **ret,
		     size_t *ret_len);
