# test_imports.py: differential tests of import resolution: a warm run imports exactly what python3 would find on the run's own sys.path and sys.meta_path.
#
# The zygote's preloaded modules are a cache behind the import system: a
# module of the program's own that has the name of a preloaded one (next to
# the script, in the cwd, in an application, on PYTHONPATH, in a directory
# added at run time) must win as it does under python3, and sys.modules must
# start as python3's.  Every case compares exit status, stdout and stderr
# byte for byte and asserts that the pywarm side was served warm.

import os
import re
import textwrap
import zipfile

import pytest

from conftest import assert_cold, assert_same, assert_warm, write_files
from helpers import wait_until, zygote_log

# A json that is not the standard library's.
LOCAL_JSON = "print('local json imported')\ndef dumps(x):\n    return 'LOCAL ' + repr(x)\n"

# Prints which json was imported, and what an import left in sys.modules.
USES_JSON = textwrap.dedent("""\
    import sys
    import json
    print(json.dumps([1, 2]))
    print(getattr(json, '__file__', None))
    print(sorted(n for n in sys.modules if n.startswith('json')))
""")


def _same_warm(pw, args, *, cwd, env_add=None, input=None, warm=True):
    real, pyw = pw.run_both(args, cwd=cwd, env_add=env_add, input=input)
    assert_same(real, pyw)
    if warm:
        assert_warm(pyw)
    else:
        assert_cold(pyw)
    return real, pyw


# ------------------------------------------------- class 1: the program's own modules win

def test_module_next_to_script(pw, wd):
    write_files(wd, {"app/main.py": USES_JSON, "app/json.py": LOCAL_JSON})
    real, _ = _same_warm(pw, ["app/main.py"], cwd=wd)
    assert b"LOCAL [1, 2]" in real.out


@pytest.mark.parametrize("how", ["c", "m", "stdin", "stdin-dash"])
def test_module_in_cwd(pw, wd, how):
    """-c, -m and a program on stdin put the cwd first on sys.path."""
    write_files(wd, {"json.py": LOCAL_JSON, "prog.py": USES_JSON})
    args, stdin = {"c": (["-c", USES_JSON], None), "m": (["-m", "prog"], None),
                   "stdin": ([], USES_JSON.encode()), "stdin-dash": (["-"], USES_JSON.encode())}[how]
    real, _ = _same_warm(pw, args, cwd=wd, input=stdin)
    assert b"LOCAL [1, 2]" in real.out


def test_module_in_directory_app(pw, wd):
    write_files(wd, {"appdir/__main__.py": USES_JSON, "appdir/json.py": LOCAL_JSON})
    real, _ = _same_warm(pw, ["appdir"], cwd=wd)
    assert b"LOCAL [1, 2]" in real.out


def test_module_in_zip_app(pw, wd):
    with zipfile.ZipFile(os.path.join(wd, "app.zip"), "w") as z:
        z.writestr("__main__.py", USES_JSON)
        z.writestr("json.py", LOCAL_JSON)
    real, _ = _same_warm(pw, ["app.zip"], cwd=wd)
    assert b"LOCAL [1, 2]" in real.out


@pytest.mark.parametrize("where", ["vendor", "{w}/vendor"])
def test_path_inserted_at_run_time(pw, wd, where):
    """sys.path changed by the program after start: relative and absolute."""
    write_files(wd, {"vendor/json.py": LOCAL_JSON,
                     "main.py": f"import sys\nsys.path.insert(0, {where.format(w=wd)!r})\n" + USES_JSON})
    real, _ = _same_warm(pw, ["main.py"], cwd=wd)
    assert b"LOCAL [1, 2]" in real.out


def test_path_appended_does_not_shadow(pw, wd):
    """A directory appended to sys.path comes after the standard library."""
    write_files(wd, {"vendor/json.py": LOCAL_JSON,
                     "main.py": "import sys\nsys.path.append('vendor')\n" + USES_JSON})
    real, _ = _same_warm(pw, ["main.py"], cwd=wd)
    assert b"[1, 2]" in real.out and b"LOCAL" not in real.out


def test_script_named_like_the_module_it_imports(pw, wd):
    """random.py importing random, heapq.py importing heapq: the script finds itself."""
    write_files(wd, {"random.py": "import random\nprint(random.__file__)\nprint(random.random() < 2)\n",
                     "heapq.py": "import heapq\nh = []\nheapq.heappush(h, 1)\nprint(h)\n"})
    _same_warm(pw, ["random.py"], cwd=wd)
    real, _ = _same_warm(pw, ["heapq.py"], cwd=wd)
    assert real.rc == 1 and b"partially initialized module 'heapq'" in real.err


def test_local_string_breaks_logging(pw, wd):
    """logging imports string: a local string.py without Template breaks it."""
    write_files(wd, {"string.py": "X = 1\n", "main.py": "import logging\nprint('never')\n"})
    real, _ = _same_warm(pw, ["main.py"], cwd=wd)
    assert real.rc == 1 and b"ImportError" in real.err
    _same_warm(pw, ["-c", "import logging"], cwd=wd)


def test_dependency_of_a_preloaded_module_shadowed(pw, wd):
    """traceback (imported by logging) imports textwrap: the local one wins."""
    write_files(wd, {"textwrap.py": "print('local textwrap')\n",
                     "main.py": "import logging, sys, traceback\nprint(traceback.textwrap.__file__)\n"
                                "print(list(sys.modules)[-12:])\n"})
    real, _ = _same_warm(pw, ["main.py"], cwd=wd)
    assert b"local textwrap" in real.out


# A preloaded module's top-level dependency (logging imports string and
# traceback, traceback imports textwrap) is served only where python3's
# search of the run's sys.path would find the zygote's file: each way a
# run can put another file, finder or entry ahead of it.
SHOWS_DEPS = ("import sys, logging\n"
              "for n in ('string', 'textwrap', 'traceback'):\n"
              "    m = sys.modules.get(n)\n"
              "    print(n, getattr(m, 'LOCAL', None), getattr(m, '__file__', '')[-20:])\n")
