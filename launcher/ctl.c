/* ctl.c: pywarmctl, the control command that starts, stops and describes zygotes. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "proto.h"
#include "ctl.h"
#include "util.h"
#include "procfs.h"


#define POLL_US          20000      /* between connection attempts */
#define DRAW_US          100000     /* between progress redraws */
#define START_TIMEOUT_S  120.0      /* start --wait, unless --timeout */
#define STOP_TIMEOUT_S   10.0       /* for a zygote to go after SIGTERM */
#define IDHEX_LEN        16

extern char **environ;

int cmd_sandbox(int argc, char **argv);     /* ctl_sandbox.c */

static const char usage_text[] =
	"usage: pywarmctl COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  start [--wait] [--timeout SECONDS] [--quiet]\n"
	"                 start the zygote for the current directory's profile;\n"
	"                 with --wait, wait until it serves (default 120 s);\n"
	"                 with --quiet, print nothing unless it fails\n"
	"  stop [--all]   stop that zygote; with --all, every zygote of this user\n"
	"  status         describe every running zygote\n"
	"  check [FILE]   validate a profile (default: the one that applies here)\n"
	"                 and show what its zygote would preload and watch\n"
	"  which          show which profile applies here, why, and its zygote\n"
	"  suggest        what runs here imported beyond the preload: runs, cost,\n"
	"                 and whether the zygote may preload it (and why not)\n"
	"  learn [--write] [--min-runs N]\n"
	"                 show, and with --write add to the profile, the safe\n"
	"                 modules imported by at least N runs (default 3)\n"
	"  interpreters   list the python3 interpreters found here (PATH, pyenv)\n"
	"                 and whether each is served warm, or why it runs cold\n"
	"  trust [PATH]   approve a project profile (default: the one found here)\n"
	"  untrust [PATH] withdraw that approval\n"
	"  shell-init [--no-prewarm] [bash|zsh|fish]\n"
	"                 print the shell integration: python functions,\n"
	"                 completion, a hook that warms each directory's profile\n"
	"  shell-init --path [sh|bash|zsh|fish]\n"
	"                 print a PATH line putting the python links to pywarm\n"
	"                 first, for scripts, make and subprocesses\n"
	"  enable         systemctl --user enable --now pywarm.socket pywarm.service\n"
	"  disable        systemctl --user disable --now pywarm.socket pywarm.service\n"
	"  sandbox [POLICY...]\n"
	"                 print the sandbox a run here would get (profile,\n"
	"                 PYWARM_SANDBOX and the POLICY names given)\n"
	"\n"
	"Options:\n"
	"  -h, --help     show this help\n"
	"\n"
	"PYWARM_DEBUG=1 traces to stderr; PYWARM_DEBUG=/FILE appends the trace to FILE.\n"
	"Exit status: 0 done, 1 failed, 2 bad command line.\n";

/* The names of one zygote: its identity and the files in the socket directory. */
struct zref {
	char idhex[IDHEX_LEN + 1];
	char sockdir[PATH_MAX];
	char sockpath[PATH_MAX];
	char lockpath[PATH_MAX];
	char logpath[PATH_MAX];     /* empty when not known (found by listing) */
};

/* A parsed status (pw_status_parse) and the pid it names. */
struct zstatus {
	char *text;
	const char *const *val;     /* PW_S_NKEYS values, NULL where missing */
	struct pw_status st;
	pid_t pid;                  /* 0 when missing or not a pid */
};

/* Print the one-line usage hint for a bad command line; returns EXIT_USAGE. */
static int usage_hint(void)
{
	fprintf(stderr, "Try 'pywarmctl --help' for more information.\n");
	return EXIT_USAGE;
}

/* Sleep for us microseconds. */
static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Parse a decimal number in [lo, hi] into *out; 0, or -1 if it is not one. */
static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Parse a status text into z (in place); unknown keys are ignored. */
static void status_parse(char *text, struct zstatus *z)
{
	long pid;

	memset(z, 0, sizeof(*z));
	pw_status_parse(text, &z->st);
	z->text = text;
	z->val = z->st.val;
	if (parse_long(z->val[PW_S_PID], 2, 0x7fffffffL, &pid) == 0 && pid != getpid())
		z->pid = (pid_t)pid;
}

/* Query the zygote at z->sockpath and parse its answer; 0 or -1/errno. */
static int query(const struct zref *z, struct zstatus *st)
{
	char *text;

	if (pw_query_status(z->sockpath, &text) < 0)
		return -1;
	status_parse(text, st);
	return 0;
}

