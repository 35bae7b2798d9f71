# test_otheruid.py: a client of another uid, a real user made for the test, never gets a zygote to answer or fork.

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest

from conftest import PROTO_VERSION, needs_pywarm, proc_alive
from helpers import dirs_below, modes, poll_until, quick_warm_check, temp_user, zygote_children, wait_until, zygote_log, zygote_socket  # noqa: F401

# Runs as the other user: connect, send a request, print what came back.
PROBE = textwrap.dedent("""\
    import array, os, socket, struct, sys
    path, kind = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(path)
    except OSError as e:
        print("connect-error", e.errno)
        sys.exit(0)
    version = int(sys.argv[3])
    hdr = struct.pack("<IHHII", 0x4d525750, version, 2 if kind == "status" else 1, 0, 0)
    try:
        if kind == "status":
            s.sendall(hdr)
        else:   # a launch header carrying descriptors, as the launcher sends them
            hdr = struct.pack("<IHHII", 0x4d525750, version, 1, 0, 3)
            s.sendmsg([hdr], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
    except OSError as e:
        print("closed-on-send", e.errno)
        sys.exit(0)
    try:
        data = s.recv(16)
    except socket.timeout:
        print("timeout")
        sys.exit(0)
    except OSError as e:
        print("error", e.errno)
        sys.exit(0)
    print("reply", struct.unpack("<IHHII", data)[2] if len(data) == 16 else "closed")
""")


def probe(user, path, kind):
    p = subprocess.run([sys.executable, "-c", PROBE, path, kind, str(PROTO_VERSION)], capture_output=True, timeout=30,
                       user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/",
                       stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stdout.decode().strip()


@needs_pywarm
def test_other_user_is_refused(pw, wd):
    zpid = pw.ensure_zygote()
    path = zygote_socket(pw, zpid)
    with temp_user() as user:
        # The private socket directory keeps the other user out altogether.
        assert probe(user, path, "status").startswith("connect-error 13"), \
            "another user could connect through the 0700 socket directory"
        # With the directory and socket opened up, the peer-credential check
        # is what refuses it: no status, no launch, no fork.
        before = set(zygote_children(zpid))
        opened = [(d, 0o711) for d in dirs_below(pw.tmp, path)] + [(path, 0o777)]
        with modes(opened):
            for kind in ("status", "launch"):
                got = probe(user, path, kind)
                assert not got.startswith("connect-error"), f"the probe could not reach the socket: {got}"
                assert got in ("reply closed", "error 104", "closed-on-send 32", "closed-on-send 104"), \
                    f"the zygote answered a {kind} request of uid {user.pw_uid}: {got}"
        refused = f"refused a client of uid {user.pw_uid}"
        wait_until(lambda: zygote_log(pw).count(refused) >= 2, f"'{refused}' twice in the zygote log", timeout=10)
        poll_until(lambda: set(zygote_children(zpid)) <= before, 5)
        new = set(zygote_children(zpid)) - before
        assert not new, f"the zygote forked {sorted(new)} for a client of another uid"
    assert proc_alive(zpid)
    quick_warm_check(pw, wd)
