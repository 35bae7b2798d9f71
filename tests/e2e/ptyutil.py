# ptyutil.py: run a command as the foreground job of a fresh pseudo-terminal, like an interactive shell would.
#
# Imported by the tests, it provides PtyJob.  Run as a script (`ptyutil.py
# --shell CTL CMD -- argv...`), it is the tiny job-control shell that PtyJob
# starts on the terminal: it makes the terminal its controlling tty, runs argv
# in a new process group that it puts in the foreground, and reports on the
# CTL pipe when the job stops ("stopped N"), and how it ended ("exited N" or
# "signaled N").  After a stop it waits for "cont" on the CMD pipe, then puts
# the job back in the foreground and sends it SIGCONT.

import errno
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time

HELPER = os.path.abspath(__file__)
READ_SYSCALL = {"x86_64": 0, "aarch64": 63, "riscv64": 63, "i686": 3, "armv7l": 3}
JOB_SIGNALS = (signal.SIGTTOU, signal.SIGTTIN, signal.SIGTSTP, signal.SIGINT, signal.SIGQUIT)


def set_winsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


# ---------------------------------------------------------------- the shell side

def _shell(ctl, cmd, argv):
    def report(msg):
        os.write(ctl, (msg + "\n").encode())

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    for s in JOB_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            os.tcsetpgrp(0, os.getpid())
            for s in JOB_SIGNALS + (signal.SIGPIPE, signal.SIGXFSZ):
                signal.signal(s, signal.SIG_DFL)
            import resource
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            os.close(ctl)
            os.close(cmd)
            os.execv(argv[0], argv)
        except BaseException as e:  # noqa: BLE001 - report anything, then die
            os.write(2, f"ptyutil: exec {argv[0]}: {e}\n".encode())
        os._exit(127)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass                        # the child got there first
    try:
        os.tcsetpgrp(0, pid)
    except OSError:
        pass
    report(f"pid {pid}")
    cmdfile = os.fdopen(cmd, "r")
    while True:
        _, status = os.waitpid(pid, os.WUNTRACED)
        if os.WIFSTOPPED(status):
            os.tcsetpgrp(0, os.getpgrp())
            report(f"stopped {os.WSTOPSIG(status)}")
            line = cmdfile.readline().strip()
            if line == "cont":
                os.tcsetpgrp(0, pid)
                os.killpg(pid, signal.SIGCONT)
                continue
            os.killpg(pid, signal.SIGKILL)
            continue
        if os.WIFSIGNALED(status):
            report(f"signaled {os.WTERMSIG(status)}")
        else:
            report(f"exited {os.WEXITSTATUS(status)}")
        break
    os.tcsetpgrp(0, os.getpgrp())


# ---------------------------------------------------------------- the test side

class PtyJob:
    """argv as the foreground job on a new pty (rows x cols) with env and cwd."""

    def __init__(self, argv, env, cwd, rows=24, cols=80):
        self.master, slave = os.openpty()
        self.slave_name = os.ttyname(slave)
        set_winsize(slave, rows, cols)
        ctl_r, ctl_w = os.pipe()
        cmd_r, cmd_w = os.pipe()
        self.transcript = b""
        self._pos = 0
        self.events = []
        self._ctl_buf = b""
        try:
            self.shell = subprocess.Popen(
                [sys.executable, HELPER, "--shell", str(ctl_w), str(cmd_r), "--", *argv],
                stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                start_new_session=True, pass_fds=(ctl_w, cmd_r))
        finally:
            os.close(slave)
            os.close(ctl_w)
            os.close(cmd_r)
        self.ctl = ctl_r
        self.cmd = cmd_w
        self.pid = int(self.event(10).split()[1])

    # -- terminal

    def _read_some(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return None
        try:
            data = os.read(self.master, 65536)
        except OSError as e:
            if e.errno == errno.EIO:
                return b""          # every slave descriptor is closed
            raise
        self.transcript += data
        return data

    def expect(self, text, timeout=10):
        """Read until text appears after what earlier expect() calls matched."""
        deadline = time.monotonic() + timeout
        while self.transcript.find(text, self._pos) < 0:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {text!r}; transcript so far: {self.transcript!r}")
            if self._read_some(left) == b"":
                raise AssertionError(f"terminal closed before {text!r}; transcript: {self.transcript!r}")
        self._pos = self.transcript.find(text, self._pos) + len(text)

    def send(self, data):
        os.write(self.master, data)

    def wait_tty_read(self, timeout=5):
        """Wait until some process is blocked reading fd 0 from this terminal.
        A signal that arrives while python3 is between writing a prompt and
        calling read() is only acted on after the read returns (in python3
        too), so keystrokes that raise signals are sent once the read is there."""
        nr = READ_SYSCALL.get(os.uname().machine)
        deadline = time.monotonic() + timeout
        while nr is not None and time.monotonic() < deadline:
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    if os.readlink(f"/proc/{pid}/fd/0") != self.slave_name:
                        continue
                    with open(f"/proc/{pid}/syscall") as f:
                        fields = f.read().split()
                except OSError:
                    continue
                if len(fields) > 1 and fields[0] == str(nr) and int(fields[1], 16) == 0:
                    return
            time.sleep(0.01)
        if nr is None:
            time.sleep(0.5)     # no way to look: give the reader time
            return
        raise AssertionError(f"no process is reading the terminal; transcript: {self.transcript!r}")

    def resize(self, rows, cols):
        set_winsize(self.master, rows, cols)

    # -- job control

    def event(self, timeout=10):
        deadline = time.monotonic() + timeout
        while b"\n" not in self._ctl_buf:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.ctl], [], [], max(0, left))
            if not r:
                raise AssertionError(f"no job event within {timeout}s; transcript: {self.transcript!r}")
            data = os.read(self.ctl, 4096)
            if not data:
                raise AssertionError(f"the job shell went away; transcript: {self.transcript!r}")
            self._ctl_buf += data
        line, self._ctl_buf = self._ctl_buf.split(b"\n", 1)
        ev = line.decode()
        self.events.append(ev)
        return ev

    def cont(self):
        os.write(self.cmd, b"cont\n")

    def finish(self, timeout=15):
        """Wait for the job to end; return its end event ('exited N' / 'signaled N').
        The terminal is drained until every process holding it has gone."""
        deadline = time.monotonic() + timeout
        ev = self.event(timeout)
        while not ev.startswith(("exited", "signaled")):
            ev = self.event(max(0.1, deadline - time.monotonic()))
        try:
            self.shell.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        while time.monotonic() < deadline:
            data = self._read_some(max(0.05, min(1.0, deadline - time.monotonic())))
            if data == b"":
                break
        return ev

    def close(self):
        if self.shell.poll() is None:
            try:
                os.killpg(self.shell.pid, signal.SIGKILL)
            except OSError:
                pass
            self.shell.wait(timeout=10)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        for fd in (self.master, self.ctl, self.cmd):
            try:
                os.close(fd)
            except OSError:
                pass


if __name__ == "__main__":
    if len(sys.argv) < 6 or sys.argv[1] != "--shell" or sys.argv[4] != "--":
        sys.exit("usage: ptyutil.py --shell CTLFD CMDFD -- argv...")
    _shell(int(sys.argv[2]), int(sys.argv[3]), sys.argv[5:])
