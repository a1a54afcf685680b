"""scripts/check_test_report.py: CI fails when a PostgreSQL, hyperfine or chromium test was not
run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_test_report.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_test_report", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(tmp_path: Path, counts: dict, tests: dict | None = None) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"counts": counts, "tests": tests or {}}), encoding="utf-8")
    return path


ALL_RAN = {
    "all": {"passed": 10},
    "postgres": {"passed": 4},
    "hyperfine": {"passed": 1},
    "chromium": {"passed": 2},
    "slow": {"passed": 3},
}


def test_everything_required_ran(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _module().main([str(_report(tmp_path, ALL_RAN))]) == 0
    out = capsys.readouterr().out
    assert out == (
        "ci: ran 10 passed | chromium: 2 passed; hyperfine: 1 passed; postgres: 4 passed; "
        "slow: 3 passed\n"
    )


def test_a_skipped_postgres_test_fails_and_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    counts = {
        **ALL_RAN,
        "all": {"passed": 9, "skipped": 1},
        "postgres": {"passed": 3, "skipped": 1},
    }
    tests = {"tests/x.py::test_db[postgresql]": {"outcome": "skipped", "markers": ["postgres"]}}
    assert _module().main([str(_report(tmp_path, counts, tests))]) == 1
    out = capsys.readouterr().out
    assert "ci: skipped: tests/x.py::test_db[postgresql]" in out
    assert "ci: FAIL: 1 postgres test(s) did not run" in out


@pytest.mark.parametrize("marker", ["hyperfine", "chromium"])
def test_a_tool_whose_tests_never_ran_fails(tmp_path: Path, marker: str) -> None:
    counts = {k: v for k, v in ALL_RAN.items() if k != marker}
    assert _module().main([str(_report(tmp_path, counts))]) == 1
    deselected = {**ALL_RAN, marker: {"deselected": 2}}
    assert _module().main([str(_report(tmp_path, deselected))]) == 1


def test_a_missing_report_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _module().main([str(tmp_path / "none.json")]) == 1
    assert "pytest stopped early" in capsys.readouterr().out
