# test_sandbox.py: [sandbox] profiles and PYWARM_SANDBOX: denied calls, ordinary work under each policy, kill/log actions, TIOCSTI on a pty, Landlock paths, refusals.

import os
import re
import signal
import textwrap

import pytest

from conftest import PYWARM, _read, assert_cold, assert_warm, core_off, needs_pywarm, parse_trace, write_files
from ptyutil import PtyJob

pytestmark = needs_pywarm

# Work an ordinary program does: imports beyond the preloaded set, files in a
# temporary directory, sqlite3, json, a thread, and (where the policy allows
# it) a subprocess.  Prints "workload ok" at the end.
WORKLOAD = textwrap.dedent("""\
    import json, os, sqlite3, subprocess, sys, tempfile, threading
    import csv, decimal, email.mime.text, xml.dom.minidom, zipfile
    d = tempfile.mkdtemp()
    p = os.path.join(d, "f.txt")
    with open(p, "w") as f:
        f.write("data")
    with open(p) as f:
        assert f.read() == "data"
    db = sqlite3.connect(os.path.join(d, "t.db"))
    db.execute("create table t (x)")
    db.execute("insert into t values (?)", (json.dumps({"a": [1, 2]}),))
    db.commit()
    assert json.loads(db.execute("select x from t").fetchone()[0]) == {"a": [1, 2]}
    db.close()
    out = []
    t = threading.Thread(target=lambda: out.append(str(decimal.Decimal("1.5") * 2)))
    t.start()
    t.join()
    assert out == ["3.0"], out
    if SUBPROCESS:
        r = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True)
        assert r.stdout == b"42\\n", r
    print("workload ok")
""")

# One denied call per policy; prints "denied EPERM" when the call fails with
# PermissionError/EPERM, "not denied ..." otherwise.
DENIED = {
    "default": textwrap.dedent("""\
        import ctypes, errno, fcntl, os, termios
        try:
            fcntl.ioctl(1, termios.TIOCSTI, b"x")     # stdout is a pipe: ENOTTY when allowed
        except PermissionError as e:
            print("denied", errno.errorcode[e.errno])
        except OSError as e:
            print("not denied", errno.errorcode[e.errno])
        libc = ctypes.CDLL(None, use_errno=True)
        r = libc.process_vm_readv(os.getpid(), None, 0, None, 0, 0)
        print("process_vm_readv", r, errno.errorcode.get(ctypes.get_errno(), 0) if r else "")
    """),
    "no-network": textwrap.dedent("""\
        import errno, socket
        a, b = socket.socketpair()
        u = socket.socket(socket.AF_UNIX)
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except PermissionError as e:
            print("denied", errno.errorcode[e.errno])
        else:
            print("not denied")
        try:
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        except PermissionError as e:
            print("inet6 denied", errno.errorcode[e.errno])
    """),
    "no-exec": textwrap.dedent("""\
        import errno, os
        try:
            os.execv("/bin/true", ["true"])
        except PermissionError as e:
            print("denied", errno.errorcode[e.errno])
    """),
    "no-fork": textwrap.dedent("""\
        import errno, os
        try:
            pid = os.fork()
        except PermissionError as e:
            print("denied", errno.errorcode[e.errno])
        else:
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            print("not denied")
    """),
}
SUBPROCESS_ALLOWED = {"default": True, "no-network": True, "no-exec": False, "no-fork": False}


def program(policy):
    return DENIED[policy] + f"SUBPROCESS = {SUBPROCESS_ALLOWED[policy]}\n" + WORKLOAD


def write_profile(wd, body, name="sandbox.ini"):
    """A profile file in wd (mode 0600) with a small preload; its path."""
    path = os.path.join(wd, name)
    write_files(wd, {name: "[preload]\nmodules = json\n[zygote]\nidle_timeout = 120\n" + body})
    os.chmod(path, 0o600)
    return path


def start_zygote(pw, env, cwd):
    pw.ctl("start", "--wait", cwd=cwd, env=env, timeout=90)


def profile_env(pw, wd, body, start=True):
    """The environment of runs under a profile with this body (and its
    zygote serving, unless start is false)."""
    env = pw.make_env({"PYWARM_PROFILE": write_profile(wd, body)})
    if start:
        start_zygote(pw, env, wd)
    return env