LOCAL_STRING = "LOCAL = 'string'\nfrom _string import formatter_parser\nclass Template: pass\nclass Formatter: pass\n"
LOCAL_TEXTWRAP = "LOCAL = 'textwrap'\n"
DEP_SHADOW_CASES = {
    # made after the run's first search listed the directory; the program
    # tells importlib, as python3 needs to be told
    "created-then-invalidated": (
        {}, "import sys, importlib, json\n"
            "open('textwrap.py', 'w').write(%r)\n"
            "importlib.invalidate_caches()\n" % LOCAL_TEXTWRAP + SHOWS_DEPS),
    "relative-entry-inserted": (
        {"vendor/string.py": LOCAL_STRING}, "import sys\nsys.path.insert(0, 'vendor')\n" + SHOWS_DEPS),
    "entry-between-stdlib-dirs": (
        {"mid/textwrap.py": LOCAL_TEXTWRAP},
        "import sys, os\nsys.path.insert(2, os.path.abspath('mid'))\nprint(sys.path[2][-3:])\n" + SHOWS_DEPS),
    "appended-after-stdlib": (
        {"late/string.py": LOCAL_STRING, "late/textwrap.py": LOCAL_TEXTWRAP},
        "import sys\nsys.path.append('late')\n" + SHOWS_DEPS),
    "stdlib-moved-after-local": (
        {"v/textwrap.py": LOCAL_TEXTWRAP},
        "import sys, os\nstd = [p for p in sys.path if p.endswith('/python3.11')]\n"
        "for p in std:\n    sys.path.remove(p)\nsys.path += std\nsys.path.insert(0, 'v')\n" + SHOWS_DEPS),
    "bytes-entry": (
        {"b/string.py": LOCAL_STRING}, "import sys\nsys.path.insert(0, b'b')\n" + SHOWS_DEPS),
    "namespace-dir-named-like-dep": (
        {"textwrap/readme.txt": "not a package\n"}, SHOWS_DEPS),
    "file-with-stem-not-a-module": (
        {"string.txt": "x\n", "textwrap.cfg": "y\n"}, SHOWS_DEPS),
    "own-finder-for-stdlib-dir": (
        {}, "import sys, os, importlib.machinery as m\n"
            "std = [p for p in sys.path if p.endswith('/python3.11')][0]\n"
            "class F(m.FileFinder):\n"
            "    def find_spec(self, name, target=None):\n"
            "        if name in ('string', 'textwrap'):\n"
            "            print('asked for', name)\n"
            "        return super().find_spec(name, target)\n"
            "sys.path_importer_cache[std] = F(std, (m.SourceFileLoader, ['.py']))\n" + SHOWS_DEPS),
    "path-hook-added": (
        {}, "import sys\n"
            "def hook(p):\n    print('hook', p[-12:])\n    raise ImportError\n"
            "sys.path_hooks.insert(0, hook)\nsys.path.insert(0, '/nonexistent/x')\n" + SHOWS_DEPS),
    # the script's directory as its finder lists it: an entry is the name
    # itself or the name with a loader's suffix, among many other files
    "among-thousands-of-files": (
        dict({f"data/f{i:04d}.json": "{}\n" for i in range(3000)}, **{"data/string.py": LOCAL_STRING}),
        "import sys\nsys.path.insert(0, 'data')\n" + SHOWS_DEPS),
    "sourceless-dep-among-other-files": (
        {"t/textwrap.cfg": "x\n", "t/text.py": "", "src/textwrap.py": LOCAL_TEXTWRAP},
        "import sys, py_compile\n"
        "py_compile.compile('src/textwrap.py', cfile='t/textwrap.pyc')\n"
        "sys.path.insert(0, 't')\n" + SHOWS_DEPS),
    "extension-suffix-named-like-dep": (
        {"x/textwrap.abi3.so": "not an extension\n"},
        "import sys\nsys.path.insert(0, 'x')\n" + SHOWS_DEPS),
    "sourceless-package-named-like-dep": (
        {"src/string.py": LOCAL_STRING, "p/string/data.txt": "x\n"},
        "import sys, py_compile\n"
        "py_compile.compile('src/string.py', cfile='p/string/__init__.pyc')\n"
        "sys.path.insert(0, 'p')\n" + SHOWS_DEPS),
    "cwd-entry-is-stdlib": (
        {}, "import sys, os\nstd = [p for p in sys.path if p.endswith('/python3.11')][0]\n"
            "os.chdir(std)\nsys.path.insert(0, '')\n" + SHOWS_DEPS),
}


@pytest.mark.parametrize("case", sorted(DEP_SHADOW_CASES))
def test_dependency_search_variants(pw, wd, case):
    files, prog = DEP_SHADOW_CASES[case]
    write_files(wd, dict(files, **{"main.py": prog}))
    _same_warm(pw, ["main.py"], cwd=wd)


def test_program_imported_its_own_dependency_first(pw, wd):
    """The program's own string is in sys.modules before logging is imported."""
    write_files(wd, {"vendor/string.py": "from_vendor = True\nfrom _string import formatter_parser\n"
                                         "class Template: pass\nclass Formatter: pass\n",
                     "main.py": "import sys\nsys.path.insert(0, 'vendor')\nimport string\n"
                                "sys.path.pop(0)\nimport logging\n"
                                "print(logging.Template is string.Template, hasattr(string, 'from_vendor'))\n"})
    real, _ = _same_warm(pw, ["main.py"], cwd=wd)
    assert b"True True" in real.out


def test_package_shadowing_a_preloaded_package(pw, wd):
    write_files(wd, {"email/__init__.py": "print('local email')\n",
                     "email/message.py": "print('local email.message')\nclass EmailMessage: pass\n",
                     "main.py": "import email.message\nprint(email.message.EmailMessage.__module__, email.__file__)\n"
                                "import email.utils\n"})
    real, _ = _same_warm(pw, ["main.py"], cwd=wd)
    assert b"local email.message" in real.out and b"ModuleNotFoundError" in real.err


def test_submodule_of_shadowed_package(pw, wd):
    """A local json package without decoder: json.decoder is not found, as under python3."""
    write_files(wd, {"json/__init__.py": "", "main.py": "import json.decoder\n"})
    real, _ = _same_warm(pw, ["main.py"], cwd=wd)
    assert real.rc == 1 and b"No module named 'json.decoder'" in real.err
    write_files(wd, {"asyncio/__init__.py": "from . import events\n", "asyncio/events.py": "X = 'mine'\n",
                     "m2.py": "import asyncio.events, sys\nprint(asyncio.events.X)\n"
                              "print(sorted(n for n in sys.modules if n.startswith('asyncio')))\n"})
    _same_warm(pw, ["m2.py"], cwd=wd)


def test_pytest_style_helper(pw, wd):
    """tests/queue.py next to a test module changes what `import queue` means there."""
    write_files(wd, {"tests/queue.py": "class Queue:\n    def get(self):\n        return 'helper'\n",
                     "tests/test_thing.py": "import queue\nq = queue.Queue()\n"
                                            "print(q.get() if hasattr(q, 'get') else None)\n"
                                            "assert q.get() == 'helper', q.get()\n"})
    real, _ = _same_warm(pw, ["tests/test_thing.py"], cwd=wd)
    assert b"helper" in real.out


def test_import_module_after_path_change(pw, wd):
    write_files(wd, {"plug/csv.py": "NAME = 'plug csv'\n",
                     "main.py": "import importlib, sys\nimport csv\nprint(csv.__name__, hasattr(csv, 'NAME'))\n"
                                "del sys.modules['csv']\nsys.path.insert(0, 'plug')\n"
                                "m = importlib.import_module('csv')\nprint(m.NAME)\n"})
    _same_warm(pw, ["main.py"], cwd=wd)


IMPORT_FORMS = {
    "from-import": "from json import decoder\nprint(decoder.__name__)\n",
    "import-as": "import json.decoder as d\nprint(d.__name__, sys.modules['json'].__file__)\n",
    "dunder-import": "m = __import__('json.decoder')\nprint(m.__name__, m.decoder.__name__)\n",
    "import-module": "import importlib\nm = importlib.import_module('json.decoder')\nprint(m.__name__)\n",
    "relative-in-package": None,
}


@pytest.mark.parametrize("form", list(IMPORT_FORMS))
def test_import_forms_reach_the_local_module(pw, wd, form):
    """Every way of importing finds the program's own json package first."""
    write_files(wd, {"json/__init__.py": "print('local json package')\n",
                     "json/decoder.py": "print('local json.decoder')\n",
                     "mypkg/__init__.py": "", "mypkg/helper.py": "import json.decoder\n",
                     "mypkg/rel.py": "from . import helper\nfrom json import decoder\nprint(decoder.__file__)\n"})
    prog = IMPORT_FORMS[form] or "import mypkg.rel\n"
    if form != "relative-in-package":
        prog = "import sys\n" + prog
    real, _ = _same_warm(pw, ["-c", prog], cwd=wd)
    assert b"local json" in real.out


