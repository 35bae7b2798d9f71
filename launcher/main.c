/* main.c: pywarm, the launcher: run a python3 command line in a warm child, or exec python3. */
#include "args.h"
#include "config.h"
#include "conn.h"
#include "proto.h"
#include "sig.h"
#include "util.h"
#include "procfs.h"
#include "token.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef PW_PYTHON
#error "PW_PYTHON must name the real interpreter"
#endif

extern char **environ;

/* Seconds a run that can only be served warm waits for its zygote. */
#define WARM_ONLY_WAIT_S 120
/* How long a launch waits for a child to take it (TAKEN) before it runs
 * cold; a socket-activated zygote may first have to start and warm. */
#define TAKEN_WAIT_US     5000000LL
#define TAKEN_WAIT_ACT_US 30000000LL
/* From GO to READY the child only sets itself up; past this it is stuck
 * (stopped, say), and is killed so that the run can go cold. */
#define READY_WAIT_US     30000000LL
/* Bytes; a longer PYTHONWARNINGS runs cold. */
#define PYTHONWARNINGS_MAX 4096

/* What the launcher knows about the run it is trying to serve warm. */
struct run {
	int argc;
	char **argv;
	struct pw_cmdline cmd;
	struct pw_target target;
	int target_ok;              /* target (and its profile) resolved */
	int profile_warned;         /* the profile's problem has been reported */
	int sock;
	int via_default;            /* sock leads to the socket-activated default zygote */
	sigset_t saved_mask;
	int tty_fd;                 /* a terminal among fds 0-2, or -1 */
	int ctty;                   /* our controlling terminal, or -1 */
	struct termios tty_saved;
	pid_t child;                /* the child serving the run, once READY */
	pid_t taken;                /* the child that sent TAKEN (kernel-checked) */
	pid_t zygote;               /* its parent, the only sender of EXIT */
	int taken_fd;               /* a pidfd of it, or -1 */
	int fds[PW_MAX_FDS];        /* the cwd, then the fds the child takes at GO */
	uint32_t nfds;
	const char *exe;            /* the interpreter a cold run executes */
	struct pw_interp interp;    /* when no profile could be used */
};

/* Confine a cold run the way the zygote would have confined it warm: the
 * filter and the Landlock ruleset survive execve (no_new_privs is set).
 * The launcher does this itself rather than exec'ing a helper, so it links
 * libseccomp (statically: see the Makefile). */
static void cold_sandbox(struct run *r)
{
	struct pw_profile p;
	char cwd[PATH_MAX], err[PATH_MAX + 256], *path = NULL;
	int source = 0;
	const char *env = getenv("PYWARM_SANDBOX");

	if (r->target_ok) {
		if (pw_sandbox_enter(&r->target.profile.sandbox, env, r->exe, 1))
			pw_debug("cold run confined by its sandbox");
		return;
	}
	memset(&p, 0, sizeof(p));
	if (getcwd(cwd, sizeof cwd) != NULL &&
	    pw_profile_find(cwd, &path, &source, err, sizeof err) == 0 &&
	    pw_profile_load(&p, path, source, err, sizeof err) < 0 && p.sandbox.broken) {
		if (!r->profile_warned)
			pw_warn("%s", err);
		exit(PW_EXIT_SANDBOX);      /* it asks for a sandbox: never unconfined */
	}
	free(path);
	if (pw_sandbox_enter(&p.sandbox, env, r->exe, 1))
		pw_debug("cold run confined by its sandbox");
	pw_profile_free(&p);
}

/* Exec the real interpreter with our argv (argv[0] replaced by its path). */
static void __attribute__((noreturn)) run_cold(struct run *r, const char *why)
{
	struct stat self, real;

	if (r->exe == NULL) {           /* no profile was resolved: decide without one */
		pw_interp_resolve(NULL, &r->interp);
		r->exe = r->interp.path;
	}
	pw_event(PW_EVENT_COLD, "reason=%s", why);
	cold_sandbox(r);
	if (r->sock >= 0)
		close(r->sock);
	if (stat(r->exe, &real) == 0 && stat("/proc/self/exe", &self) == 0 &&
	    real.st_dev == self.st_dev && real.st_ino == self.st_ino)
		pw_die("%s is pywarm itself; refusing to exec it in a loop", r->exe);
	r->argv[0] = (char *)r->exe;
	execv(r->exe, r->argv);
	pw_die_errno("cannot run %s", r->exe);
}

