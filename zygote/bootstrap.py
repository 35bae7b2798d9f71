# bootstrap.py: the Python half of a warm child's set-up; pywarm-zygote compiles it once and calls setup() after each fork.
#
# Everything here recreates, for the caller's fds, environment and argv, what
# CPython 3.11 computes at start-up (Python/pylifecycle.c create_stdio,
# Modules/posixmodule.c convertenviron, Modules/signalmodule.c).  It runs in
# its own namespace, never in __main__, and is not in sys.modules.
#
# The split with C (see zygote/child.c): C has already set the kernel's and
# libc's state (descriptors, directory, environ, signal mask and SIG_IGN
# dispositions, limits) when setup() runs; this file builds only what exists
# as Python objects, from the one run description C passes, and decides
# nothing the launcher decided.

import _io
import os as _os
import _signal
import _thread
import sys as _sys
import _weakref
from _io import _IOBase            # the C base of every file, whose finalizer closes it
from time import time as _time

# What python3's configuration gave the zygote's own standard streams; the
# zygote was started under the same identity (locale, PYTHON* variables), so
# a fresh python3 would compute the same values.
_ENCODING = _sys.__stdout__.encoding
_ERRORS = _sys.__stdout__.errors
_STDIN_ERRORS = _sys.__stdin__.errors
_BUFFERED = not _sys.__stdout__.write_through


def _valid_fd(fd):
    """CPython's is_valid_fd(): fcntl(F_GETFD) succeeds."""
    try:
        _os.get_inheritable(fd)
    except OSError:
        return False
    return True


def _stream(fd, write, name, errors, buffered):
    """One standard stream, built the way create_stdio() builds it."""
    if not _valid_fd(fd):
        return None
    buffering = 0 if (not buffered and write) else -1
    buf = _io.open(fd, "wb" if write else "rb", buffering, None, None, None, False)
    raw = buf.raw if buffering else buf
    raw.name = name
    isatty = raw.isatty()
    line_buffering = buffered and (isatty or fd == 2)
    stream = _io.TextIOWrapper(buf, _ENCODING, errors, "\n",
                               line_buffering, not buffered)
    stream.mode = "w" if write else "r"
    return stream


def _environ(entries):
    """Rebuild os.environ (and os.environb, posix.environ: one dict) from C environ."""
    data = _os.environ._data
    data.clear()
    for entry in entries:
        key, sep, value = entry.partition(b"=")
        if sep:
            data.setdefault(key, value)


def _signal_resets():
    """(signal, handler) for each handler the zygote's preload or warmup
    script changed from what start-up left (signal.signal() at import):
    each run starts with start-up's, as python3 does, and a module that
    set one is imported afresh (warm.c), setting it again."""
    st = getattr(_bootstrap._load_unlocked, "__self__", None)
    start = st.get("signals_at_start") if isinstance(st, dict) else None
    if not start:
        return ()
    out = []
    for signum, h0 in enumerate(start, 1):
        try:
            if h0 is not None and _signal.getsignal(signum) != h0:
                out.append((signum, h0))
        except (OSError, ValueError):
            pass
    return tuple(out)


def _signals(ignored):
    """Start-up's handlers back where the preload changed them; then ignore
    what the caller ignored, as exec would have kept it."""
    for signum, handler in _SIGNAL_RESETS:
        try:
            _signal.signal(signum, handler)
        except (OSError, ValueError):
            pass
    for signum in ignored:
        if signum in (_signal.SIGPIPE, _signal.SIGXFSZ):
            continue                    # python3 ignores these anyway
        try:
            _signal.signal(signum, _signal.SIG_IGN)
        except (OSError, ValueError):
            pass


def _loaded(name):
    """The module the zygote imported as name, in sys.modules or in the
    import cache behind it (prepare()), or None."""
    mod = _sys.modules.get(name)
    if mod is None and _IMPORTS is not None:
        mod = _IMPORTS["cache"].get(name)
    return mod


def _caches():
    """Forget what the zygote derived from its own environment."""
    mod = _loaded("time")
    if mod is not None:
        mod.tzset()
    mod = _loaded("tempfile")
    if mod is not None:
        mod.tempdir = None
    mod = _loaded("linecache")
    if mod is not None:
        mod.clearcache()
    mod = _loaded("warnings")
    if mod is not None:
        mod.onceregistry.clear()
        mod._filters_mutated()
    mod = _loaded("logging")
    if mod is not None:
        # relativeCreated counts from logging's import, which python3 does
        # while the program starts.
        mod._startTime = _time()
    mod = _loaded("platform")
    if mod is not None:
        # uname() is cached at first use (uuid uses it at import): the host
        # name may have changed since the zygote started.
        mod._uname_cache = None