def test_imports_from_threads(pw, wd):
    write_files(wd, {"csv.py": "NAME = 'my csv'\n"})
    prog = textwrap.dedent("""\
        import threading, sys
        out = {}
        def work(name):
            out[name] = __import__(name)
        ts = [threading.Thread(target=work, args=(n,)) for n in ('json', 'csv', 'decimal', 'uuid')]
        for t in ts: t.start()
        for t in ts: t.join()
        print(sorted((k, getattr(v, 'NAME', v.__name__)) for k, v in out.items()))
        print(sorted(sys.modules))
    """)
    _same_warm(pw, ["-c", prog], cwd=wd)


def test_imports_from_threads_at_once(pw, wd):
    """Eight threads released together import preloaded modules whose
    dependencies overlap (enum, re, collections...): every run gets them
    all, as python3 does (two plans sharing a dependency once raced)."""
    prog = textwrap.dedent("""\
        import threading, sys
        names = ('json', 'csv', 'decimal', 'uuid', 'email.message', 'http.client', 'logging', 'argparse')
        gate = threading.Barrier(len(names))
        out, errors = {}, []
        def work(name):
            gate.wait()
            try:
                out[name] = __import__(name).__name__
            except Exception as e:
                errors.append((name, type(e).__name__, str(e)))
        ts = [threading.Thread(target=work, args=(n,)) for n in names]
        for t in ts: t.start()
        for t in ts: t.join()
        print(sorted(out.items()), errors)
        print(sorted(sys.modules))
    """)
    for _ in range(12):
        _same_warm(pw, ["-c", prog], cwd=wd)


def test_namespace_directory_does_not_shadow(pw, wd):
    """A directory without __init__.py named like a package: the standard one wins."""
    write_files(wd, {"email/notes.txt": "", "json/readme": ""})
    prog = "import email.message, json, sys\nprint(email.__file__, json.__file__)\n"
    _same_warm(pw, ["-c", prog], cwd=wd)


def test_sourceless_module_shadows(pw, wd):
    """A compiled csv.pyc with no source, in the cwd, is imported (SourcelessFileLoader)."""
    import py_compile
    write_files(wd, {"src/csv.py": "print('compiled csv')\n"})
    py_compile.compile(os.path.join(wd, "src", "csv.py"), cfile=os.path.join(wd, "csv.pyc"))
    real, _ = _same_warm(pw, ["-c", "import csv\nprint(type(csv.__loader__).__name__)\n"], cwd=wd)
    assert b"compiled csv" in real.out


def test_m_submodule_of_shadowing_plain_module(pw, wd):
    """-m json.tool when the cwd's json is a plain module: python3's error."""
    write_files(wd, {"json.py": "X = 1\n"})
    real, _ = _same_warm(pw, ["-m", "json.tool"], cwd=wd)
    assert real.rc == 1 and b"json.tool" in real.err


def test_reimport_after_removal_executes_again(pw, wd):
    """Removed from sys.modules and imported again, a module is a new one
    (test suites reset state so); its package keeps the new one too."""
    prog = textwrap.dedent("""\
        import sys, json, email.utils
        first, utils = json, email.utils
        json.marker = 1
        for name in [n for n in sys.modules if n == 'json' or n.startswith(('json.', 'email'))]:
            del sys.modules[name]
        import json
        import email.utils
        print(json is first, hasattr(json, 'marker'), email.utils is utils)
        print(json.decoder.JSONDecoder is first.decoder.JSONDecoder)
        print(sorted(n for n in sys.modules if n.startswith(('json', 'email'))))
    """)
    real, _ = _same_warm(pw, ["-c", prog], cwd=wd)
    assert real.out.startswith(b"False False False\nFalse\n")


def test_sys_modules_at_start_and_after_imports(pw, wd):
    """sys.modules starts as python3's, in the same order; a package's
    submodules are bound on it only once imported."""
    prog = textwrap.dedent("""\
        import sys
        print(list(sys.modules))
        import email
        print(hasattr(email, 'message'), hasattr(email, 'utils'))
        import json, asyncio, logging, email.message, http.client
        print(list(sys.modules))
        print(sorted(k for k, v in vars(email).items() if type(v) is type(sys)))
        print(sorted(sys.path_importer_cache))
    """)
    _same_warm(pw, ["-c", prog], cwd=wd)


@pytest.mark.parametrize("how", ["script", "m", "stdin", "dir-app", "zip-app"])
def test_sys_modules_at_start_per_invocation(pw, wd, how):
    """What the way of running adds (runpy for -m and applications) is python3's too."""
    prog = "import sys\nprint(list(sys.modules))\nprint(sorted(sys.path_importer_cache))\n"
    write_files(wd, {"mm.py": prog, "app/__main__.py": prog})
    with zipfile.ZipFile(os.path.join(wd, "app.zip"), "w") as z:
        z.writestr("__main__.py", prog)
    args, stdin = {"script": (["mm.py"], None), "m": (["-m", "mm"], None),
                   "stdin": ([], prog.encode()), "dir-app": (["app"], None),
                   "zip-app": (["app.zip"], None)}[how]
    _same_warm(pw, args, cwd=wd, input=stdin)


def test_meta_path_finder_sees_the_same_searches(pw, wd):
    """A finder the program adds sees python3's searches, in python3's order."""
    prog = textwrap.dedent("""\
        import sys
        class Spy:
            def find_spec(self, name, path, target=None):
                print('find', name, path is not None)
                return None
        sys.meta_path.insert(0, Spy())
        import json
        import logging
        print(json.dumps({'a': 1}))
    """)
    _same_warm(pw, ["-c", prog], cwd=wd)


def test_meta_path_finder_substitutes_a_module(pw, wd):
    """A finder that supplies its own json wins over the cache."""
    prog = textwrap.dedent("""\
        import sys, importlib.abc, importlib.util
        class Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return None
            def exec_module(self, module):
                module.dumps = lambda x: 'FAKE'
        class Finder:
            def find_spec(self, name, path, target=None):
                if name == 'json':
                    return importlib.util.spec_from_loader(name, Loader())
                return None
        sys.meta_path.insert(0, Finder())
        import json
        print(json.dumps(1))
    """)
    real, _ = _same_warm(pw, ["-c", prog], cwd=wd)
    assert real.out.strip() == b"FAKE"


def test_exception_in_shadowing_module(pw, wd):
    """The traceback of a failing import has python3's frames, no more."""
    write_files(wd, {"queue.py": "import json\nraise ValueError('bad queue')\n",
                     "main.py": "import logging\nimport queue\n"})
    real, _ = _same_warm(pw, ["main.py"], cwd=wd)
    assert b"bad queue" in real.err


def test_m_module_from_cache_and_shadowed(pw, wd):
    """-m json.tool runs the standard one, unless the cwd has its own json package."""
    write_files(wd, {"in.json": '{"b": 1, "a": [2]}\n'})
    _same_warm(pw, ["-m", "json.tool", "--sort-keys", "in.json"], cwd=wd)
    write_files(wd, {"json/__init__.py": "print('my json')\n", "json/tool.py": "print('my tool')\n"})
    real, _ = _same_warm(pw, ["-m", "json.tool", "in.json"], cwd=wd)
    assert b"my tool" in real.out


