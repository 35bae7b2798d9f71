# test_finalize.py: differential tests of what a warm run leaves behind and starts with: exit finalizers, per-run randomness, C stdio buffering, threading's main thread, gc counters, ignored signals.
#
# Every case runs under the real interpreter and under pywarm, asserts the
# pywarm run was served warm (or, where a run must not be, cold) and compares
# exit status, stdout and stderr byte for byte; cases that leave files behind
# run each side in a directory of its own and compare the directories too.
# The numpy cases need /usr/bin/python3 with python3-numpy and a pywarm built
# against it: PYWARM_DEB_BUILDDIR, or one built here (make PYTHON=/usr/bin/python3).

import os
import re
import signal
import subprocess
import textwrap
import zipfile

import pytest

from conftest import (PYWARMCTL, REAL, SELF, assert_cold, assert_same, assert_warm, needs_pywarm,
                      write_files)
from helpers import assert_same_session as assert_same_pty, run_pair, warm_up

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


# ---------------------------------------------------------------- helpers

def listing(d, skip):
    """What a run left in d: (name, size, what) for each file it made; a zip
    archive is described by its member list or 'bad zip'."""
    out = []
    for name in sorted(os.listdir(d)):
        if name in skip or name == "__pycache__":
            continue
        path = os.path.join(d, name)
        what = ""
        if name.endswith(".zip"):
            try:
                with zipfile.ZipFile(path) as z:
                    what = repr([(i.filename, z.read(i.filename)) for i in z.infolist()])
            except zipfile.BadZipFile:
                what = "bad zip"
        elif os.path.isfile(path) and os.path.getsize(path) < 4096:
            with open(path, "rb") as f:
                what = repr(f.read())
        out.append((name, os.path.getsize(path) if os.path.isfile(path) else -1, what))
    return out


def run_apart(pw, name, files, args, **kw):
    """Run args with each side in a fresh directory holding files; compare
    output, status and what each side left behind."""
    dirs = {}
    for side in ("real", "pywarm"):
        dirs[side] = pw.workdir(f"{name}-{side}")
        write_files(dirs[side], files)
    real, pyw = pw.run_both(args, per_side=lambda side: {"cwd": dirs[side]}, **kw)
    assert_same(real, pyw)
    assert_warm(pyw)
    left = {side: listing(dirs[side], files) for side in dirs}
    assert left["real"] == left["pywarm"], left
    return real, pyw, left["real"]


def project(pw, wd, ini, files=None, ctl=None):
    """Write a project profile (+ files, modules under lib/), trust it, warm
    its zygote; the environment to run in (PYTHONPATH=lib)."""
    write_files(wd, dict(files or {}, **{".pywarm.ini": ini}))
    env = pw.make_env({"PYTHONPATH": os.path.join(wd, "lib")})
    for args in (["trust", wd], ["start", "--wait"]):
        p = subprocess.run([ctl or PYWARMCTL, *args], cwd=wd, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=120)
        assert p.returncode == 0, p
    return env


# ---------------------------------------------------------------- finalizers at exit

HANDLER_HOLDS_TEMPFILE = textwrap.dedent("""\
    import logging, tempfile
    class H(logging.Handler):
        def __init__(self):
            super().__init__()
            self.f = tempfile.NamedTemporaryFile(dir=".", prefix="tmpx")
        def emit(self, record):
            self.f.write(self.format(record).encode())
    logging.getLogger().addHandler(H())
    logging.warning("into the temporary file")
    print("main")
""")

HANDLER_SUBCLASS_AND_TEMPFILE = textwrap.dedent("""\
    import logging, tempfile
    class Quiet(logging.Handler):
        def emit(self, record):
            pass
    logging.getLogger("app").addHandler(Quiet())
    keep = tempfile.NamedTemporaryFile(dir=".", prefix="tmpx")
    keep.write(b"scratch")
    print("main")
""")

ZIP_IN_MAIN_WITH_HANDLER = textwrap.dedent("""\
    import logging, zipfile
    class H(logging.Handler):
        def emit(self, record):
            pass
    logging.getLogger().addHandler(H())
    z = zipfile.ZipFile("out.zip", "w")
    z.writestr("a.txt", "hello")
""")

ZIP_IN_PRELOADED_MODULE = textwrap.dedent("""\
    import json, zipfile
    json.archive = zipfile.ZipFile("out.zip", "w")
    json.archive.writestr("a.txt", "hello")
""")

ZIP_IN_CYCLE = textwrap.dedent("""\
    import zipfile
    class Box:
        def __init__(self):
            self.z = zipfile.ZipFile("out.zip", "w")
            self.z.writestr("a.txt", "hello")
            self.me = self
    Box()
    import logging
    logging.getLogger("x").box = Box
""")

DEL_IN_PRELOADED_MODULE = textwrap.dedent("""\
    import json
    class D:
        def __del__(self):
            print("del D", flush=True)
    json.keep = D()
    print("main")
""")

