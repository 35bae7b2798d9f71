/* test_profile.c: unit tests for profiles: parsing, loading files with their checks, discovery (project, PYWARM_PROFILE, user), the warmup bytes. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "proto.h"
#include "procfs.h"
#include "tree.h"
#include "unit.h"

#define NAME "/p/.pywarm.ini"

/* Parse text and expect success. */
static int parse_ok(struct pw_profile *p, const char *text)
{
	char err[512] = "";
	int r = pw_profile_parse(p, NAME, text, strlen(text), err, sizeof(err));

	CHECK_STREQ(err, "");
	CHECK_INTEQ(r, 0);
	return r;
}

/* Parse text, expect exactly this error, and an empty profile afterwards. */
static void parse_err(const char *text, const char *want, int line)
{
	struct pw_profile p, zero;
	char err[512] = "";
	int r = pw_profile_parse(&p, NAME, text, strlen(text), err, sizeof(err));

	memset(&zero, 0, sizeof(zero));
	if (r != -1 || strcmp(err, want) != 0)
		unit_fail(__FILE__, line, "parse gave %d \"%s\", want \"%s\"", r, err, want);
	if (memcmp(&p, &zero, sizeof(p)) != 0)
		unit_fail(__FILE__, line, "profile not left empty after an error");
}
#define PARSE_ERR(text, want) parse_err(text, want, __LINE__)

/* Does the NULL-terminated list hold exactly these names? */
static int modules_are(const struct pw_profile *p, const char *const *want)
{
	size_t i;

	for (i = 0; want[i] != NULL; i++)
		if (i >= p->nmodules || strcmp(p->modules[i], want[i]) != 0)
			return 0;
	return i == p->nmodules && p->modules[i] == NULL;
}

/* Is name in the profile's module list? */
static int has_module(const struct pw_profile *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nmodules; i++)
		if (strcmp(p->modules[i], name) == 0)
			return 1;
	return 0;
}

/* ---- parsing ---------------------------------------------------------- */

TEST(parse_simple_list)
{
	static const char *const want[] = { "os", "re", "json", "urllib.parse", "a_b.c1", NULL };
	struct pw_profile p;

	if (parse_ok(&p, "[preload]\nmodules = os, re json,urllib.parse\ta_b.c1\n") == 0) {
		CHECK(modules_are(&p, want));
		CHECK_INTEQ(p.idle_timeout, PW_IDLE_DEFAULT);
		CHECK(p.path == NULL);
		CHECK_INTEQ(p.len, strlen(p.text));
		CHECK_STREQ(p.text, "[preload]\nmodules = os, re json,urllib.parse\ta_b.c1\n");
	}
	pw_profile_free(&p);
}

TEST(parse_multiline_repeats_comments)
{
	static const char *const want[] = { "a", "b", "c", "d", "e", "f", "g", "h", NULL };
	const char *text =
		"# comment\r\n"
		"; another\n"
		"[preload]\n"
		"modules = a, b,   ; inline comment\n"
		"   c,\n"
		"\n"
		"# a comment between continuation lines\n"
		"\td e\n"
		"[zygote]\n"
		"idle_timeout = 5\n"
		"[preload]\n"
		"modules = f\r\n"
		"modules = ,g,, h,\n";
	struct pw_profile p;

	if (parse_ok(&p, text) == 0) {
		CHECK(modules_are(&p, want));
		CHECK_INTEQ(p.idle_timeout, 5);
	}
	pw_profile_free(&p);
}

TEST(parse_empty_and_sections_only)
{
	struct pw_profile p;

	if (parse_ok(&p, "") == 0) {
		CHECK(p.modules != NULL && p.modules[0] == NULL);
		CHECK_INTEQ(p.nmodules, 0);
		CHECK_INTEQ(p.idle_timeout, PW_IDLE_DEFAULT);
	}
	pw_profile_free(&p);
	if (parse_ok(&p, "\xEF\xBB\xBF[zygote]\n  [preload]\nmodules=\n") == 0)
		CHECK(p.modules != NULL && p.nmodules == 0);
	pw_profile_free(&p);
	pw_profile_free(&p);          /* freeing an empty profile is harmless */
}

