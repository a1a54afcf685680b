"""`perfop --help` stays fast: the heavy libraries load only when a verb needs them.

Checked by what gets imported, not by a wall-clock limit (this machine is shared and noisy).
"""

from __future__ import annotations

import json
import subprocess
import sys

# pydantic is not listed: Typer itself (0.29) imports it to build any command's help.
HEAVY = ("numpy", "scipy", "matplotlib", "mcp", "httpx", "sqlalchemy", "jinja2", "yaml")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return {m.split(".")[0] for m in json.loads(out.strip().splitlines()[-1])}


def test_help_imports_no_heavy_library() -> None:
    code = (
        "from perfop.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
    )
    loaded = _modules_after(code)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_every_verbs_help_imports_no_heavy_library() -> None:
    # Each verb's own --help too: options are declared without importing the services.
    code = (
        "from perfop.cli import main, app\n"
        "import contextlib, io\n"
        "import typer.main\n"
        "group = typer.main.get_command(app)\n"
        "for name in group.commands:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert main([name, '--help']) == 0, name\n"
    )
    loaded = _modules_after(code)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
