"""Validations as the report shows them: comparison documents, paired samples, tests, SLOs and
the profile diff's top movers, read in bulk for one ``collect`` (see ``perfop.report.data``).

A validation links its comparisons by id in its evidence (``comparison_id``, ``comparison_ids``,
or per-workload ``comparison_id``), or embeds a ``perfop.comparison/N`` document under
``comparison``; both sides' samples come from the runs linked to the comparison.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from perfop.records.comparison import StoredComparison, load_comparison
from perfop.records.evidence import (
    SLOResult,
    StoredEvidence,
    StoredTests,
    load_evidence,
)
from perfop.report.model import (
    Mover,
    Outcome,
    SLOStatus,
    TestRun,
    ValidationResult,
    WorkloadResult,
)
from perfop.store import Store


class Reader:
    """Bulk reads for one ``collect``: one query per kind of record, not one per row."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.docs: dict[int, StoredComparison] = {}  # loaded once, by comparison id
        self._evidence: dict[int, StoredEvidence] = {}  # by validation id
        self.samples: dict[tuple[int, str, str], dict[int, dict[str, float]]] = {}
        self._profiles: dict[str, list[Any]] = {}

    def evidence(self, validation: Any) -> StoredEvidence:
        """A stored validation's evidence, loaded once (``records.evidence.load_evidence``)."""
        found = self._evidence.get(validation.id)
        if found is None:
            found = self._evidence[validation.id] = load_evidence(validation.evidence)
        return found

    def prefetch(self, comparison_ids: Sequence[int]) -> None:
        """Load the documents and both sides' samples of these comparisons."""
        import sqlalchemy as sa

        from perfop.store import schema as s
        from perfop.store.samples import block_metrics, read_blocks

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
                        if isinstance(doc, Mapping) and doc:
                            self.docs[int(cid)] = load_comparison(doc, int(cid))
                sides = conn.execute(
                    sa.select(
                        s.runs.c.id, s.runs.c.comparison_id, s.runs.c.workload, s.runs.c.side
                    ).where(s.runs.c.comparison_id.in_(chunk))
                ).all()
                blocks = read_blocks(conn, [r.id for r in sides])
                for rid, cid, workload, side in sides:
                    key = (int(cid), str(workload), str(side))
                    into = self.samples.setdefault(key, {})
                    for block in blocks[rid]:
                        into.update(block_metrics(block))

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
    comparison: StoredComparison, reader: Reader | None = None
) -> list[WorkloadResult]:
    """``WorkloadResult`` rows of a loaded comparison (both sides' samples from the store)."""
    out = []
    for wl in comparison.workloads:
        metrics = wl.metrics
        # The metric the verdict was decided on ("decided_on": cpu_time for a CPU-bound
        # workload), else (documents from before it was recorded) the primary metric.
        primary = wl.decided_on or wl.primary_metric or "wall_time"
        pm = next((m for m in metrics if m.name == primary), metrics[0] if metrics else None)
        if pm is not None:
            primary = pm.name
        cid = wl.comparison_id
        base_vals, cand_vals = wl.base_values, wl.candidate_values
        if reader is not None and not base_vals:
            base_vals, cand_vals = reader.paired(cid, wl.name, primary)
        wall_vals = None
        if reader is not None and primary != "wall_time" and wl.decided_on:
            wall_vals = reader.paired(cid, wl.name, "wall_time")
        out.append(
            WorkloadResult(
                comparison_id=cid,
                workload=wl.name,
                pairs=wl.pairs,
                verdict=wl.verdict,
                behavior=wl.behavior,
                behavior_diff=wl.behavior_diff,
                harness=wl.harness,
                harness_touched=wl.harness_touched,
                primary_metric=primary,
                unit=pm.unit if pm else "",
                better=pm.better if pm else "lower",
                metrics=metrics,
                base_values=base_vals,
                candidate_values=cand_vals,
                wall_values=wall_vals,
                errors=wl.errors,
                behavior_note=wl.behavior_note,
                gate=wl.gate,
                contention=wl.contention,
                cpu_vs_wall=wl.cpu_vs_wall,
                decision=wl.decision,
            )
        )
    return out


def _tests(stored: StoredTests | None) -> TestRun | None:
    if stored is None:
        return None
    return TestRun(
        command=stored.command,
        passed=stored.passed,
        summary=stored.summary,
        output_tail=stored.output_tail,
        base_passed=stored.base_passed,
    )


