# test_usermanager.py: a real `systemd --user` for a test user: pywarmctl enable, the first run after login warm from the socket-activated zygote, stop and disable leave nothing running, the journal has the zygote's lines.

import contextlib
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import BUILD, REAL, REPO, needs_pywarm
from helpers import poll_until

SYSTEM_PYTHON = "/usr/bin/python3"
UNITS = ("pywarm.socket", "pywarm.service")
MANAGER = next((p for p in ("/usr/lib/systemd/systemd", "/lib/systemd/systemd") if os.access(p, os.X_OK)), None)
JOURNALD = next((p for p in ("/usr/lib/systemd/systemd-journald", "/lib/systemd/systemd-journald")
                 if os.access(p, os.X_OK)), None)
WAIT = 60

pytestmark = needs_pywarm

PROBE = "import json, os, sys; print(json.dumps({'argv': sys.argv, 'executable': sys.executable})); " \
        "print(os.getppid(), file=sys.stderr)"


def cgroup_mounts():
    """{'unified': path of the cgroup2 mount, 'systemd': path of the v1
    name=systemd hierarchy (a hybrid layout), if mounted}."""
    found = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            fstype, _, opts = post.split()[:3]
            mnt = pre.split()[4]
            if fstype == "cgroup2":
                found.setdefault("unified", mnt)
            elif fstype == "cgroup" and "name=systemd" in opts.split(","):
                found.setdefault("systemd", mnt)
    return found


def cgroup_pids(top):
    pids = []
    for d, _, files in os.walk(top):
        if "cgroup.procs" in files:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids += [int(x) for x in f.read().split()]
    return pids



def journal_socket_alive():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.connect("/run/systemd/journal/socket")
        return True
    except OSError:
        return False
    finally:
        s.close()