TEST(parse_idle_timeout_units)
{
	static const struct { const char *v; long want; } ok[] = {
		{ "0", 0 }, { "90", 90 }, { "90s", 90 }, { "30m", 1800 }, { "2h", 7200 },
		{ "0h", 0 }, { "8760h", 8760L * 3600 }, { "525600m", 8760L * 3600 },
		{ "007", 7 },
	};
	char text[128];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct pw_profile p;
		snprintf(text, sizeof(text), "[zygote]\nidle_timeout = %s\n", ok[i].v);
		if (parse_ok(&p, text) == 0 && p.idle_timeout != ok[i].want)
			unit_fail(__FILE__, __LINE__, "idle_timeout %s gave %ld", ok[i].v, p.idle_timeout);
		pw_profile_free(&p);
	}
}

TEST(parse_idle_timeout_errors)
{
	static const char *const bad[] = { "m", "30x", "-5", "+5", "30 m", "1.5h", "30ms", "h30", "30S", "0x10" };
	char text[128], want[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[zygote]\n\nidle_timeout = %s\n", bad[i]);
		snprintf(want, sizeof(want), NAME ":3: invalid idle_timeout '%s' "
		         "(a number with an optional unit s, m or h)", bad[i]);
		PARSE_ERR(text, want);
	}
	PARSE_ERR("[zygote]\nidle_timeout =\n",
	          NAME ":2: invalid idle_timeout '' (a number with an optional unit s, m or h)");
	PARSE_ERR("[zygote]\nidle_timeout = 8761h\n",
	          NAME ":2: idle_timeout '8761h' is too long (at most 8760h)");
	PARSE_ERR("[zygote]\nidle_timeout = 99999999999999999999999\n",
	          NAME ":2: idle_timeout '99999999999999999999999' is too long (at most 8760h)");
	PARSE_ERR("[zygote]\nidle_timeout = 30\n  m\n",
	          NAME ":3: invalid idle_timeout 'm' (a number with an optional unit s, m or h)");
}

TEST(parse_prefork)
{
	static const char *const bad[] = { "", "-1", "65", "2x", "1 2", "99999999999999999999", "0x2" };
	char text[128], want[256];
	struct pw_profile p;
	size_t i;

	if (parse_ok(&p, "[zygote]\nidle_timeout = 5\n") == 0)
		CHECK_INTEQ(p.prefork, PW_PREFORK_DEFAULT);
	pw_profile_free(&p);
	if (parse_ok(&p, "[zygote]\nprefork = 0\n") == 0)
		CHECK_INTEQ(p.prefork, 0);
	pw_profile_free(&p);
	if (parse_ok(&p, "[zygote]\nprefork = 64\nprefork=007\n") == 0)
		CHECK_INTEQ(p.prefork, 7);
	pw_profile_free(&p);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[zygote]\nprefork = %s\n", bad[i]);
		snprintf(want, sizeof(want), NAME ":2: invalid prefork '%s' "
		         "(a whole number from 0 to 64)", bad[i]);
		PARSE_ERR(text, want);
	}
	PARSE_ERR("[preload]\nprefork = 1\n", NAME ":2: unknown key 'prefork' in [preload]");
}

