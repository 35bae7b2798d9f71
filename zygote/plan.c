/* plan.c: would python3's import of a module, here and now, give the one the zygote loaded?  bootstrap._serve()'s question, asked in C. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "zygote.h"

/*
 * A run that imports a module the zygote preloaded gets the zygote's
 * module (bootstrap._serve) only when python3's import, with the run's own
 * sys.modules, sys.meta_path and sys.path, would load the same file, and
 * so for everything that module's loading imported, in the order python3
 * would import them.  That is a walk over each module's recorded imports
 * (warm.c: deps, attached, loaded, failed, unshared) with a search at each
 * step; in Python it cost a run about 20 microseconds per module (six
 * hundred for the 29 modules of sqlite3, xml.dom.minidom, http.server,
 * zoneinfo and tomllib), most of it the interpreter's own overhead.  Here
 * it is the same walk, step for step: every finder, path hook, directory
 * listing and attribute a program can see or replace is still asked,
 * through Python, in the same order; only the bookkeeping between those
 * steps moved.  The tables are the recording's (warm.c's comment names
 * them) and bootstrap.py's:
 *   home       top-level name -> the zygote's directory it was loaded from
 *   zfinders, zstems   the zygote's sys.path directories: finder, and the
 *              stems of what they hold (watched: watch.c retires the zygote
 *              when an importable name appears in or goes from one)
 *   pkgpaths   package -> its __path__ as the zygote loaded it
 *   hidden_finders     the path importer cache entries prepare() hid
 * Any exception raised on the way is the caller's: _serve() then lets the
 * import run for real, as it did when the walk was Python.
 */

#if PY_VERSION_HEX < 0x030B0000
#error "plan.c needs CPython 3.11's _PyObject_LookupAttr"
#endif

enum { S_CACHE, S_SERVED, S_BASE, S_UNSHARED, S_LOADED, S_FAILED, S_ATTACHED, S_DEPS,
       S_LOGGERS, S_HOME, S_ZFINDERS, S_ZSTEMS, S_PKGPATHS, S_HIDDEN, S_META_PATH,
       S_PATH_HOOKS, S_LOGGERS_OK, S_BOOTSTRAP, S_EXTERNAL, S_OS, S_CLASSLOAD, NTABLES };
static const char *const table_names[NTABLES] = {
	"cache", "served", "base", "unshared", "loaded", "failed", "attached", "deps",
	"loggers", "home", "zfinders", "zstems", "pkgpaths", "hidden_finders", "meta_path",
	"path_hooks", "loggers_ok", "bootstrap", "external", "os", "classload",
};

enum { A_SPEC, A_PATH, A_NAME, A_ORIGIN, A_LOADER, A_LOCATIONS, A_FIND_SPEC, A_PATHFINDER,
       A_FILEFINDER, A_PIC, A_BFIND_SPEC, A_PATH_STAT, A_MTIME, A_FPATH, A_FMTIME, A_FILL,
       A_FCACHE, A_LOADERS, A_VERBOSE, A_GETCWD, A_OSPATH, A_DIRNAME, A_IMP,
       A_IS_BUILTIN, A_FIND_FROZEN, A_OS, A_STAT, NATTRS };
static const char *const attr_names[NATTRS] = {
	"__spec__", "__path__", "name", "origin", "loader", "submodule_search_locations",
	"find_spec", "PathFinder", "FileFinder", "_path_importer_cache", "_find_spec",
	"_path_stat", "st_mtime", "path", "_path_mtime", "_fill_cache", "_path_cache",
	"_loaders", "verbose", "getcwd", "path", "dirname", "_imp",
	"is_builtin", "find_frozen", "_os", "stat",
};

static PyObject *key[NTABLES], *attr[NATTRS];

/*
 * The standard library's functions that a search calls most, as start-up
 * made them: BuiltinImporter.find_spec, FrozenImporter.find_spec,
 * PathFinder._path_importer_cache and _path_stat.  While the one the
 * search would call is still that very function, its answer comes from
 * what it would consult itself, looked up as it looks it up (_imp's
 * is_builtin and find_frozen, sys.path_importer_cache, _os.stat): the
 * same answer without a Python frame.  A program that replaced one gets
 * its own called, as python3 would call it.
 */
static struct {
	PyObject *builtin_find, *frozen_find, *importer_cache, *path_stat;
	PyObject *find_and_load_code;   /* _find_and_load_unlocked's, the import's own search */
} orig;

/* The function a bound method (or classmethod's binding) calls, borrowed. */
static PyObject *bound_function(PyObject *m)
{
	return PyMethod_Check(m) ? PyMethod_GET_FUNCTION(m) : NULL;
}

struct plan {
	PyObject *t[NTABLES];     /* the tables, borrowed from the state dict */
	PyObject *list, *seen;    /* what to install, in order; names judged */
	/* The last directory outside the zygote's that may_hold listed: its
	 * finder, listing and loaders' suffixes, for the plan's other names
	 * (one plan runs no code of the program's between its searches, and
	 * python3's searches would find the directory as unchanged). */
	PyObject *dir_finder, *dir_listing, *dir_suffixes;
};

enum { Y_META_PATH, Y_PATH_HOOKS, Y_PATH, Y_PIC, Y_MODULES, Y_FLAGS, NSYS };
static const char *const sys_names[NSYS] = {
	"meta_path", "path_hooks", "path", "path_importer_cache", "modules", "flags",
};
static PyObject *sys_key[NSYS], *sys_dict;

/* sys.<name>, a new reference (code a finder runs may replace it), or
 * NULL with AttributeError, as Python's _sys.name. */
static PyObject *sys_attr(int which)
{
	PyObject *v = PyDict_GetItemWithError(sys_dict, sys_key[which]);

	if (v == NULL && !PyErr_Occurred())
		PyErr_Format(PyExc_AttributeError, "module 'sys' has no attribute '%s'", sys_names[which]);
	Py_XINCREF(v);
	return v;
}

/* m.get(k): 1 and a new reference in *v, 0 (missing), or -1.  sys.modules
 * and sys.path_importer_cache are the program's to replace: a mapping that
 * is not a dict is asked through its own get(). */
static int mapping_get(PyObject *m, PyObject *k, PyObject **v)
{
	*v = NULL;
	if (PyDict_CheckExact(m)) {
		*v = PyDict_GetItemWithError(m, k);
		if (*v == NULL)
			return PyErr_Occurred() ? -1 : 0;
		Py_INCREF(*v);
		return 1;
	}
	static PyObject *missing;
	if (missing == NULL && (missing = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type)) == NULL)
		return -1;
	PyObject *r = PyObject_CallMethod(m, "get", "OO", k, missing);
	if (r == NULL)
		return -1;
	if (r == missing) {
		Py_DECREF(r);
		return 0;
	}
	*v = r;
	return 1;
}

/* mod.<name> of a plain module: its dictionary's entry, borrowed, so that
 * no reference count is written on a page of the zygote's (each written
 * page is a copy); NULL (no error set) when mod is not a plain module or
 * the entry is missing: then the caller asks getattr(). */
static PyObject *module_entry(PyObject *mod, PyObject *name)
{
	PyObject *d = PyModule_CheckExact(mod) ? PyModule_GetDict(mod) : NULL;
	PyObject *v = d ? PyDict_GetItemWithError(d, name) : NULL;
	if (v == NULL)
		PyErr_Clear();
	return v;
}

