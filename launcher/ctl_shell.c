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

/* One supported shell: its integration and its completion. */
struct shell {
	const char *name;
	const char *init;
	const char *completion;
	const char *comp_open, *comp_close;   /* wrapped around the completion */
};

static const struct shell shells[] = {
	{ "bash", pw_sh_pywarm_bash, pw_sh_pywarmctl_bash, "", "" },
	/* The zsh file is a function body, as compinit autoloads it. */
	{ "zsh", pw_sh_pywarm_zsh, pw_sh__pywarmctl, "_pywarmctl() {\n",
	  "}\nif (( $+functions[compdef] )); then\n\tcompdef _pywarmctl pywarmctl\nfi\n" },
	{ "fish", pw_sh_pywarm_fish, pw_sh_pywarmctl_fish, "", "" },
};

/* What replaces the @NAME@ markers of the shell texts. */
struct subst {
	char pywarm[PATH_MAX + 2];      /* quoted path of pywarm */
	char pywarmctl[PATH_MAX + 2];   /* quoted path of pywarmctl */
	const char *prewarm;            /* "1" or "0" */
};

/* Print text with its @PYWARM@, @PYWARMCTL@ and @PREWARM@ markers replaced. */
static void emit(const char *text, const struct subst *s)
{
	static const char *const marks[] = { "@PYWARM@", "@PYWARMCTL@", "@PREWARM@" };
	const char *vals[] = { s->pywarm, s->pywarmctl, s->prewarm };
	const char *p = text, *at;
	size_t i, n;

	while ((at = strchr(p, '@')) != NULL) {
		fwrite(p, 1, (size_t)(at - p), stdout);
		for (i = 0; i < 3; i++) {
			n = strlen(marks[i]);
			if (strncmp(at, marks[i], n) == 0)
				break;
		}
		if (i < 3) {
			fputs(vals[i], stdout);
			p = at + n;
		} else {
			putchar('@');
			p = at + 1;
		}
	}
	fputs(p, stdout);
}

/* 'dir/name' for a program beside this one, single-quoted for all three
 * shells; -1 (said) if it cannot be found or needs other quoting. */
static int quoted_sibling(char *out, size_t outlen, const char *name)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	char *slash;
	int w;

	if (n < 0) {
		pw_warn_errno("cannot read /proc/self/exe");
		return -1;
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL) {
		pw_warn("cannot find pywarm beside %s", exe);
		return -1;
	}
	*slash = '\0';
	if (strpbrk(exe, "'\\\n") != NULL) {
		pw_warn("cannot quote the directory %s for a shell", exe);
		return -1;
	}
	w = snprintf(out, outlen, "'%s/%s'", exe, name);
	if (w < 0 || (size_t)w >= outlen) {
		pw_warn("path too long: %s/%s", exe, name);
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

/* pywarmctl shell-init [--no-prewarm] [bash|zsh|fish] */
int ctl_shell_init(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "no-prewarm", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct subst s = { .prewarm = "1" };
	const struct shell *sh = NULL;
	const char *name;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		if (c != 'n') {
			pw_warn("unknown option '%s' for shell-init", argv[optind - 1]);
			return EXIT_USAGE;
		}
		s.prewarm = "0";
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
		if (strcmp(name, shells[i].name) == 0)
			sh = &shells[i];
	if (sh == NULL) {
		pw_warn("unsupported shell '%s' (bash, zsh or fish)", name);
		return EXIT_USAGE;
	}
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
