/* hookcost.c: the cost of the cage's eBPF hooks per call, measured in-process: N connect()s
 * of one UDP socket (each runs the connect4 hook) and N sendto()s (each runs sendmsg4), to a
 * loopback address (allowed) and to a TEST-NET address (refused). Prints ns per call.
 * Run it once in a cage and once outside: the difference is the hooks'. No packet leaves:
 * loopback stays in the netns, and the TEST-NET destination has no route (or is refused). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double per_call(int fd, const char *ip, int send, long n)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
	double t0;

	inet_pton(AF_INET, ip, &a.sin_addr);
	t0 = now();
	for (long i = 0; i < n; i++) {
		if (send)
			(void)sendto(fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&a, sizeof(a));
		else
			(void)connect(fd, (struct sockaddr *)&a, sizeof(a));
	}
	return (now() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return 1;
	printf("connect-loopback %.0f\n", per_call(fd, "127.0.0.1", 0, n));
	printf("connect-refused %.0f\n", per_call(fd, "192.0.2.1", 0, n));
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	printf("sendto-loopback %.0f\n", per_call(fd, "127.0.0.1", 1, n));
	printf("sendto-refused %.0f\n", per_call(fd, "192.0.2.1", 1, n));
	return 0;
}
