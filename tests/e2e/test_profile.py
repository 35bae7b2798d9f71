# test_profile.py: profile keys ([preload] modules/warmup, [env] keys, [watch] paths), pywarmctl check and which, failed preloads.

import os
import re
import subprocess

import pytest

from conftest import PYWARMCTL, assert_same, assert_warm, needs_pywarm, parse_status, write_files

pytestmark = needs_pywarm


def project(pw, wd, ini, files=None, env_add=None):
    """Write a project (profile + files), trust it, warm its zygote; its env."""
    write_files(wd, dict(files or {}, **{".pywarm.ini": ini}))
    pw.trust(wd)
    env = pw.make_env(env_add)
    pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    return env


def identity_of(res):
    m = re.search(r"identity ([0-9a-f]{16})", res.trace)
    return m.group(1) if m else None


# ---------------------------------------------------------------- check

def test_check_prints_what_would_be_preloaded(pw, wd):
    write_files(wd, {
        ".pywarm.ini": "[preload]\nmodules = json, csv\nwarmup = tools/warm.py\n"
                       "[env]\nkeys = MYAPP_MODE, MYAPP_*\n[watch]\npaths = data/*.csv, conf.toml\n"
                       "[zygote]\nidle_timeout = 5m\n",
        "tools/warm.py": "pass\n", "data/a.csv": "1\n", "data/b.csv": "2\n"})
    out = pw.ctl("check", cwd=wd).stdout.decode()
    assert f"profile {wd}/.pywarm.ini: valid" in out, out
    assert re.search(r"modules\s+json, csv$", out, re.M), out
    assert re.search(rf"warmup\s+{re.escape(wd)}/tools/warm.py$", out, re.M), out
    assert "served warm" in out
    assert "MYAPP_MODE, MYAPP_*" in out and "PYTHON*" in out and "VIRTUAL_ENV" in out
    assert f"{wd}/data/*.csv (2 files now)" in out and f"{wd}/conf.toml (0 files now)" in out, out
    assert "300s" in out
    # check reads any file, trusted or not, and says nothing about trust.
    out2 = pw.ctl("check", os.path.join(wd, ".pywarm.ini"), cwd=pw.neutral).stdout.decode()
    assert out2 == out


@pytest.mark.parametrize("text,line,problem", [
    ("[preload]\nmodules = json\nwarmup = nothere.py\n", 3, "warmup 'nothere.py': No such file"),
    ("[preload]\nwarmup = w.py\nwarmup = w.py\n", 3, "warmup given twice"),
    ("[python]\ninterpreter = /nonexistent/python\n", 2, "interpreter '/nonexistent/python'"),
    ("[env]\nkeys = GOOD, 9BAD\n", 2, "invalid environment variable name '9BAD'"),
    ("[watch]\npath = x\n", 2, "unknown key 'path' in [watch]"),
    ("[zygote]\nidle_timeout = 5m\n[sandbx]\n", 3, "unknown section [sandbx]"),
    ("[preload]\nmodules = json, 3d\n", 2, "invalid module name '3d'"),
])
def test_check_rejects_with_file_and_line(pw, wd, text, line, problem):
    write_files(wd, {"p.ini": text, "w.py": ""})
    p = pw.ctl("check", "p.ini", cwd=wd, check=False)
    err = p.stderr.decode()
    assert p.returncode == 1, (p.stdout, err)
    assert err.startswith(f"pywarmctl: {wd}/p.ini:{line}: "), err
    assert problem.format(wd=wd) in err, err
    assert len(err.splitlines()) == 1, err


def test_which_explains_the_choice(pw, wd):
    out = pw.ctl("which", cwd=pw.neutral).stdout.decode()
    assert out.startswith("profile (built-in)"), out
    assert re.search(r"identity\s+[0-9a-f]{16}", out) and "socket" in out
    assert pw.zygote_id in out
    write_files(wd, {".pywarm.ini": "[zygote]\nidle_timeout = 60\n", "a/b/.keep": ""})
    out = pw.ctl("which", cwd=os.path.join(wd, "a", "b")).stdout.decode()
    assert f"profile {wd}/.pywarm.ini" in out and "source       project" in out
    assert "trusted      no" in out and "identity" not in out, out


# ---------------------------------------------------------------- preload

BROKEN = {
    "lib/brokenpkg/__init__.py": "from brokenpkg import helper\nraise ValueError('broken at import')\n",
    "lib/brokenpkg/helper.py": "print('helper imported')\n",
    "lib/okmod.py": "print('okmod imported')\nX = 1\n",
}


def test_failed_preload_is_reported_and_undone(pw, wd):
    """A module that raises at import: logged, listed by status as failed, the
    zygote serves, and a program importing it gets python3's own output
    (the half-imported submodule was dropped, so it is imported again)."""
    lib = os.path.join(wd, "lib")
    env = project(pw, wd, "[preload]\nmodules = okmod, brokenpkg\n[zygote]\nidle_timeout = 120\n",
                  BROKEN, {"PYTHONPATH": lib})
    prog = ("import sys\nprint(sorted(m for m in sys.modules if m.startswith('brokenpkg')))\n"
            "import brokenpkg\n")
    write_files(wd, {"prog.py": prog})
    real, pyw = pw.run_both(["prog.py"], cwd=wd, env=env)
    assert_same(real, pyw)
    assert_warm(pyw)
    assert b"helper imported" in pyw.out and b"ValueError: broken at import" in pyw.err
    blocks, _ = pw.status_blocks(env=env)
    mine = [b for b in blocks if b.get("profile", "").startswith(os.path.join(wd, ".pywarm.ini"))]
    assert mine and re.match(r"1 preloaded, 1 failed \(brokenpkg\)", mine[0]["modules"]), blocks
    logs = os.path.join(pw.state_dir, "pywarm")
    text = "".join(open(os.path.join(logs, n)).read() for n in os.listdir(logs) if n.endswith(".log"))
    assert "cannot preload brokenpkg" in text and "ValueError: broken at import" in text
    # The traceback comes line by line, each a log line of its own.
    lines = text.splitlines()
    assert any(l.endswith(" Traceback (most recent call last):") for l in lines), text
    assert any(l.endswith(" ValueError: broken at import") for l in lines), text
    assert any(re.search(r' File ".*brokenpkg.*", line \d+', l) for l in lines), text


