"""``perfop validate H``: A/B compare the candidate against the engagement's base, run the test
command in the candidate's isolated worktree (and at base when it fails), check every SLO against
the candidate's samples, then set the hypothesis' status from the evidence (``outcome.decide``).

The comparison is ``perfop.compare.service.compare`` and the checkouts are
``perfop.measure.worktrees`` sessions: the user's tree, index and branches are never touched.
Everything is stored as one ``Validation`` plus a status change in the decision log.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfop.compare.slo import Contention, SLOResult, check_slos, measured_contention
from perfop.config import LoadedConfig
from perfop.engagement import lifecycle
from perfop.engagement.checkout import (
    interpreter_of,
    outside_checkout,
    probe,
    probe_warnings,
    project_packages,
    tests_argv,
    tests_env,
    tests_setup_argv,
)
from perfop.engagement.hypotheses import needs_approval
from perfop.engagement.outcome import Outcome, TestEvidence, WorkloadEvidence, decide
from perfop.engagement.records import (
    OUTCOMES,
    Actor,
    Engagement,
    Hypothesis,
    Status,
    Validation,
)
from perfop.engagement.risk import diff_high_risk
from perfop.engagement.service import current, log_decision
from perfop.errors import GuardrailError, UsageError
from perfop.store import Store
from perfop.store import engagement as es

if TYPE_CHECKING:
    from perfop.compare.service import CompareProgress, ComparisonResult, WorkloadComparison
    from perfop.engagement.goals import GoalCheck

TEST_TIMEOUT = 900.0
VALIDATABLE = frozenset({Status.IMPLEMENTED, *OUTCOMES})


@dataclass(frozen=True)
class ValidationReport:
    hypothesis: Hypothesis
    validation: Validation
    outcome: Outcome
    comparison_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "hypothesis": self.hypothesis.to_dict(),
            "validation": self.validation.to_dict(),
            "status": self.outcome.status.value,
            "contradicts": self.outcome.contradicts,
            "outcome": self.outcome.to_dict(),
            "comparison_id": self.comparison_id,
        }


def run_tests(
    loaded: LoadedConfig,
    checkout: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = TEST_TIMEOUT,
) -> tuple[bool, str]:
    """Run ``test_setup`` (when configured) and the test command in ``checkout``'s project
    folder with ``env`` on top of perfop's environment; ``(passed, output tail)``."""
    from perfop.environment import redact_text
    from perfop.measure.runner import run_process, workload_env

    tree = loaded.project_dir(checkout)
    process_env = workload_env({"PYTHONDONTWRITEBYTECODE": "1", **(env or {})})
    setup = tests_setup_argv(loaded, checkout)
    if setup is not None:
        done = run_process(setup, cwd=tree, env=process_env, timeout=timeout)
        if not done.ok:
            tail = "\n".join(done.stderr_tail.strip().splitlines()[-8:])
            return False, redact_text(f"test_setup failed: {done.describe_failure()}\n{tail}")
    result = run_process(tests_argv(loaded, checkout), cwd=tree, env=process_env, timeout=timeout)
    tail = "\n".join(
        (result.stdout_head.strip().splitlines() + result.stderr_tail.strip().splitlines())[-8:]
    )
    detail = "" if result.ok else f"{result.describe_failure()}\n"
    return result.ok, redact_text(detail + tail)


def _probe_side(
    loaded: LoadedConfig, checkout: Path, workloads: Sequence[str]
) -> list[dict[str, Any]]:
    """The interpreter of each validated workload in ``checkout`` (one probe per distinct
    interpreter and environment): version, distributions, where the project's packages import
    from. What the report's environment section shows."""
    from perfop.config import resolve_workload
    from perfop.environment import redact_obj
    from perfop.measure.runner import workload_env

    tree = loaded.project_dir(checkout)
    names = project_packages(tree)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for name in workloads:
        wl = loaded.config.workloads.get(name)
        if wl is None:
            continue
        res = resolve_workload(name, wl, repo=loaded.repo_root, worktree=tree)
        env = workload_env(res.env)
        interpreter = interpreter_of(res.argv, cwd=res.cwd, env=env)
        if interpreter is None:
            continue
        key = (interpreter, repr(sorted(res.env.items())))
        if key in found:
            found[key]["workloads"].append(name)
            continue
        doc = probe(interpreter, cwd=res.cwd, env=env, packages=names)
        if doc is None:
            continue
        doc["workloads"] = [name]
        doc["outside_checkout"] = outside_checkout(doc, checkout, who=f"workload {name} would")
        found[key] = doc
    return [redact_obj(d) for d in found.values()]