TEST(parse_learn_keys)
{
	static const char *const bad[] = { "", "0", "-1", "1000001", "2x", "99999999999999999999" };
	char text[128], want[256];
	struct pw_profile p;

	if (parse_ok(&p, "[preload]\nmodules = json\n") == 0) {
		CHECK_INTEQ(p.record, 1);
		CHECK_INTEQ(p.learn_auto, 0);
		CHECK_INTEQ(p.learn_min_runs, 3);
		CHECK_INTEQ(p.share_clock, 0);
	}
	pw_profile_free(&p);
	if (parse_ok(&p, "[preload]\nrecord = no\nlearn = auto\nlearn_min_runs = 12\nclock = shared\n") == 0) {
		CHECK_INTEQ(p.share_clock, 1);
		CHECK_INTEQ(p.record, 0);
		CHECK_INTEQ(p.learn_auto, 1);
		CHECK_INTEQ(p.learn_min_runs, 12);
	}
	pw_profile_free(&p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[preload]\nlearn_min_runs = %s\n", bad[i]);
		snprintf(want, sizeof(want), NAME ":2: invalid learn_min_runs '%s' "
		         "(a whole number from 1 to 1000000)", bad[i]);
		PARSE_ERR(text, want);
	}
	PARSE_ERR("[preload]\nrecord = maybe\n", NAME ":2: invalid record 'maybe' (yes or no)");
	PARSE_ERR("[preload]\nlearn = yes\n", NAME ":2: invalid learn 'yes' (no or auto)");
	PARSE_ERR("[preload]\nclock = share\n", NAME ":2: invalid clock 'share' (afresh or shared)");
	PARSE_ERR("[zygote]\nlearn = auto\n", NAME ":2: unknown key 'learn' in [zygote]");
}

TEST(parse_bad_module_names)
{
	static const char *const bad[] = { "1abc", "a..b", ".a", "a.", "a-b", "a/b", "caf\xc3\xa9", "a.1b", "*", "." };
	char text[128], want[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[preload]\nmodules = os,\n  re %s json\n", bad[i]);
		snprintf(want, sizeof(want), NAME ":3: invalid module name '%s'",
		         i == 6 ? "caf??" : bad[i]);
		PARSE_ERR(text, want);
	}
	/* An indented header after a key is a continuation line to inih. */
	PARSE_ERR("[preload]\nmodules = os\n  [zygote]\n", NAME ":3: invalid module name '[zygote]'");
	PARSE_ERR("[preload]\nmodules = os\n\n  [foo]\n", NAME ":4: invalid module name '[foo]'");
	/* Control characters are not echoed. */
	PARSE_ERR("[preload]\nmodules = a\x1b[2Jb\n", NAME ":2: invalid module name 'a?[2Jb'");
}

TEST(parse_unknown_section_and_key)
{
	PARSE_ERR("[preload]\nmodules = os\nmodulez = re\n",
	          NAME ":3: unknown key 'modulez' in [preload]");
	PARSE_ERR("[zygote]\nmodules = os\n", NAME ":2: unknown key 'modules' in [zygote]");
	PARSE_ERR("[preload]\nidle_timeout = 5\n", NAME ":2: unknown key 'idle_timeout' in [preload]");
	PARSE_ERR("# c\n\n[preloads]\nmodules = os\n", NAME ":3: unknown section [preloads]");
	/* An unknown section with no keys at all is still refused. */
	PARSE_ERR("[preload]\nmodules = os\n\n[zygot]\n", NAME ":4: unknown section [zygot]");
	PARSE_ERR("  [Preload]\n", NAME ":1: unknown section [Preload]");
	PARSE_ERR("modules = os\n", NAME ":1: key 'modules' outside any section");
	PARSE_ERR("[preload]\nModules = os\n", NAME ":2: unknown key 'Modules' in [preload]");
}

TEST(parse_syntax_errors)
{
	PARSE_ERR("[preload]\nmodules = os\njunk\n", NAME ":3: syntax error");
	PARSE_ERR("\n\n\n\n[preload\n", NAME ":5: syntax error");
	PARSE_ERR("[preload ; x]\n", NAME ":1: syntax error");
	/* The first problem wins, whatever its kind. */
	PARSE_ERR("[preload]\njunk\nmodulez = 1\n", NAME ":2: syntax error");
	PARSE_ERR("[preload]\nmodulez = 1\njunk\n", NAME ":2: unknown key 'modulez' in [preload]");
	PARSE_ERR("[zygot]\njunk\n", NAME ":1: unknown section [zygot]");
}

