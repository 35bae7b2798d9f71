# test_planted.py: files another user planted (profiles, symlinks, warmup scripts, trust stores) never steer a run, and the run stays python3's.
#
# The victim is the user running the tests (root): another user, made for the
# test, "plants" a file by owning it (chown/lchown), which is all that the
# checks can see of who wrote it.  /tmp itself is never touched (other test
# runs share it): a directory with mode 1777 inside the session tree stands in
# for it.

import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import assert_cold, assert_same, assert_warm, needs_pywarm, write_files
from helpers import dirs_below, modes, temp_user

# A build against /usr/bin/python3 (make PYTHON=/usr/bin/python3 BUILDDIR=...),
# which a user other than root can run (root's home, where pyenv keeps the
# usual interpreter, is closed to it).
DEB = os.environ.get("PYWARM_DEB_BUILDDIR")
DEB_PYTHON = "/usr/bin/python3"

pytestmark = needs_pywarm

# Fails under a no-network sandbox, so that a profile's [sandbox] shows.
PROG = "import socket, sys; socket.socket(socket.AF_INET).close(); print('ran', sys.argv[1:])"
SANDBOXED = "[preload]\nmodules = json\n\n[sandbox]\npolicy = no-network\n"
BROKEN_SANDBOX = "[sandbox]\npolicy = nonet\n"
PLAIN = "[preload]\nmodules = json\n"


@pytest.fixture(scope="module")
def other():
    with temp_user() as user:
        yield user