DEL_IN_CYCLE = textwrap.dedent("""\
    class C:
        def __del__(self):
            print("del C", flush=True)
    a = C(); b = C()
    a.other, b.other = b, a
    del a, b
    print("main")
""")

DEL_IN_GLOBAL_CYCLE = textwrap.dedent("""\
    import json
    class C:
        def __del__(self):
            print("del C", flush=True)
    a = C()
    a.me = a
    json.x = C()
    print("main")
""")

DEL_VIA_LOGGER = textwrap.dedent("""\
    import logging
    class H(logging.Handler):
        def emit(self, record):
            print("emit", record.getMessage(), flush=True)
        def __del__(self):
            print("handler del", flush=True)
    logging.getLogger("app").addHandler(H())
    logging.getLogger("app").warning("one")
""")

# A class whose objects are in a cycle of their own (only a collection
# frees them) and say so when finalized.
CYCLIC_D = textwrap.dedent("""\
    class D:
        def __del__(self):
            print("del", self.n, flush=True)
        def __init__(self, n):
            self.n = n
            self.me = self
""")

DEL_IN_PRELOADED_LIST = ("import collections, string\n" + CYCLIC_D +
                         'string.extra = [D(1), D(2)]\ncollections.extra = {"d": D(3)}\n')

# Only collections: _decimal (the zygote's) keeps DecimalTuple, whose
# methods use collections' globals; those lose their functions at exit.
DEL_IN_COLLECTIONS = textwrap.dedent("""\
    import collections, os
    class D:
        def __del__(self):
            os.write(1, b"del %d\\n" % self.n)
        def __init__(self, n):
            self.n = n
            self.me = self
    collections.extra = {"d": D(3)}
    collections.more = [D(4)]
""")

WEAKREF_FINALIZE = textwrap.dedent("""\
    import json, weakref
    class A:
        pass
    a = A(); a.me = a
    weakref.finalize(a, print, "finalized cyclic")
    json.kept = A()
    weakref.finalize(json.kept, print, "finalized in module")
    print("main")
""")

GENERATOR_FINALLY = textwrap.dedent("""\
    import json
    def g(name):
        try:
            yield 1
        finally:
            print("finally", name, flush=True)
    json.gen = g("in module"); next(json.gen)
    loop = [g("in cycle")]; next(loop[0]); loop.append(loop)
    del loop
""")

IO_UNCLOSED = textwrap.dedent("""\
    import io, json
    f = open("in-module.txt", "w"); f.write("text never flushed"); json.f = f
    b = io.BufferedWriter(io.FileIO("in-cycle.bin", "w"))
    b.write(b"bytes never flushed")
    holder = [b]; holder.append(holder)
    del holder, b
    print("main")
""")

# The order in which teardown frees what the program hung on logging's
# objects and its own globals: each __del__ says so on stderr.
TEARDOWN_ORDER = textwrap.dedent("""\
    import os, logging, sys
    class S:
        def __init__(self, tag):
            self.tag = tag
        def __del__(self, w=os.write):
            w(2, b"del " + self.tag + b"\\n")
    s = S(b"main-global")
    logging._probe = S(b"logging-global")
    logging.getLogger("app")._probe = S(b"app-logger-attr")
    logging.root._probe = S(b"root-attr")
    logging.Logger.manager._probe = S(b"manager-attr")
""")

# A handler that writes a file when it is freed.
HANDLER_FILE_AT_DEL = textwrap.dedent("""\
    import logging
    class H(logging.Handler):
        def emit(self, record):
            pass
        def __del__(self):
            with open("handler-freed.txt", "w") as f:
                f.write("freed")
    logging.getLogger("app.sub").addHandler(H())
    print("main")
""")

