/* nft.h: the cage's and the host side's nftables rulesets. One internal description of each
 * ruleset feeds both the `nft -f` text that `sluice check` prints and the libnftnl batch that
 * apply sends, so the two can never disagree. */
#pragma once

#include <stdint.h>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>

#include "plan.h"
#include "text.h"
#include "util.h"

struct mnl_socket;

/* The libnftnl objects a batch is built from, each freed on every way out of its builder. */
DEFINE_CLEANUP_FUNC(struct nftnl_table, nftnl_table_free)
DEFINE_CLEANUP_FUNC(struct nftnl_chain, nftnl_chain_free)
DEFINE_CLEANUP_FUNC(struct nftnl_rule, nftnl_rule_free)
DEFINE_CLEANUP_FUNC(struct nftnl_expr, nftnl_expr_free)

/* Append the ruleset as `nft -f` text (a full "table inet NAME { ... }" block). */
int nft_render_cage(const struct plan *p, struct text *f);
int nft_render_host(const struct plan *p, struct text *f);

/*
 * Build the whole ruleset as one NFNL batch (begin, table, chains, rules, end) into buf,
 * sequence numbers starting at seq. Returns the batch length (> 0) or a negative errno
 * (-ENOSPC when buf is too small). Used by nft_load_* and by the unit tests, which parse the
 * batch back with libnftnl.
 */
ssize_t nft_build_cage(const struct plan *p, void *buf, size_t len, uint32_t seq);
ssize_t nft_build_host(const struct plan *p, void *buf, size_t len, uint32_t seq);

/* Send the batch on a NETLINK_NETFILTER socket (bound in the target netns) and drain the
 * acks; an error names the rule (by its description) that the kernel refused. */
int nft_load_cage(struct mnl_socket *nl, const struct plan *p);
int nft_load_host(struct mnl_socket *nl, const struct plan *p);

/* Delete table inet NAME; -ENOENT if it does not exist. */
int nft_delete_table(struct mnl_socket *nl, const char *name);

/* List the names of inet tables whose name starts with prefix (for gc).
 * *ret is a NULL-terminated strv the caller frees. */
int nft_list_tables(struct mnl_socket *nl, const char *prefix, char ***ret);
