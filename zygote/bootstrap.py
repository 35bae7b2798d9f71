# bootstrap.py: the Python half of a warm child's set-up; pywarm-zygote compiles it once and calls setup() after each fork.
#
# Everything here recreates, for the caller's fds, environment and argv, what
# CPython 3.11 computes at start-up (Python/pylifecycle.c create_stdio,
# Modules/posixmodule.c convertenviron, Modules/signalmodule.c).  It runs in
# its own namespace, never in __main__, and is not in sys.modules.

import gc as _gc
import io as _io
import os as _os
import signal as _signal
import sys as _sys
import weakref as _weakref
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


def _signals(ignored):
    """Ignore what the caller ignored, as exec would have kept it."""
    for signum in ignored:
        if signum in (_signal.SIGPIPE, _signal.SIGXFSZ):
            continue                    # python3 ignores these anyway
        try:
            _signal.signal(signum, _signal.SIG_IGN)
        except (OSError, ValueError):
            pass


def _caches():
    """Forget what the zygote derived from its own environment."""
    mods = _sys.modules
    if "time" in mods:
        mods["time"].tzset()
    if "tempfile" in mods:
        mods["tempfile"].tempdir = None
    if "linecache" in mods:
        mods["linecache"].clearcache()
    if "warnings" in mods:
        mods["warnings"].onceregistry.clear()
        mods["warnings"]._filters_mutated()
    if "logging" in mods:
        # relativeCreated counts from logging's import, which python3 does
        # while the program starts.
        mods["logging"]._startTime = _time()
    if "platform" in mods:
        # uname() is cached at first use (uuid uses it at import): the host
        # name may have changed since the zygote started.
        mods["platform"]._uname_cache = None


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
    threading = _sys.modules.get("threading")
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
    mtrand = _sys.modules.get("numpy.random.mtrand")
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


# _ENTROPY_AT_IMPORT is set by pywarm-zygote before this file runs.
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


def setup(argv, orig_argv, environ, ignored, buffered):
    """Make this freshly forked interpreter look freshly started.

    buffered: False under -u (the zygote's own streams say whether
    PYTHONUNBUFFERED was set when it started)."""
    buffered = buffered and _BUFFERED
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
    if isinstance(obj, _io.IOBase):
        return id(obj) not in std and not obj.closed
    if getattr(t, "__del__", None) is not None:
        return True
    if getattr(t, "__module__", None) in _RISKY_MODULES:
        return True
    if _weakref.getweakrefcount(obj):
        return any(r.__callback__ is not None for r in _weakref.getweakrefs(obj))
    return False


def needs_teardown():
    """Could Py_FinalizeEx's module teardown do anything observable here?

    Objects made in the zygote are frozen (gc.freeze) and not listed by
    gc.get_objects(); they would be torn down by python3 only had it
    imported the same modules, and their teardown is silent.  Everything
    the program made since the fork is listed and checked."""
    if _sys.warnoptions or _sys.flags.dev_mode:
        return True
    std = _std_objects()
    for obj in _gc.get_objects():
        try:
            if _has_finalizer(obj, std):
                return True
        except Exception:
            return True
    return False
