# test_pool.py: pre-forked children ([zygote] prefork) and the early exit report: right state, right status, nothing left over.

import fcntl
import os
import subprocess

import pytest

from conftest import (PYWARM, assert_same, assert_warm, needs_pywarm, parse_trace, proc_alive,
                      write_files, _read)
from helpers import poll_until, pool_full, zygote_children


def idle_children(zpid, want, timeout=5.0):
    """The zygote's children once there are exactly `want` of them (or the last seen)."""
    poll_until(lambda: len(zygote_children(zpid)) == want, timeout)
    return zygote_children(zpid)


def project(pw, wd, prefork):
    """A project profile with this pool size; its zygote started and its pid."""
    write_files(wd, {".pywarm.ini": f"[preload]\nmodules = json\n[zygote]\nprefork = {prefork}\n"})
    pw.ctl("trust", os.path.join(wd, ".pywarm.ini"), cwd=wd)
    pw.ctl("start", "--wait", cwd=wd, timeout=90)
    blocks, _ = pw.status_blocks(cwd=wd)
    pids = [int(b["pid"].split()[0]) for b in blocks
            if b.get("profile", "").startswith(os.path.join(wd, ".pywarm.ini"))]
    assert len(pids) == 1, blocks
    return pids[0]


def stop(pw, wd):
    pw.ctl("stop", cwd=wd, check=False)


@needs_pywarm
@pytest.mark.parametrize("prefork", [0, 1, 3])
def test_pool_size_and_runs(pw, wd, prefork):
    """The zygote keeps `prefork` idle children; every run is warm and right,
    each with fresh random state; after the runs the pool is full again."""
    zpid = project(pw, wd, prefork)
    try:
        assert len(idle_children(zpid, prefork)) == prefork
        seen = set()
        for i in range(prefork + 3):
            prog = f"import random, sys; print({i}, sys.argv[1:]); print(random.getrandbits(64), file=sys.stderr)"
            real, pyw = pw.run_both(["-c", prog, f"a{i}"], cwd=wd)
            assert_same(real, pyw, err=False)
            assert_warm(pyw)
            seen.add(pyw.err)
        assert len(seen) == prefork + 3, "two warm runs drew the same random numbers"
        kids = idle_children(zpid, prefork)
        assert len(kids) == prefork, f"pool of {prefork} not refilled: children {kids}"
    finally:
        stop(pw, wd)


@needs_pywarm
def test_status_from_pooled_child_is_current(pw, wd):
    """pywarmctl status, answered by a child forked before the last runs,
    still counts them."""
    zpid = project(pw, wd, 2)
    try:
        idle_children(zpid, 2)
        for _ in range(3):
            pw.run_pywarm(["-c", "pass"], cwd=wd)
        blocks, _ = pw.status_blocks(cwd=wd)
        mine = [b for b in blocks if b.get("pid", "").startswith(str(zpid))]
        assert mine and mine[0]["launches"].startswith("3 served"), mine
    finally:
        stop(pw, wd)


def on_demand(pw, wd, zpid):
    """The status's count of connections that found no pooled child (its
    own included: the zygote counts a connection when it forks for it)."""
    blocks, _ = pw.status_blocks(cwd=wd)
    mine = [b for b in blocks if b.get("pid", "").startswith(str(zpid))]
    assert mine and "found no pooled child" in mine[0].get("prefork", ""), blocks
    return int(mine[0]["prefork"].split("(")[1].split()[0])


@needs_pywarm
@pytest.mark.parametrize("prefork", [0, 2])
def test_status_counts_launches_that_found_no_pooled_child(pw, wd, prefork):
    """Without a pool every launch is forked on demand; with a full pool,
    one launch at a time, none is."""
    zpid = project(pw, wd, prefork)
    try:
        counts = []
        for i in range(4):
            poll_until(lambda: pool_full(zpid, prefork), 10)
            assert pool_full(zpid, prefork), zygote_children(zpid)
            if i in (0, 3):
                counts.append(on_demand(pw, wd, zpid))
                poll_until(lambda: pool_full(zpid, prefork), 10)
            if i < 3:
                assert_warm(pw.run_pywarm(["-c", "pass"], cwd=wd))
        # Without a pool: the three launches and the second status request.
        assert counts[1] - counts[0] == (4 if prefork == 0 else 0), counts
    finally:
        stop(pw, wd)


@needs_pywarm
def test_retiring_zygote_dismisses_pool(pw, wd):
    zpid = project(pw, wd, 3)
    kids = idle_children(zpid, 3)
    pw.ctl("stop", cwd=wd)
    poll_until(lambda: not any(proc_alive(k) for k in kids + [zpid]), 5)
    assert not [k for k in kids + [zpid] if proc_alive(k)], "pooled children outlived their zygote"


