"""Log triage: the text of a CI job log in, a ``TriageReport`` out. Pure: no I/O, no clock.

Understands GitHub Actions job logs (timestamps, ``##[group]Run ...`` step headers, ``##[error]``
lines) and plain local logs (e.g. the output of ``.ci/run``): pytest failures with their test ids
and ``E`` assertion lines, Python tracebacks, exit codes, timeouts, and tests that failed and then
passed in a rerun within the same log (likely flaky).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

TRIAGE_SCHEMA = "perfop.triage/1"

_TIMESTAMP = re.compile(r"^\ufeff?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_STEP_HEADER = re.compile(r"^(?:##\[group\]|::group::)Run (?P<name>.+)$")
_LOCAL_STEP = re.compile(r"^(?:==>|>>>|==|\+\+\+ step:?)\s+(?P<name>[^=\s][^=]*?)\s*$")
_MAKE_ERROR = re.compile(
    r"^make(?:\[\d+\])?: \*\*\* \[(?:[^:\]]+:\d+: )?(?P<target>[^\]]+)\] Error \d+"
)
_ERROR_LINE = re.compile(r"^(?:##\[error\]|::error(?: [^:]*)?::)(?P<msg>.*)$")
_EXIT_CODE = re.compile(
    r"(?:Process completed with exit code|exited with (?:exit )?code|exit code:?|exit status"
    r"|^make(?:\[\d+\])?: \*\*\* .* Error)\s+(?P<code>-?\d+)",
    re.IGNORECASE,
)
_TIMEOUT = re.compile(
    r"(exceeded the maximum execution time|has timed out|timed out after|"
    r"Timeout \(>[\d.]+s\)|\+{5,} Timeout \+{5,}|TimeoutExpired|deadline exceeded)",
    re.IGNORECASE,
)
_VERBOSE_RESULT = re.compile(
    r"^(?P<id>\S+::\S+?)\s+(?P<outcome>PASSED|FAILED|ERROR|RERUN|XFAIL|XPASS|SKIPPED)\b"
)
_SUMMARY_ITEM = re.compile(r"^(?P<kind>FAILED|ERROR)\s+(?P<id>\S+)(?:\s+-\s+(?P<msg>.*))?$")
_SESSION_END = re.compile(
    r"^(?:=+ )?(?P<text>\d+ (?:passed|failed|errors?|skipped|deselected)\b.* in [\d.]+s"
    r"(?: \([\d:]+\))?|no tests ran.*?)(?: =+)?$"
)
_SECTION_TITLE = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")
_LOCATION = re.compile(r"^(?P<loc>[^\s:][^:]*\.py:\d+): (?P<exc>\w[\w.]*)?$")
_TB_FRAME = re.compile(r'^\s+File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
_EXC_LINE = re.compile(
    r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Fault))"
    r"(?::\s*(?P<msg>.*))?$"
)


@dataclass(frozen=True)
class TestFailure:
    """One failing pytest test: its id, how it failed and the lines that say why."""

    test_id: str
    kind: Literal["failed", "error"]
    message: str = ""
    location: str = ""
    assertion_lines: tuple[str, ...] = ()
    passed_in_rerun: bool = False


@dataclass(frozen=True)
class PyTraceback:
    """A Python traceback printed outside pytest's own failure sections."""

    exception: str
    frames: tuple[str, ...]
    step: str | None = None


@dataclass(frozen=True)
class TriageReport:
    """Everything a human needs to see first when a CI job failed."""

    failing_step: str | None
    steps: tuple[str, ...]
    errors: tuple[str, ...]
    exit_codes: tuple[int, ...]
    timeouts: tuple[str, ...]
    failures: tuple[TestFailure, ...]
    tracebacks: tuple[PyTraceback, ...]
    likely_flaky: tuple[str, ...]
    pytest_summaries: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> bool:
        """True when the log shows any sign of failure."""
        return bool(
            self.errors
            or any(code != 0 for code in self.exit_codes)
            or self.timeouts
            or self.failures
            or self.tracebacks
        )

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["failed"] = self.failed
        return {"schema": TRIAGE_SCHEMA, **doc}


def strip_timestamps(text: str) -> str:
    """Remove GitHub's per-line ISO timestamps, a leading BOM and ANSI colour codes."""
    return _ANSI.sub("", _TIMESTAMP.sub("", text.replace("\r\n", "\n")))


