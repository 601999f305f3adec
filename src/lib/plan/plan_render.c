/* plan_render.c: the plan as `sluice check` shows it, as text and as JSON; the layers' lines
 * (also what run -v reports); the cage's /etc/hosts and /etc/resolv.conf. */
#include "bpf.h"
#include "nft.h"
#include "nest.h"
#include "plan.h"
#include "unixguard.h"
#include <arpa/inet.h>
#include <stdio.h>

/* Whether env entry kv ("K=V") is one whose value is the caller's (--env NAME). */
static bool env_is_passed(const struct plan *p, const char *kv)
{
	const char *eq = strchr(kv, '=');

	for (char **n = p->env_passed; eq && n && *n; n++)
		if (strlen(*n) == (size_t)(eq - kv) && strncmp(*n, kv, (size_t)(eq - kv)) == 0)
			return true;
	return false;
}

static const char *forward_target(const struct forward *fw, char *buf, size_t len)
{
	char a[ADDR_STR_MAX];

	if (fw->kind == TARGET_UNIX)
		snprintf(buf, len, "unix:%s", fw->path);
	else if (fw->target.scheme != SCHEME_NONE)
		snprintf(buf, len, "%s%s", addr_format_url(&fw->target, a, sizeof(a)),
			 fw->isolate_streams ? " (SOCKS5, fresh credentials per connection)" : "");
	else
		snprintf(buf, len, "%s", addr_format(&fw->target, a, sizeof(a)));
	return buf;
}

/* The hooks a resident object attaches, by the names it attaches them under. */
static void hook_names(struct text *f, const struct bpf_resident *r)
{
	for (size_t i = 0; i < r->n_hooks; i++)
		text_printf(f, "%s%s",
			    i ? (i + 1 == r->n_hooks && r->n_hooks == 2 ? " and " : " ") : " ",
			    r->hooks[i].name);
}

void plan_render_layers(const struct plan *p, struct text *f, const char *indent)
{
	if (p->link == LINK_VETH)
		text_printf(f, "%stopology: lo + one veth, one route (via the host side)\n",
			    indent);
	else if (p->link == LINK_WIREGUARD)
		text_printf(f,
			    "%stopology: lo + one WireGuard tunnel whose encrypted UDP stays "
			    "outside; routes only to its peers' AllowedIPs\n",
			    indent);
	else
		text_printf(f,
			    "%stopology: lo only, no route out; forwards and DNS served from "
			    "outside\n",
			    indent);
	if (p->link == LINK_VETH)
		text_printf(f, "%snftables: table inet %s in the cage, table inet %s on the host\n",
			    indent, p->cage_table, p->host_table);
	else
		text_printf(f, "%snftables: table inet %s in the cage\n", indent, p->cage_table);
	if (p->n_listens)
		text_printf(f,
			    "%sinbound: the cage's input chain accepts TCP on %s to the %zu listen "
			    "rule(s) from their sources%s, and refuses the rest\n",
			    indent, p->cage_if, p->n_listens,
			    p->link == LINK_VETH ? " (the host's forward chain likewise)" : "");
	else
		text_printf(f, "%sinbound: the cage's input chain accepts no new connection from its link%s\n",
			    indent, p->link == LINK_NONE ? " (it has none)" : "");
	if (p->n_publish)
		text_printf(f,
			    "%spublished: %zu port(s) the supervisor listens on here, each joined to "
			    "the cage's loopback; nothing else reaches in\n",
			    indent, p->n_publish);
	if (p->userns)
		text_printf(f,
			    "%seBPF: off: cgroup hooks need root (CAP_BPF, CAP_NET_ADMIN and a "
			    "cgroup of its own), which this run does not have; topology and "
			    "nftables hold without them\n",
			    indent);
	else {
		text_printf(f, "%seBPF: cgroup", indent);
		hook_names(f, &bpf_sock_resident);
		text_printf(f, " hooks, EPERM for all but loopback and the allowed endpoints\n");
	}
	text_printf(f,
		    "%sunix: /run, /var/run, /tmp and the runtime dir are the cage's own, with the "
		    "%zu allowed socket(s) bound in\n",
		    indent, p->n_unix_allow);
	if (p->unix_broker)
		text_printf(
		    f,
		    "%sunix: a pathname socket is reached only if a process of this cage bound "
		    "it or it is allowed, judged by the socket reached (symlinks, mounts and "
		    "namespaces followed, hard links and moves not taken for the place "
		    "allowed): the supervisor gets every connect and send (seccomp user "
		    "notification); a performer, a process of the cage's user with no "
		    "capabilities, connects or sends on the caller's own socket to the file "
		    "judged; refused: EPERM\n",
		    indent);
	if (p->unix_broker && p->unix_backstop == UNIX_BACKSTOP_HOOKS) {
		text_printf(f, "%sunix: behind it, cgroup", indent);
		hook_names(f, &unixguard_resident);
		text_printf(f, " hooks refuse every pathname socket a caged process reaches by "
			       "itself; calls with nothing to judge go on in the kernel\n");
	} else if (p->unix_broker && p->unix_backstop == UNIX_BACKSTOP_LANDLOCK)
		text_printf(
		    f,
		    "%sunix: behind it, Landlock (ABI 9) refuses every pathname socket made "
		    "outside the cage to a caged process; calls with nothing to judge go on "
		    "in the kernel\n",
		    indent);
	else if (p->unix_broker)
		text_printf(f,
			    "%sunix: no in-kernel layer behind it (cgroup unix hooks need root; "
			    "Landlock ABI 9 is not here): the performers make every call the "
			    "supervisor gets, so none can be changed after the check (unix: strict "
			    "refuses to run)\n",
			    indent);
	else if (p->unix_backstop == UNIX_BACKSTOP_HOOKS)
		text_printf(
		    f,
		    "%sunix: this kernel cannot hand calls to the supervisor: the cgroup unix "
		    "hooks refuse every pathname socket, the cage's own too\n",
		    indent);
	else
		text_printf(
		    f,
		    "%sunix: not judged: this kernel cannot hand calls to the supervisor, and "
		    "there is no in-kernel layer; only the private directories hide host "
		    "sockets\n",
		    indent);
	sysfilter_render(&p->filter, f, indent);
	text_printf(f,
		    "%sprocess: no capabilities (all five sets), no_new_privs, /sys and /proc/sys "
		    "read-only%s\n",
		    indent, p->userns ? ", a user namespace mapping only the invoking user" : "");
}

