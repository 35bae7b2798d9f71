/* teardown.c: could Py_FinalizeEx's module teardown do anything a program could observe?  bootstrap.needs_teardown() in C. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "zygote.h"

#include <string.h>

/*
 * The same test as bootstrap.py's needs_teardown() and _has_finalizer(),
 * object for object, done here because running it in Python costs a run
 * more than the rest of its exit: the first execution of each function in
 * a child writes its code object (the interpreter's warm-up counters), and
 * every attribute lookup and exception it makes writes pages of the
 * zygote's heap, each one a copy-on-write fault (about 150 for `-c pass`).
 * An object whose type has a metaclass other than type, or whose
 * __module__ is not a string, is judged by _has_finalizer() itself: a
 * metaclass can answer attribute lookups on the type its own way.
 */
#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#error "teardown.c reads CPython 3.11's weak reference lists"
#endif

static struct {
	PyObject *gc;             /* the gc module (kept out of sys.modules) */
	PyObject *has_finalizer;  /* bootstrap._has_finalizer(obj, std) */
	PyObject *release;        /* bootstrap._release_imports() */
	PyTypeObject *c_iobase;   /* _io._IOBase, its base in C */
	PyObject *del, *module, *name, *buffer, *raw, *closed;
	destructor subtype_dealloc;  /* the dealloc of every class statement's class */
} td;

/* Keep what the check needs from the bootstrap's namespace; 0 or -1. */
int zteardown_init(PyObject *ns, PyObject *gc)
{

	td.gc = gc;
	td.has_finalizer = PyDict_GetItemString(ns, "_has_finalizer");
	td.release = PyDict_GetItemString(ns, "_release_imports");
	PyObject *os = PyDict_GetItemString(ns, "_os");
	PyObject *environ_class = os ? PyObject_GetAttrString(os, "_Environ") : NULL;
	if (environ_class && PyType_Check(environ_class))
		td.subtype_dealloc = ((PyTypeObject *)environ_class)->tp_dealloc;
	Py_XDECREF(environ_class);
	PyObject *cio = PyImport_AddModule("_io");      /* built in; borrowed */
	PyObject *cbase = cio ? PyObject_GetAttrString(cio, "_IOBase") : NULL;
	td.c_iobase = cbase && PyType_Check(cbase) ? (PyTypeObject *)cbase : NULL;
	td.del = PyUnicode_InternFromString("__del__");
	td.module = PyUnicode_InternFromString("__module__");
	td.name = PyUnicode_InternFromString("__name__");
	td.buffer = PyUnicode_InternFromString("buffer");
	td.raw = PyUnicode_InternFromString("raw");
	td.closed = PyUnicode_InternFromString("closed");
	if (gc == NULL || td.has_finalizer == NULL || td.release == NULL ||
	    td.c_iobase == NULL || td.subtype_dealloc == NULL ||
	    !td.del || !td.module || !td.name || !td.buffer || !td.raw || !td.closed) {
		PyErr_Clear();
		td.gc = NULL;
		return -1;
	}
	Py_INCREF(td.has_finalizer);
	Py_INCREF(td.release);
	return 0;
}

/* getattr(s, "buffer", None) or getattr(s, "raw", None): a new reference, or NULL. */
static PyObject *inner_stream(PyObject *s)
{
	PyObject *next = zpy_attr_or_none(s, td.buffer);
	int truth = next ? PyObject_IsTrue(next) : -1;

	if (truth != 0) {
		if (truth < 0)
			Py_CLEAR(next);
		return next;
	}
	Py_DECREF(next);
	return zpy_attr_or_none(s, td.raw);
}

/* Add id(s) of s and of every stream under it to ids; 0 or -1. */
static int add_stream(PyObject *ids, PyObject *s)
{
	Py_INCREF(s);
	while (s != Py_None) {
		PyObject *id = PyLong_FromVoidPtr(s);
		int rc = id ? PySet_Add(ids, id) : -1;
		Py_XDECREF(id);
		PyObject *next = rc == 0 ? inner_stream(s) : NULL;
		Py_DECREF(s);
		if (next == NULL)
			return -1;
		s = next;
	}
	Py_DECREF(s);
	return 0;
}

/* _std_objects(): the ids of the standard streams and their buffers and
 * raw files; NULL if one of the six is missing (sys.stdin raises). */
static PyObject *std_objects(void)
{
	const char *names[] = { "stdin", "stdout", "stderr", "__stdin__", "__stdout__", "__stderr__" };
	PyObject *ids = PySet_New(NULL);

	for (size_t i = 0; ids && i < sizeof names / sizeof *names; i++) {
		PyObject *s = PySys_GetObject(names[i]);
		if (s == NULL || add_stream(ids, s) < 0)
			Py_CLEAR(ids);
	}
	return ids;
}

