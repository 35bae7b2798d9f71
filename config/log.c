/* log.c: one logger for the three programs: a message becomes one line, in the form its sink asks for, written with one write(). */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

/* Longest line written; longer ones are cut (one write() per line, so that
 * lines from processes appending to the same file never interleave). */
#define PW_LINE_MAX 4096

/* Append to buf[*len..cap) what snprintf would; *len stays within cap. */
__attribute__((format(printf, 4, 0)))
static void vadd(char *buf, size_t cap, size_t *len, const char *fmt, va_list ap)
{
	if (*len >= cap)
		return;
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	*len += n < 0 ? 0 : (size_t)n;
	if (*len > cap)
		*len = cap;
}

__attribute__((format(printf, 4, 5)))
static void add(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(buf, cap, len, fmt, ap);
	va_end(ap);
}

/* The part before the text, as the sink's kind has it. */
static void lead(const struct pw_sink *s, enum pw_prio prio, const char *head,
                 char *buf, size_t cap, size_t *len)
{
	const char *level = prio == PW_PRIO_ERR ? "error: " : prio == PW_PRIO_WARNING ? "warning: " : "";
	char when[32];
	struct tm tm;
	time_t now;

	switch (s->kind) {
	case PW_SINK_MESSAGE:
		add(buf, cap, len, "%s: ", s->name);
		break;
	case PW_SINK_TRACE:
		add(buf, cap, len, "%s[%ld]: %s+%.3fms ", s->name, (long)getpid(), head ? head : "",
		    (double)(pw_mono_us() - s->t0_us) / 1000.0);
		break;
	case PW_SINK_FILE:
		now = time(NULL);
		localtime_r(&now, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
		add(buf, cap, len, "%s %s[%d] %s: %s", when, s->name, (int)getpid(), s->tag, level);
		break;
	case PW_SINK_JOURNAL:
		add(buf, cap, len, "<%d>%s: ", (int)prio, s->tag);
		break;
	}
}

size_t pw_log_format(const struct pw_sink *s, enum pw_prio prio, const char *head, int err,
                     char *buf, size_t cap, const char *fmt, va_list ap)
{
	size_t len = 0;

	if (cap < 2)
		return 0;
	lead(s, prio, head, buf, cap - 1, &len);
	vadd(buf, cap - 1, &len, fmt, ap);
	if (err && s->kind == PW_SINK_MESSAGE)
		add(buf, cap - 1, &len, ": %s", strerror(err));
	if (len > cap - 2)
		len = cap - 2;
	buf[len++] = '\n';
	return len;
}

void pw_log(const struct pw_sink *s, enum pw_prio prio, const char *head, int err,
            const char *fmt, va_list ap)
{
	char buf[PW_LINE_MAX];
	int saved = errno;
	ssize_t n;

	if (s->fd < 0)
		return;
	size_t len = pw_log_format(s, prio, head, err, buf, sizeof buf, fmt, ap);
	do
		n = write(s->fd, buf, len);
	while (n < 0 && errno == EINTR);
	errno = saved;
}
