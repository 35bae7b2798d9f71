# test_learn.py: profiles that learn: runs record what they import beyond the preload, the zygote judges candidates, pywarmctl suggest and learn, [preload] learn = auto.

import os
import re

from conftest import assert_cold, assert_same, assert_warm, needs_pywarm, parse_status, write_files
from helpers import wait_until

pytestmark = needs_pywarm

# Modules the judge must tell apart, each with what it does at import.
LIB = {
    "lib/cleanmod.py": "VALUE = sum(range(10))\n",
    "lib/cleanpkg/__init__.py": "from . import part\n",
    "lib/cleanpkg/part.py": "X = 1\n",
    "lib/threadmod.py": "import threading, time\n"
                        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n",
    "lib/envmod.py": "import os\nKNOB = os.environ.get('LEARNTEST_KNOB', 'unset')\n",
    "lib/filemod.py": "KEEP = open(__file__)\n",
    "lib/sockmod.py": "import socket\nKEEP = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n",
    "lib/exitmod.py": "import atexit\natexit.register(print, 'bye')\n",
    "lib/printmod.py": "print('hello from printmod')\n",
    "lib/cwdmod.py": "import os\nHERE = os.path.abspath('.')\n",
    "lib/clockmod.py": "import time\nT0 = time.time()\n",
    "lib/relmod.py": "import os\nHAS = os.path.exists('settings.cfg')\n",
    "lib/envlenmod.py": "import os\nN = len(os.environ)\n",
}
# What every test profile preloads: json, and threading, whose import would
# otherwise bring _weakrefset under Debian's python3 (a start-up module of
# some other builds), a candidate of its own.
BASE = "json, threading"
ALL = ["cleanmod", "cleanpkg", "threadmod", "envmod", "filemod", "sockmod", "exitmod", "printmod",
       "cwdmod", "clockmod", "relmod", "envlenmod"]
SCRIPT = "import sys, json\nimport {mods}\nprint(sorted(m for m in sys.modules if m in {names!r}))\n"


def summary_path(pw, profile_path):
    """The zygote's summary file for a profile (config/learn.c pw_learn_file_name)."""
    h = 14695981039346656037
    for b in b"pywarm imports\n" + (profile_path or "(built-in)").encode():
        h = ((h ^ b) * 1099511628211) & 0xffffffffffffffff
    return os.path.join(pw.state_dir, "pywarm", "imports-%016x" % h)


def summary(pw, profile_path):
    """{module: (runs, total_us)} from the summary file, or {} if there is none."""
    try:
        with open(summary_path(pw, profile_path)) as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    out = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        out[parts[0]] = (int(parts[1]), int(parts[2]))
    return out


def wait_for(cond, what, timeout=30):
    """Wait until cond() is true (the zygote writes the summary as each run's report arrives)."""
    return wait_until(cond, what, timeout)


def project(pw, wd, ini, mods, trust=True, extra=None):
    """A project using lib/ (on PYTHONPATH, so its zygote can find the
    modules) and a script importing mods; returns (env, script, ini path)."""
    script = SCRIPT.format(mods=", ".join(mods), names=tuple(ALL))
    write_files(wd, dict(LIB, **{".pywarm.ini": ini, "main.py": script}, **(extra or {})))
    env = pw.make_env({"PYTHONPATH": os.path.join(wd, "lib")})
    if trust:
        pw.trust(wd, env=env)
        pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    return env, os.path.join(wd, ".pywarm.ini")


def warm_runs(pw, wd, env, n, args=("main.py",)):
    for _ in range(n):
        real, pyw = pw.run_both(list(args), cwd=wd, env=env)
        assert_same(real, pyw)
        assert_warm(pyw)


def suggest_rows(pw, wd, env):
    out = pw.ctl("suggest", cwd=wd, env=env, timeout=120).stdout.decode()
    rows = {}
    for line in out.splitlines():
        m = re.match(r"(\S+)\s+(\d+)\s+([\d.]+) ms\s+([\d.]+) ms\s+(.*)$", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), float(m.group(3)), float(m.group(4)), m.group(5))
    return rows, out


