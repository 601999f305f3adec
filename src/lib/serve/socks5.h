/* socks5.h: the SOCKS5 messages the relay exchanges for stream isolation (RFC 1928, and
 * RFC 1929 username/password). Pure: parsers of what the in-cage client and the upstream
 * proxy send, builders of what the relay sends. No I/O; bytes in, bytes out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SOCKS5_VERSION	    0x05
#define SOCKS5_AUTH_VERSION 0x01 /* RFC 1929's sub-negotiation version */

enum socks5_method {
	SOCKS5_METHOD_NONE = 0x00,     /* no authentication */
	SOCKS5_METHOD_USERPASS = 0x02, /* RFC 1929 */
	SOCKS5_METHOD_REFUSED = 0xff,  /* no acceptable method */
};

enum socks5_cmd {
	SOCKS5_CMD_CONNECT = 0x01,
	SOCKS5_CMD_BIND = 0x02,
	SOCKS5_CMD_UDP_ASSOCIATE = 0x03,
};

enum socks5_atyp {
	SOCKS5_ATYP_IPV4 = 0x01,
	SOCKS5_ATYP_DOMAIN = 0x03,
	SOCKS5_ATYP_IPV6 = 0x04,
};

enum socks5_rep {
	SOCKS5_REP_SUCCEEDED = 0x00,
	SOCKS5_REP_FAILURE = 0x01,
	SOCKS5_REP_CMD_UNSUPPORTED = 0x07,
	SOCKS5_REP_ATYP_UNSUPPORTED = 0x08,
};

/* The largest message of each kind: a buffer this big never needs more bytes to decide. */
#define SOCKS5_GREETING_MAX (2 + 255)	      /* VER NMETHODS METHODS[1..255] */
#define SOCKS5_REQUEST_MAX  (4 + 1 + 255 + 2) /* VER CMD RSV ATYP [LEN] ADDR PORT */
#define SOCKS5_AUTH_MAX	    (3 + 255 + 255)   /* VER ULEN USER PLEN PASS */
#define SOCKS5_REPLY_LEN    10		      /* a reply with an IPv4 BND.ADDR */
#define SOCKS5_CRED_MAX	    255

/* The destination as text, for logging: "10.0.0.1:80", "[fd00::1]:443", "example.com:80"
 * (bytes of a name outside printable ASCII shown as '?'). */
#define SOCKS5_DEST_MAX (255 + 1 + 5 + 1)

struct socks5_request {
	size_t len;    /* bytes the request takes, exactly */
	uint8_t cmd;   /* always SOCKS5_CMD_CONNECT when parsed successfully */
	uint8_t atyp;  /* enum socks5_atyp */
	uint16_t port; /* host byte order */
	char dest[SOCKS5_DEST_MAX];
};

/*
 * The parsers look at the LEN bytes received so far and return the message's length (> 0)
 * once it is complete (bytes after it are the peer's next message, left alone), 0 if more
 * bytes are needed, or a negative errno: -EBADMSG for a malformed message (checked as soon
 * as the bytes that make it malformed are in), and the others listed below.
 */

/* A client's method offer: VER=5, NMETHODS >= 1, METHODS. *ret_no_auth says whether method
 * 00 is among them. */
int socks5_parse_greeting(const uint8_t *buf, size_t len, bool *ret_no_auth);

/* A client's request: VER=5, CMD, RSV=0, ATYP, DST.ADDR, DST.PORT. A command other than
 * CONNECT gives -EOPNOTSUPP (reply SOCKS5_REP_CMD_UNSUPPORTED) and an unknown address type
 * -EAFNOSUPPORT (reply SOCKS5_REP_ATYP_UNSUPPORTED), both as soon as that byte is in. A
 * domain name of length 0 is malformed. *ret is written only on success. */
int socks5_parse_request(const uint8_t *buf, size_t len, struct socks5_request *ret);

/* The upstream's method selection: VER=5, METHOD (returned in *ret_method, any value). */
int socks5_parse_method_reply(const uint8_t *buf, size_t len, uint8_t *ret_method);

/* The upstream's RFC 1929 verdict: VER=1, STATUS. A non-zero STATUS gives -EACCES. */
int socks5_parse_auth_reply(const uint8_t *buf, size_t len);

/* The relay's greeting to the upstream: offers username/password only (05 01 02).
 * Returns its length (3) or -ENOBUFS if SIZE is too small. */
int socks5_build_greeting(uint8_t *buf, size_t size);

/* RFC 1929's request: 01 ULEN USER PLEN PASS. USER and PASS are 1..255 bytes (else
 * -EINVAL). Returns its length or -ENOBUFS if SIZE is too small. */
int socks5_build_auth(const char *user, const char *pass, uint8_t *buf, size_t size);

/* A reply to the client carrying only REP (BND.ADDR 0.0.0.0:0), for refusals. */
void socks5_build_reply(uint8_t rep, uint8_t buf[SOCKS5_REPLY_LEN]);