def _user_site_present():
    """Did site find the user site-packages directory, or would it now?
    None when site does not look for it (-s, -S, -I, PYTHONNOUSERSITE)."""
    site = _sys.modules.get("site")
    if site is None or not getattr(site, "ENABLE_USER_SITE", False) or not site.USER_SITE:
        return None
    return _os.path.isdir(site.USER_SITE)


# site adds the user site-packages directory to sys.path only if it exists
# when python3 starts; the zygote looked once, at its own start.
_USER_SITE_AT_START = _user_site_present()


def _check_user_site():
    """Refuse the run (it goes cold) if that directory appeared or went away."""
    if _user_site_present() != _USER_SITE_AT_START:
        raise RuntimeError("the user site-packages directory appeared or went away "
                           "since the zygote started")


def _fresh_main():
    """A new __main__, as add_main_module() makes it at start-up.

    The zygote's own __main__ is frozen with the rest of its heap, and the
    collector never frees frozen objects: a class defined in the program
    would form a cycle through that dict that python3 collects at exit
    (running __del__ methods) and a warm child never would."""
    old = _sys.modules["__main__"].__dict__
    main = type(_sys)("__main__")       # __name__, __doc__, __package__, __loader__, __spec__
    d = main.__dict__
    d["__annotations__"] = {}
    d["__builtins__"] = old["__builtins__"]
    d["__loader__"] = old["__loader__"]
    _sys.modules["__main__"] = main


def _threading():
    """threading's main thread object is the zygote's (fork keeps it and
    _after_fork() renews only its ident): give it this process's native
    thread id and put its shutdown lock back among _shutdown_locks, as
    python3's first import of threading makes them."""
    threading = _loaded("threading")
    if threading is None:
        return
    main = threading._main_thread
    if main is not threading._active.get(threading.get_ident()):
        return
    if hasattr(main, "_set_native_id"):
        main._set_native_id()
    lock = main._tstate_lock
    if lock is not None and not main.daemon:
        with threading._shutdown_locks_lock:
            threading._shutdown_locks.add(lock)


def _reseed_numpy():
    """numpy.random's global RandomState, made again as its import makes it."""
    mtrand = _loaded("numpy.random.mtrand")
    if mtrand is not None:
        mtrand._rand.__init__()


# How a child makes fresh what a module seeded from the kernel's entropy
# when the zygote imported it (None: the module does it itself after a
# fork, as random does with os.register_at_fork).  A module not listed here
# whose import read entropy makes every run of the zygote go cold.
_RESEED = {"random": None, "numpy.random": _reseed_numpy}


def _entropy_plan(readers):
    """(reseed functions, modules no child can reseed) for the modules whose
    import read entropy, as pywarm-zygote recorded them (getrandom calls)."""
    fns, unknown = [], []
    for name in readers:
        key = next((k for k in _RESEED if name == k or name.startswith(k + ".")), None)
        if key is None:
            unknown.append(name)
        elif _RESEED[key] is not None and _RESEED[key] not in fns:
            fns.append(_RESEED[key])
    return fns, unknown


# _ENTROPY_AT_IMPORT and _gc (the gc module, kept out of sys.modules) are
# set by pywarm-zygote before this file runs.
_RESEEDERS, _UNSEEDABLE = _entropy_plan(_ENTROPY_AT_IMPORT)


def _fresh_randomness():
    """Reseed what preloaded modules seeded at import, or refuse the run
    (it goes cold): sharing one seed between runs is a silent difference."""
    if _UNSEEDABLE:
        raise RuntimeError("%s read the kernel's randomness while the zygote preloaded: "
                           "what it seeded would be shared by every warm run"
                           % ", ".join(_UNSEEDABLE))
    for fn in _RESEEDERS:
        fn()


