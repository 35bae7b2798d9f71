# conftest.py: the end-to-end harness: runs a program under the real interpreter and under pywarm, and compares.
#
# Environment:
#   PYWARM_BUILDDIR     directory holding pywarm, pywarmctl, pywarm-zygote (default <repo>/build)
#   PYWARM_REAL_PYTHON  the interpreter pywarm stands in for (default: what `python3` resolves to)
#   PYWARM_TEST_SELF=1  run the real interpreter on both sides: validates the harness itself;
#                       warm/cold assertions become no-ops and zygote tests are skipped.
#                       An absolute path instead of 1 runs that program on the pywarm side
#                       (a deliberately wrong stand-in shows which tests catch what).
#   PYWARM_TEST_KEEP=1  keep the session's temporary directory
#
# Each session gets a private temporary tree (XDG_RUNTIME_DIR, XDG_STATE_HOME,
# XDG_CONFIG_HOME point into it) and one zygote for the built-in profile, started
# from a neutral working directory and stopped at the end.

import dataclasses
import difflib
import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _proto_version():
    """PW_PROTO_VERSION, as config/proto.h defines it (raw-socket tests speak it)."""
    with open(os.path.join(REPO, "config", "proto.h")) as f:
        m = re.search(r"^#define PW_PROTO_VERSION (\d+)", f.read(), re.M)
    return int(m.group(1))


PROTO_VERSION = _proto_version()


def _default_real():
    try:
        out = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"],
                             capture_output=True, timeout=30, check=True)
        return out.stdout.decode().strip()
    except (OSError, subprocess.SubprocessError):
        return "/usr/bin/python3"


_SELF_SPEC = os.environ.get("PYWARM_TEST_SELF", "")
SELF = _SELF_SPEC == "1" or _SELF_SPEC.startswith("/")
BUILD = os.path.abspath(os.environ.get("PYWARM_BUILDDIR") or os.path.join(REPO, "build"))
REAL = os.environ.get("PYWARM_REAL_PYTHON") or _default_real()
PYWARM_BIN = os.path.join(BUILD, "pywarm")
PYWARMCTL = os.path.join(BUILD, "pywarmctl")
ZYGOTE_BIN = os.path.join(BUILD, "pywarm-zygote")
PYWARM = (_SELF_SPEC if _SELF_SPEC.startswith("/") else REAL) if SELF else PYWARM_BIN

DEFAULT_TIMEOUT = 60

_MISSING = [p for p in (PYWARM_BIN, PYWARMCTL, ZYGOTE_BIN) if not os.access(p, os.X_OK)]

needs_pywarm = pytest.mark.skipif(
    SELF, reason="PYWARM_TEST_SELF=1: this test needs the real pywarm binaries and a zygote")


def pytest_configure(config):
    config.addinivalue_line("markers", "kills_zygote: the test kills or replaces the session zygote on purpose")


def pytest_report_header(config):
    mode = "SELF (real interpreter on both sides)" if SELF else "pywarm"
    return [f"pywarm e2e: mode={mode} real={REAL} build={BUILD}"]


# ---------------------------------------------------------------- results

@dataclasses.dataclass
class Result:
    side: str                 # "real" or "pywarm"
    argv: list
    rc: int                   # negative: died of that signal
    out: bytes
    err: bytes
    trace: str = ""           # PYWARM_DEBUG lines written during the run
    launcher_lines: list = dataclasses.field(default_factory=list)
    elapsed: float = 0.0
    pid: int = 0

    @property
    def warm(self):
        """True: served warm; False: fell back cold; None: the trace says neither."""
        if any("event=warm " in l for l in self.launcher_lines):
            return True
        if any("event=cold " in l for l in self.launcher_lines):
            return False
        return None

    @property
    def warm_pid(self):
        for l in self.launcher_lines:
            m = re.match(EVENT, l)
            if m and m.group(1) == "warm":
                return int(m.group(2))
        return None

    def describe(self):
        return (f"[{self.side}] argv={self.argv!r} rc={self.rc}\n"
                f"  stdout={_clip(self.out)!r}\n  stderr={_clip(self.err)!r}\n"
                f"  trace:\n{_indent(self.trace) or '    (empty)'}")