/* One of our own tables' entry, borrowed, or NULL (missing, or an error set). */
static PyObject *table_get(struct plan *p, int table, PyObject *k)
{
	return PyDict_GetItemWithError(p->t[table], k);
}

/* k in container: 1, 0, or -1. */
static int has(PyObject *container, PyObject *k)
{
	return PySequence_Contains(container, k);
}

/* a == b (op Py_EQ) or a != b (Py_NE), as Python compares them: 1, 0, or -1. */
static int compare(PyObject *a, PyObject *b, int op)
{
	return PyObject_RichCompareBool(a, b, op);
}

/* sys.meta_path == the zygote's and sys.path_hooks == the zygote's: 1, 0, or -1. */
static int hooks_as_in_zygote(struct plan *p)
{
	PyObject *mp = sys_attr(Y_META_PATH);
	int same = mp ? compare(mp, p->t[S_META_PATH], Py_EQ) : -1;
	Py_XDECREF(mp);
	if (same != 1)
		return same;
	PyObject *ph = sys_attr(Y_PATH_HOOKS);
	same = ph ? compare(ph, p->t[S_PATH_HOOKS], Py_EQ) : -1;
	Py_XDECREF(ph);
	return same;
}

/* A loader's class (built-in and frozen loaders are classes themselves), new reference. */
static PyObject *loader_kind(PyObject *loader)
{
	int is_class = PyObject_IsInstance(loader, (PyObject *)&PyType_Type);
	if (is_class < 0)
		return NULL;
	PyObject *k = is_class ? loader : (PyObject *)Py_TYPE(loader);
	Py_INCREF(k);
	return k;
}

/* list(a) == list(b) for two search locations that are not None. */
static int same_locations(PyObject *a, PyObject *b)
{
	PyObject *la = PySequence_List(a), *lb = la ? PySequence_List(b) : NULL;
	int r = lb ? compare(la, lb, Py_EQ) : -1;
	Py_XDECREF(la);
	Py_XDECREF(lb);
	return r;
}

/* Would loading spec give what the zygote loaded as mod (NULL: None)?
 * The same file is the same package or module: whether it is a package
 * follows from the file (__init__), not from its spec's search locations,
 * which a module may set itself (six makes itself a package).  A namespace
 * package (no origin) is the same when its portions are.  1, 0, or -1. */
static int same_module(PyObject *spec, PyObject *mod)
{
	PyObject *old = mod ? zpy_attr_or_none(mod, attr[A_SPEC]) : Py_NewRef(Py_None);
	PyObject *a = NULL, *b = NULL;
	int r = -1;

	if (old == NULL)
		return -1;
	if (spec == Py_None || old == Py_None || spec == old) {
		r = spec == old && spec != Py_None;   /* the search found the zygote's very file */
		goto out;
	}
	for (int i = A_NAME; i <= A_ORIGIN; i++) {
		if ((a = PyObject_GetAttr(spec, attr[i])) == NULL || (b = PyObject_GetAttr(old, attr[i])) == NULL)
			goto out;
		r = compare(a, b, Py_NE);
		Py_CLEAR(a);
		Py_CLEAR(b);
		if (r != 0) {
			r = r < 0 ? -1 : 0;
			goto out;
		}
	}
	r = -1;
	if ((a = PyObject_GetAttr(spec, attr[A_ORIGIN])) == NULL)
		goto out;
	int namespace = a == Py_None;
	Py_CLEAR(a);
	if (namespace) {
		if ((a = PyObject_GetAttr(spec, attr[A_LOCATIONS])) == NULL ||
		    (b = PyObject_GetAttr(old, attr[A_LOCATIONS])) == NULL)
			goto out;
		r = a != Py_None && b != Py_None ? same_locations(a, b) : 0;
		goto out;
	}
	PyObject *ka = NULL, *kb = NULL;
	if ((a = PyObject_GetAttr(spec, attr[A_LOADER])) != NULL && (ka = loader_kind(a)) != NULL &&
	    (b = PyObject_GetAttr(old, attr[A_LOADER])) != NULL && (kb = loader_kind(b)) != NULL)
		r = ka == kb;
	Py_XDECREF(ka);
	Py_XDECREF(kb);
out:
	Py_XDECREF(a);
	Py_XDECREF(b);
	Py_DECREF(old);
	return r;
}

/* A FileFinder's directory listing, refreshed as its find_spec refreshes
 * it (when the directory's mtime changed); a new reference, or NULL. */
static PyObject *refreshed_listing(struct plan *p, PyObject *finder)
{
	PyObject *dir = PyObject_GetAttr(finder, attr[A_FPATH]), *st = NULL, *mtime = NULL;
	int truth = dir ? PyObject_IsTrue(dir) : -1;

	if (truth < 0)
		goto fail;
	if (!truth) {
		Py_SETREF(dir, PyObject_CallMethodNoArgs(p->t[S_OS], attr[A_GETCWD]));
		if (dir == NULL && !PyErr_ExceptionMatches(PyExc_OSError))
			goto fail;
	}
	if (dir != NULL) {
		PyObject *path_stat = PyObject_GetAttr(p->t[S_EXTERNAL], attr[A_PATH_STAT]);
		if (path_stat == NULL)
			goto fail;
		if (path_stat == orig.path_stat) {      /* what it does: _os.stat(path) */
			PyObject *os = PyObject_GetAttr(p->t[S_EXTERNAL], attr[A_OS]);
			st = os ? PyObject_CallMethodOneArg(os, attr[A_STAT], dir) : NULL;
			Py_XDECREF(os);
		} else {
			st = PyObject_CallOneArg(path_stat, dir);
		}
		Py_DECREF(path_stat);
		mtime = st ? PyObject_GetAttr(st, attr[A_MTIME]) : NULL;
		if (mtime == NULL && !PyErr_ExceptionMatches(PyExc_OSError))
			goto fail;
	}
	if (mtime == NULL) {                /* except OSError: mtime = -1 */
		PyErr_Clear();
		mtime = PyLong_FromLong(-1);
		if (mtime == NULL)
			goto fail;
	}
	PyObject *was = PyObject_GetAttr(finder, attr[A_FMTIME]);
	int changed = was ? compare(mtime, was, Py_NE) : -1;
	Py_XDECREF(was);
	if (changed < 0)
		goto fail;
	if (changed) {
		PyObject *r = PyObject_CallMethodNoArgs(finder, attr[A_FILL]);
		if (r == NULL || PyObject_SetAttr(finder, attr[A_FMTIME], mtime) < 0) {
			Py_XDECREF(r);
			goto fail;
		}
		Py_DECREF(r);
	}
	Py_XDECREF(dir);
	Py_XDECREF(st);
	Py_DECREF(mtime);
	return PyObject_GetAttr(finder, attr[A_FCACHE]);
fail:
	Py_XDECREF(dir);
	Py_XDECREF(st);
	Py_XDECREF(mtime);
	return NULL;
}

