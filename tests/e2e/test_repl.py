# test_repl.py: the interactive interpreter on a real pseudo-terminal, warm, against python3: prompts, readline history and completion, Ctrl-C, Ctrl-D, -i, PYTHONSTARTUP, help(), and background jobs.
#
# Each session runs twice as the foreground job of a fresh pty (ptyutil),
# once under python3 and once under pywarm, with the same HOME (its
# ~/.python_history removed before each side); the transcripts, the way the
# job ended and the history file written must be the same.

import os
import re
import shutil
import termios

import pytest

from conftest import PYWARM, REAL, SELF, _read, proc_alive, proc_state, trace_events, write_files
from ptyutil import PtyJob
from test_options import stop_extra, warm_up  # noqa: F401 - fixture
from helpers import assert_same_session as assert_same_pty, run_pair, wait_until

BANNER_END = b'for more information.\r\n'


def session(pw, wd, args, interact, env_add=None, must_be_warm=True):
    """Run interact(job) against [REAL, *args] and [PYWARM, *args] on ptys.
    Returns {side: (end event, transcript, warm, history bytes or None)}."""
    home = os.path.join(wd, "home")
    os.makedirs(home, exist_ok=True)
    add = {"HOME": home, "TERM": "xterm", **(env_add or {})}
    warm_up(pw, args, add, wd)
    hist = os.path.join(home, ".python_history")
    res = run_pair(pw, wd, args, lambda job, side, trace: interact(job), must_be_warm=must_be_warm,
                   env_add=add, remove=(hist,),
                   collect=lambda: open(hist, "rb").read() if os.path.exists(hist) else None)
    return {side: (end, transcript, warm, history)
            for side, (end, transcript, warm, _, history) in res.items()}


def assert_same_session(res):
    """Same end, same transcript (test_pty's check), same history file."""
    assert_same_pty(res)
    real, pyw = res["real"], res["pywarm"]
    assert real[3] == pyw[3], f"history files differ:\nreal:   {real[3]!r}\npywarm: {pyw[3]!r}"


def prompt_then(job, keys, prompt=b">>> "):
    """Wait for the next prompt (primary by default) and for readline to have
    the terminal (canonical mode off: it prepares the terminal before it
    draws the prompt), then type keys."""
    job.expect(prompt)
    job.wait_modes(off=termios.ICANON)
    job.send(keys)


def bg_job_pid(job):
    """The pid bash reported for the job just started with & ("[1] PID")."""
    m = re.search(rb"\[1\] (\d+)\r\n", job.transcript)
    assert m, f"bash did not report the background job: {job.transcript!r}"
    return int(m.group(1))


def test_repl_expression_history_ctrl_c_ctrl_d(pw, wd, stop_extra):
    """Banner, a result, the up arrow recalling the last line, Ctrl-C
    cancelling a half-typed line, Ctrl-D leaving with status 0, and the
    history file written at exit."""
    def interact(job):
        job.expect(BANNER_END)
        prompt_then(job, b"6 * 7\n")
        job.expect(b"42\r\n")
        prompt_then(job, b"\x1b[A\n")
        job.expect(b"42\r\n")
        prompt_then(job, b"half a li")
        job.expect(b"half a li")
        job.wait_idle()         # in select() again: SIGINT is acted on at once
        job.send(b"\x03")
        job.expect(b"KeyboardInterrupt")
        prompt_then(job, b"for i in range(2):\n")
        prompt_then(job, b"    print('loop', i)\n", b"... ")
        prompt_then(job, b"\n", b"... ")
        job.expect(b"loop 1")
        prompt_then(job, b"\x04")
    res = session(pw, wd, [], interact)
    assert_same_session(res)
    assert res["pywarm"][0] == "exited 0"
    assert b"6 * 7" in res["pywarm"][3]
    assert res["pywarm"][1].startswith(b"Python 3.")


def test_repl_quiet_and_exit_status(pw, wd, stop_extra):
    def interact(job):
        prompt_then(job, b"import sys; sys.ps1 = 'py> '\n")
        prompt_then(job, b"exit(5)\n", b"py> ")
    res = session(pw, wd, ["-q"], interact)
    assert_same_session(res)
    assert res["pywarm"][0] == "exited 5"
    assert not res["pywarm"][1].startswith(b"Python")


