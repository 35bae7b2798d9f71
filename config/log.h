/* log.h: one logger for the three programs: a message becomes one line, written with one write(), to a sink that says where and in what form. */
#ifndef PW_LOG_H
#define PW_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* The forms a line takes. */
enum pw_sink_kind {
	PW_SINK_MESSAGE,  /* "NAME: text[: strerror]" (a program's stderr) */
	PW_SINK_TRACE,    /* "NAME[PID]: HEAD+T.TTTms text" (the PYWARM_DEBUG trace) */
	PW_SINK_FILE,     /* "YYYY-MM-DDTHH:MM:SS NAME[PID] TAG: warning: text" (a log file) */
	PW_SINK_JOURNAL,  /* "<N>TAG: text" (the journal stamps time and pid itself) */
};

/* Syslog priorities: the journal keeps them, a log file names the first two. */
enum pw_prio { PW_PRIO_ERR = 3, PW_PRIO_WARNING = 4, PW_PRIO_INFO = 6 };

struct pw_sink {
	int fd;                   /* -1: nowhere */
	enum pw_sink_kind kind;
	const char *name;         /* the program's name */
	const char *tag;          /* FILE, JOURNAL: what the lines speak for (a zygote's identity) */
	long long t0_us;          /* TRACE: when tracing started (pw_mono_us) */
};

/* The line for a message into buf[0..cap), newline included (cut to fit);
 * head is TRACE's ("debug: ", "event=warm "), err a nonzero errno that
 * MESSAGE appends.  Returns its length. */
size_t pw_log_format(const struct pw_sink *s, enum pw_prio prio, const char *head, int err,
                     char *buf, size_t cap, const char *fmt, va_list ap)
	__attribute__((format(printf, 7, 0)));

/* Format and write one line to s (nothing if s->fd < 0); errno is kept. */
void pw_log(const struct pw_sink *s, enum pw_prio prio, const char *head, int err,
            const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

#endif
