/* listen.c: the zygote's socket and event loop: accept, fork, reap, report exits, hang up orphans, retire. */
#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define HANGUP_GRACE_US  2000000LL   /* SIGHUP, then SIGKILL this much later */
#define MAX_POLL         1024        /* children watched at once; more wait their turn */
#define SOCKET_CHECK_MS  2000        /* how often the socket file is checked for removal */

/* Bind and listen on the socket path (the lock is already ours, so a file
 * left there is stale). */
int zlisten_open(struct zygote *z)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(z->conf.sockpath) >= sizeof sa.sun_path) {
		zwarn(z, "socket path too long: %s", z->conf.sockpath);
		return -1;
	}
	strcpy(sa.sun_path, z->conf.sockpath);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		zwarn(z, "cannot create a socket: %s", strerror(errno));
		return -1;
	}
	unlink(z->conf.sockpath);
	/* Where the kernel lets connections inherit it at connect(), messages
	 * sent before accept() carry their sender too (see child.c). */
	int on = 1;
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0) {
		zwarn(z, "cannot listen on %s: %s", z->conf.sockpath, strerror(errno));
		close(fd);
		return -1;
	}
	struct stat st;
	if (stat(z->conf.sockpath, &st) == 0) {
		z->sock_dev = st.st_dev;
		z->sock_ino = st.st_ino;
	}
	z->listenfd = fd;
	if (z->sparefd < 0)
		z->sparefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

/* The zygote's launch counters now, as a child gets them with its
 * connection (a pooled child's copy of the zygote's state is older). */
struct pw_handover zcounts(const struct zygote *z)
{
	return (struct pw_handover){ z->stats.launches, z->nchildren, z->stats.demand_forks };
}

/* The status text for pywarmctl status (see pw_status_format); counts are
 * the zygote's launch counters as they were when the child got its
 * connection (a child's copy of the zygote's state is older). */
void zstatus_text(const struct zygote *z, const struct pw_handover *counts, char *buf, size_t len)
{
	char num[9][32], warmup[PATH_MAX + 16];
	const char *v[PW_S_NKEYS] = { 0 };

	snprintf(num[0], sizeof num[0], "%d", (int)z->conf.pid);
	snprintf(num[1], sizeof num[1], "%lld", (long long)z->conf.started);
	snprintf(num[2], sizeof num[2], "%zu", z->stats.modules_ok);
	snprintf(num[3], sizeof num[3], "%zu", z->stats.modules_failed);
	snprintf(num[4], sizeof num[4], "%llu", (unsigned long long)counts->launches);
	snprintf(num[5], sizeof num[5], "%llu", (unsigned long long)counts->running);
	snprintf(num[6], sizeof num[6], "%ld", z->conf.profile.idle_timeout);
	snprintf(num[7], sizeof num[7], "%ld", z->conf.profile.prefork);
	snprintf(num[8], sizeof num[8], "%llu", (unsigned long long)counts->forked);
	snprintf(warmup, sizeof warmup, "%s%s", z->conf.profile.warmup ? z->conf.profile.warmup : "",
	         !z->conf.profile.warmup ? "" : z->stats.warmup_failed ? " (failed)" : " (ran)");
	char watched[32];
	snprintf(watched, sizeof watched, "%zu", zwatch_count(z));
	v[PW_S_PID] = num[0];
	v[PW_S_IDENTITY] = z->conf.idhex;
	v[PW_S_PROFILE] = z->conf.profile.path;
	v[PW_S_SOURCE] = pw_profile_source_name(z->conf.profile.source);
	v[PW_S_INTERPRETER] = z->conf.interp.path;
	v[PW_S_STARTED] = num[1];
	v[PW_S_MODULES] = num[2];
	v[PW_S_FAILED] = num[3];
	v[PW_S_FAILED_NAMES] = z->stats.failed_names;
	v[PW_S_LAUNCHES] = num[4];
	v[PW_S_RUNNING] = num[5];
	v[PW_S_STATE] = z->retiring ? "retiring" : "serving";
	v[PW_S_IDLE] = num[6];
	v[PW_S_PREFORK] = num[7];
	v[PW_S_WARMUP] = warmup;
	v[PW_S_WATCHED] = watched;
	v[PW_S_LEARNED] = z->stats.learned;
	v[PW_S_FORKED] = num[8];
	if (pw_status_format(buf, len, v) < 0)
		snprintf(buf, len, "pid=%d\nidentity=%s\n", (int)z->conf.pid, z->conf.idhex);
}

