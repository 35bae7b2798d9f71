# test_venv.py: virtual environments and [python] interpreter: warm when based on the embedded interpreter, cold otherwise.

import os
import re
import subprocess

import pytest

from conftest import REAL, assert_cold, assert_same, assert_warm, needs_pywarm, write_files

pytestmark = needs_pywarm

PROBE = ("import sys, site, sysconfig\n"
         "print(sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)\n"
         "print(sys.executable, sys._base_executable, sys.orig_argv)\n"
         "print(sys.path)\n"
         "print(site.getsitepackages(), site.ENABLE_USER_SITE)\n"
         "print(sysconfig.get_paths()['purelib'], sys.flags.no_site)\n"
         "import venvmod; print(venvmod.__file__)\n")

OTHER = "/usr/bin/python3"


def make_venv(base, where):
    subprocess.run([base, "-m", "venv", "--without-pip", where], check=True,
                   capture_output=True, timeout=120)
    py = os.path.join(where, "bin", "python")
    site = subprocess.run([py, "-c", "import site; print(site.getsitepackages()[0])"],
                          check=True, capture_output=True, timeout=60).stdout.decode().strip()
    write_files(site, {"venvmod.py": "X = 1\n"})
    return py


def version(py):
    return subprocess.run([py, "-c", "import sys; print(sys.version)"], capture_output=True,
                          timeout=60).stdout


def run_venv_both(pw, py, args, cwd, env):
    """The venv's own python, then pywarm, both with the same environment."""
    trace = pw.trace_path()
    env = dict(env, PYWARM_DEBUG=trace)
    real = pw.run("real", args, cwd=cwd, env=env, executable=py, argv0=py)
    pyw = pw.run("pywarm", args, cwd=cwd, env=env, trace=trace)
    return real, pyw


@pytest.fixture
def venv(pw, wd):
    return make_venv(REAL, os.path.join(wd, "venv"))


def test_active_venv_of_the_embedded_interpreter_is_warm(pw, wd, venv):
    """VIRTUAL_ENV set (as `activate` does): pywarm stands in for the venv's
    python and serves it warm with that venv's prefixes, paths and site-packages."""
    env = pw.make_env({"VIRTUAL_ENV": os.path.dirname(os.path.dirname(venv))})
    out = pw.ctl("which", cwd=wd, env=env).stdout.decode()
    assert f"interpreter  {venv} (VIRTUAL_ENV; served warm)" in out, out
    pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    real, pyw = run_venv_both(pw, venv, ["-c", PROBE], wd, env)
    assert_same(real, pyw)
    assert_warm(pyw)
    assert os.path.dirname(os.path.dirname(venv)).encode() in real.out.splitlines()[0]
    # A file that does not exist: the error names the venv's python, as python3's would.
    real, pyw = run_venv_both(pw, venv, ["nothere.py"], wd, env)
    assert_same(real, pyw)
    assert_warm(pyw)


def test_profile_interpreter_venv_preloads_from_its_site_packages(pw, wd, venv):
    """[python] interpreter names the venv (relative to the profile); its
    site-packages modules can be preloaded, and a module dropped there is seen."""
    write_files(wd, {".pywarm.ini": "[python]\ninterpreter = venv/bin/python\n"
                                    "[preload]\nmodules = venvmod\n[zygote]\nidle_timeout = 120\n"})
    pw.trust(wd)
    env = pw.make_env({"PYTHONDONTWRITEBYTECODE": "1"})
    pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    real, pyw = run_venv_both(pw, venv, ["-c", PROBE], wd, env)
    assert_same(real, pyw)
    assert_warm(pyw)
    site = real.out.splitlines()[3].decode()
    site = re.search(r"\['([^']*site-packages)'\]", site).group(1)
    with open(os.path.join(site, "venvmod.py"), "w") as f:
        f.write("X = 2\n")
    real, pyw = run_venv_both(pw, venv, ["-c", "import venvmod; print(venvmod.X)"], wd, env)
    assert pyw.out == real.out == b"2\n", pyw.describe()


def test_two_venvs_two_identities(pw, wd, venv):
    other = make_venv(REAL, os.path.join(wd, "venv2"))
    ids = []
    for py in (venv, other):
        env = pw.make_env({"VIRTUAL_ENV": os.path.dirname(os.path.dirname(py))})
        out = pw.ctl("which", cwd=wd, env=env).stdout.decode()
        ids.append(re.search(r"identity\s+([0-9a-f]{16})", out).group(1))
    assert ids[0] != ids[1]


@pytest.mark.skipif(not os.access(OTHER, os.X_OK) or os.path.realpath(OTHER) == os.path.realpath(REAL),
                    reason=f"needs a second interpreter at {OTHER}")
def test_venv_of_another_interpreter_runs_cold_every_time(pw, wd):
    """A venv made by another installation: every run is exactly that venv's
    python, cold, with nothing on stderr."""
    py = make_venv(OTHER, os.path.join(wd, "venv-other"))
    env = pw.make_env({"VIRTUAL_ENV": os.path.dirname(os.path.dirname(py))})
    out = pw.ctl("which", cwd=wd, env=env).stdout.decode()
    assert "runs cold" in out, out
    for _ in range(2):
        real, pyw = run_venv_both(pw, py, ["-c", PROBE], wd, env)
        assert_same(real, pyw)
        assert_cold(pyw)
        assert "spawn" not in pyw.trace


@pytest.mark.skipif(not os.access(OTHER, os.X_OK) or version(OTHER) == version(REAL),
                    reason=f"needs a second interpreter at {OTHER}")
def test_profile_interpreter_of_another_version_runs_cold(pw, wd):
    write_files(wd, {".pywarm.ini": f"[python]\ninterpreter = {OTHER}\n"})
    pw.trust(wd)
    prog = "import sys; print(sys.version, sys.executable, sys.path)"
    for _ in range(2):
        real = pw.run("real", ["-c", prog], cwd=wd, executable=OTHER, argv0=OTHER)
        pyw = pw.run_pywarm(["-c", prog], cwd=wd)
        assert_same(real, pyw)
        assert_cold(pyw)
