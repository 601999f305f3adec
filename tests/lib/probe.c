/* probe: one honest network or privilege check, run from inside a cage by the integration tests.
 * Each verb does one operation with a timeout and prints one line, "ok" or the errno name,
 * followed by the elapsed time ("EPERM 0.1ms"); exit 0 on success, 1 on failure, 2 on misuse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD "sluice-probe\n"

static int timeout_ms = 3000;
static struct timespec t_start;

static double elapsed_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t_start.tv_sec) * 1e3 + (now.tv_nsec - t_start.tv_nsec) / 1e6;
}

/* Print the verdict line; err is 0 or a positive errno. */
static int report(int err, const char *extra)
{
	double ms = elapsed_ms();
	const char *name = "ok";

	if (err) {
		name = strerrorname_np(err);
		if (!name)
			name = "EUNKNOWN";
	}
	printf("%s %.1fms%s%s\n", name, ms, extra ? " " : "", extra ? extra : "");
	fflush(stdout);
	return err ? 1 : 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: probe connect tcp|udp ADDR PORT [--tfo]\n"
		"       probe sendto udp ADDR PORT\n"
		"       probe ping ADDR\n"
		"       probe caps\n"
		"       probe listen tcp ADDR PORT\n"
		"  every verb takes --timeout MS (default 3000)\n");
	return 2;
}

/* ADDR is an IPv4 or IPv6 literal (v4-mapped too); fill ss and return its length or -1. */
static socklen_t parse_addr(const char *addr, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char *end;
	long p = port ? strtol(port, &end, 10) : 0;

	if (port && (*end || p < 0 || p > 65535))
		return 0;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		return sizeof(*sin6);
	}
	return 0;
}

/* Wait for events on fd; return 0, or ETIMEDOUT / errno. */
static int wait_fd(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int left = timeout_ms - (int)elapsed_ms();
	int r;

	do {
		r = poll(&pfd, 1, left > 0 ? left : 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno;
	if (r == 0)
		return ETIMEDOUT;
	return 0;
}

static int sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

static int do_connect(bool udp, const char *addr, const char *port, bool tfo)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(addr, port, &ss);
	int fd, err;
	ssize_t n;

	if (!len)
		return usage();
	fd = socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return report(errno, NULL);

	if (udp) {
		/* connect() runs the cgroup connect hook, send() the route and nftables. */
		if (connect(fd, (struct sockaddr *)&ss, len) < 0)
			return report(errno, NULL);
		n = send(fd, PAYLOAD, strlen(PAYLOAD), 0);
		return report(n < 0 ? errno : 0, NULL);
	}

	if (tfo) {
		/* TCP Fast Open connects from sendto(); it must be held like connect(). */
		n = sendto(fd, PAYLOAD, strlen(PAYLOAD), MSG_FASTOPEN, (struct sockaddr *)&ss, len);
		if (n < 0 && errno != EINPROGRESS)
			return report(errno, NULL);
	} else if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		return report(errno, NULL);
	}
	err = wait_fd(fd, POLLOUT);
	if (!err)
		err = sock_error(fd);
	return report(err, NULL);
}

static int do_sendto(const char *addr, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(addr, port, &ss);
	int fd;
	ssize_t n;

	if (!len)
		return usage();
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return report(errno, NULL);
	n = sendto(fd, PAYLOAD, strlen(PAYLOAD), 0, (struct sockaddr *)&ss, len);
	return report(n < 0 ? errno : 0, NULL);
}