/* PYTHON* variables whose effect a warm child cannot reproduce: they print
 * during start-up or at exit, trace imports or allocations the zygote
 * already did, or only exist in debug builds.  The others shape the
 * start-up configuration, which the zygote computed from the same values
 * (they are part of its identity), or are read when the program runs. */
static const char *const cold_env[] = {
	"PYTHONVERBOSE", "PYTHONTRACEMALLOC", "PYTHONPROFILEIMPORTTIME",
	"PYTHONCOERCECLOCALE", "PYTHONMALLOCSTATS", "PYTHONDUMPREFS",
	"PYTHONTHREADDEBUG", "PYTHONLEGACYWINDOWSSTDIO", NULL,
};

/* Would python3 print "Invalid -W option ignored" for a PYTHONWARNINGS
 * entry, or import a module for it, at start-up?  v is not empty.  An
 * empty entry (",,", or a comma at either end) counts as bad, and so does
 * a value of PYTHONWARNINGS_MAX bytes or more. */
static int bad_pythonwarnings(const char *v)
{
	size_t n = strlen(v), len;
	struct pw_tok t;
	const char *e;

	if (n >= PYTHONWARNINGS_MAX)
		return 1;
	pw_tok_init(&t, v, n, ",", PW_TOK_KEEP_EMPTY);
	while (pw_tok_next(&t, &e, &len))
		if (len == 0 || !pw_warnopt_ok(e, len))
			return 1;
	return 0;
}

/* Does the environment hold anything this version cannot serve warm? */
static const char *env_cold_reason(void)
{
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, "PYTHON", 6) != 0)
			continue;
		for (const char *const *c = cold_env; *c; c++) {
			size_t n = strlen(*c);
			if (strncmp(*e, *c, n) == 0 && (*e)[n] == '=' && (*e)[n + 1] != '\0')
				return "a PYTHON* variable that warm state would change";
		}
	}
	const char *w = getenv("PYTHONWARNINGS");
	if (w && *w && bad_pythonwarnings(w))
		return "a PYTHONWARNINGS entry python3 would complain about or import for";
	const char *d = getenv("PYWARM_DISABLE");
	if (d && *d && strcmp(d, "0") != 0)
		return "PYWARM_DISABLE is set";
	return NULL;
}

/* Process state that a warm child could not reproduce. */
static const char *state_cold_reason(void)
{
	struct itimerval it;
	int which[] = { ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF };

	for (size_t i = 0; i < 3; i++)
		if (getitimer(which[i], &it) == 0 &&
		    (it.it_value.tv_sec || it.it_value.tv_usec))
			return "an interval timer is armed";
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0)
		return "the caller runs under seccomp";
	return NULL;
}

/* Add every inheritable fd of ours, in order, after the cwd at fds[0]. */
static int collect_fds(struct pw_launch *l, int *fds)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	int dfd = dirfd(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		int fd = atoi(de->d_name);
		if (fd == dfd)
			continue;
		int fl = fcntl(fd, F_GETFD);
		if (fl < 0 || (fl & FD_CLOEXEC))
			continue;
		if (l->nfds >= PW_MAX_FDS) {
			closedir(d);
			errno = EMFILE;
			return -1;
		}
		l->fdnum[l->nfds] = fd;
		fds[l->nfds++] = fd;
	}
	closedir(d);
	return 0;
}

/* Namespaces, root, groups, affinity: what the child compares or copies. */
static void collect_identity_state(struct pw_launch *l, uint32_t *groups, uint8_t *cpus)
{
	struct stat st;
	char path[64];

	for (int i = 0; i < PW_NNS; i++) {
		snprintf(path, sizeof path, "/proc/self/ns/%s", pw_ns_names[i]);
		l->ns_ino[i] = stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
	}
	if (stat("/", &st) == 0) {
		l->root_dev = st.st_dev;
		l->root_ino = st.st_ino;
	}
	gid_t g[256];
	int n = getgroups(256, g);
	for (int i = 0; i < n; i++)
		groups[i] = g[i];
	l->ngroups = n > 0 ? (uint32_t)n : 0;
	l->groups = groups;
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		memcpy(cpus, &set, sizeof set < PW_CPUSET_BYTES ? sizeof set : PW_CPUSET_BYTES);
		l->cpuset_len = sizeof set < PW_CPUSET_BYTES ? sizeof set : PW_CPUSET_BYTES;
		l->cpuset = cpus;
	}
}

