/* py.c: the embedded interpreter's lifecycle: start-up as python3 would, preload, freeze, fork hooks, and a child's set-up before its program runs (run.c runs it). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The collector's per-generation counters (gc.get_count()) have no API to
 * set them; the zygote is built against this very libpython. */
#undef _PyGC_FINALIZED
#define Py_BUILD_CORE 1
#include "internal/pycore_interp.h"
#undef Py_BUILD_CORE

#include "zygote.h"
#include "bootstrap.h"
#include "token.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

/* bootstrap.setup() and bootstrap.needs_teardown(), compiled once in the
 * zygote and kept for its lifetime. */
static PyObject *setup_fn, *teardown_fn, *prepare_fn;

/* The gc module, imported by pywarm itself and kept out of sys.modules. */
static PyObject *gc_module;

/* gc.get_count() as start-up left it, before the preload: what python3's
 * counters say when it starts running the program's own code. */
static int gc_start_count[NUM_GENERATIONS];

/* gc.get_stats() then: the collections start-up made, not the zygote's. */
static struct gc_generation_stats gc_start_stats[NUM_GENERATIONS];

/* Modules whose import read the kernel's randomness (getrandom(2)): each
 * seeded something that every child would share.  Filled while the zygote
 * preloads (entropy_watch set), read once by the bootstrap. */
#define MAX_ENTROPY_READERS 32
static int entropy_watch;
static char *entropy_readers[MAX_ENTROPY_READERS];
static int n_entropy_readers;

/* Is module m still being imported (its __spec__._initializing)? */
static int initializing(PyObject *m)
{
	PyObject *d = PyModule_Check(m) ? PyModule_GetDict(m) : NULL;
	PyObject *spec = d ? PyDict_GetItemString(d, "__spec__") : NULL;
	if (spec == NULL || spec == Py_None)
		return 0;
	PyObject *v = PyObject_GetAttrString(spec, "_initializing");
	int on = v != NULL && PyObject_IsTrue(v) == 1;
	Py_XDECREF(v);
	PyErr_Clear();
	return on;
}

/* The innermost module being imported (the last one entered in sys.modules
 * whose import is not finished), or NULL: who reads entropy.  A module
 * written in C has no frame of its own, so frames cannot tell.  os.urandom()
 * calls getrandom() with the GIL released: take it back for the look. */
static char *importing_module(void)
{
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *type, *value, *tb, *key, *m;
	PyErr_Fetch(&type, &value, &tb);
	PyObject *modules = PyImport_GetModuleDict();
	PyObject *last = NULL;
	Py_ssize_t pos = 0;
	while (modules && PyDict_Next(modules, &pos, &key, &m))
		if (PyUnicode_Check(key) && initializing(m))
			last = key;
	const char *u = last ? PyUnicode_AsUTF8(last) : NULL;
	char *name = u ? strdup(u) : NULL;
	PyErr_Clear();
	PyErr_Restore(type, value, tb);
	PyGILState_Release(g);
	return name;
}

/* Note the module that read entropy (once per name). */
static void note_entropy_reader(void)
{
	char *name = importing_module();
	if (name == NULL)
		name = strdup("(outside any import: the warmup script?)");
	for (int i = 0; name && i < n_entropy_readers; i++)
		if (strcmp(entropy_readers[i], name) == 0) {
			free(name);
			return;
		}
	if (name && n_entropy_readers < MAX_ENTROPY_READERS)
		entropy_readers[n_entropy_readers++] = name;
	else
		free(name);
}

/* libc's getrandom(), which libpython's os.urandom() and random seeding call:
 * the zygote's own definition, so that it sees who reads entropy while it
 * preloads.  Otherwise a plain pass-through to the system call. */
static unsigned long entropy_calls;     /* every getrandom() call, for learn.c */

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
	entropy_calls++;
	if (entropy_watch) {
		entropy_watch = 0;              /* the walk may itself need entropy */
		note_entropy_reader();
		entropy_watch = 1;
	}
	return syscall(SYS_getrandom, buf, len, flags);
}

unsigned long zpy_entropy_calls(void)
{
	return entropy_calls;
}

/* Log the pending Python exception without letting SystemExit end us:
 * the interpreter's own display of it, caught in an io.StringIO (io is
 * imported at start-up, so nothing new is imported), each line a log line
 * at prio; straight to stderr if that cannot be arranged. */
