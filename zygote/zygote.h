/* zygote.h: the state of one pywarm-zygote and the calls between its modules. */
#ifndef PW_ZYGOTE_H
#define PW_ZYGOTE_H

#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "proto.h"

struct pw_learn;

/* Exit codes of a forked child that never reached user code (in the log only). */
#define ZCHILD_EXIT_BADREQ 120

/* A child of the zygote: one per accepted connection, or a pre-forked one
 * waiting in the pool for a connection (ctl >= 0). */
struct zchild {
	pid_t pid;
	int conn;                 /* the client's socket; -1 once it hung up */
	int ctl;                  /* pooled: our end of its hand-over socket; else -1 */
	int ready;                /* the child reported that user code runs */
	int exited;               /* the child reported its exit status (ZN_EXIT) */
	int quiet;                /* its READY said its imports are not to be counted */
	int reported;             /* its import report (ZN_IMPORTS) was taken */
	long long started_us;     /* when it was given its connection */
	long long kill_at_us;     /* SIGKILL deadline after a hang-up, or 0 */
	struct zchild *next;
};

/* Child -> zygote notices: one datagram each to the zygote's notice
 * socket, which learns the sender from the kernel (SCM_CREDENTIALS), so a
 * process can only ever speak about itself.  ZN_EXIT may carry the pages
 * the run had to copy (uint64_t addresses, ascending; see pool.c). */
struct znotice {
	int32_t event;            /* ZN_* */
	int32_t status;           /* ZN_EXIT: the wait status it is about to have */
};
enum { ZN_READY = 1, ZN_STATUS = 2, ZN_EXIT = 3, ZN_IMPORTS = 4 };
/* ZN_READY's status: nonzero if the run's import report is not to be
 * counted (a confined run, or [preload] record = no).  It is sent before
 * the program's first line, so the program cannot change it.  ZN_IMPORTS
 * carries the run's report (pw_imports_put records), after ZN_EXIT. */

/* What a zygote is: set while it starts and warms, then only read, by the
 * event loop and by every child (which has it from the fork). */
struct zconf {
	pid_t pid;
	uint64_t identity;
	char idhex[17];
	struct pw_profile profile;
	struct pw_interp interp;  /* the interpreter this zygote stands in for */
	char stamp[128];
	char sockdir[PATH_MAX];
	char sockpath[PATH_MAX];
	char lockpath[PATH_MAX];
	struct sockaddr_un notice_addr;   /* the notice socket's (abstract) address */
	socklen_t notice_len;
	int journal;              /* the log is the journal: no timestamps of our own */
	int foreground;
	time_t started;
	char exe[PATH_MAX];       /* our binary, argv and first environment: */
	char **argv, **envp;      /* what a successor is started with */
	char lc_ctype[128];       /* LC_CTYPE python3's locale coercion set, or "" */
	unsigned long long stack_cur;
	/* Our namespaces' inodes and root directory, read once (zchild_world_init):
	 * nothing in the zygote changes them, and a child has them from the fork. */
	uint64_t ns_ino[PW_NNS], root_dev, root_ino;
	int nzopts;               /* python3 options the interpreter started with */
	char **zopts;
};

/* What the zygote counts, for status and its log; written by the event
 * loop and the warm-up only. */
struct zstats {
	unsigned long launches;
	long long last_active_us;
	unsigned long pool_forks; /* pooled children forked so far (pool.c) */
	unsigned long demand_forks; /* connections that found no pooled child: forked then */
	size_t modules_ok, modules_failed;
	char failed_names[1024];
	int warmup_failed;        /* the warmup script raised */
	int respawns;             /* successors in a row that found files changing */
	char learned[2048];       /* learn.c: modules preloaded because runs imported them */
};

/* A zygote: what it is, what it counted, and the state its event loop and
 * pool own (descriptors, children, change detection).  A child sees it
 * read-only (zchild_main and everything it calls take a const pointer): the
 * counters a status answer shows come with its connection, and the log's
 * descriptor belongs to log.c. */
