# test_cold.py: runs pywarm must hand to the real interpreter, and how it behaves without a zygote or with a bad profile.

import glob
import os
import subprocess
import textwrap
import time

import pytest

from conftest import (PYWARM, REAL, SELF, assert_cold, assert_same, assert_warm,
                      keep_only_fds, needs_pywarm, write_files)
from helpers import poll_until, wait_until

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


# PYTHON* variables that are part of the zygote identity (pywarm(1)): the
# first run of such an identity is cold and starts its zygote; once that
# zygote serves, runs are warm and must still match python3.
PYTHON_IDENTITY_CASES = {
    "PYTHONPATH": lambda wd: {"PYTHONPATH": os.path.join(wd, "extra") + ":" + wd},
    "PYTHONDONTWRITEBYTECODE": lambda wd: {"PYTHONDONTWRITEBYTECODE": "1"},
    "PYTHONUNBUFFERED": lambda wd: {"PYTHONUNBUFFERED": "1"},
    "PYTHONSAFEPATH": lambda wd: {"PYTHONSAFEPATH": "1"},
    "PYTHONHASHSEED": lambda wd: {"PYTHONHASHSEED": "0"},
    "PYTHONWARNINGS": lambda wd: {"PYTHONWARNINGS": "error::DeprecationWarning"},
    "PYTHONIOENCODING": lambda wd: {"PYTHONIOENCODING": "latin-1:backslashreplace"},
    "PYTHONOPTIMIZE": lambda wd: {"PYTHONOPTIMIZE": "1"},
    "PYTHONUTF8": lambda wd: {"PYTHONUTF8": "1"},
}

IDENTITY_PROG = SYSPATH_PROG + (";print(list({'alpha', 'beta', 'gamma', 'delta', 'epsilon'})"
                                " if os.environ.get('PYTHONHASHSEED') else 'no seed');"
                                "print(sys.stdout.encoding, sys.stdout.errors, '\u00e9\u2713');"
                                "print(__debug__, sys.dont_write_bytecode, sys.warnoptions)")


@pytest.mark.parametrize("var", list(PYTHON_IDENTITY_CASES))
def test_python_env_identity(pw, wd, var):
    """A PYTHON* identity variable: identical output cold, and warm once the
    zygote for that identity serves (sys.path, flags, stdio encoding, seed)."""
    os.makedirs(os.path.join(wd, "extra"))
    add = PYTHON_IDENTITY_CASES[var](wd)
    real, pyw = pw.run_both(["-c", IDENTITY_PROG], cwd=wd, env_add=add)
    assert real.rc == 0, real.describe()
    assert_same(real, pyw)
    if SELF:
        return
    env = pw.make_env(add)
    try:
        pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
        real, pyw = pw.run_both(["-c", IDENTITY_PROG], cwd=wd, env_add=add)
        assert_same(real, pyw)
        assert_warm(pyw)
    finally:
        pw.ctl("stop", cwd=wd, env=env, check=False, timeout=30)


# PYTHON* variables whose effect a preloaded interpreter cannot reproduce
# (the whole table is in test_options.py).
PYTHON_COLD_CASES = {
    "PYTHONCOERCECLOCALE": {"PYTHONCOERCECLOCALE": "0"},
    "PYTHONTRACEMALLOC": {"PYTHONTRACEMALLOC": "1"},
    "PYWARM_DISABLE": {"PYWARM_DISABLE": "1"},
}


@pytest.mark.parametrize("var", list(PYTHON_COLD_CASES))
def test_env_forces_cold(pw, wd, var):
    real, pyw = pw.run_both(["-c", SYSPATH_PROG], cwd=wd, env_add=PYTHON_COLD_CASES[var])
    assert real.rc == 0, real.describe()
    assert_same(real, pyw)
    assert_cold(pyw)


def _pre_groups():
    os.setgroups([4321])


def _pre_rlimit_as():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, resource.RLIM_INFINITY))


def _pre_itimer():
    import signal
    signal.setitimer(signal.ITIMER_REAL, 1000.0)


def _pre_many_fds():
    fd = os.open("/dev/null", os.O_RDONLY)
    for n in range(10, 270):
        os.dup2(fd, n)
    os.close(fd)
    keep_only_fds(range(10, 270))


def _pre_raise_hard_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with open("/proc/sys/fs/nr_open") as f:
        top = int(f.read())
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, min(top, hard + 4096)))


def _pre_nice_below():
    os.nice(-3)


def _pre_unshare_uts():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x04000000) != 0:      # CLONE_NEWUTS
        raise OSError(ctypes.get_errno(), "unshare")


STATE_PROG = textwrap.dedent("""\
    import os, resource, signal, sys
    print(sys.argv, sys.path)
    print(sorted(os.getgroups()), resource.getrlimit(resource.RLIMIT_AS),
          resource.getrlimit(resource.RLIMIT_NOFILE), os.nice(0))
    print(signal.getitimer(signal.ITIMER_REAL)[0] > 0)
    print(len(os.listdir("/proc/self/fd")))
    print(os.readlink("/proc/self/ns/uts") == sys.argv[1])
""")

# Caller state a zygote child cannot carry over: the run is cold (pywarm(1),
# Process state).  (preexec, needs root, must be cold): a hard limit above the
# zygote's or a nice value below it is cold only when the zygote cannot set it
# (it can as root), so those just have to match.
CALLER_STATE_COLD = {
    "supplementary-groups": (_pre_groups, True, True),
    "finite-rlimit-as": (_pre_rlimit_as, False, True),
    "armed-itimer": (_pre_itimer, False, True),
    "more-than-249-fds": (_pre_many_fds, False, True),
    "other-uts-namespace": (_pre_unshare_uts, True, True),
    "hard-limit-above-zygote": (_pre_raise_hard_nofile, True, False),
    "nice-below-zygote": (_pre_nice_below, True, False),
}