def test_repl_tab_completion(pw, wd, stop_extra):
    """readline completion (rlcompleter, set up by site's interactive hook)."""
    def interact(job):
        prompt_then(job, b"import o")
        job.expect(b"import o")
        job.send(b"s\t")
        job.expect(b"s")
        job.wait_idle()         # the Tab handled (nothing to complete)
        job.send(b"\n")
        prompt_then(job, b"os.curd\t")
        job.expect(b"os.curdir")
        job.send(b"\n")
        job.expect(b"'.'")
        prompt_then(job, b"\x04")
    res = session(pw, wd, [], interact)
    assert_same_session(res)
    assert b"os.curdir\r\n'.'" in res["pywarm"][1]


def test_repl_pythonstartup(pw, wd, stop_extra):
    write_files(wd, {"startup.py": "greeting = 'hi from startup'\nprint('startup ran')\n"})

    def interact(job):
        job.expect(b"startup ran")
        prompt_then(job, b"greeting\n")
        job.expect(b"'hi from startup'")
        prompt_then(job, b"\x04")
    res = session(pw, wd, ["-q"], interact, {"PYTHONSTARTUP": os.path.join(wd, "startup.py")})
    assert_same_session(res)


def test_inspect_after_script_and_command(pw, wd, stop_extra):
    """-i: the program runs, then the prompt; its globals are there, and an
    exception in the program does not end the session."""
    write_files(wd, {"prog.py": "x = 3\nprint('prog ran')\nraise ValueError('boom')\n"})

    def interact(job):
        job.expect(b"prog ran")
        job.expect(b"ValueError: boom")
        prompt_then(job, b"x * 11\n")
        job.expect(b"33")
        prompt_then(job, b"\x04")
    res = session(pw, wd, ["-i", "prog.py"], interact)
    assert_same_session(res)
    assert res["pywarm"][0] == "exited 0"

    def interact_c(job):
        prompt_then(job, b"y\n")
        job.expect(b"7")
        prompt_then(job, b"raise SystemExit(9)\n")
    res = session(pw, wd, ["-i", "-c", "y = 7"], interact_c)
    assert_same_session(res)
    assert res["pywarm"][0] == "exited 9"


def test_repl_input_and_getpass(pw, wd, stop_extra):
    """input() at the prompt reads the next line; getpass turns echo off."""
    def interact(job):
        prompt_then(job, b"s = input('say: ')\n")
        prompt_then(job, b"words\n", b"say: ")     # input() at a terminal reads with readline too
        prompt_then(job, b"import getpass; p = getpass.getpass('pw: ')\n")
        job.expect(b"pw: ")
        job.wait_modes(on=termios.ICANON, off=termios.ECHO)
        job.send(b"hidden\n")
        prompt_then(job, b"print(s, len(p))\n")
        job.expect(b"words 6")
        prompt_then(job, b"\x04")
    res = session(pw, wd, ["-q"], interact)
    assert_same_session(res)
    assert res["pywarm"][1].count(b"hidden") == 0


def test_profile_preloading_readline_makes_the_repl_cold(pw, wd, stop_extra):
    """readline set up in the zygote would be bound to the zygote's
    descriptors and environment: an interactive run falls back cold."""
    prof = os.path.join(wd, "rl.ini")
    write_files(wd, {"rl.ini": "[preload]\nmodules = json, readline\n"})
    os.chmod(prof, 0o600)

    def interact(job):
        prompt_then(job, b"6 * 7\n")
        job.expect(b"42")
        prompt_then(job, b"\x04")
    res = session(pw, wd, ["-q"], interact, {"PYWARM_PROFILE": prof}, must_be_warm=False)
    assert_same_session(res)
    if not SELF:
        assert res["pywarm"][2] is False, "an interactive run with readline preloaded was warm"


