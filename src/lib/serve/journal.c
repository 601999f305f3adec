/* journal.c: see journal.h. Apart from log.h: syslog.h, which sd-journal.h includes, names
 * LOG_ERR and LOG_INFO too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "journal.h"

#define FIELDS_MAX 24

bool journal_is_stderr(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return v && sscanf(v, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int journal_send(int priority, const char *const *fields, size_t n)
{
	struct iovec iov[FIELDS_MAX + 2];
	char prio[16];
	size_t k = 0;

	if (n > FIELDS_MAX)
		n = FIELDS_MAX;
	snprintf(prio, sizeof(prio), "PRIORITY=%d", priority);
	iov[k++] = (struct iovec){.iov_base = prio, .iov_len = strlen(prio)};
	iov[k++] = (struct iovec){.iov_base = (char *)"SYSLOG_IDENTIFIER=sluice",
				  .iov_len = strlen("SYSLOG_IDENTIFIER=sluice")};
	for (size_t i = 0; i < n; i++)
		iov[k++] = (struct iovec){.iov_base = (char *)fields[i], .iov_len = strlen(fields[i])};
	return sd_journal_sendv(iov, (int)k);
}
