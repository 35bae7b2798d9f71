/* pool.c: children forked ahead of time, each waiting for the zygote to hand it a client's socket. */
#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* A launch counts as starting (and holds back refills, which would compete
 * with it for the CPU) from its hand-over until READY, at most this long. */
#define STARTING_US   100000LL
#define RETRY_US      1000000LL    /* after a failed fork */
#define TOUCH_MAX     8190         /* pages in the list of pages runs write */
#define LEARN_EVERY   16           /* pooled children between two recording ones */
#define LEARN_QUICK   4            /* recordings in a row while what runs write keeps changing */

/* In a pooled child: this one records the pages its run writes (see
 * struct ztouch); set before it would copy anything ahead. */
static int learning;

/*
 * Most of a warm run's own CPU time is spent in copy-on-write faults: every
 * page of the zygote's heap it writes to (reference counts, caches) is
 * copied on first write.  Runs write mostly the same pages, so a child
 * that ends records which pages it had to copy (present and no longer
 * shared, from /proc/self/pagemap) and sends them with its exit notice;
 * the zygote keeps the list in its own memory, which the children it
 * forks later inherit, and a pooled child copies those pages while it
 * waits (MADV_POPULATE_WRITE breaks the sharing without changing a byte).
 * Only pages written by the last two recorded runs are kept, so one
 * unusual run does not make every child larger.  A recording child (one
 * pooled child in LEARN_EVERY, every one while the list is empty, and
 * the next one, up to LEARN_QUICK in a row, when a recording differs
 * from the one before by more than an eighth: after a change of what
 * runs, such as a larger program run many times and then a small one,
 * the list follows within a few launches instead of LEARN_EVERY)
 * copies nothing ahead: its own pages are then exactly what its run
 * wrote, so a page that runs stopped writing leaves the list (a child
 * that had copied the list ahead would report all of it again).  No memory is shared
 * between runs: a run can only report its own pages, and the list only
 * ever costs time and memory (a wrong entry makes a copy that was not
 * needed, never a difference).
 */
struct ztouch {
	uint32_t n, ncand;                 /* pages in list, in cand */
	uint64_t next_learn;               /* the pool fork (stats.pool_forks) that records next */
	uint32_t quick;                    /* recordings in a row brought forward */
	uint64_t list[TOUCH_MAX];          /* written by the last two recorded runs */
	uint64_t cand[TOUCH_MAX];          /* written by the last recorded run */
};

/* Copy ahead the pages runs are known to write (see struct ztouch). */
static void pretouch(struct ztouch *t)
{
	uint32_t n = t ? t->n : 0;
	if (n > TOUCH_MAX)
		return;
	for (uint32_t i = 0; i < n; ) {
		uint64_t start = t->list[i], len = 4096;
		while (++i < n && t->list[i] == start + len)
			len += 4096;
		madvise((void *)(uintptr_t)start, len, MADV_POPULATE_WRITE);
	}
}

/* Append the pages of [lo, hi) this process no longer shares to out. */
static uint32_t private_pages(int pagemap, uint64_t lo, uint64_t hi, uint64_t *out, uint32_t n)
{
	uint64_t e[512];
	for (uint64_t a = lo; a < hi && n < TOUCH_MAX; ) {
		size_t k = (size_t)((hi - a) / 4096);
		if (k > 512)
			k = 512;
		ssize_t got = pread(pagemap, e, k * 8, (off_t)(a / 4096 * 8));
		if (got <= 0)
			break;
		for (size_t i = 0; i < (size_t)got / 8 && n < TOUCH_MAX; i++)
			if ((e[i] >> 63 & 1) && (e[i] >> 56 & 1))     /* present, exclusive */
				out[n++] = a + i * 4096;
		a += (uint64_t)got / 8 * 4096;
	}
	return n;
}

/* At the end of a run (signals blocked, one thread): the pages it
 * copied, now and then, for its exit notice.  Returns how many. */
