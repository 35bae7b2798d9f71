# test_interp.py: one staged `make install PYTHONS="<embedded> /usr/bin/python3"` serves both interpreters warm, each where python3 would have meant it (venvs, pyenv's .python-version, PYENV_VERSION and "system", shebang scripts through the PATH links), and runs any other interpreter cold with a hint once.

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, REAL, needs_pywarm, trace_events, write_files
from helpers import PREFIX, StagedInstall, make, run_stderr_on_pty, staged
from ptyutil import PtyJob

OTHER = "/usr/bin/python3"
PYENV_ROOT = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
SHIMS = os.path.join(PYENV_ROOT, "shims")


def _version(py):
    if not os.access(py, os.X_OK):
        return None
    p = subprocess.run([py, "-c", "import platform; print(platform.python_version())"],
                       capture_output=True, timeout=60)
    return p.stdout.decode().strip() if p.returncode == 0 else None


def _is_shim(path):
    try:
        with open(path, "rb") as f:
            return b'/libexec/pyenv" exec ' in f.read(1024)
    except OSError:
        return False


REAL_VERSION = _version(REAL)
OTHER_VERSION = _version(OTHER) if os.access(OTHER, os.X_OK) else None
# REAL as pyenv names it: <root>/versions/<name>/bin/python3.
_m = re.match(re.escape(PYENV_ROOT) + r"/versions/([^/]+)/bin/python3$", REAL)
REAL_PYENV_NAME = _m.group(1) if _m else None
# A pyenv version this installation has no zygote for (neither of the two).
UNSERVED = next((v for v in sorted(os.listdir(os.path.join(PYENV_ROOT, "versions")))
                 if v != REAL_PYENV_NAME and _version(os.path.join(PYENV_ROOT, "versions", v, "bin/python3"))
                 not in (None, REAL_VERSION, OTHER_VERSION)), None) \
    if os.path.isdir(os.path.join(PYENV_ROOT, "versions")) else None

pytestmark = [
    needs_pywarm,
    pytest.mark.skipif(OTHER_VERSION is None or os.path.realpath(OTHER) == os.path.realpath(REAL),
                       reason=f"needs a second interpreter at {OTHER}"),
    pytest.mark.skipif(not _is_shim(os.path.join(SHIMS, "python3")) or REAL_PYENV_NAME is None,
                       reason="needs pyenv with the embedded interpreter as one of its versions"),
]

# What a program can tell of the interpreter that runs it.
PROBE = """\
import json, sys, sysconfig
print(json.dumps({"executable": sys.executable, "version": sys.version, "prefix": sys.prefix,
                  "base_prefix": sys.base_prefix, "path": sys.path, "argv": sys.argv,
                  "flags": list(sys.flags), "purelib": sysconfig.get_paths()["purelib"]}))
"""