def test_project_profile_module_dependencies(pw, wd):
    """A preloaded project module's own imports, also those made through
    importlib.import_module of modules already imported, are in sys.modules
    once the program imports it; a local module shadowing one of them wins."""
    lib = os.path.join(wd, "lib")
    files = {"lib/plugin.py": "import importlib\nJ = importlib.import_module('json')\n"
                              "C = importlib.import_module('csv')\n"}
    write_files(wd, dict(files, **{".pywarm.ini": "[preload]\nmodules = json, csv, plugin\n"}))
    pw.trust(wd)
    env = {"PYTHONPATH": lib}
    pw.ctl("start", "--wait", cwd=wd, env=pw.make_env(env), timeout=90)
    prog = "import sys, plugin\nprint([n for n in sys.modules if n.startswith(('json', 'csv', '_csv'))])\n"
    _same_warm(pw, ["-c", prog], cwd=wd, env_add=env)
    write_files(wd, {"csv.py": "print('local csv')\n"})
    real, _ = _same_warm(pw, ["-c", prog + "print(plugin.C.__file__)\n"], cwd=wd, env_add=env)
    assert b"local csv" in real.out


# ------------------------------------------------- exit handlers registered at import

def test_exit_handlers_of_unimported_modules_do_not_exist(pw, wd):
    """logging registers its shutdown at import: only a run that imports it has it."""
    prog = "import atexit\nprint(atexit._ncallbacks())\nimport logging\nprint(atexit._ncallbacks())\n"
    _same_warm(pw, ["-c", prog], cwd=wd)


def test_exit_handler_order_with_logging(pw, wd):
    """A handler registered before logging is imported runs after logging's
    shutdown, as under python3: its line never reaches a FileHandler(mode="w")."""
    prog = textwrap.dedent("""        import atexit, sys
        def late():
            logging.getLogger("app").error("late line")
            print("late ran")
        atexit.register(late)
        import logging
        logging.basicConfig(filename=sys.argv[1], filemode="w", format="%(message)s")
        logging.getLogger("app").error("first line")
    """)
    logs = {side: os.path.join(wd, f"{side}.log") for side in ("real", "pywarm")}
    real, pyw = pw.run_both(["-c", prog, "LOG"], cwd=wd,
                            per_side=lambda side: {"argv_map": {"LOG": logs[side]}})
    assert_same(real, pyw)
    assert_warm(pyw)
    with open(logs["real"], "rb") as f, open(logs["pywarm"], "rb") as g:
        assert f.read() == g.read() == b"first line\n"


# ------------------------------------------------- PYTHONPATH

_STARTED = set()


def _zygote_for(pw, wd, env_add):
    """Warm a zygote for this environment's identity (once per session)."""
    key = tuple(sorted(env_add.items()))
    if key not in _STARTED:
        pw.ctl("start", "--wait", cwd=wd, env=pw.make_env(env_add), timeout=90)
        _STARTED.add(key)


SHOW_PATH = "import sys\nprint(sys.path)\nprint(sorted(sys.path_importer_cache))\n"


def test_pythonpath_absolute_shadows(pw, wd):
    """The zygote's own search finds this json too: it preloads it."""
    lib = os.path.join(pw.tmp, "shared-pp-lib")
    write_files(lib, {"json.py": "def dumps(x):\n    return 'LOCAL ' + repr(x)\n"})
    env = {"PYTHONPATH": lib}
    _zygote_for(pw, wd, env)
    real, _ = _same_warm(pw, ["-c", USES_JSON], cwd=wd, env_add=env)
    assert b"LOCAL [1, 2]" in real.out


@pytest.mark.parametrize("cwd", [".", "sub"])
def test_pythonpath_relative_lib(pw, wd, cwd):
    """PYTHONPATH=lib is the run's cwd's lib (or nothing, from sub/)."""
    write_files(wd, {"lib/libmod.py": "print('libmod from', __file__)\n", "sub/.keep": "",
                     "lib/json.py": LOCAL_JSON})
    env = {"PYTHONPATH": "lib"}
    _zygote_for(pw, wd, env)
    _same_warm(pw, ["-c", SHOW_PATH + "import libmod\n"], cwd=os.path.join(wd, cwd), env_add=env)
    _same_warm(pw, ["-c", USES_JSON], cwd=os.path.join(wd, cwd), env_add=env)


def test_pythonpath_dot_with_script_elsewhere(pw, wd):
    write_files(wd, {"here/helper.py": "print('helper from', __file__)\n",
                     "scripts/run.py": SHOW_PATH + "import helper\n"})
    env = {"PYTHONPATH": "."}
    _zygote_for(pw, wd, env)
    _same_warm(pw, ["../scripts/run.py"], cwd=os.path.join(wd, "here"), env_add=env)
    _same_warm(pw, ["-m", "helper"], cwd=os.path.join(wd, "here"), env_add=env)


@pytest.mark.parametrize("value", [":", "lib:", "::lib", "./lib/../lib2:lib/:..:lib"])
def test_pythonpath_empty_and_odd_entries(pw, wd, value):
    write_files(wd, {"top/mod0.py": "print('mod0')\n", "top/lib/mod1.py": "print('mod1')\n",
                     "top/lib2/mod2.py": "print('mod2')\n"})
    env = {"PYTHONPATH": value}
    _zygote_for(pw, wd, env)
    prog = SHOW_PATH + textwrap.dedent("""\
        for name in ('mod0', 'mod1', 'mod2'):
            try:
                __import__(name)
            except ImportError as e:
                print(e)
    """)
    _same_warm(pw, ["-c", prog], cwd=os.path.join(wd, "top"), env_add=env)


def test_pythonpath_relative_with_startup_module_goes_cold(pw, wd):
    """A relative PYTHONPATH directory holding a module python3 imports at
    start-up: the zygote never saw it, so the run is cold, and the same."""
    write_files(wd, {"lib/site.py": "print('a site of my own')\n", "lib/libmod.py": ""})
    env = {"PYTHONPATH": "lib"}
    _zygote_for(pw, wd, env)
    _same_warm(pw, ["-c", SHOW_PATH + "import libmod\n"], cwd=wd, env_add=env, warm=False)


@pytest.mark.parametrize("opt", ["-S", "-s", "-E", "-I"])
def test_pythonpath_relative_with_options(pw, wd, opt):
    """Without site (-S) the entries stay as getpath made them (no
    normalising, duplicates kept); -E and -I ignore PYTHONPATH."""
    from test_options import warm_up
    write_files(wd, {"top/lib/libmod.py": "print('libmod')\n"})
    env = {"PYTHONPATH": "lib::.:lib/:../top/lib"}
    cwd = os.path.join(wd, "top")
    warm_up(pw, [opt, "-c", "pass"], env, cwd)
    prog = SHOW_PATH + "try:\n    import libmod\nexcept ImportError as e:\n    print(e)\n"
    _same_warm(pw, [opt, "-c", prog], cwd=cwd, env_add=env)


# Preloaded modules whose import leaves unusual traces: one that makes
# itself a package (six sets its own __path__ and spec locations), and a
# package whose optional submodule exists but fails to execute (dateutil's
# tz.win without winreg).  Both must be served from the cache, not run
# again: a module run again in the same process is a second copy.
SERVED_LIB = {
    "lib/sixlike.py": "import os\n__path__ = []\n__spec__.submodule_search_locations = []\nPID = os.getpid()\n",
    "lib/pkgfail/__init__.py": "import os\nPID = os.getpid()\ntry:\n    from . import broken\n"
                               "except ImportError:\n    broken = None\n",
    "lib/pkgfail/broken.py": "import no_such_module_for_pywarm\n",
    ".pywarm.ini": "[preload]\nmodules = sixlike, pkgfail\n",
}


