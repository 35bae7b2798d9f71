# test_trust.py: a project .pywarm.ini is used only once the user trusts its exact bytes (pywarmctl trust/untrust).

import os
import re
import stat
import subprocess

import pytest

from conftest import (PYWARM, PYWARMCTL, assert_cold, assert_same, assert_warm, needs_pywarm,
                      write_files)
from helpers import run_stderr_on_pty

pytestmark = needs_pywarm

PROBE = "import sys, json; print(sys.argv[1:], 'json' in sys.modules)"
PROFILE = "[preload]\nmodules = json\n\n[zygote]\nidle_timeout = 120\n"


def identity_of(res):
    m = re.search(r"identity ([0-9a-f]{16})", res.trace)
    return m.group(1) if m else None


def store(pw):
    return os.path.join(pw.data_dir, "pywarm", "trusted")


def which(pw, cwd, env=None):
    p = pw.ctl("which", cwd=cwd, env=env)
    return p.stdout.decode()


def test_untrusted_project_profile_is_not_used(pw, wd):
    """A fresh .pywarm.ini: the run is cold, byte-identical (no hint: stderr
    is not a terminal), and no zygote is started for it."""
    write_files(wd, {".pywarm.ini": PROFILE})
    real, pyw = pw.run_both(["-c", PROBE, "a"], cwd=wd)
    assert_same(real, pyw)
    assert_cold(pyw)
    assert "not trusted" in pyw.trace
    assert "spawn" not in pyw.trace
    assert "trusted      no" in which(pw, wd)
    p = pw.ctl("start", cwd=wd, check=False)
    assert p.returncode == 1 and b"not trusted" in p.stderr, p


def test_trust_then_edit_then_retrust(pw, wd):
    """Trusted: warm on its own zygote.  Edited: cold again until re-trusted."""
    ini = os.path.join(wd, ".pywarm.ini")
    write_files(wd, {".pywarm.ini": PROFILE})
    out = pw.trust(wd).stdout.decode()
    assert ini in out, out
    assert re.search(r"^[0-9a-f]{64}  " + re.escape(ini) + "$", open(store(pw)).read(), re.M)
    pw.ctl("start", "--wait", cwd=wd, timeout=90)
    real, pyw = pw.run_both(["-c", PROBE, "b"], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)
    assert "trusted      yes" in which(pw, wd)

    with open(ini, "a") as f:
        f.write("# an edit after the approval\n")
    real, pyw = pw.run_both(["-c", PROBE, "c"], cwd=wd)
    assert_same(real, pyw)
    assert_cold(pyw)
    assert "changed since it was trusted" in which(pw, wd)

    pw.trust(ini)
    pw.ctl("start", "--wait", cwd=wd, timeout=90)
    real, pyw = pw.run_both(["-c", PROBE, "d"], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)
    # One entry per path: re-trusting replaced the old one.
    assert open(store(pw)).read().count(ini) == 1

    out = pw.ctl("untrust", cwd=wd).stdout.decode()
    assert "no longer trusting" in out
    real, pyw = pw.run_both(["-c", PROBE, "e"], cwd=wd)
    assert_same(real, pyw)
    assert_cold(pyw)


def test_trust_by_symlinked_directory_is_canonical(pw, wd):
    """Trusting through a symlinked directory records the real path, which
    is the one discovery finds from the (physical) working directory."""
    write_files(wd, {"real/.pywarm.ini": PROFILE})
    os.symlink(os.path.join(wd, "real"), os.path.join(wd, "link"))
    pw.trust(os.path.join(wd, "link"))
    assert os.path.join(wd, "real", ".pywarm.ini") in open(store(pw)).read()
    assert "trusted      yes" in which(pw, os.path.join(wd, "real"))


def test_store_is_private_and_written_whole(pw, wd):
    write_files(wd, {".pywarm.ini": PROFILE})
    pw.trust(wd)
    st = os.stat(store(pw))
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert not [n for n in os.listdir(os.path.dirname(store(pw))) if ".tmp." in n]