/* Signals, umask, nice, rlimits: the process state exec would carry over. */
static void collect_process_state(struct pw_launch *l)
{
	mode_t m = umask(0);
	umask(m);
	l->umask = m;
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, 0);
	l->nice = errno ? 0 : nice;
	for (int s = 1; s <= PW_NSIG; s++) {
		struct sigaction sa;
		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			l->sig_ignored |= 1ull << (s - 1);
	}
	sigset_t blocked;
	sigprocmask(SIG_BLOCK, NULL, &blocked);
	for (int s = 1; s <= PW_NSIG; s++)
		if (sigismember(&blocked, s) == 1)
			l->sig_blocked |= 1ull << (s - 1);
	for (int i = 0; i < PW_NRLIMIT; i++) {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
		getrlimit(i, &rl);
		l->rlim_cur[i] = rl.rlim_cur;
		l->rlim_max[i] = rl.rlim_max;
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		l->flags |= PW_LF_NO_NEW_PRIVS;
}

/* Build and send the launch request (its fds go later, with GO); -1
 * means nothing reached a child. */
static int send_launch(struct run *r, const sigset_t *orig_mask)
{
	static struct pw_launch l;
	static uint32_t groups[256];
	static uint8_t cpus[PW_CPUSET_BYTES];

	l.identity = r->target.identity;
	l.mode = (uint32_t)r->cmd.mode;
	l.payload = (uint32_t)r->cmd.payload;
	l.sysargv = (uint32_t)r->cmd.sysargv;
	l.stdin_dash = (uint32_t)r->cmd.stdin_dash;
	l.emul = r->cmd.emul;
	collect_process_state(&l);
	/* The mask the caller gave us, not the one with forwarded signals blocked. */
	l.sig_blocked = 0;
	for (int s = 1; s <= PW_NSIG; s++)
		if (sigismember(orig_mask, s) == 1)
			l.sig_blocked |= 1ull << (s - 1);
	collect_identity_state(&l, groups, cpus);
	l.argc = (uint32_t)r->argc;
	l.argv = r->argv;
	uint32_t envc = 0;
	while (environ[envc])
		envc++;
	l.envc = envc;
	l.envp = environ;
	int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0)
		return -1;
	l.nfds = 1;
	l.fdnum[0] = -1;
	r->fds[0] = cwd;
	if (collect_fds(&l, r->fds) < 0) {
		close(cwd);
		return -1;
	}
	r->nfds = l.nfds;
	char *buf;
	size_t len;
	int rc = pw_launch_encode(&l, &buf, &len);
	if (rc == 0) {
		rc = pw_send(r->sock, PW_MSG_LAUNCH, buf, (uint32_t)len, NULL, 0);
		free(buf);
	}
	return rc;
}

/* Started in the background of a job-control shell, with a standard
 * stream on its terminal: python3 would be stopped by SIGTTIN when it
 * reads (or SIGTTOU under "stty tostop").  A warm child has no controlling
 * terminal and would not be, so such runs go cold. */
static int in_background(void)
{
	pid_t pg = getpgrp();

	for (int fd = 0; fd <= 2; fd++) {
		pid_t fg = tcgetpgrp(fd);
		if (fg > 0 && fg != pg)
			return 1;
	}
	return 0;
}

/* Remember the terminal settings so a signal death can restore them. */
static void save_tty(struct run *r)
{
	r->tty_fd = -1;
	for (int fd = 0; fd <= 2; fd++)
		if (tcgetattr(fd, &r->tty_saved) == 0) {
			r->tty_fd = fd;
			return;
		}
}

/* Put the terminal back the way it was if the dead child left it changed. */
static void restore_tty(struct run *r)
{
	struct termios now;
	if (r->tty_fd < 0 || tcgetattr(r->tty_fd, &now) != 0)
		return;
	if (memcmp(&now, &r->tty_saved, sizeof now) != 0)
		tcsetattr(r->tty_fd, TCSADRAIN, &r->tty_saved);
}

