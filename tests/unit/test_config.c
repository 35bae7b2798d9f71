/* test_config.c: unit tests for profile parsing and discovery, identity and the pywarm directories. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "proto.h"
#include "unit.h"
#include "procfs.h"

#define NAME "/p/.pywarm.ini"

/* The temporary tree the file system tests work in (made by main). */
static char tmproot[64];

/* ---- helpers ---------------------------------------------------------- */

/* Path of rel inside the temporary tree (static buffer, one at a time per slot). */
static const char *tp(int slot, const char *rel)
{
	static char buf[4][512];

	snprintf(buf[slot], sizeof(buf[slot]), "%s%s%s", tmproot, *rel ? "/" : "", rel);
	return buf[slot];
}

/* Write a file with exactly this mode. */
static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
}

/* Remove one entry during a depth-first walk. */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Empty the temporary tree (keeping its root). */
static void reset_tree(void)
{
	nftw(tmproot, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	CHECK(mkdir(tmproot, 0700) == 0);
}

/* A known environment: no pywarm or XDG variables, HOME in the tree. */
static void clean_env(void)
{
	unsetenv("PYWARM_PROFILE");
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("XDG_STATE_HOME");
	setenv("HOME", tp(0, "home"), 1);
}

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

/* ---- identity --------------------------------------------------------- */

TEST(env_is_identity)
{
	static const char *const yes[] = {
		"PYTHONPATH=/x", "PYTHONHASHSEED=0", "PYTHON=", "PYTHONNOUSERSITE=1", "LANG=C",
		"LANGUAGE=en", "LC_ALL=C", "LC_CTYPE=C.UTF-8", "LC_NUMERIC=de_DE", "HOME=/root",
		"VIRTUAL_ENV=/v", "OPENSSL_CONF=/c", "OPENSSL_MODULES=/m", "SSL_CERT_FILE=/f",
		"SSL_CERT_DIR=/d", "LC_=x", "LD_PRELOAD=/l.so", "OMP_NUM_THREADS=1",
		"LD_LIBRARY_PATH=/l", "LD_BIND_NOW=1", "MALLOC_PERTURB_=165", "MALLOC_ARENA_MAX=2",
		"MALLOC_CHECK_=3", "GLIBC_TUNABLES=glibc.malloc.tcache_count=0", "LOCPATH=/l",
		"GCONV_PATH=/g", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1", NULL };
	static const char *const no[] = {
		"PATH=/bin", "TERM=xterm", "PWD=/", "PYTHON", "LANG", "=PYTHONPATH", "", "LANGX=1",
		"LAN=1", "XLANG=1", "HOMEDIR=/", "PYTHO=1", "lang=C", "SSL_CERT=1",
		"VIRTUAL_ENV_PROMPT=x", "LDFLAGS=-s", "MALLOC=1", "GLIBC_TUNABLES_X=1", "LOCPATHS=/",
		"TZ=UTC", NULL };
	size_t i;

	for (i = 0; yes[i] != NULL; i++)
		if (!pw_env_is_identity(yes[i]))
			unit_fail(__FILE__, __LINE__, "%s should be identity", yes[i]);
	for (i = 0; no[i] != NULL; i++)
		if (pw_env_is_identity(no[i]))
			unit_fail(__FILE__, __LINE__, "%s should not be identity", no[i]);
}

/* FNV-1a over n bytes, written out independently of identity.c. */
static uint64_t ref_fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Reference hash step: a number as 8 little-endian bytes. */
static uint64_t ref_u64(uint64_t h, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return ref_fnv(h, b, 8);
}

/* Reference hash step: a string field, its length first. */
static uint64_t ref_str(uint64_t h, const char *s)
{
	return ref_fnv(ref_u64(h, strlen(s)), s, strlen(s));
}

/* A profile that is only its bytes and path. */
static struct pw_profile mkprof(const char *path, const char *text)
{
	struct pw_profile p;

	memset(&p, 0, sizeof(p));
	p.path = (char *)path;
	p.text = (char *)text;
	p.len = strlen(text);
	return p;
}

TEST(identity_reference_value)
{
	struct pw_profile p = mkprof(NULL, "");
	char *env[] = { "PATH=/bin", NULL };
	char *env2[] = { "PYTHON=x", "TERM=t", "PYTHON1=y", "LANG=C", "LANG=D", NULL };
	uint64_t h = 0xcbf29ce484222325ULL;
	int i;

	/* version, four empty fields, no env entries */
	h = ref_u64(h, PW_PROTO_VERSION);
	for (i = 0; i < 5; i++)
		h = ref_u64(h, 0);
	CHECK(pw_identity(&p, "", "", env) == h);

	/* every field, and the env entries in strcmp order ('1' < '='), first LANG only */
	p = mkprof("/p", "text");
	h = ref_u64(0xcbf29ce484222325ULL, PW_PROTO_VERSION);
	h = ref_str(ref_str(ref_str(ref_str(h, "/py"), "stamp"), "/p"), "text");
	h = ref_u64(h, 3);
	h = ref_str(ref_str(ref_str(h, "LANG=C"), "PYTHON1=y"), "PYTHON=x");
	CHECK(pw_identity(&p, "/py", "stamp", env2) == h);
}

TEST(identity_inputs)
{
	char *env[] = { "PATH=/bin", "LANG=C.UTF-8", "PYTHONPATH=/a", "HOME=/h", "TERM=xterm", NULL };
	struct pw_profile p = mkprof("/w/.pywarm.ini", "[preload]\nmodules = os\n");
	struct pw_profile q;
	uint64_t base = pw_identity(&p, "/usr/bin/python3", "z1", env);

	CHECK(base != 0);
	CHECK(pw_identity(&p, "/usr/bin/python3", "z1", env) == base);
	CHECK(pw_identity(&p, "/usr/bin/python3.12", "z1", env) != base);
	CHECK(pw_identity(&p, "/usr/bin/python3", "z2", env) != base);
	q = mkprof("/x/.pywarm.ini", p.text);
	CHECK(pw_identity(&q, "/usr/bin/python3", "z1", env) != base);
	q = mkprof(NULL, p.text);
	CHECK(pw_identity(&q, "/usr/bin/python3", "z1", env) != base);
	q = mkprof(p.path, "[preload]\nmodules = re\n");
	CHECK(pw_identity(&q, "/usr/bin/python3", "z1", env) != base);
	/* The length bounds the bytes hashed. */
	q = mkprof(p.path, p.text);
	q.len--;
	CHECK(pw_identity(&q, "/usr/bin/python3", "z1", env) != base);
	/* Field boundaries cannot move. */
	CHECK(pw_identity(&p, "ab", "c", env) != pw_identity(&p, "a", "bc", env));
	q = mkprof("/a", "b");
	p = mkprof("/ab", "");
	CHECK(pw_identity(&q, "i", "s", env) != pw_identity(&p, "i", "s", env));
	CHECK(pw_identity(&q, "i", "s", NULL) == pw_identity(&q, "i", "s", (char *[]){ NULL }));
}

TEST(identity_env)
{
	char *env[] = { "PATH=/bin", "LANG=C.UTF-8", "PYTHONPATH=/a", "HOME=/h", "TERM=xterm", NULL };
	struct pw_profile p = mkprof(NULL, "x");
	uint64_t base = pw_identity(&p, "i", "s", env);
	static const char *const changes[] = {
		"LANG=C", "PYTHONPATH=/b", "HOME=/g", "LC_ALL=C", "LANGUAGE=fr", "VIRTUAL_ENV=/v",
		"OPENSSL_CONF=/c", "OPENSSL_MODULES=/m", "SSL_CERT_FILE=/f", "SSL_CERT_DIR=/d",
		"PYTHONDONTWRITEBYTECODE=1", "MALLOC_PERTURB_=1", "GLIBC_TUNABLES=glibc.malloc.check=3",
		"LOCPATH=/l", "GCONV_PATH=/g", "LD_BIND_NOW=1", NULL };
	size_t i;

	/* Identity entries, changed or added, change the hash. */
	for (i = 0; changes[i] != NULL; i++) {
		char *e2[] = { (char *)changes[i], "PATH=/bin", "LANG=C.UTF-8", "PYTHONPATH=/a",
		               "HOME=/h", "TERM=xterm", NULL };
		if (pw_identity(&p, "i", "s", e2) == base)
			unit_fail(__FILE__, __LINE__, "%s did not change the identity", changes[i]);
	}
	{
		char *e2[] = { "PATH=/usr/bin", "LANG=C.UTF-8", "PYTHONPATH=/a", "HOME=/h",
		               "TERM=dumb", "PWD=/tmp", "OLDPWD=/", "SHLVL=2", NULL };
		char *rev[] = { "TERM=xterm", "HOME=/h", "PYTHONPATH=/a", "LANG=C.UTF-8", "PATH=/bin", NULL };
		char *less[] = { "LANG=C.UTF-8", "PYTHONPATH=/a", NULL };
		CHECK(pw_identity(&p, "i", "s", e2) == base);
		CHECK(pw_identity(&p, "i", "s", rev) == base);
		CHECK(pw_identity(&p, "i", "s", less) != base);
	}
	{
		/* Only the first of a duplicated name counts, as getenv() sees it. */
		char *dup[] = { "LANG=a", "PYTHONX=1", "LANG=b", NULL };
		char *first[] = { "PYTHONX=1", "LANG=a", NULL };
		char *second[] = { "LANG=b", "PYTHONX=1", NULL };
		CHECK(pw_identity(&p, "i", "s", dup) == pw_identity(&p, "i", "s", first));
		CHECK(pw_identity(&p, "i", "s", dup) != pw_identity(&p, "i", "s", second));
	}
	{
		/* Names that sort differently from their entries ('1' < '='). */
		char *a[] = { "PYTHON=x", "PYTHON1=y", NULL };
		char *b[] = { "PYTHON1=y", "PYTHON=x", NULL };
		char *c[] = { "PYTHON=y", "PYTHON1=x", NULL };
		CHECK(pw_identity(&p, "i", "s", a) == pw_identity(&p, "i", "s", b));
		CHECK(pw_identity(&p, "i", "s", a) != pw_identity(&p, "i", "s", c));
	}
}

TEST(identity_many_env)
{
	enum { N = 300 };
	static char bufs[N][32];
	char *fwd[N + 2], *rev[N + 2];
	struct pw_profile p = mkprof(NULL, "");
	uint64_t h;
	int i;

	for (i = 0; i < N; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "PYTHONV%d=%d", i, i * 7);
		fwd[i] = bufs[i];
		rev[N - 1 - i] = bufs[i];
	}
	fwd[N] = rev[N] = "PATH=/x";
	fwd[N + 1] = rev[N + 1] = NULL;
	h = pw_identity(&p, "i", "s", fwd);
	CHECK(h != 0);
	CHECK(pw_identity(&p, "i", "s", rev) == h);
	fwd[N] = "PYTHONV0=other";       /* a later duplicate: ignored */
	CHECK(pw_identity(&p, "i", "s", fwd) == h);
	fwd[0] = "PYTHONV0=other";
	CHECK(pw_identity(&p, "i", "s", fwd) != h);
}

/* ---- directories ------------------------------------------------------ */

/* Call pw_sockdir and compare the result and the message. */
static void sockdir_is(int create, int want_r, const char *want_out, const char *want_err, int line)
{
	char out[512] = "", err[512] = "";
	int r = pw_sockdir(out, sizeof(out), create, err, sizeof(err));

	if (r != want_r || strcmp(out, want_out) != 0 || strcmp(err, want_err) != 0)
		unit_fail(__FILE__, line, "sockdir gave %d \"%s\" \"%s\", want %d \"%s\" \"%s\"",
		          r, out, err, want_r, want_out, want_err);
}
#define SOCKDIR_IS(c, r, out, err) sockdir_is(c, r, out, err, __LINE__)

TEST(sockdir_checks)
{
	char dir[512], msg[700];
	struct stat st;
	mode_t old;

	reset_tree();
	clean_env();
	CHECK(mkdir(tp(0, "rt"), 0700) == 0);
	setenv("XDG_RUNTIME_DIR", tp(0, "rt"), 1);
	snprintf(dir, sizeof(dir), "%s/rt/pywarm", tmproot);

	snprintf(msg, sizeof(msg), "socket directory %s: No such file or directory", dir);
	SOCKDIR_IS(0, -1, dir, msg);
	old = umask(0277);              /* the directory is 0700 whatever the umask */
	SOCKDIR_IS(1, 0, dir, "");
	umask(old);
	CHECK(lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
	SOCKDIR_IS(1, 0, dir, "");
	SOCKDIR_IS(0, 0, dir, "");

	CHECK(chmod(dir, 0755) == 0);
	snprintf(msg, sizeof(msg), "socket directory %s: mode 0755 allows group or other access", dir);
	SOCKDIR_IS(1, -1, dir, msg);
	CHECK(chmod(dir, 0701) == 0);
	snprintf(msg, sizeof(msg), "socket directory %s: mode 0701 allows group or other access", dir);
	SOCKDIR_IS(0, -1, dir, msg);
	CHECK(chmod(dir, 0700) == 0);
	if (geteuid() == 0) {
		CHECK(chown(dir, 12345, 0) == 0);
		snprintf(msg, sizeof(msg), "socket directory %s: owned by uid 12345, not 0", dir);
		SOCKDIR_IS(1, -1, dir, msg);
	}
	CHECK(rmdir(dir) == 0);
	CHECK(mkdir(tp(0, "private"), 0700) == 0);
	CHECK(symlink(tp(0, "private"), dir) == 0);
	snprintf(msg, sizeof(msg), "socket directory %s: is a symbolic link", dir);
	SOCKDIR_IS(1, -1, dir, msg);
	CHECK(unlink(dir) == 0);
	write_file(dir, "", 0600);
	snprintf(msg, sizeof(msg), "socket directory %s: not a directory", dir);
	SOCKDIR_IS(1, -1, dir, msg);
}

TEST(sockdir_fallback)
{
	char tmpdir[64], out[8], err[256];

	reset_tree();
	clean_env();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pywarm-%u", (unsigned)geteuid());
	{
		char o[512] = "";
		setenv("XDG_RUNTIME_DIR", "rt", 1);          /* relative: ignored */
		pw_sockdir(o, sizeof(o), 0, NULL, 0);
		CHECK_STREQ(o, tmpdir);
		setenv("XDG_RUNTIME_DIR", tp(0, "missing"), 1);
		pw_sockdir(o, sizeof(o), 0, NULL, 0);
		CHECK_STREQ(o, tmpdir);
		unsetenv("XDG_RUNTIME_DIR");
		pw_sockdir(o, sizeof(o), 0, NULL, 0);
		CHECK_STREQ(o, tmpdir);
		setenv("XDG_RUNTIME_DIR", "/proc/", 1);
		CHECK_INTEQ(pw_sockdir(o, sizeof(o), 1, err, sizeof(err)), -1);
		CHECK_STREQ(o, "/proc/pywarm");
		CHECK(strncmp(err, "cannot create socket directory /proc/pywarm: ",
		              strlen("cannot create socket directory /proc/pywarm: ")) == 0);
		unsetenv("XDG_RUNTIME_DIR");
	}
	CHECK_INTEQ(pw_sockdir(out, sizeof(out), 0, err, sizeof(err)), -1);
	CHECK_STREQ(err, "socket directory: path too long");
}

TEST(statedir)
{
	char out[512], err[512] = "", want[600];
	struct stat st;

	reset_tree();
	clean_env();
	setenv("XDG_STATE_HOME", tp(0, "st/deep"), 1);
	snprintf(want, sizeof(want), "%s/st/deep/pywarm", tmproot);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 0, err, sizeof(err)), -1);
	CHECK_STREQ(out, want);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), 0);
	CHECK_STREQ(out, want);
	CHECK(stat(want, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	CHECK(stat(tp(0, "st"), &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), 0);

	setenv("XDG_STATE_HOME", "rel", 1);           /* relative: ignored */
	snprintf(want, sizeof(want), "%s/home/.local/state/pywarm", tmproot);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), 0);
	CHECK_STREQ(out, want);
	CHECK(stat(want, &st) == 0 && S_ISDIR(st.st_mode));

	unsetenv("XDG_STATE_HOME");
	write_file(tp(0, "file"), "", 0600);
	setenv("HOME", tp(0, "file"), 1);
	snprintf(want, sizeof(want), "cannot create state directory %s/file/.local: Not a directory", tmproot);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), -1);
	CHECK_STREQ(err, want);
	unsetenv("HOME");
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), -1);
	CHECK_STREQ(err, "state directory: neither XDG_STATE_HOME nor HOME is an absolute path");

	/* Never a symbolic link, never one others can write, never another user's. */
	CHECK(mkdir(tp(0, "sl"), 0700) == 0 && mkdir(tp(0, "target"), 0700) == 0);
	CHECK(symlink(tp(0, "target"), tp(1, "sl/pywarm")) == 0);
	setenv("XDG_STATE_HOME", tp(0, "sl"), 1);
	snprintf(want, sizeof(want), "state directory %s/sl/pywarm: is a symbolic link", tmproot);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), -1);
	CHECK_STREQ(err, want);
	CHECK(unlink(tp(0, "sl/pywarm")) == 0 && mkdir(tp(0, "sl/pywarm"), 0700) == 0);
	CHECK(chmod(tp(0, "sl/pywarm"), 0777) == 0);
	snprintf(want, sizeof(want), "state directory %s/sl/pywarm: mode 0777 lets group or others write to it",
	         tmproot);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), -1);
	CHECK_STREQ(err, want);
	if (geteuid() == 0) {
		CHECK(chmod(tp(0, "sl/pywarm"), 0700) == 0 && chown(tp(0, "sl/pywarm"), 12345, 12345) == 0);
		snprintf(want, sizeof(want), "state directory %s/sl/pywarm: owned by uid 12345, not 0", tmproot);
		CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), -1);
		CHECK_STREQ(err, want);
		/* Nothing is made inside another user's directory. */
		CHECK(chown(tp(0, "sl"), 12345, 12345) == 0 && rmdir(tp(0, "sl/pywarm")) == 0);
		snprintf(want, sizeof(want), "cannot create state directory %s/sl/pywarm: its parent is owned by uid 12345",
		         tmproot);
		CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), -1);
		CHECK_STREQ(err, want);
	}
	clean_env();
}

