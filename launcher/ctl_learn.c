/* ctl_learn.c: pywarmctl suggest and learn: what runs imported beyond the preload, judged by the zygote, added to the profile. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "ctl.h"
#include "learn.h"
#include "proto.h"
#include "util.h"

extern char **environ;

#define WAIT_US      20000         /* between looks at a warming zygote */
#define START_S      120           /* for the zygote to serve */
#define JUDGE_S      12            /* per module judged, at most (the zygote's is 10) */
#define WRAP         72            /* columns of an added modules line */

/* One candidate: its summary entry and the zygote's verdict. */
struct cand {
	const struct pw_learn_ent *e;
	char verdict[256];
	int safe;                 /* "safe" */
	int env;                  /* only "reads NAME" reasons: preloaded by learn --write,
	                           * the variables then checked in every run */
};

/* Is every "; "-separated reason of v "reads NAME"? */
static int only_env(const char *v)
{
	for (const char *s = v; *s; ) {
		if (strncmp(s, "reads ", 6) != 0)
			return 0;
		const char *next = strstr(s, "; ");
		if (next == NULL)
			return 1;
		s = next + 2;
	}
	return 0;
}

/* Sleep for us microseconds. */
static void nap(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Make sure t's zygote serves (start it if none runs); 0, or -1 (said). */
static int ensure_serving(const struct pw_target *t)
{
	char err[512], *text;
	long long until = pw_mono_us() + START_S * 1000000LL;
	int started = 0;

	while (pw_query_status(t->sockpath, &text) < 0) {
		if (!started && pw_zygote_alive(t->lockpath) == 0) {
			if (pw_spawn_zygote(t, err, sizeof(err)) < 0) {
				pw_warn("%s", err);
				return -1;
			}
			started = 1;
		}
		if (pw_mono_us() > until) {
			pw_warn("zygote %s not serving after %ds; see %s", t->idhex, START_S, t->logpath);
			return -1;
		}
		nap(WAIT_US);
	}
	free(text);
	return 0;
}

/* Ask the zygote to judge c[0..n); fills each verdict.  0, or -1 (said). */
static int ask_verdicts(const struct pw_target *t, struct cand *c, size_t n)
{
	size_t len = 0, cap = n * (PW_LEARN_NAME_MAX + 1) + 1;
	char *req = malloc(cap), *payload = NULL;
	struct pw_hdr h;
	uint32_t nfds = 0;
	int fds[1], fd = -1, rc = -1;

	if (req == NULL) {
		pw_warn("out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(c[i].e->name) + 1;
		memcpy(req + len, c[i].e->name, k);
		len += k;
		snprintf(c[i].verdict, sizeof(c[i].verdict), "not judged");
	}
	if ((fd = pw_connect(t->sockpath)) < 0) {
		pw_warn_errno("cannot connect to %s", t->sockpath);
		goto out;
	}
	if (pw_send(fd, PW_MSG_JUDGE_REQ, req, (uint32_t)len, NULL, 0) < 0) {
		pw_warn_errno("cannot send to %s", t->sockpath);
		goto out;
	}
	if (pw_recv_from(fd, &h, &payload, fds, 0, &nfds,
	                 pw_mono_us() + (long long)(n + 1) * JUDGE_S * 1000000LL, NULL) < 0 ||
	    h.type != PW_MSG_VERDICTS) {
		pw_warn("zygote %s did not judge the modules: %s", t->idhex,
		        errno == ENOMSG ? "it hung up (an older zygote? see its log)" : strerror(errno));
		goto out;
	}
	for (char *s = payload, *end = payload + h.len; s < end; ) {
		char *nl = memchr(s, '\n', (size_t)(end - s)), *tab;
		if (nl == NULL)
			break;
		*nl = '\0';
		if ((tab = strchr(s, '\t')) != NULL) {
			*tab = '\0';
			for (size_t i = 0; i < n; i++)
				if (strcmp(c[i].e->name, s) == 0) {
					snprintf(c[i].verdict, sizeof(c[i].verdict), "%s", tab + 1);
					c[i].safe = strcmp(tab + 1, "safe") == 0;
					c[i].env = only_env(tab + 1);
				}
		}
		s = nl + 1;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(payload);
	free(req);
	return rc;
}

/* Resolve the profile here, read its summary, and judge every module it
 * lists that the profile does not preload.  *cand is malloc'd.  0, or -1 (said). */
static int gather(struct pw_target *t, struct pw_learn *l, struct cand **cand, size_t *n)
{
	char err[PATH_MAX + 256];

	*cand = NULL;
	*n = 0;
	if (ctl_target_here(t) < 0)
		return -1;
	if (pw_learn_load(&t->profile, l, err, sizeof(err)) < 0) {
		pw_warn("%s", err);
		return -1;
	}
	pw_learn_sort(l);
	if ((*cand = calloc(l->n + 1, sizeof(**cand))) == NULL) {
		pw_warn("out of memory");
		return -1;
	}
	for (size_t i = 0; i < l->n; i++)
		if (!pw_learn_in_profile(&t->profile, l->e[i].name))
			(*cand)[(*n)++].e = &l->e[i];
	if (*n == 0)
		return 0;
	if (!t->interp.warm) {
		pw_warn("runs here go cold (%s): nothing can be judged", t->interp.cold_why);
		return -1;
	}
	if (ensure_serving(t) < 0)
		return -1;
	return ask_verdicts(t, *cand, *n);
}

/* "(built-in)" or "PATH (source)". */
static void print_profile(const struct pw_profile *p)
{
	if (p->path)
		printf("profile %s (%s)\n", p->path, pw_profile_source_name(p->source));
	else
		printf("profile (built-in)\n");
}

/* Milliseconds, as the table shows them. */
static double ms(uint64_t us)
{
	return (double)us / 1000.0;
}

/* The table of candidates. */
static void print_table(const struct cand *c, size_t n)
{
	uint64_t safe_us = 0;
	size_t safe = 0;

	printf("%-32s %6s %10s %10s  %s\n", "module", "runs", "per run", "total", "verdict");
	for (size_t i = 0; i < n; i++) {
		const struct pw_learn_ent *e = c[i].e;
		printf("%-32s %6llu %7.2f ms %7.2f ms  %s%s%s\n", e->name, (unsigned long long)e->runs,
		       ms(pw_learn_median(e)), ms(e->total_us),
		       c[i].safe || c[i].env ? "" : "not safe: ", c[i].verdict,
		       c[i].env ? " (learn --write only: then checked in every run)" : "");
		if (c[i].safe || c[i].env) {
			safe++;
			safe_us += pw_learn_median(e);
		}
	}
	printf("%zu of %zu can be preloaded, %.2f ms per run that imports them all\n", safe, n, ms(safe_us));
}

/* pywarmctl suggest */
int ctl_suggest(int argc, char **argv)
{
	static struct pw_learn l;
	struct pw_target t;
	struct cand *c = NULL;
	size_t n = 0;
	int rc = EXIT_FAIL;

	if (argc > 1) {
		pw_warn("suggest takes no arguments (got '%s')", argv[1]);
		return EXIT_USAGE;
	}
	memset(&t, 0, sizeof(t));
	if (gather(&t, &l, &c, &n) < 0)
		goto out;
	print_profile(&t.profile);
	if (!t.profile.record)
		printf("recording is off ([preload] record = no)\n");
	if (n == 0)
		printf("no imports beyond the preload recorded yet\n");
	else
		print_table(c, n);
	rc = EXIT_OK;
out:
	free(c);
	pw_target_free(&t);
	return rc;
}

/* text with a "modules = " line for names[0..n) added at the end of its
 * [preload] section (or a new section at its end).  malloc'd, or NULL. */
static char *add_modules(const char *text, size_t len, const char *const *names, size_t n)
{
	size_t cap = len + n * (PW_LEARN_NAME_MAX + 8) + 128, at = 0, ins = len, col = 0;
	char *out = malloc(cap), *add = malloc(cap);
	int in_preload = 0, found = 0;

	if (out == NULL || add == NULL) {
		free(out);
		free(add);
		return NULL;
	}
	/* Where: after the last non-blank line of the first [preload] section. */
	for (size_t i = 0; i < len; ) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) + 1 : len, s = i;
		while (s < end && (text[s] == ' ' || text[s] == '\t'))
			s++;
		if (s == i && text[s] == '[') {
			if (found && in_preload)
				break;
			in_preload = strncmp(text + s, "[preload]", 9) == 0;
			found |= in_preload;
			if (in_preload)
				ins = end;
		} else if (in_preload && s < end && text[s] != '\n' && text[s] != '\r') {
			ins = end;
		}
		i = end;
	}
	int k = snprintf(add, cap, "%s%s# added by pywarmctl learn --write\nmodules = ",
	                 ins > 0 && text[ins - 1] != '\n' ? "\n" : "", found ? "" : "\n[preload]\n");
	at = (size_t)k;
	col = 10;
	for (size_t i = 0; i < n; i++) {
		size_t w = strlen(names[i]);
		if (i > 0 && col + w + 2 > WRAP) {
			at += (size_t)snprintf(add + at, cap - at, ",\n    ");
			col = 4;
		} else if (i > 0) {
			at += (size_t)snprintf(add + at, cap - at, ", ");
			col += 2;
		}
		at += (size_t)snprintf(add + at, cap - at, "%s", names[i]);
		col += w;
	}
	at += (size_t)snprintf(add + at, cap - at, "\n");
	if (!found)
		ins = len;
	memcpy(out, text, ins);
	memcpy(out + ins, add, at);
	memcpy(out + ins + at, text + ins, len - ins);
	out[ins + at + (len - ins)] = '\0';
	free(add);
	return out;
}

/* The user profile's path ($XDG_CONFIG_HOME/pywarm/pywarm.ini, else
 * ~/.config/...), for a profile written where only the built-in applied. */
static int user_profile_path(char *out, size_t len)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	int k;

	if (x && x[0] == '/')
		k = snprintf(out, len, "%s/pywarm/pywarm.ini", x);
	else if (home && home[0] == '/')
		k = snprintf(out, len, "%s/.config/pywarm/pywarm.ini", home);
	else
		return -1;
	return k < 0 || (size_t)k >= len ? -1 : 0;
}

