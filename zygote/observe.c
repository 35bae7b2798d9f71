/* observe.c: is anything watching this run's imports, so that serving a preloaded module (its code not executed again) could be seen? */
#define Py_BUILD_CORE 1            /* the interpreter's audit hooks, in 3.11's own struct */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"

#include "zygote.h"

#include <string.h>

/*
 * A served module's code does not run again in the run, and so whatever
 * watches code run, or imports happen, would see less than under python3:
 * a trace or profile function (sys.settrace, cProfile, coverage), an audit
 * hook (python3's import opens and executes each file), builtins.__import__
 * replaced (it would be called for each import a module's code makes), or
 * the import system's own functions and loader classes replaced or
 * wrapped.  While any of these is in place, every import runs for real.
 * The import system's are the dictionaries of importlib's two frozen
 * modules, of the classes they define, and of the built-in modules they
 * call (_imp, marshal, _io, posix), as the zygote left them once its
 * hooks were in place (but for _NamespacePath's, whose epoch
 * importlib.invalidate_caches() moves): CPython 3.11 gives each dictionary a version tag
 * that changes with every change to it (PEP 509), so a few comparisons
 * tell whether one was touched since.
 */

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#error "observe.c reads CPython 3.11's dictionary version tags and audit hooks"
#endif

#define WATCHED_MAX 96

static struct {
	PyObject *dict[WATCHED_MAX];     /* strong references */
	uint64_t tag[WATCHED_MAX];
	int n;
	PyObject *import_func;           /* builtins.__import__ then */
} watched;

static int watch_dict(PyObject *d)
{
	if (d == NULL || !PyDict_Check(d) || watched.n == WATCHED_MAX)
		return -1;
	Py_INCREF(d);
	watched.dict[watched.n] = d;
	watched.tag[watched.n++] = ((PyDictObject *)d)->ma_version_tag;
	return 0;
}

/* A module's dictionary, and those of the classes it defines. */
static int watch_module(const char *name, int classes)
{
	PyObject *m = PyImport_AddModule(name);        /* borrowed */
	PyObject *d = m ? PyModule_GetDict(m) : NULL;
	PyObject *k, *v;
	Py_ssize_t pos = 0;

	if (watch_dict(d) < 0)
		return -1;
	while (classes && PyDict_Next(d, &pos, &k, &v)) {
		/* _NamespacePath's epoch counts importlib.invalidate_caches() calls */
		if (!PyType_Check(v) || strcmp(((PyTypeObject *)v)->tp_name, "_NamespacePath") == 0)
			continue;
		PyObject *owner = PyDict_GetItemString(((PyTypeObject *)v)->tp_dict, "__module__");
		if (owner && PyUnicode_Check(owner) && PyUnicode_CompareWithASCIIString(owner, name) == 0 &&
		    watch_dict(((PyTypeObject *)v)->tp_dict) < 0)
			return -1;
	}
	return 0;
}

/* Take the snapshot, in the zygote once its import hooks are in place; 0 or -1. */
int zobserve_snapshot(void)
{
	PyObject *builtins = PyEval_GetBuiltins();
	PyObject *imp = builtins ? PyDict_GetItemString(builtins, "__import__") : NULL;

	for (int i = 0; i < watched.n; i++)
		Py_CLEAR(watched.dict[i]);
	watched.n = 0;
	Py_CLEAR(watched.import_func);
	if (imp == NULL || watch_module("_frozen_importlib", 1) < 0 ||
	    watch_module("_frozen_importlib_external", 1) < 0 || watch_module("_imp", 0) < 0 ||
	    watch_module("marshal", 0) < 0 || watch_module("_io", 0) < 0 || watch_module("posix", 0) < 0) {
		PyErr_Clear();
		watched.n = 0;
		return -1;
	}
	watched.import_func = Py_NewRef(imp);
	return 0;
}

/* Would a served import be seen (see the top of this file)?  1 or 0;
 * 1 also when there is no snapshot to compare with. */
int zobserve_imports_watched(void)
{
	PyThreadState *ts = PyThreadState_Get();
	PyInterpreterState *is = PyInterpreterState_Get();

	if (watched.import_func == NULL || ts->c_tracefunc != NULL || ts->c_profilefunc != NULL ||
	    is->audit_hooks != NULL || _PyRuntime.audit_hook_head != NULL)
		return 1;
	PyObject *builtins = PyEval_GetBuiltins();
	if (builtins == NULL || PyDict_GetItemString(builtins, "__import__") != watched.import_func)
		return 1;
	for (int i = 0; i < watched.n; i++)
		if (((PyDictObject *)watched.dict[i])->ma_version_tag != watched.tag[i])
			return 1;
	return 0;
}
