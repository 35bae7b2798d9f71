/* warm.c: the zygote's warm-up: preload the profile's modules (undoing failed imports), run the warmup script, publish progress. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Write "<n> <m> <elapsed_ms> <name>\n" to <sockdir>/<id>.progress, in place,
 * for pywarmctl start --wait.  Best effort: progress is only a display. */
static void progress(struct zygote *z, size_t n, size_t m, const char *name, long long t0)
{
	char line[512];
	int len;

	if (z->progressfd < 0)
		return;
	len = snprintf(line, sizeof line, "%zu %zu %lld %s\n", n, m,
	               (znow_us() - t0) / 1000, name);
	if (len < 0 || (size_t)len >= sizeof line)
		return;
	if (pwrite(z->progressfd, line, (size_t)len, 0) == len)
		(void)ftruncate(z->progressfd, len);
}

/* Open the progress file (the lock is ours, so a leftover one is stale):
 * from the verified socket directory, never through a symbolic link. */
static void progress_open(struct zygote *z)
{
	char err[PATH_MAX + 128];

	snprintf(z->progresspath, sizeof z->progresspath, "%.*s/%s.progress", PATH_MAX - 32,
	         z->sockdir, z->idhex);
	z->progressfd = pw_private_open("socket directory", z->progresspath, PW_DIR_PRIVATE, 0,
	                                O_WRONLY | O_CREAT | O_TRUNC, err, sizeof err);
	if (z->progressfd < 0)
		zlog(z, "no progress file: %s", err);
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

/* Note a failed module's name for status. */
static void note_failed(struct zygote *z, const char *name)
{
	size_t used = strlen(z->failed_names);
	int n = snprintf(z->failed_names + used, sizeof z->failed_names - used,
	                 "%s%s", used ? "," : "", name);

	if (n < 0 || used + (size_t)n >= sizeof z->failed_names)
		z->failed_names[used] = '\0';
	z->modules_failed++;
}

/* Import the profile's modules in order; failures are logged, counted and undone. */
static void preload(struct zygote *z)
{
	long long t0 = znow_us();

	progress_open(z);
	for (size_t i = 0; i < z->profile.nmodules; i++) {
		const char *name = z->profile.modules[i];
		PyObject *before = PySet_New(PyImport_GetModuleDict());
		PyObject *m;

		progress(z, i + 1, z->profile.nmodules, name, t0);
		m = before ? PyImport_ImportModule(name) : NULL;
		if (m != NULL) {
			Py_DECREF(m);
			Py_DECREF(before);
			z->modules_ok++;
			continue;
		}
		zlog(z, "cannot preload %s:", name);
		zpy_log_exception();
		if (before != NULL)
			forget_new_modules(before);
		Py_XDECREF(before);
		note_failed(z, name);
	}
	if (z->profile.warmup)
		progress(z, z->profile.nmodules, z->profile.nmodules, "(warmup script)", t0);
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
	const char *path = z->profile.warmup;
	PyObject *ns, *fname, *name, *r = NULL;

	if (path == NULL)
		return;
	if (z->profile.warmup_text == NULL) {
		zlog(z, "warmup script %s was not read with the profile; not running it", path);
		z->warmup_failed = 1;
		return;
	}
	ns = PyDict_New();
	fname = PyUnicode_DecodeFSDefault(path);
	name = PyUnicode_FromString("__pywarm_warmup__");
	if (ns && fname && name && PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) == 0 &&
	    PyDict_SetItemString(ns, "__name__", name) == 0 &&
	    PyDict_SetItemString(ns, "__file__", fname) == 0)
		r = warmup_run(fname, z->profile.warmup_text, z->profile.warmup_len, ns);
	if (r == NULL) {
		zlog(z, "warmup script %s failed:", path);
		zpy_log_exception();
		z->warmup_failed = 1;
	}
	Py_XDECREF(r);
	Py_XDECREF(name);
	Py_XDECREF(fname);
	Py_XDECREF(ns);
}

/* The whole warm-up: watch what is known, import, run the script. */
void zwarm_all(struct zygote *z)
{
	zwatch_begin(z);
	preload(z);
	warmup_script(z);
}