@dataclass(frozen=True)
class CheckoutEvidence:
    tests: TestEvidence | None
    environment: dict[str, Any]


def checkout_evidence(
    loaded: LoadedConfig, base_ref: str, cand_sha: str, workloads: Sequence[str]
) -> CheckoutEvidence:
    """The tests at the candidate (and at base when they fail there), with the validated
    workloads' environment, and a probe of each side's workload interpreter."""
    from perfop.measure.runner import workload_env
    from perfop.measure.worktrees import WorktreeSession

    command = loaded.config.test_command
    environment: dict[str, Any] = {}
    with WorktreeSession(loaded.repo_root) as session:
        cand = session.checkout("cand", cand_sha)
        base = session.checkout("base", base_ref)
        environment = {
            "candidate": _probe_side(loaded, cand.path, workloads),
            "base": _probe_side(loaded, base.path, workloads),
        }
        if command is None:
            return CheckoutEvidence(None, environment)
        text = command if isinstance(command, str) else shlex.join(command)
        env = tests_env(loaded, cand.path, workloads)
        warnings: list[str] = []
        interpreter = interpreter_of(
            tests_argv(loaded, cand.path), cwd=loaded.project_dir(cand.path), env=workload_env(env)
        )
        if interpreter is not None:
            found = probe(
                interpreter,
                cwd=loaded.project_dir(cand.path),
                env=workload_env(env),
                packages=project_packages(loaded.project_dir(cand.path)),
            )
            if found is not None:
                warnings = outside_checkout(found, cand.path, who="the tests")
        ok, tail = run_tests(loaded, cand.path, env=env)
        if ok:
            passed = TestEvidence(
                text, candidate_ok=True, candidate_tail=tail, warnings=tuple(warnings)
            )
            return CheckoutEvidence(passed, environment)
        base_env = tests_env(loaded, base.path, workloads)
        base_ok, base_tail = run_tests(loaded, base.path, env=base_env)
    return CheckoutEvidence(
        TestEvidence(
            text,
            candidate_ok=False,
            base_ok=base_ok,
            candidate_tail=tail,
            base_tail=base_tail,
            warnings=tuple(warnings),
        ),
        environment,
    )


def _workload_evidence(
    store: Store, wc: WorkloadComparison, metric: str, *, targeted: bool, cid: int
) -> WorkloadEvidence:
    failures = 0
    if wc.cand_run_id is not None:
        failures = store.get_run(wc.cand_run_id, with_samples=False).n_failures
    if wc.verdict is None:
        cand_failed = bool(wc.failure and wc.failure.startswith("candidate"))
        return WorkloadEvidence(
            workload=wc.name,
            metric=metric,
            verdict="inconclusive",
            ratio=None,
            gate=wc.gate,
            behaviour_changed=wc.behavior == "changed",
            candidate_failures=max(failures, 1) if cand_failed else failures,
            comparison_id=cid,
            targeted=targeted,
        )
    # The primary metric's evidence is the workload's verdict and the metric it was decided on
    # (CPU time for a CPU-bound workload, checked by wall time: docs/statistics.md, 3d).
    decided = metric == wc.primary_metric
    m = wc.primary if decided else next((x for x in wc.metrics if x.name == metric), None)
    m = m or wc.primary
    assert m is not None
    a = m.analysis
    return WorkloadEvidence(
        workload=wc.name,
        metric=m.name,
        verdict=wc.verdict.value if decided else m.verdict.value,
        ratio=a.ratio,
        ci_low=a.ci_low,
        ci_high=a.ci_high,
        gate=wc.gate,
        behaviour_changed=wc.behavior == "changed",
        candidate_failures=failures,
        comparison_id=cid,
        targeted=targeted,
        mde=wc.mde,
    )


