/* envwatch.c: the environment a zygote's start-up read: every variable looked up while the interpreter starts and preloads (C getenv, os.environ) is checked again in each run, which goes cold where the caller's value differs. */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1         /* _PyRuntime's audit hook list: see unhook() */
#include <Python.h>
#include <internal/pycore_runtime.h>
#undef Py_BUILD_CORE

#include "zygote.h"

#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>

extern char **environ;

#define CREC_MAX   1024         /* distinct names getenv() can record */
#define CREC_BYTES 32768        /* their bytes, NUL-terminated one after another */

/* What getenv() records while the window is open.  File-static because
 * getenv() has no context: libpython, extension modules and the libraries
 * they load call it from any thread.  Filled without malloc (an allocator
 * loaded with LD_PRELOAD may read its own variables) under a spin lock
 * whose holder calls nothing that could call back into getenv(). */
static struct {
	int open;                 /* 1 while start-up runs */
	int lock;
	int overflow;             /* more names than fit: every variable counts */
	size_t n, used;
	unsigned int off[CREC_MAX];
	unsigned char late[CREC_MAX]; /* also read once Python code could run */
	char bytes[CREC_BYTES];
} crec;

/* The Python half: os.environ's data (posix.environ) is replaced, until
 * the window closes, by a dict subclass that notes every key looked up;
 * None stands for "the whole environment was listed". */
static const char pyrec_src[] =
	"def begin(posix):\n"
	"    seen = {}\n"
	"    base = dict\n"
	"    class environ(dict):\n"
	"        __slots__ = ()\n"
	"        def __getitem__(self, key):\n"
	"            seen[key] = None\n"
	"            return base.__getitem__(self, key)\n"
	"        def __contains__(self, key):\n"
	"            seen[key] = None\n"
	"            return base.__contains__(self, key)\n"
	"        def get(self, key, *default):\n"
	"            seen[key] = None\n"
	"            return base.get(self, key, *default)\n"
	"        def pop(self, key, *default):\n"
	"            seen[key] = None\n"
	"            return base.pop(self, key, *default)\n"
	"        def setdefault(self, key, *default):\n"
	"            seen[key] = None\n"
	"            return base.setdefault(self, key, *default)\n"
	"    def listing(name):\n"
	"        f = getattr(base, name)\n"
	"        def m(self, *a, **k):\n"
	"            seen[None] = None\n"
	"            return f(self, *a, **k)\n"
	"        m.__name__ = name\n"
	"        return m\n"
	"    for name in ('__iter__', '__len__', '__reversed__', 'keys', 'items', 'values',\n"
	"                 'copy', 'popitem', '__repr__', '__eq__', '__ne__', '__or__',\n"
	"                 '__ror__', '__ior__', '__reduce__', '__reduce_ex__', '__sizeof__'):\n"
	"        setattr(environ, name, listing(name))\n"
	"    orig = posix.environ\n"
	"    rec = environ(base.items(orig))\n"
	"    posix.environ = rec\n"
	"    return seen, orig, rec\n"
	"def end(posix, os, orig, rec):\n"
	"    base = dict\n"
	"    base.clear(orig)\n"
	"    base.update(orig, base.items(rec))\n"
	"    if posix.environ is rec:\n"
	"        posix.environ = orig\n"
	"    for e in (getattr(os, 'environ', None), getattr(os, 'environb', None)):\n"
	"        if getattr(e, '_data', None) is rec:\n"
	"            e._data = orig\n";

/* One variable start-up read, with its value then (NULL: it was not set). */
struct zenv_ent {
	char *name;
	char *value;
};

/* When the window opened (coarse real time, as file times are kept). */
static struct timespec window_t0;

struct zenvwatch {
	struct zenv_ent *e;
	size_t n;
	int whole;                /* the environment was listed: all of it counts */
	char **start;             /* the zygote's environment at start */
};

