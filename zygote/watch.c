/* watch.c: never stale: inotify on every file behind the zygote's state; any change retires it, and no launch is served after one. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "zygote.h"
#include "spawn.h"
#include "procfs.h"
#include "token.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
#define DIR_MASK  (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
                   IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

/* One watch descriptor and what a change under it means. */
struct wentry {
	int wd;
	int is_dir;
	int importable;           /* dir: an importable name appearing or going counts */
	char **patterns;          /* dir: names (globs) that count, NULL-terminated */
	size_t npatterns;
	char *path;
};

/* The watch set, and the flags shared with forked children (MAP_SHARED):
 * a child must not serve once a change was seen, even if the zygote has
 * not finished processing it (see zwatch_stale). */
struct zwatch {
	int fd;
	struct wentry *e;
	size_t n, cap;
	struct timespec t0;       /* coarse real time when warm-up began */
	int *shared;              /* [0]: draining, [1]: stale */
	int failed;               /* a watch could not be set: serve nothing warm */
	char why[PATH_MAX + 64];
};

/* Remember a watch; an existing one for the same wd is updated in place. */
static struct wentry *remember(struct zwatch *w, int wd, const char *path, int is_dir)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->e[i].wd == wd)
			return &w->e[i];
	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 256;
		struct wentry *ne = realloc(w->e, ncap * sizeof(*ne));
		if (ne == NULL)
			return NULL;
		w->e = ne;
		w->cap = ncap;
	}
	w->e[w->n] = (struct wentry){ .wd = wd, .is_dir = is_dir, .path = strdup(path) };
	return &w->e[w->n++];
}

/* Watch path for the events of mask (is_dir: a directory's).  A path that
 * does not exist is not an error: nothing there was loaded. */
static struct wentry *add_mask(struct zygote *z, const char *path, int is_dir, uint32_t mask)
{
	struct zwatch *w = z->watch;
	int wd = inotify_add_watch(w->fd, path, mask);

	if (wd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == EACCES)
			return NULL;
		if (!w->failed)
			zwarn(z, "cannot watch %s: %s; serving every run cold", path, strerror(errno));
		w->failed = 1;
		return NULL;
	}
	return remember(w, wd, path, is_dir);
}

/* Watch path (a file, or with is_dir a directory's entries). */
static struct wentry *add(struct zygote *z, const char *path, int is_dir)
{
	return add_mask(z, path, is_dir, is_dir ? DIR_MASK : FILE_MASK);
}

/* Count entries named like pattern in e's directory as changes. */
static void add_pattern(struct wentry *e, const char *pattern)
{
	char **np;

	if (e == NULL || (np = realloc(e->patterns, (e->npatterns + 2) * sizeof(*np))) == NULL)
		return;
	e->patterns = np;
	if ((np[e->npatterns] = strdup(pattern)) != NULL)
		e->npatterns++;
	np[e->npatterns] = NULL;
}

/* Watch a file, and its directory for that name (replaced by a rename). */
static void add_file_named(struct zygote *z, const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	add(z, path, 0);
	snprintf(dir, sizeof dir, "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		add_pattern(add(z, dir, 1), slash + 1);
	}
}

/* Watch a file and its directory (a new module there may shadow it). */
static void add_file_and_dir(struct zygote *z, const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	struct wentry *e;

	add(z, path, 0);
	snprintf(dir, sizeof dir, "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if ((e = add(z, dir, 1)) != NULL)
			e->importable = 1;
	}
}

/* Was the file changed since warm-up began (written while we read it)? */
static int changed_since_t0(const struct zwatch *w, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno != ENOENT;
	return st.st_mtim.tv_sec > w->t0.tv_sec ||
	       (st.st_mtim.tv_sec == w->t0.tv_sec && st.st_mtim.tv_nsec >= w->t0.tv_nsec) ||
	       st.st_ctim.tv_sec > w->t0.tv_sec ||
	       (st.st_ctim.tv_sec == w->t0.tv_sec && st.st_ctim.tv_nsec >= w->t0.tv_nsec);
}