TEST(private_files)
{
	char err[2048] = "", want[2048];
	int fd;

	reset_tree();
	CHECK(mkdir(tp(0, "d"), 0700) == 0);
	fd = pw_private_open("log directory", tp(1, "d/log"), 0, 0, O_WRONLY | O_APPEND | O_CREAT, err, sizeof(err));
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	write_file(tp(0, "victim"), "keep\n", 0600);
	CHECK(symlink(tp(0, "victim"), tp(1, "d/link")) == 0);
	snprintf(want, sizeof(want), "cannot open %s/d/link: is a symbolic link", tmproot);
	CHECK_INTEQ(pw_private_open("log directory", tp(1, "d/link"), 0, 0, O_WRONLY | O_APPEND, err, sizeof(err)), -1);
	CHECK_STREQ(err, want);
	CHECK(link(tp(0, "victim"), tp(1, "d/hard")) == 0);
	snprintf(want, sizeof(want), "refusing %s/d/hard: has 2 hard links", tmproot);
	CHECK_INTEQ(pw_private_open("log directory", tp(1, "d/hard"), 0, 0, O_WRONLY | O_APPEND, err, sizeof(err)), -1);
	CHECK_STREQ(err, want);
	CHECK(mkfifo(tp(0, "d/fifo"), 0600) == 0);       /* and does not hang */
	CHECK_INTEQ(pw_private_open("log directory", tp(1, "d/fifo"), 0, 0, O_RDONLY, err, sizeof(err)), -1);
	CHECK(chmod(tp(0, "d"), 01777) == 0);
	CHECK_INTEQ(pw_private_open("log directory", tp(1, "d/log"), 0, 0, O_WRONLY, err, sizeof(err)), -1);
	fd = pw_private_open("log directory", tp(1, "d/log"), PW_DIR_STICKY_OK, 0, O_WRONLY, err, sizeof(err));
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	if (geteuid() == 0) {
		CHECK(chown(tp(0, "d/log"), 12345, 12345) == 0);
		snprintf(want, sizeof(want), "refusing %s/d/log: owned by uid 12345, not 0", tmproot);
		CHECK_INTEQ(pw_private_open("log directory", tp(1, "d/log"), PW_DIR_STICKY_OK, 0, O_WRONLY,
		                            err, sizeof(err)), -1);
		CHECK_STREQ(err, want);
	}
	CHECK_STREQ(unit_slurp(tp(0, "victim")), "keep\n");
}

