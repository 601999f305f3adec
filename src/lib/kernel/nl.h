/* nl.h: rtnetlink through libmnl: the veth pair, addresses, routes and link state, and the
 * dumps of the host's addresses and routes that subnet planning avoids. Every mutating
 * message carries NLM_F_ACK; a socket works in the netns it was opened in. */
#pragma once

#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

#include <libmnl/libmnl.h>

#include "plan.h"
#include "util.h"

struct mnl_socket;

/* A fresh sequence number for a request. */
uint32_t nl_seq(void);
/* Send one request and read answers until its ack (or the end of a dump, which cb sees
 * message by message); a dump the kernel interrupted or a failure mid-dump is read off, so
 * the socket stays usable. 0 or the kernel's negative errno. Shared by every netlink family
 * sluice speaks (rtnetlink, nfnetlink, WireGuard's generic netlink). */
int nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

/* Open and bind a NETLINK_ROUTE (bus) socket in the current netns. */
int nl_open(int bus, struct mnl_socket **ret);
/* _cleanup_(mnl_socket_closep): a socket closed on every way out of its holder. */
DEFINE_CLEANUP_FUNC(struct mnl_socket, mnl_socket_close)

/* Create a veth pair: host_if here, its peer named cage_if inside the netns cage_netns_fd. */
int nl_veth_add(struct mnl_socket *nl, const char *host_if, const char *cage_if,
		int cage_netns_fd);
/* Delete a link by name; -ENODEV if none. */
int nl_link_del(struct mnl_socket *nl, const char *name);
/* ifindex of a link by name (RTM_GETLINK); -ENODEV if none. */
int nl_link_index(struct mnl_socket *nl, const char *name, unsigned *ret);
int nl_link_up(struct mnl_socket *nl, unsigned ifindex);
/* Add an address (IFA_F_NODAD for IPv6, so it is usable at once). */
int nl_addr_add(struct mnl_socket *nl, unsigned ifindex, int family, const void *addr,
		unsigned prefixlen);
/* Add a default route via gw on ifindex. */
int nl_route_add_default(struct mnl_socket *nl, unsigned ifindex, int family, const void *gw);

/* Move link NAME into the netns NETNS_FD, renaming it NEW_NAME there (NULL: keep it). */
int nl_link_move(struct mnl_socket *nl, const char *name, int netns_fd, const char *new_name);
int nl_link_mtu(struct mnl_socket *nl, unsigned ifindex, unsigned mtu);
/* A route to DST/DST_LEN straight out of link IFINDEX (no gateway: a tunnel's peers). A
 * route already there is replaced. */
int nl_route_add_dev(struct mnl_socket *nl, unsigned ifindex, int family, const void *dst,
		     unsigned dst_len);

/* Fill facts->taken with the subnets of every host address and every non-default route
 * (both families, main and local tables left as they are), and facts->local with the
 * host's own addresses (full-length prefixes). Arrays are malloc'd; caller frees. */
int nl_dump_prefixes(struct mnl_socket *nl, struct host_facts *facts);
/* For each unix socket of the netns diag (a NETLINK_SOCK_DIAG socket) was opened in that is
 * bound to a file whose inode number is ino (the kernel reports only its low 32 bits), fn(dev
 * of that file's superblock, the path it was bound at ("" if the kernel does not say), data),
 * until fn returns non-zero. Returns that value, 0 if none did, or a negative errno. */
typedef int (*nl_unix_bound_fn)(dev_t dev, const char *name, void *data);
int nl_unix_bound_each(struct mnl_socket *diag, uint32_t ino, nl_unix_bound_fn fn, void *data);
/* Names of links whose name starts with prefix (for gc); NULL-terminated strv. */
int nl_list_links(struct mnl_socket *nl, const char *prefix, char ***ret);

/*
 * Message builders, used above and by the unit tests (which parse them back with libmnl).
 * Each writes one complete nlmsghdr into buf (at least MNL_SOCKET_BUFFER_SIZE bytes) and
 * returns it.
 */
struct nlmsghdr *nl_build_veth_add(void *buf, uint32_t seq, const char *host_if,
				   const char *cage_if, int cage_netns_fd);
struct nlmsghdr *nl_build_addr_add(void *buf, uint32_t seq, unsigned ifindex, int family,
				   const void *addr, unsigned prefixlen);
struct nlmsghdr *nl_build_route_default(void *buf, uint32_t seq, unsigned ifindex, int family,
					const void *gw);
struct nlmsghdr *nl_build_link_up(void *buf, uint32_t seq, unsigned ifindex);
struct nlmsghdr *nl_build_link_move(void *buf, uint32_t seq, unsigned ifindex, int netns_fd,
				    const char *new_name);
struct nlmsghdr *nl_build_link_mtu(void *buf, uint32_t seq, unsigned ifindex, unsigned mtu);
struct nlmsghdr *nl_build_unix_diag(void *buf, uint32_t seq);
struct nlmsghdr *nl_build_route_dev(void *buf, uint32_t seq, unsigned ifindex, int family,
				    const void *dst, unsigned dst_len);
