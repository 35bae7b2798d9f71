/* repl.c: what pymain does around a warm child's program: per-run options, the banner, readline, PYTHONSTARTUP, the interactive loop, -i. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "zygote.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* pymain's COPYRIGHT line under the banner. */
#define BANNER_HELP "Type \"help\", \"copyright\", \"credits\" or \"license\" for more information."

/* The running interpreter's configuration.  This process is a forked
 * child that becomes one program: changing the configuration in place is
 * what python3 would have computed from this command line at start-up. */
static PyConfig *config(void)
{
	return (PyConfig *)_PyInterpreterState_GetConfig(PyInterpreterState_Get());
}

/* Set field name of the sys.flags structseq to v, keeping its type (int or bool). */
static int set_flag(const char *name, long v)
{
	PyObject *flags = PySys_GetObject("flags");
	PyTypeObject *t = flags ? Py_TYPE(flags) : NULL;

	if (t == NULL || t->tp_members == NULL) {
		PyErr_SetString(PyExc_RuntimeError, "no sys.flags");
		return -1;
	}
	for (Py_ssize_t i = 0; t->tp_members[i].name != NULL && i < PyTuple_GET_SIZE(flags); i++) {
		if (strcmp(t->tp_members[i].name, name) != 0)
			continue;
		PyObject *old = PyTuple_GET_ITEM(flags, i);
		PyObject *nv = PyBool_Check(old) ? PyBool_FromLong(v) : PyLong_FromLong(v);
		if (nv == NULL)
			return -1;
		PyStructSequence_SetItem(flags, i, nv);
		Py_DECREF(old);
		return 0;
	}
	PyErr_Format(PyExc_RuntimeError, "no sys.flags.%s", name);
	return -1;
}

/* The C streams' buffering, as CPython 3.11's config_init_stdio() sets it
 * at start-up (python3 configures C stdio): unbuffered under -u, line
 * buffered stdin and stdout under -i.  Nothing has used these streams in
 * this child yet, so setvbuf() may still change them. */
static void c_stdio(const PyConfig *c)
{
	if (!c->configure_c_stdio)
		return;
	if (!c->buffered_stdio) {
		setvbuf(stdin, NULL, _IONBF, BUFSIZ);
		setvbuf(stdout, NULL, _IONBF, BUFSIZ);
		setvbuf(stderr, NULL, _IONBF, BUFSIZ);
	} else if (c->interactive) {
		setvbuf(stdin, NULL, _IOLBF, BUFSIZ);
		setvbuf(stdout, NULL, _IOLBF, BUFSIZ);
	}
}

/* Apply -u -B -q -i -x -P as python3's configuration would have them:
 * the PyConfig fields the runtime reads, sys.flags, the legacy globals. */
int zrepl_apply_options(unsigned emul)
{
	PyConfig *c = config();

	if (emul & PW_EMUL_UNBUFFERED) {
		c->buffered_stdio = 0;          /* no sys.flags field in 3.11 */
		Py_UnbufferedStdioFlag = 1;
	}
	if (emul & PW_EMUL_NOBYTECODE) {
		c->write_bytecode = 0;
		Py_DontWriteBytecodeFlag = 1;
		if (set_flag("dont_write_bytecode", 1) < 0 ||
		    PySys_SetObject("dont_write_bytecode", Py_True) < 0)
			return -1;
	}
	if (emul & PW_EMUL_QUIET) {
		c->quiet = 1;
		Py_QuietFlag = 1;
		if (set_flag("quiet", 1) < 0)
			return -1;
	}
	if (emul & PW_EMUL_INSPECT) {
		c->inspect = c->interactive = 1;
		Py_InspectFlag = Py_InteractiveFlag = 1;
		if (set_flag("inspect", 1) < 0 || set_flag("interactive", 1) < 0)
			return -1;
	}
	if (emul & PW_EMUL_SKIPLINE)
		c->skip_source_first_line = 1;
	if (emul & PW_EMUL_SAFEPATH) {
		c->safe_path = 1;
		if (set_flag("safe_path", 1) < 0)
			return -1;
	}
	if (emul & (PW_EMUL_UNBUFFERED | PW_EMUL_INSPECT))
		c_stdio(c);
	return 0;
}

/* -x: skip the script's first line, keeping its newline so line numbers hold. */
void zrepl_skip_first_line(FILE *fp)
{
	int ch;

	if (!config()->skip_source_first_line)
		return;
	while ((ch = getc(fp)) != EOF)
		if (ch == '\n') {
			ungetc(ch, fp);
			break;
		}
}

/* pymain's stdin_is_interactive(). */
static int stdin_interactive(void)
{
	return isatty(fileno(stdin)) || config()->interactive;
}

/* The banner on stderr, as pymain_header (run_code: -c, -m or a script). */
void zrepl_header(int run_code)
{
	const PyConfig *c = config();

	if (c->quiet)
		return;
	if (!c->verbose && (run_code || !stdin_interactive()))
		return;
	fprintf(stderr, "Python %s on %s\n", Py_GetVersion(), Py_GetPlatform());
	if (c->site_import)
		fprintf(stderr, "%s\n", BANNER_HELP);
}

/* Did the zygote import readline?  Noted before sys.modules is made as
 * python3 starts it (zpy_prepare); -1 until then. */
static int readline_preloaded = -1;