LOCKER = """\
import fcntl, sys, threading, time
f = open(sys.argv[1], "w")
fcntl.flock(f, fcntl.LOCK_EX)
g = open(sys.argv[2], "w")
fcntl.lockf(g, fcntl.LOCK_EX)
f.write("held")
big = b"x" * (300 << 20)        # a large address space: a slow teardown
if sys.argv[3] == "thread":
    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
sys.stdout.write("x" * 100000)
sys.exit(int(sys.argv[4]))
"""


@needs_pywarm
@pytest.mark.parametrize("threads", ["single", "thread"])
def test_exit_releases_everything_before_pywarm_exits(pw, wd, threads):
    """When pywarm has exited, the program's descriptors are closed: its
    locks are free, its file contents are written, a pipe reader has EOF,
    whether the early exit report was used (one thread) or not (a daemon
    thread still running)."""
    a, b = os.path.join(wd, "a.lock"), os.path.join(wd, "b.lock")
    for i in range(5):
        r, w = os.pipe()
        env = pw.make_env(trace=pw.trace_path())
        p = subprocess.Popen([PYWARM, "-c", LOCKER, a, b, threads, str(i)], cwd=wd, env=env,
                             stdout=w, stdin=subprocess.DEVNULL)
        os.close(w)
        got = b""
        while len(got) < 100000:
            chunk = os.read(r, 65536)
            assert chunk, "EOF before all output"
            got += chunk
        assert p.wait(timeout=30) == i
        os.set_blocking(r, False)
        assert os.read(r, 10) == b"", "the pipe is still open after pywarm exited"
        os.close(r)
        with open(a) as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            assert f.read() == "held"
        with open(b, "r+") as g:
            fcntl.lockf(g, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert any("event=warm " in l for l in parse_trace(_read(env["PYWARM_DEBUG"]), p.pid))


@needs_pywarm
def test_status_is_the_programs_under_signals(pw, wd):
    """Exit codes and signal deaths come through unchanged, for a mix run
    back to back (the pool hands out children as fast as they are made)."""
    progs = [("import sys; sys.exit(7)", 7), ("import os; os.kill(os.getpid(), 9)", -9),
             ("raise SystemExit('bye')", 1), ("import os; os._exit(5)", 5), ("pass", 0)]
    for prog, want in progs * 3:
        real, pyw = pw.run_both(["-c", prog], cwd=wd)
        assert pyw.rc == real.rc == want, pyw.describe()
        assert_same(real, pyw)


HEAVY_MODULES = "json, email.message, asyncio, logging, argparse, decimal, http.client, xml.dom.minidom"


def pooled_private_kb(zpid, prefork):
    """The largest Private_Dirty (kB) of the zygote's pooled children, once
    the pool is full: what each copied ahead of its run."""
    assert poll_until(lambda: pool_full(zpid, prefork), 10), zygote_children(zpid)
    sizes = []
    for kid in zygote_children(zpid):
        with open(f"/proc/{kid}/smaps_rollup") as f:
            sizes += [int(l.split()[1]) for l in f if l.startswith("Private_Dirty:")]
    return max(sizes)


@needs_pywarm
def test_pages_copied_ahead_follow_what_runs_write(pw, wd):
    """A pooled child copies ahead the pages recent runs wrote.  After many
    runs of a program that uses much of the zygote's heap, a few dozen runs
    of a small one bring the copying back down to the small one's pages
    (the list is recorded again soon enough), instead of every child
    copying the larger program's pages for the next hundred launches."""
    write_files(wd, {".pywarm.ini": f"[preload]\nmodules = {HEAVY_MODULES}\n[zygote]\nprefork = 3\n",
                     "heavy.py": f"import {HEAVY_MODULES}\n"
                                 "print(json.dumps([decimal.Decimal(i).sqrt().as_tuple() for i in range(200)])[:8])\n"})
    pw.ctl("trust", os.path.join(wd, ".pywarm.ini"), cwd=wd)
    pw.ctl("start", "--wait", cwd=wd, timeout=90)
    blocks, _ = pw.status_blocks(cwd=wd)
    zpid = [int(b["pid"].split()[0]) for b in blocks
            if b.get("profile", "").startswith(os.path.join(wd, ".pywarm.ini"))][0]
    try:
        def runs(args, n):
            for _ in range(n):
                p = pw.run_pywarm(args, cwd=wd)
                assert p.rc == 0, p
        runs(["-c", "pass"], 40)
        light = pooled_private_kb(zpid, 3)
        runs(["heavy.py"], 40)
        heavy = pooled_private_kb(zpid, 3)
        assert heavy > light + 400, (light, heavy)
        runs(["-c", "pass"], 40)
        after = pooled_private_kb(zpid, 3)
        assert after < light + (heavy - light) / 2, (light, heavy, after)
        print("private kB: light", light, "heavy", heavy, "after", after)
    finally:
        stop(pw, wd)