/* The value of name in envp as getenv() finds it (the first entry), or NULL. */
static char *lookup(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	if (envp == NULL || len == 0)
		return NULL;
	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

/* The Python recording: file-static like crec, since the audit hook that
 * installs it has no zygote to hand. */
static struct {
	int state;                /* 0: waiting for posix, 1: installing, 2: recording, 3: done */
	PyObject *end_fn, *seen, *orig, *rec;
} pyrec;

/* Note name in crec (once), if the window is open. */
static void crec_note(const char *name)
{
	unsigned char late = __atomic_load_n(&pyrec.state, __ATOMIC_RELAXED) != 0;
	size_t len, i;

	if (!__atomic_load_n(&crec.open, __ATOMIC_ACQUIRE))
		return;
	len = strlen(name);
	while (__atomic_exchange_n(&crec.lock, 1, __ATOMIC_ACQUIRE))
		;
	for (i = 0; i < crec.n; i++)
		if (strcmp(crec.bytes + crec.off[i], name) == 0)
			break;
	if (i < crec.n) {
		crec.late[i] |= late;
	} else {
		if (crec.n == CREC_MAX || crec.used + len + 1 > CREC_BYTES) {
			crec.overflow = 1;
		} else {
			memcpy(crec.bytes + crec.used, name, len + 1);
			crec.late[crec.n] = late;
			crec.off[crec.n++] = (unsigned int)crec.used;
			crec.used += len + 1;
		}
	}
	__atomic_store_n(&crec.lock, 0, __ATOMIC_RELEASE);
}

/* getenv() for the whole zygote (it interposes the C library's, so that
 * libpython's and every extension's lookups are seen): glibc's lookup,
 * plus a note while the start-up window is open. */
char *getenv(const char *name)
{
	if (name[0] == '\0')
		return NULL;
	crec_note(name);
	return lookup(environ, name);
}

/* secure_getenv(): nothing in a set-id process, as glibc's. */
char *secure_getenv(const char *name)
{
	if (getauxval(AT_SECURE))
		return NULL;
	return getenv(name);
}

/* Install the recording dict once posix (and so posix.environ) exists and
 * before os wraps it: the audit hook sees the imports of start-up. */
static int audit_hook(const char *event, PyObject *args, void *data)
{
	(void)event;
	(void)args;
	(void)data;
	if (pyrec.state != 0)
		return 0;
	PyObject *name = PyUnicode_FromString("posix");
	PyObject *posix = name ? PyImport_GetModule(name) : NULL;
	PyObject *env = posix ? PyObject_GetAttrString(posix, "environ") : NULL;
	Py_XDECREF(name);
	if (env == NULL || !PyDict_CheckExact(env)) {
		PyErr_Clear();
		Py_XDECREF(env);
		Py_XDECREF(posix);
		return 0;
	}
	Py_DECREF(env);
	pyrec.state = 1;
	PyObject *ns = PyDict_New(), *r = NULL, *begin;
	if (ns && PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) == 0)
		r = PyRun_String(pyrec_src, Py_file_input, ns, ns);
	Py_XDECREF(r);
	begin = ns && r ? PyDict_GetItemString(ns, "begin") : NULL;
	pyrec.end_fn = ns && r ? PyDict_GetItemString(ns, "end") : NULL;
	Py_XINCREF(pyrec.end_fn);
	r = begin && pyrec.end_fn ? PyObject_CallOneArg(begin, posix) : NULL;
	if (r && PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 3) {
		pyrec.seen = PyTuple_GET_ITEM(r, 0);
		pyrec.orig = PyTuple_GET_ITEM(r, 1);
		pyrec.rec = PyTuple_GET_ITEM(r, 2);
		Py_INCREF(pyrec.seen);
		Py_INCREF(pyrec.orig);
		Py_INCREF(pyrec.rec);
		pyrec.state = 2;
	} else {
		pyrec.state = 3;          /* zenv_end() sees no recording: all counts */
	}
	Py_XDECREF(r);
	Py_XDECREF(ns);
	Py_DECREF(posix);
	PyErr_Clear();
	return 0;
}

