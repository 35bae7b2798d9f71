# test_systemd.py: the user units, socket activation through systemd-socket-activate, readiness and stopping notifications, pywarmctl enable/disable.

import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import (BUILD, PYWARM, PYWARMCTL, REPO, ZYGOTE_BIN, needs_pywarm, parse_status,
                      proc_alive, write_files)
from helpers import wait_until

UNITS = os.path.join(REPO, "shell", "systemd")

pytestmark = needs_pywarm


def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (Debian package systemd; tests/deps.sh installs it)")
    return path


def units_for(bindir, dest):
    """The units as `make install` writes them, with the zygote in bindir."""
    os.makedirs(dest, exist_ok=True)
    for name in ("pywarm.socket", "pywarm.service"):
        with open(os.path.join(UNITS, name)) as f:
            text = f.read().replace("@BINDIR@", bindir)
        with open(os.path.join(dest, name), "w") as f:
            f.write(text)
    return [os.path.join(dest, n) for n in ("pywarm.socket", "pywarm.service")]


def unit_keys(path):
    keys = {}
    for line in open(path):
        m = re.match(r"^([A-Za-z]+)=(.*)$", line.strip())
        if m:
            keys.setdefault(m.group(1), []).append(m.group(2))
    return keys


def test_units_verify(pw):
    analyze = need("systemd-analyze")
    root = pw.workdir("units")
    run = os.path.join(root, "run")
    os.makedirs(run, mode=0o700)
    paths = units_for(BUILD, os.path.join(root, "user"))
    env = dict(pw.env, XDG_RUNTIME_DIR=run)
    # With man(1) at hand, the Documentation= pages are checked too.
    mandir = os.path.join(root, "man")
    for page in ("pywarm.1", "pywarmctl.1", "pywarm.ini.5"):
        os.makedirs(os.path.join(mandir, "man" + page[-1]), exist_ok=True)
        shutil.copy(os.path.join(REPO, "man", page), os.path.join(mandir, "man" + page[-1]))
    man = ["--man=no"] if shutil.which("man") is None else []
    p = subprocess.run([analyze, "verify", "--user", *man, *paths], env=dict(env, MANPATH=mandir),
                       capture_output=True, timeout=60)
    assert p.returncode == 0 and p.stdout == b"" and p.stderr == b"", p
    sock, svc = (unit_keys(x) for x in paths)
    assert sock["ListenStream"] == ["%t/pywarm/default.sock"]
    assert sock["DirectoryMode"] == ["0700"] and sock["SocketMode"] == ["0600"]
    assert svc["Type"] == ["notify"] and svc["KillMode"] == ["mixed"]
    assert svc["ExecStart"] == [ZYGOTE_BIN]
    # Nothing that would make every warm run observably different.
    for key in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp",
                "SystemCallFilter", "MemoryDenyWriteExecute", "PrivateNetwork"):
        assert key not in svc, key
    # A unit that names a missing binary fails verification: the check has teeth.
    bad = units_for("/nonexistent/bin", os.path.join(root, "bad"))
    p = subprocess.run([analyze, "verify", "--user", "--man=no", *bad], env=env,
                       capture_output=True, timeout=60)
    assert p.returncode != 0 and b"/nonexistent/bin/pywarm-zygote" in p.stderr, p