def triage(text: str) -> TriageReport:
    """Summarise a job log (GitHub Actions format or plain) into a ``TriageReport``."""
    lines = strip_timestamps(text).split("\n")
    scan = _LogScan()
    i = 0
    while i < len(lines):
        stripped = lines[i].rstrip()
        scan.steps_and_errors(stripped)
        scan.exit_codes_and_timeouts(stripped)
        i = scan.test_results(lines, i, stripped)
    return scan.report()


@dataclass
class _LogScan:
    """What ``triage`` has read so far, line by line."""

    steps: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    timeouts: list[str] = field(default_factory=list)
    failing_step: str | None = None
    current_step: str | None = None
    outcomes: dict[str, list[str]] = field(default_factory=dict)
    summary_items: dict[str, tuple[Literal["failed", "error"], str]] = field(default_factory=dict)
    sections: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    tracebacks: list[PyTraceback] = field(default_factory=list)
    pytest_summaries: list[str] = field(default_factory=list)

    def steps_and_errors(self, stripped: str) -> None:
        header = _STEP_HEADER.match(stripped) or _LOCAL_STEP.match(stripped)
        if header:
            self.current_step = header.group("name").strip()
            self.steps.append(self.current_step)
        elif m := _ERROR_LINE.match(stripped):
            msg = m.group("msg").strip()
            self.errors.append(msg)
            if self.failing_step is None:
                self.failing_step = self.current_step
        if (
            (m := _MAKE_ERROR.match(stripped))
            and self.failing_step is None
            and self.current_step is None
        ):
            self.failing_step = f"make {m.group('target')}"

    def exit_codes_and_timeouts(self, stripped: str) -> None:
        if m := _EXIT_CODE.search(stripped):
            self.exit_codes.append(int(m.group("code")))
        if m := _TIMEOUT.search(stripped):
            self.timeouts.append(stripped.removeprefix("##[error]").strip())

    def test_results(self, lines: list[str], i: int, stripped: str) -> int:
        """Read pytest's results and Python tracebacks at line ``i``; returns the next line."""
        if m := _VERBOSE_RESULT.match(stripped):
            self.outcomes.setdefault(m.group("id"), []).append(m.group("outcome"))
        elif m := _SUMMARY_ITEM.match(stripped):
            kind: Literal["failed", "error"] = "failed" if m.group("kind") == "FAILED" else "error"
            test_id = m.group("id")
            self.summary_items.setdefault(test_id, (kind, (m.group("msg") or "").strip()))
            self.outcomes.setdefault(test_id, []).append(m.group("kind"))
        elif m := _SESSION_END.match(stripped):
            self.pytest_summaries.append(m.group("text").strip())
        elif m := _SECTION_TITLE.match(stripped):
            end, location, assertion = _read_section(lines, i + 1)
            self.sections.setdefault(m.group("title"), (location, assertion))
            return end
        elif stripped.startswith("Traceback (most recent call last):"):
            end, tb = _read_traceback(lines, i + 1, self.current_step)
            if tb is not None:
                self.tracebacks.append(tb)
                if self.failing_step is None:
                    self.failing_step = self.current_step
            return end
        return i + 1

    def report(self) -> TriageReport:
        failures = _merge_failures(self.summary_items, self.sections, self.outcomes)
        failing_step = self.failing_step
        if failing_step is None and failures:
            failing_step = self.current_step
        flaky = tuple(f.test_id for f in failures if f.passed_in_rerun)
        return TriageReport(
            failing_step=failing_step,
            steps=tuple(self.steps),
            errors=tuple(self.errors),
            exit_codes=tuple(self.exit_codes),
            timeouts=tuple(dict.fromkeys(self.timeouts)),
            failures=failures,
            tracebacks=tuple(self.tracebacks),
            likely_flaky=flaky,
            pytest_summaries=tuple(self.pytest_summaries),
        )


def _read_section(lines: list[str], start: int) -> tuple[int, str, tuple[str, ...]]:
    """Read one pytest failure section; return (next index, location, ``E`` lines)."""
    location = ""
    assertion: list[str] = []
    i = start
    while i < len(lines):
        stripped = lines[i].rstrip()
        if _SECTION_TITLE.match(stripped) or stripped.startswith("====="):
            break
        if _STEP_HEADER.match(stripped) or _ERROR_LINE.match(stripped):
            break
        if stripped.startswith("E   ") or stripped == "E":
            assertion.append(stripped[1:].strip())
        elif m := _LOCATION.match(stripped):
            location = m.group("loc")  # the last location is where the exception was raised
        i += 1
    return i, location, tuple(line for line in assertion if line)


