# test_install.py: `make install` into a temporary DESTDIR gives a working tree that the shells find; `make uninstall` takes exactly that away.

import os
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, REAL, REPO, needs_pywarm, parse_status
from helpers import make  # noqa: F401 - also imported from here

PREFIX = "/usr/local"
EXPECTED = {
    "bin/pywarm": 0o755,
    "bin/pywarmctl": 0o755,
    "bin/pywarm-zygote": 0o755,
    "share/man/man1/pywarm.1": 0o644,
    "share/man/man1/pywarmctl.1": 0o644,
    "share/man/man5/pywarm.ini.5": 0o644,
    "share/bash-completion/completions/pywarmctl": 0o644,
    "share/zsh/site-functions/_pywarmctl": 0o644,
    "share/fish/vendor_completions.d/pywarmctl.fish": 0o644,
    "lib/systemd/user/pywarm.socket": 0o644,
    "lib/systemd/user/pywarm.service": 0o644,
    "lib/pywarm/bin/python": 0o755,
    "lib/pywarm/bin/python3": 0o755,
}

pytestmark = needs_pywarm


def tree(root):
    """Every file and symlink under root, relative."""
    found = set()
    for d, _, files in os.walk(root):
        for f in files:
            found.add(os.path.relpath(os.path.join(d, f), root))
    return found


@pytest.fixture
def installed(pw):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dest = os.path.join(pw.workdir("destdir"), "root")
    make("install", dest)
    yield dest, dest + PREFIX
    make("uninstall", dest)


def test_install_tree_and_uninstall(pw):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dest = os.path.join(pw.workdir("destdir"), "root")
    make("install", dest)
    pre = dest + PREFIX
    assert tree(dest) == {PREFIX.lstrip("/") + "/" + f for f in EXPECTED}
    for rel, mode in EXPECTED.items():
        st = os.stat(os.path.join(pre, rel))
        assert st.st_mode & 0o777 == mode, (rel, oct(st.st_mode))
    with open(os.path.join(pre, "lib/systemd/user/pywarm.service")) as f:
        unit = f.read()
    # The installed path, not the staging one and not a placeholder.
    assert re.search(r"^ExecStart=/usr/local/bin/pywarm-zygote$", unit, re.M), unit
    assert "@" not in unit and dest not in unit
    for name in ("pywarm.1", "pywarmctl.1"):
        with open(os.path.join(pre, "share/man/man1", name), "rb") as f, \
                open(os.path.join(REPO, "man", name), "rb") as g:
            assert f.read() == g.read()
    make("uninstall", dest)
    assert tree(dest) == set()
    # A second uninstall is harmless.
    make("uninstall", dest)


def test_installed_pywarm_runs_warm(pw, installed):
    dest, pre = installed
    root = pw.workdir("installed-run")
    run = os.path.join(root, "run")
    os.makedirs(run, mode=0o700)
    env = dict(pw.env, XDG_RUNTIME_DIR=run, XDG_STATE_HOME=os.path.join(root, "state"))
    ctl = os.path.join(pre, "bin/pywarmctl")
    try:
        p = subprocess.run([ctl, "start", "--wait"], env=env, cwd=root, capture_output=True,
                           timeout=120)
        assert p.returncode == 0, p
        r = pw.run("pywarm", ["-c", "import sys; print(sys.argv)"], env=dict(env, PYWARM_DEBUG="1"),
                   executable=os.path.join(pre, "bin/pywarm"), cwd=root)
        assert r.rc == 0 and r.out == b"['-c']\n", r.describe()
        assert re.search(rb"pywarm\[\d+\]: event=warm .* pid=\d+", r.err), r.describe()
        blocks = [b for b in parse_status(subprocess.run([ctl, "status"], env=env, capture_output=True,
                                                         timeout=60).stdout.decode()) if "pid" in b]
        assert len(blocks) == 1 and blocks[0]["launches"].startswith("1 served"), blocks
        exe = os.readlink(f"/proc/{blocks[0]['pid']}/exe")
        assert exe == os.path.join(pre, "bin/pywarm-zygote"), exe
        # shell-init names the installed programs.
        out = subprocess.run([ctl, "shell-init", "bash"], env=env, capture_output=True,
                             timeout=60).stdout.decode()
        assert f"__pywarm_bin='{pre}/bin/pywarm'" in out
    finally:
        subprocess.run([ctl, "stop", "--all"], env=env, capture_output=True, timeout=60)


def test_shells_find_installed_completion(pw, installed):
    dest, pre = installed
    share = os.path.join(pre, "share")
    home = pw.workdir("completion-home")
    env = dict(pw.env, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_DATA_DIRS=share + ":/usr/share",
               PATH=os.path.join(pre, "bin") + os.pathsep + pw.env.get("PATH", "/usr/bin:/bin"))
    checked = 0
    bc = "/usr/share/bash-completion/bash_completion"
    if os.path.exists(bc) and shutil.which("bash"):
        p = subprocess.run(["bash", "--norc", "--noprofile", "-c",
                            f". {bc}; _completion_loader pywarmctl; complete -p pywarmctl"],
                           env=env, capture_output=True, timeout=60)
        assert p.stdout.strip() == b"complete -F _pywarmctl pywarmctl", p
        checked += 1
    if shutil.which("zsh"):
        p = subprocess.run(["zsh", "-f", "-c",
                            f"fpath=({share}/zsh/site-functions $fpath); autoload -Uz compinit; "
                            f"compinit -u -d {home}/zcd; print -r -- $_comps[pywarmctl]"],
                           env=env, capture_output=True, timeout=60)
        assert p.stdout.strip() == b"_pywarmctl", p
        checked += 1
    if shutil.which("fish"):
        p = subprocess.run(["fish", "-c", "complete -C 'pywarmctl st'"], env=env,
                           capture_output=True, timeout=60)
        words = sorted(l.split("\t")[0] for l in p.stdout.decode().splitlines())
        assert words == ["start", "status", "stop"], p
        checked += 1
    if checked < 3:
        pytest.skip(f"only {checked} of bash-completion, zsh and fish are installed")