# Files whose class has a __del__ of its own, closed or not, and classes
# that are files only by registration with io's ABCs (they inherit no
# finalizer from io), each alone in its program: each __del__ says so on
# stderr at exit.  _pyio's files are pure Python, registered with io's
# ABCs.  Locks: no finalizer, whatever io's ABCs say of them.
FILE_DEL = textwrap.dedent("""\
    import io, os
    def say(w=os.write):
        w(2, b"del\\n")
""")
FILE_CASES = {
    "closed-file-subclass-del": FILE_DEL + textwrap.dedent("""\
        class F(io.FileIO):
            def __del__(self):
                say()
                super().__del__()
        f = F("closed.bin", "w"); f.close()
    """),
    "open-file-subclass-del": FILE_DEL + textwrap.dedent("""\
        class F(io.FileIO):
            def __del__(self):
                say()
                super().__del__()
        f = F("open.bin", "w")
    """),
    "closed-stringio-subclass-del": FILE_DEL + textwrap.dedent("""\
        class S(io.StringIO):
            def __del__(self):
                say()
        s = S(); s.close()
    """),
    "closed-textio-subclass-del-in-cycle": FILE_DEL + textwrap.dedent("""\
        class T(io.TextIOWrapper):
            def __del__(self):
                say()
        t = T(io.BytesIO()); t.close()
        t.me = [t]
        del t
    """),
    "registered-closed-with-del": FILE_DEL + textwrap.dedent("""\
        class V:
            closed = True
            def __del__(self):
                say()
        io.IOBase.register(V)
        v = V()
        print(isinstance(v, io.IOBase))
    """),
    "registered-open-without-del": textwrap.dedent("""\
        import io
        class R:
            closed = False
        io.RawIOBase.register(R)
        r = R()
        print(isinstance(r, io.IOBase))
    """),
    "pyio-closed": textwrap.dedent("""\
        import _pyio
        a = _pyio.open("pyio-closed.txt", "w"); a.write("closed"); a.close()
    """),
    "pyio-open": textwrap.dedent("""\
        import _pyio
        b = _pyio.open("pyio-open.txt", "w"); b.write("never flushed")
    """),
    "locks": textwrap.dedent("""\
        import threading, _thread
        l, r, c = threading.Lock(), threading.RLock(), threading.Condition()
        t = _thread.allocate_lock()
        print("main", l.locked(), t.locked())
    """),
}

FINALIZER_CASES = {
    "teardown-order-logging": TEARDOWN_ORDER,
    "teardown-order-asyncio-imported": "import asyncio\n" + TEARDOWN_ORDER,
    "teardown-order-concurrent-imported": "import concurrent.futures\n" + TEARDOWN_ORDER,
    "handler-file-at-del": HANDLER_FILE_AT_DEL,
    "tempfile-in-handler-subclass": HANDLER_HOLDS_TEMPFILE,
    "tempfile-and-handler-subclass": HANDLER_SUBCLASS_AND_TEMPFILE,
    "zip-unclosed-with-handler": ZIP_IN_MAIN_WITH_HANDLER,
    "zip-in-preloaded-module": ZIP_IN_PRELOADED_MODULE,
    "zip-in-cycle-reachable-from-logger": ZIP_IN_CYCLE,
    "del-in-preloaded-module": DEL_IN_PRELOADED_MODULE,
    "del-in-cycle": DEL_IN_CYCLE,
    "del-in-global-cycle": DEL_IN_GLOBAL_CYCLE,
    "del-handler-on-logger": DEL_VIA_LOGGER,
    "del-in-preloaded-containers": DEL_IN_PRELOADED_LIST,
    "del-in-collections": DEL_IN_COLLECTIONS,
    "weakref-finalize": WEAKREF_FINALIZE,
    "generator-finally": GENERATOR_FINALLY,
    "io-unclosed": IO_UNCLOSED,
    **FILE_CASES,
}


# A program's object stored in the namespace of a module it imported, in a
# cycle so that only a collection frees it.  Under Debian's python3 none of
# these modules is imported at start-up, so the first collection after
# sys.modules is emptied finalizes the objects, while print still works.
# In a warm run the zygote's own modules, extension modules and bootstrap
# reach them (the _pickle extension keeps copyreg's dispatch table, whose
# functions' globals lead to re, functools, enum and collections; _asyncio's
# C statics hold functions with reprlib's globals): every module of the
# built-in profile, and a few that they import.
def builtin_profile_modules():
    with open(os.path.join(REPO, "config", "profile.c")) as f:
        src = f.read()
    block = src[src.index("pw_builtin_profile[]"):]
    block = block[:block.index("[zygote]")]
    text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', block)).replace("\\n", "\n")
    mods = text.split("modules =", 1)[1]
    return [m.strip() for m in mods.replace("\n", " ").split(",") if m.strip()]


STORED_IN = builtin_profile_modules() + ["copyreg", "reprlib", "keyword", "types",
                                         "collections.abc", "email", "http", "urllib"]


def stored_in(mod):
    return f"import {mod}\n" + CYCLIC_D + f'{mod}.extra = [D(1), D(2)]\n{mod}.more = {{"d": D(3)}}\n'


@pytest.mark.parametrize("mod", STORED_IN)
def test_exit_finalizes_objects_stored_in_a_module(pw, mod):
    run_apart(pw, f"stored-in-{mod}", {"prog.py": stored_in(mod)}, ["prog.py"])


