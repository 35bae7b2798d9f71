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
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "config.h"
#include "procfs.h"

#define USER_PROFILE "pywarm.ini"   /* in pw_xdg_dir(PW_XDG_CONFIG) */


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

/* Where discovery reports a file it ignores. */
struct skips {
	pw_skip_fn *fn;
	void *arg;
};

/* Is path a profile discovery uses?  A file it ignores (another user's, or
 * in a directory others can write) goes to the skip callback and the
 * search goes on as if it were not there. */
static int usable(const char *path, const struct skips *sk)
{
	char why[PATH_MAX + 200];
	int r = pw_profile_probe(path, why, sizeof(why));

	if (r == 2 && sk->fn != NULL)
		sk->fn(sk->arg, path, why);
	return r == 1;
}

/* Look for .pywarm.ini in cwd and each parent up to /.  Returns 1 (found,
 * *path set), 0 (none) or -1 (out of memory). */
static int find_project(const char *cwd, char **path, const struct skips *sk)
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
		if (usable(buf, sk)) {
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
static int find_user(char **path, const struct skips *sk)
{
	char dir[PATH_MAX];
	char *p;

	if (pw_xdg_dir(PW_XDG_CONFIG, dir, sizeof dir, NULL, 0) < 0)
		return 0;
	if ((p = join(dir, USER_PROFILE)) == NULL)
		return -1;
	if (usable(p, sk)) {
		*path = p;
		return 1;
	}
	free(p);
	return 0;
}

/* Decide which profile applies in cwd: $PYWARM_PROFILE, a project file, the
 * user's file, or the built-in default (path NULL). */
int pw_profile_find_noting(const char *cwd, char **path, int *source, pw_skip_fn *skip,
                           void *arg, char *err, size_t errlen)
{
	const char *v = getenv("PYWARM_PROFILE");
	struct skips sk = { skip, arg };
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
	r = find_project(cwd, path, &sk);
	if (r > 0)
		*source = PW_SRC_PROJECT;
	if (r == 0 && (r = find_user(path, &sk)) > 0)
		*source = PW_SRC_USER;
	if (r < 0) {
		pw_seterr(err, errlen, "cannot look for a profile: %s", strerror(ENOMEM));
		return -1;
	}
	return 0;
}

/* The same, without telling which files were ignored. */
int pw_profile_find(const char *cwd, char **path, int *source, char *err, size_t errlen)
{
	return pw_profile_find_noting(cwd, path, source, NULL, NULL, err, errlen);
}

/* ---- directories and files pywarm relies on ----------------------------- */

/* Is gid the user's private group (user private groups, umask 002): the
 * euid's primary group, named after the user, with no other members?  Then
 * a group-writable directory is writable by the user alone.  Asked only
 * for such a directory, since it looks up the group and user databases. */
static int private_group(gid_t gid)
{
	struct passwd *pw;
	struct group *gr;

	if (gid != getegid() || (gr = getgrgid(gid)) == NULL ||
	    (gr->gr_mem != NULL && gr->gr_mem[0] != NULL))
		return 0;
	pw = getpwuid(geteuid());
	return pw != NULL && strcmp(pw->pw_name, gr->gr_name) == 0;
}

/* Is st a directory that only the euid (or, with PW_DIR_ROOT_OK, root) can
 * add entries to?  0, or -1 with the reason in why. */
int pw_dir_check(const struct stat *st, int flags, char *why, size_t whylen)
{
	uid_t me = geteuid();
	mode_t m = st->st_mode;

	if (!S_ISDIR(m)) {
		pw_seterr(why, whylen, "not a directory");
		return -1;
	}
	if (st->st_uid != me && !((flags & PW_DIR_ROOT_OK) && st->st_uid == 0)) {
		pw_seterr(why, whylen, "owned by uid %u, not %u%s", (unsigned)st->st_uid,
		          (unsigned)me, (flags & PW_DIR_ROOT_OK) && me != 0 ? " or root" : "");
		return -1;
	}
	if ((flags & PW_DIR_PRIVATE) && (m & 077)) {
		pw_seterr(why, whylen, "mode %04o allows group or other access",
		          (unsigned)(m & 07777));
		return -1;
	}
	/* Sticky: others may add names but never replace ours; only the
	 * trace accepts that, since it also checks the file (pw_private_openat). */
	if ((m & (S_IWGRP | S_IWOTH)) && !((flags & PW_DIR_STICKY_OK) && (m & S_ISVTX)) &&
	    !(!(m & S_IWOTH) && st->st_uid == me && private_group(st->st_gid))) {
		pw_seterr(why, whylen, "mode %04o lets group or others write to it",
		          (unsigned)(m & 07777));
		return -1;
	}
	return 0;
}

/* mkdir one missing directory (0700, whatever the umask), but only inside
 * a directory owned by the euid or root: pywarm never makes its
 * directories inside another user's. */
static int make_one(const char *what, char *path, char *err, size_t errlen)
{
	char *up = strrchr(path, '/');
	struct stat st;
	int fd, r;

	*up = '\0';
	r = stat(up == path ? "/" : path, &st);
	*up = '/';
	if (r == 0 && st.st_uid != geteuid() && st.st_uid != 0) {
		pw_seterr(err, errlen, "cannot create %s %s: its parent is owned by uid %u",
		          what, path, (unsigned)st.st_uid);
		errno = EPERM;
		return -1;
	}
	if (r < 0 || (mkdir(path, 0700) < 0 && errno != EEXIST)) {   /* EEXIST: made meanwhile */
		pw_seterr(err, errlen, "cannot create %s %s: %s", what, path, strerror(errno));
		return -1;
	}
	/* Ours and new: undo whatever the umask took away from the owner. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 07777) != 0700 &&
	    fchmod(fd, 0700) < 0) {
		pw_seterr(err, errlen, "cannot set mode of %s %s: %s", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

/* Make path if it is missing, and with parents each missing directory
 * above it (path is modified while working and restored). */
static int make_dir(const char *what, char *path, int parents, char *err, size_t errlen)
{
	struct stat st;
	char *slash = parents ? path : NULL;
	int r = 0;

	do {
		slash = slash ? strchr(slash + 1, '/') : NULL;
		if (slash != NULL)
			*slash = '\0';
		if (lstat(path, &st) == 0)
			r = 0;
		else if (errno == ENOENT)
			r = make_one(what, path, err, errlen);
		else {
			pw_seterr(err, errlen, "cannot create %s %s: %s", what, path, strerror(errno));
			r = -1;
		}
		if (slash != NULL)
			*slash = '/';
	} while (r == 0 && slash != NULL);
	return r;
}

/* mkdir -p for a directory of pywarm's own (absolute path): each missing
 * one 0700, and only inside directories of the user's or root's. */
int pw_mkdir_p(const char *what, const char *path, char *err, size_t errlen)
{
	char buf[PATH_MAX];

	if (path[0] != '/' || snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		pw_seterr(err, errlen, "cannot create %s %s: not an absolute path that fits", what, path);
		return -1;
	}
	return make_dir(what, buf, 1, err, errlen);
}

/* Open directory path (absolute) for openat() after pw_dir_check(flags);
 * its last component must not be a symbolic link.  With create (1: the
 * directory, 2: parents too), make what is missing first.  An O_PATH fd,
 * or -1 with "WHAT PATH: reason" in err. */
int pw_dir_open(const char *what, const char *path, int flags, int create,
                char *err, size_t errlen)
{
	char buf[PATH_MAX], why[160];
	struct stat st;
	int fd;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		pw_seterr(err, errlen, "%s %s: path too long", what, path);
		errno = ENAMETOOLONG;
		return -1;
	}
	if (create && make_dir(what, buf, create > 1, err, errlen) < 0)
		return -1;
	fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if ((e == ENOTDIR || e == ELOOP) && lstat(path, &st) == 0)
			pw_seterr(err, errlen, "%s %s: %s", what, path,
			          S_ISLNK(st.st_mode) ? "is a symbolic link" : "not a directory");
		else
			pw_seterr(err, errlen, "%s %s: %s", what, path, strerror(e));
		errno = e;
		return -1;
	}
	if (fstat(fd, &st) < 0)
		snprintf(why, sizeof(why), "%s", strerror(errno));
	else if (pw_dir_check(&st, flags, why, sizeof(why)) == 0)
		return fd;
	pw_seterr(err, errlen, "%s %s: %s", what, path, why);
	close(fd);
	errno = EPERM;
	return -1;
}

