/* py.c: the embedded interpreter: start-up as python3 would, preload, and run a child's program the way Py_RunMain does. */
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

/* Set by CPython 3.11 when a KeyboardInterrupt ended the program (exported
 * by libpython; Py_RunMain reads it the same way). */
extern int _Py_UnhandledKeyboardInterrupt;

/* bootstrap.setup() and bootstrap.needs_teardown(), compiled once in the
 * zygote and kept for its lifetime. */
static PyObject *setup_fn, *teardown_fn, *prepare_fn;

/* The gc module, imported by pywarm itself and kept out of sys.modules. */
static PyObject *gc_module;

/* gc.get_count() as start-up left it, before the preload: what python3's
 * counters say when it starts running the program's own code. */
static int gc_start_count[NUM_GENERATIONS];

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
ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
	if (entropy_watch) {
		entropy_watch = 0;              /* the walk may itself need entropy */
		note_entropy_reader();
		entropy_watch = 1;
	}
	return syscall(SYS_getrandom, buf, len, flags);
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
	while (at && *at) {
		size_t len = strcspn(at, "\n");
		zlogp(z, prio, "%.*s", (int)len, at);
		at += len + (at[len] == '\n');
	}
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

	argv[n++] = z->interp.path;
	for (int i = 0; i < z->nzopts && i < PW_MAX_ZOPTS; i++)
		argv[n++] = z->zopts[i];
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
	if (z->nzopts > 0)
		st = set_argv(&config, z);
	if (!PyStatus_Exception(st))
		st = PyConfig_SetBytesString(&config, &config.program_name, z->interp.path);
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
		snprintf(z->lc_ctype, sizeof z->lc_ctype, "%s", after);
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

/* Import gc without leaving it in sys.modules (python3 has not imported
 * it when the program starts); the module, or NULL. */
static PyObject *import_gc_unlisted(void)
{
	PyObject *m = PyImport_ImportModule("gc");
	if (PyDict_DelItemString(PyImport_GetModuleDict(), "gc") < 0)
		PyErr_Clear();
	return m;
}

/* Remember the collector's counters and free lists as start-up left them. */
static void gc_save_count(void)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	for (int i = 0; i < NUM_GENERATIONS; i++)
		gc_start_count[i] = interp->gc.generations[i].count;
	freelists_save();
	gc_module = import_gc_unlisted();
	PyErr_Clear();
}

