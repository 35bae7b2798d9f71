# test_cold.py: runs pywarm must hand to the real interpreter, and how it behaves without a zygote or with a bad profile.

import os
import re
import subprocess
import time

import pytest

from conftest import (PYWARM, PYWARM_BIN, REAL, SELF, assert_cold, assert_same, assert_warm,
                      needs_pywarm, parse_status, write_files)

SYSPATH_PROG = ("import sys, os; print(sys.path); print(sys.flags); print(sys.argv, sys.orig_argv);"
                "print(sys.executable); print(sorted(k for k in os.environ if k.startswith('PYTHON')));"
                "print(sys.stdout.line_buffering, sys.stdout.write_through)")


def test_unsupported_option_runs_cold(pw, wd):
    """-X importtime cannot be reproduced by a preloaded zygote: cold, with the
    same stdout and exit status.  The import times on stderr vary between any
    two runs, so stderr is compared as the list of modules reported."""
    real, pyw = pw.run_both(["-X", "importtime", "-c", "import json; print('ok')"], cwd=wd)
    assert_same(real, pyw, err=False)
    assert_cold(pyw)

    def modules(err):
        return [l.split("|")[-1].strip() for l in err.decode().splitlines() if l.startswith("import time:")]
    assert modules(real.err) == modules(pyw.err)
    assert "json" in modules(pyw.err)


PYTHON_ENV_CASES = {
    "PYTHONPATH": lambda wd: {"PYTHONPATH": os.path.join(wd, "extra") + ":" + wd},
    "PYTHONDONTWRITEBYTECODE": lambda wd: {"PYTHONDONTWRITEBYTECODE": "1"},
    "PYTHONUNBUFFERED": lambda wd: {"PYTHONUNBUFFERED": "1"},
    "PYTHONSAFEPATH": lambda wd: {"PYTHONSAFEPATH": "1"},
    "PYTHONHASHSEED": lambda wd: {"PYTHONHASHSEED": "0"},
    "PYTHONWARNINGS": lambda wd: {"PYTHONWARNINGS": "error"},
}


@pytest.mark.parametrize("var", list(PYTHON_ENV_CASES))
def test_python_env_runs_cold(pw, wd, var):
    """Any PYTHON* variable forces a cold run; sys.path and flags are the real ones."""
    os.makedirs(os.path.join(wd, "extra"))
    prog = SYSPATH_PROG
    if var == "PYTHONHASHSEED":
        prog += ";print(list({'alpha', 'beta', 'gamma', 'delta', 'epsilon'}))"
    real, pyw = pw.run_both(["-c", prog], cwd=wd, env_add=PYTHON_ENV_CASES[var](wd))
    assert real.rc == 0, real.describe()
    assert_same(real, pyw)
    assert_cold(pyw)
    if var == "PYTHONPATH":
        assert os.path.join(wd, "extra").encode() in pyw.out


@needs_pywarm
def test_malformed_profile(pw, wd):
    """A .pywarm.ini that does not parse: exactly one 'pywarm: ' line on stderr
    naming the file and line, and the program still runs correctly."""
    ini = os.path.join(wd, ".pywarm.ini")
    write_files(wd, {".pywarm.ini": "[zygote]\nidle_timeout = 60\nthis line is not an assignment\n"})
    prog = "import sys; print('ran', sys.argv[1:]); print('to stderr', file=sys.stderr); sys.exit(4)"
    real, pyw = pw.run_both(["-c", prog, "a"], cwd=wd)
    assert pyw.rc == real.rc == 4, pyw.describe()
    assert pyw.out == real.out == b"ran ['a']\n"
    lines = pyw.err.decode(errors="replace").splitlines(keepends=True)
    ours = [l for l in lines if l.startswith("pywarm: ")]
    assert len(ours) == 1, f"expected one 'pywarm: ' line, got:\n{pyw.err.decode(errors='replace')}"
    assert f"{ini}:3" in ours[0], f"the message does not name {ini}:3: {ours[0]!r}"
    rest = "".join(l for l in lines if not l.startswith("pywarm: ")).encode()
    assert rest == real.err