def test_unusual_preloaded_modules_are_served(pw, wd):
    write_files(wd, SERVED_LIB)
    pw.trust(os.path.join(wd, ".pywarm.ini"))
    env = {"PYTHONPATH": os.path.join(wd, "lib")}
    pw.ctl("start", "--wait", cwd=wd, env=pw.make_env(env), timeout=90)
    try:
        prog = "import sixlike, pkgfail, sys; print(pkgfail.broken, 'pkgfail.broken' in sys.modules)"
        real, pyw = pw.run_both(["-c", prog], cwd=wd, env_add=env)
        assert_same(real, pyw)
        assert_warm(pyw)
        # Served: what their import computed is the zygote's (not this run's pid).
        r = pw.run_pywarm(["-c", "import os, sixlike, pkgfail; print(sixlike.PID != os.getpid(), "
                                 "pkgfail.PID != os.getpid())"], cwd=wd, env_add=env)
        assert_warm(r)
        assert r.out == b"True True\n", r.describe()
    finally:
        pw.ctl("stop", cwd=wd, env=pw.make_env(env), check=False, timeout=30)


# ------------------------------------------------- output a module writes at import

NOISY = {
    "print": "print('noisy: imported')\ndef probe():\n    return 1\n",
    "stderr": "import sys\nsys.stderr.write('noisy: to stderr\\n')\ndef probe():\n    return 2\n",
    "fd-write": "import os\nos.write(1, b'noisy: straight to fd 1\\n')\ndef probe():\n    return 3\n",
    "warning": "import warnings\nwarnings.warn('noisy: a warning at import')\ndef probe():\n    return 4\n",
    "thread": "import threading, time\n"
              "threading.Thread(target=time.sleep, args=(60,), name='bg', daemon=True).start()\n"
              "def probe():\n    return sorted(t.name for t in threading.enumerate())\n",
    "file-kept-open": "F = open(__file__, 'rb')\ndef probe():\n    return F.read(5)\n",
    "socket-kept": "import socket\nA, B = socket.socketpair()\n"
                   "def probe():\n    A.send(b'ping')\n    return B.recv(4)\n",
    "cwd-getcwd": "import os\nBASE = os.getcwd()\ndef probe():\n    return BASE\n",
    "cwd-abspath": "import os.path\nDATA = os.path.abspath('data')\ndef probe():\n    return DATA\n",
    "cwd-pathlib": "import pathlib\nHERE = pathlib.Path.cwd() / 'x'\ndef probe():\n    return str(HERE)\n",
}


@pytest.mark.parametrize("kind", sorted(NOISY))
@pytest.mark.parametrize("through", ["direct", "dependency"])
def test_import_effects_a_run_cannot_share(pw, wd, kind, through):
    """A preloaded module whose import writes (print, sys.stderr, a raw
    write, a warning), starts a thread, keeps a file or socket open or
    reads the working directory is imported afresh by every run that
    imports it, as under python3 (the output appears, the thread runs, the
    descriptor is the module's own, the directory the caller's); so is a
    preloaded module that imported it."""
    lib = os.path.join(wd, "lib")
    files = {"lib/noisy.py": NOISY[kind], "lib/wrapper.py": "import noisy\nprobe = noisy.probe\n",
             "lib/quiet.py": "import itertools\nQ = 5\n",
             ".pywarm.ini": "[preload]\nmodules = json, noisy, wrapper, quiet\n"}
    write_files(wd, files)
    pw.trust(wd)
    env = {"PYTHONPATH": lib}
    pw.ctl("start", "--wait", cwd=wd, env=pw.make_env(env), timeout=90)
    mod = "noisy" if through == "direct" else "wrapper"
    prog = (f"import sys, quiet, {mod}\nprint('after', {mod}.__name__, quiet.Q, {mod}.probe())\n"
            "print(sorted(n for n in sys.modules if n in ('noisy', 'wrapper', 'quiet')))\n")
    for _ in range(2):
        real, pyw = _same_warm(pw, ["-c", prog], cwd=wd, env_add=env)
    if kind in ("print", "stderr", "fd-write", "warning"):
        assert b"noisy:" in real.out + real.err
    # The zygote's log says which effect made the module unshared (wrapper,
    # preloaded after it, is not served because it imports it).
    words = {"thread": "starts a thread", "file-kept-open": "leaves a descriptor open",
             "socket-kept": "leaves a descriptor open"}.get(
        kind, "depends on the working directory" if kind.startswith("cwd") else "writes output")
    log = zygote_log(pw)
    assert re.search(rf"importing noisy ([a-z ,]+, )?{words}(, [a-z ,]+)?: every run imports it afresh",
                     log), log


# ------------------------------------------------- the working directory and the clock at import

# Modules whose import depends on the working directory through a
# file-system call with a relative path (the zygote's is "/"), run in a
# directory where the files exist.
RELATIVE = {
    "exists": "import os.path\nV = os.path.exists('local.cfg')\n",
    "stat": "import os\ntry:\n    V = os.stat('local.cfg').st_size\nexcept OSError:\n    V = None\n",
    "lstat": "import os\ntry:\n    V = os.lstat('link').st_size > 0\nexcept OSError:\n    V = None\n",
    "open": "try:\n    V = open('settings.toml').read()\nexcept OSError:\n    V = None\n",
    "listdir": "import os\nV = sorted(n for n in os.listdir('.') if n.endswith('.cfg'))\n",
    "scandir": "import os\nV = sorted(e.name for e in os.scandir() if e.name.endswith('.cfg'))\n",
    "pathlib": "import pathlib\nV = pathlib.Path('local.cfg').is_file()\n",
    "glob": "import glob\nV = sorted(glob.glob('*.cfg'))\n",
    "access": "import os\nV = os.access('local.cfg', os.R_OK)\n",
    "readlink": "import os\ntry:\n    V = os.readlink('link')\nexcept OSError:\n    V = None\n",
    "chdir": "import os\ntry:\n    os.chdir('sub')\n    V = 'moved'\nexcept OSError:\n    V = None\n",
    "c-fopen": "import ctypes\nlibc = ctypes.CDLL(None)\nlibc.fopen.restype = ctypes.c_void_p\n"
               "libc.fclose.argtypes = [ctypes.c_void_p]\nf = libc.fopen(b'local.cfg', b'r')\n"
               "V = bool(f)\nif f:\n    libc.fclose(f)\n",
    "c-realpath": "import ctypes\nlibc = ctypes.CDLL(None)\nlibc.realpath.restype = ctypes.c_void_p\n"
                  "libc.free.argtypes = [ctypes.c_void_p]\np = libc.realpath(b'local.cfg', None)\n"
                  "V = bool(p)\nif p:\n    libc.free(p)\n",
    "configparser": "import configparser\nC = configparser.ConfigParser()\nV = C.read(['local.cfg'])\n",
}

RELATIVE_FILES = {"local.cfg": "[a]\nb = 1\n", "other.cfg": "", "settings.toml": "x = 1\n",
                  "sub/keep": ""}


