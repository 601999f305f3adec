/* unixcost.c: what the cage's seccomp filter and the unix broker cost per call, measured
 * in-process: a syscall the filter lets through (getpid), unix connects and sends to sockets of
 * the process's own in /tmp (judged and performed by the supervisor), unix sends on a connected
 * socket (no address: not handed over), and TCP connects and addressed UDP sends to loopback
 * (handed over; as root the kernel carries on with them, without root the supervisor performs
 * them). Prints ns per call. Run in a cage and outside: the difference is the mechanism's.
 * Nothing leaves loopback. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static socklen_t sun_of(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	char dir[] = "/tmp/unixcost-XXXXXX", sp[128], dp[128], buf[8];
	struct sockaddr_un ss, ds;
	struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl, dl, len = sizeof(lo);
	int ls, ld, tl, ud, c, fd;
	double t0;

	if (!mkdtemp(dir))
		return 1;
	snprintf(sp, sizeof(sp), "%s/s", dir);
	snprintf(dp, sizeof(dp), "%s/d", dir);
	sl = sun_of(&ss, sp);
	dl = sun_of(&ds, dp);
	ls = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ld = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	tl = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ud = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (bind(ls, (struct sockaddr *)&ss, sl) < 0 || listen(ls, 4096) < 0 ||
	    bind(ld, (struct sockaddr *)&ds, dl) < 0 ||
	    bind(tl, (struct sockaddr *)&lo, sizeof(lo)) < 0 || listen(tl, 4096) < 0 ||
	    getsockname(tl, (struct sockaddr *)&lo, &len) < 0 ||
	    bind(ud, (struct sockaddr *)&lo, sizeof(lo)) < 0)
		return perror("unixcost: set up"), 1;
	getsockname(ud, (struct sockaddr *)&lo, &len);
	getsockname(tl, (struct sockaddr *)&lo, &len); /* tcp's port; udp's below */

	t0 = now();
	for (long i = 0; i < n * 10; i++)
		(void)syscall(SYS_getpid);
	printf("getpid %.0f\n", (now() - t0) / (double)(n * 10));

	/* socket + connect + close each time, minus socket + close alone */
	{
		double base, with;

		t0 = now();
		for (long i = 0; i < n; i++)
			close(socket(AF_UNIX, SOCK_STREAM, 0));
		base = (now() - t0) / (double)n;
		t0 = now();
		for (long i = 0; i < n; i++) {
			fd = socket(AF_UNIX, SOCK_STREAM, 0);
			(void)connect(fd, (struct sockaddr *)&ss, sl);
			close(fd);
			while ((c = accept(ls, NULL, NULL)) >= 0)
				close(c);
		}
		with = (now() - t0) / (double)n;
		printf("unix-connect %.0f\n", with - base);

		t0 = now();
		for (long i = 0; i < n; i++) {
			fd = socket(AF_INET, SOCK_STREAM, 0);
			(void)connect(fd, (struct sockaddr *)&lo, sizeof(lo));
			close(fd);
			while ((c = accept(tl, NULL, NULL)) >= 0)
				close(c);
		}
		t0 = (now() - t0) / (double)n;
		printf("tcp-connect %.0f\n", t0 - base);
	}

	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	t0 = now();
	for (long i = 0; i < n; i++) {
		(void)sendto(fd, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&ds, dl);
		(void)recv(ld, buf, sizeof(buf), 0);
	}
	printf("unix-sendto %.0f\n", (now() - t0) / (double)n);
	(void)connect(fd, (struct sockaddr *)&ds, dl);
	t0 = now();
	for (long i = 0; i < n; i++) {
		(void)send(fd, "x", 1, MSG_DONTWAIT);
		(void)recv(ld, buf, sizeof(buf), 0);
	}
	printf("unix-send-connected %.0f\n", (now() - t0) / (double)n);
	close(fd);

	len = sizeof(lo);
	getsockname(ud, (struct sockaddr *)&lo, &len);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	t0 = now();
	for (long i = 0; i < n; i++) {
		(void)sendto(fd, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&lo, sizeof(lo));
		(void)recv(ud, buf, sizeof(buf), 0);
	}
	printf("udp-sendto %.0f\n", (now() - t0) / (double)n);
	close(fd);

	unlink(sp);
	unlink(dp);
	rmdir(dir);
	return 0;
}