/* [suffix for suffix, _ in finder._loaders], a new reference, or NULL. */
static PyObject *loader_suffixes(PyObject *finder)
{
	PyObject *loaders = PyObject_GetAttr(finder, attr[A_LOADERS]), *it, *item;
	PyObject *out = loaders ? PyList_New(0) : NULL;

	it = out ? PyObject_GetIter(loaders) : NULL;
	while (it && (item = PyIter_Next(it)) != NULL) {
		PyObject *pair = PySequence_Tuple(item);
		Py_DECREF(item);
		if (pair != NULL && PyTuple_GET_SIZE(pair) != 2)
			PyErr_SetString(PyExc_ValueError, "a FileFinder loader entry is not a pair");
		else if (pair != NULL && PyList_Append(out, PyTuple_GET_ITEM(pair, 0)) == 0) {
			Py_DECREF(pair);
			continue;
		}
		Py_XDECREF(pair);
		break;
	}
	if (it == NULL || PyErr_Occurred())
		Py_CLEAR(out);
	Py_XDECREF(it);
	Py_XDECREF(loaders);
	return out;
}

/* Could a FileFinder's directory, as its find_spec lists it, give the
 * top-level module name: an entry that is name itself (a package or a
 * namespace portion) or name with one of its loaders' suffixes?  A few
 * lookups, whatever the size of the directory (the script's own, or the
 * working directory for -c, can hold thousands of files).  1, 0, or -1. */
static int may_hold(struct plan *p, PyObject *finder, PyObject *name)
{
	if (finder != p->dir_finder) {
		Py_CLEAR(p->dir_finder);
		Py_CLEAR(p->dir_suffixes);
		Py_XSETREF(p->dir_listing, refreshed_listing(p, finder));
		if (p->dir_listing == NULL || (p->dir_suffixes = loader_suffixes(finder)) == NULL)
			return -1;
		p->dir_finder = Py_NewRef(finder);
	}
	int r = has(p->dir_listing, name);
	for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(p->dir_suffixes); i++) {
		PyObject *full = PyNumber_Add(name, PyList_GET_ITEM(p->dir_suffixes, i));
		r = full ? has(p->dir_listing, full) : -1;
		Py_XDECREF(full);
	}
	return r;
}

enum { NOT_SURE = 0, AT_HOME = 1, GO_ON = 2, NOWHERE = 3 };

/* One sys.path entry that is among the zygote's directories (stems: what
 * it holds): its finder goes in sys.path_importer_cache as the search
 * would put it.  AT_HOME, NOT_SURE (the program's own finder is there, or
 * the entry holds name), GO_ON, or -1. */
static int zygote_entry(struct plan *p, PyObject *pic, PyObject *entry, PyObject *stems,
			PyObject *home, PyObject *name)
{
	PyObject *f, *zf = table_get(p, S_ZFINDERS, entry);
	int r;

	if (zf == NULL) {
		if (!PyErr_Occurred())
			PyErr_SetObject(PyExc_KeyError, entry);
		return -1;
	}
	if ((r = mapping_get(pic, entry, &f)) < 0)
		return -1;
	if (r == 0 && PyObject_SetItem(pic, entry, zf) < 0)
		return -1;
	if (r == 1) {
		int other = f != zf;
		Py_DECREF(f);
		if (other)
			return NOT_SURE;
	}
	if (home != NULL && (r = compare(entry, home, Py_EQ)) != 0)
		return r < 0 ? -1 : AT_HOME;
	r = has(stems, name);
	return r < 0 ? -1 : r ? NOT_SURE : GO_ON;
}

/* PathFinder._path_importer_cache(entry) (pf: the PathFinder): the entry's
 * finder, made and cached by the path hooks if it has none yet; a new
 * reference, or NULL. */
static PyObject *importer_cache(PyObject *pf, PyObject *pic, PyObject *entry)
{
	PyObject *m = PyObject_GetAttr(pf, attr[A_PIC]), *finder = NULL;
	int r = 0;

	if (m == NULL)
		return NULL;
	if (bound_function(m) == orig.importer_cache && PyDict_CheckExact(pic) &&
	    PyUnicode_CheckExact(entry) && PyUnicode_GET_LENGTH(entry) > 0)
		r = mapping_get(pic, entry, &finder);    /* sys.path_importer_cache[path] */
	if (r == 0)
		finder = PyObject_CallOneArg(m, entry);
	Py_DECREF(m);
	return finder;
}

/* Any other str entry: asked through the finder the search would use.
 * GO_ON when it has none or a FileFinder that cannot hold name, else
 * NOT_SURE; or -1. */
static int other_entry(struct plan *p, PyObject *pic, PyObject *entry, PyObject *name)
{
	PyObject *pf = PyObject_GetAttr(p->t[S_EXTERNAL], attr[A_PATHFINDER]);
	PyObject *finder = pf ? importer_cache(pf, pic, entry) : NULL;
	PyObject *ff = finder ? PyObject_GetAttr(p->t[S_EXTERNAL], attr[A_FILEFINDER]) : NULL;
	int r = -1;

	if (ff != NULL) {
		if (finder == Py_None)
			r = GO_ON;
		else if ((PyObject *)Py_TYPE(finder) != ff)
			r = NOT_SURE;
		else if ((r = may_hold(p, finder, name)) >= 0)
			r = r ? NOT_SURE : GO_ON;
	}
	Py_XDECREF(ff);
	Py_XDECREF(finder);
	Py_XDECREF(pf);
	return r;
}

/* isinstance(o, t) for str and bytes: 1, 0, or -1. */
static int is_a(PyObject *o, PyTypeObject *t)
{
	return Py_IS_TYPE(o, t) ? 1 : PyObject_IsInstance(o, (PyObject *)t);
}

/* Would the path finder's search of sys.path, entry by entry, reach home,
 * the directory the zygote loaded name from, before any directory that
 * may hold that name (AT_HOME)?  With no home (a name the zygote's search
 * did not find), would it find nothing anywhere (NOWHERE)?  The zygote's
 * directories are known (zygote_entry); any other entry is asked through
 * the finder the search would use, as that finder would list it
 * (other_entry).  NOT_SURE: the real search decides.  Or -1. */
static int path_search(struct plan *p, PyObject *name, PyObject *home)
{
	PyObject *flags, *v, *path, *pic, *it, *entry;
	if ((flags = sys_attr(Y_FLAGS)) == NULL)
		return -1;
	v = PyObject_GetAttr(flags, attr[A_VERBOSE]);
	Py_DECREF(flags);
	if (v == NULL)
		return -1;
	long verbose = PyLong_AsLong(v);
	Py_DECREF(v);
	if (verbose == -1 && PyErr_Occurred())
		return -1;
	if (verbose > 1)                    /* -vv prints each try */
		return NOT_SURE;
	if ((path = sys_attr(Y_PATH)) == NULL)
		return -1;
	it = PyObject_GetIter(path);
	Py_DECREF(path);
	if (it == NULL)
		return -1;
	if ((pic = sys_attr(Y_PIC)) == NULL) {
		Py_DECREF(it);
		return -1;
	}
	int r = GO_ON;
	while (r == GO_ON && (entry = PyIter_Next(it)) != NULL) {
		PyObject *stems;
		if ((r = is_a(entry, &PyUnicode_Type)) == 0)   /* bytes: not sure; others are skipped */
			r = (r = is_a(entry, &PyBytes_Type)) < 0 ? -1 : r ? NOT_SURE : GO_ON;
		else if (r > 0 && (stems = table_get(p, S_ZSTEMS, entry)) != NULL)
			r = zygote_entry(p, pic, entry, stems, home, name);
		else if (r > 0)
			r = PyErr_Occurred() ? -1 : other_entry(p, pic, entry, name);
		Py_DECREF(entry);
	}
	Py_DECREF(it);
	Py_DECREF(pic);
	if (r == GO_ON)
		r = PyErr_Occurred() ? -1 : home != NULL ? NOT_SURE : NOWHERE;
	return r;
}