def plant(path, text, uid, mode=0o644):
    """A file at path with text, owned by uid, with exactly this mode."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, uid, uid)
    os.chmod(path, mode)
    return path


def plant_link(path, target, uid):
    os.symlink(target, path)
    os.lchown(path, uid, uid)
    return path


def shared_dir(path, mode, gid=None):
    """A directory others may write to (mode 1777 stands in for /tmp)."""
    os.makedirs(path)
    if gid is not None:
        os.chown(path, 0, gid)
    os.chmod(path, mode)
    return path


def home_of(wd, user):
    """A HOME that belongs to user (what root sees under sudo -E)."""
    home = os.path.join(wd, "home-" + user.pw_name)
    os.makedirs(home)
    os.chown(home, user.pw_uid, user.pw_gid)
    os.chmod(home, 0o755)
    return home


def user_dirs(root, rel, user):
    """Make root/rel (each part owned by user, 0700) and return its path."""
    path = root
    for part in rel.split("/"):
        path = os.path.join(path, part)
        os.mkdir(path, 0o700)
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def pywarm_lines(err):
    return [l for l in err.decode(errors="replace").splitlines() if l.startswith("pywarm")]


def which(pw, cwd, env=None):
    return pw.ctl("which", cwd=cwd, env=env).stdout.decode()


def which_value(text, key):
    m = re.search(rf"^\s+{key}\s+(\S+)", text, re.M)
    return m.group(1) if m else None


def stop(pw, cwd, env):
    pw.ctl("stop", cwd=cwd, env=env, check=False)


# ---------------------------------------------------------------- planted profiles

@pytest.mark.parametrize("body", [SANDBOXED, BROKEN_SANDBOX, PLAIN], ids=["sandbox", "bad-sandbox", "plain"])
def test_profile_planted_in_a_sticky_directory_is_ignored(pw, wd, other, body):
    """Another user's .pywarm.ini in a /tmp-like directory: the run is
    python3's, byte for byte (no 126, no line on stderr), and warm on the
    profile that applies without it."""
    tmp = shared_dir(os.path.join(wd, "tmp"), 0o1777)
    plant(os.path.join(tmp, ".pywarm.ini"), body, other.pw_uid)
    sub = os.path.join(tmp, "work")
    os.mkdir(sub)
    for cwd in (tmp, sub):
        real, pyw = pw.run_both(["-c", PROG, "x"], cwd=cwd)
        assert_same(real, pyw)
        assert real.out == b"ran ['x']\n"
        assert_warm(pyw)
        assert "ignoring " + os.path.join(tmp, ".pywarm.ini") in pyw.trace, pyw.describe()


@pytest.mark.parametrize("mode,group", [(0o777, False), (0o775, True), (0o1777, False)],
                         ids=["world-writable", "group-writable", "sticky"])
def test_profile_in_a_directory_others_can_write_is_ignored(pw, wd, other, mode, group):
    """Even a file of our own (root's) is ignored when others can write to
    its directory: they could have put it there, or what it names."""
    d = shared_dir(os.path.join(wd, "open"), mode, other.pw_gid if group else None)
    write_files(d, {".pywarm.ini": BROKEN_SANDBOX})
    real, pyw = pw.run_both(["-c", PROG, "y"], cwd=d)
    assert_same(real, pyw)
    assert_warm(pyw)
    out = which(pw, d)
    assert "profile (built-in)" in out, out
    assert re.search(r"ignored\s+.*refusing a profile in .*lets group or others write to it", out), out


@pytest.mark.parametrize("body", [SANDBOXED, PLAIN], ids=["sandbox", "plain"])
def test_profile_owned_by_another_user_is_ignored(pw, wd, other, body):
    """Another user's file in a directory of ours (a checkout they wrote
    into): ignored, where it used to print a line or refuse the run."""
    plant(os.path.join(wd, ".pywarm.ini"), body, other.pw_uid)
    real, pyw = pw.run_both(["-c", PROG, "z"], cwd=wd)
    assert_same(real, pyw)
    assert_warm(pyw)
    out = which(pw, wd)
    assert f"refusing a profile owned by uid {other.pw_uid}" in out, out


def test_search_goes_on_past_an_ignored_profile(pw, wd, other):
    """Below our own trusted project, another user's planted profile does
    not hide it: discovery goes on upward as if the file were not there."""
    write_files(wd, {".pywarm.ini": "[preload]\nmodules = json, csv\n"})
    pw.trust(wd)
    tmp = shared_dir(os.path.join(wd, "shared"), 0o1777)
    plant(os.path.join(tmp, ".pywarm.ini"), SANDBOXED, other.pw_uid)
    real, pyw = pw.run_both(["-c", PROG, "g"], cwd=tmp)
    assert_same(real, pyw)
    assert f"profile {wd}/.pywarm.ini (project)" in pyw.trace, pyw.describe()
    out = which(pw, tmp)
    assert f"profile {wd}/.pywarm.ini" in out and "trusted      yes" in out, out
    pw.ctl("start", "--wait", cwd=tmp, timeout=90)
    # Served by our project's zygote (its modules are a cache behind the
    # import system, so sys.modules does not show them).
    real, pyw = pw.run_both(["-c", PROG, "g"], cwd=tmp)
    assert_same(real, pyw)
    assert_warm(pyw)
    assert f"profile {wd}/.pywarm.ini (project)" in pyw.trace, pyw.describe()
    stop(pw, tmp, pw.env)


def test_user_profile_of_another_user_is_ignored(pw, wd, other):
    """sudo -E: root with another user's HOME does not take that user's
    profile (which here asks for a sandbox) for its own."""
    home = home_of(wd, other)
    cfg = user_dirs(home, ".config/pywarm", other)
    plant(os.path.join(cfg, "pywarm.ini"), SANDBOXED, other.pw_uid)
    env = pw.make_env({"HOME": home}, remove=("XDG_CONFIG_HOME",))
    try:
        real, pyw = pw.run_both(["-c", PROG, "u"], cwd=wd, env=env)
        assert_same(real, pyw)
        assert "profile (built-in)" in pyw.trace, pyw.describe()
        assert "ignoring " + os.path.join(cfg, "pywarm.ini") in pyw.trace
    finally:
        stop(pw, wd, env)


# ---------------------------------------------------------------- logs and traces

def test_log_is_never_written_through_another_users_symlink(pw, wd, other):
    """sudo -E: the zygote log that root's launch opens under another
    user's HOME is that user's symlink to a file of root's.  Root's file is
    left alone; the log goes to root's private socket directory."""
    victim = os.path.join(wd, "root-owned")
    with open(victim, "w") as f:
        f.write("precious\n")
    home = home_of(wd, other)
    env = pw.make_env({"HOME": home}, remove=("XDG_STATE_HOME",))
    state = user_dirs(home, ".local/state/pywarm", other)
    out = which(pw, wd, env)
    ident = which_value(out, "identity")
    plant_link(os.path.join(state, ident + ".log"), victim, other.pw_uid)
    try:
        pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
        real, pyw = pw.run_both(["-c", PROG, "l"], cwd=wd, env=env)
        assert_same(real, pyw)
        assert_warm(pyw)
    finally:
        stop(pw, wd, env)
    assert open(victim).read() == "precious\n"
    assert os.listdir(state) == [ident + ".log"], "pywarm wrote into another user's directory"
    ours = os.path.join(pw.run_dir, "pywarm", ident + ".log")
    assert "serving" in open(ours).read()
    assert which_value(which(pw, wd, env), "log") == ours