# ---------------------------------------------------------------- imports
#
# What the zygote imported beyond python3's own start-up is a cache behind
# the import system, not part of sys.modules: the zygote hides it once,
# before it serves (prepare, _hide_preloaded), so that every child starts
# with it hidden and writes none of those modules' pages.  A run's import
# of a name the cache holds is served at the start of its search
# (_serve_search, called by plan.c's hook for importlib._bootstrap._find_spec)
# when that search is certain to find the very file the zygote loaded;
# otherwise, once the run's own sys.meta_path and sys.path have found a
# spec, warm.c's hook on _load_unlocked asks _serve().  The cached module
# is used only if every module its loading imported resolves the same way
# now (plan.c's _plan and _plan_search), and nothing watches imports
# (observe.c); otherwise the import runs for real, as under python3.
# warm.c recorded, while preloading, what each module's loading imported;
# its state dict is the hooks' __self__.

import _frozen_importlib as _bootstrap
import _frozen_importlib_external as _bootstrap_external
import posix as _posix

_MISSING = object()


def _import_state():
    """warm.c's recording, or None if the hook is not in place."""
    st = getattr(_bootstrap._load_unlocked, "__self__", None)
    return st if isinstance(st, dict) and "load" in st else None


def _imports_attach():
    """Stop recording; from now on the hook asks _serve()."""
    st = _import_state()
    if st is None:
        return None
    import atexit
    import builtins
    if getattr(builtins.__import__, "__self__", None) is st:
        builtins.__import__ = st["import"]
    if getattr(atexit.register, "__self__", None) is st:
        atexit.register = st["register"]
    if getattr(_bootstrap._gcd_import, "__self__", None) is st:
        _bootstrap._gcd_import = st["gcd_import"]
    mods = _sys.modules
    st["base"] = {n: mods[n] for n in st["baseline"] if n in mods}
    st["dotted"] = [n for n in st["loaded"] if "." in n]
    st["pkgpaths"] = {n: tuple(m.__path__) for n, m in mods.items()
                      if isinstance(getattr(m, "__path__", None), list)}
    st["unbound"] = {}
    st["serve"], st["search"] = _serve, _serve_search
    st["find_spec"], st["pending"] = _bootstrap._find_spec, {}
    # What plan.c's _plan() asks through Python, as the walk in Python did.
    st["loggers_ok"], st["show_loggers"], st["os"] = _loggers_ok, _show_loggers, _os
    st["bootstrap"], st["external"] = _bootstrap, _bootstrap_external
    st["classload"] = frozenset()       # prepare() lists them
    st["cache"], st["served"] = {}, {}
    return st


def _hide_preloaded():
    """sys.modules as python3 starts with it: the rest goes to the cache,
    and each cached submodule is unbound from its package (the import that
    brings it back binds it again).  The same for sys.path_importer_cache."""
    st = _IMPORTS
    mods, base, cache, unbound = _sys.modules, st["base"], st["cache"], st["unbound"]
    for name in [n for n in mods if n not in base]:
        cache[name] = mods.pop(name)
    _hide_loggers(st)
    finders, pic = st["finders"], _sys.path_importer_cache
    hidden = st["hidden_finders"] = {}
    for entry in [e for e in pic if e not in finders]:
        hidden[entry] = pic.pop(entry)  # the run's own searches make them again
    _index_path_entries(st, pic, hidden)
    for name in st["dotted"]:
        mod = cache.get(name, _MISSING)
        if mod is _MISSING:
            continue
        parent, _, child = name.rpartition(".")
        pmod = mods.get(parent, cache.get(parent))
        try:
            d = vars(pmod)
            if d.get(child, _MISSING) is mod:
                del d[child]
                unbound[name] = (pmod, child)
        except TypeError:
            pass


def _index_path_entries(st, pic, hidden):
    """What a search of the zygote's sys.path directories finds, for
    plan.c's path_finds_cached: each directory's finder and the stems of its
    entries (name up to the first dot, as its finder lists them), and for each cached top-level
    module the directory it came from.  The directories are watched
    (watch.c retires the zygote when an importable name appears in or
    goes from one), so this stays true while the zygote serves."""
    finders, stems, home = st["zfinders"], st["zstems"], st["home"] = {}, {}, {}
    for entry in _sys.path:
        if not isinstance(entry, str) or not entry.startswith("/") or entry in finders:
            continue
        f = pic.get(entry, hidden.get(entry, _MISSING))
        if f is _MISSING or not (f is None or type(f) is _bootstrap_external.FileFinder):
            continue
        try:
            stems[entry] = _listed_stems(f) if f is not None else frozenset()
        except OSError:
            continue
        finders[entry] = f
    for name, mod in st["cache"].items():
        spec = getattr(mod, "__spec__", None)
        origin = getattr(spec, "origin", None)
        if "." in name or not isinstance(origin, str) or not origin.startswith("/"):
            continue
        d, base = _os.path.split(origin)
        if spec.submodule_search_locations is not None and base.startswith("__init__."):
            d = _os.path.dirname(d)
        if name in stems.get(d, ()):
            home[name] = d


