/* log.c: the zygote's log: timestamped lines to its log file (or stderr under a supervisor). */
#include "zygote.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Where the lines go: the zygote's stderr (its log file, or the journal
 * under a service manager), or nowhere (-1).  The logger owns it; a child
 * points it at its own copy, or at nothing, without touching the zygote's
 * state. */
static int log_fd = -1;

/* Log to fd from now on (-1: nowhere). */
void zlog_use_fd(int fd)
{
	log_fd = fd;
}

/* The descriptor lines go to, or -1. */
int zlog_fd(void)
{
	return log_fd;
}

/* One line: "2026-11-22T01:02:03 pywarm-zygote[PID] ID: warning: message",
 * or "<4>ID: message" to the journal. */
void zlogp(const struct zygote *z, enum zprio prio, const char *fmt, ...)
{
	const char *tag = prio == ZLOG_ERR ? "error: " : prio == ZLOG_WARNING ? "warning: " : "";
	char line[2048];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;

	localtime_r(&now, &tm);
	/* The journal stamps time and pid itself. */
	int n = z->conf.journal ? 0 : (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S ", &tm);
	if (z->conf.journal)
		n += snprintf(line + n, sizeof line - (size_t)n, "<%d>%s: ", (int)prio, z->conf.idhex);
	else
		n += snprintf(line + n, sizeof line - (size_t)n, "pywarm-zygote[%d] %s: %s",
		              (int)getpid(), z->conf.idhex, tag);
	va_start(ap, fmt);
	if (n < (int)sizeof line)
		n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof line - 1)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if (log_fd >= 0 && write(log_fd, line, (size_t)n) < 0)
		return;
}
