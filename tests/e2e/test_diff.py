# test_diff.py: differential tests: the same command under the real interpreter and under pywarm must be indistinguishable.
#
# Every test compares exit status, stdout and stderr byte for byte, and (unless
# it says otherwise) asserts that the pywarm run was served warm, so that a cold
# fallback cannot make a comparison pass trivially.

import fcntl
import os
import re
import shutil
import signal
import struct
import subprocess
import termios
import textwrap

import pytest

from conftest import (REAL, PYWARM, SELF, _read, assert_same, assert_warm, core_off,
                      keep_only_fds, parse_trace, write_files)
from helpers import poll_until

# Prints how the program was invoked, as seen from inside.
PROBE = textwrap.dedent("""\
    import os, sys
    m = sys.modules["__main__"]
    def kind(x):
        return getattr(x, "__name__", None) or type(x).__name__
    print("argv", sys.argv)
    print("orig_argv", sys.orig_argv)
    print("executable", sys.executable)
    print("path", sys.path)
    print("name", __name__)
    print("file", globals().get("__file__", "<none>"))
    print("cached", globals().get("__cached__", "<none>"))
    print("package", repr(globals().get("__package__", "<none>")))
    spec = globals().get("__spec__")
    print("spec", None if spec is None else (spec.name, spec.origin, spec.parent))
    print("loader", kind(globals().get("__loader__")))
    print("builtins", kind(globals().get("__builtins__")))
    print("doc", repr(globals().get("__doc__")))
    print("main keys", list(vars(m)))
    print("cwd", os.getcwd())
""")


def _common_files():
    return {
        "probe.py": PROBE,
        "sub/probe.py": PROBE,
        "x/.keep": "",
        "sub/deeper/real.py": PROBE,
        "link.py": ("symlink", "sub/deeper/real.py"),
        "mymod.py": PROBE,
        "pkg/__init__.py": "",
        "pkg/__main__.py": PROBE,
        "pkg/mod.py": PROBE,
        "appdir/__main__.py": PROBE,
    }


# (id, argv (with {w} = the work dir), cwd relative to the work dir, stdin bytes)
INVOCATIONS = [
    ("script-relative", ["probe.py", "a", "b c"], ".", None),
    ("script-dotdot", ["./x/../probe.py", "-x", "--y"], ".", None),
    ("script-absolute", ["{w}/probe.py", "arg"], ".", None),
    ("script-symlink", ["link.py", "1"], ".", None),
    ("script-subdir", ["sub/probe.py"], ".", None),
    ("script-from-subdir-cwd", ["probe.py"], "sub", None),
    ("script-parent-path", ["../probe.py", "z"], "sub", None),
    ("script-options-after", ["probe.py", "-c", "x", "-m", "y", "--", "-"], ".", None),
    ("c", ["-c", PROBE], ".", None),
    ("c-args", ["-c", PROBE, "a", "b"], ".", None),
    ("c-optionlike-args", ["-c", PROBE, "-x", "--y", "-c", "-m", "-"], ".", None),
    ("c-in-subdir", ["-c", PROBE], "sub", None),
    ("m-module-cwd", ["-m", "mymod", "a", "-b"], ".", None),
    ("m-submodule", ["-m", "pkg.mod", "q"], ".", None),
    ("m-package-main", ["-m", "pkg"], ".", None),
    ("stdin-dash-args", ["-", "a", "-b"], ".", PROBE.encode()),
    ("stdin-dash", ["-"], ".", PROBE.encode()),
    ("stdin-noargs", [], ".", PROBE.encode()),
    ("stdin-in-subdir", [], "sub", PROBE.encode()),
]


@pytest.mark.parametrize("argv,cwd,stdin", [c[1:] for c in INVOCATIONS], ids=[c[0] for c in INVOCATIONS])
def test_invocation(pw, wd, argv, cwd, stdin):
    """sys.argv, sys.orig_argv, sys.executable, the whole sys.path, __main__'s
    attributes and the cwd for every way of naming the program."""
    write_files(wd, _common_files())
    args = [a.replace("{w}", wd) for a in argv]
    real, pyw = pw.run_both(args, cwd=os.path.join(wd, cwd), input=stdin)
    assert real.rc == 0, real.describe()
    assert_same(real, pyw)
    assert_warm(pyw)
    assert b"executable " + REAL.encode() + b"\n" in pyw.out


# Directory and zip applications, -x and the like: pywarm may run these cold,
# but never differently.
OTHER_INVOCATIONS = [
    ("dir-app", ["appdir", "1"], None),
    ("zip-app", ["app.zip", "2"], None),
    ("skip-first-line", ["-x", "firstline.py", "3"], None),
    ("dash-dash", ["--", "probe.py", "4"], None),
    ("dash-dash-stdin", ["--", "-", "4"], PROBE.encode()),
    ("m-package-no-main", ["-m", "nomainpkg"], None),
]


@pytest.mark.parametrize("argv,stdin", [c[1:] for c in OTHER_INVOCATIONS], ids=[c[0] for c in OTHER_INVOCATIONS])
def test_other_invocation(pw, wd, argv, stdin):
    import zipfile
    write_files(wd, _common_files())
    write_files(wd, {"firstline.py": "this line is skipped\n" + PROBE, "nomainpkg/__init__.py": ""})
    with zipfile.ZipFile(os.path.join(wd, "app.zip"), "w") as z:
        z.writestr("__main__.py", PROBE)
    real, pyw = pw.run_both(argv, cwd=wd, input=stdin)
    assert_same(real, pyw)


# ---------------------------------------------------------------- environment

ENV_PROG = textwrap.dedent("""\
    import os, subprocess, sys
    print(sorted(os.environ.items()))
    print(list(os.environb.items()))
    sys.stdout.flush()
    subprocess.run(["/usr/bin/env"], check=True)
    import ctypes
    environ = ctypes.POINTER(ctypes.c_char_p).in_dll(ctypes.CDLL(None), "environ")
    i = 0
    while environ[i] is not None:
        print("C", environ[i])
        i += 1
""")

