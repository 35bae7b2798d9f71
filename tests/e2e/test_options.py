# test_options.py: every python3 option and PYTHON* variable of pywarm(1)'s table, run under python3 and pywarm and compared byte for byte.
#
# Each row names how pywarm serves it: "warm" (emulated by the default
# zygote, or by a zygote started with those options or that environment:
# the test waits until it serves, then asserts the compared run was warm),
# "cold" (asserts the run fell back), or "any" (python3 fails at start-up,
# so no zygote can serve; only the comparison counts).

import os
import re
import signal
import textwrap

import pytest

from conftest import EVENT, REAL, SELF, assert_cold, assert_same, assert_warm, proc_alive, write_files
from helpers import poll_until, warm_up  # noqa: F401 - test_repl imports it from here

PROBE = textwrap.dedent('''\
    """probe docstring"""
    import sys, os, warnings, locale, _imp, faulthandler, tracemalloc
    def filt(f):
        a, m, c, mod, l = f
        return (a, m and m.pattern, c.__name__, mod and mod.pattern, l)
    print("flags", sys.flags)
    print("xoptions", sorted(sys._xoptions.items()))
    print("warnoptions", sys.warnoptions)
    print("filters", [filt(f) for f in warnings.filters])
    print("bytecode", sys.dont_write_bytecode, sys.pycache_prefix)
    print("stdio", [(s.encoding, s.errors, s.line_buffering, s.write_through)
                    for s in (sys.stdin, sys.stdout, sys.stderr) if s is not None])
    print("path", sys.path)
    print("argv", sys.argv, sys.orig_argv[1:])
    print("debug", __debug__, __doc__)
    print("maxdigits", sys.get_int_max_str_digits())
    if os.environ.get("PYTHONHASHSEED"):
        print("hash", hash("abc"), hash(b"abc"), list({"alpha", "beta", "gamma", "delta"}))
    print("fs", sys.getfilesystemencoding(), sys.getfilesystemencodeerrors(),
          locale.getpreferredencoding(False), locale.setlocale(locale.LC_CTYPE))
    print("site", "site" in sys.modules, getattr(sys.modules.get("site"), "ENABLE_USER_SITE", None))
    print("exe", sys.executable, sys.prefix, sys.exec_prefix, sys.platlibdir)
    print("faulthandler", faulthandler.is_enabled(), "tracemalloc", tracemalloc.is_tracing())
    print("pycs", _imp.check_hash_based_pycs)
    print("env", sorted(k for k in os.environ if k.startswith("PYTHON")))
    print("bytes", b"a" == "a")
    warnings.warn("probe deprecation", DeprecationWarning)
    warnings.warn("probe user")
    with open(__file__) as f:
        pass
    assert False, "assertion"
''')

SKIPLINE = "this first line is not Python\nimport sys\nprint('line', sys._getframe().f_lineno)\n1/0\n"
STDIN_PROG = b"import sys\nprint('from stdin', sys.argv, sys.flags.inspect)\n"
REPL_INPUT = b"x = 6\nprint(x * 7)\nif x:\n    print('block')\n\n1/0\nimport sys; print(sys.flags.interactive, sys.flags.inspect)\n"