def status_of(pw, env, ini):
    blocks, _ = pw.status_blocks(env=env)
    mine = [b for b in blocks if b.get("profile", "").startswith(ini)]
    return mine[0] if mine else None


# ---------------------------------------------------------------- recording

def test_runs_record_modules_not_preloaded_and_nothing_else(pw, wd):
    env, ini = project(pw, wd, "[preload]\nmodules = " + BASE + "\n", ["cleanmod", "cleanpkg"])
    env["LEARNTEST_SECRET"] = "s3cr3t-value"
    warm_runs(pw, wd, env, 3, args=("main.py", "argv-token-xyz"))
    s = wait_for(lambda: summary(pw, ini).get("cleanmod", (0,))[0] == 3 and summary(pw, ini),
                 "three runs in the summary")
    assert s["cleanpkg"][0] == 3 and s["cleanpkg.part"][0] == 3, s
    assert "json" not in s and "sys" not in s, s       # preloaded, or python3's own
    path = summary_path(pw, ini)
    assert os.stat(path).st_mode & 0o777 == 0o600
    text = open(path).read()
    assert "argv-token-xyz" not in text and "s3cr3t" not in text and "main" not in text, text


def test_record_no_keeps_nothing(pw, wd):
    env, ini = project(pw, wd, "[preload]\nmodules = " + BASE + "\nrecord = no\n", ["cleanmod"])
    warm_runs(pw, wd, env, 2)
    # A run of another profile is recorded after ours: its report was handled.
    other = pw.workdir("other")
    env2, ini2 = project(pw, other, "[preload]\nmodules = " + BASE + "\n", ["cleanmod"])
    warm_runs(pw, other, env2, 1)
    wait_for(lambda: summary(pw, ini2).get("cleanmod"), "the other profile's run")
    assert not os.path.exists(summary_path(pw, ini))
    assert "record       no" in pw.ctl("check", cwd=wd, env=env).stdout.decode()


def test_confined_runs_are_not_recorded(pw, wd):
    env, ini = project(pw, wd, "[preload]\nmodules = " + BASE + "\n", ["cleanmod"])
    env["PYWARM_SANDBOX"] = "no-network"
    warm_runs(pw, wd, env, 1)
    env.pop("PYWARM_SANDBOX")
    write_files(wd, {"b.py": "import cleanpkg\n"})
    warm_runs(pw, wd, env, 1, args=("b.py",))
    s = wait_for(lambda: summary(pw, ini).get("cleanpkg") and summary(pw, ini), "the unconfined run")
    assert "cleanmod" not in s, s


# ---------------------------------------------------------------- judging

def test_suggest_judges_each_candidate_with_its_reason(pw, wd):
    env, ini = project(pw, wd, "[preload]\nmodules = " + BASE + "\n", ALL,
                       extra={"localmod.py": "Y = 2\n", "loc.py": "import localmod\n"})
    env["LEARNTEST_KNOB"] = "on"
    warm_runs(pw, wd, env, 3)
    warm_runs(pw, wd, env, 1, args=("loc.py",))
    wait_for(lambda: summary(pw, ini).get("localmod") and summary(pw, ini).get("printmod", (0,))[0] == 3,
             "the runs in the summary")
    rows, out = suggest_rows(pw, wd, env)
    want = {
        "cleanmod": "safe", "cleanpkg": "safe", "cleanpkg.part": "safe",
        "threadmod": "not safe: starts a thread",
        "envmod": "reads LEARNTEST_KNOB",
        "filemod": "not safe: leaves a file open",
        "sockmod": "not safe: leaves a socket open",
        "exitmod": "not safe: registers an exit handler",
        "printmod": "not safe: prints at import",
        "cwdmod": "not safe: asks for the working directory",
        "clockmod": "not safe: asks for the time",
        "relmod": "not safe: opens or looks up files by a relative path",
        "envlenmod": "not safe: lists the environment",
        "localmod": "not safe: not found on the zygote's sys.path",
    }
    for mod, verdict in want.items():
        assert mod in rows, out
        assert rows[mod][3].startswith(verdict), (mod, out)
    assert rows["cleanmod"][0] == 3 and rows["localmod"][0] == 1, out
    assert rows["cleanmod"][2] >= rows["cleanmod"][1] > 0, out
    assert f"profile {ini} (project)" in out


