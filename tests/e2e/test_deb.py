# test_deb.py: `make deb` builds a lintian-clean package that dpkg installs, that runs warm from /usr/bin, upgrades over itself and purges without a trace.

import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import BUILD, REPO, assert_same, assert_warm, needs_pywarm, parse_status
from helpers import wait_until as wait_for

SYSTEM_PYTHON = "/usr/bin/python3"
PKG_BUILD = BUILD + "-pkg"          # what `make deb BUILDDIR=$BUILD` uses
UPGRADE_SUFFIX = "+test1"

pytestmark = needs_pywarm

PROGRAM = """\
import json, os, sys
print(json.dumps({"argv": sys.argv, "executable": sys.executable, "prefix": sys.prefix,
                  "path0": sys.path[0], "cwd": os.getcwd(), "flags": list(sys.flags)}))
"""


def missing_tools():
    """Why the package cannot be built and installed here, or None."""
    for tool in ("dpkg", "dpkg-deb", "dpkg-shlibdeps", "dpkg-parsechangelog", "dpkg-buildflags",
                 "make"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian package dpkg-dev; tests/deps.sh installs it)"
    if not os.access(SYSTEM_PYTHON + "-config", os.X_OK):
        return f"{SYSTEM_PYTHON}-config is missing (python3-dev): the package embeds {SYSTEM_PYTHON}"
    if os.geteuid() != 0:
        return "dpkg -i needs root"
    return None


def installed_version():
    p = subprocess.run(["dpkg-query", "-W", "-f", "${Status} ${Version}", "pywarm"],
                       capture_output=True, timeout=60)
    words = p.stdout.decode().split()
    if p.returncode == 0 and words[:3] == ["install", "ok", "installed"]:
        return words[3]
    return None


def make_deb(*args):
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    p = subprocess.run(["make", "-C", REPO, f"BUILDDIR={BUILD}", *args, "deb"],
                       env=env, capture_output=True, timeout=900)
    assert p.returncode == 0, f"make deb failed:\n{p.stdout.decode()}\n{p.stderr.decode()}"
    debs = [l for l in p.stdout.decode().splitlines() if l.endswith(".deb")]
    assert debs, p.stdout.decode()
    return os.path.join(REPO, debs[-1])


def contents(deb):
    """{path: type letter} of the package's data, as dpkg-deb lists it."""
    p = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, timeout=60, check=True)
    out = {}
    for line in p.stdout.decode().splitlines():
        fields = line.split(None, 5)
        name = fields[5].split(" -> ")[0]
        name = name[2:] if name.startswith("./") else name
        if name.rstrip("/"):
            out[name.rstrip("/")] = fields[0][0]
    return out


