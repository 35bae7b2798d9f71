/* run.c: a child runs its program the way Py_RunMain does: sys.path[0], then -c, -m, a script, a directory or zip app, or standard input, then the end of Py_FinalizeEx. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "zygote.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Set by CPython 3.11 when a KeyboardInterrupt ended the program (exported
 * by libpython; Py_RunMain reads it the same way). */
extern int _Py_UnhandledKeyboardInterrupt;

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
	zpy_flush_quietly("stderr");
	zpy_flush_quietly("stdout");
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

/* atexit._run_exitfuncs, kept by the zygote: Py_FinalizeEx runs the exit
 * handlers without importing anything, which a program's own
 * builtins.__import__ or audit hook would see (the handlers are the
 * interpreter's, not the module object's). */
static PyObject *run_exitfuncs;

int zrun_init(void)
{
	PyObject *atexit = PyImport_ImportModule("atexit");
	run_exitfuncs = atexit ? PyObject_GetAttrString(atexit, "_run_exitfuncs") : NULL;
	Py_XDECREF(atexit);
	return run_exitfuncs ? 0 : -1;
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
 * clears sys.  When the only finalizers are C code of their objects' types
 * (a database connection), the flush comes first, as in
 * Py_FinalizeEx, then __main__ goes, and if that finalized them all the
 * run ends there.  Otherwise Py_FinalizeEx runs whole, its own flush
 * included, so a failing stdout is reported once either way.  Returns the
 * exit code. */
static int finish(int exitcode)
{
	wait_for_threads();
	if (Py_MakePendingCalls() < 0)
		goto full;
	PyObject *r = run_exitfuncs ? PyObject_CallNoArgs(run_exitfuncs) : NULL;
	if (r == NULL)
		goto full;
	Py_DECREF(r);
	int needed = zpy_teardown_needed();
	if (needed == 1)
		goto full;
	if (flush_std_files() < 0)
		exitcode = 120;
	if (needed == 2 && zteardown_partial() != 0)
		goto full;
	return exitcode;
full:
	PyErr_Clear();
	zpy_unfreeze();
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
void zpy_child_run(const struct zygote *z, struct pw_launch *l)
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
		exitcode = importer_path ? run_module("__main__", 0) : run_file(z->conf.interp.path, filename);
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