/* The zygote's side of a child now serving conn: it keeps the socket to
 * report the exit status and to notice the launcher going away. */
static void attach_conn(struct zygote *z, struct zchild *c, int conn)
{
	struct timeval tv = { 1, 0 };
	setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	c->conn = conn;
	c->started_us = pw_mono_us();
}

/* Serve a new connection: hand it to a pooled child, else fork one now. */
static void spawn_child(struct zygote *z, int conn)
{
	struct zchild *c = zpool_take(z, conn);
	if (c != NULL) {
		attach_conn(z, c, conn);
		return;
	}
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		close(conn);
		return;
	}
	long long deadline = pw_mono_us() + ZREQUEST_DEADLINE_US;
	z->stats.demand_forks++;
	struct pw_handover counts = zcounts(z);
	zpy_before_fork();
	pid_t pid = fork();
	if (pid == 0) {
		zpy_after_fork_child();
		zchild_main(z, conn, deadline, &counts);
	}
	zpy_after_fork_parent();
	if (pid < 0) {
		zwarn(z, "cannot fork a child: %s", strerror(errno));
		close(conn);
		free(c);
		return;
	}
	setpgid(pid, pid);          /* also done in the child; whichever runs first */
	c->pid = pid;
	c->ctl = -1;
	attach_conn(z, c, conn);
	c->next = z->children;
	z->children = c;
	z->nchildren++;
}

/* Out of descriptors: accept the next client with the spare one and close
 * it at once, so that its launcher runs cold instead of waiting in the
 * backlog, and poll does not spin on a listening socket we cannot empty. */
static int refuse_one(struct zygote *z, int lfd)
{
	if (z->sparefd < 0)
		return 0;
	close(z->sparefd);
	int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn >= 0)
		close(conn);
	z->sparefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (conn >= 0)
		zwarn(z, "out of file descriptors; a launch runs cold");
	return conn >= 0;
}

/* Accept what is pending on lfd; peers of another uid are refused. */
static void accept_clients(struct zygote *z, int lfd)
{
	for (int i = 0; i < 16; i++) {
		int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0 && (errno == EMFILE || errno == ENFILE) && refuse_one(z, lfd))
			continue;
		if (conn < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				zwarn(z, "cannot accept a connection: %s", strerror(errno));
			return;
		}
		struct ucred cred = { 0, (uid_t)-1, (gid_t)-1 };
		socklen_t len = sizeof cred;
		int on = 1;
		if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    cred.uid != geteuid()) {
			zwarn(z, "refused a client of uid %d", (int)cred.uid);
			close(conn);
			continue;
		}
		/* Every message is judged by its sender (child.c check_sender). */
		if (setsockopt(conn, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0) {
			zwarn(z, "cannot set SO_PASSCRED on a connection: %s", strerror(errno));
			close(conn);
			continue;
		}
		z->stats.last_active_us = pw_mono_us();
		spawn_child(z, conn);
	}
}

/* Unlink c from the children list and free it. */
static void forget_child(struct zygote *z, struct zchild *c)
{
	for (struct zchild **p = &z->children; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	if (c->conn >= 0)
		close(c->conn);
	if (c->ctl >= 0) {
		close(c->ctl);
		z->npool--;
	} else {
		z->nchildren--;
	}
	free(c);
}

/* Reap every dead child and send its wait status to its launcher. */
static void reap(struct zygote *z)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct zchild *c = z->children;
		while (c && c->pid != pid)
			c = c->next;
		if (c == NULL)
			continue;
		if (c->conn >= 0) {
			struct pw_exit ex = { status };
			pw_send(c->conn, PW_MSG_EXIT, &ex, sizeof ex, NULL, 0);
		}
		forget_child(z, c);
		z->stats.last_active_us = pw_mono_us();
	}
}

/* The launcher went away: hang up on the child's process group. */
static void hang_up(struct zygote *z, struct zchild *c)
{
	if (c->ready)
		zlog(z, "launcher of child %d went away; hanging up", (int)c->pid);
	kill(-c->pid, SIGHUP);
	kill(-c->pid, SIGCONT);
	c->kill_at_us = pw_mono_us() + HANGUP_GRACE_US;
	close(c->conn);
	c->conn = -1;
}

