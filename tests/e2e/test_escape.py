# test_escape.py: attacks from inside a confined run on the processes outside it (zygote, pooled children, launchers, a bystander): pidfds, /proc/PID/mem and fd, process_vm_*, ptrace, signals, TIOCSTI, abstract sockets.
#
# Every sandbox puts its run in a Landlock domain of its own: nothing in it
# may ptrace-access a process outside (which covers pidfd_getfd,
# /proc/PID/mem, /proc/PID/fd, process_vm_* and ptrace), signal one, or
# connect to an abstract unix socket made outside.  These
# tests run as root, where only Landlock stops them (CAP_SYS_PTRACE passes
# every other check).  Each attack runs from a confined warm run and, where
# the target exists there too, from a confined cold run (python3 under the
# same sandbox): the refusal must be the same errno.

import json
import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
import uuid

import pytest

from conftest import PYWARM, REAL, REPO, _read, assert_cold, assert_warm, needs_pywarm, parse_trace, write_files
from ptyutil import PtyJob

pytestmark = needs_pywarm

# The attacker: argv[1] is a JSON spec {"targets": {name: pid or "launcher"
# or "pool"}, "attacks": [...], "abstract": name, "victim": pid}.  "launcher"
# is read from stdin's first line; "pool" is a child of the zygote (our
# parent) that is neither this run nor the victim.  Prints one JSON object:
# {"attack target": "ok" or an errno name}, plus "pids".
ATTACKER = textwrap.dedent(r'''
    import ctypes, errno, json, os, signal, socket, struct, sys, time

    NR = {"x86_64": dict(pidfd_open=434, pidfd_getfd=438, pidfd_send_signal=424, ptrace=101,
                         process_vm_readv=310, process_vm_writev=311),
          "aarch64": dict(pidfd_open=434, pidfd_getfd=438, pidfd_send_signal=424, ptrace=117,
                          process_vm_readv=270, process_vm_writev=271)}[os.uname().machine]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_DETACH = 0x4206, 0x4207, 17

    def sc(name, *args):
        r = libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) if isinstance(a, int) else a
                                                    for a in args])
        if r < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        return r

    def first_fd(fn):
        """fn(n) on the target's descriptors 0..63 until one works: "ok", or
        the errno of the refusal (EBADF/ENOENT/ENXIO mean no such usable fd)."""
        seen = set()
        for n in range(64):
            try:
                fn(n)
                return "ok"
            except OSError as e:
                if e.errno not in (errno.EBADF, errno.ENOENT, errno.ENXIO):
                    seen.add(errno.errorcode[e.errno])
        return ",".join(sorted(seen)) or "no fd"

    def getfd(pid):
        pidfd = sc("pidfd_open", pid, 0)
        def one(n):
            os.close(sc("pidfd_getfd", pidfd, n, 0))
        try:
            return first_fd(one)
        finally:
            os.close(pidfd)

    def getfd_os(pid):
        pidfd = os.pidfd_open(pid)
        try:
            return first_fd(lambda n: os.close(sc("pidfd_getfd", pidfd, n, 0)))
        finally:
            os.close(pidfd)

    def mem_rw(pid):
        fd = os.open(f"/proc/{pid}/mem", os.O_RDWR)
        try:
            os.pwrite(fd, b"\0", 0)       # address 0 is never mapped: EIO, nothing written
        except OSError:
            pass
        os.close(fd)

    def mem_ro(pid):
        os.close(os.open(f"/proc/{pid}/mem", os.O_RDONLY))

    def task_mem(pid):
        os.close(os.open(f"/proc/{pid}/task/{pid}/mem", os.O_WRONLY))

    def environ(pid):
        with open(f"/proc/{pid}/environ", "rb") as f:
            f.read()

    def fd_open(pid):
        return first_fd(lambda n: os.close(os.open(f"/proc/{pid}/fd/{n}",
                                                   os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)))

    def fd_readlink(pid):
        return first_fd(lambda n: os.readlink(f"/proc/{pid}/fd/{n}"))

    def fdinfo(pid):
        return first_fd(lambda n: open(f"/proc/{pid}/fdinfo/{n}").read())

    def cwd(pid):
        os.listdir(f"/proc/{pid}/cwd")

    def root(pid):
        os.listdir(f"/proc/{pid}/root")

    def vm(name, pid):
        buf = ctypes.create_string_buffer(8)
        local = (ctypes.c_void_p * 2)(ctypes.addressof(buf), 1)
        remote = (ctypes.c_void_p * 2)(4096, 1)   # unmapped: EFAULT once access is granted
        try:
            sc(name, pid, local, 1, remote, 1, 0)
        except OSError as e:
            if e.errno != errno.EFAULT:
                raise

    def seize(pid):
        sc("ptrace", PTRACE_SEIZE, pid, 0, 0)
        # Leave the target as it was: stop it for a moment, let go.
        sc("ptrace", PTRACE_INTERRUPT, pid, 0, 0)
        os.waitpid(pid, 0x40000000)                # __WALL
        sc("ptrace", PTRACE_DETACH, pid, 0, 0)

    def attach(pid):
        sc("ptrace", 16, pid, 0, 0)                # PTRACE_ATTACH: stops it with SIGSTOP
        os.waitpid(pid, 0x40000000)
        sc("ptrace", PTRACE_DETACH, pid, 0, 0)     # ...and lets it go without the signal

    def pidfd_signal(pid):
        pidfd = os.pidfd_open(pid)
        try:
            sc("pidfd_send_signal", pidfd, 0, 0, 0)
        finally:
            os.close(pidfd)

    def forge_exit(pid):
        """Write an EXIT notice for the victim into every pipe of the zygote."""
        done = 0
        for n in range(64):
            try:
                fd = os.open(f"/proc/{pid}/fd/{n}", os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.ENXIO, errno.EISDIR):
                    continue
                raise
            try:
                import stat
                if stat.S_ISFIFO(os.fstat(fd).st_mode):
                    os.write(fd, struct.pack("iii", spec["victim"], 3, 0))
                    done += 1
            finally:
                os.close(fd)
        if not done:
            raise OSError(errno.ENOENT, "no pipe")

    ATTACKS = {
        "getfd": getfd, "getfd_os": getfd_os, "mem_rw": mem_rw, "mem_ro": mem_ro,
        "task_mem": task_mem, "environ": environ, "fd_open": fd_open,
        "fd_readlink": fd_readlink, "fdinfo": fdinfo, "cwd": cwd, "root": root,
        "vm_write": lambda pid: vm("process_vm_writev", pid),
        "vm_read": lambda pid: vm("process_vm_readv", pid),
        "seize": seize, "attach": attach, "kill0": lambda pid: os.kill(pid, 0),
        "kill_cont": lambda pid: os.kill(pid, signal.SIGCONT),
        "pidfd_signal": pidfd_signal, "forge_exit": forge_exit,
    }

    def pooled():
        """A child of the zygote waiting for a run (bounded wait for the pool
        to refill), or None when /proc is out of reach (Landlock paths)."""
        z = os.getppid()
        deadline = time.monotonic() + 20
        while True:
            kids = []
            try:
                for t in os.listdir(f"/proc/{z}/task"):
                    with open(f"/proc/{z}/task/{t}/children") as f:
                        kids += [int(k) for k in f.read().split()]
            except PermissionError:
                return None
            kids = [k for k in kids if k not in (os.getpid(), spec.get("victim"))]
            if kids or time.monotonic() > deadline:
                return kids[0] if kids else None
            time.sleep(0.02)

    def abstract(kind):
        s = socket.socket(socket.AF_UNIX, kind)
        try:
            if kind == socket.SOCK_DGRAM:
                s.sendto(b"x", "\0" + spec["abstract"] + "-dgram")
            else:
                s.connect("\0" + spec["abstract"] + ("-stream" if kind == socket.SOCK_STREAM else "-seq"))
        finally:
            s.close()

    def path_socket():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(spec["path_socket"])
        s.close()

    spec = json.loads(sys.argv[1])
    res, pids = {}, {}
    for name, pid in spec.get("targets", {}).items():
        if pid == "launcher":
            pid = int(sys.stdin.readline())
        elif pid == "zygote":
            pid = os.getppid()
        elif pid == "pool":
            pid = pooled()
        pids[name] = pid
        if pid is None:
            continue
        for a in spec["attacks"]:
            if a == "forge_exit" and name != "zygote":
                continue
            try:
                r = ATTACKS[a](pid)
                res[f"{a} {name}"] = r or "ok"
            except OSError as e:
                res[f"{a} {name}"] = errno.errorcode.get(e.errno, str(e.errno))
    if "abstract" in spec:
        for kind, label in ((socket.SOCK_STREAM, "stream"), (socket.SOCK_DGRAM, "dgram"),
                            (socket.SOCK_SEQPACKET, "seqpacket")):
            try:
                abstract(kind)
                res[f"abstract {label}"] = "ok"
            except OSError as e:
                res[f"abstract {label}"] = errno.errorcode.get(e.errno, str(e.errno))
    if "path_socket" in spec:
        try:
            path_socket()
            res["path socket"] = "ok"
        except OSError as e:
            res["path socket"] = errno.errorcode.get(e.errno, str(e.errno))
    res["pids"] = pids
    res["ppid"] = os.getppid()
    print(json.dumps(res, sort_keys=True))
''')

