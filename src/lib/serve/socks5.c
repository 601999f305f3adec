/* socks5.c: parsing and building the SOCKS5 messages of stream isolation (RFC 1928,
 * RFC 1929). The parsers take bytes from peers the relay does not trust: every length is
 * checked against what has arrived before it is used. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "socks5.h"

int socks5_parse_greeting(const uint8_t *buf, size_t len, bool *ret_no_auth)
{
	size_t n;

	if (len < 1)
		return 0;
	if (buf[0] != SOCKS5_VERSION)
		return -EBADMSG;
	if (len < 2)
		return 0;
	n = buf[1];
	if (n == 0)
		return -EBADMSG;
	if (len < 2 + n)
		return 0;
	*ret_no_auth = memchr(buf + 2, SOCKS5_METHOD_NONE, n) != NULL;
	return (int)(2 + n);
}

/* NAME (LEN bytes, not NUL-terminated) with anything but printable ASCII shown as '?', so
 * a log line stays one line whatever the client sent. */
static void dest_name(char *out, const uint8_t *name, size_t len, uint16_t port)
{
	size_t i;

	for (i = 0; i < len; i++)
		out[i] = name[i] > 0x20 && name[i] < 0x7f ? (char)name[i] : '?';
	snprintf(out + i, SOCKS5_DEST_MAX - i, ":%u", port);
}

int socks5_parse_request(const uint8_t *buf, size_t len, struct socks5_request *ret)
{
	size_t addr_len, need, off = 4;
	uint16_t port;
	char ip[INET6_ADDRSTRLEN];

	if (len < 1)
		return 0;
	if (buf[0] != SOCKS5_VERSION)
		return -EBADMSG;
	if (len < 2)
		return 0;
	if (buf[1] != SOCKS5_CMD_CONNECT)
		return -EOPNOTSUPP;
	if (len < 3)
		return 0;
	if (buf[2] != 0)
		return -EBADMSG;
	if (len < 4)
		return 0;
	switch (buf[3]) {
	case SOCKS5_ATYP_IPV4:
		addr_len = 4;
		break;
	case SOCKS5_ATYP_IPV6:
		addr_len = 16;
		break;
	case SOCKS5_ATYP_DOMAIN:
		if (len < 5)
			return 0;
		addr_len = buf[4];
		if (addr_len == 0)
			return -EBADMSG;
		off = 5;
		break;
	default:
		return -EAFNOSUPPORT;
	}
	need = off + addr_len + 2;
	if (len < need)
		return 0;

	port = (uint16_t)(buf[off + addr_len] << 8 | buf[off + addr_len + 1]);
	ret->len = need;
	ret->cmd = buf[1];
	ret->atyp = buf[3];
	ret->port = port;
	switch (buf[3]) {
	case SOCKS5_ATYP_IPV4:
		inet_ntop(AF_INET, buf + off, ip, sizeof(ip));
		snprintf(ret->dest, sizeof(ret->dest), "%s:%u", ip, port);
		break;
	case SOCKS5_ATYP_IPV6:
		inet_ntop(AF_INET6, buf + off, ip, sizeof(ip));
		snprintf(ret->dest, sizeof(ret->dest), "[%s]:%u", ip, port);
		break;
	default:
		dest_name(ret->dest, buf + off, addr_len, port);
		break;
	}
	return (int)need;
}

int socks5_parse_method_reply(const uint8_t *buf, size_t len, uint8_t *ret_method)
{
	if (len < 1)
		return 0;
	if (buf[0] != SOCKS5_VERSION)
		return -EBADMSG;
	if (len < 2)
		return 0;
	*ret_method = buf[1];
	return 2;
}

int socks5_parse_auth_reply(const uint8_t *buf, size_t len)
{
	if (len < 1)
		return 0;
	if (buf[0] != SOCKS5_AUTH_VERSION)
		return -EBADMSG;
	if (len < 2)
		return 0;
	return buf[1] == 0 ? 2 : -EACCES;
}

int socks5_build_greeting(uint8_t *buf, size_t size)
{
	if (size < 3)
		return -ENOBUFS;
	buf[0] = SOCKS5_VERSION;
	buf[1] = 1;
	buf[2] = SOCKS5_METHOD_USERPASS;
	return 3;
}

int socks5_build_auth(const char *user, const char *pass, uint8_t *buf, size_t size)
{
	size_t ulen = strlen(user), plen = strlen(pass);

	if (ulen < 1 || ulen > SOCKS5_CRED_MAX || plen < 1 || plen > SOCKS5_CRED_MAX)
		return -EINVAL;
	if (size < 3 + ulen + plen)
		return -ENOBUFS;
	buf[0] = SOCKS5_AUTH_VERSION;
	buf[1] = (uint8_t)ulen;
	memcpy(buf + 2, user, ulen);
	buf[2 + ulen] = (uint8_t)plen;
	memcpy(buf + 3 + ulen, pass, plen);
	return (int)(3 + ulen + plen);
}

void socks5_build_reply(uint8_t rep, uint8_t buf[SOCKS5_REPLY_LEN])
{
	memset(buf, 0, SOCKS5_REPLY_LEN);
	buf[0] = SOCKS5_VERSION;
	buf[1] = rep;
	buf[3] = SOCKS5_ATYP_IPV4;
}
