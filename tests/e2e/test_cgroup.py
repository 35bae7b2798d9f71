# test_cgroup.py: what a warm run can see of other runs and what binds it: /proc/self/cmdline and environ are python3's (never the zygote's start-up block), and the caller's cgroup limits bind the warm run as they bind python3.

import contextlib
import os
import select
import shutil
import subprocess
import textwrap
import uuid

import pytest

from conftest import (PYWARM, PYWARMCTL, REAL, SELF, _read, assert_same, assert_warm, needs_pywarm,
                      write_files)
from helpers import temp_user

SECRET = "pywarm-secret-" + uuid.uuid4().hex

# Prints what /proc shows of the running program itself.
PROC_PROBE = textwrap.dedent("""\
    import sys
    def area(name):
        with open("/proc/self/" + name, "rb") as f:
            return f.read()
    print("cmdline", area("cmdline").split(b"\\0"))
    env = area("environ")
    print("environ", sorted(env.split(b"\\0")))
    secret = sys.argv[1][::-1].encode()     # given reversed: not in argv itself
    print("secret", secret in env or secret in area("cmdline"))
""")


# Counts the places in its own memory that hold the secret (given reversed).
MEMORY_PROBE = textwrap.dedent("""\
    import os, sys
    needle = os.fsencode(sys.argv[1])[::-1]     # the only copy made here
    mine = id(needle) + sys.getsizeof(b"") - 1
    regions = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            span, perm = line.split()[:2]
            if "r" in perm and "[vvar" not in line and "[vsyscall" not in line:
                regions.append([int(x, 16) for x in span.split("-")])
    hits = 0
    with open("/proc/self/mem", "rb", 0) as mem:
        for lo, hi in regions:
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            i = data.find(needle)
            while i >= 0:
                hits += lo + i != mine
                i = data.find(needle, i + 1)
            del data
    print("hits", hits)
""")


# ---------------------------------------------------------------- /proc/self/cmdline and environ

@needs_pywarm
def test_cmdline_is_python3s(pw, wd):
    """/proc/self/cmdline of a warm run: the interpreter and the caller's
    arguments, as python3's, not the zygote's command line."""
    real, pyw = pw.run_both(["-c", PROC_PROBE, "no-secret", "two words", "\u00e9t\u00e9", ""], cwd=wd)
    assert real.rc == 0, real.describe()
    assert_same(real, pyw)
    assert_warm(pyw)


@needs_pywarm
def test_environ_is_callers(pw, wd):
    """/proc/self/environ of a warm run is the caller's environment exactly."""
    add = {"PW_CG_VAR": "a value with spaces", "PW_CG_EMPTY": "", "PW_CG_LONG": "x" * 5000}
    real, pyw = pw.run_both(["-c", PROC_PROBE, "no-secret"], cwd=wd, env_add=add)
    assert real.rc == 0, real.describe()
    assert b"PW_CG_LONG" in real.out
    assert_same(real, pyw)
    assert_warm(pyw)


@needs_pywarm
def test_session_zygote_shows_no_start_up_block(pw):
    """The zygote's own /proc entries: a title and no environment (padded
    with NUL bytes where the kernel refuses PR_SET_MM_MAP)."""
    zpid = pw.ensure_zygote()
    with open(f"/proc/{zpid}/cmdline", "rb") as f:
        assert f.read().rstrip(b"\0") == b"pywarm-zygote"
    with open(f"/proc/{zpid}/environ", "rb") as f:
        assert f.read().strip(b"\0") == b""


@contextlib.contextmanager
def project_zygote(pw, wd, env):
    """A zygote for a trusted project profile in wd, started with env."""
    write_files(wd, {".pywarm.ini": "[preload]\nmodules = json\n"})
    pw.trust(os.path.join(wd, ".pywarm.ini"))
    pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    try:
        blocks, _ = pw.status_blocks(cwd=wd)
        pids = [int(b["pid"].split()[0]) for b in blocks
                if b.get("profile", "").startswith(os.path.join(wd, ".pywarm.ini"))]
        assert len(pids) == 1, blocks
        yield pids[0]
    finally:
        pw.ctl("stop", cwd=wd, check=False, timeout=30)


def zygote_children(zpid):
    with open(f"/proc/{zpid}/task/{zpid}/children") as f:
        return [int(p) for p in f.read().split()]


