/* ctl_shell.c: pywarmctl shell-init, enable and disable: pywarm in the user's shell and service manager. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "shell.h"          /* generated from shell/: the texts printed below */
#include "util.h"

/* The units `pywarmctl enable` turns on: the socket, so that a launch can
 * start the default zygote, and the service, so that it warms at login. */
#define UNITS "pywarm.socket", "pywarm.service"

/* Where `make install` puts the python and python3 links to pywarm,
 * relative to the directory of pywarmctl (the Makefile's LINKDIR). */
#ifndef PW_LINKDIR_REL
#define PW_LINKDIR_REL "../lib/pywarm/bin"
#endif

/* One supported shell: its integration and its completion. */
struct shell {
	const char *name;
	const char *init;
	const char *completion;
	const char *comp_open, *comp_close;   /* wrapped around the completion */
	const char *path;                     /* the PATH line of --path */
};

static const struct shell shells[] = {
	{ "bash", pw_sh_pywarm_bash, pw_sh_pywarmctl_bash, "", "", pw_sh_path_sh },
	/* The zsh file is a function body, as compinit autoloads it. */
	{ "zsh", pw_sh_pywarm_zsh, pw_sh__pywarmctl, "_pywarmctl() {\n",
	  "}\nif (( $+functions[compdef] )); then\n\tcompdef _pywarmctl pywarmctl\nfi\n",
	  pw_sh_path_sh },
	{ "fish", pw_sh_pywarm_fish, pw_sh_pywarmctl_fish, "", "", pw_sh_path_fish },
	/* For ~/.profile and other login scripts: only the PATH line. */
	{ "sh", NULL, NULL, "", "", pw_sh_path_sh },
};

/* What replaces the @NAME@ markers of the shell texts. */
struct subst {
	char pywarm[PATH_MAX + 2];      /* quoted path of pywarm */
	char pywarmctl[PATH_MAX + 2];   /* quoted path of pywarmctl */
	const char *prewarm;            /* "1" or "0" */
	char linkdir[PATH_MAX + 2];     /* quoted directory of the python links */
};

#define NMARKS 4

/* Print text with its @PYWARM@, @PYWARMCTL@, @PREWARM@ and @LINKDIR@
 * markers replaced. */
static void emit(const char *text, const struct subst *s)
{
	static const char *const marks[NMARKS] = {
		"@PYWARM@", "@PYWARMCTL@", "@PREWARM@", "@LINKDIR@",
	};
	const char *vals[NMARKS] = { s->pywarm, s->pywarmctl, s->prewarm, s->linkdir };
	const char *p = text, *at;
	size_t i, n;

	while ((at = strchr(p, '@')) != NULL) {
		fwrite(p, 1, (size_t)(at - p), stdout);
		for (i = 0; i < NMARKS; i++) {
			n = strlen(marks[i]);
			if (strncmp(at, marks[i], n) == 0)
				break;
		}
		if (i < NMARKS) {
			fputs(vals[i], stdout);
			p = at + n;
		} else {
			putchar('@');
			p = at + 1;
		}
	}
	fputs(p, stdout);
}

/* The directory of this pywarmctl, in dir; -1 (said) if it cannot be
 * found or needs other quoting than single quotes in all three shells. */
static int own_dir(char *dir, size_t dirlen)
{
	ssize_t n = readlink("/proc/self/exe", dir, dirlen - 1);
	char *slash;

	if (n < 0) {
		pw_warn_errno("cannot read /proc/self/exe");
		return -1;
	}
	dir[n] = '\0';
	slash = strrchr(dir, '/');
	if (slash == NULL) {
		pw_warn("cannot find the directory of %s", dir);
		return -1;
	}
	*slash = '\0';
	if (strpbrk(dir, "'\\\n") != NULL) {
		pw_warn("cannot quote the directory %s for a shell", dir);
		return -1;
	}
	return 0;
}

/* 'dir/name' for a program beside this one, single-quoted for all three
 * shells; -1 (said) if it cannot be found or needs other quoting. */
static int quoted_sibling(char *out, size_t outlen, const char *name)
{
	char dir[PATH_MAX];
	int w;

	if (own_dir(dir, sizeof dir) < 0)
		return -1;
	w = snprintf(out, outlen, "'%s/%s'", dir, name);
	if (w < 0 || (size_t)w >= outlen) {
		pw_warn("path too long: %s/%s", dir, name);
		return -1;
	}
	return 0;
}

/* The installed directory of python and python3 links to the pywarm
 * beside this pywarmctl, resolved and single-quoted; -1 (said) if it is
 * missing or its links lead elsewhere (a build directory has none). */
