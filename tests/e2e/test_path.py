# test_path.py: the installed python/python3 links first on PATH (`pywarmctl shell-init --path`): shebang scripts, make rules and subprocesses run warm, never loop, and PYWARM_DISABLE=1 still turns them off.

import os
import shutil
import stat
import subprocess

import pytest

from conftest import BUILD, REAL, needs_pywarm, parse_status, trace_events, write_files
from helpers import StagedInstall, staged


pytestmark = needs_pywarm

# Prints what a program could tell apart; run as a script, by a make rule, or
# by another program through PATH.
PROBE = """\
import json, os, sys
print(json.dumps({"argv": sys.argv, "executable": sys.executable, "path0": sys.path[0],
                  "cwd": os.getcwd(), "flags": list(sys.flags)}))
"""




class Links(StagedInstall):
    """A staged `make install`, its zygote, and the PATH `shell-init --path` makes."""

    def __init__(self, pw):
        super().__init__(pw, "path")
        # The reference: the same PATH with python3 meaning the real interpreter
        # (exec'd by its path, as a pyenv shim does: a symlink would be
        # sys.executable itself).
        self.realdir = os.path.join(self.root, "realbin")
        os.makedirs(self.realdir)
        for name in ("python", "python3"):
            write_files(self.realdir, {name: f'#!/bin/sh\nexec {REAL} "$@"\n'})
            os.chmod(os.path.join(self.realdir, name), 0o755)
        p = subprocess.run([self.ctl, "start", "--wait"], env=self.env, cwd=pw.neutral,
                           capture_output=True, timeout=120)
        assert p.returncode == 0, p

    def path_line(self, shell="sh"):
        p = subprocess.run([self.ctl, "shell-init", "--path", shell], env=self.env,
                           capture_output=True, timeout=60)
        assert p.returncode == 0 and p.stderr == b"", p
        return p.stdout.decode()

    def run(self, cmd, cwd, *, warm_side=True, env_add=None):
        """cmd (a shell command) with PATH as `shell-init --path` leaves it, or
        with the reference directory first; (result, trace text)."""
        trace = self.pw.trace_path()
        env = dict(self.env, PYWARM_DEBUG=trace, **(env_add or {}))
        # The links stand in for the python3 that follows them on PATH:
        # there, the real interpreter's own directory.
        env["PATH"] = (os.path.dirname(REAL) if warm_side else self.realdir) + os.pathsep + \
            self.env.get("PATH", "/usr/bin:/bin")
        if warm_side:
            cmd = f'eval "$({self.ctl} shell-init --path sh)"; {cmd}'
        p = subprocess.run(["sh", "-c", cmd], env=env, cwd=cwd, capture_output=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        try:
            with open(trace) as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        return p, text

    def launches(self):
        blocks = [b for b in parse_status(subprocess.run([self.ctl, "status"], env=self.env,
                                                         capture_output=True, timeout=60
                                                         ).stdout.decode()) if "pid" in b]
        assert len(blocks) == 1, blocks
        return int(blocks[0]["launches"].split()[0])


@pytest.fixture(scope="module")
def links(pw):
    yield from staged(pw, Links)


def runs(trace):
    """{launcher pid: 'warm' | 'cold: why'} from a PYWARM_DEBUG trace file's events."""
    return {pid: "warm" if how == "warm" else "cold: " + why for pid, how, _, why in trace_events(trace)}


def test_path_line(links):
    for shell in ("sh", "bash", "zsh"):
        assert links.path_line(shell).endswith(
            f"case ${{PATH-}} in\n'{links.linkdir}' | '{links.linkdir}':*) ;;\n"
            f"*) PATH='{links.linkdir}'${{PATH:+:$PATH}}; export PATH ;;\nesac\n")
    # Evaluated twice, it stays one entry; evaluated in each shell, it comes first.
    for shell, argv in (("sh", ["sh", "-c"]), ("bash", ["bash", "--norc", "-c"]),
                        ("zsh", ["zsh", "-f", "-c"]), ("fish", ["fish", "--no-config", "-c"])):
        if shutil.which(argv[0]) is None:
            continue
        ev = (f"{links.ctl} shell-init --path fish | source; {links.ctl} shell-init --path fish | source; "
              "string join : $PATH" if shell == "fish" else
              f'eval "$({links.ctl} shell-init --path {shell})"; eval "$({links.ctl} shell-init --path {shell})"; '
              'echo "$PATH"')
        p = subprocess.run(argv + [ev], env=dict(links.env, PATH="/usr/bin:/bin"), capture_output=True,
                           timeout=60)
        assert p.returncode == 0, p
        assert p.stdout.decode().strip() == f"{links.linkdir}:/usr/bin:/bin", (shell, p)
    for name in ("python", "python3"):
        assert os.path.realpath(os.path.join(links.linkdir, name)) == os.path.join(links.pre, "bin/pywarm")
    # Without the links (a build directory), it says so and prints nothing.
    p = subprocess.run([os.path.join(BUILD, "pywarmctl"), "shell-init", "--path", "sh"], env=links.env,
                       capture_output=True, timeout=60)
    assert p.returncode == 1 and p.stdout == b"" and b"no python links in" in p.stderr, p
    p = subprocess.run([links.ctl, "shell-init", "sh"], env=links.env, capture_output=True, timeout=60)
    assert p.returncode == 2 and b"unsupported shell 'sh'" in p.stderr, p


def test_shebang_script_runs_warm(links, wd):
    script = os.path.join(wd, "tool.py")
    write_files(wd, {"tool.py": "#!/usr/bin/env python3\n" + PROBE})
    os.chmod(script, os.stat(script).st_mode | stat.S_IXUSR)
    before = links.launches()
    real, _ = links.run("./tool.py a 'b c'", wd, warm_side=False)
    warm, trace = links.run("./tool.py a 'b c'", wd)
    assert real.returncode == 0 and b'"executable": "%s"' % REAL.encode() in real.stdout, real
    assert (warm.returncode, warm.stdout, warm.stderr) == (real.returncode, real.stdout, real.stderr)
    assert list(runs(trace).values()) == ["warm"], trace
    assert links.launches() == before + 1


def test_make_rule_and_subprocess_run_warm(links, wd):
    write_files(wd, {
        "probe.py": PROBE,
        # A program that runs python3 from PATH, as build tools and hooks do.
        "parent.py": "import subprocess, sys\n"
                     "sys.stdout.flush()\n"
                     "subprocess.run(['python3', 'probe.py', 'from-parent'], check=True)\n",
        "Makefile": "all: first second\n"
                    "first:\n\tpython3 probe.py $@\n"
                    "second:\n\tpython parent.py\n",
    })
    before = links.launches()
    real, _ = links.run("make -s", wd, warm_side=False)
    warm, trace = links.run("make -s", wd)
    assert real.returncode == 0 and real.stdout.count(b"\n") == 2, real
    assert (warm.returncode, warm.stdout, warm.stderr) == (real.returncode, real.stdout, real.stderr)
    # Three launches (the rule, the rule's program, its subprocess), all warm.
    assert list(runs(trace).values()) == ["warm"] * 3, trace
    assert links.launches() == before + 3


def test_disable_turns_the_links_off(links, wd):
    script = os.path.join(wd, "tool.py")
    write_files(wd, {"tool.py": "#!/usr/bin/env python3\n" + PROBE})
    os.chmod(script, os.stat(script).st_mode | stat.S_IXUSR)
    before = links.launches()
    real, _ = links.run("./tool.py x", wd, warm_side=False, env_add={"PYWARM_DISABLE": "1"})
    cold, trace = links.run("./tool.py x", wd, env_add={"PYWARM_DISABLE": "1"})
    assert (cold.returncode, cold.stdout, cold.stderr) == (real.returncode, real.stdout, real.stderr)
    assert list(runs(trace).values()) == ["cold: PYWARM_DISABLE is set"], trace
    assert links.launches() == before


def test_links_never_loop(links, pw, wd):
    """A profile naming the links as its interpreter is refused, not exec'd round."""
    write_files(wd, {".pywarm.ini": f"[python]\ninterpreter = {links.linkdir}/python3\n",
                     "probe.py": PROBE})
    p = subprocess.run([links.ctl, "trust", wd], env=links.env, capture_output=True, timeout=60)
    assert p.returncode == 0, p
    res, trace = links.run("python3 probe.py", wd)
    assert res.returncode != 0 and res.stdout == b"", res
    assert b"is pywarm itself; refusing to exec it in a loop" in res.stderr, res
    assert len(runs(trace)) == 1, trace     # one launcher, one decision


def test_venv_made_through_links_uses_the_real_interpreter(links, wd):
    """A venv made by python3 from the links points at the real interpreter,
    and runs inside it through the links still end there."""
    res, trace = links.run("python3 -m venv --without-pip venv", wd)
    assert res.returncode == 0, res
    assert list(runs(trace).values()) == ["warm"], trace
    venv = os.path.join(wd, "venv")
    assert os.path.realpath(os.path.join(venv, "bin", "python3")) == os.path.realpath(REAL)
    cmd = "python3 -c 'import sys; print(sys.prefix, sys.base_prefix)'"
    env = {"VIRTUAL_ENV": venv}
    real, _ = links.run(f'PATH={venv}/bin:$PATH {cmd}', wd, warm_side=False, env_add=env)
    got, trace = links.run(cmd, wd, env_add=env)
    assert real.returncode == 0 and real.stdout.split()[0] == venv.encode(), real
    assert (got.returncode, got.stdout, got.stderr) == (real.returncode, real.stdout, real.stderr)
    assert len(runs(trace)) == 1, trace      # one launcher: no second pass through the links