ENV_VARIANTS = {
    "plain": {},
    "odd-values": {"EMPTY": "", "EQUALS": "a=b=c", "SPACES": "  x  y ", "NEWLINE": "l1\nl2",
                   "UNICODE": "h\u00e9llo \u2713", "lower_case": "1", "TZ_LIKE": "UTC"},
    "long-value": {"BIG": "x" * 100000},
    "many": {f"VAR_{i:04d}": str(i) for i in range(500)},
}


@pytest.mark.parametrize("variant", list(ENV_VARIANTS))
def test_environment(pw, wd, variant):
    """os.environ, os.environb (order included), the C environ, and what a
    child process inherits."""
    real, pyw = pw.run_both(["-c", ENV_PROG], cwd=wd, env_add=ENV_VARIANTS[variant])
    assert real.rc == 0, real.describe()
    assert_same(real, pyw)
    assert_warm(pyw)


def test_environment_bytes(pw, wd):
    """Environment and argv bytes that are not UTF-8 (surrogateescape)."""
    env = {k.encode(): v.encode() for k, v in pw.make_env().items()}
    env[b"BADBYTES"] = b"\xff\xfe\x80abc"
    env[b"PYWARM_DEBUG"] = pw.trace_path().encode()
    prog = ("import os, sys; print(ascii(sys.argv)); print(os.environb[b'BADBYTES']);"
            "print(ascii(os.environ['BADBYTES'])); print(os.fsencode(sys.argv[1]))")
    results = [pw.run(side, ["-c", prog, b"\xff\xc3(arg".decode("utf-8", "surrogateescape")],
                      cwd=wd, env=env, trace=env[b"PYWARM_DEBUG"].decode())
               for side in ("real", "pywarm")]
    assert_same(*results)
    assert_warm(results[1])


def test_environment_mutation_reaches_children(pw, wd):
    prog = ("import os, subprocess; os.environ['ADDED']='1'; del os.environ['HOME'];"
            "os.putenv('PUTENV_ONLY', 'p');"
            "print(subprocess.run(['/usr/bin/env'], capture_output=True).stdout.decode())")
    real, pyw = pw.run_both(["-c", prog], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)


# ---------------------------------------------------------------- descriptors and stdio

FD_PROG = textwrap.dedent("""\
    import fcntl, os, stat, sys
    names = os.listdir("/proc/self/fd")
    fds = []
    for n in sorted(names, key=int):
        try:
            st = os.fstat(int(n))
        except OSError:
            continue           # the descriptor that listed the directory
        fds.append((int(n), st))
    for fd, st in fds:
        fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        kind = stat.S_IFMT(st.st_mode)
        kinds = {stat.S_IFREG: "file", stat.S_IFIFO: "fifo", stat.S_IFCHR: "chr",
                 stat.S_IFSOCK: "sock", stat.S_IFDIR: "dir"}
        extra = ""
        if kind == stat.S_IFREG:
            extra = "size=%d pos=%d" % (st.st_size, os.lseek(fd, 0, os.SEEK_CUR))
        elif kind == stat.S_IFCHR:
            extra = os.readlink("/proc/self/fd/%d" % fd)
        print(fd, kinds.get(kind, oct(kind)), "inheritable=%s" % os.get_inheritable(fd),
              "acc=%d" % (fl & os.O_ACCMODE), "append=%d" % bool(fl & os.O_APPEND),
              "nonblock=%d" % bool(fl & os.O_NONBLOCK), extra)
    for fd in (3, 4, 100):
        try:
            os.write(fd, b"written to fd %d\\n" % fd)
        except OSError as e:
            print("fd", fd, "write failed", e.errno)
""")


def test_fd_inventory_and_extra_fds(pw, wd):
    """Descriptors beyond 0-2 are inherited with their numbers, flags, shared
    offsets and inheritability; no descriptor is added.  (Pipe and file
    identities are compared by kind: they are distinct objects per run.)"""
    def per_side(side):
        paths = [os.path.join(wd, f"{side}.fd{n}") for n in (3, 4, 100)]
        for p in paths:
            with open(p, "wb") as f:
                f.write(b"AAAA")

        def pre():
            core_off()
            fd = os.open(paths[0], os.O_WRONLY)
            os.lseek(fd, 2, os.SEEK_SET)              # shared offset: writes land at 2
            os.dup2(fd, 3)
            fd = os.open(paths[1], os.O_WRONLY | os.O_APPEND)
            os.dup2(fd, 4)
            fd = os.open(paths[2], os.O_RDWR)
            os.dup2(fd, 100)
            r, w = os.pipe()
            os.dup2(r, 7)
            os.set_blocking(7, False)
            fd = os.open("/dev/null", os.O_RDONLY)
            os.dup2(fd, 9)
            keep_only_fds({3, 4, 7, 9, 100})
        return {"preexec": pre, "close_fds": False}

    real, pyw = pw.run_both(["-c", FD_PROG], cwd=wd, per_side=per_side)
    assert real.rc == 0, real.describe()
    assert_same(real, pyw)
    assert_warm(pyw)
    for n in (3, 4, 100):
        with open(os.path.join(wd, f"real.fd{n}"), "rb") as a, open(os.path.join(wd, f"pywarm.fd{n}"), "rb") as b:
            assert a.read() == b.read(), f"contents written through fd {n} differ"
    with open(os.path.join(wd, "pywarm.fd3"), "rb") as f:
        assert f.read() == b"AAwritten to fd 3\n"


def test_fd_inventory_plain(pw, wd):
    real, pyw = pw.run_both(["-c", FD_PROG], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)
    assert real.out.splitlines()[3:4] == [b"fd 3 write failed 9"]


