"""The pure helpers of benchmarks/realwork.py: the reference ratio, the judging, the targets."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "realwork.py"
_spec = importlib.util.spec_from_file_location("realwork", _PATH)
assert _spec and _spec.loader
realwork = importlib.util.module_from_spec(_spec)
sys.modules["realwork"] = realwork
_spec.loader.exec_module(realwork)


def test_paired_ratio_is_the_geometric_mean_of_pair_ratios_with_a_t_interval() -> None:
    base = [1.0, 2.0, 4.0]
    cand = [0.5, 1.2, 2.0]  # pair ratios 0.5, 0.6, 0.5
    r = realwork.paired_ratio(base, cand)
    logs = [math.log(0.5), math.log(0.6), math.log(0.5)]
    mean = sum(logs) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 2)
    half = 4.302652729749464 * sd / math.sqrt(3)  # t(0.975, df=2), from tables
    assert r["ratio"] == pytest.approx(math.exp(mean))
    assert r["ci_low"] == pytest.approx(math.exp(mean - half))
    assert r["ci_high"] == pytest.approx(math.exp(mean + half))
    assert r["median_ratio"] == pytest.approx(0.5)
    assert r["pairs"] == 3


def test_paired_ratio_refuses_unpaired_samples() -> None:
    with pytest.raises(ValueError):
        realwork.paired_ratio([1.0, 2.0], [1.0])


@pytest.mark.parametrize(
    ("kind", "verdict", "ci", "expected"),
    [
        ("change", "faster", (0.4, 0.6), "right"),
        ("change", "slower", (0.4, 0.6), "wrong-way"),
        ("change", "unchanged", (0.4, 0.6), "false"),
        ("change", "inconclusive", (0.4, 0.6), "no verdict"),
        ("change", "unchanged", (0.99, 1.01), "right"),
        ("change", "faster", (0.99, 1.01), "false"),
        ("change", "slower", (1.2, 1.4), "right"),
        ("change", "faster", (1.01, 1.4), "wrong-way"),
        # a reference that cannot tell: every verdict its interval allows is right
        ("change", "unchanged", (0.95, 1.09), "right"),
        ("change", "slower", (0.95, 1.09), "right"),
        ("change", "faster", (0.95, 1.09), "right"),
        ("aa", "unchanged", (1.0, 1.0), "right"),
        ("aa", "inconclusive", (1.0, 1.0), "right"),
        ("aa", "faster", (1.0, 1.0), "false"),
    ],
)
def test_judge(kind: str, verdict: str, ci: tuple[float, float], expected: str) -> None:
    ref = {"ratio": sum(ci) / 2, "ci_low": ci[0], "ci_high": ci[1]}
    assert realwork.judge({"kind": kind, "verdict": verdict}, ref) == expected


def test_a_change_of_20_percent_is_big_either_way() -> None:
    assert realwork.is_big(0.8) and realwork.is_big(1 / 1.2) and realwork.is_big(1.2)
    assert not realwork.is_big(0.85) and not realwork.is_big(1.19)


def _row(**kw: Any) -> dict[str, Any]:
    return {"condition": "quiet", "case": "c", "wall": 10.0, "load": {}, **kw}


def test_targets_count_inconclusive_on_big_changes_ratio_agreement_and_aa() -> None:
    rows = [
        {
            "kind": "reference",
            "case": "c",
            "condition": "quiet",
            "ratio": 0.5,
            "ci_low": 0.45,
            "ci_high": 0.55,
            "pairs": 12,
        },
        {"kind": "reference", "case": "d", "condition": "quiet", "ratio": 0.9},
        _row(kind="change", verdict="faster", ratio=0.53, ci_low=0.5, ci_high=0.56),
        _row(kind="change", verdict="inconclusive", ratio=0.6, ci_low=0.3, ci_high=1.1),
        _row(kind="change", case="d", verdict="inconclusive", ratio=0.9),
        _row(kind="aa", verdict="unchanged", ratio=1.0),
        _row(kind="aa", verdict="slower", ratio=1.04),
    ]
    text = "\n".join(realwork.targets(rows))
    assert "1/3 verdicts in the right direction" in text
    assert "2 without a verdict" in text
    # the inconclusive one at reference 0.9 is not a change of 20%
    assert "`inconclusive` on changes >= 20% (by the reference): 1/2" in text
    assert "<= 0.05: 2/3 (largest 0.100)" in text
    assert "A/A: 1/2 false verdicts, 1/2 `unchanged`" in text
    table = realwork.summarise(rows)
    assert table.count("\n| quiet |") == 5
    assert "| 0.500 (0.450-0.550, 12) |" in table
    assert "| 0.900 |" in table  # a reference without a CI is shown without one