/* Write text to path atomically (a temporary file beside it, then rename),
 * keeping an existing file's mode; 0, or -1 (said). */
static int write_profile(const char *path, const char *text)
{
	char tmp[PATH_MAX + 32], dir[PATH_MAX];
	struct stat st;
	mode_t mode = 0644;
	size_t len = strlen(text);

	if (stat(path, &st) == 0)
		mode = st.st_mode & 0777 & ~(mode_t)022;
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/'), err[PATH_MAX + 128];
	if (slash && slash != dir) {
		*slash = '\0';
		if (pw_mkdir_p("profile directory", dir, err, sizeof err) < 0) {
			pw_warn("%s", err);
			return -1;
		}
	}
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		pw_warn_errno("cannot create %s", tmp);
		return -1;
	}
	if (fchmod(fd, mode) < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		pw_warn_errno("cannot write %s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		pw_warn_errno("cannot rename %s to %s", tmp, path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Add names[0..n) to t's profile file (the user profile when the built-in
 * applied); then warm the zygote that profile now has, or say that a
 * project profile needs trust again.  EXIT_OK or EXIT_FAIL (said). */
static int write_learned(struct pw_target *t, const char *const *names, size_t n)
{
	char path[PATH_MAX], err[PATH_MAX + 256], cwd[PATH_MAX];
	struct pw_profile check;

	if (t->profile.path)
		snprintf(path, sizeof(path), "%s", t->profile.path);
	else if (user_profile_path(path, sizeof(path)) < 0) {
		pw_warn("cannot tell where the user profile goes (neither XDG_CONFIG_HOME nor HOME)");
		return EXIT_FAIL;
	}
	if (t->profile.source == PW_SRC_ENV) {
		pw_warn("%s is $PYWARM_PROFILE's; add the modules to it by hand", path);
		return EXIT_FAIL;
	}
	char *text = add_modules(t->profile.text, t->profile.len, names, n);
	if (text == NULL) {
		pw_warn("out of memory");
		return EXIT_FAIL;
	}
	/* Never write a profile that would not load. */
	if (pw_profile_parse(&check, path, text, strlen(text), err, sizeof(err)) < 0) {
		pw_warn("the profile with the modules added would not load: %s", err);
		free(text);
		return EXIT_FAIL;
	}
	pw_profile_free(&check);
	int rc = write_profile(path, text);
	free(text);
	if (rc < 0)
		return EXIT_FAIL;
	printf("added %zu modules to %s\n", n, path);
	if (t->profile.source == PW_SRC_PROJECT) {
		printf("%s changed: run 'pywarmctl trust' to use it again\n", path);
		return EXIT_OK;
	}
	struct pw_target nt;
	memset(&nt, 0, sizeof(nt));
	if (getcwd(cwd, sizeof(cwd)) == NULL || pw_target_resolve(&nt, cwd, environ, err, sizeof(err)) < 0) {
		pw_warn("%s", err);
		return EXIT_FAIL;
	}
	rc = ensure_serving(&nt);
	if (rc == 0)
		printf("zygote %s serving with them\n", nt.idhex);
	pw_target_free(&nt);
	return rc == 0 ? EXIT_OK : EXIT_FAIL;
}

/* learn's options: --write, --min-runs N (-1 when not given); 0, or -1
 * after saying what is wrong. */
static int learn_options(int argc, char **argv, int *write, long *min)
{
	static const struct option lo[] = {
		{ "write", no_argument, NULL, 'w' },
		{ "min-runs", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:wm:", lo, NULL)) != -1) {
		if (ch == 'w') {
			*write = 1;
		} else if (ch == 'm') {
			errno = 0;
			*min = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || *min < 1) {
				pw_warn("invalid --min-runs '%s' (a whole number, at least 1)", optarg);
				return -1;
			}
		} else {
			pw_warn("learn: unknown option or missing value: '%s'", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		pw_warn("learn takes no arguments (got '%s')", argv[optind]);
		return -1;
	}
	return 0;
}

/* pywarmctl learn [--write] [--min-runs N] */
int ctl_learn(int argc, char **argv)
{
	static struct pw_learn l;
	struct pw_target t;
	struct cand *c = NULL;
	const char **names = NULL;
	size_t n = 0, k = 0;
	long min = -1;
	int write = 0, rc = EXIT_FAIL;

	if (learn_options(argc, argv, &write, &min) < 0)
		return EXIT_USAGE;
	memset(&t, 0, sizeof(t));
	if (gather(&t, &l, &c, &n) < 0)
		goto out;
	if (min < 0)
		min = t.profile.learn_min_runs;
	print_profile(&t.profile);
	if ((names = calloc(n + 1, sizeof(*names))) == NULL) {
		pw_warn("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if ((c[i].safe || c[i].env) && c[i].e->runs >= (uint64_t)min)
			names[k++] = c[i].e->name;
	if (k == 0) {
		printf("nothing to learn: no safe module imported by at least %ld runs\n", min);
		rc = EXIT_OK;
		goto out;
	}
	printf("%s", write ? "adding:" : "would add (with --write):");
	for (size_t i = 0; i < k; i++)
		printf(" %s", names[i]);
	putchar('\n');
	rc = write ? write_learned(&t, names, k) : EXIT_OK;
out:
	free(names);
	free(c);
	pw_target_free(&t);
	return rc;
}

/* The learned modules of a serving zygote of profile p, from the statuses
 * of the zygotes in the socket directory, into out (with its identity);
 * 1 if one serves p, else 0. */
static int serving_learned(const struct pw_profile *p, char *out, size_t len)
{
	char dir[PATH_MAX], sock[PATH_MAX + 300], err[512], *text;
	struct pw_status st;
	struct dirent *d;
	int found = 0;

	if (pw_sockdir(dir, sizeof(dir), 0, err, sizeof(err)) < 0)
		return 0;
	DIR *dp = opendir(dir);
	while (dp && !found && (d = readdir(dp)) != NULL) {
		size_t n = strlen(d->d_name);
		if (n != 21 || strcmp(d->d_name + 16, ".sock") != 0)
			continue;
		snprintf(sock, sizeof(sock), "%s/%s", dir, d->d_name);
		if (pw_query_status(sock, &text) < 0)
			continue;
		pw_status_parse(text, &st);
		const char *path = st.val[PW_S_PROFILE], *learned = st.val[PW_S_LEARNED];
		if (path && strcmp(path, p->path ? p->path : "") == 0) {
			snprintf(out, len, "%s (zygote %.16s)", learned && *learned ? learned : "(none)",
			         d->d_name);
			found = 1;
		}
		free(text);
	}
	if (dp)
		closedir(dp);
	return found;
}

/* pywarmctl check: whether the profile records its runs' imports and, with
 * learn = auto, what its serving zygote learned and what the next one
 * will judge as it warms (modules imported by at least learn_min_runs runs). */
void ctl_learn_describe(const struct pw_profile *p)
{
	static struct pw_learn l;
	char err[PATH_MAX + 256], now[PW_LEARN_MAX * 16];
	size_t shown = 0;

	printf("  %-12s %s\n", "record", p->record ? "yes" : "no");
	if (!p->learn_auto) {
		printf("  %-12s no\n", "learn");
		return;
	}
	printf("  %-12s auto, after %ld runs\n", "learn", p->learn_min_runs);
	if (serving_learned(p, now, sizeof(now)))
		printf("  %-12s %s\n", "learned", now);
	if (pw_learn_load(p, &l, err, sizeof(err)) < 0) {
		printf("  %-12s (%s)\n", "candidates", err);
		return;
	}
	pw_learn_sort(&l);
	printf("  %-12s ", "candidates");
	for (size_t i = 0; i < l.n; i++)
		if (l.e[i].runs >= (uint64_t)p->learn_min_runs && !pw_learn_in_profile(p, l.e[i].name))
			printf("%s%s", shown++ ? ", " : "", l.e[i].name);
	printf("%s\n", shown ? " (judged when a zygote warms)" : "(none yet)");
}