def _clip(b, n=600):
    return b if len(b) <= n else b[:n] + b"...(%d bytes)" % len(b)


def _indent(s):
    return "\n".join("    " + l for l in s.splitlines())


# How a run was served, one line per run in the trace (pw_event in
# launcher/util.c): "pywarm[LAUNCHER]: event=warm +T ms pid=CHILD" or
# "pywarm[LAUNCHER]: event=cold +T ms reason=WHY".  EVENT matches the line
# after its "pywarm[PID]: " (as parse_trace gives it).
EVENT = r"event=(warm|cold) \+[\d.]+ms (?:pid=(\d+)|reason=(.*))$"
EVENT_LINE = re.compile(r"^pywarm\[(\d+)\]: " + EVENT, re.M)


def trace_events(text):
    """[(launcher pid, "warm" or "cold", child pid or None, reason or None)]
    of every run in a trace, in order."""
    return [(int(m.group(1)), m.group(2), int(m.group(3)) if m.group(3) else None, m.group(4))
            for m in EVENT_LINE.finditer(text)]


def parse_trace(text, pid):
    """Launcher lines of one run written by pid: the text after 'debug: '
    of 'pywarm[PID]: debug: ...', and events ('event=warm +T ms pid=CHILD',
    'event=cold +T ms reason=WHY') whole."""
    lines = []
    for l in text.splitlines():
        m = re.match(r"pywarm\[(\d+)\]: (?:debug: )?((?<=debug: ).*|event=.*)$", l)
        if m and int(m.group(1)) == pid:
            lines.append(m.group(2))
    return lines


def first_difference(a: bytes, b: bytes):
    """A readable account of where two byte strings differ."""
    if a == b:
        return ""
    try:
        al = a.decode("utf-8", "backslashreplace").splitlines(keepends=True)
        bl = b.decode("utf-8", "backslashreplace").splitlines(keepends=True)
        diff = "".join(itertools.islice(difflib.unified_diff(al, bl, "real", "pywarm", n=2), 60))
    except Exception:  # pragma: no cover - diagnostics only
        diff = ""
    i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
    return (f"first difference at byte {i} (lengths {len(a)} vs {len(b)}): "
            f"real={a[max(0, i - 40):i + 80]!r} pywarm={b[max(0, i - 40):i + 80]!r}\n{diff}")


def assert_same(real: Result, pyw: Result, *, out=True, err=True, rc=True):
    """Exit status, stdout and stderr equal byte for byte."""
    problems = []
    if rc and real.rc != pyw.rc:
        problems.append(f"exit status differs: real {real.rc}, pywarm {pyw.rc}")
    if out and real.out != pyw.out:
        problems.append("stdout differs: " + first_difference(real.out, pyw.out))
    if err and real.err != pyw.err:
        problems.append("stderr differs: " + first_difference(real.err, pyw.err))
    if problems:
        pytest.fail("\n".join(problems) + "\n\n" + real.describe() + "\n\n" + pyw.describe(), pytrace=False)


def assert_warm(pyw: Result):
    if SELF:
        return
    if pyw.warm is not True:
        pytest.fail("the pywarm run was not served warm (a cold fallback would make this "
                    "comparison trivial)\n" + pyw.describe(), pytrace=False)


def assert_cold(pyw: Result):
    if SELF:
        return
    if pyw.warm is not False:
        pytest.fail("the pywarm run was expected to fall back cold\n" + pyw.describe(), pytrace=False)


# ---------------------------------------------------------------- harness

