# test_pty.py: interactive runs on a real pseudo-terminal: prompts, Ctrl-C, Ctrl-Z, Ctrl-\, window size, /dev/tty.
#
# Each interaction is run twice, as the foreground job of a fresh pty: once
# with the real interpreter and once with pywarm; the terminal transcripts
# (everything the pty showed, echo included) and the way the job ended must
# be the same.

import errno
import os
import signal
import textwrap

from conftest import PYWARM, REAL, SELF, _read, proc_state, trace_events
from helpers import run_pair, assert_same_session  # noqa: F401 - also imported from here
from ptyutil import PtyJob, poll_until


INPUT_PROG = textwrap.dedent("""\
    import os, sys
    name = input("name? ")
    print("hello", name)
    print("tty", sys.stdin.isatty(), sys.stdout.isatty(), sys.stderr.isatty())
    print("enc", sys.stdin.encoding, sys.stdout.encoding, sys.stdout.errors, sys.stdin.errors)
    print("buffering", sys.stdout.line_buffering, sys.stderr.line_buffering)
    print("size", os.get_terminal_size(0), os.get_terminal_size(1))
    print("same tty", os.ttyname(0) == os.ttyname(1) == os.ttyname(2))
""")


def test_input_prompt(pw, wd):
    def interact(job, side, trace):
        job.expect(b"name? ")
        job.send(b"bob\n")
        job.expect(b"same tty")
    res = run_pair(pw, wd, ["-c", INPUT_PROG], interact, rows=33, cols=101)
    assert_same_session(res)
    t = res["pywarm"][1]
    assert res["pywarm"][0] == "exited 0"
    assert b"name? bob\r\nhello bob\r\n" in t
    assert b"tty True True True" in t
    assert b"size os.terminal_size(columns=101, lines=33)" in t


def test_input_prompt_unicode(pw, wd):
    def interact(job, side, trace):
        job.expect("n\u00e4me? ".encode())
        job.send("j\u00fcrgen \u2713\n".encode())
        job.expect(b"end")
    prog = "n = input('n\\u00e4me? '); print(ascii(n), n); print('end')"
    res = run_pair(pw, wd, ["-c", prog], interact)
    assert_same_session(res)
    assert b"'j\\xfcrgen \\u2713'" in res["pywarm"][1]


def test_ctrl_c_at_prompt(pw, wd):
    """Ctrl-C at input(): KeyboardInterrupt traceback on the terminal, and the
    job dies of SIGINT, as with python3."""
    def interact(job, side, trace):
        job.expect(b"name? ")
        job.wait_tty_read()
        job.send(b"\x03")
    res = run_pair(pw, wd, ["-c", INPUT_PROG], interact)
    assert_same_session(res)
    assert res["pywarm"][0] == f"signaled {int(signal.SIGINT)}"
    assert b"KeyboardInterrupt" in res["pywarm"][1]


def test_ctrl_backslash_at_prompt(pw, wd):
    def interact(job, side, trace):
        job.expect(b"name? ")
        job.wait_tty_read()
        job.send(b"\x1c")
    res = run_pair(pw, wd, ["-c", INPUT_PROG], interact)
    assert_same_session(res)
    assert res["pywarm"][0] == f"signaled {int(signal.SIGQUIT)}"


def test_ctrl_d_at_prompt(pw, wd):
    def interact(job, side, trace):
        job.expect(b"name? ")
        job.send(b"\x04")
    res = run_pair(pw, wd, ["-c", INPUT_PROG], interact)
    assert_same_session(res)
    assert res["pywarm"][0] == "exited 1"
    assert b"EOFError" in res["pywarm"][1]


def _warm_child_pid(trace, launcher_pid):
    return next((child for pid, how, child, _ in trace_events(_read(trace))
                 if pid == launcher_pid and how == "warm"), None)


def test_ctrl_z_and_resume(pw, wd):
    """Ctrl-Z at the prompt stops the job (both the launcher and its warm
    child); SIGCONT from the shell resumes it and the input completes."""
    child_states = []

    def interact(job, side, trace):
        job.expect(b"name? ")
        job.wait_tty_read()
        job.send(b"\x1a")
        ev = job.event()
        assert ev == f"stopped {int(signal.SIGTSTP)}", f"{side}: {ev}"
        if side == "pywarm" and not SELF:
            child = _warm_child_pid(trace, job.pid)
            assert child, _read(trace)
            poll_until(lambda: proc_state(child) == "T", 3)
            child_states.append(proc_state(child))
        job.cont()
        job.wait_tty_read()     # continued: reading the terminal again
        job.send(b"bob\n")
        job.expect(b"same tty")
    res = run_pair(pw, wd, ["-c", INPUT_PROG], interact)
    assert_same_session(res)
    assert res["pywarm"][0] == "exited 0"
    assert b"hello bob" in res["pywarm"][1]
    if not SELF:
        assert child_states == ["T"], f"the warm child was not stopped with its launcher: {child_states}"


def test_window_size_change(pw, wd):
    """A window size change reaches the program as SIGWINCH with the new size."""
    prog = textwrap.dedent("""\
        import os, signal
        def onwinch(n, f):
            print("winch", os.get_terminal_size(0), flush=True)
        signal.signal(signal.SIGWINCH, onwinch)
        print("ready", os.get_terminal_size(0), flush=True)
        input()
        print("bye")
    """)

    def interact(job, side, trace):
        job.expect(b"ready")
        job.wait_tty_read()
        job.resize(50, 120)
        job.expect(b"winch os.terminal_size(columns=120, lines=50)")
        job.send(b"\n")
        job.expect(b"bye")
    res = run_pair(pw, wd, ["-c", prog], interact)
    assert_same_session(res)


def test_dev_tty_and_foreground_group(pw, wd):
    """/dev/tty and the foreground process group.  python3 has the pty as its
    controlling terminal.  A warm program has none, a documented limitation
    (pywarm(1), LIMITATIONS): /dev/tty opens the caller's terminal all the
    same, but tcgetpgrp() fails with ENOTTY.  A cold run must match python3."""
    prog = textwrap.dedent("""\
        import os
        try:
            fd = os.open("/dev/tty", os.O_RDWR)
            print("devtty ok", os.isatty(fd))
            os.close(fd)
        except OSError as e:
            print("devtty", e.errno)
        try:
            print("foreground", os.tcgetpgrp(0) == os.getpgrp())
        except OSError as e:
            print("tcgetpgrp", e.errno)
    """)

    def interact(job, side, trace):
        pass
    res = run_pair(pw, wd, ["-c", prog], interact, must_be_warm=False)
    assert res["real"][1] == b"devtty ok True\r\nforeground True\r\n"
    assert res["real"][0] == res["pywarm"][0] == "exited 0"
    if res["pywarm"][2] and not SELF:
        expected = f"devtty ok True\r\ntcgetpgrp {errno.ENOTTY}\r\n".encode()
        assert res["pywarm"][1] == expected, res["pywarm"][1]
    else:
        assert_same_session(res)


def test_getpass_does_not_echo(pw, wd):
    prog = "import getpass; pw = getpass.getpass('password: '); print('got', pw)"

    def interact(job, side, trace):
        job.expect(b"password: ")
        job.send(b"s3cret\n")
        job.expect(b"got s3cret")
    res = run_pair(pw, wd, ["-c", prog], interact, must_be_warm=False)
    assert_same_session(res)
    t = res["pywarm"][1]
    assert t.count(b"s3cret") == 1, "the password was echoed"
