# test_man.py: the manual pages lint clean and document every pywarmctl command and option, profile section and key, and PYWARM_* variable the code has; the help text and the completion files list every command.

import glob
import os
import re
import shutil
import subprocess

import pytest

from conftest import PYWARMCTL, REPO

MAN = os.path.join(REPO, "man")
PAGES = ["pywarm.1", "pywarmctl.1", "pywarm.ini.5"]


def read(*parts):
    with open(os.path.join(REPO, *parts), errors="replace") as f:
        return f.read()


def roff_text(s):
    """Man source with the escapes that matter here undone: \\- is -, fonts go."""
    s = s.replace("\\-", "-").replace("\\(aq", "'")
    return re.sub(r"\\f[BIRP]", "", s)


def section(src, name):
    """The source of .SH name up to the next .SH."""
    m = re.search(r"^\.SH \"?" + re.escape(name) + r"\"?\n(.*?)(?=^\.SH |\Z)", src, re.M | re.S)
    assert m, f"no section {name}"
    return m.group(1)


# ---------------------------------------------------------------- what the code has

def c_functions(src):
    """{function name: body} for the top-level functions of a C file."""
    out = {}
    for m in re.finditer(r"^(?:static )?int\s+(\w+)\(int argc, char \*\*argv\)\n\{\n(.*?)^\}",
                         src, re.M | re.S):
        out[m.group(1)] = m.group(2)
    return out


def ctl_commands():
    """{command: [long options]} from pywarmctl's dispatch and each command's
    getopt table (launcher/ctl*.c)."""
    srcs = "\n".join(read("launcher", os.path.basename(p))
                     for p in sorted(glob.glob(os.path.join(REPO, "launcher", "ctl*.c"))))
    funcs = c_functions(srcs)
    dispatch = re.findall(r'strcmp\(cmd, "([\w-]+)"\)\)\s*\n\s*run = (\w+);', srcs)
    dispatch += re.findall(r'\{\s*"([\w-]+)",\s*(\w+)\s*[,}]', srcs)
    cmds = {}
    for name, fn in dispatch:
        if fn in funcs:
            cmds[name] = re.findall(r'\{\s*"([\w-]+)",\s*(?:no|required|optional)_argument',
                                    funcs[fn])
    assert {"start", "stop", "status", "shell-init", "enable", "disable"} <= set(cmds), \
        f"could not read pywarmctl's commands from launcher/ctl*.c (found {sorted(cmds)})"
    return cmds


def profile_keys():
    """{(section, key)} that config/profile.c accepts."""
    src = read("config", "profile.c")
    keys = set(re.findall(r'strcmp\(section, "(\w+)"\) == 0 && strcmp\(name, "(\w+)"\) == 0', src))
    keys |= set(re.findall(r'\{\s*"(\w+)",\s*"(\w+)"\s*,', src))
    assert {("preload", "modules"), ("zygote", "idle_timeout")} <= keys, \
        f"could not read the profile keys from config/profile.c (found {sorted(keys)})"
    return keys


def env_vars():
    """PYWARM_* names in string literals of the C sources and the bootstrap."""
    names = set()
    files = []
    for d in ("launcher", "zygote", "config"):
        files += glob.glob(os.path.join(REPO, d, "*.[ch]")) + glob.glob(os.path.join(REPO, d, "*.py"))
    for path in files:
        with open(path, errors="replace") as f:
            src = f.read()
        for lit in re.findall(r'"((?:[^"\\\n]|\\.)*)"', src):
            names |= set(re.findall(r"\bPYWARM_[A-Z0-9_]*[A-Z0-9]\b", lit))
    assert {"PYWARM_DEBUG", "PYWARM_DISABLE", "PYWARM_PROFILE"} <= names, sorted(names)
    return names


# ---------------------------------------------------------------- the tests

@pytest.mark.parametrize("page", PAGES)
def test_man_pages_lint_clean(page):
    path = os.path.join(MAN, page)
    tools = [t for t in (["groff", "-man", "-ww", "-z"], ["mandoc", "-T", "lint"]) if shutil.which(t[0])]
    if len(tools) < 2:
        pytest.skip("groff and mandoc are needed (tests/deps.sh installs groff-base and mandoc)")
    for t in tools:
        p = subprocess.run([*t, path], capture_output=True, timeout=60)
        assert p.stdout == b"" and p.stderr == b"", f"{' '.join(t)} {page}:\n{p.stdout.decode()}{p.stderr.decode()}"