static uint16_t inet_csum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t sum = 0;

	for (; len > 1; len -= 2, p += 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)(p[0] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Is buf (from a ping or raw socket) an echo reply to us? Raw IPv4 sockets include the IP header. */
static bool is_echo_reply(const uint8_t *buf, ssize_t n, bool v6, bool raw, uint16_t id)
{
	size_t off = 0;

	if (!v6 && raw) {
		if (n < (ssize_t)sizeof(struct iphdr))
			return false;
		off = (size_t)(buf[0] & 0x0f) * 4;
	}
	if (n < (ssize_t)(off + 8))
		return false;
	if (buf[off] != (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY))
		return false;
	/* A ping socket rewrites the id to its port; the kernel matches replies for us. */
	return !raw || memcmp(buf + off + 4, &id, sizeof(id)) == 0;
}

static int do_ping(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(addr, NULL, &ss);
	bool v6 = ss.ss_family == AF_INET6;
	int proto, fd, err;
	bool raw = false;
	uint8_t pkt[64] = { 0 }, buf[1500];
	uint16_t id = htons((uint16_t)getpid()), seq = htons(1);
	ssize_t n;

	if (!len)
		return usage();
	proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	/* Unprivileged ICMP sockets need the gid in net.ipv4.ping_group_range; else try raw. */
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd < 0) {
		raw = true;
		fd = socket(ss.ss_family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
		if (fd < 0)
			return report(errno, NULL);
	}
	pkt[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
	memcpy(pkt + 4, &id, sizeof(id));
	memcpy(pkt + 6, &seq, sizeof(seq));
	memcpy(pkt + 8, PAYLOAD, strlen(PAYLOAD));
	if (!v6) {
		uint16_t sum = inet_csum(pkt, sizeof(pkt));

		memcpy(pkt + 2, &sum, sizeof(sum));
	} /* the kernel fills in the ICMPv6 checksum */
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, len) < 0)
		return report(errno, raw ? "raw" : "dgram");
	for (;;) {
		err = wait_fd(fd, POLLIN);
		if (err)
			return report(err, raw ? "raw" : "dgram");
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return report(errno, raw ? "raw" : "dgram");
		}
		if (is_echo_reply(buf, n, v6, raw, id))
			return report(0, raw ? "raw" : "dgram");
	}
}

static int do_listen(const char *addr, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(addr, port, &ss);
	int fd, c, err, one = 1;

	if (!len)
		return usage();
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return report(errno, NULL);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return report(errno, NULL);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4) < 0)
		return report(errno, NULL);
	printf("listening\n");
	fflush(stdout);
	/* The accept timeout starts once we listen. */
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	err = wait_fd(fd, POLLIN);
	if (err)
		return report(err, NULL);
	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	return report(c < 0 ? errno : 0, NULL);
}

static int do_caps(void)
{
	cap_t caps = cap_get_proc();
	uint64_t set[3] = { 0 }, bnd = 0, amb = 0;
	const cap_flag_t flags[3] = { CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE };
	cap_flag_value_t v;
	int i, c, r;
	bool empty;

	if (!caps)
		return report(errno, NULL);
	for (c = 0; c < 64; c++) {
		for (i = 0; i < 3; i++)
			if (cap_get_flag(caps, (cap_value_t)c, flags[i], &v) == 0 && v == CAP_SET)
				set[i] |= 1ULL << c;
		r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (r > 0)
			bnd |= 1ULL << c;
		r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0);
		if (r > 0)
			amb |= 1ULL << c;
	}
	cap_free(caps);
	empty = !set[0] && !set[1] && !set[2] && !bnd && !amb;
	printf("%s eff=%#llx prm=%#llx inh=%#llx bnd=%#llx amb=%#llx\n", empty ? "ok" : "CAPS",
	       (unsigned long long)set[0], (unsigned long long)set[1], (unsigned long long)set[2],
	       (unsigned long long)bnd, (unsigned long long)amb);
	fflush(stdout);
	return empty ? 0 : 1;
}

int main(int argc, char **argv)
{
	char *args[8];
	bool tfo = false;
	int i, n = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tfo")) {
			tfo = true;
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout_ms = atoi(argv[++i]);
			if (timeout_ms <= 0)
				return usage();
		} else if (n < 8) {
			args[n++] = argv[i];
		} else {
			return usage();
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	if (n == 4 && !strcmp(args[0], "connect") &&
	    (!strcmp(args[1], "tcp") || !strcmp(args[1], "udp")))
		return tfo && !strcmp(args[1], "udp") ? usage() :
			do_connect(!strcmp(args[1], "udp"), args[2], args[3], tfo);
	if (tfo)
		return usage();
	if (n == 4 && !strcmp(args[0], "sendto") && !strcmp(args[1], "udp"))
		return do_sendto(args[2], args[3]);
	if (n == 2 && !strcmp(args[0], "ping"))
		return do_ping(args[1]);
	if (n == 1 && !strcmp(args[0], "caps"))
		return do_caps();
	if (n == 4 && !strcmp(args[0], "listen") && !strcmp(args[1], "tcp"))
		return do_listen(args[2], args[3]);
	return usage();
}