/* Is s a str equal to c? */
static int str_is(PyObject *s, const char *c)
{
	return PyUnicode_Check(s) && PyUnicode_CompareWithASCIIString(s, c) == 0;
}

/* The class in t's method order whose own dictionary names __del__, or
 * NULL (with an exception set on error); *found gets that entry (borrowed). */
static PyTypeObject *del_owner(PyTypeObject *t, PyObject **found)
{
	PyObject *mro = t->tp_mro;

	*found = NULL;
	for (Py_ssize_t i = 0; mro && i < PyTuple_GET_SIZE(mro); i++) {
		PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
		*found = base->tp_dict ? PyDict_GetItemWithError(base->tp_dict, td.del) : NULL;
		if (*found != NULL)
			return base;
		if (PyErr_Occurred())
			return NULL;
	}
	return NULL;
}

/* getattr(t, "__del__", None) is not None, for a type whose metaclass is type. */
static int has_del(PyTypeObject *t)
{
	PyObject *found;

	if (del_owner(t, &found) == NULL && PyErr_Occurred())
		return -1;
	if (found == NULL || found == Py_None)
		return 0;
	descrgetfunc get = Py_TYPE(found)->tp_descr_get;
	if (get == NULL)
		return 1;
	PyObject *v = get(found, NULL, (PyObject *)t);
	if (v == NULL)
		return -1;
	int r = v != Py_None;
	Py_DECREF(v);
	return r;
}

/* Is the weak container whose callback this is exactly one of the
 * standard library's (not a subclass, whose methods could be anything)? */
static int std_weak_container(PyObject *selfref)
{
	static const char *const kinds[] = { "WeakSet", "WeakKeyDictionary", "WeakValueDictionary" };
	PyObject *c = PyWeakref_Check(selfref) ? PyWeakref_GET_OBJECT(selfref) : NULL;

	if (c == NULL || c == Py_None)
		return c == Py_None;          /* gone: the callback does nothing */
	const char *name = Py_TYPE(c)->tp_name;
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (strcmp(name, kinds[i]) == 0)
			return 1;
	return 0;
}

/* A callback that only keeps a weak container's bookkeeping: _abc's
 * _destroy (ABC registries and caches) and the _remove/remove closures of
 * WeakSet, WeakKeyDictionary and WeakValueDictionary.  Run at teardown or
 * not, nothing can tell. */
static int silent_callback(PyObject *cb)
{
	if (PyCFunction_Check(cb))
		return strcmp(((PyCFunctionObject *)cb)->m_ml->ml_name, "_destroy") == 0 &&
		       PyWeakref_Check(PyCFunction_GET_SELF(cb));
	if (!PyFunction_Check(cb))
		return 0;
	PyFunctionObject *f = (PyFunctionObject *)cb;
	const char *q = PyUnicode_Check(f->func_qualname) ? PyUnicode_AsUTF8(f->func_qualname) : NULL;
	PyObject *defaults = f->func_defaults;
	if (q == NULL || defaults == NULL || !PyTuple_Check(defaults) || PyTuple_GET_SIZE(defaults) < 1 ||
	    !PyUnicode_Check(f->func_module))
		return 0;
	int known = (strcmp(q, "WeakSet.__init__.<locals>._remove") == 0 &&
	             str_is(f->func_module, "_weakrefset")) ||
	            ((strcmp(q, "WeakKeyDictionary.__init__.<locals>.remove") == 0 ||
	              strcmp(q, "WeakValueDictionary.__init__.<locals>.remove") == 0) &&
	             str_is(f->func_module, "weakref"));
	return known && std_weak_container(PyTuple_GET_ITEM(defaults, 0));
}

/* Does a weak reference to o have a callback (it would run at teardown)? */
static int weakref_callbacks(PyObject *o)
{
	PyTypeObject *t = Py_TYPE(o);

	if (t->tp_weaklistoffset <= 0)
		return 0;
	PyWeakReference *r = *(PyWeakReference **)((char *)o + t->tp_weaklistoffset);
	for (; r != NULL; r = r->wr_next)
		if (r->wr_callback != NULL && r->wr_callback != Py_None && !silent_callback(r->wr_callback))
			return 1;
	return 0;
}

/* A type whose objects are torn down by C code alone: not a class made by
 * a class statement (their dealloc is the interpreter's subtype_dealloc,
 * which runs Python methods), and not derived from one. */
static int c_type(PyTypeObject *t)
{
	for (; t != NULL; t = t->tp_base)
		if (t->tp_dealloc == td.subtype_dealloc)
			return 0;
	return 1;
}

#define NOT_MINE (-2)      /* from the helpers below: the object is not of their kind */

