"""The report reads stored evidence through the records' loaders (``perfop.records``), never a
stored document's keys with ``.get`` and a default of its own (issue 20). The ``.get`` calls left
in ``src/perfop/report`` are on the report's own lookup tables, each listed here with why."""

from __future__ import annotations

import ast
from pathlib import Path

import perfop

REPORT = Path(perfop.__file__).resolve().parent / "report"
# file -> receiver of ``.get`` -> what it is (none of them is a stored document)
OWN_TABLES = {
    "content.py": {"order": "outcome rank for sorting"},
    "data.py": {
        "run.metric_specs": "the run record's metric specs (typed MetricSpec values)",
        "specs": "metric specs passed in",
        "BUILTIN_METRICS": "perfop.model's table of built-in metrics",
        "config.workloads": "the validated configuration's workloads",
        "all_commits": "commits by (base, candidate), from git log",
        "ctx['designs']": "design records by hypothesis id",
        "seen": "redact_text's cache",
    },
    "files.py": {"doc": "an existing report file's schema field (is it perfop's own?)"},
    "markdown.py": {"_ENTITIES": "escape table", "c.SLO_STATE_LABEL": "label table"},
    "plots.py": {"_COLORS": "verdict colours"},
    "validations.py": {
        "self._evidence": "loaded evidence by validation id",
        "self.samples": "samples by (comparison, workload, side)",
        "units": "units by metric name, from the loaded comparison",
        "reader.docs": "loaded comparisons by id",
    },
}


def get_calls(source: str) -> list[str]:
    """The receiver of every ``X.get(...)`` call in ``source``."""
    return [
        ast.unparse(node.func.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
    ]


def test_the_report_calls_get_only_on_its_own_tables() -> None:
    found = {}
    for path in sorted(REPORT.rglob("*.py")):
        name = str(path.relative_to(REPORT))
        allowed = OWN_TABLES.get(name, {})
        other = [r for r in get_calls(path.read_text(encoding="utf-8")) if r not in allowed]
        if other:
            found[name] = other
    assert found == {}, "read stored documents through perfop.records' loaders"


def test_the_scan_finds_a_stored_document_read_by_key() -> None:
    old = 'seed = ev.get("seed")\npassed = (doc or {}).get("candidate_ok", doc.get("passed"))\n'
    assert get_calls(old) == ["ev", "doc or {}", "doc"]
