"""Issue 22 point 3: a goal's target is checked beside the hypothesis's prediction (pure part)."""

from __future__ import annotations

import pytest

from perfop.engagement.goals import check_goal, parse_target
from perfop.engagement.records import Goal


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("0.5x", ("ratio", 0.5)),
        ("-50%", ("ratio", 0.5)),
        ("x0.8", ("ratio", 0.8)),
        ("500 ms", ("bound", 0.5)),
        ("< 200ms", ("bound", 0.2)),
        ("0.5", ("bound", 0.5)),
        ("fast", None),
    ],
)
def test_targets_parse(target: str, expected: tuple[str, float] | None) -> None:
    found = parse_target(Goal("g", target=target))
    if expected is None:
        assert found is None
    else:
        assert found is not None and found[0] == expected[0]
        assert found[1] == pytest.approx(expected[1])


def test_a_bound_uses_the_statistic_the_goal_names() -> None:
    samples = {"wall_time": [0.1, 0.1, 0.1, 0.1, 0.9]}
    p95 = check_goal(
        Goal("p95 under 500 ms", target="500 ms"),
        workload="w",
        default_metric="wall_time",
        ratios={},
        candidate=samples,
    )
    median = check_goal(
        Goal("typical call under 500 ms", target="500 ms"),
        workload="w",
        default_metric="wall_time",
        ratios={},
        candidate=samples,
    )
    assert p95 is not None and p95.met is False and p95.statistic == "p95"
    assert median is not None and median.met is True and median.statistic == "median"
    assert "NOT met" in p95.describe()


def test_a_ratio_goal_reads_the_comparison() -> None:
    goal = Goal("halve it", metric="wall_time", target="0.5x")
    met = check_goal(
        goal, workload="w", default_metric="wall_time", ratios={"wall_time": 0.4}, candidate={}
    )
    missed = check_goal(
        goal, workload="w", default_metric="wall_time", ratios={"wall_time": 0.7}, candidate={}
    )
    unknown = check_goal(goal, workload="w", default_metric="wall_time", ratios={}, candidate={})
    assert met is not None and met.met is True
    assert missed is not None and missed.met is False
    assert unknown is not None and unknown.met is None