struct zygote {
	struct zconf conf;
	struct zstats stats;
	int lockfd, listenfd, sigfd, noticefd;
	int actfd;                /* listening socket passed by a service manager, or -1 */
	int sparefd;              /* kept open to refuse a client when out of fds */
	dev_t sock_dev;           /* the socket file we bound, to notice its removal */
	ino_t sock_ino;
	size_t nchildren;         /* children serving a connection */
	size_t npool;             /* pre-forked children waiting for one */
	long long pool_retry_us;  /* no pool refill before this (after a failed fork) */
	int progressfd;           /* <id>.progress while warming, else -1 */
	char progresspath[PATH_MAX];
	int retiring;             /* 1: stop accepting, exit when no children */
	struct zwatch *watch;     /* watch.c: change detection */
	struct zenvwatch *envwatch; /* envwatch.c: what start-up read of the environment */
	struct zchild *children;
	struct pw_learn *learn_start; /* the import summary as this zygote warmed ([preload] learn = auto) */
	struct ztouch *touch;     /* pages runs write (pool.c); the zygote's own, never shared */
};

/* log.c: one line per message, with a syslog priority the journal keeps
 * (a "<N>" prefix; the log file shows "warning:" or "error:"). */
enum zprio { ZLOG_ERR = PW_PRIO_ERR, ZLOG_WARNING = PW_PRIO_WARNING, ZLOG_INFO = PW_PRIO_INFO };
void zlogp(const struct zygote *z, enum zprio prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void zlog_use_fd(int fd);          /* where lines go from now on (-1: nowhere) */
int  zlog_fd(void);
#define zlog(z, ...)  zlogp((z), ZLOG_INFO, __VA_ARGS__)
#define zwarn(z, ...) zlogp((z), ZLOG_WARNING, __VA_ARGS__)

/* py.c: the embedded interpreter. */
int  zpy_init(struct zygote *z);
int  zpy_prepare(struct zygote *z); /* once, after zwatch_finish, before serving */
/* The pending exception, its traceback line by line, to the log at prio. */
void zpy_log_exception(struct zygote *z, enum zprio prio);
void zpy_before_fork(void);
void zpy_after_fork_parent(void);
void zpy_after_fork_child(void);
int  zpy_child_setup(const struct zygote *z, struct pw_launch *l, char *err, size_t errlen);
void zpy_flush_quietly(const char *name);
int  zpy_teardown_needed(void);
void zpy_unfreeze(void);
void zpy_quiet_begin(void);        /* around objects python3 never makes: */
void zpy_quiet_end(void);          /* the collector's counters untouched */

/* run.c */
int  zrun_init(void);               /* in the zygote, before any child */
void zpy_child_run(const struct zygote *z, struct pw_launch *l) __attribute__((noreturn));

/* teardown.c (its callers include Python.h): the teardown check of a run's end */
#ifdef Py_PYTHON_H
PyObject *zpy_attr_or_none(PyObject *o, PyObject *name);   /* py.c: getattr(o, name, None) */
int  zteardown_init(PyObject *bootstrap_ns, PyObject *gc);
int  zteardown_needed(void);
int  zteardown_partial(void);

/* plan.c: bootstrap's _plan() and _listing(), put in its namespace */
int  zplan_init(PyObject *bootstrap_ns);

/* observe.c: whether anything watches a run's imports (then nothing is served) */
int  zobserve_snapshot(void);
int  zobserve_imports_watched(void);

/* cheld.c: the classes an extension's C code holds (warm.c asks while it preloads) */
void     *zcheld_snapshot(void);
PyObject *zcheld_since(void *snap);
PyObject *zcheld_external(PyObject *cands);
#endif

/* warm.c: preload and the warmup script. */
void zwarm_all(struct zygote *z);
void zwarm_done(struct zygote *z);

/* pymain's way to turn a pending SystemExit into an exit code without
 * exiting (exported by libpython 3.11). */
extern int _Py_HandleSystemExit(int *exitcode_p);

/* repl.c: pymain's steps around the program, in a warm child. */
int  zrepl_apply_options(unsigned emul);
void zrepl_skip_first_line(FILE *fp);
void zrepl_header(int run_code);
void zrepl_note_preloaded(void);  /* before zpy_prepare hides sys.modules */
int  zrepl_check_readline(int run_code);
void zrepl_import_readline(int run_code);
int  zrepl_before_stdin(int *exitcode);
int  zrepl_stdin_is_loop(void);
int  zrepl_loop(void);
void zrepl_inspect(int run_code, int *exitcode);

/* watch.c: retire on any change to the files behind the zygote's state. */
#define PW_RESPAWN_ENV "PYWARM_ZYGOTE_RESPAWNS"   /* successor count, zygote to zygote */
#define PW_RESPAWN_MAX 3      /* successors that found files changing during warm-up */
void zwatch_begin(struct zygote *z);
int  zwatch_finish(struct zygote *z, char *why, size_t len);
int  zwatch_fd(const struct zygote *z);
size_t zwatch_count(const struct zygote *z);
int  zwatch_read(struct zygote *z, char *why, size_t len);
const char *zwatch_stale(const struct zygote *z);
void zwatch_forget(const struct zygote *z);
void zwatch_successor(struct zygote *z, int wait);

/* envwatch.c: the environment variables start-up read, checked in each run. */
void zenv_begin(struct zygote *z);
void zenv_end(struct zygote *z);
void zenv_start_time(struct timespec *ts);
const char *zenv_child(const struct zygote *z, struct pw_launch *l);

/* tty.c: /dev/tty in a warm child is the caller's terminal. */
void ztty_set_caller(pid_t launcher);

/* cgroup.c: a warm child under the caller's cgroup limits. */
/* caller: the launcher (SO_PEERCRED of its connection: its pid cannot be
 * reused while it waits on the connection). */
const char *zcgroup_enter(pid_t caller);

/* proctitle.c: /proc/PID/cmdline and environ of the zygote and its children. */
void zproc_scrub(void);
void zproc_show(const struct zygote *z, const struct pw_launch *l);

/* child.c: what happens in a forked child before user code. */
#define ZREQUEST_DEADLINE_US 10000000LL   /* a request, from accept to GO */
void zchild_world_init(struct zygote *z);   /* once, before serving */
void zchild_main(const struct zygote *z, int conn, long long deadline_us,
                 const struct pw_handover *counts) __attribute__((noreturn));
int  znotice_send(const struct zygote *z, int event, int status, const void *extra, size_t len, int wait);
void zclose_others(int *keep, size_t n);
void zchild_exit(const struct zygote *z, int exitcode) __attribute__((noreturn));

/* learn.c: what runs import beyond the preload, judged and learned. */
long long zlearn_begin(void);
void zlearn_end(const char *name, size_t len, long long t0, int ok);
int  zlearn_child_start(const struct zygote *z);
void zlearn_child_send(const struct zygote *z);
int  zlearn_take(struct zygote *z, const char *buf, size_t len);
void zlearn_answer(const struct zygote *z, int conn, const char *payload, size_t len) __attribute__((noreturn));
void zlearn_preload(struct zygote *z);

/* warm.c: one module imported into the zygote as the preload does; 0 or -1 (logged). */
int  zwarm_import(struct zygote *z, const char *name);
unsigned long zwarm_cwd_reads(void);

/* sysread.c: file-system calls with a relative path, and clock reads. */
int  zsys_watch(int on);
void zsys_note_path(int dirfd, const char *path);
int  zsys_clock_exempt(int on);
void zsys_share_clock(int on);
unsigned long zsys_relative_calls(void);
unsigned long zsys_clock_calls(void);

/* py.c: getrandom() calls so far (learn.c's judge compares two counts). */
unsigned long zpy_entropy_calls(void);

/* envwatch.c: for learn.c's judge, in a throwaway child. */
void zenv_probe_begin(void);
#ifdef Py_PYTHON_H                   /* its callers include Python.h */
int  zenv_probe_py_begin(void);
PyObject *zenv_probe_py_end(void);
#endif
const char *zenv_probe_name(size_t i);
int  zenv_known(const struct zygote *z, const char *name);

/* pool.c: children forked ahead of the connections they will serve. */
struct zchild *zpool_take(struct zygote *z, int conn);
void zpool_refill(struct zygote *z, long long now);
int  zpool_timeout(struct zygote *z, long long now);
void zpool_dismiss(struct zygote *z);
size_t zpool_learn(const struct zygote *z, const uint64_t **pages);
void zpool_take_pages(struct zygote *z, const uint64_t *pages, size_t n);

/* sd.c: service manager protocols (socket activation, readiness, journal). */
int  zsd_listen_fd(char *err, size_t errlen);
int  zsd_notify_init(void);
int  zsd_notify(const char *state);
int  zsd_is_journal(int fd);

/* listen.c: the socket and the event loop. */
int  zlisten_open(struct zygote *z);
int  zloop(struct zygote *z);
struct pw_handover zcounts(const struct zygote *z);   /* the launch counters a child gets */
void zstatus_text(const struct zygote *z, const struct pw_handover *counts, char *buf, size_t len);

#endif