/* Note whether the preload imported readline. */
void zrepl_note_preloaded(void)
{
	readline_preloaded = PyDict_GetItemString(PyImport_GetModuleDict(), "readline") != NULL;
}

/* Would this run import readline (see below)?  Then a profile that
 * preloaded it set it up against the zygote's descriptors and environment:
 * refuse the run (it goes cold). */
int zrepl_check_readline(int run_code)
{
	const PyConfig *c = config();

	if (c->isolated || (!c->inspect && run_code) || !isatty(fileno(stdin)))
		return 0;
	if (readline_preloaded == 0 ||
	    (readline_preloaded < 0 && PyDict_GetItemString(PyImport_GetModuleDict(), "readline") == NULL))
		return 0;
	PyErr_SetString(PyExc_RuntimeError, "the profile preloads readline, which an "
	                "interactive run must set up against the caller's terminal");
	return -1;
}

/* Import readline and rlcompleter in this child, never in the zygote, so
 * that they set themselves up against the caller's terminal (pymain_import_readline). */
void zrepl_import_readline(int run_code)
{
	const PyConfig *c = config();
	const char *names[] = { "readline", "rlcompleter" };

	if (c->isolated || (!c->inspect && run_code) || !isatty(fileno(stdin)))
		return;
	for (int i = 0; i < 2; i++) {
		PyObject *m = PyImport_ImportModule(names[i]);
		if (m == NULL)
			PyErr_Clear();
		Py_XDECREF(m);
	}
}

/* pymain_err_print: 1 and the code if SystemExit ends things, else print and 0. */
static int err_print(int *exitcode)
{
	int code;

	if (_Py_HandleSystemExit(&code)) {
		*exitcode = code;
		return 1;
	}
	PyErr_Print();
	return 0;
}

/* Run $PYTHONSTARTUP before the interactive loop (pymain_run_startup). */
static int run_startup(int *exitcode)
{
	const PyConfig *c = config();
	const char *env = c->use_environment ? getenv("PYTHONSTARTUP") : NULL;
	int ret = 0;

	if (env == NULL || env[0] == '\0')
		return 0;
	PyObject *startup = PyUnicode_DecodeFSDefault(env);
	if (startup == NULL || PySys_Audit("cpython.run_startup", "O", startup) < 0)
		goto error;
	FILE *fp = _Py_fopen_obj(startup, "r");
	if (fp == NULL) {
		int save_errno = errno;
		PyErr_Clear();
		PySys_WriteStderr("Could not open PYTHONSTARTUP\n");
		errno = save_errno;
		PyErr_SetFromErrnoWithFilenameObjects(PyExc_OSError, startup, NULL);
		goto error;
	}
	PyCompilerFlags cf = _PyCompilerFlags_INIT;
	(void)PyRun_SimpleFileExFlags(fp, env, 0, &cf);
	PyErr_Clear();
	fclose(fp);
	Py_DECREF(startup);
	return 0;
error:
	ret = err_print(exitcode);
	Py_XDECREF(startup);
	return ret;
}

/* Call sys.__interactivehook__ (site's readline and history set-up). */
static int run_interactive_hook(int *exitcode)
{
	PyObject *hook = PySys_GetObject("__interactivehook__");

	if (hook == NULL)
		return 0;
	Py_INCREF(hook);
	PyObject *r = NULL;
	if (PySys_Audit("cpython.run_interactivehook", "O", hook) >= 0)
		r = PyObject_CallNoArgs(hook);
	Py_DECREF(hook);
	if (r != NULL) {
		Py_DECREF(r);
		return 0;
	}
	PySys_WriteStderr("Failed calling sys.__interactivehook__\n");
	return err_print(exitcode);
}

/* Set config->inspect and its legacy global together (pymain_set_inspect). */
static void set_inspect(int on)
{
	config()->inspect = on;
	Py_InspectFlag = on;
}

/* Before a program on stdin: when interactive, the start-up file and the
 * hook.  1 with *exitcode when they ended the run. */
int zrepl_before_stdin(int *exitcode)
{
	if (!stdin_interactive())
		return 0;
	set_inspect(0);         /* do exit on SystemExit */
	if (run_startup(exitcode))
		return 1;
	return run_interactive_hook(exitcode);
}

/* Does stdin get the interactive loop rather than a program read whole? */
int zrepl_stdin_is_loop(void)
{
	return Py_FdIsInteractive(stdin, "<stdin>");
}

/* The interactive loop on stdin; its exit code. */
int zrepl_loop(void)
{
	PyCompilerFlags cf = _PyCompilerFlags_INIT;
	return PyRun_InteractiveLoopFlags(stdin, "<stdin>", &cf) != 0;
}

/* After -c, -m or a script: -i or a PYTHONINSPECT the program set (pymain_repl). */
void zrepl_inspect(int run_code, int *exitcode)
{
	const PyConfig *c = config();
	const char *env = c->use_environment ? getenv("PYTHONINSPECT") : NULL;

	if (!c->inspect && env && env[0])
		set_inspect(1);
	if (!(c->inspect && stdin_interactive() && run_code))
		return;
	set_inspect(0);
	if (run_interactive_hook(exitcode))
		return;
	PyCompilerFlags cf = _PyCompilerFlags_INIT;
	*exitcode = PyRun_AnyFileFlags(stdin, "<stdin>", &cf) != 0;
}
