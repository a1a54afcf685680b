"""The behaviour check of ``compare``: did the candidate change what the workload prints?

The rule for a workload whose output is the same on every run of the same code: compare the first
measured sample of each side (stdout normalised by the runner: trailing whitespace dropped,
``PERFOP_METRIC`` lines removed).

Many benchmark scripts also print something that changes from run to run of the *same* code — their
own timing, a date, a temporary path. Compared naively, such a workload would be "changed" on every
comparison, even of a commit with itself, and a CI gate would fail every pull request. So when a
side's output varies between its own samples, the check works line by line over every sample: a
line that takes more than one value on either side is run-dependent and is not compared (it is
named in a note, which also warns when a line varies on the candidate only: a timing whose
rounding happens to be stable on one side looks just like that, but so does a result that became
nondeterministic); every other line must match. When the number of lines itself varies between
runs of the same code, or the output is too long to have been kept whole, nothing reliable can be
said: the result is ``unchecked``, with a note saying how to fix the workload.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from perfop.environment import redact_text
from perfop.model import ProcessResult

Behavior = Literal["same", "changed", "unchecked"]
DIFF_LINES = 12
VARIES = "<varies between runs>"
_FIX = "print run-dependent text to stderr, or set check_output = false for this workload"


@dataclass(frozen=True)
class BehaviorCheck:
    behavior: Behavior
    diff: str = ""
    note: str = ""


def check_behavior(
    base: Sequence[ProcessResult], cand: Sequence[ProcessResult], check: bool
) -> BehaviorCheck:
    """Compare what both sides printed; ``base``/``cand`` are the measured samples in order."""
    if not check or not base or not cand:
        return BehaviorCheck("unchecked")
    b0, c0 = base[0], cand[0]
    base_varies = len({r.stdout_digest for r in base}) > 1
    cand_varies = len({r.stdout_digest for r in cand}) > 1
    if not base_varies and not cand_varies:
        note = _budget_note(b0, c0)
        if b0.stdout_digest == c0.stdout_digest:
            return BehaviorCheck("same", note=note)
        return BehaviorCheck("changed", _diff(b0.stdout_head, c0.stdout_head), note)
    if not all(r.stdout_complete for r in (*base, *cand)):
        return BehaviorCheck(
            "unchecked",
            note="stdout varies between runs of the same code and is too long to compare line by "
            f"line; {_FIX}",
        )
    base_lines = [r.stdout_head.splitlines() for r in base]
    cand_lines = [r.stdout_head.splitlines() for r in cand]
    base_counts = {len(lines) for lines in base_lines}
    cand_counts = {len(lines) for lines in cand_lines}
    if len(base_counts) > 1 or len(cand_counts) > 1:
        return BehaviorCheck(
            "unchecked",
            note="stdout varies between runs of the same code, even in its number of lines, so "
            f"it cannot be compared; {_FIX}",
        )
    if base_counts != cand_counts:
        return BehaviorCheck("changed", _diff(b0.stdout_head, c0.stdout_head))
    n = base_counts.pop()
    base_vary = {i for i in range(n) if len({lines[i] for lines in base_lines}) > 1}
    cand_vary = {i for i in range(n) if len({lines[i] for lines in cand_lines}) > 1}
    ignored = sorted(base_vary | cand_vary)
    masked_base = _masked(base_lines[0], ignored)
    masked_cand = _masked(cand_lines[0], ignored)
    notes = [_ignored_note(cand_lines[0], ignored)]
    if cand_only := sorted(cand_vary - base_vary):
        notes.append(
            f"line {cand_only[0] + 1} varies only on the candidate, not on the base: make sure it "
            "is a timing or the like, not a result that became nondeterministic"
        )
    note = "; ".join(notes)
    if masked_base != masked_cand:
        return BehaviorCheck("changed", _diff_lines(masked_base, masked_cand), note)
    return BehaviorCheck("same", note=note)


def _budget_note(base: ProcessResult, cand: ProcessResult) -> str:
    """Say so when stdout went past the budget: that part was compared by its length only."""
    if not base.stdout_unchecked and not cand.stdout_unchecked:
        return ""
    budget = max(base.stdout_check_bytes, cand.stdout_check_bytes)
    return (
        f"stdout beyond the first {_size(budget)} was not compared, only its length "
        f"({_size(base.stdout_unchecked)} on the base, {_size(cand.stdout_unchecked)} on the "
        "candidate); raise check_output_bytes to compare more"
    )


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.4g} MiB"
    return f"{n / 1024:.4g} KiB" if n >= 1024 else f"{n} bytes"


def _masked(lines: list[str], ignored: Sequence[int]) -> list[str]:
    out = list(lines)
    for i in ignored:
        out[i] = VARIES
    return out


def _ignored_note(lines: list[str], ignored: Sequence[int]) -> str:
    if not ignored:
        return ""
    first = ignored[0]
    example = redact_text(lines[first].strip())  # before cutting, so a secret is whole
    if len(example) > 60:
        example = example[:57] + "..."
    what = "1 line varies" if len(ignored) == 1 else f"{len(ignored)} lines vary"
    return (
        f"{what} between runs of the same code and {'was' if len(ignored) == 1 else 'were'} not "
        f"compared (line {first + 1}: {example!r})"
    )


def _diff(base: str, cand: str) -> str:
    return _diff_lines(base.splitlines(), cand.splitlines())


def _diff_lines(base: list[str], cand: list[str]) -> str:
    diff = list(difflib.unified_diff(base, cand, "base", "candidate", lineterm="", n=1))
    shown = diff[:DIFF_LINES] + (["..."] if len(diff) > DIFF_LINES else [])
    return redact_text("\n".join(shown))