/* A child about to _exit with its descriptors closed: its launcher need
 * not wait for the kernel to tear down its address space (see zpy_child_run). */
static void early_exit(struct zygote *z, struct zchild *c, int status)
{
	if (!c->ready || c->exited || c->conn < 0)
		return;
	struct pw_exit ex = { status };
	pw_send(c->conn, PW_MSG_EXIT, &ex, sizeof ex, NULL, 0);
	close(c->conn);
	c->conn = -1;
	c->exited = 1;
}

static void retire(struct zygote *z, const char *why);

/* Read the children's notices (READY: a launch served; EXIT: leaving;
 * IMPORTS: what the run imported beyond the preload, once, unless its
 * READY said not to count it).
 * A notice speaks only for the process that sent it, as the kernel names
 * it: one that is not our child, or not in the state the notice claims,
 * is ignored. */
static void read_notices(struct zygote *z)
{
	static union {
		struct znotice n;
		uint64_t align;
		char buf[sizeof(struct znotice) + 8 * 8192];
	} u;
	struct ucred from;
	ssize_t len;

	while ((len = pw_dgram_recv(z->noticefd, u.buf, sizeof u.buf, &from)) >= 0 || errno == EPROTO) {
		if (len < (ssize_t)sizeof u.n || from.uid != geteuid())
			continue;
		struct zchild *c = z->children;
		while (c && c->pid != from.pid)
			c = c->next;
		if (c == NULL || c->ctl >= 0)
			continue;
		if (u.n.event == ZN_READY && !c->ready) {
			z->stats.launches++;
			c->ready = 1;
			c->quiet = u.n.status != 0;
		} else if (u.n.event == ZN_IMPORTS && c->ready && !c->quiet && !c->reported) {
			c->reported = 1;
			if (zlearn_take(z, u.buf + sizeof u.n, (size_t)len - sizeof u.n) > 0 && !z->retiring) {
				retire(z, "runs imported modules to learn");
				zwatch_successor(z, 0);
			}
		} else if (u.n.event == ZN_EXIT && c->ready) {
			early_exit(z, c, u.n.status);
			size_t extra = (size_t)len - sizeof u.n;
			if (extra % sizeof(uint64_t) == 0)
				zpool_take_pages(z, (const uint64_t *)(u.buf + sizeof u.n), extra / sizeof(uint64_t));
		}
	}
}

/* Stop accepting: later launches find no socket and run cold. */
static void retire(struct zygote *z, const char *why)
{
	if (z->retiring)
		return;
	zlog(z, "retiring: %s", why);
	z->retiring = 1;
	zsd_notify("STOPPING=1");
	zpool_dismiss(z);
	if (z->listenfd >= 0) {
		unlink(z->conf.sockpath);
		close(z->listenfd);
		z->listenfd = -1;
	}
	/* The service manager owns the passed socket's path; connections made
	 * to it from now on wait there for the next zygote it starts. */
	if (z->actfd >= 0) {
		close(z->actfd);
		z->actfd = -1;
	}
}