static int quoted_linkdir(char *out, size_t outlen)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], links[PATH_MAX], target[PATH_MAX], self[PATH_MAX];
	static const char *const names[] = { "python", "python3" };
	int w;

	if (own_dir(dir, sizeof dir) < 0)
		return -1;
	snprintf(path, sizeof path, "%.*s/%s", PATH_MAX - 32, dir, PW_LINKDIR_REL);
	if (realpath(path, links) == NULL) {
		pw_warn_errno("no python links in %s (make install puts them there)", path);
		return -1;
	}
	snprintf(path, sizeof path, "%.*s/pywarm", PATH_MAX - 32, dir);
	if (realpath(path, self) == NULL) {
		pw_warn_errno("cannot find pywarm beside pywarmctl (%s)", path);
		return -1;
	}
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%.*s/%s", PATH_MAX - 32, links, names[i]);
		if (realpath(path, target) == NULL || strcmp(target, self) != 0) {
			pw_warn("%s is not a link to %s", path, self);
			return -1;
		}
	}
	if (strpbrk(links, "'\\\n") != NULL) {
		pw_warn("cannot quote the directory %s for a shell", links);
		return -1;
	}
	w = snprintf(out, outlen, "'%s'", links);
	if (w < 0 || (size_t)w >= outlen) {
		pw_warn("path too long: %s", links);
		return -1;
	}
	return 0;
}

/* The shell named by $SHELL, for `shell-init` without an argument. */
static const char *login_shell(void)
{
	const char *sh = getenv("SHELL"), *base;

	if (sh == NULL || *sh == '\0')
		return NULL;
	base = strrchr(sh, '/');
	return base ? base + 1 : sh;
}

/* Print the PATH line of sh for the link directory. */
static int emit_path(const struct shell *sh, struct subst *s)
{
	if (quoted_linkdir(s->linkdir, sizeof s->linkdir) < 0)
		return EXIT_FAIL;
	emit(sh->path, s);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		pw_warn_errno("cannot write the %s PATH line", sh->name);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* pywarmctl shell-init [--no-prewarm] [--path] [bash|zsh|fish|sh] */
int ctl_shell_init(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "no-prewarm", no_argument, NULL, 'n' },
		{ "path", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct subst s = { .prewarm = "1" };
	const struct shell *sh = NULL;
	const char *name;
	int c, path = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		if (c == 'n')
			s.prewarm = "0";
		else if (c == 'p')
			path = 1;
		else {
			pw_warn("unknown option '%s' for shell-init", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		pw_warn("shell-init takes one shell name (got '%s')", argv[optind + 1]);
		return EXIT_USAGE;
	}
	name = optind < argc ? argv[optind] : login_shell();
	if (name == NULL) {
		pw_warn("shell-init needs a shell name: bash, zsh or fish");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof shells / sizeof shells[0]; i++)
		if (strcmp(name, shells[i].name) == 0 && (path || shells[i].init != NULL))
			sh = &shells[i];
	if (sh == NULL) {
		pw_warn("unsupported shell '%s' (bash, zsh or fish%s)", name, path ? ", or sh" : "");
		return EXIT_USAGE;
	}
	if (path)
		return emit_path(sh, &s);
	if (quoted_sibling(s.pywarm, sizeof s.pywarm, "pywarm") < 0 ||
	    quoted_sibling(s.pywarmctl, sizeof s.pywarmctl, "pywarmctl") < 0)
		return EXIT_FAIL;
	emit(sh->init, &s);
	fputs(sh->comp_open, stdout);
	emit(sh->completion, &s);
	fputs(sh->comp_close, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		pw_warn_errno("cannot write the %s integration", sh->name);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* Run `systemctl --user VERB --now pywarm.socket pywarm.service`. */
static int systemctl(int argc, char **argv, const char *verb)
{
	char *args[] = { "systemctl", "--user", (char *)verb, "--now", UNITS, NULL };
	int status;
	pid_t pid;

	if (argc > 1) {
		pw_warn("%s takes no arguments (got '%s')", argv[0], argv[1]);
		return EXIT_USAGE;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		pw_warn_errno("cannot fork");
		return EXIT_FAIL;
	}
	if (pid == 0) {
		execvp(args[0], args);
		pw_warn_errno("cannot run systemctl");
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			pw_warn_errno("cannot wait for systemctl");
			return EXIT_FAIL;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return EXIT_OK;
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 127))
		pw_warn("systemctl --user %s --now pywarm.socket pywarm.service failed "
		        "(is a user service manager running, and are the units installed?)",
		        verb);
	return EXIT_FAIL;
}

/* pywarmctl enable */
int ctl_enable(int argc, char **argv)
{
	return systemctl(argc, argv, "enable");
}

/* pywarmctl disable */
int ctl_disable(int argc, char **argv)
{
	return systemctl(argc, argv, "disable");
}
