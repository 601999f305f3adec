/* cmd-maddr.c: `sluice maddr parse|key|verify`: multiaddrs for people and scripts. parse
 * shows a multiaddr's parts; key converts WireGuard keys between wg(8)'s base64 and the
 * multibase form of /wg/; verify checks a multiaddr's key against the live WireGuard
 * interfaces (generic netlink or wireguard-go's UAPI socket, never by running wg). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>

#include "addr.h"
#include "cmds.h"
#include "log.h"
#include "wg.h"
#include "wgconf.h"

#define MA_PARTS_MAX 16

struct ma_part {
	char proto[8];
	char value[256];
	uint8_t key[32]; /* wg */
};

static const char usage[] =
	"Usage: sluice maddr parse MADDR [--json]\n"
	"       sluice maddr key KEY\n"
	"       sluice maddr verify MADDR [--iface IFACE]\n\n"
	"  parse   print a multiaddr's parts: /ip4 /ip6 /dns4 /dns6 /dns /tcp /udp /unix /wg\n"
	"  key     convert a WireGuard key between wg(8)'s base64 and the u... form of /wg/\n"
	"  verify  exit 0 if the multiaddr's /wg key is a peer of, or the own key of, a live\n"
	"          WireGuard interface (IFACE, or any); 1 if not\n";

/* Split and check a multiaddr. Returns the number of parts or -EINVAL, what is wrong
 * recorded (err_message()). */