def _suite_evidence(
    store: Store, wc: WorkloadComparison, metric: str, *, targeted: bool, cid: int
) -> list[WorkloadEvidence]:
    """A suite workload's evidence, one entry per benchmark (docs/statistics.md, section 10).

    The hypothesis' metric names the benchmark it moves; when it names none (``wall_time``,
    the default), every benchmark is the hypothesis' target. The other benchmarks are evidence
    of their own: one that is slower and that the workload's ``fail_on`` gates is "another
    gated regression", exactly as another gated workload would be. A benchmark that failed on
    the candidate counts as a candidate failure (a behaviour change)."""
    from perfop.model import Verdict

    assert wc.suite is not None
    aimed = any(b.name == metric for b in wc.suite.benchmarks)
    out = []
    for b in wc.suite.benchmarks:
        target = targeted and (b.name == metric or not aimed)
        m = b.metric
        # ``fails_gate`` of a slower benchmark is whether fail_on covers it; for any other
        # verdict the gate field only matters if it were slower, so the workload's gate stands.
        gate = wc.gate and (b.fails_gate if b.verdict == Verdict.SLOWER else True)
        if m is None:
            if not target and b.status != "failed on candidate":
                continue
            out.append(
                WorkloadEvidence(
                    workload=wc.name,
                    metric=b.name,
                    verdict="inconclusive",
                    ratio=None,
                    gate=gate,
                    candidate_failures=int(b.status == "failed on candidate"),
                    comparison_id=cid,
                    targeted=target,
                )
            )
            continue
        a = m.analysis
        out.append(
            WorkloadEvidence(
                workload=wc.name,
                metric=b.name,
                verdict=m.verdict.value,
                ratio=a.ratio,
                ci_low=a.ci_low,
                ci_high=a.ci_high,
                gate=gate,
                comparison_id=cid,
                targeted=target,
                mde=a.mde if math.isfinite(a.mde) else None,
            )
        )
    return out


def _slo_results(
    store: Store, loaded: LoadedConfig, spec_slos: Sequence[Any], result: ComparisonResult
) -> list[SLOResult]:
    """Every SLO at the candidate, classified against base's samples of the same comparison and
    the contention recorded while they were measured (``slo.measured_contention``)."""
    samples: dict[str, list[dict[str, float]]] = {}
    base_samples: dict[str, list[dict[str, float]]] = {}
    contention: dict[str, Contention | None] = {}
    for wc in result.workloads:
        if wc.cand_run_id is None:
            continue
        run = store.get_run(wc.cand_run_id)
        samples[wc.name] = [dict(s.metrics) for s in run.samples]
        if wc.base_run_id is not None:
            base = store.get_run(wc.base_run_id)
            base_samples[wc.name] = [dict(s.metrics) for s in base.samples]
        env_id = run.environment_id
        contention[wc.name] = measured_contention(
            store.get_environment(env_id) if env_id is not None else None,
            getattr(wc, "contention", None),
        )
    slos = list(loaded.config.slos)
    seen = {(s.workload, s.metric, s.statistic, s.max, s.min) for s in slos}
    slos += [s for s in spec_slos if (s.workload, s.metric, s.statistic, s.max, s.min) not in seen]
    return check_slos(slos, samples, base_samples=base_samples, contention=contention)


def _derive_risk(
    store: Store,
    loaded: LoadedConfig,
    eng: Engagement,
    hyp: Hypothesis,
    base_sha: str,
    *,
    actor: Actor,
) -> Hypothesis:
    """Raise ``hyp`` to high risk (logged) when the candidate's diff touches high_risk_paths.

    What the hypothesis declares (risk, components) can be edited; what the candidate changes
    cannot, so this is the check an approval is measured against.
    """
    assert hyp.candidate_sha is not None
    touched = diff_high_risk(
        loaded.repo_root, base_sha, hyp.candidate_sha, loaded.config.high_risk_paths
    )
    if not touched or hyp.risk == "high":
        return hyp
    with store.write() as conn:
        es.update_hypothesis(conn, hyp.id, risk="high")
        log_decision(
            conn,
            eng,
            actor,
            f"{hyp.label} risk {hyp.risk} -> high (derived from the candidate's diff)",
            why=f"the candidate {hyp.candidate_sha[:12]} changes high-risk path(s): "
            + ", ".join(touched[:5])
            + (f" and {len(touched) - 5} more" if len(touched) > 5 else ""),
            kind="risk",
            evidence=[f"commit:{hyp.candidate_sha}"],
            hypothesis_id=hyp.id,
        )
        fresh = es.get_hypothesis(conn, eng.id, hyp.number)
    return fresh or hyp