# (id, argv with {p} for the probe path, extra environment, stdin bytes, expectation)
OPTION_CASES = [
    # emulated by the default zygote
    ("none", ["{p}"], None, None, "warm"),
    ("-u", ["-u", "{p}"], None, None, "warm"),
    ("-B", ["-B", "{p}"], None, None, "warm"),
    ("-q", ["-q", "{p}"], None, None, "warm"),
    ("-P", ["-P", "{p}"], None, None, "warm"),
    ("-R", ["-R", "{p}"], None, None, "warm"),
    ("-t", ["-t", "{p}"], None, None, "warm"),
    ("-uBqP-cluster", ["-uBqP", "{p}", "-x"], None, None, "warm"),
    ("-x", ["-x", "{skip}"], None, None, "warm"),
    ("-uBc", ["-uBc", "import sys; print(sys.flags, sys.argv); assert 0"], None, None, "warm"),
    ("-P-m", ["-P", "-m", "json.tool", "--sort-keys"], None, b'{"b": 1, "a": [2]}', "warm"),
    ("--", ["--", "{p}", "--", "-c"], None, None, "warm"),
    ("-u--", ["-u", "--", "{p}"], None, None, "warm"),
    ("dash", ["-u", "-", "a", "-b"], None, STDIN_PROG, "warm"),
    ("dash-after-dashdash", ["--", "-", "x"], None, STDIN_PROG, "warm"),
    ("options-after-script", ["{p}", "-O", "-c", "x", "-X", "dev"], None, None, "warm"),
    ("-i-c", ["-i", "-c", "y = 1"], None, REPL_INPUT, "warm"),
    ("-i-script", ["-i", "{p}"], None, REPL_INPUT, "warm"),
    ("-i-stdin", ["-i"], None, REPL_INPUT, "warm"),
    ("-iq", ["-iq"], None, REPL_INPUT, "warm"),
    ("-i-systemexit", ["-i", "-c", "raise SystemExit(3)"], None, b"print('after')\n", "warm"),
    ("-i-exit-in-repl", ["-i", "-c", "pass"], None, b"raise SystemExit(4)\n", "warm"),
    ("-i-eof-after-error", ["-i", "-c", "1/0"], None, b"", "warm"),
    # served by a zygote started with the options
    ("-b", ["-b", "{p}"], None, None, "warm"),
    ("-bb", ["-bb", "{p}"], None, None, "warm"),
    ("-d", ["-d", "{p}"], None, None, "warm"),
    ("-E", ["-E", "{p}"], {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "error"}, None, "warm"),
    ("-I", ["-I", "{p}"], None, None, "warm"),
    ("-O", ["-O", "{p}"], None, None, "warm"),
    ("-OO", ["-OO", "{p}"], None, None, "warm"),
    ("-s", ["-s", "{p}"], None, None, "warm"),
    ("-S", ["-S", "{p}"], None, None, "warm"),
    ("-sS-cluster", ["-sSu", "{p}"], None, None, "warm"),
    ("-W-error", ["-W", "error", "{p}"], None, None, "warm"),
    ("-Wd", ["-Wd", "{p}"], None, None, "warm"),
    ("-W-ignore-category", ["-W", "ignore::DeprecationWarning", "{p}"], None, None, "warm"),
    ("-W-full-filter", ["-W", "error:probe:UserWarning::0", "{p}"], None, None, "warm"),
    ("-W-twice", ["-W", "ignore", "-W", "always::UserWarning", "{p}"], None, None, "warm"),
    ("-W-prefix-action", ["-Wi", "{p}"], None, None, "warm"),
    ("-W-all", ["-W", "all", "{p}"], None, None, "warm"),
    ("-X-dev", ["-X", "dev", "{p}"], None, None, "warm"),
    ("-X-utf8", ["-X", "utf8", "{p}"], None, None, "warm"),
    ("-X-utf8=0", ["-X", "utf8=0", "{p}"], {"LC_ALL": "C.UTF-8"}, None, "warm"),
    ("-X-int_max_str_digits", ["-X", "int_max_str_digits=1000", "{p}"], None, None, "warm"),
    ("-X-int_max_str_digits=0", ["-Xint_max_str_digits=0", "{p}"], None, None, "warm"),
    ("-X-warn_default_encoding", ["-X", "warn_default_encoding", "{p}"], None, None, "warm"),
    ("-X-no_debug_ranges", ["-X", "no_debug_ranges", "-c", "x = None\nx.y"], None, None, "warm"),
    ("-X-pycache_prefix", ["-X", "pycache_prefix={w}/pc", "{p}"], None, None, "warm"),
    ("-X-frozen_modules=off", ["-X", "frozen_modules=off", "{p}"], None, None, "warm"),
    ("-X-faulthandler", ["-X", "faulthandler", "{p}"], None, None, "warm"),
    ("-X-showrefcount", ["-X", "showrefcount", "{p}"], None, None, "warm"),
    ("-X-custom", ["-X", "custom=1", "-Xother", "{p}"], None, None, "warm"),
    ("--check-hash-based-pycs", ["--check-hash-based-pycs", "always", "{p}"], None, None, "warm"),
    ("-O-u-W-combined", ["-O", "-u", "-W", "error::UserWarning", "{p}"], None, None, "warm"),
    ("-I-i", ["-I", "-i", "-c", "z = 2"], None, b"print(z)\n", "warm"),
    # python3 prints and exits, refuses, or traces start-up: cold
    ("-h", ["-h"], None, None, "cold"),
    ("-?", ["-?"], None, None, "cold"),
    ("--help", ["--help"], None, None, "cold"),
    ("--help-env", ["--help-env"], None, None, "cold"),
    ("--help-xoptions", ["--help-xoptions"], None, None, "cold"),
    ("--help-all", ["--help-all"], None, None, "cold"),
    ("--version", ["--version"], None, None, "cold"),
    ("-V", ["-V"], None, None, "cold"),
    ("-VV", ["-VV"], None, None, "cold"),
    ("-V-after-c", ["-c", "print(1)", "-V"], None, None, "warm"),
    ("-v", ["-v", "-c", "pass"], None, None, "cold-out"),
    ("-X-importtime", ["-X", "importtime", "-c", "print(1)"], None, None, "cold-out"),
    ("-X-tracemalloc", ["-X", "tracemalloc", "{p}"], None, None, "cold"),
    ("-X-tracemalloc=5", ["-X", "tracemalloc=5", "{p}"], None, None, "cold"),
    ("-Z", ["-Z"], None, None, "cold"),
    ("-J", ["-J", "{p}"], None, None, "cold"),
    ("-c-missing", ["-c"], None, None, "cold"),
    ("-m-missing", ["-m"], None, None, "cold"),
    ("-W-missing", ["-W"], None, None, "cold"),
    ("-X-missing", ["-X"], None, None, "cold"),
    ("-W-bogus", ["-W", "bogus", "{p}"], None, None, "cold"),
    ("-W-unknown-category", ["-W", "error::NoSuchWarning", "{p}"], None, None, "cold"),
    ("-W-module-category", ["-W", "error::json.JSONDecodeError", "{p}"], None, None, "cold"),
    ("-W-bad-lineno", ["-W", "error::Warning::x", "{p}"], None, None, "cold"),
    ("-X-int_max_str_digits-bad", ["-X", "int_max_str_digits=5", "{p}"], None, None, "cold"),
    ("-X-frozen_modules-bad", ["-X", "frozen_modules=maybe", "{p}"], None, None, "cold"),
    ("-X-utf8-bad", ["-X", "utf8=2", "{p}"], None, None, "cold"),
    ("--check-hash-based-pycs-bad", ["--check-hash-based-pycs", "sometimes", "{p}"], None, None, "cold"),
    ("--check-hash-based-pycs=", ["--check-hash-based-pycs=always", "{p}"], None, None, "cold"),
    ("--unknown", ["--unknown", "{p}"], None, None, "cold"),
    ("-c-attached", ["-cprint(1)"], None, None, "cold"),
]

