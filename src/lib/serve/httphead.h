/* httphead.h: the head of an HTTP/1.x request a caged client sends its proxy, as the proxy's
 * forward rewrites it to add the credentials the cage never holds. Pure: bytes in, bytes
 * out; no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define HTTP_HEAD_MAX 16384 /* a longer head is refused (431) */

/*
 * The length of the request head at the start of BUF (LEN bytes so far), through the empty
 * line that ends it (CRLF CRLF; a bare LF is taken for CRLF, as RFC 9112 allows): > 0 once
 * it is complete, 0 if more bytes are needed, -EMSGSIZE if HTTP_HEAD_MAX bytes hold no end.
 */
int http_head_len(const char *buf, size_t len);

/*
 * Rewrite the complete head HEAD (LEN bytes, as http_head_len found them) into OUT (SIZE
 * bytes): the request line as it is, then its header fields but Proxy-Authorization (the
 * client's own is dropped) and, unless the method is CONNECT, Connection, Proxy-Connection
 * and Keep-Alive; then "Proxy-Authorization: CREDENTIALS" and, unless CONNECT,
 * "Connection: close" (each later request would need the credentials too, so each request
 * gets a connection of its own), and the empty line; line ends as CRLF. Returns the length
 * written, -EBADMSG for a head that is not a request (a request line of METHOD SP TARGET
 * SP HTTP/1.x; fields of NAME ":" VALUE, NAME a token; no NUL, no bare CR, no obsolete line
 * folding, which proxies read in different ways), or -ENOBUFS. *ret_connect says whether
 * the method is CONNECT.
 */
int http_head_rewrite(const char *head, size_t len, const char *credentials, char *out,
		      size_t size, bool *ret_connect);