/* Is path the file behind fd (same device and inode)? */
static int same_file(const char *path, int fd)
{
	struct stat a, b;
	return stat(path, &a) == 0 && fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Someone removed our socket file (rm -r of the runtime directory, a
 * cleaner of /tmp): no launch can reach us, and no new zygote can take
 * our lock, so bind it again while the lock file is still ours; if the
 * socket was replaced or the lock is gone, leave the name to whoever
 * holds it now. */
static void check_socket(struct zygote *z)
{
	struct stat st;
	if (z->listenfd < 0)
		return;
	if (stat(z->conf.sockpath, &st) == 0 && st.st_dev == z->sock_dev && st.st_ino == z->sock_ino)
		return;
	if (errno != ENOENT || !same_file(z->conf.lockpath, z->lockfd)) {
		retire(z, "the socket file was replaced");
		return;
	}
	zlog(z, "the socket file %s was removed; listening again", z->conf.sockpath);
	int old = z->listenfd;
	if (zlisten_open(z) < 0) {
		z->listenfd = old;
		retire(z, "cannot listen again");
		return;
	}
	close(old);
}

/* A file behind our state changed: retire and hand the identity to a
 * fresh zygote (watch.c). */
static void check_files(struct zygote *z)
{
	char why[PATH_MAX + 64];

	if (z->retiring || !zwatch_read(z, why, sizeof why))
		return;
	retire(z, why);
	zwatch_successor(z, 0);
}

/* Handle what arrived on the signalfd. */
static void read_signals(struct zygote *z)
{
	struct signalfd_siginfo si;
	while (read(z->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD) {
			read_notices(z);
			reap(z);
			continue;
		}
		if (z->retiring) {      /* asked twice: hang up on everyone now */
			for (struct zchild *c = z->children; c; c = c->next)
				if (c->conn >= 0)
					hang_up(z, c);
		}
		retire(z, strsignal((int)si.ssi_signo));
	}
}

/* Milliseconds until the next deadline (idle exit, SIGKILL), or -1. */
static int next_timeout(struct zygote *z, long long now)
{
	long long next = -1;
	if (z->nchildren == 0 && z->conf.profile.idle_timeout > 0 && !z->retiring)
		next = z->stats.last_active_us + z->conf.profile.idle_timeout * 1000000LL;
	for (struct zchild *c = z->children; c; c = c->next)
		if (c->kill_at_us && (next < 0 || c->kill_at_us < next))
			next = c->kill_at_us;
	int ms = next < 0 ? -1 : next <= now ? 0 : (int)((next - now + 999) / 1000);
	int pool = zpool_timeout(z, now);
	if (pool >= 0 && (ms < 0 || pool < ms))
		ms = pool;
	if (z->listenfd >= 0 && (ms < 0 || ms > SOCKET_CHECK_MS))
		ms = SOCKET_CHECK_MS;
	return ms;
}

/* SIGKILL children that outlived their hang-up grace. */
static void enforce_kills(struct zygote *z, long long now)
{
	for (struct zchild *c = z->children; c; c = c->next)
		if (c->kill_at_us && now >= c->kill_at_us) {
			kill(-c->pid, SIGKILL);
			kill(c->pid, SIGKILL);
			c->kill_at_us = 0;
		}
}

/* Serve until idle, retired and drained, or told to stop. */
int zloop(struct zygote *z)
{
	static struct pollfd pfd[MAX_POLL + 5];
	static struct zchild *owner[MAX_POLL + 5];

	long long checked_us = pw_mono_us();

	z->stats.last_active_us = checked_us;
	for (;;) {
		size_t n = 0, li = 0, ai = 0;
		pfd[n++] = (struct pollfd){ z->sigfd, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ z->noticefd, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ z->retiring ? -1 : zwatch_fd(z), POLLIN, 0 };
		if (z->listenfd >= 0) {
			li = n;
			pfd[n++] = (struct pollfd){ z->listenfd, POLLIN, 0 };
		}
		if (z->actfd >= 0) {
			ai = n;
			pfd[n++] = (struct pollfd){ z->actfd, POLLIN, 0 };
		}
		size_t first_child = n;
		for (struct zchild *c = z->children; c && n < MAX_POLL + 5; c = c->next)
			if (c->conn >= 0) {
				owner[n] = c;
				pfd[n++] = (struct pollfd){ c->conn, POLLRDHUP, 0 };
			}
		long long now = pw_mono_us();
		int rc = poll(pfd, n, next_timeout(z, now));
		if (rc < 0 && errno != EINTR) {
			zwarn(z, "poll failed: %s", strerror(errno));
			return -1;
		}
		now = pw_mono_us();
		if (pfd[1].revents)
			read_notices(z);
		for (size_t i = first_child; rc > 0 && i < n; i++)
			if (pfd[i].revents & (POLLRDHUP | POLLHUP | POLLERR))
				hang_up(z, owner[i]);
		if (pfd[0].revents)
			read_signals(z);
		if (pfd[2].revents)
			check_files(z);
		/* retire() may have closed them since the poll. */
		if (li && z->listenfd >= 0 && pfd[li].revents)
			accept_clients(z, z->listenfd);
		if (ai && z->actfd >= 0 && pfd[ai].revents)
			accept_clients(z, z->actfd);
		enforce_kills(z, now);
		if (now - checked_us >= SOCKET_CHECK_MS * 1000LL) {
			check_socket(z);
			checked_us = now;
		}
		zpool_refill(z, now);
		if (z->retiring && z->nchildren == 0)
			return 0;
		if (!z->retiring && z->nchildren == 0 && z->conf.profile.idle_timeout > 0 &&
		    now - z->stats.last_active_us >= z->conf.profile.idle_timeout * 1000000LL) {
			retire(z, "idle timeout");
			return 0;
		}
	}
}
