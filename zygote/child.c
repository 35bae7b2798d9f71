/* child.c: a forked child's C-level set-up: read the request, take the caller's fds, cwd, environment and process state. */

/*
 * What is done in C and what in bootstrap.py.  C does everything the kernel
 * or libc holds and everything that must happen before any Python code of
 * the run can execute: the request and its sender, descriptors, directory,
 * credentials' checks, rlimits, nice, affinity, umask, the C environ, the
 * signal mask and the raw dispositions (SIG_IGN in the kernel's table),
 * the sandbox, and the notices to the zygote.  bootstrap.py does what
 * only exists as Python objects: sys.std*, sys.argv and sys.orig_argv,
 * os.environ, the signal module's handler table, per-run caches (time
 * zone, locale, random), the import cache.  C hands bootstrap one run
 * description (zpy_child_setup: argv, orig_argv, the environment, the
 * ignored signals, buffering) and never asks it to decide anything the
 * launcher already decided (-u -B -q -i -x -P travel in pw_launch.emul).
 */
#include "zygote.h"
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

extern char **environ;

/* Our own fds that must survive the fd shuffle until user code starts. */
struct keep {
	int conn, log;
};

/* Tell the client to run cold, log why, and leave. */
static void __attribute__((noreturn)) fallback(const struct zygote *z, int conn, int type, const char *why)
{
	zlog(z, "child %d: %s: %s", (int)getpid(),
	     type == PW_MSG_REJECT ? "rejected" : "cold fallback", why);
	pw_send(conn, (uint16_t)type, why, (uint32_t)strlen(why) + 1, NULL, 0);
	_exit(0);
}

/* Move fd to the lowest free number >= base (CLOEXEC); -1 on error. */
static int move_above(int fd, int base)
{
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, base);
	if (nfd >= 0)
		close(fd);
	return nfd;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Close every fd not in keep[0..n) (sorted here). */
void zclose_others(int *keep, size_t n)
{
	qsort(keep, n, sizeof *keep, cmp_int);
	unsigned int from = 0;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned int)keep[i] > from)
			close_range(from, (unsigned int)keep[i] - 1, 0);
		from = (unsigned int)keep[i] + 1;
	}
	close_range(from, ~0U, 0);
}

/* Put the caller's fds at their numbers and its cwd in place; close the rest. */
static const char *install_fds(struct pw_launch *l, struct keep *k)
{
	static int keep[PW_MAX_FDS + 3];
	int base = 3;
	size_t n = 0;

	for (uint32_t i = 1; i < l->nfds; i++)
		if (l->fdnum[i] >= base)
			base = l->fdnum[i] + 1;
	if ((k->conn = move_above(k->conn, base)) < 0 ||
	    (k->log >= 0 && (k->log = move_above(k->log, base)) < 0))
		return "cannot move the zygote's own descriptors";
	for (uint32_t i = 0; i < l->nfds; i++)
		if ((l->fds[i] = move_above(l->fds[i], base)) < 0)
			return "cannot move a received descriptor";
	for (uint32_t i = 1; i < l->nfds; i++) {
		if (dup2(l->fds[i], l->fdnum[i]) < 0)
			return "cannot place a descriptor at its number";
		close(l->fds[i]);
		keep[n++] = l->fdnum[i];
	}
	if (fchdir(l->fds[0]) < 0)
		return "cannot enter the caller's working directory";
	close(l->fds[0]);
	keep[n++] = k->conn;
	if (k->log >= 0)
		keep[n++] = k->log;
	zclose_others(keep, n);
	return NULL;
}

/* In the zygote, before it serves: the namespaces and root directory
 * every child of it has, which check_same_world compares with the
 * caller's (nine stat calls of /proc once, rather than in every run). */
void zchild_world_init(struct zygote *z)
{
	struct stat st;
	char path[64];

	for (int i = 0; i < PW_NNS; i++) {
		snprintf(path, sizeof path, "/proc/self/ns/%s", pw_ns_names[i]);
		z->conf.ns_ino[i] = stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
	}
	if (stat("/", &st) == 0) {
		z->conf.root_dev = (uint64_t)st.st_dev;
		z->conf.root_ino = (uint64_t)st.st_ino;
	} else {
		zlog(z, "cannot stat /: %s; every run is cold", strerror(errno));
		z->conf.root_dev = z->conf.root_ino = UINT64_MAX;
	}
}

