# test_robust.py: pywarm under failure: dead zygote, dead launcher, signals, hostile clients on the socket, another uid.

import contextlib
import glob
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import (PROTO_VERSION, PYWARM, REAL, SELF, _read, assert_same, assert_warm, needs_pywarm,
                      parse_trace, proc_alive, proc_ppid, proc_state)
from helpers import (MAGIC, MSG_LAUNCH, MSG_READY, MSG_STATUS, MSG_STATUS_REQ, VERSION,  # noqa: F401
                     fd_count, header, poll_until, quick_warm_check, wait_until, zygote_children,
                     zygote_socket)

MAX_MSG = 8 << 20


# ---------------------------------------------------------------- helpers

class Background:
    """A launcher run in the background with stdout/stderr going to files."""

    def __init__(self, pw, wd, args, side="pywarm"):
        self.trace = pw.trace_path()
        self.out = os.path.join(wd, f"{side}.bg.out")
        self.err = os.path.join(wd, f"{side}.bg.err")
        env = pw.make_env(trace=self.trace)
        exe = PYWARM if side == "pywarm" else REAL
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.p = subprocess.Popen([exe, *args], cwd=wd, env=env, stdin=subprocess.DEVNULL,
                                      stdout=o, stderr=e)
        self.child = None

    def _event(self):
        """The launcher's event line (how the run was served), "exited" if it
        ended without one, None while neither."""
        ended = self.p.poll() is not None       # before the read: a last line is not missed
        for l in parse_trace(_read(self.trace), self.p.pid):
            if l.startswith("event="):
                return l
        return "exited" if ended else None

    def wait_warm(self, timeout=10):
        """The pid of the warm child, from the launcher's trace."""
        ev = poll_until(self._event, timeout)
        if ev and ev.startswith("event=cold "):
            pytest.fail(f"the background run went cold: {ev}", pytrace=False)
        if not (ev and ev.startswith("event=warm ")):
            pytest.fail(f"the background run was not served warm; rc={self.p.poll()}\n"
                        f"trace:\n{_read(self.trace)}\nstderr: {_read(self.err)}", pytrace=False)
        self.child = int(ev.rsplit(" pid=", 1)[1])
        return self.child

    def wait_output(self, text, timeout=10):
        wait_until(lambda: text in _read(self.out),
                   lambda: f"{text!r} in the output: {_read(self.out)!r} / {_read(self.err)!r}", timeout)

    def cleanup(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=10)
        if self.child and proc_alive(self.child):
            try:
                os.kill(self.child, signal.SIGKILL)
            except ProcessLookupError:
                pass


def ancestors(pid):
    chain = []
    while pid and pid > 1 and len(chain) < 64:
        pid = proc_ppid(pid)
        if pid:
            chain.append(pid)
    return chain


def settle_fd_count(pid, limit, timeout=3.0):
    """pid's descriptor count once it is down to limit (or the last seen)."""
    poll_until(lambda: fd_count(pid) <= limit, timeout)
    return fd_count(pid)


def fd_count_at_rest(pw, zpid):
    """The zygote's descriptor count once it is at rest: its pool full (as
    many children as its prefork, all alive), the children that served the
    last runs gone."""
    blocks, p = pw.status_blocks()
    mine = [b for b in blocks if b.get("pid", "").split()[:1] == [str(zpid)]]
    assert mine and "prefork" in mine[0], p.stdout.decode(errors="replace")
    pool = int(mine[0]["prefork"].split()[0])

    def at_rest():
        kids = zygote_children(zpid)
        return len(kids) == pool and all(proc_alive(k) for k in kids)
    wait_until(at_rest, lambda: f"the pool of {pool} of zygote {zpid} (children {zygote_children(zpid)})", 10)
    return fd_count(zpid)


# ---------------------------------------------------------------- a dying zygote

