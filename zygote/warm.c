/* warm.c: the zygote's warm-up: preload the profile's modules (undoing failed imports, recording what each imports for the import cache), run the warmup script, publish progress. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "zygote.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Publish module n of m in the progress file (pw_progress_format), in
 * place, for pywarmctl start --wait.  Best effort: progress is only a display. */
static void progress(struct zygote *z, size_t n, size_t m, const char *name, long long t0)
{
	struct pw_progress p = { n, m, (pw_mono_us() - t0) / 1000, "" };
	char line[512];
	int len;

	if (z->progressfd < 0)
		return;
	snprintf(p.name, sizeof p.name, "%s", name);
	if ((len = pw_progress_format(line, sizeof line, &p)) < 0)
		return;
	if (pwrite(z->progressfd, line, (size_t)len, 0) == len)
		(void)ftruncate(z->progressfd, len);
}

/* Open the progress file (the lock is ours, so a leftover one is stale):
 * from the verified socket directory, never through a symbolic link. */
static void progress_open(struct zygote *z)
{
	char err[PATH_MAX + 128];

	if (pw_zfile(z->progresspath, sizeof z->progresspath, z->conf.sockdir, z->conf.idhex,
	             PW_ZPROGRESS) < 0) {
		zwarn(z, "no progress file: socket directory path too long");
		return;
	}
	z->progressfd = pw_private_open("socket directory", z->progresspath, PW_DIR_PRIVATE, 0,
	                                O_WRONLY | O_CREAT | O_TRUNC, err, sizeof err);
	if (z->progressfd < 0)
		zwarn(z, "no progress file: %s", err);
}

/* Warm-up is over: the socket answers from now on. */
void zwarm_done(struct zygote *z)
{
	if (z->progressfd < 0)
		return;
	close(z->progressfd);
	z->progressfd = -1;
	unlink(z->progresspath);
}

/* After a failed import, drop every sys.modules entry it added (a package
 * whose __init__ failed leaves its submodules behind), and unbind each from
 * its parent package, so that a program importing the module runs the
 * import itself and sees python3's own error. */
static void forget_new_modules(PyObject *before)
{
	PyObject *modules = PyImport_GetModuleDict();
	PyObject *keys = PyDict_Keys(modules);

	for (Py_ssize_t i = 0; keys && i < PyList_GET_SIZE(keys); i++) {
		PyObject *k = PyList_GET_ITEM(keys, i);
		int had = PySet_Contains(before, k);
		if (had != 0 || !PyUnicode_Check(k))
			continue;
		PyObject *mod = PyDict_GetItem(modules, k);
		Py_XINCREF(mod);
		PyDict_DelItem(modules, k);
		Py_ssize_t dot = PyUnicode_FindChar(k, '.', 0, PyUnicode_GET_LENGTH(k), -1);
		if (mod && dot > 0) {
			PyObject *parent_name = PyUnicode_Substring(k, 0, dot);
			PyObject *child = PyUnicode_Substring(k, dot + 1, PyUnicode_GET_LENGTH(k));
			PyObject *parent = parent_name ? PyDict_GetItem(modules, parent_name) : NULL;
			PyObject *bound = parent && child ? PyObject_GetAttr(parent, child) : NULL;
			if (bound == mod)
				PyObject_DelAttr(parent, child);
			Py_XDECREF(bound);
			Py_XDECREF(parent_name);
			Py_XDECREF(child);
		}
		Py_XDECREF(mod);
		PyErr_Clear();
	}
	Py_XDECREF(keys);
	PyErr_Clear();
}

/* ---- the import cache ----
 *
 * A run's sys.modules starts as python3's: what the zygote imported beyond
 * start-up is a cache behind the import system (bootstrap.py hides it in
 * each child).  The hook is importlib._bootstrap._load_unlocked, which
 * _find_and_load_unlocked looks up by name once the run's own sys.meta_path
 * and sys.path have found a spec; being a C function, it adds no frame to
 * a traceback.  While the zygote preloads, the hook records what each
 * module's loading imports, helped by stand-ins for builtins.__import__,
 * importlib's _gcd_import and atexit.register (hook_import,
 * hook_gcd_import, hook_register); bootstrap.py puts the real ones back
 * when it loads.  In a child the hook asks bootstrap's
 * _serve() for the cached module.  All state is one dict, the hooks'
 * __self__, where bootstrap.py finds it:
 *   load, import, gcd_import, register   the real _load_unlocked,
 *              builtins.__import__, _gcd_import and atexit.register
 *   atexit     (owner, func, args, kwargs) of each exit handler registered
 *   stack      names being loaded, innermost last
 *   deps       name -> names its loading imported, in order of first use
 *   failed     names whose import failed while recording
 *   loaded     names loaded through _load_unlocked
 *   attached   name -> sys.modules names its loading set itself
 *   unshared   name -> what its loading left that no run can share (see
 *              effects_left: output, threads, descriptors, the working
 *              directory, signal handlers), never served
 *   loggers, logger_owner    name -> loggers its loading made; logger -> name
 *   signals_at_start         every signal's handler right after start-up
 *   known      sys.modules names seen so far
 *   baseline   sys.modules names right after start-up
 *   path       sys.path right after start-up
 *   finders    sys.path_importer_cache's keys right after start-up
 *   meta_path, path_hooks    copies of sys.meta_path and sys.path_hooks then
 *   serve, cache, ...        bootstrap.py's, once recording ends */

/* state[key], borrowed, or NULL. */
static PyObject *st_get(PyObject *st, const char *key)
{
	return PyDict_GetItemString(st, key);
}

/* Append name to state[table][owner] (a list), once. */
static void note_in(PyObject *st, const char *table, PyObject *owner, PyObject *name)
{
	PyObject *t = st_get(st, table);
	PyObject *empty = PyList_New(0);
	PyObject *list = t && empty ? PyDict_SetDefault(t, owner, empty) : NULL;

	if (list && PySequence_Contains(list, name) == 0)
		PyList_Append(list, name);
	Py_XDECREF(empty);
	PyErr_Clear();
}