/* A generator, coroutine or async generator: 1 if suspended (close() would
 * run its finally clauses), 0 if not, -1 on error; NOT_MINE otherwise. */
static int suspended_frame(PyObject *o, PyObject *name, PyObject *module)
{
	const char *frame = str_is(name, "generator") ? "gi_frame" :
	                    str_is(name, "coroutine") ? "cr_frame" :
	                    str_is(name, "async_generator") ? "ag_frame" : NULL;
	if (frame == NULL || !str_is(module, "builtins"))
		return NOT_MINE;
	PyObject *f = PyUnicode_FromString(frame);
	PyObject *v = f ? zpy_attr_or_none(o, f) : NULL;
	Py_XDECREF(f);
	if (v == NULL)
		return -1;
	int r = v != Py_None;
	Py_DECREF(v);
	return r;
}

/* A file object: 1 if open (and not a standard stream) or if its class
 * has a __del__ of its own, 0 if not, -1 on error; NOT_MINE if o is no
 * file.  A file is an object whose type derives from _io._IOBase, the C
 * class whose finalizer closes it (and does nothing once it is closed).
 * A class registered with io's ABCs inherits no finalizer: its objects
 * are judged as any other's (isinstance(o, io.IOBase) would also ask the
 * ABC, whose caches a first question about a type fills, writing all over
 * the zygote's heap). */
static int open_file(PyObject *o, PyTypeObject *t, PyObject *std)
{
	PyObject *found;

	if (!PyType_IsSubtype(t, td.c_iobase))
		return NOT_MINE;
	PyTypeObject *owner = del_owner(t, &found);
	if (owner == NULL && PyErr_Occurred())
		return -1;
	if (owner != NULL && PyType_HasFeature(owner, Py_TPFLAGS_HEAPTYPE))
		return 1;
	PyObject *id = PyLong_FromVoidPtr(o);
	int in = id ? PySet_Contains(std, id) : -1;
	Py_XDECREF(id);
	if (in != 0)
		return in < 0 ? -1 : 0;
	PyObject *closed = PyObject_GetAttr(o, td.closed);
	int shut = closed ? PyObject_IsTrue(closed) : -1;
	Py_XDECREF(closed);
	return shut < 0 ? -1 : !shut;
}

/* An object of a module whose C objects act on the outside when freed
 * (close a database, a TLS session)? */
static int risky_module(PyObject *module)
{
	static const char *const risky[] = { "sqlite3", "_sqlite3", "dbm", "_dbm", "_gdbm", "ssl", "_ssl" };
	for (size_t i = 0; i < sizeof risky / sizeof *risky; i++)
		if (str_is(module, risky[i]))
			return 1;
	return 0;
}

/* _has_finalizer(o, std): 1, 0, or -1 with an exception set.  *c_only is
 * cleared unless the finalizer is C code of the object's own type that
 * runs no Python and cares for no order (a connection of _sqlite3's).  An
 * unclosed file is not such: files and their buffers are finalized in the
 * order of python3's whole teardown, a buffer flushed or not before its
 * file closes. */
static int has_finalizer(PyObject *o, PyObject *std, int *c_only)
{
	PyTypeObject *t = Py_TYPE(o);
	PyObject *name = NULL, *module = NULL;
	int r = -1, mine_alone = 0;    /* the type's own C code finalizes, nothing else */

	if (Py_TYPE(t) != &PyType_Type)
		goto python;
	if ((name = zpy_attr_or_none((PyObject *)t, td.name)) == NULL ||
	    (module = zpy_attr_or_none((PyObject *)t, td.module)) == NULL)
		goto out;
	if (module != Py_None && !PyUnicode_CheckExact(module))
		goto python;
	if ((r = suspended_frame(o, name, module)) != NOT_MINE)
		goto out;
	if ((r = open_file(o, t, std)) != NOT_MINE)
		goto out;
	if ((r = has_del(t)) != 0)
		goto out;
	if (risky_module(module)) {
		r = 1;
		mine_alone = 1;
		goto out;
	}
	r = weakref_callbacks(o);
	goto out;
python:;
	PyObject *v = PyObject_CallFunctionObjArgs(td.has_finalizer, o, std, NULL);
	r = v ? PyObject_IsTrue(v) : -1;
	Py_XDECREF(v);
out:
	if (r != 0 && !(r > 0 && mine_alone && c_type(t) && weakref_callbacks(o) == 0))
		*c_only = 0;
	Py_XDECREF(name);
	Py_XDECREF(module);
	return r;
}

/* Let the import cache go of the run's modules (see _release_imports),
 * and clear the C state of the extension modules only the zygote imported
 * (m_clear, what the module's own collection would do).  That state can
 * hold objects of modules the run shares, python3 never had it: _pickle
 * keeps copyreg's dispatch table, which holds re's functions and through
 * their globals functools and collections, and whatever the program
 * stored there would outlast the collection that finalizes it. */