/* Open name in the verified directory dfd (called dir in messages) without
 * following a symbolic link, and keep it only if it is a regular file of
 * the euid's with one link: a state, log or trace file.  oflags are
 * open(2)'s (O_CREAT makes it 0600).  The fd, or -1 with err. */
int pw_private_openat(int dfd, const char *dir, const char *name, int oflags,
                      char *err, size_t errlen)
{
	struct stat st;
	const char *why = NULL;
	char buf[96];
	int fd, fl;

	/* O_NONBLOCK: a FIFO planted in a sticky directory cannot hang us. */
	fd = openat(dfd, name, oflags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0) {
		pw_seterr(err, errlen, "cannot open %s/%s: %s", dir, name,
		          errno == ELOOP ? "is a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_uid != geteuid())
		why = (snprintf(buf, sizeof(buf), "owned by uid %u, not %u", (unsigned)st.st_uid,
		                (unsigned)geteuid()), buf);
	else if (st.st_nlink != 1)
		why = (snprintf(buf, sizeof(buf), "has %lu hard links", (unsigned long)st.st_nlink), buf);
	fl = why ? -1 : fcntl(fd, F_GETFL);
	if (why == NULL && (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0))
		why = strerror(errno);
	if (why != NULL) {
		pw_seterr(err, errlen, "refusing %s/%s: %s", dir, name, why);
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* pw_dir_open(what, the directory of path, dflags, create) and then
 * pw_private_openat(its last component, oflags). */
int pw_private_open(const char *what, const char *path, int dflags, int create, int oflags,
                    char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int dfd, fd, e;

	if (path[0] != '/' || slash[1] == '\0' || (size_t)(slash - path) >= sizeof(dir)) {
		pw_seterr(err, errlen, "%s %s: not an absolute path to a file", what, path);
		errno = EINVAL;
		return -1;
	}
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if ((dfd = pw_dir_open(what, dir, dflags, create, err, errlen)) < 0)
		return -1;
	fd = pw_private_openat(dfd, dir[1] ? dir : "", slash + 1, oflags, err, errlen);
	e = errno;
	close(dfd);
	errno = e;
	return fd;
}

const char *pw_zfile_suffix(enum pw_zfile kind)
{
	static const char *const suffix[] = {
		[PW_ZSOCK] = ".sock", [PW_ZLOCK] = ".lock", [PW_ZNOTICE] = ".notice",
		[PW_ZPROGRESS] = ".progress", [PW_ZLOG] = ".log",
	};

	return suffix[kind];
}

int pw_zfile(char *out, size_t outlen, const char *dir, const char *idhex, enum pw_zfile kind)
{
	int n = snprintf(out, outlen, "%s/%s%s", dir, idhex, pw_zfile_suffix(kind));

	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int pw_xdg_dir(enum pw_xdg which, char *out, size_t outlen, char *err, size_t errlen)
{
	static const struct { const char *var, *dflt, *what; } base[] = {
		[PW_XDG_CONFIG] = { "XDG_CONFIG_HOME", ".config", "user profile" },
		[PW_XDG_DATA] = { "XDG_DATA_HOME", ".local/share", "trust store" },
		[PW_XDG_STATE] = { "XDG_STATE_HOME", ".local/state", "state directory" },
	};
	const char *dir = env_abs(base[which].var), *home = env_abs("HOME");
	int n;

	if (dir == NULL && home == NULL) {
		pw_seterr(err, errlen, "%s: neither %s nor HOME is an absolute path",
		          base[which].what, base[which].var);
		return -1;
	}
	n = dir ? snprintf(out, outlen, "%s%spywarm", dir, dir[strlen(dir) - 1] == '/' ? "" : "/")
	        : snprintf(out, outlen, "%s%s%s/pywarm", home,
	                   home[strlen(home) - 1] == '/' ? "" : "/", base[which].dflt);
	if (n < 0 || (size_t)n >= outlen) {
		pw_seterr(err, errlen, "%s: path too long", base[which].what);
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The socket directory's path: $XDG_RUNTIME_DIR/pywarm when that is an
 * absolute, existing directory of the euid's (or root's: /run/user/0 and
 * /proc alike), else /tmp/pywarm-$EUID.  Another user's runtime directory
 * (sudo -E) is never used. */
static int sockdir_path(char *out, size_t outlen)
{
	const char *rt = env_abs("XDG_RUNTIME_DIR");
	struct stat st;
	int n;

	if (rt != NULL && stat(rt, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_uid == geteuid() || st.st_uid == 0))
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
	int fd;

	if (outlen == 0 || sockdir_path(out, outlen) < 0) {
		pw_seterr(err, errlen, "socket directory: path too long");
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = pw_dir_open("socket directory", out, PW_DIR_PRIVATE, create, err, errlen);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* The per-user state directory, verified (the euid's, not writable by
 * group or others, not a symbolic link): an O_PATH fd, or -1 with err. */
int pw_statedir_open(char *out, size_t outlen, int create, char *err, size_t errlen)
{
	if (pw_xdg_dir(PW_XDG_STATE, out, outlen, err, errlen) < 0)
		return -1;
	return pw_dir_open("state directory", out, 0, create ? 2 : 0, err, errlen);
}

/* The per-user state directory: $XDG_STATE_HOME/pywarm, else ~/.local/state/pywarm. */
int pw_statedir(char *out, size_t outlen, int create, char *err, size_t errlen)
{
	int fd = pw_statedir_open(out, outlen, create, err, errlen);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int pw_fd_above_stdio(int fd)
{
	int high;

	if (fd < 0 || fd > 2)
		return fd;
	high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return high;
}