/* The module being loaded now ("" at the top level). */
static PyObject *current_owner(PyObject *st)
{
	PyObject *stack = st_get(st, "stack");
	Py_ssize_t n = stack ? PyList_GET_SIZE(stack) : 0;
	static PyObject *top;           /* interned "": the owner of top-level imports */

	if (n > 0)
		return PyList_GET_ITEM(stack, n - 1);
	if (top == NULL)
		top = PyUnicode_InternFromString("");
	return top;
}

/* Names that appeared in sys.modules without being loaded through the
 * import system belong to the module whose loading put them there: noted
 * when that loading ends and before each import it makes, so that deps
 * keeps them in python3's order among its imports. */
static void note_attached(PyObject *st, PyObject *owner)
{
	PyObject *mods = PyImport_GetModuleDict();
	PyObject *known = st_get(st, "known"), *loaded = st_get(st, "loaded");
	PyObject *key, *value;
	Py_ssize_t pos = 0;

	if (known == NULL || loaded == NULL)
		return;
	while (PyDict_Next(mods, &pos, &key, &value)) {
		if (PySet_Contains(known, key) != 0)
			continue;
		PySet_Add(known, key);
		if (PySet_Contains(loaded, key) == 0) {
			note_in(st, "attached", owner, key);
			note_in(st, "deps", owner, key);        /* in order with its imports */
		}
	}
	PyErr_Clear();
}

/* Record that the module being loaded now imports name (after what it
 * set in sys.modules itself so far, when sys.modules grew). */
static void note_import(PyObject *st, PyObject *name)
{
	PyObject *owner = current_owner(st);
	static Py_ssize_t seen_size;
	Py_ssize_t size = PyDict_GET_SIZE(PyImport_GetModuleDict());

	if (owner && size != seen_size) {
		note_attached(st, owner);
		seen_size = size;
	}
	if (owner && PyUnicode_Compare(owner, name) != 0)
		note_in(st, "deps", owner, name);
	PyErr_Clear();
}

/* logging's manager.loggerDict (new reference), or NULL while logging is
 * not imported.  No error is left set. */
static PyObject *logger_dict(void)
{
	PyObject *logging = PyDict_GetItemString(PyImport_GetModuleDict(), "logging");
	PyObject *cls = logging ? PyObject_GetAttrString(logging, "Logger") : NULL;
	PyObject *mgr = cls ? PyObject_GetAttrString(cls, "manager") : NULL;
	PyObject *d = mgr ? PyObject_GetAttrString(mgr, "loggerDict") : NULL;

	Py_XDECREF(cls);
	Py_XDECREF(mgr);
	if (d != NULL && !PyDict_Check(d))
		Py_CLEAR(d);
	PyErr_Clear();
	return d;
}

/* The loggers a module's loading created (logging.getLogger at import):
 * state["loggers"][module] lists their names, oldest first, and
 * state["logger_owner"] names each one's module, so that a run sees a
 * logger of the zygote's only once it imports the module that made it
 * (bootstrap.py).  Placeholders are not kept: the run's manager makes its
 * own.  n0 is how many entries loggerDict had when the loading began (it
 * only grows: loggers are never removed). */
static void note_loggers(PyObject *st, PyObject *name, Py_ssize_t n0)
{
	PyObject *d = logger_dict(), *owner = st_get(st, "logger_owner");
	PyObject *logging = PyDict_GetItemString(PyImport_GetModuleDict(), "logging");
	PyObject *ph = logging ? PyObject_GetAttrString(logging, "PlaceHolder") : NULL;
	PyObject *key, *val;
	Py_ssize_t pos = 0, i = 0;

	while (d && owner && ph && PyDict_Next(d, &pos, &key, &val)) {
		if (i++ < n0 || PyObject_IsInstance(val, ph) != 0 || PyDict_Contains(owner, key) != 0)
			continue;
		PyDict_SetItem(owner, key, name);
		note_in(st, "loggers", name, key);
	}
	Py_XDECREF(ph);
	Py_XDECREF(d);
	PyErr_Clear();
}

/* Every signal's Python-level handler (_signal.getsignal; None where it
 * cannot be asked), as a new list, or NULL.  No error is left set. */
static PyObject *signal_table(void)
{
	PyObject *sig = PyDict_GetItemString(PyImport_GetModuleDict(), "_signal");
	PyObject *get = sig ? PyObject_GetAttrString(sig, "getsignal") : NULL;
	PyObject *t = get ? PyList_New(0) : NULL;

	for (int n = 1; t && n < NSIG; n++) {
		PyObject *h = PyObject_CallFunction(get, "i", n);
		if (h == NULL) {
			PyErr_Clear();
			h = Py_NewRef(Py_None);
		}
		if (PyList_Append(t, h) < 0)
			Py_CLEAR(t);
		Py_DECREF(h);
	}
	Py_XDECREF(get);
	PyErr_Clear();
	return t;
}

/* Did a loading change a signal's handler (signal.signal() at import)? */
static int signals_changed(PyObject *before)
{
	PyObject *after = before ? signal_table() : NULL;
	int changed = after == NULL ? before != NULL :
	              PyObject_RichCompareBool(before, after, Py_NE) != 0;

	Py_XDECREF(after);
	PyErr_Clear();
	return changed;
}