def _machine_evidence(result: ComparisonResult) -> dict[str, Any]:
    """The machine's contention over the comparison (``perfop.measure.contention.is_high`` flags SLO
    checks measured under it) and each workload's CPU-time ratio beside its wall-time ratio."""
    from perfop.compare.cpuwall import cpu_vs_wall_document

    return {
        "contention": result.contention,
        "cpu_vs_wall": {
            wc.name: cpu_vs_wall_document(wc.metrics, contention=wc.contention)
            for wc in result.workloads
        },
    }


def _goal_checks(
    store: Store,
    eng: Engagement,
    hyp: Hypothesis,
    result: ComparisonResult,
    targeted: Sequence[str],
    *,
    stacked: bool,
) -> list[GoalCheck]:
    """Every goal with a target, on each targeted workload's evidence (beside the prediction).

    A ratio target compares the whole change with the engagement's base, so it is not checked
    on a stacked fix's own comparison (its base is another fix's candidate)."""
    from perfop.engagement.goals import check_goal

    checks: list[GoalCheck] = []
    goals = [g for g in eng.spec.goals if g.target is not None]
    if not goals:
        return checks
    for wc in result.workloads:
        if wc.name not in targeted or wc.cand_run_id is None:
            continue
        ratios = {m.name: m.analysis.ratio for m in wc.metrics}
        run = store.get_run(wc.cand_run_id)
        samples: dict[str, list[float]] = {}
        for sample in run.samples:
            for name, value in sample.metrics.items():
                samples.setdefault(name, []).append(float(value))
        for goal in goals:
            found = check_goal(
                goal,
                workload=wc.name,
                default_metric=hyp.metric,
                ratios={} if stacked else ratios,
                candidate=samples,
            )
            if found is not None:
                checks.append(found)
    return checks


def _is_ancestor(repo: Path, older: str, newer: str) -> bool:
    from perfop import git

    return git.run(repo, "merge-base", "--is-ancestor", older, newer, user_env=True).ok


def stacked_parent(
    store: Store, loaded: LoadedConfig, eng: Engagement, hyp: Hypothesis, base_sha: str
) -> Hypothesis | None:
    """The hypothesis ``hyp`` is built on: another one of the engagement whose candidate commit
    lies between the base and ``hyp``'s candidate (the nearest, when several are stacked).

    Validating against it measures ``hyp``'s own effect; against the base, the effects of both
    would be credited to ``hyp`` (and twice in the changelog)."""
    assert hyp.candidate_sha is not None
    with store.read() as conn:
        others = [
            h
            for h in es.list_hypotheses(conn, eng.id)
            if h.id != hyp.id
            and h.candidate_sha
            and h.candidate_sha not in (hyp.candidate_sha, base_sha)
            and h.status not in (Status.REVERTED, Status.REJECTED, Status.REFUTED)
        ]
    repo = loaded.repo_root
    under = [
        h
        for h in others
        if h.candidate_sha is not None
        and _is_ancestor(repo, h.candidate_sha, hyp.candidate_sha)
        and _is_ancestor(repo, base_sha, h.candidate_sha)
    ]
    for h in under:  # the nearest: no other parent lies between it and hyp
        assert h.candidate_sha is not None
        if not any(
            o is not h
            and o.candidate_sha is not None
            and _is_ancestor(repo, h.candidate_sha, o.candidate_sha)
            for o in under
        ):
            return h
    return None