class Install(StagedInstall):
    """A staged install for both interpreters, its PATH links and private directories."""

    def __init__(self, pw):
        super().__init__(pw, "interp", f"PYTHONS={REAL} {OTHER}")
        self.bin = os.path.join(self.pre, "bin")
        self.zygotes = os.path.join(self.pre, "lib/pywarm/zygote")
        # python3 without pywarm: the pyenv shim first, then the system's.
        self.ref_path = f"{SHIMS}:/usr/bin:/bin"
        self.env.update(PYENV_ROOT=PYENV_ROOT, PATH=self.ref_path)
        for k in ("PYENV_VERSION", "PYENV_DIR", "VIRTUAL_ENV"):
            self.env.pop(k, None)

    def env_for(self, warm_side, add=None, trace=None):
        env = dict(self.env, **(add or {}))
        if warm_side:
            env["PATH"] = self.linkdir + ":" + self.ref_path
        if trace:
            env["PYWARM_DEBUG"] = trace
        return env

    def start(self, cwd, add=None):
        p = subprocess.run([self.ctl, "start", "--wait"], env=self.env_for(True, add), cwd=cwd,
                           capture_output=True, timeout=180)
        assert p.returncode == 0, p

    def sh(self, cmd, cwd, warm_side, add=None):
        """cmd in sh with python3 meaning pywarm's link (warm_side) or not;
        (CompletedProcess, trace text)."""
        trace = self.pw.trace_path()
        p = subprocess.run(["sh", "-c", cmd], env=self.env_for(warm_side, add, trace if warm_side else None),
                           cwd=cwd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        try:
            with open(trace) as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        return p, text

    def both(self, cmd, cwd, add=None):
        """The same command without and with pywarm; the pywarm run's trace."""
        real, _ = self.sh(cmd, cwd, False, add)
        pyw, trace = self.sh(cmd, cwd, True, add)
        assert real.returncode == 0, real
        assert (pyw.returncode, pyw.stdout, pyw.stderr) == (real.returncode, real.stdout, real.stderr), \
            (real, pyw, trace)
        return real, trace


@pytest.fixture(scope="module")
def inst(pw):
    yield from staged(pw, Install)


def warm(trace):
    return any(e[1] == "warm" for e in trace_events(trace))


def cold_why(trace):
    return next((e[3] for e in trace_events(trace) if e[1] == "cold"), None)


def probe(out):
    return json.loads(out.decode())


def project(pw, files):
    d = pw.workdir("interp-project")
    write_files(d, files)
    return d


def run_probe(inst, cwd, add=None, expect=None):
    """PROBE through python3 on both sides: same bytes, served warm, and by
    the interpreter expect names (its sys.executable)."""
    write_files(cwd, {"probe.py": PROBE})
    inst.start(cwd, add)
    real, trace = inst.both("python3 probe.py", cwd, add)
    assert warm(trace), trace
    got = probe(real.stdout)
    if expect is not None:
        assert got["executable"] == expect, got
    return got


# ---------------------------------------------------------------- the install

def test_install_has_a_zygote_per_interpreter(inst):
    tag = subprocess.run([os.path.join(BUILD, "zygote" + OTHER.replace("/", "_"), "pywarm-zygote"),
                          "--tag"], capture_output=True, timeout=60).stdout.decode().strip()
    assert tag.startswith(OTHER_VERSION + "-"), tag
    assert os.access(os.path.join(inst.zygotes, tag, "pywarm-zygote"), os.X_OK)
    assert os.readlink(os.path.join(inst.zygotes, tag.rsplit("-", 1)[1])) == tag
    # The embedded interpreter's zygote stays beside the launcher, and only there.
    assert os.access(os.path.join(inst.bin, "pywarm-zygote"), os.X_OK)
    assert sorted(os.listdir(inst.zygotes)) == sorted([tag, tag.rsplit("-", 1)[1]])


def test_interpreters_lists_both_warm_and_the_others_cold(inst):
    cwd = project(inst.pw, {})
    p = subprocess.run([inst.ctl, "interpreters"], env=inst.env_for(True), cwd=cwd,
                       capture_output=True, timeout=60)
    assert p.returncode == 0 and p.stderr == b"", p
    out = p.stdout.decode()
    blocks = {b.split("\n", 1)[0].split(" (")[0]: b for b in re.split(r"\n(?=\S)", out)}
    assert f"served       warm, by {inst.bin}/pywarm-zygote ({REAL_VERSION})" in blocks[REAL], out
    assert blocks[REAL].startswith(f"{REAL} (python3 here; pyenv: {PYENV_ROOT}/version)"), out
    assert re.search(rf"served       warm, by {re.escape(inst.zygotes)}/{re.escape(OTHER_VERSION)}-[0-9a-f]{{16}}"
                     rf"/pywarm-zygote \({re.escape(OTHER_VERSION)}\)", blocks[OTHER]), out
    assert f"resolved     {os.path.realpath(OTHER)}" in blocks[OTHER], out
    if UNSERVED:
        py = os.path.join(PYENV_ROOT, "versions", UNSERVED, "bin/python3")
        assert "served       cold: no zygote binary is installed for" in blocks[py], out
    # pywarm's own links are never listed as interpreters.
    assert inst.linkdir not in out


def test_interpreters_names_what_chooses_here(inst):
    cwd = project(inst.pw, {".python-version": "system\n"})
    out = subprocess.run([inst.ctl, "interpreters"], env=inst.env_for(True), cwd=cwd,
                         capture_output=True, timeout=60).stdout.decode()
    first = out.split("\n", 1)[0]
    assert first == f"{OTHER} (python3 here; pyenv: {cwd}/.python-version)", out
    out = subprocess.run([inst.ctl, "which"], env=inst.env_for(True), cwd=cwd,
                         capture_output=True, timeout=60).stdout.decode()
    assert f"interpreter  {OTHER} (pyenv: {cwd}/.python-version; served warm)" in out, out


def test_uninstall_takes_the_zygotes_away(pw):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dest = os.path.join(pw.workdir("interp-uninstall"), "root")
    make("install", dest, f"PYTHONS={OTHER}", timeout=1200)
    assert os.listdir(dest + PREFIX + "/lib/pywarm/zygote")
    make("uninstall", dest)
    assert not os.path.exists(dest + PREFIX + "/lib/pywarm/zygote")
    files = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs]
    assert files == [], files