/* What a preloaded module's import leaves that no forked run could share:
 * output it wrote (print, a warning, a raw write(2)), a thread it started
 * or a descriptor it left open (the thread is not in a forked child, and
 * the descriptor's number is the caller's there), or what it computed
 * from the zygote's working directory ("/": getcwd(), a file-system call
 * with a relative path, chdir) or from the clock (the zygote's start
 * time; sysread.c counts both).  While the zygote preloads, its stdout
 * and stderr are one memfd, flushed around each module's loading, and its
 * threads, descriptors, getcwd() calls, relative file-system calls and
 * clock reads are counted before and after; a module that left any of
 * these goes into state["unshared"]
 * and is never served from the cache: each run imports it afresh, as
 * python3 does, and so is each preloaded module that imported it.  The
 * output goes to the zygote's log when preloading ends. */
static int out_memfd = -1, out_saved[2] = { -1, -1 };

/* Entries in /proc/self/<dir> (threads, descriptors), or -1. */
static int count_entries(const char *dir)
{
	char path[32];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof path, "/proc/self/%s", dir);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Calls of getcwd(3), which os.getcwd(), os.path.abspath() and
 * pathlib's cwd() make: the zygote's definition, so that a module whose
 * import read the working directory (the zygote's "/", not the caller's)
 * is known.  Otherwise glibc's own. */
static unsigned long cwd_reads;

char *getcwd(char *buf, size_t size)
{
	static char *(*real)(char *, size_t);

	__atomic_add_fetch(&cwd_reads, 1, __ATOMIC_RELAXED);
	if (real == NULL)
		real = (char *(*)(char *, size_t))dlsym(RTLD_NEXT, "getcwd");
	if (real == NULL) {
		errno = ENOSYS;
		return NULL;
	}
	return real(buf, size);
}

/* getcwd() calls so far (learn.c's judge compares two counts). */
unsigned long zwarm_cwd_reads(void)
{
	return __atomic_load_n(&cwd_reads, __ATOMIC_RELAXED);
}

/* What a module's loading is compared by (see above). */
struct effects {
	off_t out;                /* bytes written to stdout and stderr */
	int tasks, fds;
	unsigned long cwd;        /* getcwd() calls */
	unsigned long rel;        /* file-system calls with a relative path, chdir */
	unsigned long clock;      /* clock reads */
};

static off_t output_mark(void);

static struct effects effects_now(void)
{
	struct effects e;

	e.out = output_mark();
	e.tasks = count_entries("task");
	e.fds = count_entries("fd");
	e.cwd = zwarm_cwd_reads();
	e.rel = zsys_relative_calls();
	e.clock = zsys_clock_calls();
	return e;
}

/* What a loading can leave that no run can share, as a mask of bits. */
enum {
	EFF_OUT = 1, EFF_THREAD = 2, EFF_FD = 4, EFF_CWD = 8, EFF_CLOCK = 16, EFF_SIGNAL = 32,
};

/* What a loading that started at e0 left that a run cannot share (a mask). */
static int effects_left(const struct effects *e0)
{
	struct effects e = effects_now();

	return (e.out != e0->out ? EFF_OUT : 0) | (e.tasks > e0->tasks ? EFF_THREAD : 0) |
	       (e.fds > e0->fds ? EFF_FD : 0) | (e.cwd != e0->cwd || e.rel != e0->rel ? EFF_CWD : 0) |
	       (e.clock != e0->clock ? EFF_CLOCK : 0);
}

/* The effects in mask in words, for the log ("reads the clock, ..."), a new
 * reference or NULL. */
static PyObject *effect_words(int mask)
{
	static const struct { int bit; const char *words; } w[] = {
		{ EFF_OUT, "writes output" }, { EFF_THREAD, "starts a thread" },
		{ EFF_FD, "leaves a descriptor open" }, { EFF_CWD, "depends on the working directory" },
		{ EFF_CLOCK, "reads the clock" }, { EFF_SIGNAL, "sets a signal handler" },
	};
	char buf[256] = "";
	size_t used = 0;

	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
		if ((mask & w[i].bit) && used < sizeof buf)
			used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", used ? ", " : "", w[i].words);
	return PyUnicode_FromString(buf);
}

/* Flush sys.stdout and sys.stderr, keeping any pending exception, and
 * give the bytes written so far (-1 without a memfd). */
static off_t output_mark(void)
{
	PyObject *type, *value, *tb;
	struct stat st;

	if (out_memfd < 0)
		return -1;
	PyErr_Fetch(&type, &value, &tb);
	for (int i = 0; i < 2; i++) {
		PyObject *f = PySys_GetObject(i ? "stderr" : "stdout");
		PyObject *r = f && f != Py_None ? PyObject_CallMethod(f, "flush", NULL) : NULL;
		Py_XDECREF(r);
	}
	PyErr_Clear();
	PyErr_Restore(type, value, tb);
	return fstat(out_memfd, &st) == 0 ? st.st_size : -1;
}

/* Point stdout and stderr at a fresh memfd for the preload. */
static void output_begin(struct zygote *z)
{
	out_memfd = memfd_create("pywarm-preload-output", MFD_CLOEXEC);
	if (out_memfd >= 0) {
		out_saved[0] = fcntl(1, F_DUPFD_CLOEXEC, 3);
		out_saved[1] = fcntl(2, F_DUPFD_CLOEXEC, 3);
	}
	if (out_memfd < 0 || out_saved[0] < 0 || out_saved[1] < 0 || output_mark() < 0 ||
	    dup2(out_memfd, 1) < 0 || dup2(out_memfd, 2) < 0) {
		zwarn(z, "cannot watch what preloaded modules write: %s; "
		      "one that writes at import will not write in warm runs", strerror(errno));
		for (int i = 0; i < 2; i++)
			if (out_saved[i] >= 0) {
				dup2(out_saved[i], 1 + i);
				close(out_saved[i]);
				out_saved[i] = -1;
			}
		if (out_memfd >= 0)
			close(out_memfd);
		out_memfd = -1;
	}
}

