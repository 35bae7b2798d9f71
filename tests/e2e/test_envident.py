# test_envident.py: what a zygote's start-up took from the environment and from files the C library reads once never reaches a run that python3 would start differently.
#
# Three classes, each compared byte for byte with python3:
#   - variables start-up read (.pth lines, sitecustomize/usercustomize,
#     preloaded modules, C getenv in extensions): a run whose value differs
#     is cold, a run whose values match stays warm;
#   - the C library's start-up environment (MALLOC_*, GLIBC_TUNABLES) is
#     identity, and the manual lists exactly the code's identity names;
#   - files the C library caches (locale archive and directories, time zone
#     data, converter configuration, nsswitch.conf): a change after the
#     zygote started is seen as python3 sees it.
# Each test starts a zygote of its own (a project profile, or an identity
# variable) under an environment it chose, then runs with the same or
# another environment.

import dataclasses
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import (BUILD, HERE, PYWARMCTL, REAL, REPO, Result, assert_cold, assert_same,
                      assert_warm, needs_pywarm, write_files)

pytestmark = needs_pywarm

BASE = {"PYTHONDONTWRITEBYTECODE": "1"}


def project(pw, wd, ini, files=None, env_add=None, env_remove=()):
    """Write and trust a project profile (plus files), start its zygote under
    the environment returned, and wait until it serves."""
    write_files(wd, dict(files or {}, **{".pywarm.ini": ini}))
    pw.trust(wd)
    env = pw.make_env(dict(BASE, **(env_add or {})), env_remove)
    pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    return env


def both(pw, args, wd, env, add=None, remove=()):
    return pw.run_both(args, cwd=wd, env=env, env_add=add, env_remove=remove)


def same_warm(pw, args, wd, env, add=None, remove=()):
    real, pyw = both(pw, args, wd, env, add, remove)
    assert_same(real, pyw)
    assert_warm(pyw)
    return real, pyw


def same_after_change(pw, args, wd, env):
    """Right after a file changed: identical, served cold or by a successor
    zygote that warmed from the files as they are now (never by the old one,
    or the output would be the old one's)."""
    real, pyw = both(pw, args, wd, env)
    assert_same(real, pyw)
    return real, pyw


def same_cold(pw, args, wd, env, add=None, remove=()):
    real, pyw = both(pw, args, wd, env, add, remove)
    assert_same(real, pyw)
    assert_cold(pyw)
    return real, pyw


def warm_again(pw, args, wd, env, deadline=60):
    """After a change: wait for a zygote that serves this run warm (a
    successor may itself see the change still being made, and retire),
    then compare."""
    end = time.monotonic() + deadline
    while True:
        pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
        real, pyw = both(pw, args, wd, env)
        if pyw.warm or time.monotonic() > end:
            break
    assert_same(real, pyw)
    assert_warm(pyw)
    return real, pyw


def cold_because(pyw, name):
    """The trace says the run went cold because of name."""
    assert any("event=cold " in l and name in l for l in pyw.launcher_lines), pyw.describe()


