/* py.c: the embedded interpreter: start-up as python3 would, preload, and run a child's program the way Py_RunMain does. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "zygote.h"
#include "bootstrap.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* Set by CPython 3.11 when a KeyboardInterrupt ended the program (exported
 * by libpython; Py_RunMain reads it the same way). */
extern int _Py_UnhandledKeyboardInterrupt;

/* bootstrap.setup(), compiled once in the zygote and kept for its lifetime. */
static PyObject *setup_fn;

/* Log the pending Python exception without letting SystemExit end us. */
static void log_exception(void)
{
	PyObject *type, *value, *tb;
	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	if (type != NULL)
		PyErr_Display(type, value, tb);
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
}

/* Initialise CPython exactly as the real interpreter with no options. */
static int init_interpreter(struct zygote *z)
{
	PyConfig config;
	PyStatus st;
	const char *before = getenv("LC_CTYPE");
	char saved[128];

	snprintf(saved, sizeof saved, "%s", before ? before : "");
	PyConfig_InitPythonConfig(&config);
	st = PyConfig_SetBytesString(&config, &config.program_name, PW_PYTHON);
	if (!PyStatus_Exception(st))
		st = Py_InitializeFromConfig(&config);
	PyConfig_Clear(&config);
	if (PyStatus_Exception(st)) {
		zlog(z, "cannot initialise Python: %s%s%s", st.func ? st.func : "",
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

/* Import the profile's modules in order; failures are logged and counted. */
static void preload(struct zygote *z)
{
	size_t used = 0;
	for (size_t i = 0; i < z->profile.nmodules; i++) {
		const char *name = z->profile.modules[i];
		PyObject *m = PyImport_ImportModule(name);
		if (m != NULL) {
			Py_DECREF(m);
			z->modules_ok++;
			continue;
		}
		zlog(z, "cannot preload %s:", name);
		log_exception();
		z->modules_failed++;
		int n = snprintf(z->failed_names + used, sizeof z->failed_names - used,
		                 "%s%s", used ? "," : "", name);
		if (n > 0 && used + (size_t)n < sizeof z->failed_names)
			used += (size_t)n;
	}
}

/* Run gc.<name>() and drop the result. */
static void gc_call(const char *name)
{
	PyObject *gc = PyImport_ImportModule("gc");
	PyObject *r = gc ? PyObject_CallMethod(gc, name, NULL) : NULL;
	if (r == NULL)
		PyErr_Clear();
	Py_XDECREF(r);
	Py_XDECREF(gc);
}

/* Compile bootstrap.py into its own namespace and keep setup(). */
static int load_bootstrap(struct zygote *z)
{
	PyObject *code = Py_CompileString(pw_bootstrap_src, "<pywarm-bootstrap>", Py_file_input);
	PyObject *ns = PyDict_New();
	PyObject *r = NULL;

	if (code && ns && PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) == 0 &&
	    PyDict_SetItemString(ns, "__name__", PyUnicode_FromString("_pywarm_bootstrap")) == 0)
		r = PyEval_EvalCode(code, ns, ns);
	if (r != NULL)
		setup_fn = PyDict_GetItemString(ns, "setup");
	Py_XINCREF(setup_fn);
	Py_XDECREF(r);
	Py_XDECREF(code);
	Py_XDECREF(ns);
	if (setup_fn == NULL) {
		zlog(z, "cannot load the child bootstrap:");
		log_exception();
		return -1;
	}
	return 0;
}

/* Flush the zygote's own sys.stdout/stderr so no child inherits their buffers. */
static void flush_std(void)
{
	const char *names[] = { "stdout", "stderr" };
	for (int i = 0; i < 2; i++) {
		PyObject *f = PySys_GetObject(names[i]);
		PyObject *r = f && f != Py_None ? PyObject_CallMethod(f, "flush", NULL) : NULL;
		Py_XDECREF(r);
		PyErr_Clear();
	}
}

/* Start Python, preload, freeze the heap, load the bootstrap. */
int zpy_init(struct zygote *z)
{
	if (init_interpreter(z) < 0)
		return -1;
	preload(z);
	if (load_bootstrap(z) < 0)
		return -1;
	gc_call("collect");
	gc_call("freeze");
	flush_std();
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

/* Python-level set-up: environ, argv, standard streams, signals, caches. */
int zpy_child_setup(struct zygote *z, struct pw_launch *l, char *err, size_t errlen)
{
	size_t envc = 0;
	while (environ[envc])
		envc++;
	PyObject *argv = child_argv(l);
	PyObject *orig = str_list(l->argv + 1, l->argc - 1, PW_PYTHON);
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
	/* str_list() gave bytes for argv entries; setup() decodes them. */
	PyObject *r = NULL;
	if (argv && orig && env && ign)
		r = PyObject_CallFunctionObjArgs(setup_fn, argv, orig, env, ign, NULL);
	Py_XDECREF(argv);
	Py_XDECREF(orig);
	Py_XDECREF(env);
	Py_XDECREF(ign);
	if (r == NULL) {
		exception_text(err, errlen);
		return -1;
	}
	Py_DECREF(r);
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

/* Print the pending exception (SystemExit exits) and return status 1. */
static int exit_err_print(void)
{
	PyErr_Print();
	return 1;
}

/* -c CMD, as pymain_run_command: the command gets a trailing newline. */
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
	int ret = PyRun_SimpleStringFlags(PyBytes_AsString(bytes), &cf);
	Py_DECREF(bytes);
	return ret != 0;
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
	if (r == NULL)
		return exit_err_print();
	Py_DECREF(r);
	return 0;
}

/* A script file, as pymain_run_file_obj: open, refuse a directory, run. */
static int run_file(const char *filename)
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
		PyObject *prog = PyUnicode_DecodeFSDefault(PW_PYTHON);
		PySys_FormatStderr("%S: can't open file %R: [Errno %d] %s\n",
		                   prog, fobj, e, strerror(e));
		Py_XDECREF(prog);
		Py_DECREF(fobj);
		return 2;
	}
	struct stat sb;
	if (fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		PyObject *prog = PyUnicode_DecodeFSDefault(PW_PYTHON);
		PySys_FormatStderr("%S: %R is a directory, cannot continue\n", prog, fobj);
		Py_XDECREF(prog);
		Py_DECREF(fobj);
		fclose(fp);
		return 1;
	}
	Py_DECREF(fobj);
	if (Py_MakePendingCalls() == -1) {
		fclose(fp);
		return exit_err_print();
	}
	PyCompilerFlags cf = _PyCompilerFlags_INIT;
	return PyRun_AnyFileExFlags(fp, filename, 1, &cf) != 0;
}

/* A program on standard input (not a terminal), as pymain_run_stdin. */
static int run_stdin(void)
{
	if (Py_MakePendingCalls() == -1)
		return exit_err_print();
	if (PySys_Audit("cpython.run_stdin", NULL) < 0)
		return exit_err_print();
	clearerr(stdin);
	PyCompilerFlags cf = _PyCompilerFlags_INIT;
	return PyRun_AnyFileExFlags(stdin, "<stdin>", 0, &cf) != 0;
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
	switch (l->mode) {
	case PW_RUN_COMMAND: exitcode = run_command(l->argv[l->payload]); break;
	case PW_RUN_MODULE:  exitcode = run_module(l->argv[l->payload], 1); break;
	case PW_RUN_FILE:
		exitcode = importer_path ? run_module("__main__", 0) : run_file(filename);
		break;
	default:             exitcode = run_stdin(); break;
	}
done:
	Py_XDECREF(importer_path);
	free(filename);
	if (Py_FinalizeEx() < 0)
		exitcode = 120;
	if (_Py_UnhandledKeyboardInterrupt)
		exitcode = exit_sigint();
	(void)z;
	exit(exitcode);
}
