# ptyutil.py: run a command as the foreground job of a fresh pseudo-terminal, like an interactive shell would.
#
# Imported by the tests, it provides PtyJob and poll_until.  Run as a script
# (`ptyutil.py --shell CTL CMD -- argv...`), it is the tiny job-control shell
# that PtyJob starts on the terminal: it makes the terminal its controlling
# tty, runs argv in a new process group that it puts in the foreground, and
# reports on the CTL pipe when the job stops ("stopped N"), and how it ended
# ("exited N" or "signaled N").  After a stop it waits for "cont" on the CMD
# pipe, then puts the job back in the foreground and sends it SIGCONT.

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


def poll_until(cond, timeout, step=0.02):
    """Poll cond() (a /proc or cgroupfs reading, where there is no event to
    wait on) until it gives a true value or timeout seconds pass; its last
    value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


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

    def _holders(self):
        """(pid, state, syscall fields) of each process but the job shell
        whose fd 0 is this terminal."""
        found = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == self.shell.pid:
                continue
            try:
                if os.readlink(f"/proc/{pid}/fd/0") != self.slave_name:
                    continue
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
                with open(f"/proc/{pid}/syscall") as f:
                    fields = f.read().split()
            except OSError:
                continue
            found.append((int(pid), stat[stat.rindex(")") + 2], fields))
        return found

    def wait_tty_read(self, timeout=5, pids=None):
        """Wait until some process (one of pids, if given) is blocked
        reading fd 0 from this terminal (asleep in read(0, ...); a stopped
        process is not).  A signal that arrives while python3 is between
        writing a prompt and calling read() is only acted on after the read
        returns (in python3 too), so keystrokes that raise signals are sent
        once the read is there.  Where the read syscall's number is not
        known, every process on the terminal being asleep stands for it."""
        nr = READ_SYSCALL.get(os.uname().machine)

        def reading():
            procs = [h for h in self._holders() if pids is None or h[0] in pids]
            if nr is None:
                return procs and all(state == "S" for _, state, _ in procs)
            return any(state == "S" and len(f) > 1 and f[0] == str(nr) and int(f[1], 16) == 0
                       for _, state, f in procs)
        if not poll_until(reading, timeout, step=0.01):
            raise AssertionError(f"no process is reading the terminal; transcript: {self.transcript!r}")

    def input_pending(self):
        """Bytes typed that no process has read yet (FIONREAD on the slave)."""
        fd = os.open(self.slave_name, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
        finally:
            os.close(fd)

    def wait_idle(self, timeout=10):
        """Wait until what was typed has been handled: no byte is left unread
        and every process on the terminal is asleep (a line editor waiting
        for the next key).  Call it after an echo of the input has been seen:
        until then the bytes may not have reached the terminal's buffer."""
        def idle():
            procs = self._holders()
            return procs and self.input_pending() == 0 and all(state == "S" for _, state, _ in procs)
        if not poll_until(idle, timeout, step=0.01):
            raise AssertionError(f"the job did not take its input and settle; transcript: {self.transcript!r}")

    def lflag(self):
        """The terminal's local modes (c_lflag); on Linux the master reports the slave's."""
        return termios.tcgetattr(self.master)[3]

    def wait_modes(self, on=0, off=0, timeout=10):
        """Wait until the local mode bits in on are set and those in off are
        clear: a program has taken the terminal (readline and less clear
        ICANON, getpass clears ECHO) or given it back."""
        if not poll_until(lambda: self.lflag() & (on | off) == on, timeout, step=0.01):
            raise AssertionError(f"terminal modes {self.lflag():#o}: never got {on:#o} set and {off:#o} "
                                 f"clear; transcript: {self.transcript!r}")

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
