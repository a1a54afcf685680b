"""Triage of real-format job logs: GitHub Actions logs built from real pytest / Python output."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfop.ci.triage import format_triage, strip_timestamps, triage

DATA = Path(__file__).resolve().parents[1] / "data" / "ci"


def _log(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_strip_timestamps_removes_bom_stamp_and_colour() -> None:
    text = "\ufeff2026-11-20T09:14:03.1273130Z hello\n2026-11-20T09:14:03Z \x1b[31mred\x1b[0m\n"
    assert strip_timestamps(text) == "hello\nred\n"


def test_pytest_failure_log() -> None:
    report = triage(_log("job_pytest_failure.log"))
    assert report.failed
    assert report.failing_step == "pytest -v -rfE tests || pytest -v --lf tests"
    assert report.exit_codes == (1,)
    assert report.errors == ("Process completed with exit code 1.",)
    ids = [f.test_id for f in report.failures]
    assert ids == [
        "tests/test_core.py::test_parse_ratio_rounding",
        "tests/test_core.py::test_division_by_zero",
        "tests/test_core.py::test_network_flaky",
    ]
    rounding, zero, _flaky = report.failures
    assert rounding.location == "tests/test_core.py:13"
    assert rounding.assertion_lines[0] == "AssertionError: assert 0.3333333333333333 == 0.33"
    assert zero.location == "tests/test_core.py:6"
    assert zero.assertion_lines == ("ZeroDivisionError: division by zero",)
    assert zero.message.startswith("ZeroDivisionError")
    # failed in the first session, passed in the --lf rerun
    assert report.likely_flaky == ("tests/test_core.py::test_network_flaky",)
    assert not rounding.passed_in_rerun
    assert report.pytest_summaries == (
        "3 failed, 1 passed in 0.02s",
        "2 failed, 1 passed, 1 deselected in 0.03s",
    )
    assert "actions/checkout@08eba0b27e820071cde6df949e0beb9ba4906955" in report.steps[0]


def test_traceback_log() -> None:
    report = triage(_log("job_traceback.log"))
    assert report.failing_step == "python crash.py"
    assert report.failures == ()
    (tb,) = report.tracebacks
    assert tb.exception == "KeyError: 'name'"
    assert tb.frames == (
        "/home/runner/work/demo/demo/crash.py:8 in <module>",
        "/home/runner/work/demo/demo/crash.py:7 in main",
    )
    assert tb.step == "python crash.py"


def test_timeout_log() -> None:
    report = triage(_log("job_timeout.log"))
    (failure,) = report.failures
    assert failure.test_id == "tests/test_slow.py::test_hangs_on_lock"
    assert failure.assertion_lines == ("Failed: Timeout (>1.0s) from pytest-timeout.",)
    assert "The job has exceeded the maximum execution time of 10m0s" in report.timeouts
    assert report.errors[-1] == "The operation was canceled."
    assert report.failing_step == "pytest -q --timeout 1 tests/test_slow.py"
    assert report.pytest_summaries == ("1 failed, 1 passed in 1.01s",)


def test_plain_local_log_without_timestamps() -> None:
    text = (
        "==> lint\nAll checks passed!\n==> test\n"
        "tests/unit/test_x.py::test_a PASSED\n"
        "tests/unit/test_x.py::TestB::test_b FAILED\n"
        "=================================== FAILURES ===================================\n"
        "________________________________ TestB.test_b _________________________________\n"
        "\n    def test_b(self):\n>       assert 1 == 2\nE       assert 1 == 2\n\n"
        "tests/unit/test_x.py:9: AssertionError\n"
        "=========================== short test summary info ============================\n"
        "FAILED tests/unit/test_x.py::TestB::test_b - assert 1 == 2\n"
        "========================= 1 failed, 1 passed in 0.05s ==========================\n"
        "make: *** [Makefile:8: test] Error 1\n"
    )
    report = triage(text)
    assert report.steps == ("lint", "test")
    assert report.failing_step == "test"
    assert report.exit_codes == (1,)
    (failure,) = report.failures
    assert failure.location == "tests/unit/test_x.py:9"
    assert failure.assertion_lines == ("assert 1 == 2",)
    assert "FAILED tests/unit/test_x.py::TestB::test_b" in format_triage(report)


@pytest.mark.parametrize(
    "text",
    ["", "2026-11-20T09:14:03.1273130Z all good\n", "==> test\n5 passed in 0.10s\n"],
)
def test_clean_logs_are_not_failures(text: str) -> None:
    report = triage(text)
    assert not report.failed
    assert format_triage(report).startswith("Job: no failure found")


def test_ci_run_style_log_names_the_make_target() -> None:
    text = (
        "ci: PostgreSQL on 127.0.0.1:40123\n"
        ".venv/bin/python -m pytest\n"
        "FAILED tests/unit/test_x.py::test_a - assert 1 == 2\n"
        "1 failed, 3 passed in 0.20s\n"
        "make: *** [Makefile:24: test] Error 1\n"
    )
    report = triage(text)
    assert report.failing_step == "make test"
    assert report.exit_codes == (1,)
    assert [f.test_id for f in report.failures] == ["tests/unit/test_x.py::test_a"]


def test_bench_style_step_headers() -> None:
    report = triage(
        "== benchmarks/a.py\nok\n== benchmarks/b.py\nTraceback (most recent call last):\n"
        '  File "b.py", line 3, in <module>\nValueError: boom\n'
    )
    assert report.steps == ("benchmarks/a.py", "benchmarks/b.py")
    assert report.failing_step == "benchmarks/b.py"
    assert report.tracebacks[0].exception == "ValueError: boom"
