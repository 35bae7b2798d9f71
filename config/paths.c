/* paths.c: where things live: profile discovery, the socket directory and the state directory. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "config.h"

#define USER_PROFILE "pywarm/pywarm.ini"   /* under $XDG_CONFIG_HOME */

#ifndef PW_PYTHON
#error "PW_PYTHON must name the real interpreter (the Makefile defines it)"
#endif
#ifndef PW_PYVERSION
#error "PW_PYVERSION must give its version (the Makefile defines it)"
#endif

/* Format a message into a caller's error buffer, if there is one. */
void pw_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* An environment variable holding an absolute path, or NULL (the XDG rule:
 * relative values are ignored). */
static const char *env_abs(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] == '/' ? v : NULL;
}

/* malloc'd "a/b" (no doubled slash when a ends in '/'), or NULL. */
static char *join(const char *a, const char *b)
{
	size_t n = strlen(a);
	char *s;

	while (n > 1 && a[n - 1] == '/')
		n--;
	if (asprintf(&s, "%.*s%s%s", (int)n, a, n > 0 && a[n - 1] == '/' ? "" : "/", b) < 0)
		return NULL;
	return s;
}

/* Does path exist as something other than a directory? */
static int is_candidate(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* $PYWARM_PROFILE, made absolute against cwd; it must exist. */
static int find_env(const char *cwd, const char *v, char **path, char *err, size_t errlen)
{
	struct stat st;
	char *p = v[0] == '/' ? strdup(v) : join(cwd, v);

	if (p == NULL) {
		pw_seterr(err, errlen, "PYWARM_PROFILE=%s: %s", v, strerror(errno));
		return -1;
	}
	if (stat(p, &st) < 0) {
		pw_seterr(err, errlen, "PYWARM_PROFILE=%s: %s", v, strerror(errno));
		free(p);
		return -1;
	}
	*path = p;
	return 0;
}

/* Look for .pywarm.ini in cwd and each parent up to /.  Returns 1 (found,
 * *path set), 0 (none) or -1 (out of memory). */
static int find_project(const char *cwd, char **path)
{
	size_t n = strlen(cwd);
	char *buf = malloc(n + sizeof("/" PW_PROFILE_FILE));

	if (buf == NULL)
		return -1;
	memcpy(buf, cwd, n);
	for (;;) {
		while (n > 0 && buf[n - 1] == '/')
			n--;       /* n == 0: the root */
		memcpy(buf + n, "/" PW_PROFILE_FILE, sizeof("/" PW_PROFILE_FILE));
		if (is_candidate(buf)) {
			*path = buf;
			return 1;
		}
		if (n == 0)
			break;
		while (n > 0 && buf[n - 1] != '/')
			n--;
	}
	free(buf);
	return 0;
}

/* $XDG_CONFIG_HOME/pywarm/pywarm.ini (default ~/.config), if it exists.
 * Returns 1 (found), 0 (none) or -1 (out of memory). */
static int find_user(char **path)
{
	const char *base = env_abs("XDG_CONFIG_HOME"), *home;
	char *p;

	if (base != NULL)
		p = join(base, USER_PROFILE);
	else if ((home = env_abs("HOME")) != NULL)
		p = join(home, ".config/" USER_PROFILE);
	else
		return 0;
	if (p == NULL)
		return -1;
	if (is_candidate(p)) {
		*path = p;
		return 1;
	}
	free(p);
	return 0;
}

/* Decide which profile applies in cwd: $PYWARM_PROFILE, a project file, the
 * user's file, or the built-in default (path NULL). */
int pw_profile_find(const char *cwd, char **path, int *source, char *err, size_t errlen)
{
	const char *v = getenv("PYWARM_PROFILE");
	int r;

	*path = NULL;
	*source = PW_SRC_BUILTIN;
	if (cwd == NULL || cwd[0] != '/') {
		pw_seterr(err, errlen, "working directory '%s' is not absolute", cwd ? cwd : "");
		return -1;
	}
	if (v != NULL && v[0] != '\0') {
		if (find_env(cwd, v, path, err, errlen) < 0)
			return -1;
		*source = PW_SRC_ENV;
		return 0;
	}
	r = find_project(cwd, path);
	if (r > 0)
		*source = PW_SRC_PROJECT;
	if (r == 0 && (r = find_user(path)) > 0)
		*source = PW_SRC_USER;
	if (r < 0) {
		pw_seterr(err, errlen, "cannot look for a profile: %s", strerror(ENOMEM));
		return -1;
	}
	return 0;
}

/* Refuse dir unless it is a real directory owned by the euid, closed to group and others. */
static int check_private_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(dir, &st) < 0) {
		pw_seterr(err, errlen, "socket directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		pw_seterr(err, errlen, "socket directory %s: is a symbolic link", dir);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		pw_seterr(err, errlen, "socket directory %s: not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		pw_seterr(err, errlen, "socket directory %s: owned by uid %u, not %u", dir,
		       (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	if (st.st_mode & 077) {
		pw_seterr(err, errlen, "socket directory %s: mode %04o allows group or other access",
		       dir, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* The socket directory's path: $XDG_RUNTIME_DIR/pywarm when that is an
 * absolute, existing directory, else /tmp/pywarm-$EUID. */
static int sockdir_path(char *out, size_t outlen)
{
	const char *rt = env_abs("XDG_RUNTIME_DIR");
	struct stat st;
	int n;

	if (rt != NULL && stat(rt, &st) == 0 && S_ISDIR(st.st_mode))
		n = snprintf(out, outlen, "%s%spywarm", rt,
		             rt[strlen(rt) - 1] == '/' ? "" : "/");
	else
		n = snprintf(out, outlen, "/tmp/pywarm-%u", (unsigned)geteuid());
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Find (and with create, make) the per-user socket directory and check it.
 * out holds the path whenever it fits, even when -1 is returned. */
int pw_sockdir(char *out, size_t outlen, int create, char *err, size_t errlen)
{
	if (outlen == 0 || sockdir_path(out, outlen) < 0) {
		pw_seterr(err, errlen, "socket directory: path too long");
		errno = ENAMETOOLONG;
		return -1;
	}
	if (create && mkdir(out, 0700) == 0) {
		/* Ours and new: undo whatever the umask took away from the owner. */
		if (chmod(out, 0700) < 0) {
			pw_seterr(err, errlen, "cannot set mode of socket directory %s: %s",
			       out, strerror(errno));
			return -1;
		}
	} else if (create && errno != EEXIST) {
		pw_seterr(err, errlen, "cannot create socket directory %s: %s", out, strerror(errno));
		return -1;
	}
	return check_private_dir(out, err, errlen);
}

/* mkdir -p path with mode 0700 for every directory created; path is
 * modified while working and restored. */
static int mkdirs(char *path, char *err, size_t errlen)
{
	struct stat st;
	char *slash = path;
	int r = 0;

	while (r == 0 && slash != NULL) {
		slash = strchr(slash + 1, '/');
		if (slash != NULL)
			*slash = '\0';
		if (stat(path, &st) < 0) {
			r = errno == ENOENT ? mkdir(path, 0700) : -1;
			if (r < 0 && errno == EEXIST)
				r = 0;     /* made by someone else meanwhile */
			if (r < 0)
				pw_seterr(err, errlen, "cannot create state directory %s: %s",
				       path, strerror(errno));
		}
		if (slash != NULL)
			*slash = '/';
	}
	return r;
}

/* The per-user state directory: $XDG_STATE_HOME/pywarm, else ~/.local/state/pywarm. */
int pw_statedir(char *out, size_t outlen, int create, char *err, size_t errlen)
{
	const char *base = env_abs("XDG_STATE_HOME"), *home = env_abs("HOME");
	struct stat st;
	int n;

	if (base == NULL && home == NULL) {
		pw_seterr(err, errlen, "state directory: neither XDG_STATE_HOME nor HOME is an absolute path");
		return -1;
	}
	n = base ? snprintf(out, outlen, "%s/pywarm", base)
	         : snprintf(out, outlen, "%s/.local/state/pywarm", home);
	if (n < 0 || (size_t)n >= outlen) {
		pw_seterr(err, errlen, "state directory: path too long");
		errno = ENAMETOOLONG;
		return -1;
	}
	if (create && mkdirs(out, err, errlen) < 0)
		return -1;
	if (stat(out, &st) < 0) {
		pw_seterr(err, errlen, "state directory %s: %s", out, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		pw_seterr(err, errlen, "state directory %s: not a directory", out);
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* Copy the value of "key = value" from line into out if the key matches. */
static void cfg_value(const char *line, const char *key, char *out, size_t outlen)
{
	size_t n = strlen(key), len;

	while (isspace((unsigned char)*line))
		line++;
	if (strncmp(line, key, n) != 0)
		return;
	line += n;
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line++ != '=')
		return;
	while (*line == ' ' || *line == '\t')
		line++;
	len = strcspn(line, "\r\n");
	while (len > 0 && isspace((unsigned char)line[len - 1]))
		len--;
	snprintf(out, outlen, "%.*s", (int)len, line);
}

/* Read home and version from the pyvenv.cfg that getpath would find for
 * exe (beside it, or one directory up).  Returns 1 if there is one. */
static int read_pyvenv(const char *exe, struct pw_interp *in)
{
	char dir[PATH_MAX], cfg[PATH_MAX + 16], line[PATH_MAX + 64];
	FILE *f = NULL;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", exe);
	for (int up = 0; up < 2 && f == NULL; up++) {
		if ((slash = strrchr(dir, '/')) == NULL)
			return 0;
		*slash = '\0';
		snprintf(cfg, sizeof(cfg), "%s/pyvenv.cfg", dir);
		f = fopen(cfg, "re");
	}
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		cfg_value(line, "home", in->venv_home, sizeof(in->venv_home));
		cfg_value(line, "version", in->venv_version, sizeof(in->venv_version));
	}
	fclose(f);
	return 1;
}

/* Decide which interpreter a run stands in for and whether it can be warm. */
void pw_interp_resolve(const struct pw_profile *p, struct pw_interp *in)
{
	const char *venv = getenv("VIRTUAL_ENV");
	char want[PATH_MAX], have[PATH_MAX];

	memset(in, 0, sizeof(*in));
	in->origin = "build";
	snprintf(in->path, sizeof(in->path), "%s", PW_PYTHON);
	if (p != NULL && p->interpreter != NULL) {
		in->origin = "[python] interpreter";
		snprintf(in->path, sizeof(in->path), "%s", p->interpreter);
	} else if (venv != NULL && venv[0] == '/') {
		snprintf(want, sizeof(want), "%s/bin/python", venv);
		if (access(want, X_OK) == 0) {
			in->origin = "VIRTUAL_ENV";
			snprintf(in->path, sizeof(in->path), "%s", want);
		}
	}
	in->warm = 1;
	if (realpath(in->path, have) == NULL || realpath(PW_PYTHON, want) == NULL ||
	    strcmp(have, want) != 0) {
		in->warm = 0;
		in->cold_why = "not the interpreter pywarm embeds (" PW_PYTHON ")";
	}
	if (read_pyvenv(in->path, in) && in->warm && in->venv_version[0] &&
	    strcmp(in->venv_version, PW_PYVERSION) != 0) {
		in->warm = 0;
		in->cold_why = "a venv made by another version than " PW_PYVERSION;
	}
}

int pw_flock_holder(dev_t dev, ino_t ino, long *pid)
{
	char line[256], kind[16], mode[16];
	unsigned int maj, min;
	unsigned long long n;
	int found = 0;
	FILE *f = fopen("/proc/locks", "re");

	/* "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; waiters have "->". */
	while (f && !found && fgets(line, sizeof(line), f))
		found = !strstr(line, "->") &&
		        sscanf(line, "%*s %15s %*s %15s %ld %x:%x:%llu", kind, mode, pid,
		               &maj, &min, &n) == 6 &&
		        strcmp(kind, "FLOCK") == 0 && strcmp(mode, "WRITE") == 0 &&
		        maj == major(dev) && min == minor(dev) && n == (unsigned long long)ino;
	if (f)
		fclose(f);
	return found;
}
