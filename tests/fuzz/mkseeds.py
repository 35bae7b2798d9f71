# mkseeds.py: writes the seed requests in corpus/request/ (framed LAUNCH messages and bare payloads, as config/proto.c encodes them).
import os
import struct
import sys

MAGIC, VERSION, LAUNCH, STATUS_REQ = 0x4d525750, 1, 1, 2


def strv(v):
    out = struct.pack("<I", len(v))
    for s in v:
        out += struct.pack("<I", len(s)) + s
    return out


def launch(mode, payload, sysargv, argv, env, fdnums, dash=0, groups=(0,), cpus=b"\x03"):
    b = struct.pack("<QIIIIIIi", 0x1234, mode, payload, sysargv, dash, 0, 0o22, 0)
    b += struct.pack("<QQ", 0, 0)
    b += struct.pack("<16Q", *[2**64 - 1] * 16) + struct.pack("<16Q", *[2**64 - 1] * 16)
    b += struct.pack("<8Q", *range(1, 9)) + struct.pack("<QQ", 2049, 2)
    b += struct.pack("<I", len(groups)) + struct.pack(f"<{len(groups)}I", *groups)
    b += struct.pack("<I", len(cpus)) + cpus
    b += strv(argv) + strv(env)
    b += struct.pack("<I", len(fdnums)) + struct.pack(f"<{len(fdnums)}i", *fdnums)
    return b


def frame(type_, payload, nfds=0):
    return struct.pack("<IHHII", MAGIC, VERSION, type_, len(payload), nfds) + payload


seeds = {
    "command": launch(1, 1, 1, [b"python3", b"-c", b"pass"], [b"HOME=/root", b"LANG=C.UTF-8"], [-1, 0, 1, 2]),
    "module": launch(2, 2, 2, [b"python3", b"-m", b"json.tool", b"x"], [], [-1, 0, 1, 2, 5]),
    "file": launch(3, 1, 1, [b"python3", b"script.py", b"a", b""], [b"A=1"], [-1, 0, 1, 2]),
    "stdin": launch(4, 0, 2, [b"python3", b"-"], [], [-1, 0, 1, 2], dash=1),
    "stdin-bare": launch(4, 0, 1, [b"python3"], [], [-1], groups=(), cpus=b""),
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "request")
os.makedirs(out, exist_ok=True)
for name, payload in seeds.items():
    with open(os.path.join(out, f"payload-{name}"), "wb") as f:
        f.write(payload)
    with open(os.path.join(out, f"frame-{name}"), "wb") as f:
        f.write(frame(LAUNCH, payload))
with open(os.path.join(out, "frame-status"), "wb") as f:
    f.write(frame(STATUS_REQ, b""))
sys.exit(0)