TEST(parse_long_line_and_nul)
{
	char text[512];
	struct pw_profile p;

	/* 198 bytes is the longest line inih takes whole. */
	snprintf(text, sizeof(text), "[preload]\nmodules = %0*d\n", 198 - 10, 0);
	memcpy(text + 20, "a", 1);
	CHECK_INTEQ(strlen(text) - 11, 198);
	if (parse_ok(&p, text) == 0)
		CHECK_INTEQ(strlen(p.modules[0]), 188);
	pw_profile_free(&p);
	snprintf(text, sizeof(text), "[preload]\nmodules = a%0*d\n", 198 - 10, 0);
	PARSE_ERR(text, NAME ":2: line longer than 198 bytes (continue a list on indented lines)");
	{
		char err[256];
		int r = pw_profile_parse(&p, NAME, "[preload]\nmodules = os\0x\n",
		                          sizeof("[preload]\nmodules = os\0x\n") - 1, err, sizeof(err));
		CHECK_INTEQ(r, -1);
		CHECK_STREQ(err, NAME ":2: NUL byte in line");
	}
}

TEST(parse_too_large)
{
	size_t n = (1u << 20) + 1;
	char *big = malloc(n), err[256];
	struct pw_profile p;

	CHECK(big != NULL);
	if (big == NULL)
		return;
	memset(big, '\n', n);
	CHECK_INTEQ(pw_profile_parse(&p, NAME, big, n, err, sizeof(err)), -1);
	CHECK_STREQ(err, NAME ": larger than 1 MiB");
	CHECK_INTEQ(pw_profile_parse(&p, NAME, big, n - 1, err, sizeof(err)), 0);
	pw_profile_free(&p);
	free(big);
}

TEST(builtin_profile)
{
	static const char *const never[] = { "readline", "rlcompleter", "curses", "tkinter",
	                                     "getpass", "webbrowser", NULL };
	struct pw_profile p;
	char err[256] = "";
	size_t i;

	CHECK(pw_builtin_profile[0] == '#');
	CHECK_INTEQ(pw_profile_load(&p, NULL, PW_SRC_PROJECT, err, sizeof(err)), 0);
	CHECK_STREQ(err, "");
	CHECK_INTEQ(p.source, PW_SRC_BUILTIN);
	CHECK(p.path == NULL);
	CHECK_STREQ(p.text, pw_builtin_profile);
	CHECK_INTEQ(p.len, strlen(pw_builtin_profile));
	CHECK(p.nmodules >= 50);
	CHECK(has_module(&p, "os") && has_module(&p, "urllib.parse") && has_module(&p, "numbers"));
	CHECK(has_module(&p, "email.parser") && has_module(&p, "asyncio"));
	for (i = 0; never[i] != NULL; i++)
		if (has_module(&p, never[i]))
			unit_fail(__FILE__, __LINE__, "built-in profile preloads %s", never[i]);
	CHECK_INTEQ(p.idle_timeout, 1800);
	pw_profile_free(&p);
	CHECK_STREQ(pw_profile_source_name(PW_SRC_BUILTIN), "built-in");
	CHECK_STREQ(pw_profile_source_name(PW_SRC_ENV), "PYWARM_PROFILE");
	CHECK_STREQ(pw_profile_source_name(PW_SRC_PROJECT), "project");
	CHECK_STREQ(pw_profile_source_name(PW_SRC_USER), "user");
}

/* ---- loading files ---------------------------------------------------- */

TEST(load_file)
{
	static const char *const want[] = { "json", "csv", NULL };
	const char *path = tp(1, "ok.ini");
	struct pw_profile p;
	char err[512] = "";

	reset_tree();
	write_file(path, "[preload]\nmodules = json csv\n", 0644);
	CHECK_INTEQ(pw_profile_load(&p, path, PW_SRC_PROJECT, err, sizeof(err)), 0);
	CHECK_STREQ(err, "");
	CHECK_STREQ(p.path, path);
	CHECK_INTEQ(p.source, PW_SRC_PROJECT);
	CHECK_STREQ(p.text, "[preload]\nmodules = json csv\n");
	CHECK_INTEQ(p.len, 29);
	CHECK(modules_are(&p, want));
	pw_profile_free(&p);

	write_file(path, "[preload]\nmodules = json\n\n[zygot]\n", 0600);
	CHECK_INTEQ(pw_profile_load(&p, path, PW_SRC_PROJECT, err, sizeof(err)), -1);
	CHECK(strncmp(err, path, strlen(path)) == 0 && strcmp(err + strlen(path), ":4: unknown section [zygot]") == 0);
	CHECK(p.path == NULL && p.text == NULL && p.modules == NULL);
}