def validate(
    store: Store,
    loaded: LoadedConfig,
    label: str,
    *,
    actor: Actor,
    candidate: str | None = None,
    max_time: float | None = None,
    max_pairs: int | None = None,
    max_runs: int | None = None,
    seed: int | None = None,
    progress: CompareProgress | None = None,
) -> ValidationReport:
    """Validate hypothesis ``label`` and set its status from the evidence."""
    from perfop.compare.service import compare

    eng, hyp = _validatable(store, loaded, label, actor=actor, candidate=candidate)
    against = _against(store, loaded, eng, hyp, actor=actor)
    hyp = against.hypothesis
    assert hyp.candidate_sha is not None
    _require_approval(store, loaded, eng, hyp)
    targeted = list(hyp.workloads or eng.spec.workloads or loaded.config.workloads)
    others = [n for n, w in loaded.config.workloads.items() if w.gate and n not in targeted]
    cap = max_pairs if max_pairs is not None else max_runs
    result = compare(
        store,
        loaded,
        base=against.sha,
        candidate=hyp.candidate_sha,
        workloads=[*targeted, *others],
        max_time=max_time,
        max_pairs=cap,
        seed=seed,
        progress=progress,
    )
    evidence = _evidence(store, result, hyp.metric, targeted)
    checked = checkout_evidence(loaded, against.sha, hyp.candidate_sha, targeted)
    slos = _slo_results(store, loaded, eng.spec.slos, result)
    outcome = decide(
        expected_ratio=hyp.expected_ratio,
        workloads=evidence,
        tests=checked.tests,
        slos=slos,
        warnings=probe_warnings(checked.environment),
    )
    goals = _goal_checks(store, eng, hyp, result, targeted, stacked=against.parent is not None)
    outcome = _with_context(outcome, against.parent, goals)
    doc = {
        "method": "perfop compare (interleaved A/B, sequential stopping)",
        "comparison_id": result.id,
        # Built on another hypothesis: compared against its candidate, so the effect is this one's.
        "stacked_on": against.stacked_on(),
        "seed": result.seed,
        "budget": {"max_time": max_time, "max_pairs": cap},
        "workloads": [e.to_dict() for e in evidence],
        "tests": checked.tests.to_dict() if checked.tests else None,
        "slos": [r.to_dict() for r in slos],
        "outcome": outcome.to_dict(),
        "goals": [g.to_dict() for g in goals],
        "environment": checked.environment,
        **_machine_evidence(result),
        # What the comparison said up front (budget plan, harness), per workload.
        "plans": {
            wc.name: {"plan": wc.budget.to_dict() if wc.budget else None, "notices": wc.notices}
            for wc in result.workloads
        },
    }
    return _record(store, loaded, eng, hyp, against, outcome, doc, result.id, actor=actor)


def _validatable(
    store: Store, loaded: LoadedConfig, label: str, *, actor: Actor, candidate: str | None
) -> tuple[Engagement, Hypothesis]:
    """The engagement and hypothesis ``label`` (its candidate recorded first, when given);
    UsageError unless intake is confirmed and the hypothesis has a candidate to validate."""
    eng = current(store)
    if not eng.confirmed_at:
        raise UsageError(
            "intake not confirmed: validation counts only after it; run: perfop intake --confirm"
        )
    if candidate is not None:
        lifecycle.update(store, loaded, label, actor=actor, candidate=candidate)
    hyp = lifecycle.get(store, label, eng)
    if not hyp.candidate_sha:
        raise UsageError(
            f"{hyp.label}: no candidate recorded; run: perfop validate {hyp.label} --candidate REF"
        )
    if hyp.status not in VALIDATABLE:
        raise UsageError(
            f"{hyp.label} is {hyp.status.value}; only implemented (or validated) "
            "hypotheses can be validated"
        )
    return eng, hyp


@dataclass(frozen=True)
class _Against:
    """What the candidate is measured against: the engagement's base, or the candidate of the
    hypothesis it is stacked on (``parent``). ``hypothesis``: after its risk was derived."""

    hypothesis: Hypothesis
    ref: str
    sha: str
    parent: Hypothesis | None

    def stacked_on(self) -> dict[str, Any] | None:
        if self.parent is None:
            return None
        return {"label": self.parent.label, "sha": self.parent.candidate_sha}


