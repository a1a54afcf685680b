"""Pure rules for hypotheses: the status machine, the approval rule and the ranking formula.

Status machine::

    proposed -> designed -> approved (high risk only) -> implemented -> confirmed | refuted |
    inconclusive | rejected ; any of those (and implemented) -> reverted

An outcome may be revisited with a new candidate (-> implemented) or re-validated.
``confirmed`` is only set by ``perfop validate`` and, for a hypothesis that needs approval, only
once a human approved.

Ranking: ``score = gain * confidence / effort`` with ``gain = 100 * |ln(expected_ratio)|``
(percent in log units: a predicted 10% reduction is ~10.5, a predicted doubling of throughput
~69.3), ``confidence`` in [0, 1] and ``effort`` in person-days. Highest score first; ties by lower
risk, then by number.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from perfop.engagement.records import OUTCOMES, Hypothesis, Status
from perfop.errors import GuardrailError, UsageError

RANKING_FORMULA = "score = 100*|ln(expected_ratio)| * confidence / effort_days"

_S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    _S.PROPOSED: frozenset({_S.DESIGNED, _S.REJECTED}),
    _S.DESIGNED: frozenset({_S.DESIGNED, _S.APPROVED, _S.IMPLEMENTED, _S.REJECTED}),
    _S.APPROVED: frozenset({_S.DESIGNED, _S.IMPLEMENTED, _S.REJECTED}),
    _S.IMPLEMENTED: frozenset({_S.IMPLEMENTED, _S.REVERTED, *OUTCOMES}),
    _S.CONFIRMED: frozenset({_S.IMPLEMENTED, _S.REVERTED, *OUTCOMES}),
    _S.REFUTED: frozenset({_S.IMPLEMENTED, _S.REVERTED, *OUTCOMES}),
    _S.INCONCLUSIVE: frozenset({_S.IMPLEMENTED, _S.REVERTED, *OUTCOMES}),
    _S.REJECTED: frozenset({_S.DESIGNED, _S.IMPLEMENTED, _S.REVERTED, *OUTCOMES}),
    _S.REVERTED: frozenset({_S.DESIGNED}),
}

# Targets an operator may set by hand with ``perfop hypothesis update --status``.
MANUAL_TARGETS: frozenset[Status] = frozenset(
    {_S.REVERTED, _S.REJECTED, _S.INCONCLUSIVE, _S.REFUTED}
)


def parse_status(text: str) -> Status:
    """``Status`` from its name; UsageError listing the valid names otherwise."""
    try:
        return Status(text.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in Status)
        raise UsageError(f"--status: unknown status {text!r}; use one of: {names}") from None


def check_transition(
    hyp: Hypothesis, target: Status, *, needs_approval: bool, approved: bool
) -> None:
    """Raise a one-line error when ``hyp`` may not move to ``target``."""
    current = hyp.status
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none"
        raise UsageError(
            f"{hyp.label}: cannot go from {current.value} to {target.value} "
            f"(allowed from {current.value}: {allowed})"
        )
    if target is _S.APPROVED and not needs_approval:
        raise UsageError(
            f"{hyp.label}: risk is {hyp.risk} and it touches no high_risk_paths; "
            "approval is only for high-risk hypotheses, go on to implementation"
        )
    if target is _S.CONFIRMED and needs_approval and not approved:
        raise GuardrailError(
            f"{hyp.label}: high-risk hypothesis cannot be confirmed without a human approval; "
            f"run: perfop approve {hyp.label} --by NAME"
        )


def matches_high_risk(components: Iterable[str], patterns: Sequence[str]) -> list[str]:
    """Components that match one of the ``high_risk_paths`` glob patterns."""
    hits: list[str] = []
    for comp in components:
        path = comp.strip().lstrip("./")
        for pat in patterns:
            pat_n = pat.strip().lstrip("./")
            if (
                fnmatch.fnmatch(path, pat_n)
                or fnmatch.fnmatch(path, pat_n.rstrip("/") + "/*")
                or path == pat_n.rstrip("/")
            ):
                hits.append(comp)
                break
    return hits


def needs_approval(hyp: Hypothesis, high_risk_paths: Sequence[str]) -> bool:
    """High risk by declaration, or by touching a path matched by ``high_risk_paths``."""
    return hyp.risk == "high" or bool(matches_high_risk(hyp.components, high_risk_paths))


@dataclass(frozen=True)
class RankedHypothesis:
    rank: int
    score: float
    gain: float
    hypothesis: Hypothesis


def score(expected_ratio: float, confidence: float, effort: float) -> tuple[float, float]:
    """``(score, gain)`` per ``RANKING_FORMULA``."""
    gain = 100.0 * abs(math.log(expected_ratio))
    return gain * confidence / effort, gain


_RISK_ORDER = {"low": 0, "medium": 1, "high": 2}


def rank(hypotheses: Iterable[Hypothesis]) -> list[RankedHypothesis]:
    """Hypotheses ranked by expected impact over effort (see module docstring)."""
    scored = []
    for h in hypotheses:
        s, g = score(h.expected_ratio, h.confidence, h.effort)
        scored.append((s, g, h))
    scored.sort(key=lambda t: (-t[0], _RISK_ORDER[t[2].risk], t[2].number))
    return [
        RankedHypothesis(i + 1, round(s, 3), round(g, 3), h) for i, (s, g, h) in enumerate(scored)
    ]


def parse_label(text: str) -> int:
    """Hypothesis number from ``H3``, ``h3`` or ``3``."""
    raw = text.strip()
    digits = raw[1:] if raw[:1] in ("H", "h") else raw
    if not digits.isdigit() or int(digits) < 1:
        raise UsageError(
            f"hypothesis {text!r}: expected H<number> such as H1 (see perfop hypothesis list)"
        )
    return int(digits)


def parse_confidence(text: str | float) -> float:
    """Confidence as a number in (0, 1], or one of low/medium/high (0.3/0.6/0.9)."""
    words = {"low": 0.3, "medium": 0.6, "high": 0.9}
    if isinstance(text, str) and text.strip().lower() in words:
        return words[text.strip().lower()]
    try:
        value = float(text)
    except ValueError:
        raise UsageError(
            f"--confidence: {text!r} is not a number; give 0..1 or low/medium/high"
        ) from None
    if not 0 < value <= 1:
        raise UsageError(f"--confidence: {value} must be in (0, 1]; e.g. 0.6")
    return value


def parse_effort(text: str | float) -> float:
    """Effort in person-days (> 0); ``2h`` is hours, ``3d`` days, ``1w`` a five-day week."""
    raw = str(text).strip().lower()
    factor = 1.0
    if raw[-1:] in ("h", "d", "w"):
        factor = {"h": 1 / 8, "d": 1.0, "w": 5.0}[raw[-1]]
        raw = raw[:-1]
    try:
        value = float(raw) * factor
    except ValueError:
        raise UsageError(
            f"--effort: {text!r} is not a duration; give person-days like 0.5, 2d, 4h or 1w"
        ) from None
    if value <= 0:
        raise UsageError(f"--effort: {text!r} must be > 0 person-days")
    return value


def parse_ratio(text: str | float) -> float:
    """Expected ratio candidate/base (> 0, != 1); ``-20%`` means 0.8, ``+15%`` 1.15."""
    raw = str(text).strip()
    try:
        if raw.endswith("%"):
            value = 1.0 + float(raw[:-1]) / 100.0
        elif raw.endswith("x"):
            value = float(raw[:-1])
        else:
            value = float(raw)
    except ValueError:
        raise UsageError(
            f"--expect: {text!r} is not a ratio; give candidate/base like 0.8, -20% or 1.5x"
        ) from None
    if value <= 0 or value == 1.0:
        raise UsageError(f"--expect: {text!r} must be a ratio > 0 and != 1 (e.g. 0.8 for 20% less)")
    return value