def clean_env():
    """The caller's environment without anything that would steer python or pywarm."""
    env = {}
    for k, v in os.environ.items():
        # SHELL too: CI runs without one, so a test that needs it sets it.
        if k.startswith(("PYTHON", "PYWARM", "PYTEST_", "XDG_")) or k in ("COV_CORE_SOURCE", "SHELL"):
            continue
        env[k] = v
    return env


def proc_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def proc_ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[1])


def parse_status(text):
    """`pywarmctl status` output -> list of blocks, each a dict of 'key' -> 'value'.
    A block starts at an unindented line (kept under the key '')."""
    blocks = []
    cur = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            cur = {"": line.strip()}
            blocks.append(cur)
            continue
        if cur is None:
            cur = {"": ""}
            blocks.append(cur)
        parts = line.strip().split(None, 1)
        cur[parts[0]] = parts[1] if len(parts) > 1 else ""
    return blocks


class Harness:
    """One test session: private directories, the environment, the runners."""

    def __init__(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="pywarm-e2e-"))
        self.run_dir = os.path.join(self.tmp, "run")
        self.state_dir = os.path.join(self.tmp, "state")
        self.config_dir = os.path.join(self.tmp, "config")
        self.data_dir = os.path.join(self.tmp, "data")
        self.neutral = os.path.join(self.tmp, "neutral")
        self.traces = os.path.join(self.tmp, "traces")
        for d in (self.run_dir, self.state_dir, self.config_dir, self.data_dir, self.neutral,
                  self.traces):
            os.makedirs(d, mode=0o700)
        os.chmod(self.run_dir, 0o700)
        self.env = clean_env()
        # PYWARM_TEST_USER_PROFILE=FILE: the session runs under that user
        # profile instead of the built-in one (a learned profile, say).
        prof = os.environ.get("PYWARM_TEST_USER_PROFILE")
        if prof:
            os.makedirs(os.path.join(self.config_dir, "pywarm"), mode=0o700)
            shutil.copyfile(prof, os.path.join(self.config_dir, "pywarm", "pywarm.ini"))
        self.env.update(XDG_RUNTIME_DIR=self.run_dir, XDG_STATE_HOME=self.state_dir,
                        XDG_CONFIG_HOME=self.config_dir, XDG_DATA_HOME=self.data_dir)
        self._seq = itertools.count()
        self.zygote_pid = None
        self.zygote_id = None

    # -- directories

    def workdir(self, name):
        d = os.path.join(self.tmp, "w", f"{next(self._seq):04d}-{name}")
        os.makedirs(d)
        return d

    def trace_path(self):
        return os.path.join(self.traces, f"{next(self._seq):05d}.log")

    def make_env(self, add=None, remove=(), base=None, trace=None):
        env = dict(self.env if base is None else base)
        for k in remove:
            env.pop(k, None)
        if add:
            env.update(add)
        if trace:
            env["PYWARM_DEBUG"] = trace
        return env

    # -- running

    def run(self, side, args, *, cwd=None, env=None, input=None, stdin=None, stdout=None,
            stderr=None, preexec=None, pass_fds=(), timeout=DEFAULT_TIMEOUT, trace=None,
            argv0=None, executable=None, close_fds=True, argv_map=None):
        """Run [REAL or PYWARM, *args]; return a Result.  stdout/stderr may be a path
        (the output goes to that file and is read back) or a subprocess constant.
        argv_map replaces whole arguments (for per-side file names)."""
        exe = executable or (REAL if side == "real" else PYWARM)
        if argv_map:
            args = [argv_map.get(a, a) for a in args]
        argv = [argv0 or exe, *args]
        env = self.env if env is None else env
        if trace is None:
            trace = env.get("PYWARM_DEBUG") if isinstance(env, dict) else None
        if trace and os.path.isabs(trace):
            try:
                os.unlink(trace)
            except FileNotFoundError:
                pass
        files = []

        def _target(spec, mode):
            if isinstance(spec, str):
                f = open(spec, mode)
                files.append(f)
                return f
            return subprocess.PIPE if spec is None else spec

        out_t = _target(stdout, "wb")
        err_t = _target(stderr, "wb")
        if input is not None:
            in_t = subprocess.PIPE
        elif isinstance(stdin, str):
            in_t = _target(stdin, "rb")
        else:
            in_t = subprocess.DEVNULL if stdin is None else stdin
        t0 = time.monotonic()
        try:
            p = subprocess.Popen(argv, executable=exe, cwd=cwd or self.neutral, env=env,
                                 stdin=in_t, stdout=out_t, stderr=err_t,
                                 preexec_fn=preexec, pass_fds=pass_fds, close_fds=close_fds)
        finally:
            for f in files:
                f.close()
        try:
            out, err = p.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            pytest.fail(f"[{side}] {argv!r} timed out after {timeout}s\nstdout={_clip(out or b'')!r}\n"
                        f"stderr={_clip(err or b'')!r}\ntrace:\n{_read(trace)}", pytrace=False)
        elapsed = time.monotonic() - t0
        if isinstance(stdout, str):
            out = _read_bytes(stdout)
        if isinstance(stderr, str):
            err = _read_bytes(stderr)
        text = _read(trace) if side == "pywarm" else ""
        return Result(side, argv, p.returncode, out or b"", err or b"", text,
                      parse_trace(text, p.pid), elapsed, p.pid)

    def run_both(self, args, *, env_add=None, env_remove=(), env=None, per_side=None, **kw):
        """Run args under the real interpreter, then under pywarm, with the same
        environment (including one PYWARM_DEBUG trace path), cwd and stdin.
        per_side(side) may return extra run() keyword arguments for one side
        (e.g. distinct output files).  Returns (real, pywarm)."""
        trace = self.trace_path()
        env = self.make_env(env_add, env_remove, base=env, trace=trace)
        results = []
        for side in ("real", "pywarm"):
            extra = dict(kw)
            if per_side:
                extra.update(per_side(side))
            results.append(self.run(side, args, env=env, trace=trace, **extra))
        return tuple(results)

    def run_pywarm(self, args, *, env_add=None, env_remove=(), env=None, **kw):
        trace = self.trace_path()
        env = self.make_env(env_add, env_remove, base=env, trace=trace)
        return self.run("pywarm", args, env=env, trace=trace, **kw)

    # -- zygote control

    def ctl(self, *args, cwd=None, env=None, timeout=DEFAULT_TIMEOUT, check=True):
        p = subprocess.run([PYWARMCTL, *args], cwd=cwd or self.neutral, env=env or self.env,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        if check and p.returncode != 0:
            pytest.fail(f"pywarmctl {' '.join(args)} failed with {p.returncode}\n"
                        f"stdout={p.stdout!r}\nstderr={p.stderr!r}", pytrace=False)
        return p

    def trust(self, path, env=None):
        """Approve the project profile at path (a file or its directory), as a
        user would before pywarm may use it."""
        return self.ctl("trust", path, env=env)

    def status_blocks(self, cwd=None, env=None):
        p = self.ctl("status", cwd=cwd, env=env, check=False, timeout=30)
        return parse_status(p.stdout.decode(errors="replace")), p

    def find_zygote_pid(self, cwd=None, env=None, ident=None):
        """The pid of the zygote with identity ident (default: the session
        zygote's), from the blocks of `pywarmctl status` ("zygote <idhex>" ...
        "pid N").  Without a known identity, the only zygote listed."""
        ident = ident or self.zygote_id
        blocks, p = self.status_blocks(cwd, env)
        found = []
        for b in blocks:
            v = b.get("pid", "").split()
            if not (v and v[0].isdigit()):
                continue
            if ident is None or ident in b[""].split():
                found.append(int(v[0]))
        found = [q for q in found if proc_alive(q)]
        return found[0] if len(found) == 1 else None

    def ensure_zygote(self):
        """Start the session zygote (if needed); remember its identity and pid.
        The identity is what `pywarmctl start --wait` names ("zygote <idhex>"),
        else what a traced launch in the neutral cwd reports ("identity <idhex>")."""
        p = self.ctl("start", "--wait", timeout=90)
        text = (p.stdout + p.stderr).decode(errors="replace")
        m = re.search(r"zygote ([0-9a-f]{16})\b", text)
        if not m:
            r = self.run_pywarm(["-c", "pass"])
            m = re.search(r"identity ([0-9a-f]{16})\b", r.trace)
        self.zygote_id = m.group(1) if m else None
        pid = self.find_zygote_pid()
        if pid is None:
            blocks, p = self.status_blocks()
            pytest.fail(f"pywarmctl start --wait succeeded but status shows no zygote pid for "
                        f"identity {self.zygote_id}:\n"
                        f"{p.stdout.decode(errors='replace')}{p.stderr.decode(errors='replace')}",
                        pytrace=False)
        self.zygote_pid = pid
        return pid

    def stop_all(self, env=None):
        try:
            subprocess.run([PYWARMCTL, "stop", "--all"], cwd=self.neutral, env=env or self.env,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            pass

    def close(self):
        if not SELF:
            self.stop_all()
        if os.environ.get("PYWARM_TEST_KEEP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)


def _read(path):
    if not path or not os.path.isabs(path):
        return ""
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def no_profile_above(path):
    """The first .pywarm.ini found from path upward, or None."""
    d = path
    while True:
        if os.path.exists(os.path.join(d, ".pywarm.ini")):
            return os.path.join(d, ".pywarm.ini")
        up = os.path.dirname(d)
        if up == d:
            return None
        d = up


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def pw():
    if not SELF and _MISSING:
        pytest.skip("pywarm is not built yet (missing: " + ", ".join(_MISSING) +
                    "); run `make`, or set PYWARM_TEST_SELF=1 to check the harness against python3")
    if not os.access(REAL, os.X_OK):
        pytest.fail(f"real interpreter {REAL!r} is not executable", pytrace=False)
    h = Harness()
    found = no_profile_above(h.neutral)
    if found:
        h.close()
        pytest.skip(f"{found} exists above the test tree; the tests need the built-in profile")
    if not SELF:
        h.ensure_zygote()
    yield h
    h.close()


@pytest.fixture(autouse=True)
def zygote_guard(request):
    """Before each test: make sure the session zygote serves.  After: fail the
    test if that zygote died during it (unless the test kills it on purpose)."""
    if SELF or "pw" not in request.fixturenames:
        yield
        return
    h = request.getfixturevalue("pw")
    if h.zygote_pid is None or not proc_alive(h.zygote_pid):
        h.ensure_zygote()
    pid = h.zygote_pid
    yield
    if request.node.get_closest_marker("kills_zygote"):
        h.zygote_pid = None
        return
    if not proc_alive(pid):
        h.zygote_pid = None
        pytest.fail(f"the session zygote (pid {pid}) died during this test", pytrace=False)


@pytest.fixture
def wd(pw, request):
    """A fresh working directory under the session tree (no .pywarm.ini)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:60]
    return pw.workdir(name)


def write_files(root, files):
    """files: {relative path: str|bytes}; a value ('symlink', target) makes a symlink."""
    for rel, content in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if isinstance(content, tuple) and content[0] == "symlink":
            os.symlink(content[1], path)
        elif isinstance(content, bytes):
            with open(path, "wb") as f:
                f.write(content)
        else:
            with open(path, "w") as f:
                f.write(content)


def core_off():
    """preexec: no core files from signal deaths."""
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def keep_only_fds(keep):
    """preexec: close every inheritable descriptor above 2 not in keep (use
    with close_fds=False when the kept descriptors are created in preexec)."""
    keep = set(keep) | {0, 1, 2}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd in keep:
            continue
        try:
            if os.get_inheritable(fd):
                os.close(fd)
        except OSError:
            pass


def sig_name(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return str(n)
