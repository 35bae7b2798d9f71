# stress.py: many launches from many concurrent clients, each output and status checked; then the zygote must be back to its resting state.
#
# usage: stress.py [--launches N] [--clients C] [--seed S]
# Environment (set by the Makefile): PYWARM_BUILDDIR, PYWARM_REAL_PYTHON.
# Runs in a private temporary tree (its own zygote for the built-in profile,
# stopped at the end).  Exits 0 if every run was right and nothing leaked;
# prints what went wrong otherwise.

import argparse
import concurrent.futures
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

B = os.environ.get("PYWARM_BUILDDIR", "")
PYWARM = os.path.join(B, "pywarm")
PYWARMCTL = os.path.join(B, "pywarmctl")
RSS_SLACK_KB = 2048         # allocator noise; a leak per launch would be far more

SCRIPT = """\
import sys
name = sys.argv[1]
print("script", name)
print("to stderr", name, file=sys.stderr)
sys.exit(len(name) % 7)
"""


def workload(rng, i, scratch):
    """One launch: (name, argv, stdin bytes, check(rc, out, err) -> problem or None, signal to send)."""
    kind = rng.choice(["print", "stdin", "exit", "traceback", "selfkill", "sigterm", "sigint", "script"])
    tag = f"{i}-{rng.getrandbits(32):08x}"
    if kind == "print":
        n = rng.randint(1, 2000)
        want = (f"{tag}\n" * n).encode()
        return kind, ["-c", "import sys; sys.stdout.write((sys.argv[1] + '\\n') * int(sys.argv[2]))",
                      tag, str(n)], b"", expect(0, want, b""), None
    if kind == "stdin":
        data = rng.randbytes(rng.randint(0, 200000))
        return kind, ["-c", "import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d[::-1])"], \
            data, expect(0, data[::-1], b""), None
    if kind == "exit":
        code = rng.randint(0, 255)
        return kind, ["-c", "import sys; print(sys.argv[1]); sys.exit(int(sys.argv[2]))", tag, str(code)], \
            b"", expect(code, f"{tag}\n".encode(), b""), None
    if kind == "traceback":
        def check(rc, out, err):
            if rc != 1 or out != b"" or not err.startswith(b"Traceback (most recent call last):\n") \
                    or not err.endswith(f"ValueError: {tag}\n".encode()):
                return f"rc={rc} out={out[:80]!r} err={err[-200:]!r}"
            return None
        return kind, ["-c", "import sys; raise ValueError(sys.argv[1])", tag], b"", check, None
    if kind == "selfkill":
        sig = rng.choice([signal.SIGTERM, signal.SIGKILL, signal.SIGUSR1])
        return kind, ["-c", "import os, sys; print(sys.argv[1], flush=True); os.kill(os.getpid(), int(sys.argv[2]))",
                      tag, str(int(sig))], b"", expect(-sig, f"{tag}\n".encode(), b""), None
    if kind in ("sigterm", "sigint"):
        sig = signal.SIGTERM if kind == "sigterm" else signal.SIGINT

        def check(rc, out, err):
            if rc != -sig or out != f"ready {tag}\n".encode():
                return f"rc={rc} out={out[:80]!r} err={err[-200:]!r}"
            if sig == signal.SIGINT and not err.endswith(b"KeyboardInterrupt\n"):
                return f"no KeyboardInterrupt traceback: err={err[-200:]!r}"
            return None
        return kind, ["-c", "import sys, time; print('ready', sys.argv[1], flush=True); time.sleep(60)", tag], \
            None, check, sig
    path = os.path.join(scratch, "script.py")
    return kind, [path, tag], b"", expect(len(tag) % 7, f"script {tag}\n".encode(),
                                         f"to stderr {tag}\n".encode()), None


def expect(rc, out, err):
    def check(got_rc, got_out, got_err):
        if got_rc != rc or got_out != out or got_err != err:
            return f"rc={got_rc} (want {rc}) out={got_out[:80]!r} (want {out[:80]!r}) err={got_err[-200:]!r}"
        return None
    return check