STDIO_PROG = textwrap.dedent("""\
    import os, sys
    def show(name):
        f = getattr(sys, name)
        if f is None:
            return "%s None" % name
        return "%s fd=%s name=%r mode=%r enc=%s err=%s lb=%s wt=%s tty=%s buf=%s raw=%s" % (
            name, f.fileno(), f.name, f.mode, f.encoding, f.errors, f.line_buffering,
            f.write_through, f.isatty(), type(f.buffer).__name__,
            type(getattr(f.buffer, "raw", None)).__name__)
    lines = [show(n) for n in ("stdin", "stdout", "stderr")]
    lines.append("dunder same %s" % [getattr(sys, "__%s__" % n) is getattr(sys, n)
                                     for n in ("stdin", "stdout", "stderr")])
    text = "\\n".join(lines) + "\\n"
    out = sys.stdout if sys.stdout is not None else sys.stderr
    if out is None:
        os.write(int(sys.argv[1]) if len(sys.argv) > 1 else 3, text.encode())
    else:
        out.write(text)
""")


def _close_fds(*fds):
    def pre():
        for fd in fds:
            os.close(fd)
    return pre


STDIO_CASES = {
    "pipes": {},
    "stdin-devnull": {"stdin": subprocess.DEVNULL},
    "stdin-closed": {"preexec": _close_fds(0)},
    "stdout-closed": {"preexec": _close_fds(1)},
    "stderr-closed": {"preexec": _close_fds(2)},
    "stdin-stdout-closed": {"preexec": _close_fds(0, 1)},
    "stdout-devnull-stderr-pipe": {"stdout": subprocess.DEVNULL},
    "stdout-file": {"stdout_file": True},
    "stderr-file": {"stderr_file": True},
    "stdin-file": {"stdin_file": True},
    "stderr-to-stdout": {"stderr": subprocess.STDOUT},
}


@pytest.mark.parametrize("case", list(STDIO_CASES))
def test_stdio_objects(pw, wd, case):
    """sys.stdin/stdout/stderr: None when the fd is closed, and otherwise the
    same encoding, errors, buffering, tty-ness and file names."""
    spec = dict(STDIO_CASES[case])
    with open(os.path.join(wd, "in.txt"), "w") as f:
        f.write("input\n")

    def per_side(side):
        kw = {}
        if spec.get("stdout_file"):
            kw["stdout"] = os.path.join(wd, f"{side}.out")
        if spec.get("stderr_file"):
            kw["stderr"] = os.path.join(wd, f"{side}.err")
        if spec.get("stdin_file"):
            kw["stdin"] = os.path.join(wd, "in.txt")
        return kw

    kw = {k: v for k, v in spec.items() if not k.endswith("_file")}
    real, pyw = pw.run_both(["-c", STDIO_PROG], cwd=wd, per_side=per_side, **kw)
    assert real.rc == 0, real.describe()
    assert_same(real, pyw)
    assert_warm(pyw)
    if case == "stdin-closed":
        assert b"stdin None" in pyw.out


def test_stdout_to_file_at_offset(pw, wd):
    """stdout is a file opened without O_APPEND positioned at 3: writes land
    there, through the caller's own open file description."""
    def per_side(side):
        path = os.path.join(wd, f"{side}.out")
        with open(path, "wb") as f:
            f.write(b"XYZ-old-content")

        def pre():
            fd = os.open(path, os.O_WRONLY)
            os.lseek(fd, 3, os.SEEK_SET)
            os.dup2(fd, 1)
            os.close(fd)
        return {"preexec": pre, "stdout": subprocess.DEVNULL}

    real, pyw = pw.run_both(["-c", "print('new', end='')"], cwd=wd, per_side=per_side)
    assert_same(real, pyw)
    assert_warm(pyw)
    for side in ("real", "pywarm"):
        with open(os.path.join(wd, f"{side}.out"), "rb") as f:
            assert f.read() == b"XYZnewd-content"


def test_stdin_shared_with_grandchild(pw, wd):
    """The program's stdin is the caller's descriptor: what the program does not
    read is left for a process it starts."""
    prog = ("import os, subprocess, sys; print(os.read(0, 6)); sys.stdout.flush();"
            "subprocess.run(['cat'])")
    real, pyw = pw.run_both(["-c", prog], cwd=wd, input=b"line1\nline2\nline3\n")
    assert_same(real, pyw)
    assert_warm(pyw)
    assert pyw.out == b"b'line1\\n'\nline2\nline3\n"


def test_output_interleaving_with_children(pw, wd):
    prog = ("import os, sys; print('a', flush=True); os.system('echo b; echo c >&2');"
            "print('d'); sys.stdout.flush(); os.write(1, b'e\\n'); print('f', file=sys.stderr)")
    real, pyw = pw.run_both(["-c", prog], cwd=wd, stderr=subprocess.STDOUT)
    assert_same(real, pyw)
    assert_warm(pyw)
    assert pyw.out == b"a\nb\nc\nd\ne\nf\n"


# ---------------------------------------------------------------- process state

STATE_PROG = textwrap.dedent("""\
    import os, resource, signal, sys
    old = os.umask(0o022); os.umask(old)
    print("umask", oct(old))
    for name in sorted(n for n in dir(resource) if n.startswith("RLIMIT_")):
        print(name, resource.getrlimit(getattr(resource, name)))
    print("nice", os.nice(0), os.getpriority(os.PRIO_PROCESS, 0))
    print("affinity", sorted(os.sched_getaffinity(0)))
    print("sched", os.sched_getscheduler(0))
    def disp(h):
        return {signal.SIG_DFL: "DFL", signal.SIG_IGN: "IGN"}.get(h, getattr(h, "__name__", repr(h)))
    for s in sorted(signal.valid_signals()):
        try:
            print("sig", s, disp(signal.getsignal(s)))
        except (ValueError, OSError) as e:
            print("sig", s, "error", e)
    print("blocked", sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])))
    keep = ("Umask", "SigBlk", "SigIgn", "SigCgt", "CapInh", "CapPrm", "CapEff", "CapBnd",
            "CapAmb", "NoNewPrivs", "Seccomp", "Cpus_allowed_list", "Threads", "Uid", "Gid",
            "Groups")
    with open("/proc/self/status") as f:
        for line in f:
            if line.split(":")[0] in keep:
                print(line, end="")
    with open("/proc/self/limits") as f:
        print(f.read(), end="")
    print("ids", os.getuid(), os.geteuid(), os.getgid(), os.getegid(), sorted(os.getgroups()))
""")


