"""pytest-benchmark suites: run with ``--benchmark-json`` (rounds kept), failures from JUnit XML.

One run writes ``bench.json`` (pytest-benchmark's schema: ``benchmarks[].stats.data`` are the
rounds, seconds per call, with ``--benchmark-save-data``) and ``junit.xml`` (which tests failed,
and why). A benchmark is named by pytest-benchmark's ``name`` (``test_parse[big]``), or by its
``fullname`` when two files share a name.
"""

from __future__ import annotations

import json
import math
import statistics
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from perfop.measure.suites import BenchmarkResult, SuiteRun
from perfop.model import ProcessResult


def _rounds(stats: dict[str, Any]) -> tuple[float, ...]:
    data = stats.get("data")
    if isinstance(data, list) and data:
        return tuple(float(v) for v in data)
    return (float(stats["median"]),)


def _span(stats: dict[str, Any]) -> float | None:
    """Seconds the timed rounds covered: ``data`` holds each round's time per iteration."""
    data = stats.get("data")
    if not isinstance(data, list) or not data:
        return None
    return float(sum(float(v) for v in data) * int(stats.get("iterations") or 1))


def benchmarks_from_json(doc: dict[str, Any]) -> list[BenchmarkResult]:
    """Every benchmark of one pytest-benchmark JSON document, with its rounds."""
    items = doc["benchmarks"]
    counts = Counter(str(b["name"]) for b in items)
    out = []
    for b in items:
        name = str(b["name"]) if counts[str(b["name"])] == 1 else str(b["fullname"])
        rounds = _rounds(b["stats"])
        value = float(statistics.median(rounds))
        if not math.isfinite(value):
            continue
        out.append(BenchmarkResult(name=name, value=value, rounds=rounds, span=_span(b["stats"])))
    return out


def failures_from_junit(path: Path) -> dict[str, str]:
    """Test name -> first line of its failure or error, from pytest's JUnit XML."""
    if not path.is_file():
        return {}
    failed: dict[str, str] = {}
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        for tag in ("failure", "error"):
            node = case.find(tag)
            if node is not None:
                message = (node.get("message") or tag).strip().splitlines() or [tag]
                failed[str(case.get("name"))] = message[0][:200]
                break
    return failed


class PytestBenchmark:
    def output_args(self, out_dir: Path) -> list[str]:
        return [
            f"--benchmark-json={out_dir / 'bench.json'}",
            "--benchmark-save-data",
            f"--junitxml={out_dir / 'junit.xml'}",
        ]

    def prepare(
        self, out_dir: Path, argv: tuple[str, ...], cwd: Path, env: dict[str, str]
    ) -> tuple[tuple[str, ...], dict[str, str]]:
        return argv, env

    def parse(self, out_dir: Path, result: ProcessResult) -> SuiteRun:
        failed = failures_from_junit(out_dir / "junit.xml")
        path = out_dir / "bench.json"
        if not path.is_file():
            if failed:
                return SuiteRun((), failed)
            raise ValueError("no --benchmark-json file")
        doc = json.loads(path.read_text(encoding="utf-8"))
        return SuiteRun(tuple(benchmarks_from_json(doc)), failed)

    def discover_argv(self, base: tuple[str, ...], out_dir: Path) -> list[str]:
        return [*base, "--collect-only"]

    def parse_discovery(self, out_dir: Path, stdout: str) -> list[str]:
        names = []
        for line in stdout.splitlines():
            line = line.strip()
            if "::" in line and not line.startswith(("=", "-")):
                names.append(line.rsplit("::", 1)[1])
        return names
