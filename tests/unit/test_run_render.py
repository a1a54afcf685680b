"""Failure lines of ``perfop run``: consecutive identical failures collapse into one line."""

from __future__ import annotations

from perfop.model import Failure
from perfop.render.run import failure_lines


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