class Activation:
    """systemd-socket-activate listening on <run>/pywarm/default.sock for a
    pywarm-zygote, with a NOTIFY_SOCKET datagram socket of our own and the
    zygote's stderr standing in for the journal."""

    def __init__(self, pw, name, zygote_env_add=None):
        self.tool = need("systemd-socket-activate")
        self.root = pw.workdir(name)
        self.run_dir = os.path.join(self.root, "run")
        self.sockdir = os.path.join(self.run_dir, "pywarm")
        os.makedirs(self.sockdir, mode=0o700)
        os.chmod(self.run_dir, 0o700)
        self.env = dict(pw.env, XDG_RUNTIME_DIR=self.run_dir,
                        XDG_STATE_HOME=os.path.join(self.root, "state"),
                        XDG_CONFIG_HOME=os.path.join(self.root, "config"))
        self.default_sock = os.path.join(self.sockdir, "default.sock")
        self.notify_path = os.path.join(self.root, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.log = os.path.join(self.root, "journal")
        zenv = dict(self.env, **(zygote_env_add or {}))
        logf = open(self.log, "wb")
        st = os.fstat(logf.fileno())
        zenv["NOTIFY_SOCKET"] = self.notify_path
        zenv["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        args = [self.tool, "-l", self.default_sock]
        for k in sorted(zenv):
            args += ["-E", k]
        self.proc = subprocess.Popen([*args, ZYGOTE_BIN], env=zenv, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf, start_new_session=True)
        logf.close()
        wait_until(lambda: os.path.exists(self.default_sock) or self.proc.poll() is not None,
                   lambda: f"the activation socket {self.default_sock}\n{self.journal()}", timeout=30)
        assert self.proc.poll() is None, self.journal()

    def journal(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def notices(self, timeout):
        """Datagrams received within timeout seconds (stops at the first gap)."""
        got = []
        self.notify.settimeout(timeout)
        try:
            while True:
                got.append(self.notify.recv(4096).decode())
                self.notify.settimeout(0.2)
        except socket.timeout:
            pass
        return got

    def ctl(self, *args, cwd=None, env=None):
        return subprocess.run([PYWARMCTL, *args], cwd=cwd or self.root, env=env or self.env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60)

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.ctl("stop", "--all")
        self.notify.close()


@pytest.fixture
def act(pw, request):
    a = Activation(pw, "activate")
    yield a
    a.close()


def test_socket_activated_zygote_serves(pw, act):
    # Nothing runs until the first connection.
    assert act.notices(0.3) == []
    assert parse_status(act.ctl("status").stdout.decode())[0][""] == "pywarmctl: no zygotes running"
    r = pw.run_pywarm(["-c", "import sys, os; print(sys.argv, os.getcwd())"], env=act.env)
    assert (r.rc, r.out) == (0, f"['-c'] {pw.neutral}\n".encode()), r.describe()
    assert r.warm is True, r.describe()
    assert f"connected to {act.default_sock}" in "\n".join(r.launcher_lines), r.describe()
    assert act.notices(10) == ["READY=1"]
    # It also serves under its own identity: the next run goes there directly.
    r2 = pw.run_pywarm(["-c", "print(2)"], env=act.env)
    assert r2.warm is True and r2.out == b"2\n", r2.describe()
    assert not any("default.sock" in l for l in r2.launcher_lines), r2.describe()
    blocks = [b for b in parse_status(act.ctl("status").stdout.decode()) if "pid" in b]
    assert len(blocks) == 1 and blocks[0]["launches"].startswith("2 served"), blocks
    assert int(blocks[0]["pid"]) == act.proc.pid
    # The journal stamps lines itself: no timestamp or pid of our own, but
    # the priority, as a "<N>" prefix journald strips (6: info).
    lines = act.journal().splitlines()
    serving = [l for l in lines if "serving built-in profile" in l]
    assert serving and re.match(r"^<6>[0-9a-f]{16}: serving", serving[0]), lines


def test_sigterm_lets_running_programs_finish(pw, act):
    r = pw.run_pywarm(["-c", "pass"], env=act.env)
    assert r.warm is True, r.describe()
    assert act.notices(10) == ["READY=1"]
    trace = pw.trace_path()
    # The program runs until the test, having seen the zygote retire,
    # writes a line to its stdin.
    p = subprocess.Popen([PYWARM, "-c", "import sys; print('started', flush=True); "
                          "sys.stdin.readline(); print('finished')"],
                         env=dict(act.env, PYWARM_DEBUG=trace), cwd=pw.neutral,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"started\n"
    os.kill(act.proc.pid, signal.SIGTERM)
    assert act.notices(10) == ["STOPPING=1"]
    # Retired: a new run is cold, and right.
    r = pw.run_pywarm(["-c", "print('new')"], env=act.env)
    assert r.warm is False and r.out == b"new\n", r.describe()
    out, err = p.communicate(b"go\n", timeout=30)
    assert (p.returncode, out, err) == (0, b"finished\n", b"")
    act.proc.wait(timeout=30)
    assert act.proc.returncode == 0, act.journal()
    assert "retiring: Terminated" in act.journal()


def test_identity_mismatch_falls_back_and_spawns(pw):
    # The service manager's environment differs from the shell's in an
    # identity variable: its zygote rejects the run, which goes cold and
    # starts a zygote of the right identity.
    a = Activation(pw, "mismatch", {"PYTHONHASHSEED": "7"})
    try:
        r = pw.run_pywarm(["-c", "print('x')"], env=a.env)
        assert r.out == b"x\n" and r.rc == 0 and r.warm is False, r.describe()
        assert any(l.startswith("event=cold ") and l.endswith("reason=zygote: identity mismatch") for l in r.launcher_lines), r.describe()
        assert any("spawned" in l for l in r.launcher_lines), r.describe()
        assert a.ctl("start", "--wait").returncode == 0
        r = pw.run_pywarm(["-c", "print('y')"], env=a.env)
        assert r.warm is True and r.out == b"y\n", r.describe()
        assert not any("default.sock" in l for l in r.launcher_lines), r.describe()
    finally:
        a.close()


def test_default_sock_only_outside_projects(pw):
    """A project's runs never touch default.sock; a built-in profile run that
    finds a peer there which hangs up runs cold, unharmed."""
    root = pw.workdir("defsock")
    run = os.path.join(root, "run")
    os.makedirs(os.path.join(run, "pywarm"), mode=0o700)
    os.chmod(run, 0o700)
    env = dict(pw.env, XDG_RUNTIME_DIR=run, XDG_STATE_HOME=os.path.join(root, "state"),
               XDG_DATA_HOME=os.path.join(root, "data"))
    proj = os.path.join(root, "proj")
    write_files(proj, {".pywarm.ini": "[preload]\nmodules = json\n"})
    assert pw.ctl("trust", proj, env=env).returncode == 0
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(os.path.join(run, "pywarm", "default.sock"))
    srv.listen(8)
    srv.settimeout(0.5)
    try:
        r = pw.run_pywarm(["-c", "print('p')"], env=env, cwd=proj)
        assert r.out == b"p\n" and r.warm is False, r.describe()
        assert any(l.startswith("event=cold ") and l.endswith("reason=no zygote serves this profile yet") for l in r.launcher_lines), \
            r.describe()
        with pytest.raises(socket.timeout):
            srv.accept()
        # Outside the project: it connects, the peer hangs up, the run is cold.
        p = subprocess.Popen([PYWARM, "-c", "print('q')"], env=env, cwd=root,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        srv.settimeout(30)
        conn, _ = srv.accept()
        conn.close()
        assert p.communicate(timeout=30)[0] == b"q\n" and p.returncode == 0
    finally:
        srv.close()
        subprocess.run([PYWARMCTL, "stop", "--all"], env=env, capture_output=True, timeout=60)


def test_enable_disable_wrap_systemctl(pw):
    root = pw.workdir("systemctl")
    fake = os.path.join(root, "bin")
    log = os.path.join(root, "calls")
    write_files(fake, {"systemctl": f'#!/bin/sh\necho "$*" >> {log}\n'})
    os.chmod(os.path.join(fake, "systemctl"), 0o755)
    env = dict(pw.env, PATH=fake + os.pathsep + pw.env.get("PATH", ""))
    assert pw.ctl("enable", env=env).returncode == 0
    assert pw.ctl("disable", env=env).returncode == 0
    with open(log) as f:
        assert f.read() == ("--user enable --now pywarm.socket pywarm.service\n"
                            "--user disable --now pywarm.socket pywarm.service\n")
    p = pw.ctl("enable", "extra", env=env, check=False)
    assert p.returncode == 2 and b"takes no arguments" in p.stderr
    # No systemctl at all.
    p = pw.ctl("enable", env=dict(pw.env, PATH=root), check=False)
    assert p.returncode == 1 and b"pywarmctl: cannot run systemctl: No such file" in p.stderr, p


def test_enable_without_user_manager(pw):
    """The real systemctl, with no user service manager to reach."""
    need("systemctl")
    root = pw.workdir("nomanager")
    run = os.path.join(root, "run")
    os.makedirs(run, mode=0o700)
    env = dict(pw.env, XDG_RUNTIME_DIR=run)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    p = pw.ctl("enable", env=env, check=False)
    assert p.returncode == 1, p
    assert b"pywarmctl: systemctl --user enable --now pywarm.socket pywarm.service failed" in p.stderr, p


@pytest.mark.parametrize("case", ["two-fds", "not-listening", "other-pid"])
def test_bad_passed_sockets(pw, case):
    """LISTEN_FDS that do not describe one listening socket for this process:
    a clear line and exit 1, or (another pid's variables) ignored."""
    root = pw.workdir(f"listen-{case}")
    run = os.path.join(root, "run")
    os.makedirs(run, mode=0o700)
    env = dict(pw.env, XDG_RUNTIME_DIR=run, XDG_STATE_HOME=os.path.join(root, "state"))
    a, b = socket.socketpair()
    lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lst.bind(os.path.join(root, "l.sock"))
    lst.listen(4)
    passed, n, pid = {"two-fds": (lst, "2", "$$"), "not-listening": (a, "1", "$$"),
                      "other-pid": (lst, "1", "1")}[case]
    script = f'LISTEN_PID={pid} LISTEN_FDS={n} exec "$0"'
    p = subprocess.Popen(["sh", "-c", script, ZYGOTE_BIN], env=env, pass_fds=(3,),
                         preexec_fn=lambda: os.dup2(passed.fileno(), 3),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=5 if case != "other-pid" else 1)
    except subprocess.TimeoutExpired:
        # Not for us: an ordinary zygote, serving its own socket.
        assert case == "other-pid"
        def serving():
            return [b for b in parse_status(pw.ctl("status", env=env).stdout.decode())
                    if b.get("state") == "serving"]
        blocks = wait_until(serving, "the zygote to serve its own socket", timeout=60)
        assert int(blocks[0]["pid"]) == p.pid, blocks
        p.terminate()
        p.communicate(timeout=30)
        assert p.returncode == 0
        return
    finally:
        for s in (a, b, lst):
            s.close()
    assert case != "other-pid", err
    want = {"two-fds": "LISTEN_FDS=2: expected exactly one socket",
            "not-listening": "passed fd 3 is not a listening stream socket"}[case]
    assert p.returncode == 1 and want in err.decode(), (p.returncode, err)
