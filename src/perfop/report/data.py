"""Everything a report shows, collected from the store into plain frozen dataclasses.

``collect(store, loaded, engagement_id)`` is the only function of the report package that reads
anything (the store, the configuration and ``git log`` of the candidate commits); renderers take a
``ReportData`` and return text. Values are raw numbers in the metric's unit; formatting is the
renderers' job.

Comparisons are read from the store's comparison records (``perfop.comparison/1`` documents),
whichever way a validation links them: a ``comparison_id`` / ``comparison_ids`` in its evidence,
or the document itself under ``comparison``.
"""

from __future__ import annotations

import datetime as dt
import math
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perfop import __version__
from perfop.config import LoadedConfig
from perfop.model import BUILTIN_METRICS
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
    MetricResult,
    MetricStat,
    Mover,
    ReportData,
    Settings,
    SLOStatus,
    SLOTarget,
    TestRun,
    ValidationResult,
    WorkloadInfo,
    WorkloadResult,
)
from perfop.store import Store

# --- collecting ---------------------------------------------------------------------------------


def _fnum(value: Any) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def command_text(command: str | Sequence[str]) -> str:
    return command if isinstance(command, str) else shlex.join(command)


def _git_commits(repo: Path, base: str, candidates: Sequence[str]) -> dict[str, tuple[Commit, ...]]:
    """For each candidate, its commits in ``base..candidate``, newest first (one ``git log``)."""
    if not candidates:
        return {}
    try:
        out = subprocess.run(
            ["git", "log", "--format=%H%x09%P%x09%s", *dict.fromkeys(candidates), f"^{base}", "--"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
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


def _engagement_info(eng: Any) -> EngagementInfo:
    spec = eng.spec
    return EngagementInfo(
        id=eng.id,
        title=spec.title,
        requester=spec.requester,
        scenario=spec.scenario,
        stage=str(eng.stage),
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


def _environment(data: Mapping[str, Any] | None) -> EnvironmentInfo | None:
    if not data:
        return None
    cpu = data.get("cpu") or {}
    osd = data.get("os") or {}
    py = data.get("python") or {}
    git = data.get("git") or {}
    packages = data.get("packages") or {}
    return EnvironmentInfo(
        hostname=data.get("hostname"),
        cpu=cpu.get("model"),
        logical_cores=cpu.get("logical_cores"),
        memory_bytes=data.get("memory_bytes"),
        os=" ".join(str(osd.get(k, "")) for k in ("system", "release", "machine")).strip() or None,
        python=" ".join(str(py.get(k, "")) for k in ("implementation", "version")).strip() or None,
        git_sha=git.get("sha"),
        packages=tuple(sorted((str(k), str(v)) for k, v in packages.items())),
    )


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
    )


class _Reader:
    """Bulk reads for one ``collect``: one query per kind of record, not one per row."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.docs: dict[int, dict[str, Any]] = {}
        self.samples: dict[tuple[int, str, str], dict[int, dict[str, float]]] = {}
        self._profiles: dict[str, list[Any]] = {}

    def prefetch(self, comparison_ids: Sequence[int]) -> None:
        """Load the documents and both sides' samples of these comparisons."""
        import sqlalchemy as sa

        from perfop.store import schema as s

        comparisons: sa.Table | None
        try:
            from perfop.store.compare import comparisons
        except ImportError:  # a perfop without the comparison tables
            comparisons = None
        ids = sorted(set(comparison_ids))
        with self.store.read() as conn:
            for chunk in (ids[k : k + 500] for k in range(0, len(ids), 500)):
                if comparisons is not None:
                    for cid, doc in conn.execute(
                        sa.select(comparisons.c.id, comparisons.c.document).where(
                            comparisons.c.id.in_(chunk)
                        )
                    ):
                        if isinstance(doc, Mapping):
                            self.docs[int(cid)] = dict(doc)
                rows = conn.execute(
                    sa.select(
                        s.runs.c.comparison_id,
                        s.runs.c.workload,
                        s.runs.c.side,
                        s.samples.c.idx,
                        s.samples.c.metrics,
                    )
                    .join(s.samples, s.samples.c.run_id == s.runs.c.id)
                    .where(s.runs.c.comparison_id.in_(chunk))
                )
                for cid, workload, side, idx, metrics in rows:
                    key = (int(cid), str(workload), str(side))
                    self.samples.setdefault(key, {})[int(idx)] = metrics

    def paired(
        self, comparison_id: int | None, workload: str, metric: str
    ) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The metric's samples of both sides, paired by sample (pair) index."""
        if comparison_id is None:
            return (), ()
        sides = {
            side: {
                i: float(m[metric])
                for i, m in self.samples.get((comparison_id, workload, side), {}).items()
                if metric in m
            }
            for side in ("base", "candidate")
        }
        common = sorted(set(sides["base"]) & set(sides["candidate"]))
        return (
            tuple(sides["base"][i] for i in common),
            tuple(sides["candidate"][i] for i in common),
        )

    def profiles(self, workload: str) -> list[Any]:
        """Stored CPU profiles of ``workload``, newest first (cached)."""
        if workload not in self._profiles:
            try:
                from perfop.store.profiles import list_profiles
            except ImportError:
                return []
            self._profiles[workload] = [
                p
                for p in list_profiles(self.store, workload=workload, limit=200)
                if p.kind == "cpu"
            ]
        return self._profiles[workload]


def workload_results(
    doc: Mapping[str, Any], comparison_id: int | None, reader: _Reader | None = None
) -> list[WorkloadResult]:
    """``WorkloadResult`` rows from a ``perfop.comparison/1`` document (samples from the store)."""
    out = []
    for wl in doc.get("workloads") or []:
        name = str(wl.get("name") or wl.get("workload") or "?")
        metrics = []
        for m in wl.get("metrics") or []:
            metrics.append(
                MetricResult(
                    name=str(m.get("name")),
                    unit=str(m.get("unit") or ""),
                    better=str(m.get("better") or "lower"),
                    base_median=_fnum(m.get("base_median")),
                    candidate_median=_fnum(m.get("candidate_median")),
                    ratio=_fnum(m.get("ratio")),
                    ci_low=_fnum(m.get("ci_low")),
                    ci_high=_fnum(m.get("ci_high")),
                    p_value=_fnum(m.get("p_value")),
                    verdict=str(m.get("verdict") or "inconclusive"),
                )
            )
        primary = str(wl.get("primary_metric") or "wall_time")
        pm = next((m for m in metrics if m.name == primary), metrics[0] if metrics else None)
        if pm is not None:
            primary = pm.name
        cid = wl.get("comparison_id", comparison_id)
        cid = int(cid) if cid is not None else None
        base_vals: tuple[float, ...] = tuple(
            float(v) for v in (wl.get("base_values") or []) if _fnum(v) is not None
        )
        cand_vals: tuple[float, ...] = tuple(
            float(v) for v in (wl.get("candidate_values") or []) if _fnum(v) is not None
        )
        if reader is not None and not base_vals:
            base_vals, cand_vals = reader.paired(cid, name, primary)
        errors = tuple(str(e) for e in (wl.get("errors") or []))
        if wl.get("failure"):
            errors = (str(wl["failure"]), *errors)
        out.append(
            WorkloadResult(
                comparison_id=cid,
                workload=name,
                pairs=int(wl.get("pairs") or 0),
                verdict=str(wl.get("verdict") or "inconclusive"),
                behavior=str(wl.get("behavior") or "unchecked"),
                behavior_diff=wl.get("behavior_diff") or wl.get("diff"),
                harness=str(wl.get("harness") or "base"),
                harness_touched=bool(wl.get("harness_touched")),
                primary_metric=primary,
                unit=pm.unit if pm else "",
                better=pm.better if pm else "lower",
                metrics=tuple(metrics),
                base_values=base_vals,
                candidate_values=cand_vals,
                errors=errors,
            )
        )
    return out


def _tests(doc: Any) -> TestRun | None:
    if not isinstance(doc, Mapping):
        return None
    # engagement.outcome.TestEvidence: command, candidate_ok, base_ok, candidate_tail, base_tail
    passed = doc.get("candidate_ok", doc.get("passed"))
    if passed is None and "exit_code" in doc:
        passed = doc["exit_code"] == 0
    base_passed = doc.get("base_ok", doc.get("base_passed"))
    tail = doc.get("candidate_tail") or doc.get("output_tail") or doc.get("tail") or ""
    summary = str(doc.get("summary") or "")
    if not summary:
        lines = [ln.strip() for ln in str(tail).splitlines() if ln.strip()]
        summary = lines[-1] if lines else ""
    return TestRun(
        command=command_text(doc.get("command") or doc.get("argv") or ""),
        passed=None if passed is None else bool(passed),
        summary=summary,
        output_tail=str(tail),
        base_passed=None if base_passed is None else bool(base_passed),
    )


def _slos(items: Any, units: Mapping[str, str]) -> tuple[SLOStatus, ...]:
    out = []
    for d in items or []:
        if not isinstance(d, Mapping):
            continue
        metric = str(d.get("metric") or "wall_time")
        out.append(
            SLOStatus(
                workload=str(d.get("workload")),
                metric=metric,
                statistic=str(d.get("statistic") or "p95"),
                value=_fnum(d.get("value")),
                max=_fnum(d.get("max")),
                min=_fnum(d.get("min")),
                unit=str(d.get("unit") or units.get(metric) or ""),
                passed=d.get("passed"),
                reason=str(d.get("reason") or ""),
            )
        )
    return tuple(out)


def _movers(
    reader: _Reader, workloads: Sequence[str], base_sha: str, candidate_sha: str, limit: int = 8
) -> tuple[Mover, ...]:
    """Top movers of the CPU profile diff base -> candidate, from stored profiles of both shas."""
    try:
        from perfop.profiling.diff import diff_parts
        from perfop.profiling.model import ProfilePart
    except ImportError:
        return ()

    def part(p: Any) -> ProfilePart:
        return ProfilePart(
            kind=p.kind,
            backend=p.backend,
            unit="s" if p.kind == "cpu" else "B",
            total=0.0,
            wall_time=p.wall_time,
            peak_bytes=p.peak_bytes,
            sample_count=0,
            hotspots=p.hotspots,
        )

    rows: list[Mover] = []
    for workload in workloads:
        stored = reader.profiles(workload)
        base = next((p for p in stored if p.sha == base_sha), None)
        cand = next((p for p in stored if p.sha == candidate_sha), None)
        if base is None or cand is None:
            continue
        diff = diff_parts(part(base), part(cand), base_label="base", candidate_label="candidate")
        for r in diff.rows[:limit]:
            rows.append(
                Mover(
                    function=r.function,
                    file=r.file,
                    status=r.status,
                    base_pct=r.base_self_pct,
                    candidate_pct=r.candidate_self_pct,
                    base_value=r.base_value,
                    candidate_value=r.candidate_value,
                    unit=diff.unit,
                )
            )
    return tuple(rows)


def _comparison_ids(evidence: Mapping[str, Any]) -> list[int]:
    """Comparison ids a validation's evidence links, in order."""
    ids: list[int] = []
    if evidence.get("comparison_id") is not None:
        ids.append(int(evidence["comparison_id"]))
    ids.extend(int(i) for i in evidence.get("comparison_ids") or [] if int(i) not in ids)
    for w in evidence.get("workloads") or []:  # engagement.outcome.WorkloadEvidence rows
        cid = w.get("comparison_id") if isinstance(w, Mapping) else None
        if cid is not None and int(cid) not in ids:
            ids.append(int(cid))
    return ids


def _validation(
    reader: _Reader, v: Any, label: str, hyp_workloads: Sequence[str]
) -> ValidationResult:
    ev: Mapping[str, Any] = v.evidence or {}
    results: list[WorkloadResult] = []
    ids = _comparison_ids(ev)
    embedded = ev.get("comparison")
    if isinstance(embedded, Mapping):
        cid = embedded.get("id", ids[0] if ids else None)
        results.extend(workload_results(embedded, int(cid) if cid is not None else None, reader))
    else:
        for cid in ids:
            doc = reader.docs.get(cid)
            if doc:
                results.extend(workload_results(doc, cid, reader))
    units = {m.name: m.unit for r in results for m in r.metrics}
    seed = ev.get("seed")
    if seed is None and isinstance(embedded, Mapping):
        seed = embedded.get("seed")
    workloads = [r.workload for r in results] or list(hyp_workloads)
    return ValidationResult(
        id=v.id,
        hypothesis=label,
        outcome=str(v.outcome),
        reasons=tuple(v.reasons),
        base_ref=v.base_ref,
        base_sha=v.base_sha,
        candidate_ref=v.candidate_ref,
        candidate_sha=v.candidate_sha,
        created_at=v.created_at,
        workloads=tuple(results),
        tests=_tests(ev.get("tests")),
        slos=_slos(ev.get("slos"), units),
        movers=_movers(reader, workloads, v.base_sha, v.candidate_sha),
        seed=int(seed) if isinstance(seed, int) else None,
    )


def _measured_ratio(validations: Sequence[ValidationResult], metric: str) -> float | None:
    for v in reversed(validations):
        for wl in v.workloads:
            for m in wl.metrics:
                if m.name == metric and m.ratio is not None:
                    return m.ratio
    return None


def _history(store: Store, workload: str, metric: str, unit: str) -> History | None:
    from perfop.stats import summarize

    points = []
    for run in reversed(store.list_runs(workload=workload, kind="run", limit=60)):
        rec = store.get_run(run.id)
        values = rec.values(metric)
        if values:
            points.append(HistoryPoint(run.id, run.started_at, run.sha, summarize(values).median))
    return History(workload, metric, unit, tuple(points)) if points else None


def collect(store: Store, loaded: LoadedConfig, engagement_id: int | None = None) -> ReportData:
    """Read one engagement (the current one by default) and everything linked to it."""
    from perfop.engagement.hypotheses import rank
    from perfop.engagement.service import current
    from perfop.store import engagement as es

    eng = current(store, engagement_id)
    config = loaded.config
    with store.read() as conn:
        hyps = es.list_hypotheses(conn, eng.id)
        designs = {h.id: es.latest_design(conn, h.id) for h in hyps}
        approvals = es.list_approvals(conn, eng.id)
        validations = {h.id: es.list_validations(conn, h.id) for h in hyps}
        decisions = es.list_decisions(conn, eng.id)

    workload_names = list(dict.fromkeys([*eng.spec.workloads, *config.workloads]))
    workloads = []
    for name in workload_names:
        wc = config.workloads.get(name)
        if wc is None:
            continue
        workloads.append(
            WorkloadInfo(
                name=name,
                command=command_text(wc.command),
                cwd=wc.cwd,
                env=tuple(sorted(wc.env.items())),
                description=wc.description,
                primary_metric=wc.primary_metric,
                budget=f"warm-up {wc.warmup}, {wc.min_runs}-{wc.max_runs} runs, {wc.max_time:g} s",
            )
        )

    baselines = []
    environment_id = None
    for name in workload_names:
        runs = store.list_runs(workload=name, kind="run", limit=50)
        done = [r for r in runs if r.status == "complete"] or runs
        first = _first_after(done, eng.created_at) if done else None
        if first is None:
            continue
        rec = store.get_run(first.id)
        baselines.append(_baseline(rec, {}))
        environment_id = environment_id or rec.environment_id
    environment = _environment(store.get_environment(environment_id) if environment_id else None)

    reader = _Reader(store)
    reader.prefetch(
        [i for vs in validations.values() for v in vs for i in _comparison_ids(v.evidence)]
    )
    commits_by_base: dict[str, list[str]] = {}
    for h in hyps:
        if h.candidate_sha:
            last_v = validations[h.id][-1] if validations[h.id] else None
            base = last_v.base_sha if last_v else (eng.spec.base or config.base)
            if base:
                commits_by_base.setdefault(base, []).append(h.candidate_sha)
    all_commits: dict[tuple[str, str], tuple[Commit, ...]] = {}
    for base, cands in commits_by_base.items():
        for cand, found in _git_commits(loaded.repo_root, base, cands).items():
            all_commits[(base, cand)] = found

    results: list[ValidationResult] = []
    hyp_infos = []
    for ranked in rank(hyps):
        h = ranked.hypothesis
        vals = [_validation(reader, v, h.label, h.workloads) for v in validations[h.id]]
        results.extend(vals)
        d = designs.get(h.id)
        design = (
            DesignInfo(
                d.fix,
                d.fallback,
                d.data_collection,
                d.feature_flag,
                d.kill_switch,
                tuple(d.tests_to_add),
                d.rollback,
                d.coverage,
                d.risk,
            )
            if d
            else None
        )
        last = validations[h.id][-1] if validations[h.id] else None
        commits: tuple[Commit, ...] = ()
        if h.candidate_sha:
            base = last.base_sha if last else (eng.spec.base or config.base)
            commits = all_commits.get((base or "", h.candidate_sha), ())
            if not commits:
                commits = (Commit(h.candidate_sha, h.candidate_ref or ""),)
        hyp_infos.append(
            HypothesisInfo(
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
        )
    results.sort(key=lambda v: (v.created_at, v.id))

    history = []
    for b in baselines:
        primary = next((w.primary_metric for w in workloads if w.name == b.workload), "wall_time")
        unit = next((m.unit for m in b.metrics if m.metric == primary), "s")
        h_ = _history(store, b.workload, primary, unit)
        if h_ is not None and len(h_.points) >= 2:
            history.append(h_)

    return ReportData(
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        perfop_version=__version__,
        repository=loaded.repo_root.name,
        engagement=_engagement_info(eng),
        settings=Settings(
            threshold=config.threshold,
            alpha=config.alpha,
            seed=config.seed,
            affinity=tuple(config.affinity) if config.affinity else None,
            test_command=command_text(config.test_command) if config.test_command else None,
            base=eng.spec.base or config.base,
            config_file=loaded.source,
        ),
        environment=environment,
        workloads=tuple(workloads),
        baselines=tuple(baselines),
        hypotheses=tuple(hyp_infos),
        validations=tuple(results),
        history=tuple(history),
        decisions=tuple(
            DecisionEntry(d.ts, d.actor, d.kind, d.what, d.why, tuple(d.evidence))
            for d in decisions
        ),
        open_questions=tuple(eng.open_questions),
        acceptances=tuple(
            f"{a.by} ({a.created_at[:10]})" + (f": {a.note}" if a.note else "")
            for a in approvals
            if a.kind == "acceptance"
        ),
    )


def _first_after(runs: Sequence[Any], since: str) -> Any | None:
    """The baseline: the newest run made before any validation, preferring ones after intake."""
    after = [r for r in runs if r.started_at >= since]
    pool = after or list(runs)
    return min(pool, key=lambda r: r.id) if after else max(pool, key=lambda r: r.id)