def _pre_umask():
    os.umask(0o027)


def _pre_rlimits():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(200, soft), hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 30, resource.RLIM_INFINITY))
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    if hard == resource.RLIM_INFINITY or hard > 5000:
        resource.setrlimit(resource.RLIMIT_NPROC, (5000, hard))
    resource.setrlimit(resource.RLIMIT_CPU, (3600, resource.RLIM_INFINITY))


def _pre_ignore(*sigs):
    def pre():
        for s in sigs:
            signal.signal(s, signal.SIG_IGN)
    return pre


def _pre_block(*sigs):
    def pre():
        signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    return pre


def _pre_nice():
    os.nice(5)


def _pre_affinity():
    os.sched_setaffinity(0, {0})


def _pre_no_new_privs():
    import ctypes
    if ctypes.CDLL(None).prctl(38, 1, 0, 0, 0) != 0:     # PR_SET_NO_NEW_PRIVS
        raise OSError("prctl(PR_SET_NO_NEW_PRIVS) failed")


STATE_CASES = {
    "default": None,
    "umask-027": _pre_umask,
    "rlimits": _pre_rlimits,
    "ignore-hup-usr1": _pre_ignore(signal.SIGHUP, signal.SIGUSR1),
    "ignore-int": _pre_ignore(signal.SIGINT),
    "ignore-chld-term-quit": _pre_ignore(signal.SIGCHLD, signal.SIGTERM, signal.SIGQUIT),
    "block-usr2": _pre_block(signal.SIGUSR2),
    "block-int-term": _pre_block(signal.SIGINT, signal.SIGTERM),
    "nice-5": _pre_nice,
    "affinity-cpu0": _pre_affinity,
    "no-new-privs": _pre_no_new_privs,
}


@pytest.mark.parametrize("case", list(STATE_CASES))
def test_process_state(pw, wd, case):
    """umask, every rlimit, nice, affinity, signal dispositions (Python's view
    and the kernel's), the blocked mask, capabilities and thread count."""
    if case == "affinity-cpu0" and len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs at least two CPUs to restrict the affinity")
    real, pyw = pw.run_both(["-c", STATE_PROG], cwd=wd, preexec=STATE_CASES[case])
    assert real.rc == 0, real.describe()
    assert_same(real, pyw)
    assert_warm(pyw)


def test_umask_applies_to_files(pw, wd):
    prog = "import os, sys; open(sys.argv[1], 'w').close(); print(oct(os.stat(sys.argv[1]).st_mode))"
    real, pyw = pw.run_both(["-c", prog, "f"], cwd=wd, preexec=_pre_umask,
                            per_side=lambda side: {"cwd": pw.workdir(side)})
    assert_same(real, pyw)
    assert_warm(pyw)
    assert pyw.out == b"0o100640\n"


def test_nofile_limit_is_enforced(pw, wd):
    """The lowered RLIMIT_NOFILE is not just reported: it is the real limit."""
    prog = textwrap.dedent("""\
        import os
        fds = []
        try:
            while True:
                fds.append(os.open("/dev/null", os.O_RDONLY))
        except OSError as e:
            print("opened", len(fds), "then errno", e.errno)
    """)

    def pre():
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))
    real, pyw = pw.run_both(["-c", prog], cwd=wd, preexec=pre)
    assert_same(real, pyw)
    assert_warm(pyw)


def test_ignored_sigint_is_honoured(pw, wd):
    """With SIGINT ignored by the caller, a SIGINT sent to the program does nothing."""
    prog = "import os, signal; os.kill(os.getpid(), signal.SIGINT); print('survived')"
    real, pyw = pw.run_both(["-c", prog], cwd=wd, preexec=_pre_ignore(signal.SIGINT))
    assert_same(real, pyw)
    assert_warm(pyw)
    assert pyw.out == b"survived\n"


# ---------------------------------------------------------------- time zone, locale

TZ_PROG = textwrap.dedent("""\
    import time, datetime
    t = 1700000000
    print(time.tzname, time.timezone, time.altzone, time.daylight)
    print(time.localtime(t))
    print(time.strftime("%Y-%m-%d %H:%M:%S %Z %z", time.localtime(t)))
    print(time.mktime((2024, 7, 1, 12, 0, 0, 0, 0, -1)))
    print(datetime.datetime.fromtimestamp(t))
    print(datetime.datetime.fromtimestamp(t).astimezone().tzinfo)
""")


@pytest.mark.parametrize("tz", [None, "UTC", "America/New_York", "Asia/Kolkata", "EST5EDT", ""])
def test_time_zone(pw, wd, tz):
    if tz and "/" in tz and not os.path.exists(f"/usr/share/zoneinfo/{tz}"):
        pytest.skip(f"no zoneinfo for {tz}")
    add = {} if tz is None else {"TZ": tz}
    real, pyw = pw.run_both(["-c", TZ_PROG], cwd=wd, env_add=add, env_remove=("TZ",))
    assert_same(real, pyw)
    assert_warm(pyw)


def test_two_time_zones_in_a_row(pw, wd):
    """A second run with another TZ is not served a cached zone."""
    outs = []
    for tz in ("America/New_York", "Asia/Tokyo", "America/New_York"):
        real, pyw = pw.run_both(["-c", TZ_PROG], cwd=wd, env_add={"TZ": tz})
        assert_same(real, pyw)
        assert_warm(pyw)
        outs.append(pyw.out)
    assert outs[0] != outs[1] and outs[0] == outs[2]


UNICODE_PROG = textwrap.dedent("""\
    import locale, sys
    print("h\\u00e9llo \\u2713 \\u65e5\\u672c \\U0001f600")
    print(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors(), sys.getdefaultencoding())
    print(locale.getpreferredencoding(False), locale.getlocale())
    print(locale.setlocale(locale.LC_ALL, None))
    print(sys.flags.utf8_mode)
    sys.stdout.flush()
    sys.stdout.buffer.write("caf\\u00e9\\n".encode(sys.stdout.encoding, "replace"))
""")