void zpy_log_exception(struct zygote *z, enum zprio prio)
{
	PyObject *type, *value, *tb, *io, *buf = NULL, *text = NULL;
	PyObject *saved = PySys_GetObject("stderr");

	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	if (type == NULL)
		return;
	Py_XINCREF(saved);
	if ((io = PyImport_ImportModule("io")) != NULL) {
		buf = PyObject_CallMethod(io, "StringIO", NULL);
		Py_DECREF(io);
	}
	if (buf != NULL && PySys_SetObject("stderr", buf) == 0) {
		PyErr_Display(type, value, tb);
		PySys_SetObject("stderr", saved);
		text = PyObject_CallMethod(buf, "getvalue", NULL);
	}
	const char *at = text && PyUnicode_Check(text) ? PyUnicode_AsUTF8(text) : NULL;
	if (at == NULL) {
		PyErr_Clear();
		PyErr_Display(type, value, tb);
	}
	size_t n = at ? strlen(at) : 0, len;
	struct pw_tok t;
	const char *line;
	pw_tok_init(&t, at, n, "\n", PW_TOK_KEEP_EMPTY);
	while (n > 0 && pw_tok_next(&t, &line, &len) && !(len == 0 && line == at + n))
		zlogp(z, prio, "%.*s", (int)len, line);   /* (no line after a last newline) */
	Py_XDECREF(text);
	Py_XDECREF(buf);
	Py_XDECREF(saved);
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
}

/* The zygote's python3 options go in first: setting argv pre-initialises
 * Python from them (-E, -I, -X utf8 and -X dev shape the pre-configuration). */
static PyStatus set_argv(PyConfig *config, struct zygote *z)
{
	char *argv[PW_MAX_ZOPTS + 2];
	int n = 0;

	argv[n++] = z->conf.interp.path;
	for (int i = 0; i < z->conf.nzopts && i < PW_MAX_ZOPTS; i++)
		argv[n++] = z->conf.zopts[i];
	argv[n] = NULL;
	return PyConfig_SetBytesArgv(config, n, argv);
}

/* Initialise CPython exactly as the real interpreter with the zygote's options. */
static int init_interpreter(struct zygote *z)
{
	PyConfig config;
	PyStatus st = PyStatus_Ok();
	const char *before = getenv("LC_CTYPE");
	char saved[128];

	snprintf(saved, sizeof saved, "%s", before ? before : "");
	PyConfig_InitPythonConfig(&config);
	if (z->conf.nzopts > 0)
		st = set_argv(&config, z);
	if (!PyStatus_Exception(st))
		st = PyConfig_SetBytesString(&config, &config.program_name, z->conf.interp.path);
	if (!PyStatus_Exception(st))
		st = Py_InitializeFromConfig(&config);
	PyConfig_Clear(&config);
	if (PyStatus_Exception(st)) {
		zwarn(z, "cannot initialise Python: %s%s%s", st.func ? st.func : "",
		     st.func ? ": " : "", st.err_msg ? st.err_msg : "exit requested");
		return -1;
	}
	/* python3's C-locale coercion sets LC_CTYPE in its own environment;
	 * each child must set the same over the caller's environment. */
	const char *after = getenv("LC_CTYPE");
	if (after && (before == NULL || strcmp(saved, after) != 0))
		snprintf(z->conf.lc_ctype, sizeof z->conf.lc_ctype, "%s", after);
	return 0;
}

/* Run gc.<name>() and drop the result. */
static void gc_call(const char *name)
{
	if (gc_module == NULL)
		gc_module = PyImport_ImportModule("gc");
	PyObject *r = gc_module ? PyObject_CallMethod(gc_module, name, NULL) : NULL;
	if (r == NULL)
		PyErr_Clear();
	Py_XDECREF(r);
}

/* How many freed tuples (per size), lists and dicts start-up left for
 * reuse.  An object taken from a free list does not count as an
 * allocation, and one that goes back to it not as a deallocation, so the
 * counters run as python3's only from free lists as full as python3's. */
static int free_tuples[PyTuple_NFREELISTS], free_lists, free_dicts;

/* Remember the free lists as start-up left them. */
static void freelists_save(void)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	memcpy(free_tuples, interp->tuple.numfree, sizeof free_tuples);
	free_lists = interp->list.numfree;
	free_dicts = interp->dict_state.numfree;
}