def _hide_loggers(st):
    """logging's manager as python3's would be: the loggers the zygote's
    imports made (and their placeholders) leave it, and each comes back
    when the run imports the module that made it (_show_loggers)."""
    logging = st["cache"].get("logging")
    mgr = getattr(getattr(logging, "Logger", None), "manager", None)
    if mgr is None or not st["logger_owner"]:
        st["zloggers"] = {}
        return
    st["zloggers"] = dict(mgr.loggerDict)
    mgr.loggerDict.clear()              # _show_loggers gives each its parent again
    mgr._clear_cache()


def _loggers_ok(name):
    """Can module name's loggers be its own in this run?  Not when the run
    made a logger of the same name first, or set another logger class:
    python3's module would get that one."""
    names = _IMPORTS["loggers"].get(name)
    if not names:
        return True
    logging = _IMPORTS["served"].get("logging")
    if logging is None:
        return True                     # logging comes with it, from the cache
    mgr = logging.Logger.manager
    if (mgr.loggerClass or logging._loggerClass) is not logging.Logger:
        return False
    ours = _IMPORTS["zloggers"]
    for n in names:
        cur = mgr.loggerDict.get(n)
        if cur is not None and not isinstance(cur, logging.PlaceHolder) and cur is not ours.get(n):
            return False
    return True


def _show_loggers(name):
    """Register module name's loggers with the run's manager, as
    logging.getLogger() did when the zygote imported it."""
    names = _IMPORTS["loggers"].get(name)
    logging = _IMPORTS["served"].get("logging")
    if not names or logging is None:
        return
    mgr = logging.Logger.manager
    with logging._lock:
        for n in names:
            rv = _IMPORTS["zloggers"].get(n)
            cur = mgr.loggerDict.get(n)
            if rv is None or cur is rv:
                continue
            mgr.loggerDict[n] = rv
            if isinstance(cur, logging.PlaceHolder):
                mgr._fixupChildren(cur, rv)
            mgr._fixupParents(rv)
        mgr._clear_cache()


def _exit_handlers(st):
    """Register the exit handlers the zygote's imports registered: now, or,
    for one a cached module registered for a function of its own, when the
    run imports that module (python3's order of registration)."""
    register, cache, base = st["register"], st["cache"], st["base"]
    later = st["exits"] = {}
    for owner, func, args, kwargs in st["atexit"]:
        if owner in cache and getattr(func, "__module__", None) not in base:
            later.setdefault(owner, []).append((func, args, kwargs))
        else:
            register(func, *args, **(kwargs or {}))


def _listed_stems(finder):
    """The stems of a FileFinder's directory listing (name up to the first
    dot), for the zygote's own directories (_index_path_entries)."""
    return frozenset(n.partition(".")[0] for n in _listing(_IMPORTS, finder))


# Threads importing at once: the import system locks only the module each
# imports, and two plans can share a dependency (one thread would install
# it, the other find it gone from the cache).  Planning and installing hold
# this lock; neither imports anything.
_SERVE_LOCK = _thread.RLock()


def _serve(spec):
    """The cached module for spec (found by the run's own search), with what
    its loading imported, or None: then the import runs for real.  Whether
    python3's import would give the same modules is plan.c's _plan(): the
    same search, step for step, as python3's imports of them would make."""
    with _SERVE_LOCK:
        try:
            plan = _plan(_IMPORTS, spec)
        except Exception:
            return None
        if plan is None:
            return None
        _install(_IMPORTS, plan)      # plan.c; each module is served once
        return _IMPORTS["served"][plan[-1]]