@pytest.mark.parametrize("kind", sorted(RELATIVE))
@pytest.mark.parametrize("through", ["direct", "dependency"])
def test_import_depending_on_the_working_directory(pw, wd, kind, through):
    """A preloaded module whose import opens, stats, lists or changes to a
    path relative to the working directory found the zygote's ("/"): every
    run imports it afresh in its own directory, as python3 does, and so
    does a preloaded module that imported it."""
    files = dict(RELATIVE_FILES, **{
        "lib/rel.py": RELATIVE[kind] + "def probe():\n    return V\n",
        "lib/wrapper.py": "import rel\nprobe = rel.probe\n",
        "lib/quiet.py": "import itertools\nQ = 5\n",
        ".pywarm.ini": "[preload]\nmodules = json, rel, wrapper, quiet\n"})
    write_files(wd, files)
    if not os.path.lexists(os.path.join(wd, "link")):
        os.symlink("local.cfg", os.path.join(wd, "link"))
    pw.trust(wd)
    env = {"PYTHONPATH": os.path.join(wd, "lib")}
    pw.ctl("start", "--wait", cwd=wd, env=pw.make_env(env), timeout=90)
    mod = "rel" if through == "direct" else "wrapper"
    prog = (f"import os, sys, quiet, {mod}\nprint({mod}.__name__, quiet.Q, {mod}.probe())\n"
            "print(os.getcwd() == os.environ['PWD_AT_START'])\n")
    env["PWD_AT_START"] = wd
    real, pyw = _same_warm(pw, ["-c", prog], cwd=wd, env_add=env)
    assert b"None" not in real.out and b"False" not in real.out.split(b"\n")[0], real.describe()


# Modules that keep a reading of the clock made at import, each with a
# check that the reading was made in this run (after the test's own
# reading, passed in PWT_T0 / PWT_M0).
CLOCK = {
    "time": "import time\nS = time.time()\nK = 'PWT_T0'\n",
    "time-ns": "import time\nS = time.time_ns() / 1e9\nK = 'PWT_T0'\n",
    "monotonic": "import time\nS = time.monotonic()\nK = 'PWT_M0'\n",
    "perf-counter": "import time\nS = time.perf_counter()\nK = 'PWT_M0'\n",
    "datetime-now": "import datetime\nS = datetime.datetime.now().timestamp()\nK = 'PWT_T0'\n",
    "datetime-utc": "import datetime\nS = datetime.datetime.now(datetime.timezone.utc).timestamp()\n"
                    "K = 'PWT_T0'\n",
    "localtime": "import time\nS = time.mktime(time.localtime()) + 1\nK = 'PWT_T0'\n",
}


@pytest.mark.parametrize("kind", sorted(CLOCK))
@pytest.mark.parametrize("through", ["direct", "dependency"])
def test_import_reading_the_clock(pw, wd, kind, through):
    """A preloaded module that keeps the time of its import: every run
    imports it afresh, so the time is the run's, as under python3 (and so
    does a preloaded module that imported it)."""
    import time
    files = {"lib/clk.py": CLOCK[kind] + "import os\ndef probe():\n    return S >= float(os.environ[K])\n",
             "lib/wrapper.py": "import clk\nprobe = clk.probe\n",
             ".pywarm.ini": "[preload]\nmodules = json, clk, wrapper\n"}
    write_files(wd, files)
    pw.trust(wd)
    env = {"PYTHONPATH": os.path.join(wd, "lib")}
    pw.ctl("start", "--wait", cwd=wd, env=pw.make_env(env), timeout=90)
    mod = "clk" if through == "direct" else "wrapper"
    prog = f"import {mod}\nprint({mod}.__name__, {mod}.probe())\n"
    if kind == "localtime":
        # A reading in whole seconds: wait for the clock to pass the second
        # the zygote started in.
        second = int(time.time())
        wait_until(lambda: int(time.time()) > second, "the next second on the clock", timeout=5)
    env.update(PWT_T0=repr(time.time()), PWT_M0=repr(time.monotonic()))
    real, pyw = _same_warm(pw, ["-c", prog], cwd=wd, env_add=env)
    assert real.out.endswith(b" True\n"), real.describe()


@pytest.mark.parametrize("setting", ["shared", "afresh", None])
def test_clock_setting_of_a_profile(pw, wd, setting):
    """[preload] clock = shared: the profile accepts the zygote's time in a
    module that read the clock at import, and that module is served (the
    same reading in every run, no "reads the clock" in the log); afresh,
    the default, imports it in each run."""
    line = f"clock = {setting}\n" if setting else ""
    files = {"lib/clkset.py": "import time, os\nS = time.time()\nPID = os.getpid()\n",
             ".pywarm.ini": f"[preload]\nmodules = json, clkset\n{line}"}
    write_files(wd, files)
    pw.trust(wd)
    env = {"PYTHONPATH": os.path.join(wd, "lib")}
    pw.ctl("start", "--wait", cwd=wd, env=pw.make_env(env), timeout=90)
    prog = "import os, clkset\nprint(repr(clkset.S), clkset.PID == os.getpid())\n"
    outs = []
    for _ in range(2):
        r = pw.run_pywarm(["-c", prog], cwd=wd, env_add=env)
        assert_warm(r)
        outs.append(r.out)
    served = setting == "shared"
    assert (outs[0] == outs[1]) == served, outs
    assert outs[0].endswith(b" False\n" if served else b" True\n"), outs
    assert ("importing clkset reads the clock" in zygote_log(pw)) != served
    check = pw.ctl("check", cwd=wd, env=pw.make_env(env)).stdout.decode()
    assert ("clock        shared" in check) == served, check


def test_import_of_logging_is_still_served(pw, wd):
    """logging reads the clock at import for _startTime, which every run
    sets again: it, and a module importing it, are served from the cache
    (their import is the zygote's), and relativeCreated counts from the
    run's start."""
    files = {"lib/uselog.py": "import logging, os\nPID = os.getpid()\nLOG = logging.getLogger('uselog')\n",
             ".pywarm.ini": "[preload]\nmodules = logging, uselog\n"}
    write_files(wd, files)
    pw.trust(wd)
    env = {"PYTHONPATH": os.path.join(wd, "lib")}
    pw.ctl("start", "--wait", cwd=wd, env=pw.make_env(env), timeout=90)
    prog = ("import os, logging, uselog\nr = logging.makeLogRecord({})\n"
            "print(uselog.PID != os.getpid(), 0 <= r.relativeCreated < 5000)\n")
    r = pw.run_pywarm(["-c", prog], cwd=wd, env_add=env)
    assert_warm(r)
    assert r.out == b"True True\n", r.describe()


# ------------------------------------------------- loggers made at import

LOGGER_PROGS = {
    "logging-alone": "import logging\nprint(sorted(logging.Logger.manager.loggerDict))\n",
    "with-asyncio": "import logging, asyncio\nimport asyncio.log as l\n"
                    "print(sorted(logging.Logger.manager.loggerDict), l.logger is logging.getLogger('asyncio'),"
                    " l.logger.parent)\n",
    "child-first": "import logging\nc = logging.getLogger('asyncio.mine')\nimport asyncio\nimport asyncio.log as l\n"
                   "print(sorted(logging.Logger.manager.loggerDict), c.parent is l.logger, l.logger.parent)\n",
    "same-name-first": "import logging\na = logging.getLogger('asyncio')\na.setLevel(5)\nimport asyncio\n"
                       "import asyncio.log as l\nprint(a is l.logger, l.logger.level, sorted(logging.Logger.manager.loggerDict))\n",
    "dictconfig-first": "import logging, logging.config\nlogging.config.dictConfig({'version': 1})\n"
                        "import concurrent.futures, asyncio\n"
                        "print(logging.getLogger('asyncio').disabled, logging.getLogger('concurrent.futures').disabled)\n",
    "logger-class-first": "import logging\nclass L(logging.Logger):\n    pass\nlogging.setLoggerClass(L)\n"
                          "import asyncio\nprint(type(logging.getLogger('asyncio')).__name__)\n",
    "parent-made-later": "import logging, asyncio\np = logging.getLogger('concurrent')\nimport concurrent.futures\n"
                         "print(logging.getLogger('concurrent.futures').parent is p)\n",
}