/* Has pid exited (gone, or a zombie nobody has reaped yet)? */
static int pid_gone(pid_t pid)
{
	unsigned long long f[3];

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	if (pw_proc_stat(pid, f, 3) != 3)
		return errno == ENOENT;
	return f[2] == 'Z' || f[2] == 'X';
}

/* The pid holding the flock on lockpath, from /proc/locks; 0 if unknown. */
static pid_t lock_owner(const char *lockpath)
{
	struct stat st;
	long pid;

	if (stat(lockpath, &st) < 0 || !pw_flock_holder(st.st_dev, st.st_ino, &pid) || pid <= 0)
		return 0;
	return (pid_t)pid;
}

/* Fill z from a socket directory and an identity; -1 if the paths do not fit. */
static int zref_make(struct zref *z, const char *sockdir, const char *idhex)
{
	int a, b;

	memset(z, 0, sizeof(*z));
	snprintf(z->idhex, sizeof(z->idhex), "%s", idhex);
	a = snprintf(z->sockdir, sizeof(z->sockdir), "%s", sockdir);
	b = pw_zfile(z->sockpath, sizeof(z->sockpath), sockdir, idhex, PW_ZSOCK);
	return a < 0 || (size_t)a >= sizeof(z->sockdir) || b < 0 ||
	       pw_zfile(z->lockpath, sizeof(z->lockpath), sockdir, idhex, PW_ZLOCK) < 0 ? -1 : 0;
}

int ctl_target_here(struct pw_target *t)
{
	char cwd[PATH_MAX], err[PATH_MAX + 256];

	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		pw_warn_errno("cannot get the current directory");
		return -1;
	}
	if (pw_target_resolve(t, cwd, environ, err, sizeof(err)) < 0) {
		pw_warn("%s", err);
		return -1;
	}
	return 0;
}

/* Resolve the target for the current directory into t and z; 0 or -1 (said). */
static int resolve_here(struct pw_target *t, struct zref *z)
{
	if (ctl_target_here(t) < 0)
		return -1;
	memset(z, 0, sizeof(*z));
	memcpy(z->idhex, t->idhex, sizeof(z->idhex));
	memcpy(z->sockdir, t->sockdir, sizeof(z->sockdir));
	memcpy(z->sockpath, t->sockpath, sizeof(z->sockpath));
	memcpy(z->lockpath, t->lockpath, sizeof(z->lockpath));
	memcpy(z->logpath, t->logpath, sizeof(z->logpath));
	return 0;
}

/* Is name "<16 lowercase hex digits><suffix>"? */
static int is_zygote_file(const char *name, const char *suffix)
{
	for (int i = 0; i < IDHEX_LEN; i++)
		if (!isxdigit((unsigned char)name[i]) || isupper((unsigned char)name[i]))
			return 0;
	return strcmp(name + IDHEX_LEN, suffix) == 0;
}

/* qsort comparator for identities. */
static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Every identity with a .sock or .lock file in the socket directory, sorted
 * and unique, into a malloc'd array; the count, or -1 (said). */
static int list_zygotes(char sockdir[PATH_MAX], char (**ids)[IDHEX_LEN + 1])
{
	char err[512], (*v)[IDHEX_LEN + 1] = NULL, (*nv)[IDHEX_LEN + 1];
	size_t n = 0, cap = 0, out = 0;
	struct dirent *de;
	DIR *d;

	if (pw_sockdir(sockdir, PATH_MAX, 1, err, sizeof(err)) < 0) {
		pw_warn("%s", err);
		return -1;
	}
	if ((d = opendir(sockdir)) == NULL) {
		pw_warn_errno("cannot open %s", sockdir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_zygote_file(de->d_name, pw_zfile_suffix(PW_ZSOCK)) &&
		    !is_zygote_file(de->d_name, pw_zfile_suffix(PW_ZLOCK)))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				pw_warn_errno("cannot list %s", sockdir);
				free(v);
				closedir(d);
				return -1;
			}
			v = nv;
		}
		memcpy(v[n], de->d_name, IDHEX_LEN);
		v[n++][IDHEX_LEN] = '\0';
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_id);
	for (size_t i = 0; i < n; i++)
		if (out == 0 || strcmp(v[out - 1], v[i]) != 0)
			memmove(v[out++], v[i], sizeof(*v));
	*ids = v;
	return (int)out;
}

/* Parse a subcommand's options.  flags[i] is set for each option given;
 * --timeout's argument goes to *arg.  0, or EXIT_USAGE (said). */
