# run.py: CPython's regression tests in-process under pywarm and under the real interpreter; the pass/fail of each module must agree.
#
# Usage: run.py BUILDDIR REAL_PYTHON [MODULE ...]
#
# Each module runs as `INTERPRETER -m test MODULE` (no -j: under pywarm the
# tests execute inside the warm child).  A module whose outcome differs is a
# failure unless tests/cpython/expected-differences lists it with a reason.
# The zygote runs in a private socket directory and is stopped at the end.

import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

MODULES = """
    test_atexit test_builtin test_cmd_line test_cmd_line_script test_exceptions
    test_faulthandler test_file test_fileio test_gc test_getopt test_getpass
    test_grp test_json test_locale test_os test_platform test_posix test_pty
    test_pwd test_random test_readline test_resource test_runpy test_select
    test_selectors test_shutil test_signal test_site test_structseq
    test_subprocess test_sys test_sysconfig test_tempfile test_threading
    test_time test_traceback test_tracemalloc test_utf8_mode test_uuid
    test_warnings test_weakref test_argparse test_pydoc
""".split()

TIMEOUT = 900


def expected_differences():
    """module -> reason, from the expected-differences file."""
    out = {}
    with open(os.path.join(HERE, "expected-differences")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            mod, _, why = line.partition(":")
            out[mod.strip()] = why.strip()
    return out


def env_for(tmp):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "PYWARM", "XDG_"))}
    env.update(XDG_RUNTIME_DIR=os.path.join(tmp, "run"), XDG_STATE_HOME=os.path.join(tmp, "state"),
               XDG_CONFIG_HOME=os.path.join(tmp, "config"), HOME=os.path.join(tmp, "home"))
    return env


def run_module(exe, mod, env, cwd, trace=None):
    """(passed, seconds, summary line, warm?) of one `exe -m test mod`."""
    e = dict(env)
    if trace:
        e["PYWARM_DEBUG"] = trace
    t0 = time.monotonic()
    try:
        p = subprocess.run([exe, "-m", "test", mod], env=e, cwd=cwd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
        out, rc = p.stdout.decode(errors="replace"), p.returncode
    except subprocess.TimeoutExpired as x:
        out, rc = (x.stdout or b"").decode(errors="replace") + "\nTIMEOUT", -1
    dt = time.monotonic() - t0
    m = re.findall(r"^Tests result: (.*)$", out, re.M)
    summary = m[-1] if m else out.strip().splitlines()[-1:] or ["(no output)"]
    warm = None
    if trace and os.path.exists(trace):
        with open(trace, errors="replace") as f:
            text = f.read()
        warm = ": event=warm " in text
    return rc == 0, dt, summary if isinstance(summary, str) else summary[0], warm, out


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: run.py BUILDDIR REAL_PYTHON [MODULE ...]")
    build, real = os.path.abspath(sys.argv[1]), sys.argv[2]
    mods = sys.argv[3:] or MODULES
    pywarm = os.path.join(build, "pywarm")
    ctl = os.path.join(build, "pywarmctl")
    expected = expected_differences()
    tmp = tempfile.mkdtemp(prefix="pywarm-cpython-")
    for d in ("run", "state", "config", "home", "cwd-real", "cwd-pywarm"):
        os.makedirs(os.path.join(tmp, d), mode=0o700)
    env = env_for(tmp)
    # test_site creates the user site-packages directory; made first, it is
    # there for both interpreters and the zygote alike.
    user_site = subprocess.run([real, "-c", "import site; print(site.USER_SITE)"], env=env,
                               capture_output=True, text=True, check=True).stdout.strip()
    os.makedirs(user_site, exist_ok=True)
    subprocess.run([ctl, "start", "--wait"], env=env, cwd=tmp, check=True)
    t_start = time.monotonic()
    results = {}

    def one(mod):
        r = run_module(real, mod, env, os.path.join(tmp, "cwd-real"))
        w = run_module(pywarm, mod, env, os.path.join(tmp, "cwd-pywarm"),
                       trace=os.path.join(tmp, f"trace-{mod}"))
        return mod, r, w

    jobs = int(os.environ.get("CHECK_CPYTHON_JOBS", "2"))
    bad = []
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        for mod, r, w in ex.map(one, mods):
            results[mod] = (r, w)
            same = r[0] == w[0]
            state = "same" if same else ("expected difference" if mod in expected else "DIFFERENT")
            print(f"{mod:24} python3 {'pass' if r[0] else 'FAIL'} ({r[1]:5.1f}s)  "
                  f"pywarm {'pass' if w[0] else 'FAIL'} ({w[1]:5.1f}s, {'warm' if w[3] else 'COLD'})  {state}",
                  flush=True)
            if not w[3]:
                bad.append((mod, "the pywarm run was not warm"))
            if not same and mod not in expected:
                bad.append((mod, f"python3: {r[2]}; pywarm: {w[2]}"))
                with open(os.path.join(tmp, f"out-{mod}-pywarm.txt"), "w") as f:
                    f.write(w[4])
                with open(os.path.join(tmp, f"out-{mod}-python3.txt"), "w") as f:
                    f.write(r[4])
            if same and mod in expected:
                print(f"  note: {mod} is listed in expected-differences but agrees now")
    subprocess.run([ctl, "stop", "--all"], env=env, cwd=tmp, stdout=subprocess.DEVNULL)
    n_same = sum(1 for r, w in results.values() if r[0] == w[0])
    print(f"\n{n_same}/{len(results)} modules agree; "
          f"{sum(1 for r, w in results.values() if r[0])} pass under python3; "
          f"{time.monotonic() - t_start:.0f}s")
    for mod, why in bad:
        print(f"FAIL {mod}: {why}")
    if bad:
        print(f"outputs kept in {tmp}")
        sys.exit(1)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
