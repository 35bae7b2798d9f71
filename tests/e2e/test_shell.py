# test_shell.py: `pywarmctl shell-init` in real interactive bash, zsh and fish on a pty: python runs warm, completion, the pre-warm hook.
#
# Each shell starts without any rc file, in a private HOME and private XDG
# directories (so `pywarmctl status` lists only the zygotes this shell
# caused), evaluates the integration, and is driven by keystrokes.

import os
import shutil
import subprocess
import time

import pytest

from conftest import BUILD, PYWARMCTL, parse_status, needs_pywarm, proc_alive, write_files
from helpers import wait_until
from ptyutil import PtyJob

SHELLS = {
    "bash": (["bash", "--norc", "--noprofile", "-i"], 'eval "$(pywarmctl shell-init bash)"'),
    "zsh": (["zsh", "-f", "-i"],
            'autoload -Uz compinit && compinit -u -d "$HOME/.zcompdump"; eval "$(pywarmctl shell-init zsh)"'),
    "fish": (["fish", "--no-config", "-i"], "pywarmctl shell-init fish | source"),
}

pytestmark = needs_pywarm


class Shell:
    """One interactive shell on a pty, with its private directories."""

    def __init__(self, pw, name):
        self.name = name
        argv, self.init = SHELLS[name]
        exe = shutil.which(argv[0])
        if exe is None:
            pytest.skip(f"{argv[0]} is not installed (tests/deps.sh installs it)")
        self.root = pw.workdir(f"shell-{name}")
        self.home = os.path.join(self.root, "home")
        run = os.path.join(self.root, "run")
        os.makedirs(self.home)
        os.makedirs(run, mode=0o700)
        self.env = dict(pw.env)
        self.env.update(HOME=self.home, XDG_RUNTIME_DIR=run,
                        XDG_STATE_HOME=os.path.join(self.root, "state"),
                        XDG_CONFIG_HOME=os.path.join(self.root, "config"),
                        XDG_DATA_HOME=os.path.join(self.root, "data"),
                        PATH=BUILD + os.pathsep + self.env.get("PATH", "/usr/bin:/bin"),
                        TERM="xterm" if name == "fish" else "dumb")
        self.env.pop("PROMPT_COMMAND", None)
        self.job = PtyJob([exe, *argv[1:]], self.env, self.home, rows=40, cols=120)
        self.seq = 0

    def line(self, text):
        self.job.send(text.encode() + b"\n")

    def sync(self, timeout=20):
        """Run an echo whose output differs from its echoed input, and wait for it."""
        self.seq += 1
        expr = f"(math {self.seq} + 1000)" if self.name == "fish" else f"$(({self.seq} + 1000))"
        self.line(f"echo SYNC-{expr}")
        self.job.expect(f"SYNC-{self.seq + 1000}".encode(), timeout)
        return len(self.job.transcript)

    def ctl(self, *args, cwd=None):
        return subprocess.run([PYWARMCTL, *args], cwd=cwd or self.home, env=self.env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60)

    def zygotes(self):
        p = self.ctl("status")
        return [b for b in parse_status(p.stdout.decode(errors="replace")) if "pid" in b]

    def wait_serving(self, want, timeout=60):
        """The first serving zygote block for which want(block) holds."""
        return wait_until(
            lambda: next((b for b in self.zygotes() if b.get("state") == "serving" and want(b)), None),
            lambda: (f"{self.name}: a serving zygote as expected; status:\n"
                     f"{self.ctl('status').stdout.decode(errors='replace')}\n"
                     f"transcript: {self.job.transcript[-2000:]!r}"), timeout)

    def logs(self):
        """The zygote logs in this shell's state directory (`pywarmctl start`
        creates a zygote's log before it spawns the zygote)."""
        d = os.path.join(self.root, "state", "pywarm")
        return sorted(n for n in os.listdir(d) if n.endswith(".log")) if os.path.isdir(d) else []

    def wait_jobs_done(self, timeout=30):
        """Wait until every process the shell started has ended (after a
        sync: the pre-warm hook's `pywarmctl start` was forked before the
        prompt that read the sync line)."""
        def running():
            kids = []
            for tid in os.listdir(f"/proc/{self.job.pid}/task"):
                with open(f"/proc/{self.job.pid}/task/{tid}/children") as f:
                    kids += [int(k) for k in f.read().split()]
            return [k for k in kids if proc_alive(k)]
        wait_until(lambda: not running(), lambda: f"{self.name}: its jobs {running()} to end", timeout)

    def abandon_line(self):
        """Throw away the line being edited (fish: the first ^C only closes
        the completion pager; ^U then empties the line)."""
        for key in (b"\x03", b"\x15"):
            self.settle()               # done drawing: back in the line editor
            self.job.send(key)
        self.settle()

    def settle(self, quiet=0.4, timeout=10):
        """Read until the shell has written nothing for quiet seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.job._read_some(quiet) is None:
                return

    def close(self):
        try:
            self.line("exit")
            self.job.finish(10)
        except AssertionError:
            pass
        self.job.close()
        self.ctl("stop", "--all")


def launches(block):
    return int(block["launches"].split()[0])


@pytest.fixture(params=sorted(SHELLS))
def sh(pw, request):
    s = Shell(pw, request.param)
    yield s
    s.close()


def test_python_is_warm_after_shell_init(sh):
    sh.sync()
    sh.line(sh.init)
    sh.sync()
    # The hook warmed the home directory's (built-in) profile when the init ran.
    z = sh.wait_serving(lambda b: b["profile"] == "(built-in)")
    before = launches(z)
    sh.line("python -c 'import sys; print(sys.argv)'")
    sh.job.expect(b"['-c']\r\n")
    sh.line("python3 -c 'import sys; print(sys.argv[1:])' a b")
    sh.job.expect(b"['a', 'b']\r\n")
    sh.sync()
    after = launches(sh.wait_serving(lambda b: b[""] == z[""]))
    assert after == before + 2, f"launch counter went from {before} to {after}: not served warm"
    # The escape hatch: the real interpreter, so the counter stays.
    sh.line("PYWARM_DISABLE=1 python -c 'print(40 + 2)'")
    sh.job.expect(b"42\r\n")
    sh.sync()
    assert launches(sh.wait_serving(lambda b: b[""] == z[""])) == after


def test_completion_offers_subcommands(sh):
    sh.sync()
    sh.line(sh.init)
    sh.sync()
    start = len(sh.job.transcript)
    sh.job.send(b"pywarmctl st\t\t")
    for word in (b"start", b"status", b"stop"):
        sh.job.expect(word)
    sh.abandon_line()
    sh.sync()
    shown = sh.job.transcript[start:]
    assert b"shell-init" not in shown, "completion offered a command that does not match 'st'"
    # Options of a subcommand.
    sh.job.send(b"pywarmctl stop --\t\t")
    sh.job.expect(b"--all")
    sh.abandon_line()
    sh.sync()


def test_cd_into_project_starts_its_zygote(sh):
    proj = os.path.join(sh.root, "proj")
    write_files(proj, {".pywarm.ini": "[preload]\nmodules = json\n",
                       "sub/keep": ""})
    ini = os.path.join(proj, ".pywarm.ini")
    sh.sync()
    sh.line(sh.init)
    sh.sync()
    sh.wait_serving(lambda b: b["profile"] == "(built-in)")
    # Not trusted yet: the hook starts nothing for it (and says nothing).
    mark = len(sh.job.transcript)
    logs = sh.logs()
    sh.line(f"cd {proj}/sub")
    sh.sync()
    sh.wait_jobs_done()         # the hook has done all it would
    assert sh.logs() == logs, "the pre-warm hook started a zygote for an untrusted profile"
    assert [b for b in sh.zygotes() if b["profile"].startswith(ini)] == []
    noise = sh.job.transcript[mark:]
    sh.line("pywarmctl trust")
    sh.sync()
    assert sh.ctl("which", cwd=proj).returncode == 0
    mark = len(sh.job.transcript)
    sh.line("cd ../..")
    sh.line(f"cd {proj}/sub")
    sh.sync()
    z = sh.wait_serving(lambda b: b["profile"].startswith(ini))
    assert z["modules"].startswith("1 preloaded"), z
    # Nothing but the shell's own echo and prompt reached the terminal.
    noise += sh.job.transcript[mark:]
    for word in (b"pywarmctl", b"zygote", b"trust", b"Job", b"[1]", b"Done"):
        assert word not in noise, f"the pre-warm hook printed into the terminal: {noise!r}"
    sh.line("python -c 'import sys; print(\"json\" in sys.modules, end=\" \"); import json; print(json.dumps(1))'")
    sh.job.expect(b"False 1\r\n")      # python3's sys.modules, served warm (see launches)
    sh.sync()
    assert launches(sh.wait_serving(lambda b: b[""] == z[""])) == 1


def test_no_prewarm_leaves_directories_alone(pw):
    s = Shell(pw, "bash")
    try:
        proj = os.path.join(s.root, "proj")
        write_files(proj, {".pywarm.ini": "[preload]\nmodules = json\n"})
        s.sync()
        assert s.ctl("trust", proj).returncode == 0
        s.line('eval "$(pywarmctl shell-init --no-prewarm bash)"')
        s.line(f"cd {proj}")
        s.sync()
        s.wait_jobs_done()      # anything a hook started has done all it would
        assert s.logs() == [], "a zygote was started"
        assert s.zygotes() == [], s.ctl("status").stdout
        s.line("type python | head -1")
        s.job.expect(b"python is a function")
        s.sync()
    finally:
        s.close()


def test_shell_init_errors(pw):
    for args, rc, msg in ((["tcsh"], 2, b"unsupported shell 'tcsh'"),
                          (["bash", "zsh"], 2, b"one shell name"),
                          (["--bogus", "bash"], 2, b"unknown option '--bogus'")):
        p = pw.ctl("shell-init", *args, check=False)
        assert p.returncode == rc and msg in p.stderr and p.stdout == b"", (args, p)
    env = dict(pw.env, SHELL="/usr/bin/zsh")
    p = pw.ctl("shell-init", env=env)
    assert b"add-zsh-hook chpwd __pywarm_prewarm" in p.stdout
    env["SHELL"] = ""
    p = pw.ctl("shell-init", env=env, check=False)
    assert p.returncode == 2 and b"needs a shell name" in p.stderr