/* Put stdout and stderr back, pass on what was written, name the writers. */
static void output_end(struct zygote *z, PyObject *st)
{
	PyObject *noisy = st ? st_get(st, "unshared") : NULL, *name, *why;
	Py_ssize_t pos = 0;
	char buf[8192];
	ssize_t n;
	off_t at = 0;

	if (out_memfd < 0)
		return;
	output_mark();
	dup2(out_saved[0], 1);
	dup2(out_saved[1], 2);
	close(out_saved[0]);
	close(out_saved[1]);
	while ((n = pread(out_memfd, buf, sizeof buf, at)) > 0 && write(2, buf, (size_t)n) == n)
		at += n;
	close(out_memfd);
	out_memfd = -1;
	while (noisy && PyDict_Next(noisy, &pos, &name, &why)) {
		const char *s = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
		const char *w = PyUnicode_Check(why) ? PyUnicode_AsUTF8(why) : NULL;
		if (s && w)
			zlog(z, "importing %s %s: every run imports it afresh", s, w);
	}
	PyErr_Clear();
}

/* Is spec the standard library's logging, whose import reads the clock
 * only for what bootstrap.py sets again in every run (_startTime, in
 * _caches())?  Its file must be logging/__init__.py next to os's. */
static int clock_reset_per_run(PyObject *name, PyObject *spec)
{
	PyObject *os = PyDict_GetItemString(PyImport_GetModuleDict(), "os");
	PyObject *osfile = os ? PyObject_GetAttrString(os, "__file__") : NULL;
	PyObject *origin = PyObject_GetAttrString(spec, "origin");
	const char *o = origin && PyUnicode_Check(origin) ? PyUnicode_AsUTF8(origin) : NULL;
	const char *f = osfile && PyUnicode_Check(osfile) ? PyUnicode_AsUTF8(osfile) : NULL;
	const char *slash = f ? strrchr(f, '/') : NULL;
	size_t dir = slash ? (size_t)(slash - f) : 0;
	int same = PyUnicode_CompareWithASCIIString(name, "logging") == 0 && o && slash &&
	           strncmp(o, f, dir + 1) == 0 && strcmp(o + dir + 1, "logging/__init__.py") == 0;

	Py_XDECREF(origin);
	Py_XDECREF(osfile);
	PyErr_Clear();
	return same;
}

/* Is spec an extension module's (built in, or a shared object)? */
static int extension_spec(PyObject *spec)
{
	PyObject *origin = PyObject_GetAttrString(spec, "origin");
	const char *o = origin && PyUnicode_Check(origin) ? PyUnicode_AsUTF8(origin) : NULL;
	size_t n = o ? strlen(o) : 0;
	int ext = o && (strcmp(o, "built-in") == 0 || (n > 3 && strcmp(o + n - 3, ".so") == 0));
	Py_XDECREF(origin);
	PyErr_Clear();
	return ext;
}

/* After an extension module name loaded: the classes whose reference
 * count rose meanwhile (cheld.c) go in st["c_held"][name], for
 * cheld_finish() to keep those its C code holds. */
static void note_c_held(PyObject *st, PyObject *name, void *snap)
{
	PyObject *held = st_get(st, "c_held");
	PyObject *since = zcheld_since(snap);
	if (held && since && PyList_GET_SIZE(since) > 0)
		PyDict_SetItem(held, name, since);
	Py_XDECREF(since);
	PyErr_Clear();
}

/* While recording: load spec, noting it under its importer and its own imports under it. */
static PyObject *record_load(PyObject *st, PyObject *spec)
{
	PyObject *name = PyObject_GetAttrString(spec, "name");
	PyObject *stack = st_get(st, "stack"), *loaded = st_get(st, "loaded");
	PyObject *r;

	if (name == NULL || !PyUnicode_Check(name) || stack == NULL || loaded == NULL) {
		Py_XDECREF(name);
		PyErr_Clear();
		return PyObject_CallOneArg(st_get(st, "load"), spec);
	}
	note_import(st, name);
	PyList_Append(stack, name);
	PySet_Add(loaded, name);        /* in sys.modules from the start of its loading */
	int exempt = zsys_clock_exempt(clock_reset_per_run(name, spec));
	struct effects e0 = effects_now();
	PyObject *sig0 = signal_table();
	PyObject *ld = logger_dict();
	Py_ssize_t nloggers = ld ? PyDict_GET_SIZE(ld) : 0;
	Py_XDECREF(ld);
	void *snap = extension_spec(spec) ? zcheld_snapshot() : NULL;
	r = PyObject_CallOneArg(st_get(st, "load"), spec);
	if (r != NULL)
		note_loggers(st, name, nloggers);
	/* The bookkeeping must keep a failed loading's exception. */
	PyObject *et, *ev, *etb;
	PyErr_Fetch(&et, &ev, &etb);
	if (snap != NULL)
		note_c_held(st, name, snap);
	zsys_clock_exempt(exempt);
	int left = effects_left(&e0) | (signals_changed(sig0) ? EFF_SIGNAL : 0);
	PyObject *why = left && st_get(st, "unshared") ? effect_words(left) : NULL;
	if (why)                                        /* so is each module loading it */
		PyDict_SetItem(st_get(st, "unshared"), name, why);
	Py_XDECREF(why);
	Py_XDECREF(sig0);
	PyErr_Clear();
	PyErr_Restore(et, ev, etb);
	PySequence_DelItem(stack, PyList_GET_SIZE(stack) - 1);
	if (r != NULL)
		note_attached(st, name);
	else
		PySet_Discard(loaded, name);
	Py_DECREF(name);
	return r;
}

/* In a child: load a module the zygote did not preload, timing it for
 * the run's import report (learn.c) when that is kept. */
static PyObject *load_new(PyObject *st, PyObject *spec)
{
	long long t0 = zlearn_begin();
	PyObject *r = PyObject_CallOneArg(st_get(st, "load"), spec);
	PyObject *name = NULL;
	const char *s = NULL;
	Py_ssize_t n = 0;

	if (t0 < 0)
		return r;
	if (r != NULL && (name = PyObject_GetAttrString(spec, "name")) != NULL && PyUnicode_Check(name))
		s = PyUnicode_AsUTF8AndSize(name, &n);
	if (r != NULL)
		PyErr_Clear();
	zlearn_end(s, s ? (size_t)n : 0, t0, s != NULL);
	Py_XDECREF(name);
	return r;
}

