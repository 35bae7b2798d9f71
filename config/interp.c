/* interp.c: which interpreter a run means (profile, virtual environment, pyenv, PATH) and which installed zygote binary can be it. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "token.h"

#ifndef PW_PYTHON
#error "PW_PYTHON must name the real interpreter (the Makefile defines it)"
#endif
#ifndef PW_PYVERSION
#error "PW_PYVERSION must give its version (the Makefile defines it)"
#endif
/* Where the zygote binaries of an installation live, relative to the
 * directory of the launcher (the Makefile's ZYGOTEDIR). */
#ifndef PW_ZYGOTEDIR_REL
#define PW_ZYGOTEDIR_REL "../lib/pywarm/zygote"
#endif

#define ZYGOTE_NAME "pywarm-zygote"
#define COMMAND     "python3"           /* the command pywarm stands in for */
#define SHIM_HEAD   1024                /* bytes of a file read to tell a pyenv shim */
#define SHIM_MAX    16384               /* a larger file is no pyenv shim (they are ~300 bytes) */

/* The launcher, as PATH entries that are pywarm itself are recognised. */
struct self {
	char dir[PATH_MAX];         /* the directory of the running binary, or "" */
	char zdir[PATH_MAX];        /* the installation's zygote directory (when dir is set) */
	struct stat exe, pywarm;    /* it, and "pywarm" beside it (pywarmctl runs too) */
	int have_exe, have_pywarm;
	int installed;              /* the installation's zygote directory exists */
};

/* Fill in's cold reason. */
__attribute__((format(printf, 2, 3)))
static void cold(struct pw_interp *in, const char *fmt, ...)
{
	va_list ap;

	in->warm = 0;
	va_start(ap, fmt);
	vsnprintf(in->cold_why, sizeof(in->cold_why), fmt, ap);
	va_end(ap);
}

/* Copy src into a fixed buffer; 0, or -1 when it does not fit. */
static int copy(char *out, size_t outlen, const char *src)
{
	return (size_t)snprintf(out, outlen, "%s", src) >= outlen ? -1 : 0;
}

/* path with every symbolic link resolved, as the kernel names the file it
 * opens (three system calls where realpath(3) takes one per component).
 * 0, or -1 with errno; st, unless NULL, gets the file's status. */
static int resolve(const char *path, char *out, size_t outlen, struct stat *st)
{
	char proc[32];
	ssize_t n;
	int fd = open(path, O_PATH | O_CLOEXEC), e;

	if (fd < 0)
		return -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = st != NULL && fstat(fd, st) < 0 ? -1 : readlink(proc, out, outlen);
	e = errno;
	close(fd);
	if (n <= 0 || (size_t)n >= outlen || out[0] != '/') {
		errno = n < 0 ? e : ENAMETOOLONG;
		return -1;
	}
	out[n] = '\0';
	return 0;
}

/* dir (absolute) joined with rel, whose leading "../" go up from dir; an
 * absolute rel stands alone. */
static int join_rel(const char *dir, const char *rel, char *out, size_t outlen)
{
	size_t n = strlen(dir);

	if (rel[0] == '/')
		return copy(out, outlen, rel);

	while (strncmp(rel, "../", 3) == 0 && n > 1) {
		while (n > 1 && dir[n - 1] != '/')
			n--;
		if (n > 1)
			n--;               /* the slash, unless it is the root's */
		rel += 3;
	}
	return (size_t)snprintf(out, outlen, "%.*s%s%s", (int)n, dir,
	                        n > 0 && dir[n - 1] == '/' ? "" : "/", rel) >= outlen ? -1 : 0;
}

