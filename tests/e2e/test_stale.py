# test_stale.py: never stale: any change to a file behind a zygote's state is seen by the very next run.
#
# Every test first proves that a warm zygote holds the old state (a warm run
# prints the old value), then changes a file and runs at once, with no sleep
# in between: a zygote that kept serving its old state would print the old
# value and fail the test.

import os
import re
import time

import pytest

from conftest import assert_warm, needs_pywarm, proc_alive, write_files
from helpers import poll_until, wait_until

pytestmark = needs_pywarm

# No bytecode files: CPython's own .pyc check (mtime in seconds and size)
# would otherwise make python3 itself run an older edit made in the same second.
BASE_ENV = {"PYTHONDONTWRITEBYTECODE": "1"}


def setup_project(pw, wd, ini, files, env_add):
    write_files(wd, dict(files, **{".pywarm.ini": ini}))
    pw.trust(wd)
    env = pw.make_env(dict(BASE_ENV, **env_add))
    pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    return env


def warm_run(pw, args, cwd, env, deadline=60):
    """A run that was served warm (waiting for a successor zygote to serve)."""
    end = time.monotonic() + deadline
    while True:
        r = pw.run_pywarm(args, cwd=cwd, env=env)
        if r.warm or time.monotonic() > end:
            assert_warm(r)
            return r
        pw.ctl("start", "--wait", cwd=cwd, env=env, timeout=90)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def identity_of(res):
    """The zygote identity a traced run resolved ("identity <hex>" in its trace)."""
    m = re.search(r"identity ([0-9a-f]{16})", res.trace)
    return m.group(1) if m else None


@pytest.mark.parametrize("prefork", [0, 2])
def test_edit_of_a_preloaded_module_is_seen_by_the_next_run(pw, wd, prefork):
    """Also with pre-forked children, which were forked before the edit."""
    lib = os.path.join(wd, "lib")
    env = setup_project(pw, wd, "[preload]\nmodules = mymod\n[zygote]\nidle_timeout = 120\n"
                        f"prefork = {prefork}\n",
                        {"lib/mymod.py": "VALUE = 'v0'\n"}, {"PYTHONPATH": lib})
    prog = ["-c", "import mymod; print(mymod.VALUE)"]
    for i in range(1, 5):
        r = warm_run(pw, prog, wd, env)
        assert r.out == f"v{i - 1}\n".encode(), r.describe()
        # Each version has another length, so no cache keyed on size and mtime can hide it.
        write(os.path.join(lib, "mymod.py"), f"VALUE = 'v{i}'" + " " * i + "\n")
        r = pw.run_pywarm(prog, cwd=wd, env=env)
        assert r.rc == 0 and r.out == f"v{i}\n".encode(), "stale run:\n" + r.describe()


def test_module_replaced_by_rename_is_seen(pw, wd):
    """Editors save by writing a new file and renaming it over the old one."""
    lib = os.path.join(wd, "lib")
    env = setup_project(pw, wd, "[preload]\nmodules = mymod\n[zygote]\nidle_timeout = 120\n",
                        {"lib/mymod.py": "VALUE = 'old'\n"}, {"PYTHONPATH": lib})
    prog = ["-c", "import mymod; print(mymod.VALUE)"]
    assert warm_run(pw, prog, wd, env).out == b"old\n"
    write(os.path.join(lib, ".mymod.py.tmp"), "VALUE = 'renamed'\n")
    os.rename(os.path.join(lib, ".mymod.py.tmp"), os.path.join(lib, "mymod.py"))
    r = pw.run_pywarm(prog, cwd=wd, env=env)
    assert r.out == b"renamed\n", "stale run:\n" + r.describe()


