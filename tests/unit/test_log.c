/* test_log.c: the one logger's line formats (pw_log_format), per sink kind, and pw_log's single write. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

/* pw_log_format with a variable argument list. */
__attribute__((format(printf, 6, 7)))
static size_t fmt(const struct pw_sink *s, enum pw_prio prio, const char *head, int err,
                  char *buf, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	size_t n = pw_log_format(s, prio, head, err, buf, 512, f, ap);
	va_end(ap);
	buf[n] = '\0';
	return n;
}

/* A sink kind, priority, head and errno, and the line expected; "%P" in
 * want stands for this process's pid. */
struct logcase {
	enum pw_sink_kind kind;
	enum pw_prio prio;
	const char *head;
	int err;
	const char *want;
};

static const struct logcase cases[] = {
	{ PW_SINK_MESSAGE, PW_PRIO_WARNING, NULL, 0, "prog: hello 7\n" },
	{ PW_SINK_MESSAGE, PW_PRIO_ERR, NULL, ENOENT, "prog: hello 7: No such file or directory\n" },
	{ PW_SINK_JOURNAL, PW_PRIO_WARNING, NULL, 0, "<4>ab12: hello 7\n" },
	{ PW_SINK_JOURNAL, PW_PRIO_INFO, NULL, 0, "<6>ab12: hello 7\n" },
	{ PW_SINK_JOURNAL, PW_PRIO_ERR, NULL, EPERM, "<3>ab12: hello 7\n" },   /* errno: MESSAGE only */
};

TEST(log_fixed_forms)
{
	char buf[512];
	struct pw_sink s = { 2, PW_SINK_MESSAGE, "prog", "ab12", 0 };

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		s.kind = cases[i].kind;
		size_t n = fmt(&s, cases[i].prio, cases[i].head, cases[i].err, buf, "hello %d", 7);
		CHECK_STREQ(buf, cases[i].want);
		CHECK_INTEQ(n, strlen(cases[i].want));
	}
}

TEST(log_file_form)
{
	char buf[512], tail[128];
	struct pw_sink s = { 2, PW_SINK_FILE, "pywarm-zygote", "ab12", 0 };
	const char *level[] = { "warning: ", "error: ", "" };
	enum pw_prio prio[] = { PW_PRIO_WARNING, PW_PRIO_ERR, PW_PRIO_INFO };

	for (int i = 0; i < 3; i++) {
		fmt(&s, prio[i], NULL, EPERM, buf, "x=%s", "y");
		snprintf(tail, sizeof tail, " pywarm-zygote[%d] ab12: %sx=y\n", (int)getpid(), level[i]);
		/* "YYYY-MM-DDTHH:MM:SS" then the rest */
		CHECK(strlen(buf) == 19 + strlen(tail));
		CHECK(buf[4] == '-' && buf[7] == '-' && buf[10] == 'T' && buf[13] == ':' && buf[16] == ':');
		CHECK_STREQ(buf + 19, tail);
	}
}

TEST(log_trace_form)
{
	char buf[512], want[64];
	struct pw_sink s = { 2, PW_SINK_TRACE, "pywarm", NULL, 0 };

	fmt(&s, PW_PRIO_INFO, "event=warm ", 0, buf, "pid=%d", 42);
	snprintf(want, sizeof want, "pywarm[%d]: event=warm +", (int)getpid());
	CHECK(strncmp(buf, want, strlen(want)) == 0);
	char *ms = strstr(buf, "ms pid=42\n");
	CHECK(ms != NULL && ms[strlen("ms pid=42\n")] == '\0');
}

/* pw_log_format into a buffer of cap bytes. */
__attribute__((format(printf, 4, 5)))
static size_t fmt_cap(const struct pw_sink *s, char *buf, size_t cap, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	size_t n = pw_log_format(s, PW_PRIO_WARNING, NULL, 0, buf, cap, f, ap);
	va_end(ap);
	return n;
}

TEST(log_long_line_is_cut)
{
	static char big[1000], buf[512];
	struct pw_sink s = { 2, PW_SINK_MESSAGE, "prog", NULL, 0 };

	memset(big, 'a', sizeof big - 1);
	size_t n = fmt_cap(&s, buf, sizeof buf, "%s", big);
	CHECK_INTEQ(n, sizeof buf - 1);          /* room for a NUL is left unused */
	CHECK(buf[n - 1] == '\n' && strncmp(buf, "prog: aaa", 9) == 0);
	n = fmt_cap(&s, buf, 3, "%s", big);       /* whatever fits, and the newline */
	CHECK_INTEQ(n, 2);
	CHECK(buf[0] == 'p' && buf[1] == '\n');
	CHECK_INTEQ(fmt_cap(&s, buf, 1, "x"), 0);
}

/* pw_log with a variable argument list. */
__attribute__((format(printf, 2, 3)))
static void log_to(const struct pw_sink *s, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	pw_log(s, PW_PRIO_INFO, NULL, 0, f, ap);
	va_end(ap);
}

TEST(log_writes_one_line_and_keeps_errno)
{
	int p[2];
	char buf[128];

	CHECK(pipe(p) == 0);
	struct pw_sink s = { p[1], PW_SINK_JOURNAL, "z", "id", 0 };
	struct pw_sink off = { -1, PW_SINK_JOURNAL, "z", "id", 0 };
	errno = EXDEV;
	log_to(&off, "nowhere");
	log_to(&s, "one %s", "line");
	CHECK_INTEQ(errno, EXDEV);
	close(p[1]);
	ssize_t n = read(p[0], buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	CHECK_STREQ(buf, "<6>id: one line\n");
	close(p[0]);
}

int main(void)
{
	RUN(log_fixed_forms);
	RUN(log_file_form);
	RUN(log_trace_form);
	RUN(log_long_line_is_cut);
	RUN(log_writes_one_line_and_keeps_errno);
	return unit_summary();
}