/* Open the window, before the interpreter starts. */
void zenv_begin(struct zygote *z)
{
	(void)z;
	clock_gettime(CLOCK_REALTIME_COARSE, &window_t0);
	__atomic_store_n(&crec.open, 1, __ATOMIC_RELEASE);
	if (PySys_AddAuditHook(audit_hook, NULL) < 0)
		pyrec.state = 3;
}

/* When start-up began: a file changed since may have been read before. */
void zenv_start_time(struct timespec *ts)
{
	*ts = window_t0;
}

/* Add one recorded name (no identity variable: the identity has it).  A
 * name too long to keep, or with '=' (getenv("A=B") finds "A=B=C"), makes
 * the whole environment count. */
static int add_name(struct zygote *z, struct zenvwatch *w, const char *name, size_t len)
{
	char entry[512];

	if (len == 0 || memchr(name, '\0', len))
		return 0;               /* no environment entry has such a name */
	if (len + 2 > sizeof entry || memchr(name, '=', len)) {
		w->whole = 1;
		return 0;
	}
	memcpy(entry, name, len);
	entry[len] = '=';
	entry[len + 1] = '\0';
	if (pw_env_in_identity(&z->profile, entry))
		return 0;
	entry[len] = '\0';
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->e[i].name, entry) == 0)
			return 0;
	struct zenv_ent *ne = realloc(w->e, (w->n + 1) * sizeof(*ne));
	if (ne == NULL)
		return -1;
	w->e = ne;
	char *v = lookup(w->start, entry);
	ne[w->n].name = strdup(entry);
	ne[w->n].value = v ? strdup(v) : NULL;
	if (ne[w->n].name == NULL || (v && ne[w->n].value == NULL))
		return -1;
	w->n++;
	return 0;
}

/* Take our audit hook out again: there is no API for it, and a hook left
 * in place makes every audited event of every run build its arguments
 * (about 0.1 us each) where python3 has none.  CPython 3.11 keeps the
 * hooks added before initialisation in _PyRuntime.audit_hook_head.  The GIL is held, and only threads holding it walk the
 * list. */
static void unhook(void)
{
	_Py_AuditHookEntry **pp = &_PyRuntime.audit_hook_head;

	for (; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->hookCFunction == audit_hook && (*pp)->userData == NULL) {
			/* Unlinked, not freed: it was allocated before the
			 * interpreter chose its allocators (PYTHONMALLOC=debug
			 * would refuse the block); 24 bytes, once. */
			*pp = (*pp)->next;
			return;
		}
	}
}

/* Close the Python recording, put the plain dict back, take its names. */
static int py_end(struct zygote *z, struct zenvwatch *w)
{
	int rc = 0;

	if (pyrec.state != 2) {
		pyrec.state = 3;
		return -1;
	}
	pyrec.state = 3;
	PyObject *name = PyUnicode_FromString("posix"), *osname = PyUnicode_FromString("os");
	PyObject *posix = name ? PyImport_GetModule(name) : NULL;
	PyObject *os = osname ? PyImport_GetModule(osname) : NULL;
	PyObject *r = posix ? PyObject_CallFunctionObjArgs(pyrec.end_fn, posix, os ? os : Py_None,
	                                                  pyrec.orig, pyrec.rec, NULL) : NULL;
	if (r == NULL)
		rc = -1;
	Py_ssize_t pos = 0;
	PyObject *key, *val;
	while (rc == 0 && PyDict_Next(pyrec.seen, &pos, &key, &val)) {
		if (key == Py_None)
			w->whole = 1;
		else if (PyBytes_Check(key))
			rc = add_name(z, w, PyBytes_AS_STRING(key), (size_t)PyBytes_GET_SIZE(key));
		/* a str key never matches: os.environ encodes its keys */
	}
	Py_XDECREF(r);
	Py_XDECREF(os);
	Py_XDECREF(posix);
	Py_XDECREF(osname);
	Py_XDECREF(name);
	Py_CLEAR(pyrec.seen);
	Py_CLEAR(pyrec.orig);
	Py_CLEAR(pyrec.rec);
	Py_CLEAR(pyrec.end_fn);
	PyErr_Clear();
	return rc;
}