def command_paragraphs(src):
    """{command: its paragraph} from pywarmctl(1)'s COMMANDS: each .TP whose
    tag starts with .B/.BR and a word."""
    text = roff_text(section(src, "COMMANDS"))
    paras = {}
    parts = re.split(r"^\.TP\n", text, flags=re.M)
    for part in parts[1:]:
        m = re.match(r"\.BR? ([\w-]+)", part)
        if m:
            paras[m.group(1)] = part
    return paras


def missing_in_ctl_page(src):
    paras = command_paragraphs(src)
    synopsis = roff_text(section(src, "SYNOPSIS"))
    missing = []
    for cmd, opts in sorted(ctl_commands().items()):
        if cmd not in paras:
            missing.append(f"command {cmd} (no .TP paragraph under COMMANDS)")
            continue
        if not re.search(r"(^|[\s{|\[])" + re.escape(cmd) + r"($|[\s}|\]])", synopsis, re.M):
            missing.append(f"command {cmd} in SYNOPSIS")
        for o in opts:
            if "--" + o not in paras[cmd]:
                missing.append(f"option --{o} of {cmd}")
            if "--" + o not in synopsis:
                missing.append(f"option --{o} of {cmd} in SYNOPSIS")
    return missing


def test_every_ctl_command_and_option_in_man():
    missing = missing_in_ctl_page(read("man", "pywarmctl.1"))
    assert not missing, "pywarmctl(1) lacks: " + ", ".join(missing)


def test_every_ctl_command_in_help_and_completion():
    helptext = subprocess.run([PYWARMCTL, "--help"], capture_output=True, timeout=30).stdout.decode()
    comp = {
        "bash": read("shell", "completion", "pywarmctl.bash"),
        "zsh": read("shell", "completion", "_pywarmctl"),
        "fish": read("shell", "completion", "pywarmctl.fish"),
    }
    missing = []
    for cmd, opts in sorted(ctl_commands().items()):
        if not re.search(r"^  " + re.escape(cmd) + r"\b", helptext, re.M):
            missing.append(f"{cmd} in pywarmctl --help")
        if not re.search(r"words='[^']*\b" + re.escape(cmd) + r"\b", comp["bash"]) \
                and not re.search(r"^\s*" + re.escape(cmd) + r"\)", comp["bash"], re.M):
            missing.append(f"{cmd} in the bash completion")
        if f"'{cmd}:" not in comp["zsh"]:
            missing.append(f"{cmd} in the zsh completion")
        if f"-a {cmd} " not in comp["fish"]:
            missing.append(f"{cmd} in the fish completion")
        for o in opts:
            if f"--{o}" not in helptext:
                missing.append(f"--{o} of {cmd} in pywarmctl --help")
            if f"--{o}" not in comp["bash"]:
                missing.append(f"--{o} of {cmd} in the bash completion")
            if f"'--{o}[" not in comp["zsh"]:
                missing.append(f"--{o} of {cmd} in the zsh completion")
            if f"-l {o} " not in comp["fish"]:
                missing.append(f"--{o} of {cmd} in the fish completion")
    assert not missing, "missing: " + ", ".join(missing)


def missing_in_ini_page(src):
    src = roff_text(src)
    missing = []
    for sec, key in sorted(profile_keys()):
        m = re.search(r"^\.SS \[" + re.escape(sec) + r"\]\n(.*?)(?=^\.S[SH] |\Z)", src, re.M | re.S)
        if not m:
            missing.append(f"section [{sec}]")
        elif not re.search(r"^\.BR? " + re.escape(key) + r"\b", m.group(1), re.M):
            missing.append(f"key {key} in [{sec}]")
    return missing


def missing_in_env(src):
    env = roff_text(section(src, "ENVIRONMENT"))
    return [v for v in sorted(env_vars())
            if not re.search(r"^\.BR? " + re.escape(v) + r"\b", env, re.M)]