/* Expect loading path to fail with "PATH: suffix". */
static void load_err(const char *path, const char *suffix, int line)
{
	struct pw_profile p;
	char err[512] = "", want[512];
	int r = pw_profile_load(&p, path, PW_SRC_USER, err, sizeof(err));

	snprintf(want, sizeof(want), "%s: %s", path, suffix);
	if (r != -1 || strcmp(err, want) != 0)
		unit_fail(__FILE__, line, "load gave %d \"%s\", want \"%s\"", r, err, want);
	if (p.path != NULL || p.text != NULL || p.modules != NULL)
		unit_fail(__FILE__, line, "profile not left empty");
}
#define LOAD_ERR(path, suffix) load_err(path, suffix, __LINE__)

TEST(load_refusals)
{
	const char *path = tp(1, "p.ini");
	char *big;
	struct pw_profile p;
	char err[256];

	reset_tree();
	LOAD_ERR(path, "cannot open: No such file or directory");
	write_file(path, "[preload]\n", 0664);
	LOAD_ERR(path, "refusing a profile writable by group or others");
	CHECK(chmod(path, 0602) == 0);
	LOAD_ERR(path, "refusing a profile writable by group or others");
	CHECK(chmod(path, 0444) == 0);
	CHECK_INTEQ(pw_profile_load(&p, path, PW_SRC_USER, err, sizeof(err)), 0);
	pw_profile_free(&p);
	if (geteuid() == 0) {
		CHECK(chown(path, 12345, 0) == 0);
		LOAD_ERR(path, "refusing a profile owned by uid 12345");
		CHECK(chown(path, 0, 12345) == 0);       /* root's, any group */
		CHECK_INTEQ(pw_profile_load(&p, path, PW_SRC_USER, err, sizeof(err)), 0);
		pw_profile_free(&p);
	}
	CHECK(mkdir(tp(3, "dir.ini"), 0700) == 0);
	LOAD_ERR(tp(3, "dir.ini"), "not a regular file");
	CHECK(mkfifo(tp(2, "fifo"), 0600) == 0);
	LOAD_ERR(tp(2, "fifo"), "not a regular file");    /* and does not hang */
	big = malloc((1u << 20) + 2);
	CHECK(big != NULL);
	if (big != NULL) {
		memset(big, '\n', (1u << 20) + 1);
		big[(1u << 20) + 1] = '\0';
		write_file(path, big, 0600);
		LOAD_ERR(path, "larger than 1 MiB");
		big[1u << 20] = '\0';
		write_file(path, big, 0600);
		CHECK_INTEQ(pw_profile_load(&p, path, PW_SRC_USER, err, sizeof(err)), 0);
		CHECK_INTEQ(p.len, 1u << 20);
		pw_profile_free(&p);
		free(big);
	}
}

/* ---- discovery -------------------------------------------------------- */

/* Run pw_profile_find in cwd and compare the result. */
static void find_is(const char *cwd, const char *want_path, int want_src, int line)
{
	char *path = (char *)"unset", err[512] = "";
	int src = -1, r = pw_profile_find(cwd, &path, &src, err, sizeof(err));

	if (r != 0 || src != want_src || !(path == want_path ||
	    (path && want_path && strcmp(path, want_path) == 0)))
		unit_fail(__FILE__, line, "find(%s) gave %d %s %d \"%s\", want %s %d", cwd, r,
		          path ? path : "(null)", src, err, want_path ? want_path : "(null)", want_src);
	if (r == 0)
		free(path);
}
#define FIND_IS(cwd, path, src) find_is(cwd, path, src, __LINE__)

