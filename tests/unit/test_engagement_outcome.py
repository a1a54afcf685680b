"""The validation verdict from evidence: each rule of ``outcome.decide`` on fixed inputs."""

from __future__ import annotations

from perfop.config import SLOConfig
from perfop.engagement.outcome import TestEvidence, WorkloadEvidence, decide
from perfop.engagement.records import Status
from perfop.slo import SLOResult, check_slo

PASS = TestEvidence("pytest -q", candidate_ok=True)


def ev(verdict: str, ratio: float | None, **kw: object) -> WorkloadEvidence:
    return WorkloadEvidence(
        workload=str(kw.pop("workload", "w")),
        metric="wall_time",
        verdict=verdict,
        ratio=ratio,
        **kw,
    )  # type: ignore[arg-type]


def status(
    *wl: WorkloadEvidence,
    tests: TestEvidence | None = PASS,
    slos: list[SLOResult] | None = None,
    expected: float = 0.8,
) -> Status:
    return decide(expected_ratio=expected, workloads=list(wl), tests=tests, slos=slos or []).status


def test_confirmed_when_moved_as_predicted() -> None:
    out = decide(
        expected_ratio=0.8,
        workloads=[ev("faster", 0.7, ci_low=0.68, ci_high=0.72)],
        tests=PASS,
        slos=[],
    )
    assert out.status is Status.CONFIRMED and not out.contradicts
    assert "w wall_time: ratio 0.700 (CI 0.680..0.720), faster" in out.reasons
    # a predicted increase (throughput) observed as an increase
    assert status(ev("faster", 1.4), expected=1.5) is Status.CONFIRMED


def test_refuted_when_moved_against_or_not_at_all() -> None:
    out = decide(expected_ratio=0.8, workloads=[ev("slower", 1.2)], tests=PASS, slos=[])
    assert out.status is Status.REFUTED and out.contradicts
    assert "moved the other way" in out.reasons[0]
    assert status(ev("unchanged", 1.001)) is Status.REFUTED


def test_inconclusive_comparison() -> None:
    assert status(ev("inconclusive", 0.97)) is Status.INCONCLUSIVE
    assert status() is Status.INCONCLUSIVE  # nothing compared


def test_new_test_failure_rejects_and_preexisting_is_inconclusive() -> None:
    new = TestEvidence("pytest", candidate_ok=False, base_ok=True)
    old = TestEvidence("pytest", candidate_ok=False, base_ok=False)
    assert status(ev("faster", 0.7), tests=new) is Status.REJECTED
    assert status(ev("faster", 0.7), tests=old) is Status.INCONCLUSIVE


def test_behaviour_change_or_crash_rejects() -> None:
    out = decide(
        expected_ratio=0.8,
        workloads=[ev("faster", 0.5, behaviour_changed=True)],
        tests=PASS,
        slos=[],
    )
    assert out.status is Status.REJECTED and "output changed" in out.reasons[0]
    assert status(ev("faster", 0.5, candidate_failures=2)) is Status.REJECTED


def test_slo_breach_and_other_regression_refute() -> None:
    slo = SLOConfig(workload="w", statistic="max", max=0.01)
    breached = check_slo(slo, [0.02, 0.03])
    assert breached.passed is False
    assert status(ev("faster", 0.7), slos=[breached]) is Status.REFUTED
    other = ev("slower", 1.3, workload="other", targeted=False)
    assert status(ev("faster", 0.7), other) is Status.REFUTED
    ungated = ev("slower", 1.3, workload="other", targeted=False, gate=False)
    assert status(ev("faster", 0.7), ungated) is Status.CONFIRMED


def test_slo_check_pure() -> None:
    slo = SLOConfig(workload="w", statistic="median", max=2.0, min=1.0)
    ok = check_slo(slo, [1.5, 1.6, 1.7])
    assert ok.passed and ok.value == 1.6 and "within <= 2 >= 1" in ok.reason
    low = check_slo(slo, [0.5, 0.6, 0.7])
    assert low.passed is False and "0.6 < min 1" in low.reason
    assert check_slo(slo, []).passed is None