/* Make n objects with make(arg) and free them all: they go to their free list. */
static void refill(int n, PyObject *(*make)(Py_ssize_t), Py_ssize_t arg)
{
	PyObject **v = n > 0 ? calloc((size_t)n, sizeof *v) : NULL;
	for (int i = 0; v && i < n; i++)
		v[i] = make(arg);
	for (int i = 0; v && i < n; i++)
		Py_XDECREF(v[i]);
	free(v);
	PyErr_Clear();
}

/* PyDict_New() with refill()'s signature. */
static PyObject *new_dict(Py_ssize_t unused)
{
	return PyDict_New();
}

/* Empty the free lists (a full collection does), then fill them as
 * start-up had them. */
static void freelists_restore(void)
{
	gc_call("collect");
	for (int i = 0; i < PyTuple_NFREELISTS; i++)
		refill(free_tuples[i], PyTuple_New, i + 1);
	refill(free_lists, PyList_New, 0);
	refill(free_dicts, new_dict, 0);
}

/* The collector as it was before pywarm made objects python3 never
 * makes (the start-up environment recorder, envwatch.c): its counters,
 * whether it was enabled, and the tuple, list and dict free lists, which
 * the bracket empties so that it neither takes from them nor leaves
 * objects on them.  One bracket at a time. */
static struct {
	int active, enabled, count[NUM_GENERATIONS];
	PyTupleObject *tuples[PyTuple_NFREELISTS];
	int ntuples[PyTuple_NFREELISTS];
	PyListObject *lists[PyList_MAXFREELIST];
	PyDictObject *dicts[PyDict_MAXFREELIST];
	int nlists, ndicts;
} quiet;

/* Open the bracket: collection off, counters and free lists put aside. */
void zpy_quiet_begin(void)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	quiet.active = 1;
	quiet.enabled = interp->gc.enabled;
	interp->gc.enabled = 0;
	for (int i = 0; i < NUM_GENERATIONS; i++)
		quiet.count[i] = interp->gc.generations[i].count;
	memcpy(quiet.tuples, interp->tuple.free_list, sizeof quiet.tuples);
	memcpy(quiet.ntuples, interp->tuple.numfree, sizeof quiet.ntuples);
	memset(interp->tuple.free_list, 0, sizeof interp->tuple.free_list);
	memset(interp->tuple.numfree, 0, sizeof interp->tuple.numfree);
	memcpy(quiet.lists, interp->list.free_list, sizeof quiet.lists);
	quiet.nlists = interp->list.numfree;
	interp->list.numfree = 0;
	memcpy(quiet.dicts, interp->dict_state.free_list, sizeof quiet.dicts);
	quiet.ndicts = interp->dict_state.numfree;
	interp->dict_state.numfree = 0;
}

/* Close it: free what went onto the free lists meanwhile, put back the
 * lists, the counters and the collector's switch. */
void zpy_quiet_end(void)
{
	PyInterpreterState *interp = PyInterpreterState_Get();

	if (!quiet.active)
		return;
	quiet.active = 0;
	for (int i = 0; i < PyTuple_NFREELISTS; i++)
		while (interp->tuple.free_list[i] != NULL) {
			PyTupleObject *t = interp->tuple.free_list[i];
			interp->tuple.free_list[i] = (PyTupleObject *)t->ob_item[0];
			PyObject_GC_Del(t);
		}
	for (int i = 0; i < interp->list.numfree; i++)
		PyObject_GC_Del(interp->list.free_list[i]);
	for (int i = 0; i < interp->dict_state.numfree; i++)
		PyObject_GC_Del(interp->dict_state.free_list[i]);
	memcpy(interp->tuple.free_list, quiet.tuples, sizeof quiet.tuples);
	memcpy(interp->tuple.numfree, quiet.ntuples, sizeof quiet.ntuples);
	memcpy(interp->list.free_list, quiet.lists, sizeof quiet.lists);
	interp->list.numfree = quiet.nlists;
	memcpy(interp->dict_state.free_list, quiet.dicts, sizeof quiet.dicts);
	interp->dict_state.numfree = quiet.ndicts;
	for (int i = 0; i < NUM_GENERATIONS; i++)
		interp->gc.generations[i].count = quiet.count[i];
	interp->gc.enabled = quiet.enabled;
}

/* Import gc without leaving it in sys.modules (python3 has not imported
 * it when the program starts); the module, or NULL. */
static PyObject *import_gc_unlisted(void)
{
	PyObject *m = PyImport_ImportModule("gc");
	if (PyDict_DelItemString(PyImport_GetModuleDict(), "gc") < 0)
		PyErr_Clear();
	return m;
}