def _read_traceback(
    lines: list[str], start: int, step: str | None
) -> tuple[int, PyTraceback | None]:
    frames: list[str] = []
    i = start
    while i < len(lines):
        stripped = lines[i].rstrip()
        if m := _TB_FRAME.match(stripped):
            func = f" in {m.group('func')}" if m.group("func") else ""
            frames.append(f"{m.group('file')}:{m.group('line')}{func}")
        elif stripped.startswith((" ", "\t")) or not stripped:
            pass  # source line or caret markers
        else:
            if _EXC_LINE.match(stripped) or ":" in stripped:
                return i + 1, PyTraceback(exception=stripped, frames=tuple(frames), step=step)
            return i, PyTraceback(exception="", frames=tuple(frames), step=step)
        i += 1
    return i, PyTraceback(exception="", frames=tuple(frames), step=step) if frames else None


def _title_matches(title: str, test_id: str) -> bool:
    # pytest titles a section with the test name, class-qualified (``Cls.test_x``) for methods.
    name = test_id.split("::", 1)[1] if "::" in test_id else test_id
    return title in (name, name.replace("::", "."), test_id) or title == name.split("::")[-1]


def _merge_failures(
    summary_items: dict[str, tuple[Literal["failed", "error"], str]],
    sections: dict[str, tuple[str, tuple[str, ...]]],
    outcomes: dict[str, list[str]],
) -> tuple[TestFailure, ...]:
    failed_ids: list[str] = list(summary_items)
    for test_id, seen in outcomes.items():
        if test_id not in summary_items and any(o in ("FAILED", "ERROR") for o in seen):
            failed_ids.append(test_id)
    result: list[TestFailure] = []
    for test_id in failed_ids:
        kind, message = summary_items.get(test_id, ("failed", ""))
        if test_id not in summary_items and "ERROR" in outcomes.get(test_id, []):
            kind = "error"
        location, assertion = next(
            (sec for title, sec in sections.items() if _title_matches(title, test_id)), ("", ())
        )
        seen = outcomes.get(test_id, [])
        rerun_passed = _passed_after_failing(seen)
        result.append(
            TestFailure(
                test_id=test_id,
                kind=kind,
                message=message,
                location=location,
                assertion_lines=assertion,
                passed_in_rerun=rerun_passed,
            )
        )
    return tuple(result)


def _passed_after_failing(seen: Iterable[str]) -> bool:
    failed_before = False
    for outcome in seen:
        if outcome in ("FAILED", "ERROR", "RERUN"):
            failed_before = True
        elif outcome == "PASSED" and failed_before:
            return True
    return False


def format_triage(report: TriageReport) -> str:
    """Plain-text rendering of a triage report (no colour; the CLI may style it)."""
    out: list[str] = []
    verdict = "FAILED" if report.failed else "no failure found"
    out.append(f"Job: {verdict}")
    if report.failing_step:
        out.append(f"Failing step: {report.failing_step}")
    if report.exit_codes:
        out.append("Exit codes: " + ", ".join(str(c) for c in report.exit_codes))
    for summary in report.pytest_summaries:
        out.append(f"pytest: {summary}")
    if report.failures:
        out.append("")
        out.append(f"Test failures ({len(report.failures)}):")
        for f in report.failures:
            tag = "  [likely flaky: passed in a rerun]" if f.passed_in_rerun else ""
            out.append(f"  {f.kind.upper()} {f.test_id}{tag}")
            if f.location:
                out.append(f"    at {f.location}")
            for line in f.assertion_lines[:6]:
                out.append(f"    E {line}")
            if not f.assertion_lines and f.message:
                out.append(f"    {f.message}")
    if report.tracebacks:
        out.append("")
        out.append(f"Tracebacks ({len(report.tracebacks)}):")
        for tb in report.tracebacks:
            where = f" (step: {tb.step})" if tb.step else ""
            out.append(f"  {tb.exception or '<traceback cut off>'}{where}")
            for frame in tb.frames[-4:]:
                out.append(f"    {frame}")
    if report.timeouts:
        out.append("")
        out.append("Timeouts:")
        out.extend(f"  {t}" for t in report.timeouts)
    if report.errors:
        out.append("")
        out.append("Errors:")
        out.extend(f"  {e}" for e in report.errors)
    if report.likely_flaky:
        out.append("")
        out.append(
            "Likely flaky (failed, then passed in a rerun): " + ", ".join(report.likely_flaky)
        )
    return "\n".join(out) + "\n"
