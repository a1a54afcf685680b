"""The suite runs on a fresh machine: no test relies on a ``python`` found on PATH.

conftest puts a failing stub named ``python`` first on PATH for the session; this checks it is in
force, so a test that runs a bare ``python`` fails here exactly as it would on a machine that has
none (Debian's default).
"""

from __future__ import annotations

import shutil
import subprocess

from conftest import BARE_PYTHON_NAMES


def test_a_bare_python_on_path_fails_loudly() -> None:
    for name in BARE_PYTHON_NAMES:
        found = shutil.which(name)
        assert found is not None
        out = subprocess.run([name, "-c", "print(1)"], capture_output=True, text=True, check=False)
        assert out.returncode == 127, (found, out)
        assert f"a bare '{name}' from PATH ran" in out.stderr