size_t zpool_learn(const struct zygote *z, const uint64_t **pages)
{
	struct ztouch *t = z->touch;
	static uint64_t now[TOUCH_MAX];
	char line[512];
	uint32_t n = 0;

	*pages = now;
	if (t == NULL || !learning)
		return 0;
	FILE *maps = fopen("/proc/self/maps", "re");
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	while (maps && pm >= 0 && fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;
		char perms[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && perms[1] == 'w' && perms[3] == 'p')
			n = private_pages(pm, lo, hi, now, n);
	}
	if (maps)
		fclose(maps);
	if (pm >= 0)
		close(pm);
	return n;
}

/* In the zygote: a child's exit notice listed the pages it copied.
 * list = pages and cand (both ascending); cand = pages.  A list that is
 * not ascending and page-aligned is ignored. */
void zpool_take_pages(struct zygote *z, const uint64_t *pages, size_t n)
{
	struct ztouch *t = z->touch;
	uint32_t i = 0, j = 0, k = 0;

	if (t == NULL || n == 0 || n > TOUCH_MAX)
		return;
	for (size_t a = 0; a < n; a++)
		if (pages[a] % 4096 != 0 || (a > 0 && pages[a] <= pages[a - 1]))
			return;
	while (i < n && j < t->ncand) {
		if (pages[i] == t->cand[j]) {
			t->list[k++] = pages[i];
			i++, j++;
		} else if (pages[i] < t->cand[j]) {
			i++;
		} else {
			j++;
		}
	}
	/* A recording unlike the one before: record again soon. */
	int changed = (n - k) + (t->ncand - k) > (n + t->ncand) / 8;
	if (changed && t->quick < LEARN_QUICK) {
		t->quick++;
		t->next_learn = z->stats.pool_forks;
	} else if (!changed) {
		t->quick = 0;
	}
	t->n = k;
	memcpy(t->cand, pages, n * sizeof *pages);
	t->ncand = (uint32_t)n;
}

/* In a pooled child: wait for a connection, then serve it like any child.
 * Only the zygote's own word counts (the hand-over's sender is checked);
 * the zygote closing its end (retirement) ends the wait. */
static void __attribute__((noreturn)) pool_wait(const struct zygote *z, int ctl, int learn)
{
	int keep[3] = { ctl }, nkeep = 1, fd = -1;
	struct pw_hdr h;
	struct pw_handover ho;
	struct ucred from;
	char *payload;
	uint32_t nfds;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != z->conf.pid)
		_exit(0);
	/* Nothing of the zygote's but these: no other child's socket or
	 * hand-over end stays open here while we wait. */
	if (zlog_fd() >= 0)
		keep[nkeep++] = zlog_fd();
	if (zwatch_fd(z) >= 0)
		keep[nkeep++] = zwatch_fd(z);      /* zwatch_stale() looks at it */
	zclose_others(keep, (size_t)nkeep);
	learning = learn;
	if (!learning)
		pretouch(z->touch);
	if (pw_recv_from(ctl, &h, &payload, &fd, 1, &nfds, 0, &from) < 0)
		_exit(0);
	if (from.pid != z->conf.pid || h.type != PW_MSG_HANDOVER || nfds != 1 || h.len != sizeof ho)
		_exit(ZCHILD_EXIT_BADREQ);
	memcpy(&ho, payload, sizeof ho);
	free(payload);
	close(ctl);
	/* A status request answered from here shows the zygote as it is now. */
	zchild_main(z, fd, pw_mono_us() + ZREQUEST_DEADLINE_US, &ho);
}

