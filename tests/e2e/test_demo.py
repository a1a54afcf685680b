"""``perfop demo`` end to end: the newcomer's first command runs the real lifecycle on the bundled
example and its report says the hot spot was fixed, with a ``faster`` verdict and tests passing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

Proc = Callable[..., CompletedProcess[str]]


@pytest.mark.slow
def test_demo_runs_the_lifecycle_and_reports_the_fix(tmp_path: Path, perfop_proc: Proc) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    work = tmp_path / "demo"
    out = perfop_proc(["demo", "--dir", work, "--keep"], cwd=cwd, timeout=240)
    assert out.returncode == 0, out.stderr + out.stdout
    for n, stage in enumerate(("intake", "baseline", "profile", "validation", "verify"), 1):
        assert re.search(rf"^\[\s*\d+/12\] {stage}$", out.stdout, re.MULTILINE), (n, out.stdout)
    md = Path(re.search(r"^report \(Markdown\): (.+)$", out.stdout, re.MULTILINE)[1])
    page = Path(re.search(r"^report \(HTML\): +(.+)$", out.stdout, re.MULTILINE)[1])
    assert md.is_file() and page.is_file() and md.parent == work / "report"
    assert list(cwd.iterdir()) == []  # nothing written where it was started

    text = md.read_text()
    summary = text.split("## Context")[0]
    assert "**H1 confirmed**" in summary
    assert re.search(
        # the interval (open at one end when few pairs leave it so)
        r"top\\_words: \d+\.\d\dx faster( \(CI [^)]+x\))?, p95 .+ -> .+, SLO met, "
        r"tests passed",
        summary,
    )
    # the hot spot the profile found is the one the hypothesis cites and the diff shows fixed
    hotspot = re.search(
        r"hot spot #1: word_counts \(src/wordfreq/core\.py:\d+\) .* id (\S+)", out.stdout
    )
    assert hotspot, out.stdout
    assert f"hotspot:{hotspot[1]}" in text
    assert re.search(r"\| `word_counts` \| src/wordfreq/core\.py \| (vanished|decrease) \|", text)
    assert "**Tests:** passed" in text
    assert "(perfop-report-plots/paired-1.png)" in text
    assert (md.parent / "perfop-report-plots" / "paired-1.png").is_file()
    assert "Content-Security-Policy" in page.read_text()

    repo = work / "wordfreq"
    doc = json.loads(perfop_proc(["report", "--format", "json"], cwd=repo, timeout=120).stdout)
    (h1,) = doc["hypotheses"]
    assert h1["status"] == "confirmed" and f"hotspot:{hotspot[1]}" in h1["evidence"]
    (v,) = doc["validations"]
    (wl,) = v["workloads"]
    assert wl["verdict"] == "faster" and wl["behavior"] == "same"
    assert wl["metrics"][0]["ratio"] < 1.0
    assert len(wl["base_values"]) == wl["pairs"] >= 5
    assert v["tests"]["passed"] is True
    assert v["slos"][0]["passed"] is True
    assert v["movers"][0]["function"] == "word_counts"
    verify = json.loads(perfop_proc(["verify", "--format", "json"], cwd=repo).stdout)
    checks = {c["name"]: c["passed"] for c in verify["checks"]}
    assert checks["report generated after the last validation"] is True
    assert checks["validation after last candidate change"] is True


def test_demo_refuses_a_non_empty_directory(tmp_path: Path, perfop_proc: Proc) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    out = perfop_proc(["demo", "--dir", tmp_path])
    assert out.returncode == 2
    assert out.stderr.strip().startswith("perfop: error: --dir ")
    assert "not empty" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