/* Could a directory entry of this name be imported (or extend sys.path)? */
static int importable_name(const char *name, int is_dir)
{
	const char *dot = strchr(name, '.');
	size_t n = dot ? (size_t)(dot - name) : strlen(name);
	size_t k = strlen(name);

	if (k > 4 && strcmp(name + k - 4, ".pth") == 0)
		return 1;
	if (n == 0 || (name[0] >= '0' && name[0] <= '9') || strcmp(name, "__pycache__") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!(c == '_' || c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			return 0;
	}
	if (dot == NULL)
		return 1;               /* a package (or a file without a suffix: be safe) */
	return strcmp(dot, ".py") == 0 || strcmp(dot, ".pyc") == 0 ||
	       (k > 3 && strcmp(name + k - 3, ".so") == 0) || strcmp(dot, ".zip") == 0 ||
	       strcmp(dot, ".egg") == 0 || strcmp(dot, ".egg-link") == 0;
}

/* The str value of an attribute (borrowed into buf), or 0. */
static int str_attr(PyObject *o, const char *attr, char *buf, size_t len)
{
	PyObject *v = PyObject_GetAttrString(o, attr);
	PyObject *b = v && PyUnicode_Check(v) ? PyUnicode_EncodeFSDefault(v) : NULL;
	int ok = b != NULL;

	if (ok)
		snprintf(buf, len, "%s", PyBytes_AS_STRING(b));
	Py_XDECREF(b);
	Py_XDECREF(v);
	PyErr_Clear();
	return ok;
}

/* Every module's file and directory, and each package's __path__ entries. */
static void add_modules(struct zygote *z)
{
	PyObject *mods = PyDict_Values(PyImport_GetModuleDict());
	char path[PATH_MAX];

	for (Py_ssize_t i = 0; mods && i < PyList_GET_SIZE(mods); i++) {
		PyObject *m = PyList_GET_ITEM(mods, i);
		PyObject *pp;
		if (str_attr(m, "__file__", path, sizeof path) && path[0] == '/') {
			add_file_and_dir(z, path);
			if (changed_since_t0(z->watch, path))
				snprintf(z->watch->why, sizeof z->watch->why, "%s changed during warm-up", path);
		}
		pp = PyObject_GetAttrString(m, "__path__");
		PyObject *it = pp ? PyObject_GetIter(pp) : NULL, *item;
		while (it && (item = PyIter_Next(it)) != NULL) {
			PyObject *b = PyUnicode_Check(item) ? PyUnicode_EncodeFSDefault(item) : NULL;
			struct wentry *e;
			if (b && PyBytes_AS_STRING(b)[0] == '/' &&
			    (e = add(z, PyBytes_AS_STRING(b), 1)) != NULL)
				e->importable = 1;
			Py_XDECREF(b);
			Py_DECREF(item);
		}
		Py_XDECREF(it);
		Py_XDECREF(pp);
		PyErr_Clear();
	}
	Py_XDECREF(mods);
	PyErr_Clear();
}

/* Each sys.path directory (site-packages and the rest) and its .pth files;
 * for an entry that does not exist, its parent (it may appear). */
static void add_sys_path(struct zygote *z)
{
	PyObject *sp = PySys_GetObject("path");
	char dir[PATH_MAX + 8];
	struct wentry *e;
	glob_t g;

	for (Py_ssize_t i = 0; sp && PyList_Check(sp) && i < PyList_GET_SIZE(sp); i++) {
		PyObject *b = PyUnicode_EncodeFSDefault(PyList_GET_ITEM(sp, i));
		if (b == NULL || PyBytes_AS_STRING(b)[0] != '/') {
			Py_XDECREF(b);
			PyErr_Clear();
			continue;
		}
		snprintf(dir, sizeof dir, "%s", PyBytes_AS_STRING(b));
		Py_DECREF(b);
		if ((e = add(z, dir, 1)) != NULL)
			e->importable = 1;
		else
			add_file_and_dir(z, dir);       /* a zip, or not there yet */
		strcat(dir, "/*.pth");
		if (glob(dir, 0, NULL, &g) == 0) {
			for (size_t k = 0; k < g.gl_pathc; k++)
				add(z, g.gl_pathv[k], 0);
			globfree(&g);
		}
	}
}

/* Every file mapped into us: the interpreter, libpython, extension libraries. */
static void add_mapped(struct zygote *z)
{
	char line[PATH_MAX + 256], last[PATH_MAX] = "";
	FILE *f = fopen("/proc/self/maps", "re");
	char *p;

	while (f && fgets(line, sizeof line, f)) {
		if ((p = strchr(line, '/')) == NULL || strstr(line, " (deleted)"))
			continue;
		p[strcspn(p, "\n")] = '\0';
		if (strcmp(p, last) == 0)
			continue;
		snprintf(last, sizeof last, "%s", p);
		add(z, p, 0);
	}
	if (f)
		fclose(f);
}

/* The profile, the warmup script, the interpreter's path, pyvenv.cfg, and
 * the [watch] globs (their files, and their directories for new matches). */
static void add_profile_files(struct zygote *z)
{
	const struct pw_profile *p = &z->conf.profile;
	char dir[PATH_MAX], cfg[PATH_MAX + 16];
	glob_t g;

	if (p->path)
		add_file_named(z, p->path);
	if (p->warmup)
		add_file_named(z, p->warmup);
	add_file_named(z, z->conf.interp.path);
	snprintf(dir, sizeof dir, "%s", z->conf.interp.path);
	for (int up = 0; up < 2 && strrchr(dir, '/'); up++) {
		*strrchr(dir, '/') = '\0';
		snprintf(cfg, sizeof cfg, "%s/pyvenv.cfg", dir);
		add(z, cfg, 0);
	}
	for (size_t i = 0; i < p->nwatch; i++) {
		if (glob(p->watch[i], GLOB_NOSORT, NULL, &g) == 0) {
			for (size_t k = 0; k < g.gl_pathc; k++) {
				add(z, g.gl_pathv[k], 0);
				if (changed_since_t0(z->watch, g.gl_pathv[k]))
					snprintf(z->watch->why, sizeof z->watch->why,
					         "%s changed during warm-up", g.gl_pathv[k]);
			}
			globfree(&g);
		}
		snprintf(dir, sizeof dir, "%s", p->watch[i]);
		char *slash = strrchr(dir, '/');
		if (slash == NULL || slash == dir)
			continue;
		*slash = '\0';
		add_pattern(add(z, dir, 1), slash + 1);
	}
}

/* Was path changed since start-up began (before the C library read it)? */
static int changed_since_start(const char *path)
{
	struct timespec t0;
	struct stat st;

	zenv_start_time(&t0);
	if (stat(path, &st) < 0)
		return 0;
	return st.st_mtim.tv_sec > t0.tv_sec ||
	       (st.st_mtim.tv_sec == t0.tv_sec && st.st_mtim.tv_nsec >= t0.tv_nsec) ||
	       st.st_ctim.tv_sec > t0.tv_sec ||
	       (st.st_ctim.tv_sec == t0.tv_sec && st.st_ctim.tv_nsec >= t0.tv_nsec);
}

/* Note in why that path changed since start-up began, if it did. */
static void note_changed(struct zygote *z, const char *path)
{
	if (changed_since_start(path) && !z->watch->why[0])
		snprintf(z->watch->why, sizeof z->watch->why, "%s changed during warm-up", path);
}

/* Watch directory dir for entries named like pattern appearing, going or
 * being replaced; for "*", note a change made there since start-up began
 * (otherwise the file itself is checked). */
static void add_libc_dir(struct zygote *z, const char *dir, const char *pattern)
{
	add_pattern(add(z, dir, 1), pattern);
	if (strcmp(pattern, "*") == 0)
		note_changed(z, dir);
}

/* Watch a file the C library reads, noting a change since the start. */
static void add_libc_file(struct zygote *z, const char *path)
{
	add(z, path, 0);
	note_changed(z, path);
}

/* The character set converters' configuration in one directory. */
static void add_gconv_dir(struct zygote *z, const char *dir)
{
	char path[PATH_MAX];

	add_libc_dir(z, dir, "gconv-modules*");
	snprintf(path, sizeof path, "%s/gconv-modules", dir);
	add_libc_file(z, path);
	snprintf(path, sizeof path, "%s/gconv-modules.cache", dir);
	add_libc_file(z, path);
	snprintf(path, sizeof path, "%s/gconv-modules.d", dir);
	add_libc_dir(z, path, "*");
}

/* Each directory of a colon-separated list variable, through fn. */
static void add_path_list(struct zygote *z, const char *var,
                          void (*fn)(struct zygote *, const char *))
{
	const char *v = getenv(var), *tok;
	char dir[PATH_MAX];
	struct pw_tok t;
	size_t n;

	if (v == NULL)
		return;
	pw_tok_init(&t, v, strlen(v), ":", PW_TOK_SKIP_EMPTY);
	while (pw_tok_next(&t, &tok, &n)) {
		if (n < sizeof dir && tok[0] == '/') {
			memcpy(dir, tok, n);
			dir[n] = '\0';
			fn(z, dir);
		}
	}
}

/* A directory of locales (the default one, or one of LOCPATH's): any entry
 * appearing or going, and in each locale directory there any file created,
 * written or removed, also while a zygote warms (localedef writes a locale
 * directory file by file). */
static void add_locale_dir(struct zygote *z, const char *dir)
{
	char sub[PATH_MAX], file[PATH_MAX];
	struct dirent *d, *f;
	DIR *dp, *fp;

	add_libc_dir(z, dir, "*");
	if ((dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.' || d->d_type != DT_DIR ||
		    snprintf(sub, sizeof sub, "%s/%s", dir, d->d_name) >= (int)sizeof sub)
			continue;
		add_pattern(add_mask(z, sub, 1, DIR_MASK | IN_MODIFY | IN_CLOSE_WRITE), "*");
		note_changed(z, sub);
		if ((fp = opendir(sub)) == NULL)
			continue;
		while ((f = readdir(fp)) != NULL)
			if (f->d_name[0] != '.' &&
			    snprintf(file, sizeof file, "%s/%s", sub, f->d_name) < (int)sizeof file)
				note_changed(z, file);
		closedir(fp);
	}
	closedir(dp);
}

/* What the C library reads once and keeps for the life of the process, so
 * that a child would never see a change a fresh python3 sees: the locale
 * archive (glibc maps it once, and remembers that it failed to open it),
 * the locale directories (the default one and LOCPATH's), the locale alias
 * file, and the character set converters' configuration (the default and
 * GCONV_PATH's).  Locale files already loaded are mapped, and watched as
 * such.  /etc/nsswitch.conf too, although glibc 2.33 and later read it
 * again when it changes: an older C library does not.  The time zone needs
 * no watch: each child makes the C library read it again (envwatch.c). */
static void add_libc_files(struct zygote *z)
{
	char gconv[PATH_MAX];
	Dl_info info;

	add_locale_dir(z, "/usr/lib/locale");
	add_libc_file(z, "/usr/lib/locale/locale-archive");
	add_path_list(z, "LOCPATH", add_locale_dir);
	/* Files only, not their busy directories: an edit or a replacement
	 * (IN_ATTRIB as its link count drops) is seen; both exist on any
	 * system that uses them. */
	add_libc_file(z, "/usr/share/locale/locale.alias");
	add_libc_file(z, "/etc/nsswitch.conf");
	/* The default converters live beside libc.so.6 (gconv/). */
	if (dladdr((void *)&tzset, &info) && info.dli_fname && strrchr(info.dli_fname, '/')) {
		snprintf(gconv, sizeof gconv, "%.*s/gconv",
		         (int)(strrchr(info.dli_fname, '/') - info.dli_fname), info.dli_fname);
		add_gconv_dir(z, gconv);
	}
	add_path_list(z, "GCONV_PATH", add_gconv_dir);
}

/* Before warm-up: the inotify instance and the directories known already
 * (sys.path, the profile's), so changes made while importing are queued. */
void zwatch_begin(struct zygote *z)
{
	struct zwatch *w = calloc(1, sizeof(*w));

	z->watch = w;
	if (w == NULL) {
		zwarn(z, "out of memory for the watch set");
		return;
	}
	clock_gettime(CLOCK_REALTIME_COARSE, &w->t0);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->shared = mmap(NULL, sizeof(int) * 2, PROT_READ | PROT_WRITE,
	                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w->fd < 0 || w->shared == MAP_FAILED) {
		zwarn(z, "cannot set up change detection: %s; serving every run cold", strerror(errno));
		w->failed = 1;
		if (w->shared == MAP_FAILED)
			w->shared = NULL;
		return;
	}
	add_sys_path(z);
	add_profile_files(z);
	add_libc_files(z);
}

/* After warm-up: every module file and what is mapped.  Returns 0 if the
 * zygote may serve, -1 if something changed already (w->why says what). */
int zwatch_finish(struct zygote *z, char *why, size_t len)
{
	struct zwatch *w = z->watch;

	if (w == NULL || w->failed)
		return 0;
	add_modules(z);
	add_sys_path(z);        /* .pth files and entries added by imports */
	add_mapped(z);
	zlog(z, "watching %zu files and directories for changes", w->n);
	if (w->why[0] || zwatch_read(z, why, len)) {
		if (w->why[0])
			snprintf(why, len, "%s", w->why);
		return -1;
	}
	return 0;
}

/* How many files and directories are watched. */
size_t zwatch_count(const struct zygote *z)
{
	return z->watch && !z->watch->failed ? z->watch->n : 0;
}

/* The inotify fd for the event loop, or -1. */
int zwatch_fd(const struct zygote *z)
{
	return z->watch && !z->watch->failed ? z->watch->fd : -1;
}

/* The entry of a watch descriptor, or NULL. */
static struct wentry *lookup(struct zwatch *w, int wd)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->e[i].wd == wd)
			return &w->e[i];
	return NULL;
}

