"""One definition each: the redactor, the timestamp helper and the time scale live in one module;
no module grows its own copy of the UTC-timestamp one-liner again; a comparison's per-metric
result, a history and its points, and a validation's outcome are one record each, below the
store, and no other class (or type alias) in ``src/`` takes their names; so are the stored
evidence of a validation and a measurement's sub-documents, each read by one loader (issue 20)."""

from __future__ import annotations

import ast
from pathlib import Path

import perfop

SRC = Path(perfop.__file__).resolve().parent
ONE_HOME = {"Redactor": "redact.py", "utcnow": "clock.py", "time_scale": "render/__init__.py"}
# The records every layer shares (issue 20, "one comparison in three shapes"). Other modules may
# re-export them (``from perfop.records.history import History as History``), never define one.
ONE_RECORD = {
    "MetricResult": "records/comparison.py",
    "History": "records/history.py",
    "HistoryPoint": "records/history.py",
    "Outcome": "records/outcome.py",
    "StoredComparison": "records/comparison.py",
    "StoredWorkload": "records/comparison.py",
    # A validation's evidence as validate stores it and every reader loads it.
    "WorkloadEvidence": "records/evidence.py",
    "TestEvidence": "records/evidence.py",
    "StoredEvidence": "records/evidence.py",
    "StoredTests": "records/evidence.py",
    "SLOResult": "records/evidence.py",
    "StoredGoal": "records/evidence.py",
    "StoredBudget": "records/evidence.py",
    "StoredProbe": "records/evidence.py",
    "StoredProbes": "records/evidence.py",
    "StackedOn": "records/evidence.py",
    # What a measurement stores beside its numbers.
    "Spread": "records/measured.py",
    "StoredContention": "records/measured.py",
    "StoredCpuWall": "records/measured.py",
    "StoredDecision": "records/measured.py",
    "StoredEnvironment": "records/measured.py",
}
# One loader each for those stored documents: a second reader of the same document would drift.
ONE_LOADER = {
    "load_comparison": "records/comparison.py",
    "metric_from_row": "records/comparison.py",
    "load_evidence": "records/evidence.py",
    "load_workload_evidence": "records/evidence.py",
    "load_tests": "records/evidence.py",
    "load_slo": "records/evidence.py",
    "load_goal": "records/evidence.py",
    "load_budget": "records/evidence.py",
    "load_probes": "records/evidence.py",
    "load_stacked_on": "records/evidence.py",
    "load_contention": "records/measured.py",
    "load_cpu_vs_wall": "records/measured.py",
    "load_decision": "records/measured.py",
    "load_environment": "records/measured.py",
}


def _trees() -> dict[str, ast.Module]:
    return {
        str(p.relative_to(SRC)): ast.parse(p.read_text(encoding="utf-8"), str(p))
        for p in sorted(SRC.rglob("*.py"))
    }


def _defined(tree: ast.Module) -> set[str]:
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
    }


def _bound(tree: ast.Module) -> set[str]:
    """Names a module gives a class or value of its own: classes anywhere, and module-level
    assignments (a type alias such as ``Outcome = Literal[...]``, a ``create_model`` result)."""
    names = {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def stamp_helpers(tree: ast.Module) -> list[str]:
    """Functions whose whole job is ``datetime.now(...).isoformat(...)``."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef) or len(node.body) != 1:
            continue
        body = node.body[0]
        if not isinstance(body, ast.Return) or not isinstance(body.value, ast.Call):
            continue
        call = body.value.func
        if (
            isinstance(call, ast.Attribute)
            and call.attr == "isoformat"
            and isinstance(call.value, ast.Call)
            and isinstance(call.value.func, ast.Attribute)
            and call.value.func.attr == "now"
        ):
            found.append(node.name)
    return found


def test_each_shared_helper_is_defined_once() -> None:
    trees = _trees()
    for name, home in ONE_HOME.items():
        where = sorted(path for path, tree in trees.items() if name in _defined(tree))
        assert where == [home], f"{name} is defined in {where}; keep one, in {home}"


def test_each_shared_record_is_defined_once() -> None:
    trees = _trees()
    for name, home in ONE_RECORD.items():
        where = sorted(path for path, tree in trees.items() if name in _bound(tree))
        assert where == [home], f"a class or alias named {name} is in {where}; keep one, in {home}"


def test_each_stored_document_has_one_loader() -> None:
    trees = _trees()
    for name, home in ONE_LOADER.items():
        where = sorted(path for path, tree in trees.items() if name in _defined(tree))
        assert where == [home], f"{name} is defined in {where}; keep one, in {home}"


def test_the_record_scan_finds_a_second_definition() -> None:
    found = [
        _bound(ast.parse(src))
        for src in (
            "class History:\n    pass\n",
            "from typing import Literal\nOutcome = Literal['pass']\n",
            "def f():\n    class MetricResult: ...\n",
            "HistoryPoint: type = dict\n",
        )
    ]
    assert found == [{"History"}, {"Outcome"}, {"MetricResult"}, {"HistoryPoint"}]
    reexport = "from perfop.records.history import History as History\n"
    assert _bound(ast.parse(reexport)) == set()


def test_no_second_timestamp_helper() -> None:
    copies = {
        path: names
        for path, tree in _trees().items()
        if path != ONE_HOME["utcnow"] and (names := stamp_helpers(tree))
    }
    assert copies == {}, "use perfop.clock.utcnow"


def test_the_scan_finds_the_old_copies() -> None:
    old = "def _now() -> str:\n    return dt.datetime.now(dt.UTC).isoformat(timespec='seconds')\n"
    assert stamp_helpers(ast.parse(old)) == ["_now"]
