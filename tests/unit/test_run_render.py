"""Failure lines of ``perfop run``: consecutive identical failures collapse into one line;
``perfop runs list``'s plain columns print as Rich printed them."""

from __future__ import annotations

import io

from rich.console import Console

from perfop.model import Failure
from perfop.render.run import failure_lines, plain_runs, runs_table
from perfop.render.run import format_runs as runs_text
from perfop.store import RunRecord


def _failure(index: int, code: int, tail: str) -> Failure:
    return Failure(
        index=index,
        reason=f"exited with code {code}",
        exit_code=code,
        signal=None,
        timed_out=False,
        wall_time=0.01,
        stderr_tail=tail,
    )


def test_consecutive_identical_failures_collapse_and_others_do_not() -> None:
    failures = [
        _failure(0, 1, "Traceback\nImportError: m\n"),
        _failure(1, 1, "ImportError: m\n"),
        _failure(2, 1, "ImportError: m"),
        _failure(3, 2, "ImportError: m"),  # another exit code
        _failure(5, 2, "ImportError: m"),  # not adjacent to 3
        _failure(6, 2, ""),
    ]
    assert failure_lines(failures) == [
        "  failed samples 0-2 (3): exited with code 1: ImportError: m",
        "  failed sample 3: exited with code 2: ImportError: m",
        "  failed sample 5: exited with code 2: ImportError: m",
        "  failed sample 6: exited with code 2",
    ]


def _run(rid: int, workload: str, ref: str | None) -> RunRecord:
    return RunRecord(
        id=rid, workload=workload, kind="run", status="complete", ref=ref, sha="c8eea1b415b5aa",
        dirty=rid % 2 == 0, argv=["true"], cwd=None, env={}, settings={}, metric_specs={},
        environment_id=None, comparison_id=None, side=None,
        started_at="2026-12-01T17:40:53.123456", finished_at=None, n_samples=rid * 7,
        n_failures=rid % 3,
    )  # fmt: skip


def _printed(renderable: object, *, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, highlight=False, force_terminal=False).print(renderable)
    return out.getvalue()


def test_runs_list_prints_without_rich_what_rich_prints() -> None:
    # ``perfop runs list`` writes plain_runs' text itself (no Rich import) where it is exactly
    # what the console printed for runs_table; where it would not be (lines wider than the
    # console, which Rich folds), plain_runs declines and Rich prints.
    records = [
        _run(i, f"w{'x' * (i % 4)}", "feature/wide-ref" if i % 5 else None) for i in range(1, 40)
    ]
    longest = max(map(len, runs_text(records).splitlines()))
    for width in (longest, longest + 1, 200):
        text = plain_runs(records, width=width)
        assert text is not None
        assert text + "\n" == _printed(runs_table(records), width=width)
    for width in (20, longest - 1):
        assert plain_runs(records, width=width) is None
        assert _printed(runs_table(records), width=width) != runs_text(records) + "\n"
    assert (
        plain_runs([], width=80)
        == "id  workload  kind  status  ref  sha  samples  failed  started\n(no runs yet)"
    )
    assert plain_runs([], width=80) + "\n" == _printed(runs_table([]), width=80)  # type: ignore[operator]


def test_runs_list_leaves_a_control_character_to_rich() -> None:
    # Rich drops or expands control characters; such a cell is printed by Rich, as before.
    for odd in ("a\tb", "a\rb", "a\x07b", "a\x1b[31mb"):
        assert plain_runs([_run(1, "w", odd)], width=200) is None
    assert plain_runs([_run(1, "w", "ünïcode-ref")], width=200) is not None