# (id, extra environment (values may use {w}), argv, stdin, expectation)
ENV_CASES = [
    ("PYTHONPATH", {"PYTHONPATH": "{w}/extra:{w}"}, ["{p}"], None, "warm"),
    ("PYTHONHOME", {"PYTHONHOME": "{prefix}"}, ["{p}"], None, "warm"),
    ("PYTHONHOME-bad", {"PYTHONHOME": "{w}/nowhere"}, ["{p}"], None, "any"),
    ("PYTHONSAFEPATH", {"PYTHONSAFEPATH": "1"}, ["{p}"], None, "warm"),
    ("PYTHONUNBUFFERED", {"PYTHONUNBUFFERED": "1"}, ["{p}"], None, "warm"),
    ("PYTHONDONTWRITEBYTECODE", {"PYTHONDONTWRITEBYTECODE": "1"}, ["{p}"], None, "warm"),
    ("PYTHONWARNINGS", {"PYTHONWARNINGS": "error::DeprecationWarning,ignore::UserWarning"}, ["{p}"], None, "warm"),
    ("PYTHONWARNINGS-bad", {"PYTHONWARNINGS": "bogus"}, ["{p}"], None, "cold"),
    ("PYTHONWARNINGS-4095-bytes", {"PYTHONWARNINGS": ",".join(["d"] * 2048)}, ["{p}"], None, "warm"),
    ("PYTHONIOENCODING", {"PYTHONIOENCODING": "latin-1:replace"}, ["-c", "print('\\u00e9\\u2713')"], None, "warm"),
    ("PYTHONIOENCODING-errors-only", {"PYTHONIOENCODING": ":backslashreplace"}, ["{p}"], None, "warm"),
    ("PYTHONIOENCODING-bad", {"PYTHONIOENCODING": "nosuchcodec"}, ["{p}"], None, "any"),
    ("PYTHONUTF8=1", {"PYTHONUTF8": "1", "LC_ALL": "C"}, ["{p}"], None, "warm"),
    ("PYTHONUTF8=0", {"PYTHONUTF8": "0"}, ["{p}"], None, "warm"),
    ("PYTHONUTF8-bad", {"PYTHONUTF8": "2"}, ["{p}"], None, "any"),
    ("PYTHONHASHSEED=0", {"PYTHONHASHSEED": "0"}, ["{p}"], None, "warm"),
    ("PYTHONHASHSEED=12345", {"PYTHONHASHSEED": "12345"}, ["{p}"], None, "warm"),
    ("PYTHONHASHSEED-bad", {"PYTHONHASHSEED": "-1"}, ["{p}"], None, "any"),
    ("PYTHONOPTIMIZE", {"PYTHONOPTIMIZE": "2"}, ["{p}"], None, "warm"),
    ("PYTHONINSPECT", {"PYTHONINSPECT": "1"}, ["-c", "x = 5"], b"print(x)\n", "warm"),
    ("PYTHONINSPECT-set-by-program", None,
     ["-c", "import os; os.environ['PYTHONINSPECT'] = '1'; y = 3"], b"print(y)\n", "warm"),
    ("PYTHONSTARTUP-i", {"PYTHONSTARTUP": "{w}/startup.py"}, ["-i"], b"print(started)\n", "warm"),
    ("PYTHONSTARTUP-script", {"PYTHONSTARTUP": "{w}/startup.py"}, ["{p}"], None, "warm"),
    ("PYTHONSTARTUP-missing", {"PYTHONSTARTUP": "{w}/missing.py"}, ["-i"], b"print(1)\n", "warm"),
    ("PYTHONNOUSERSITE", {"PYTHONNOUSERSITE": "1"}, ["{p}"], None, "warm"),
    ("PYTHONUSERBASE", {"PYTHONUSERBASE": "{w}/ub"}, ["-c", "import site, sys; print(site.USER_BASE, site.USER_SITE, sys.path)"], None, "warm"),
    ("PYTHONPYCACHEPREFIX", {"PYTHONPYCACHEPREFIX": "{w}/pc"}, ["{p}"], None, "warm"),
    ("PYTHONBREAKPOINT=0", {"PYTHONBREAKPOINT": "0"}, ["-c", "breakpoint(); print('passed')"], None, "warm"),
    ("PYTHONBREAKPOINT-hook", {"PYTHONBREAKPOINT": "hookmod.hook"}, ["-c", "breakpoint(1, k=2)"], None, "warm"),
    ("PYTHONFAULTHANDLER", {"PYTHONFAULTHANDLER": "1"}, ["{p}"], None, "warm"),
    ("PYTHONTRACEMALLOC", {"PYTHONTRACEMALLOC": "1"}, ["{p}"], None, "cold"),
    ("PYTHONINTMAXSTRDIGITS", {"PYTHONINTMAXSTRDIGITS": "800"}, ["{p}"], None, "warm"),
    ("PYTHONINTMAXSTRDIGITS-bad", {"PYTHONINTMAXSTRDIGITS": "7"}, ["{p}"], None, "any"),
    ("PYTHONMALLOC=malloc", {"PYTHONMALLOC": "malloc"}, ["{p}"], None, "warm"),
    ("PYTHONMALLOC=debug", {"PYTHONMALLOC": "debug"}, ["{p}"], None, "warm"),
    ("PYTHONDEVMODE", {"PYTHONDEVMODE": "1"}, ["{p}"], None, "warm"),
    ("PYTHONVERBOSE", {"PYTHONVERBOSE": "1"}, ["-c", "pass"], None, "cold-out"),
    ("PYTHONPROFILEIMPORTTIME", {"PYTHONPROFILEIMPORTTIME": "1"}, ["-c", "print(1)"], None, "cold-out"),
    ("PYTHONCOERCECLOCALE", {"PYTHONCOERCECLOCALE": "warn", "LC_ALL": "C"}, ["{p}"], None, "cold"),
    ("PYTHONCASEOK", {"PYTHONCASEOK": "1"}, ["-c", "import Mymod"], None, "warm"),
    ("PYTHONPLATLIBDIR", {"PYTHONPLATLIBDIR": "lib"}, ["{p}"], None, "warm"),
    ("PYTHONPLATLIBDIR-other", {"PYTHONPLATLIBDIR": "lib64"}, ["{p}"], None, "any"),
    ("PYTHONNODEBUGRANGES", {"PYTHONNODEBUGRANGES": "1"}, ["-c", "x = None\nx.y"], None, "warm"),
    ("PYTHONWARNDEFAULTENCODING", {"PYTHONWARNDEFAULTENCODING": "1"}, ["{p}"], None, "warm"),
    ("PYTHONEXECUTABLE", {"PYTHONEXECUTABLE": "/bin/elsewhere"}, ["{p}"], None, "warm"),
    ("PYTHONDEBUG", {"PYTHONDEBUG": "1"}, ["{p}"], None, "warm"),
    ("PYTHON-empty-values", {"PYTHONOPTIMIZE": "", "PYTHONWARNINGS": "", "PYTHONSTARTUP": ""}, ["{p}"], None, "warm"),
    # what python3 derives from the rest of the environment
    ("LANG=C", {"LANG": "C", "LC_ALL": "", "LC_CTYPE": ""}, ["{p}"], None, "warm"),
    ("LC_ALL=C", {"LC_ALL": "C"}, ["{p}"], None, "warm"),
    ("LC_ALL=POSIX", {"LC_ALL": "POSIX"}, ["-c", "import os, sys; print(os.environ.get('LC_CTYPE'), sys.flags.utf8_mode, sys.stdout.encoding)"], None, "warm"),
    ("LC_CTYPE=C", {"LC_CTYPE": "C", "LANG": "C.UTF-8"}, ["{p}"], None, "warm"),
    ("LC_ALL=C.UTF-8", {"LC_ALL": "C.UTF-8"}, ["{p}"], None, "warm"),
    ("LANG-unknown", {"LANG": "xx_YY.UTF-8"}, ["{p}"], None, "warm"),
    ("coercion-sets-LC_CTYPE", {"LC_ALL": "", "LANG": "C", "LC_CTYPE": ""},
     ["-c", "import os, locale; print(os.environ.get('LC_CTYPE'), locale.setlocale(locale.LC_CTYPE))"], None, "warm"),
]