@needs_pywarm
def test_malformed_profile_in_parent_directory(pw, wd):
    """The bad profile is found upward from the cwd; the message names it."""
    ini = os.path.join(wd, ".pywarm.ini")
    write_files(wd, {".pywarm.ini": "[zygote\n", "deep/er/.keep": ""})
    pyw = pw.run_pywarm(["-c", "print('ok')"], cwd=os.path.join(wd, "deep", "er"))
    assert pyw.rc == 0 and pyw.out == b"ok\n", pyw.describe()
    ours = [l for l in pyw.err.decode(errors="replace").splitlines() if l.startswith("pywarm: ")]
    assert len(ours) == 1 and f"{ini}:1" in ours[0], pyw.describe()
    assert len(pyw.err.splitlines()) == 1, pyw.describe()


@pytest.mark.parametrize("how", ["warm", "cold-env", "cold-option", "by-name"])
def test_python3_on_path_is_pywarm(pw, wd, how):
    """With `python3` on PATH being pywarm itself, a run (warm or cold) must not
    loop: it ends promptly with the right output, run by the real interpreter."""
    bindir = os.path.join(wd, "bin")
    os.makedirs(bindir)
    link = os.path.join(bindir, "python3")
    os.symlink(PYWARM, link)
    env_add = {"PATH": bindir + ":" + pw.env.get("PATH", "/usr/bin:/bin")}
    args = ["-c", "import sys; print(42); print(sys.executable)"]
    if how == "cold-env":
        env_add["PYTHONPATH"] = wd
    elif how == "cold-option":
        args = ["-X", "importtime"] + args
    argv0 = "python3" if how == "by-name" else None
    t0 = time.monotonic()
    pyw = pw.run_pywarm(args, cwd=wd, env_add=env_add, executable=link, argv0=argv0, timeout=30)
    assert time.monotonic() - t0 < 20
    assert pyw.rc == 0, pyw.describe()
    # pywarm presents itself as the real interpreter run by its absolute path
    # (the real interpreter itself, in the harness self-check, reports the link).
    exe = link if SELF else REAL
    assert pyw.out == b"42\n" + exe.encode() + b"\n", pyw.describe()
    if how == "warm":
        assert_warm(pyw)
    elif how.startswith("cold"):
        assert_cold(pyw)


@needs_pywarm
def test_first_run_without_zygote_spawns_one(pw, wd):
    """With no zygote for this identity, the run is cold and correct, and a
    zygote appears in the background; later runs are warm."""
    run2 = os.path.join(wd, "run2")
    os.mkdir(run2, 0o700)
    env = dict(pw.env, XDG_RUNTIME_DIR=run2)
    try:
        real, pyw = pw.run_both(["-c", "import sys; print(sys.argv, sys.path)", "x"], cwd=wd, env=env)
        assert_same(real, pyw)
        assert_cold(pyw)
        deadline = time.monotonic() + 30
        seen = "spawn" in pyw.trace
        while not seen and time.monotonic() < deadline:
            blocks, _ = pw.status_blocks(cwd=wd, env=env)
            seen = any(b.get("pid", "").split()[:1] and b["pid"].split()[0].isdigit() for b in blocks)
            if not seen:
                time.sleep(0.2)
        assert seen, "no zygote was started by the cold run\n" + pyw.describe()
        pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
        warm = None
        for _ in range(50):
            real, warm = pw.run_both(["-c", "import sys; print(sys.argv, sys.path)", "x"], cwd=wd, env=env)
            assert_same(real, warm)
            if warm.warm:
                break
            time.sleep(0.2)
        assert_warm(warm)
    finally:
        pw.stop_all(env=env)


@needs_pywarm
def test_project_profile_gets_its_own_zygote(pw, wd):
    """A valid project .pywarm.ini is a different identity: once its zygote is
    started, runs in that directory (and below) are warm and still identical."""
    write_files(wd, {".pywarm.ini": "[zygote]\nidle_timeout = 300\n", "sub/probe.py":
                     "import sys, os; print(sys.argv, sys.path, os.getcwd())"})
    pw.ctl("start", "--wait", cwd=wd, timeout=90)
    real, pyw = pw.run_both(["sub/probe.py", "p"], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)
    real, pyw = pw.run_both(["probe.py", "q"], cwd=os.path.join(wd, "sub"))
    assert_same(real, pyw)
    assert_warm(pyw)
    blocks, p = pw.status_blocks(cwd=wd)
    assert p.returncode == 0