def test_every_profile_key_in_man():
    missing = missing_in_ini_page(read("man", "pywarm.ini.5"))
    assert not missing, "pywarm.ini(5) lacks: " + ", ".join(missing)


def test_every_env_var_in_man():
    missing = missing_in_env(read("man", "pywarm.1"))
    assert not missing, "the ENVIRONMENT of pywarm(1) lacks: " + ", ".join(missing)


def test_drift_checks_have_teeth():
    """Each check notices a page with one command, option, key or variable gone."""
    ctl = read("man", "pywarmctl.1")
    assert missing_in_ctl_page(ctl.replace(".B disable\n", ".B disabled\n")) == \
        ["command disable (no .TP paragraph under COMMANDS)"]
    assert "option --all of stop" in missing_in_ctl_page(ctl.replace("\\-\\-all", "\\-\\-every"))
    ini = read("man", "pywarm.ini.5")
    assert missing_in_ini_page(ini.replace(".B idle_timeout", ".B idle")) == ["key idle_timeout in [zygote]"]
    env = read("man", "pywarm.1")
    assert missing_in_env(env.replace(".B PYWARM_DISABLE", ".B PYWARM_ENABLE")) == ["PYWARM_DISABLE"]


# What SECURITY in pywarm(1) must speak of: (what, pattern in its text).
SECURITY_POINTS = [
    ("who is trusted", r"own unconfined processes are trusted"),
    ("other users are not", r"not other users"),
    ("confined runs are not", r"confined by a sandbox"),
    ("processes other than the zygote are not", r"any process other than the zygote"),
    ("the zygote judges each request's sender", r"sender's\s+credentials"),
    ("the launcher verifies the zygote's socket", r"socket directory of\s+mode 0700"),
    ("non-dumpable zygote and pooled children", r"not dumpable"),
    ("a run can never run twice", r"starts at most once"),
    ("bounded waits", r"Every wait has a bound"),
    ("other users' profiles are ignored", r"not owned by the user or root"),
    ("no run sees another's environment", r"another run's environment"),
    ("every sandbox: seccomp and no_new_privs", r"seccomp\s+filter with\s+no_new_privs"),
    ("Landlock ptrace and signal scoping", r"Landlock scopes it"),
    ("what a sandbox does not guarantee", r"does not make hostile code harmless"),
    ("memory shared with the zygote is readable", r"memory is a copy of the zygote's"),
    ("shared address-space layout", r"address-space layout"),
    ("shared stack canary", r"stack-protector canary"),
    ("the mitigation", r"PYWARM_DISABLE=1"),
]


def security_gaps(src):
    """The SECURITY_POINTS the SECURITY section of src does not make."""
    text = re.sub(r"\s+", " ", re.sub(r"^\.\w+ ?", "", roff_text(section(src, "SECURITY")), flags=re.M))
    return [what for what, pat in SECURITY_POINTS
            if not re.search(pat.replace(r"\s+", " "), text)]


def test_security_section():
    """pywarm(1) has a SECURITY section: the threat model, what each sandbox
    guarantees and what not, and the address-space layout runs share."""
    src = read("man", "pywarm.1")
    assert not security_gaps(src), "SECURITY in pywarm(1) lacks: " + ", ".join(security_gaps(src))
    assert security_gaps(src.replace("stack-protector canary", "canary")) == ["shared stack canary"]
    for policy in ("default", "no\\-network", "no\\-exec", "no\\-fork", "read_only", "read_write"):
        assert f".B {policy}\n" in section(src, "SECURITY"), f"SECURITY does not name policy {policy}"


def test_limitations_speak_of_proc_and_cgroups():
    """LIMITATIONS says what /proc/self/cmdline and environ show, and which
    cgroup accounting stays the zygote's."""
    text = re.sub(r"\s+", " ", roff_text(section(read("man", "pywarm.1"), "LIMITATIONS")))
    for pat in ("PR_SET_MM_MAP", "joins the caller's cgroup", "stays charged to the zygote's cgroup",
                "pids.max", "memory.max"):
        assert pat in text, f"LIMITATIONS of pywarm(1) lacks {pat!r}"
