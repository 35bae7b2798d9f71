/* util.h: messages, dying, and the debug trace for pywarm and pywarmctl. */
#ifndef PW_UTIL_H
#define PW_UTIL_H

#include <stdarg.h>

/* Exit status of pywarm's own fatal errors (python3 uses 1 and 2; a cold
 * exec that fails is 127, like a shell's "command not found"). */
#define PW_EXIT_FATAL 127

/* Program name in messages: "pywarm" or "pywarmctl". */
extern const char *pw_progname;

/* "pywarm: <msg>\n" to stderr. */
void pw_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "pywarm: <msg>: strerror(errno)\n" to stderr. */
void pw_warn_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* pw_warn then exit(PW_EXIT_FATAL). */
void pw_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void pw_die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Debug trace, enabled by PYWARM_DEBUG: "1" traces to stderr, an absolute
 * path appends to that file.  Lines look like "pywarm[PID]: debug: <msg>". */
void pw_debug_init(void);
int  pw_debug_enabled(void);
void pw_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
enum pw_event { PW_EVENT_WARM, PW_EVENT_COLD };
void pw_event(enum pw_event kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic time in microseconds, for the trace's phase timings. */

#endif