/* The running binary's directory and identity, and its sibling pywarm's. */
static void self_find(struct self *s)
{
	char buf[PATH_MAX];
	struct stat st;
	ssize_t n = readlink("/proc/self/exe", s->dir, sizeof(s->dir) - 1);
	char *slash;

	memset(&s->exe, 0, sizeof(s->exe));
	s->have_exe = s->have_pywarm = s->installed = 0;
	if (n <= 0 || (s->dir[n] = '\0', (slash = strrchr(s->dir, '/')) == NULL)) {
		s->dir[0] = '\0';
		return;
	}
	/* The name the kernel gives it is a stat of a plain path away; only a
	 * binary deleted or replaced since (" (deleted)") needs /proc. */
	s->have_exe = stat(s->dir, &s->exe) == 0 || stat("/proc/self/exe", &s->exe) == 0;
	*slash = '\0';
	/* pywarmctl (or a renamed copy) also knows the pywarm beside it. */
	if (strcmp(slash + 1, "pywarm") != 0 &&
	    (size_t)snprintf(buf, sizeof(buf), "%s/pywarm", s->dir) < sizeof(buf))
		s->have_pywarm = stat(buf, &s->pywarm) == 0;
	/* make install always makes it; a build directory has none. */
	s->installed = join_rel(s->dir, PW_ZYGOTEDIR_REL, s->zdir, sizeof(s->zdir)) == 0 &&
	               stat(s->zdir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Is st the file of the launcher itself (a link to pywarm on PATH)? */
static int is_self(const struct self *s, const struct stat *st)
{
	return (s->have_exe && st->st_dev == s->exe.st_dev && st->st_ino == s->exe.st_ino) ||
	       (s->have_pywarm && st->st_dev == s->pywarm.st_dev && st->st_ino == s->pywarm.st_ino);
}

/* May we execute the file st (named path)?  Asked of the kernel only when
 * its mode does not already say "anyone". */
static int executable(const char *path, const struct stat *st)
{
	return S_ISREG(st->st_mode) &&
	       ((st->st_mode & 0111) == 0111 || access(path, X_OK) == 0);
}

/* Does the PATH entry at p (n bytes) occur earlier in path?  (Looked at
 * already: PATH often names a directory twice.) */
static int seen_before(const char *path, const char *p, size_t n)
{
	for (const char *q = path, *e; q < p; q = e + 1) {
		e = strchrnul(q, ':');
		if ((size_t)(e - q) == n && strncmp(q, p, n) == 0)
			return 1;
	}
	return 0;
}

/* Search PATH as execvp(3) would for COMMAND, passing over pywarm itself
 * and, when skip is given, that directory; from *at (NULL: PATH's start),
 * which is left after the entry found.  1 with out set, 0 if none. */
static int path_search(const struct self *s, const char **at, const char *skip,
                       char *out, size_t outlen, struct stat *found)
{
	const char *p = *at, *end, *path = getenv("PATH");
	struct stat st;

	if (path == NULL)
		path = "/bin:/usr/bin";            /* execvp's default */
	if (p == NULL)
		p = path;
	for (; ; p = end + 1) {
		size_t n;

		end = strchrnul(p, ':');
		n = (size_t)(end - p);
		if (!(skip != NULL && strlen(skip) == n && strncmp(p, skip, n) == 0) &&
		    !seen_before(path, p, n) &&
		    (size_t)snprintf(out, outlen, "%.*s%s" COMMAND, n ? (int)n : 1, n ? p : ".",
		                     n == 0 || p[n - 1] != '/' ? "/" : "") < outlen &&
		    stat(out, &st) == 0 && executable(out, &st) && !is_self(s, &st)) {
			*at = *end ? end + 1 : end;
			if (found != NULL)
				*found = st;
			return 1;
		}
		if (*end == '\0') {
			*at = end;
			return 0;
		}
	}
}

/* If the file at path (of status st) is a pyenv shim, the PYENV_ROOT it
 * exports into root: 1; 0 for any other program.  A file larger than any
 * shim (an interpreter binary) is not opened. */
static int pyenv_shim(const char *path, const struct stat *st, char *root, size_t rootlen)
{
	char head[SHIM_HEAD + 1];
	const char *r, *q;
	ssize_t n;
	int fd;

	if (st->st_size > SHIM_MAX ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return 0;
	n = read(fd, head, SHIM_HEAD);
	close(fd);
	if (n < 2 || head[0] != '#' || head[1] != '!')
		return 0;
	head[n] = '\0';
	if (strstr(head, "/libexec/pyenv\" exec ") == NULL ||
	    (r = strstr(head, "export PYENV_ROOT=\"")) == NULL)
		return 0;
	r += strlen("export PYENV_ROOT=\"");
	if ((q = strchr(r, '"')) == NULL || q == r || *r != '/' || (size_t)(q - r) >= rootlen)
		return 0;
	snprintf(root, rootlen, "%.*s", (int)(q - r), r);
	return 1;
}

/* Read a pyenv version file as pyenv-version-file-read does: the first
 * word of each line that is neither empty nor a comment, joined with ':'.
 * 1 with out set (possibly ""), 0 when the file is empty or missing, -1
 * when it cannot be read or says more than pywarm can follow. */
static int version_file(const char *file, char *out, size_t outlen)
{
	char buf[4096];
	struct pw_tok lines;
	const char *line, *word;
	size_t k = 0, len;
	ssize_t n;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0 || n == sizeof(buf) - 1)
		return -1;
	if (n == 0)
		return 0;
	buf[n] = '\0';
	out[0] = '\0';
	pw_tok_init(&lines, buf, strlen(buf), "\n", PW_TOK_SKIP_EMPTY);
	while (pw_tok_next(&lines, &line, &len)) {
		struct pw_tok words;
		size_t w;

		pw_tok_init(&words, line, len, " \t\r\v\f", PW_TOK_SKIP_EMPTY);
		if (!pw_tok_next(&words, &word, &w) || word[0] == '#')
			continue;
		if (k + w + 2 >= outlen)
			return -1;
		k += (size_t)snprintf(out + k, outlen - k, "%s%.*s", k ? ":" : "", (int)w, word);
	}
	return 1;
}

/* The logical working directory, as bash gives pyenv $PWD: PWD when it
 * names the working directory, else its physical path.  A PWD that spells
 * the physical path needs no stat of either.  1 when out is the physical
 * path (each "../" from the working directory then cuts one component
 * from it), 0 for another PWD, -1 if there is none. */
static int logical_cwd(char *out, size_t outlen)
{
	const char *pwd = getenv("PWD");
	char phys[PATH_MAX];
	struct stat a, b;

	if (getcwd(phys, sizeof(phys)) == NULL)
		phys[0] = '\0';
	if (pwd != NULL && pwd[0] == '/' && strcmp(pwd, phys) != 0 &&
	    stat(pwd, &a) == 0 && stat(".", &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino && copy(out, outlen, pwd) == 0)
		return 0;
	return phys[0] == '/' && copy(out, outlen, phys) == 0 ? 1 : -1;
}

/* pyenv's version, as pyenv-version-name finds it: PYENV_VERSION, else
 * .python-version upward from the working directory, else the global
 * version file.  origin says which.  0, or -1 with why when pywarm cannot
 * follow (PYENV_DIR elsewhere, an unreadable file). */
static int pyenv_version(const char *root, char *ver, size_t verlen, char *origin,
                         size_t originlen, char *why, size_t whylen)
{
	const char *env = getenv("PYENV_VERSION"), *dir = getenv("PYENV_DIR"), *look;
	char cwd[PATH_MAX], file[PATH_MAX + 32], rel[PATH_MAX + 32];
	struct stat st;
	int physical, r;

	if (env != NULL && env[0] != '\0') {
		snprintf(origin, originlen, "pyenv: PYENV_VERSION");
		return copy(ver, verlen, env) < 0 ? (snprintf(why, whylen, "PYENV_VERSION too long"), -1) : 0;
	}
	if ((physical = logical_cwd(cwd, sizeof(cwd))) < 0) {
		snprintf(why, whylen, "the working directory has no path");
		return -1;
	}
	if (dir != NULL && dir[0] != '\0' && strcmp(dir, cwd) != 0) {
		snprintf(why, whylen, "PYENV_DIR names another directory than the working one");
		return -1;
	}
	/* Upward by cutting components off cwd; for the physical path, looked
	 * up as "../../.python-version" from the working directory, which
	 * walks less than the whole path each time (and the whole path is
	 * asked when that fails for another reason than there being none). */
	for (size_t n = strlen(cwd), up = 0; ; up++) {
		while (n > 0 && cwd[n - 1] == '/')
			n--;
		snprintf(file, sizeof(file), "%.*s/.python-version", (int)n, cwd);
		look = file;
		if (physical && 3 * up + sizeof(".python-version") <= sizeof(rel)) {
			memcpy(rel + 3 * up, ".python-version", sizeof(".python-version"));
			look = rel;
		}
		r = stat(look, &st);
		/* "../" needs search permission where the whole path may not. */
		if (r < 0 && look == rel && errno != ENOENT)
			r = stat(look = file, &st);
		if (r == 0 && S_ISREG(st.st_mode))
			goto found;
		if (n == 0)
			break;
		while (n > 0 && cwd[n - 1] != '/')
			n--;
		if (3 * up + 3 <= sizeof(rel))
			memcpy(rel + 3 * up, "../", 3);
	}
	snprintf(file, sizeof(file), "%s/version", root);
	look = file;
found:
	snprintf(origin, originlen, "pyenv: %s", file);
	if ((r = version_file(look, ver, verlen)) < 0) {
		snprintf(why, whylen, "cannot read %s", file);
		return -1;
	}
	if (r == 0)
		ver[0] = '\0';
	return 0;
}

/* <root>/versions/<v>/bin/python3 into in->path: 1 if it is executable,
 * 0 if <root>/versions/<v> is a directory without one, -1 if there is no
 * such directory (looked at only when the interpreter is not there). */
static int pyenv_bin(const char *root, const char *v, struct pw_interp *in)
{
	char dir[PATH_MAX + 300];
	struct stat st;

	if ((size_t)snprintf(in->path, sizeof(in->path), "%s/versions/%s/bin/" COMMAND,
	                     root, v) < sizeof(in->path) && access(in->path, X_OK) == 0)
		return 1;
	snprintf(dir, sizeof(dir), "%s/versions/%s", root, v);
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

/* The interpreter a pyenv shim at shim would run: the version's
 * bin/python3, or for "system" the next python3 on PATH after the shims
 * (rest: PATH after the shim's entry; those before it have none).
 * 1 with in->path set and its status in *st, 0 with in->path alone, or -1
 * with in->cold_why (pywarm cannot be sure; the run then executes the shim
 * itself). */
static int pyenv_resolve(const struct self *s, const char *shim, const char *root,
                         const char *rest, struct pw_interp *in, struct stat *st)
{
	char ver[256], why[PATH_MAX + 64], shims[PATH_MAX + 8];
	const char *v = ver;
	int r;

	snprintf(shims, sizeof(shims), "%s/shims", root);
	if (strncmp(shim, shims, strlen(shims)) != 0 || shim[strlen(shims)] != '/') {
		cold(in, "a pyenv shim outside %s", shims);
		return -1;
	}
	if (getenv("_PYENV_SHIM_PATHS_PYTHON3") != NULL) {
		cold(in, "pyenv's choice is not certain: _PYENV_SHIM_PATHS_PYTHON3 is set");
		return -1;
	}
	if (pyenv_version(root, ver, sizeof(ver), in->origin, sizeof(in->origin),
	                  why, sizeof(why)) < 0) {
		cold(in, "pyenv's choice is not certain: %s", why);
		return -1;
	}
	if (ver[0] == '\0' || strcmp(ver, "system") == 0) {
		if (*rest != '\0' && path_search(s, &rest, shims, in->path, sizeof(in->path), st) == 1)
			return 1;
		cold(in, "pyenv's \"system\" has no %s on PATH", COMMAND);
		return -1;
	}
	if (strchr(ver, ':') != NULL || strchr(ver, '/') != NULL || strcmp(ver, "..") == 0) {
		cold(in, "pyenv version '%s' is more than one plain version", ver);
		return -1;
	}
	r = pyenv_bin(root, v, in);
	if (r < 0 && strncmp(v, "python-", 7) == 0)
		r = pyenv_bin(root, v += 7, in);
	if (r < 0)
		cold(in, "pyenv version '%s' is not installed by that name", ver);
	else if (r == 0)
		cold(in, "pyenv version '%s' has no bin/%s", v, COMMAND);
	return r > 0 ? 0 : -1;
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

/* Take home and version from one line of a pyvenv.cfg. */
static void pyvenv_line(const char *line, struct pw_interp *in)
{
	cfg_value(line, "home", in->venv_home, sizeof(in->venv_home));
	cfg_value(line, "version", in->venv_version, sizeof(in->venv_version));
}

/* Take home and version from each line of the pyvenv.cfg open on fd, of
 * size bytes when it was looked at: reading stops there or at the end, so
 * one read takes any real one (a size of 0 reads to the end).  A line
 * longer than the buffer counts as several.  0, or -1 with errno. */
static int pyvenv_lines(int fd, off_t size, struct pw_interp *in)
{
	char buf[8192], *line, *nl;
	const size_t cap = sizeof(buf) - 1;
	size_t have = 0;
	off_t done = 0;
	ssize_t n;
	int end;

	do {
		if ((n = read(fd, buf + have, cap - have)) < 0)
			return -1;
		have += (size_t)n;
		done += n;
		end = n == 0 || (size > 0 && done >= size);   /* size 0: not known */
		buf[have] = '\0';
		for (line = buf; (nl = memchr(line, '\n', (size_t)(buf + have - line))) != NULL; line = nl + 1) {
			*nl = '\0';
			pyvenv_line(line, in);
		}
		if (end || (line == buf && have == cap)) {   /* the last line, or a long one's part */
			pyvenv_line(line, in);
			line = buf + have;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
	} while (!end);
	return 0;
}

/* Read home and version from the pyvenv.cfg that getpath would find for
 * exe (beside it, or one directory up; a stat tells which, as a failed
 * open costs more, and getpath too passes over a directory of that name).
 * 1 if there is one, 0 if not, -1 with in->cold_why when it cannot be
 * read (python3 would not start). */
static int read_pyvenv(const char *exe, struct pw_interp *in)
{
	char dir[PATH_MAX], cfg[PATH_MAX + 16];
	struct stat st;
	char *slash;
	int fd = -1, r;

	snprintf(dir, sizeof(dir), "%s", exe);
	for (int up = 0; up < 2 && fd < 0; up++) {
		if ((slash = strrchr(dir, '/')) == NULL)
			return 0;
		*slash = '\0';
		snprintf(cfg, sizeof(cfg), "%s/pyvenv.cfg", dir);
		if (stat(cfg, &st) == 0 && S_ISREG(st.st_mode))
			fd = open(cfg, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	}
	if (fd < 0)
		return 0;
	r = pyvenv_lines(fd, st.st_size, in);
	if (r < 0)
		cold(in, "cannot read %s: %s", cfg, strerror(errno));
	close(fd);
	return r < 0 ? -1 : 1;
}

/* 64-bit FNV-1a of s. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* The name of the directory holding the zygote binary for the interpreter
 * whose resolved path is real, of version: "<version>-<16 hex digits>". */
void pw_interp_tag(const char *real, const char *version, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-%016llx", version, (unsigned long long)fnv1a(real));
}

/* The zygote binary of the installation beside s for in->path: the
 * pywarm-zygote beside it when that is the build's own interpreter (build),
 * else <zygote dir>/<version>-<hash of in->real>/pywarm-zygote, found
 * through the link <zygote dir>/<hash> that make install makes.  1 with
 * in->zygote and in->zygote_version set, 0 if there is none. */
static int zygote_for(const struct self *s, int build, struct pw_interp *in)
{
	char dir[PATH_MAX + 64], hash[17], name[64];
	ssize_t n;

	if (s->dir[0] == '\0')
		return 0;
	if (build &&
	    (size_t)snprintf(in->zygote, sizeof(in->zygote), "%s/" ZYGOTE_NAME, s->dir) < sizeof(in->zygote) &&
	    access(in->zygote, X_OK) == 0) {
		snprintf(in->zygote_version, sizeof(in->zygote_version), "%s", PW_PYVERSION);
		return 1;
	}
	in->zygote[0] = '\0';
	if (!s->installed ||
	    (in->real[0] == '\0' && resolve(in->path, in->real, sizeof(in->real), NULL) < 0))
		return 0;
	/* <hash> is a link to <version>-<hash>: one readlink, no directory scan. */
	snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)fnv1a(in->real));
	snprintf(dir, sizeof(dir), "%s/%s", s->zdir, hash);
	n = readlink(dir, name, sizeof(name) - 1);
	if (n <= 17 || (size_t)n - 17 >= sizeof(in->zygote_version))
		return 0;
	name[n] = '\0';
	if (strchr(name, '/') != NULL || name[n - 17] != '-' || strcmp(name + n - 16, hash) != 0)
		return 0;
	if ((size_t)snprintf(in->zygote, sizeof(in->zygote), "%s/%s/" ZYGOTE_NAME,
	                     s->zdir, name) >= sizeof(in->zygote) || access(in->zygote, X_OK) < 0) {
		in->zygote[0] = '\0';
		return 0;
	}
	snprintf(in->zygote_version, sizeof(in->zygote_version), "%.*s", (int)(n - 17), name);
	return 1;
}

/* Is the file st the build's interpreter (path: the name it was found by)? */
static int is_build(const char *path, const struct stat *st)
{
	struct stat bst;

	return strcmp(path, PW_PYTHON) == 0 ||
	       (stat(PW_PYTHON, &bst) == 0 && bst.st_dev == st->st_dev && bst.st_ino == st->st_ino);
}

/* Decide whether in->path can be served warm, and by which zygote binary.
 * in->real is filled where it is needed, or with want_real; known: the
 * path's status if the caller has it. */
static void classify(const struct self *s, struct pw_interp *in, int want_real,
                     const struct stat *known)
{
	struct stat st;
	int build;

	if (known != NULL)
		st = *known;
	else if (stat(in->path, &st) < 0) {
		cold(in, "cannot run %s: %s", in->path, strerror(errno));
		return;
	}
	build = is_build(in->path, &st);
	if ((want_real || !build) && resolve(in->path, in->real, sizeof(in->real), NULL) < 0) {
		cold(in, "cannot resolve %s: %s", in->path, strerror(errno));
		return;
	}
	if (read_pyvenv(in->path, in) < 0)
		return;
	if (!zygote_for(s, build, in)) {
		in->no_zygote = 1;
		cold(in, "no zygote binary is installed for %s", in->real[0] ? in->real : in->path);
		return;
	}
	if (in->venv_version[0] && strcmp(in->venv_version, in->zygote_version) != 0) {
		cold(in, "a venv made by version %s; its base's zygote embeds %s",
		     in->venv_version, in->zygote_version);
		return;
	}
	in->warm = 1;
}

/* Empty every field of in, its strings "" (see config.h). */
void pw_interp_clear(struct pw_interp *in)
{
	in->path[0] = in->origin[0] = in->cold_why[0] = in->real[0] = '\0';
	in->zygote[0] = in->zygote_version[0] = in->venv_home[0] = in->venv_version[0] = '\0';
	in->warm = in->no_zygote = 0;
}

/* The interpreter the command python3 would have run here: the
 * profile's, an active venv's, then for an installed launcher pyenv's
 * choice behind a shim or the first python3 on PATH; else the build's. */
void pw_interp_resolve(const struct pw_profile *p, struct pw_interp *in)
{
	const char *venv = getenv("VIRTUAL_ENV");
	char root[PATH_MAX], shim[PATH_MAX];
	const char *rest = NULL;
	struct stat st, *known = NULL;     /* in->path's status, when looked at already */
	struct self s;

	pw_interp_clear(in);
	self_find(&s);
	if (p != NULL && p->interpreter != NULL) {
		copy(in->origin, sizeof(in->origin), "[python] interpreter");
		copy(in->path, sizeof(in->path), p->interpreter);
	} else if (venv != NULL && venv[0] == '/' &&
	           (size_t)snprintf(in->path, sizeof(in->path), "%s/bin/python", venv) < sizeof(in->path) &&
	           access(in->path, X_OK) == 0) {
		copy(in->origin, sizeof(in->origin), "VIRTUAL_ENV");
	} else if (s.installed && path_search(&s, &rest, NULL, shim, sizeof(shim), &st) == 1) {
		known = &st;
		copy(in->origin, sizeof(in->origin), "PATH");
		copy(in->path, sizeof(in->path), shim);
		if (pyenv_shim(shim, &st, root, sizeof(root))) {
			int r = pyenv_resolve(&s, shim, root, rest, in, &st);

			if (r < 0) {
				copy(in->path, sizeof(in->path), shim);   /* not sure: run what python3 would */
				return;
			}
			known = r > 0 ? &st : NULL;
		}
	} else {
		copy(in->origin, sizeof(in->origin), "build");
		copy(in->path, sizeof(in->path), PW_PYTHON);
	}
	classify(&s, in, 0, known);
}

/* Can this binary, which embeds PW_PYTHON, be the interpreter at path?
 * (The zygote's check of what the launcher resolved.) */
void pw_interp_embedded(const char *path, const char *origin, struct pw_interp *in)
{
	struct stat st, bst;

	pw_interp_clear(in);
	copy(in->path, sizeof(in->path), path);
	copy(in->origin, sizeof(in->origin), origin);
	copy(in->zygote_version, sizeof(in->zygote_version), PW_PYVERSION);
	if (resolve(in->path, in->real, sizeof(in->real), &st) < 0) {
		cold(in, "cannot resolve %s: %s", in->path, strerror(errno));
		return;
	}
	if (read_pyvenv(in->path, in) < 0)
		return;
	if (stat(PW_PYTHON, &bst) < 0 || bst.st_dev != st.st_dev || bst.st_ino != st.st_ino) {
		cold(in, "not the interpreter this zygote embeds (%s)", PW_PYTHON);
		return;
	}
	if (in->venv_version[0] && strcmp(in->venv_version, PW_PYVERSION) != 0) {
		cold(in, "a venv made by another version than %s", PW_PYVERSION);
		return;
	}
	in->warm = 1;
}

/* The tag of the interpreter this binary embeds (pywarm-zygote --tag). */
int pw_interp_own_tag(char *out, size_t outlen)
{
	char build[PATH_MAX];
	struct stat st;

	if (resolve(PW_PYTHON, build, sizeof(build), &st) < 0)
		return -1;
	pw_interp_tag(build, PW_PYVERSION, out, outlen);
	return 0;
}

/* Classify the interpreter at path as pw_interp_resolve would, had it
 * chosen that one (pywarmctl interpreters). */
void pw_interp_for(const char *path, const char *origin, struct pw_interp *in)
{
	struct self s;

	pw_interp_clear(in);
	self_find(&s);
	copy(in->path, sizeof(in->path), path);
	copy(in->origin, sizeof(in->origin), origin);
	classify(&s, in, 1, NULL);
}

/* Call fn for every python3 on PATH that is not pywarm and, behind a pyenv
 * shim there, every installed pyenv version's bin/python3. */
void pw_interp_each(pw_interp_fn *fn, void *arg)
{
	const char *path = getenv("PATH"), *p, *end;
	char file[PATH_MAX], root[PATH_MAX] = "", vdir[PATH_MAX + 16];
	struct dirent **names;
	struct stat st;
	struct self s;
	int n;

	self_find(&s);
	for (p = path ? path : "/bin:/usr/bin"; ; p = end + 1) {
		size_t len;

		end = strchrnul(p, ':');
		len = (size_t)(end - p);
		if (len > 0 && p[0] == '/' &&
		    (size_t)snprintf(file, sizeof(file), "%.*s/" COMMAND, (int)len, p) < sizeof(file) &&
		    stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0 &&
		    !is_self(&s, &st)) {
			if (pyenv_shim(file, &st, root, sizeof(root)) == 0)
				fn(arg, file, "PATH");
		}
		if (*end == '\0')
			break;
	}
	if (root[0] == '\0')
		return;
	snprintf(vdir, sizeof(vdir), "%s/versions", root);
	if ((n = scandir(vdir, &names, NULL, versionsort)) < 0)
		return;
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' &&
		    (size_t)snprintf(file, sizeof(file), "%s/%s/bin/" COMMAND, vdir,
		                     names[i]->d_name) < sizeof(file) &&
		    access(file, X_OK) == 0)
			fn(arg, file, "pyenv version");
		free(names[i]);
	}
	free(names);
}

/* The directory of this installation's per-interpreter zygote binaries. */
int pw_interp_zygote_dir(char *out, size_t outlen)
{
	struct self s;

	self_find(&s);
	if (s.dir[0] == '\0')
		return -1;
	return copy(out, outlen, s.zdir);
}
