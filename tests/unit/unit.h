/* unit.h: a header-only unit test harness: TEST, RUN, CHECK*, and one summary line. */
#ifndef PW_UNIT_H
#define PW_UNIT_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Harness state, one copy per test program (this header is included once). */
static struct {
	const char *test;      /* the test now running */
	int failed_checks;     /* failed checks in the running test */
	int passed, failed;    /* finished tests */
} unit_state;

#define TEST(name) static void name(void)
#define RUN(name)  unit_run(#name, name)

/* Record a failed check without stopping the test. */
#define CHECK(cond) \
	do { if (!(cond)) unit_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); } while (0)

/* Compare two strings; NULL equals only NULL. */
#define CHECK_STREQ(a, b) \
	do { \
		const char *unit_a_ = (a), *unit_b_ = (b); \
		if (!(unit_a_ == unit_b_ || (unit_a_ && unit_b_ && strcmp(unit_a_, unit_b_) == 0))) \
			unit_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
			          unit_a_ ? unit_a_ : "(null)", unit_b_ ? unit_b_ : "(null)"); \
	} while (0)

/* Compare two integers. */
#define CHECK_INTEQ(a, b) \
	do { \
		long long unit_a_ = (long long)(a), unit_b_ = (long long)(b); \
		if (unit_a_ != unit_b_) \
			unit_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, unit_a_, unit_b_); \
	} while (0)

/* Report a failed check of the running test on stderr. */
__attribute__((format(printf, 3, 4), unused))
static void unit_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: %s: ", file, line, unit_state.test ? unit_state.test : "?");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	unit_state.failed_checks++;
}

/* Run one test function and count it as passed or failed. */
__attribute__((unused))
static void unit_run(const char *name, void (*fn)(void))
{
	unit_state.test = name;
	unit_state.failed_checks = 0;
	fn();
	if (unit_state.failed_checks)
		unit_state.failed++;
	else
		unit_state.passed++;
	fflush(stdout);
	unit_state.test = NULL;
}

/* Contents of a file (static buffer), or "" if unreadable. */
__attribute__((unused))
static const char *unit_slurp(const char *path)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : 0;

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

/* Print "N passed, N failed" and return main()'s exit status. */
__attribute__((unused))
static int unit_summary(void)
{
	printf("%d passed, %d failed\n", unit_state.passed, unit_state.failed);
	fflush(stdout);
	return unit_state.failed ? 1 : 0;
}

#endif