TEST(find_project_walks_up)
{
	char deep[512], proj[512];

	reset_tree();
	clean_env();
	snprintf(deep, sizeof(deep), "%s/a/b/c", tmproot);
	CHECK(mkdir(tp(0, "a"), 0700) == 0 && mkdir(tp(0, "a/b"), 0700) == 0 && mkdir(deep, 0700) == 0);
	FIND_IS(deep, NULL, PW_SRC_BUILTIN);
	FIND_IS("/", NULL, PW_SRC_BUILTIN);

	snprintf(proj, sizeof(proj), "%s/a/.pywarm.ini", tmproot);
	write_file(proj, "", 0644);
	FIND_IS(deep, proj, PW_SRC_PROJECT);
	strcat(deep, "//");
	FIND_IS(deep, proj, PW_SRC_PROJECT);
	FIND_IS(tp(0, "a"), proj, PW_SRC_PROJECT);
	FIND_IS(tmproot, NULL, PW_SRC_BUILTIN);

	/* A directory of that name is skipped; a closer file wins. */
	CHECK(mkdir(tp(0, "a/b/.pywarm.ini"), 0700) == 0);
	FIND_IS(tp(1, "a/b/c"), proj, PW_SRC_PROJECT);
	write_file(tp(2, "a/b/c/.pywarm.ini"), "", 0644);
	FIND_IS(tp(1, "a/b/c"), tp(2, "a/b/c/.pywarm.ini"), PW_SRC_PROJECT);

	{
		char *path = (char *)"x", err[256] = "";
		int src = -1;
		CHECK_INTEQ(pw_profile_find("a/b", &path, &src, err, sizeof(err)), -1);
		CHECK_STREQ(err, "working directory 'a/b' is not absolute");
		CHECK(path == NULL);
	}
}

TEST(find_env_profile)
{
	char *path = NULL, err[512] = "", want[600];
	int src = -1;

	reset_tree();
	clean_env();
	CHECK(mkdir(tp(0, "proj"), 0700) == 0);
	write_file(tp(0, "proj/.pywarm.ini"), "", 0644);
	write_file(tp(0, "mine.ini"), "", 0644);

	setenv("PYWARM_PROFILE", tp(0, "mine.ini"), 1);
	FIND_IS(tp(1, "proj"), tp(0, "mine.ini"), PW_SRC_ENV);
	setenv("PYWARM_PROFILE", "../mine.ini", 1);
	snprintf(want, sizeof(want), "%s/proj/../mine.ini", tmproot);
	FIND_IS(tp(1, "proj"), want, PW_SRC_ENV);
	setenv("PYWARM_PROFILE", "mine.ini", 1);
	FIND_IS(tmproot, tp(0, "mine.ini"), PW_SRC_ENV);
	setenv("PYWARM_PROFILE", "", 1);
	FIND_IS(tp(1, "proj"), tp(0, "proj/.pywarm.ini"), PW_SRC_PROJECT);

	setenv("PYWARM_PROFILE", "nope.ini", 1);
	CHECK_INTEQ(pw_profile_find(tp(1, "proj"), &path, &src, err, sizeof(err)), -1);
	CHECK_STREQ(err, "PYWARM_PROFILE=nope.ini: No such file or directory");
	CHECK(path == NULL);
	unsetenv("PYWARM_PROFILE");
}