/* The module bootstrap's _serve_search() installed for this very spec when
 * the import searched for it (st["pending"]: name -> spec, one load each),
 * as a new reference; NULL (no error set) when spec is not one of those. */
static PyObject *served_by_search(PyObject *st, PyObject *spec)
{
	PyObject *pending = st_get(st, "pending"), *served = st_get(st, "served"), *name, *mod = NULL;

	if (pending == NULL || served == NULL || !PyDict_Check(pending) || PyDict_GET_SIZE(pending) == 0)
		return NULL;
	if ((name = PyObject_GetAttrString(spec, "name")) == NULL)
		return NULL;
	PyObject *want = PyDict_GetItemWithError(pending, name);
	if (want == spec && PyDict_DelItem(pending, name) == 0) {
		mod = PyDict_GetItemWithError(served, name);
		Py_XINCREF(mod);
		if (mod == NULL && !PyErr_Occurred())
			PyErr_SetObject(PyExc_KeyError, name);
	}
	Py_DECREF(name);
	return mod;
}

/* importlib._bootstrap._load_unlocked(spec), as the import system calls it. */
static PyObject *hook_load(PyObject *st, PyObject *spec)
{
	PyObject *serve = st_get(st, "serve"), *cache = st_get(st, "cache");
	PyObject *name;
	int hit;

	if (serve == NULL || cache == NULL)
		return record_load(st, spec);
	PyObject *done = served_by_search(st, spec);
	if (done != NULL || PyErr_Occurred())
		return done;
	if (PyDict_GET_SIZE(cache) == 0)
		return load_new(st, spec);
	if (zobserve_imports_watched())     /* nothing is served, nor counted for learning */
		return PyObject_CallOneArg(st_get(st, "load"), spec);
	name = PyObject_GetAttrString(spec, "name");
	hit = name ? PyDict_Contains(cache, name) : 0;
	Py_XDECREF(name);
	if (hit < 0)
		hit = 0;
	PyErr_Clear();
	if (!hit)
		return load_new(st, spec);
	PyObject *r = PyObject_CallOneArg(serve, spec);
	if (r == NULL || r != Py_None)
		return r;
	Py_DECREF(r);
	return PyObject_CallOneArg(st_get(st, "load"), spec);
}

/* The absolute name an __import__ call means, or NULL (no error set). */
static PyObject *absolute_name(PyObject *name, PyObject *globals, int level)
{
	PyObject *pkg = NULL, *r = NULL, *bsname, *bs;

	if (level == 0) {
		Py_INCREF(name);
		return name;
	}
	/* looked up, not imported: an import would come back through the hook */
	bsname = PyUnicode_FromString("_frozen_importlib");
	bs = bsname ? PyImport_GetModule(bsname) : NULL;
	Py_XDECREF(bsname);
	if (bs && globals && PyDict_Check(globals))
		pkg = PyObject_CallMethod(bs, "_calc___package__", "O", globals);
	if (pkg && PyUnicode_Check(pkg))
		r = PyObject_CallMethod(bs, "_resolve_name", "OOi", name, pkg, level);
	Py_XDECREF(pkg);
	Py_XDECREF(bs);
	if (r == NULL || !PyUnicode_Check(r))
		Py_CLEAR(r);
	PyErr_Clear();
	return r;
}

/* Note abs and each package above it, outermost first. */
static void note_dotted(PyObject *st, PyObject *abs)
{
	Py_ssize_t n = PyUnicode_GET_LENGTH(abs);

	for (Py_ssize_t i = 0; i < n; i++) {
		if (PyUnicode_READ_CHAR(abs, i) != '.')
			continue;
		PyObject *part = PyUnicode_Substring(abs, 0, i);
		if (part)
			note_import(st, part);
		Py_XDECREF(part);
	}
	note_import(st, abs);
	PyErr_Clear();
}

/* After an import failed: the names it left out of sys.modules failed.
 * The import's exception stays pending. */
static void note_failed_import(PyObject *st, PyObject *abs)
{
	PyObject *failed = st_get(st, "failed"), *mods = PyImport_GetModuleDict();
	Py_ssize_t n = PyUnicode_GET_LENGTH(abs);
	PyObject *type, *value, *tb;

	PyErr_Fetch(&type, &value, &tb);
	for (Py_ssize_t i = 0; failed && i <= n; i++) {
		if (i < n && PyUnicode_READ_CHAR(abs, i) != '.')
			continue;
		PyObject *part = PyUnicode_Substring(abs, 0, i);
		if (part && PyDict_Contains(mods, part) == 0)
			PySet_Add(failed, part);
		Py_XDECREF(part);
	}
	PyErr_Clear();
	PyErr_Restore(type, value, tb);
}

/* After a from-import: the submodules it names, as the program uses them
 * ("*" means the package's __all__, as _handle_fromlist reads it once). */
static void note_fromlist(PyObject *st, PyObject *abs, PyObject *fromlist, int star)
{
	PyObject *mods = PyImport_GetModuleDict();
	PyObject *m = PyDict_GetItem(mods, abs);
	PyObject *it = m && fromlist ? PyObject_GetIter(fromlist) : NULL, *x;

	while (it && (x = PyIter_Next(it)) != NULL) {
		if (PyUnicode_Check(x) && PyUnicode_CompareWithASCIIString(x, "*") == 0) {
			PyObject *all = star ? PyObject_GetAttrString(m, "__all__") : NULL;
			if (all)
				note_fromlist(st, abs, all, 0);
			Py_XDECREF(all);
		} else if (PyUnicode_Check(x)) {
			PyObject *sub = PyUnicode_FromFormat("%U.%U", abs, x);
			if (sub && PyDict_Contains(mods, sub) == 1)
				note_import(st, sub);
			Py_XDECREF(sub);
		}
		Py_DECREF(x);
		PyErr_Clear();
	}
	Py_XDECREF(it);
	PyErr_Clear();
}

