/* wgconf.h: wg-quick configuration files, parsed into a struct wg_config that both WireGuard
 * backends take; the standard-base64 keys of wg(8); and the IP-only endpoint and prefix
 * forms shared with the UAPI text. Pure: no kernel, no network, no hooks ever run. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WG_KEY_LEN     32
#define WG_KEY_B64_LEN 44 /* with the one '=' of padding; 45 with the NUL */

/* Limits on what a config (or a device read back) may hold. */
#define WGCONF_MAX_SIZE	   (1024 * 1024)
#define WG_MAX_PEERS	   4096
#define WG_MAX_ALLOWED_IPS 65536 /* over all peers */
#define WG_MAX_ADDRESSES   256
#define WG_MAX_DNS	   16

struct wg_prefix {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} ip;
	unsigned cidr;
};

/* An IP address and port; family 0 when there is none. */
union wg_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct wg_peer_config {
	uint8_t public_key[WG_KEY_LEN];
	bool has_preshared_key;
	uint8_t preshared_key[WG_KEY_LEN];
	union wg_sockaddr endpoint;
	uint16_t persistent_keepalive; /* seconds; 0 is off */
	struct wg_prefix *allowed_ips; /* host bits cleared, as the kernel keeps them */
	size_t n_allowed_ips;
	unsigned line; /* of its [Peer], for messages */
};

struct wg_config {
	uint8_t private_key[WG_KEY_LEN]; /* always set: a config without one is refused */
	bool has_listen_port;
	uint16_t listen_port;
	unsigned mtu;		     /* 0 if not given */
	struct wg_prefix *addresses; /* the interface's own, host bits kept */
	size_t n_addresses;
	struct wg_prefix *dns; /* full-length prefixes: plain addresses */
	size_t n_dns;
	struct wg_peer_config *peers;
	size_t n_peers;
};

/* Read and parse the wg-quick file at path. Errors via err_invalid("PATH:LINE: ...") (or
 * err_set for an unreadable file); returns 0 or a negative errno. */
int wgconf_load(const char *path, struct wg_config *ret);

/*
 * A configuration built key by key (a profile's wireguard: mapping) with the checks and
 * limits of the file format, and messages that name each key's own place: WHERE (say
 * "prof.yaml:4:12: wireguard") instead of NAME:LINE. A section first ([Interface], or a
 * [Peer] each time), then its keys by their wg-quick names, values as one line of the file
 * would give them (lists comma-separated). After a failure every call returns it; finish
 * gives the configuration (or the error) and frees the builder.
 */
struct wgconf_builder;
int wgconf_builder_new(const char *name_for_errors, struct wgconf_builder **ret);
int wgconf_builder_section(struct wgconf_builder *b, bool peer, unsigned line);
int wgconf_builder_set(struct wgconf_builder *b, const char *key, const char *value, unsigned line,
		       const char *where);
int wgconf_builder_finish(struct wgconf_builder *b, struct wg_config *ret);
void wgconf_builder_free(struct wgconf_builder *b);
/* Parse len bytes of text; name_for_errors prefixes messages. Pure. */
int wgconf_parse(const char *text, size_t len, const char *name_for_errors, struct wg_config *ret);
/* Free what a config holds and wipe its keys; accepts a zeroed or NULL config. */
void wg_config_free(struct wg_config *c);

/* Standard base64 (with '=' padding) of a 32-byte key, as wg(8) prints it. decode returns 0
 * or -EINVAL (not 44 characters, not base64, or not canonical). */
int wg_key_b64_decode(const char *s, uint8_t key[WG_KEY_LEN]);
void wg_key_b64_encode(const uint8_t key[WG_KEY_LEN], char out[WG_KEY_B64_LEN + 1]);
/* The public key of a private key (X25519 with the base point, the key clamped). */
int wg_public_key(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN]);

/* "a.b.c.d:port" or "[v6]:port" (IP only, port 1-65535). 0, or -EINVAL with the reason
 * recorded (err_message(): a phrase to follow the value, "is not an IPv4 address"). */
int wg_endpoint_parse(const char *s, union wg_sockaddr *ret);
/* The same form back; out holds at least WG_ENDPOINT_STR_MAX bytes. */
#define WG_ENDPOINT_STR_MAX (INET6_ADDRSTRLEN + 9)
void wg_endpoint_format(const union wg_sockaddr *e, char *out);
/* "ip[/cidr]"; a bare address is full length. mask clears host bits. 0 or -EINVAL. */
int wg_prefix_parse(const char *s, bool mask, struct wg_prefix *ret);
/* "ip/cidr"; out holds at least WG_PREFIX_STR_MAX bytes. */
#define WG_PREFIX_STR_MAX (INET6_ADDRSTRLEN + 4)
void wg_prefix_format(const struct wg_prefix *p, char *out);