@pytest.mark.parametrize("case", sorted(LOGGER_PROGS))
def test_loggers_of_preloaded_modules_appear_with_them(pw, wd, case):
    """logging's manager lists a logger a preloaded module made at import
    only once the run imports that module, with the parent, identity and
    state python3's getLogger() would give it."""
    _same_warm(pw, ["-c", LOGGER_PROGS[case]], cwd=wd)


def test_project_module_logger_and_handler(pw, wd):
    lib = os.path.join(wd, "lib")
    write_files(wd, {"lib/applog.py": "import logging\nlog = logging.getLogger('app.core')\n"
                                      "log.addHandler(logging.NullHandler())\n",
                     ".pywarm.ini": "[preload]\nmodules = logging, applog\n"})
    pw.trust(wd)
    env = {"PYTHONPATH": lib}
    pw.ctl("start", "--wait", cwd=wd, env=pw.make_env(env), timeout=90)
    prog = ("import logging\nbefore = sorted(logging.Logger.manager.loggerDict)\nroot_app = logging.getLogger('app')\n"
            "import applog\nprint(before, sorted(logging.Logger.manager.loggerDict), applog.log.parent is root_app,"
            " applog.log.handlers)\n")
    _same_warm(pw, ["-c", prog], cwd=wd, env_add=env)


# ------------------------------------------------- signal handlers set at import

SIGMODS = {
    "usr1-handler": "import signal\ndef h(*a):\n    print('usr1 handled')\nsignal.signal(signal.SIGUSR1, h)\n",
    "int-replaced": "import signal\ndef h(*a):\n    print('int handled')\nsignal.signal(signal.SIGINT, h)\n",
    "usr1-ignored": "import signal\nsignal.signal(signal.SIGUSR1, signal.SIG_IGN)\n",
}
SIG_PROGS = {
    "never-imported": "import os, signal\nprint(signal.getsignal(signal.SIGUSR1), signal.getsignal(signal.SIGINT))\n"
                      "os.kill(os.getpid(), signal.SIGUSR1)\nprint('survived')\n",
    "imported-then-signalled": "import os, signal\nbefore = (signal.getsignal(signal.SIGUSR1), signal.getsignal(signal.SIGINT))\n"
                               "import sigmod\nprint(before, signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN)\n"
                               "os.kill(os.getpid(), signal.SIGINT)\nos.kill(os.getpid(), signal.SIGUSR1)\nprint('end')\n",
}


@pytest.mark.parametrize("prog", sorted(SIG_PROGS))
@pytest.mark.parametrize("mod", sorted(SIGMODS))
def test_signal_handlers_set_at_import(pw, wd, mod, prog):
    """A preloaded module (or a warmup script) that sets a signal handler
    at import: a run starts with python3's handlers, and gets the module's
    when it imports the module, which is imported afresh."""
    lib = os.path.join(wd, "lib")
    write_files(wd, {"lib/sigmod.py": SIGMODS[mod], "warm.py": "import signal\nsignal.signal(signal.SIGUSR2, signal.SIG_IGN)\n",
                     ".pywarm.ini": "[preload]\nmodules = json, sigmod\nwarmup = warm.py\n"})
    pw.trust(wd)
    env = {"PYTHONPATH": lib}
    pw.ctl("start", "--wait", cwd=wd, env=pw.make_env(env), timeout=90)
    code = SIG_PROGS[prog] + "print(signal.getsignal(signal.SIGUSR2))\n"
    _same_warm(pw, ["-c", code], cwd=wd, env_add=env)


# ------------------------------------------------- whatever watches imports sees python3's
# A served module's code does not run again; while a trace or profile
# function, an audit hook, a builtins.__import__ of the program's or a
# replaced piece of the import system is in place, every import runs for
# real, so that each sees what it sees under python3.  (Not here: an
# extension module the zygote loaded, imported again, is not initialized
# again by CPython, so the imports its C init makes are not seen twice.)

_IMPORTS_WATCHED = "import json, csv, textwrap, shlex, glob\n"
_REPORT = "sys.settrace(None); sys.setprofile(None)\nprint(len(seen))\nfor s in seen:\n    print(s)\n"
OBSERVER_CASES = {
    "settrace": "import sys\nseen = []\n"
                "def tr(frame, event, arg):\n"
                "    if event == 'call' and frame.f_code.co_name == '<module>':\n"
                "        seen.append(frame.f_code.co_filename.rsplit('/', 2)[-2:])\n"
                "sys.settrace(tr)\n",
    "setprofile": "import sys\nseen = []\n"
                  "def pr(frame, event, arg):\n"
                  "    if event == 'call' and frame.f_code.co_name == '<module>':\n"
                  "        seen.append(frame.f_code.co_filename.rsplit('/', 1)[-1])\n"
                  "sys.setprofile(pr)\n",
    "audit-hook": "import sys\nseen = []\n"
                  "def hook(ev, args):\n"
                  "    if ev in ('open', 'exec', 'import'):\n"
                  "        what = getattr(args[0], 'co_filename', args[0])\n"
                  "        seen.append((ev, str(what).rsplit('/', 1)[-1]))\n"
                  "sys.addaudithook(hook)\n",
    "builtins-import": "import sys, builtins\nseen = []\nreal = builtins.__import__\n"
                       "def spy(name, globals=None, locals=None, fromlist=(), level=0):\n"
                       "    seen.append((name, level))\n"
                       "    return real(name, globals, locals, fromlist, level)\n"
                       "builtins.__import__ = spy\n",
    "loader-get-data": "import sys, importlib.machinery as m\nseen = []\nreal = m.SourceFileLoader.get_data\n"
                       "def get_data(self, path):\n    seen.append(path.rsplit('/', 1)[-1])\n    return real(self, path)\n"
                       "m.SourceFileLoader.get_data = get_data\n",
    "find-spec-wrapped": "import sys, importlib._bootstrap as b\nseen = []\nreal = b._find_spec\n"
                         "def spy(name, path, target=None):\n    seen.append(name)\n    return real(name, path, target)\n"
                         "b._find_spec = spy\n",
    "marshal-loads": "import sys, marshal\nseen = []\nreal = marshal.loads\n"
                     "def loads(data, *a):\n    code = real(data, *a)\n    seen.append(code.co_filename.rsplit('/', 1)[-1])\n"
                     "    return code\nmarshal.loads = loads\n",
    "exec-module-wrapped": "import sys, importlib._bootstrap_external as e\nseen = []\nreal = e._LoaderBasics.exec_module\n"
                           "def exec_module(self, module):\n    seen.append(module.__name__)\n    return real(self, module)\n"
                           "e._LoaderBasics.exec_module = exec_module\n",
    "trace-in-a-thread": "import sys, threading\nseen = []\n"
                         "def tr(frame, event, arg):\n"
                         "    if event == 'call' and frame.f_code.co_name == '<module>':\n"
                         "        seen.append(frame.f_code.co_filename.rsplit('/', 1)[-1])\n"
                         "def work():\n    sys.settrace(tr)\n    import json, csv\n    sys.settrace(None)\n"
                         "t = threading.Thread(target=work)\nt.start()\nt.join()\nimport logging.handlers\n"
                         "print(len(seen), seen)\nraise SystemExit\n",
}