/* builtins.__import__ while the zygote preloads: note, then import. */
static PyObject *hook_import(PyObject *st, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "name", "globals", "locals", "fromlist", "level", NULL };
	PyObject *name, *globals = NULL, *locals = NULL, *fromlist = NULL, *abs = NULL, *r;
	int level = 0;

	if (st_get(st, "serve") == NULL &&
	    PyArg_ParseTupleAndKeywords(args, kwds, "U|OOOi:__import__", kwlist,
	                                &name, &globals, &locals, &fromlist, &level))
		abs = absolute_name(name, globals, level);
	PyErr_Clear();
	if (abs && PyUnicode_GET_LENGTH(abs) > 0)
		note_dotted(st, abs);
	r = PyObject_Call(st_get(st, "import"), args, kwds);
	if (abs && r == NULL)
		note_failed_import(st, abs);
	else if (abs && fromlist && PyObject_IsTrue(fromlist) == 1)
		note_fromlist(st, abs, fromlist, 1);
	if (r != NULL)
		PyErr_Clear();
	Py_XDECREF(abs);
	return r;
}

/* importlib._bootstrap._gcd_import while the zygote preloads (what
 * importlib.import_module calls; a module already imported never reaches
 * _load_unlocked): note, then import. */
static PyObject *hook_gcd_import(PyObject *st, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "name", "package", "level", NULL };
	PyObject *name, *package = Py_None, *abs = NULL, *r;
	int level = 0;

	if (st_get(st, "serve") == NULL &&
	    PyArg_ParseTupleAndKeywords(args, kwds, "U|Oi:_gcd_import", kwlist, &name, &package, &level)) {
		PyObject *g = level > 0 ? Py_BuildValue("{sO}", "__package__", package) : NULL;
		abs = level > 0 ? (g ? absolute_name(name, g, level) : NULL) : absolute_name(name, NULL, 0);
		Py_XDECREF(g);
	}
	PyErr_Clear();
	if (abs && PyUnicode_GET_LENGTH(abs) > 0)
		note_dotted(st, abs);
	r = PyObject_Call(st_get(st, "gcd_import"), args, kwds);
	if (abs && r == NULL)
		note_failed_import(st, abs);
	Py_XDECREF(abs);
	return r;
}

/* atexit.register while the zygote preloads: the handler is noted under
 * the module whose loading registers it, for bootstrap.py to register when
 * a run imports that module (python3 registers it then, not earlier). */
static PyObject *hook_register(PyObject *st, PyObject *args, PyObject *kwds)
{
	PyObject *list = st_get(st, "atexit"), *func, *rest, *entry;

	if (st_get(st, "serve") != NULL || list == NULL || PyTuple_GET_SIZE(args) < 1 ||
	    !PyCallable_Check(PyTuple_GET_ITEM(args, 0)))
		return PyObject_Call(st_get(st, "register"), args, kwds);
	func = PyTuple_GET_ITEM(args, 0);
	rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
	entry = rest ? Py_BuildValue("(OOOO)", current_owner(st), func, rest,
	                             kwds ? kwds : Py_None) : NULL;
	int rc = entry ? PyList_Append(list, entry) : -1;
	Py_XDECREF(entry);
	Py_XDECREF(rest);
	if (rc < 0)
		return NULL;
	Py_INCREF(func);
	return func;
}

static PyMethodDef hook_register_def = { "register", (PyCFunction)(void (*)(void))hook_register,
                                         METH_VARARGS | METH_KEYWORDS, NULL };
static PyMethodDef hook_gcd_import_def = { "_gcd_import", (PyCFunction)(void (*)(void))hook_gcd_import,
                                           METH_VARARGS | METH_KEYWORDS, NULL };
static PyMethodDef hook_load_def = { "_load_unlocked", (PyCFunction)hook_load, METH_O, NULL };
static PyMethodDef hook_import_def = { "__import__", (PyCFunction)(void (*)(void))hook_import,
                                       METH_VARARGS | METH_KEYWORDS, NULL };

/* Put a new empty container at state[key]: kind 'd' dict, 'l' list, 's' set. */
static int st_new(PyObject *st, const char *key, char kind)
{
	PyObject *v = kind == 'l' ? PyList_New(0) : kind == 's' ? PySet_New(NULL) : PyDict_New();
	int rc = v ? PyDict_SetItemString(st, key, v) : -1;
	Py_XDECREF(v);
	return rc;
}

/* Start recording: the state, then the two hooks.  Right after start-up,
 * so that the baseline is what python3's own start-up imported. */
/* The recording's empty tables (see the top of this file) and start-up's
 * signal handlers; 0, or -1 with an exception. */
static int state_tables(PyObject *st)
{
	static const struct { const char *key; char kind; } tables[] = {
		{ "atexit", 'l' }, { "stack", 'l' }, { "deps", 'd' }, { "attached", 'd' },
		{ "failed", 's' }, { "loaded", 's' }, { "unshared", 'd' }, { "loggers", 'd' },
		{ "logger_owner", 'd' }, { "c_held", 'd' },
	};
	PyObject *sigs;
	int rc;

	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
		if (st_new(st, tables[i].key, tables[i].kind) < 0)
			return -1;
	if ((sigs = signal_table()) == NULL)
		return -1;
	rc = PyDict_SetItemString(st, "signals_at_start", sigs);
	Py_DECREF(sigs);
	return rc;
}

/* The import system as start-up left it, for bootstrap.py: the start-up
 * modules (base), the names seen so far (known), sys.path, the path
 * importer cache's keys, and copies of sys.meta_path and sys.path_hooks. */
