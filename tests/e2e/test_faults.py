# test_faults.py: faults around a launch: the zygote killed under load, launchers killed mid-hand-over, the socket file removed, no runtime directory, too few descriptors, a fork that fails.

import os
import random
import shutil
import signal
import subprocess
import time

import pytest

from conftest import (PYWARM, PYWARMCTL, _read, assert_same, assert_warm, needs_pywarm,
                      proc_alive, trace_events)
from helpers import (fd_count, poll_until, pool_full, quick_warm_check, temp_user, wait_until, zygote_children,
                     zygote_log, zygote_socket)

SLOW = "import sys, time; print('start', sys.argv[1], flush=True); time.sleep(float(sys.argv[2])); print('end', sys.argv[1])"


def settle(zpid, fds, kids, timeout=10.0):
    """Wait until the zygote has fds descriptors and kids children again."""
    poll_until(lambda: (fd_count(zpid), len(zygote_children(zpid))) == (fds, kids), timeout)
    return fd_count(zpid), len(zygote_children(zpid))


def prefork_of(pw, env=None, cwd=None):
    """The pool size the zygote's status reports (the session's profile may set it)."""
    blocks, _ = pw.status_blocks(cwd=cwd, env=env)
    return int(next(b["prefork"].split()[0] for b in blocks if "prefork" in b))


def resting(pw, zpid):
    """The zygote's descriptor and child counts once it is idle: no run is
    being served and the pool has been refilled."""
    prefork = prefork_of(pw)
    wait_until(lambda: pool_full(zpid, prefork), f"zygote {zpid}'s pool of {prefork} to be full", timeout=15)
    return fd_count(zpid), len(zygote_children(zpid))


def start(pw, wd, args, env=None, **kw):
    env = env or pw.make_env(trace=pw.trace_path())
    return subprocess.Popen([PYWARM, *args], cwd=wd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw), env


@needs_pywarm
@pytest.mark.kills_zygote
def test_zygote_killed_under_load(pw, wd):
    """SIGKILL to the zygote with launches at every stage: each launcher
    finishes the run right (cold, or warm before the kill), or says that
    the zygote died and dies of SIGKILL, as its killed program did; none
    hangs; later launches are warm again from a new zygote."""
    zpid = pw.ensure_zygote()
    procs = []
    for i in range(24):
        p, env = start(pw, wd, ["-c", SLOW, str(i), "2"])
        procs.append((i, p, env))
        if i == 16:
            os.kill(zpid, signal.SIGKILL)
        elif i < 16:
            # Each launch before the kill is running its program (its
            # event line is in its trace, and it sleeps longer than the 16
            # take to start); the 17th is mid-hand-over.
            wait_until(lambda: trace_events(_read(env["PYWARM_DEBUG"])), f"launch {i}'s event", timeout=30)
    outcomes = {"finished": 0, "killed": 0}
    for i, p, env in procs:
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            pytest.fail(f"launch {i} hung after the zygote was killed")
        text = err.decode(errors="replace")
        if p.returncode == 0:
            assert out == f"start {i}\nend {i}\n".encode(), (i, out, text)
            outcomes["finished"] += 1
        else:
            assert p.returncode == -signal.SIGKILL, (i, p.returncode, out, text)
            assert "pywarm: the zygote serving this run died" in text, (i, text)
            assert out in (b"", f"start {i}\n".encode()), (i, out)
            outcomes["killed"] += 1
    assert outcomes["killed"] >= 1, f"no launch was in flight when the zygote died: {outcomes}"
    pw.zygote_pid = None

    def again():
        pw.ctl("start", "--wait", timeout=60)
        real, pyw = pw.run_both(["-c", "print('again')"], cwd=wd)
        assert_same(real, pyw)
        return pyw.warm and pyw
    pyw = poll_until(again, 30) or again()
    assert_warm(pyw)


@needs_pywarm
def test_launchers_killed_mid_handover(pw, wd):
    """Launchers SIGKILLed at random moments of the hand-over leave nothing
    behind: the zygote's descriptors and children come back to rest."""
    zpid = pw.zygote_pid
    base = resting(pw, zpid)
    rng = random.Random(7)
    for i in range(40):
        p, _ = start(pw, wd, ["-c", SLOW, str(i), "3"])
        # The kill lands at a random moment of the hand-over: no event
        # marks one, a random delay is what picks it.
        time.sleep(rng.uniform(0, 0.012))
        p.kill()
        p.communicate(timeout=30)
    assert settle(zpid, *base, timeout=15) == base, \
        f"zygote {zpid}: (fds, children) {base} before, {(fd_count(zpid), len(zygote_children(zpid)))} after"
    assert proc_alive(zpid)
    quick_warm_check(pw, wd)