def test_suggest_without_records(pw, wd):
    env, ini = project(pw, wd, "[preload]\nmodules = " + BASE + "\n", ["json"])
    out = pw.ctl("suggest", cwd=wd, env=env).stdout.decode()
    assert "no imports beyond the preload recorded yet" in out, out


# ---------------------------------------------------------------- learn --write

def test_learn_write_project_profile_then_needs_trust(pw, wd):
    env, ini = project(pw, wd, "[preload]\nmodules = " + BASE + "\n\n[zygote]\nidle_timeout = 120\n",
                       ["cleanmod", "cleanpkg", "threadmod", "envmod"])
    warm_runs(pw, wd, env, 3)
    wait_for(lambda: summary(pw, ini).get("envmod", (0,))[0] == 3, "three runs")
    out = pw.ctl("learn", cwd=wd, env=env, timeout=120).stdout.decode()
    assert "would add (with --write): " in out and "threadmod" not in out, out
    assert open(ini).read().count("modules") == 1      # without --write: unchanged
    out = pw.ctl("learn", "--write", cwd=wd, env=env, timeout=120).stdout.decode()
    assert "run 'pywarmctl trust'" in out, out
    text = open(ini).read()
    added = re.search(r"# added by pywarmctl learn --write\nmodules = ([^\n]*(\n    [^\n]*)*)", text)
    assert added, text
    names = re.split(r"[,\s]+", added.group(1).strip())
    assert set(names) == {"cleanmod", "cleanpkg", "cleanpkg.part", "envmod"}, text
    assert "[zygote]\nidle_timeout = 120" in text      # the rest of the file is kept
    real, pyw = pw.run_both(["main.py"], cwd=wd, env=env)
    assert_same(real, pyw)
    assert_cold(pyw)                                   # edited: not trusted any more
    pw.trust(wd, env=env)
    pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    st = status_of(pw, env, ini)
    assert st and st["modules"].startswith("6 preloaded"), st
    warm_runs(pw, wd, env, 1)
    # envmod read a variable as it was preloaded: runs with another value go cold.
    real, pyw = pw.run_both(["main.py"], cwd=wd, env=dict(env, LEARNTEST_KNOB="other"))
    assert_same(real, pyw)
    assert_cold(pyw)


def test_learn_write_user_profile_warms_its_successor(pw, wd):
    conf = pw.workdir("conf")
    os.makedirs(os.path.join(conf, "pywarm"), mode=0o700)
    user_ini = os.path.join(conf, "pywarm", "pywarm.ini")
    write_files(conf, {"pywarm/pywarm.ini": "[preload]\nmodules = " + BASE + "\n"})
    script = SCRIPT.format(mods="cleanmod, threadmod", names=tuple(ALL))
    write_files(wd, dict(LIB, **{"main.py": script}))
    env = pw.make_env({"PYTHONPATH": os.path.join(wd, "lib"), "XDG_CONFIG_HOME": conf})
    pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    warm_runs(pw, wd, env, 3)
    wait_for(lambda: summary(pw, user_ini).get("cleanmod", (0,))[0] == 3, "three runs")
    out = pw.ctl("learn", "--write", cwd=wd, env=env, timeout=120).stdout.decode()
    assert f"added 1 modules to {user_ini}" in out and "serving with them" in out, out
    st = status_of(pw, env, user_ini)
    assert st and st["modules"].startswith("3 preloaded"), st
    warm_runs(pw, wd, env, 1)
    out = pw.ctl("suggest", cwd=wd, env=env, timeout=120).stdout.decode()
    assert "cleanmod" not in out and "threadmod" in out, out