@needs_pywarm
def test_starting_runs_environment_is_never_visible(pw, wd):
    """A zygote started by a run holding a secret: a later warm run (and any
    process reading the zygote's or a pooled child's /proc entries) sees
    none of it."""
    start = {"PW_CG_SECRET": SECRET, "PW_CG_LONG": "x" * 2000 + SECRET}
    with project_zygote(pw, wd, pw.make_env(start)) as zpid:
        real, pyw = pw.run_both(["-c", PROC_PROBE, SECRET[::-1]], cwd=wd)
        assert real.rc == 0 and b"secret False" in real.out, real.describe()
        assert_same(real, pyw)
        assert_warm(pyw)
        # Nor in the memory the run inherits (the zygote's copies: C
        # environ, the saved start-up environment, os.environ).
        real, pyw = pw.run_both(["-c", MEMORY_PROBE, SECRET[::-1]], cwd=wd)
        assert real.rc == 0 and real.out == b"hits 0\n", real.describe()
        assert_same(real, pyw)
        assert_warm(pyw)
        for pid in [zpid] + zygote_children(zpid):
            for name in ("environ", "cmdline"):
                try:
                    with open(f"/proc/{pid}/{name}", "rb") as f:
                        data = f.read()
                except (FileNotFoundError, ProcessLookupError):
                    continue
                assert SECRET.encode() not in data, f"/proc/{pid}/{name} shows the secret"


# ---------------------------------------------------------------- cgroups

def _mounts():
    """[(mount point, fstype, super options)] of the cgroup file systems."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            l, r = left.split(), right.split()
            if len(r) >= 3 and r[0] in ("cgroup", "cgroup2") and l[3] == "/":
                out.append((l[4], r[0], r[2].split(",")))
    return out


def _our_cgroups():
    ours = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            ours[ctrls] = path
    return ours


def hierarchy(ctrl):
    """(mount point, parent cgroup dir for a test group, v2?) for controller
    ctrl (None: any cgroup v2 hierarchy, for membership only), or a reason
    why there is none."""
    if os.geteuid() != 0:
        return "needs root to make cgroups"
    ours = _our_cgroups()
    for mnt, fstype, opts in _mounts():
        if fstype == "cgroup2":
            try:
                with open(os.path.join(mnt, "cgroup.controllers")) as f:
                    avail = f.read().split()
            except OSError:
                continue
            if ctrl is None or ctrl in avail:
                return (mnt, mnt, True)      # a group under the root: no internal-process rule
    for mnt, fstype, opts in _mounts():
        if fstype == "cgroup" and ctrl in opts:
            key = next((k for k in ours if ctrl in k.split(",")), None)
            if key is not None:
                return (mnt, mnt + ours[key].rstrip("/"), False)
    what = "a cgroup v2 hierarchy" if ctrl is None else f"a cgroup hierarchy with the {ctrl} controller"
    return f"this machine has no {what} mounted"


def wait_gone(pid, timeout=30):
    """Wait until pid has exited (pidfd readable), up to timeout seconds."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


class Group:
    """A fresh cgroup for one test in the hierarchy of ctrl (or inside the
    group parent); removed after."""

    def __init__(self, ctrl, parent=None):
        if parent is not None:
            self.mnt, self.v2, top = parent.mnt, parent.v2, parent.dir
            if self.v2 and ctrl:
                parent.set("cgroup.subtree_control", "+" + ctrl)
        else:
            h = hierarchy(ctrl)
            if isinstance(h, str):
                pytest.skip(h)
            self.mnt, top, self.v2 = h
            if self.v2 and ctrl:
                with open(os.path.join(self.mnt, "cgroup.subtree_control"), "w") as f:
                    f.write("+" + ctrl)
        self.dir = os.path.join(top, "pywarm-test-" + uuid.uuid4().hex[:12])
        os.mkdir(self.dir)
        self.procs = os.path.join(self.dir, "cgroup.procs")

    def set(self, name, value):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(value)

    def has(self, name):
        return os.path.exists(os.path.join(self.dir, name))

    def limit_memory(self, value):
        if self.v2:
            self.set("memory.max", value)
            if self.has("memory.swap.max"):
                self.set("memory.swap.max", "0")
        else:
            self.set("memory.limit_in_bytes", value)
            if self.has("memory.memsw.limit_in_bytes"):
                self.set("memory.memsw.limit_in_bytes", value)

    def enter(self):
        """preexec: move the new process into this group."""
        procs = self.procs

        def _enter():
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        return _enter

    def remove(self, pids=()):
        for pid in pids:
            if pid:
                wait_gone(pid)
        for _ in range(3):
            try:
                with open(self.procs) as f:
                    left = [int(p) for p in f.read().split()]
            except FileNotFoundError:
                return
            for pid in left:
                wait_gone(pid)
            try:
                os.rmdir(self.dir)
                return
            except OSError:
                continue


