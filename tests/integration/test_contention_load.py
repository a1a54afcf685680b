"""Contention is measured and shown while other processes burn every CPU of the machine.

The ``burners`` fixture starts one CPU-burning child per CPU (each ends by itself after two
minutes, and the fixture kills them at teardown whatever happens), waits until the kernel has
charged CPU time to each, then ``perfop run`` and ``perfop compare`` measure a sleeping workload
on a real git repository. Nothing here asserts a quiet machine: this one is shared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from perfop.store import compare as cstore
from perfop.store import open_store

pytestmark = pytest.mark.slow

BURN = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end:\n    pass\n"
BENCH = "import time\ntime.sleep(0.04)\nprint('done')\n"
CONFIG = """\
[workloads.nap]
command = ["{python}", "-S", "bench.py"]
max_time = 4
min_runs = 5
"""


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@pytest.fixture
def burners() -> Iterator[list[subprocess.Popen[bytes]]]:
    cpus = os.cpu_count() or 1
    if cpus > 8:
        pytest.skip("saturating more than 8 CPUs from a test is not reasonable")
    if not Path("/proc/stat").exists():
        pytest.skip("needs /proc")
    procs = [
        subprocess.Popen([sys.executable, "-S", "-c", BURN], stdin=subprocess.DEVNULL)
        for _ in range(cpus)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(_cpu_ticks(p.pid) > 0 for p in procs):
            assert time.monotonic() < deadline, "burners never got a CPU"
            assert all(p.poll() is None for p in procs)
            time.sleep(0.01)
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait(timeout=30)


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo({"bench.py": BENCH, "perfop.toml": CONFIG, ".gitignore": ".perfop/\n"})


def _store(repo: Path) -> Any:
    return open_store(f"sqlite:///{repo / '.perfop' / 'perfop.db'}")


def test_run_under_load_records_and_warns(
    repo: Path, burners: list[Any], run_cli: Callable[..., Any]
) -> None:
    res = run_cli(["run", "nap", "--runs", "12", "--format", "json"], cwd=repo)
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["schema"] == "perfop.run/2"
    (run,) = doc["runs"]
    c = run["contention"]
    assert c["cpus"] == os.cpu_count() and c["intervals"] >= 1
    # One burner per CPU while the workload sleeps: others take most of the machine.
    assert c["others_cpu_share"]["median"] > 0.3, c
    assert c["level"] == "high", c
    assert "perfop: warning: high machine contention" in res.err
    store = _store(repo)
    try:
        assert store.get_run(run["id"]).contention == c
    finally:
        store.close()

    text = run_cli(["run", "nap", "--runs", "6"], cwd=repo)
    assert text.code == 0, text.err
    assert "machine: load" in text.out and "high contention" in text.out
    assert "absolute times are inflated" in text.out
    assert "perfop: warning: high machine contention" in text.err


def test_compare_under_load_records_contention_and_cpu_ratio(
    repo: Path, git: Callable[..., str], burners: list[Any], run_cli: Callable[..., Any]
) -> None:
    base = git(repo, "rev-parse", "HEAD")
    res = run_cli(
        ["compare", base, "HEAD", "--max-time", "3", "--seed", "3", "--format", "json"], cwd=repo
    )
    assert res.out, res.err
    doc = json.loads(res.out)
    assert doc["schema"] == "perfop.comparison/2"
    (w,) = doc["workloads"]
    assert w["contention"]["others_cpu_share"]["median"] > 0.3, w["contention"]
    assert doc["contention"]["level"] == "high", doc["contention"]
    assert "perfop: warning: high machine contention" in res.err
    cpu = next(m for m in w["metrics"] if m["name"] == "cpu_time")
    assert cpu["ratio"] is not None
    assert w["cpu_vs_wall"]["cpu_ratio"] == cpu["ratio"]
    store = _store(repo)
    try:
        row = cstore.get_comparison(store, doc["id"])
        assert row is not None and row["contention"] == doc["contention"]
        assert store.get_run(w["runs"]["candidate"]).contention == w["contention"]
    finally:
        store.close()
