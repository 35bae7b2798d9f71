/* ctl_profile.c: pywarmctl check, which, trust and untrust: what a profile holds, which one applies, and who approved it. */
#include <errno.h>
#include <stdarg.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "ctl.h"
#include "proto.h"
#include "util.h"

extern char **environ;

/* Print "  key          value" (the layout of pywarmctl status). */
static void line(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("  %-12s ", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Print a NULL-terminated list as "a, b, c" after key ("(none)" when empty). */
static void list_line(const char *key, char *const *v, size_t n)
{
	printf("  %-12s ", key);
	if (n == 0)
		fputs("(none)", stdout);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "", v[i]);
	putchar('\n');
}

/* Canonical absolute form of a profile path: the real path of its directory
 * plus its own name (discovery builds paths the same way from getcwd()).
 * A directory names the .pywarm.ini inside it. */
static int canonical(const char *arg, char *out, size_t outlen)
{
	char buf[PATH_MAX], dir[PATH_MAX], *d, *b;
	struct stat st;

	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(buf, sizeof(buf), "%s/%s", arg, PW_PROFILE_FILE);
	else
		snprintf(buf, sizeof(buf), "%s", arg);
	snprintf(dir, sizeof(dir), "%s", buf);
	d = dirname(dir);
	b = basename(buf);
	if (realpath(d, out) == NULL)
		return -1;
	if (strlen(out) + strlen(b) + 2 > outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcat(strcmp(out, "/") ? strcat(out, "/") : out, b);
	return 0;
}

/* Files discovery ignored on the way (see pw_profile_find), for which. */
struct ignored {
	char line[4][PATH_MAX + 200];
	int n;
};

/* pw_skip_fn: remember one ignored file. */
static void note_ignored(void *arg, const char *path, const char *why)
{
	struct ignored *ig = arg;

	if (ig != NULL && ig->n < 4)
		snprintf(ig->line[ig->n++], sizeof(ig->line[0]), "%s", why);
}

/* The profile that applies in the working directory: path (NULL for the
 * built-in) and source; 0 or -1 (said).  ig (may be NULL) collects the
 * files discovery ignored. */
static int find_here(char cwd[PATH_MAX], char **path, int *source, struct ignored *ig)
{
	char err[512];

	if (getcwd(cwd, PATH_MAX) == NULL) {
		pw_warn_errno("cannot get the current directory");
		return -1;
	}
	if (pw_profile_find_noting(cwd, path, source, note_ignored, ig, err, sizeof(err)) < 0) {
		pw_warn("%s", err);
		return -1;
	}
	return 0;
}

/* Why this profile applies, in words (ignored: discovery skipped files). */
static void print_why(int source, const char *cwd, int ignored)
{
	const char *usable = ignored ? "usable " : "";

	switch (source) {
	case PW_SRC_ENV:
		line("why", "PYWARM_PROFILE names it (trusted: set by you)");
		break;
	case PW_SRC_PROJECT:
		line("why", "the nearest %s%s from %s", usable, PW_PROFILE_FILE, cwd);
		break;
	case PW_SRC_USER:
		line("why", "no %s%s in %s or above; your user profile (trusted)", usable,
		     PW_PROFILE_FILE, cwd);
		break;
	default:
		line("why", "no PYWARM_PROFILE, no %s%s in %s or above, no %suser profile",
		     usable, PW_PROFILE_FILE, cwd, usable);
	}
}

/* Trust state of a loaded project profile (warmup script included) as a
 * word; -1 on a store error (said).  An ignored store is shown in a line. */
static int trust_word(const struct pw_profile *p, const char **word)
{
	char err[PATH_MAX + 128];
	int r = pw_trust_check_profile(p, err, sizeof(err));

	if (r < 0) {
		pw_warn("%s", err);
		return -1;
	}
	if (err[0])
		line("trust store", "ignored: %s", err);
	*word = r == PW_TRUST_YES ? "yes" : r == PW_TRUST_CHANGED ?
	        "no: changed since it was trusted" : "no";
	return r;
}

/* The interpreter line: path, where it comes from, warm or cold. */
static void print_interp(const struct pw_interp *in)
{
	line("interpreter", "%s (%s; %s%s)", in->path, in->origin,
	     in->warm ? "served warm" : "runs cold: ", in->warm ? "" : in->cold_why);
	if (in->venv_home[0])
		line("venv", "home %s, version %s", in->venv_home,
		     in->venv_version[0] ? in->venv_version : "?");
}

/* pywarmctl which */
int ctl_which(int argc, char **argv)
{
	char cwd[PATH_MAX], err[PATH_MAX + 256], *path = NULL, *text = NULL;
	const char *word = "yes";
	struct pw_profile p;
	struct pw_target t;
	struct ignored ig = { .n = 0 };
	size_t len = 0;
	int source, r = EXIT_OK;

	if (argc > 1) {
		pw_warn("which takes no arguments (got '%s')", argv[1]);
		return EXIT_USAGE;
	}
	if (find_here(cwd, &path, &source, &ig) < 0)
		return EXIT_FAIL;
	printf("profile %s\n", path ? path : "(built-in)");
	line("source", "%s", pw_profile_source_name(source));
	print_why(source, cwd, ig.n > 0);
	for (int i = 0; i < ig.n; i++)
		line("ignored", "%s", ig.line[i]);
	if (source == PW_SRC_PROJECT) {
		if (pw_profile_read(path, source, &text, &len, err, sizeof(err)) < 0 ||
		    pw_profile_from_text(&p, path, source, text, len, err, sizeof(err)) < 0) {
			pw_warn("%s", err);
			free(path);
			return EXIT_FAIL;
		}
		if (trust_word(&p, &word) < 0)
			r = EXIT_FAIL;
		pw_profile_free(&p);
	}
	line("trusted", "%s", word);
	free(path);
	if (strcmp(word, "yes") != 0) {
		line("runs", "cold, until 'pywarmctl trust' approves this profile");
		return r;
	}
	if (pw_target_resolve(&t, cwd, environ, err, sizeof(err)) < 0) {
		pw_warn("%s", err);
		return EXIT_FAIL;
	}
	print_interp(&t.interp);
	line("identity", "%s", t.idhex);
	line("socket", "%s (%s)", t.sockpath, pw_zygote_alive(t.lockpath) == 1 ?
	     "a zygote is running" : "no zygote running");
	line("log", "%s", t.logpath);
	pw_target_free(&t);
	return r;
}

/* Expand the [watch] globs and print them with how many files match now. */
static void print_watch(const struct pw_profile *p)
{
	if (p->nwatch == 0) {
		line("watch", "(none)");
		return;
	}
	for (size_t i = 0; i < p->nwatch; i++) {
		glob_t g;
		size_t n = glob(p->watch[i], GLOB_NOSORT, NULL, &g) == 0 ? g.gl_pathc : 0;
		line(i ? "" : "watch", "%s (%zu file%s now)", p->watch[i], n, n == 1 ? "" : "s");
		if (n)
			globfree(&g);
	}
}

/* Print what the zygote of p would preload and watch. */
static void describe(const struct pw_profile *p)
{
	struct pw_interp in;
	char idle[32];

	pw_interp_resolve(p, &in);
	list_line("modules", p->modules, p->nmodules);
	ctl_learn_describe(p);
	line("clock", "%s", p->share_clock ? "shared (modules that read it at import are served)"
	                                    : "afresh (modules that read it at import are imported per run)");
	line("warmup", "%s", p->warmup ? p->warmup : "(none)");
	print_interp(&in);
	if (p->idle_timeout)
		snprintf(idle, sizeof(idle), "%lds", p->idle_timeout);
	else
		snprintf(idle, sizeof(idle), "never");
	line("idle timeout", "%s", idle);
	printf("  %-12s built-in ", "env keys");
	for (size_t i = 0; pw_identity_env[i]; i++)
		printf("%s%s", i ? ", " : "", pw_identity_env[i]);
	putchar('\n');
	list_line("", p->env_keys, p->nenv_keys);
	print_watch(p);
}

/* pywarmctl check [FILE] */
int ctl_check(int argc, char **argv)
{
	char cwd[PATH_MAX], abs[PATH_MAX], err[PATH_MAX + 256], *path = NULL;
	struct pw_profile p;
	int source = PW_SRC_PROJECT;

	if (argc > 2) {
		pw_warn("check takes at most one file (got '%s')", argv[2]);
		return EXIT_USAGE;
	}
	if (argc == 2) {
		if (canonical(argv[1], abs, sizeof(abs)) < 0) {
			pw_warn_errno("%s", argv[1]);
			return EXIT_FAIL;
		}
		path = strdup(abs);
	} else if (find_here(cwd, &path, &source, NULL) < 0) {
		return EXIT_FAIL;
	}
	if (pw_profile_load(&p, path, source, err, sizeof(err)) < 0) {
		pw_warn("%s", err);
		free(path);
		return EXIT_FAIL;
	}
	printf("profile %s: valid\n", path ? path : "(built-in)");
	describe(&p);
	pw_profile_free(&p);
	free(path);
	return EXIT_OK;
}

/* The profile trust and untrust act on: the argument, else the project
 * profile that applies here.  0, or -1 (said). */
static int trust_target(int argc, char **argv, char out[PATH_MAX])
{
	char cwd[PATH_MAX], *path = NULL;
	int source;

	if (argc > 2) {
		pw_warn("%s takes at most one path (got '%s')", argv[0], argv[2]);
		return -1;
	}
	if (argc == 2) {
		if (canonical(argv[1], out, PATH_MAX) == 0)
			return 0;
		pw_warn_errno("%s", argv[1]);
		return -1;
	}
	if (find_here(cwd, &path, &source, NULL) < 0)
		return -1;
	if (source != PW_SRC_PROJECT) {
		pw_warn("no %s in %s or above (the %s profile applies, and needs no trust)",
		        PW_PROFILE_FILE, cwd, pw_profile_source_name(source));
		free(path);
		return -1;
	}
	snprintf(out, PATH_MAX, "%s", path);
	free(path);
	return 0;
}

/* pywarmctl trust [PATH] */
int ctl_trust(int argc, char **argv)
{
	char path[PATH_MAX], err[PATH_MAX + 256], hash[65], *text;
	struct pw_profile p;
	size_t len;

	if (trust_target(argc, argv, path) < 0)
		return EXIT_FAIL;
	if (pw_profile_read(path, PW_SRC_PROJECT, &text, &len, err, sizeof(err)) < 0) {
		pw_warn("%s", err);
		return EXIT_FAIL;
	}
	/* Trust exactly the bytes that were checked: the profile's, and the
	 * warmup script's, read once by pw_profile_from_text. */
	if (pw_profile_from_text(&p, path, PW_SRC_PROJECT, text, len, err, sizeof(err)) < 0) {
		pw_warn("%s", err);
		pw_warn("not trusting %s: fix it first", path);
		return EXIT_FAIL;
	}
	pw_trust_digest(&p, hash);
	if (pw_trust_add_hash(path, hash, err, sizeof(err)) < 0) {
		pw_warn("%s", err);
		pw_profile_free(&p);
		return EXIT_FAIL;
	}
	if (p.warmup)
		printf("pywarmctl: trusted %s with its warmup script %s (sha256 %.16s...)\n",
		       path, p.warmup, hash);
	else
		printf("pywarmctl: trusted %s (sha256 %.16s...)\n", path, hash);
	pw_profile_free(&p);
	return EXIT_OK;
}

/* pywarmctl untrust [PATH] */
int ctl_untrust(int argc, char **argv)
{
	char path[PATH_MAX], err[PATH_MAX + 256];
	int removed;

	if (trust_target(argc, argv, path) < 0)
		return EXIT_FAIL;
	if (pw_trust_remove(path, &removed, err, sizeof(err)) < 0) {
		pw_warn("%s", err);
		return EXIT_FAIL;
	}
	printf(removed ? "pywarmctl: no longer trusting %s\n" : "pywarmctl: %s was not trusted\n",
	       path);
	return EXIT_OK;
}

/* Show the warm-up progress a zygote publishes in <identity>.progress
 * beside its socket: on a terminal, one line redrawn in place; otherwise a
 * plain line each time it moves on to another module.  Returns 1 if it
 * drew on the terminal (the caller clears the line). */
int ctl_progress(const char *sockdir, const char *idhex, double secs, int tty,
                 struct ctl_progress *pr)
{
	char path[PATH_MAX], line[512];
	struct pw_progress p;
	FILE *f;

	if (pw_zfile(path, sizeof path, sockdir, idhex, PW_ZPROGRESS) < 0)
		return 0;
	f = fopen(path, "re");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL || pw_progress_parse(line, &p) < 0) {
		if (f)
			fclose(f);
		if (tty)
			fprintf(stderr, "\rpywarmctl: warming %s... %.1fs\033[K", idhex, secs);
		return tty;
	}
	fclose(f);
	if (tty) {
		fprintf(stderr, "\rpywarmctl: warming %s: module %zu of %zu: %s, %.1fs\033[K",
		        idhex, p.n, p.m, p.name, secs);
		return 1;
	}
	if (p.n != pr->last_n) {
		fprintf(stderr, "pywarmctl: warming %s: module %zu of %zu: %s (%.1fs)\n",
		        idhex, p.n, p.m, p.name, secs);
		pr->last_n = p.n;
	}
	return 0;
}