CACHE_PROG = textwrap.dedent("""\
    import os, sys, time, tempfile, site, logging, platform, locale, getpass, shutil
    import mimetypes, ssl, sysconfig
    print("tz", time.tzname, time.timezone, time.daylight, time.strftime("%Z", time.localtime(0)))
    print("tmp", tempfile.gettempdir(), os.path.dirname(tempfile.mkdtemp()) == tempfile.gettempdir())
    print("home", os.path.expanduser("~"), site.USER_BASE, site.USER_SITE, site.getuserbase())
    print("sysconfig", sysconfig.get_config_var("userbase"), sysconfig.get_paths("posix_user")["purelib"])
    print("logging", logging.makeLogRecord({}).relativeCreated < 3000)
    print("platform", platform.node() == os.uname().nodename, platform.system())
    print("locale", locale.getlocale(), locale.getpreferredencoding(False), sys.flags.utf8_mode)
    print("user", getpass.getuser())
    print("columns", shutil.get_terminal_size())
    print("mime", mimetypes.guess_type("x.json"))
    print("ssl", ssl.get_default_verify_paths().cafile, ssl.get_default_verify_paths().openssl_cafile_env)
    print("execpath", os.get_exec_path())
""")

# Values the zygote computed from its own environment at start-up must be
# the caller's: (id, extra environment).
CACHE_CASES = [
    ("plain", {}),
    ("TZ", {"TZ": "Asia/Tokyo"}),
    ("TZ-posix", {"TZ": "EST+5EDT,M3.2.0/2,M11.1.0/2"}),
    ("TMPDIR", {"TMPDIR": "{w}/tmp"}),
    ("HOME", {"HOME": "{w}/home"}),
    ("LANG=C", {"LANG": "C", "LC_ALL": ""}),
    ("USER", {"USER": "someone", "LOGNAME": "someone-else"}),
    ("COLUMNS", {"COLUMNS": "123", "LINES": "45"}),
    ("SSL_CERT_FILE", {"SSL_CERT_FILE": "{w}/ca.pem"}),
    ("PATH", {"PATH": "/nowhere:/usr/bin"}),
]