/* Remember the collector's counters, statistics and free lists as start-up left them. */
static void gc_save_count(void)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	for (int i = 0; i < NUM_GENERATIONS; i++)
		gc_start_count[i] = interp->gc.generations[i].count;
	memcpy(gc_start_stats, interp->gc.generation_stats, sizeof gc_start_stats);
	freelists_save();
	gc_module = import_gc_unlisted();
	PyErr_Clear();
}

/* Give a child the counters and statistics python3 would have when the program starts. */
static void gc_restore_count(void)
{
	freelists_restore();
	PyInterpreterState *interp = PyInterpreterState_Get();
	for (int i = 0; i < NUM_GENERATIONS; i++)
		interp->gc.generations[i].count = gc_start_count[i];
	memcpy(interp->gc.generation_stats, gc_start_stats, sizeof gc_start_stats);
}

/* sys.modules' keys, as a set (NULL on error). */
static PyObject *module_names(void)
{
	return PySet_New(PyImport_GetModuleDict());
}

/* Drop from sys.modules what pywarm imported for itself (the bootstrap's
 * and the collector's modules) after the preload: python3 would not have
 * them, and the bootstrap keeps its own references. */
static void forget_own_imports(PyObject *before)
{
	PyObject *modules = PyImport_GetModuleDict();
	PyObject *keys = before ? PyDict_Keys(modules) : NULL;
	for (Py_ssize_t i = 0; keys && i < PyList_GET_SIZE(keys); i++) {
		PyObject *k = PyList_GET_ITEM(keys, i);
		if (PySet_Contains(before, k) == 0 && PyDict_DelItem(modules, k) < 0)
			PyErr_Clear();
	}
	Py_XDECREF(keys);
	PyErr_Clear();
}

/* The modules that read entropy while preloading, as a tuple of str. */
static PyObject *entropy_list(void)
{
	PyObject *t = PyTuple_New(n_entropy_readers);
	for (int i = 0; t && i < n_entropy_readers; i++) {
		PyObject *s = PyUnicode_DecodeFSDefault(entropy_readers[i]);
		if (s == NULL) {
			Py_CLEAR(t);
			break;
		}
		PyTuple_SET_ITEM(t, i, s);
	}
	return t;
}

/* Compile bootstrap.py into its own namespace and keep setup(). */
static int load_bootstrap(struct zygote *z)
{
	PyObject *code = Py_CompileString(pw_bootstrap_src, "<pywarm-bootstrap>", Py_file_input);
	PyObject *ns = PyDict_New();
	PyObject *r = NULL;

	PyObject *readers = entropy_list();
	if (gc_module == NULL)
		gc_module = import_gc_unlisted();
	/* The bootstrap's gc is this one: one module object holds the
	 * collector's callbacks and garbage lists for pywarm, not two. */
	if (code && ns && readers && gc_module && PyDict_SetItemString(ns, "_ENTROPY_AT_IMPORT", readers) == 0 &&
	    PyDict_SetItemString(ns, "_gc", gc_module) == 0 &&
	    zplan_init(ns) == 0 &&
	    PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) == 0 &&
	    PyDict_SetItemString(ns, "__name__", PyUnicode_FromString("_pywarm_bootstrap")) == 0)
		r = PyEval_EvalCode(code, ns, ns);
	if (r != NULL) {
		setup_fn = PyDict_GetItemString(ns, "setup");
		teardown_fn = PyDict_GetItemString(ns, "needs_teardown");
		prepare_fn = PyDict_GetItemString(ns, "prepare");
	}
	if (setup_fn == NULL || teardown_fn == NULL || prepare_fn == NULL)
		setup_fn = teardown_fn = prepare_fn = NULL;
	Py_XINCREF(setup_fn);
	Py_XINCREF(teardown_fn);
	Py_XINCREF(prepare_fn);
	if (setup_fn != NULL && zteardown_init(ns, gc_module) < 0)
		zwarn(z, "the teardown check runs in Python (teardown.c could not take its names)");
	if (setup_fn != NULL && zrun_init() < 0)
		Py_CLEAR(setup_fn);             /* (run.c cannot end a run without atexit) */
	Py_XDECREF(r);
	Py_XDECREF(code);
	Py_XDECREF(ns);
	Py_XDECREF(readers);
	if (setup_fn == NULL) {
		zwarn(z, "cannot load the child bootstrap:");
		zpy_log_exception(z, ZLOG_ERR);
		return -1;
	}
	return 0;
}

