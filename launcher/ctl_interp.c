/* ctl_interp.c: pywarmctl interpreters: which interpreters this installation serves warm, and why the others would run cold. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "ctl.h"
#include "util.h"

#define MAX_SHOWN 256

extern char **environ;

/* The interpreters listed so far (by path) and the zygote binaries they use. */
struct shown {
	char *path[MAX_SHOWN];
	char *zygote[MAX_SHOWN];
	int n;
};

/* Print one interpreter: its path, where it was found, and how it is served. */
static void show(struct shown *sh, const struct pw_interp *in, const char *origin)
{
	if (sh->n >= MAX_SHOWN)
		return;
	for (int i = 0; i < sh->n; i++)
		if (strcmp(sh->path[i], in->path) == 0)
			return;
	sh->path[sh->n] = strdup(in->path);
	sh->zygote[sh->n] = strdup(in->zygote);
	sh->n++;
	printf("%s (%s)\n", in->path, origin);
	if (in->real[0] && strcmp(in->real, in->path) != 0)
		printf("  %-12s %s\n", "resolved", in->real);
	if (in->venv_home[0])
		printf("  %-12s home %s, version %s\n", "venv", in->venv_home,
		       in->venv_version[0] ? in->venv_version : "?");
	if (in->warm)
		printf("  %-12s warm, by %s (%s)\n", "served", in->zygote, in->zygote_version);
	else
		printf("  %-12s cold: %s\n", "served", in->cold_why);
}

/* pw_interp_each's callback: classify and print. */
static void each(void *arg, const char *path, const char *origin)
{
	struct pw_interp *in = malloc(sizeof(*in));

	if (in == NULL)
		return;
	pw_interp_for(path, origin, in);
	show(arg, in, origin);
	free(in);
}

/* The installed zygote binaries no interpreter listed uses. */
static void show_unused(const struct shown *sh)
{
	char dir[PATH_MAX], bin[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;

	if (pw_interp_zygote_dir(dir, sizeof(dir)) < 0 || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		int used = 0;

		if (de->d_name[0] == '.' || strchr(de->d_name, '-') == NULL ||   /* <hash>: a link */
		    (size_t)snprintf(bin, sizeof(bin), "%s/%s/pywarm-zygote", dir, de->d_name) >= sizeof(bin) ||
		    access(bin, X_OK) < 0)
			continue;
		for (int i = 0; i < sh->n && !used; i++)
			used = strcmp(sh->zygote[i], bin) == 0;
		if (!used)
			printf("%s (installed zygote)\n  %-12s none found here: no python3 on PATH or pyenv version resolves to it\n",
			       bin, "interpreter");
	}
	closedir(d);
}

/* pywarmctl interpreters */
int ctl_interpreters(int argc, char **argv)
{
	char cwd[PATH_MAX], err[PATH_MAX + 256], origin[sizeof(((struct pw_interp *)0)->origin) + 32];
	struct shown sh = { .n = 0 };
	struct pw_target *t;

	if (argc > 1) {
		pw_warn("interpreters takes no arguments (got '%s')", argv[1]);
		return EXIT_USAGE;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		pw_warn_errno("cannot get the current directory");
		return EXIT_FAIL;
	}
	if ((t = malloc(sizeof(*t))) == NULL) {
		pw_warn_errno("cannot allocate memory");
		return EXIT_FAIL;
	}
	/* First the one python3 means here, with what chose it. */
	if (pw_target_resolve(t, cwd, environ, err, sizeof(err)) == 0) {
		snprintf(origin, sizeof(origin), "python3 here; %s", t->interp.origin);
		show(&sh, &t->interp, origin);
		pw_target_free(t);
	} else
		pw_warn("%s", err);
	free(t);
	pw_interp_each(each, &sh);
	show_unused(&sh);
	for (int i = 0; i < sh.n; i++) {
		free(sh.path[i]);
		free(sh.zygote[i]);
	}
	return EXIT_OK;
}
