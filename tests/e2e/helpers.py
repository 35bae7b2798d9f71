# helpers.py: what several e2e test modules share: a temporary second user, the zygote's children, log and socket, raw protocol headers, a staged make, paired pty runs, waiting for an event.

import contextlib
import glob
import os
import pwd
import re
import shutil
import struct
import subprocess
import time
import uuid

import pytest

from conftest import PROTO_VERSION, PYWARM, REAL, REPO, BUILD, SELF, _read, assert_same, assert_warm, parse_trace
from ptyutil import PtyJob, poll_until

PREFIX = "/usr/local"        # where the staged installs go, under their DESTDIR



@contextlib.contextmanager
def temp_user():
    """A new system user, removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a second user (useradd)")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not installed")
    name = "pwt" + uuid.uuid4().hex[:8]
    p = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       capture_output=True, timeout=30)
    if p.returncode != 0:
        pytest.skip(f"useradd failed: {p.stderr.decode(errors='replace').strip()}")
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True, timeout=30)


@contextlib.contextmanager
def modes(changes):
    """Set file modes for a while, then put the old ones back."""
    old = [(path, os.stat(path).st_mode & 0o7777) for path, _ in changes]
    try:
        for path, mode in changes:
            os.chmod(path, mode)
        yield
    finally:
        for path, mode in old:
            os.chmod(path, mode)


def dirs_below(top, path):
    """The directories from top down to path's parent (to make traversable)."""
    dirs = []
    d = os.path.dirname(path)
    while d.startswith(top):
        dirs.append(d)
        d = os.path.dirname(d)
    return dirs


def zygote_children(zpid):
    with open(f"/proc/{zpid}/task/{zpid}/children") as f:
        return [int(p) for p in f.read().split()]


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return None


def pool_full(zpid, prefork):
    """True once the zygote's children are exactly its pool, full: prefork
    children, each still titled pywarm-zygote (a serving child shows its
    caller's argv, an exited one is a zombie with no cmdline)."""
    kids = zygote_children(zpid)
    return len(kids) == prefork and all(_cmdline(k) == b"pywarm-zygote\0" for k in kids)


def zygote_log(pw):
    logs = os.path.join(pw.state_dir, "pywarm")
    text = ""
    for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else ():
        if name.endswith(".log"):
            with open(os.path.join(logs, name), errors="replace") as f:
                text += f.read()
    return text


MAGIC = 0x4d525750          # "PWRM" little-endian, see config/proto.h


VERSION = PROTO_VERSION


MSG_LAUNCH, MSG_STATUS_REQ, MSG_READY, MSG_STATUS = 1, 2, 16, 20