@contextlib.contextmanager
def group(ctrl, parent=None):
    g = Group(ctrl, parent)
    g.pids = []
    try:
        yield g
    finally:
        g.remove(g.pids)


def run_in(pw, g, args, **kw):
    """run_both with each side started inside cgroup g."""
    real, pyw = pw.run_both(args, preexec=g.enter(), **kw)
    g.pids.append(pyw.warm_pid)
    return real, pyw


CGROUP_PROBE = "print(open('/proc/self/cgroup').read(), end='')"

# Allocates (and touches) 300 MiB.
BIG = "x = b'x' * (300 << 20)\nprint('survived', len(x))\n"
SMALL = "x = b'x' * (8 << 20)\nprint('survived', len(x))\n"

# Forks children (which wait on a pipe) until fork is refused.
FORKS = textwrap.dedent("""\
    import os
    r, w = os.pipe()
    kids, refused = [], None
    for i in range(16):
        try:
            pid = os.fork()
        except OSError as e:
            refused = type(e).__name__
            break
        if pid == 0:
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        kids.append(pid)
    os.close(w)
    for k in kids:
        os.waitpid(k, 0)
    print("fork refused:", refused)
""")


@needs_pywarm
@pytest.mark.parametrize("ctrl", [None, "memory", "pids"])
def test_cgroup_membership_is_callers(pw, wd, ctrl):
    """A caller in a cgroup without limits: the run stays warm, and it is in
    the caller's cgroup, as python3 is (/proc/self/cgroup the same)."""
    with group(ctrl) as g:
        real, pyw = run_in(pw, g, ["-c", CGROUP_PROBE], cwd=wd)
        assert real.rc == 0 and os.path.basename(g.dir).encode() in real.out, real.describe()
        assert_same(real, pyw)
        assert_warm(pyw)


@needs_pywarm
def test_memory_limit_oom_kills_warm_run_too(pw, wd):
    """300 MiB in a 64 MiB memory cgroup: python3 is OOM-killed, and so is the
    warm run (it joined the caller's cgroup); the zygote lives on."""
    with group("memory") as g:
        g.limit_memory(str(64 << 20))
        real, pyw = run_in(pw, g, ["-c", BIG], cwd=wd)
        assert real.rc == -9 and real.out == b"", real.describe()
        assert_same(real, pyw)
        assert_warm(pyw)


@needs_pywarm
def test_memory_limit_ancestor_binds_warm_run(pw, wd):
    """The limit set on a parent of the caller's cgroup binds as well."""
    with group("memory") as g, group("memory", g) as inner:
        g.limit_memory(str(64 << 20))
        real, pyw = run_in(pw, inner, ["-c", BIG], cwd=wd)
        assert real.rc == -9, real.describe()
        assert_same(real, pyw)
        assert_warm(pyw)


@needs_pywarm
def test_memory_limit_not_reached_stays_warm(pw, wd):
    """A program within the caller's memory limit runs warm and succeeds."""
    with group("memory") as g:
        g.limit_memory(str(64 << 20))
        real, pyw = run_in(pw, g, ["-c", SMALL], cwd=wd)
        assert real.rc == 0, real.describe()
        assert_same(real, pyw)
        assert_warm(pyw)


@needs_pywarm
def test_pids_limit_binds_warm_run(pw, wd):
    """pids.max in the caller's cgroup refuses the warm run's forks too."""
    with group("pids") as g:
        g.set("pids.max", "4")
        real, pyw = run_in(pw, g, ["-c", FORKS], cwd=wd)
        assert real.rc == 0 and b"fork refused: BlockingIOError" in real.out, real.describe()
        assert_same(real, pyw)
        assert_warm(pyw)


# -- a user who may not join the caller's cgroup (no CAP_DAC_OVERRIDE)