def one_line_error(err):
    lines = err.decode(errors="replace").splitlines()
    assert len(lines) == 1 and lines[0].startswith("pywarm: "), f"expected one 'pywarm: ' line, got {err!r}"
    return lines[0]


def seccomp_mode(pid):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(r"^Seccomp:\s*(\d+)", f.read(), re.M)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- each policy

@pytest.mark.parametrize("policy", list(DENIED))
def test_policy_control_without_sandbox(pw, wd, policy):
    """The same program under the real interpreter, unconfined: nothing is
    denied (so the sandboxed runs below prove the filter did it)."""
    r = pw.run("real", ["-c", program(policy)], cwd=wd)
    out = r.out.decode()
    assert "denied EPERM" not in out, r.describe()
    if policy not in ("no-exec",):
        assert r.rc == 0 and "workload ok" in out, r.describe()


@pytest.mark.parametrize("how", ["warm", "cold"])
@pytest.mark.parametrize("policy", list(DENIED))
def test_policy_denies_and_workload_runs(pw, wd, policy, how):
    """PYWARM_SANDBOX=policy: the denied call raises PermissionError (EPERM),
    an ordinary workload still works; warm on the session zygote, and cold."""
    add = {"PYWARM_SANDBOX": policy}
    if how == "cold":
        add["PYWARM_DISABLE"] = "1"
    r = pw.run_pywarm(["-c", program(policy)], cwd=wd, env_add=add)
    if how == "cold" and policy == "no-exec":
        # The interpreter cannot be exec'd under no-exec: refused, never unconfined.
        assert r.rc == 126, r.describe()
        assert "no-exec" in one_line_error(r.err)
        assert r.out == b""
        return
    assert r.rc == 0, r.describe()
    out = r.out.decode()
    assert "denied EPERM" in out and "not denied" not in out, r.describe()
    assert "workload ok" in out, r.describe()
    if policy == "default":
        assert "process_vm_readv -1 EPERM" in out, r.describe()
    if policy == "no-network":
        assert "inet6 denied EPERM" in out, r.describe()
    (assert_warm if how == "warm" else assert_cold)(r)


def test_no_exec_waits_for_its_zygote(pw, wd):
    """A run under no-exec cannot fall back to exec'ing python3: with no
    zygote for its profile yet, it starts one, waits, and runs warm."""
    ini = write_profile(wd, "[sandbox]\npolicy = no-exec\n")
    r = pw.run_pywarm(["-c", DENIED["no-exec"]], cwd=wd, env_add={"PYWARM_PROFILE": ini})
    assert r.rc == 0 and r.out == b"denied EPERM\n", r.describe()
    assert any("waiting for zygote" in l for l in r.launcher_lines), r.describe()
    assert_warm(r)


def test_subprocess_inherits_the_filter(pw, wd):
    """A python3 the confined program starts is confined too."""
    prog = ("import subprocess, sys\n"
            "r = subprocess.run([sys.executable, '-c', 'import socket; socket.socket()'],"
            " capture_output=True)\n"
            "print(r.returncode, b'PermissionError' in r.stderr)\n")
    r = pw.run_pywarm(["-c", prog], cwd=wd, env_add={"PYWARM_SANDBOX": "no-network"})
    assert r.rc == 0 and r.out == b"1 True\n", r.describe()
    assert_warm(r)


def test_zygote_stays_unconfined(pw, wd):
    """A confined child leaves the zygote as it was: the next, unconfined
    launch on the same zygote can still use the network."""
    prog = "import os, socket\nprint(os.getppid())\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\nprint('bound')\n"
    r1 = pw.run_pywarm(["-c", prog], cwd=wd, env_add={"PYWARM_SANDBOX": "default,no-network"})
    assert r1.rc != 0 and b"PermissionError" in r1.err, r1.describe()
    assert_warm(r1)
    r2 = pw.run_pywarm(["-c", prog], cwd=wd)
    assert r2.rc == 0 and r2.out.endswith(b"bound\n"), r2.describe()
    assert_warm(r2)
    assert int(r1.out.split()[0]) == int(r2.out.split()[0]) == pw.zygote_pid
    assert seccomp_mode(pw.zygote_pid) == 0


