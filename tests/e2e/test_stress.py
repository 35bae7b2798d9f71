# test_stress.py: a short run of tests/stress.py (make stress runs the full 10,000 launches).

import os
import subprocess
import sys

from conftest import BUILD, REPO, needs_pywarm


@needs_pywarm
def test_short_stress():
    """A few hundred mixed launches from 16 clients: every output and status
    right, and the zygote's fds, children and RSS back where they were."""
    env = dict(os.environ, PYWARM_BUILDDIR=BUILD)
    p = subprocess.run([sys.executable, os.path.join(REPO, "tests", "stress.py"), "--launches", "300",
                        "--clients", "16"], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "stress: ok" in p.stdout