@needs_pywarm
def test_socket_file_removed(pw, wd):
    """With its socket file deleted, runs stay right (cold) and the same
    zygote serves them warm again within seconds, saying so in its log."""
    zpid = pw.zygote_pid
    path = zygote_socket(pw, zpid)
    os.unlink(path)
    real, pyw = pw.run_both(["-c", "print('no socket')"], cwd=wd)
    assert_same(real, pyw)
    wait_until(lambda: os.path.exists(path), f"the zygote to bind {path} again", timeout=10)
    real, pyw = pw.run_both(["-c", "print('socket back')"], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)
    assert pw.find_zygote_pid() == zpid
    assert "was removed; listening again" in zygote_log(pw)


@needs_pywarm
@pytest.mark.parametrize("where", ["proc", "file-in-the-way"])
def test_runtime_dir_unusable(pw, wd, where):
    """$XDG_RUNTIME_DIR where no socket directory can be made (not
    writable, or a file where the directory should be): one clear 'pywarm:'
    line naming it, and the program runs (cold) as under python3."""
    if where == "proc":
        rd = "/proc/1"
    else:
        rd = os.path.join(wd, "run")
        os.mkdir(rd, 0o700)
        open(os.path.join(rd, "pywarm"), "w").close()
    env = dict(pw.env, XDG_RUNTIME_DIR=rd)
    t0 = time.monotonic()
    real, pyw = pw.run_both(["-c", "import sys; print('ran'); sys.exit(3)"], cwd=wd, env=env, timeout=30)
    assert time.monotonic() - t0 < 20
    assert pyw.rc == real.rc == 3 and pyw.out == real.out == b"ran\n", pyw.describe()
    lines = pyw.err.decode(errors="replace").splitlines()
    assert len(lines) == 1 and lines[0].startswith("pywarm: ") and rd in lines[0], pyw.describe()
    assert pyw.warm is False


def nofile(n):
    def pre():
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    return pre


@needs_pywarm
@pytest.mark.parametrize("limit", [5, 6, 8, 16])
def test_few_descriptors_in_launcher(pw, wd, limit):
    """ulimit -n low in the caller: the program sees the same limit and
    behaves as under python3 (warm if the hand-over fits, else cold)."""
    prog = "import resource, sys; print(resource.getrlimit(resource.RLIMIT_NOFILE)[0]); print(sys.stdin.read())"
    real, pyw = pw.run_both(["-c", prog], cwd=wd, input=b"data", preexec=nofile(limit), timeout=30)
    assert_same(real, pyw)
    assert pyw.out == f"{limit}\ndata\n".encode()


@needs_pywarm
def test_few_descriptors_in_zygote(pw, wd):
    """A zygote started under ulimit -n 16 and given more concurrent runs
    (each passing extra descriptors) than it has descriptors for: every run
    is right, none hangs, and the zygote still serves afterwards."""
    env = dict(pw.env, XDG_RUNTIME_DIR=os.path.join(wd, "run"))
    os.mkdir(env["XDG_RUNTIME_DIR"], 0o700)
    subprocess.run([PYWARMCTL, "start", "--wait"], env=env, cwd=wd, preexec_fn=nofile(16),
                   capture_output=True, timeout=90, check=True)
    try:
        # Each program waits in its read of stdin, a pipe closed only once
        # all 30 have been started: the runs are all in flight at once.
        prog = "import os, sys; sys.stdin.read(); print(sys.argv[1], len(os.listdir('/proc/self/fd')))"
        procs = []
        gate_r, gate_w = os.pipe()
        for i in range(30):
            fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(i % 10)]
            p = subprocess.Popen([PYWARM, "-c", prog, str(i)], cwd=wd, env=env, stdin=gate_r,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=fds)
            for fd in fds:
                os.close(fd)
            procs.append((i, p))
        os.close(gate_r)
        os.close(gate_w)
        for i, p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0 and out == f"{i} {3 + i % 10 + 1}\n".encode(), (i, out, err)
        r = subprocess.run([PYWARM, "-c", "print('after')"], cwd=wd, env=env, capture_output=True, timeout=60)
        assert r.returncode == 0 and r.stdout == b"after\n", r
    finally:
        subprocess.run([PYWARMCTL, "stop", "--all"], env=env, cwd=wd, capture_output=True, timeout=60)