def test_state_directory_that_is_a_symlink_is_not_used(pw, wd, other):
    """$XDG_STATE_HOME/pywarm a symbolic link (to a directory of root's):
    nothing is created where it points."""
    elsewhere = os.path.join(wd, "elsewhere")
    os.mkdir(elsewhere, 0o755)
    st = os.path.join(wd, "st")
    os.mkdir(st, 0o700)
    os.symlink(elsewhere, os.path.join(st, "pywarm"))
    env = pw.make_env({"XDG_STATE_HOME": st, "OMP_NUM_THREADS": "3"})   # a zygote of its own
    try:
        pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90)
        real, pyw = pw.run_both(["-c", PROG, "s"], cwd=wd, env=env)
        assert_same(real, pyw)
        assert_warm(pyw)
    finally:
        stop(pw, wd, env)
    assert os.listdir(elsewhere) == []


@pytest.mark.parametrize("kind", ["symlink", "their-file"])
def test_trace_file_planted_in_a_sticky_directory(pw, wd, other, kind):
    """PYWARM_DEBUG=/tmp/t where another user put a symlink to root's file,
    or a file of their own: root's trace goes to neither; the program runs
    as under python3, with one line saying the trace is off."""
    tmp = shared_dir(os.path.join(wd, "tmp"), 0o1777)
    victim = os.path.join(wd, "root-owned")
    with open(victim, "w") as f:
        f.write("precious\n")
    trace = os.path.join(tmp, "trace")
    if kind == "symlink":
        plant_link(trace, victim, other.pw_uid)
        watched = victim
    else:
        plant(trace, "", other.pw_uid, 0o666)
        watched = trace
    env = pw.make_env({"PYWARM_DEBUG": trace})
    real = pw.run("real", ["-c", PROG, "t"], cwd=wd, env=env, trace="")
    pyw = pw.run("pywarm", ["-c", PROG, "t"], cwd=wd, env=env, trace="")
    assert open(watched).read() == ("precious\n" if kind == "symlink" else "")
    assert_same(real, pyw, err=False)
    lines = pyw.err.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"pywarm: not tracing to PYWARM_DEBUG={trace}: "), pyw.describe()
    # Our own file there is fine (sticky: no one else can replace it).
    mine = os.path.join(tmp, "mine")
    pyw = pw.run("pywarm", ["-c", PROG, "t"], cwd=wd, env=pw.make_env({"PYWARM_DEBUG": mine}), trace="")
    assert pyw.err == b"" and "event=warm " in open(mine).read()
    assert stat.S_IMODE(os.stat(mine).st_mode) == 0o600


# ---------------------------------------------------------------- warmup scripts

WARMUP_PROFILE = "[preload]\nmodules = json\nwarmup = warm.py\n"
PEEK = "import json, sys; print(getattr(json, 'WARMED', None))"