/* path_search for a cached top-level module: 1 (the search finds the
 * zygote's very file), 0 (not sure), or -1. */
static int path_finds_cached(struct plan *p, PyObject *name)
{
	PyObject *home = table_get(p, S_HOME, name);
	if (home == NULL)
		return PyErr_Occurred() ? -1 : NOT_SURE;
	return path_search(p, name, home);
}

/* _imp.<which>(name), looked up as the standard finders look it up. */
static PyObject *imp_call(struct plan *p, int which, PyObject *name)
{
	PyObject *imp = PyObject_GetAttr(p->t[S_BOOTSTRAP], attr[A_IMP]);
	PyObject *r = imp ? PyObject_CallMethodOneArg(imp, attr[which], name) : NULL;
	Py_XDECREF(imp);
	return r;
}

/* find_spec(name, None, None) would return None for certain, without
 * running it: it is the standard built-in or frozen importer's, and _imp
 * knows no such module.  1, 0 (it must run), or -1. */
static int finds_nothing(struct plan *p, PyObject *find_spec, PyObject *name)
{
	PyObject *f = bound_function(find_spec), *r;
	int none;

	if (f == NULL || (f != orig.builtin_find && f != orig.frozen_find))
		return 0;
	if ((r = imp_call(p, f == orig.builtin_find ? A_IS_BUILTIN : A_FIND_FROZEN, name)) == NULL)
		return -1;
	none = f == orig.builtin_find ? PyObject_Not(r) : r == Py_None;
	Py_DECREF(r);
	return none;
}

/* What python3's search (importlib's _find_spec) for the top-level name
 * finds now: the meta path finders are asked in order, as there, and the
 * path finder's search is path_search where it can answer (for a name the
 * zygote failed to import, when it is found nowhere: a failed search walks
 * every directory, trying each suffix).  A finder without find_spec() is
 * asked for find_module() by python3, with a warning: that import runs.  A new reference to a spec or
 * None, with *same set when it is the very file the zygote loaded; NULL
 * on error. */
static PyObject *top_spec(struct plan *p, PyObject *name, int failed, int *same)
{
	PyObject *mp = sys_attr(Y_META_PATH), *it, *finder, *found = NULL;
	int hooks = mp ? hooks_as_in_zygote(p) : -1;

	*same = 0;
	it = hooks >= 0 ? PyObject_GetIter(mp) : NULL;
	Py_XDECREF(mp);
	if (it == NULL)
		return NULL;
	while (found == NULL && (finder = PyIter_Next(it)) != NULL) {
		PyObject *find_spec = zpy_attr_or_none(finder, attr[A_FIND_SPEC]), *pf = NULL;
		int r = 0;
		if (find_spec == Py_None)       /* python3 asks its find_module(), warning: the import runs */
			PyErr_SetString(PyExc_LookupError, "a meta path finder without find_spec()");
		if (find_spec == NULL || find_spec == Py_None)
			r = -1;
		else if ((pf = PyObject_GetAttr(p->t[S_EXTERNAL], attr[A_PATHFINDER])) == NULL)
			r = -1;
		else if (finder == pf && hooks && failed)
			r = (r = path_search(p, name, NULL)) == NOWHERE ? 1 : r;  /* its answer: None */
		else if (finder == pf && hooks && (r = path_finds_cached(p, name)) == 1)
			*same = 1;
		if (r == 0 && find_spec != Py_None)
			r = finds_nothing(p, find_spec, name);
		if (r == 0 && find_spec != Py_None) {
			PyObject *spec = PyObject_CallFunctionObjArgs(find_spec, name, Py_None, Py_None, NULL);
			if (spec == NULL)
				r = -1;
			else if (spec != Py_None)
				found = spec;
			else
				Py_DECREF(spec);
		}
		Py_XDECREF(pf);
		Py_XDECREF(find_spec);
		Py_DECREF(finder);
		if (r < 0 || *same)
			break;
	}
	Py_DECREF(it);
	if (PyErr_Occurred()) {
		Py_XDECREF(found);
		return NULL;
	}
	return found ? found : Py_NewRef(Py_None);
}

/* tuple(now) == dirs, where now is a package's __path__ (a list, read
 * item by item without copying it) and dirs the zygote's: 1, 0, or -1. */
static int same_dirs(PyObject *now, PyObject *dirs)
{
	if (!PyList_CheckExact(now) || !PyTuple_CheckExact(dirs)) {
		PyObject *t = PySequence_Tuple(now);
		int r = t ? compare(t, dirs, Py_EQ) : -1;
		Py_XDECREF(t);
		return r;
	}
	int r = PyList_GET_SIZE(now) == PyTuple_GET_SIZE(dirs);
	for (Py_ssize_t i = 0; r == 1 && i < PyList_GET_SIZE(now); i++)
		r = compare(PyList_GET_ITEM(now, i), PyTuple_GET_ITEM(dirs, i), Py_EQ);
	return r;
}

/* Would a search for a submodule of this cached package find what the
 * zygote's found?  Yes when the same finders search the same directories:
 * the zygote retires when a module appears in or goes from one (watch.c).
 * Then the finders of those directories are the zygote's, as the search
 * would have made them.  1, 0, or -1. */
static int search_as_in_zygote(struct plan *p, PyObject *parent, PyObject *pmod)
{
	PyObject *zygotes = table_get(p, S_CACHE, parent);
	if (zygotes == NULL && !PyErr_Occurred())
		zygotes = table_get(p, S_SERVED, parent);
	if (zygotes == NULL && !PyErr_Occurred())
		zygotes = table_get(p, S_BASE, parent);
	if (PyErr_Occurred())
		return -1;
	if (pmod != (zygotes ? zygotes : Py_None))
		return 0;
	int r = hooks_as_in_zygote(p);
	if (r != 1)
		return r;
	PyObject *dirs = table_get(p, S_PKGPATHS, parent), *now, *pic;
	if (dirs == NULL)
		return PyErr_Occurred() ? -1 : 0;
	int owned = (now = module_entry(pmod, attr[A_PATH])) == NULL;   /* else borrowed */
	if (owned && (now = PyObject_GetAttr(pmod, attr[A_PATH])) == NULL)
		return -1;
	r = same_dirs(now, dirs);
	if (owned)
		Py_DECREF(now);
	if (r != 1 || (pic = sys_attr(Y_PIC)) == NULL)
		return r == 1 ? -1 : r;
	PyObject *hidden = p->t[S_HIDDEN], *it = PyObject_GetIter(dirs), *d;
	while (it && r == 1 && (d = PyIter_Next(it)) != NULL) {
		PyObject *f = NULL;
		int in_pic = has(pic, d), in_hidden = in_pic == 0 ? has(hidden, d) : 0;
		if (in_pic < 0 || in_hidden < 0)
			r = -1;
		else if (in_hidden && ((f = PyObject_GetItem(hidden, d)) == NULL || PyObject_SetItem(pic, d, f) < 0))
			r = -1;
		Py_XDECREF(f);
		Py_DECREF(d);
	}
	if (it == NULL || PyErr_Occurred())
		r = -1;
	Py_XDECREF(it);
	Py_DECREF(pic);
	return r;
}