/* /proc/PID/stat: the pid, the state letter, the parent, the thread count. */
TEST(proc_stat)
{
	unsigned long long f[20];
	CHECK_INTEQ(pw_proc_stat(0, f, 20), 20);
	CHECK(f[0] == (unsigned long long)getpid());
	CHECK(f[2] == 'R');
	CHECK(f[3] == (unsigned long long)getppid());
	CHECK(f[19] == 1);
	CHECK_INTEQ(pw_proc_stat(getppid(), f, 4), 4);
	CHECK(f[0] == (unsigned long long)getppid());
	CHECK_INTEQ(pw_proc_stat(0x7ffffff0, f, 4), -1);
}

/* One owner for XDG bases: absolute values win, relative ones fall back
 * to HOME's default, and without either it says which variable. */
TEST(xdg_dirs)
{
	char out[PATH_MAX], err[256], home[PATH_MAX];

	snprintf(home, sizeof home, "%s", getenv("HOME"));
	setenv("XDG_DATA_HOME", "/data/", 1);
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_DATA, out, sizeof out, err, sizeof err), 0);
	CHECK_STREQ(out, "/data/pywarm");
	setenv("XDG_DATA_HOME", "relative", 1);
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_DATA, out, sizeof out, err, sizeof err), 0);
	CHECK(strncmp(out, home, strlen(home)) == 0 && strcmp(out + strlen(home), "/.local/share/pywarm") == 0);
	unsetenv("XDG_DATA_HOME");
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_CONFIG, out, sizeof out, err, sizeof err), 0);
	CHECK(strcmp(out + strlen(home), "/.config/pywarm") == 0);
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_STATE, out, sizeof out, err, sizeof err), 0);
	CHECK(strcmp(out + strlen(home), "/.local/state/pywarm") == 0);
	setenv("HOME", "nothome", 1);
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_STATE, out, sizeof out, err, sizeof err), -1);
	CHECK_STREQ(err, "state directory: neither XDG_STATE_HOME nor HOME is an absolute path");
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_DATA, out, 8, err, sizeof err), -1);
	setenv("HOME", home, 1);
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_DATA, out, 8, err, sizeof err), -1);
	CHECK_STREQ(err, "trust store: path too long");
}