@pytest.mark.parametrize("stdin", ["pipe", "devnull"])
def test_getpass_reads_the_terminal_not_stdin(pw, wd, stop_extra, stdin):
    """With standard input redirected, getpass still prompts on and reads
    from the controlling terminal (/dev/tty), with echo off."""
    prog = ("import getpass, sys; p = getpass.getpass('pw: '); "
            "print('got', p, repr(sys.stdin.read()))")
    feed = "echo piped |" if stdin == "pipe" else ""
    redirect = "" if stdin == "pipe" else "< /dev/null"

    def run(exe):
        return ["/bin/sh", "-c", f'{feed} exec "$0" -c "$1" {redirect}', exe, prog]

    trace = pw.trace_path()
    env = pw.make_env(trace=trace)
    res = {}
    for side, exe in (("real", REAL), ("pywarm", PYWARM)):
        job = PtyJob(run(exe), env, wd)
        try:
            job.expect(b"pw: ")
            job.wait_modes(on=termios.ICANON, off=termios.ECHO)
            job.send(b"secret\n")
            job.expect(b"got")
            res[side] = (job.finish(), job.transcript)
        finally:
            job.close()
    assert res["real"] == res["pywarm"]
    assert res["real"][0] == "exited 0"
    assert res["real"][1].count(b"secret") == 1
    if not SELF:
        assert "event=warm " in _read(trace), _read(trace)


@pytest.mark.skipif(shutil.which("less") is None, reason="no less(1) for pydoc's pager")
def test_help_pages_through_less(pw, wd, stop_extra):
    """help() pages through less(1); q leaves the pager and the prompt returns."""
    def interact(job):
        prompt_then(job, b"help(len)\n")
        job.expect(b"(obj, /)")
        job.wait_modes(off=termios.ICANON)      # less has the terminal
        job.send(b"q")
        prompt_then(job, b"print('back')\n")
        job.expect(b"back\r\n")
        prompt_then(job, b"\x04")
    res = session(pw, wd, ["-q"], interact, {"PAGER": "", "LESS": ""})
    assert res["real"][0] == res["pywarm"][0] == "exited 0"
    assert_same_session(res)


# ---------------------------------------------------------------- background jobs

BASH = shutil.which("bash")


def bash_session(pw, wd, steps, env_add=None):
    """Run steps(job) against an interactive bash (job control on) on a pty."""
    env = pw.make_env({"PS1": "$ ", "HISTFILE": "/dev/null", **(env_add or {})})
    job = PtyJob([BASH, "--norc", "--noprofile", "-i"], env, wd)
    try:
        job.expect(b"$ ")
        steps(job)
        job.send(b"exit\n")
        job.finish()
    finally:
        job.close()


@pytest.mark.skipif(BASH is None, reason="needs bash for job control")
@pytest.mark.parametrize("side", ["real", "pywarm"])
def test_background_job_is_stopped_when_reading(pw, wd, side):
    """`prog &` from an interactive shell, reading the terminal: stopped by
    SIGTTIN as python3 is (pywarm runs such a job cold); the shell keeps its
    keystrokes; `fg` lets the program read them."""
    exe = REAL if side == "real" else PYWARM
    trace = os.path.join(wd, "trace")

    def steps(job):
        job.send(f"{exe} -c 'print(\"got\", input())' &\n".encode())
        job.expect(b"$ ")
        pid = bg_job_pid(job)
        wait_until(lambda: proc_state(pid) == "T", lambda: f"job {pid} to stop (state {proc_state(pid)})",
                   timeout=20)
        job.send(b"jobs; echo shell-$((40+2))\n")
        job.expect(b"shell-42")
        assert b"Stopped" in job.transcript, job.transcript
        job.send(b"fg\n")
        job.wait_tty_read(timeout=20, pids=(pid,))
        job.send(b"typed\n")
        job.expect(b"got typed")
        job.expect(b"$ ")
    bash_session(pw, wd, steps, {"PYWARM_DEBUG": trace})
    if side == "pywarm" and not SELF:
        assert any(how == "cold" and why.startswith("in the background of its terminal")
                   for _, how, _, why in trace_events(_read(trace))), _read(trace)


@pytest.mark.skipif(BASH is None, reason="needs bash for job control")
def test_background_job_that_only_writes_runs(pw, wd):
    """A background job that never reads the terminal runs to the end."""
    def steps(job):
        job.send(f"{PYWARM} -c 'print(\"bg\" + \"done\")' &\n".encode())
        job.expect(b"bgdone")
        pid = bg_job_pid(job)
        wait_until(lambda: not proc_alive(pid), f"job {pid} to end", timeout=20)
        job.send(b"wait; echo rc=$?\n")
        job.expect(b"rc=0")
    bash_session(pw, wd, steps)