def header(type_, length=0, nfds=0, magic=MAGIC, version=VERSION):
    return struct.pack("<IHHII", magic, version, type_, length, nfds)


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def zygote_socket(pw, zpid):
    """The path of the listening socket held by the zygote (via /proc/net/unix)."""
    inodes = set()
    for name in os.listdir(f"/proc/{zpid}/fd"):
        try:
            link = os.readlink(f"/proc/{zpid}/fd/{name}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[6] in inodes and parts[7].endswith(".sock"):
                return parts[7]
    socks = glob.glob(os.path.join(pw.run_dir, "pywarm", "*.sock"))
    if len(socks) == 1:
        return socks[0]
    pytest.fail(f"cannot tell which socket zygote {zpid} listens on: {socks}", pytrace=False)


def quick_warm_check(pw, wd):
    real, pyw = pw.run_both(["-c", "import sys; print('alive', sys.argv)", "z"], cwd=wd, timeout=20)
    assert_same(real, pyw)
    assert_warm(pyw)


class StagedInstall:
    """`make install` into a DESTDIR of the session's (PREFIX under it),
    with private runtime and state directories in env; close() stops its
    zygotes and uninstalls."""

    def __init__(self, pw, name, *variables):
        self.pw = pw
        self.dest = os.path.join(pw.workdir(f"{name}-destdir"), "root")
        make("install", self.dest, *variables, timeout=1200)
        self.pre = self.dest + PREFIX
        self.ctl = os.path.join(self.pre, "bin/pywarmctl")
        self.linkdir = os.path.join(self.pre, "lib/pywarm/bin")
        self.root = pw.workdir(f"{name}-run")
        run = os.path.join(self.root, "run")
        os.makedirs(run, mode=0o700)
        self.env = dict(pw.env, XDG_RUNTIME_DIR=run, XDG_STATE_HOME=os.path.join(self.root, "state"))

    def close(self):
        subprocess.run([self.ctl, "stop", "--all"], env=self.env, capture_output=True, timeout=60)
        make("uninstall", self.dest)


def staged(pw, cls):
    """The body of a module fixture: a StagedInstall subclass made for the
    module and closed after it (the module is skipped without make)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    inst = cls(pw)
    yield inst
    inst.close()


def make(target, destdir, *variables, timeout=600):
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    p = subprocess.run(["make", "-C", REPO, f"BUILDDIR={BUILD}", f"PYTHON={REAL}",
                        f"PREFIX={PREFIX}", f"DESTDIR={destdir}", *variables, target],
                       env=env, capture_output=True, timeout=timeout)
    assert p.returncode == 0, f"make {target} failed:\n{p.stdout.decode()}\n{p.stderr.decode()}"


def run_pair(pw, wd, args, interact, rows=24, cols=80, must_be_warm=True,
             env_add=None, remove=(), collect=None):
    """Run interact(job, side, trace) against [REAL, *args] then [PYWARM, *args],
    with env_add in the environment and the files in remove deleted before each.
    Returns {side: (end event, transcript, warm True/False/None, trace text)},
    with collect()'s value after each run appended when collect is given."""
    trace = pw.trace_path()
    env = pw.make_env(env_add, trace=trace)
    res = {}
    for side, exe in (("real", REAL), ("pywarm", PYWARM)):
        for p in (trace, *remove):
            if os.path.exists(p):
                os.unlink(p)
        job = PtyJob([exe, *args], env, wd, rows=rows, cols=cols)
        try:
            interact(job, side, trace)
            end = job.finish()
        except AssertionError as e:
            raise AssertionError(f"[{side}] {e}\ntrace:\n{_read(trace)}") from None
        finally:
            job.close()
        lines = parse_trace(_read(trace), job.pid)
        warm = True if any("event=warm " in l for l in lines) else False if any("event=cold " in l for l in lines) else None
        res[side] = (end, job.transcript, warm, _read(trace)) + ((collect(),) if collect else ())
    if must_be_warm and not SELF:
        assert res["pywarm"][2] is True, f"the pty run was not warm; trace:\n{res['pywarm'][3]}"
    return res


def assert_same_session(res):
    real, pyw = res["real"], res["pywarm"]
    assert real[0] == pyw[0], f"the job ended differently: real {real[0]}, pywarm {pyw[0]}"
    assert real[1] == pyw[1], f"transcripts differ:\nreal:   {real[1]!r}\npywarm: {pyw[1]!r}"



def wait_until(cond, what, timeout=60):
    """poll_until, failing the test with what was awaited (a text, or a
    callable giving it) when the time is up; cond()'s true value."""
    v = poll_until(cond, timeout)
    if not v:
        pytest.fail(f"timed out after {timeout}s waiting for {what() if callable(what) else what}",
                    pytrace=False)
    return v


def _options(args):
    """The interpreter options at the front of args (what picks the zygote)."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a in ("-", "--") or not a.startswith("-") or \
                (not a.startswith("--") and ("c" in a or "m" in a) and not a.startswith(("-W", "-X"))):
            break
        out.append(a)
        if a in ("-W", "-X", "--check-hash-based-pycs") and i + 1 < len(args):
            out.append(args[i + 1])
            i += 1
        i += 1
    return out


def zygote_state(pw, ident, env=None, cwd=None):
    """The state `pywarmctl status` gives the zygote of identity ident
    ("serving", ...), None when it lists none."""
    blocks, _ = pw.status_blocks(cwd=cwd, env=env)
    return next((b.get("state") for b in blocks if ident in b[""].split()), None)


def warm_up(pw, args, env_add, wd, timeout=60):
    """Run pywarm with the options of args until a zygote serves them; after
    a cold run, wait until the zygote it named (the last identity in its
    trace, the one with the options) serves or is gone before trying again."""
    if SELF:
        return
    opts = _options(args)
    env = pw.make_env(env_add)
    deadline = time.monotonic() + timeout
    while True:
        r = pw.run_pywarm([*opts, "-c", "pass"], env_add=env_add, cwd=wd)
        if r.warm or time.monotonic() > deadline:
            return
        idents = re.findall(r"identity ([0-9a-f]{16})\b", r.trace)   # the last: with the options
        if idents:
            poll_until(lambda: zygote_state(pw, idents[-1], env, wd) in ("serving", None),
                       deadline - time.monotonic(), step=0.05)


def run_stderr_on_pty(argv, cwd, env):
    """Run argv with stderr on a fresh pseudo-terminal (stdin /dev/null,
    stdout a pipe); (returncode, stdout bytes, what the terminal showed)."""
    master, slave = os.openpty()
    try:
        p = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=slave, timeout=60)
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                b = os.read(master, 4096)
            except OSError:
                break
            if not b:
                break
            chunks.append(b)
        return p.returncode, p.stdout, b"".join(chunks).decode(errors="replace")
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