@needs_pywarm
@pytest.mark.kills_zygote
def test_zygote_killed_while_child_runs(pw, wd):
    zpid = pw.ensure_zygote()
    bg = Background(pw, wd, ["-c", "import time; time.sleep(5); print('finished')"])
    try:
        child = bg.wait_warm()
        assert zpid in ancestors(child), \
            f"warm child {child} does not descend from zygote {zpid} (ancestors {ancestors(child)})"
        t0 = time.monotonic()
        os.kill(zpid, signal.SIGKILL)
        try:
            rc = bg.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("the launcher did not exit within 10 s of the zygote's death")
        elapsed = time.monotonic() - t0
        err = _read(bg.err)
        assert elapsed < 3.0, f"the launcher took {elapsed:.1f}s to notice the zygote's death"
        assert rc != 0, f"the launcher exited 0 after losing its zygote; stderr={err!r}"
        assert any(l.startswith("pywarm:") for l in err.splitlines()), \
            f"no 'pywarm:' message on stderr: {err!r}"
        # The program is killed with its zygote (pywarm(1), SIGNALS).
        poll_until(lambda: not proc_alive(child), 3)
        assert not proc_alive(child), f"the warm child {child} outlived its zygote"
    finally:
        bg.cleanup()
    pw.zygote_pid = None

    # The next run is correct at once (cold or warm) ...
    real, pyw = pw.run_both(["-c", "import sys; print('after', sys.argv)", "a"], cwd=wd, timeout=30)
    assert_same(real, pyw)
    # ... and runs are warm again soon (each try first waits for a zygote to serve).
    runs = []

    def warm_again():
        pw.ctl("start", "--wait", timeout=60)
        real, pyw = pw.run_both(["-c", "import sys; print('again', sys.argv)", "b"], cwd=wd)
        assert_same(real, pyw)
        runs.append(pyw)
        return pyw.warm
    poll_until(warm_again, 30, step=0)
    assert_warm(runs[-1])
    newpid = pw.ensure_zygote()
    assert newpid != zpid


@needs_pywarm
def test_launcher_killed_hangs_up_child(pw, wd):
    """SIGKILL to the launcher: its warm child is hung up on and never gets to
    write the marker it would write after 2 s."""
    marker = os.path.join(wd, "marker")
    prog = "import sys, time; time.sleep(2); open(sys.argv[1], 'w').write('too late')"
    bg = Background(pw, wd, ["-c", prog, marker])
    try:
        child = bg.wait_warm()
        os.kill(bg.p.pid, signal.SIGKILL)
        bg.p.wait(timeout=10)
        poll_until(lambda: not proc_alive(child), 4)
        assert not proc_alive(child), f"warm child {child} survived its launcher (state {proc_state(child)})"
        # Dead (or a zombie), the child can write nothing more: the marker is
        # there now or never.
        assert not os.path.exists(marker), "the orphaned child ran on and wrote its marker"
    finally:
        bg.cleanup()


@needs_pywarm
def test_launcher_killed_child_ignoring_hup_is_killed(pw, wd):
    """A program that ignores SIGHUP still does not outlive its dead launcher
    by more than the documented 2 s grace."""
    hup = os.path.join(wd, "hup")
    marker = os.path.join(wd, "marker")
    prog = textwrap.dedent("""\
        import signal, sys, time
        signal.signal(signal.SIGHUP, lambda n, f: open(sys.argv[1], "w").write("hup"))
        print("ready", flush=True)
        for _ in range(35):
            time.sleep(0.1)
        open(sys.argv[2], "w").write("too late")
    """)
    bg = Background(pw, wd, ["-c", prog, hup, marker])
    try:
        child = bg.wait_warm()
        bg.wait_output("ready\n")
        os.kill(bg.p.pid, signal.SIGKILL)
        bg.p.wait(timeout=10)
        poll_until(lambda: not proc_alive(child), 5)
        assert not proc_alive(child), f"warm child {child} is still running 5 s after its launcher died"
        assert os.path.exists(hup), "the program was not sent SIGHUP"
        # Dead, the child can write nothing more: the marker is there now or never.
        assert not os.path.exists(marker), "the program ran on to the end"
    finally:
        bg.cleanup()