TEST(find_user_profile)
{
	reset_tree();
	clean_env();
	CHECK(mkdir(tp(0, "home"), 0700) == 0 && mkdir(tp(0, "home/.config"), 0700) == 0);
	CHECK(mkdir(tp(0, "home/.config/pywarm"), 0700) == 0);
	CHECK(mkdir(tp(0, "xdg"), 0700) == 0 && mkdir(tp(0, "xdg/pywarm"), 0700) == 0);
	CHECK(mkdir(tp(0, "work"), 0700) == 0);

	FIND_IS(tp(1, "work"), NULL, PW_SRC_BUILTIN);
	write_file(tp(0, "home/.config/pywarm/pywarm.ini"), "", 0644);
	FIND_IS(tp(1, "work"), tp(2, "home/.config/pywarm/pywarm.ini"), PW_SRC_USER);

	/* XDG_CONFIG_HOME replaces ~/.config; relative values are ignored. */
	setenv("XDG_CONFIG_HOME", tp(0, "xdg"), 1);
	FIND_IS(tp(1, "work"), NULL, PW_SRC_BUILTIN);
	write_file(tp(0, "xdg/pywarm/pywarm.ini"), "", 0644);
	FIND_IS(tp(1, "work"), tp(2, "xdg/pywarm/pywarm.ini"), PW_SRC_USER);
	setenv("XDG_CONFIG_HOME", "xdg", 1);
	FIND_IS(tp(1, "work"), tp(2, "home/.config/pywarm/pywarm.ini"), PW_SRC_USER);
	unsetenv("HOME");
	FIND_IS(tp(1, "work"), NULL, PW_SRC_BUILTIN);
	clean_env();

	/* A project profile beats the user's. */
	write_file(tp(0, "work/.pywarm.ini"), "", 0644);
	FIND_IS(tp(1, "work"), tp(2, "work/.pywarm.ini"), PW_SRC_PROJECT);
}

TEST(find_ignores_what_others_could_have_written)
{
	char why[1024];

	reset_tree();
	clean_env();
	CHECK(mkdir(tp(0, "a"), 0755) == 0 && mkdir(tp(0, "a/b"), 0755) == 0);
	CHECK(mkdir(tp(0, "a/open"), 0777) == 0 && chmod(tp(0, "a/open"), 0777) == 0);
	CHECK(mkdir(tp(0, "a/tmp"), 0777) == 0 && chmod(tp(0, "a/tmp"), 01777) == 0);
	write_file(tp(0, "a/.pywarm.ini"), "", 0644);
	/* In a directory others can write, sticky or not: as if absent. */
	write_file(tp(0, "a/open/.pywarm.ini"), "[sandbox]\n", 0644);
	write_file(tp(0, "a/tmp/.pywarm.ini"), "[sandbox]\n", 0644);
	FIND_IS(tp(1, "a/open"), tp(2, "a/.pywarm.ini"), PW_SRC_PROJECT);
	FIND_IS(tp(1, "a/tmp"), tp(2, "a/.pywarm.ini"), PW_SRC_PROJECT);
	CHECK_INTEQ(pw_profile_probe(tp(1, "a/tmp/.pywarm.ini"), why, sizeof(why)), 2);
	CHECK(strstr(why, "mode 1777 lets group or others write to it") != NULL);
	/* The user's own file with a bad mode is used, so that its problem is reported. */
	write_file(tp(0, "a/b/.pywarm.ini"), "", 0664);
	FIND_IS(tp(1, "a/b"), tp(2, "a/b/.pywarm.ini"), PW_SRC_PROJECT);
	if (geteuid() == 0) {
		CHECK(chown(tp(0, "a/b/.pywarm.ini"), 12345, 12345) == 0);
		FIND_IS(tp(1, "a/b"), tp(2, "a/.pywarm.ini"), PW_SRC_PROJECT);
		CHECK_INTEQ(pw_profile_probe(tp(1, "a/b/.pywarm.ini"), why, sizeof(why)), 2);
		CHECK(strstr(why, "refusing a profile owned by uid 12345") != NULL);
		/* A directory of another user's, even with a file of ours in it. */
		CHECK(chown(tp(0, "a/b/.pywarm.ini"), 0, 0) == 0 && chown(tp(0, "a/b"), 12345, 12345) == 0);
		FIND_IS(tp(1, "a/b"), tp(2, "a/.pywarm.ini"), PW_SRC_PROJECT);
		/* Group-writable: fine if the group is the user's private one
		 * (root's "root" has no members), not if it is another group. */
		CHECK(mkdir(tp(0, "a/upg"), 0775) == 0 && chmod(tp(0, "a/upg"), 0775) == 0);
		CHECK(chown(tp(0, "a/upg"), 0, getegid()) == 0);
		write_file(tp(0, "a/upg/.pywarm.ini"), "", 0644);
		FIND_IS(tp(1, "a/upg"), tp(2, "a/upg/.pywarm.ini"), PW_SRC_PROJECT);
		CHECK(chown(tp(0, "a/upg"), 0, 12345) == 0);
		FIND_IS(tp(1, "a/upg"), tp(2, "a/.pywarm.ini"), PW_SRC_PROJECT);
		/* The user profile: another user's is ignored (sudo -E). */
		CHECK(unlink(tp(0, "a/.pywarm.ini")) == 0);
		CHECK(mkdir(tp(0, "home"), 0700) == 0 && mkdir(tp(0, "home/.config"), 0700) == 0);
		CHECK(mkdir(tp(0, "home/.config/pywarm"), 0700) == 0);
		write_file(tp(0, "home/.config/pywarm/pywarm.ini"), "[sandbox]\n", 0644);
		FIND_IS(tp(1, "a"), tp(2, "home/.config/pywarm/pywarm.ini"), PW_SRC_USER);
		CHECK(chown(tp(0, "home/.config/pywarm/pywarm.ini"), 12345, 12345) == 0);
		FIND_IS(tp(1, "a"), NULL, PW_SRC_BUILTIN);
	}
}

