/* ctl_sandbox.c: `pywarmctl sandbox [POLICY...]`: print the sandbox a run in this directory would get. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

int cmd_sandbox(int argc, char **argv);

/* Load the profile that applies here; -1 (said) if none can be loaded. */
static int load_here(struct pw_profile *p)
{
	char cwd[PATH_MAX], err[PATH_MAX + 256], *path = NULL;
	int source = 0, rc;

	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		pw_warn_errno("cannot get the current directory");
		return -1;
	}
	if (pw_profile_find(cwd, &path, &source, err, sizeof(err)) < 0) {
		pw_warn("%s", err);
		return -1;
	}
	rc = pw_profile_load(p, path, source, err, sizeof(err));
	free(path);
	if (rc < 0) {
		pw_warn("%s", err);
		if (p->sandbox.broken)
			pw_warn("runs with this profile are refused (exit status %d)", PW_EXIT_SANDBOX);
	}
	return rc;
}

/* Show the effective rules: the profile's, PYWARM_SANDBOX's and those named here. */
int cmd_sandbox(int argc, char **argv)
{
	struct pw_profile p;
	struct pw_interp interp;
	const char *env = getenv("PYWARM_SANDBOX");
	char err[512];
	int rc = 1;

	if (argc > 1 && argv[1][0] == '-' && strcmp(argv[1], "--") != 0) {
		pw_warn("sandbox: unknown option '%s'", argv[1]);
		return 2;
	}
	if (load_here(&p) < 0)
		return 1;
	if (env && *env && pw_sandbox_add_env(&p.sandbox, env, err, sizeof(err)) < 0) {
		pw_warn("%s", err);
		goto out;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			continue;
		if (pw_sandbox_add_env(&p.sandbox, argv[i], err, sizeof(err)) < 0) {
			pw_warn("%s", err + strlen("PYWARM_SANDBOX: "));
			goto out;
		}
	}
	pw_interp_resolve(&p, &interp);
	p.sandbox.interpreter = interp.path;
	printf("profile: %s (%s)\n", p.path ? p.path : "built-in", pw_profile_source_name(p.source));
	if (pw_sandbox_render(&p.sandbox, stdout) < 0)
		pw_warn("out of memory");
	else
		rc = 0;
out:
	pw_profile_free(&p);
	return rc;
}
