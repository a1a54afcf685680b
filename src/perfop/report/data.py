"""Everything a report shows, collected from the store into plain frozen dataclasses.

``collect(store, loaded, engagement_id)`` (with its helpers in ``report.validations``) is the only
part of the report package that reads anything: the store, the configuration and one ``git log``
per base for the candidate commits. Renderers take a ``ReportData`` and return text. Values are raw
numbers in the metric's unit; formatting is the renderers' job.
"""

from __future__ import annotations

import dataclasses
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from perfop import __version__, git
from perfop.clock import utcnow
from perfop.config import LoadedConfig, workload_command
from perfop.environment import redact_env, redact_text
from perfop.model import BUILTIN_METRICS
from perfop.records.evidence import StoredProbe, StoredProbes, command_text
from perfop.records.measured import StoredEnvironment, load_contention, load_environment
from perfop.report.model import (
    Baseline,
    Commit,
    DecisionEntry,
    DesignInfo,
    EngagementInfo,
    EnvironmentInfo,
    Goal,
    History,
    HistoryPoint,
    HypothesisInfo,
    MeasuredInterpreter,
    MetricStat,
    ReportData,
    Settings,
    SLOTarget,
    ValidationResult,
    WorkloadInfo,
)
from perfop.report.validations import Reader, validation_result
from perfop.store import Store

# --- collecting ---------------------------------------------------------------------------------


