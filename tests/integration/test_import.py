"""`perfop import` of files written by the real tools in the test (asv: a committed real file)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import require_program
from perfop.history.importers import parse_document, read_document
from perfop.store import open_store

DATA = Path(__file__).resolve().parents[1] / "data" / "import"
ASV_FILE = DATA / "asv-2e3642d9-existing-py.json"


def _import(run_cli: Callable[..., Any], repo: Path, *files: Path) -> dict[str, Any]:
    res = run_cli(["import", *map(str, files), "--format", "json"], cwd=repo)
    assert res.code == 0, res.err
    return json.loads(res.out)  # type: ignore[no-any-return]


def _store(repo: Path) -> Any:
    return open_store(f"sqlite:///{repo / '.perfop' / 'perfop.db'}")


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo({"pyproject.toml": "[project]\nname = 'x'\nversion = '0'\n\n[tool.perfop]\n"})


def test_pytest_benchmark_json(repo: Path, tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    pytest.importorskip("pytest_benchmark")
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "test_b.py").write_text(
        "def test_sum(benchmark):\n    benchmark(sum, range(200))\n"
    )
    out = tmp_path / "pb.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_b.py",
            f"--benchmark-json={out}",
            "--benchmark-save-data",
            "--benchmark-max-time=0.02",
            "--benchmark-min-rounds=5",
            "-W",
            "ignore",
        ],
        cwd=tmp_path / "bench",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = _import(run_cli, repo, out)
    (item,) = doc["imported"]
    assert item["tool"] == "pytest-benchmark" and item["workload"] == "test_b.py::test_sum"
    assert item["samples"] >= 5 and not item["summary_only"]
    store = _store(repo)
    try:
        run = store.get_run(item["run_id"])
        assert run.kind == "import" and run.status == "complete"
        assert len(run.values("wall_time")) == item["samples"]
        assert run.metric_specs["wall_time"].unit == "s"
        env = store.get_environment(run.environment_id)
        assert env is not None and env["tool"] == "pytest-benchmark"
        assert env["machine_info"]["python_version"] == sys.version.split()[0]
    finally:
        store.close()
    # the same file again: nothing new
    again = _import(run_cli, repo, out)
    assert [i["skipped"] for i in again["imported"]] == [True]


@pytest.mark.slow
def test_pyperf_json_and_gz(repo: Path, tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    pyperf = pytest.importorskip("pyperf")
    out = tmp_path / "pp.json.gz"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyperf",
            "timeit",
            "-q",
            "--fast",
            "-p",
            "2",
            "-n",
            "2",
            "-l",
            "10",
            "--name",
            "sum200",
            "-o",
            str(out),
            "sum(range(200))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    doc = _import(run_cli, repo, out)
    (item,) = doc["imported"]
    assert item["tool"] == "pyperf" and item["workload"] == "sum200"
    expected = pyperf.Benchmark.load(str(out)).get_values()  # pyperf's own reading of the file
    assert item["samples"] == len(expected)
    store = _store(repo)
    try:
        run = store.get_run(item["run_id"])
        assert run.values("wall_time") == pytest.approx(list(expected))
        env = store.get_environment(run.environment_id)
        assert env is not None and env["python_version"].startswith("3.")
    finally:
        store.close()


@pytest.mark.hyperfine
def test_hyperfine_export_json(repo: Path, tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    hyperfine = require_program("hyperfine", "hyperfine", install="apt-get install -y hyperfine")
    out = tmp_path / "hf.json"
    proc = subprocess.run(
        [
            hyperfine,
            "-N",
            "--runs",
            "4",
            "--warmup",
            "1",
            "--export-json",
            str(out),
            "--style",
            "none",
            "true",
            "sleep 0.005",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    doc = _import(run_cli, repo, out)
    assert [(i["workload"], i["samples"]) for i in doc["imported"]] == [
        ("true", 4),
        ("sleep 0.005", 4),
    ]
    store = _store(repo)
    try:
        run = store.get_run(doc["imported"][1]["run_id"])
        assert run.argv == ["sleep 0.005"]
        assert min(run.values("wall_time")) >= 0.005
    finally:
        store.close()


def test_asv_result_file(repo: Path, run_cli: Callable[..., Any]) -> None:
    doc = _import(run_cli, repo, ASV_FILE)
    got = {i["workload"]: (i["samples"], i["summary_only"]) for i in doc["imported"]}
    assert got == {
        "bench_demo.TimeSuite.time_total(100)": (10, False),
        "bench_demo.TimeSuite.time_total(1000)": (10, False),
        "bench_demo.peakmem_list": (1, True),
        "bench_demo.time_build_list": (10, False),
        "bench_demo.track_answer": (1, True),
    }
    store = _store(repo)
    try:
        run = store.get_run(doc["imported"][2]["run_id"])
        assert run.sha == "2e3642d986693ce402853afbc4e333c0f91860c7"
        assert run.values("peak_rss") == [24707072.0]
        env = store.get_environment(run.environment_id)
        assert env is not None and env["machine"]["num_cpu"] == "2"
    finally:
        store.close()


def test_bad_files_are_one_line_errors(
    repo: Path, tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}')
    res = run_cli(["import", str(ASV_FILE), str(bad)], cwd=repo)
    assert res.code == 2
    assert f"{bad}: not a result file perfop can import" in res.err
    assert res.err.count("\n") == 1
    # a bad file anywhere means nothing was imported
    res = run_cli(["runs", "list", "--format", "json"], cwd=repo)
    assert json.loads(res.out)["runs"] == []
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    res = run_cli(["import", str(broken)], cwd=repo)
    assert res.code == 2 and "not JSON" in res.err


def test_parse_hyperfine_failed_runs_are_not_samples() -> None:
    doc = {
        "results": [
            {
                "command": "x",
                "mean": 1.0,
                "median": 1.0,
                "times": [1.0, 2.0, 3.0],
                "exit_codes": [0, 1, 0],
                "parameters": {"n": "5"},
            }
        ]
    }
    (bench,) = parse_document(doc)
    assert bench.samples == (1.0, 3.0) and bench.stats["failed_runs"] == 1
    assert bench.name == "x [n=5]"
    assert read_document(ASV_FILE)["version"] == 2
