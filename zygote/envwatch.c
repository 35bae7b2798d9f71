/* envwatch.c: the environment a zygote's start-up read: every variable looked up while the interpreter starts and preloads (C getenv, os.environ) is checked again in each run, which goes cold where the caller's value differs. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

/* The Python half: from the moment posix creates posix.environ (which
 * os.environ wraps) until the window closes, that dict's type is a
 * subclass of dict written in C whose lookups note the key and whose
 * listings note that the whole environment was seen.  Changing the
 * object's type in place, rather than putting a copy in its place, and
 * making the type inside zpy_quiet_begin/end, leave the collector's
 * counters and free lists as python3's start-up leaves them: a lookup
 * makes no object dict's own does not make.  File-static like crec: the
 * posix module's creation, where it starts, has no zygote to hand. */
struct pykey {
	char *name;
	size_t len;
};

static struct {
	int state;                /* 0: waiting for posix, 1: recording, 2: failed, 3: done */
	int whole;                /* listed, or a note failed: every variable counts */
	PyObject *env;            /* posix.environ */
	PyTypeObject *type;       /* the recording type, while env has it */
	struct pykey *keys;       /* the bytes keys looked up, once each */
	size_t n, cap;
	PyObject *(*posix_init)(void);    /* the interpreter's PyInit_posix */
	PyModuleDef *def;                 /* posix's definition, its slots swapped */
	PyModuleDef_Slot *slots;          /* posix's own slots */
	struct _inittab *inittab, *inittab_copy;
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

/* Note a key looked up in posix.environ (bytes; a str key never matches,
 * os.environ encodes its keys), once. */
static void rec_note(PyObject *key)
{
	const char *s;
	size_t len;

	if (!PyBytes_Check(key) || pyrec.state != 1)
		return;
	s = PyBytes_AS_STRING(key);
	len = (size_t)PyBytes_GET_SIZE(key);
	for (size_t i = 0; i < pyrec.n; i++)
		if (pyrec.keys[i].len == len && memcmp(pyrec.keys[i].name, s, len) == 0)
			return;
	if (pyrec.n == pyrec.cap) {
		size_t cap = pyrec.cap ? 2 * pyrec.cap : 64;
		struct pykey *nk = realloc(pyrec.keys, cap * sizeof(*nk));
		if (nk == NULL) {
			pyrec.whole = 1;
			return;
		}
		pyrec.keys = nk;
		pyrec.cap = cap;
	}
	char *copy = malloc(len + 1);
	if (copy == NULL) {
		pyrec.whole = 1;
		return;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	pyrec.keys[pyrec.n++] = (struct pykey){ copy, len };
}

/* Note that the whole environment was seen (listed, compared, copied). */
static void rec_whole(void)
{
	if (pyrec.state == 1)
		pyrec.whole = 1;
}

/* The recording type's slots: note, then dict's own. */
static PyObject *rec_subscript(PyObject *self, PyObject *key)
{
	rec_note(key);
	return PyDict_Type.tp_as_mapping->mp_subscript(self, key);
}

static int rec_contains(PyObject *self, PyObject *key)
{
	rec_note(key);
	return PyDict_Type.tp_as_sequence->sq_contains(self, key);
}

static PyObject *rec_iter(PyObject *self)
{
	rec_whole();
	return PyDict_Type.tp_iter(self);
}

static Py_ssize_t rec_length(PyObject *self)
{
	rec_whole();
	return PyDict_Type.tp_as_mapping->mp_length(self);
}

static PyObject *rec_repr(PyObject *self)
{
	rec_whole();
	return PyDict_Type.tp_repr(self);
}

static PyObject *rec_richcompare(PyObject *a, PyObject *b, int op)
{
	rec_whole();
	return PyDict_Type.tp_richcompare(a, b, op);
}

static PyObject *rec_or(PyObject *a, PyObject *b)
{
	rec_whole();
	return PyDict_Type.tp_as_number->nb_or(a, b);
}

static PyObject *rec_ior(PyObject *a, PyObject *b)
{
	rec_whole();
	return PyDict_Type.tp_as_number->nb_inplace_or(a, b);
}

/* The methods the type puts before dict's: those taking a key note it,
 * the others note a listing.  Each is dict's (or object's) descriptor,
 * called with the same arguments through vectorcall, so that no argument
 * tuple is made. */
static const struct {
	const char *name;
	int lookup;
} rec_fwd[] = {
	{ "get", 1 }, { "pop", 1 }, { "setdefault", 1 }, { "keys", 0 }, { "items", 0 },
	{ "values", 0 }, { "copy", 0 }, { "popitem", 0 }, { "__reversed__", 0 },
	{ "__reduce__", 0 }, { "__reduce_ex__", 0 }, { "__sizeof__", 0 },
};
#define NREC_FWD (sizeof rec_fwd / sizeof *rec_fwd)
static PyObject *rec_descr[NREC_FWD];

/* Call method i of dict with self and the caller's arguments. */
static PyObject *rec_forward(size_t i, PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
	Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
	PyObject *small[8], **stack = small, *r;

	if (rec_fwd[i].lookup && nargs > 0)
		rec_note(args[0]);
	else if (!rec_fwd[i].lookup)
		rec_whole();
	if (nargs + nkw + 1 > (Py_ssize_t)(sizeof small / sizeof *small) &&
	    (stack = PyMem_Malloc((size_t)(nargs + nkw + 1) * sizeof *stack)) == NULL)
		return PyErr_NoMemory();
	stack[0] = self;
	for (Py_ssize_t k = 0; k < nargs + nkw; k++)
		stack[k + 1] = args[k];
	r = PyObject_Vectorcall(rec_descr[i], stack, (size_t)nargs + 1, kwnames);
	if (stack != small)
		PyMem_Free(stack);
	return r;
}

#define REC_FWD(i) \
	static PyObject *rec_fwd_##i(PyObject *self, PyObject *const *args, Py_ssize_t nargs, \
	                             PyObject *kwnames) \
	{ \
		return rec_forward(i, self, args, nargs, kwnames); \
	}
REC_FWD(0) REC_FWD(1) REC_FWD(2) REC_FWD(3) REC_FWD(4) REC_FWD(5)
REC_FWD(6) REC_FWD(7) REC_FWD(8) REC_FWD(9) REC_FWD(10) REC_FWD(11)

static _PyCFunctionFastWithKeywords rec_fwd_fn[NREC_FWD] = {
	rec_fwd_0, rec_fwd_1, rec_fwd_2, rec_fwd_3, rec_fwd_4, rec_fwd_5,
	rec_fwd_6, rec_fwd_7, rec_fwd_8, rec_fwd_9, rec_fwd_10, rec_fwd_11,
};
static PyMethodDef rec_methods[NREC_FWD + 1];

/* Make the recording type (and look up the descriptors it forwards to);
 * NULL on failure, with no error set.  Its name has a module part: a
 * type without one makes PyType_FromSpec warn (DeprecationWarning), and
 * the warning machinery leaves state behind. */
static PyTypeObject *rec_type(void)
{
	PyType_Slot slots[] = {
		{ Py_mp_subscript, rec_subscript }, { Py_sq_contains, rec_contains },
		{ Py_tp_iter, rec_iter }, { Py_mp_length, rec_length }, { Py_tp_repr, rec_repr },
		{ Py_tp_richcompare, rec_richcompare }, { Py_nb_or, rec_or },
		{ Py_nb_inplace_or, rec_ior }, { Py_tp_methods, rec_methods }, { 0, NULL },
	};
	PyType_Spec spec = { "_pywarm.environ", 0, 0, Py_TPFLAGS_DEFAULT, slots };
	PyObject *t;

	for (size_t i = 0; i < NREC_FWD; i++) {
		rec_descr[i] = PyObject_GetAttrString((PyObject *)&PyDict_Type, rec_fwd[i].name);
		if (rec_descr[i] == NULL || !PyObject_TypeCheck(rec_descr[i], &PyMethodDescr_Type))
			goto fail;
		rec_methods[i] = (PyMethodDef){ rec_fwd[i].name,
		                                (PyCFunction)(void (*)(void))rec_fwd_fn[i],
		                                METH_FASTCALL | METH_KEYWORDS, NULL };
	}
	t = PyType_FromSpecWithBases(&spec, (PyObject *)&PyDict_Type);
	if (t != NULL && ((PyTypeObject *)t)->tp_basicsize == PyDict_Type.tp_basicsize &&
	    ((PyTypeObject *)t)->tp_dictoffset == 0 && ((PyTypeObject *)t)->tp_weaklistoffset == 0)
		return (PyTypeObject *)t;
	Py_XDECREF(t);
fail:
	for (size_t i = 0; i < NREC_FWD; i++)
		Py_CLEAR(rec_descr[i]);
	PyErr_Clear();
	return NULL;
}

/* posix's last exec slot: posix.environ takes the recording type.  On
 * failure nothing is recorded, and zenv_end() counts everything.  Never
 * fails the import. */
static int rec_install(PyObject *posix)
{
	PyObject *env;

	pyrec.def->m_slots = pyrec.slots;       /* posix is as it was from now on */
	zpy_quiet_begin();
	env = PyObject_GetAttrString(posix, "environ");
	if (env != NULL && PyDict_CheckExact(env) && (pyrec.type = rec_type()) != NULL) {
		Py_INCREF(pyrec.type);                  /* the instance's reference */
		Py_SET_TYPE(env, pyrec.type);
		pyrec.env = env;
		pyrec.state = 1;
	} else {
		Py_XDECREF(env);
		pyrec.state = 2;
	}
	PyErr_Clear();
	zpy_quiet_end();
	return 0;
}

/* posix's definition, with rec_install run after its own exec slots. */
static PyModuleDef_Slot rec_slots[16];

/* The inittab's entry for posix: the interpreter's own, whose definition
 * then runs rec_install once posix.environ exists (before os wraps it,
 * before any Python code of start-up runs). */
static PyObject *rec_posix_init(void)
{
	PyObject *m = pyrec.posix_init();
	size_t n = 0;

	PyImport_Inittab = pyrec.inittab;
	if (m == NULL || !PyObject_TypeCheck(m, &PyModuleDef_Type))
		return m;                /* a single-phase posix: not recorded */
	pyrec.def = (PyModuleDef *)m;
	pyrec.slots = pyrec.def->m_slots;
	while (pyrec.slots && pyrec.slots[n].slot != 0)
		n++;
	if (n + 2 > sizeof rec_slots / sizeof *rec_slots)
		return m;
	if (n > 0)
		memcpy(rec_slots, pyrec.slots, n * sizeof *rec_slots);
	rec_slots[n] = (PyModuleDef_Slot){ Py_mod_exec, (void *)rec_install };
	rec_slots[n + 1] = (PyModuleDef_Slot){ 0, NULL };
	pyrec.def->m_slots = rec_slots;
	return m;
}

/* Point posix's inittab entry at rec_posix_init (in a copy of the table,
 * put back when posix is made); -1 if there is no such entry. */
static int rec_hook_posix(void)
{
	size_t n = 0, i;

	pyrec.inittab = PyImport_Inittab;
	while (PyImport_Inittab[n].name != NULL)
		n++;
	for (i = 0; i < n && strcmp(PyImport_Inittab[i].name, "posix") != 0; i++)
		;
	if (i == n || PyImport_Inittab[i].initfunc == NULL ||
	    (pyrec.inittab_copy = calloc(n + 1, sizeof *pyrec.inittab_copy)) == NULL)
		return -1;
	memcpy(pyrec.inittab_copy, PyImport_Inittab, (n + 1) * sizeof *pyrec.inittab_copy);
	pyrec.posix_init = PyImport_Inittab[i].initfunc;
	pyrec.inittab_copy[i].initfunc = rec_posix_init;
	PyImport_Inittab = pyrec.inittab_copy;
	return 0;
}

/* Open the window, before the interpreter starts. */
void zenv_begin(struct zygote *z)
{
	clock_gettime(CLOCK_REALTIME_COARSE, &window_t0);
	__atomic_store_n(&crec.open, 1, __ATOMIC_RELEASE);
	if (rec_hook_posix() < 0) {
		zwarn(z, "cannot record start-up's os.environ reads (no posix in the inittab); "
		      "every variable counts");
		pyrec.state = 2;
	}
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
	if (pw_env_in_identity(&z->conf.profile, entry))
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

/* Is o's attribute name (NULL: o itself) still env?  1 yes, 0 no; o NULL counts as yes. */
static int still_env(PyObject *o, const char *name)
{
	PyObject *v = o && name ? PyObject_GetAttrString(o, name) : o;
	int same = o == NULL || v == pyrec.env;

	if (name)
		Py_XDECREF(v);
	PyErr_Clear();
	return same;
}

/* Did start-up leave os.environ reading another dict than the recorded
 * one (a module replaced posix.environ or os.environ._data)? */
static int env_replaced(void)
{
	PyObject *posix = PyImport_ImportModule("posix");
	PyObject *os = PyDict_GetItemString(PyImport_GetModuleDict(), "os");
	PyObject *e = os ? PyObject_GetAttrString(os, "environ") : NULL;
	PyObject *eb = os ? PyObject_GetAttrString(os, "environb") : NULL;
	int replaced = posix == NULL || !still_env(posix, "environ") ||
	               (os && !(e && still_env(e, "_data"))) || (eb && !still_env(eb, "_data"));

	Py_XDECREF(eb);
	Py_XDECREF(e);
	Py_XDECREF(posix);
	PyErr_Clear();
	return replaced;
}

/* End the Python recording: posix.environ is a plain dict again (even
 * when nothing else of zenv_end() can be done).  If start-up left
 * os.environ reading another dict, what it read there was not seen. */
static void rec_stop(void)
{
	if (pyrec.state != 1) {
		pyrec.state = 2;
		return;
	}
	if (env_replaced())
		pyrec.whole = 1;
	pyrec.state = 3;
	if (Py_TYPE(pyrec.env) == pyrec.type) {
		Py_SET_TYPE(pyrec.env, &PyDict_Type);
		Py_DECREF(pyrec.type);
	}
	for (size_t i = 0; i < NREC_FWD; i++)
		Py_CLEAR(rec_descr[i]);
	Py_CLEAR(pyrec.type);
	Py_CLEAR(pyrec.env);
	free(pyrec.inittab_copy);
	pyrec.inittab_copy = NULL;
}

/* Take the Python recording's names; -1 if nothing was recorded. */
static int py_end(struct zygote *z, struct zenvwatch *w)
{
	int rc = pyrec.state == 3 ? 0 : -1;

	if (pyrec.whole)
		w->whole = 1;
	for (size_t i = 0; i < pyrec.n; i++) {
		if (rc == 0)
			rc = add_name(z, w, pyrec.keys[i].name, pyrec.keys[i].len);
		free(pyrec.keys[i].name);
	}
	free(pyrec.keys);
	pyrec.keys = NULL;
	pyrec.n = pyrec.cap = 0;
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
	rec_stop();
	z->envwatch = w;
	if (w == NULL) {
		zwarn(z, "out of memory for the start-up environment; serving every run cold");
		return;
	}
	w->start = z->conf.envp ? z->conf.envp : environ;
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
const char *zenv_child(const struct zygote *z, struct pw_launch *l)
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

/* learn.c's judge, in a throwaway child: record getenv() names afresh. */
void zenv_probe_begin(void)
{
	crec.n = crec.used = 0;
	crec.overflow = 0;
	__atomic_store_n(&crec.open, 1, __ATOMIC_RELEASE);
}

/* learn.c's judge, in a throwaway child: record os.environ's lookups
 * afresh, with start-up's recording type on posix.environ (the dict
 * os.environ reads).  0, or -1: nothing can be recorded here. */
int zenv_probe_py_begin(void)
{
	for (size_t i = 0; i < pyrec.n; i++)
		free(pyrec.keys[i].name);
	pyrec.n = 0;
	pyrec.whole = 0;
	if (pyrec.state == 1)           /* a child of a zygote still warming: start-up's */
		return Py_TYPE(pyrec.env) == pyrec.type ? 0 : -1;       /* recording goes on */
	pyrec.env = PyImport_AddModule("posix");        /* borrowed, for now */
	pyrec.env = pyrec.env ? PyObject_GetAttrString(pyrec.env, "environ") : NULL;
	if (pyrec.env == NULL || !PyDict_CheckExact(pyrec.env) || env_replaced() ||
	    (pyrec.type = rec_type()) == NULL) {
		Py_CLEAR(pyrec.env);
		PyErr_Clear();
		return -1;
	}
	Py_INCREF(pyrec.type);                          /* the instance's reference */
	Py_SET_TYPE(pyrec.env, pyrec.type);
	pyrec.state = 1;
	return 0;
}

/* End it: the keys looked up (bytes, in order) as a new list, with None
 * at the end if the whole environment was listed or os.environ was
 * replaced meanwhile; NULL if zenv_probe_py_begin() failed. */
PyObject *zenv_probe_py_end(void)
{
	PyObject *out;

	if (pyrec.state != 1)
		return NULL;
	rec_stop();
	out = PyList_New(0);
	for (size_t i = 0; out && i < pyrec.n; i++) {
		PyObject *k = PyBytes_FromStringAndSize(pyrec.keys[i].name, (Py_ssize_t)pyrec.keys[i].len);
		if (k == NULL || PyList_Append(out, k) < 0)
			Py_CLEAR(out);
		Py_XDECREF(k);
	}
	if (out && pyrec.whole && PyList_Append(out, Py_None) < 0)
		Py_CLEAR(out);
	for (size_t i = 0; i < pyrec.n; i++)
		free(pyrec.keys[i].name);
	pyrec.n = 0;
	return out;
}

/* The i-th name getenv() was asked for since zenv_probe_begin(), or NULL. */
const char *zenv_probe_name(size_t i)
{
	return i < crec.n ? crec.bytes + crec.off[i] : NULL;
}

/* Did start-up read name, so that every run already checks its value? */
int zenv_known(const struct zygote *z, const char *name)
{
	const struct zenvwatch *w = z->envwatch;

	for (size_t i = 0; w && i < w->n; i++)
		if (strcmp(w->e[i].name, name) == 0)
			return 1;
	return 0;
}