def _against(
    store: Store, loaded: LoadedConfig, eng: Engagement, hyp: Hypothesis, *, actor: Actor
) -> _Against:
    from perfop.measure.worktrees import default_base, resolve_ref

    repo = loaded.repo_root
    base_ref = eng.spec.base or default_base(repo, loaded.config.base)
    base_sha = resolve_ref(repo, base_ref)
    hyp = _derive_risk(store, loaded, eng, hyp, base_sha, actor=actor)
    parent = stacked_parent(store, loaded, eng, hyp, base_sha)
    if parent is None:
        return _Against(hyp, base_ref, base_sha, None)
    assert parent.candidate_sha is not None
    ref = f"{parent.label} candidate {parent.candidate_ref or parent.candidate_sha[:12]}"
    return _Against(hyp, ref, parent.candidate_sha, parent)


def _require_approval(store: Store, loaded: LoadedConfig, eng: Engagement, hyp: Hypothesis) -> None:
    with store.read() as conn:
        approved = lifecycle.is_approved(conn, eng.id, hyp.id)
    if needs_approval(hyp, loaded.config.high_risk_paths) and not approved:
        raise GuardrailError(
            f"{hyp.label} is high risk and has no human approval; run: "
            f"perfop approve {hyp.label} --by NAME"
        )


def _evidence(
    store: Store, result: ComparisonResult, metric: str, targeted: Sequence[str]
) -> list[WorkloadEvidence]:
    """Each compared workload's evidence (a suite's: one per benchmark)."""
    return [
        ev
        for wc in result.workloads
        for ev in (
            _suite_evidence(store, wc, metric, targeted=wc.name in targeted, cid=result.id)
            if wc.suite is not None and wc.verdict is not None
            else [
                _workload_evidence(store, wc, metric, targeted=wc.name in targeted, cid=result.id)
            ]
        )
    ]


def _with_context(
    outcome: Outcome, parent: Hypothesis | None, goals: Sequence[GoalCheck]
) -> Outcome:
    """The outcome's reasons say what a stacked fix was measured against, and every goal."""
    from dataclasses import replace

    if parent is not None:
        first = outcome.reasons[0] + (
            f" (measured against {parent.label}'s candidate: this change's own effect)"
        )
        outcome = replace(outcome, reasons=(first, *outcome.reasons[1:]))
    if goals:
        unmet = [g.describe() for g in goals if g.met is False]
        outcome = replace(
            outcome,
            reasons=(*outcome.reasons, *(g.describe() for g in goals)),
            residual_risks=(*outcome.residual_risks, *unmet),
        )
    return outcome


def _record(
    store: Store,
    loaded: LoadedConfig,
    eng: Engagement,
    hyp: Hypothesis,
    against: _Against,
    outcome: Outcome,
    doc: dict[str, Any],
    comparison_id: int,
    *,
    actor: Actor,
) -> ValidationReport:
    """Store the validation and the status it sets (and, when the evidence contradicts the
    hypothesis, the advice) in one transaction."""
    assert hyp.candidate_sha is not None
    ids = [f"comparison:{comparison_id}", f"commit:{hyp.candidate_sha}"]
    with store.write() as conn:
        vid = es.insert_validation(
            conn,
            hypothesis_id=hyp.id,
            candidate_ref=hyp.candidate_ref or hyp.candidate_sha,
            candidate_sha=hyp.candidate_sha,
            base_ref=against.ref,
            base_sha=against.sha,
            outcome=outcome.status,
            reasons=outcome.reasons,
            evidence=doc,
        )
        fresh = es.get_hypothesis(conn, eng.id, hyp.number) or hyp
        lifecycle.transition(
            conn,
            loaded,
            eng,
            fresh,
            outcome.status,
            actor=actor,
            why=outcome.reasons[0],
            evidence=[f"validation:{vid}", *ids],
        )
        if outcome.contradicts:
            log_decision(
                conn,
                eng,
                actor,
                f"{hyp.label}: the evidence contradicts the hypothesis ({outcome.status.value})",
                why=f"{outcome.advice} (after reverting: perfop hypothesis update {hyp.label} "
                "--status reverted --note WHY)"
                if outcome.advises_revert
                else outcome.advice,
                kind="decision",
                evidence=[f"validation:{vid}"],
                hypothesis_id=hyp.id,
            )
        validation = es.list_validations(conn, hyp.id)[-1]
        final = es.get_hypothesis(conn, eng.id, hyp.number)
    assert final is not None
    return ValidationReport(final, validation, outcome, comparison_id)