/* Give a child the counters python3 would have when the program starts. */
static void gc_restore_count(void)
{
	freelists_restore();
	PyInterpreterState *interp = PyInterpreterState_Get();
	for (int i = 0; i < NUM_GENERATIONS; i++)
		interp->gc.generations[i].count = gc_start_count[i];
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
	if (code && ns && readers && PyDict_SetItemString(ns, "_ENTROPY_AT_IMPORT", readers) == 0 &&
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

/* Flush sys.<name> if it is there, ignoring any error. */
static void flush_quietly(const char *name)
{
	PyObject *f = PySys_GetObject(name);
	PyObject *r = f && f != Py_None ? PyObject_CallMethod(f, "flush", NULL) : NULL;
	Py_XDECREF(r);
	PyErr_Clear();
}

/* Flush the zygote's own sys.stdout/stderr so no child inherits their buffers. */
static void flush_std(void)
{
	flush_quietly("stdout");
	flush_quietly("stderr");
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
int zpy_child_setup(struct zygote *z, struct pw_launch *l, char *err, size_t errlen)
{
	size_t envc = 0;
	while (environ[envc])
		envc++;
	PyObject *argv = child_argv(l);
	PyObject *orig = str_list(l->argv + 1, l->argc - 1, z->interp.path);
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
	/* str_list() gave bytes for argv entries; setup() decodes them. */
	PyObject *r = NULL;
	if (argv && orig && env && ign && opts_ok)
		r = PyObject_CallFunctionObjArgs(setup_fn, argv, orig, env, ign, buffered, NULL);
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

/* sys.path[0] as CPython 3.11's _PyPathConfig_ComputeSysPath0 derives it
 * from sys.argv[0] ("-c", "-m", a script path, "-" or ""). */
static PyObject *compute_path0(const char *argv0)
{
	int have_module = strcmp(argv0, "-m") == 0;
	int have_script = !have_module && strcmp(argv0, "-c") != 0;
	static char full[PATH_MAX], link[PATH_MAX + 1], copy[2 * PATH_MAX + 2];
	const char *path0 = argv0;
	size_t n = 0;

	if (have_module) {
		if (getcwd(full, sizeof full) == NULL)
			return NULL;
		path0 = full;
		n = strlen(full);
	}
	if (have_script) {
		ssize_t nr = readlink(path0, link, PATH_MAX);
		if (nr > 0) {
			link[nr] = '\0';
			const char *q = strrchr(path0, '/');
			if (link[0] == '/')
				path0 = link;
			else if (strchr(link, '/') == NULL)
				;               /* a link without a directory part */
			else if (q == NULL)
				path0 = link;
			else {
				snprintf(copy, sizeof copy, "%.*s%s", (int)(q + 1 - path0), path0, link);
				path0 = copy;
			}
		}
		if (realpath(path0, full) != NULL)
			path0 = full;
		const char *p = strrchr(path0, '/');
		if (p != NULL) {
			n = (size_t)(p + 1 - path0);
			if (n > 1)
				n--;
		}
	}
	return PyUnicode_DecodeFSDefaultAndSize(path0, (Py_ssize_t)n);
}

/* Prepend path0 to sys.path. */
static int add_path0(PyObject *path0)
{
	PyObject *path = PySys_GetObject("path");
	if (path == NULL || !PyList_Check(path)) {
		PyErr_SetString(PyExc_RuntimeError, "unable to get sys.path");
		return -1;
	}
	return PyList_Insert(path, 0, path0);
}

/* The pending exception as pymain reports it: SystemExit gives its code
 * (and prints its message), anything else is printed and gives 1. */
static int exit_err_print(void)
{
	int code;
	if (_Py_HandleSystemExit(&code))
		return code;
	PyErr_Print();
	return 1;
}

/* -c CMD, as pymain_run_command: the command gets a trailing newline and
 * runs in __main__ (PyRun_SimpleStringFlags, minus its Py_Exit on SystemExit). */
static int run_command(const char *cmd)
{
	PyObject *u = PyUnicode_DecodeFSDefault(cmd);
	PyObject *full = u ? PyUnicode_FromFormat("%U\n", u) : NULL;
	Py_XDECREF(u);
	if (full == NULL)
		goto error;
	if (PySys_Audit("cpython.run_command", "O", full) < 0) {
		Py_DECREF(full);
		return exit_err_print();
	}
	PyObject *bytes = PyUnicode_AsUTF8String(full);
	Py_DECREF(full);
	if (bytes == NULL)
		goto error;
	PyCompilerFlags cf = _PyCompilerFlags_INIT;
	cf.cf_flags |= PyCF_IGNORE_COOKIE;
	PyObject *m = PyImport_AddModule("__main__");
	if (m == NULL) {
		Py_DECREF(bytes);
		return 1;
	}
	PyObject *d = PyModule_GetDict(m);
	PyObject *v = PyRun_StringFlags(PyBytes_AsString(bytes), Py_file_input, d, d, &cf);
	Py_DECREF(bytes);
	if (v == NULL)
		return exit_err_print();
	Py_DECREF(v);
	return 0;
error:
	PySys_WriteStderr("Unable to decode the command from the command line:\n");
	return exit_err_print();
}

/* -m MOD (or a directory/zip's __main__), as pymain_run_module. */
static int run_module(const char *name, int set_argv0)
{
	PyObject *runpy = PyImport_ImportModule("runpy");
	if (runpy == NULL) {
		fprintf(stderr, "Could not import runpy module\n");
		return exit_err_print();
	}
	PyObject *fn = PyObject_GetAttrString(runpy, "_run_module_as_main");
	Py_DECREF(runpy);
	if (fn == NULL) {
		fprintf(stderr, "Could not access runpy._run_module_as_main\n");
		return exit_err_print();
	}
	PyObject *mod = PyUnicode_DecodeFSDefault(name);
	if (mod == NULL) {
		Py_DECREF(fn);
		fprintf(stderr, "Could not convert module name to unicode\n");
		return exit_err_print();
	}
	if (PySys_Audit("cpython.run_module", "O", mod) < 0) {
		Py_DECREF(fn);
		Py_DECREF(mod);
		return exit_err_print();
	}
	PyObject *r = PyObject_CallFunction(fn, "Oi", mod, set_argv0);
	Py_DECREF(fn);
	Py_DECREF(mod);
	if (r == NULL) {
		if (PyErr_Occurred() == PyExc_KeyboardInterrupt)
			_Py_UnhandledKeyboardInterrupt = 1;
		return exit_err_print();
	}
	Py_DECREF(r);
	return 0;
}

/* Flush sys.stderr then sys.stdout, keeping the pending exception (pythonrun's flush_io). */
static void flush_io(void)
{
	PyObject *type, *value, *tb;
	PyErr_Fetch(&type, &value, &tb);
	flush_quietly("stderr");
	flush_quietly("stdout");
	PyErr_Restore(type, value, tb);
}

/* __main__.__loader__ = SourceFileLoader("__main__", filename). */
static int set_main_loader(PyObject *d, PyObject *filename)
{
	PyObject *ext = PyImport_ImportModule("_frozen_importlib_external");
	PyObject *cls = ext ? PyObject_GetAttrString(ext, "SourceFileLoader") : NULL;
	PyObject *loader = cls ? PyObject_CallFunction(cls, "sO", "__main__", filename) : NULL;
	int rc = loader ? PyDict_SetItemString(d, "__loader__", loader) : -1;
	Py_XDECREF(loader);
	Py_XDECREF(cls);
	Py_XDECREF(ext);
	return rc;
}

/* Does this look like a .pyc (pythonrun's maybe_pyc_file)? */
static int maybe_pyc(FILE *fp, const char *filename, int closeit)
{
	size_t n = strlen(filename);
	if (n >= 4 && strcmp(filename + n - 4, ".pyc") == 0)
		return 1;
	if (!closeit || ftell(fp) != 0)
		return 0;
	unsigned char buf[2];
	unsigned int half = (unsigned int)PyImport_GetMagicNumber() & 0xFFFF;
	int is = fread(buf, 1, 2, fp) == 2 && ((unsigned int)buf[1] << 8 | buf[0]) == half;
	rewind(fp);
	return is;
}

/* Run source from fp in __main__ as PyRun_SimpleFileExFlags does, but
 * returning SystemExit's code instead of exiting from inside. */
static int run_main_file(FILE *fp, const char *filename, int closeit)
{
	PyCompilerFlags cf = _PyCompilerFlags_INIT;
	if (maybe_pyc(fp, filename, closeit))
		return PyRun_AnyFileExFlags(fp, filename, closeit, &cf) != 0;
	PyObject *fobj = PyUnicode_DecodeFSDefault(filename);
	PyObject *m = PyImport_AddModule("__main__");
	if (fobj == NULL || m == NULL) {
		Py_XDECREF(fobj);
		return 1;
	}
	Py_INCREF(m);
	PyObject *d = PyModule_GetDict(m);
	int set_file_name = 0, ret = 1;
	if (PyDict_GetItemString(d, "__file__") == NULL) {
		if (PyDict_SetItemString(d, "__file__", fobj) < 0 ||
		    PyDict_SetItemString(d, "__cached__", Py_None) < 0)
			goto done;
		set_file_name = 1;
	}
	if (strcmp(filename, "<stdin>") != 0 && set_main_loader(d, fobj) < 0) {
		fprintf(stderr, "python: failed to set __main__.__loader__\n");
		goto done;
	}
	PyObject *v = PyRun_FileExFlags(fp, filename, Py_file_input, d, d, closeit, &cf);
	flush_io();
	if (v == NULL) {
		Py_CLEAR(m);
		int code;
		if (_Py_HandleSystemExit(&code)) {
			ret = code;
			set_file_name = 0;      /* python3 exits before cleaning up */
		} else {
			PyErr_Print();
		}
		goto done;
	}
	Py_DECREF(v);
	ret = 0;
done:
	if (set_file_name) {
		if (PyDict_DelItemString(d, "__file__") < 0)
			PyErr_Clear();
		if (PyDict_DelItemString(d, "__cached__") < 0)
			PyErr_Clear();
	}
	Py_XDECREF(m);
	Py_DECREF(fobj);
	return ret;
}

/* A script file, as pymain_run_file_obj: open, refuse a directory, run. */
static int run_file(const char *program, const char *filename)
{
	PyObject *fobj = PyUnicode_DecodeFSDefault(filename);
	if (fobj == NULL)
		return exit_err_print();
	if (PySys_Audit("cpython.run_file", "O", fobj) < 0) {
		Py_DECREF(fobj);
		return exit_err_print();
	}
	FILE *fp = fopen(filename, "rbe");
	if (fp == NULL) {
		int e = errno;
		PyObject *prog = PyUnicode_DecodeFSDefault(program);
		PySys_FormatStderr("%S: can't open file %R: [Errno %d] %s\n",
		                   prog, fobj, e, strerror(e));
		Py_XDECREF(prog);
		Py_DECREF(fobj);
		return 2;
	}
	struct stat sb;
	if (fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		PyObject *prog = PyUnicode_DecodeFSDefault(program);
		PySys_FormatStderr("%S: %R is a directory, cannot continue\n", prog, fobj);
		Py_XDECREF(prog);
		Py_DECREF(fobj);
		fclose(fp);
		return 1;
	}
	Py_DECREF(fobj);
	zrepl_skip_first_line(fp);
	if (Py_MakePendingCalls() == -1) {
		fclose(fp);
		return exit_err_print();
	}
	return run_main_file(fp, filename, 1);
}

/* A program on standard input, or the interactive loop, as pymain_run_stdin. */
static int run_stdin(void)
{
	int exitcode;

	if (zrepl_before_stdin(&exitcode))
		return exitcode;
	if (Py_MakePendingCalls() == -1)
		return exit_err_print();
	if (PySys_Audit("cpython.run_stdin", NULL) < 0)
		return exit_err_print();
	if (zrepl_stdin_is_loop())
		return zrepl_loop();
	clearerr(stdin);
	return run_main_file(stdin, "<stdin>", 0);
}

/* Py_FinalizeEx's wait_for_thread_shutdown(): threading._shutdown(). */
static void wait_for_threads(void)
{
	PyObject *name = PyUnicode_FromString("threading");
	PyObject *threading = name ? PyImport_GetModule(name) : NULL;
	Py_XDECREF(name);
	if (threading == NULL) {
		if (PyErr_Occurred())
			PyErr_WriteUnraisable(NULL);
		return;
	}
	PyObject *r = PyObject_CallMethod(threading, "_shutdown", NULL);
	if (r == NULL)
		PyErr_WriteUnraisable(threading);
	Py_XDECREF(r);
	Py_DECREF(threading);
}

/* Py_FinalizeEx's flush_std_files(): -1 if a flush failed. */
static int flush_std_files(void)
{
	const char *names[] = { "stdout", "stderr" };
	int status = 0;
	for (int i = 0; i < 2; i++) {
		PyObject *f = PySys_GetObject(names[i]);
		if (f == NULL || f == Py_None)
			continue;
		PyObject *closed = PyObject_GetAttrString(f, "closed");
		int is_closed = closed ? PyObject_IsTrue(closed) : -1;
		Py_XDECREF(closed);
		if (is_closed != 0) {
			PyErr_Clear();
			if (is_closed > 0)
				continue;
		}
		PyObject *r = PyObject_CallMethod(f, "flush", NULL);
		if (r == NULL) {
			if (i == 0)
				PyErr_WriteUnraisable(f);
			else
				PyErr_Clear();
			status = -1;
		}
		Py_XDECREF(r);
	}
	return status;
}

/* End the process as Py_FinalizeEx would.  Its first observable steps
 * (threads, atexit) run here; then, if no object made since the fork has
 * a finalizer, nothing the rest of Py_FinalizeEx does (a collection, the
 * module teardown) can run code, and one flush of the standard streams is
 * all that is left to see: python3 flushes them once, before the teardown
 * clears sys.  Otherwise Py_FinalizeEx runs whole, its own flush included,
 * so a failing stdout is reported once either way.  Returns the exit code. */
static int finish(int exitcode)
{
	wait_for_threads();
	if (Py_MakePendingCalls() < 0)
		goto full;
	PyObject *atexit = PyImport_ImportModule("atexit");
	PyObject *r = atexit ? PyObject_CallMethod(atexit, "_run_exitfuncs", NULL) : NULL;
	Py_XDECREF(atexit);
	if (r == NULL)
		goto full;
	Py_DECREF(r);
	int needed = zteardown_needed();
	if (needed < 0) {
		r = PyObject_CallNoArgs(teardown_fn);
		needed = r != Py_False;     /* an error counts as "needed" */
		Py_XDECREF(r);
	}
	if (needed)
		goto full;
	if (flush_std_files() < 0)
		exitcode = 120;
	return exitcode;
full:
	PyErr_Clear();
	/* The zygote's heap was frozen (gc.freeze) so that no collection in a
	 * run walks it.  At teardown it must be walked: python3's collections
	 * reach the program's objects through cycles that pass through
	 * preloaded modules, classes and loggers, and a frozen object keeps
	 * all of them alive, finalizers unrun. */
	gc_call("unfreeze");
	if (Py_FinalizeEx() < 0)
		exitcode = 120;
	return exitcode;
}

/* The script path made absolute the way CPython 3.11 does: cwd + "/" + path, not normalised. */
static char *abs_filename(const char *path)
{
	char cwd[PATH_MAX];
	char *out;
	if (path[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
		return strdup(path);
	if (asprintf(&out, "%s/%s", cwd, path) < 0)
		return NULL;
	return out;
}

/* A directory or zip file with __main__.py is run as a package (pymain_get_importer). */
static PyObject *main_importer(const char *filename)
{
	PyObject *p = PyUnicode_DecodeFSDefault(filename);
	PyObject *imp = p ? PyImport_GetImporter(p) : NULL;
	if (imp == NULL) {
		Py_XDECREF(p);
		PySys_WriteStderr("Failed checking if argv[0] is an import path entry\n");
		PyErr_Print();
		return NULL;
	}
	if (imp == Py_None) {
		Py_DECREF(imp);
		Py_DECREF(p);
		return NULL;
	}
	Py_DECREF(imp);
	return p;
}

/* sys.flags.safe_path: -P or PYTHONSAFEPATH keeps sys.path[0] out. */
static int safe_path(void)
{
	PyObject *flags = PySys_GetObject("flags");
	PyObject *v = flags ? PyObject_GetAttrString(flags, "safe_path") : NULL;
	int on = v ? PyObject_IsTrue(v) == 1 : 0;
	Py_XDECREF(v);
	PyErr_Clear();
	return on;
}

/* Die of SIGINT as python3 does after an unhandled KeyboardInterrupt. */
static int exit_sigint(void)
{
	if (PyOS_setsig(SIGINT, SIG_DFL) == SIG_ERR)
		perror("signal");
	else
		kill(getpid(), SIGINT);
	return SIGINT + 128;
}

/* Run the program like pymain_run_python, then finish like Py_RunMain. */
void zpy_child_run(struct zygote *z, struct pw_launch *l)
{
	int exitcode = 0;
	char *filename = NULL;
	PyObject *importer_path = NULL;

	if (l->mode == PW_RUN_FILE) {
		filename = abs_filename(l->argv[l->payload]);
		if (filename == NULL) {
			PyErr_NoMemory();
			exitcode = exit_err_print();
			goto done;
		}
		importer_path = main_importer(filename);
	}
	if (importer_path != NULL) {
		if (add_path0(importer_path) < 0) {
			exitcode = exit_err_print();
			goto done;
		}
	} else if (!safe_path()) {
		PyObject *argv0 = PyList_GetItem(PySys_GetObject("argv"), 0);
		PyObject *b = argv0 ? PyUnicode_EncodeFSDefault(argv0) : NULL;
		PyObject *path0 = b ? compute_path0(PyBytes_AsString(b)) : NULL;
		Py_XDECREF(b);
		if (path0 != NULL) {
			int rc = add_path0(path0);
			Py_DECREF(path0);
			if (rc < 0) {
				exitcode = exit_err_print();
				goto done;
			}
		}
		PyErr_Clear();
	}
	zrepl_header(l->mode != PW_RUN_STDIN);
	zrepl_import_readline(l->mode != PW_RUN_STDIN);
	switch (l->mode) {
	case PW_RUN_COMMAND: exitcode = run_command(l->argv[l->payload]); break;
	case PW_RUN_MODULE:  exitcode = run_module(l->argv[l->payload], 1); break;
	case PW_RUN_FILE:
		exitcode = importer_path ? run_module("__main__", 0) : run_file(z->interp.path, filename);
		break;
	default:             exitcode = run_stdin(); break;
	}
	zrepl_inspect(l->mode != PW_RUN_STDIN, &exitcode);
done:
	Py_XDECREF(importer_path);
	free(filename);
	exitcode = finish(exitcode);
	if (_Py_UnhandledKeyboardInterrupt)
		exitcode = exit_sigint();
	fflush(NULL);
	zchild_exit(z, exitcode);
}