/* The names recorded, comma-separated, for the log. */
static void names_text(const struct zenvwatch *w, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < w->n && used + 1 < len; i++) {
		int k = snprintf(buf + used, len - used, "%s%s", used ? "," : "", w->e[i].name);
		if (k < 0 || used + (size_t)k >= len)
			break;
		used += (size_t)k;
	}
}

/* Names CPython's configuration reads (before any Python code runs) that
 * cannot change what it computes for a zygote: getpath searches PATH only
 * for a program name without a slash (the zygote gives the interpreter's
 * absolute path), and reads __PYVENV_LAUNCHER__ only on macOS.  Read again
 * later, by anyone, they count like every other name. */
static int config_only(const char *name)
{
	return strcmp(name, "PATH") == 0 || strcmp(name, "__PYVENV_LAUNCHER__") == 0;
}

/* Close the window after warm-up: keep each variable read with its value
 * at start.  On any failure the whole environment counts (fail closed). */
void zenv_end(struct zygote *z)
{
	struct zenvwatch *w = calloc(1, sizeof(*w));
	char names[1024];
	int failed = 0;

	__atomic_store_n(&crec.open, 0, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&crec.lock, __ATOMIC_ACQUIRE))
		;
	unhook();
	z->envwatch = w;
	if (w == NULL) {
		zwarn(z, "out of memory for the start-up environment; serving every run cold");
		return;
	}
	w->start = z->envp ? z->envp : environ;
	if (py_end(z, w) < 0)
		failed = 1;
	for (size_t i = 0; !failed && i < crec.n; i++) {
		const char *name = crec.bytes + crec.off[i];
		if (!crec.late[i] && config_only(name))
			continue;
		if (add_name(z, w, name, strlen(name)) < 0)
			failed = 1;
	}
	if (failed || crec.overflow)
		w->whole = 1;
	names_text(w, names, sizeof names);
	zlog(z, "start-up read %zu environment variables outside the identity%s%s%s", w->n,
	     w->n ? ": " : "", names, w->whole ? "; and listed the whole environment, so "
	     "every variable must match the zygote's start" : "");
}

/* Are two environments the same entries in the same order (what a module
 * that listed os.environ, or walked environ, saw)? */
static int same_environment(char *const *a, char *const *b)
{
	size_t i;

	for (i = 0; a && b && a[i] != NULL && b[i] != NULL; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return (a == NULL || a[i] == NULL) && (b == NULL || b[i] == NULL);
}

/* Forget the time zone the C library read for the zygote: glibc's tzset()
 * does not read the file again while TZ keeps its value, nor while the
 * file keeps its inode and modification time, and a fresh python3 reads it
 * at start.  Set "TZ=:" (no file), then read the caller's. */
static void reset_tz(char **envp)
{
	static char *none[] = { "TZ=:", NULL };
	char **saved = environ;

	environ = none;
	tzset();
	environ = envp;
	tzset();
	environ = saved;
}

/* In a child, before the caller's environment is installed: the run goes
 * cold (returns why) if a variable start-up read has another value in it
 * (if start-up listed the environment, if it is not the same); and the C
 * library reads again what it caches from the environment. */
const char *zenv_child(struct zygote *z, struct pw_launch *l)
{
	static char why[640];
	const struct zenvwatch *w = z->envwatch;

	if (w == NULL)
		return "the zygote could not record the environment its start-up read";
	if (w->whole && !same_environment(w->start, l->envp))
		return "the environment differs from the zygote's start "
		       "(its start-up listed every variable)";
	for (size_t i = 0; i < w->n; i++) {
		const char *v = lookup(l->envp, w->e[i].name);
		if ((v == NULL) != (w->e[i].value == NULL) ||
		    (v != NULL && strcmp(v, w->e[i].value) != 0)) {
			snprintf(why, sizeof why, "%.256s differs from the zygote's start, which read it",
			         w->e[i].name);
			return why;
		}
	}
	reset_tz(l->envp);
	return NULL;
}