# Objects whose finalizers are C code alone (an unclosed file, a database
# connection): a warm run lets go of __main__ and, if that finalized them
# all, spares the rest of the teardown (zteardown_partial).  What they
# leave on disk, and in what order, must be python3's.
C_FINALIZED = {
    "sqlite-uncommitted": """\
        import sqlite3, os
        db = sqlite3.connect("t.db")
        db.execute("create table t (k text)")
        db.commit()
        db.execute("insert into t values ('pending')")
        print(sorted(os.listdir(".")))
    """,
    "sqlite-wal": """\
        import sqlite3, os
        def helper(): pass
        db = sqlite3.connect("w.db")
        db.execute("pragma journal_mode=wal")
        db.execute("create table t (k text)")
        db.execute("insert into t values ('x')")
        db.commit()
        cur = db.execute("select * from t")
        print(sorted(os.listdir(".")), cur.fetchone())
    """,
    "sqlite-in-preloaded-module": """\
        import sqlite3, json
        json.db = sqlite3.connect("j.db")
        json.db.execute("pragma journal_mode=wal")
        json.db.execute("create table t (k text)")
        json.db.commit()
    """,
    "unclosed-buffered-files": """\
        f = open("a.txt", "w")
        f.write("first\\n")
        g = open("b.bin", "wb")
        g.write(b"second")
        h = open("a.txt", "a")
        h.write("appended\\n")
    """,
    "unclosed-file-in-cycle": """\
        class Box:
            pass
        b = Box()
        b.me = b
        b.f = open("c.txt", "w")
        b.f.write("boxed")
    """,
    "unclosed-file-and-gc-callback": """\
        import gc
        gc.callbacks.append(lambda phase, info: print("gc", phase, flush=True))
        f = open("d.txt", "w")
        f.write("with a callback")
    """,
    "unclosed-file-held-by-gc-callback": """\
        import gc
        f = open("g.txt", "w")
        f.write("held by the callback")
        gc.callbacks.append(lambda phase, info, f=f: None)
    """,
    "unclosed-file-in-gc-garbage": """\
        import gc
        gc.set_debug(gc.DEBUG_SAVEALL)
        class Box:
            pass
        b = Box()
        b.me = b
        b.f = open("h.txt", "w")
        b.f.write("saved")
        del b
        gc.collect()
        print(len(gc.garbage) > 0)
    """,
    "unclosed-file-resource-warning-shown": """\
        import warnings
        warnings.simplefilter("always")
        f = open("e.txt", "w")
        f.write("warned")
    """,
    "unclosed-file-stdout-order": """\
        import sys
        out = open(sys.stdout.fileno(), "w", closefd=False)
        print("from print")
        out.write("from a second stdout\\n")
        print("print again")
    """,
}
for _name, _prog in C_FINALIZED.items():
    FINALIZER_CASES["c-finalized-" + _name] = textwrap.dedent(_prog)

# _decimal keeps numbers.Rational in a C variable of its own (cheld.c):
# with decimal imported by the program too, python3 never finalizes what
# numbers' globals hold; without it, it does, and a subclass's finalizer
# still finds the methods Rational gives it.
RATIONAL_HALF = textwrap.dedent("""\
    import numbers
    class Half(numbers.Rational):
        numerator = 1
        denominator = 2
        def __init__(self):
            self.me = self
        def __del__(self):
            print("del", float(self), self.numerator / self.denominator, flush=True)
        __abs__ = __add__ = __ceil__ = __eq__ = __floor__ = __floordiv__ = __le__ = None
        __lt__ = __mod__ = __mul__ = __neg__ = __pos__ = __pow__ = __radd__ = None
        __rfloordiv__ = __rmod__ = __rmul__ = __round__ = __rpow__ = __rtruediv__ = None
        __truediv__ = __trunc__ = None
""")
FINALIZER_CASES["held-by-c-numbers-and-decimal"] = "import decimal\n" + stored_in("numbers")
FINALIZER_CASES["held-by-c-rational-subclass"] = RATIONAL_HALF + "numbers.keep = Half()\nh = Half()\n"
FINALIZER_CASES["held-by-c-rational-subclass-fractions"] = (
    "import fractions\n" + RATIONAL_HALF + "numbers.keep = [Half(), fractions.Fraction(1, 3)]\n")

# A finalizer that imports during teardown: python3 refuses with "sys.meta_path
# is None" once sys is cleared, not with an error of a cleared import system.
FINALIZER_CASES["import-in-del-at-teardown"] = textwrap.dedent("""\
    import atexit
    class D:
        def __del__(self):
            try:
                import json
                print("del", json.dumps([1]), flush=True)
            except Exception as e:
                print("del", type(e).__name__, e, flush=True)
    d = D()
    def f():
        import json, decimal
        print(json.dumps({"a": 1}), decimal.Decimal(1))
    atexit.register(f)
""")


@pytest.mark.parametrize("case", list(FINALIZER_CASES))
@pytest.mark.parametrize("how", ["script", "c"])
def test_exit_finalizes(pw, case, how):
    prog = FINALIZER_CASES[case]
    args = ["prog.py"] if how == "script" else ["-c", prog]
    run_apart(pw, f"{case}-{how}", {"prog.py": prog}, args)


@pytest.mark.parametrize("case", ["tempfile-in-handler-subclass", "teardown-order-logging",
                                  "handler-file-at-del"])