def _slos(stored: Sequence[SLOResult], units: Mapping[str, str]) -> tuple[SLOStatus, ...]:
    return tuple(
        SLOStatus(
            workload=s.workload,
            metric=s.metric,
            statistic=s.statistic,
            value=s.value,
            max=s.max,
            min=s.min,
            unit=s.unit or units.get(s.metric) or "",
            passed=s.passed,
            reason=s.reason,
            base_value=s.base_value,
            state=s.state,
            contention=s.contention,
        )
        for s in stored
    )


def _movers(
    reader: Reader, workloads: Sequence[str], base_sha: str, candidate_sha: str, limit: int = 8
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


def derive_outcome(
    ev: StoredEvidence,
    results: Sequence[WorkloadResult],
    *,
    expected_ratio: float,
    metric: str,
    targeted: Sequence[str],
) -> Outcome:
    """The outcome of a stored validation under today's rules (``engagement.outcome.decide``):
    from the evidence rows ``perfop validate`` stored, or, for records without them, from the
    comparison documents."""
    from perfop.engagement.outcome import WorkloadEvidence, decide

    evidence = list(ev.workloads)
    if not evidence:
        for r in results:
            m = next((x for x in r.metrics if x.name == metric), None) or r.primary
            cand_failed = any(e.startswith("candidate") for e in r.errors)
            evidence.append(
                WorkloadEvidence(
                    workload=r.workload,
                    metric=m.name if m else metric,
                    verdict=m.verdict if m is not None and not r.errors else "inconclusive",
                    ratio=m.ratio if m is not None else None,
                    ci_low=m.ci_low if m is not None else None,
                    ci_high=m.ci_high if m is not None else None,
                    gate=r.gate,
                    behaviour_changed=r.behavior == "changed",
                    candidate_failures=1 if cand_failed else 0,
                    comparison_id=r.comparison_id,
                    targeted=r.workload in targeted,
                )
            )
    return decide(
        expected_ratio=expected_ratio,
        workloads=evidence,
        tests=ev.tests.evidence() if ev.tests is not None else None,
        slos=ev.slos,
        warnings=ev.environment.warnings,
    )


def reproduce_command(
    ev: StoredEvidence,
    doc: StoredComparison | None,
    base_sha: str,
    candidate_sha: str,
    workloads: Sequence[str],
) -> str:
    """The ``perfop compare`` command of the comparison behind a validation: its refs (by sha),
    workloads, seed, harness and the budget flags ``perfop validate`` was given."""
    parts = ["perfop", "compare", base_sha[:12], candidate_sha[:12]]
    for w in workloads:
        parts += ["-w", w]
    seed = doc.seed if doc is not None and doc.seed is not None else ev.seed
    if seed is not None:
        parts += ["--seed", str(seed)]
    if ev.budget.max_time is not None:
        parts += ["--max-time", f"{ev.budget.max_time:g}"]
    if ev.budget.max_pairs is not None:
        parts += ["--max-pairs", str(ev.budget.max_pairs)]
    if doc is not None and doc.harness == "candidate":
        parts += ["--harness", "candidate"]
    return shlex.join(parts)


def validation_result(
    reader: Reader,
    v: Any,
    label: str,
    hyp_workloads: Sequence[str],
    *,
    expected_ratio: float = 0.9,
    metric: str = "wall_time",
    targeted: Sequence[str] = (),
) -> ValidationResult:
    ev = reader.evidence(v)
    ids, embedded = ev.comparison_ids, ev.comparison
    first = reader.docs.get(ids[0]) if ids else None
    if embedded is not None:
        loaded = [embedded]
    else:
        loaded = [reader.docs[i] for i in ids if i in reader.docs]
    results = [r for c in loaded for r in workload_results(c, reader)]
    units = {m.name: m.unit for r in results for m in r.metrics}
    source = embedded if embedded is not None else first
    seed = ev.seed
    for c in (embedded, first):
        if seed is None and c is not None:
            seed = c.seed
    workloads = [r.workload for r in results] or list(hyp_workloads)
    slos = _slos(ev.slos, units)
    derived = None
    if results or ev.workload_rows:
        derived = derive_outcome(
            ev,
            results,
            expected_ratio=expected_ratio,
            metric=metric,
            targeted=list(targeted or hyp_workloads or workloads),
        )
    compared = list(dict.fromkeys(r.workload for r in results))
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
        tests=_tests(ev.tests),
        slos=slos,
        movers=_movers(reader, workloads, v.base_sha, v.candidate_sha),
        seed=seed,
        derived=derived,
        reproduce=reproduce_command(ev, source, v.base_sha, v.candidate_sha, compared)
        if compared
        else None,
        stacked_on=ev.stacked_on.label if ev.stacked_on is not None else None,
        goals_unmet=tuple(g.text for g in ev.goals if g.met is False),
    )