void plan_render_hosts(const struct plan *p, struct text *f)
{
	char a[INET6_ADDRSTRLEN];

	text_printf(f, "# generated by sluice for cage %s\n", p->name);
	text_printf(f, "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		    p->name);
	for (size_t i = 0; i < p->n_dns; i++)
		text_printf(f, "%s\t%s\n", inet_ntop(p->dns[i].family, &p->dns[i].ip, a, sizeof(a)),
			    p->dns[i].name);
}

void plan_render_resolv(const struct plan *p, struct text *f)
{
	text_printf(f,
		    "# generated by sluice for cage %s: a stub that answers only the names the\n"
		    "# profile lists; nothing is forwarded\n"
		    "nameserver %s\noptions edns0 trust-ad\n",
		    p->name, DNS_STUB_ADDR);
}

void plan_render(const struct plan *p, struct text *f)
{
	char h4[INET_ADDRSTRLEN], c4[INET_ADDRSTRLEN], h6[INET6_ADDRSTRLEN], c6[INET6_ADDRSTRLEN];
	char ep[ADDR_STR_MAX], tg[ADDR_STR_MAX + 160];

	inet_ntop(AF_INET, &p->host_v4, h4, sizeof(h4));
	inet_ntop(AF_INET, &p->cage_v4, c4, sizeof(c4));
	inet_ntop(AF_INET6, &p->host_v6, h6, sizeof(h6));
	inet_ntop(AF_INET6, &p->cage_v6, c6, sizeof(c6));

	text_printf(f, "cage %s\n", p->name);
	if (p->userns)
		text_printf(f, "  cgroup     none (unprivileged run)\n");
	else
		text_printf(f, "  cgroup     <cgroup2>/%s\n", p->cgroup);
	if (p->listen_fds)
		text_printf(f,
			    "  sockets    %d from the service manager (%s), the command's fds 3-%d "
			    "(LISTEN_FDS): it accepts on them itself\n",
			    p->listen_fds, p->listen_names ? p->listen_names : "unnamed",
			    2 + p->listen_fds);
	text_printf(f, "  namespaces %snet mnt pid ipc uts cgroup (new)\n",
		    p->userns ? "user " : "");
	text_printf(f, "  lo         up: 127.0.0.1%s, ::1\n",
		    p->lo_v4_second
			? " and 127.0.0.2 (so that getaddrinfo's AI_ADDRCONFIG sees IPv4)"
			: "");
	if (p->link == LINK_VETH) {
		text_printf(f, "  link       veth %s (host) %s/%u <-> %s (cage) %s/%u\n",
			    p->host_if, h4, p->v4_prefix, p->cage_if, c4, p->v4_prefix);
		if (p->ipv6)
			text_printf(f, "             ipv6 %s/%u <-> %s/%u\n", h6, p->v6_prefix, c6,
				    p->v6_prefix);
		text_printf(f, "  route      default via %s dev %s (the cage's only route)\n", h4,
			    p->cage_if);
		if (p->ipv6)
			text_printf(f, "  route6     default via %s dev %s\n", h6, p->cage_if);
		text_printf(f,
			    "  names      %s and table inet %s are this plan's: each run draws "
			    "its own (run -v says which), so that it never meets the last run's\n",
			    p->host_if, p->host_table);
	} else if (p->link == LINK_WIREGUARD) {
		char a[WG_PREFIX_STR_MAX], e[WG_ENDPOINT_STR_MAX], k[WG_KEY_B64_LEN + 1];

		text_printf(
		    f,
		    "  link       wireguard %s (%s), made as %s here and moved into the cage; "
		    "its UDP socket stays here\n",
		    p->cage_if, p->wg_backend == WG_BACKEND_KERNEL ? "kernel" : "wireguard-go",
		    p->wg_if);
		text_printf(f,
			    "  names      %s is this plan's: each run draws its own (run -v says "
			    "which)\n",
			    p->wg_if);
		for (size_t i = 0; i < p->wg.n_addresses; i++) {
			wg_prefix_format(&p->wg.addresses[i], a);
			text_printf(f, "  %-10s %s\n", i ? "" : "address", a);
		}
		for (size_t i = 0; i < p->wg.n_peers; i++) {
			const struct wg_peer_config *pe = &p->wg.peers[i];

			wg_key_b64_encode(pe->public_key, k);
			if (pe->endpoint.sa.sa_family)
				wg_endpoint_format(&pe->endpoint, e);
			else
				snprintf(e, sizeof(e), "(none)");
			text_printf(f, "  peer       %s at %s\n", k, e);
			for (size_t j = 0; j < pe->n_allowed_ips; j++) {
				wg_prefix_format(&pe->allowed_ips[j], a);
				text_printf(f, "  route      %s dev %s\n", a, p->cage_if);
			}
		}
	} else {
		text_printf(f, "  link       none: lo only\n");
		text_printf(f, "  route      none (loopback only)\n");
	}
	if (p->v6_off_default)
		text_printf(f,
			    "  ipv6       off in the cage (no allowed endpoint is IPv6): "
			    "net.ipv6.conf.default.disable_ipv6=1%s\n",
			    p->v6_off_all ? ", all.disable_ipv6=1"
					  : " (all kept: a [::1] forward)");
	if (p->link == LINK_VETH && !p->n_allowed)
		text_printf(f, "  allowed    nothing routed\n");
	for (size_t i = 0; i < p->n_allowed; i++) {
		char key[WG_KEY_B64_LEN + 1] = "";

		if (p->allowed[i].ep.has_wg)
			wg_key_b64_encode(p->allowed[i].ep.wg_key, key);
		text_printf(f, "  %-10s %s%s%s%s, %s\n", i ? "" : "allowed",
			    addr_format(&p->allowed[i].ep, ep, sizeof(ep)),
			    p->allowed[i].is_proxy ? " (proxy)" : "", key[0] ? " via peer " : "",
			    key,
			    p->link == LINK_WIREGUARD ? "through the tunnel"
			    : p->allowed[i].on_host   ? "on this host"
						      : "off-host, forwarded and masqueraded");
	}
	if (!p->n_forwards)
		text_printf(f, "  forwards   none\n");
	for (size_t i = 0; i < p->n_forwards; i++)
		text_printf(f, "  %-10s %s in the cage -> %s%s\n", i ? "" : "forwards",
			    addr_format(&p->forwards[i].listen, ep, sizeof(ep)),
			    forward_target(&p->forwards[i], tg, sizeof(tg)),
			    !p->forwards[i].is_proxy ? ""
			    : p->proxy_auth	     ? " (proxy; the supervisor adds its URL's "
						       "credentials, which the cage never sees)"
						     : " (proxy)");
	for (size_t i = 0; i < p->n_publish; i++)
		text_printf(f, "  %-10s %s here -> 127.0.0.1:%u in the cage\n", i ? "" : "publish",
			    addr_format(&p->publish[i].host, ep, sizeof(ep)), p->publish[i].cage_port);
	for (size_t i = 0; i < p->n_listens; i++) {
		const struct listen_rule *l = &p->listens[i];
		char src[INET6_ADDRSTRLEN + 8];

		text_printf(f, "  %-10s %s on %s from ", i ? "" : "listen",
			    addr_format(&l->ep, ep, sizeof(ep)), p->cage_if);
		for (size_t j = 0; j < l->n_from; j++)
			text_printf(f, "%s%s", j ? ", " : "",
				    addr_format_cidr(&l->from[j], src, sizeof(src)));
		text_printf(f, "%s\n", l->n_from ? "" : "any source the link carries");
	}
	if (!p->n_publish && !p->n_listens)
		text_printf(f, "  inbound    none (nothing is published or listened for)\n");
	if (p->nest)
		text_printf(f, "  nest       child cages on request at %s: link none, reaching only "
			       "what this cage reaches, as its user\n",
			    NEST_SOCKET);
	if (p->parent[0])
		text_printf(f, "  parent     cage %s (this one reaches only what it reaches)\n",
			    p->parent);
	text_printf(f, "  dns        stub at %s:%d (udp, tcp); NXDOMAIN for all but:\n",
		    DNS_STUB_ADDR, DNS_STUB_PORT);
	for (size_t i = 0; i < p->n_dns; i++)
		text_printf(f, "             %s %s\n", p->dns[i].name,
			    inet_ntop(p->dns[i].family, &p->dns[i].ip, c6, sizeof(c6)));
	if (!p->n_dns)
		text_printf(f, "             (no names)\n");
	/* What the supervisor can tell of a denial (audit.h). */
	if (p->userns)
		text_printf(f, "  denials    told%s: names the DNS stub does not list, unix sockets "
			       "refused; not IP: unprivileged there are no eBPF hooks, and a connect "
			       "or send to anything but loopback fails in the kernel's routing "
			       "(ENETUNREACH), where nothing tells sluice which\n",
			    p->quiet ? " (--quiet: to --audit and --learn only)" : " on stderr");
	else
		text_printf(f, "  denials    told%s: each IP connect and send the eBPF hooks refuse "
			       "(program, destination; at most 64 a second per CPU, the rest "
			       "counted), unix sockets refused, names the DNS stub does not list\n",
			    p->quiet ? " (--quiet: to --audit and --learn only)" : " on stderr");
	if (p->audit)
		text_printf(f, "  audit      JSON lines to %s\n",
			    streq(p->audit, "-") ? "stdout" : p->audit);
	if (p->learn)
		text_printf(f, "  learn      a profile of this run and what it was refused: written to %s at the end\n",
			    p->learn);
	text_printf(f, "  targets    %s\n",
		    p->check_targets == CHECK_TARGETS_OFF ? "not tried at start"
		    : p->check_targets == CHECK_TARGETS_REQUIRE
			? "the proxy and each forward's target tried at start: one that does "
			  "not answer stops the run (125)"
			: "the proxy and each forward's target tried at start: one that does not "
			  "answer is said");
	text_printf(f, "  layers\n");
	plan_render_layers(p, f, "             ");
	if (p->user && *p->user)
		text_printf(f, "  user       %s (uid %u, gid %u)\n", p->user, (unsigned)p->uid,
			    (unsigned)p->gid);
	else
		text_printf(f, "  user       not chosen: as plain root, run needs --user root or "
			       "--user NAME\n");
	text_printf(f, "  command   ");
	for (char **a = p->argv; a && *a; a++)
		text_printf(f, " %s", *a);
	text_printf(f, "%s\n", p->argv && p->argv[0] ? "" : " (none)");
	text_printf(f, "  env\n");
	for (char **e = p->env; e && *e; e++) {
		if (env_is_passed(p, *e))
			text_printf(f, "    %.*s=(the caller's value, not shown)\n",
				    (int)(strchr(*e, '=') - *e), *e);
		else
			text_printf(f, "    %s\n", *e);
	}
	text_printf(f, "\n# nftables, in the cage's netns\n");
	nft_render_cage(p, f);
	if (p->link == LINK_VETH) {
		text_printf(f, "\n# nftables, in the host's netns\n");
		nft_render_host(p, f);
	}
}

/* A JSON string: the escapes RFC 8259 requires, control characters as \u00XX. */
static void json_key(struct text *f, bool *first, const char *key)
{
	text_puts(f, *first ? "\n  " : ",\n  ");
	*first = false;
	text_json_str(f, key);
	text_puts(f, ": ");
}

/* The lines of a text as a JSON array, each without its leading blanks. */
static void json_lines(struct text *f, const char *s)
{
	bool first = true;

	text_putc(f, '[');
	while (s && *s) {
		const char *nl = strchrnul(s, '\n');
		char line[2048];
		size_t n = (size_t)(nl - s);

		while (n && *s == ' ')
			s++, n--;
		snprintf(line, sizeof(line), "%.*s", (int)n, s);
		text_puts(f, first ? "" : ", ");
		first = false;
		text_json_str(f, line);
		s = *nl ? nl + 1 : nl;
	}
	text_putc(f, ']');
}

void plan_render_json(const struct plan *p, struct text *f)
{
	_cleanup_text_ struct text sub = TEXT_INIT;
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], ep[ADDR_STR_MAX], tg[ADDR_STR_MAX + 160];
	bool first = true;

	text_putc(f, '{');
	json_key(f, &first, "name");
	text_json_str(f, p->name);
	json_key(f, &first, "cgroup");
	if (p->userns)
		text_puts(f, "null");
	else
		text_json_str(f, p->cgroup);
	json_key(f, &first, "user_namespace");
	text_puts(f, p->userns ? "true" : "false");
	json_key(f, &first, "link");
	text_json_str(f, policy_link_name(p->link));
	if (p->link == LINK_VETH) {
		json_key(f, &first, "veth");
		text_puts(f, "{\"host_if\": ");
		text_json_str(f, p->host_if);
		text_puts(f, ", \"cage_if\": ");
		text_json_str(f, p->cage_if);
		text_printf(f, ", \"host_v4\": \"%s/%u\", \"cage_v4\": \"%s/%u\"",
			    inet_ntop(AF_INET, &p->host_v4, a, sizeof(a)), p->v4_prefix,
			    inet_ntop(AF_INET, &p->cage_v4, b, sizeof(b)), p->v4_prefix);
		if (p->ipv6)
			text_printf(f, ", \"host_v6\": \"%s/%u\", \"cage_v6\": \"%s/%u\"",
				    inet_ntop(AF_INET6, &p->host_v6, a, sizeof(a)), p->v6_prefix,
				    inet_ntop(AF_INET6, &p->cage_v6, b, sizeof(b)), p->v6_prefix);
		text_puts(f, "}");
	} else if (p->link == LINK_WIREGUARD) {
		json_key(f, &first, "wireguard");
		text_puts(f, "{\"wg_if\": ");
		text_json_str(f, p->wg_if);
		text_puts(f, ", \"cage_if\": ");
		text_json_str(f, p->cage_if);
		text_printf(f, ", \"backend\": \"%s\"}",
			    p->wg_backend == WG_BACKEND_KERNEL ? "kernel" : "wireguard-go");
	}
	json_key(f, &first, "ipv6");
	text_puts(f, p->ipv6 ? "true" : "false");
	json_key(f, &first, "allowed");
	text_putc(f, '[');
	for (size_t i = 0; i < p->n_allowed; i++) {
		text_puts(f, i ? ", {\"endpoint\": " : "{\"endpoint\": ");
		text_json_str(f, addr_format(&p->allowed[i].ep, ep, sizeof(ep)));
		text_printf(f, ", \"proxy\": %s, \"on_host\": %s}",
			    p->allowed[i].is_proxy ? "true" : "false",
			    p->allowed[i].on_host ? "true" : "false");
	}
	text_putc(f, ']');
	json_key(f, &first, "forwards");
	text_putc(f, '[');
	for (size_t i = 0; i < p->n_forwards; i++) {
		text_puts(f, i ? ", {\"listen\": " : "{\"listen\": ");
		text_json_str(f, addr_format(&p->forwards[i].listen, ep, sizeof(ep)));
		text_puts(f, ", \"target\": ");
		text_json_str(f, forward_target(&p->forwards[i], tg, sizeof(tg)));
		text_puts(f, "}");
	}
	text_putc(f, ']');
	json_key(f, &first, "publish");
	text_putc(f, '[');
	for (size_t i = 0; i < p->n_publish; i++) {
		text_puts(f, i ? ", {\"host\": " : "{\"host\": ");
		text_json_str(f, addr_format(&p->publish[i].host, ep, sizeof(ep)));
		text_printf(f, ", \"cage_port\": %u}", p->publish[i].cage_port);
	}
	text_putc(f, ']');
	json_key(f, &first, "listen");
	text_putc(f, '[');
	for (size_t i = 0; i < p->n_listens; i++) {
		const struct listen_rule *l = &p->listens[i];
		char src[INET6_ADDRSTRLEN + 8];

		text_puts(f, i ? ", {\"endpoint\": " : "{\"endpoint\": ");
		text_json_str(f, addr_format(&l->ep, ep, sizeof(ep)));
		text_puts(f, ", \"from\": [");
		for (size_t j = 0; j < l->n_from; j++) {
			text_puts(f, j ? ", " : "");
			text_json_str(f, addr_format_cidr(&l->from[j], src, sizeof(src)));
		}
		text_puts(f, "]}");
	}
	text_putc(f, ']');
	json_key(f, &first, "nest");
	text_puts(f, p->nest ? "true" : "false");
	json_key(f, &first, "dns");
	text_putc(f, '{');
	for (size_t i = 0; i < p->n_dns; i++) {
		text_puts(f, i ? ", " : "");
		text_json_str(f, p->dns[i].name);
		text_puts(f, ": ");
		text_json_str(f, inet_ntop(p->dns[i].family, &p->dns[i].ip, a, sizeof(a)));
	}
	text_putc(f, '}');
	json_key(f, &first, "layers");
	plan_render_layers(p, &sub, "");
	json_lines(f, text_str(&sub));
	text_free(&sub);
	json_key(f, &first, "user");
	if (p->user && *p->user) {
		text_puts(f, "{\"name\": ");
		text_json_str(f, p->user);
		text_printf(f, ", \"uid\": %u, \"gid\": %u}", (unsigned)p->uid, (unsigned)p->gid);
	} else {
		text_puts(f, "null");
	}
	json_key(f, &first, "command");
	text_putc(f, '[');
	for (char **v = p->argv; v && *v; v++) {
		text_puts(f, v == p->argv ? "" : ", ");
		text_json_str(f, *v);
	}
	text_putc(f, ']');
	json_key(f, &first, "env");
	text_putc(f, '[');
	for (char **v = p->env; v && *v; v++) {
		_cleanup_text_ struct text hidden = TEXT_INIT;

		text_puts(f, v == p->env ? "" : ", ");
		if (env_is_passed(p, *v)) {
			text_printf(&hidden, "%.*s=(the caller's value, not shown)",
				    (int)(strchr(*v, '=') - *v), *v);
			text_json_str(f, text_str(&hidden));
		} else {
			text_json_str(f, *v);
		}
	}
	text_putc(f, ']');
	json_key(f, &first, "nftables");
	text_puts(f, "{\"cage\": ");
	nft_render_cage(p, &sub);
	text_json_str(f, text_str(&sub));
	text_free(&sub);
	if (p->link == LINK_VETH) {
		text_puts(f, ", \"host\": ");
		nft_render_host(p, &sub);
		text_json_str(f, text_str(&sub));
	}
	text_puts(f, "}\n}\n");
}