/* Is the caller in our namespaces, under our root, with our groups? */
static const char *check_same_world(const struct zygote *z, struct pw_launch *l, int conn,
                                    const struct ucred *peer)
{
	for (int i = 0; i < PW_NNS; i++)
		if (z->conf.ns_ino[i] != l->ns_ino[i])
			return "the caller is in another namespace";
	if (z->conf.root_dev != l->root_dev || z->conf.root_ino != l->root_ino || z->conf.root_dev == UINT64_MAX)
		return "the caller has another root directory";
	if (peer->uid != geteuid() || peer->gid != getegid())
		return "the caller has other credentials";
	if (pw_peer_confined(conn))
		return "the caller runs under seccomp";
	gid_t g[256];
	int n = getgroups(256, g);
	if (n < 0 || (uint32_t)n != l->ngroups)
		return "the caller has other supplementary groups";
	for (int i = 0; i < n; i++)
		if (g[i] != l->groups[i])
			return "the caller has other supplementary groups";
	return NULL;
}

/* Resource limits exactly as the caller's. */
static const char *apply_rlimits(const struct zygote *z, struct pw_launch *l)
{
	if (l->rlim_cur[RLIMIT_AS] != RLIM_INFINITY || l->rlim_cur[RLIMIT_DATA] != RLIM_INFINITY)
		return "a memory rlimit is set (the warm child is larger than a fresh python3)";
	if (l->rlim_cur[RLIMIT_STACK] != z->conf.stack_cur)
		return "the stack rlimit differs from the zygote's";
	for (int i = 0; i < PW_NRLIMIT && i < RLIM_NLIMITS; i++) {
		struct rlimit want = { l->rlim_cur[i], l->rlim_max[i] }, have;
		if (getrlimit(i, &have) == 0 && have.rlim_cur == want.rlim_cur &&
		    have.rlim_max == want.rlim_max)
			continue;
		if (setrlimit(i, &want) < 0)
			return "cannot set the caller's rlimits";
	}
	return NULL;
}

/* umask, nice, CPU affinity, no_new_privs. */
static const char *apply_process(struct pw_launch *l)
{
	umask((mode_t)l->umask);
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, 0);
	if (errno == 0 && nice != l->nice && setpriority(PRIO_PROCESS, 0, l->nice) < 0)
		return "cannot take the caller's nice value";
	if (l->cpuset_len > 0) {
		cpu_set_t want, have;
		CPU_ZERO(&want);
		memcpy(&want, l->cpuset, l->cpuset_len < sizeof want ? l->cpuset_len : sizeof want);
		if (sched_getaffinity(0, sizeof have, &have) < 0 || !CPU_EQUAL(&want, &have))
			if (sched_setaffinity(0, sizeof want, &want) < 0)
				return "cannot take the caller's CPU affinity";
	}
	int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
	if (nnp && !(l->flags & PW_LF_NO_NEW_PRIVS))
		return "the zygote runs with no_new_privs and the caller does not";
	if (!nnp && (l->flags & PW_LF_NO_NEW_PRIVS) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return "cannot set no_new_privs";
	return NULL;
}

/* The caller's environment, plus what python3's locale coercion would add. */
static void apply_environ(const struct zygote *z, struct pw_launch *l)
{
	environ = l->envp;
	if (z->conf.lc_ctype[0])
		setenv("LC_CTYPE", z->conf.lc_ctype, 1);
}