ALL_ATTACKS = ["getfd", "getfd_os", "mem_rw", "mem_ro", "task_mem", "environ", "fd_open",
               "fd_readlink", "fdinfo", "cwd", "root", "vm_write", "vm_read", "seize", "attach", "kill0", "kill_cont",
               "pidfd_signal"]

# What python3 gets when the kernel refuses each attack (Landlock's ptrace
# and signal scoping; seccomp says EPERM for the calls it denies).  None:
# not refused by the domain (Linux lets a domain read /proc/PID/environ,
# maps and auxv of processes outside it: disclosure, not control, see
# pywarm.ini(5)), so only the same result as python3's is asked for.
REFUSED = {"getfd": "EPERM", "getfd_os": "EPERM", "mem_rw": "EACCES", "mem_ro": "EACCES",
           "task_mem": "EACCES", "environ": None, "fd_open": "EACCES",
           "fd_readlink": "EACCES", "fdinfo": "EACCES", "cwd": "EACCES", "root": "EACCES",
           "vm_write": "EPERM", "vm_read": "EPERM",
           "seize": "EPERM", "attach": "EPERM", "kill0": "EPERM", "kill_cont": "EPERM", "pidfd_signal": "EPERM",
           "forge_exit": "EACCES"}

# The sandboxes attacked: PYWARM_SANDBOX=default on the session zygote, and
# profile sandboxes without Landlock paths (seccomp only, a deny list, a
# policy that only logs) and with them.
SANDBOXES = {
    "env-default": None,
    "no-network": "[sandbox]\npolicy = no-network\n",
    "deny-list": "[sandbox]\ndeny = setns\n",
    "log-only": "[sandbox]\npolicy = default\naction = log\n",
    "paths": "[sandbox]\nread_only = .\nread_write = /tmp\n",
}


