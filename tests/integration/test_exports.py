"""``perfop export``: a stored run and comparison in each format, read back by the tools
that own the format (pyperf itself) or by perfop's importers (round trip)."""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from perfop.history.importers import parse_document

SCRIPT = "print('PERFOP_METRIC items=5 unit=count better=higher')\n"


@pytest.fixture
def stored_run(git_repo: Callable[..., Path], run_cli: Callable[..., Any]) -> tuple[Path, dict]:
    repo = git_repo({"work.py": SCRIPT})
    res = run_cli(
        [
            "run",
            "--runs",
            "4",
            "--warmup",
            "0",
            "--format",
            "json",
            "--",
            sys.executable,
            "work.py",
        ],
        cwd=repo,
    )
    assert res.code == 0, res.err
    return repo, json.loads(res.out)["runs"][0]


def _export(run_cli: Callable[..., Any], repo: Path, *args: str) -> str:
    res = run_cli(["export", *args], cwd=repo)
    assert res.code == 0, res.err
    return str(res.out)


def test_csv_has_one_row_per_sample_and_metric(
    stored_run: tuple[Path, dict], run_cli: Callable[..., Any]
) -> None:
    repo, run = stored_run
    rows = list(
        csv.DictReader(io.StringIO(_export(run_cli, repo, str(run["id"]), "--format", "csv")))
    )
    walls = [float(r["value"]) for r in rows if r["metric"] == "wall_time"]
    assert walls == [s["metrics"]["wall_time"] for s in run["samples"]]
    assert {r["metric"] for r in rows} == set(run["samples"][0]["metrics"])
    assert len(rows) == 4 * len(run["samples"][0]["metrics"])


def test_hyperfine_json_follows_its_schema_and_round_trips(
    stored_run: tuple[Path, dict], run_cli: Callable[..., Any]
) -> None:
    repo, run = stored_run
    doc = json.loads(_export(run_cli, repo, f"run:{run['id']}", "--format", "hyperfine"))
    (result,) = doc["results"]
    walls = [s["metrics"]["wall_time"] for s in run["samples"]]
    # hyperfine's --export-json fields, with their types.
    for key in ("mean", "stddev", "median", "user", "system", "min", "max"):
        assert isinstance(result[key], float), key
    assert isinstance(result["command"], str)
    assert result["times"] == walls and result["exit_codes"] == [0, 0, 0, 0]
    assert result["median"] == statistics.median(walls)
    (back,) = parse_document(doc)
    assert back.tool == "hyperfine" and list(back.samples) == walls


def test_pyperf_json_loads_in_pyperf_and_round_trips(
    stored_run: tuple[Path, dict], run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    import pyperf

    repo, run = stored_run
    out = tmp_path / "run.json"
    res = run_cli(["export", str(run["id"]), "--format", "pyperf", "-o", out], cwd=repo)
    assert res.code == 0, res.err
    suite = pyperf.BenchmarkSuite.load(str(out))
    bench = suite.get_benchmark(run["workload"])
    walls = [s["metrics"]["wall_time"] for s in run["samples"]]
    assert list(bench.get_values()) == walls
    assert bench.get_unit() == "second"
    back = {b.name: b for b in parse_document(json.loads(out.read_text()))}
    assert list(back[run["workload"]].samples) == walls
    # An existing file is never replaced without --force.
    res = run_cli(["export", str(run["id"]), "--format", "pyperf", "-o", out], cwd=repo)
    assert res.code == 2 and "already exists; pass --force" in res.err


def test_bmf_gab_and_openmetrics(
    stored_run: tuple[Path, dict], run_cli: Callable[..., Any]
) -> None:
    repo, run = stored_run
    walls = [s["metrics"]["wall_time"] for s in run["samples"]]
    name = run["workload"]
    bmf = json.loads(_export(run_cli, repo, str(run["id"]), "--format", "bmf"))
    assert bmf[name]["latency"]["value"] == pytest.approx(statistics.median(walls) * 1e9)
    assert bmf[name]["latency"]["lower_value"] == pytest.approx(min(walls) * 1e9)
    assert bmf[name]["items"]["value"] == 5.0
    gab = json.loads(_export(run_cli, repo, str(run["id"]), "--format", "gab"))
    by = {row["name"]: row for row in gab}
    assert by[name]["value"] == statistics.median(walls) and by[name]["unit"] == "s"
    assert not any("items" in n for n in by)  # higher-is-better is not customSmallerIsBetter
    assert all(set(row) == {"name", "unit", "value", "range", "extra"} for row in gab)
    text = _export(run_cli, repo, str(run["id"]), "--format", "openmetrics")
    lines = text.splitlines()
    assert lines[-1] == "# EOF"
    sample = re.compile(r'^[a-z_]+\{([a-z_]+="[^"]*",?)+\} (\S+)$')
    for line in lines[:-1]:
        assert line.startswith("# TYPE ") or line.startswith("# HELP ") or sample.match(line), line
    median_line = next(ln for ln in lines if ln.startswith("perfop_median{") and "wall_time" in ln)
    assert float(median_line.rsplit(" ", 1)[1]) == statistics.median(walls)


def test_bad_targets_and_formats_are_one_line_errors(
    stored_run: tuple[Path, dict], run_cli: Callable[..., Any]
) -> None:
    repo, run = stored_run
    for args, message in (
        (["x7"], "is not a run or comparison"),
        (["999"], "no run 999"),
        (["comparison:5"], "no finished comparison 5"),
        ([str(run["id"]), "--format", "xml"], "is not an export format"),
    ):
        res = run_cli(["export", *args], cwd=repo)
        assert res.code == 2, (args, res.err)
        assert message in res.err and len(res.err.strip().splitlines()) == 1


CONFIG = """\
[tool.perfop.workloads.w]
command = "{python} work.py"
"""


@pytest.mark.slow
def test_a_comparison_exports_both_sides(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any]
) -> None:
    repo = git_repo({"work.py": SCRIPT, "pyproject.toml": CONFIG})
    res = run_cli(["compare", "main", "main", "--max-pairs", "5", "--format", "json"], cwd=repo)
    assert res.code == 0, res.err
    cid = json.loads(res.out)["id"]
    rows = list(csv.DictReader(io.StringIO(_export(run_cli, repo, f"c{cid}", "--format", "csv"))))
    sides = {r["side"] for r in rows}
    assert sides == {"base", "candidate"}
    text = _export(run_cli, repo, f"comparison:{cid}", "--format", "openmetrics")
    assert re.search(r'perfop_comparison_ratio\{workload="w",metric="wall_time"', text)
    bmf = json.loads(_export(run_cli, repo, f"c{cid}", "--format", "bmf"))
    assert set(bmf) == {"w"}  # the candidate's side is what a tracker records
    hf = json.loads(_export(run_cli, repo, f"c{cid}", "--format", "hyperfine"))
    assert [r["command"] for r in hf["results"]] == ["w [base]", "w [candidate]"]
