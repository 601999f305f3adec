/* journal.h: structured entries for systemd's journal (libsystemd's sd_journal_sendv), for
 * when the supervisor's stderr is the journal's stream. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define JOURNAL_WARNING 4 /* syslog's LOG_WARNING (syslog.h's names clash with log.h's) */

/* Whether stderr is the journal's stream: JOURNAL_STREAM, set by systemd, names its device
 * and inode. */
bool journal_is_stderr(void);

/* One entry of N fields, each "NAME=value" (MESSAGE= among them), at PRIORITY. */
int journal_send(int priority, const char *const *fields, size_t n);
