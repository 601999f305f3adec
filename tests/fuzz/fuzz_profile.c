/* fuzz_profile.c: libFuzzer harness for profile.c: any file content must give either a
 * policy or one error line with a position, and never a crash or a leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	struct policy p;
	int fd = memfd_create("profile", MFD_CLOEXEC);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	policy_init(&p);
	err_clear();
	if (profile_load(path, &p) < 0 && strchr(err_message(-EINVAL), '\n'))
		abort();
	policy_free(&p);
	close(fd);
	return 0;
}