/* Leave exactly as the child did: same code, or death by the same signal. */
static void __attribute__((noreturn)) exit_like(struct run *r, int status)
{
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	int sig = WTERMSIG(status);
	restore_tty(r);
	if (!WCOREDUMP(status)) {
		struct rlimit none = { 0, 0 };
		struct rlimit cur;
		if (getrlimit(RLIMIT_CORE, &cur) == 0) {
			none.rlim_max = cur.rlim_max;
			setrlimit(RLIMIT_CORE, &none);
		}
	}
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

/* The zygote vanished while the child ran: it was killed with it. */
static void __attribute__((noreturn)) zygote_lost(struct run *r)
{
	pw_warn("the zygote serving this run died; the program (pid %d) was killed",
	        (int)r->child);
	exit_like(r, SIGKILL);
}

/* Start this run's zygote in the background. */
static void spawn_target(struct run *r)
{
	char err[512];
	pid_t pid = pw_spawn_zygote(&r->target, err, sizeof err);
	if (pid < 0)
		pw_warn("%s", err);
	else
		pw_debug("spawned zygote %s pid=%d", r->target.idhex, (int)pid);
}

/* The parent of pid (field 4 of /proc/PID/stat), or -1. */
static pid_t parent_of(pid_t pid)
{
	unsigned long long f[4];
	return pw_proc_stat(pid, f, 4) == 4 ? (pid_t)f[3] : -1;
}

/* Go cold before GO: the child that may hold the request never gets the
 * descriptors, so it cannot start the program. */
static void __attribute__((noreturn)) cold_before_go(struct run *r, const char *why)
{
	if (r->sock >= 0)
		close(r->sock);
	r->sock = -1;
	run_cold(r, why);
}

/* Wait (bounded) for a child to take the request, then send GO with the
 * descriptors.  Signals keep their caller's effect meanwhile: python3
 * would die of a SIGINT or SIGTERM this early too.  Returns with the
 * forwarded signals blocked, or runs cold. */
static void take_and_go(struct run *r)
{
	long long deadline = pw_mono_us() + (r->via_default ? TAKEN_WAIT_ACT_US : TAKEN_WAIT_US);
	struct pw_hdr h;
	struct ucred from;
	char *payload, why[300];
	uint32_t nfds;
	int fd;

	if (pw_recv_from(r->sock, &h, &payload, &fd, 0, &nfds, deadline, &from) < 0)
		cold_before_go(r, errno == ETIMEDOUT ? "no child took the run in time" :
		                  errno == EPROTONOSUPPORT ? "zygote speaks another protocol version" :
		                  "zygote closed before the child started");
	if ((h.type == PW_MSG_FALLBACK || h.type == PW_MSG_REJECT) && h.len > 0) {
		snprintf(why, sizeof why, "zygote: %s", payload);
		free(payload);
		if (r->via_default && h.type == PW_MSG_REJECT)
			spawn_target(r);
		cold_before_go(r, why);
	}
	struct pw_ready tk = { 0 };
	if (h.type == PW_MSG_TAKEN && h.len == sizeof tk)
		memcpy(&tk, payload, sizeof tk);
	free(payload);
	/* The kernel says who sent TAKEN: it must name itself, be a child of a
	 * process of ours, and not be us or init. */
	if (tk.pid != from.pid || from.pid <= 1 || from.pid == getpid() || from.uid != geteuid())
		cold_before_go(r, "the zygote's answer is not a TAKEN from a child of it");
	r->taken = from.pid;
	r->zygote = parent_of(from.pid);
	if (r->zygote <= 1)
		cold_before_go(r, "the child that took the run has no zygote for a parent");
	r->taken_fd = pidfd_open(r->taken, 0);
	pw_sig_block(&r->saved_mask);
	if (pw_send(r->sock, PW_MSG_GO, NULL, 0, r->fds, r->nfds) < 0) {
		pw_sig_unblock(&r->saved_mask);
		cold_before_go(r, "cannot hand the descriptors to the child");
	}
	close(r->fds[0]);               /* the cwd; the others are ours */
}

/* READY: user code starts now; forward signals to the child's group once
 * it is the group the child leads (never a group we have not seen). */
static void on_ready(struct run *r, pid_t pid)
{
	r->child = pid;
	pw_event(PW_EVENT_WARM, "pid=%d", (int)pid);
	pid_t pg = getpgid(pid);
	if (pg == pid)
		pw_sig_forward(pid, &r->saved_mask);
	else if (pg >= 0 || errno != ESRCH)     /* ESRCH: it has ended already */
		pw_debug("child %d does not lead its process group; signals are not forwarded", (int)pid);
}

/* No READY within READY_WAIT_US of GO: kill the child that took the run
 * and wait for it to be gone; then, unless it did say READY meanwhile (the
 * program started and was killed), the run goes cold: it never ran. */
static void __attribute__((noreturn)) ready_timeout(struct run *r)
{
	struct pw_hdr h;
	struct ucred from;
	char *payload;
	int fd;
	uint32_t nfds;

	if (r->taken_fd < 0 || pidfd_send_signal(r->taken_fd, SIGKILL, NULL, 0) < 0) {
		pw_warn("the zygote's child %d did not start the program in time and cannot be stopped",
		        (int)r->taken);
		exit_like(r, SIGKILL);
	}
	struct pollfd p = { r->taken_fd, POLLIN, 0 };
	poll(&p, 1, 5000);
	while (pw_recv_from(r->sock, &h, &payload, &fd, 0, &nfds, pw_mono_us() + 1000, &from) == 0) {
		free(payload);
		if (h.type == PW_MSG_READY && from.pid == r->taken) {
			pw_warn("the program (pid %d) was killed: it started too late", (int)r->taken);
			exit_like(r, SIGKILL);
		}
	}
	pw_sig_unblock(&r->saved_mask);
	cold_before_go(r, "the child that took the run did not start it in time");
}

/* Read messages until the child's fate is known.  Each is accepted only
 * from the process that may send it (READY from the child that took the
 * run, EXIT from its zygote) and only at its size and its time. */
static void __attribute__((noreturn)) wait_child(struct run *r)
{
	long long ready_by = pw_mono_us() + READY_WAIT_US;
	for (;;) {
		struct pw_hdr h;
		struct ucred from;
		char *payload;
		int fds[1];
		uint32_t nfds;
		if (pw_recv_from(r->sock, &h, &payload, fds, 0, &nfds, r->child ? 0 : ready_by, &from) < 0) {
			if (r->child == 0 && errno == ETIMEDOUT)
				ready_timeout(r);
			if (r->child == 0) {
				pw_sig_unblock(&r->saved_mask);
				run_cold(r, errno == EPROTONOSUPPORT ? "zygote speaks another protocol version"
				                                     : "zygote closed before the child started");
			}
			zygote_lost(r);
		}
		int from_child = from.pid == r->taken, from_zygote = from.pid == r->zygote;
		struct pw_ready rd;
		struct pw_exit ex;
		char why[300];
		switch (h.type) {
		case PW_MSG_READY:
			if (!from_child || h.len != sizeof rd || r->child != 0)
				break;
			memcpy(&rd, payload, sizeof rd);
			if (rd.pid != r->taken)
				break;
			on_ready(r, rd.pid);
			free(payload);
			continue;
		case PW_MSG_EXIT:
			if (!from_zygote || h.len != sizeof ex)
				break;
			memcpy(&ex, payload, sizeof ex);
			free(payload);
			if (r->child == 0) {
				pw_sig_unblock(&r->saved_mask);
				run_cold(r, "child ended before it started the program");
			}
			pw_sig_stop();
			pw_debug("exit status=0x%x", ex.status);
			exit_like(r, ex.status);
		case PW_MSG_FALLBACK:
		case PW_MSG_REJECT:
			if (!from_child || r->child != 0)
				break;
			snprintf(why, sizeof why, "zygote: %s", payload);
			free(payload);
			pw_sig_unblock(&r->saved_mask);
			run_cold(r, why);
		}
		pw_debug("ignored a message of type %u (%u bytes) from pid %d", h.type, h.len, (int)from.pid);
		free(payload);
	}
}

/* Reach the zygote, starting one in the background if none serves. */
static int connect_zygote(struct run *r)
{
	int sock = pw_connect(r->target.sockpath);
	if (sock >= 0)
		return sock;
	if (errno == EPERM) {
		/* Not our zygote's socket: never talk to it.  A zygote started
		 * now takes the name back if no zygote holds the lock. */
		pw_debug("%s is not a socket of a zygote of ours; not using it", r->target.sockpath);
		spawn_target(r);
		return -1;
	}
	if (errno != ENOENT && errno != ECONNREFUSED) {
		pw_debug("cannot connect to %s: %s", r->target.sockpath, strerror(errno));
		return -1;
	}
	if (pw_zygote_alive(r->target.lockpath) == 1) {
		pw_debug("zygote %s is still warming", r->target.idhex);
		return -1;
	}
	/* Outside a project, a socket-activated zygote may serve: if its
	 * identity is another, it rejects the launch and we spawn ours then. */
	if (r->target.profile.source == PW_SRC_BUILTIN || r->target.profile.source == PW_SRC_USER) {
		sock = pw_connect(r->target.defpath);
		if (sock >= 0) {
			r->via_default = 1;
			pw_debug("trying %s", r->target.defpath);
			return sock;
		}
	}
	spawn_target(r);
	return -1;
}

/* An unknown name in PYWARM_SANDBOX refuses the run before anything else. */
static void check_sandbox_env(void)
{
	struct pw_sandbox sb;
	const char *env = getenv("PYWARM_SANDBOX");
	char err[512];

	if (env == NULL || *env == '\0')
		return;
	memset(&sb, 0, sizeof(sb));
	if (pw_sandbox_add_env(&sb, env, err, sizeof err) < 0) {
		pw_warn("%s", err);
		exit(PW_EXIT_SANDBOX);
	}
}

/* A run whose sandbox forbids exec cannot fall back cold: wait for the
 * zygote that connect_zygote started (or found warming), for a while. */
static int wait_zygote(struct run *r)
{
	long long give_up = pw_mono_us() + WARM_ONLY_WAIT_S * 1000000LL;
	int grace = 50;            /* polls before a missing lock means it died */

	pw_debug("the sandbox forbids exec: waiting for zygote %s", r->target.idhex);
	while (pw_mono_us() < give_up) {
		usleep(20000);
		int sock = pw_connect(r->target.sockpath);
		if (sock >= 0)
			return sock;
		if (grace > 0)
			grace--;
		else if (pw_zygote_alive(r->target.lockpath) == 0)
			break;
	}
	return -1;
}

int main(int argc, char **argv)
{
	/* Static: zero without writing its 80 KB (a launch pays for the pages it touches). */
	static struct run r;
	char cwd[PATH_MAX], err[PATH_MAX + 256];
	const char *why;

	r.argc = argc;
	r.argv = argv;
	r.sock = r.taken_fd = -1;
	pw_progname = "pywarm";
	pw_debug_init();
	check_sandbox_env();
	pw_cmdline_parse(&r.cmd, argc, argv);
	/* The profile names the interpreter even a cold run must execute. */
	if (getcwd(cwd, sizeof cwd) == NULL)
		run_cold(&r, "the working directory has no path");
	r.target_ok = pw_target_resolve(&r.target, cwd, environ, err, sizeof err) == 0;
	if (r.target_ok)
		r.exe = r.target.interp.path;
	if (r.cmd.cold)
		run_cold(&r, r.cmd.cold);
	if ((why = env_cold_reason()) != NULL || (why = state_cold_reason()) != NULL)
		run_cold(&r, why);
	if (in_background())
		run_cold(&r, "in the background of its terminal");
	if (!r.target_ok && r.target.untrusted) {
		pw_untrusted_hint(&r.target);
		run_cold(&r, "the project profile is not trusted");
	}
	if (!r.target_ok) {
		pw_warn("%s", err);
		r.profile_warned = 1;
		run_cold(&r, "no usable profile");
	}
	if (!r.target.interp.warm) {
		pw_interp_hint(&r.target.interp);
		run_cold(&r, r.target.interp.cold_why);
	}
	if (pw_target_set_opts(&r.target, r.cmd.nzopts, r.cmd.zopts, err, sizeof err) < 0) {
		pw_warn("%s", err);
		run_cold(&r, "no usable socket path");
	}
	r.sock = connect_zygote(&r);
	if (r.sock < 0 && pw_sandbox_warm_only(&r.target.profile.sandbox, getenv("PYWARM_SANDBOX")))
		r.sock = wait_zygote(&r);
	if (r.sock < 0)
		run_cold(&r, "no zygote serves this profile yet");
	sigprocmask(SIG_BLOCK, NULL, &r.saved_mask);
	save_tty(&r);
	/* Held for the run: the child reopens it when the program opens
	 * /dev/tty, which it cannot itself (it has no controlling terminal). */
	r.ctty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	pw_debug("connected to %s", r.via_default ? r.target.defpath : r.target.sockpath);
	if (send_launch(&r, &r.saved_mask) < 0)
		cold_before_go(&r, "cannot hand the run to the zygote");
	pw_debug("request sent");
	take_and_go(&r);
	pw_debug("taken by pid=%d", (int)r.taken);
	wait_child(&r);
}