class Notify:
    """A NOTIFY_SOCKET for a daemon we start: wait for its READY=1."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o777)       # the user manager sends as the test user

    def wait_ready(self, proc, what):
        deadline = time.monotonic() + WAIT
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                pytest.fail(f"{what} never said READY=1 (exit status {proc.poll()})", pytrace=False)
            r, _, _ = select.select([self.sock], [], [], min(left, 1.0))
            if r and b"READY=1" in self.sock.recv(4096).split(b"\n"):
                return

    def close(self):
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def system_build():
    """A build directory of pywarm against /usr/bin/python3 (the test user
    cannot read an interpreter under /root)."""
    if os.path.realpath(REAL) == os.path.realpath(SYSTEM_PYTHON):
        return BUILD
    if not os.access(SYSTEM_PYTHON + "-config", os.X_OK) or shutil.which("make") is None:
        pytest.skip(f"needs make and {SYSTEM_PYTHON}-config (python3-dev) for a build the test user can run")
    build = BUILD + "-deb"          # the same build `make bench` makes
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    p = subprocess.run(["make", "-C", REPO, f"PYTHON={SYSTEM_PYTHON}", f"BUILDDIR={build}", "all"],
                       env=env, capture_output=True, timeout=900)
    assert p.returncode == 0, f"make failed:\n{p.stdout.decode()}\n{p.stderr.decode()}"
    return build


class UserSession:
    """A test user with a cgroup of its own, /run/user/UID and a running
    `systemd --user`; every step is undone in reverse by close()."""

    def __init__(self):
        self.undo = []
        self.manager = None
        self.manager_undo = False
        self.journald = None

    # -- set-up

    def setup(self):
        for why, ok in (("needs root (a test user, a cgroup, /run/user)", os.geteuid() == 0),
                        ("systemd is not installed (tests/deps.sh installs it)", MANAGER is not None),
                        ("systemctl is not installed", shutil.which("systemctl") is not None),
                        ("useradd is not installed", shutil.which("useradd") is not None)):
            if not ok:
                pytest.skip(why)
        mounts = cgroup_mounts()
        if "unified" not in mounts:
            pytest.skip("no cgroup2 (unified) hierarchy is mounted: systemd --user needs a cgroup to own")
        build = system_build()
        self.top = tempfile.mkdtemp(prefix="pywarm-um-")
        self.undo.append(lambda: shutil.rmtree(self.top, ignore_errors=True))
        os.chmod(self.top, 0o755)
        self.bindir = os.path.join(self.top, "bin")
        os.makedirs(self.bindir)
        for prog in ("pywarm", "pywarmctl", "pywarm-zygote"):
            shutil.copy(os.path.join(build, prog), os.path.join(self.bindir, prog))
        self.make_user()
        self.make_cgroups(mounts)
        self.make_runtime_dir()
        self.need_dir("/run/systemd/system")     # what `systemd --user` takes for a booted system
        self.start_journald()
        self.install_units()
        self.start_manager()

    def make_user(self):
        name = "pwu" + uuid.uuid4().hex[:8]
        self.home = os.path.join(self.top, "home")
        p = subprocess.run(["useradd", "--system", "--create-home", "--home-dir", self.home,
                            "--shell", "/bin/sh", name], capture_output=True, timeout=60)
        if p.returncode != 0:
            pytest.skip(f"useradd failed: {p.stderr.decode(errors='replace').strip()}")
        self.undo.append(lambda: subprocess.run(["userdel", name], capture_output=True, timeout=60))
        self.user = pwd.getpwnam(name)
        self.uid, self.gid = self.user.pw_uid, self.user.pw_gid

    def make_cgroups(self, mounts):
        self.cgroups = []
        for kind, mnt in sorted(mounts.items()):
            path = os.path.join(mnt, f"pywarm-test-{self.user.pw_name}")
            if kind == "unified":
                self.cgroup = path
            try:
                os.mkdir(path)
            except OSError as e:
                pytest.skip(f"cannot make a cgroup under {mnt}: {e}")
            self.undo.append(lambda p=path: self.remove_cgroup(p))
            for d, _, files in os.walk(path):
                for f in [d] + [os.path.join(d, x) for x in files]:
                    os.chown(f, self.uid, self.gid)
            self.cgroups.append(path)

    def remove_cgroup(self, path):
        if not os.path.isdir(path):
            return
        if cgroup_pids(path) and os.path.exists(os.path.join(path, "cgroup.kill")):
            with open(os.path.join(path, "cgroup.kill"), "w") as f:
                f.write("1")
        poll_until(lambda: not cgroup_pids(path), WAIT)
        for d, _, _ in os.walk(path, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(d)

    def need_dir(self, path, mode=0o755):
        """Make path (and missing parents), to be removed afterwards if we made it."""
        made = []
        d = path
        while not os.path.exists(d):
            made.append(d)
            d = os.path.dirname(d)
        for d in reversed(made):
            os.mkdir(d, mode)
            self.undo.append(lambda d=d: shutil.rmtree(d, ignore_errors=True))

    def make_runtime_dir(self):
        self.need_dir("/run/user")
        self.runtime = f"/run/user/{self.uid}"
        if os.path.exists(self.runtime):
            pytest.skip(f"{self.runtime} exists already")
        os.mkdir(self.runtime, 0o700)
        self.undo.append(lambda: shutil.rmtree(self.runtime, ignore_errors=True))
        os.chown(self.runtime, self.uid, self.gid)

    def start_journald(self):
        """Use the running journald, or start one for the test (PID 1 here may
        not be systemd); self.journal_why says why there is none."""
        self.journal_why = None
        if journal_socket_alive():
            return
        if JOURNALD is None:
            self.journal_why = "systemd-journald is not installed"
            return
        self.need_dir("/run/systemd/journal")
        self.need_dir("/run/log/journal")
        notify = Notify(os.path.join(self.top, "journald.notify"))
        try:
            self.journald = subprocess.Popen([JOURNALD], env={"NOTIFY_SOCKET": notify.path},
                                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE)
            self.undo.append(self.stop_journald)
            notify.wait_ready(self.journald, "systemd-journald")
        finally:
            notify.close()
        if not journal_socket_alive():
            self.journal_why = "systemd-journald started but /run/systemd/journal/socket does not answer"

    def stop_journald(self):
        if self.journald.poll() is None:
            self.journald.terminate()
            try:
                self.journald.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.journald.kill()
                self.journald.wait()

    def install_units(self):
        """The units as `make install` writes them, in the user's unit directory."""
        d = os.path.join(self.home, ".config", "systemd", "user")
        os.makedirs(d)
        for name in UNITS:
            with open(os.path.join(REPO, "shell", "systemd", name)) as f:
                text = f.read().replace("@BINDIR@", self.bindir)
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        for sub in (".config", ".config/systemd", ".config/systemd/user"):
            os.chown(os.path.join(self.home, sub), self.uid, self.gid)
        for name in UNITS:
            os.chown(os.path.join(d, name), self.uid, self.gid)

    # -- the user manager

    def env(self, **extra):
        return dict({"HOME": self.home, "USER": self.user.pw_name, "LOGNAME": self.user.pw_name,
                     "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": self.runtime},
                    **extra)

    def start_manager(self):
        """`systemd --user` as the test user, in its cgroup, as at login;
        returns once it has finished starting up (READY=1)."""
        notify = Notify(os.path.join(self.top, "manager.notify"))
        cgroups, uid, gid = self.cgroups, self.uid, self.gid

        def enter():
            for cg in cgroups:
                with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)

        try:
            self.manager = subprocess.Popen([MANAGER, "--user"], env=self.env(NOTIFY_SOCKET=notify.path),
                                            cwd=self.home, preexec_fn=enter, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if not self.manager_undo:
                self.undo.append(self.stop_manager)
                self.manager_undo = True
            notify.wait_ready(self.manager, "systemd --user")
        finally:
            notify.close()

    def stop_manager(self):
        """Log out: SIGTERM to the user manager, which stops its units and exits."""
        if self.manager is None or self.manager.poll() is not None:
            return
        self.manager.send_signal(signal.SIGTERM)
        try:
            self.manager.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.manager.kill()
            self.manager.wait()

    def run(self, *argv, env_extra=None, check=True):
        p = subprocess.run(list(argv), env=self.env(**(env_extra or {})), cwd=self.home,
                           user=self.uid, group=self.gid, extra_groups=[], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=WAIT)
        if check:
            assert p.returncode == 0, p
        return p

    def systemctl(self, *args, check=True):
        return self.run("systemctl", "--user", "--no-pager", *args, check=check)

    def prop(self, unit, name):
        return self.systemctl("show", "-p", name, "--value", unit).stdout.decode().strip()

    def zygotes(self):
        """Pids of processes running our copy of pywarm-zygote."""
        exe = os.path.join(self.bindir, "pywarm-zygote")
        pids = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{d}/exe") in (exe, exe + " (deleted)"):
                        pids.append(int(d))
        return pids

    def close(self):
        while self.undo:
            with contextlib.suppress(Exception):
                self.undo.pop()()


@pytest.fixture(scope="module")
def session():
    s = UserSession()
    try:
        s.setup()
        yield s
    finally:
        s.close()


def traced_run(s, program_env=None):
    """PROBE through the user's pywarm; (result, trace lines)."""
    trace = os.path.join(s.home, f"trace-{uuid.uuid4().hex[:6]}")
    p = s.run(os.path.join(s.bindir, "pywarm"), "-c", PROBE, env_extra=dict(PYWARM_DEBUG=trace, **(program_env or {})))
    with open(trace) as f:
        lines = f.read().splitlines()
    return p, lines


def assert_served_by_service(s, p, lines, via_default):
    real = s.run(SYSTEM_PYTHON, "-c", PROBE)
    assert p.stdout == real.stdout, (p, real)
    assert any("event=warm " in l for l in lines), "\n".join(lines)
    main = int(s.prop("pywarm.service", "MainPID"))
    assert main > 0 and int(p.stderr.decode().split()[-1]) == main, (p, main)
    if via_default:
        assert any(l.endswith(f"connected to {s.runtime}/pywarm/default.sock") for l in lines), "\n".join(lines)


def assert_nothing_running(s):
    for unit in UNITS:
        assert s.systemctl("is-active", unit, check=False).stdout.decode().strip() in ("inactive", "failed")
    svc = os.path.join(s.cgroup, "app.slice", "pywarm.service")
    assert not (os.path.isdir(svc) and cgroup_pids(svc)), cgroup_pids(svc)
    assert s.zygotes() == [], "a zygote still runs"
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with pytest.raises(OSError):
        c.connect(f"{s.runtime}/pywarm/default.sock")
    c.close()


def test_enable_login_stop_disable(session):
    s = session
    ctl = os.path.join(s.bindir, "pywarmctl")
    p = s.run(ctl, "enable")
    assert b"pywarm.socket" in p.stderr + p.stdout
    for unit in UNITS:
        assert s.systemctl("is-enabled", unit).stdout.decode().strip() == "enabled"

    # Log out and in again: the new manager starts the socket and the
    # service (default.target wants it).  Once the login's start-up jobs
    # are done (the zygote said READY=1), the first run is warm, its parent
    # the service's zygote.  (A run while that zygote still imports finds
    # its lock taken and goes cold, as for any warming zygote.)
    s.stop_manager()
    assert s.zygotes() == []
    s.start_manager()
    assert s.systemctl("is-system-running", "--wait").stdout.decode().strip() == "running"
    assert s.systemctl("is-active", *UNITS).stdout.decode().split() == ["active", "active"]
    p, lines = traced_run(s)
    assert_served_by_service(s, p, lines, via_default=False)

    # With the service stopped and the socket listening, a run starts it
    # through the socket and is served warm by it.
    s.systemctl("stop", "pywarm.service")
    assert s.zygotes() == []
    p, lines = traced_run(s)
    assert_served_by_service(s, p, lines, via_default=True)
    assert p.returncode == 0

    s.systemctl("stop", *UNITS)
    assert_nothing_running(s)

    s.run(ctl, "enable")
    assert s.systemctl("is-active", *UNITS).stdout.decode().split() == ["active", "active"]
    p = s.run(ctl, "disable")
    assert_nothing_running(s)
    for unit in UNITS:
        assert s.systemctl("is-enabled", unit, check=False).stdout.decode().strip() == "disabled"


def test_journal_has_zygote_lines(session):
    s = session
    if s.journal_why:
        pytest.skip(f"no journal: {s.journal_why}")
    ctl = os.path.join(s.bindir, "pywarmctl")
    since = time.time()
    s.run(ctl, "enable")
    main = int(s.prop("pywarm.service", "MainPID"))
    p, lines = traced_run(s)
    assert any("event=warm " in l for l in lines), "\n".join(lines)
    s.run(ctl, "disable")
    assert_nothing_running(s)
    zyg = zygote_journal(s, main, since)
    msgs = [(r.get("PRIORITY"), r.get("MESSAGE")) for r in zyg]
    assert zyg, f"no journal records of the zygote (pid {main})"
    # Its own stream of the service, at the priority of its kind of line:
    # informational (6) for what a zygote does in normal operation.
    for r in zyg:
        assert r.get("_TRANSPORT") == "stdout" and r.get("_UID") == str(s.uid), r
        assert r.get("_SYSTEMD_CGROUP", "").endswith("/app.slice/pywarm.service"), r
    assert any(m and " serving " in m and pr == "6" for pr, m in msgs), msgs
    assert any(m and "retiring" in m and pr == "6" for pr, m in msgs), msgs
    assert all(pr == "6" for pr, _ in msgs), msgs


def test_environment_d_links_first_for_services(session):
    """The login environment of pywarm(1)'s links, as pywarmctl(1) documents
    it for systemd: a service that runs python3 from PATH runs warm."""
    s = session
    if shutil.which("systemd-run") is None:
        pytest.skip("systemd-run is not installed")
    linkdir = os.path.join(s.top, "lib", "pywarm", "bin")     # where make install puts them
    os.makedirs(linkdir, exist_ok=True)
    for name in ("python", "python3"):
        if not os.path.lexists(os.path.join(linkdir, name)):
            os.symlink("../../../bin/pywarm", os.path.join(linkdir, name))
    ctl = os.path.join(s.bindir, "pywarmctl")
    line = s.run(ctl, "shell-init", "--path", "sh").stdout.decode()
    assert f"PATH='{linkdir}'" in line, line
    envd = os.path.join(s.home, ".config", "environment.d")
    os.makedirs(envd, exist_ok=True)
    os.chown(envd, s.uid, s.gid)
    with open(os.path.join(envd, "pywarm.conf"), "w") as f:
        f.write(f"PATH={linkdir}:${{PATH}}\n")
    try:
        s.stop_manager()
        s.start_manager()
        assert s.systemctl("is-system-running", "--wait").stdout.decode().strip() == "running"
        env = dict(l.split("=", 1) for l in s.systemctl("show-environment").stdout.decode().splitlines())
        assert env["PATH"].startswith(linkdir + ":"), env["PATH"]
        s.run(ctl, "enable")
        s.systemctl("start", "pywarm.service")          # joins the start job, returns once READY
        main = int(s.prop("pywarm.service", "MainPID"))
        out, err, trace, script = (os.path.join(s.home, n)
                                   for n in ("svc.out", "svc.err", "svc.trace", "svc.py"))
        # A service's script: env(1) finds python3 on the service's PATH.
        with open(script, "w") as f:
            f.write("#!/usr/bin/env python3\n" + PROBE + "\n")
        os.chmod(script, 0o755)
        s.run("systemd-run", "--user", "--wait", "--collect", "--quiet",
              f"--property=StandardOutput=file:{out}", f"--property=StandardError=file:{err}",
              f"--setenv=PYWARM_DEBUG={trace}", script)
        real = s.run(SYSTEM_PYTHON, script)
        with open(out, "rb") as f, open(err, "rb") as g, open(trace) as t:
            got, ppid, lines = f.read(), g.read(), t.read().splitlines()
        assert got == real.stdout, (got, real)
        assert any("event=warm " in l for l in lines), "\n".join(lines)
        assert int(ppid.split()[-1]) == main, (ppid, main)
        s.run(ctl, "disable")
        assert_nothing_running(s)
    finally:
        os.unlink(os.path.join(envd, "pywarm.conf"))


def zygote_journal(s, pid, since):
    """The journal records of the zygote with that pid since a time (journald
    has written what it received once it answers journalctl --sync)."""
    subprocess.run(["journalctl", "--sync"], capture_output=True, timeout=WAIT)
    out = subprocess.run(["journalctl", "--no-pager", "-o", "json", f"_PID={pid}",
                          f"--since=@{int(since)}"], capture_output=True, timeout=WAIT)
    assert out.returncode == 0, out
    return [r for r in (json.loads(l) for l in out.stdout.decode().splitlines() if l.strip())
            if r.get("SYSLOG_IDENTIFIER") == "pywarm-zygote"]


def test_journal_warning_priority(session):
    s = session
    if s.journal_why:
        pytest.skip(f"no journal: {s.journal_why}")
    conf = os.path.join(s.home, ".config", "pywarm")
    os.makedirs(conf, exist_ok=True)
    os.chown(conf, s.uid, s.gid)
    profile = os.path.join(conf, "pywarm.ini")
    with open(profile, "w") as f:
        f.write("[preload]\nmodules = json, pywarm_test_no_such_module\n")
    os.chown(profile, s.uid, s.gid)
    ctl = os.path.join(s.bindir, "pywarmctl")
    since = time.time()
    try:
        s.run(ctl, "enable")
        s.systemctl("start", "pywarm.service")          # returns once READY
        main = int(s.prop("pywarm.service", "MainPID"))
        s.run(ctl, "disable")
        records = zygote_journal(s, main, since)
        bad = [r for r in records if "pywarm_test_no_such_module" in r.get("MESSAGE", "")]
        assert bad, [r.get("MESSAGE") for r in records]
        assert all(int(r["PRIORITY"]) <= 4 for r in bad), [(r["PRIORITY"], r["MESSAGE"]) for r in bad]
    finally:
        os.unlink(profile)
        s.run(ctl, "disable", check=False)
