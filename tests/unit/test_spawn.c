/* test_spawn.c: unit tests for pw_spawn_detached: a session of its own, clean descriptors, signals and directory, the real pid. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spawn.h"
#include "unit.h"

/* The report a spawned shell writes: what it can tell of its own state. */
static const char REPORT[] =
	"read -r x; echo \"pid=$$ stdin=${x:-eof}\"; "
	"echo \"sid=$(cut -d' ' -f6 /proc/self/stat) ppid=$PPID cwd=$(pwd)\"; "
	"echo \"fds=$(ls /proc/$$/fd | sort -n | tr '\\n' ' ')\"; echo \"env=$PW_SPAWN_TEST\"; "
	"exec grep -E '^Sig(Blk|Ign):' /proc/self/status";

/* Wait until path holds the report's last line, SigIgn (grep's own, as
 * the exec'd program inherited it: a shell blocks signals around forks). */
static const char *wait_report(const char *path)
{
	for (int i = 0; i < 1000; i++) {
		const char *text = unit_slurp(path);
		if (text != NULL && strstr(text, "SigIgn:") != NULL && strchr(strstr(text, "SigIgn:"), '\n'))
			return text;
		usleep(10000);
	}
	return NULL;
}

TEST(detached_and_clean)
{
	char path[] = "/tmp/pywarm-spawn-XXXXXX", err[256], expect[64];
	int out = mkstemp(path);
	char *argv[] = { "sh", "-c", (char *)REPORT, NULL };
	char *envp[] = { "PW_SPAWN_TEST=yes", "PATH=/usr/bin:/bin", NULL };
	struct pw_spawn sp = { "/bin/sh", argv, envp, out };
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigset_t block, old;

	CHECK(out >= 0);
	/* What a starter may have: a signal blocked and one ignored, an open
	 * descriptor that is not close-on-exec, a working directory. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGUSR2, &ign, NULL);
	int leak = open("/dev/null", O_RDONLY);
	CHECK(chdir("/tmp") == 0);
	pid_t pid = pw_spawn_detached(&sp, err, sizeof err);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR2, SIG_DFL);
	close(leak);
	close(out);
	CHECK(pid > 0);
	const char *text = wait_report(path);
	CHECK(text != NULL);
	if (text != NULL) {
		snprintf(expect, sizeof expect, "pid=%d stdin=eof\n", (int)pid);
		CHECK(strstr(text, expect) != NULL);
		/* The middle process leads the new session; the starter is
		 * nobody's parent (the middle one may not have exited yet). */
		const char *sid = strstr(text, "sid="), *ppid = strstr(text, "ppid=");
		CHECK(sid != NULL && atoi(sid + 4) != (int)getsid(0));
		CHECK(ppid != NULL && atoi(ppid + 5) != (int)getpid());
		CHECK(strstr(text, " cwd=/\n") != NULL);
		CHECK(strstr(text, "SigBlk:\t0000000000000000\n") != NULL);
		/* Ignored: none but libc's own real-time signals, which no
		 * program can change (32 and 33). */
		const char *sigign = strstr(text, "SigIgn:\t");
		CHECK(sigign != NULL && (strtoull(sigign + 8, NULL, 16) & ~(3ULL << 31)) == 0);
		CHECK(strstr(text, "fds=0 1 2 ") != NULL && strstr(text, "fds=0 1 2 3 4") == NULL);
		CHECK(strstr(text, "env=yes\n") != NULL);
		if (unit_state.failed_checks)
			fprintf(stderr, "%s", text);
	}
	unlink(path);
}

TEST(exec_failure_is_told)
{
	char path[] = "/tmp/pywarm-spawn-XXXXXX", err[256];
	int out = mkstemp(path);
	char *argv[] = { "nothing", NULL };
	struct pw_spawn sp = { "/nonexistent/pywarm-zygote", argv, NULL, out };

	pid_t pid = pw_spawn_detached(&sp, err, sizeof err);
	close(out);
	CHECK(pid > 0);           /* the exec fails in the grandchild, which says so */
	const char *text = NULL;
	for (int i = 0; i < 1000 && (text == NULL || strchr(text, '\n') == NULL); i++) {
		text = unit_slurp(path);
		usleep(10000);
	}
	CHECK_STREQ(text, "pywarm: cannot execute /nonexistent/pywarm-zygote: No such file or directory\n");
	unlink(path);
}

int main(void)
{
	RUN(detached_and_clean);
	RUN(exec_failure_is_told);
	return unit_summary();
}