/* getattr(o, name, None): a new reference (None when missing), or NULL on error. */
PyObject *zpy_attr_or_none(PyObject *o, PyObject *name)
{
	PyObject *v;

	if (_PyObject_LookupAttr(o, name, &v) < 0)
		return NULL;
	if (v == NULL)
		Py_RETURN_NONE;
	return v;
}

/* Flush sys.<name> if it is there, ignoring any error. */
void zpy_flush_quietly(const char *name)
{
	PyObject *f = PySys_GetObject(name);
	PyObject *r = f && f != Py_None ? PyObject_CallMethod(f, "flush", NULL) : NULL;
	Py_XDECREF(r);
	PyErr_Clear();
}

/* Flush the zygote's own sys.stdout/stderr so no child inherits their buffers. */
static void flush_std(void)
{
	zpy_flush_quietly("stdout");
	zpy_flush_quietly("stderr");
}

/* Start Python, preload, freeze the heap, load the bootstrap. */
int zpy_init(struct zygote *z)
{
	zenv_begin(z);          /* every variable start-up reads, until zenv_end */
	if (init_interpreter(z) < 0)
		return -1;
	gc_save_count();
	entropy_watch = 1;
	zwarm_all(z);
	zenv_end(z);
	entropy_watch = 0;
	for (int i = 0; i < n_entropy_readers; i++)
		zlog(z, "preloading %s read entropy (getrandom)", entropy_readers[i]);
	PyObject *before = module_names();
	if (load_bootstrap(z) < 0) {
		Py_XDECREF(before);
		return -1;
	}
	gc_call("collect");
	forget_own_imports(before);
	Py_XDECREF(before);
	gc_call("freeze");
	flush_std();
	return 0;
}

/* Once the zygote's files are watched (watch.c reads sys.modules), before
 * the first fork: hide the preloaded modules behind the import system
 * here rather than in every child, which would write the pages of every
 * module object and dictionary it moves (one copy-on-write fault each);
 * then freeze what that made, so no child's collection walks it. */
int zpy_prepare(struct zygote *z)
{
	zrepl_note_preloaded();
	PyObject *r = prepare_fn ? PyObject_CallNoArgs(prepare_fn) : NULL;
	if (r == NULL) {
		zlogp(z, ZLOG_ERR, "cannot hide the preloaded modules:");
		zpy_log_exception(z, ZLOG_ERR);
		return -1;
	}
	Py_DECREF(r);
	gc_call("collect");
	gc_call("freeze");
	return 0;
}

void zpy_before_fork(void) { PyOS_BeforeFork(); }
void zpy_after_fork_parent(void) { PyOS_AfterFork_Parent(); }
void zpy_after_fork_child(void) { PyOS_AfterFork_Child(); }

/* A Python list of str from argv-style bytes strings. */
static PyObject *str_list(char **v, size_t n, const char *first)
{
	PyObject *list = PyList_New(0);
	if (list == NULL)
		return NULL;
	if (first != NULL) {
		PyObject *s = PyUnicode_DecodeFSDefault(first);
		if (s == NULL || PyList_Append(list, s) < 0) {
			Py_XDECREF(s);
			Py_DECREF(list);
			return NULL;
		}
		Py_DECREF(s);
	}
	for (size_t i = 0; i < n; i++) {
		PyObject *b = PyBytes_FromString(v[i]);
		if (b == NULL || PyList_Append(list, b) < 0) {
			Py_XDECREF(b);
			Py_DECREF(list);
			return NULL;
		}
		Py_DECREF(b);
	}
	return list;
}

/* sys.argv as python3 would set it before running the program. */
static PyObject *child_argv(struct pw_launch *l)
{
	switch (l->mode) {
	case PW_RUN_COMMAND:
	case PW_RUN_MODULE:
		return str_list(l->argv + l->payload + 1, l->argc - l->payload - 1,
		                l->mode == PW_RUN_COMMAND ? "-c" : "-m");
	case PW_RUN_FILE:
		return str_list(l->argv + l->payload, l->argc - l->payload, NULL);
	default:
		if (l->stdin_dash)
			return str_list(l->argv + l->sysargv, l->argc - l->sysargv, NULL);
		return str_list(NULL, 0, "");
	}
}