/* Did a path finder find the cached module name (not the frozen or
 * built-in importer, which python3's search asks first and which never
 * looks at a directory)?  bootstrap's prepare() listed the cached modules
 * whose loader is a class (classload): a cached module is the zygote's
 * alone until served.  One that failed in the zygote (mod NULL) counts as
 * path based.  1, 0, or -1. */
static int path_based(struct plan *p, PyObject *name, PyObject *mod)
{
	if (mod == NULL)
		return 1;
	int r = has(p->t[S_CLASSLOAD], name);
	return r < 0 ? -1 : !r;
}

/* Can module name's loggers be its own in this run (bootstrap's
 * _loggers_ok, asked only for a module that made loggers)?  1, 0, or -1. */
static int loggers_ok(struct plan *p, PyObject *name)
{
	PyObject *names = table_get(p, S_LOGGERS, name);
	int some = names ? PyObject_IsTrue(names) : PyErr_Occurred() ? -1 : 0;
	if (some <= 0)
		return some < 0 ? -1 : 1;
	PyObject *r = PyObject_CallOneArg(p->t[S_LOGGERS_OK], name);
	some = r ? PyObject_IsTrue(r) : -1;
	Py_XDECREF(r);
	return some;
}

static int plan_one(struct plan *p, PyObject *name);

/* Check, in the order python3 would import them, what loading name
 * imported; what it set in sys.modules itself goes in at its place among
 * them (importlib's _bootstrap before its import of warnings).  1, 0, -1. */
static int plan_deps(struct plan *p, PyObject *name)
{
	PyObject *own = table_get(p, S_ATTACHED, name), *deps, *it, *dep, *mods;
	if (own == NULL && PyErr_Occurred())
		return -1;
	if ((deps = table_get(p, S_DEPS, name)) == NULL)
		return PyErr_Occurred() ? -1 : 1;
	if ((mods = sys_attr(Y_MODULES)) == NULL)
		return -1;
	if ((it = PyObject_GetIter(deps)) == NULL || Py_EnterRecursiveCall(" in pywarm's import plan")) {
		Py_XDECREF(it);
		Py_DECREF(mods);
		return -1;
	}
	int r = 1;
	while (r == 1 && (dep = PyIter_Next(it)) != NULL) {
		int mine = own ? has(own, dep) : 0;
		if (mine < 0) {
			r = -1;
		} else if (!mine) {
			r = plan_one(p, dep);
		} else {
			int seen = has(p->seen, dep);
			int there = seen == 0 ? has(mods, dep) : 0;
			int cached = there == 0 && seen == 0 ? has(p->t[S_CACHE], dep) : 0;
			if (seen < 0 || there < 0 || cached < 0)
				r = -1;
			else if (cached && (PySet_Add(p->seen, dep) < 0 || PyList_Append(p->list, dep) < 0))
				r = -1;
		}
		Py_DECREF(dep);
	}
	Py_LeaveRecursiveCall();
	Py_DECREF(it);
	Py_DECREF(mods);
	return r == 1 && PyErr_Occurred() ? -1 : r;
}

/* name.rpartition(".")[0]: a new reference, NULL for a top-level name
 * (*err set on error). */
static PyObject *parent_of(PyObject *name, int *err)
{
	*err = 0;
	if (!PyUnicode_Check(name)) {
		PyErr_SetString(PyExc_TypeError, "a module name is not a str");
		*err = 1;
		return NULL;
	}
	Py_ssize_t dot = PyUnicode_FindChar(name, '.', 0, PyUnicode_GET_LENGTH(name), -1);
	if (dot == -2)
		*err = 1;
	if (dot < 0)
		return NULL;
	PyObject *parent = PyUnicode_Substring(name, 0, dot);
	*err = parent == NULL;
	return parent;
}

/* A package's module for a submodule's search: the cached one, else the
 * run's (new reference in *pmod; NULL: there is none).  0 or -1. */
static int package_of(struct plan *p, PyObject *parent, PyObject **pmod)
{
	*pmod = table_get(p, S_CACHE, parent);
	if (*pmod != NULL) {
		Py_INCREF(*pmod);
		return 0;
	}
	PyObject *mods = PyErr_Occurred() ? NULL : sys_attr(Y_MODULES);
	int r = mods ? mapping_get(mods, parent, pmod) : -1;
	Py_XDECREF(mods);
	return r < 0 ? -1 : 0;
}

/* A module that failed in the zygote must fail now, unless it is the very
 * file the zygote found in its package's (watched) directories and failed
 * to execute (dateutil.tz.win without winreg), which fails the same
 * again.  1, 0, or -1. */
static int fails_again(struct plan *p, PyObject *spec, PyObject *parent)
{
	if (spec == Py_None)
		return 1;
	if (parent == NULL)
		return 0;
	PyObject *origin = PyObject_GetAttr(spec, attr[A_ORIGIN]), *ospath = NULL, *dir = NULL;
	int r = origin ? PyObject_IsTrue(origin) : -1;
	if (r == 1 && (ospath = PyObject_GetAttr(p->t[S_OS], attr[A_OSPATH])) != NULL &&
	    (dir = PyObject_CallMethodOneArg(ospath, attr[A_DIRNAME], origin)) != NULL) {
		PyObject *dirs = table_get(p, S_PKGPATHS, parent);
		r = dirs ? has(dirs, dir) : PyErr_Occurred() ? -1 : 0;
	} else if (r == 1) {
		r = -1;
	}
	Py_XDECREF(dir);
	Py_XDECREF(ospath);
	Py_XDECREF(origin);
	return r;
}

/* The search python3 would make for name (a submodule's in path): a new
 * reference to a spec or None, or NULL.  For a cached top-level module
 * found as the very file the zygote loaded, *same is set instead.  A
 * top-level name the zygote failed to import is searched as top_spec
 * searches while the finders are the zygote's. */
static PyObject *search(struct plan *p, PyObject *name, PyObject *parent, PyObject *mod, PyObject *path,
			int *same)
{
	int hooks = parent == NULL && mod == NULL ? hooks_as_in_zygote(p) : 0;
	*same = 0;
	if (hooks < 0)
		return NULL;
	if (parent == NULL && (mod != NULL || hooks))
		return top_spec(p, name, mod == NULL, same);
	PyObject *find = PyObject_GetAttr(p->t[S_BOOTSTRAP], attr[A_BFIND_SPEC]);
	PyObject *spec = find ? PyObject_CallFunctionObjArgs(find, name, path ? path : Py_None, NULL) : NULL;
	Py_XDECREF(find);
	return spec;
}

/* Would python3's import of name, here and now, give the cached module
 * (with everything its loading imported)?  What it would load goes on
 * p->list, in python3's order.  1, 0, or -1. */