def _serve_search(name, path):
    """The run's search for a cached module, as the import's first step
    (plan.c's hook for importlib's _find_spec): when the search is certain
    to find the zygote's very file and the module can be served, it is
    installed now, before any directory is searched again, and its spec
    goes back to the import, whose _load_unlocked (warm.c's hook) returns
    the module.  Otherwise the search runs, and _serve() decides after it."""
    st = _IMPORTS
    if getattr(_bootstrap._load_unlocked, "__self__", None) is st:
        with _SERVE_LOCK:
            try:
                plan = _plan_search(st, name, path)
            except Exception:
                plan = None
            if plan is not None:
                _install(_IMPORTS, plan)      # plan.c; each module is served once
                spec = st["pending"][name] = st["served"][name].__spec__
                return spec
    return st["find_spec"](name, path)


_SIGNAL_RESETS = _signal_resets()
_IMPORTS = _imports_attach()


def _getpath_abspath(entry, cwd):
    """A PYTHONPATH entry as getpath makes it absolute: _Py_normpath, then
    _Py_abspath (cwd + "/" + entry, not normalised again)."""
    n = _posix._path_normpath(entry)
    if n in ("", "."):
        return cwd
    if n.startswith("/"):
        return n
    return cwd + "/" + n


def _pythonpath_items():
    """PYTHONPATH's entries, if python3 reads any of them relative to its cwd."""
    value = None if _sys.flags.ignore_environment else _os.environ.get("PYTHONPATH")
    if not value:
        return ()
    items = tuple(value.split(":"))
    if all(_posix._path_normpath(e).startswith("/") for e in items):
        return ()
    return items


# The zygote resolved relative PYTHONPATH entries against its own cwd.
_PYTHONPATH = _pythonpath_items()
_ZYGOTE_CWD = _os.getcwd()


def _dedup(paths):
    """site.removeduppaths(): absolute, first occurrence kept."""
    out, known = [], set()
    for p in paths:
        p = _os.path.abspath(p)
        if p not in known:
            out.append(p)
            known.add(p)
    return out


def _fix_pythonpath():
    """Relative PYTHONPATH entries, as python3 resolves them in this run's cwd."""
    if not _PYTHONPATH:
        return
    site = not _sys.flags.no_site
    cwd = _os.getcwd()
    raw_old = [_getpath_abspath(e, _ZYGOTE_CWD) for e in _PYTHONPATH]
    raw_new = [_getpath_abspath(e, cwd) for e in _PYTHONPATH]
    old = _dedup(raw_old) if site else raw_old
    start = _IMPORTS["path"]
    if start[:len(old)] != old or _sys.path[:len(start)] != start:
        raise RuntimeError("sys.path does not start with PYTHONPATH's entries")
    path = raw_new + _sys.path[len(old):]
    _sys.path[:] = _dedup(path) if site else path
    # python3's start-up searched each entry as getpath made it, and (with
    # site) again as site normalised it.
    cache = _sys.path_importer_cache
    for entry in set(raw_old + old):
        if entry not in _sys.path:
            cache.pop(entry, None)
    finder = _sys.modules["_frozen_importlib_external"].PathFinder
    new = _dedup(raw_new) if site else raw_new
    for entry in raw_new + new:
        finder._path_importer_cache(entry)
    _check_startup_shadowing([d for d in new if d not in old])


def _check_startup_shadowing(dirs):
    """Refuse the run (it goes cold) if python3's own start-up would have
    imported something from these directories, which the zygote never saw."""
    names = {n.partition(".")[0] for n in _IMPORTS["base"]}
    names.update(("sitecustomize", "usercustomize"))
    for d in dirs:
        try:
            entries = _os.listdir(d)
        except OSError:
            continue
        for e in entries:
            if e.partition(".")[0] in names:
                raise RuntimeError(f"{d}/{e} may shadow a module python3 imports at start-up")


def _path_found(mod):
    """Did a path finder find this cached module (its loader is not a
    class, as the built-in and frozen importers are)?  For plan.c, which
    asks it of the modules only the zygote holds: the answer does not
    change.  Not sure is no: then the run's search is made for real."""
    try:
        return not isinstance(getattr(getattr(mod, "__spec__", None), "loader", None), type)
    except Exception:
        return False


def _finders_as_served(st):
    """The finders a run's search is compared with (plan.c's
    hooks_as_in_zygote) are those its children start with.  A preloaded
    module may have added one to sys.meta_path (six adds its
    _SixMetaPathImporter): after the path finder, it is asked only for
    names the path finder does not find, as it would be under python3, so
    the zygote's searches still hold.  One before the path finder, or a
    path hook added, would have changed what the zygote's earlier searches
    found: then the start-up lists stay, and no run's finders compare
    equal (every search runs)."""
    pf = _bootstrap_external.PathFinder
    now, start = list(_sys.meta_path), st["meta_path"]
    if pf not in now or pf not in start:
        return
    if now[:now.index(pf) + 1] == start[:start.index(pf) + 1] and list(_sys.path_hooks) == st["path_hooks"]:
        st["meta_path"], st["path_hooks"] = now, list(_sys.path_hooks)