def test_exit_finalizes_with_warnings_shown(pw, case):
    """The same with -W default, where teardown's ResourceWarnings show."""
    warm_up(pw, ["-W", "default"], None, pw.neutral)
    run_apart(pw, f"{case}-W", {"prog.py": FINALIZER_CASES[case]}, ["-W", "default", "prog.py"])


ATEXIT_LOGGING = textwrap.dedent("""\
    import atexit
    def bye():
        logging.getLogger("x").warning("from atexit")
    atexit.register(bye)
    import logging
    logging.basicConfig(filename="log.txt", filemode="w")
    logging.getLogger("x").warning("main")
""")


def test_logging_atexit_order(pw):
    run_apart(pw, "atexit-logging", {"prog.py": ATEXIT_LOGGING}, ["prog.py"])


# ---------------------------------------------------------------- randomness made at import

def distinct_runs(pw, args, n=3, cwd=None, real=None, pywarm=None, env=None):
    """Run args n times per side; every run's stdout differs from the others' on
    each side, stderr and status are python3's, and the pywarm runs are warm."""
    outs = {"real": [], "pywarm": []}
    for _ in range(n):
        trace = pw.trace_path()
        e = pw.make_env(trace=trace, base=env)
        r = pw.run("real", args, cwd=cwd, env=e, executable=real)
        p = pw.run("pywarm", args, cwd=cwd, env=e, trace=trace, executable=pywarm)
        assert_same(r, p, out=False)
        assert_warm(p)
        outs["real"].append(r.out)
        outs["pywarm"].append(p.out)
    for side, o in outs.items():
        assert len(set(o)) == n, (side, o)
    return outs


RANDOM_PROGS = {
    "random": "import random; print(random.random(), random.getrandbits(64))",
    "random-state": "import random; print(hash(random.getstate()))",
    "uuid4": "import uuid; print(uuid.uuid4())",
    "tempfile-names": "import tempfile; print(next(tempfile._get_candidate_names()))",
    "secrets": "import secrets; print(secrets.token_hex(8))",
}


@pytest.mark.parametrize("case", list(RANDOM_PROGS))
def test_stdlib_randomness_fresh(pw, wd, case):
    distinct_runs(pw, ["-c", RANDOM_PROGS[case]], cwd=wd)


@needs_pywarm
def test_module_seeding_at_import_goes_cold(pw, wd):
    """A preloaded module that seeds its own generator at import cannot be
    reseeded per run: its runs are cold, and each sees a fresh seed."""
    env = project(pw, wd, "[preload]\nmodules = seeder, json\n",
                  {"lib/seeder.py": "import random\nRNG = random.Random()\n"})
    prog = "import seeder; print(seeder.RNG.random())"
    outs = []
    for _ in range(2):
        real, pyw = pw.run_both(["-c", prog], cwd=wd, env=env)
        assert_same(real, pyw, out=False)
        assert_cold(pyw)
        outs.append(pyw.out)
    assert outs[0] != outs[1]


@needs_pywarm
def test_warmup_reading_entropy_goes_cold(pw, wd):
    """A secret the warmup script draws from os.urandom would be every run's."""
    env = project(pw, wd, "[preload]\nmodules = keystore\nwarmup = tools/warm.py\n",
                  {"lib/keystore.py": "KEY = None\n",
                   "tools/warm.py": "import os, keystore\nkeystore.KEY = os.urandom(8)\n"})
    real, pyw = pw.run_both(["-c", "import keystore; print(keystore.KEY is None)"], cwd=wd, env=env)
    assert_same(real, pyw)
    assert_cold(pyw)
    assert b"randomness" in pyw.trace.encode(), pyw.describe()


DEB_PYTHON = "/usr/bin/python3"