/* "Key: value" fields of /proc/PID files. */
TEST(proc_fields)
{
	CHECK_INTEQ(pw_proc_field(0, "status", "Pid:"), getpid());
	CHECK_INTEQ(pw_proc_field(getpid(), "status", "PPid:"), getppid());
	CHECK(pw_proc_field(0, "status", "VmRSS:") > 0);
	CHECK_INTEQ(pw_proc_field(0, "status", "NoSuchKey:"), -1);
	CHECK_INTEQ(pw_proc_field(0, "no-such-file", "Pid:"), -1);
	CHECK_INTEQ(pw_proc_field(0, "status", "Name:"), -1);     /* not a number */
}

/* Zygote file names: one suffix per kind, and too long a path refused. */
TEST(zygote_files)
{
	char out[64];

	CHECK_INTEQ(pw_zfile(out, sizeof out, "/run/x", "0123456789abcdef", PW_ZSOCK), 0);
	CHECK_STREQ(out, "/run/x/0123456789abcdef.sock");
	CHECK_INTEQ(pw_zfile(out, sizeof out, "/s", "0123456789abcdef", PW_ZPROGRESS), 0);
	CHECK_STREQ(out, "/s/0123456789abcdef.progress");
	CHECK_STREQ(pw_zfile_suffix(PW_ZLOCK), ".lock");
	CHECK_STREQ(pw_zfile_suffix(PW_ZNOTICE), ".notice");
	CHECK_STREQ(pw_zfile_suffix(PW_ZLOG), ".log");
	errno = 0;
	CHECK_INTEQ(pw_zfile(out, 20, "/run/x", "0123456789abcdef", PW_ZLOG), -1);
	CHECK_INTEQ(errno, ENAMETOOLONG);
}

int main(void)
{
	snprintf(tmproot, sizeof(tmproot), "/tmp/pw-test-config.XXXXXX");
	if (mkdtemp(tmproot) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	umask(022);
	RUN(parse_simple_list);
	RUN(parse_multiline_repeats_comments);
	RUN(parse_empty_and_sections_only);
	RUN(parse_idle_timeout_units);
	RUN(parse_idle_timeout_errors);
	RUN(parse_prefork);
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
	RUN(env_is_identity);
	RUN(identity_reference_value);
	RUN(identity_inputs);
	RUN(identity_env);
	RUN(identity_many_env);
	RUN(sockdir_checks);
	RUN(sockdir_fallback);
	RUN(statedir);
	RUN(private_files);
	RUN(proc_stat);
	RUN(xdg_dirs);
	RUN(proc_fields);
	RUN(zygote_files);
	nftw(tmproot, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return unit_summary();
}