def test_warmup_runs_once_in_its_own_namespace(pw, wd):
    """The warmup script runs in the zygote after the imports: what it stores
    into a module is there in every run; its own globals are not in the
    program's __main__ and it is not in sys.modules."""
    lib = os.path.join(wd, "lib")
    files = {
        "lib/store.py": "DATA = None\n",
        "tools/warm.py": "import store, os\nsecret_local = 42\n"
                         "store.DATA = sorted(os.listdir(os.path.dirname(__file__)))\n"
                         "store.PID = os.getpid()\n",
    }
    env = project(pw, wd, "[preload]\nmodules = store\nwarmup = tools/warm.py\n"
                  "[zygote]\nidle_timeout = 120\n", files, {"PYTHONPATH": lib})
    prog = "import sys, store\nprint(sorted(globals()))\nprint([m for m in sys.modules if 'warm' in m])\n"
    real, pyw = pw.run_both(["-c", prog], cwd=wd, env=env)
    assert_same(real, pyw)
    assert_warm(pyw)
    a = pw.run_pywarm(["-c", "import store, os; print(store.DATA, store.PID != os.getpid())"],
                      cwd=wd, env=env)
    b = pw.run_pywarm(["-c", "import store; print(store.PID)"], cwd=wd, env=env)
    c = pw.run_pywarm(["-c", "import store; print(store.PID)"], cwd=wd, env=env)
    assert_warm(a)
    assert a.out == b"['warm.py'] True\n", a.describe()
    assert b.out == c.out, "the warmup ran more than once"


def test_env_keys_split_identities(pw, wd):
    """A variable listed in [env] keys is part of the identity: two values,
    two zygotes; an unlisted one is not."""
    write_files(wd, {".pywarm.ini": "[env]\nkeys = MYAPP_*\n[zygote]\nidle_timeout = 120\n"})
    pw.trust(wd)
    ids = {}
    for k, v in (("MYAPP_MODE", "a"), ("MYAPP_MODE", "b"), ("OTHER_VAR", "a"), ("OTHER_VAR", "b")):
        r = pw.run_pywarm(["-c", "pass"], cwd=wd, env_add={k: v})
        ids[(k, v)] = identity_of(r)
    assert ids[("MYAPP_MODE", "a")] != ids[("MYAPP_MODE", "b")], ids
    assert ids[("OTHER_VAR", "a")] == ids[("OTHER_VAR", "b")], ids


# ---------------------------------------------------------------- watching warm-up

SLOW = {"lib/slowmod.py": "import time\ntime.sleep(0.5)\n", "tools/w.py": "pass\n"}
SLOW_INI = ("[preload]\nmodules = json, slowmod, csv\nwarmup = tools/w.py\n"
            "[zygote]\nidle_timeout = 120\n")


def test_start_wait_shows_progress_as_plain_lines(pw, wd):
    write_files(wd, dict(SLOW, **{".pywarm.ini": SLOW_INI}))
    pw.trust(wd)
    env = pw.make_env({"PYTHONPATH": os.path.join(wd, "lib")})
    p = pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    err = p.stderr.decode()
    assert re.search(r"^pywarmctl: warming [0-9a-f]{16}: module 2 of 3: slowmod \(\d+\.\ds\)$",
                     err, re.M), err
    assert "\r" not in err and "\033" not in err
    assert re.search(r"zygote [0-9a-f]{16} serving \(pid \d+, 3 modules", p.stdout.decode())
    blocks, _ = pw.status_blocks(env=env)
    mine = [b for b in blocks if b.get("profile", "").startswith(os.path.join(wd, ".pywarm.ini"))]
    assert mine, blocks
    b = mine[0]
    assert re.match(r"RSS \d+\.\d MiB, PSS \d+\.\d MiB$", b["memory"]), b
    assert b["warmup"] == os.path.join(wd, "tools", "w.py") + " (ran)", b
    assert re.match(r"\d+ files and directories$", b["watching"]) and int(b["watching"].split()[0]) > 10
    assert b["state"] == "serving" and b["interpreter"] and b["pid"].isdigit()
    assert re.match(r"3 preloaded, 0 failed", b["modules"])


def test_start_wait_progress_on_a_terminal(pw, wd):
    write_files(wd, dict(SLOW, **{".pywarm.ini": SLOW_INI.replace("csv", "csv, json")}))
    pw.trust(wd)
    env = pw.make_env({"PYTHONPATH": os.path.join(wd, "lib")})
    master, slave = os.openpty()
    try:
        p = subprocess.run([PYWARMCTL, "start", "--wait"], cwd=wd, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                           timeout=90)
        os.close(slave)
        slave = -1
        tty = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            tty += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert p.returncode == 0, p
    text = tty.decode(errors="replace")
    assert re.search(r"\rpywarmctl: warming [0-9a-f]{16}: module 2 of 4: slowmod, \d+\.\ds", text), text
    assert text.endswith("\r\033[K"), repr(text[-80:])     # the line is cleared at the end