@pytest.mark.parametrize("case", list(CALLER_STATE_COLD))
def test_caller_state_forces_cold(pw, wd, case):
    pre, needs_root, must_be_cold = CALLER_STATE_COLD[case]
    if needs_root and os.geteuid() != 0:
        pytest.skip("needs root")
    try:
        subprocess.run(["/bin/true"], preexec_fn=pre, capture_output=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"this machine does not allow {case}: {e}")
    uts = os.readlink("/proc/self/ns/uts")
    real, pyw = pw.run_both(["-c", STATE_PROG, uts], cwd=wd, preexec=pre,
                            close_fds=(case != "more-than-249-fds"))
    assert real.rc == 0, real.describe()
    assert_same(real, pyw)
    if must_be_cold:
        assert_cold(pyw)


def test_deleted_working_directory(pw, wd):
    """A cwd that no longer exists (it has no path): identical behaviour."""
    gone = os.path.join(wd, "gone")

    def pre():
        os.rmdir(gone)
    prog = ("import os, sys\ntry:\n    print(os.getcwd())\nexcept OSError as e:\n    print('getcwd', e.errno)\n"
            "print(sys.path[0], sys.argv)")
    trace = pw.trace_path()
    env = pw.make_env(trace=trace)
    results = []
    for side in ("real", "pywarm"):
        os.mkdir(gone)
        results.append(pw.run(side, ["-c", prog, "x"], cwd=gone, preexec=pre, env=env, trace=trace))
    assert_same(*results)


@needs_pywarm
def test_unsafe_socket_directory(pw, wd):
    """A socket directory open to others: one 'pywarm: ' line saying why, and
    a correct cold run."""
    run3 = os.path.join(wd, "run3")
    os.makedirs(os.path.join(run3, "pywarm"))
    os.chmod(run3, 0o700)
    os.chmod(os.path.join(run3, "pywarm"), 0o755)
    env = dict(pw.env, XDG_RUNTIME_DIR=run3)
    real, pyw = pw.run_both(["-c", "print('ok')"], cwd=wd, env=env)
    assert pyw.rc == real.rc == 0 and pyw.out == real.out == b"ok\n", pyw.describe()
    lines = pyw.err.decode(errors="replace").splitlines()
    assert len(lines) == 1 and lines[0].startswith("pywarm: ") and os.path.join(run3, "pywarm") in lines[0], \
        pyw.describe()
    assert_cold(pyw)
    assert not [n for n in os.listdir(os.path.join(run3, "pywarm")) if n.endswith(".sock")], \
        "a zygote was started in the unsafe directory"


@needs_pywarm
def test_malformed_profile(pw, wd):
    """A profile that does not parse (named by PYWARM_PROFILE, which is trusted):
    exactly one 'pywarm: ' line on stderr naming the file and line, and the
    program still runs correctly."""
    ini = os.path.join(wd, "bad.ini")
    write_files(wd, {"bad.ini": "[zygote]\nidle_timeout = 60\nthis line is not an assignment\n"})
    prog = "import sys; print('ran', sys.argv[1:]); print('to stderr', file=sys.stderr); sys.exit(4)"
    real, pyw = pw.run_both(["-c", prog, "a"], cwd=wd, env_add={"PYWARM_PROFILE": ini})
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
    """A bad .pywarm.ini found upward from the cwd that nobody trusted is not
    even read: the run is cold and says nothing (stderr is not a terminal)."""
    write_files(wd, {".pywarm.ini": "[zygote\n", "deep/er/.keep": ""})
    real, pyw = pw.run_both(["-c", "print('ok')"], cwd=os.path.join(wd, "deep", "er"))
    assert_same(real, pyw)
    assert_cold(pyw)
    assert pw.ctl("trust", wd, check=False).returncode == 1, "a profile that does not parse was trusted"


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
        # The spawned zygote takes its lock file in the new runtime directory.
        if "spawn" not in pyw.trace:
            wait_until(lambda: glob.glob(os.path.join(run2, "pywarm", "*.lock")),
                       "a zygote started by the cold run\n" + pyw.describe(), timeout=30)
        pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)

        def warm_run():
            real, warm = pw.run_both(["-c", "import sys; print(sys.argv, sys.path)", "x"], cwd=wd, env=env)
            assert_same(real, warm)
            return warm.warm and warm
        warm = poll_until(warm_run, 10) or warm_run()
        assert_warm(warm)
    finally:
        pw.stop_all(env=env)


@needs_pywarm
def test_project_profile_gets_its_own_zygote(pw, wd):
    """A valid project .pywarm.ini is a different identity: once its zygote is
    started, runs in that directory (and below) are warm and still identical."""
    write_files(wd, {".pywarm.ini": "[zygote]\nidle_timeout = 300\n", "sub/probe.py":
                     "import sys, os; print(sys.argv, sys.path, os.getcwd())"})
    pw.trust(wd)
    pw.ctl("start", "--wait", cwd=wd, timeout=90)
    real, pyw = pw.run_both(["sub/probe.py", "p"], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)
    real, pyw = pw.run_both(["probe.py", "q"], cwd=os.path.join(wd, "sub"))
    assert_same(real, pyw)
    assert_warm(pyw)
    blocks, p = pw.status_blocks(cwd=wd)
    assert p.returncode == 0