def landlock_abi():
    import ctypes
    try:
        return max(0, ctypes.CDLL(None).syscall(444, None, 0, 1))     # x86_64/arm64 number
    except OSError:
        return 0


needs_scoping = pytest.mark.skipif(landlock_abi() < 6, reason="Landlock ABI < 6: no signal or "
                                   "abstract socket scoping (see pywarm.ini(5))")
needs_landlock = pytest.mark.skipif(landlock_abi() < 1, reason="this kernel has no Landlock")


@pytest.fixture
def bystander():
    """An unconfined process of the user, not pywarm's: a python3 waiting on a pipe."""
    p = subprocess.Popen([REAL, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, start_new_session=True)
    yield p.pid
    p.stdin.close()
    p.wait(timeout=30)


def write_profile(wd, body):
    path = os.path.join(wd, "sandbox.ini")
    write_files(wd, {"sandbox.ini": "[preload]\nmodules = json\n[zygote]\nidle_timeout = 120\n" + body})
    os.chmod(path, 0o600)
    return path


def sandbox_env(pw, wd, which):
    """The environment of runs confined by sandbox `which`, with its zygote serving."""
    if which == "env-default":
        return pw.make_env({"PYWARM_SANDBOX": "default"})
    env = pw.make_env({"PYWARM_PROFILE": write_profile(wd, SANDBOXES[which])})
    pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
    return env


def zygote_of(pw, env, wd):
    """The pids of the user's zygotes, as `pywarmctl status` lists them (a
    zygote still warming shows pid 0)."""
    blocks, p = pw.status_blocks(cwd=wd, env=env)
    pids = [int(v[0]) for v in (b.get("pid", "").split() for b in blocks)
            if v and v[0].isdigit() and v[0] != "0"]
    assert pids, p.stdout
    return pids


def attack(pw, wd, env, spec, how, pywarm=PYWARM, user=None, trace=None):
    """Run the attacker warm or cold (asserting which it was), as user (a
    pwd entry) if given; its results, a dict."""
    path = os.path.join(wd, "attack.py")
    if not os.path.exists(path):
        write_files(wd, {"attack.py": ATTACKER})
        os.chmod(path, 0o644)
    trace = trace or pw.trace_path()
    e = dict(env, PYWARM_DEBUG=trace)
    if how == "cold":
        e["PYWARM_DISABLE"] = "1"
    who = dict(user=user.pw_uid, group=user.pw_gid, extra_groups=[]) if user else {}
    p = subprocess.Popen([pywarm, path, json.dumps(spec)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=wd, env=e, **who)
    out, err = p.communicate(f"{p.pid}\n".encode(), timeout=90)
    lines = parse_trace(_read(trace), p.pid)
    assert p.returncode == 0, (p.returncode, out, err, lines)
    warm = any("event=warm " in l for l in lines)
    assert warm == (how == "warm"), (how, lines)
    return json.loads(out)


def refused_all(res, attacks, targets):
    """The attacks that were not refused as python3 under the sandbox is refused."""
    bad = {}
    for a in attacks:
        for t in targets:
            k = f"{a} {t}"
            if k in res and REFUSED[a] is not None and res[k] != REFUSED[a]:
                bad[k] = res[k]
    return bad


# ---------------------------------------------------------------- the controls

def test_attacks_work_unconfined(pw, wd, bystander):
    """Without a sandbox every attack below reaches its target (so a refusal
    under a sandbox is the sandbox's doing), warm and under python3: the
    warm run has no Landlock domain of its own."""
    spec = {"targets": {"bystander": bystander}, "attacks": ALL_ATTACKS}
    for how in ("warm", "cold"):
        res = attack(pw, wd, pw.make_env(), spec, how)
        wrong = {k: v for k, v in res.items() if k not in ("pids", "ppid") and v != "ok"}
        assert not wrong, (how, res)


def test_unconfined_run_traces_its_own_child(pw, wd):
    """An unconfined warm run can still ptrace its own child: no domain, no filter."""
    prog = textwrap.dedent("""\
        import ctypes, os, signal
        libc = ctypes.CDLL(None, use_errno=True)
        pid = os.fork()
        if pid == 0:
            libc.ptrace(0, 0, None, None)          # PTRACE_TRACEME
            os.kill(os.getpid(), signal.SIGSTOP)
            os._exit(7)
        _, st = os.waitpid(pid, 0)
        print("stopped", os.WIFSTOPPED(st) and os.WSTOPSIG(st) == signal.SIGSTOP)
        print("cont", libc.ptrace(7, pid, None, None))     # PTRACE_CONT
        _, st = os.waitpid(pid, 0)
        print("exit", os.WEXITSTATUS(st))
        with open("/proc/self/status") as f:
            print([l.split()[1] for l in f if l.startswith("Seccomp:")])
    """)
    r = pw.run_pywarm(["-c", prog], cwd=wd)
    assert r.rc == 0 and r.out == b"stopped True\ncont 0\nexit 7\n['0']\n", r.describe()
    assert_warm(r)


@needs_landlock
@pytest.mark.parametrize("which", ["no-network", "deny-list"])
def test_confined_run_traces_its_own_child(pw, wd, which):
    """The domain is the run's own: under a sandbox that does not deny ptrace
    the run can still trace its own child, warm as cold."""
    prog = textwrap.dedent("""\
        import ctypes, errno, os, signal
        libc = ctypes.CDLL(None, use_errno=True)
        pid = os.fork()
        if pid == 0:
            libc.ptrace(0, 0, None, None)          # PTRACE_TRACEME
            os.kill(os.getpid(), signal.SIGSTOP)
            os._exit(7)
        _, st = os.waitpid(pid, os.WUNTRACED)
        r = libc.ptrace(7, pid, None, None)        # PTRACE_CONT
        print("cont", r, errno.errorcode.get(ctypes.get_errno(), 0) if r else "")
        if r:
            os.kill(pid, signal.SIGKILL)
        _, st = os.waitpid(pid, 0)
        print("child", os.WEXITSTATUS(st) if os.WIFEXITED(st) else -os.WTERMSIG(st))
    """)
    env = sandbox_env(pw, wd, which)
    for add in ({}, {"PYWARM_DISABLE": "1"}):
        r = pw.run_pywarm(["-c", prog], cwd=wd, env=env, env_add=add)
        assert r.rc == 0 and r.out == b"cont 0 \nchild 7\n", r.describe()
        (assert_cold if add else assert_warm)(r)


# ---------------------------------------------------------------- the attacks

@needs_landlock
@pytest.mark.parametrize("which", list(SANDBOXES))
def test_ptrace_access_refused_warm(pw, wd, which, bystander):
    """From a confined warm run: the zygote, a pooled child, the run's own
    launcher and an unrelated process of the user are out of reach of
    pidfd_getfd, /proc/PID/mem, /proc/PID/fd, /proc/PID/environ,
    process_vm_* and ptrace, with python3's errno for each."""
    env = sandbox_env(pw, wd, which)
    zpids = zygote_of(pw, env, wd)
    spec = {"targets": {"zygote": "zygote", "pool": "pool", "launcher": "launcher",
                        "bystander": bystander},
            "attacks": [a for a in ALL_ATTACKS if not a.startswith(("kill", "pidfd_signal"))]}
    res = attack(pw, wd, env, spec, "warm")
    assert res["pids"]["zygote"] in zpids, (res, zpids)
    if which != "paths":                       # /proc is out of reach there
        assert res["pids"]["pool"], res      # a pooled child was there to attack
    bad = refused_all(res, spec["attacks"], spec["targets"])
    assert not bad, (bad, res)


@needs_landlock
@pytest.mark.parametrize("which", list(SANDBOXES))
def test_ptrace_access_refused_cold_same_errno(pw, wd, which, bystander):
    """The same attacks from python3 under the same sandbox (a cold run) on
    the zygote and a bystander: refused, with the errno the warm run gets."""
    env = sandbox_env(pw, wd, which)
    zpid = zygote_of(pw, env, wd)[0]
    attacks = [a for a in ALL_ATTACKS if not a.startswith(("kill", "pidfd_signal"))]
    spec = {"targets": {"zygote": zpid, "bystander": bystander, "parent": os.getpid()},
            "attacks": attacks}
    cold = attack(pw, wd, env, spec, "cold")
    warm = attack(pw, wd, env, dict(spec, targets={"zygote": "zygote", "bystander": bystander}),
                  "warm")
    bad = refused_all(cold, attacks, spec["targets"])
    assert not bad, (bad, cold)
    for a in attacks:
        for t in ("zygote", "bystander"):
            assert cold[f"{a} {t}"] == warm[f"{a} {t}"], (a, t, cold, warm)


@needs_scoping
@pytest.mark.parametrize("which", list(SANDBOXES))
@pytest.mark.parametrize("how", ["warm", "cold"])
def test_signals_refused(pw, wd, which, how, bystander):
    """kill(), SIGCONT and pidfd_send_signal from a confined run reach no
    process outside it: not the zygote, not the launcher, not a bystander."""
    env = sandbox_env(pw, wd, which)
    zpid = zygote_of(pw, env, wd)[0]
    targets = {"zygote": zpid, "bystander": bystander}
    if how == "warm":
        targets.update(launcher="launcher", pool="pool")
    else:
        targets["parent"] = os.getpid()
    spec = {"targets": targets, "attacks": ["kill0", "kill_cont", "pidfd_signal"]}
    res = attack(pw, wd, env, spec, how)
    bad = refused_all(res, spec["attacks"], targets)
    assert not bad, (bad, res)


@needs_scoping
@pytest.mark.parametrize("which", list(SANDBOXES))
def test_abstract_unix_sockets_refused(pw, wd, which):
    """A confined run cannot connect to (or send to) an abstract unix socket
    made outside it, warm as cold; a socket with a path still works."""
    env = sandbox_env(pw, wd, which)
    name = f"pywarm-escape-{uuid.uuid4().hex}"
    socks = []
    for kind, label in ((socket.SOCK_STREAM, "stream"), (socket.SOCK_DGRAM, "dgram"),
                        (socket.SOCK_SEQPACKET, "seqpacket")):
        s = socket.socket(socket.AF_UNIX, kind)
        s.bind("\0" + name + "-" + ("seq" if label == "seqpacket" else label))
        if kind != socket.SOCK_DGRAM:
            s.listen(4)
        socks.append(s)
    path = os.path.join("/tmp", name + ".sock")
    ps = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ps.bind(path)
    ps.listen(4)
    socks.append(ps)
    try:
        spec = {"abstract": name, "path_socket": path}
        got = {how: attack(pw, wd, env, spec, how) for how in ("warm", "cold")}
    finally:
        for s in socks:
            s.close()
        os.unlink(path)
    for how, res in got.items():
        assert res["abstract stream"] == res["abstract dgram"] == res["abstract seqpacket"] == "EPERM", (how, res)
        assert res["path socket"] == "ok", (how, res)


@needs_landlock
@pytest.mark.parametrize("which", ["env-default", "no-network", "deny-list"])
def test_forged_exit_notice_refused(pw, wd, which):
    """A confined run cannot open the zygote's notify pipe through
    /proc/<zygote>/fd and write an EXIT notice for another run: the victim's
    launcher keeps waiting for its program, which finishes and is reported."""
    env = sandbox_env(pw, wd, which)
    r_fd, w_fd = os.pipe()
    victim_prog = ("import os, sys\nprint(os.getpid(), flush=True)\n"
                   f"os.read({r_fd}, 1)\nprint('victim done')\n")
    trace = pw.trace_path()
    victim = subprocess.Popen([PYWARM, "-c", victim_prog], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, pass_fds=(r_fd,), cwd=wd,
                              env=pw.make_env({k: v for k, v in env.items()
                                               if k == "PYWARM_PROFILE"}, trace=trace))
    os.close(r_fd)
    try:
        vpid = int(victim.stdout.readline())
        res = attack(pw, wd, env, {"targets": {"zygote": "zygote"}, "attacks": ["forge_exit"],
                                   "victim": vpid}, "warm")
        assert res["forge_exit zygote"] == REFUSED["forge_exit"], res
        assert victim.poll() is None, "the victim's launcher returned while its program ran"
    finally:
        os.write(w_fd, b"x")
        os.close(w_fd)
    out, err = victim.communicate(timeout=60)
    assert victim.returncode == 0 and out == b"victim done\n", (victim.returncode, out, err)
    lines = parse_trace(_read(trace), victim.pid)
    assert any(l.startswith("event=warm ") and l.endswith(f" pid={vpid}") for l in lines), lines


# ---------------------------------------------------------------- the terminal

TIOCSTI_PROG = textwrap.dedent("""\
    import ctypes, errno, fcntl, os, termios
    libc = ctypes.CDLL(None, use_errno=True)
    def attempt(what, fn):
        try:
            fn()
            print(what, "injected")
        except OSError as e:
            print(what, errno.errorcode[e.errno])
    attempt("TIOCSTI", lambda: fcntl.ioctl(0, termios.TIOCSTI, b"!"))
    def high_bits():
        c = ctypes.c_char(b"!")
        if libc.syscall(16, 0, ctypes.c_ulong((1 << 32) | termios.TIOCSTI), ctypes.byref(c)) < 0:
            raise OSError(ctypes.get_errno(), "ioctl")
    if os.uname().machine == "x86_64":
        attempt("high-bits", high_bits)
    def reopened():
        fd = os.open(os.ttyname(0), os.O_RDWR | os.O_NOCTTY)
        fcntl.ioctl(fd, termios.TIOCSTI, b"!")
    attempt("reopened", reopened)
    attempt("TIOCLINUX", lambda: fcntl.ioctl(0, termios.TIOCLINUX, b"\\x06\\x00"))
    print("end")
""")


def run_on_pty(pw, wd, env, add):
    trace = pw.trace_path()
    job = PtyJob([PYWARM, "-c", TIOCSTI_PROG], dict(env, **add, PYWARM_DEBUG=trace), wd)
    try:
        end = job.finish()
    finally:
        job.close()
    return end, job.transcript.decode(errors="replace"), parse_trace(_read(trace), job.pid)


@pytest.mark.parametrize("which", ["no-network", "deny-list", "log-only", "paths"])
@pytest.mark.parametrize("how", ["warm", "cold"])
def test_tiocsti_refused_under_every_sandbox(pw, wd, which, how):
    """TIOCSTI (also with junk in the request's high bits, also on a fresh
    descriptor of the terminal) and TIOCLINUX fail with EPERM under every
    sandbox, not only under default; unconfined, TIOCSTI types."""
    end, text, lines = run_on_pty(pw, wd, pw.make_env(), {})
    if "TIOCSTI injected" not in text:
        pytest.skip(f"TIOCSTI does not work here even unconfined: {text!r}")
    env = sandbox_env(pw, wd, which)
    add = {"PYWARM_DISABLE": "1"} if how == "cold" else {}
    end, text, lines = run_on_pty(pw, wd, env, add)
    assert end == "exited 0" and "end" in text, (end, text)
    for what in ("TIOCSTI", "TIOCLINUX") + (("high-bits",) if os.uname().machine == "x86_64" else ()):
        assert f"{what} EPERM" in text, (what, text)
    # Under Landlock paths the terminal's device file is out of reach.
    assert ("reopened EACCES" if which == "paths" else "reopened EPERM") in text, text
    assert "injected" not in text, text
    assert any("event=warm " in l for l in lines) == (how == "warm"), lines


DEV_TTY_PROG = textwrap.dedent("""\
    import os
    try:
        fd = os.open("/dev/tty", os.O_RDWR)
        print("tty", os.isatty(fd), os.write(fd, b""))
    except OSError as e:
        print("tty", e.errno)
""")


@pytest.mark.parametrize("which", ["env-default", "no-network", "deny-list"])
def test_dev_tty_still_opens_when_confined(pw, wd, which):
    """The domain keeps a warm run out of its launcher's descriptors, through
    which /dev/tty is reopened; a confined warm run still opens its
    terminal as /dev/tty, as python3 under the same sandbox does."""
    env = sandbox_env(pw, wd, which)
    got = {}
    for how, add in (("warm", {}), ("cold", {"PYWARM_DISABLE": "1"})):
        trace = pw.trace_path()
        job = PtyJob([PYWARM, "-c", DEV_TTY_PROG], dict(env, **add, PYWARM_DEBUG=trace), wd)
        try:
            end = job.finish()
        finally:
            job.close()
        lines = parse_trace(_read(trace), job.pid)
        assert any("event=warm " in l for l in lines) == (how == "warm"), lines
        got[how] = (end, job.transcript)
    assert got["warm"] == got["cold"] == ("exited 0", b"tty True 0\r\n"), got


def test_pywarmctl_sandbox_tells_the_scope(pw, wd):
    """`pywarmctl sandbox` says what the domain keeps a run from on this
    kernel, and that TIOCSTI is denied by every sandbox; nothing without one."""
    abi = landlock_abi()
    out = pw.ctl("sandbox", "no-network", cwd=wd).stdout.decode()
    assert "  ioctl              request == TIOCSTI           errno  [every sandbox]\n" in out, out
    if abi >= 6:
        assert (f"scope (Landlock ABI {abi}): the run is a Landlock domain of its own: no ptrace "
                "access to processes outside it") in out, out
        assert "no signals to them, no abstract unix sockets made outside it\n" in out, out
    elif abi >= 1:
        assert "not scoped before Landlock ABI 6" in out, out
    else:
        assert "scope: this kernel has no Landlock" in out and "pidfd_getfd" in out, out
    out = pw.ctl("sandbox", cwd=wd).stdout.decode()
    assert "scope" not in out and "TIOCSTI" not in out, out


@pytest.mark.parametrize("which", ["env-default", "no-network"])
def test_job_control_reaches_a_confined_run(pw, wd, which):
    """Signals from outside into the run are not scoped: Ctrl-Z stops a
    confined run and the shell's fg resumes it, Ctrl-C interrupts it, warm
    exactly as python3 under the same sandbox."""
    env = sandbox_env(pw, wd, which)
    prog = "x = input('> ')\nprint('got', x)\ninput('> ')\n"
    got = {}
    for how, add in (("warm", {}), ("cold", {"PYWARM_DISABLE": "1"})):
        trace = pw.trace_path()
        job = PtyJob([PYWARM, "-c", prog], dict(env, **add, PYWARM_DEBUG=trace), wd)
        try:
            job.expect(b"> ")
            job.wait_tty_read()
            job.send(b"\x1a")
            stopped = job.event(10)
            job.cont()
            job.wait_tty_read()
            job.send(b"hi\n")
            job.expect(b"got hi\r\n> ")
            job.wait_tty_read()
            job.send(b"\x03")
            end = job.finish()
        finally:
            job.close()
        lines = parse_trace(_read(trace), job.pid)
        assert any("event=warm " in l for l in lines) == (how == "warm"), lines
        got[how] = (stopped, end, job.transcript.split(b"Traceback")[0])
    assert got["warm"] == got["cold"], got
    assert got["warm"][0] == "stopped 20", got


# ---------------------------------------------------------------- another user

@pytest.fixture(scope="module")
def usr_build():
    """pywarm built for /usr/bin/python3, which a second user can run (root's
    interpreter under its home is not readable to others)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a second user")
    if not os.access("/usr/bin/python3-config", os.X_OK):
        pytest.skip("/usr/bin/python3 has no python3-config to embed it")
    top = tempfile.mkdtemp(prefix="pywarm-usr-")
    os.chmod(top, 0o755)
    p = subprocess.run(["make", "-C", REPO, f"BUILDDIR={top}/build", "PYTHON=/usr/bin/python3",
                        "-j2", "all"], capture_output=True, timeout=900)
    if p.returncode != 0:
        shutil.rmtree(top, ignore_errors=True)
        pytest.fail(f"building for /usr/bin/python3 failed:\n{p.stderr.decode(errors='replace')[-2000:]}")
    yield os.path.join(top, "build")
    shutil.rmtree(top, ignore_errors=True)


@needs_landlock
def test_attacks_as_another_user(pw, usr_build):
    """The same attacks by an ordinary user on its own zygote, pooled child,
    launcher and another process of its own: unconfined they work on the
    launcher and the other process (both the user's and dumpable) and fail
    on the zygote and the pooled child (not dumpable); confined, all are
    refused."""
    from helpers import temp_user
    with temp_user() as user:
        home = tempfile.mkdtemp(prefix="pywarm-ou-")
        try:
            for d in ("", "run", "state", "config", "w"):
                os.makedirs(os.path.join(home, d), mode=0o700, exist_ok=True)
                os.chown(os.path.join(home, d), user.pw_uid, user.pw_gid)
            os.chmod(home, 0o755)
            env = {"PATH": "/usr/bin:/bin", "HOME": home, "XDG_RUNTIME_DIR": os.path.join(home, "run"),
                   "XDG_STATE_HOME": os.path.join(home, "state"),
                   "XDG_CONFIG_HOME": os.path.join(home, "config")}
            who = dict(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
            wd = os.path.join(home, "w")
            ctl = os.path.join(usr_build, "pywarmctl")
            p = subprocess.run([ctl, "start", "--wait"], env=env, cwd=wd, capture_output=True,
                               timeout=120, **who)
            assert p.returncode == 0, p
            by = subprocess.Popen(["/usr/bin/python3", "-c", "import sys; sys.stdin.read()"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  start_new_session=True, **who)
            try:
                targets = {"zygote": "zygote", "pool": "pool", "launcher": "launcher",
                           "bystander": by.pid}
                attacks = [a for a in ALL_ATTACKS if a != "environ"]
                spec = {"targets": targets, "attacks": attacks}
                trace = os.path.join(wd, "trace.log")
                run = lambda e, how: attack(pw, wd, e, spec, how, pywarm=os.path.join(usr_build, "pywarm"),
                                            user=user, trace=trace)
                free = run(env, "warm")
                sealed = ("zygote", "pool")
                signals = ("kill0", "kill_cont", "pidfd_signal")  # not dumpable still takes signals
                wrong = {k: v for k, v in free.items() if k not in ("pids", "ppid") and
                         (v == "ok") == (k.endswith(sealed) and not k.startswith(signals))}
                assert not wrong, free
                for sandbox in ("no-network", "default"):
                    res = run(dict(env, PYWARM_SANDBOX=sandbox), "warm")
                    bad = refused_all(res, attacks, targets)
                    assert not bad, (sandbox, bad, res)
                    cold = run(dict(env, PYWARM_SANDBOX=sandbox),
                               "cold") if sandbox == "no-network" else None
                    if cold:
                        assert cold["getfd bystander"] == res["getfd bystander"] == "EPERM", cold
            finally:
                by.stdin.close()
                by.wait(timeout=30)
                subprocess.run([ctl, "stop", "--all"], env=env, cwd=wd, capture_output=True,
                               timeout=60, **who)
        finally:
            shutil.rmtree(home, ignore_errors=True)
