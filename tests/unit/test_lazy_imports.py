"""`perfop --help` stays fast: the heavy libraries load only when a verb needs them.

Checked by what gets imported, not by a wall-clock limit (this machine is shared and noisy).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


# The whole import set, per verb: every third-party top-level package a verb loads is listed
# here, so a new import on these paths fails this test instead of slowing every command down.
# Budgets in time are in docs/benchmarks.md ("Start-up"); this guards what they are made of.
HELP_SET = {"perfop", "typer", "annotated_doc", "shellingham"}
# Typer builds each option's parser with pydantic as soon as a verb's own options are parsed.
VERB_HELP_SET = HELP_SET | {
    "pydantic", "pydantic_core", "annotated_types", "typing_extensions", "typing_inspection"
}  # fmt: skip
# `run -- CMD`: the store (SQLAlchemy), the summary table (NumPy), the terminal (Rich).
RUN_SET = VERB_HELP_SET | {"sqlalchemy", "numpy", "rich", "cython_runtime"}


def _third_party_after(code: str) -> set[str]:
    # Less what the interpreter loads before any code runs: a distribution's site hooks
    # (Debian's python3 imports ``sitecustomize``) are no import of perfop's.
    loaded = _modules_after(code) - _modules_after("pass")
    return {m for m in loaded - set(sys.stdlib_module_names) if not m.startswith("_")}


def test_help_import_set_is_exactly_the_cli() -> None:
    code = (
        "from perfop.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
    )
    assert _third_party_after(code) - HELP_SET == set()


def test_run_help_import_set() -> None:
    code = (
        "from perfop.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['run', '--help']) == 0\n"
    )
    assert _third_party_after(code) - VERB_HELP_SET == set()


def test_run_of_a_command_import_set(tmp_path: Path) -> None:
    # No SciPy, matplotlib, Jinja, httpx, MCP, YAML on the way to one measured process.
    store = f"sqlite:///{tmp_path / 's.db'}"
    code = (
        "from perfop.cli import main\n"
        "import contextlib, io\n"
        "out, err = io.StringIO(), io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):\n"
        f"    assert main(['--store', {store!r}, 'run', '--runs', '1', '--format', 'json', "
        "'--', 'true']) == 0\n"
    )
    assert _third_party_after(code) - RUN_SET == set()


def test_the_budget_planner_needs_no_scipy() -> None:
    # Issue 18: importing scipy.stats for a constant cost up to 3.4 s under load, counted in
    # the comparison's budget before anything was measured.
    code = (
        "from perfop import budget\n"
        "assert budget.min_pairs_for_verdict(alpha=0.05, trim=0.2) == 5\n"
        "assert budget.min_pairs_for_verdict(alpha=0.01, trim=0.2) == 7\n"
    )
    assert "scipy" not in _modules_after(code)