# ---------------------------------------------------------------- pyenv's choice

def test_global_version_is_the_embedded_interpreter(inst):
    cwd = project(inst.pw, {})
    got = run_probe(inst, cwd, expect=REAL)
    assert got["version"].startswith(REAL_VERSION)


def test_python_version_system_is_the_system_python3(inst):
    cwd = project(inst.pw, {".python-version": "system\n"})
    got = run_probe(inst, cwd, expect=OTHER)
    assert got["version"].startswith(OTHER_VERSION)


def test_python_version_found_upward_nearest_wins(inst):
    top = project(inst.pw, {".python-version": "system\n",
                            "proj/.python-version": f"# pinned\n\n  {REAL_PYENV_NAME}  \n",
                            "proj/src/deep/.keep": ""})
    run_probe(inst, os.path.join(top, "proj/src/deep"), expect=REAL)
    run_probe(inst, os.path.join(top), expect=OTHER)


def test_pyenv_version_overrides_the_files(inst):
    cwd = project(inst.pw, {".python-version": f"{REAL_PYENV_NAME}\n"})
    run_probe(inst, cwd, {"PYENV_VERSION": "system"}, expect=OTHER)
    cwd = project(inst.pw, {".python-version": "system\n"})
    run_probe(inst, cwd, {"PYENV_VERSION": REAL_PYENV_NAME}, expect=REAL)


def test_shebang_scripts_get_what_python3_means_there(inst):
    """#!/usr/bin/env python3 through the PATH links: in each directory the
    interpreter python3 resolves to there, warm."""
    for files, expect in (({}, REAL), ({".python-version": "system\n"}, OTHER)):
        cwd = project(inst.pw, dict(files, **{"tool": "#!/usr/bin/env python3\n" + PROBE}))
        os.chmod(os.path.join(cwd, "tool"), 0o755)
        inst.start(cwd)
        real, trace = inst.both("./tool a 'b c'", cwd)
        assert warm(trace), trace
        got = probe(real.stdout)
        assert got["executable"] == expect and got["argv"] == ["./tool", "a", "b c"], got


def test_uncertain_pyenv_choice_runs_the_shim_cold(inst):
    """What pywarm cannot follow (a version prefix pyenv completes itself, two
    versions, PYENV_DIR elsewhere) runs exactly what python3 would: the shim."""
    prefix = REAL_PYENV_NAME.rsplit(".", 1)[0]
    cases = [({}, {".python-version": f"{prefix}\n"}),
             ({}, {".python-version": f"{REAL_PYENV_NAME}\nsystem\n"}),
             ({"PYENV_DIR": "/"}, {})]
    for add, files in cases:
        cwd = project(inst.pw, dict(files, **{"probe.py": PROBE}))
        real, trace = inst.both("python3 probe.py", cwd, add)
        why = cold_why(trace)
        assert why is not None and "pyenv" in why, (add, files, trace)


# ---------------------------------------------------------------- virtual environments