def prepare():
    """In the zygote, once its files are watched and before any child is
    forked: hide what it preloaded, the same for every run."""
    if _IMPORTS is not None and not _IMPORTS.get("hidden"):
        _hide_preloaded()
        _IMPORTS["hidden"] = True
        _finders_as_served(_IMPORTS)
        _IMPORTS["classload"] = frozenset(n for n, m in _IMPORTS["cache"].items() if not _path_found(m))
        _bootstrap._find_spec = _find_hook(_IMPORTS)
        if not _observe_snapshot():
            _IMPORTS["cache"].clear()   # nothing can tell whether a run's imports are watched


def _imports_for_run():
    """This run's sys.path and sys.modules, as python3 would start them."""
    if _IMPORTS is None or not _IMPORTS.get("hidden"):
        raise RuntimeError("the import cache is not set up (see the zygote's log)")
    _IMPORTS["served"], _IMPORTS["pending"] = {}, {}
    _exit_handlers(_IMPORTS)
    _fix_pythonpath()


def setup(run):
    """Make this freshly forked interpreter look freshly started, for the
    run that zpy_child_setup() describes: argv and orig_argv (bytes),
    environ (the caller's entries, bytes), ignored (the signals the caller
    ignored) and buffered (False under -u; the zygote's own streams say
    whether PYTHONUNBUFFERED was set when it started)."""
    argv, orig_argv, environ = run["argv"], run["orig_argv"], run["environ"]
    ignored, buffered = run["ignored"], run["buffered"] and _BUFFERED
    _check_user_site()
    if _UNSEEDABLE:
        _fresh_randomness()             # refuse before changing anything
    _fresh_main()
    _environ(environ)
    _sys.argv = [_os.fsdecode(a) for a in argv]
    _sys.orig_argv = [_os.fsdecode(a) for a in orig_argv]
    _sys.stdin = _sys.__stdin__ = _stream(0, False, "<stdin>", _STDIN_ERRORS, buffered)
    _sys.stdout = _sys.__stdout__ = _stream(1, True, "<stdout>", _ERRORS, buffered)
    _sys.stderr = _sys.__stderr__ = _stream(2, True, "<stderr>", "backslashreplace", buffered)
    _signals(ignored)
    _caches()
    _threading()
    _fresh_randomness()
    _imports_for_run()                  # last: it hides what the zygote preloaded


# C types whose deallocation does something a program could observe
# (commit or roll back a database, write a dbm file, shut down TLS).
_RISKY_MODULES = frozenset({"sqlite3", "_sqlite3", "dbm", "_dbm", "_gdbm",
                            "ssl", "_ssl"})
_FRAME_ATTR = {"generator": "gi_frame", "coroutine": "cr_frame",
               "async_generator": "ag_frame"}


def _std_objects():
    """The standard streams setup() made: flushed, closefd=False, harmless at teardown."""
    ids = set()
    for s in (_sys.stdin, _sys.stdout, _sys.stderr,
              _sys.__stdin__, _sys.__stdout__, _sys.__stderr__):
        while s is not None:
            ids.add(id(s))
            s = getattr(s, "buffer", None) or getattr(s, "raw", None)
    return ids


def _has_finalizer(obj, std):
    """Would tearing obj down run code or touch the outside world?"""
    t = type(obj)
    frame = _FRAME_ATTR.get(t.__name__)
    if frame is not None and t.__module__ == "builtins":
        return getattr(obj, frame, None) is not None   # suspended: close() runs finally
    if issubclass(t, _IOBase):          # a file: closed at teardown unless it is
        owner = next((k for k in t.__mro__ if "__del__" in vars(k)), None)
        if owner is not None and owner.__flags__ & _HEAPTYPE:
            return True                 # ... but its class finalizes it its own way
        return id(obj) not in std and not obj.closed
    if getattr(t, "__del__", None) is not None:
        return True
    if getattr(t, "__module__", None) in _RISKY_MODULES:
        return True
    if _weakref.getweakrefcount(obj):
        return any(r.__callback__ is not None and not _silent_callback(r.__callback__)
                   for r in _weakref.getweakrefs(obj))
    return False