static int ma_split(const char *s, struct ma_part *v)
{
	const char *p = s;
	int n = 0;

	if (*p != '/')
		return err_invalid("%s: a multiaddr starts with '/'", s);
	while (*p) {
		const char *seg = ++p, *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		struct ma_part *m;
		const char *why = NULL;
		unsigned char buf[sizeof(struct in6_addr)];

		if (n == MA_PARTS_MAX)
			return err_invalid("%s: too many parts", s);
		m = &v[n];
		if (len == 0 || len >= sizeof(m->proto))
			return err_invalid("%s: bad protocol at byte %zu", s, (size_t)(seg - s));
		memcpy(m->proto, seg, len);
		m->proto[len] = '\0';
		p = seg + len;
		if (streq(m->proto, "unix")) { /* the rest is the path */
			if (!*p || strlen(p) >= sizeof(m->value))
				return err_invalid("%s: /unix needs a path at byte %zu", s,
						   (size_t)(p - s));
			snprintf(m->value, sizeof(m->value), "%s", p);
			return n + 1;
		}
		if (!*p)
			return err_invalid("%s: /%s needs a value at byte %zu", s, m->proto,
					   (size_t)(p - s));
		seg = p + 1;
		slash = strchr(seg, '/');
		len = slash ? (size_t)(slash - seg) : strlen(seg);
		if (len == 0 || len >= sizeof(m->value))
			return err_invalid("%s: /%s: bad value at byte %zu", s, m->proto,
					   (size_t)(seg - s));
		memcpy(m->value, seg, len);
		m->value[len] = '\0';
		p = seg + len;
		if (streq(m->proto, "ip4"))
			why = inet_pton(AF_INET, m->value, buf) == 1 ? NULL : "bad IPv4 address";
		else if (streq(m->proto, "ip6"))
			why = inet_pton(AF_INET6, m->value, buf) == 1 ? NULL : "bad IPv6 address";
		else if (streq(m->proto, "tcp") || streq(m->proto, "udp")) {
			char *end;
			long port = strtol(m->value, &end, 10);

			why = *end || !isdigit((unsigned char)m->value[0]) || port < 1 ||
					      port > 65535
				      ? "bad port (1-65535)"
				      : NULL;
		} else if (streq(m->proto, "dns") || streq(m->proto, "dns4") ||
			   streq(m->proto, "dns6")) {
			for (const char *c = m->value; *c && !why; c++)
				if (!isalnum((unsigned char)*c) && !strchr("-_.", *c))
					why = "bad host name";
		} else if (streq(m->proto, "wg")) {
			if (addr_wg_key_decode(m->value, strlen(m->value), m->key) < 0)
				why = err_message(-EINVAL);
		} else
			why = "unknown protocol";
		if (why)
			return err_invalid("%s: /%s/%s: %s at byte %zu", s, m->proto, m->value, why,
					   (size_t)(seg - s));
		n++;
	}
	return n;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int maddr_parse(const char *s, bool json)
{
	struct ma_part v[MA_PARTS_MAX];
	char b64[WG_KEY_B64_LEN + 1];
	int n = ma_split(s, v);

	if (n < 0) {
		log_error("%s", err_message(n));
		return EXIT_SLUICE;
	}
	if (!json) {
		for (int i = 0; i < n; i++) {
			printf("%s %s", v[i].proto, v[i].value);
			if (streq(v[i].proto, "wg")) {
				wg_key_b64_encode(v[i].key, b64);
				printf(" (wg(8): %s)", b64);
			}
			putchar('\n');
		}
		return 0;
	}
	printf("{\"components\":[");
	for (int i = 0; i < n; i++) {
		printf("%s{\"proto\":", i ? "," : "");
		json_str(v[i].proto);
		printf(",\"value\":");
		json_str(v[i].value);
		putchar('}');
	}
	putchar(']');
	for (int i = 0; i < n; i++) {
		char ep[ADDR_STR_MAX], bearer[ADDR_STR_MAX + 8];
		struct endpoint e;

		if (!streq(v[i].proto, "wg"))
			continue;
		wg_key_b64_encode(v[i].key, b64);
		printf(",\"wg\":{\"key\":");
		json_str(v[i].value);
		printf(",\"key_base64\":");
		json_str(b64);
		if (addr_parse(s, &e) == 0) {
			addr_format(&e, ep, sizeof(ep));
			if (e.has_bearer) {
				struct endpoint be = {.family = e.bearer.family, .port = e.bearer.port,
						      .proto = IPPROTO_UDP};

				memcpy(&be.ip, &e.bearer.ip, sizeof(be.ip));
				addr_format(&be, bearer, sizeof(bearer));
				printf(",\"bearer\":");
				json_str(bearer);
			} else {
				printf(",\"bearer\":null");
			}
			printf(",\"endpoint\":");
			json_str(ep);
		} else {
			printf(",\"bearer\":null,\"endpoint\":null");
		}
		putchar('}');
		break;
	}
	printf("}\n");
	return 0;
}

static int maddr_key(const char *k)
{
	uint8_t key[32];
	char out[WG_KEY_B64_LEN + 1];
	int r;

	/* a wg(8) key is 44 characters ending in '='; a u... key is 44 with no padding (a
	 * wg(8) key may begin with 'u' too) */
	if (k[0] == 'u' && strlen(k) == 44 && k[43] != '=') {
		r = addr_wg_key_decode(k, strlen(k), key);
		if (r < 0) {
			log_error("%s: %s", k, err_message(r));
			return EXIT_SLUICE;
		}
		wg_key_b64_encode(key, out);
		printf("%s\n", out);
		return 0;
	}
	if (wg_key_b64_decode(k, key) < 0) {
		log_error("%s: neither a wg(8) key (44 characters of base64) nor a u... key", k);
		return EXIT_SLUICE;
	}
	addr_wg_key_encode(key, out);
	printf("%s\n", out);
	return 0;
}

static int maddr_verify(const char *s, const char *iface)
{
	struct ma_part v[MA_PARTS_MAX];
	_cleanup_strv_free_ char **names = NULL;
	char want[WG_KEY_B64_LEN + 1];
	const uint8_t *key = NULL;
	int n = ma_split(s, v), r;

	if (n < 0) {
		log_error("%s", err_message(n));
		return EXIT_SLUICE;
	}
	for (int i = 0; i < n && !key; i++)
		if (streq(v[i].proto, "wg"))
			key = v[i].key;
	if (!key) {
		log_error("%s: no /wg/ key to verify", s);
		return EXIT_SLUICE;
	}
	wg_key_b64_encode(key, want);
	r = wg_list_devices(&names);
	if (r < 0) {
		log_error("list WireGuard interfaces: %s", err_message(r));
		return EXIT_SLUICE;
	}
	for (char **nm = names; *nm; nm++) {
		struct wg_device_info d = {0};

		if (iface && !streq(*nm, iface))
			continue;
		if (wg_get_device(*nm, &d) < 0)
			continue;
		if (d.has_public_key && !memcmp(d.public_key, key, 32)) {
			printf("%s: the own key of %s\n", want, *nm);
			wg_device_info_free(&d);
			return 0;
		}
		for (size_t i = 0; i < d.n_peers; i++)
			if (!memcmp(d.peers[i].public_key, key, 32)) {
				printf("%s: a peer of %s\n", want, *nm);
				wg_device_info_free(&d);
				return 0;
			}
		fprintf(stderr, "sluice: %s: own key ", *nm);
		if (d.has_public_key) {
			char b[WG_KEY_B64_LEN + 1];

			wg_key_b64_encode(d.public_key, b);
			fprintf(stderr, "%s", b);
		}
		fprintf(stderr, ", %zu peer(s):", d.n_peers);
		for (size_t i = 0; i < d.n_peers; i++) {
			char b[WG_KEY_B64_LEN + 1];

			wg_key_b64_encode(d.peers[i].public_key, b);
			fprintf(stderr, " %s", b);
		}
		fputc('\n', stderr);
		wg_device_info_free(&d);
	}
	fprintf(stderr, "sluice: %s is not a key of %s\n", want,
		iface ? iface : "any live WireGuard interface here");
	return 1;
}

int cmd_maddr(int argc, char **argv)
{
	if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_SLUICE : 0;
	}
	if (streq(argv[1], "parse") && (argc == 3 || (argc == 4 && streq(argv[3], "--json"))))
		return maddr_parse(argv[2], argc == 4);
	if (streq(argv[1], "key") && argc == 3)
		return maddr_key(argv[2]);
	if (streq(argv[1], "verify") && argc == 3)
		return maddr_verify(argv[2], NULL);
	if (streq(argv[1], "verify") && argc == 5 && streq(argv[3], "--iface"))
		return maddr_verify(argv[2], argv[4]);
	fputs(usage, stderr);
	return EXIT_SLUICE;
}