def test_warmup_edited_after_trust_needs_trust_again(pw, wd):
    """Trust covers the warmup script's bytes: once it changes, the project
    runs cold (as python3 would) until 'pywarmctl trust' approves it."""
    write_files(wd, {".pywarm.ini": WARMUP_PROFILE, "warm.py": "import json\njson.WARMED = 1\n"})
    pw.trust(wd)
    pw.ctl("start", "--wait", cwd=wd, timeout=90)
    pyw = pw.run_pywarm(["-c", PEEK], cwd=wd)
    assert pyw.out == b"1\n"
    assert_warm(pyw)

    with open(os.path.join(wd, "warm.py"), "w") as f:
        f.write("import json\njson.WARMED = 'edited, never approved'\n")
    p = pw.ctl("start", "--wait", cwd=wd, check=False, timeout=90)
    real, pyw = pw.run_both(["-c", PEEK], cwd=wd)
    assert_same(real, pyw)
    assert pyw.out == b"None\n"
    assert_cold(pyw)
    assert p.returncode != 0 and b"changed since it was trusted" in p.stderr, p
    assert "changed since it was trusted" in which(pw, wd)

    out = pw.trust(wd).stdout.decode()
    assert "with its warmup script " + os.path.join(wd, "warm.py") in out, out
    pw.ctl("start", "--wait", cwd=wd, timeout=90)
    pyw = pw.run_pywarm(["-c", PEEK], cwd=wd)
    assert pyw.out == b"edited, never approved\n"
    assert_warm(pyw)
    stop(pw, wd, pw.env)


def test_zygote_runs_the_warmup_bytes_it_checked(pw, wd):
    """No re-read: a module preloaded before the warmup script rewrites the
    script (as a checkout racing the zygote would); the zygote still runs
    the bytes it checked against the trust store, and the changed file is
    never run (its successor finds it untrusted)."""
    marker = os.path.join(wd, "marker")
    warm = os.path.join(wd, "warm.py")
    write_files(wd, {
        ".pywarm.ini": "[preload]\nmodules = racer\nwarmup = warm.py\n",
        "warm.py": f"open({marker!r}, 'a').write('checked\\n')\n",
        "lib/racer.py": f"open({warm!r}, 'w').write(\"open({marker!r}, 'a').write('raced\\\\n')\\n\")\n"})
    env = pw.make_env({"PYTHONPATH": os.path.join(wd, "lib")})
    pw.trust(wd, env=env)
    try:
        # It exits while warming: the file changed under it; its successor
        # refuses the changed script (and it waits up to 5 s for that one).
        pw.ctl("start", "--wait", cwd=wd, env=env, check=False, timeout=90)
        assert open(warm).read().endswith("'raced\\n')\n"), "the module did not rewrite the script"
        assert open(marker).read() == "checked\n"
    finally:
        stop(pw, wd, env)


def user_profile_env(pw, wd, profile):
    cfg = os.path.join(wd, "cfg")
    os.makedirs(os.path.join(cfg, "pywarm"), mode=0o700)
    write_files(cfg, {"pywarm/pywarm.ini": profile})
    return pw.make_env({"XDG_CONFIG_HOME": cfg})


@pytest.mark.parametrize("how", ["other-user", "world-writable", "in-open-directory"])
def test_unsafe_warmup_script_is_refused(pw, wd, other, how):
    """A warmup script another user owns, or anyone may write (or replace):
    never executed; the profile is refused like any broken one (one line,
    the program runs cold)."""
    marker = os.path.join(wd, "marker")
    code = f"open({marker!r}, 'w').write('ran as uid %d' % __import__('os').getuid())\n"
    where = os.path.join(wd, "scripts")
    if how == "in-open-directory":
        shared_dir(where, 0o1777)
        write_files(where, {"warm.py": code})
    else:
        os.mkdir(where)
        plant(os.path.join(where, "warm.py"), code, other.pw_uid if how == "other-user" else 0,
              0o644 if how == "other-user" else 0o666)
    script = os.path.join(where, "warm.py")
    env = user_profile_env(pw, wd, f"[preload]\nmodules = json\nwarmup = {script}\n")
    try:
        p = pw.ctl("start", "--wait", cwd=wd, env=env, check=False, timeout=90)
        assert not os.path.exists(marker), open(marker).read()
        assert p.returncode != 0, p
        real, pyw = pw.run_both(["-c", PROG, "w"], cwd=wd, env=env)
        assert_same(real, pyw, err=False)
        lines = pywarm_lines(pyw.err)
        assert len(lines) == 1 and f"warmup: {script}: refusing a warmup script" in lines[0], pyw.describe()
        assert_cold(pyw)
    finally:
        stop(pw, wd, env)
    assert not os.path.exists(marker), open(marker).read()