static void release_imports(void)
{
	PyObject *r = PyObject_CallNoArgs(td.release);

	for (Py_ssize_t i = 0; r != NULL && PyList_Check(r) && i < PyList_GET_SIZE(r); i++) {
		PyObject *m = PyList_GET_ITEM(r, i);
		PyModuleDef *def = PyModule_Check(m) ? PyModule_GetDef(m) : NULL;
		if (def == NULL || (def->m_size > 0 && PyModule_GetState(m) == NULL))
			continue;
		if (def->m_clear != NULL)
			def->m_clear(m);
		/* A module without per-module state keeps C statics, which only
		 * its m_free lets go of (_asyncio's hold asyncio's functions, and
		 * their globals reprlib's). */
		else if (def->m_size <= 0 && def->m_free != NULL)
			def->m_free(m);
	}
	Py_XDECREF(r);
	PyErr_Clear();
}

/* Look at every object made since the fork: 0 if none has a finalizer,
 * 2 if those that have one are all torn down by C code alone, 1 otherwise
 * (an error counts as 1). */
static int scan_objects(void)
{
	PyObject *std = std_objects();
	PyObject *objs = std ? PyObject_CallMethod(td.gc, "get_objects", NULL) : NULL;
	int needed = objs == NULL || !PyList_Check(objs), c_only = 1;

	for (Py_ssize_t i = 0; needed != 1 && i < PyList_GET_SIZE(objs); i++) {
		int r = has_finalizer(PyList_GET_ITEM(objs, i), std, &c_only);
		if (r == 0)
			continue;
		/* An Exception (not a BaseException only) counts as a finalizer. */
		if (r > 0 || PyErr_ExceptionMatches(PyExc_Exception))
			PyErr_Clear();
		needed = r > 0 && c_only ? 2 : 1;
	}
	Py_XDECREF(objs);
	Py_XDECREF(std);
	return needed;
}

/* needs_teardown(): 1 if Py_FinalizeEx must run whole (an error counts
 * as yes; the import cache has let go of the run's modules), 2 if what has
 * a finalizer is torn down by C alone (zteardown_partial() may spare the
 * rest), 0 if nothing Py_FinalizeEx does past the first flush could be
 * seen; -1 if zteardown_init failed (the caller asks bootstrap.py instead). */
int zteardown_needed(void)
{
	if (td.gc == NULL)
		return -1;
	PyObject *warnoptions = PySys_GetObject("warnoptions");
	PyObject *flags = PySys_GetObject("flags");
	PyObject *dev = flags ? PyObject_GetAttrString(flags, "dev_mode") : NULL;
	int w = warnoptions ? PyObject_IsTrue(warnoptions) : 0;
	int d = dev ? PyObject_IsTrue(dev) : -1;
	Py_XDECREF(dev);
	if (w != 0 || d != 0) {
		if (w >= 0 && d >= 0)
			release_imports();
		return 1;
	}
	int needed = scan_objects();
	if (needed == 1 && !PyErr_Occurred())
		release_imports();
	return needed;
}

/* When what has a finalizer is torn down by C alone (zteardown_needed()
 * said 2), and the standard streams have been flushed: do what python3's
 * teardown does to the program first, letting go of __main__, and look
 * again, after a collection (__main__'s functions hold its globals in a
 * cycle).  0: no object made since the fork has a finalizer any more,
 * nothing the rest of Py_FinalizeEx does could be seen.  1: Py_FinalizeEx
 * must run whole (the import cache has let go of the run's modules).  Not
 * tried when a collection would run the program's code (gc.callbacks) or
 * print (debug flags). */
int zteardown_partial(void)
{
	PyObject *callbacks = PyObject_GetAttrString(td.gc, "callbacks");
	PyObject *debug = PyObject_CallMethod(td.gc, "get_debug", NULL);
	int quiet = callbacks && PyList_Check(callbacks) && PyList_GET_SIZE(callbacks) == 0 &&
	            debug && PyLong_Check(debug) && PyLong_AsLong(debug) == 0;
	Py_XDECREF(callbacks);
	Py_XDECREF(debug);
	PyObject *modules = PyImport_GetModuleDict();
	if (quiet && PyDict_SetItemString(modules, "__main__", Py_None) == 0) {
		PyObject *r = PyObject_CallMethod(td.gc, "collect", NULL);
		Py_XDECREF(r);
		if (r != NULL && scan_objects() == 0 && !PyErr_Occurred())
			return 0;
	}
	PyErr_Clear();
	release_imports();
	return 1;
}