def test_new_module_that_shadows_a_preloaded_one(pw, wd):
    """A module dropped into an earlier sys.path directory (an install) shadows
    the preloaded one: the next run imports the new one, as python3 would."""
    first, second = os.path.join(wd, "first"), os.path.join(wd, "second")
    env = setup_project(pw, wd, "[preload]\nmodules = shadow\n[zygote]\nidle_timeout = 120\n",
                        {"second/shadow.py": "WHERE = 'second'\n", "first/other.py": ""},
                        {"PYTHONPATH": first + ":" + second})
    prog = ["-c", "import shadow; print(shadow.WHERE)"]
    assert warm_run(pw, prog, wd, env).out == b"second\n"
    write(os.path.join(first, "shadow.py"), "WHERE = 'first'\n")
    r = pw.run_pywarm(prog, cwd=wd, env=env)
    assert r.out == b"first\n", "stale run:\n" + r.describe()


def test_new_pth_file_in_site_packages(pw, wd):
    """A .pth file added to a site-packages directory changes sys.path at
    start-up; the next run must see it."""
    ub = os.path.join(wd, "ub")
    site = os.path.join(ub, "lib", "python%d.%d" % tuple(int(x) for x in
                        pw.run("real", ["-c", "import sys; print(*sys.version_info[:2])"])
                        .out.split()), "site-packages")
    env = setup_project(pw, wd, "[preload]\nmodules = sitemod\n[zygote]\nidle_timeout = 120\n",
                        {os.path.join(site, "sitemod.py"): "X = 1\n", "extra/.keep": ""},
                        {"PYTHONUSERBASE": ub})
    prog = ["-c", "import sys, sitemod; print([p for p in sys.path if p.startswith(%r)])" % wd]
    r = warm_run(pw, prog, wd, env)
    assert r.out == ("[%r]\n" % site).encode(), r.describe()
    write(os.path.join(site, "zz-extra.pth"), os.path.join(wd, "extra") + "\n")
    r = pw.run_pywarm(prog, cwd=wd, env=env)
    real = pw.run("real", prog, cwd=wd, env=env)
    assert os.path.join(wd, "extra").encode() in real.out
    assert r.out == real.out, "stale run:\n" + r.describe()


def test_watched_data_file_change_is_seen(pw, wd):
    """[watch] paths: a data file the warmup script loads; editing it (or adding
    a file that matches the glob) retires the zygote."""
    lib = os.path.join(wd, "lib")
    files = {
        "lib/store.py": "DATA = None\n",
        "warm.py": "import store, glob, os\n"
                   "d = os.path.join(os.path.dirname(__file__), 'data')\n"
                   "store.DATA = [open(p).read().strip() for p in sorted(glob.glob(d + '/*.txt'))]\n",
        "data/a.txt": "alpha\n",
    }
    env = setup_project(pw, wd, "[preload]\nmodules = store\nwarmup = warm.py\n"
                        "[watch]\npaths = data/*.txt\n[zygote]\nidle_timeout = 120\n",
                        files, {"PYTHONPATH": lib})
    # Cold (python3 itself), the program loads the data; warm, the warmup did.
    prog = ["-c", "import store, glob\n"
                  "data = store.DATA if store.DATA is not None else "
                  "[open(p).read().strip() for p in sorted(glob.glob('data/*.txt'))]\n"
                  "print(data)"]
    assert warm_run(pw, prog, wd, env).out == b"['alpha']\n"
    write(os.path.join(wd, "data", "a.txt"), "ALPHA!\n")
    r = pw.run_pywarm(prog, cwd=wd, env=env)
    assert r.out == b"['ALPHA!']\n", "stale run:\n" + r.describe()
    assert warm_run(pw, prog, wd, env).out == b"['ALPHA!']\n"
    write(os.path.join(wd, "data", "b.txt"), "beta\n")
    r = pw.run_pywarm(prog, cwd=wd, env=env)
    assert r.out == b"['ALPHA!', 'beta']\n", "stale run:\n" + r.describe()