def _has_numpy():
    try:
        return subprocess.run([DEB_PYTHON, "-c", "import numpy"], capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.fixture(scope="session")
def deb(pw):
    """pywarm built against /usr/bin/python3 (which has python3-numpy):
    PYWARM_DEB_BUILDDIR if set, else a build of this tree made here."""
    if SELF or not _has_numpy():
        pytest.skip("needs /usr/bin/python3 with numpy (apt-get install python3-numpy)")
    bdir = os.environ.get("PYWARM_DEB_BUILDDIR") or os.path.join(pw.tmp, "deb-build")
    if not os.environ.get("PYWARM_DEB_BUILDDIR"):
        p = subprocess.run(["make", "-C", REPO, f"PYTHON={DEB_PYTHON}", f"BUILDDIR={bdir}"],
                           capture_output=True, timeout=600)
        if p.returncode != 0:
            pytest.fail("cannot build against /usr/bin/python3:\n" + p.stderr.decode(),
                        pytrace=False)
    yield bdir
    subprocess.run([os.path.join(bdir, "pywarmctl"), "stop", "--all"], cwd=pw.neutral,
                   env=pw.env, capture_output=True, timeout=60)


NUMPY_PROGS = {
    "random": "import numpy; print(numpy.random.random())",
    "randint": "import numpy as np; print(np.random.randint(0, 2**62, size=3))",
    "normal": "import numpy as np; print(np.random.standard_normal(3))",
    "state": "import numpy as np; print(np.random.get_state()[1][:4])",
    "seed-sequence": "import numpy as np; print(np.random.mtrand._rand._bit_generator._seed_seq.entropy)",
    "default-rng": "import numpy as np; print(np.random.default_rng().random())",
}


@pytest.mark.parametrize("case", list(NUMPY_PROGS))
def test_numpy_randomness_fresh(pw, deb, wd, case):
    env = project(pw, wd, "[preload]\nmodules = numpy, json\n", ctl=os.path.join(deb, "pywarmctl"))
    distinct_runs(pw, ["-c", NUMPY_PROGS[case]], cwd=wd, real=DEB_PYTHON,
                  pywarm=os.path.join(deb, "pywarm"), env=env)


def test_numpy_seeded_is_identical(pw, deb, wd):
    base = project(pw, wd, "[preload]\nmodules = numpy\n", ctl=os.path.join(deb, "pywarmctl"))
    trace = pw.trace_path()
    env = pw.make_env(trace=trace, base=base)
    prog = "import numpy as np; np.random.seed(7); print(np.random.random(4), np.random.normal())"
    r = pw.run("real", ["-c", prog], cwd=wd, env=env, executable=DEB_PYTHON)
    p = pw.run("pywarm", ["-c", prog], cwd=wd, env=env, trace=trace,
               executable=os.path.join(deb, "pywarm"))
    assert_same(r, p)
    assert_warm(p)


def test_numpy_generator_made_at_import_goes_cold(pw, deb, wd):
    base = project(pw, wd, "[preload]\nmodules = rngmod\n",
                   {"lib/rngmod.py": "import numpy\nRNG = numpy.random.default_rng()\n"},
                   ctl=os.path.join(deb, "pywarmctl"))
    trace = pw.trace_path()
    env = pw.make_env(trace=trace, base=base)
    p = pw.run("pywarm", ["-c", "import rngmod; print(rngmod.RNG.random())"], cwd=wd, env=env,
               trace=trace, executable=os.path.join(deb, "pywarm"))
    assert p.rc == 0, p.describe()
    assert_cold(p)


# ---------------------------------------------------------------- C stdio buffering

CTYPES_WRITES = textwrap.dedent("""\
    import ctypes, os
    libc = ctypes.CDLL(None)
    libc.printf(b"printf 1\\n")
    os.write(1, b"os.write 1\\n")
    libc.printf(b"printf 2 no newline ")
    os.write(1, b"os.write 2\\n")
    libc.puts(b"puts")
    os.write(1, b"os.write 3\\n")
""")

CTYPES_STDERR = textwrap.dedent("""\
    import ctypes, os
    libc = ctypes.CDLL(None)
    err = ctypes.c_void_p.in_dll(libc, "stderr")
    libc.fputs(b"fputs stderr ", err)
    os.write(2, b"os.write 2\\n")
    libc.fputs(b"again\\n", err)
""")

CTYPES_GETCHAR = textwrap.dedent("""\
    import ctypes, sys
    libc = ctypes.CDLL(None)
    c = libc.getchar()
    print(chr(c), repr(sys.stdin.buffer.read()))
""")

CTYPES_FGETS = textwrap.dedent("""\
    import ctypes, os
    libc = ctypes.CDLL(None)
    buf = ctypes.create_string_buffer(64)
    inp = ctypes.c_void_p.in_dll(libc, "stdin")
    libc.fgets(buf, 64, inp)
    print(buf.value, os.read(0, 100))
""")

STDIO_CASES = [
    ("printf-vs-write-u", ["-u", "-c", CTYPES_WRITES], None),
    ("printf-vs-write-buffered", ["-c", CTYPES_WRITES], None),
    ("printf-vs-write-i", ["-i", "-c", CTYPES_WRITES], b""),
    ("printf-vs-write-u-i", ["-u", "-i", "-c", CTYPES_WRITES], b""),
    ("stderr-u", ["-u", "-c", CTYPES_STDERR], None),
    ("stderr-buffered", ["-c", CTYPES_STDERR], None),
    ("getchar-u-pipe", ["-u", "-c", CTYPES_GETCHAR], b"xyz\nsecond line\n"),
    ("getchar-buffered-pipe", ["-c", CTYPES_GETCHAR], b"xyz\nsecond line\n"),
    ("fgets-u-pipe", ["-u", "-c", CTYPES_FGETS], b"first\nsecond\nthird\n"),
    ("fgets-i-pipe", ["-i", "-c", CTYPES_FGETS], b"first\nsecond\nthird\n"),
]


@pytest.mark.parametrize("case,args,stdin", STDIO_CASES, ids=[c[0] for c in STDIO_CASES])
def test_c_stdio_buffering(pw, wd, case, args, stdin):
    real, pyw = pw.run_both(args, cwd=wd, input=stdin)
    assert_same(real, pyw)
    assert_warm(pyw)


TTY_WRITES = textwrap.dedent("""\
    import ctypes, os
    libc = ctypes.CDLL(None)
    libc.printf(b"printf 1\\n")
    os.write(1, b"os.write 1\\n")
    libc.printf(b"pending ")
    os.write(1, b"os.write 2\\n")
    libc.fflush(None)
    os.write(1, b"END\\n")
""")

TTY_CASES = [("tty-buffered", ["-c", TTY_WRITES]), ("tty-u", ["-u", "-c", TTY_WRITES])]


@needs_pywarm
@pytest.mark.parametrize("case,args", TTY_CASES, ids=[c[0] for c in TTY_CASES])
def test_c_stdio_on_a_terminal(pw, wd, case, args):
    res = run_pair(pw, wd, args, lambda job, side, trace: job.expect(b"END"))
    assert_same_pty(res)


# ---------------------------------------------------------------- threading's main thread

THREAD_PROBE = textwrap.dedent("""\
    import threading
    main = threading.main_thread()
    print("native", main.native_id == threading.get_native_id())
    print("ident", main.ident == threading.get_ident())
    print("current", main is threading.current_thread(), main.name, main.daemon, main.is_alive())
    print("shutdown lock", main._tstate_lock in threading._shutdown_locks,
          len(threading._shutdown_locks))
    print("active", list(threading._active) == [threading.get_ident()], threading.active_count())
""")

THREAD_TASK = textwrap.dedent("""\
    import os, threading
    main = threading.main_thread()
    tids = os.listdir("/proc/self/task")
    print("native in tasks", str(main.native_id) in tids, main.native_id == os.getpid())
""")

THREAD_WORKER = textwrap.dedent("""\
    import threading
    seen = []
    t = threading.Thread(target=lambda: seen.append(threading.main_thread().native_id))
    t.start(); t.join()
    print(seen[0] == threading.get_native_id(), t.native_id != threading.get_native_id())
    print(len(threading._shutdown_locks))
""")

THREAD_FORK = textwrap.dedent("""\
    import os, threading
    pid = os.fork()
    if pid == 0:
        m = threading.main_thread()
        os.write(1, b"child %r %r\\n" % (m.native_id == threading.get_native_id(),
                                         m.ident == threading.get_ident()))
        os._exit(0)
    os.waitpid(pid, 0)
    print("parent", threading.main_thread().native_id == threading.get_native_id())
""")

THREAD_CASES = {"probe": THREAD_PROBE, "proc-task": THREAD_TASK, "worker": THREAD_WORKER,
                "fork": THREAD_FORK}


@pytest.mark.parametrize("case", list(THREAD_CASES))
@pytest.mark.parametrize("how", ["script", "c", "stdin"])
def test_main_thread(pw, wd, case, how):
    prog = THREAD_CASES[case]
    write_files(wd, {"prog.py": prog})
    args = {"script": ["prog.py"], "c": ["-c", prog], "stdin": ["-"]}[how]
    real, pyw = pw.run_both(args, cwd=wd, input=prog.encode() if how == "stdin" else None)
    assert_same(real, pyw)
    assert_warm(pyw)


# ---------------------------------------------------------------- gc counters, ignored signals

GC_PROGS = {
    "count": "import gc; print(gc.get_count())",
    "count-two-imports": "import sys, gc; print(gc.get_count())",
    "count-after-work": "import gc\nx = [[i] for i in range(50)]\nprint(gc.get_count())",
    "threshold-enabled": "import gc; print(gc.get_count(), gc.get_threshold(), gc.isenabled())",
    "gc-not-imported": "import sys; print('gc' in sys.modules)",
    "reimport": "import gc, sys\na = gc.get_count()\ndel sys.modules['gc']\nimport gc\nprint(a, gc.get_count())",
}


@pytest.mark.parametrize("case", list(GC_PROGS))
@pytest.mark.parametrize("how", ["script", "c", "stdin"])
def test_gc_state_at_start(pw, wd, case, how):
    prog = GC_PROGS[case]
    write_files(wd, {"prog.py": prog + "\n"})
    args = {"script": ["prog.py"], "c": ["-c", prog], "stdin": ["-"]}[how]
    real, pyw = pw.run_both(args, cwd=wd, input=prog.encode() if how == "stdin" else None)
    assert_same(real, pyw)
    assert_warm(pyw)


GC_ENV_PROG = textwrap.dedent("""\
    import gc
    a = gc.get_count()
    import os
    os.environ.get("HOME"); "NOPE" in os.environ; os.environ.get("NOPE", "d")
    os.environb.get(b"PATH"); os.getenv("LANG")
    print(a, gc.get_count(), gc.get_stats()[0]["collections"])
""")

# Environments and options that change what start-up reads from os.environ.
GC_SETUPS = {
    "pythonvars": (["-c", GC_ENV_PROG], {"PYTHONNOUSERSITE": "1", "PYTHONIOENCODING": "utf-8",
                                         "PYTHONUTF8": "1"}),
    "E": (["-E", "-c", GC_ENV_PROG], {"PYTHONWARNINGS": "error"}),
    "I": (["-I", "-c", GC_ENV_PROG], {}),
    "s": (["-s", "-c", GC_ENV_PROG], {}),
    "X-dev": (["-X", "dev", "-c", GC_ENV_PROG], {}),
    "W": (["-W", "ignore", "-c", GC_ENV_PROG], {}),
    "W-error": (["-W", "error", "-c", GC_ENV_PROG], {}),
    "PYTHONWARNINGS": (["-c", GC_ENV_PROG], {"PYTHONWARNINGS": "default"}),
}


@pytest.mark.parametrize("setup", list(GC_SETUPS.values()), ids=list(GC_SETUPS))
def test_gc_state_at_start_with_options(pw, wd, setup):
    """The counters at start, and after a program's own os.environ reads,
    are python3's whatever start-up read from the environment."""
    args, env_add = setup
    warm_up(pw, args, env_add, wd)
    real, pyw = pw.run_both(args, cwd=wd, env_add=env_add)
    assert_same(real, pyw)
    assert_warm(pyw)


def test_gc_state_at_start_project_with_warmup(pw, wd):
    """A project profile whose modules and warmup script read the
    environment leaves the counters at start as python3's."""
    env = project(pw, wd, "[preload]\nmodules = envmod, json\nwarmup = tools/warm.py\n",
                  {"lib/envmod.py": "import os\nHOME = os.environ.get('HOME')\nN = 'LANG' in os.environ\n",
                   "tools/warm.py": "import os, envmod\nos.environ.get('USER', 'nobody')\n"})
    for how in (["-c", GC_ENV_PROG], ["-c", "import gc; a = gc.get_count(); import envmod; print(a, envmod.N)"]):
        real, pyw = pw.run_both(how, cwd=wd, env=env)
        assert_same(real, pyw)
        assert_warm(pyw)


def test_gc_state_at_start_deb(pw, deb, wd):
    """The same for the distribution's python3."""
    trace = pw.trace_path()
    env = pw.make_env(trace=trace)
    subprocess.run([os.path.join(deb, "pywarmctl"), "start", "--wait"], cwd=wd, env=pw.env,
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    for prog in (GC_PROGS["count"], GC_PROGS["count-after-work"], GC_ENV_PROG):
        r = pw.run("real", ["-c", prog], cwd=wd, env=env, executable=DEB_PYTHON)
        p = pw.run("pywarm", ["-c", prog], cwd=wd, env=env, trace=trace,
                   executable=os.path.join(deb, "pywarm"))
        assert_same(r, p)
        assert_warm(p)


SIGACTION_PROBE = textwrap.dedent("""\
    import ctypes, signal
    class SA(ctypes.Structure):
        _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * 16),
                    ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]
    libc = ctypes.CDLL(None)
    for line in open("/proc/self/status"):
        if line.startswith(("SigIgn", "SigBlk", "SigCgt")):
            print(line, end="")
    for s in range(1, 65):
        sa = SA()
        if libc.sigaction(s, None, ctypes.byref(sa)) == 0 and (sa.handler or sa.flags):
            h = sa.handler if sa.handler in (0, 1) else "handler"
            print(s, h, hex(sa.flags), hex(sa.mask[0]))
    for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGUSR1, signal.SIGPIPE):
        print(s, signal.getsignal(s))
""")


def _pre_ignore(*sigs):
    def pre():
        for s in sigs:
            signal.signal(s, signal.SIG_IGN)
    return pre


SIG_CASES = {
    "none": (),
    "int": (signal.SIGINT,),
    "hup-term-usr1": (signal.SIGHUP, signal.SIGTERM, signal.SIGUSR1),
    "pipe-xfsz": (signal.SIGPIPE, signal.SIGXFSZ),
    "quit-usr2-rt": (signal.SIGQUIT, signal.SIGUSR2, signal.SIGRTMIN + 2),
    "many": (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGALRM, signal.SIGCHLD,
             signal.SIGTTOU, signal.SIGWINCH),
}


@pytest.mark.parametrize("case", list(SIG_CASES))
def test_ignored_signal_flags(pw, wd, case):
    real, pyw = pw.run_both(["-c", SIGACTION_PROBE], cwd=wd, preexec=_pre_ignore(*SIG_CASES[case]))
    assert_same(real, pyw)
    assert_warm(pyw)