def test_deny_by_name(pw, wd):
    """deny = NAME: that call fails with EPERM, everything else works."""
    env = profile_env(pw, wd, "[sandbox]\ndeny = mkdir, rmdir\n")
    prog = ("import errno, os, tempfile\n"
            "try:\n    os.mkdir('x')\nexcept PermissionError as e:\n    print('mkdir', errno.errorcode[e.errno])\n"
            "open('f', 'w').write('ok'); print(open('f').read())\n")
    for add in ({}, {"PYWARM_DISABLE": "1"}):
        r = pw.run_pywarm(["-c", prog], cwd=wd, env=env, env_add=add)
        assert r.rc == 0 and r.out == b"mkdir EPERM\nok\n", r.describe()
        (assert_cold if add else assert_warm)(r)
    assert not os.path.exists(os.path.join(wd, "x"))


# ---------------------------------------------------------------- actions

@pytest.mark.parametrize("how", ["warm", "cold"])
def test_kill_action(pw, wd, how):
    """action = kill: the program dies of SIGSYS at the denied call, and so
    does the launcher; what it printed before is there."""
    env = profile_env(pw, wd, "[sandbox]\npolicy = default\naction = kill\n", start=how == "warm")
    add = {"PYWARM_DISABLE": "1"} if how == "cold" else {}
    prog = ("import ctypes, os, sys\nprint('before', flush=True)\n"
            "ctypes.CDLL(None).process_vm_readv(os.getpid(), None, 0, None, 0, 0)\nprint('after')\n")
    r = pw.run_pywarm(["-c", prog], cwd=wd, env=env, env_add=add, preexec=core_off)
    assert r.rc == -signal.SIGSYS, r.describe()
    assert r.out == b"before\n", r.describe()
    (assert_warm if how == "warm" else assert_cold)(r)


def test_log_action_allows(pw, wd):
    """action = log: the policy's calls go through (the kernel's audit log
    records them); TIOCSTI, which every sandbox denies, stays denied."""
    env = profile_env(pw, wd, "[sandbox]\npolicy = default\naction = log\n")
    r = pw.run_pywarm(["-c", DENIED["default"]], cwd=wd, env=env)
    assert r.rc == 0 and b"denied EPERM" in r.out and b"process_vm_readv 0" in r.out, r.describe()
    assert_warm(r)


@pytest.mark.parametrize("value", ["", "no-fork", "default", "none", "no-network=off"])
def test_environment_cannot_loosen(pw, wd, value):
    """PYWARM_SANDBOX only adds: whatever it says, the profile's no-network
    stays (a value that is no policy name refuses the run instead)."""
    env = profile_env(pw, wd, "[sandbox]\npolicy = no-network\n")
    r = pw.run_pywarm(["-c", DENIED["no-network"]], cwd=wd, env=env, env_add={"PYWARM_SANDBOX": value})
    if value in ("none", "no-network=off"):
        assert r.rc == 126 and r.out == b"", r.describe()
        return
    assert r.rc == 0 and b"denied EPERM" in r.out and b"not denied" not in r.out, r.describe()
    assert_warm(r)


def test_environment_policy_denies_under_log(pw, wd):
    """action = log only logs the profile's own rules; a policy PYWARM_SANDBOX
    adds still denies."""
    env = profile_env(pw, wd, "[sandbox]\npolicy = no-network\naction = log\n")
    r = pw.run_pywarm(["-c", DENIED["no-network"] + DENIED["default"]], cwd=wd, env=env,
                      env_add={"PYWARM_SANDBOX": "default"})
    lines = r.out.decode().splitlines()
    assert r.rc == 0 and lines == ["not denied", "denied EPERM", "process_vm_readv -1 EPERM"], r.describe()
    assert_warm(r)


def test_environment_policies_add_up(pw, wd):
    env = profile_env(pw, wd, "[sandbox]\npolicy = no-fork\n")
    r = pw.run_pywarm(["-c", DENIED["no-network"] + DENIED["no-fork"]], cwd=wd, env=env,
                      env_add={"PYWARM_SANDBOX": "no-network"})
    lines = r.out.decode().splitlines()
    assert r.rc == 0 and lines == ["denied EPERM", "inet6 denied EPERM", "denied EPERM"], r.describe()
    assert_warm(r)