def test_profile_edit_switches_zygotes_and_retires_the_old(pw, wd):
    """The profile's bytes are in the identity: an edit moves runs to another
    zygote at once, and the old zygote, watching its profile, retires."""
    ini = os.path.join(wd, "prof.ini")
    write_files(wd, {"prof.ini": "[preload]\nmodules = json\n[zygote]\nidle_timeout = 120\n"})
    env = pw.make_env(dict(BASE_ENV, PYWARM_PROFILE=ini))
    pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    prog = ["-c", "import sys; print('csv' in sys.modules)"]
    r = warm_run(pw, prog, wd, env)
    old_id = identity_of(r)
    blocks, _ = pw.status_blocks(env=env)
    old_pid = [int(b["pid"]) for b in blocks if old_id in b[""]][0]
    write(ini, "[preload]\nmodules = json, csv\n[zygote]\nidle_timeout = 120\n")
    r = pw.run_pywarm(prog, cwd=wd, env=env)
    assert identity_of(r) != old_id and r.warm is False, r.describe()
    poll_until(lambda: not proc_alive(old_pid), 30)
    assert not proc_alive(old_pid), "the zygote of the old profile did not retire"
    # sys.modules starts as python3's under either profile: the new zygote
    # is told by its identity.
    r = warm_run(pw, prog, wd, env)
    assert identity_of(r) != old_id and r.out == b"False\n", r.describe()


def test_fresh_zygote_warms_after_retirement(pw, wd):
    """After a change retires a zygote, a successor warms by itself: with no
    run in between, the identity is served again, with the new state."""
    lib = os.path.join(wd, "lib")
    env = setup_project(pw, wd, "[preload]\nmodules = mymod\n[zygote]\nidle_timeout = 120\n",
                        {"lib/mymod.py": "VALUE = 1\n"}, {"PYTHONPATH": lib})
    prog = ["-c", "import mymod; print(mymod.VALUE)"]
    r = warm_run(pw, prog, wd, env)
    ident = identity_of(r)
    blocks, _ = pw.status_blocks(env=env)
    old_pid = [int(b["pid"]) for b in blocks if ident in b[""]][0]
    write(os.path.join(lib, "mymod.py"), "VALUE = 22\n")

    def successor():
        blocks, _ = pw.status_blocks(env=env)
        pids = [int(b["pid"].split()[0]) for b in blocks
                if ident in b[""] and b.get("state") == "serving"]
        return next((p for p in pids if p != old_pid), None)
    wait_until(successor, "a fresh zygote to take over")
    r = pw.run_pywarm(prog, cwd=wd, env=env)
    assert_warm(r)
    assert r.out == b"22\n", r.describe()


def test_module_rewriting_a_watched_file_at_import_does_not_loop(pw, wd):
    """A preloaded module that rewrites its own file when imported makes every
    warm-up stale: a few successors try, then none, and runs are cold and
    correct."""
    lib = os.path.join(wd, "lib")
    files = {"lib/selfwriter.py": "with open(__file__, 'a') as f:\n    f.write('#\\n')\n"}
    write_files(wd, dict(files, **{".pywarm.ini": "[preload]\nmodules = selfwriter\n"}))
    pw.trust(wd)
    env = pw.make_env(dict(BASE_ENV, PYTHONPATH=lib))
    p = pw.ctl("start", "--wait", "--timeout", "60", cwd=wd, env=env, check=False)
    assert p.returncode == 1, p
    # It says why, from the zygote's log.
    assert re.search(rb"exited while warming up: not serving: .*; see /", p.stderr), p
    ident = re.search(r"zygote ([0-9a-f]{16})", (p.stdout + p.stderr).decode()).group(1)
    log = os.path.join(pw.state_dir, "pywarm", ident + ".log")
    poll_until(lambda: "files keep changing" in open(log).read(), 30)
    text = open(log).read()
    assert "files keep changing" in text, text
    assert text.count("not serving:") == 4, text
    real, pyw = pw.run_both(["-c", "import selfwriter; print(open(selfwriter.__file__).read().count('#'))"],
                            cwd=wd, env=env)
    # (The zygotes this cold run starts append too, so only the order is known.)
    assert real.rc == pyw.rc == 0 and int(pyw.out) > int(real.out) >= 5, pyw.describe()
    assert pyw.warm is False, pyw.describe()