@pytest.mark.parametrize("base", ["embedded", "system"])
def test_venv_of_each_interpreter_is_warm(inst, base):
    base_py = REAL if base == "embedded" else OTHER
    cwd = project(inst.pw, {})
    venv = os.path.join(cwd, "venv")
    subprocess.run([base_py, "-m", "venv", "--without-pip", venv], check=True,
                   capture_output=True, timeout=120)
    add = {"VIRTUAL_ENV": venv}
    write_files(cwd, {"probe.py": PROBE})
    inst.start(cwd, add)
    # python3 with the venv active stands in for its bin/python.
    real, _ = inst.sh(f"{venv}/bin/python probe.py", cwd, False, add)
    pyw, trace = inst.sh("python3 probe.py", cwd, True, add)
    assert real.returncode == 0 and (pyw.returncode, pyw.stdout, pyw.stderr) == \
        (real.returncode, real.stdout, real.stderr), (real, pyw, trace)
    assert warm(trace), trace
    got = probe(real.stdout)
    assert got["prefix"] == venv and got["base_prefix"] != venv, got
    assert got["executable"] == os.path.join(venv, "bin/python"), got
    # The activated venv's python is what runs, warm, from any directory.
    out = subprocess.run([inst.ctl, "which"], env=inst.env_for(True, add), cwd=cwd,
                         capture_output=True, timeout=60).stdout.decode()
    assert f"interpreter  {venv}/bin/python (VIRTUAL_ENV; served warm)" in out, out


def test_m_venv_through_each_interpreter(inst):
    """python3 -m venv, warm, makes the venv python3 would have made there."""
    for files, base in (({}, REAL), ({".python-version": "system\n"}, OTHER)):
        cwd = project(inst.pw, files)
        inst.start(cwd)
        for side in (False, True):
            name = "v-warm" if side else "v-real"
            p, trace = inst.sh(f"python3 -m venv --without-pip {name}", cwd, side)
            assert p.returncode == 0 and p.stderr == b"", p
            if side:
                assert warm(trace), trace
        with open(os.path.join(cwd, "v-real/pyvenv.cfg")) as f, \
                open(os.path.join(cwd, "v-warm/pyvenv.cfg")) as g:
            a, b = f.read(), g.read()
        assert a.replace("v-real", "v-warm") == b, (a, b)
        assert f"home = {os.path.dirname(base)}\n" in a, a


# ---------------------------------------------------------------- the REPL

def test_repl_of_the_system_interpreter(inst):
    cwd = project(inst.pw, {".python-version": "system\n"})
    inst.start(cwd)
    trace = inst.pw.trace_path()
    job = PtyJob([os.path.join(inst.linkdir, "python3"), "-q"], inst.env_for(True, trace=trace), cwd)
    try:
        job.expect(b">>> ", timeout=30)
        job.send(b"import sys; print(sys.executable, sys.version_info[:3])\r")
        job.expect(f"{OTHER} {tuple(int(x) for x in OTHER_VERSION.split('.'))}".encode(), timeout=30)
        job.expect(b">>> ", timeout=30)
        job.send(b"\x04")
        assert job.finish() == "exited 0", job.transcript
    finally:
        job.close()
    with open(trace) as f:
        assert warm(f.read())


# ---------------------------------------------------------------- no zygote binary

@pytest.mark.skipif(UNSERVED is None, reason="needs a third pyenv version")
def test_interpreter_without_a_zygote_runs_cold_with_a_hint_once(inst):
    cwd = project(inst.pw, {".python-version": f"{UNSERVED}\n", "probe.py": PROBE})
    py = os.path.join(PYENV_ROOT, "versions", UNSERVED, "bin/python3")
    real, trace = inst.both("python3 probe.py", cwd)
    assert probe(real.stdout)["executable"] == py
    assert cold_why(trace).startswith("no zygote binary is installed for"), trace
    assert "spawn" not in trace
    hints = []
    for _ in range(2):
        rc, out, tty = run_stderr_on_pty(["python3", "-c", "print('hi')"], cwd, inst.env_for(True))
        assert rc == 0 and out == b"hi\n", (rc, out, tty)
        hints.append(tty)
    first = [l for l in hints[0].splitlines() if l.strip()]
    assert len(first) == 1 and py in first[0] and "make install PYTHONS=" in first[0], hints
    assert hints[1].strip() == "", hints


def test_without_a_terminal_no_hint(inst):
    """Scripts and pipes get python3's bytes and nothing more."""
    if UNSERVED is None:
        pytest.skip("needs a third pyenv version")
    cwd = project(inst.pw, {"probe.py": PROBE})
    real, trace = inst.both("python3 probe.py", cwd, {"PYENV_VERSION": UNSERVED})
    assert cold_why(trace) is not None