def test_corrupt_store_is_reported_not_reset(pw, wd, tmp_path):
    """A damaged store: runs go cold with one line naming it; trust refuses
    to overwrite it; its bytes are left alone."""
    data = str(tmp_path / "data")
    os.makedirs(os.path.join(data, "pywarm"), mode=0o700)
    bad = os.path.join(data, "pywarm", "trusted")
    junk = b"this is not a trust entry\n"
    with open(bad, "wb") as f:
        f.write(junk)
    os.chmod(bad, 0o600)
    write_files(wd, {".pywarm.ini": PROFILE})
    env = pw.make_env({"XDG_DATA_HOME": data})
    real, pyw = pw.run_both(["-c", PROBE, "f"], cwd=wd, env=env)
    assert pyw.rc == real.rc == 0 and pyw.out == real.out, pyw.describe()
    ours = pyw.err.decode().splitlines()
    assert len(ours) == 1 and ours[0].startswith("pywarm: ") and f"{bad}:1" in ours[0], pyw.describe()
    assert_cold(pyw)
    p = pw.ctl("trust", wd, env=env, check=False)
    assert p.returncode == 1 and f"{bad}:1".encode() in p.stderr, p
    assert open(bad, "rb").read() == junk


def test_pywarm_profile_and_user_profile_need_no_trust(pw, wd):
    """$PYWARM_PROFILE (set by the user) and the user's own profile are trusted."""
    write_files(wd, {"mine.ini": PROFILE + "# env\n"})
    env = pw.make_env({"PYWARM_PROFILE": os.path.join(wd, "mine.ini")})
    assert "trusted      yes" in which(pw, wd, env=env)
    pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    real, pyw = pw.run_both(["-c", PROBE, "g"], cwd=wd, env=env)
    assert_same(real, pyw)
    assert_warm(pyw)

    cfg = os.path.join(wd, "cfg")
    write_files(cfg, {"pywarm/pywarm.ini": PROFILE + "# user\n"})
    env = pw.make_env({"XDG_CONFIG_HOME": cfg})
    out = which(pw, wd, env=env)
    assert "source       user" in out and "trusted      yes" in out, out


def _run_with_tty_stderr(pw, cwd):
    """Run pywarm with stderr on a fresh pseudo-terminal; (rc, stdout, tty text)."""
    return run_stderr_on_pty([PYWARM, "-c", "print('hi')"], cwd, pw.env)


def test_hint_on_a_terminal_once_per_version(pw, wd):
    ini = os.path.join(wd, ".pywarm.ini")
    write_files(wd, {".pywarm.ini": PROFILE})
    rc, out, tty = _run_with_tty_stderr(pw, wd)
    assert rc == 0 and out == b"hi\n"
    lines = [l for l in tty.splitlines() if l.strip()]
    assert len(lines) == 1 and "not trusted" in lines[0] and ini in lines[0], tty
    rc, out, tty = _run_with_tty_stderr(pw, wd)
    assert rc == 0 and out == b"hi\n" and tty.strip() == "", tty
    with open(ini, "a") as f:
        f.write("# new version\n")
    rc, out, tty = _run_with_tty_stderr(pw, wd)
    assert rc == 0 and "not trusted" in tty, tty
    rc, out, tty = _run_with_tty_stderr(pw, wd)
    assert tty.strip() == "", tty


def test_zygote_refuses_an_untrusted_profile(pw, wd):
    """Started directly for an untrusted project profile, the zygote exits
    without serving (the launcher's check is not the only one)."""
    ini = os.path.join(wd, ".pywarm.ini")
    write_files(wd, {".pywarm.ini": PROFILE})
    zyg = os.path.join(os.path.dirname(PYWARMCTL), "pywarm-zygote")
    p = subprocess.run([zyg, "--profile", ini, "--source", "2"], env=pw.env, cwd=wd,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert p.returncode != 0
    assert b"not trusted" in p.stderr, p