TEST(warmup_is_read_with_its_profile)
{
	struct pw_profile p;
	char err[2048] = "", want[2048];

	reset_tree();
	clean_env();
	write_file(tp(0, "p.ini"), "[preload]\nwarmup = w.py\n", 0644);
	write_file(tp(0, "w.py"), "x = 1\n", 0644);
	CHECK_INTEQ(pw_profile_load(&p, tp(1, "p.ini"), PW_SRC_PROJECT, err, sizeof(err)), 0);
	CHECK_STREQ(p.warmup, tp(1, "w.py"));
	CHECK(p.warmup_text != NULL && p.warmup_len == 6 && memcmp(p.warmup_text, "x = 1\n", 6) == 0);
	pw_profile_free(&p);
	CHECK(chmod(tp(0, "w.py"), 0646) == 0);
	snprintf(want, sizeof(want), "%s:2: warmup: %s: refusing a warmup script writable by group or others",
	         tp(1, "p.ini"), tp(2, "w.py"));
	CHECK_INTEQ(pw_profile_load(&p, tp(1, "p.ini"), PW_SRC_PROJECT, err, sizeof(err)), -1);
	CHECK_STREQ(err, want);
	if (geteuid() == 0) {
		CHECK(chmod(tp(0, "w.py"), 0644) == 0 && chown(tp(0, "w.py"), 12345, 12345) == 0);
		snprintf(want, sizeof(want), "%s:2: warmup: %s: refusing a warmup script owned by uid 12345",
		         tp(1, "p.ini"), tp(2, "w.py"));
		CHECK_INTEQ(pw_profile_load(&p, tp(1, "p.ini"), PW_SRC_PROJECT, err, sizeof(err)), -1);
		CHECK_STREQ(err, want);
	}
}

int main(void)
{
	if (tree_init("profile") < 0)
		return 2;
	RUN(parse_simple_list);
	RUN(parse_multiline_repeats_comments);
	RUN(parse_empty_and_sections_only);
	RUN(parse_idle_timeout_units);
	RUN(parse_idle_timeout_errors);
	RUN(parse_prefork);
	RUN(parse_learn_keys);
	RUN(parse_bad_module_names);
	RUN(parse_unknown_section_and_key);
	RUN(parse_syntax_errors);
	RUN(parse_long_line_and_nul);
	RUN(parse_too_large);
	RUN(builtin_profile);
	RUN(load_file);
	RUN(load_refusals);
	RUN(find_project_walks_up);
	RUN(find_env_profile);
	RUN(find_user_profile);
	RUN(find_ignores_what_others_could_have_written);
	RUN(warmup_is_read_with_its_profile);
	tree_done();
	return unit_summary();
}