def user_site(home):
    ver = subprocess.run([REAL, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, check=True, timeout=30).stdout.decode().strip()
    return os.path.join(home, ".local", "lib", f"python{ver}", "site-packages")


# ---------------------------------------------------------------- 5: start-up hooks

PTH_PROG = ["-c", "import sys; print(getattr(sys, 'pwt_pth', 'no hook'))"]


def test_user_site_pth_reading_a_variable(pw, wd):
    """A .pth line in the user site-packages reads PWT_PTH while site starts."""
    home = os.path.join(wd, "home")
    write_files(user_site(home), {
        "pwt.pth": "import os, sys; sys.pwt_pth = os.environ.get('PWT_PTH', 'unset')\n"})
    env = project(pw, wd, "[preload]\nmodules = json\n", env_add={"HOME": home})
    r, _ = same_warm(pw, PTH_PROG, wd, env)
    assert r.out == b"unset\n"
    r, pyw = same_cold(pw, PTH_PROG, wd, env, {"PWT_PTH": "set"})
    assert r.out == b"set\n"
    cold_because(pyw, "PWT_PTH")
    same_cold(pw, PTH_PROG, wd, env, {"PWT_PTH": ""})
    same_warm(pw, PTH_PROG, wd, env)


def test_user_site_pth_value_at_start_must_match(pw, wd):
    """Started with PWT_PTH=a: a run with a is warm, with b or unset cold."""
    home = os.path.join(wd, "home")
    write_files(user_site(home), {
        "pwt.pth": "import os, sys; sys.pwt_pth = os.getenv('PWT_PTH')\n"})
    env = project(pw, wd, "[preload]\nmodules = json\n", env_add={"HOME": home, "PWT_PTH": "a"})
    same_warm(pw, PTH_PROG, wd, env)
    same_cold(pw, PTH_PROG, wd, env, {"PWT_PTH": "b"})
    same_cold(pw, PTH_PROG, wd, env, remove=("PWT_PTH",))


def test_distutils_precedence_pth_of_the_interpreter(pw, wd):
    """setuptools' distutils-precedence.pth (when the interpreter has it)
    reads SETUPTOOLS_USE_DISTUTILS; the session zygote started without it."""
    site = subprocess.run([REAL, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, check=True, timeout=30).stdout.decode().strip()
    pths = [f for f in os.listdir(site) if f.endswith(".pth")] if os.path.isdir(site) else []
    prog = ["-c", "import sys; print('_distutils_hack' in sys.modules)"]
    real, pyw = pw.run_both(prog)
    assert_same(real, pyw)
    assert_warm(pyw)
    real, pyw = pw.run_both(prog, env_add={"SETUPTOOLS_USE_DISTUTILS": "stdlib"})
    assert_same(real, pyw)
    if "distutils-precedence.pth" in pths and real.out == b"False\n":
        assert_cold(pyw)
        cold_because(pyw, "SETUPTOOLS_USE_DISTUTILS")


def test_sitecustomize_reading_a_variable(pw, wd):
    """sitecustomize on PYTHONPATH reads PWT_SC with os.getenv."""
    lib = os.path.join(wd, "lib")
    write_files(lib, {"sitecustomize.py":
                      "import os, sys\nsys.pwt_sc = os.getenv('PWT_SC', 'unset')\n"})
    env = project(pw, wd, "[preload]\nmodules = json\n", env_add={"PYTHONPATH": lib})
    prog = ["-c", "import sys; print(sys.pwt_sc)"]
    same_warm(pw, prog, wd, env)
    r, pyw = same_cold(pw, prog, wd, env, {"PWT_SC": "on"})
    assert r.out == b"on\n"
    cold_because(pyw, "PWT_SC")


def test_usercustomize_testing_a_variable(pw, wd):
    """usercustomize in the user site asks `in os.environ` and subscripts."""
    home = os.path.join(wd, "home")
    write_files(user_site(home), {"usercustomize.py":
                                  "import os, sys\n"
                                  "sys.pwt_uc = os.environ['PWT_UC'] if 'PWT_UC' in os.environ else '-'\n"})
    env = project(pw, wd, "[preload]\nmodules = json\n", env_add={"HOME": home})
    prog = ["-c", "import sys; print(sys.pwt_uc)"]
    same_warm(pw, prog, wd, env)
    r, _ = same_cold(pw, prog, wd, env, {"PWT_UC": "x"})
    assert r.out == b"x\n"


def test_preloaded_module_reading_a_variable(pw, wd):
    """A preloaded module fixes a setting from the environment at import."""
    lib = os.path.join(wd, "lib")
    env = project(pw, wd, "[preload]\nmodules = pwtmod\n",
                  {"lib/pwtmod.py": "import os\nMODE = os.environ.get('PWT_MODE', 'default')\n"
                                    "DEBUG = os.environ.setdefault('PWT_DEBUGLVL', '0')\n"},
                  env_add={"PYTHONPATH": lib})
    prog = ["-c", "import pwtmod, os; print(pwtmod.MODE, pwtmod.DEBUG)"]
    same_warm(pw, prog, wd, env)
    r, _ = same_cold(pw, prog, wd, env, {"PWT_MODE": "fast"})
    assert r.out == b"fast 0\n"
    same_cold(pw, prog, wd, env, {"PWT_DEBUGLVL": "2"})
    # A variable nobody read may differ: still warm.
    same_warm(pw, prog, wd, env, {"PWT_UNRELATED": "1"})


def listing_project(pw, wd, module_src, env_add):
    """A project preloading a module that lists the environment, its zygote
    started under exactly the environment of the runs to come (one trace
    file for all of them: PYWARM_DEBUG is listed too)."""
    lib = os.path.join(wd, "lib")
    write_files(wd, {".pywarm.ini": "[preload]\nmodules = pwtconf\n",
                     "lib/pwtconf.py": module_src})
    pw.trust(wd)
    env = pw.make_env(dict(BASE, PYTHONPATH=lib, PYWARM_DEBUG=os.path.join(wd, "trace.log"),
                           **env_add))
    pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    return env


def run_fixed(pw, args, wd, env, add=None, remove=()):
    """Both sides with env as given (its PYWARM_DEBUG kept)."""
    env = pw.make_env(add, remove, base=env)
    trace = env["PYWARM_DEBUG"]
    real = pw.run("real", args, cwd=wd, env=env, trace=trace)
    pyw = pw.run("pywarm", args, cwd=wd, env=env, trace=trace)
    assert_same(real, pyw)
    return real, pyw


def test_preloaded_module_listing_the_environment(pw, wd):
    """A module that collects PWT_* by iterating os.environ makes the whole
    environment count: a new, changed or removed variable sends the run
    cold, and so does the same entries in another order."""
    env = listing_project(pw, wd, "import os\n"
                          "CONF = {k: v for k, v in os.environ.items() if k.startswith('PWT_')}\n"
                          "ORDER = list(os.environ)[-2:]\n", {"PWT_A": "1", "PWT_Z": "2"})
    prog = ["-c", "import pwtconf; print(sorted(pwtconf.CONF.items()), pwtconf.ORDER)"]
    assert_warm(run_fixed(pw, prog, wd, env)[1])
    r, pyw = run_fixed(pw, prog, wd, env, {"PWT_B": "2"})
    assert b"PWT_B" in r.out
    assert_cold(pyw)
    assert_cold(run_fixed(pw, prog, wd, env, {"OTHER_NEW": "1"})[1])
    assert_cold(run_fixed(pw, prog, wd, env, remove=("PWT_A",))[1])
    assert_cold(run_fixed(pw, prog, wd, env, {"PWT_A": "changed"})[1])
    reordered = dict(env)
    reordered["PWT_A"] = reordered.pop("PWT_A")     # now last
    assert_cold(run_fixed(pw, prog, wd, reordered)[1])
    assert_warm(run_fixed(pw, prog, wd, env)[1])


# Each way a module can look at os.environ's data (os.environ, os.environb
# or posix.environ itself): a lookup makes that one variable count, a
# listing the whole environment.
LOOKUPS = {
    "subscript": "try:\n    V = os.environ['PWT_K']\nexcept KeyError:\n    V = None\n",
    "get": "V = os.environ.get('PWT_K')\n",
    "getenv": "V = os.getenv('PWT_K', 'd')\n",
    "in": "V = 'PWT_K' in os.environ\n",
    "environb-get": "V = os.environb.get(b'PWT_K')\n",
    "pop": "V = os.environ.pop('PWT_K', None)\nif V is not None:\n    os.environ['PWT_K'] = V\n",
    "setdefault": "V = os.environ.setdefault('PWT_K', 'set')\n",
    "posix-get": "import posix\nV = posix.environ.get(b'PWT_K')\n",
    "posix-in": "import posix\nV = b'PWT_K' in posix.environ\n",
    "posix-subscript": "import posix\nV = posix.environ[b'PWT_K'] if b'PWT_K' in posix.environ else None\n",
}

LISTINGS = {
    "copy": "V = sorted(os.environ.copy())[:1]\n",
    "dict": "V = len(dict(os.environ)) > 0\n",
    "keys": "V = 'PWT_K' in list(os.environ.keys())\n",
    "values": "V = len(list(os.environ.values())) > 0\n",
    "len": "V = len(os.environ) > 0\n",
    "repr": "V = 'PWT' in repr(os.environ)\n",
    "eq": "V = os.environ == {}\n",
    "or": "V = len(os.environ | {}) > 0\n",
    "posix-items": "import posix\nV = len(list(posix.environ.items())) > 0\n",
    "posix-iter": "import posix\nV = len([k for k in posix.environ]) > 0\n",
    "posix-repr": "import posix\nV = len(repr(posix.environ)) > 0\n",
    "posix-eq": "import posix\nV = posix.environ == {}\n",
    "posix-or": "import posix\nV = len(posix.environ | {}) > 0\n",
    "posix-copy": "import posix\nV = len(posix.environ.copy()) > 0\n",
    "posix-reduce": "import copy, posix\nV = len(copy.copy(posix.environ)) > 0\n",
}


@pytest.mark.parametrize("kind", sorted(LOOKUPS))
def test_preloaded_module_looking_up_a_variable(pw, wd, kind):
    """Each form of lookup makes the variable count: a run where it has
    another value is cold, one where another variable differs is warm."""
    lib = os.path.join(wd, "lib")
    env = project(pw, wd, "[preload]\nmodules = pwtlook\n",
                  {"lib/pwtlook.py": "import os\n" + LOOKUPS[kind]},
                  env_add={"PYTHONPATH": lib, "PWT_K": "one"})
    prog = ["-c", "import pwtlook; print(pwtlook.V)"]
    same_warm(pw, prog, wd, env)
    same_warm(pw, prog, wd, env, {"PWT_UNRELATED": "1"})
    same_cold(pw, prog, wd, env, {"PWT_K": "two"})
    same_cold(pw, prog, wd, env, remove=("PWT_K",))


@pytest.mark.parametrize("kind", sorted(LISTINGS))
def test_preloaded_module_listing_in_other_ways(pw, wd, kind):
    """Each form of listing makes the whole environment count."""
    env = listing_project(pw, wd, "import os\n" + LISTINGS[kind], {"PWT_K": "one"})
    prog = ["-c", "import pwtconf; print(pwtconf.V)"]
    assert_warm(run_fixed(pw, prog, wd, env)[1])
    assert_cold(run_fixed(pw, prog, wd, env, {"OTHER_NEW": "1"})[1])


def test_recorder_leaves_nothing_behind(pw, wd):
    """A run sees os.environ's data as python3 does: a plain dict, and no
    subclass of dict that pywarm made for its start-up."""
    prog = ["-c", "import gc, os, posix\nprint(type(posix.environ), type(os.environ._data),"
                  " os.environ._data is posix.environ, os.environb._data is posix.environ,"
                  " [c for c in dict.__subclasses__() if 'pywarm' in c.__module__ + c.__qualname__])"]
    real, pyw = pw.run_both(prog, cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)


def test_listing_module_with_a_coerced_locale(pw, wd):
    """LC_CTYPE=C, which python3 coerces (and the warm child sets the same):
    a listing module's zygote still serves the same environment warm."""
    env = listing_project(pw, wd, "import os\nN = len(os.environ)\n", {"LC_CTYPE": "C"})
    prog = ["-c", "import os, pwtconf; print(os.environ['LC_CTYPE'], pwtconf.N == len(os.environ))"]
    r, pyw = run_fixed(pw, prog, wd, env)
    assert r.out == b"C.UTF-8 True\n"
    assert_warm(pyw)
    assert_cold(run_fixed(pw, prog, wd, env, {"PWT_NEW": "x"})[1])


EXT_SRC = r"""
#include <Python.h>
#include <stdlib.h>

static struct PyModuleDef def = { PyModuleDef_HEAD_INIT, "pwtext", NULL, -1, NULL };

static PyObject *str_or_none(const char *v)
{
	if (v == NULL)
		Py_RETURN_NONE;
	return PyUnicode_FromString(v);
}

PyMODINIT_FUNC PyInit_pwtext(void)
{
	PyObject *m = PyModule_Create(&def);
	if (m == NULL)
		return NULL;
	PyModule_AddObject(m, "VALUE", str_or_none(getenv("PWT_EXT")));
	PyModule_AddObject(m, "SECURE", str_or_none(secure_getenv("PWT_EXT_SECURE")));
	return m;
}
"""


def build_extension(lib):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    paths = subprocess.run([REAL, "-c", "import sysconfig as s; print(s.get_paths()['include']);"
                            "print(s.get_config_var('EXT_SUFFIX'))"],
                           capture_output=True, check=True, timeout=30).stdout.decode().split()
    os.makedirs(lib, exist_ok=True)
    src = os.path.join(lib, "pwtext.c")
    with open(src, "w") as f:
        f.write(EXT_SRC)
    subprocess.run([cc, "-shared", "-fPIC", "-O0", "-I", paths[0], "-o",
                    os.path.join(lib, "pwtext" + paths[1]), src], check=True, timeout=120)


def test_extension_reading_a_variable_with_getenv(pw, wd):
    """An extension module calls getenv() and secure_getenv() in its init."""
    lib = os.path.join(wd, "lib")
    build_extension(lib)
    env = project(pw, wd, "[preload]\nmodules = pwtext\n", env_add={"PYTHONPATH": lib})
    prog = ["-c", "import pwtext; print(pwtext.VALUE, pwtext.SECURE)"]
    same_warm(pw, prog, wd, env)
    r, pyw = same_cold(pw, prog, wd, env, {"PWT_EXT": "c-level"})
    assert r.out == b"c-level None\n"
    cold_because(pyw, "PWT_EXT")
    r, _ = same_cold(pw, prog, wd, env, {"PWT_EXT_SECURE": "s"})
    assert r.out == b"None s\n"


def test_ctypes_getenv_at_import(pw, wd):
    """A pure-Python module calls the C library's getenv through ctypes."""
    lib = os.path.join(wd, "lib")
    env = project(pw, wd, "[preload]\nmodules = pwtc\n",
                  {"lib/pwtc.py": "import ctypes\nlibc = ctypes.CDLL(None)\n"
                                  "libc.getenv.restype = ctypes.c_char_p\n"
                                  "VALUE = libc.getenv(b'PWT_CTYPES')\n"},
                  env_add={"PYTHONPATH": lib, "PWT_CTYPES": "one"})
    prog = ["-c", "import pwtc; print(pwtc.VALUE)"]
    same_warm(pw, prog, wd, env)
    r, _ = same_cold(pw, prog, wd, env, {"PWT_CTYPES": "two"})
    assert r.out == b"b'two'\n"


def test_unread_variables_and_path_stay_warm(pw, wd):
    """The built-in profile's start-up reads nothing a shell changes often:
    another PATH, PWD or a new variable is still served warm."""
    prog = ["-c", "import os; print(os.environ.get('PWT_NEW'), len(os.environ['PATH']))"]
    for add in ({"PWT_NEW": "1"}, {"PATH": "/opt/none:" + os.environ.get("PATH", "")},
                {"PWD": "/nowhere", "OLDPWD": "/"}):
        real, pyw = pw.run_both(prog, env_add=add)
        assert_same(real, pyw)
        assert_warm(pyw)


# ---------------------------------------------------------------- 6: glibc's start-up environment

PERTURB_PROG = ["-c", "import ctypes\nlibc = ctypes.CDLL(None)\nlibc.malloc.restype = ctypes.c_void_p\n"
                "p = libc.malloc(4000)\nb = ctypes.string_at(p, 4000)\n"
                "print('perturbed' if b == bytes([165 ^ 255]) * 4000 else 'not perturbed')\n"]


@pytest.mark.parametrize("var,value", [("MALLOC_PERTURB_", "165"),
                                       ("GLIBC_TUNABLES", "glibc.malloc.perturb=165")])
def test_malloc_perturb_reaches_warm_runs(pw, wd, var, value):
    """glibc reads these before main.  A zygote started without the variable
    never serves a run with it; the run's own zygote, started with the same
    value, fills new malloc blocks as python3's does."""
    env = pw.make_env(BASE)
    pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    real, _ = same_warm(pw, PERTURB_PROG, wd, env)
    assert real.out == b"not perturbed\n", real.describe()
    real, _ = same_cold(pw, PERTURB_PROG, wd, env, {var: value})
    assert real.out == b"perturbed\n", real.describe()
    perturbed = dict(env, **{var: value})
    pw.ctl("start", "--wait", cwd=wd, env=perturbed, timeout=90)
    real, _ = same_warm(pw, PERTURB_PROG, wd, perturbed)
    assert real.out == b"perturbed\n", real.describe()


def identity_of(res):
    m = re.search(r"identity ([0-9a-f]{16})", res.trace)
    return m.group(1) if m else None


def test_glibc_and_loader_variables_change_the_identity(pw, wd):
    base = identity_of(pw.run_pywarm(["-c", "pass"]))
    assert base
    seen = {base}
    for add in ({"MALLOC_PERTURB_": "1"}, {"MALLOC_ARENA_MAX": "1"}, {"MALLOC_CHECK_": "3"},
                {"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}, {"LD_BIND_NOW": "1"},
                {"LD_LIBRARY_PATH": "/nonexistent"}, {"LOCPATH": wd}, {"GCONV_PATH": wd}):
        r = pw.run_pywarm(["-c", "pass"], env_add=add)
        ident = identity_of(r)
        assert ident and ident not in seen, f"{add}: {r.describe()}"
        seen.add(ident)


def roff_to_text(src):
    """Roff source as running text: macro names dropped, escapes undone."""
    out = []
    for line in src.splitlines():
        if line.startswith("."):
            parts = line.split(None, 1)
            line = parts[1] if len(parts) > 1 else ""
        out.append(line.replace('"', ""))
    text = " ".join(out).replace("\\-", "-").replace("\\(aq", "'")
    return re.sub(r"\\f[BIRP]", "", text)


def identity_names(text):
    """Variable names (NAME or PREFIX*) outside parentheses."""
    while True:
        t = re.sub(r"\([^()]*\)", " ", text)
        if t == text:
            break
        text = t
    return set(re.findall(r"\b[A-Z][A-Z0-9_]+\*?", text))


def code_identity_names():
    out = subprocess.run([PYWARMCTL, "check"], capture_output=True, timeout=30,
                         cwd="/").stdout.decode()
    m = re.search(r"env keys\s+built-in (.*)", out)
    assert m, out
    return set(n.strip() for n in m.group(1).split(","))


def read(*parts):
    with open(os.path.join(REPO, *parts)) as f:
        return f.read()


def test_pywarm_1_lists_the_codes_identity_variables():
    """pywarm(1): "PYTHON* environment variables" names PYTHON*, "Other
    environment variables" the rest (its first paragraph, examples in
    parentheses aside); together exactly what the code uses."""
    src = read("man", "pywarm.1")
    assert re.search(r"^\.SS PYTHON\* environment variables$", src, re.M)
    other = re.search(r"^\.SS Other environment variables\n(.*?)^\.PP", src, re.M | re.S)
    assert other
    names = identity_names(roff_to_text(other.group(1))) | {"PYTHON*"}
    assert names == code_identity_names()


def test_pywarm_ini_5_lists_the_codes_identity_variables():
    src = read("man", "pywarm.ini.5")
    m = re.search(r"^The built-in list:\n(.*?)^Any other variable", src, re.M | re.S)
    assert m
    assert identity_names(roff_to_text(m.group(1))) == code_identity_names()


def test_identity_c_list_is_what_pywarmctl_shows():
    src = read("config", "identity.c")
    m = re.search(r"pw_identity_env\[\] = \{(.*?)NULL", src, re.S)
    assert m
    assert set(re.findall(r'"([^"]+)"', m.group(1))) == code_identity_names()


# ---------------------------------------------------------------- 7: files the C library reads once

TZ_PROG = ["-c", "import time\nprint(time.strftime('%Z %z', time.localtime(1700000000)), time.tzname,"
           " time.timezone)\nimport datetime\n"
           "print(datetime.datetime.fromtimestamp(1700000000).astimezone().isoformat())\n"]


def zone(name):
    path = os.path.join("/usr/share/zoneinfo", name)
    if not os.path.exists(path):
        pytest.skip(f"no time zone data for {name}")
    with open(path, "rb") as f:
        return f.read()


def test_time_zone_file_rewritten_in_place(pw, wd):
    """TZ=:FILE, the file rewritten after the zygote started: glibc's tzset
    keeps its data while TZ keeps its value; a warm run reads it again."""
    tzfile = os.path.join(wd, "zone")
    write_files(wd, {"zone": zone("Europe/Paris")})
    env = project(pw, wd, "[preload]\nmodules = time\n", env_add={"TZ": ":" + tzfile})
    r, _ = same_warm(pw, TZ_PROG, wd, env)
    assert b"CET" in r.out
    with open(tzfile, "r+b") as f:
        f.truncate(0)
        f.write(zone("Asia/Tokyo"))
    r, _ = same_warm(pw, TZ_PROG, wd, env)
    assert b"JST" in r.out


def test_time_zone_name_replaced_in_tzdir(pw, wd):
    """TZ=NAME under TZDIR, the zone file replaced by rename; and a run with
    another TZDIR but the same TZ."""
    zi = os.path.join(wd, "zi")
    write_files(zi, {"Pw/Zone": zone("America/New_York")})
    env = project(pw, wd, "[preload]\nmodules = time\n", env_add={"TZ": "Pw/Zone", "TZDIR": zi})
    r, _ = same_warm(pw, TZ_PROG, wd, env)
    assert b"EST" in r.out
    write_files(zi, {"Pw/.new": zone("Australia/Sydney")})
    os.rename(os.path.join(zi, "Pw/.new"), os.path.join(zi, "Pw/Zone"))
    r, _ = same_warm(pw, TZ_PROG, wd, env)
    assert b"AEDT" in r.out
    zi2 = os.path.join(wd, "zi2")
    write_files(zi2, {"Pw/Zone": zone("Asia/Kolkata")})
    r, _ = same_warm(pw, TZ_PROG, wd, env, {"TZDIR": zi2})
    assert b"IST" in r.out


def localedef(*args):
    exe = shutil.which("localedef")
    if exe is None or not os.path.isdir("/usr/share/i18n/charmaps"):
        pytest.skip("localedef and the locales sources are not installed")
    subprocess.run([exe, "-i", "C", "-f", "UTF-8", *args], check=True, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


LOCALE_PROG = ["-c", "import locale\ntry:\n    print(locale.setlocale(locale.LC_ALL, 'xx_PW.UTF-8'))\n"
               "    print(locale.localeconv()['decimal_point'], locale.nl_langinfo(locale.CODESET))\n"
               "except locale.Error as e:\n    print('locale.Error:', e)\n"]

# The zygote itself asks for the locale (and fails), as a preloaded module
# probing locales would: glibc remembers the failure in the zygote.
LOCALE_PROBE = ("import locale\ntry:\n    locale.setlocale(locale.LC_ALL, 'xx_PW.UTF-8')\n"
                "except locale.Error:\n    pass\n")


def test_locale_created_in_locpath_after_start(pw, wd):
    loc = os.path.join(wd, "loc")
    os.makedirs(loc)
    env = project(pw, wd, "[preload]\nmodules = locale\nwarmup = probe.py\n",
                  {"probe.py": LOCALE_PROBE}, env_add={"LOCPATH": loc})
    r, _ = same_warm(pw, LOCALE_PROG, wd, env)
    assert r.out.startswith(b"locale.Error")
    localedef("--no-archive", os.path.join(loc, "xx_PW.UTF-8"))
    r, _ = same_after_change(pw, LOCALE_PROG, wd, env)
    assert r.out.startswith(b"xx_PW.UTF-8\n"), r.describe()
    r, _ = warm_again(pw, LOCALE_PROG, wd, env)
    assert r.out.startswith(b"xx_PW.UTF-8\n"), r.describe()


# -- in a private mount namespace: the system's locale directory, archive and
# nsswitch.conf are replaced there by files of the test's, so nothing outside
# the test sees a change.

NS_DRIVER = r'''
import dataclasses, itertools, json, os, subprocess, sys
sys.path.insert(0, sys.argv[1])
import conftest
spec = json.load(open(sys.argv[2]))
h = conftest.Harness.__new__(conftest.Harness)
h.tmp, h.neutral, h.traces, h.env = spec["tmp"], spec["wd"], spec["traces"], spec["env"]
h._seq = itertools.count()
results = []
def both(args):
    results.extend(h.run_both(args, cwd=spec["wd"]))
def warm_again(args):
    for i in range(30):
        start()
        r = h.run_both(args, cwd=spec["wd"])
        if r[1].warm:
            break
    results.extend(r)
def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def start():
    h.ctl("start", "--wait", cwd=spec["wd"], timeout=90)
try:
    exec(spec["code"])
finally:
    h.stop_all()
    with open(spec["result"], "w") as f:
        json.dump([dict(dataclasses.asdict(r), out=r.out.decode("latin-1"),
                        err=r.err.decode("latin-1")) for r in results], f)
'''


def in_mount_ns(pw, wd, code, env):
    """Run code (NS_DRIVER's both/sh/start) in a private mount namespace with
    its own socket directory (its own zygote); the Results of both()."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "--propagation", "private", "true"],
            capture_output=True, timeout=30).returncode != 0:
        pytest.skip("cannot make a private mount namespace here")
    run_dir = tempfile.mkdtemp(prefix="ns", dir=pw.tmp)     # short: a socket path
    traces = os.path.join(wd, "traces")
    os.makedirs(traces)
    spec = {"tmp": pw.tmp, "wd": wd, "traces": traces, "code": code,
            "env": dict(env, XDG_RUNTIME_DIR=run_dir), "result": os.path.join(wd, "result.json")}
    with open(os.path.join(wd, "spec.json"), "w") as f:
        json.dump(spec, f)
    with open(os.path.join(wd, "driver.py"), "w") as f:
        f.write(NS_DRIVER)
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "/usr/bin/python3",
                        os.path.join(wd, "driver.py"), HERE, os.path.join(wd, "spec.json")],
                       capture_output=True, timeout=400,
                       env=dict(env, PYWARM_BUILDDIR=BUILD, PYWARM_REAL_PYTHON=REAL))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    with open(spec["result"]) as f:
        raw = json.load(f)
    return [Result(**dict(d, out=d["out"].encode("latin-1"), err=d["err"].encode("latin-1")))
            for d in raw]


def private_locale_dir(wd):
    """A copy of /usr/lib/locale, to be mounted over it."""
    if shutil.which("localedef") is None or not os.path.isdir("/usr/share/i18n/charmaps"):
        pytest.skip("localedef and the locales sources are not installed")
    loc = os.path.join(wd, "syslocale")
    shutil.copytree("/usr/lib/locale", loc, symlinks=True)
    for name in os.listdir(loc):
        if name != "C.utf8":
            p = os.path.join(loc, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
    return loc


LOCALEDEF = "sh('localedef', '-i', 'C', '-f', 'UTF-8', {args})\n"


def locale_ns_case(pw, wd, before, after, probe):
    """In the namespace: before (a localedef or nothing) with the zygote not
    yet started; start it; run (warm); after; run (python3 sees the new
    locale; pywarm cold or from a successor); wait for a serving zygote; run
    (warm)."""
    loc = private_locale_dir(wd)
    ini = "[preload]\nmodules = locale\n" + ("warmup = probe.py\n" if probe else "")
    write_files(wd, {".pywarm.ini": ini, "probe.py": LOCALE_PROBE})
    pw.trust(wd)
    env = pw.make_env(BASE)
    code = (f"sh('mount', '--bind', {loc!r}, '/usr/lib/locale')\n" + before +
            f"start()\nboth({LOCALE_PROG!r})\n" + after +
            f"both({LOCALE_PROG!r})\nwarm_again({LOCALE_PROG!r})\n")
    res = in_mount_ns(pw, wd, code, env)
    assert len(res) == 6
    for real, pyw in zip(res[0::2], res[1::2]):
        assert_same(real, pyw)
    assert_warm(res[1])
    assert res[2].out.startswith(b"xx_PW.UTF-8\n"), res[2].describe()
    assert_warm(res[5])
    assert res[4].out.startswith(b"xx_PW.UTF-8\n"), res[4].describe()
    return res


def test_locale_archive_installed_after_start(pw, wd):
    """No archive when the zygote started (glibc remembers that it failed to
    open it); localedef then creates it with the wanted locale."""
    res = locale_ns_case(pw, wd, "", LOCALEDEF.format(args="'xx_PW.UTF-8'"), probe=False)
    assert res[0].out.startswith(b"locale.Error")


def test_locale_added_to_existing_archive_after_start(pw, wd):
    res = locale_ns_case(pw, wd, LOCALEDEF.format(args="'yy_PW.UTF-8'"),
                         LOCALEDEF.format(args="'xx_PW.UTF-8'"), probe=True)
    assert res[0].out.startswith(b"locale.Error")


def test_locale_directory_created_after_start(pw, wd):
    res = locale_ns_case(pw, wd, "", LOCALEDEF.format(
        args="'--no-archive', '/usr/lib/locale/xx_PW.UTF-8'"), probe=True)
    assert res[0].out.startswith(b"locale.Error")


def test_nsswitch_conf_changed_after_start(pw, wd):
    """The zygote looked up a user while warming (the name service switch is
    loaded); then nsswitch.conf sends passwd to a service that does not exist."""
    conf = os.path.join(wd, "nsswitch.conf")
    write_files(wd, {"nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
                     ".pywarm.ini": "[preload]\nmodules = pwd\nwarmup = probe.py\n",
                     "probe.py": "import pwd\npwd.getpwuid(0)\n"})
    pw.trust(wd)
    prog = ["-c", "import pwd\ntry:\n    print(pwd.getpwnam('root').pw_uid)\n"
            "except KeyError as e:\n    print('KeyError', e)\n"]
    code = (f"sh('mount', '--bind', {conf!r}, '/etc/nsswitch.conf')\nstart()\nboth({prog!r})\n"
            f"with open({conf!r}, 'w') as f:\n    f.write('passwd: pwnosuchservice\\ngroup: files\\n')\n"
            f"both({prog!r})\n")
    res = in_mount_ns(pw, wd, code, pw.make_env(BASE))
    assert len(res) == 4
    for real, pyw in zip(res[0::2], res[1::2]):
        assert_same(real, pyw)
    assert_warm(res[1])
    assert res[0].out == b"0\n" and res[2].out.startswith(b"KeyError"), res[2].describe()


GCONV_PROG = ["-c", "import ctypes\nlibc = ctypes.CDLL(None)\nlibc.iconv_open.restype = ctypes.c_void_p\n"
              "h = libc.iconv_open(b'UTF-8', b'PWTEST')\n"
              "print('no converter' if h in (None, ctypes.c_void_p(-1).value) else 'converter')\n"]


def test_gconv_module_configuration_added_after_start(pw, wd):
    """GCONV_PATH (identity) names a directory; the zygote opened a converter
    while warming, so the C library loaded its configuration; an alias added
    there afterwards is seen."""
    gc = os.path.join(wd, "gconv")
    os.makedirs(gc)
    probe = ("import ctypes\nlibc = ctypes.CDLL(None)\nlibc.iconv_open.restype = ctypes.c_void_p\n"
             "h = libc.iconv_open(b'UTF-8', b'ISO-8859-1')\nlibc.iconv_close(ctypes.c_void_p(h))\n")
    env = project(pw, wd, "[preload]\nmodules = ctypes\nwarmup = probe.py\n",
                  {"probe.py": probe}, env_add={"GCONV_PATH": gc})
    r, _ = same_warm(pw, GCONV_PROG, wd, env)
    assert r.out == b"no converter\n"
    write_files(gc, {"gconv-modules": "alias\tPWTEST//\tISO-8859-1//\n"})
    r, _ = same_after_change(pw, GCONV_PROG, wd, env)
    assert r.out == b"converter\n", r.describe()
    warm_again(pw, GCONV_PROG, wd, env)


def test_localtime_rewritten_with_its_old_mtime(pw, wd):
    """TZ unset: /etc/localtime (here a file of the test's, mounted over it)
    rewritten in place with its old modification time, as a copy that keeps
    times does: glibc's tzset sees the same inode and mtime and keeps its
    data; python3 reads the file at start, and so does a warm run."""
    zf = os.path.join(wd, "localtime")
    write_files(wd, {"localtime": zone("Europe/Paris"),
                     ".pywarm.ini": "[preload]\nmodules = time\n"})
    pw.trust(wd)
    code = (f"sh('mount', '--bind', {zf!r}, '/etc/localtime')\nstart()\nboth({TZ_PROG!r})\n"
            f"st = os.stat({zf!r})\n"
            f"with open({zf!r}, 'r+b') as f:\n    f.truncate(0)\n    f.write({zone('Asia/Tokyo')!r})\n"
            f"os.utime({zf!r}, ns=(st.st_atime_ns, st.st_mtime_ns))\n"
            f"both({TZ_PROG!r})\n")
    res = in_mount_ns(pw, wd, code, pw.make_env(BASE, remove=("TZ", "TZDIR")))
    assert len(res) == 4
    for real, pyw in zip(res[0::2], res[1::2]):
        assert_same(real, pyw)
        assert_warm(pyw)
    assert b"CET" in res[0].out and b"JST" in res[2].out, res[2].describe()


def test_locale_alias_added_after_start(pw, wd):
    """The zygote asked for an unknown locale name while warming, so glibc
    read locale.alias (once, for good); then an alias for it is added."""
    alias = os.path.join(wd, "locale.alias")
    shutil.copyfile("/usr/share/locale/locale.alias", alias)
    probe = ("import locale\ntry:\n    locale.setlocale(locale.LC_ALL, 'pwalias')\n"
             "except locale.Error:\n    pass\n")
    write_files(wd, {".pywarm.ini": "[preload]\nmodules = locale\nwarmup = probe.py\n",
                     "probe.py": probe})
    pw.trust(wd)
    prog = ["-c", "import locale\ntry:\n    print(locale.setlocale(locale.LC_ALL, 'pwalias'))\n"
            "except locale.Error as e:\n    print('locale.Error:', e)\n"]
    code = (f"sh('mount', '--bind', {alias!r}, '/usr/share/locale/locale.alias')\nstart()\n"
            f"both({prog!r})\n"
            f"with open({alias!r}, 'a') as f:\n    f.write('pwalias C.UTF-8\\n')\n"
            f"both({prog!r})\nwarm_again({prog!r})\n")
    res = in_mount_ns(pw, wd, code, pw.make_env(BASE))
    assert len(res) == 6
    for real, pyw in zip(res[0::2], res[1::2]):
        assert_same(real, pyw)
    assert_warm(res[1])
    assert_warm(res[5])
    assert res[0].out.startswith(b"locale.Error") and res[2].out == b"pwalias\n", res[2].describe()