@pytest.mark.parametrize("case", sorted(OBSERVER_CASES))
@pytest.mark.parametrize("how", ["script", "c"])
def test_what_watches_imports_sees_them(pw, wd, case, how):
    prog = OBSERVER_CASES[case] + _IMPORTS_WATCHED + _REPORT
    write_files(wd, {"main.py": prog})
    real, _ = _same_warm(pw, ["main.py"] if how == "script" else ["-c", prog], cwd=wd)
    assert not real.out.startswith(b"0 "), real.out


def test_imports_once_nothing_watches_are_served(pw, wd):
    """Only while something watches: a module imported under a trace
    function runs afresh, one imported after it is gone is served (what its
    import computed is the zygote's)."""
    write_files(wd, {"lib/mod_a.py": "import os\nPID = os.getpid()\n",
                     "lib/mod_b.py": "import os\nPID = os.getpid()\n",
                     ".pywarm.ini": "[preload]\nmodules = mod_a, mod_b\n"})
    pw.trust(wd)
    env = {"PYTHONPATH": os.path.join(wd, "lib")}
    pw.ctl("start", "--wait", cwd=wd, env=pw.make_env(env), timeout=90)
    try:
        prog = ("import os, sys\nsys.settrace(lambda *a: None)\nimport mod_a\nsys.settrace(None)\n"
                "import mod_b\nprint(mod_a.PID == os.getpid(), mod_b.PID == os.getpid())\n")
        r = pw.run_pywarm(["-c", prog], cwd=wd, env_add=env)
        assert_warm(r)
        assert r.out == b"True False\n", r.describe()
    finally:
        pw.ctl("stop", cwd=wd, env=pw.make_env(env), check=False, timeout=30)


# ------------------------------------------------- a cached module served at its search
# The run's search for a cached module may serve it before any directory
# is searched again (plan.c's hook for importlib's _find_spec, in
# _find_and_load_unlocked); everyone else asking for a spec gets a search
# of their own, and a spec handed to the loader again loads again.

SEARCH_CASES = {
    "find-spec-before-import": "import importlib.util\ns = importlib.util.find_spec('csv')\nimport csv\n"
                               "print(s is csv.__spec__, s == csv.__spec__, s.loader is csv.__loader__, s.origin)\n",
    "load-served-spec-again": "import sys, json, importlib._bootstrap as b\nm = b._load(json.__spec__)\n"
                              "print(m is json, sys.modules['json'] is m, m.dumps is json.dumps)\n",
    "reload-served": "import importlib, json\nf = json.dumps\nm = importlib.reload(json)\nprint(m is json, json.dumps is f)\n",
    "import-module-submodule": "import importlib, sys\nm = importlib.import_module('email.utils')\n"
                               "print(m is sys.modules['email.utils'], sorted(n for n in sys.modules if n.startswith('email'))[:6])\n",
    "dunder-import-direct": "m = __import__('json.decoder', fromlist=['x'])\nprint(m.__name__, m.JSONDecoder.__module__)\n",
    "package-replaced-in-sys-modules": "import sys, types, xml\nfake = types.ModuleType('xml')\n"
                                       "fake.__path__ = xml.__path__\nsys.modules['xml'] = fake\nimport xml.dom\n"
                                       "print(xml.dom is sys.modules['xml.dom'], fake.dom is xml.dom, xml.dom.__name__)\n",
    "module-blocked": "import sys\nsys.modules['csv'] = None\ntry:\n    import csv\nexcept ImportError as e:\n"
                      "    print(type(e).__name__, e)\n",
    "spec-after-meta-path-change": "import sys, importlib.util\nsys.meta_path = sys.meta_path[:]\n"
                                   "import json\nprint(importlib.util.find_spec('json') is json.__spec__)\n",
    "legacy-finder-for-a-dependency": "import sys, importlib.abc, warnings\nwarnings.simplefilter('default')\n"
                                      "class L(importlib.abc.Loader):\n    def create_module(self, spec): return None\n"
                                      "    def exec_module(self, m): raise ImportError('no _json here')\n"
                                      "class Legacy:\n    def find_module(self, name, path=None):\n"
                                      "        print('asked', name)\n        return L() if name == '_json' else None\n"
                                      "sys.meta_path.insert(0, Legacy())\nimport json, csv\n"
                                      "print(json.scanner.c_make_scanner, json.decoder.c_scanstring, csv.__name__)\n",
    "search-from-a-finder": "import sys, importlib._bootstrap as b\n"
                            "class F:\n    def find_spec(self, name, path, target=None):\n"
                            "        if name == 'csv':\n            print('asked', b._find_spec('textwrap', None).name)\n"
                            "        return None\nsys.meta_path.insert(0, F())\nimport csv, textwrap\n"
                            "print(csv.__name__, textwrap.__name__)\n",
}


@pytest.mark.parametrize("case", sorted(SEARCH_CASES))
def test_searches_of_cached_modules(pw, wd, case):
    write_files(wd, {"main.py": SEARCH_CASES[case]})
    _same_warm(pw, ["main.py"], cwd=wd)


# ------------------------------------------------- a finder a preloaded module added
# six appends a meta path importer at import; under a profile preloading
# it, runs start with it in sys.meta_path (import hooks a preloaded module
# installs are in place from the start, see pywarm(1)).  Appended after
# the path finder, it is asked only for what the path finder does not
# find, so the zygote's modules are still served; inserted before it, it
# could have answered for anything, and every search runs.

FINDER_LIB = {
    "lib/appender.py": "import sys, os\nPID = os.getpid()\n"
                       "class Late:\n    def find_spec(self, name, path, target=None):\n"
                       "        if name == 'late_only':\n            print('late finder asked for', name)\n"
                       "        return None\nsys.meta_path.append(Late())\n",
    "lib/inserter.py": "import sys, os\nPID = os.getpid()\n"
                       "class Early:\n    def find_spec(self, name, path, target=None):\n"
                       "        return None\nsys.meta_path.insert(0, Early())\n",
    "lib/pkgafter/__init__.py": "import os\nPID = os.getpid()\nfrom . import sub\n",
    "lib/pkgafter/sub.py": "import json\nX = 1\n",
}
FINDER_PROG = ("import os, sys\nimport json, pkgafter\n"
               "print([type(f).__name__ for f in sys.meta_path])\n"
               "try:\n    import late_only\nexcept ImportError as e:\n    print(e)\n"
               "print(pkgafter.sub.X, sorted(n for n in sys.modules if n.startswith('pkgafter')))\n")


@pytest.mark.parametrize("finder", ["appender", "inserter"])
def test_finder_added_by_a_preloaded_module(pw, wd, finder):
    files = dict(FINDER_LIB, **{".pywarm.ini": f"[preload]\nmodules = {finder}, pkgafter\n"})
    write_files(wd, files)
    pw.trust(wd)
    env = {"PYTHONPATH": os.path.join(wd, "lib")}
    pw.ctl("start", "--wait", cwd=wd, env=pw.make_env(env), timeout=90)
    try:
        prog = f"import {finder}\n" + FINDER_PROG
        _same_warm(pw, ["-c", prog], cwd=wd, env_add=env)
        # Served (what their import computed is the zygote's), the finder
        # appended after the path finder or not.
        r = pw.run_pywarm(["-c", f"import os, {finder}, pkgafter\n"
                                 f"print({finder}.PID != os.getpid(), pkgafter.PID != os.getpid())"],
                          cwd=wd, env_add=env)
        assert_warm(r)
        assert r.out == b"True True\n", r.describe()
    finally:
        pw.ctl("stop", cwd=wd, env=pw.make_env(env), check=False, timeout=30)