static int snapshot_start(PyObject *st, PyObject *base, PyObject *known)
{
	PyObject *path = PySys_GetObject("path"), *pic = PySys_GetObject("path_importer_cache");
	PyObject *meta = PySys_GetObject("meta_path"), *hooks = PySys_GetObject("path_hooks");
	PyObject *path0 = path && PyList_Check(path) ? PyList_GetSlice(path, 0, PyList_GET_SIZE(path)) : NULL;
	PyObject *finders = pic ? PySet_New(pic) : NULL;
	PyObject *meta0 = meta ? PySequence_List(meta) : NULL;
	PyObject *hooks0 = hooks ? PySequence_List(hooks) : NULL;
	int ok = base && known && path0 && finders && meta0 && hooks0 &&
	         PyDict_SetItemString(st, "baseline", base) == 0 &&
	         PyDict_SetItemString(st, "known", known) == 0 &&
	         PyDict_SetItemString(st, "path", path0) == 0 &&
	         PyDict_SetItemString(st, "finders", finders) == 0 &&
	         PyDict_SetItemString(st, "meta_path", meta0) == 0 &&
	         PyDict_SetItemString(st, "path_hooks", hooks0) == 0;

	Py_XDECREF(path0);
	Py_XDECREF(finders);
	Py_XDECREF(meta0);
	Py_XDECREF(hooks0);
	return ok ? 0 : -1;
}

/* Start recording the preload's imports: the state dict made, start-up's
 * import system noted, and the hooks put in place (see "the import cache"). */
static void imports_begin(struct zygote *z)
{
	PyObject *st = PyDict_New();
	PyObject *bs = PyImport_ImportModule("_frozen_importlib");
	PyObject *builtins = PyEval_GetBuiltins();
	PyObject *load = bs ? PyObject_GetAttrString(bs, "_load_unlocked") : NULL;
	PyObject *gcd = bs ? PyObject_GetAttrString(bs, "_gcd_import") : NULL;
	PyObject *imp = builtins ? PyDict_GetItemString(builtins, "__import__") : NULL;
	PyObject *mods = PyImport_GetModuleDict();
	/* sys.modules as start-up left it, before our own import of atexit
	 * (which python3's start-up does not always import: Debian's does not) */
	PyObject *base = PySet_New(mods);
	PyObject *atexit = PyImport_ImportModule("atexit");
	PyObject *known = PySet_New(mods);
	PyObject *reg = atexit ? PyObject_GetAttrString(atexit, "register") : NULL;
	PyObject *hl = NULL, *hi = NULL, *hr = NULL, *hg = NULL, *aname = NULL;
	int ok = st && load && gcd && imp && reg &&
	         PyDict_SetItemString(st, "load", load) == 0 &&
	         PyDict_SetItemString(st, "gcd_import", gcd) == 0 &&
	         PyDict_SetItemString(st, "import", imp) == 0 &&
	         PyDict_SetItemString(st, "register", reg) == 0 &&
	         state_tables(st) == 0 && snapshot_start(st, base, known) == 0 &&
	         (hl = PyCFunction_New(&hook_load_def, st)) != NULL &&
	         (hi = PyCFunction_New(&hook_import_def, st)) != NULL &&
	         (hr = PyCFunction_New(&hook_register_def, st)) != NULL &&
	         (hg = PyCFunction_New(&hook_gcd_import_def, st)) != NULL &&
	         PyObject_SetAttrString(bs, "_load_unlocked", hl) == 0 &&
	         PyObject_SetAttrString(bs, "_gcd_import", hg) == 0 &&
	         PyDict_SetItemString(builtins, "__import__", hi) == 0 &&
	         PyObject_SetAttrString(atexit, "register", hr) == 0;
	/* An atexit start-up did not import is served like any module the
	 * preload loaded (importing it is a search a run must repeat). */
	if (ok && (aname = PyUnicode_FromString("atexit")) != NULL && PySet_Contains(base, aname) == 0)
		ok = PySet_Add(st_get(st, "loaded"), aname) == 0;
	if (!ok) {
		zwarn(z, "cannot set up the import cache:");
		zpy_log_exception(z, ZLOG_WARNING);
	}
	Py_XDECREF(aname);
	Py_XDECREF(hl);
	Py_XDECREF(hi);
	Py_XDECREF(hr);
	Py_XDECREF(hg);
	Py_XDECREF(gcd);
	Py_XDECREF(reg);
	Py_XDECREF(atexit);
	Py_XDECREF(base);
	Py_XDECREF(known);
	Py_XDECREF(load);
	Py_XDECREF(bs);
	Py_XDECREF(st);
}

/* Note a failed module's name for status. */
static void note_failed(struct zygote *z, const char *name)
{
	size_t used = strlen(z->stats.failed_names);
	int n = snprintf(z->stats.failed_names + used, sizeof z->stats.failed_names - used,
	                 "%s%s", used ? "," : "", name);

	if (n < 0 || used + (size_t)n >= sizeof z->stats.failed_names)
		z->stats.failed_names[used] = '\0';
	z->stats.modules_failed++;
}

/* Import one module into the zygote; a failure is logged, counted and undone. */
int zwarm_import(struct zygote *z, const char *name)
{
	PyObject *before = PySet_New(PyImport_GetModuleDict());
	PyObject *m = before ? PyImport_ImportModule(name) : NULL;

	if (m != NULL) {
		Py_DECREF(m);
		Py_DECREF(before);
		z->stats.modules_ok++;
		return 0;
	}
	zwarn(z, "cannot preload %s:", name);
	zpy_log_exception(z, ZLOG_WARNING);
	if (before != NULL)
		forget_new_modules(before);
	Py_XDECREF(before);
	note_failed(z, name);
	return -1;
}