# ---------------------------------------------------------------- terminal

TIOCSTI_PROG = textwrap.dedent("""\
    import errno, fcntl, termios
    try:
        fcntl.ioctl(0, termios.TIOCSTI, b"!")
        print("injected")
    except OSError as e:
        print("TIOCSTI", errno.errorcode[e.errno])
""")


def run_on_pty(pw, wd, add):
    trace = pw.trace_path()
    env = pw.make_env(add, trace=trace)
    job = PtyJob([PYWARM, "-c", TIOCSTI_PROG], env, wd)
    try:
        end = job.finish()
    finally:
        job.close()
    return end, job.transcript, parse_trace(_read(trace), job.pid)


def test_tiocsti_blocked_on_a_pty(pw, wd):
    """Under default, confined code cannot push keystrokes into the caller's
    terminal; unconfined, the same program on the same kind of pty can."""
    end, text, lines = run_on_pty(pw, wd, {})
    if b"injected" not in text:
        pytest.skip(f"TIOCSTI does not work here even unconfined: {text!r}")
    end, text, lines = run_on_pty(pw, wd, {"PYWARM_SANDBOX": "default"})
    assert end == "exited 0", (end, text)
    assert b"TIOCSTI EPERM" in text and b"injected" not in text, text
    assert any("event=warm " in l for l in lines), lines


# ---------------------------------------------------------------- Landlock

LANDLOCK_PROG = textwrap.dedent("""\
    import errno, os, sqlite3, sys, tempfile
    def attempt(what, fn):
        try:
            fn()
            print(what, "ok")
        except PermissionError as e:
            print(what, errno.errorcode[e.errno])
    attempt("read ro", lambda: open("ro/in.txt").read())
    attempt("write ro", lambda: open("ro/new.txt", "w"))
    attempt("write rw", lambda: open("rw/out.txt", "w").write("x"))
    attempt("read outside", lambda: open("secret.txt").read())
    attempt("list outside", lambda: os.listdir("."))
    db = sqlite3.connect(tempfile.mktemp(suffix=".db"))
    db.execute("create table t (x)")
    db.commit()
    import decimal, email.mime.text
    print("tmp in rw", tempfile.gettempdir().endswith("/rw"))
""")


@pytest.mark.parametrize("how", ["warm", "cold"])
def test_landlock_paths(pw, wd, how):
    """read_only/read_write: listed paths as given, everything else refused
    (EACCES), while the interpreter and its library still load."""
    if not _landlock_abi():
        pytest.skip("this kernel has no Landlock")
    write_files(wd, {"ro/in.txt": "in", "rw/.keep": "", "secret.txt": "s"})
    ini = write_profile(wd, "[sandbox]\nread_only = ro\nread_write = rw\n")
    env = pw.make_env({"PYWARM_PROFILE": ini, "TMPDIR": os.path.join(wd, "rw")})
    add = {"PYWARM_DISABLE": "1"} if how == "cold" else {}
    if how == "warm":
        start_zygote(pw, env, wd)
    r = pw.run_pywarm(["-c", LANDLOCK_PROG], cwd=wd, env=env, env_add=add)
    assert r.rc == 0, r.describe()
    assert r.out.decode().splitlines() == [
        "read ro ok", "write ro EACCES", "write rw ok", "read outside EACCES",
        "list outside EACCES", "tmp in rw True"], r.describe()
    (assert_warm if how == "warm" else assert_cold)(r)


def _landlock_abi():
    import ctypes
    try:
        return ctypes.CDLL(None).syscall(444, None, 0, 1) > 0     # x86_64/arm64 number
    except OSError:
        return False


# ---------------------------------------------------------------- refusals