static int parse_opts(int argc, char **argv, const struct option *lo,
                      const char *so, int *flags, char **arg)
{
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		if (c == '?' || c == ':') {
			if (c == ':')
				pw_warn("option '%s' needs an argument", argv[optind - 1]);
			else if (optopt)
				pw_warn("unknown option '-%c' for %s", optopt, argv[0]);
			else
				pw_warn("unknown option '%s' for %s", argv[optind - 1], argv[0]);
			return usage_hint();
		}
		for (int i = 0; lo[i].name; i++)
			if (lo[i].val == c) {
				flags[i] = 1;
				if (lo[i].has_arg)
					*arg = optarg;
			}
	}
	if (optind < argc) {
		pw_warn("%s takes no arguments (got '%s')", argv[0], argv[optind]);
		return usage_hint();
	}
	return 0;
}

/* Clear the progress line, if one was drawn. */
static void progress_clear(int drawn)
{
	if (drawn)
		fputs("\r\033[K", stderr);
}

/* Has the zygote we started (pid, or 0: unknown) died before serving? */
static int start_failed(const struct zref *z, pid_t pid)
{
	if (pw_zygote_alive(z->lockpath) != 0)
		return 0;       /* a zygote (maybe another one that won) holds it */
	return pid <= 0 || pid_gone(pid);
}

/* The last warning or "not serving" line zygote z wrote to its log, its
 * message only, into out ("" if there is none or the log is unreadable). */