def run_one(env, cwd, wl):
    kind, args, data, check, sig = wl
    p = subprocess.Popen([PYWARM, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL)
    try:
        if sig is None:
            out, err = p.communicate(data, timeout=120)
        else:
            # Wait for the program's first line, then signal the launcher.
            first = p.stdout.readline()
            p.send_signal(sig)
            rest, err = p.communicate(timeout=120)
            out = first + rest
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return kind, f"timed out: {args!r}"
    problem = check(p.returncode, out, err)
    return kind, (f"{args[:3]!r}: {problem}" if problem else None)


def status_number(env, cwd, key):
    """The first number on pywarmctl status's `key` line, or None."""
    out = subprocess.run([PYWARMCTL, "status"], env=env, cwd=cwd, capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == [key] and len(parts) > 1 and parts[1].isdigit():
            return int(parts[1])
    return None


def snapshot(zpid):
    """(open fds, children, zombie children, RSS kB) of the zygote."""
    fds = len(os.listdir(f"/proc/{zpid}/fd"))
    with open(f"/proc/{zpid}/task/{zpid}/children") as f:
        kids = [int(k) for k in f.read().split()]
    zombies = 0
    for k in kids:
        try:
            with open(f"/proc/{k}/stat") as f:
                st = f.read()
            zombies += st[st.rindex(")") + 2] == "Z"
        except OSError:
            pass
    with open(f"/proc/{zpid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return fds, len(kids), zombies, rss


def settle(zpid, base, timeout=20.0):
    """Wait for the zygote to come back to base (fds, children, no zombies)."""
    deadline = time.monotonic() + timeout
    snap = snapshot(zpid)
    while (snap[0] != base[0] or snap[1] != base[1] or snap[2]) and time.monotonic() < deadline:
        time.sleep(0.1)
        snap = snapshot(zpid)
    return snap


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--launches", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seed", type=int, default=None)
    o = ap.parse_args()
    for exe in (PYWARM, PYWARMCTL):
        if not os.access(exe, os.X_OK):
            sys.exit(f"stress.py: {exe} is not built (run make)")
    seed = o.seed if o.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="pywarm-stress.")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYWARM", "XDG_"))}
    for d, var in (("run", "XDG_RUNTIME_DIR"), ("state", "XDG_STATE_HOME"), ("config", "XDG_CONFIG_HOME"),
                   ("wd", None)):
        os.mkdir(os.path.join(tmp, d), 0o700)
        if var:
            env[var] = os.path.join(tmp, d)
    cwd = os.path.join(tmp, "wd")
    with open(os.path.join(cwd, "script.py"), "w") as f:
        f.write(SCRIPT)
    try:
        return stress(o, rng, seed, env, cwd)
    finally:
        subprocess.run([PYWARMCTL, "stop", "--all"], env=env, cwd=cwd, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def run_many(env, cwd, wls, clients, counts, failures):
    lock = threading.Lock()
    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as ex:
        for kind, problem in ex.map(lambda wl: run_one(env, cwd, wl), wls):
            with lock:
                counts[kind] = counts.get(kind, 0) + 1
                if problem:
                    failures.append(f"{kind}: {problem}")


def stress(o, rng, seed, env, cwd):
    subprocess.run([PYWARMCTL, "start", "--wait"], env=env, cwd=cwd, check=True, capture_output=True)
    zpid = status_number(env, cwd, "pid")
    if zpid is None:
        print("stress.py: no zygote pid in pywarmctl status", file=sys.stderr)
        return 1
    counts, failures = {}, []
    # Warm up (allocator, pool), then take the resting state as the baseline.
    run_many(env, cwd, [workload(rng, -i, cwd) for i in range(2 * o.clients)], o.clients, {}, failures)
    time.sleep(0.5)
    base = settle(zpid, snapshot(zpid), 5)
    before = status_number(env, cwd, "launches") or 0
    t0 = time.monotonic()
    run_many(env, cwd, [workload(rng, i, cwd) for i in range(o.launches)], o.clients, counts, failures)
    elapsed = time.monotonic() - t0
    warm = (status_number(env, cwd, "launches") or 0) - before
    after = settle(zpid, base)
    mix = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"stress: {o.launches} launches from {o.clients} clients in {elapsed:.1f}s "
          f"({o.launches / elapsed:.0f}/s), seed {seed}; {warm} served warm")
    print(f"stress: mix: {mix}")
    print(f"stress: zygote {zpid}: fds {base[0]} -> {after[0]}, children {base[1]} -> {after[1]}, "
          f"zombies {after[2]}, RSS {base[3]} kB -> {after[3]} kB")
    bad = list(failures)
    if not os.path.exists(f"/proc/{zpid}"):
        bad.append("the zygote died")
    if after[0] != base[0]:
        bad.append(f"zygote fd count {base[0]} -> {after[0]}")
    if after[1] != base[1] or after[2]:
        bad.append(f"zygote children {base[1]} -> {after[1]} ({after[2]} zombies)")
    if after[3] > base[3] + RSS_SLACK_KB:
        bad.append(f"zygote RSS grew {base[3]} -> {after[3]} kB")
    if warm < o.launches * 0.95:
        bad.append(f"only {warm} of {o.launches} launches were served warm")
    for b in bad[:30]:
        print(f"stress: FAIL: {b}", file=sys.stderr)
    if len(bad) > 30:
        print(f"stress: ... and {len(bad) - 30} more", file=sys.stderr)
    print("stress: " + ("FAILED" if bad else "ok"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