/* Does name match one of a directory watch's patterns? */
static int matches_pattern(const struct wentry *e, const char *name)
{
	for (size_t i = 0; i < e->npatterns; i++)
		if (fnmatch(e->patterns[i], name, FNM_PERIOD) == 0)
			return 1;
	return 0;
}

/* Does this event make the zygote stale?  Sets why. */
static int relevant(struct zwatch *w, const struct inotify_event *ev, char *why, size_t len)
{
	struct wentry *e = lookup(w, ev->wd);

	if (ev->mask & IN_Q_OVERFLOW) {
		snprintf(why, len, "too many changes to follow");
		return 1;
	}
	if (e == NULL || (ev->mask & IN_IGNORED))
		return 0;
	if (!e->is_dir || (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) || ev->len == 0) {
		snprintf(why, len, "%s changed", e->path);
		return 1;
	}
	if ((e->importable && importable_name(ev->name, (ev->mask & IN_ISDIR) != 0)) ||
	    matches_pattern(e, ev->name)) {
		snprintf(why, len, "%s/%s appeared or went", e->path, ev->name);
		return 1;
	}
	return 0;
}

/* Drain the inotify queue.  Returns 1 (with why) if anything relevant
 * changed; the children see the stale flag from then on. */
int zwatch_read(struct zygote *z, char *why, size_t len)
{
	struct zwatch *w = z->watch;
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	int stale = 0;
	ssize_t n;

	if (w == NULL || w->failed || w->shared == NULL)
		return 0;
	/* Announce the read first: a child that finds the queue empty then
	 * sees draining or, once we are done, stale (zwatch_stale). */
	__atomic_store_n(&w->shared[0], 1, __ATOMIC_SEQ_CST);
	while ((n = read(w->fd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n; ) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if (!stale && relevant(w, ev, why, len))
				stale = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (stale || __atomic_load_n(&w->shared[1], __ATOMIC_SEQ_CST))
		__atomic_store_n(&w->shared[1], 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&w->shared[0], 0, __ATOMIC_SEQ_CST);
	return stale;
}

/* In a forked child, before serving: has anything changed that the zygote
 * may not have processed yet?  An edit that finished before the launcher
 * connected is already queued on the inotify fd (inotify events are queued
 * by the write itself), so it is seen here: pending, being drained, or
 * found stale.  Irrelevant pending events only cost one cold run. */
const char *zwatch_stale(const struct zygote *z)
{
	const struct zwatch *w = z->watch;
	struct pollfd p;

	if (w == NULL || w->failed || w->shared == NULL)
		return "change detection is not available";
	p = (struct pollfd){ w->fd, POLLIN, 0 };
	if (poll(&p, 1, 0) != 0)
		return "files behind the zygote changed";
	if (__atomic_load_n(&w->shared[0], __ATOMIC_SEQ_CST) ||
	    __atomic_load_n(&w->shared[1], __ATOMIC_SEQ_CST))
		return "files behind the zygote changed";
	return NULL;
}

/* In a child that passed zwatch_stale: drop the flags shared with the
 * zygote before the caller's program runs, so that no run can write
 * memory another run reads. */
void zwatch_forget(const struct zygote *z)
{
	struct zwatch *w = z->watch;

	if (w != NULL && w->shared != NULL) {
		munmap(w->shared, sizeof(int) * 2);
		w->shared = NULL;
	}
}

/* Wait (up to 5 s) until someone holds our lock file: the successor. */
static void wait_for_successor(const struct stat *st)
{
	long long end = pw_mono_us() + 5000000;
	long pid;

	while (pw_mono_us() < end && !pw_flock_holder(st->st_dev, st->st_ino, &pid))
		usleep(10000);
}

/* A stale zygote gives up its identity at once (socket gone, lock
 * released) and starts a fresh zygote for it, which warms from the files
 * as they are now while the old one finishes its running children.  With
 * wait, return only once the successor holds the lock, so that a watcher
 * (pywarmctl start --wait) never sees the identity without a zygote. */
void zwatch_successor(struct zygote *z, int wait)
{
	static char respawns[64];
	struct pw_spawn sp;
	struct stat st = { 0 };
	char err[PATH_MAX + 128];
	size_t n;
	pid_t pid;

	if (z->lockfd >= 0) {
		if (fstat(z->lockfd, &st) < 0)
			wait = 0;
		close(z->lockfd);
		z->lockfd = -1;
	}
	if (z->conf.exe[0] == '\0' || z->conf.argv == NULL || z->conf.envp == NULL)
		return;
	/* Count successors that found files changing while they warmed, so a
	 * module that rewrites a watched file at import cannot start zygotes
	 * forever; one that served starts the count again. */
	snprintf(respawns, sizeof respawns, PW_RESPAWN_ENV "=%d", wait ? z->stats.respawns + 1 : 1);
	for (n = 0; z->conf.envp[n]; n++)
		;
	z->conf.envp[n] = respawns;
	z->conf.envp[n + 1] = NULL;
	sp.path = z->conf.exe;
	sp.argv = z->conf.argv;
	sp.envp = z->conf.envp;
	sp.outfd = zlog_fd() >= 0 ? zlog_fd() : 2;
	pid = pw_spawn_detached(&sp, err, sizeof err);
	z->conf.envp[n] = NULL;
	if (pid < 0)
		zwarn(z, "no successor: %s", err);
	else if (wait && st.st_ino)
		wait_for_successor(&st);
}