_SILENT = {("_weakrefset", "WeakSet.__init__.<locals>._remove"),
           ("weakref", "WeakKeyDictionary.__init__.<locals>.remove"),
           ("weakref", "WeakValueDictionary.__init__.<locals>.remove")}


def _silent_callback(cb):
    """A callback that only keeps a weak container's bookkeeping (_abc's
    _destroy; the removers of the standard weak containers, not of a
    subclass): run at teardown or not, nothing can tell."""
    if type(cb).__name__ == "builtin_function_or_method":
        return cb.__name__ == "_destroy" and type(cb.__self__) is _weakref.ref
    if (getattr(cb, "__module__", None), getattr(cb, "__qualname__", None)) not in _SILENT:
        return False
    selfref = (getattr(cb, "__defaults__", None) or (None,))[0]
    if type(selfref) is not _weakref.ref:
        return False
    c = selfref()
    return c is None or type(c).__name__ in ("WeakSet", "WeakKeyDictionary", "WeakValueDictionary")


def _release_imports():
    """Before the teardown: the import cache lets go of every module, so
    that the run's die when Py_FinalizeEx empties sys.modules, and their
    objects (and the program's that they reach) are finalized while the
    standard streams are still there, as under python3.  Held here, or by
    a cached module the run never imported (asyncio holds logging), they
    would last until the late clearing of module dictionaries, after which
    no collection comes.  The modules the run never imported go with them,
    as unreachable objects of the zygote's.  Returns those modules: the
    C side (teardown.c) also clears the state of the extension modules
    among them, which Python cannot reach."""
    # pywarm's own gc module, _gc (py.c's; python3 has none unless the
    # program imports it, and then its own, which dies in the teardown):
    # its globals hold the collector's callbacks and garbage lists, and
    # through them what the program put there, past the interpreter's end.
    _gc.__dict__.update(callbacks=None, garbage=None)
    if _IMPORTS is None:
        return []
    # What only the zygote imported: python3 never had it, so it must not
    # keep the run's objects alive through what it shares with the run's
    # modules (asyncio's loggers hold logging's manager, and the _asyncio
    # extension holds asyncio for good).  Its globals are cleared as
    # Py_FinalizeEx clears a module's, newest first; modules the runs
    # import afresh ("unshared": open files, threads) are left alone.
    # A module the run holds under another name (importlib._bootstrap,
    # which the importlib package records as its own) is the run's.
    unshared = _IMPORTS.get("unshared", ())
    runs = {id(m) for m in list(_sys.modules.values())}
    zygote_only = [m for n, m in _IMPORTS.get("cache", {}).items()
                   if n not in unshared and id(m) not in runs]
    c_held = _held_by_zygote_only(_IMPORTS.get("c_held", {}))
    for value in _IMPORTS.values():     # the recorded exit handlers hold modules too
        if isinstance(value, (dict, list, set)):
            value.clear()
    _strip_zygote_classes(zygote_only)
    _detach_globals(c_held)
    for mod in reversed(zygote_only):
        d = getattr(mod, "__dict__", None)
        if type(d) is dict:
            _clear_globals(d)
    return zygote_only


_FUNCTION = type(_release_imports)
_HEAPTYPE = 1 << 9                      # Py_TPFLAGS_HEAPTYPE


def _held_by_zygote_only(c_held):
    """The classes that C code of extensions only the zygote imported holds
    ({extension: classes}, warm.c's cheld_finish), and no extension the run
    imported: python3 never had those references.  A class of a module the
    run imported (numbers.Rational, which _decimal keeps) would keep that
    module's globals, and what the program stored there, past the
    collection that frees them under python3."""
    mods = _sys.modules
    holders = {}
    for ext, classes in c_held.items():
        for cls in classes:
            holders.setdefault(id(cls), [cls, True])[1] &= mods.get(ext) is None
    return [cls for cls, only_zygote in holders.values() if only_zygote]


