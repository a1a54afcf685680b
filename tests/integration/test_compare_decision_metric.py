"""The metric a verdict is decided on, on real processes (issue 14, point 8b).

Two workloads in one real git repository: a CPU-bound Python loop and one that mostly sleeps.
``perfop compare`` must record, per workload, which metric decided its verdict and why: wall time
for the sleeper always (it can never keep a CPU busy for 90% of a run), and for the loop whatever
the documented rule says about the runs it measured (CPU time whenever its best runs reached the
share; on a machine so loaded that no run got a CPU to itself, wall time), in the JSON document,
the stored comparison and the terminal summary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from perfop import stats
from perfop.store import compare as cstore
from perfop.store import open_store

LOOP = """\
s = 0
for i in range(300_000):
    s += i * i % 7
print("ok")
"""
NAP = """\
import time
time.sleep(0.08)
print("ok")
"""
# A pair cap, not a tight max_time: on a loaded machine start-up and checkouts alone can take
# several seconds, and a budget they fill leaves no pair (and no verdict) to record.
CONFIG = """\
[workloads.loop]
command = ["{python}", "-S", "loop.py"]
max_time = 120
max_pairs = 8

[workloads.nap]
command = ["{python}", "-S", "nap.py"]
max_time = 120
max_pairs = 8
"""


@pytest.mark.slow
def test_each_workload_records_the_metric_its_verdict_was_decided_on(
    git_repo: Callable[..., Path], git: Callable[..., str], run_cli: Callable[..., Any]
) -> None:
    repo = git_repo(
        {"loop.py": LOOP, "nap.py": NAP, "perfop.toml": CONFIG, ".gitignore": ".perfop/\n"}
    )
    base = git(repo, "rev-parse", "HEAD")
    (repo / "README").write_text("a change outside the workloads\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "readme")
    res = run_cli(["compare", base, "HEAD", "--seed", "3", "--format", "json"], cwd=repo)
    assert res.code in (0, 3), res.err
    doc = json.loads(res.out)
    assert doc["schema"] == "perfop.comparison/2"
    by_name = {w["name"]: w for w in doc["workloads"]}

    nap = by_name["nap"]
    assert nap["verdict"] is not None, nap["failure"]
    assert nap["decided_on"] == "wall_time" and nap["primary_metric"] == "wall_time"
    assert nap["decision"]["metric"] == "wall_time" and nap["decision"]["check"] is None
    assert max(nap["decision"]["cpu_share"]) < 0.5
    assert nap["decision"]["reason"].startswith("not CPU-bound")

    loop = by_name["loop"]
    assert loop["verdict"] is not None, loop["failure"]
    shares, medians = loop["decision"]["cpu_share"], loop["decision"]["cpu_median"]
    assert min(shares) > max(nap["decision"]["cpu_share"])
    cpu_bound = stats.is_cpu_bound(shares, medians)
    assert loop["decided_on"] == ("cpu_time" if cpu_bound else "wall_time")
    assert loop["decision"]["check"] == ("wall_time" if cpu_bound else None)

    store = open_store(f"sqlite:///{repo / '.perfop' / 'perfop.db'}")
    try:
        stored = cstore.get_comparison(store, doc["id"])
    finally:
        store.close()
    assert stored is not None
    document = stored["document"]
    document = json.loads(document) if isinstance(document, str) else document
    kept = {w["name"]: w for w in document["workloads"]}
    assert kept["loop"]["decided_on"] == loop["decided_on"]
    assert kept["nap"]["decision"] == nap["decision"]

    text = run_cli(["compare", base, "HEAD", "-w", "nap", "--seed", "4"], cwd=repo)
    assert "decided on wall_time: not CPU-bound" in text.out, text.out