# ---------------------------------------------------------------- learn = auto

AUTO = "[preload]\nmodules = " + BASE + "\nlearn = auto\nlearn_min_runs = 2\n\n[zygote]\nidle_timeout = 120\n"


def test_learn_auto_preloads_safe_modules_after_n_runs(pw, wd):
    env, ini = project(pw, wd, AUTO, ["cleanmod", "threadmod", "envmod"])
    warm_runs(pw, wd, env, 1)
    st = status_of(pw, env, ini)
    assert st and "learned" not in st, st
    warm_runs(pw, wd, env, 1)                          # the second run: a successor learns
    st = wait_for(lambda: (s := status_of(pw, env, ini)) and s.get("learned") and s, "a learned zygote")
    assert st["learned"] == "cleanmod", st
    assert st["modules"].startswith("3 preloaded"), st
    real, pyw = pw.run_both(["main.py"], cwd=wd, env=env)
    assert_same(real, pyw)
    assert_warm(pyw)
    out = pw.ctl("check", cwd=wd, env=env).stdout.decode()
    assert re.search(r"^  learned\s+cleanmod \(zygote [0-9a-f]{16}\)$", out, re.M), out
    assert re.search(r"^  candidates\s+.*\bthreadmod\b.*\(judged when a zygote warms\)$", out, re.M), out
    assert "learn        auto, after 2 runs" in out, out
    log = "".join(open(os.path.join(pw.state_dir, "pywarm", n)).read()
                  for n in os.listdir(os.path.join(pw.state_dir, "pywarm")) if n.endswith(".log"))
    assert "not preloading threadmod: starts a thread" in log
    assert "not preloading envmod: reads LEARNTEST_KNOB" in log


def test_learn_auto_never_for_an_untrusted_profile(pw, wd):
    env, ini = project(pw, wd, AUTO, ["cleanmod"], trust=False)
    for _ in range(3):
        real, pyw = pw.run_both(["main.py"], cwd=wd, env=env)
        assert_same(real, pyw)
        assert_cold(pyw)
    assert status_of(pw, env, ini) is None
    assert not os.path.exists(summary_path(pw, ini))


def test_learned_profile_keeps_runs_identical(pw, wd):
    probe = ("import sys, json\n"
             "print('cleanmod' in sys.modules, 'cleanpkg.part' in sys.modules)\n"
             "import cleanpkg\n"
             "print(cleanpkg.part.X, hasattr(cleanpkg, 'part'), cleanpkg.__name__, cleanpkg.__spec__.name)\n"
             "import cleanmod\n"
             "print(cleanmod.VALUE, cleanmod.__file__ == sys.modules['cleanmod'].__file__)\n"
             "print([m for m in sys.modules if m.startswith('clean')])\n"
             "del sys.modules['cleanmod']\nimport cleanmod as again\nprint(again is not cleanmod)\n")
    env, ini = project(pw, wd, AUTO, ["cleanmod", "cleanpkg"], extra={"probe.py": probe})
    warm_runs(pw, wd, env, 2)
    wait_for(lambda: (s := status_of(pw, env, ini)) and s.get("learned"), "a learned zygote")
    for args in (["probe.py"], ["-c", probe], ["-m", "probe"], ["-I", "-c", "import json; print(1)"]):
        real, pyw = pw.run_both(args, cwd=wd, env=env)
        assert_same(real, pyw)
    # A learned module that changes on disk: the zygote is stale like any preloaded one.
    with open(os.path.join(wd, "lib", "cleanmod.py"), "w") as f:
        f.write("VALUE = 'changed'\n")
    real, pyw = pw.run_both(["probe.py"], cwd=wd, env=env)
    assert_same(real, pyw)
    assert b"changed" in pyw.out