static int plan_step(struct plan *p, PyObject *name, PyObject *parent)
{
	PyObject *mod, *pmod = NULL, *path = NULL;
	int r;

	if ((r = has(p->seen, name)) != 0)          /* its package's loading imported it */
		return r < 0 ? -1 : 1;
	if (PySet_Add(p->seen, name) < 0)
		return -1;
	if ((r = has(p->t[S_UNSHARED], name)) != 0)
		return r < 0 ? -1 : 0;          /* its import left output, a thread or an fd: done afresh */
	mod = table_get(p, S_CACHE, name);
	if (mod == NULL && PyErr_Occurred())
		return -1;
	if (mod != NULL && (r = has(p->t[S_LOADED], name)) <= 0)
		return r < 0 ? -1 : 1;          /* set by its owner, installed with it */
	if (mod == NULL && parent == NULL && (r = has(p->t[S_FAILED], name)) <= 0)
		return r < 0 ? -1 : 0;          /* (a submodule missing here failed to execute) */
	Py_XINCREF(mod);
	if (parent != NULL) {
		if (package_of(p, parent, &pmod) < 0) {
			r = -1;
			goto out;
		}
		if (pmod == NULL || (path = zpy_attr_or_none(pmod, attr[A_PATH])) == NULL || path == Py_None) {
			r = pmod != NULL && path == NULL ? -1 : mod == NULL;  /* its package failed then and fails now */
			goto out;
		}
	}
	r = parent != NULL ? path_based(p, name, mod) : 0;
	if (r == 1)
		r = search_as_in_zygote(p, parent, pmod);
	if (r < 0)
		goto out;
	if (r == 1) {
		if (mod == NULL)
			goto out;               /* failed in the zygote, fails now */
	} else {
		int same;
		PyObject *spec = search(p, name, parent, mod, path, &same);
		if (spec == NULL)
			r = -1;
		else
			r = same ? 1 : mod == NULL ? fails_again(p, spec, parent) : same_module(spec, mod);
		Py_XDECREF(spec);
		if (r != 1 || mod == NULL)
			goto out;
	}
	if ((r = plan_deps(p, name)) == 1 && (r = loggers_ok(p, name)) == 1)
		r = PyList_Append(p->list, name) < 0 ? -1 : 1;  /* loaded: python3 moves it to the end of sys.modules */
out:
	Py_XDECREF(path);
	Py_XDECREF(pmod);
	Py_XDECREF(mod);
	return r;
}

static int plan_one(struct plan *p, PyObject *name)
{
	PyObject *cur, *mods = sys_attr(Y_MODULES), *parent;
	int r, err;

	if ((r = has(p->seen, name)) != 0)
		return r < 0 ? -1 : 1;
	r = mods ? mapping_get(mods, name, &cur) : -1;
	Py_XDECREF(mods);
	if (r < 0)
		return -1;
	if (r == 1) {                       /* imported already: the zygote's, or served */
		PyObject *base = table_get(p, S_BASE, name), *served;
		if (base == NULL && PyErr_Occurred())
			r = -1;
		else if ((served = table_get(p, S_SERVED, name)) == NULL && PyErr_Occurred())
			r = -1;
		else
			r = cur == (served ? served : base);
		Py_DECREF(cur);
		return r;
	}
	if ((parent = parent_of(name, &err)) == NULL && err)
		return -1;
	if (Py_EnterRecursiveCall(" in pywarm's import plan")) {
		Py_XDECREF(parent);
		return -1;
	}
	r = parent != NULL ? plan_one(p, parent) : 1;
	if (r == 1)
		r = plan_step(p, name, parent);
	Py_LeaveRecursiveCall();
	Py_XDECREF(parent);
	return r;
}

/* Borrow the tables from the state dict st; 0, or -1 with KeyError. */
static int plan_tables(struct plan *p, PyObject *st)
{
	if (!PyDict_Check(st)) {
		PyErr_SetString(PyExc_TypeError, "the import state is not a dict");
		return -1;
	}
	for (int i = 0; i < NTABLES; i++) {
		if ((p->t[i] = PyDict_GetItemWithError(st, key[i])) == NULL) {
			if (!PyErr_Occurred())
				PyErr_SetObject(PyExc_KeyError, key[i]);
			return -1;
		}
	}
	return 0;
}

/* A plan for name: the tables, an empty list, seen = {name}; 0 or -1. */
static int plan_begin(struct plan *p, PyObject *st, PyObject *name)
{
	p->list = p->seen = p->dir_finder = p->dir_listing = p->dir_suffixes = NULL;
	if (plan_tables(p, st) < 0 || (p->list = PyList_New(0)) == NULL ||
	    (p->seen = PySet_New(NULL)) == NULL || PySet_Add(p->seen, name) < 0)
		return -1;
	return 0;
}

/* r: whether name itself is the zygote's (1, 0, -1).  Then what its loading
 * imported, and name last: the plan (a new reference), None, or NULL. */
static PyObject *plan_end(struct plan *p, PyObject *name, int r)
{
	if (r == 1 && (r = plan_deps(p, name)) == 1 && (r = loggers_ok(p, name)) == 1)
		r = PyList_Append(p->list, name) < 0 ? -1 : 1;
	Py_XDECREF(p->seen);
	Py_XDECREF(p->dir_finder);
	Py_XDECREF(p->dir_listing);
	Py_XDECREF(p->dir_suffixes);
	if (r != 1)
		Py_CLEAR(p->list);
	if (r == 0)
		Py_RETURN_NONE;
	return p->list;
}

/* Whether name itself is the zygote's (1, 0, -1), given its cached module
 * (NULL when it has none): for _plan, after the run's search found a spec;
 * for _plan_search, before it searches (the search's path as arg). */
typedef int first_step(struct plan *p, PyObject *name, PyObject *mod, PyObject *arg);

/* The plan for the run's import of name: None while something watches
 * imports, or when name's import left what no run can share (output, a
 * thread, an fd) or fails first; else what plan_end makes of it. */
static PyObject *plan_for(PyObject *st, PyObject *name, first_step *first, PyObject *arg)
{
	struct plan p;
	PyObject *mod;
	int r = -1;

	if (zobserve_imports_watched())
		Py_RETURN_NONE;                 /* the import runs, for whatever watches it */
	if (plan_begin(&p, st, name) == 0 && (r = has(p.t[S_UNSHARED], name)) == 0) {
		mod = table_get(&p, S_CACHE, name);
		r = mod == NULL && PyErr_Occurred() ? -1 : first(&p, name, mod, arg);
	} else if (r > 0) {
		r = 0;
	}
	return plan_end(&p, name, r);
}

/* For _plan: does the spec the run's search found (arg) load what the
 * zygote loaded as mod? */
static int found_is_cached(struct plan *p, PyObject *name, PyObject *mod, PyObject *arg)
{
	return same_module(arg, mod);
}

/* _plan(st, spec): the modules to install, in order, spec's own last, for
 * the run's import of spec (found by the run's own search); None when the
 * import must run for real.  Raises what a step raised. */
static PyObject *plan_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject *name, *out;

	if (nargs != 2) {
		PyErr_SetString(PyExc_TypeError, "_plan(state, spec)");
		return NULL;
	}
	if ((name = PyObject_GetAttr(args[1], attr[A_NAME])) == NULL)
		return NULL;
	out = plan_for(args[0], name, found_is_cached, args[1]);
	Py_DECREF(name);
	return out;
}

/* For _plan_search: would the run's search for name (path: its package's
 * __path__, None for a top-level name) find the very file the zygote
 * loaded?  Asked only while the finders and path hooks are the zygote's,
 * so that the search needs no running: top_spec for a top-level name, the
 * package's directories as the zygote's for a submodule.  1, 0, -1. */