def _fmt(s, wd):
    prefix = os.path.dirname(os.path.dirname(REAL))
    return (s.replace("{w}", wd).replace("{p}", os.path.join(wd, "probe.py"))
            .replace("{skip}", os.path.join(wd, "skip.py")).replace("{prefix}", prefix))


def _files(wd):
    write_files(wd, {
        "probe.py": PROBE,
        "skip.py": SKIPLINE,
        "startup.py": "started = 'yes'\nprint('startup ran')\n",
        "hookmod.py": "def hook(*a, **k):\n    print('hook', a, k)\n",
        "mymod.py": "print('mymod')\n",
        "extra/.keep": "",
        "tmp/.keep": "",
        "home/.keep": "",
        "ub/.keep": "",
    })


def _is_zygote(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() == "pywarm-zygote"
    except OSError:
        return False


def extra_zygotes(pw):
    """Pids of zygotes other than the session's (a zygote still warming may
    be listed with pid 0: never signal that, it is our own process group)."""
    blocks, _ = pw.status_blocks()
    pids = []
    for b in blocks:
        v = b.get("pid", "").split()
        if v and v[0].isdigit() and int(v[0]) > 1 and int(v[0]) != pw.zygote_pid \
                and _is_zygote(int(v[0])):
            pids.append(int(v[0]))
    return pids


@pytest.fixture
def stop_extra(pw):
    """Stop the zygotes a test started for its options or environment."""
    yield
    if SELF:
        return
    pids = extra_zygotes(pw)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    poll_until(lambda: not any(proc_alive(p) for p in pids), 10)


def _env(add, wd):
    return {k: _fmt(v, wd) for k, v in (add or {}).items()}


def _check(pw, wd, args, env, stdin, expect):
    if expect.startswith("warm"):
        warm_up(pw, args, env, wd)
    real, pyw = pw.run_both(args, cwd=wd, env_add=env, input=stdin)
    if expect == "cold-out":
        # the trace of imports or their timing varies between any two runs
        assert_same(real, pyw, err=False)
    elif expect == "any":
        # a fatal start-up error names the thread, whose address varies
        assert_same(real, pyw, err=False)
        thread = re.compile(rb"Current thread 0x[0-9a-f]+")
        assert thread.sub(b"T", real.err) == thread.sub(b"T", pyw.err), (real.describe(), pyw.describe())
    else:
        assert_same(real, pyw)
    if expect.startswith("warm"):
        assert_warm(pyw)
    elif expect.startswith("cold"):
        assert_cold(pyw)
    return real, pyw


@pytest.mark.parametrize("case", OPTION_CASES, ids=[c[0] for c in OPTION_CASES])
def test_option(pw, wd, stop_extra, case):
    _id, argv, env, stdin, expect = case
    _files(wd)
    _check(pw, wd, [_fmt(a, wd) for a in argv], _env(env, wd), stdin, expect)


@pytest.mark.parametrize("case", ENV_CASES, ids=[c[0] for c in ENV_CASES])
def test_environment_variable(pw, wd, stop_extra, case):
    _id, env, argv, stdin, expect = case
    _files(wd)
    _check(pw, wd, [_fmt(a, wd) for a in argv], _env(env, wd), stdin, expect)


# (id, PYTHONWARNINGS, whether the launcher leaves the run to python3 for it):
# a filter python3 would complain about or import for, an empty entry
# anywhere, or a value of 4096 bytes or more.
WARNINGS_COLD = "a PYTHONWARNINGS entry python3 would complain about or import for"
WARNINGS_CASES = [
    ("one", "default", False),
    ("two", "error::DeprecationWarning,ignore::UserWarning", False),
    ("fields", "ignore::DeprecationWarning:json:0,always:x", False),
    ("bad", "bogus", True),
    ("bad-second", "default,bogus", True),
    ("six-fields", "ignore:::::", True),
    ("empty-entry", "default,,error", True),
    ("leading-comma", ",default", True),
    ("trailing-comma", "default,", True),
    ("comma", ",", True),
    ("4095-bytes", ",".join(["d"] * 2048), False),
    ("4096-bytes", ",".join(["d"] * 2047 + ["de"]), True),
]


@pytest.mark.parametrize("case", WARNINGS_CASES, ids=[c[0] for c in WARNINGS_CASES])
def test_pythonwarnings_left_to_python3(pw, wd, stop_extra, case):
    """The launcher leaves a run to python3 for its PYTHONWARNINGS in exactly these cases."""
    _id, value, cold = case
    if SELF:
        return
    r = pw.run_pywarm(["-c", "pass"], env_add={"PYTHONWARNINGS": value}, cwd=wd)
    reasons = [m.group(3) for m in (re.match(EVENT, l) for l in r.launcher_lines) if m]
    assert (WARNINGS_COLD in reasons) == cold, r.describe()


def test_hash_seed_gives_python3_values(pw, wd, stop_extra):
    """An explicit PYTHONHASHSEED: hash() values are python3's exactly, warm."""
    prog = "print(hash('abc'), hash(b'abc'), hash(('x', 1)), list({'p', 'q', 'r', 's', 't'}))"
    for seed in ("0", "4242"):
        env = {"PYTHONHASHSEED": seed}
        warm_up(pw, [], env, wd)
        real, pyw = pw.run_both(["-c", prog], cwd=wd, env_add=env)
        assert_same(real, pyw)
        assert_warm(pyw)
        assert real.out != b"" and real.rc == 0


@pytest.mark.parametrize("case", CACHE_CASES, ids=[c[0] for c in CACHE_CASES])
def test_start_up_caches(pw, wd, stop_extra, case):
    _id, env = case
    _files(wd)
    if not os.environ.get("PYWARM_TEST_USER_PROFILE"):
        _check(pw, wd, ["-c", CACHE_PROG], _env(env, wd), None, "warm")
        return
    # Under a profile that preloads more (a learned one), a module may have
    # read the variable at import (sqlite3 reads TMPDIR): the run must then
    # fall back cold, saying so; otherwise it is served warm.
    env = _env(env, wd)
    read = [f"{k} differs from the zygote's start, which read it" for k in env]
    first = pw.run_pywarm(["-c", "pass"], cwd=wd, env_add=env)
    if any(r in line for r in read for line in first.launcher_lines):
        real, pyw = pw.run_both(["-c", CACHE_PROG], cwd=wd, env_add=env)
        assert_same(real, pyw)
        assert_cold(pyw)
        return
    _check(pw, wd, ["-c", CACHE_PROG], env, None, "warm")


def test_pycache_prefix_writes_there(pw, wd, stop_extra):
    """-X pycache_prefix and -B decide where an imported module's bytecode goes."""
    for opts, expect in ((["-X", f"pycache_prefix={wd}/pc"], True), (["-B"], False)):
        write_files(wd, {"m1.py": "X = 1\n"})
        warm_up(pw, opts, None, wd)
        real, pyw = pw.run_both([*opts, "-c", "import m1, os, sys; print(sys.pycache_prefix)"], cwd=wd)
        assert_same(real, pyw)
        assert_warm(pyw)
        found = [os.path.join(d, f) for d, _, fs in os.walk(wd) for f in fs if f.endswith(".pyc")]
        assert bool(found) == expect, found
        for f in found:
            os.unlink(f)


def test_user_site_created_after_zygote_start(pw, wd, stop_extra):
    """site puts ~/.local/lib/pythonX.Y/site-packages on sys.path only if it
    exists at start-up: created after the zygote started, runs must see it
    as python3 does (pywarm runs them cold)."""
    env = {"HOME": os.path.join(wd, "home")}
    prog = "import sys, site; print(site.USER_SITE); print(site.USER_SITE in sys.path, sys.path)"
    _files(wd)
    warm_up(pw, [], env, wd)
    real, pyw = pw.run_both(["-c", prog], cwd=wd, env_add=env)
    assert_same(real, pyw)
    assert_warm(pyw)
    user_site = real.out.decode().splitlines()[0]
    assert user_site.startswith(env["HOME"]) and real.out.splitlines()[1].startswith(b"False")
    os.makedirs(user_site)
    real, pyw = pw.run_both(["-c", prog], cwd=wd, env_add=env)
    assert_same(real, pyw)
    assert real.out.splitlines()[1].startswith(b"True")