/* Import the profile's modules in order. */
static void preload(struct zygote *z)
{
	long long t0 = pw_mono_us();

	progress_open(z);
	for (size_t i = 0; i < z->conf.profile.nmodules; i++) {
		progress(z, i + 1, z->conf.profile.nmodules, z->conf.profile.modules[i], t0);
		zwarm_import(z, z->conf.profile.modules[i]);
	}
	if (z->conf.profile.warmup)
		progress(z, z->conf.profile.nmodules, z->conf.profile.nmodules, "(warmup script)", t0);
}

/* Compile and run the warmup script's bytes, held since the profile was
 * loaded (and, for a project profile, trusted with them): the file is not
 * read again, so what runs is exactly what was checked.  compile() of
 * bytes honours a coding cookie or BOM and rejects NUL bytes, as running
 * the file would. */
static PyObject *warmup_run(PyObject *fname, const char *text, size_t len, PyObject *ns)
{
	PyObject *src = PyBytes_FromStringAndSize(text, (Py_ssize_t)len);
	PyObject *builtins = PyEval_GetBuiltins();
	PyObject *compile = builtins ? PyDict_GetItemString(builtins, "compile") : NULL;
	PyObject *code = NULL, *r = NULL;

	if (src && compile)
		code = PyObject_CallFunction(compile, "OOsiO", src, fname, "exec", 0, Py_True);
	if (code)
		r = PyEval_EvalCode(code, ns, ns);
	Py_XDECREF(code);
	Py_XDECREF(src);
	return r;
}

/* Run the profile's warmup script once, in a namespace of its own: not
 * __main__ and not in sys.modules, so nothing of it is visible to a
 * program except what it stores into modules.  Failure is logged and
 * counted; the zygote still serves. */
static void warmup_script(struct zygote *z)
{
	const char *path = z->conf.profile.warmup;
	PyObject *ns, *fname, *name, *r = NULL;

	if (path == NULL)
		return;
	if (z->conf.profile.warmup_text == NULL) {
		zwarn(z, "warmup script %s was not read with the profile; not running it", path);
		z->stats.warmup_failed = 1;
		return;
	}
	ns = PyDict_New();
	fname = PyUnicode_DecodeFSDefault(path);
	name = PyUnicode_FromString("__pywarm_warmup__");
	if (ns && fname && name && PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) == 0 &&
	    PyDict_SetItemString(ns, "__name__", name) == 0 &&
	    PyDict_SetItemString(ns, "__file__", fname) == 0)
		r = warmup_run(fname, z->conf.profile.warmup_text, z->conf.profile.warmup_len, ns);
	if (r == NULL) {
		zwarn(z, "warmup script %s failed:", path);
		zpy_log_exception(z, ZLOG_WARNING);
		z->stats.warmup_failed = 1;
	}
	Py_XDECREF(r);
	Py_XDECREF(name);
	Py_XDECREF(fname);
	Py_XDECREF(ns);
}

/* The whole warm-up: watch what is known, import, run the script. */
/* The hook's state dict (borrowed), or NULL if the hook is not in place. */
static PyObject *import_state(void)
{
	PyObject *bs = PyImport_AddModule("_frozen_importlib");
	PyObject *load = bs ? PyObject_GetAttrString(bs, "_load_unlocked") : NULL;
	PyObject *st = load && PyCFunction_Check(load) ? PyCFunction_GET_SELF(load) : NULL;

	Py_XDECREF(load);           /* the hook function keeps st alive */
	PyErr_Clear();
	return st && PyDict_Check(st) ? st : NULL;
}

/* The preload is over: of the classes each extension's loading referred
 * to once more, keep in st["c_held"] those that C code still holds (no
 * container the collector sees accounts for a reference): an exit lets go
 * of the ones only extensions that the run never imported hold
 * (bootstrap's _release_imports). */
static void cheld_finish(PyObject *st)
{
	PyObject *held = st ? st_get(st, "c_held") : NULL;
	PyObject *cands = PyList_New(0), *kept = NULL, *name, *list;
	Py_ssize_t pos = 0;

	while (held && cands && PyDict_Next(held, &pos, &name, &list)) {
		Py_ssize_t end = PyList_GET_SIZE(cands);
		if (!PyList_Check(list) || PyList_SetSlice(cands, end, end, list) < 0)
			Py_CLEAR(cands);
	}
	PyObject *set = cands ? zcheld_external(cands) : NULL;
	Py_XDECREF(cands);
	PyObject *out = set ? PyDict_New() : NULL;
	pos = 0;
	while (out && PyDict_Next(held, &pos, &name, &list)) {
		kept = PyList_New(0);
		for (Py_ssize_t i = 0; kept && i < PyList_GET_SIZE(list); i++) {
			PyObject *t = PyList_GET_ITEM(list, i);
			int in = PySet_Contains(set, t);
			if (in < 0 || (in && PyList_Append(kept, t) < 0))
				Py_CLEAR(kept);
		}
		if (kept == NULL || (PyList_GET_SIZE(kept) && PyDict_SetItem(out, name, kept) < 0))
			Py_CLEAR(out);
		Py_XDECREF(kept);
	}
	if (held && (out == NULL || PyDict_SetItemString(st, "c_held", out) < 0))
		PyDict_Clear(held);             /* nothing is let go of rather than too much */
	Py_XDECREF(out);
	Py_XDECREF(set);
	PyErr_Clear();
}

void zwarm_all(struct zygote *z)
{
	zsys_share_clock(z->conf.profile.share_clock);
	imports_begin(z);
	zwatch_begin(z);
	output_begin(z);
	if (zsys_watch(1) < 0)
		zwarn(z, "cannot find where PyThread_acquire_lock_timed lies (dladdr1): every "
		      "preloaded module counts as reading the clock");
	preload(z);
	zlearn_preload(z);
	zsys_watch(0);
	output_end(z, import_state());
	warmup_script(z);
	cheld_finish(import_state());
}