static int search_finds_cached(struct plan *p, PyObject *name, PyObject *mod, PyObject *path)
{
	if (mod == NULL)
		return 0;                       /* (failed in the zygote: the search runs) */
	PyObject *parent, *pmod = NULL, *now = NULL, *spec = module_entry(mod, attr[A_SPEC]);
	int owned = spec == NULL;           /* else borrowed */
	if (owned)
		spec = zpy_attr_or_none(mod, attr[A_SPEC]);
	int r = spec == NULL ? -1 : spec == Py_None ? 0 : hooks_as_in_zygote(p), err;

	if (owned)
		Py_XDECREF(spec);               /* (the import gets the module's spec) */
	if (r != 1)
		return r;
	if ((parent = parent_of(name, &err)) == NULL && err)
		return -1;
	if (parent == NULL) {
		int same = 0;
		PyObject *found = path == Py_None ? top_spec(p, name, 0, &same) : NULL;
		r = path != Py_None ? 0 : found == NULL ? -1 : same;
		Py_XDECREF(found);
		return r;
	}
	r = 0;
	if (path != Py_None && package_of(p, parent, &pmod) == 0 && pmod != NULL &&
	    (now = zpy_attr_or_none(pmod, attr[A_PATH])) != NULL && now == path &&
	    (r = path_based(p, name, mod)) == 1)
		r = search_as_in_zygote(p, parent, pmod);
	if (PyErr_Occurred())
		r = -1;
	Py_XDECREF(now);
	Py_XDECREF(pmod);
	Py_DECREF(parent);
	return r;
}

/* _plan_search(st, name, path): the plan for the run's import of a cached
 * module, decided before its search, as _plan decides it after: None when
 * the search is not certain to find the zygote's very file (the search
 * then runs), or the module cannot be served.  Raises what a step raised. */
static PyObject *plan_search_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	if (nargs != 3) {
		PyErr_SetString(PyExc_TypeError, "_plan_search(state, name, path)");
		return NULL;
	}
	return plan_for(args[0], args[1], search_finds_cached, args[2]);
}

/* cache.pop(name) into served[name], a new reference, or NULL (KeyError). */
static PyObject *take(PyObject *cache, PyObject *served, PyObject *name)
{
	PyObject *mod = PyDict_GetItemWithError(cache, name);
	if (mod == NULL) {
		if (!PyErr_Occurred())
			PyErr_SetObject(PyExc_KeyError, name);
		return NULL;
	}
	Py_INCREF(mod);
	if (PyDict_DelItem(cache, name) < 0 || PyDict_SetItem(served, name, mod) < 0)
		Py_CLEAR(mod);
	return mod;
}

/* The exit handlers the zygote's import of name registered for functions
 * of name's own (bootstrap's _exit_handlers): registered now, at the
 * place python3's import would have registered them.  0 or -1. */
static int register_exits(PyObject *st, PyObject *name)
{
	PyObject *exits = PyDict_GetItemString(st, "exits"), *list, *it, *entry;
	PyObject *reg = PyDict_GetItemString(st, "register");
	if (exits == NULL || !PyDict_Check(exits) || (list = PyDict_GetItemWithError(exits, name)) == NULL)
		return PyErr_Occurred() ? -1 : 0;   /* (a learn judge's child has no run, and so no held handlers) */
	Py_INCREF(list);
	int rc = PyDict_DelItem(exits, name);
	it = rc == 0 ? PyObject_GetIter(list) : NULL;
	while (it != NULL && rc == 0 && (entry = PyIter_Next(it)) != NULL) {
		PyObject *func, *args, *kwargs, *r = NULL;
		if (reg != NULL && PyArg_ParseTuple(entry, "OO!O:exit handler", &func, &PyTuple_Type, &args, &kwargs)) {
			PyObject *head = PyTuple_Pack(1, func);      /* register(func, *args, **(kwargs or {})) */
			PyObject *all = head ? PySequence_Concat(head, args) : NULL;
			int some = kwargs == Py_None ? 0 : PyObject_IsTrue(kwargs);
			if (all != NULL && some >= 0)
				r = PyObject_Call(reg, all, some ? kwargs : NULL);
			Py_XDECREF(all);
			Py_XDECREF(head);
		}
		rc = r ? 0 : -1;
		Py_XDECREF(r);
		Py_DECREF(entry);
	}
	if (it == NULL || PyErr_Occurred())
		rc = -1;
	Py_XDECREF(it);
	Py_DECREF(list);
	return rc;
}

/* _install(st, plan): put the planned modules in sys.modules and on their
 * packages.  Each is served once: imported again after the program
 * removed it from sys.modules, it is executed again, as under python3. */
static PyObject *install_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct plan p;
	PyObject *mods, *name;

	if (nargs != 2 || !PyList_Check(args[1])) {
		PyErr_SetString(PyExc_TypeError, "_install(state, plan)");
		return NULL;
	}
	if (plan_tables(&p, args[0]) < 0 || (mods = sys_attr(Y_MODULES)) == NULL)
		return NULL;
	PyObject *cache = p.t[S_CACHE], *served = p.t[S_SERVED], *attached = p.t[S_ATTACHED];
	PyObject *unbound = PyDict_GetItemString(args[0], "unbound");
	PyObject *show = PyDict_GetItemString(args[0], "show_loggers");
	int rc = unbound && show ? 0 : -1;
	if (rc < 0)
		PyErr_SetString(PyExc_KeyError, "unbound");
	for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(args[1]); i++) {
		name = PyList_GET_ITEM(args[1], i);
		Py_INCREF(name);
		PyObject *mod = take(cache, served, name), *extras, *bound = NULL;
		rc = mod ? 0 : -1;
		if (rc == 0 && (extras = PyDict_GetItemWithError(attached, name)) != NULL) {
			PyObject *it = PyObject_GetIter(extras), *extra;
			while (it && rc == 0 && (extra = PyIter_Next(it)) != NULL) {
				int there = PyDict_Contains(cache, extra);
				PyObject *e = there == 1 ? take(cache, served, extra) : NULL;
				rc = there < 0 || (there == 1 && (e == NULL || PyObject_SetItem(mods, extra, e) < 0)) ? -1 : 0;
				Py_XDECREF(e);
				Py_DECREF(extra);
			}
			if (it == NULL || PyErr_Occurred())
				rc = -1;
			Py_XDECREF(it);
		}
		if (rc == 0 && (PyErr_Occurred() || PyObject_SetItem(mods, name, mod) < 0))
			rc = -1;
		if (rc == 0 && (bound = PyDict_GetItemWithError(unbound, name)) != NULL) {
			Py_INCREF(bound);
			if (PyDict_DelItem(unbound, name) < 0 || !PyTuple_Check(bound) || PyTuple_GET_SIZE(bound) != 2 ||
			    PyObject_SetAttr(PyTuple_GET_ITEM(bound, 0), PyTuple_GET_ITEM(bound, 1), mod) < 0)
				rc = -1;
			Py_DECREF(bound);
		}
		if (rc == 0 && PyErr_Occurred())
			rc = -1;
		if (rc == 0) {
			PyObject *names = table_get(&p, S_LOGGERS, name), *r = NULL;
			int some = names ? PyObject_IsTrue(names) : PyErr_Occurred() ? -1 : 0;
			if (some > 0 && (r = PyObject_CallOneArg(show, name)) == NULL)
				some = -1;
			Py_XDECREF(r);
			rc = some < 0 ? -1 : register_exits(args[0], name);
		}
		Py_XDECREF(mod);
		Py_DECREF(name);
	}
	Py_DECREF(mods);
	if (rc < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* _listing(st, finder): a FileFinder's directory listing, refreshed as its
 * find_spec would refresh it (for bootstrap's index of the zygote's own
 * directories). */
static PyObject *listing_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct plan p;

	if (nargs != 2) {
		PyErr_SetString(PyExc_TypeError, "_listing(state, finder)");
		return NULL;
	}
	if (plan_tables(&p, args[0]) < 0)
		return NULL;
	return refreshed_listing(&p, args[1]);
}