@contextlib.contextmanager
def temp_owner(groups):
    """Yields chown(user): gives the groups' directories and cgroup.procs
    files to user (a delegation); they go back to root afterwards."""
    done = []

    def chown(user):
        for g in groups:
            for path in (g.dir, g.procs):
                os.chown(path, user.pw_uid, user.pw_gid)
                done.append(path)
    try:
        yield chown
    finally:
        for path in done:
            if os.path.exists(path):
                os.chown(path, 0, 0)


@contextlib.contextmanager
def zygote_as_user(pw, start_in=None, before=None):
    """An ordinary user with a zygote of its own (started inside cgroup
    start_in, if given; before(user) is called first): yields
    (run(exe, args, preexec, trace), user, home)."""
    if SELF:
        pytest.skip("PYWARM_TEST_SELF=1: needs the real pywarm binaries")
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux)")
    with temp_user() as user:
        if before:
            before(user)
        home = os.path.join(pw.workdir("cg-user"), "home")
        os.mkdir(home, 0o700)
        os.chown(home, user.pw_uid, user.pw_gid)
        for d in (pw.tmp, os.path.join(pw.tmp, "w"), os.path.dirname(home)):
            os.chmod(d, 0o711)
        # Read access to the interpreter wherever it lives (a pyenv build
        # under /root), and nothing more: no writing to root's files.
        drop = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
                "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "XDG_RUNTIME_DIR": os.path.join(home, "run"),
               "XDG_STATE_HOME": os.path.join(home, "state"), "XDG_CONFIG_HOME": os.path.join(home, "config")}
        r = subprocess.run(drop + [PYWARMCTL, "start", "--wait"], env=env, cwd=home, capture_output=True,
                           timeout=90, preexec_fn=start_in.enter() if start_in else None)
        if r.returncode != 0:
            pytest.skip(f"cannot run a zygote as {user.pw_name}: {r.stderr.decode(errors='replace').strip()}")

        def run(exe, args, preexec, trace):
            return subprocess.run(drop + [exe, *args], env=dict(env, PYWARM_DEBUG=trace), cwd=home,
                                  capture_output=True, timeout=60, preexec_fn=preexec)
        try:
            yield run, user, home
        finally:
            subprocess.run(drop + [PYWARMCTL, "stop", "--all"], env=env, cwd=home, capture_output=True,
                           timeout=60)


@pytest.fixture(scope="module")
def user_zygote(pw):
    with zygote_as_user(pw) as uz:
        yield uz


def user_both(user_zygote, g, args):
    """(python3 result, pywarm result, pywarm trace) as the user, inside g."""
    run, user, home = user_zygote
    out = []
    for exe in (REAL, PYWARM):
        trace = os.path.join(home, "trace-" + uuid.uuid4().hex[:8])
        p = run(exe, args, g.enter() if g else None, trace)
        out.append((p, _read(trace)))
    (real, _), (pyw, trace) = out
    return real, pyw, trace


def same(real, pyw):
    assert (real.returncode, real.stdout, real.stderr) == (pyw.returncode, pyw.stdout, pyw.stderr), \
        f"python3: {real}\npywarm: {pyw}"


@needs_pywarm
def test_cannot_join_and_limit_differs_runs_cold(pw, user_zygote):
    """The user may not join the caller's root-owned cgroup, which sets a
    memory limit the zygote's does not: the run goes cold and python3 is
    OOM-killed as it would be."""
    with group("memory") as g:
        g.limit_memory(str(64 << 20))
        real, pyw, trace = user_both(user_zygote, g, ["-c", BIG])
        assert real.returncode == -9, real
        same(real, pyw)
        assert "event=cold " in trace and "cgroup" in trace, trace


@needs_pywarm
def test_cannot_join_without_limits_stays_warm(pw, user_zygote):
    """Not permitted to join a cgroup that sets no limit: the run stays warm
    (in the zygote's cgroup, as LIMITATIONS says)."""
    with group("memory") as g:
        real, pyw, trace = user_both(user_zygote, g, ["-c", SMALL])
        assert real.returncode == 0, real
        same(real, pyw)
        assert "event=warm " in trace, trace


@needs_pywarm
def test_delegated_cgroup_is_joined(pw, user_zygote):
    """A cgroup delegated to the user (its cgroup.procs is the user's): the
    warm run joins it and is OOM-killed like python3."""
    run, user, home = user_zygote
    with group("memory") as g:
        g.limit_memory(str(64 << 20))
        if g.v2:
            pytest.skip("delegation under cgroup v2 also needs the common ancestor's cgroup.procs")
        os.chown(g.dir, user.pw_uid, user.pw_gid)
        os.chown(g.procs, user.pw_uid, user.pw_gid)
        real, pyw, trace = user_both(user_zygote, g, ["-c", BIG])
        assert real.returncode == -9, real
        same(real, pyw)
        assert "event=warm " in trace, trace