def test_unicode_output_in_session_locale(pw, wd):
    real, pyw = pw.run_both(["-c", UNICODE_PROG], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)


LOCALE_VARS = ("LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE")


@pytest.mark.parametrize("env", [{"LC_ALL": "C"}, {"LANG": "C"}], ids=["LC_ALL=C", "LANG=C"])
def test_unicode_output_other_locale(pw, wd, env):
    """Another locale is another zygote identity: pywarm may run this cold, but
    the output (C locale coercion, encodings, the coerced environment) must be the same."""
    prog = UNICODE_PROG + "import os; print(sorted(os.environ.items()))\n"
    real, pyw = pw.run_both(["-c", prog], cwd=wd, env_add=env, env_remove=LOCALE_VARS)
    assert_same(real, pyw)


# ---------------------------------------------------------------- per-run randomness

def test_random_state_differs_between_runs(pw, wd):
    """Two runs never share random state (random, secrets, uuid, tempfile names)."""
    prog = ("import random, secrets, uuid, tempfile, os;"
            "print(random.random(), random.getrandbits(64), secrets.token_hex(8), uuid.uuid4(),"
            " os.path.basename(tempfile.mktemp()), os.urandom(8).hex())")
    outs = []
    for _ in range(3):
        pyw = pw.run_pywarm(["-c", prog], cwd=wd)
        assert pyw.rc == 0, pyw.describe()
        assert_warm(pyw)
        outs.append(pyw.out.split())
    for i in range(len(outs[0])):
        values = [o[i] for o in outs]
        assert len(set(values)) == 3, f"field {i} repeated across runs: {values}"


# ---------------------------------------------------------------- exits