/* Fork one pooled child; 0, or -1 if it could not be made. */
static int pool_fork(struct zygote *z)
{
	int sv[2];
	struct zchild *c = calloc(1, sizeof *c);

	if (c == NULL)
		return -1;
	int on = 1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		zwarn(z, "cannot make a hand-over socket for the pool: %s", strerror(errno));
		free(c);
		return -1;
	}
	if (setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0) {
		zwarn(z, "cannot set SO_PASSCRED on a hand-over socket: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		free(c);
		return -1;
	}
	struct ztouch *t = z->touch;
	int learn = t != NULL && (t->n == 0 || z->stats.pool_forks >= t->next_learn);
	if (learn)
		t->next_learn = z->stats.pool_forks + LEARN_EVERY;
	zpy_before_fork();
	pid_t pid = fork();
	if (pid == 0) {
		zpy_after_fork_child();
		close(sv[0]);
		pool_wait(z, sv[1], learn);
	}
	zpy_after_fork_parent();
	close(sv[1]);
	if (pid < 0) {
		zwarn(z, "cannot fork a pooled child: %s", strerror(errno));
		close(sv[0]);
		free(c);
		return -1;
	}
	setpgid(pid, pid);          /* also done in the child; whichever runs first */
	c->pid = pid;
	c->conn = -1;
	c->ctl = sv[0];
	c->next = z->children;
	z->children = c;
	z->npool++;
	z->stats.pool_forks++;
	return 0;
}

/* The pooled child forked longest ago, or NULL. */
static struct zchild *oldest_idle(struct zygote *z)
{
	struct zchild *found = NULL;
	for (struct zchild *c = z->children; c; c = c->next)
		if (c->ctl >= 0)
			found = c;
	return found;
}

/* Hand conn to an idle pooled child; returns it (now serving conn), or
 * NULL if none is idle.  The zygote keeps its own conn, as for a fork. */
struct zchild *zpool_take(struct zygote *z, int conn)
{
	struct pw_handover ho = zcounts(z);
	struct zchild *c;

	/* The oldest idle child (the list is newest first): the one most
	 * surely done with its after-fork work. */
	while ((c = oldest_idle(z)) != NULL) {
		int sent = pw_send(c->ctl, PW_MSG_HANDOVER, &ho, sizeof ho, &conn, 1);
		close(c->ctl);
		c->ctl = -1;
		z->npool--;
		z->nchildren++;         /* counted as serving from here on */
		if (sent == 0)
			return c;
		/* It died waiting: it is reaped like any child; try the next. */
		zlog(z, "pooled child %d cannot take a connection: %s", (int)c->pid, strerror(errno));
		kill(c->pid, SIGKILL);
	}
	return NULL;
}

/* Is a launch between hand-over and READY (CPU better left to it)? */
static long long starting_until(struct zygote *z, long long now)
{
	long long until = 0;
	for (struct zchild *c = z->children; c; c = c->next)
		if (c->ctl < 0 && c->conn >= 0 && !c->ready && now - c->started_us < STARTING_US &&
		    c->started_us + STARTING_US > until)
			until = c->started_us + STARTING_US;
	return until;
}

/* Fork one pooled child if the pool is short and no launch is starting;
 * the loop comes back (poll timeout 0) for the next one, so connections
 * that arrive meanwhile are served first. */
void zpool_refill(struct zygote *z, long long now)
{
	if (z->retiring || z->npool >= (size_t)z->conf.profile.prefork ||
	    now < z->pool_retry_us || starting_until(z, now) > now)
		return;
	if (z->touch == NULL)
		z->touch = calloc(1, sizeof *z->touch);
	if (pool_fork(z) < 0)
		z->pool_retry_us = now + RETRY_US;
}

/* Milliseconds until a refill is due, or -1 if none is. */
int zpool_timeout(struct zygote *z, long long now)
{
	if (z->retiring || z->npool >= (size_t)z->conf.profile.prefork)
		return -1;
	long long at = starting_until(z, now);
	if (at < z->pool_retry_us)
		at = z->pool_retry_us;
	return at <= now ? 0 : (int)((at - now + 999) / 1000);
}

/* Retiring: the pooled children see EOF and exit (they hold stale state). */
void zpool_dismiss(struct zygote *z)
{
	for (struct zchild *c = z->children; c; c = c->next)
		if (c->ctl >= 0) {
			close(c->ctl);
			c->ctl = -1;
			z->npool--;
			z->nchildren++;     /* waited for and reaped like the others */
		}
}