def dpkg(*args):
    return subprocess.run(["dpkg", *args], capture_output=True, timeout=300,
                          env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


@pytest.fixture(scope="module")
def debs():
    """The package of the changelog's version and one with a higher version,
    built once for the module."""
    why = missing_tools()
    if why:
        pytest.skip(why)
    if installed_version() is not None:
        pytest.skip(f"a pywarm package ({installed_version()}) is installed on this machine: "
                    "the test would replace it")
    first = make_deb()
    version = subprocess.run(["dpkg-parsechangelog", "-l", os.path.join(REPO, "shell/debian/changelog"),
                              "-S", "Version"], capture_output=True, timeout=60,
                             check=True).stdout.decode().strip()
    assert os.path.basename(first).startswith(f"pywarm_{version}_"), first
    second = make_deb(f"DEB_VERSION={version}{UPGRADE_SUFFIX}")
    assert second != first and os.path.exists(first)
    return first, second, version


def test_package_contents(debs):
    first, _, version = debs
    files = contents(first)
    expected = {
        "usr/bin/pywarm": "-", "usr/bin/pywarmctl": "-", "usr/bin/pywarm-zygote": "-",
        "usr/lib/pywarm/bin/python": "l", "usr/lib/pywarm/bin/python3": "l",
        "usr/lib/systemd/user/pywarm.socket": "-", "usr/lib/systemd/user/pywarm.service": "-",
        "usr/share/bash-completion/completions/pywarmctl": "-",
        "usr/share/zsh/vendor-completions/_pywarmctl": "-",
        "usr/share/fish/vendor_completions.d/pywarmctl.fish": "-",
        "usr/share/man/man1/pywarm.1.gz": "-", "usr/share/man/man1/pywarmctl.1.gz": "-",
        "usr/share/man/man1/pywarm-zygote.1.gz": "l", "usr/share/man/man5/pywarm.ini.5.gz": "-",
        "usr/share/doc/pywarm/copyright": "-", "usr/share/doc/pywarm/changelog.gz": "-",
    }
    assert {k: v for k, v in files.items() if v != "d"} == expected
    info = subprocess.run(["dpkg-deb", "-f", first], capture_output=True, timeout=60,
                          check=True).stdout.decode()
    fields = dict(re.findall(r"^(\S+): (.*)$", info, re.M))
    assert fields["Package"] == "pywarm" and fields["Version"] == version
    assert fields["Architecture"] == subprocess.run(["dpkg", "--print-architecture"],
                                                    capture_output=True, timeout=60,
                                                    check=True).stdout.decode().strip()
    # From dpkg-shlibdeps: the libraries the three programs link, nothing by hand.
    deps = {d.split()[0] for d in fields["Depends"].split(", ")}
    assert {"libc6", "libinih1", "libseccomp2"} <= deps, fields["Depends"]
    assert any(re.fullmatch(r"libpython3\.\d+", d) for d in deps), fields["Depends"]
    # The unit names the installed zygote; the man pages are compressed, not renamed.
    unit = subprocess.run(f"dpkg-deb --fsys-tarfile {first} | tar -xO ./usr/lib/systemd/user/pywarm.service",
                          shell=True, capture_output=True, timeout=60, check=True).stdout.decode()
    assert re.search(r"^ExecStart=/usr/bin/pywarm-zygote$", unit, re.M), unit
    page = subprocess.run(f"dpkg-deb --fsys-tarfile {first} | tar -xO ./usr/share/man/man1/pywarmctl.1.gz "
                          "| gzip -dc", shell=True, capture_output=True, timeout=60, check=True).stdout
    with open(os.path.join(REPO, "man", "pywarmctl.1"), "rb") as f:
        assert page == f.read()


def test_lintian_no_errors(debs):
    if shutil.which("lintian") is None:
        pytest.skip("lintian is not installed (tests/deps.sh installs it)")
    p = subprocess.run(["lintian", "--pedantic", debs[0]], capture_output=True, timeout=600)
    tags = [l for l in p.stdout.decode().splitlines() if re.match(r"^[EWIPX]: ", l)]
    errors = [l for l in tags if l.startswith("E: ")]
    assert not errors and p.returncode == 0, "\n".join(tags) + p.stderr.decode()
    # The warnings left are reported, not failed on.
    for line in tags:
        print(line)


def run_program(pw, exe, script, env, *, argv0=None, side="pywarm"):
    trace = pw.trace_path()
    return pw.run(side, [script, "one", "two"], env=dict(env, PYWARM_DEBUG=trace), trace=trace,
                  executable=exe, argv0=argv0, cwd=os.path.dirname(script))


def installed_zygotes(run):
    """Pids of this test's processes (XDG_RUNTIME_DIR=run) running the
    package's zygote, or its deleted file: those holding a file under run
    open (their lock; a zygote's environ is scrubbed)."""
    pids = []
    for d in os.listdir("/proc"):
        try:
            exe = os.readlink(f"/proc/{d}/exe") if d.isdigit() else ""
            if exe not in ("/usr/bin/pywarm-zygote", "/usr/bin/pywarm-zygote (deleted)"):
                continue
            fds = os.listdir(f"/proc/{d}/fd")
            if any(os.readlink(f"/proc/{d}/fd/{n}").startswith(run + "/") for n in fds):
                pids.append(int(d))
        except OSError:
            continue
    return pids


def describe(pids):
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            out.append(f"{pid}: {os.readlink(f'/proc/{pid}/exe')}: {cmd}")
        except OSError:
            out.append(f"{pid}: gone")
    return "; ".join(out)



def check_warm_runs(pw, env, script):
    """The installed pywarm and its python3 link run the program warm, with
    /usr/bin/python3's output."""
    ctl = subprocess.run(["/usr/bin/pywarmctl", "start", "--wait"], env=env, cwd=pw.neutral,
                         capture_output=True, timeout=120)
    assert ctl.returncode == 0, ctl
    real = run_program(pw, SYSTEM_PYTHON, script, env, side="real")
    assert real.rc == 0 and b'"executable": "/usr/bin/python3"' in real.out, real.describe()
    for exe, argv0 in (("/usr/bin/pywarm", None), ("/usr/lib/pywarm/bin/python3", "python3")):
        r = run_program(pw, exe, script, env, argv0=argv0)
        assert_same(real, r)
        assert_warm(r)
    blocks = [b for b in parse_status(subprocess.run(["/usr/bin/pywarmctl", "status"], env=env,
                                                     capture_output=True, timeout=60).stdout.decode())
              if "pid" in b]
    assert len(blocks) == 1 and blocks[0]["interpreter"].startswith(SYSTEM_PYTHON), blocks
    assert os.readlink(f"/proc/{blocks[0]['pid'].split()[0]}/exe") == "/usr/bin/pywarm-zygote"


def test_install_run_upgrade_purge(pw, debs):
    first, second, version = debs
    listed = contents(first)
    present = [p for p, t in listed.items() if t != "d" and os.path.lexists("/" + p)]
    if present:
        pytest.skip(f"files of the package exist outside dpkg already (e.g. /{present[0]}): "
                    "a `make install` to /usr?")
    root = pw.workdir("deb")
    run = os.path.join(root, "run")
    os.makedirs(run, mode=0o700)
    # python3 on PATH is the system's: the interpreter the package serves.
    env = dict(pw.env, XDG_RUNTIME_DIR=run, XDG_STATE_HOME=os.path.join(root, "state"),
               PATH="/usr/bin:/bin")
    script = os.path.join(root, "prog.py")
    with open(script, "w") as f:
        f.write(PROGRAM)
    try:
        p = dpkg("-i", first)
        assert p.returncode == 0, p
        assert installed_version() == version
        p = subprocess.run(["dpkg", "-L", "pywarm"], capture_output=True, timeout=60, check=True)
        owned = {l[1:] for l in p.stdout.decode().splitlines() if l.startswith("/")}
        assert {k for k, t in listed.items() if t != "d"} <= owned
        check_warm_runs(pw, env, script)
        out = subprocess.run(["/usr/bin/pywarmctl", "shell-init", "--path", "sh"], env=env,
                             capture_output=True, timeout=60, check=True).stdout.decode()
        assert "PATH='/usr/lib/pywarm/bin'${PATH:+:$PATH}" in out, out
        if shutil.which("systemd-analyze"):
            p = subprocess.run(["systemd-analyze", "verify", "--user", "--man=no",
                                "/usr/lib/systemd/user/pywarm.socket",
                                "/usr/lib/systemd/user/pywarm.service"],
                               env=env, capture_output=True, timeout=60)
            assert p.returncode == 0 and p.stderr == b"", p

        # Over itself, then to a higher version, with the zygote running: it
        # notices its binary replaced and retires (never serving stale).
        old = installed_zygotes(run)
        assert old
        p = dpkg("-i", first)
        assert p.returncode == 0 and installed_version() == version, p
        p = dpkg("-i", second)
        assert p.returncode == 0, p
        assert installed_version() == version + UPGRADE_SUFFIX
        real = run_program(pw, SYSTEM_PYTHON, script, env, side="real")
        r = run_program(pw, "/usr/bin/pywarm", script, env)
        assert_same(real, r)
        wait_for(lambda: not set(old) & set(installed_zygotes(run)), "the old zygote to retire")
        # A successor the retiring zygote started while dpkg was still
        # unpacking may serve an identity no launcher computes any more
        # (it idles out); stop whatever runs, with the new pywarmctl.
        p = subprocess.run(["/usr/bin/pywarmctl", "stop", "--all"], env=env, capture_output=True,
                           timeout=60)
        assert p.returncode == 0, p
        check_warm_runs(pw, env, script)

        # Purged with a zygote running: it retires too, and nothing is left.
        before = installed_zygotes(run)
        assert before
        p = dpkg("-P", "pywarm")
        assert p.returncode == 0, p
        assert installed_version() is None
        wait_for(lambda: not installed_zygotes(run),
                 lambda: "the zygotes of the purged package to exit: "
                 f"{describe(installed_zygotes(run))} (before the purge: {describe(before)})")
        left = [p for p, t in contents(second).items()
                if os.path.lexists("/" + p) and (t != "d" or "pywarm" in p)]
        assert not left, f"dpkg -P left {left}"
        p = subprocess.run(["dpkg-query", "-W", "pywarm"], capture_output=True, timeout=60)
        assert p.returncode != 0, "dpkg still knows the purged package"
    finally:
        if os.path.exists("/usr/bin/pywarmctl"):
            subprocess.run(["/usr/bin/pywarmctl", "stop", "--all"], env=env, capture_output=True,
                           timeout=60)
        if installed_version() is not None:
            dpkg("-P", "pywarm")