EXIT_CASES = {
    "exit-0": ["-c", "import sys; print('x'); sys.exit(0)"],
    "exit-3": ["-c", "import sys; sys.exit(3)"],
    "exit-255": ["-c", "import sys; sys.exit(255)"],
    "exit-256": ["-c", "import sys; sys.exit(256)"],
    "exit-minus-1": ["-c", "import sys; sys.exit(-1)"],
    "exit-message": ["-c", "import sys; print('out'); sys.exit('message to stderr')"],
    "exit-float": ["-c", "import sys; sys.exit(3.5)"],
    "exit-none": ["-c", "raise SystemExit(None)"],
    "exit-tuple": ["-c", "raise SystemExit(1, 2)"],
    "os-exit-unflushed": ["-c", "import os; print('lost'); os._exit(7)"],
    "exception-c": ["-c", "def f():\n    raise ValueError('bad \\u00e9')\nf()"],
    "exception-script": ["boom.py"],
    "exception-chained": ["-c", "try:\n    1/0\nexcept Exception as e:\n    raise KeyError('k') from e"],
    "exception-in-atexit": ["-c", "import atexit\nclass F:\n    def __repr__(self):\n        return 'F()'\n"
                            "    def __call__(self):\n        raise RuntimeError('late')\natexit.register(F())\nprint('main')"],
    "syntax-error-script": ["bad.py"],
    "syntax-error-c": ["-c", "x = (1,"],
    "indentation-error": ["-c", "if 1:\nprint(1)"],
    "import-error": ["-c", "import no_such_module_pywarm"],
    "no-such-script-relative": ["nofile.py"],
    "no-such-script-absolute": ["{w}/nofile.py", "a"],
    "script-is-directory": ["emptydir"],
    "m-no-such-module": ["-m", "no_such_module_pywarm"],
    "m-package-no-main": ["-m", "nomainpkg"],
    "keyboard-interrupt": ["-c", "print('before', flush=True)\nraise KeyboardInterrupt"],
    "kill-term": ["-c", "import os, signal; print('x', flush=True); os.kill(os.getpid(), signal.SIGTERM)"],
    "kill-kill": ["-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
    "kill-usr1": ["-c", "import os, signal; os.kill(os.getpid(), signal.SIGUSR1)"],
    "segfault": ["-c", "import ctypes; ctypes.string_at(0)"],
    "abort": ["-c", "import os; os.abort()"],
    "recursion": ["-c", "def f(n):\n    return f(n + 1)\nf(0)"],
    "stdout-closed-by-program": ["-c", "import sys; sys.stdout.close(); print('x')"],
}

# Cases that may legitimately be served cold (usage errors caught by the launcher).
EXIT_MAY_BE_COLD = {"no-such-script-relative", "no-such-script-absolute", "script-is-directory"}


@pytest.mark.parametrize("case", list(EXIT_CASES))
def test_exit(pw, wd, case):
    """Exit status (or death by the same signal), stdout and stderr (tracebacks,
    error messages naming the real interpreter) are identical."""
    write_files(wd, {
        "boom.py": "import json\n\ndef inner(x):\n    return x['missing']\n\ndef outer():\n    inner({})\n\nouter()\n",
        "bad.py": "print('never')\ndef f(:\n    pass\n",
        "emptydir/.keep": "",
        "nomainpkg/__init__.py": "",
    })
    args = [a.replace("{w}", wd) for a in EXIT_CASES[case]]
    real, pyw = pw.run_both(args, cwd=wd, preexec=core_off)
    assert_same(real, pyw)
    if case not in EXIT_MAY_BE_COLD:
        assert_warm(pyw)
    expected = {"keyboard-interrupt": -signal.SIGINT, "kill-term": -signal.SIGTERM,
                "segfault": -signal.SIGSEGV, "abort": -signal.SIGABRT, "exit-3": 3,
                "no-such-script-relative": 2, "exit-message": 1}
    if case in expected:
        assert pyw.rc == expected[case], pyw.describe()
    if case == "no-such-script-relative":
        assert pyw.err == (f"{REAL}: can't open file '{wd}/nofile.py': "
                           "[Errno 2] No such file or directory\n").encode()


# ---------------------------------------------------------------- running to the end

def test_nondaemon_thread_joined_and_atexit_order(pw, wd):
    prog = textwrap.dedent("""\
        import atexit, threading, time, sys
        atexit.register(lambda: print("atexit 1"))
        atexit.register(lambda: print("atexit 2"))
        def work():
            time.sleep(0.3)
            print("thread done")
        threading.Thread(target=work).start()
        threading.Thread(target=lambda: (time.sleep(5), print("daemon, never")), daemon=True).start()
        print("main done", threading.active_count())
    """)
    real, pyw = pw.run_both(["-c", prog], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)
    assert pyw.out == b"main done 3\nthread done\natexit 2\natexit 1\n"


# What the end of a run does to objects the program left behind.  python3
# finalises them (module teardown); a warm run must not lose any effect.
TEARDOWN_CASES = {
    "del-in-global": ("class A:\n    def __del__(self):\n        print('del A')\na = A()\nprint('main')", None),
    "del-in-cycle": ("import gc\nclass A:\n    def __del__(self):\n        print('cycle del')\n"
                     "a = A()\na.me = a\ndel a\nprint('main')", None),
    "generator-finally": ("def g():\n    try:\n        yield 1\n    finally:\n        print('gen finally')\n"
                          "it = g()\nnext(it)\nprint('main')", None),
    "coroutine-finally": ("import types\n@types.coroutine\ndef y():\n    yield\nasync def c():\n    try:\n"
                          "        await y()\n    finally:\n        print('coro finally')\n"
                          "co = c()\nco.send(None)\nprint('main')", None),
    "weakref-callback": ("import weakref\nclass A:\n    pass\na = A()\n"
                         "r = weakref.ref(a, lambda r: print('weakref callback'))\nprint('main')", None),
    "buffered-fd-writer": ("f = open(1, 'w', closefd=False)\nf.write('buffered via fd 1\\n')\nprint('main')", None),
    "unclosed-file": ("import sys\nf = open(sys.argv[1], 'w')\nf.write('data never flushed by hand')\nprint('main')",
                      "content"),
    "sqlite-uncommitted": ("import sqlite3, sys\ncon = sqlite3.connect(sys.argv[1])\n"
                           "con.execute('create table t(x)')\ncon.commit()\n"
                           "con.execute('insert into t values (1)')\nprint('main')", "sqlite"),
    "temporary-directory": ("import sys, tempfile\nd = tempfile.TemporaryDirectory()\n"
                            "open(sys.argv[1], 'w').write(d.name)\nprint('main')", "gone"),
    "logging-handler": ("import logging, sys\nh = logging.StreamHandler(sys.stdout)\n"
                        "logging.getLogger().addHandler(h)\nlogging.warning('warned')\nprint('main')", None),
    "atexit-and-del": ("import atexit\nclass A:\n    def __del__(self):\n        print('del')\n"
                       "atexit.register(print, 'atexit')\na = A()\nprint('main')", None),
    "imported-module-del": ("import holder\nprint('main')", None),
}


@pytest.mark.parametrize("case", list(TEARDOWN_CASES))
def test_teardown(pw, wd, case):
    prog, post = TEARDOWN_CASES[case]
    write_files(wd, {"holder.py": "class H:\n    def __del__(self):\n        print('holder del')\nh = H()\n"})
    paths = {side: os.path.join(wd, f"{side}.data") for side in ("real", "pywarm")}
    real, pyw = pw.run_both(["-c", prog, "ARG"], cwd=wd,
                            per_side=lambda side: {"argv_map": {"ARG": paths[side]}})
    assert real.rc == 0, real.describe()
    assert_same(real, pyw)
    assert_warm(pyw)
    if post == "content":
        with open(paths["real"]) as a, open(paths["pywarm"]) as b:
            assert a.read() == b.read() == "data never flushed by hand"
    elif post == "sqlite":
        import sqlite3
        counts = []
        for side in ("real", "pywarm"):
            con = sqlite3.connect(paths[side])
            counts.append(con.execute("select count(*) from t").fetchone()[0])
            con.close()
        assert counts[0] == counts[1], f"rows left: real {counts[0]}, pywarm {counts[1]}"
    elif post == "gone":
        left = []
        for side in ("real", "pywarm"):
            with open(paths[side]) as f:
                left.append(os.path.exists(f.read()))
        assert left == [False, False], f"temporary directory left behind (real, pywarm): {left}"


def test_interpreter_state(pw, wd):
    """Interpreter-wide settings a program can see."""
    prog = textwrap.dedent("""\
        import sys, gc, faulthandler, threading, os, warnings
        print(sys.flags)
        print(sys.warnoptions, sys._xoptions)
        print(sys.prefix, sys.base_prefix, sys.exec_prefix, sys.platlibdir)
        print(sys.getrecursionlimit(), sys.getswitchinterval(), sys.dont_write_bytecode,
              sys.pycache_prefix, sys.get_int_max_str_digits())
        print(gc.isenabled(), gc.get_threshold(), faulthandler.is_enabled())
        print(sys.gettrace(), sys.getprofile(), sys.excepthook is sys.__excepthook__,
              sys.displayhook is sys.__displayhook__, sys.breakpointhook is sys.__breakpointhook__)
        print(threading.active_count(), threading.current_thread() is threading.main_thread(),
              threading.main_thread().name, threading.get_native_id() == os.getpid())
        print(warnings.filters)
        print(sys.ps1 if hasattr(sys, "ps1") else "no ps1", hasattr(sys, "last_value"))
        print(sys.stdout.write.__self__ is sys.stdout)
    """)
    real, pyw = pw.run_both(["-c", prog], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)


def test_large_output_to_pipe(pw, wd):
    prog = ("import sys\nblock = bytes(range(256)) * 4096\n"
            "for _ in range(10):\n    sys.stdout.buffer.write(block)\nprint('end')")
    real, pyw = pw.run_both(["-c", prog], cwd=wd)
    assert len(real.out) == 10 * 256 * 4096 + 4
    assert_same(real, pyw)
    assert_warm(pyw)


def test_large_text_output_line_by_line(pw, wd):
    prog = "for i in range(200000):\n    print(i, 'x' * (i % 50))"
    real, pyw = pw.run_both(["-c", prog], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)


def test_large_stdin(pw, wd):
    data = os.urandom(1 << 20) * 6
    prog = "import sys, hashlib; d = sys.stdin.buffer.read(); print(len(d), hashlib.sha256(d).hexdigest())"
    real, pyw = pw.run_both(["-c", prog], cwd=wd, input=data)
    assert_same(real, pyw)
    assert_warm(pyw)


def test_output_without_newline_is_flushed(pw, wd):
    prog = "import sys; print('no newline', end=''); sys.stderr.write('err no newline')"
    real, pyw = pw.run_both(["-c", prog], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)
    assert pyw.out == b"no newline" and pyw.err == b"err no newline"


def test_output_without_newline_to_file(pw, wd):
    real, pyw = pw.run_both(["-c", "print('tail', end='')"], cwd=wd,
                            per_side=lambda side: {"stdout": os.path.join(wd, side + ".out")})
    assert_same(real, pyw)
    assert_warm(pyw)
    assert pyw.out == b"tail"


WRITE_SYSCALL = {"x86_64": 1, "aarch64": 64, "riscv64": 64, "i686": 4, "armv7l": 4}


def _pipe_writers_blocked(r):
    """Is some other process blocked in write(1, ...) on r's pipe (asleep
    in the write syscall, its stdout being that pipe)?"""
    me, nr = os.getpid(), str(WRITE_SYSCALL[os.uname().machine])
    pipe = os.readlink(f"/proc/self/fd/{r}")
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            if os.readlink(f"/proc/{pid}/fd/1") != pipe:
                continue
            with open(f"/proc/{pid}/syscall") as f:
                fields = f.read().split()
        except OSError:
            continue
        if len(fields) > 1 and fields[0] == nr and int(fields[1], 16) == 1:
            return True
    return False


def _wait_pipe_full(r, timeout=30.0):
    """Wait until the writer has filled the pipe and is blocked in write."""
    if os.uname().machine not in WRITE_SYSCALL:
        pytest.skip(f"the write syscall's number on {os.uname().machine} is not known")

    def full():
        n = struct.unpack("i", fcntl.ioctl(r, termios.FIONREAD, b"\0" * 4))[0]
        return n >= 65000 and _pipe_writers_blocked(r)
    if not poll_until(full, timeout):
        pytest.fail("the writer never filled the pipe")


@pytest.mark.parametrize("reader", ["close-when-full", "free-a-page-then-close"])
@pytest.mark.parametrize("teardown", ["fast", "full"])
def test_broken_pipe(pw, wd, reader, teardown):
    """The reader goes away: same traceback, same exit status, and an
    unflushable stdout reported exactly as often as python3 reports it.

    close-when-full: the blocked write fails outright (status 1).
    free-a-page-then-close: the blocked write ends short, the rest stays
    buffered and the exit-time flush fails (status 120, one report).
    "full" keeps an object with __del__ alive so the whole teardown runs."""
    prog = "while True:\n    print('y' * 100)"
    if teardown == "full":
        prog = "class A:\n    def __del__(self): pass\na = A()\n" + prog
    results = []
    trace = pw.trace_path()
    env = pw.make_env(trace=trace)
    for side, exe in (("real", REAL), ("pywarm", PYWARM)):
        r, w = os.pipe()
        p = subprocess.Popen([exe, "-c", prog], cwd=wd, env=env, stdin=subprocess.DEVNULL,
                             stdout=w, stderr=subprocess.PIPE)
        os.close(w)
        try:
            _wait_pipe_full(r)
            if reader == "free-a-page-then-close":
                os.read(r, 4096)
                _wait_pipe_full(r)     # the blocked write has taken the page and blocks again
        finally:
            os.close(r)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            pytest.fail(f"{side}: did not stop after its reader went away")
        results.append((p.returncode, err))
    assert results[0] == results[1], f"real {results[0]!r}\npywarm {results[1]!r}"
    assert results[0][0] in (1, 120) and b"BrokenPipeError" in results[0][1], results[0]
    if not SELF:
        lines = parse_trace(_read(trace), p.pid)
        assert any("event=warm " in l for l in lines), f"not warm; trace: {_read(trace)}"


def test_stdout_devnull_large(pw, wd):
    prog = "import sys\nfor i in range(100000):\n    print(i)\nprint('done', file=sys.stderr)"
    real, pyw = pw.run_both(["-c", prog], cwd=wd, stdout=subprocess.DEVNULL)
    assert_same(real, pyw)
    assert_warm(pyw)


# ---------------------------------------------------------------- options

FLAG_CASES = [
    ["-u"], ["-B"], ["-E"], ["-s"], ["-I"], ["-O"], ["-OO"], ["-b"], ["-bb"], ["-q"], ["-P"],
    ["-S"], ["-d"], ["-R"], ["-W", "error"], ["-Wignore::DeprecationWarning"], ["-X", "utf8"],
    ["-X", "dev"], ["-X", "warn_default_encoding"], ["-X", "int_max_str_digits=5000"],
    ["--check-hash-based-pycs", "always"], ["-uB"], ["-X", "frozen_modules=off"],
]

FLAGS_PROG = ("import sys; print(sys.flags); print(sys.warnoptions, sys._xoptions); print(sys.path);"
              "print(sys.argv, sys.orig_argv); print(sys.stdout.line_buffering, sys.stdout.write_through);"
              "print(sys.stdout.encoding, sys.stdout.errors); print(__debug__); assert False, 'assertion'")


@pytest.mark.parametrize("flags", FLAG_CASES, ids=[" ".join(f) for f in FLAG_CASES])
def test_option_flags(pw, wd, flags):
    """Interpreter options: pywarm may run them cold, never differently."""
    real, pyw = pw.run_both([*flags, "-c", FLAGS_PROG, "arg"], cwd=wd)
    assert_same(real, pyw)


NONRUN_CASES = [["--version"], ["-V"], ["-VV"], ["-h"], ["--help"], ["-Z"], ["-c"], ["-m"],
                ["-X"], ["--bogus"], ["-W"], ["-c", "print(1)", "-V"], ["-Vc", "print(1)"]]


@pytest.mark.parametrize("args", NONRUN_CASES, ids=[" ".join(a) for a in NONRUN_CASES])
def test_informational_and_usage_errors(pw, wd, args):
    real, pyw = pw.run_both(args, cwd=wd)
    assert_same(real, pyw)


def test_interactive_flag_without_tty(pw, wd):
    """-i with a piped stdin reads the rest of stdin as a REPL (cold or warm)."""
    real, pyw = pw.run_both(["-i", "-c", "x = 6"], cwd=wd, input=b"print(x * 7)\n1/0\n")
    assert_same(real, pyw)


# ---------------------------------------------------------------- children and stdlib tools

MP_PROG = textwrap.dedent("""\
    import multiprocessing as mp, os, sys
    def square(x):
        return x * x, sys.flags.optimize, __name__
    def child(q):
        q.put((os.getppid() != 0, sys.argv[:1], sorted(k for k in os.environ if k.startswith("MPX"))))
    if __name__ == "__main__":
        mp.set_start_method(sys.argv[1])
        with mp.Pool(2) as pool:
            print(pool.map(square, range(5)))
        q = mp.Queue()
        p = mp.Process(target=child, args=(q,))
        p.start()
        print(q.get())
        p.join()
        print("exitcode", p.exitcode, mp.get_start_method())
""")


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_start_methods(pw, wd, method):
    write_files(wd, {"mp.py": MP_PROG})
    real, pyw = pw.run_both(["mp.py", method], cwd=wd, env_add={"MPX_A": "1"})
    assert_same(real, pyw)
    assert_warm(pyw)
    assert b"exitcode 0" in pyw.out


def test_subprocess_of_sys_executable(pw, wd):
    prog = textwrap.dedent("""\
        import subprocess, sys
        out = subprocess.run([sys.executable, "-c", "import sys; print(sys.argv, sys.flags.optimize)", "x"],
                             capture_output=True, text=True)
        print(out.returncode, out.stdout, out.stderr)
        flags = subprocess._args_from_interpreter_flags()
        print(flags)
        print(subprocess.run([sys.executable, *flags, "-c", "import sys; print(sys.flags.dont_write_bytecode)"],
                             capture_output=True, text=True).stdout)
    """)
    real, pyw = pw.run_both(["-B", "-c", prog], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)


STDLIB_TOOLS = {
    "json.tool": (["-m", "json.tool", "--sort-keys"], b'{"b": [1, 2], "a": {"c": null}}'),
    "json.tool-bad": (["-m", "json.tool"], b'{"b": '),
    "zipfile-create-list": (["-c", "import subprocess, sys; subprocess.run([sys.executable, '-m', 'zipfile', "
                             "'-c', 'z.zip', 'a.txt']); print(open('z.zip','rb').read()[:2])"], None),
    "zipfile-list": (["-m", "zipfile", "-l", "{w}/t.zip"], None),
    "zipfile-test": (["-m", "zipfile", "-t", "{w}/t.zip"], None),
    "unittest": (["-m", "unittest", "-v", "t_mod"], None),
    "unittest-failing": (["-m", "unittest", "t_fail"], None),
    "venv": (["-m", "venv", "--without-pip", "v"], None),
    "platform": (["-m", "platform"], None),
    "base64": (["-m", "base64", "-e"], b"hello bytes"),
    "calendar": (["-m", "calendar", "2024", "2"], None),
    "pip-version": (["-m", "pip", "--version"], None),
}


@pytest.mark.parametrize("case", list(STDLIB_TOOLS))
def test_stdlib_tool(pw, wd, case):
    import zipfile
    args, stdin = STDLIB_TOOLS[case]
    write_files(wd, {"a.txt": "alpha\n",
                     "t_mod.py": "import unittest\nclass T(unittest.TestCase):\n"
                                 "    def test_a(self):\n        self.assertEqual(1, 1)\n"
                                 "    def test_b(self):\n        self.assertTrue(True)\n",
                     "t_fail.py": "import unittest\nclass T(unittest.TestCase):\n"
                                  "    def test_x(self):\n        self.assertEqual(1, 2)\n"})
    with zipfile.ZipFile(os.path.join(wd, "t.zip"), "w") as z:
        z.writestr(zipfile.ZipInfo("x/y.txt", (2020, 1, 1, 0, 0, 0)), "data")
    args = [a.replace("{w}", wd) for a in args]

    def side_dir(side):
        d = os.path.join(wd, side)
        os.makedirs(d, exist_ok=True)
        for f in ("a.txt", "t_mod.py", "t_fail.py"):
            shutil.copy(os.path.join(wd, f), d)
        return {"cwd": d}
    real, pyw = pw.run_both(args, input=stdin, per_side=side_dir)
    if case == "unittest" or case == "unittest-failing":
        # the timing line ("Ran 2 tests in 0.000s") varies between any two runs
        # and the program's own path names the side's directory
        real.err = re.sub(rb"in \d+\.\d+s", b"in Ts", real.err).replace(b"/real/", b"/SIDE/")
        pyw.err = re.sub(rb"in \d+\.\d+s", b"in Ts", pyw.err).replace(b"/pywarm/", b"/SIDE/")
    assert_same(real, pyw)
    assert_warm(pyw)
    if case == "venv":
        for side in ("real", "pywarm"):
            cfg = open(os.path.join(wd, side, "v", "pyvenv.cfg")).read()
            assert "home = " in cfg and "include-system-site-packages = false" in cfg, cfg
        assert sorted(os.listdir(os.path.join(wd, "real", "v", "bin"))) == \
            sorted(os.listdir(os.path.join(wd, "pywarm", "v", "bin")))


def test_large_output_and_input_round_trip(pw, wd):
    """Tens of megabytes through stdin and stdout, hashed on both sides."""
    data = os.urandom(1 << 20) * 24
    prog = ("import sys, hashlib; d = sys.stdin.buffer.read(); "
            "sys.stdout.buffer.write(d[::-1]); sys.stderr.write(hashlib.sha256(d).hexdigest())")
    real, pyw = pw.run_both(["-c", prog], cwd=wd, input=data)
    assert_same(real, pyw)
    assert_warm(pyw)
    assert len(pyw.out) == len(data)