def _detach_globals(classes):
    """Let classes (and their bases) no longer reach the globals of the
    modules that defined their methods: each method becomes the same code
    over globals that hold only the names that code reads, and so, in turn,
    for the functions and classes among those.  The classes still work for
    the finalizers that run at exit, as under python3, where they are
    cleared only after those ran; what else the program stored in those
    modules' globals is freed as python3 frees it."""
    module_dicts = {id(vars(m)) for m in list(_sys.modules.values()) if hasattr(m, "__dict__")}
    work, seen, copies = list(classes), set(), {}

    def names_read(code):
        out = set(code.co_names)
        for c in code.co_consts:
            if type(c) is type(code):
                out |= names_read(c)
        return out

    def detached(f):
        if not isinstance(f, _FUNCTION) or id(f.__globals__) not in module_dicts:
            return f
        if id(f) in copies:
            return copies[id(f)]
        g = f.__globals__
        ng = {k: g[k] for k in names_read(f.__code__) | {"__builtins__", "__name__"} if k in g}
        nf = copies[id(f)] = _FUNCTION(f.__code__, ng, f.__name__, f.__defaults__, f.__closure__)
        nf.__kwdefaults__, nf.__qualname__ = f.__kwdefaults__, f.__qualname__
        nf.__doc__, nf.__module__ = f.__doc__, f.__module__
        nf.__dict__.update(f.__dict__)
        for k, v in ng.items():
            if isinstance(v, type) and v.__flags__ & _HEAPTYPE:
                work.append(v)
            else:
                ng[k] = detached(v)
        return nf

    def rebound(attr):
        if isinstance(attr, (classmethod, staticmethod)):
            f = detached(attr.__func__)
            return attr if f is attr.__func__ else type(attr)(f)
        if isinstance(attr, property):
            parts = [detached(p) for p in (attr.fget, attr.fset, attr.fdel)]
            same = parts == [attr.fget, attr.fset, attr.fdel]
            return attr if same else property(*parts, attr.__doc__)
        return detached(attr)

    while work:
        cls = work.pop()
        if id(cls) in seen:
            continue
        seen.add(id(cls))
        work.extend(b for b in cls.__mro__ if b.__flags__ & _HEAPTYPE and id(b) not in seen)
        for name, attr in list(vars(cls).items()):
            new = rebound(attr)
            if new is not attr:
                try:
                    setattr(cls, name, new)
                except (AttributeError, TypeError):
                    pass


def _strip_zygote_classes(zygote_only):
    """The classes of modules only the zygote imported lose their functions
    (python3 never made those classes).  A C extension may keep such a class
    for good (_decimal's DecimalTuple), and a function's globals may be a
    module the run did import: a named tuple's methods hold collections',
    and so whatever the program stored there past the collection that
    frees it under python3.  A class that a module of the run's also
    names is left alone."""
    runs = set()
    for m in list(_sys.modules.values()):
        for v in getattr(m, "__dict__", {}).values():
            if isinstance(v, type):
                runs.add(id(v))
    for mod in zygote_only:
        for v in list(getattr(mod, "__dict__", {}).values()):
            if not isinstance(v, type) or id(v) in runs or not v.__flags__ & _HEAPTYPE:
                continue
            for name, attr in list(vars(v).items()):
                if isinstance(attr, (_FUNCTION, classmethod, staticmethod, property)):
                    try:
                        delattr(v, name)
                    except (AttributeError, TypeError):
                        pass


def _clear_globals(d):
    """What CPython's _PyModule_ClearDict does to a module's globals: names
    with one leading underscore first, then all but __builtins__, set to
    None (so code still running at exit finds None, not a NameError)."""
    for key in list(d):
        if type(key) is str and key[:1] == "_" and key[1:2] != "_":
            d[key] = None
    for key in list(d):
        if key != "__builtins__":
            d[key] = None


def needs_teardown():
    """Could Py_FinalizeEx's module teardown do anything observable here?

    Objects made in the zygote are frozen (gc.freeze) and not listed by
    gc.get_objects(); they would be torn down by python3 only had it
    imported the same modules, and their teardown is silent.  Everything
    the program made since the fork is listed and checked.  When it is
    needed, the import cache lets go of the run's modules first.
    zygote/teardown.c makes the same test in C, calling _has_finalizer()
    for what it cannot judge itself; this one serves when it cannot run."""
    if _sys.warnoptions or _sys.flags.dev_mode:
        _release_imports()
        return True
    std = _std_objects()
    for obj in _gc.get_objects():
        try:
            if _has_finalizer(obj, std):
                _release_imports()
                return True
        except Exception:
            _release_imports()
            return True
    return False