static void last_reason(const struct zref *z, char *out, size_t outlen)
{
	char buf[8192], tag[IDHEX_LEN + 3];
	ssize_t n = 0;
	int fd = z->logpath[0] ? open(z->logpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;

	out[0] = '\0';
	if (end >= 0)
		n = pread(fd, buf, sizeof buf - 1, end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	snprintf(tag, sizeof tag, "%s: ", z->idhex);
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *at = strstr(line, tag);
		if (at && (strstr(at, ": warning: ") == at + IDHEX_LEN || strncmp(at + IDHEX_LEN + 2, "not serving", 11) == 0 ||
		           strstr(at, ": error: ") == at + IDHEX_LEN))
			snprintf(out, outlen, "%s", at + IDHEX_LEN + 2);
	}
}

/* Wait for z to answer status requests; EXIT_OK or EXIT_FAIL (said). */
static int wait_serving(const struct zref *z, pid_t pid, double timeout)
{
	long long t0 = pw_mono_us(), now, drawn = 0;
	struct zstatus st = { .text = NULL };
	struct ctl_progress pr = { 0 };
	int tty = isatty(2);
	double secs;

	for (;;) {
		int up = query(z, &st) == 0;

		now = pw_mono_us();
		secs = (double)(now - t0) / 1e6;
		if (up || start_failed(z, pid) || secs >= timeout)
			break;
		if (!tty || now - drawn >= DRAW_US) {
			if (ctl_progress(z->sockdir, z->idhex, secs, tty, &pr))
				drawn = now;
		}
		sleep_us(POLL_US);
	}
	progress_clear(drawn != 0);
	if (st.text == NULL) {
		if (secs >= timeout)
			pw_warn("zygote %s not serving after %gs; see %s", z->idhex,
			        timeout, z->logpath);
		else {
			char why[512];

			last_reason(z, why, sizeof why);
			pw_warn("zygote %s exited while warming up%s%s; see %s", z->idhex,
			        why[0] ? ": " : "", why, z->logpath);
		}
		return EXIT_FAIL;
	}
	printf("pywarmctl: zygote %s serving (pid %s, %s modules, %.1fs)\n", z->idhex,
	       st.val[PW_S_PID] ? st.val[PW_S_PID] : "?",
	       st.val[PW_S_MODULES] ? st.val[PW_S_MODULES] : "?", secs);
	free(st.text);
	return EXIT_OK;
}

/* pywarmctl start [--wait] [--timeout SECONDS] */
static int cmd_start(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	int flags[3] = { 0, 0, 0 }, alive, rc;
	char *arg = NULL, *end, err[512];
	double timeout = START_TIMEOUT_S;
	struct pw_target t;
	struct zstatus st;
	struct zref z;
	pid_t pid;

	if ((rc = parse_opts(argc, argv, lo, "+:wt:q", flags, &arg)) != 0)
		return rc;
	if (flags[2] && freopen("/dev/null", "w", stdout) == NULL)
		return EXIT_FAIL;   /* --quiet: only complaints, on stderr */
	if (arg) {
		errno = 0;
		timeout = strtod(arg, &end);
		if (errno || end == arg || *end || !isfinite(timeout) || timeout <= 0) {
			pw_warn("invalid timeout '%s' (seconds, more than 0)", arg);
			return usage_hint();
		}
	}
	if (resolve_here(&t, &z) < 0)
		return EXIT_FAIL;
	if (query(&z, &st) == 0) {
		printf("pywarmctl: zygote %s already serving (pid %s)\n", z.idhex,
		       st.val[PW_S_PID] ? st.val[PW_S_PID] : "?");
		free(st.text);
		pw_target_free(&t);
		return EXIT_OK;
	}
	alive = pw_zygote_alive(z.lockpath);
	if (alive < 0) {
		pw_warn_errno("cannot check %s", z.lockpath);
		pw_target_free(&t);
		return EXIT_FAIL;
	}
	if (alive) {
		pid = lock_owner(z.lockpath);
		if (!flags[0] && pid > 0)
			printf("pywarmctl: zygote %s already warming up (pid %ld)\n",
			       z.idhex, (long)pid);
		else if (!flags[0])
			printf("pywarmctl: zygote %s already warming up\n", z.idhex);
	} else {
		pid = pw_spawn_zygote(&t, err, sizeof(err));
		if (pid < 0) {
			pw_warn("%s", err);
			pw_target_free(&t);
			return EXIT_FAIL;
		}
		if (!flags[0])
			printf("pywarmctl: started zygote %s (pid %ld), log %s\n",
			       z.idhex, (long)pid, z.logpath);
	}
	pw_target_free(&t);
	return flags[0] ? wait_serving(&z, pid, timeout) : EXIT_OK;
}

/* Find the pid of z's zygote: from its status, else from its lock.  Returns
 * 1 with *pid set, 0 if none runs (a stale socket is removed), -1 (said). */
static int find_pid(const struct zref *z, pid_t *pid)
{
	struct zstatus st;
	int e, alive;

	*pid = 0;
	if (query(z, &st) == 0) {
		*pid = st.pid;
		free(st.text);
		if (*pid > 0)
			return 1;
		e = EPROTO;
	} else {
		e = errno;
		pw_debug("status of %s: %s", z->sockpath, strerror(e));
	}
	alive = pw_zygote_alive(z->lockpath);
	if (alive < 0) {
		pw_warn_errno("cannot check %s", z->lockpath);
		return -1;
	}
	if (alive == 0) {
		if (e == ECONNREFUSED && unlink(z->sockpath) == 0)
			pw_debug("removed stale socket %s", z->sockpath);
		return 0;
	}
	/* Alive but not answering: warming up, or wedged. */
	*pid = lock_owner(z->lockpath);
	if (*pid > 0 && *pid != getpid())
		return 1;
	errno = e;
	pw_warn_errno("zygote %s is running but gives no pid", z->idhex);
	return -1;
}

/* Stop z's zygote.  *found is set if one was running.  EXIT_OK/EXIT_FAIL. */
static int stop_one(const struct zref *z, int *found)
{
	long long t0;
	pid_t pid;
	int r = find_pid(z, &pid);

	if (r <= 0)
		return r < 0 ? EXIT_FAIL : EXIT_OK;
	*found = 1;
	if (kill(pid, SIGTERM) < 0 && errno != ESRCH) {
		pw_warn_errno("cannot stop zygote %s (pid %ld)", z->idhex, (long)pid);
		return EXIT_FAIL;
	}
	t0 = pw_mono_us();
	while (!pid_gone(pid)) {
		if (pw_mono_us() - t0 >= (long long)(STOP_TIMEOUT_S * 1e6)) {
			pw_warn("zygote %s (pid %ld) still running %.0fs after SIGTERM",
			        z->idhex, (long)pid, STOP_TIMEOUT_S);
			return EXIT_FAIL;
		}
		sleep_us(POLL_US);
	}
	printf("pywarmctl: stopped zygote %s (pid %ld)\n", z->idhex, (long)pid);
	return EXIT_OK;
}

/* pywarmctl stop [--all] */
static int cmd_stop(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	char sockdir[PATH_MAX], (*ids)[IDHEX_LEN + 1] = NULL, *arg = NULL;
	int flags[1] = { 0 }, found = 0, rc, n;
	struct pw_target t;
	struct zref z;

	if ((rc = parse_opts(argc, argv, lo, "+:a", flags, &arg)) != 0)
		return rc;
	if (!flags[0]) {
		if (resolve_here(&t, &z) < 0)
			return EXIT_FAIL;
		pw_target_free(&t);
		rc = stop_one(&z, &found);
		if (rc == EXIT_OK && !found)
			printf("pywarmctl: no zygote running for this profile\n");
		return rc;
	}
	if ((n = list_zygotes(sockdir, &ids)) < 0)
		return EXIT_FAIL;
	for (int i = 0; i < n; i++) {
		if (zref_make(&z, sockdir, ids[i]) < 0)
			continue;
		rc |= stop_one(&z, &found);
	}
	free(ids);
	if (rc == EXIT_OK && !found)
		printf("pywarmctl: no zygotes running\n");
	return rc ? EXIT_FAIL : EXIT_OK;
}

/* Print one status line "  key          value", control characters masked. */
static void row(const char *key, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void row(const char *key, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++)
		if (iscntrl((unsigned char)*p))
			*p = '?';
	printf("  %-12s %s\n", key, buf);
}

/* A status value, or "?" when the zygote did not give it. */
static const char *sval(const struct zstatus *st, enum pw_skey k)
{
	return st->val[k] && *st->val[k] ? st->val[k] : "?";
}

/* Format a duration in seconds like "42s", "5m07s", "1h02m", "3d04h". */
static void fmt_duration(char *out, size_t len, long s)
{
	if (s < 60)
		snprintf(out, len, "%lds", s);
	else if (s < 3600)
		snprintf(out, len, "%ldm%02lds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, len, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else
		snprintf(out, len, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
}

/* "RSS 45.1 MiB, PSS 30.2 MiB" for pid (PSS: its share of pages it
 * shares with its children); "?" where unreadable. */
static void fmt_rss(char *out, size_t len, pid_t pid)
{
	long rss, pss;

	snprintf(out, len, "?");
	if (pid <= 0)
		return;
	rss = pw_proc_field(pid, "status", "VmRSS:");
	pss = pw_proc_field(pid, "smaps_rollup", "Pss:");
	if (rss >= 0 && pss >= 0)
		snprintf(out, len, "RSS %.1f MiB, PSS %.1f MiB", (double)rss / 1024.0,
		         (double)pss / 1024.0);
	else if (rss >= 0)
		snprintf(out, len, "RSS %.1f MiB", (double)rss / 1024.0);
}

/* Print the status block of one serving zygote. */
static void print_status(const struct zref *z, const struct zstatus *st)
{
	const char *prof = st->val[PW_S_PROFILE], *names = st->val[PW_S_FAILED_NAMES];
	char up[32] = "?", idle[32] = "?", rss[64];
	long v;

	if (parse_long(st->val[PW_S_STARTED], 0, 0x7fffffffffffL, &v) == 0 && time(NULL) >= v)
		fmt_duration(up, sizeof(up), (long)(time(NULL) - v));
	if (parse_long(st->val[PW_S_IDLE], 0, 0x7fffffffffffL, &v) == 0) {
		if (v)
			fmt_duration(idle, sizeof(idle), v);
		else
			snprintf(idle, sizeof(idle), "never");
	}
	fmt_rss(rss, sizeof(rss), st->pid);
	printf("zygote %s\n", z->idhex);
	if (prof && !*prof)
		row("profile", "(built-in)");
	else
		row("profile", "%s (%s)", sval(st, PW_S_PROFILE), sval(st, PW_S_SOURCE));
	row("interpreter", "%s", sval(st, PW_S_INTERPRETER));
	row("pid", "%s", sval(st, PW_S_PID));
	row("uptime", "%s", up);
	row("memory", "%s", rss);
	row("modules", "%s preloaded, %s failed%s%s%s", sval(st, PW_S_MODULES),
	    sval(st, PW_S_FAILED), names && *names ? " (" : "", names ? names : "",
	    names && *names ? ")" : "");
	if (st->val[PW_S_LEARNED] && *st->val[PW_S_LEARNED])
		row("learned", "%s", st->val[PW_S_LEARNED]);
	if (st->val[PW_S_WARMUP] && *st->val[PW_S_WARMUP])
		row("warmup", "%s", st->val[PW_S_WARMUP]);
	row("launches", "%s served, %s running", sval(st, PW_S_LAUNCHES), sval(st, PW_S_RUNNING));
	if (st->val[PW_S_PREFORK] && st->val[PW_S_FORKED])
		row("prefork", "%s (%s connections found no pooled child)", st->val[PW_S_PREFORK],
		    st->val[PW_S_FORKED]);
	else if (st->val[PW_S_PREFORK])
		row("prefork", "%s", st->val[PW_S_PREFORK]);
	if (st->val[PW_S_WATCHED])
		row("watching", "%s files and directories", st->val[PW_S_WATCHED]);
	row("idle timeout", "%s", idle);
	row("state", "%s", sval(st, PW_S_STATE));
}

/* Describe z: a block, a warming note, or a one-line complaint.  Returns 1
 * if a zygote was shown, 0 if none runs there, -1 if it could not be read. */
static int status_one(const struct zref *z, int first)
{
	struct zstatus st;
	int e, alive;
	pid_t pid;

	if (query(z, &st) == 0) {
		if (st.pid <= 0 || st.val[PW_S_IDENTITY] == NULL) {
			pw_warn("zygote %s: garbled status reply", z->idhex);
			free(st.text);
			return -1;
		}
		printf("%s", first ? "" : "\n");
		print_status(z, &st);
		free(st.text);
		return 1;
	}
	e = errno;
	pw_debug("status of %s: %s", z->sockpath, strerror(e));
	alive = pw_zygote_alive(z->lockpath);
	if (alive == 0)
		return 0;       /* a stale socket or an old lock file */
	pid = alive > 0 ? lock_owner(z->lockpath) : 0;
	if (alive > 0 && (e == ENOENT || e == ECONNREFUSED)) {
		printf("%szygote %s\n", first ? "" : "\n", z->idhex);
		/* The lock's holder may not be known: never print 0, which a
		 * script passing it to kill(1) would take as its own group. */
		if (pid > 0)
			row("pid", "%ld", (long)pid);
		else
			row("pid", "?");
		row("state", "warming");
		return 1;
	}
	if (e == EAGAIN || e == EWOULDBLOCK)
		pw_warn("zygote %s (pid %ld): no status reply within %ds", z->idhex,
		        (long)pid, PW_STATUS_TIMEOUT_S);
	else
		pw_warn("zygote %s (pid %ld): cannot query status: %s", z->idhex,
		        (long)pid, strerror(e));
	return -1;
}

/* pywarmctl status */
static int cmd_status(int argc, char **argv)
{
	static const struct option lo[] = { { NULL, 0, NULL, 0 } };
	char sockdir[PATH_MAX], (*ids)[IDHEX_LEN + 1] = NULL, *arg = NULL;
	int flags[1] = { 0 }, shown = 0, bad = 0, rc, n;
	struct zref z;

	if ((rc = parse_opts(argc, argv, lo, "+:", flags, &arg)) != 0)
		return rc;
	if ((n = list_zygotes(sockdir, &ids)) < 0)
		return EXIT_FAIL;
	for (int i = 0; i < n; i++) {
		if (zref_make(&z, sockdir, ids[i]) < 0)
			continue;
		fflush(stdout);     /* keep blocks and complaints in order */
		rc = status_one(&z, shown == 0);
		shown += rc > 0;
		bad |= rc < 0;
	}
	free(ids);
	if (!shown && !bad)
		printf("pywarmctl: no zygotes running\n");
	return bad ? EXIT_FAIL : EXIT_OK;
}

/* Dispatch to the subcommand named by argv[1]. */
/* pywarmctl's subcommands (each documented in pywarmctl(1) and usage_text). */
static const struct {
	const char *name;
	int (*run)(int, char **);
} commands[] = {
	{ "start", cmd_start },        { "stop", cmd_stop },
	{ "status", cmd_status },      { "check", ctl_check },
	{ "which", ctl_which },        { "interpreters", ctl_interpreters },
	{ "suggest", ctl_suggest },    { "learn", ctl_learn },
	{ "trust", ctl_trust },
	{ "untrust", ctl_untrust },    { "shell-init", ctl_shell_init },
	{ "enable", ctl_enable },      { "disable", ctl_disable },
	{ "sandbox", cmd_sandbox },
};

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	int (*run)(int, char **) = NULL;

	pw_progname = "pywarmctl";
	pw_debug_init();
	if (cmd == NULL) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof *commands && run == NULL; i++)
		if (strcmp(cmd, commands[i].name) == 0)
			run = commands[i].run;
	if (run == NULL) {
		pw_warn("unknown command '%s'", cmd);
		return usage_hint();
	}
	for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		}
	/* The subcommand sees its own name as argv[0], as getopt expects. */
	return run(argc - 1, argv + 1);
}
