/* spawn.c: the one detached double-fork, with one fd and signal hygiene for every daemon pywarm starts. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"

extern char **environ;

/* What the middle process reports through its pipe. */
struct report {
	pid_t pid;                  /* the grandchild's pid, or -1 */
	int err;                    /* errno of a failed fork */
};

/* In the grandchild: stdio, directory, signals, descriptors, then exec.
 * Only async-signal-safe calls: the starter may have threads. */
__attribute__((noreturn))
static void grandchild(const struct pw_spawn *s, int outfd)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int nullfd = pw_fd_above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));

	if (chdir("/") < 0 || outfd < 0 || nullfd < 0 ||
	    dup2(nullfd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);      /* KILL, STOP, libc's own: EINVAL */
	/* Nothing of the starter's may leak into a long-lived daemon. */
	if (close_range(3, ~0U, 0) < 0) {
		long max = sysconf(_SC_OPEN_MAX);

		for (long fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
			close((int)fd);
	}
	execve(s->path, s->argv, s->envp ? s->envp : environ);
	dprintf(2, "pywarm: cannot execute %s: %s\n", s->path, strerror(errno));
	_exit(127);
}

/* In the middle process: a new session, the grandchild, its pid, and go. */
__attribute__((noreturn))
static void middle(const struct pw_spawn *s, int wfd)
{
	struct report rep = { -1, 0 };
	int outfd = pw_fd_above_stdio(s->outfd);   /* the starter may have had 0-2 closed */

	setsid();
	rep.pid = fork();
	if (rep.pid == 0) {
		close(wfd);
		grandchild(s, outfd);
	}
	rep.err = rep.pid < 0 ? errno : 0;
	_exit(write(wfd, &rep, sizeof rep) == (ssize_t)sizeof rep ? 0 : 1);
}

pid_t pw_spawn_detached(const struct pw_spawn *s, char *err, size_t errlen)
{
	struct report rep = { -1, 0 };
	int p[2], status = 0;
	ssize_t n;
	pid_t mid, w;

	if (pipe2(p, O_CLOEXEC) < 0) {
		pw_seterr(err, errlen, "cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	mid = fork();
	if (mid == 0) {
		close(p[0]);
		middle(s, p[1]);
	}
	close(p[1]);
	if (mid < 0) {
		pw_seterr(err, errlen, "cannot fork: %s", strerror(errno));
		close(p[0]);
		return -1;
	}
	do
		n = read(p[0], &rep, sizeof rep);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	do
		w = waitpid(mid, &status, 0);
	while (w < 0 && errno == EINTR);
	/* ECHILD: the starter ignores SIGCHLD and the kernel reaped it. */
	if (w < 0 && errno != ECHILD) {
		pw_seterr(err, errlen, "cannot wait for process %ld: %s", (long)mid, strerror(errno));
		return -1;
	}
	if (n != (ssize_t)sizeof rep) {
		pw_seterr(err, errlen, "cannot start %s: the helper process failed", s->path);
		return -1;
	}
	if (rep.pid < 0) {
		pw_seterr(err, errlen, "cannot fork: %s", strerror(rep.err));
		return -1;
	}
	return rep.pid;
}