/* The caller's signal mask, the last thing before user code. */
static void apply_sigmask(struct pw_launch *l)
{
	sigset_t set;
	sigemptyset(&set);
	for (int s = 1; s <= PW_NSIG; s++)
		if (l->sig_blocked & (1ull << (s - 1)))
			sigaddset(&set, s);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

/* Answer a status request from this snapshot of the zygote. */
static void __attribute__((noreturn)) answer_status(const struct zygote *z, int conn,
                                                     const struct pw_handover *counts)
{
	char text[4096];
	zstatus_text(z, counts, text, sizeof text);
	pw_send(conn, PW_MSG_STATUS, text, (uint32_t)strlen(text), NULL, 0);
	_exit(0);
}

/* Was this message sent by the process that connected?  A descriptor of
 * the connection passed on (or copied out) to another process, confined
 * or not, gives that process no voice: the zygote judged the connector. */
static const char *check_sender(const struct ucred *peer, const struct ucred *from)
{
	if (from->pid != peer->pid || from->uid != peer->uid || from->gid != peer->gid)
		return "a message came from another process than the one that connected";
	return NULL;
}

/* Drop a request: log why and leave without a word to the client. */
static void __attribute__((noreturn)) drop(const struct zygote *z, const char *what, const char *why)
{
	zlog(z, "child %d: dropped %s: %s", (int)getpid(), what, why);
	_exit(ZCHILD_EXIT_BADREQ);
}

/* Read and check the request; anything malformed is logged and dropped. */
static void read_request(const struct zygote *z, int conn, const struct ucred *peer,
                         struct pw_launch *l, long long deadline_us,
                         const struct pw_handover *counts)
{
	static int fds[PW_MAX_FDS];
	struct pw_hdr h;
	struct ucred from;
	char *payload, err[256];
	const char *why;
	uint32_t nfds;

	/* Descriptors are taken here only to be closed: a launcher of another
	 * version still learns that it speaks another protocol. */
	if (pw_recv_from(conn, &h, &payload, fds, PW_MAX_FDS, &nfds, deadline_us, &from) < 0) {
		if (errno == EPROTONOSUPPORT)
			fallback(z, conn, PW_MSG_REJECT, "protocol version mismatch");
		if (errno == ENOMSG)
			_exit(ZCHILD_EXIT_BADREQ);
		drop(z, "a request", errno == ETIMEDOUT ? "not complete within its deadline" : strerror(errno));
	}
	for (uint32_t i = 0; i < nfds; i++)
		close(fds[i]);
	if ((why = check_sender(peer, &from)) != NULL)
		drop(z, "a request", why);
	if (nfds != 0)
		drop(z, "a request", "descriptors came before GO");
	if (h.type == PW_MSG_STATUS_REQ)
		answer_status(z, conn, counts);
	if (h.type == PW_MSG_JUDGE_REQ)
		zlearn_answer(z, conn, payload, h.len);
	if (h.type != PW_MSG_LAUNCH) {
		snprintf(err, sizeof err, "unexpected message type %u", h.type);
		drop(z, "a request", err);
	}
	if (pw_launch_decode(l, payload, h.len, err, sizeof err) < 0)
		drop(z, "a request", err);
	free(payload);
}

/* Say we hold the request, then wait for GO and the caller's descriptors.
 * The launcher sends GO only if TAKEN reached it in time; without GO the
 * program never starts here (the launcher runs it cold). */
static void take_fds(const struct zygote *z, int conn, const struct ucred *peer,
                     struct pw_launch *l, long long deadline_us)
{
	static int fds[PW_MAX_FDS];
	struct pw_ready taken = { (int32_t)getpid() };
	struct pw_hdr h;
	struct ucred from;
	char *payload, err[64];
	const char *why;
	uint32_t nfds;

	if (pw_send(conn, PW_MSG_TAKEN, &taken, sizeof taken, NULL, 0) < 0)
		drop(z, "a launch", "the launcher went away before it was taken");
	if (pw_recv_from(conn, &h, &payload, fds, PW_MAX_FDS, &nfds, deadline_us, &from) < 0) {
		if (errno == ENOMSG)
			drop(z, "a launch", "the launcher ran it cold");
		drop(z, "a launch", errno == ETIMEDOUT ? "no GO within the request's deadline" : strerror(errno));
	}
	free(payload);
	why = check_sender(peer, &from);
	if (why == NULL && h.type != PW_MSG_GO) {
		snprintf(err, sizeof err, "unexpected message type %u", h.type);
		why = err;
	}
	if (why == NULL && (nfds != l->nfds || h.len != 0))
		why = "GO does not carry the descriptors the request announced";
	if (why != NULL) {
		for (uint32_t i = 0; i < nfds; i++)
			close(fds[i]);
		drop(z, "a launch", why);
	}
	memcpy(l->fds, fds, sizeof(int) * nfds);
}

/* Tell the zygote something about ourselves (see struct znotice). */
int znotice_send(const struct zygote *z, int event, int status, const void *extra, size_t len, int wait)
{
	struct znotice n = { event, status };
	return pw_dgram_send(&z->conf.notice_addr, z->conf.notice_len, &n, sizeof n, extra, len, wait);
}

/* Is this process down to one thread?  (Nothing else can then run between
 * here and _exit once every signal is blocked.) */
static int single_threaded(void)
{
	unsigned long long f[20];
	return pw_proc_stat(0, f, 20) == 20 && f[19] == 1;     /* num_threads */
}

/* End the run with exitcode, as exit() would after Python's own exit.
 * Tearing down the address space of a child of a 100 MB zygote takes a
 * few milliseconds, all before the kernel closes the descriptors and lets
 * the zygote reap.  When the status is certain (one thread, every signal
 * blocked), close every descriptor here, which is all of the exit a
 * program's caller can observe (EOF on pipes, released locks), then tell
 * the zygote the status, so the launcher can leave while the kernel is
 * still unmapping.  The notice goes to the zygote's notice socket from a
 * socket made for it: no descriptor of ours was open while the program
 * ran.  If any of this fails (a sandbox may forbid the socket), the
 * zygote reports the status when it reaps, as before. */
void zchild_exit(const struct zygote *z, int exitcode)
{
	sigset_t all;
	const uint64_t *pages = NULL;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (single_threaded()) {
		size_t n = zpool_learn(z, &pages);
		close_range(0, ~0U, 0);
		znotice_send(z, ZN_EXIT, (exitcode & 0xff) << 8, pages, n * sizeof *pages, 0);
	}
	/* After the status, off the launcher's path; also when threads are
	 * left (they wait for the lock Python's code needs: the report is
	 * not written to any more). */
	zlearn_child_send(z);
	_exit(exitcode);
}

/* Become the caller's program: set-up, then hand over to Python for good. */
void zchild_main(const struct zygote *z, int conn, long long deadline_us,
                 const struct pw_handover *counts)
{
	static struct pw_launch l;
	struct keep k = { conn, zlog_fd() };
	char err[512];
	const char *why;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != z->conf.pid)
		_exit(ZCHILD_EXIT_BADREQ);
	/* Who connected (the launcher), asked once: every message must come
	 * from it, and its pid names the caller's cgroups and terminal. */
	struct ucred peer;
	socklen_t plen = sizeof peer;
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0)
		fallback(z, conn, PW_MSG_FALLBACK, "cannot tell who connected");
	read_request(z, conn, &peer, &l, deadline_us, counts);
	/* Before anything else: never serve from a zygote whose files changed. */
	if ((why = zwatch_stale(z)) != NULL)
		fallback(z, conn, PW_MSG_FALLBACK, why);
	zwatch_forget(z);
	if (l.identity != z->conf.identity)
		fallback(z, conn, PW_MSG_REJECT, "identity mismatch");
	if ((why = check_same_world(z, &l, conn, &peer)) != NULL)
		fallback(z, conn, PW_MSG_FALLBACK, why);
	/* Before zproc_show zeroes the zygote's start-up environment. */
	if ((why = zenv_child(z, &l)) != NULL)
		fallback(z, conn, PW_MSG_FALLBACK, why);
	if ((why = zcgroup_enter(peer.pid)) != NULL)
		fallback(z, conn, PW_MSG_FALLBACK, why);
	take_fds(z, conn, &peer, &l, deadline_us);
	zproc_show(z, &l);
	ztty_set_caller(peer.pid);
	why = install_fds(&l, &k);
	zlog_use_fd(k.log);
	if (why != NULL)
		fallback(z, k.conn, PW_MSG_FALLBACK, why);
	if ((why = apply_rlimits(z, &l)) != NULL || (why = apply_process(&l)) != NULL)
		fallback(z, k.conn, PW_MSG_FALLBACK, why);
	apply_environ(z, &l);
	if (zpy_child_setup(z, &l, err, sizeof err) < 0)
		fallback(z, k.conn, PW_MSG_FALLBACK, err);
	/* The zygote counts the launch before the launcher hears of it. */
	struct pw_ready rd = { (int32_t)getpid() };
	if (znotice_send(z, ZN_READY, zlearn_child_start(z), NULL, 0, 1) < 0)
		fallback(z, k.conn, PW_MSG_FALLBACK, "cannot reach the zygote's notice socket");
	if (pw_send(k.conn, PW_MSG_READY, &rd, sizeof rd, NULL, 0) < 0)
		_exit(ZCHILD_EXIT_BADREQ);
	close(k.conn);
	if (k.log >= 0)
		close(k.log);
	zlog_use_fd(-1);
	/* The sandbox goes on last, once pywarm's own set-up is done: nothing
	 * of the caller's program has run yet.  On failure the child leaves
	 * with status 126, which the launcher passes on. */
	/* Until here this process held nothing but the zygote's state and the
	 * caller's own descriptors, and no other process could look into it
	 * (see main.c); from now on it is the caller's program, which python3
	 * would run dumpable.  A sandbox keeps other processes out of it. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	pw_sandbox_enter(&z->conf.profile.sandbox, getenv("PYWARM_SANDBOX"), z->conf.interp.path, 0);
	apply_sigmask(&l);
	zpy_child_run(z, &l);
}