@needs_pywarm
def test_fork_fails(pw, wd):
    """RLIMIT_NPROC reached in a zygote run by an ordinary user (root is
    exempt): the pool serves while it lasts, then runs go cold, every one
    right; the zygote logs why; once the limit is lifted, runs are warm."""
    if shutil.which("setpriv") is None or shutil.which("prlimit") is None:
        pytest.skip("needs setpriv and prlimit (util-linux)")
    with temp_user() as user:
        home = os.path.join(wd, "home")
        os.mkdir(home, 0o700)
        os.chown(home, user.pw_uid, user.pw_gid)
        os.chmod(wd, 0o755)
        for d in (pw.tmp, os.path.join(pw.tmp, "w")):
            os.chmod(d, 0o711)
        # The user keeps read access to the interpreter wherever it lives
        # (a pyenv build under /root), through an ambient capability.
        asuser = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
                  "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "XDG_RUNTIME_DIR": os.path.join(home, "run"),
               "XDG_STATE_HOME": os.path.join(home, "state"), "XDG_CONFIG_HOME": os.path.join(home, "config")}
        r = subprocess.run(asuser + [PYWARMCTL, "start", "--wait"], env=env, cwd=home, capture_output=True,
                           timeout=90)
        if r.returncode != 0:
            pytest.skip(f"cannot run a zygote as {user.pw_name}: {r.stderr.decode(errors='replace').strip()}")
        try:
            st = subprocess.run(asuser + [PYWARMCTL, "status"], env=env, cwd=home, capture_output=True,
                                text=True, timeout=30).stdout
            zpid = int(next(l.split()[1] for l in st.splitlines() if l.split()[:1] == ["pid"]))
            prefork = int(next(l.split()[1] for l in st.splitlines() if l.split()[:1] == ["prefork"]))
            wait_until(lambda: pool_full(zpid, prefork), f"zygote {zpid}'s pool of {prefork} to be full",
                       timeout=30)
            # Already over a limit of 1 (the zygote and its pool), and still
            # over it with only the zygote and a launcher left.  The user may
            # lower its own zygote's soft limit (and raise it again up to the
            # hard one) without any capability.
            subprocess.run(asuser + ["prlimit", f"--pid={zpid}", "--nproc=1:"], check=True)
            results = []
            for i in range(6):
                trace = os.path.join(home, f"trace{i}")
                r = subprocess.run(asuser + [PYWARM, "-c", "import sys; print('run', sys.argv[1]); sys.exit(4)", str(i)],
                                   env=dict(env, PYWARM_DEBUG=trace), cwd=home, capture_output=True, timeout=60)
                assert r.returncode == 4 and r.stdout == f"run {i}\n".encode() and r.stderr == b"", r
                results.append("event=warm " in _read(trace))
            assert results[:2] == [True, True] and not any(results[2:]), \
                f"expected the two pooled children to serve, then cold runs: {results}"
            log = ""
            for name in os.listdir(os.path.join(home, "state", "pywarm")):
                log += _read(os.path.join(home, "state", "pywarm", name))
            assert "cannot fork a child: Resource temporarily unavailable" in log, log
            assert proc_alive(zpid)
            with open(f"/proc/{zpid}/limits") as f:
                hard = next(l.split()[3] for l in f if l.startswith("Max processes"))
            subprocess.run(asuser + ["prlimit", f"--pid={zpid}", f"--nproc={hard}:"], check=True)
            # The zygote retries the pool a second after a failed fork.
            wait_until(lambda: pool_full(zpid, prefork), f"zygote {zpid} to refill its pool", timeout=30)
            trace = os.path.join(home, "trace-after")
            r = subprocess.run(asuser + [PYWARM, "-c", "print('after')"], env=dict(env, PYWARM_DEBUG=trace),
                               cwd=home, capture_output=True, timeout=60)
            assert r.returncode == 0 and r.stdout == b"after\n", r
            assert "event=warm " in _read(trace), _read(trace)
        finally:
            subprocess.run(asuser + [PYWARMCTL, "stop", "--all"], env=env, cwd=home, capture_output=True,
                           timeout=60)
