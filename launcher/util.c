/* util.c: messages, dying, the PYWARM_DEBUG trace and the clock, for pywarm and pywarmctl. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "proto.h"
#include "util.h"

const char *pw_progname = "pywarm";

/* Where the debug trace goes: -1 when PYWARM_DEBUG is unset (the common,
 * cheap case), 2 for "1", or a file opened O_APPEND.  Set once by
 * pw_debug_init(). */
static int debug_fd = -1;

/* "<progname>: <fmt...>[: strerror(err)]" on stderr (log.c). */
__attribute__((format(printf, 2, 0)))
static void vmessage(int err, const char *fmt, va_list ap)
{
	struct pw_sink s = { 2, PW_SINK_MESSAGE, pw_progname, NULL, 0 };
	pw_log(&s, PW_PRIO_WARNING, NULL, err, fmt, ap);
}

/* "<progname>: <msg>" on stderr; errno is preserved (pw_log keeps it). */
void pw_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(0, fmt, ap);
	va_end(ap);
}

/* "<progname>: <msg>: strerror(errno)" on stderr; errno is preserved. */
void pw_warn_errno(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vmessage(saved, fmt, ap);
	va_end(ap);
}

/* pw_warn, then exit with PW_EXIT_FATAL. */
void pw_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(0, fmt, ap);
	va_end(ap);
	exit(PW_EXIT_FATAL);
}

/* pw_warn_errno, then exit with PW_EXIT_FATAL. */
void pw_die_errno(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vmessage(saved, fmt, ap);
	va_end(ap);
	exit(PW_EXIT_FATAL);
}

/* When tracing started, for the "+T.TTTms" phase times in each line. */
static long long debug_t0;

/* Read PYWARM_DEBUG once: unset, empty or "0" is off; a value starting with
 * '/' appends to that file; anything else ("1") traces to stderr.  The
 * file is opened from its directory, which must be the user's or root's
 * and not writable by group or others unless sticky (/tmp), without
 * following a symbolic link, and kept only if it is a regular file of the
 * user's with one link: root tracing to /tmp/t never appends to a file
 * another user planted or linked there.  A refused file is one line on
 * stderr and no trace; the program runs all the same. */
void pw_debug_init(void)
{
	const char *v = getenv("PYWARM_DEBUG");
	char err[PATH_MAX + 200];
	int fd;

	debug_fd = -1;
	if (!v || !*v || strcmp(v, "0") == 0)
		return;
	debug_t0 = pw_mono_us();         /* read the clock only when tracing */
	if (v[0] != '/') {
		debug_fd = 2;
		return;
	}
	fd = pw_private_open("debug log directory", v, PW_DIR_ROOT_OK | PW_DIR_STICKY_OK, 0,
	                     O_WRONLY | O_APPEND | O_CREAT, err, sizeof err);
	if (fd < 0) {
		pw_warn("not tracing to PYWARM_DEBUG=%s: %s", v, err);
		return;
	}
	/* Keep the trace off fds 0-2: pywarm passes those on as the
	 * caller's stdio, and a trace file must never stand in for one. */
	debug_fd = pw_fd_above_stdio(fd);
}

/* Is the debug trace on? */
int pw_debug_enabled(void)
{
	return debug_fd >= 0;
}

/* One trace line: "<progname>[PID]: HEAD+T.TTTms MESSAGE" (log.c); errno is preserved. */
__attribute__((format(printf, 2, 0)))
static void trace_line(const char *head, const char *fmt, va_list ap)
{
	struct pw_sink s = { debug_fd, PW_SINK_TRACE, pw_progname, NULL, debug_t0 };
	pw_log(&s, PW_PRIO_INFO, head, 0, fmt, ap);
}

/* A line of the human-readable trace: "<progname>[PID]: debug: +T.TTTms MESSAGE". */
void pw_debug(const char *fmt, ...)
{
	va_list ap;

	if (debug_fd < 0)
		return;
	va_start(ap, fmt);
	trace_line("debug: ", fmt, ap);
	va_end(ap);
}

/* How the run was served, for programs that read the trace: one line
 * "pywarm[PID]: event=warm +T.TTTms pid=CHILD" or
 * "pywarm[PID]: event=cold +T.TTTms reason=TEXT" (the rest of the line). */
void pw_event(enum pw_event kind, const char *fmt, ...)
{
	va_list ap;

	if (debug_fd < 0)
		return;
	va_start(ap, fmt);
	trace_line(kind == PW_EVENT_WARM ? "event=warm " : "event=cold ", fmt, ap);
	va_end(ap);
}

