"""The hypothesis status machine, the approval rule and the ranking formula."""

from __future__ import annotations

import math

import pytest

from perfop.engagement.hypotheses import (
    TRANSITIONS,
    check_transition,
    matches_high_risk,
    needs_approval,
    parse_confidence,
    parse_effort,
    parse_label,
    parse_ratio,
    parse_status,
    rank,
    score,
)
from perfop.engagement.records import Hypothesis, Status
from perfop.errors import GuardrailError, UsageError


def hyp(number: int = 1, **kw: object) -> Hypothesis:
    return Hypothesis(id=number, engagement_id=1, number=number, statement="s", **kw)  # type: ignore[arg-type]


LEGAL = [
    (Status.PROPOSED, Status.DESIGNED),
    (Status.DESIGNED, Status.IMPLEMENTED),
    (Status.APPROVED, Status.IMPLEMENTED),
    (Status.IMPLEMENTED, Status.CONFIRMED),
    (Status.IMPLEMENTED, Status.REFUTED),
    (Status.IMPLEMENTED, Status.INCONCLUSIVE),
    (Status.IMPLEMENTED, Status.REJECTED),
    (Status.IMPLEMENTED, Status.REVERTED),
    (Status.CONFIRMED, Status.REVERTED),
    (Status.REFUTED, Status.IMPLEMENTED),
]
ILLEGAL = [
    (Status.PROPOSED, Status.IMPLEMENTED),
    (Status.PROPOSED, Status.CONFIRMED),
    (Status.PROPOSED, Status.APPROVED),
    (Status.DESIGNED, Status.CONFIRMED),
    (Status.APPROVED, Status.CONFIRMED),
    (Status.REVERTED, Status.CONFIRMED),
    (Status.REVERTED, Status.IMPLEMENTED),
]


@pytest.mark.parametrize(("src", "dst"), LEGAL)
def test_legal_transitions_pass(src: Status, dst: Status) -> None:
    check_transition(hyp(status=src), dst, needs_approval=False, approved=False)


@pytest.mark.parametrize(("src", "dst"), ILLEGAL)
def test_illegal_transitions_refused_with_one_line(src: Status, dst: Status) -> None:
    with pytest.raises(UsageError) as info:
        check_transition(hyp(status=src), dst, needs_approval=True, approved=True)
    msg = str(info.value)
    assert "\n" not in msg
    assert f"cannot go from {src.value} to {dst.value}" in msg
    assert msg.startswith("H1:")


def test_every_status_has_a_transition_entry() -> None:
    assert set(TRANSITIONS) == set(Status)


def test_approval_only_for_high_risk() -> None:
    with pytest.raises(UsageError, match="only for high-risk"):
        check_transition(
            hyp(status=Status.DESIGNED), Status.APPROVED, needs_approval=False, approved=False
        )
    check_transition(
        hyp(status=Status.DESIGNED), Status.APPROVED, needs_approval=True, approved=False
    )


def test_high_risk_cannot_be_confirmed_without_approval() -> None:
    h = hyp(status=Status.IMPLEMENTED, risk="high")
    with pytest.raises(GuardrailError, match="perfop approve H1 --by NAME"):
        check_transition(h, Status.CONFIRMED, needs_approval=True, approved=False)
    check_transition(h, Status.CONFIRMED, needs_approval=True, approved=True)


def test_high_risk_paths_make_a_low_risk_hypothesis_need_approval() -> None:
    h = hyp(risk="low", components=("src/app/billing/charge.py", "README.md"))
    assert needs_approval(h, ["src/app/billing/"])
    assert needs_approval(h, ["src/app/billing/*.py"])
    assert not needs_approval(h, ["src/app/auth/"])
    assert not needs_approval(h, [])
    assert needs_approval(hyp(risk="high"), [])
    assert matches_high_risk(["./db/schema.sql"], ["db"]) == ["./db/schema.sql"]


def test_score_formula_known_values() -> None:
    s, gain = score(0.9, 0.5, 2.0)
    assert gain == pytest.approx(100 * abs(math.log(0.9)))
    assert s == pytest.approx(gain * 0.5 / 2.0)
    # symmetric in log units: halving a time and doubling a throughput gain the same
    assert score(0.5, 1, 1)[1] == pytest.approx(score(2.0, 1, 1)[1])


def test_rank_orders_by_impact_over_effort_then_risk_then_number() -> None:
    cheap_small = hyp(1, expected_ratio=0.95, effort=0.5, confidence=0.8)  # 8.2
    big_costly = hyp(2, expected_ratio=0.5, effort=10, confidence=0.9)  # 6.2
    big_cheap = hyp(3, expected_ratio=0.7, effort=1, confidence=0.6)  # 21.4
    tie_high = hyp(4, expected_ratio=0.7, effort=1, confidence=0.6, risk="high")
    ranked = rank([cheap_small, big_costly, tie_high, big_cheap])
    assert [r.hypothesis.number for r in ranked] == [3, 4, 1, 2]
    assert [r.rank for r in ranked] == [1, 2, 3, 4]
    assert ranked[0].score == pytest.approx(100 * abs(math.log(0.7)) * 0.6, abs=1e-3)


@pytest.mark.parametrize(
    ("text", "value"), [("0.8", 0.8), ("-20%", 0.8), ("+50%", 1.5), ("2x", 2.0)]
)
def test_parse_ratio(text: str, value: float) -> None:
    assert parse_ratio(text) == pytest.approx(value)


@pytest.mark.parametrize("bad", ["1", "0", "-0.5", "fast", "-100%"])
def test_parse_ratio_refuses(bad: str) -> None:
    with pytest.raises(UsageError, match="--expect"):
        parse_ratio(bad)


def test_parse_effort_confidence_label_status() -> None:
    assert parse_effort("4h") == 0.5
    assert parse_effort("1w") == 5.0
    assert parse_effort("2") == 2.0
    with pytest.raises(UsageError, match="--effort"):
        parse_effort("0")
    with pytest.raises(UsageError, match="--effort"):
        parse_effort("soon")
    assert parse_confidence("high") == 0.9
    assert parse_confidence("0.4") == 0.4
    with pytest.raises(UsageError, match="--confidence"):
        parse_confidence("1.5")
    assert parse_label("H12") == 12
    assert parse_label("3") == 3
    with pytest.raises(UsageError, match="H<number>"):
        parse_label("X1")
    assert parse_status("Reverted") is Status.REVERTED
    with pytest.raises(UsageError, match="--status"):
        parse_status("done")