@needs_pywarm
def test_cannot_join_v2_limit_runs_cold(pw, user_zygote):
    """The same under cgroup v2: a hugetlb limit set in a root-owned cgroup
    the user may not join sends the run cold."""
    with group("hugetlb") as g:
        if not g.v2:
            pytest.skip("hugetlb is not a cgroup v2 controller here")
        names = sorted(n for n in os.listdir(g.dir) if n.startswith("hugetlb.") and
                       n.endswith(".max") and ".rsvd." not in n)
        if not names:
            pytest.skip("no hugetlb.*.max files")
        g.set(names[0], str(2 << 30))
        real, pyw, trace = user_both(user_zygote, g, ["-c", SMALL])
        assert real.returncode == 0, real
        same(real, pyw)
        assert "event=cold " in trace and names[0] in trace, trace


@needs_pywarm
def test_cannot_join_v2_without_limits_stays_warm(pw, user_zygote):
    """A root-owned cgroup v2 group without limits: warm."""
    with group("hugetlb") as g:
        if not g.v2:
            pytest.skip("hugetlb is not a cgroup v2 controller here")
        real, pyw, trace = user_both(user_zygote, g, ["-c", SMALL])
        assert real.returncode == 0, real
        same(real, pyw)
        assert "event=warm " in trace, trace


@needs_pywarm
def test_zygote_in_limited_cgroup_runs_cold(pw):
    """A zygote that was started inside a memory-limited cgroup, a caller
    outside it: the run would be bound by a limit python3 is not, so it goes
    cold and the 300 MiB program succeeds, as under python3."""
    with group("memory") as g:
        g.limit_memory(str(64 << 20))
        with zygote_as_user(pw, start_in=g) as uz:
            real, pyw, trace = user_both(uz, None, ["-c", BIG])
            assert real.returncode == 0, real
            same(real, pyw)
            assert "event=cold " in trace and "memory" in trace, trace


@needs_pywarm
def test_cannot_join_v1_devices_cgroup_runs_cold(pw, user_zygote):
    """A cgroup v1 devices group the user may not join: what devices.deny
    took away cannot be read back (devices.list still says every device),
    so the run goes cold, and /dev/null stays denied as under python3."""
    h = hierarchy("devices")
    if isinstance(h, str) or h[2]:
        pytest.skip("no cgroup v1 devices hierarchy here")
    with group("devices") as g:
        g.set("devices.deny", "c 1:5 rwm")      # /dev/zero
        prog = "try:\n    open('/dev/zero', 'rb').close()\n    print('open')\nexcept OSError as e:\n    print(e.errno)\n"
        real, pyw, trace = user_both(user_zygote, g, ["-c", prog])
        assert real.returncode == 0 and real.stdout == b"1\n", real
        same(real, pyw)
        assert "event=cold " in trace and "devices" in trace, trace


@needs_pywarm
def test_delegated_v2_subtree_is_joined(pw):
    """A cgroup v2 subtree delegated to the user (as systemd delegates
    user@UID.service: the subtree's directories and cgroup.procs files are
    the user's), its zygote in one leaf, the caller in another that sets a
    hugetlb limit: the warm run joins the caller's leaf (/proc/self/cgroup
    as python3's) instead of going cold."""
    with group("hugetlb") as top:
        if not top.v2:
            pytest.skip("hugetlb is not a cgroup v2 controller here")
        with group("hugetlb", top) as zyg, group("hugetlb", top) as caller:
            names = sorted(n for n in os.listdir(caller.dir) if n.startswith("hugetlb.") and
                           n.endswith(".max") and ".rsvd." not in n)
            if not names:
                pytest.skip("no hugetlb.*.max files")
            caller.set(names[0], str(2 << 30))
            with temp_owner([top, zyg, caller]) as chown:
                with zygote_as_user(pw, start_in=zyg, before=chown) as uz:
                    real, pyw, trace = user_both(uz, caller, ["-c", CGROUP_PROBE])
                    assert real.returncode == 0 and os.path.basename(caller.dir).encode() in real.stdout, real
                    same(real, pyw)
                    assert "event=warm " in trace, trace
