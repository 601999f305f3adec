/* nlassert.h: what the unit tests of sluice's netlink builders and parsers (test_nl, test_wg)
 * share: indexing a message's attributes while requiring that they tile it exactly, and
 * asserting what an attribute or a header holds. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>

#define MAX_ATTR 64

/* Index the attributes of [start, start+len) by type; they must tile the region exactly (no
 * truncated or trailing bytes) and no type may repeat. */
void parse_exact(const void *start, size_t len, const struct nlattr *tb[MAX_ATTR]);
/* The same for a message's attributes, after its EXTRA bytes of family header. */
void parse_msg(const struct nlmsghdr *nlh, size_t extra, const struct nlattr *tb[MAX_ATTR]);
/* The same for a nested attribute's. */
void parse_nest(const struct nlattr *nest, const struct nlattr *tb[MAX_ATTR]);

void assert_strz_attr(const struct nlattr *a, const char *want);
void assert_u32_attr(const struct nlattr *a, uint32_t want);
void assert_bytes_attr(const struct nlattr *a, const void *want, size_t len);
/* NLH is at BUF, of TYPE with exactly FLAGS and SEQ, no port id, and a 4-aligned length. */
void assert_header(const struct nlmsghdr *nlh, const void *buf, uint16_t type, uint16_t flags,
		   uint32_t seq);

/* cmocka group setup: the test process moves into a network namespace of its own. */
int enter_private_netns(void **state);
