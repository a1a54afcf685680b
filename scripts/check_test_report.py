"""Read the test report ``tests/suite_guard.py`` writes (PERFOP_TEST_REPORT) and tell the truth.

Prints one line of what ran (overall and per marker) and the skipped tests; exits 1 when a test
with a required marker (default: postgres, hyperfine, chromium) was skipped or deselected, or when
none of them ran at all, and 1 when the report is missing or unreadable (pytest stopped early).

    python scripts/check_test_report.py REPORT.json [--require postgres,hyperfine,chromium]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

REQUIRED = ("postgres", "hyperfine", "chromium")


def _fmt(bucket: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(bucket.items()))


def check(doc: dict[str, Any], required: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(lines to print, problems); no problems means CI may pass."""
    counts: dict[str, dict[str, int]] = doc["counts"]
    markers = "; ".join(f"{m}: {_fmt(c)}" for m, c in sorted(counts.items()) if m != "all")
    lines = [f"ci: ran {_fmt(counts.get('all', {})) or 'nothing'} | {markers}"]
    skipped = [n for n, t in sorted(doc.get("tests", {}).items()) if t["outcome"] == "skipped"]
    if skipped:
        lines.append("ci: skipped: " + ", ".join(skipped))
    problems = []
    for marker in required:
        c = counts.get(marker, {})
        missed = c.get("skipped", 0) + c.get("deselected", 0)
        if missed:
            problems.append(f"{missed} {marker} test(s) did not run")
        elif not (c.get("passed") or c.get("failed") or c.get("error")):
            problems.append(f"no {marker} test ran")
    return lines, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report")
    parser.add_argument("--require", default=",".join(REQUIRED))
    args = parser.parse_args(argv)
    required = tuple(m for m in args.require.split(",") if m)
    try:
        with open(args.report, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        print(f"ci: FAIL: no readable test report at {args.report} ({exc}): pytest stopped early")
        return 1
    lines, problems = check(doc, required)
    for line in lines:
        print(line)
    for problem in problems:
        print(f"ci: FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
