/* tcpblast.c: the two ends of a throughput measurement, at C speed so that they are not
 * what is measured.
 *   tcpblast sink PORT [ADDR]     accept connections on ADDR:PORT (127.0.0.1), discard
 *   tcpblast send HOST PORT BYTES connect, send BYTES from a buffer, half-close, wait for the
 *                                 sink to close; print "BYTES SECONDS MB/s" */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static int sink(int port, const char *addr)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	static char buf[CHUNK];

	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
		fprintf(stderr, "tcpblast sink: bad address %s\n", addr);
		return 2;
	}
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 16) < 0) {
		perror("tcpblast sink");
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);

		if (c < 0)
			continue;
		while (read(c, buf, sizeof(buf)) > 0)
			;
		close(c);
	}
}

static int send_(const char *host, int port, long long bytes)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	static char buf[CHUNK];
	struct timespec t0, t1;
	long long left = bytes;
	double secs;

	memset(buf, 0x5a, sizeof(buf));
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
	    connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("tcpblast send: connect");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (left > 0) {
		ssize_t n = write(s, buf, left < CHUNK ? (size_t)left : CHUNK);

		if (n <= 0) {
			perror("tcpblast send: write");
			return 1;
		}
		left -= n;
	}
	shutdown(s, SHUT_WR);
	while (read(s, buf, sizeof(buf)) > 0)
		;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%lld %.3f %.0f\n", bytes, secs, (double)bytes / secs / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "sink"))
		return sink(atoi(argv[2]), argc == 4 ? argv[3] : "127.0.0.1");
	if (argc == 5 && !strcmp(argv[1], "send"))
		return send_(argv[2], atoi(argv[3]), atoll(argv[4]));
	fprintf(stderr, "usage: tcpblast sink PORT [ADDR] | send HOST PORT BYTES\n");
	return 2;
}