def test_project_with_another_users_warmup_cannot_be_trusted(pw, wd, other):
    write_files(wd, {".pywarm.ini": WARMUP_PROFILE})
    plant(os.path.join(wd, "warm.py"), "import json\njson.WARMED = 'theirs'\n", other.pw_uid)
    p = pw.ctl("trust", wd, check=False)
    assert p.returncode == 1 and b"refusing a warmup script owned by uid" in p.stderr, p
    assert b"not trusting" in p.stderr
    real, pyw = pw.run_both(["-c", PEEK], cwd=wd)
    assert_same(real, pyw)


# ---------------------------------------------------------------- the trust store

def test_trust_store_of_another_user_is_ignored(pw, wd, other):
    """sudo -E: a trust store under another user's HOME, which 'trusts' a
    profile of root's, approves nothing; the run is python3's, silently, and
    'pywarmctl trust' writes nothing into that HOME."""
    import hashlib
    write_files(wd, {".pywarm.ini": PLAIN})
    ini = os.path.join(wd, ".pywarm.ini")
    home = home_of(wd, other)
    data = user_dirs(home, ".local/share/pywarm", other)
    digest = hashlib.sha256(open(ini, "rb").read()).hexdigest()
    plant(os.path.join(data, "trusted"), f"{digest}  {ini}\n", other.pw_uid, 0o600)
    env = pw.make_env({"HOME": home}, remove=("XDG_DATA_HOME",))
    real, pyw = pw.run_both(["-c", PROG, "ts"], cwd=wd, env=env)
    assert_same(real, pyw)
    assert_cold(pyw)
    assert "not trusted" in pyw.trace
    out = which(pw, wd, env)
    assert "trusted      no" in out and "ignored: trust store" in out, out
    before = sorted(os.listdir(data))
    for cmd in ("trust", "untrust"):
        p = pw.ctl(cmd, wd, env=env, check=False)
        assert p.returncode == 1 and b"trust store directory" in p.stderr, p
    assert sorted(os.listdir(data)) == before
    assert all(os.stat(os.path.join(data, n)).st_uid == other.pw_uid for n in before)


# ---------------------------------------------------------------- directories pywarm makes

def test_runtime_directory_of_another_user_is_not_used(pw, wd, other):
    """sudo -E keeps XDG_RUNTIME_DIR=/run/user/<theirs>: root's socket
    directory is not made inside it (its owner could swap it), but in
    /tmp/pywarm-0."""
    rt = user_dirs(wd, "run-" + other.pw_name, other)
    env = pw.make_env({"XDG_RUNTIME_DIR": rt, "PYWARM_DISABLE": "1"})
    real, pyw = pw.run_both(["-c", PROG, "rt"], cwd=wd, env=env)
    assert os.listdir(rt) == [], "pywarm made its socket directory inside another user's"
    assert_same(real, pyw)
    out = which(pw, wd, env)
    assert which_value(out, "socket").startswith(f"/tmp/pywarm-{os.geteuid()}/"), out
    assert os.listdir(rt) == []


def test_untrusted_project_profile_says_nothing_of_its_problems(pw, wd, other):
    """Not trusted: not used, and not reported, whatever is wrong with it
    (here a syntax error, there another user's warmup script)."""
    write_files(wd, {"a/.pywarm.ini": "[preload\nmodules = json\n",
                     "b/.pywarm.ini": WARMUP_PROFILE})
    plant(os.path.join(wd, "b", "warm.py"), "pass\n", other.pw_uid)
    for sub in ("a", "b"):
        real, pyw = pw.run_both(["-c", PROG, sub], cwd=os.path.join(wd, sub))
        assert_same(real, pyw)
        assert_cold(pyw)
        assert "not trusted" in pyw.trace, pyw.describe()


