/* test_interp.c: pw_interp_resolve in a made-up tree: a pyenv root with a shim and versions, version files, "system" on PATH, venvs, and the zygote binaries of an installation found by their links. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

/* The installation's zygote directory this test binary was built to use. */
#ifndef PW_ZYGOTEDIR_REL
#error "the Makefile gives test_interp an absolute PW_ZYGOTEDIR_REL"
#endif

static char top[PATH_MAX];          /* the made-up tree */
static char root[PATH_MAX + 8];     /* its pyenv root */
static char sysdir[PATH_MAX + 8];   /* a directory holding "the system's" python3 */

/* Write text to top/rel (directories made as needed), with mode. */
static void put(const char *rel, const char *text, mode_t mode)
{
	char path[PATH_MAX * 2], *s;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", top, rel);
	for (s = path + strlen(top) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* top/rel as an absolute path (static buffer, one at a time). */
static const char *at(const char *rel)
{
	static char buf[PATH_MAX * 2];

	snprintf(buf, sizeof buf, "%s/%s", top, rel);
	return buf;
}

/* A zygote binary for the interpreter at rel, as make install puts it. */
static void install_zygote_for(const char *rel, const char *version)
{
	char real[PATH_MAX], tag[64], dir[PATH_MAX * 2], link[PATH_MAX * 3];

	CHECK(realpath(at(rel), real) != NULL);
	pw_interp_tag(real, version, tag, sizeof tag);
	snprintf(dir, sizeof dir, "%s/%s", PW_ZYGOTEDIR_REL, tag);
	mkdir(dir, 0755);
	snprintf(link, sizeof link, "%s/pywarm-zygote", dir);
	FILE *f = fopen(link, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	chmod(link, 0755);
	snprintf(link, sizeof link, "%s/%s", PW_ZYGOTEDIR_REL, strrchr(tag, '-') + 1);
	CHECK(symlink(tag, link) == 0 || errno == EEXIST);
}

/* PATH as the tree has it: the shims, then "the system's" python3. */
static void usual_path(void)
{
	char path[PATH_MAX * 3];

	snprintf(path, sizeof path, "%s/shims:%s", root, sysdir);
	setenv("PATH", path, 1);
}

/* The tree: shim, versions 1.2.3 (served) and 4.5.6 (not), the system's python3. */
static void setup(void)
{
	char shim[PATH_MAX * 3];

	snprintf(top, sizeof top, "/tmp/pywarm-unit-interp-XXXXXX");
	CHECK(mkdtemp(top) != NULL);
	snprintf(root, sizeof root, "%s/pyenv", top);
	snprintf(sysdir, sizeof sysdir, "%s/usr/bin", top);
	snprintf(shim, sizeof shim, "#!/usr/bin/env bash\nset -e\nprogram=\"${0##*/}\"\n"
	         "export PYENV_ROOT=\"%s\"\nexec \"%s/libexec/pyenv\" exec \"$program\" \"$@\"\n",
	         root, root);
	put("pyenv/shims/python3", shim, 0755);
	put("pyenv/versions/1.2.3/bin/python3", "#!/bin/sh\n", 0755);
	put("pyenv/versions/4.5.6/bin/python3", "#!/bin/sh\n", 0755);
	put("pyenv/versions/2.7.0/bin/python", "#!/bin/sh\n", 0755);
	put("pyenv/version", "1.2.3\n", 0644);
	put("usr/bin/python3", "#!/bin/sh\n", 0755);
	put("proj/sub/deeper/.keep", "", 0644);
	mkdir(PW_ZYGOTEDIR_REL, 0755);
	install_zygote_for("pyenv/versions/1.2.3/bin/python3", "1.2.3");
	install_zygote_for("usr/bin/python3", "9.8.7");
	usual_path();
	unsetenv("PYENV_VERSION");
	unsetenv("PYENV_DIR");
	unsetenv("VIRTUAL_ENV");
	unsetenv("_PYENV_SHIM_PATHS_PYTHON3");
}

/* Resolve with the working directory at top/rel (PWD naming it). */
static void resolve_in(const char *rel, struct pw_interp *in)
{
	CHECK(chdir(at(rel)) == 0);
	setenv("PWD", at(rel), 1);
	pw_interp_resolve(NULL, in);
}

static struct pw_interp in;

TEST(global_version_behind_the_shim)
{
	char want[PATH_MAX * 2];

	resolve_in("proj", &in);
	CHECK_STREQ(in.path, at("pyenv/versions/1.2.3/bin/python3"));
	snprintf(want, sizeof want, "pyenv: %s/version", root);
	CHECK_STREQ(in.origin, want);
	CHECK_INTEQ(in.warm, 1);
	CHECK_STREQ(in.zygote_version, "1.2.3");
	CHECK(strstr(in.zygote, "/1.2.3-") != NULL);
}

TEST(python_version_upward_nearest_wins)
{
	char want[PATH_MAX * 2];

	put("proj/.python-version", "# a comment\n\n   system  extra words\n", 0644);
	resolve_in("proj/sub/deeper", &in);
	CHECK_STREQ(in.path, at("usr/bin/python3"));
	snprintf(want, sizeof want, "pyenv: %s/proj/.python-version", top);
	CHECK_STREQ(in.origin, want);
	CHECK_INTEQ(in.warm, 1);
	CHECK_STREQ(in.zygote_version, "9.8.7");
	put("proj/sub/.python-version", "python-4.5.6\n", 0644);
	resolve_in("proj/sub/deeper", &in);
	CHECK_STREQ(in.path, at("pyenv/versions/4.5.6/bin/python3"));
	CHECK_INTEQ(in.warm, 0);
	CHECK_INTEQ(in.no_zygote, 1);
	CHECK(strstr(in.cold_why, "no zygote binary") != NULL);
	unlink(at("proj/sub/.python-version"));
	unlink(at("proj/.python-version"));
}

TEST(an_empty_local_file_means_system)
{
	put("proj/.python-version", "", 0644);
	resolve_in("proj", &in);
	CHECK_STREQ(in.path, at("usr/bin/python3"));
	unlink(at("proj/.python-version"));
}

TEST(pyenv_version_overrides_the_files)
{
	put("proj/.python-version", "system\n", 0644);
	setenv("PYENV_VERSION", "1.2.3", 1);
	resolve_in("proj", &in);
	CHECK_STREQ(in.path, at("pyenv/versions/1.2.3/bin/python3"));
	CHECK_STREQ(in.origin, "pyenv: PYENV_VERSION");
	unsetenv("PYENV_VERSION");
	unlink(at("proj/.python-version"));
}

TEST(uncertain_choices_run_the_shim)
{
	static const char *const versions[] = {
		"1.2",              /* a prefix pyenv-latest would complete */
		"1.2.3:system",     /* more than one */
		"../../etc",        /* outside versions/ */
		"2.7.0",            /* no bin/python3: pyenv would look further */
		"9.9.9",            /* not installed */
	};

	for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
		setenv("PYENV_VERSION", versions[i], 1);
		resolve_in("proj", &in);
		CHECK_STREQ(in.path, at("pyenv/shims/python3"));
		CHECK_INTEQ(in.warm, 0);
		CHECK_INTEQ(in.no_zygote, 0);
		CHECK(strstr(in.cold_why, "pyenv") != NULL);
	}
	unsetenv("PYENV_VERSION");
	setenv("PYENV_DIR", "/", 1);
	resolve_in("proj", &in);
	CHECK_STREQ(in.path, at("pyenv/shims/python3"));
	CHECK(strstr(in.cold_why, "PYENV_DIR") != NULL);
	unsetenv("PYENV_DIR");
}

TEST(system_without_a_python3_after_the_shims)
{
	char path[PATH_MAX * 4];

	setenv("PYENV_VERSION", "system", 1);
	snprintf(path, sizeof path, "%s/shims:/nonexistent", root);
	setenv("PATH", path, 1);
	resolve_in("proj", &in);
	CHECK_STREQ(in.path, at("pyenv/shims/python3"));
	CHECK(strstr(in.cold_why, "\"system\"") != NULL);
	usual_path();
	unsetenv("PYENV_VERSION");
}

/* With PATH set to path, "the system's" python3 is found (warm, by PATH);
 * then PATH is the tree's usual one again. */
static void finds_system_python3(const char *path, int line)
{
	setenv("PATH", path, 1);
	resolve_in("proj", &in);
	if (strcmp(in.path, at("usr/bin/python3")) != 0 || strcmp(in.origin, "PATH") != 0 || in.warm != 1)
		unit_fail(__FILE__, line, "PATH=%s found %s (%s, warm %d)", path, in.path, in.origin, in.warm);
	usual_path();
}

TEST(plain_path_and_duplicates)
{
	char path[PATH_MAX * 4];

	snprintf(path, sizeof path, "/nonexistent:/nonexistent:%s:%s/shims", sysdir, root);
	finds_system_python3(path, __LINE__);
}

TEST(venv_of_a_served_interpreter_and_of_another_version)
{
	char cfg[PATH_MAX * 2], base[PATH_MAX * 2];

	CHECK(mkdir(at("venv"), 0755) == 0);
	CHECK(mkdir(at("venv/bin"), 0755) == 0);
	snprintf(base, sizeof base, "%s", at("usr/bin/python3"));
	CHECK(symlink(base, at("venv/bin/python")) == 0);
	snprintf(cfg, sizeof cfg, "home = %s\nversion = 9.8.7\n", sysdir);
	put("venv/pyvenv.cfg", cfg, 0644);
	setenv("VIRTUAL_ENV", at("venv"), 1);
	resolve_in("proj", &in);
	CHECK_STREQ(in.path, at("venv/bin/python"));
	CHECK_STREQ(in.origin, "VIRTUAL_ENV");
	CHECK_STREQ(in.venv_version, "9.8.7");
	CHECK_INTEQ(in.warm, 1);
	snprintf(cfg, sizeof cfg, "home = %s\nversion = 9.8.6\n", sysdir);
	put("venv/pyvenv.cfg", cfg, 0644);
	resolve_in("proj", &in);
	CHECK_INTEQ(in.warm, 0);
	CHECK_INTEQ(in.no_zygote, 0);
	CHECK(strstr(in.cold_why, "9.8.6") != NULL);
	unsetenv("VIRTUAL_ENV");
}

TEST(a_changed_python_version_is_seen_by_the_next_resolution)
{
	put("proj/.python-version", "system\n", 0644);
	resolve_in("proj/sub", &in);
	CHECK_STREQ(in.path, at("usr/bin/python3"));
	put("proj/.python-version", "1.2.3\n", 0644);      /* same size, same second */
	resolve_in("proj/sub", &in);
	CHECK_STREQ(in.path, at("pyenv/versions/1.2.3/bin/python3"));
	CHECK_INTEQ(in.warm, 1);
	put("proj/sub/.python-version", "system\n", 0644); /* a nearer one appears */
	resolve_in("proj/sub", &in);
	CHECK_STREQ(in.path, at("usr/bin/python3"));
	unlink(at("proj/sub/.python-version"));
	unlink(at("proj/.python-version"));
	resolve_in("proj/sub", &in);                       /* and both go */
	CHECK_STREQ(in.path, at("pyenv/versions/1.2.3/bin/python3"));
	CHECK(strstr(in.origin, "/pyenv/version") != NULL);
}

TEST(deep_tree_finds_the_file_at_its_top)
{
	char rel[PATH_MAX], want[PATH_MAX * 2];

	snprintf(rel, sizeof rel, "deep");
	for (int i = 0; i < 16; i++)
		strncat(rel, "/d", sizeof rel - strlen(rel) - 1);
	snprintf(want, sizeof want, "%s/.keep", rel);
	put(want, "", 0644);
	put("deep/.python-version", "system\n", 0644);
	resolve_in(rel, &in);
	CHECK_STREQ(in.path, at("usr/bin/python3"));
	snprintf(want, sizeof want, "pyenv: %s/deep/.python-version", top);
	CHECK_STREQ(in.origin, want);
	CHECK_INTEQ(in.warm, 1);
	unlink(at("deep/.python-version"));
	put("deep/d/d/.python-version", "", 0644);         /* a directory of that name is passed over */
	unlink(at("deep/d/d/.python-version"));
	CHECK(mkdir(at("deep/d/d/.python-version"), 0755) == 0);
	resolve_in(rel, &in);
	CHECK_STREQ(in.path, at("pyenv/versions/1.2.3/bin/python3"));
	rmdir(at("deep/d/d/.python-version"));
}

TEST(pwd_through_a_link_searches_the_logical_parents)
{
	char want[PATH_MAX * 2], target[PATH_MAX * 2];

	CHECK(mkdir(at("logical"), 0755) == 0);
	snprintf(target, sizeof target, "%s", at("proj/sub/deeper"));
	CHECK(symlink(target, at("logical/inner")) == 0);
	put("logical/.python-version", "system\n", 0644);
	resolve_in("logical/inner", &in);                  /* PWD: top/logical/inner */
	CHECK_STREQ(in.path, at("usr/bin/python3"));
	snprintf(want, sizeof want, "pyenv: %s/logical/.python-version", top);
	CHECK_STREQ(in.origin, want);
	setenv("PWD", at("proj"), 1);                       /* a PWD naming another directory */
	pw_interp_resolve(NULL, &in);
	CHECK_STREQ(in.path, at("pyenv/versions/1.2.3/bin/python3"));
	unsetenv("PWD");
	pw_interp_resolve(NULL, &in);
	CHECK_STREQ(in.path, at("pyenv/versions/1.2.3/bin/python3"));
	unlink(at("logical/.python-version"));
	unlink(at("logical/inner"));
	rmdir(at("logical"));
}

TEST(a_working_directory_it_may_not_search)
{
	char want[PATH_MAX * 2], dir[PATH_MAX * 2], sys3[PATH_MAX * 2];
	pid_t pid;
	int status = -1;

	CHECK(chmod(top, 0755) == 0);
	put("noperm/a/b/.keep", "", 0644);
	put("noperm/a/.python-version", "system\n", 0644);
	if (geteuid() == 0)
		CHECK(chown(at("noperm/a/b"), 65534, 65534) == 0);
	snprintf(want, sizeof want, "pyenv: %s/noperm/a/.python-version", top);
	snprintf(dir, sizeof dir, "%s", at("noperm/a/b"));
	snprintf(sys3, sizeof sys3, "%s", at("usr/bin/python3"));
	fflush(NULL);
	/* Unprivileged, in a directory it can no longer search: "../" fails
	 * from there, the whole path does not. */
	if ((pid = fork()) == 0) {
		if ((geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0)) ||
		    chdir(dir) < 0 || chmod(".", 0) < 0)
			_exit(2);
		setenv("PWD", dir, 1);
		pw_interp_resolve(NULL, &in);
		chmod(".", 0755);
		_exit(strcmp(in.origin, want) == 0 && strcmp(in.path, sys3) == 0 ? 0 : 1);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unlink(at("noperm/a/b/.keep"));
	unlink(at("noperm/a/.python-version"));
	rmdir(at("noperm/a/b"));
	rmdir(at("noperm/a"));
	rmdir(at("noperm"));
	CHECK(chmod(top, 0700) == 0);
}

TEST(path_with_missing_and_odd_entries)
{
	char path[PATH_MAX * 6];

	put("notadir", "", 0644);
	put("noexec/python3", "#!/bin/sh\n", 0644);        /* not executable: passed over */
	snprintf(path, sizeof path, "/nonexistent/a:%s/notadir:%s/noexec:%s/missing::%s:%s/shims",
	         top, top, top, sysdir, root);
	finds_system_python3(path, __LINE__);
}

/* An empty PATH entry is the working directory, as for execvp. */
TEST(empty_path_entry_is_the_working_directory)
{
	char path[PATH_MAX * 4];

	put("proj/python3", "#!/bin/sh\n", 0755);
	snprintf(path, sizeof path, "/nonexistent::%s", sysdir);
	setenv("PATH", path, 1);
	resolve_in("proj", &in);
	CHECK_STREQ(in.origin, "PATH");
	CHECK(strcmp(in.path, at("usr/bin/python3")) != 0);
	CHECK(strstr(in.path, "proj/python3") != NULL || strcmp(in.path, "./python3") == 0);
	unlink(at("proj/python3"));
	usual_path();
}

TEST(a_file_too_large_for_a_shim_is_an_interpreter)
{
	char path[PATH_MAX * 4], shim[PATH_MAX * 2 + 20000];
	size_t n;

	n = (size_t)snprintf(shim, sizeof shim, "#!/usr/bin/env bash\nset -e\nprogram=\"${0##*/}\"\n"
	                     "export PYENV_ROOT=\"%s\"\nexec \"%s/libexec/pyenv\" exec \"$program\" \"$@\"\n",
	                     root, root);
	memset(shim + n, '#', 17000);
	shim[n + 17000] = '\0';
	put("big/python3", shim, 0755);
	snprintf(path, sizeof path, "%s/big:%s/shims:%s", top, root, sysdir);
	setenv("PATH", path, 1);
	resolve_in("proj", &in);
	CHECK_STREQ(in.path, at("big/python3"));
	CHECK_STREQ(in.origin, "PATH");
	CHECK_INTEQ(in.warm, 0);
	CHECK_INTEQ(in.no_zygote, 1);
	usual_path();
}

TEST(python_prefix_falls_back_only_when_no_such_directory)
{
	setenv("PYENV_VERSION", "python-1.2.3", 1);         /* no versions/python-1.2.3 */
	resolve_in("proj", &in);
	CHECK_STREQ(in.path, at("pyenv/versions/1.2.3/bin/python3"));
	CHECK_INTEQ(in.warm, 1);
	CHECK(mkdir(at("pyenv/versions/python-1.2.3"), 0755) == 0);
	resolve_in("proj", &in);                           /* one without bin/python3 */
	CHECK_STREQ(in.path, at("pyenv/shims/python3"));
	CHECK(strstr(in.cold_why, "has no bin/python3") != NULL);
	rmdir(at("pyenv/versions/python-1.2.3"));
	put("pyenv/versions/5.0.0", "not a directory\n", 0644);
	setenv("PYENV_VERSION", "5.0.0", 1);
	resolve_in("proj", &in);
	CHECK_STREQ(in.path, at("pyenv/shims/python3"));
	CHECK(strstr(in.cold_why, "not installed") != NULL);
	unlink(at("pyenv/versions/5.0.0"));
	unsetenv("PYENV_VERSION");
}

TEST(pyvenv_cfg_read_whole_a_directory_passed_over)
{
	char cfg[20000], base[PATH_MAX * 2];
	size_t n;

	CHECK(mkdir(at("venv2"), 0755) == 0);
	CHECK(mkdir(at("venv2/bin"), 0755) == 0);
	snprintf(base, sizeof base, "%s", at("usr/bin/python3"));
	CHECK(symlink(base, at("venv2/bin/python")) == 0);
	/* Beside the executable, CRLF, a comment longer than one read, no final newline. */
	n = (size_t)snprintf(cfg, sizeof cfg, "home = %s\r\n# ", sysdir);
	memset(cfg + n, 'x', 9000);
	n += 9000;
	snprintf(cfg + n, sizeof cfg - n, "\n\n  version = 9.8.7 ");
	put("venv2/bin/pyvenv.cfg", cfg, 0644);
	put("venv2/pyvenv.cfg", "version = 1.0.0\n", 0644);   /* not read: the nearer one wins */
	setenv("VIRTUAL_ENV", at("venv2"), 1);
	resolve_in("proj", &in);
	CHECK_STREQ(in.venv_home, sysdir);
	CHECK_STREQ(in.venv_version, "9.8.7");
	CHECK_INTEQ(in.warm, 1);
	unlink(at("venv2/bin/pyvenv.cfg"));
	CHECK(mkdir(at("venv2/bin/pyvenv.cfg"), 0755) == 0); /* passed over, as getpath does */
	resolve_in("proj", &in);
	CHECK_STREQ(in.venv_version, "1.0.0");
	CHECK_INTEQ(in.warm, 0);
	CHECK_INTEQ(in.no_zygote, 0);
	CHECK(strstr(in.cold_why, "1.0.0") != NULL);
	rmdir(at("venv2/bin/pyvenv.cfg"));
	unsetenv("VIRTUAL_ENV");
}

TEST(tag_names_version_and_hash)
{
	char a[64], b[64];

	pw_interp_tag("/usr/bin/python3.11", "3.11.2", a, sizeof a);
	pw_interp_tag("/usr/bin/python3.12", "3.11.2", b, sizeof b);
	CHECK_INTEQ(strlen(a), strlen("3.11.2-") + 16);
	CHECK(strncmp(a, "3.11.2-", 7) == 0);
	CHECK(strcmp(a, b) != 0);
	pw_interp_tag("/usr/bin/python3.11", "3.11.2", b, sizeof b);
	CHECK_STREQ(a, b);
}

int main(void)
{
	char cmd[PATH_MAX * 3];

	setup();
	RUN(global_version_behind_the_shim);
	RUN(python_version_upward_nearest_wins);
	RUN(an_empty_local_file_means_system);
	RUN(pyenv_version_overrides_the_files);
	RUN(uncertain_choices_run_the_shim);
	RUN(system_without_a_python3_after_the_shims);
	RUN(plain_path_and_duplicates);
	RUN(venv_of_a_served_interpreter_and_of_another_version);
	RUN(a_changed_python_version_is_seen_by_the_next_resolution);
	RUN(deep_tree_finds_the_file_at_its_top);
	RUN(pwd_through_a_link_searches_the_logical_parents);
	RUN(a_working_directory_it_may_not_search);
	RUN(path_with_missing_and_odd_entries);
	RUN(empty_path_entry_is_the_working_directory);
	RUN(a_file_too_large_for_a_shim_is_an_interpreter);
	RUN(python_prefix_falls_back_only_when_no_such_directory);
	RUN(pyvenv_cfg_read_whole_a_directory_passed_over);
	RUN(tag_names_version_and_hash);
	CHECK(chdir("/") == 0);
	snprintf(cmd, sizeof cmd, "/bin/rm -rf '%s' '%s'", top, PW_ZYGOTEDIR_REL);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", top);
	printf("%d passed, %d failed\n", unit_state.passed, unit_state.failed);
	return unit_state.failed ? 1 : 0;
}
