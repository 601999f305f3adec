/* nlassert.c: see nlassert.h. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h> /* after stdarg.h, stddef.h, setjmp.h and stdint.h */

#include "nlassert.h"

void parse_exact(const void *start, size_t len, const struct nlattr *tb[MAX_ATTR])
{
	const struct nlattr *attr;

	memset(tb, 0, MAX_ATTR * sizeof(*tb));
	mnl_attr_for_each_payload(start, len)
	{
		uint16_t type = mnl_attr_get_type(attr);

		assert_true(type < MAX_ATTR);
		assert_null(tb[type]);
		tb[type] = attr;
	}
	assert_ptr_equal((const char *)attr, (const char *)start + len);
}

void parse_msg(const struct nlmsghdr *nlh, size_t extra, const struct nlattr *tb[MAX_ATTR])
{
	const char *payload = mnl_nlmsg_get_payload_offset(nlh, extra);

	assert_true(nlh->nlmsg_len >= MNL_NLMSG_HDRLEN + MNL_ALIGN(extra));
	parse_exact(payload, (size_t)((const char *)nlh + nlh->nlmsg_len - payload), tb);
}

void parse_nest(const struct nlattr *nest, const struct nlattr *tb[MAX_ATTR])
{
	assert_non_null(nest);
	parse_exact(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), tb);
}

void assert_strz_attr(const struct nlattr *a, const char *want)
{
	assert_non_null(a);
	assert_int_equal(mnl_attr_validate(a, MNL_TYPE_NUL_STRING), 0);
	assert_string_equal(mnl_attr_get_str(a), want);
}

void assert_u32_attr(const struct nlattr *a, uint32_t want)
{
	assert_non_null(a);
	assert_int_equal(mnl_attr_get_payload_len(a), sizeof(uint32_t));
	assert_int_equal(mnl_attr_get_u32(a), want);
}

void assert_bytes_attr(const struct nlattr *a, const void *want, size_t len)
{
	assert_non_null(a);
	assert_int_equal(mnl_attr_get_payload_len(a), len);
	assert_memory_equal(mnl_attr_get_payload(a), want, len);
}

void assert_header(const struct nlmsghdr *nlh, const void *buf, uint16_t type, uint16_t flags,
		   uint32_t seq)
{
	assert_ptr_equal(nlh, buf);
	assert_int_equal(nlh->nlmsg_type, type);
	assert_int_equal(nlh->nlmsg_flags, flags);
	assert_int_equal(nlh->nlmsg_seq, seq);
	assert_int_equal(nlh->nlmsg_pid, 0);
	assert_int_equal(nlh->nlmsg_len % 4, 0);
}

int enter_private_netns(void **state)
{
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %m (the tests need root)\n");
		return -1;
	}
	return 0;
}