static PyMethodDef plan_def = { "_plan", (PyCFunction)(void (*)(void))plan_call, METH_FASTCALL, NULL };
/*
 * The run's own search for a module it imports, when the module is cached:
 * importlib's _find_spec as _find_and_load_unlocked calls it (the hook
 * replaces the name that function looks up, as warm.c's hook replaces
 * _load_unlocked; a C function adds no frame to a traceback).  There the
 * search is the first step of an import, and bootstrap's _serve_search()
 * may serve the module before any directory is searched again; anyone
 * else calling _find_spec (importlib.util.find_spec) gets the search.
 * st["find_spec"] is the real _find_spec.
 */
static int called_by_import(void)
{
	PyFrameObject *f = PyEval_GetFrame();          /* borrowed */
	PyCodeObject *code = f ? PyFrame_GetCode(f) : NULL;
	int ours = code != NULL && (PyObject *)code == orig.find_and_load_code;
	Py_XDECREF(code);
	return ours;
}

static PyObject *k_find_spec, *k_search;

static PyObject *find_spec_hook(PyObject *st, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
	Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
	PyObject *real = PyDict_GetItemWithError(st, k_find_spec), *search, *cache;

	if (real == NULL) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_ImportError, "pywarm's import cache lost importlib's _find_spec");
		return NULL;
	}
	if (nargs == 2 && kwnames == NULL && called_by_import() && !zobserve_imports_watched() &&
	    (search = PyDict_GetItemWithError(st, k_search)) != NULL &&
	    (cache = PyDict_GetItemWithError(st, key[S_CACHE])) != NULL && PyDict_Check(cache) &&
	    PyDict_GET_SIZE(cache) > 0 && PyDict_Contains(cache, args[0]) == 1)
		return PyObject_Vectorcall(search, args, 2, NULL);
	if (PyErr_Occurred())
		return NULL;
	return PyObject_Vectorcall(real, args, nargsf, kwnames);
}

static PyMethodDef find_spec_def = { "_find_spec", (PyCFunction)(void (*)(void))find_spec_hook,
				     METH_FASTCALL | METH_KEYWORDS, NULL };

/* _find_hook(st): the hook for importlib's _find_spec, bound to st. */
static PyObject *find_hook_call(PyObject *self, PyObject *st)
{
	return PyCFunction_New(&find_spec_def, st);
}

static PyMethodDef find_hook_def = { "_find_hook", find_hook_call, METH_O, NULL };

/* _observe_snapshot(): observe.c's snapshot of the import system, now that
 * the hooks are in place; True, or False when it could not be taken (then
 * nothing is served). */
static PyObject *observe_snapshot_call(PyObject *self, PyObject *unused)
{
	return PyBool_FromLong(zobserve_snapshot() == 0);
}

static PyMethodDef observe_def = { "_observe_snapshot", observe_snapshot_call, METH_NOARGS, NULL };

static PyMethodDef listing_def = { "_listing", (PyCFunction)(void (*)(void))listing_call, METH_FASTCALL, NULL };
static PyMethodDef install_def = { "_install", (PyCFunction)(void (*)(void))install_call, METH_FASTCALL, NULL };
static PyMethodDef plan_search_def = { "_plan_search", (PyCFunction)(void (*)(void))plan_search_call,
				       METH_FASTCALL, NULL };

/* cls.<name>'s function (a classmethod's), a new reference, or NULL. */
static PyObject *class_function(PyObject *mod, const char *cls, const char *name)
{
	PyObject *c = PyObject_GetAttrString(mod, cls);
	PyObject *m = c ? PyObject_GetAttrString(c, name) : NULL;
	PyObject *f = bound_function(m);
	Py_XINCREF(f);
	Py_XDECREF(m);
	Py_XDECREF(c);
	if (f == NULL && !PyErr_Occurred())
		PyErr_Format(PyExc_TypeError, "%s.%s is not a classmethod", cls, name);
	return f;
}

/* mod.<name>.__code__, a new reference, or NULL. */
static PyObject *function_code(PyObject *mod, const char *name)
{
	PyObject *f = PyObject_GetAttrString(mod, name);
	PyObject *code = f ? PyObject_GetAttrString(f, "__code__") : NULL;
	Py_XDECREF(f);
	return code;
}

/* The standard functions as start-up made them (see orig); 0 or -1. */
static int keep_originals(void)
{
	PyObject *b = PyImport_AddModule("_frozen_importlib");          /* borrowed */
	PyObject *e = PyImport_AddModule("_frozen_importlib_external");
	if (orig.builtin_find != NULL)
		return 0;
	if (b == NULL || e == NULL ||
	    (orig.builtin_find = class_function(b, "BuiltinImporter", "find_spec")) == NULL ||
	    (orig.frozen_find = class_function(b, "FrozenImporter", "find_spec")) == NULL ||
	    (orig.importer_cache = class_function(e, "PathFinder", "_path_importer_cache")) == NULL ||
	    (orig.path_stat = PyObject_GetAttrString(e, "_path_stat")) == NULL ||
	    (orig.find_and_load_code = function_code(b, "_find_and_load_unlocked")) == NULL) {
		Py_CLEAR(orig.builtin_find);
		Py_CLEAR(orig.frozen_find);
		Py_CLEAR(orig.importer_cache);
		return -1;
	}
	return 0;
}

/* Put _plan and _listing in the bootstrap's namespace ns; 0 or -1. */
int zplan_init(PyObject *ns)
{
	for (int i = 0; i < NTABLES; i++)
		if (key[i] == NULL && (key[i] = PyUnicode_InternFromString(table_names[i])) == NULL)
			return -1;
	for (int i = 0; i < NATTRS; i++)
		if (attr[i] == NULL && (attr[i] = PyUnicode_InternFromString(attr_names[i])) == NULL)
			return -1;
	if (keep_originals() < 0)
		return -1;
	for (int i = 0; i < NSYS; i++)
		if (sys_key[i] == NULL && (sys_key[i] = PyUnicode_InternFromString(sys_names[i])) == NULL)
			return -1;
	PyObject *sys = PyImport_AddModule("sys");     /* borrowed: the interpreter's, for good */
	if (sys == NULL || (sys_dict = PyModule_GetDict(sys)) == NULL)
		return -1;
	if ((k_find_spec == NULL && (k_find_spec = PyUnicode_InternFromString("find_spec")) == NULL) ||
	    (k_search == NULL && (k_search = PyUnicode_InternFromString("search")) == NULL))
		return -1;
	static PyMethodDef *const defs[] = { &plan_def, &plan_search_def, &install_def, &listing_def,
					     &find_hook_def, &observe_def };
	for (size_t i = 0; i < sizeof defs / sizeof *defs; i++) {
		PyObject *f = PyCFunction_New(defs[i], NULL);
		int rc = f ? PyDict_SetItemString(ns, defs[i]->ml_name, f) : -1;
		Py_XDECREF(f);
		if (rc < 0)
			return -1;
	}
	return 0;
}