def test_parallel_launches(pw, wd):
    """Many launches at once are each served (warm) with their own argv,
    environment, cwd and descriptors.  Each program waits in its read of
    stdin, which gets its input only once all 12 have been started."""
    prog = ("import os, sys; data = sys.stdin.read();"
            "print(sys.argv[1:], os.environ['RUN_ID'], os.path.basename(os.getcwd()), data)")
    procs = []
    for i in range(12):
        d = os.path.join(wd, f"d{i}")
        os.mkdir(d)
        trace = pw.trace_path()
        env = pw.make_env({"RUN_ID": str(i)}, trace=trace)
        p = subprocess.Popen([PYWARM, "-c", prog, f"arg{i}"], cwd=d, env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append((i, p, trace))
    for i, p, _ in procs:
        p.stdin.write(f"input{i}".encode())
        p.stdin.close()
    for i, p, trace in procs:
        out, err = p.stdout.read(), p.stderr.read()
        assert p.wait(timeout=30) == 0, err
        assert out == f"['arg{i}'] {i} d{i} input{i}\n".encode(), (out, err)
        if not SELF:
            lines = parse_trace(_read(trace), p.pid)
            assert any("event=warm " in l for l in lines), f"run {i} was not warm: {_read(trace)}"


# ---------------------------------------------------------------- signals sent to the launcher

SIG_PROG = textwrap.dedent("""\
    import signal, sys, time
    def handler(n, f):
        print("handled", signal.Signals(n).name, flush=True)
        sys.exit(9)
    signal.signal(signal.SIGUSR1, handler)
    signal.signal(signal.SIGUSR2, handler)
    signal.signal(signal.SIGWINCH, handler)
    print("ready", flush=True)
    for _ in range(100):        # short sleeps: a signal landing just before a
        time.sleep(0.1)         # sleep starts is still handled promptly
    print("not interrupted")
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                                 signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH],
                         ids=lambda s: signal.Signals(s).name)
def test_signal_to_launcher_reaches_program(pw, wd, sig):
    """A signal sent to the launcher (as a supervisor or shell would) acts on the
    program exactly as if sent to python3: same output, same status."""
    results = []
    for side in ("real", "pywarm"):
        bg = Background(pw, wd, ["-c", SIG_PROG], side=side)
        try:
            if side == "pywarm" and not SELF:
                bg.wait_warm()
            bg.wait_output("ready\n")
            os.kill(bg.p.pid, sig)
            try:
                rc = bg.p.wait(timeout=8)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{side}: still running after {signal.Signals(sig).name}")
            if side == "pywarm" and bg.child:
                poll_until(lambda: not proc_alive(bg.child), 3)     # done writing its output
            results.append((rc, _read(bg.out), _read(bg.err)))
        finally:
            bg.cleanup()
    assert results[0] == results[1], f"real: {results[0]!r}\npywarm: {results[1]!r}"


# ---------------------------------------------------------------- hostile clients

def _send_random(s):
    s.sendall(random.Random(1).randbytes(4096))


def _send_huge_length(s):
    s.sendall(header(MSG_LAUNCH, 0xFFFFFFFF))


def _send_over_max(s):
    s.sendall(header(MSG_LAUNCH, MAX_MSG + 1) + b"x" * 4096)


def _send_truncated_header(s):
    s.sendall(header(MSG_LAUNCH, 100)[:7])


def _send_half_message(s):
    s.sendall(header(MSG_LAUNCH, 1000) + random.Random(2).randbytes(100))


def _send_bad_payload(s):
    s.sendall(header(MSG_LAUNCH, 512) + random.Random(3).randbytes(512))


def _send_zero_payload(s):
    s.sendall(header(MSG_LAUNCH, 2048) + bytes(2048))


def _send_wrong_version(s):
    s.sendall(header(MSG_LAUNCH, 16, version=999) + bytes(16))


def _send_wrong_magic(s):
    s.sendall(header(MSG_LAUNCH, 16, magic=0x12345678) + bytes(16))


def _send_unknown_type(s):
    s.sendall(header(99, 8) + bytes(8))


def _send_server_type(s):
    s.sendall(header(MSG_READY, 4) + struct.pack("<i", 1))


def _send_huge_nfds_claim(s):
    s.sendall(header(MSG_LAUNCH, 0, nfds=100000))


@contextlib.contextmanager
def devnull_fds(n):
    """n fresh descriptors on /dev/null, closed again afterwards."""
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(n)]
    try:
        yield fds
    finally:
        for fd in fds:
            os.close(fd)


def _send_many_fds(s):
    """300 descriptors: more than one message can carry, so as many as the
    kernel takes in the first message and the rest in a second one."""
    with devnull_fds(300) as fds:
        try:
            socket.send_fds(s, [header(MSG_LAUNCH, 0, nfds=300)], fds)
        except OSError:
            socket.send_fds(s, [header(MSG_LAUNCH, 0, nfds=250)], fds[:250])
            try:
                socket.send_fds(s, [header(MSG_LAUNCH, 0, nfds=50)], fds[250:])
            except OSError:
                pass            # the zygote may already have hung up


def _send_unclaimed_fds(s):
    with devnull_fds(10) as fds:
        socket.send_fds(s, [header(MSG_STATUS_REQ, 0, nfds=0)], fds)


def _send_fds_with_garbage_payload(s):
    with devnull_fds(5) as fds:
        socket.send_fds(s, [header(MSG_LAUNCH, 64, nfds=5) + random.Random(4).randbytes(64)], fds)


def _send_nothing(s):
    pass


GARBAGE = {
    "connect-close": _send_nothing,
    "random-bytes": _send_random,
    "huge-length": _send_huge_length,
    "over-max-length": _send_over_max,
    "truncated-header": _send_truncated_header,
    "close-mid-message": _send_half_message,
    "bad-payload": _send_bad_payload,
    "zero-payload": _send_zero_payload,
    "wrong-version": _send_wrong_version,
    "wrong-magic": _send_wrong_magic,
    "unknown-type": _send_unknown_type,
    "server-message-type": _send_server_type,
    "huge-nfds-claim": _send_huge_nfds_claim,
    "300-fds": _send_many_fds,
    "unclaimed-fds": _send_unclaimed_fds,
    "fds-with-garbage": _send_fds_with_garbage_payload,
}


@needs_pywarm
@pytest.mark.parametrize("kind", list(GARBAGE))
def test_garbage_on_socket(pw, wd, kind):
    """A hostile or broken client neither kills the zygote, nor leaks the
    descriptors it sent, nor stops the next warm run."""
    zpid = pw.zygote_pid
    path = zygote_socket(pw, zpid)
    before = fd_count_at_rest(pw, zpid)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(path)
        try:
            GARBAGE[kind](s)
        except (BrokenPipeError, ConnectionResetError):
            pass                # the zygote hung up early: fine
        # Give the zygote a moment to read and refuse; it may answer or hang up.
        try:
            s.shutdown(socket.SHUT_WR)
            s.settimeout(1)
            s.recv(65536)
        except OSError:
            pass
    finally:
        s.close()
    assert proc_alive(zpid), f"the zygote (pid {zpid}) died of {kind}"
    after = settle_fd_count(zpid, before)
    assert after <= before, f"the zygote holds {after - before} more descriptors after {kind}"
    quick_warm_check(pw, wd)
    assert pw.find_zygote_pid() == zpid


@needs_pywarm
def test_stalled_clients_do_not_block_launches(pw, wd):
    """Clients that connect and then stall (nothing sent, or half a header)
    must not hold up other launches."""
    path = zygote_socket(pw, pw.zygote_pid)
    stalled = []
    try:
        for data in (b"", header(MSG_LAUNCH, 100)[:5], header(MSG_LAUNCH, 1000) + b"x" * 10):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            if data:
                s.sendall(data)
            stalled.append(s)
        t0 = time.monotonic()
        quick_warm_check(pw, wd)
        assert time.monotonic() - t0 < 10
    finally:
        for s in stalled:
            s.close()


# ---------------------------------------------------------------- another uid

PEER_QUERY = textwrap.dedent("""\
    import ctypes, os, socket, struct, sys
    path, uid = sys.argv[1], int(sys.argv[2])
    if uid:
        # Take another uid for SO_PEERCRED, but keep root's filesystem uid so
        # that the private socket directory can still be traversed.
        os.setegid(uid)
        os.seteuid(uid)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.setfsuid(0)
        libc.setfsgid(0)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(path)
    except OSError as e:
        print("connect-error", e.errno)
        sys.exit(0)
    try:
        s.sendall(struct.pack("<IHHII", 0x4d525750, int(sys.argv[3]), 2, 0, 0))
    except OSError as e:
        print("closed on send", e.errno)
        sys.exit(0)
    data = b""
    try:
        while len(data) < 16:
            chunk = s.recv(16 - len(data))
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        print("timeout")
        sys.exit(0)
    except OSError as e:
        print("error", e.errno)
        sys.exit(0)
    if len(data) < 16:
        print("closed")
    else:
        magic, version, type_, length, nfds = struct.unpack("<IHHII", data)
        print("reply", type_)
""")


@needs_pywarm
def test_other_uid_is_refused(pw, wd):
    """The zygote serves only its own uid: a peer of another uid that reaches
    the socket gets no status (and certainly no launch)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to connect as another uid")
    path = zygote_socket(pw, pw.zygote_pid)

    def query(uid):
        p = subprocess.run([sys.executable, "-c", PEER_QUERY, path, str(uid), str(PROTO_VERSION)],
                           capture_output=True,
                           timeout=20, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr.decode()
        return p.stdout.decode().strip()

    own = query(0)
    if own != f"reply {MSG_STATUS}":
        pytest.skip(f"an empty STATUS_REQ from uid 0 got {own!r}, not a STATUS reply; "
                    "cannot use it to probe the uid check")
    other = query(65534)
    assert other != f"reply {MSG_STATUS}", "the zygote answered a peer of uid 65534"
    assert not other.startswith("connect-error"), f"the probe could not reach the socket: {other}"
    assert proc_alive(pw.zygote_pid)
    quick_warm_check(pw, wd)