def _git_commits(repo: Path, base: str, candidates: Sequence[str]) -> dict[str, tuple[Commit, ...]]:
    """For each candidate, its commits in ``base..candidate``, newest first (one ``git log``)."""
    if not candidates:
        return {}
    try:
        out = git.run(
            repo,
            "log",
            "--format=%H%x09%P%x09%s",
            *dict.fromkeys(candidates),
            f"^{base}",
            "--",
            timeout=60,
            user_env=True,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if out.returncode != 0:
        return {}
    order: list[str] = []
    parents: dict[str, list[str]] = {}
    subjects: dict[str, str] = {}
    for line in out.stdout.splitlines():
        sha, _, rest = line.partition("\t")
        ps, _, subject = rest.partition("\t")
        if sha:
            order.append(sha)
            parents[sha] = ps.split()
            subjects[sha] = subject
    result: dict[str, tuple[Commit, ...]] = {}
    for cand in candidates:
        seen: set[str] = set()
        todo = [cand] if cand in parents else []
        while todo:
            sha = todo.pop()
            if sha not in seen:
                seen.add(sha)
                todo.extend(p for p in parents[sha] if p in parents)
        result[cand] = tuple(Commit(x, subjects[x]) for x in order if x in seen)
    return result


def _engagement_info(eng: Any, stage: str) -> EngagementInfo:
    spec = eng.spec
    return EngagementInfo(
        id=eng.id,
        title=spec.title,
        requester=spec.requester,
        scenario=spec.scenario,
        stage=stage,
        created_at=eng.created_at,
        confirmed_at=eng.confirmed_at,
        base=spec.base,
        risk_tolerance=spec.risk_tolerance,
        goals=tuple(
            Goal(g.text, g.metric, None if g.target is None else str(g.target)) for g in spec.goals
        ),
        workloads=tuple(spec.workloads),
        slos=tuple(
            SLOTarget(s.workload, s.metric, s.statistic, s.max, s.min, s.unit) for s in spec.slos
        ),
        constraints=tuple(spec.constraints),
        stakeholders=tuple((s.name, s.role) for s in spec.stakeholders),
        assumptions=tuple(spec.assumptions),
        hardware=spec.hardware,
        dataset=spec.dataset,
        traffic=spec.traffic,
    )


def _environment(stored: StoredEnvironment | None) -> EnvironmentInfo | None:
    if stored is None:
        return None
    return EnvironmentInfo(
        hostname=stored.hostname,
        cpu=stored.cpu_model,
        logical_cores=stored.logical_cores,
        memory_bytes=stored.memory_bytes,
        os=" ".join(stored.os).strip() or None,
        python=" ".join(stored.python).strip() or None,
        git_sha=stored.git_sha,
        packages=stored.packages,
    )


def _interpreters(probes: StoredProbes) -> tuple[MeasuredInterpreter, ...]:
    """One entry per probed interpreter; both sides in one entry when they agree."""

    def entries(side: str, found: Sequence[StoredProbe]) -> list[MeasuredInterpreter]:
        return [
            MeasuredInterpreter(
                side=side,
                workloads=p.workloads,
                executable=p.executable,
                python=f"{p.implementation} {p.version}".strip(),
                packages=p.packages,
            )
            for p in found
        ]

    cand, base = entries("candidate", probes.candidate), entries("base", probes.base)
    same = [(c.workloads, c.python, c.packages) for c in cand] == [
        (b.workloads, b.python, b.packages) for b in base
    ]
    if same:
        return tuple(dataclasses.replace(c, side="base and candidate") for c in cand)
    return (*base, *cand)


def _measured(
    reader: Reader, validations: Sequence[Any], baselines: Sequence[Baseline]
) -> tuple[tuple[MeasuredInterpreter, ...], str | None]:
    """The measured project's interpreters: from the newest validation that probed them, else
    the interpreter path of each baseline command (no package list)."""
    for v, label in sorted(validations, key=lambda x: (x[0].created_at, x[0].id), reverse=True):
        found = _interpreters(reader.evidence(v).environment)
        if found:
            return found, f"validation {v.id} ({label})"
    out = []
    for b in baselines:
        argv = shlex.split(b.command) if b.command else []
        if argv and "python" in Path(argv[0]).name:
            out.append(MeasuredInterpreter("base", (b.workload,), argv[0], "", ()))
    return tuple(out), "baseline commands" if out else None


def _baseline(run: Any, specs: Mapping[str, Any]) -> Baseline:
    from perfop.stats import summarize

    stats = []
    names = list(dict.fromkeys([*BUILTIN_METRICS, *(run.metric_specs or {})]))
    for name in names:
        values = run.values(name)
        if not values:
            continue
        spec = run.metric_specs.get(name) or specs.get(name)
        unit = spec.unit if spec else BUILTIN_METRICS.get(name, ("", "lower"))[0]
        better = spec.better if spec else "lower"
        s = summarize(values)
        stats.append(
            MetricStat(
                name, unit, better, s.n, s.median, s.mean, s.p95, s.stdev, s.cv, s.min, s.max
            )
        )
    return Baseline(
        workload=run.workload,
        run_id=run.id,
        ref=run.ref,
        sha=run.sha,
        started_at=run.started_at,
        command=shlex.join(run.argv),
        samples=run.n_samples or len(run.samples),
        failures=run.n_failures or len(run.failures),
        metrics=tuple(stats),
        contention=load_contention(getattr(run, "contention", None)),
    )


def _measured_ratio(validations: Sequence[ValidationResult], metric: str) -> float | None:
    for v in reversed(validations):
        for wl in v.workloads:
            for m in wl.metrics:
                if m.name == metric and m.ratio is not None:
                    return m.ratio
    return None


def _history(store: Store, workload: str, metric: str, unit: str, better: str) -> History | None:
    """The medians of ``workload``'s last 60 baseline runs, oldest first (one point a run)."""
    from perfop.stats import summarize

    points = []
    for run in reversed(store.list_runs(workload=workload, kind="run", limit=60)):
        rec = store.get_run(run.id)
        values = rec.values(metric)
        if values:
            points.append(
                HistoryPoint(
                    sha=run.sha or "",
                    committed_at=None,
                    branch=run.ref,
                    subject=None,
                    value=summarize(values).median,
                    n=len(values),
                    run_ids=(run.id,),
                    dirty=bool(run.dirty),
                    started_at=run.started_at,
                )
            )
    if not points:
        return None
    return History(workload, metric, unit, better, "median", tuple(points), ())


def _workload_infos(names: Sequence[str], config: Any) -> list[WorkloadInfo]:
    out = []
    for name in names:
        wc = config.workloads.get(name)
        if wc is None:
            continue
        out.append(
            WorkloadInfo(
                name=name,
                command=command_text(workload_command(wc)),
                cwd=wc.cwd,
                env=tuple(sorted(redact_env(wc.env).items())),
                description=wc.description,
                primary_metric=wc.primary_metric,
                budget=f"warm-up {wc.warmup}, {wc.min_runs}-{wc.max_runs} runs, {wc.max_time:g} s",
            )
        )
    return out


def _baselines(store: Store, names: Sequence[str], since: str) -> tuple[list[Baseline], int | None]:
    """Each workload's baseline run, and the environment of the first one that has it."""
    baselines = []
    environment_id = None
    for name in names:
        runs = store.list_runs(workload=name, kind="run", limit=50)
        done = [r for r in runs if r.status == "complete"] or runs
        first = _first_after(done, since) if done else None
        if first is None:
            continue
        rec = store.get_run(first.id)
        baselines.append(_baseline(rec, {}))
        environment_id = environment_id or rec.environment_id
    return baselines, environment_id


def _candidate_commits(
    repo: Path, hyps: Sequence[Any], validations: Mapping[int, Sequence[Any]], base: str | None
) -> dict[tuple[str, str], tuple[Commit, ...]]:
    """(base, candidate sha) -> the candidate's commits, one ``git log`` per base."""
    commits_by_base: dict[str, list[str]] = {}
    for h in hyps:
        if h.candidate_sha:
            last_v = validations[h.id][-1] if validations[h.id] else None
            b = last_v.base_sha if last_v else base
            if b:
                commits_by_base.setdefault(b, []).append(h.candidate_sha)
    found: dict[tuple[str, str], tuple[Commit, ...]] = {}
    for b, cands in commits_by_base.items():
        for cand, commits in _git_commits(repo, b, cands).items():
            found[(b, cand)] = commits
    return found


def _design_info(d: Any) -> DesignInfo | None:
    if not d:
        return None
    return DesignInfo(
        d.fix,
        d.fallback,
        d.data_collection,
        d.feature_flag,
        d.kill_switch,
        tuple(d.tests_to_add),
        d.rollback,
        d.coverage,
        d.risk,
        dict(d.done),
    )


def _hypothesis_info(
    ranked: Any,
    vals: Sequence[ValidationResult],
    design: DesignInfo | None,
    approvals: Sequence[Any],
    commits: tuple[Commit, ...],
) -> HypothesisInfo:
    h = ranked.hypothesis
    return HypothesisInfo(
        rank=ranked.rank,
        label=h.label,
        statement=h.statement,
        root_cause=h.root_cause,
        components=tuple(h.components),
        workloads=tuple(h.workloads),
        metric=h.metric,
        expected_ratio=h.expected_ratio,
        measured_ratio=_measured_ratio(vals, h.metric),
        status=str(h.status),
        risk=h.risk,
        effort=h.effort,
        confidence=h.confidence,
        evidence=tuple(h.evidence),
        verification=tuple(h.verification),
        candidate_ref=h.candidate_ref,
        candidate_sha=h.candidate_sha,
        design=design,
        approvals=tuple(
            f"{a.by} ({a.created_at[:10]})"
            for a in approvals
            if a.kind == "approval" and a.hypothesis_id == h.id
        ),
        commits=commits,
    )


def _hypotheses(
    reader: Reader,
    ctx: Mapping[str, Any],
    all_commits: Mapping[tuple[str, str], tuple[Commit, ...]],
) -> tuple[list[HypothesisInfo], list[ValidationResult]]:
    """Each hypothesis in rank order with its validations (all validations, oldest first)."""
    from perfop.engagement.hypotheses import rank

    eng, config, validations = ctx["engagement"], ctx["config"], ctx["validations"]
    results: list[ValidationResult] = []
    hyp_infos = []
    for ranked in rank(ctx["hypotheses"]):
        h = ranked.hypothesis
        targeted = list(h.workloads or eng.spec.workloads or config.workloads)
        vals = [
            validation_result(
                reader,
                v,
                h.label,
                h.workloads,
                expected_ratio=h.expected_ratio,
                metric=h.metric,
                targeted=targeted,
            )
            for v in validations[h.id]
        ]
        results.extend(vals)
        last = validations[h.id][-1] if validations[h.id] else None
        commits: tuple[Commit, ...] = ()
        if h.candidate_sha:
            base = last.base_sha if last else (eng.spec.base or config.base)
            commits = all_commits.get((base or "", h.candidate_sha), ())
            if not commits:
                commits = (Commit(h.candidate_sha, h.candidate_ref or ""),)
        design = _design_info(ctx["designs"].get(h.id))
        hyp_infos.append(_hypothesis_info(ranked, vals, design, ctx["approvals"], commits))
    results.sort(key=lambda v: (v.created_at, v.id))
    return hyp_infos, results


def _histories(
    store: Store, baselines: Sequence[Baseline], workloads: Sequence[WorkloadInfo]
) -> list[History]:
    """The baseline medians over time of each workload with a baseline (two runs or more)."""
    history = []
    for b in baselines:
        primary = next((w.primary_metric for w in workloads if w.name == b.workload), "wall_time")
        unit = next((m.unit for m in b.metrics if m.metric == primary), "s")
        better = next((m.better for m in b.metrics if m.metric == primary), "lower")
        h_ = _history(store, b.workload, primary, unit, better)
        if h_ is not None and len(h_.points) >= 2:
            history.append(h_)
    return history


def _settings(loaded: LoadedConfig, eng: Any) -> Settings:
    config = loaded.config
    return Settings(
        threshold=config.threshold,
        alpha=config.alpha,
        seed=config.seed,
        affinity=tuple(config.affinity) if config.affinity else None,
        test_command=command_text(config.test_command) if config.test_command else None,
        base=eng.spec.base or config.base,
        config_file=loaded.source,
    )


def _read_engagement(store: Store, eng_id: int) -> dict[str, Any]:
    """The engagement's hypotheses, designs, approvals, validations and decisions, one read."""
    from perfop.store import engagement as es

    with store.read() as conn:
        hyps = es.list_hypotheses(conn, eng_id)
        return {
            "hypotheses": hyps,
            "designs": {h.id: es.latest_design(conn, h.id) for h in hyps},
            "approvals": es.list_approvals(conn, eng_id),
            "validations": {h.id: es.list_validations(conn, h.id) for h in hyps},
            "decisions": es.list_decisions(conn, eng_id),
        }


def _environment_info(
    reader: Reader,
    environment_id: int | None,
    validations: Sequence[tuple[Any, str]],
    baselines: Sequence[Baseline],
) -> EnvironmentInfo | None:
    stored = reader.store.get_environment(environment_id) if environment_id else None
    environment = _environment(load_environment(stored))
    measured, measured_from = _measured(reader, validations, baselines)
    if environment is None:
        return None
    return dataclasses.replace(environment, measured=measured, measured_from=measured_from)


def collect(store: Store, loaded: LoadedConfig, engagement_id: int | None = None) -> ReportData:
    """Read one engagement (the current one by default) and everything linked to it."""
    from perfop.engagement.checks import derive_status, load_context
    from perfop.engagement.service import current

    eng = current(store, engagement_id)
    # The stage as the evidence has it now, not as the last `perfop status` stored it.
    stage = str(derive_status(load_context(store, loaded, eng.id)).stage)
    config = loaded.config
    ctx = _read_engagement(store, eng.id)
    ctx.update(engagement=eng, config=config)
    validations, approvals = ctx["validations"], ctx["approvals"]

    workload_names = list(dict.fromkeys([*eng.spec.workloads, *config.workloads]))
    workloads = _workload_infos(workload_names, config)
    baselines, environment_id = _baselines(store, workload_names, eng.created_at)
    label_of = {h.id: h.label for h in ctx["hypotheses"]}
    reader = Reader(store)
    environment = _environment_info(
        reader,
        environment_id,
        [(v, label_of[hid]) for hid, vs in validations.items() for v in vs],
        baselines,
    )
    reader.prefetch(
        [i for vs in validations.values() for v in vs for i in reader.evidence(v).comparison_ids]
    )
    all_commits = _candidate_commits(
        loaded.repo_root, ctx["hypotheses"], validations, eng.spec.base or config.base
    )
    hyp_infos, results = _hypotheses(reader, ctx, all_commits)
    return redact_report(
        ReportData(
            generated_at=utcnow("seconds"),
            perfop_version=__version__,
            repository=loaded.repo_root.name,
            engagement=_engagement_info(eng, stage),
            settings=_settings(loaded, eng),
            environment=environment,
            workloads=tuple(workloads),
            baselines=tuple(baselines),
            hypotheses=tuple(hyp_infos),
            validations=tuple(results),
            history=tuple(_histories(store, baselines, workloads)),
            decisions=tuple(
                DecisionEntry(d.ts, d.actor, d.kind, d.what, d.why, tuple(d.evidence))
                for d in ctx["decisions"]
            ),
            open_questions=tuple(eng.open_questions),
            answered_questions=tuple(
                f"{a.question} — {'dropped' if a.dropped else 'answered'} by {a.by}: {a.answer}"
                for a in eng.answered_questions
            ),
            acceptances=tuple(
                f"{a.by} ({a.created_at[:10]})" + (f": {a.note}" if a.note else "")
                for a in approvals
                if a.kind == "acceptance"
            ),
        )
    )


def redact_report(data: ReportData) -> ReportData:
    """Every string of the report through ``redact_text``: notes, statements and outputs may
    carry a credential even where the store's own writes did not see one."""
    redacted = _redact(data, {})
    assert isinstance(redacted, ReportData)
    return redacted


def _redact(obj: Any, seen: dict[str, str]) -> Any:
    # ``seen``: redact_text is pure, and a report repeats its strings (names, units, verdicts)
    if isinstance(obj, Enum):  # a verdict or status: a fixed word, and it stays its type
        return obj
    if isinstance(obj, str):
        found = seen.get(obj)
        if found is None:
            found = seen[obj] = redact_text(obj)
        return found
    if isinstance(obj, tuple):
        return tuple(_redact(x, seen) for x in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: _redact(getattr(obj, f.name), seen) for f in dataclasses.fields(obj)}
        return dataclasses.replace(obj, **changes)
    return obj


def _first_after(runs: Sequence[Any], since: str) -> Any | None:
    """The baseline: the newest run made before any validation, preferring ones after intake."""
    after = [r for r in runs if r.started_at >= since]
    pool = after or list(runs)
    return min(pool, key=lambda r: r.id) if after else max(pool, key=lambda r: r.id)