@pytest.mark.parametrize("body,problem", [
    ("[sandbox]\npolicy = default, no-networking\n",
     ":6: unknown sandbox policy 'no-networking' (known: default, no-network, no-exec, no-fork)"),
    ("[sandbox]\ndeny = ptrace, notacall\n", ":6: unknown system call 'notacall' in deny"),
    ("[sandbox]\naction = die\n", ":6: invalid action 'die' (one of: errno, kill, log)"),
])
@pytest.mark.parametrize("how", ["warm", "cold"])
def test_bad_sandbox_profile_is_refused(pw, wd, body, problem, how):
    """A [sandbox] section that does not parse: one 'FILE:LINE: problem' line,
    exit status 126, and the program never runs (not even cold)."""
    ini = write_profile(wd, body)
    add = {"PYWARM_PROFILE": ini}
    if how == "cold":
        add["PYWARM_DISABLE"] = "1"
    r = pw.run_pywarm(["-c", "print('ran')"], cwd=wd, env_add=add)
    assert r.rc == 126 and r.out == b"", r.describe()
    assert one_line_error(r.err) == f"pywarm: {ini}{problem}", r.describe()
    p = pw.ctl("sandbox", cwd=wd, env=pw.make_env(add), check=False)
    assert p.returncode == 1 and f"{ini}{problem}".encode() in p.stderr, p


def test_refused_profile_with_sandbox_is_refused(pw, wd):
    """A profile refused for its permissions still asked for a sandbox: the
    run is refused (126), where a refused profile without one runs cold."""
    ini = write_profile(wd, "[sandbox]\npolicy = no-network\n")
    os.chmod(ini, 0o664)
    r = pw.run_pywarm(["-c", "print('ran')"], cwd=wd, env_add={"PYWARM_PROFILE": ini})
    assert r.rc == 126 and r.out == b"", r.describe()
    assert one_line_error(r.err) == f"pywarm: {ini}: refusing a profile writable by group or others"
    write_files(wd, {"plain.ini": "[preload]\nmodules = json\n"})
    os.chmod(os.path.join(wd, "plain.ini"), 0o664)
    r = pw.run_pywarm(["-c", "print('ran')"], cwd=wd, env_add={"PYWARM_PROFILE": os.path.join(wd, "plain.ini")})
    assert r.rc == 0 and r.out == b"ran\n", r.describe()


@pytest.mark.parametrize("how", ["warm", "cold"])
def test_unknown_environment_policy_is_refused(pw, wd, how):
    add = {"PYWARM_SANDBOX": "default,nonet"}
    if how == "cold":
        add["PYWARM_DISABLE"] = "1"
    r = pw.run_pywarm(["-c", "print('ran')"], cwd=wd, env_add=add)
    assert r.rc == 126 and r.out == b"", r.describe()
    assert one_line_error(r.err) == ("pywarm: PYWARM_SANDBOX: unknown sandbox policy 'nonet' "
                                     "(known: default, no-network, no-exec, no-fork)")


# ---------------------------------------------------------------- pywarmctl sandbox

def test_pywarmctl_sandbox(pw, wd):
    ini = write_profile(wd, "[sandbox]\npolicy = no-exec\ndeny = setns\nread_only = ro\n")
    env = pw.make_env({"PYWARM_PROFILE": ini, "PYWARM_SANDBOX": "no-network"})
    p = pw.ctl("sandbox", "default", cwd=wd, env=env)
    out = p.stdout.decode()
    assert out.startswith(f"profile: {ini} (PYWARM_PROFILE)\n"), out
    assert ("sandbox: policies default (PYWARM_SANDBOX) no-network (PYWARM_SANDBOX) no-exec; "
            "action errno\n") in out, out
    for rule in (r"ioctl\s+request == TIOCSTI\s+errno\s+\[default\]",
                 r"socket\s+family != AF_UNIX\s+errno\s+\[no-network\]",
                 r"execve\s+errno\s+\[no-exec\]", r"setns\s+errno\s+\[deny\]",
                 r"read-only\s+" + re.escape(os.path.join(wd, "ro")) + r" \(missing: ignored\)"):
        assert re.search(rule, out), (rule, out)
    assert "clone" not in out
    p = pw.ctl("sandbox", cwd=wd)
    assert p.stdout.decode().endswith("sandbox: none (the program runs unconfined)\n"), p
    p = pw.ctl("sandbox", "everything", cwd=wd, check=False)
    assert p.returncode == 1 and b"unknown sandbox policy 'everything'" in p.stderr, p
