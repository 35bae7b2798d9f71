/* log.c: the zygote's log: where its lines go (log_fd), and zlogp, which writes them in the file's or the journal's form through config/log.c. */
#include "zygote.h"

#include <stdarg.h>

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
 * or "<4>ID: message" to the journal (config/log.c). */
void zlogp(const struct zygote *z, enum zprio prio, const char *fmt, ...)
{
	struct pw_sink s = { log_fd, z->conf.journal ? PW_SINK_JOURNAL : PW_SINK_FILE, "pywarm-zygote",
	                     z->conf.idhex, 0 };
	va_list ap;

	va_start(ap, fmt);
	pw_log(&s, (enum pw_prio)prio, NULL, 0, fmt, ap);
	va_end(ap);
}
