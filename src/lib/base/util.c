/* util.c: the few shared helpers too large to be inline. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "util.h"

int dir_list(const char *path, bool dirs_only, char ***ret)
{
	_cleanup_strv_free_ char **v = calloc(1, sizeof(char *));
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;
	int r = 0;

	if (!d && errno != ENOENT) {
		r = negative_errno();
		goto out;
	}
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	while (d && (de = readdir(d))) {
		char **nv;

		if (de->d_name[0] == '.' || (dirs_only && de->d_type != DT_DIR))
			continue;
		nv = realloc(v, (n + 2) * sizeof(char *));
		if (!nv) {
			r = -ENOMEM;
			goto out;
		}
		v = nv;
		v[n + 1] = NULL;
		v[n] = strdup(de->d_name);
		if (!v[n]) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	*ret = TAKE_PTR(v);
out:
	if (d)
		closedir(d);
	return r;
}

uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool fd_is_ip_socket(int fd)
{
	int domain = 0;
	socklen_t len = sizeof(domain);

	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
	       (domain == AF_INET || domain == AF_INET6);
}

int proc_status_field(pid_t pid, const char *key, char *buf, size_t len)
{
	char path[64], status[4096], *at;
	_cleanup_close_ int fd = -1;
	size_t k = strlen(key);
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	n = read(fd, status + 1, sizeof(status) - 2);
	if (n < 0)
		return negative_errno();
	status[0] = '\n'; /* so that every line, the first too, follows a newline */
	status[n + 1] = '\0';
	for (at = status; (at = strchr(at, '\n')); at++)
		if (strncmp(at + 1, key, k) == 0 && at[1 + k] == ':') {
			const char *v = at + 2 + k, *end = strchr(v, '\n');

			snprintf(buf, len, "%.*s", (int)(end ? end - v + 1 : (long)strlen(v)), v);
			return 0;
		}
	return -ENOENT;
}