/* Format the pending exception into err (one line) and clear it. */
static void exception_text(char *err, size_t errlen)
{
	PyObject *type, *value, *tb;
	PyErr_Fetch(&type, &value, &tb);
	PyObject *s = value ? PyObject_Str(value) : NULL;
	const char *t = s ? PyUnicode_AsUTF8(s) : NULL;
	snprintf(err, errlen, "child set-up failed: %s: %s",
	         type ? ((PyTypeObject *)type)->tp_name : "?", t ? t : "?");
	PyErr_Clear();
	Py_XDECREF(s);
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
}

/* The kernel's struct sigaction (rt_sigaction(2)), which glibc's wrapper
 * would fill with SA_RESTORER and its own restorer. */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

/* A signal the caller ignored stays ignored across execve(2) with no flags
 * and an empty mask, and python3 leaves it so (but for SIGPIPE and SIGXFSZ,
 * which it ignores itself).  setup() ignored them through signal.signal(),
 * which adds SA_ONSTACK: ignore them again exactly as exec leaves them. */
static void ignored_flags(uint64_t ignored)
{
	for (int s = 1; s <= PW_NSIG; s++) {
		if (!(ignored & (1ull << (s - 1))) || s == SIGPIPE || s == SIGXFSZ ||
		    s == SIGKILL || s == SIGSTOP || (s >= 32 && s < SIGRTMIN))
			continue;
		struct kernel_sigaction ka = { .handler = SIG_IGN };
		(void)syscall(SYS_rt_sigaction, s, &ka, NULL, sizeof ka.mask);
	}
}

/* Python-level set-up: environ, argv, standard streams, signals, caches. */
int zpy_child_setup(const struct zygote *z, struct pw_launch *l, char *err, size_t errlen)
{
	size_t envc = 0;
	while (environ[envc])
		envc++;
	PyObject *argv = child_argv(l);
	PyObject *orig = str_list(l->argv + 1, l->argc - 1, z->conf.interp.path);
	PyObject *env = str_list(environ, envc, NULL);
	PyObject *ign = PyList_New(0);
	for (int s = 1; ign && s <= PW_NSIG; s++) {
		if (!(l->sig_ignored & (1ull << (s - 1))))
			continue;
		PyObject *n = PyLong_FromLong(s);
		if (n == NULL || PyList_Append(ign, n) < 0)
			Py_CLEAR(ign);
		Py_XDECREF(n);
	}
	/* The options this run's child applies itself (the launcher parsed the
	 * same argv and found nothing that needs the real interpreter). */
	int opts_ok = zrepl_apply_options(l->emul) == 0 &&
	              zrepl_check_readline(l->mode != PW_RUN_STDIN) == 0;
	PyObject *buffered = PyBool_FromLong(!(l->emul & PW_EMUL_UNBUFFERED));
	/* The run's description, what setup() makes of this process; str_list()
	 * gave bytes for argv entries, setup() decodes them. */
	PyObject *run = argv && orig && env && ign && opts_ok ?
		Py_BuildValue("{sOsOsOsOsO}", "argv", argv, "orig_argv", orig, "environ", env,
		              "ignored", ign, "buffered", buffered) : NULL;
	PyObject *r = run ? PyObject_CallOneArg(setup_fn, run) : NULL;
	Py_XDECREF(run);
	Py_DECREF(buffered);
	Py_XDECREF(argv);
	Py_XDECREF(orig);
	Py_XDECREF(env);
	Py_XDECREF(ign);
	if (r == NULL) {
		exception_text(err, errlen);
		return -1;
	}
	Py_DECREF(r);
	ignored_flags(l->sig_ignored);
	gc_restore_count();
	return 0;
}

/* At a run's end: would the rest of Py_FinalizeEx run code (an object made
 * since the fork has a finalizer)?  The C check (2: only C code finalizes,
 * see zteardown_partial()), or the bootstrap's when the C one cannot tell;
 * an error counts as "needed". */
int zpy_teardown_needed(void)
{
	int needed = zteardown_needed();
	if (needed < 0) {
		PyObject *r = PyObject_CallNoArgs(teardown_fn);
		needed = r != Py_False;
		Py_XDECREF(r);
	}
	return needed;
}

/* Before a whole Py_FinalizeEx in a child.  The zygote's heap was frozen
 * (gc.freeze) so that no collection in a run walks it.  At teardown it
 * must be walked: python3's collections reach the program's objects
 * through cycles that pass through preloaded modules, classes and
 * loggers, and a frozen object keeps all of them alive, finalizers unrun. */
void zpy_unfreeze(void)
{
	gc_call("unfreeze");
}
