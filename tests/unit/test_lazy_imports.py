"""`perfop --help` stays fast: the heavy libraries load only when a verb needs them.

Checked by what gets imported, not by a wall-clock limit (this machine is shared and noisy).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("numpy", "scipy", "matplotlib", "mcp", "httpx", "sqlalchemy", "jinja2", "yaml")


def _all_modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def _modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    return {m.split(".")[0] for m in _all_modules_after(code, env)}


def _perfop_after(code: str) -> set[str]:
    return {m for m in _all_modules_after(code) if m == "perfop" or m.startswith("perfop.")}


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
# A verb's own --help: the same (the root options, absent, no longer build Typer's pydantic
# coercion; perfop.cli.lazy).
VERB_HELP_SET = HELP_SET
# `run -- CMD`, piped: Typer's option coercion and the config (pydantic), the store
# (SQLAlchemy). Not NumPy: a run's summary is computed in Python up to 1000 samples
# (perfop.describe, bit-identical to NumPy's), and small sample blocks decode with struct.
# Not Rich: the table, the machine line and the warnings are written as the console printed
# them (perfop.render.run.plain_run_table; a terminal, or a cell Rich would print otherwise,
# still goes through Rich).
RUN_SET = VERB_HELP_SET | {
    "pydantic", "pydantic_core", "annotated_types", "typing_extensions", "typing_inspection",
    "sqlalchemy", "cython_runtime",
}  # fmt: skip
# `runs list`: the same (plain columns, written without a console when piped).
RUNS_LIST_SET = RUN_SET
# `history W`: the store and NumPy (change points; SciPy only for their p-values).
HISTORY_SET = RUNS_LIST_SET | {"numpy", "scipy"}
# The table modules of areas these verbs do not read: an up-to-date store opens without them
# (perfop.store.TABLES names every table).
OTHER_AREAS = {
    "perfop.store.engagement", "perfop.store.compare", "perfop.store.profiles",
    "perfop.store.agent", "perfop.store.reports",
}  # fmt: skip
# perfop's own modules: the top-level help imports no verb's module (perfop.cli.verbs lists
# the verbs), a verb's help only its own.
HELP_PERFOP = {
    "perfop", "perfop.cli", "perfop.cli.common", "perfop.cli.lazy", "perfop.cli.verbs",
    "perfop.errors", "perfop.interrupts", "perfop.registry",
}  # fmt: skip
RUN_HELP_PERFOP = HELP_PERFOP | {"perfop.cli.run", "perfop.cli.progress"}
# Modules that `run -- CMD` has no use for (comparisons, reports, profiling, agents, worktrees).
NOT_ON_THE_RUN_PATH = {
    "perfop.compare.service", "perfop.compare.pairs", "perfop.compare.calibrate",
    "perfop.history.changepoint", "perfop.report", "perfop.history.publish",
    "perfop.profiling.service", "perfop.mcp", "perfop.agent", "perfop.measure.worktrees",
    "perfop.engagement.service", "perfop.history.service", "perfop.history.exports",
}  # fmt: skip


# Parts of the libraries `run -- CMD` does load that it has no use for: the ORM and the other
# dialects (the store is SQLAlchemy Core on SQLite here), Typer's pydantic coercion and Rich
# help (perfop.cli.lazy), Rich's live display (the progress bar is for a terminal only), and
# the statistics module (a run's summary is perfop.describe). Any of them coming back on
# this path costs every measured command its import.
NOT_ON_THE_RUN_PATH_LIBS = {
    "sqlalchemy.orm", "sqlalchemy.ext", "sqlalchemy.dialects.postgresql", "psycopg",
    "typer._adapters", "typer.rich_utils", "rich.progress", "rich.live", "rich.traceback",
    "rich.pretty", "perfop.stats", "perfop.compare.slo",
}  # fmt: skip


def _third_party_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    # Less what the interpreter loads before any code runs: a distribution's site hooks
    # (Debian's python3 imports ``sitecustomize``) are no import of perfop's.
    loaded = _modules_after(code, env) - _modules_after("pass")
    return {m for m in loaded - set(sys.stdlib_module_names) if not m.startswith("_")}


def test_help_import_set_is_exactly_the_cli() -> None:
    code = (
        "from perfop.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
    )
    assert _third_party_after(code) - HELP_SET == set()
    assert _perfop_after(code) == HELP_PERFOP


def test_run_help_import_set() -> None:
    code = (
        "from perfop.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['run', '--help']) == 0\n"
    )
    assert _third_party_after(code) - VERB_HELP_SET == set()
    assert _perfop_after(code) == RUN_HELP_PERFOP


def test_the_console_scripts_help_import_set() -> None:
    # What `perfop --help` loads as a process: the entry point (perfop.compare.budget, in a
    # package whose __init__ is a docstring, marks the process as the command's) and nothing of
    # any verb.
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "perfop", "--help"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    loaded = {
        line.rsplit("|", 1)[1].strip()
        for line in out.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "Commands:" in out.stdout
    perfop = {m for m in loaded if m == "perfop" or m.startswith("perfop.")}
    assert perfop == HELP_PERFOP | {"perfop.compare", "perfop.compare.budget"}, sorted(perfop)
    assert not loaded & {"pydantic", "rich", *HEAVY}


def _verb(store: str, *args: str) -> str:
    """Code running ``perfop --store STORE ARGS`` in-process, its output swallowed."""
    return (
        "from perfop.cli import main\n"
        "import contextlib, io\n"
        "out, err = io.StringIO(), io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):\n"
        f"    assert main(['--store', {store!r}, *{list(args)!r}]) == 0, err.getvalue()\n"
    )


def _store_with_runs(tmp_path: Path) -> str:
    """A store (up to date, every table) with two runs of ``true``, 3 samples each, at the
    commit of a git repository in ``tmp_path``."""
    store = f"sqlite:///{tmp_path / 's.db'}"
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-m", "perfop", "--store", store, "run", "--runs", "3", "--format",
             "json", "--", "true"],
            capture_output=True, check=True, cwd=tmp_path,
        )  # fmt: skip
    return store


def test_run_of_a_command_import_set(tmp_path: Path) -> None:
    # No NumPy, SciPy, matplotlib, Jinja, httpx, MCP, YAML on the way to one measured process
    # and its stored summary; no table module of another area. The second run finds the store
    # created, as most runs do.
    store = f"sqlite:///{tmp_path / 's.db'}"
    # Piped at the default width (pytest's COLUMNS=80 is narrower than the table, which Rich
    # then shrinks as it always did).
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    for text in ("--format", "json"), ("--format", "text"):
        code = _verb(store, "run", "--runs", "3", *text, "--", "true")
        loaded = _third_party_after(code, env)
        assert loaded - RUN_SET == set()
        assert not loaded & {"numpy", "rich"}, sorted(loaded & {"numpy", "rich"})
        every = _all_modules_after(code, env)
        assert not every & NOT_ON_THE_RUN_PATH_LIBS, sorted(every & NOT_ON_THE_RUN_PATH_LIBS)
        perfop = {m for m in every if m == "perfop" or m.startswith("perfop.")}
        assert {m for m in perfop if m.startswith("perfop.cli.")} == {
            m for m in RUN_HELP_PERFOP if m.startswith("perfop.cli.")
        }
        assert not perfop & NOT_ON_THE_RUN_PATH, sorted(perfop & NOT_ON_THE_RUN_PATH)
        other = OTHER_AREAS | {"perfop.store.history"}
        assert not perfop & other, sorted(perfop & other)


def test_runs_list_import_set(tmp_path: Path) -> None:
    store = _store_with_runs(tmp_path)
    code = _verb(store, "runs", "list", "--limit", "2000")
    # Piped at the default width (120; pytest exports COLUMNS=80, narrower than these lines,
    # which Rich then folds as it always did: tests/unit/test_run_render.py).
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    loaded = _third_party_after(code, env)
    assert loaded - RUNS_LIST_SET == set()
    assert not loaded & {"numpy", "rich"}
    perfop = _perfop_after(code)
    assert not perfop & (NOT_ON_THE_RUN_PATH | OTHER_AREAS), sorted(perfop & OTHER_AREAS)


def test_history_import_set(tmp_path: Path) -> None:
    store = _store_with_runs(tmp_path)
    code = _verb(store, "history", "adhoc", "--no-plot")
    assert _third_party_after(code) - HISTORY_SET == set()
    perfop = _perfop_after(code)
    assert not perfop & OTHER_AREAS, sorted(perfop & OTHER_AREAS)
    assert "perfop.report" not in perfop


def test_the_budget_planner_needs_no_scipy() -> None:
    # Issue 18: importing scipy.stats for a constant cost up to 3.4 s under load, counted in
    # the comparison's budget before anything was measured.
    code = (
        "from perfop.compare import budget\n"
        "assert budget.min_pairs_for_verdict(alpha=0.05, trim=0.2) == 5\n"
        "assert budget.min_pairs_for_verdict(alpha=0.01, trim=0.2) == 7\n"
    )
    assert "scipy" not in _modules_after(code)


def test_run_of_a_command_starts_the_spawner_before_the_heavy_imports(tmp_path: Path) -> None:
    # `perfop run -- CMD` starts its spawner (a `python -S` process, ~10-20 ms to start) before
    # it imports the store and the config, so that the two overlap; one spawner per command.
    store = f"sqlite:///{tmp_path / 's.db'}"
    code = (
        "import sys\n"
        "from perfop.measure import launch\n"
        "seen = []\n"
        "real = launch.Spawner.__init__\n"
        "def init(self):\n"
        "    seen.append(sorted(m for m in ('sqlalchemy', 'pydantic', 'perfop.store',"
        " 'perfop.config') if m in sys.modules))\n"
        "    real(self)\n"
        "launch.Spawner.__init__ = init\n"
        + _verb(store, "run", "--runs", "2", "--warmup", "1", "--", "true")
        + "print('SPAWNERS', seen)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout
    assert "SPAWNERS [[]]" in out, out
