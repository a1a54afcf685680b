"""The behaviour check of ``compare`` on fixed outputs: deterministic, run-dependent, unusable."""

from __future__ import annotations

import hashlib

from perfop.compare.behavior import VARIES, check_behavior
from perfop.model import ProcessResult

GH_TOKEN = "ghp" + "_" + "Zq8Xw7Ve6Ut5Sr4Qp3On2Ml1Kj0Ih9Gf8Ed7Cb"


def _out(text: str, *, complete: bool = True) -> ProcessResult:
    return ProcessResult(
        argv=("w",),
        exit_code=0,
        signal=None,
        timed_out=False,
        wall_time=0.02,
        user_time=0.02,
        sys_time=0.0,
        peak_rss=10_000_000,
        stdout_digest=hashlib.sha256(text.encode()).hexdigest(),
        stdout_head=text,
        stdout_complete=complete,
    )


def _runs(*texts: str) -> list[ProcessResult]:
    return [_out(t) for t in texts]


def test_deterministic_output_same_and_changed_with_a_diff() -> None:
    same = check_behavior(_runs("42\n", "42\n"), _runs("42\n", "42\n"), True)
    assert (same.behavior, same.diff, same.note) == ("same", "", "")
    changed = check_behavior(_runs("a\n42\n", "a\n42\n"), _runs("a\n43\n", "a\n43\n"), True)
    assert changed.behavior == "changed" and "-42" in changed.diff and "+43" in changed.diff
    assert changed.note == ""


def test_check_off_or_no_samples_is_unchecked() -> None:
    assert check_behavior(_runs("1\n"), _runs("2\n"), False).behavior == "unchecked"
    assert check_behavior([], _runs("2\n"), True).behavior == "unchecked"


def test_a_timing_line_that_varies_on_both_sides_is_not_compared() -> None:
    base = _runs("42\ntook 0.011 s\n", "42\ntook 0.013 s\n", "42\ntook 0.012 s\n")
    cand = _runs("42\ntook 0.007 s\n", "42\ntook 0.008 s\n", "42\ntook 0.007 s\n")
    result = check_behavior(base, cand, True)
    assert result.behavior == "same" and result.diff == ""
    assert result.note.startswith("1 line varies between runs of the same code")
    assert "line 2: 'took 0.007 s'" in result.note


def test_a_stable_line_that_changes_is_still_caught_next_to_a_timing_line() -> None:
    base = _runs("42\ntook 0.011 s\n", "42\ntook 0.013 s\n")
    cand = _runs("43\ntook 0.007 s\n", "43\ntook 0.008 s\n")
    result = check_behavior(base, cand, True)
    assert result.behavior == "changed"
    assert "-42" in result.diff and "+43" in result.diff
    assert VARIES in result.diff and "took" not in result.diff


def test_a_line_that_varies_on_the_candidate_only_is_named_as_a_warning() -> None:
    base = _runs("42\ntook 0.01 s\n", "42\ntook 0.01 s\n")
    cand = _runs("42\ntook 0.01 s\n", "42\ntook 0.02 s\n")
    result = check_behavior(base, cand, True)
    assert result.behavior == "same"
    assert "line 2 varies only on the candidate" in result.note


def test_varying_line_count_or_truncated_output_is_unchecked_with_the_fix() -> None:
    lines = check_behavior(_runs("1\n", "1\n2\n"), _runs("1\n", "1\n"), True)
    assert lines.behavior == "unchecked"
    assert "number of lines" in lines.note and "check_output = false" in lines.note
    long_base = [_out("x\n1\n", complete=False), _out("x\n2\n", complete=False)]
    long = check_behavior(long_base, _runs("x\n1\n", "x\n1\n"), True)
    assert long.behavior == "unchecked" and "too long" in long.note
    # Truncation alone is no reason to give up when the output does not vary.
    steady = [_out("x\n", complete=False), _out("x\n", complete=False)]
    assert check_behavior(steady, steady, True).behavior == "same"


def test_consistent_line_counts_that_differ_between_sides_are_a_change() -> None:
    base = _runs("a\nt=1\n", "a\nt=2\n")
    cand = _runs("a\nb\nt=1\n", "a\nb\nt=3\n")
    result = check_behavior(base, cand, True)
    assert result.behavior == "changed" and "+b" in result.diff


def test_secrets_in_a_varying_line_are_redacted_from_the_note() -> None:
    pad = "x" * 40  # the token straddles the 60-character cut of the example
    base = _runs(f"{pad} {GH_TOKEN} 1\n", f"{pad} {GH_TOKEN} 2\n")
    cand = _runs(f"{pad} {GH_TOKEN} 3\n", f"{pad} {GH_TOKEN} 4\n")
    result = check_behavior(base, cand, True)
    assert result.behavior == "same" and "ghp_" not in result.note and "Zq8X" not in result.note