# ---------------------------------------------------------------- a victim that is not root

@pytest.mark.skipif(not DEB or not os.access(os.path.join(DEB or "/", "pywarm"), os.X_OK),
                    reason="set PYWARM_DEB_BUILDDIR to a build against /usr/bin/python3")
@pytest.mark.parametrize("body", [BROKEN_SANDBOX, PLAIN], ids=["bad-sandbox", "plain"])
def test_profile_planted_for_another_unprivileged_user(pw, wd, other, body):
    """The issue's case for any user, not only root: one user plants
    .pywarm.ini in a /tmp-like directory, another runs python there."""
    with temp_user() as victim:
        home = home_of(wd, victim)
        tmp = shared_dir(os.path.join(wd, "tmp"), 0o1777)
        plant(os.path.join(tmp, ".pywarm.ini"), body, other.pw_uid)
        # No XDG_RUNTIME_DIR: the socket directory is /tmp/pywarm-UID (a
        # path in the session tree would be too long for a socket).  Cold
        # (PYWARM_DISABLE): the profile is found all the same, and no
        # zygote of that user is left behind.
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "PYWARM_DEBUG": "1", "PYWARM_DISABLE": "1"}
        sockdir = f"/tmp/pywarm-{victim.pw_uid}"
        existed = os.path.exists(sockdir)     # a uid reused after another test's user
        got = {}
        with modes([(d, 0o711) for d in dirs_below(pw.tmp, tmp)]):
            for side, exe in (("real", DEB_PYTHON), ("pywarm", os.path.join(DEB, "pywarm"))):
                p = subprocess.run([exe, "-c", PROG, "v"], cwd=tmp, env=env, capture_output=True,
                                   timeout=60, user=victim.pw_uid, group=victim.pw_gid,
                                   extra_groups=[], stdin=subprocess.DEVNULL)
                got[side] = p
        if not existed:
            shutil.rmtree(sockdir, ignore_errors=True)
        real, pyw = got["real"], got["pywarm"]
        ours = [l for l in pyw.stderr.decode().splitlines() if ": debug: " not in l and ": event=" not in l]
        assert (pyw.returncode, pyw.stdout, ours) == (real.returncode, real.stdout, []), (real, pyw)
        assert real.stdout == b"ran ['v']\n"
        assert "ignoring " + os.path.join(tmp, ".pywarm.ini") in pyw.stderr.decode()


@pytest.mark.parametrize("kind", ["dangling", "to-a-file"])
def test_lock_file_that_is_a_symlink_is_not_followed(pw, wd, kind):
    """A symbolic link where a zygote's lock file belongs: the zygote
    neither creates nor locks what it names and does not serve; the run is
    python3's, cold, exactly once."""
    env = pw.make_env({"OMP_NUM_THREADS": "7"})          # an identity of its own
    ident = which_value(which(pw, wd, env), "identity")
    sockdir = os.path.join(pw.run_dir, "pywarm")
    os.makedirs(sockdir, mode=0o700, exist_ok=True)
    target = os.path.join(wd, "named-by-the-link")
    if kind == "to-a-file":
        write_files(wd, {"named-by-the-link": "precious\n"})
    lock = os.path.join(sockdir, ident + ".lock")
    os.symlink(target, lock)
    try:
        p = pw.ctl("start", "--wait", cwd=wd, env=env, timeout=90, check=False)
        assert p.returncode != 0, p
        real, pyw = pw.run_both(["-c", PROG, "k"], cwd=wd, env=env)
        assert_same(real, pyw)
        assert_cold(pyw)
        assert os.path.islink(lock)
        if kind == "dangling":
            assert not os.path.lexists(target)
        else:
            assert open(target).read() == "precious\n"
        log = open(os.path.join(pw.state_dir, "pywarm", ident + ".log")).read()
        assert re.search(r"warning: cannot open \S+\.lock: Too many levels of symbolic links", log), log
    finally:
        stop(pw, wd, env)
        os.unlink(lock)
