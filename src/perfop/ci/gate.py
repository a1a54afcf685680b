"""``perfop gate``: the pull-request regression gate on top of the A/B comparison service.

BASE (``--base``, else ``GITHUB_BASE_REF`` in GitHub Actions, else the configured base or main)
is reduced to its merge-base with HEAD, so a PR is judged only on its own commits. Every gated
workload (and every workload with an SLO) is compared BASE vs HEAD; any ``slower`` verdict or
behaviour change is measured again with a fresh seed, and only a result the confirmation repeats
fails the gate. SLOs are checked on HEAD's samples. The service returns a ``GateResult``;
``format_markdown`` / ``format_text`` / ``workflow_commands`` render it. Nothing here prints.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from perfop.errors import GitError, UsageError
from perfop.model import Verdict

if TYPE_CHECKING:
    from perfop.compare.service import CompareProgress, ComparisonResult, WorkloadComparison
    from perfop.compare.slo import SLOResult
    from perfop.config import LoadedConfig
    from perfop.store import Store

GATE_SCHEMA = "perfop.gate/1"

GateOutcome = Literal[
    "pass",  # faster or unchanged
    "regression",  # slower, confirmed
    "behaviour_changed",  # output differs, confirmed
    "not_confirmed",  # first run said slower / changed, the confirmation did not
    "inconclusive",
    "failed",  # a side failed to run
]


@dataclass(frozen=True)
class GateWorkload:
    name: str
    gate: bool
    outcome: GateOutcome
    first: WorkloadComparison
    confirmation: WorkloadComparison | None

    @property
    def final(self) -> WorkloadComparison:
        return self.confirmation or self.first

    @property
    def blocking(self) -> bool:
        return self.gate and self.outcome in ("regression", "behaviour_changed", "failed")


@dataclass(frozen=True)
class GateResult:
    base_ref: str
    base_sha: str
    head_sha: str
    threshold: float
    comparisons: tuple[int, ...]
    seeds: tuple[int, ...]
    workloads: tuple[GateWorkload, ...]
    slos: tuple[SLOResult, ...]

    @property
    def contention(self) -> dict[str, Any] | None:
        """The machine's contention over every comparison of the gate (the worst level)."""
        from perfop.measure.contention import merge

        return merge(
            [wc.contention for w in self.workloads for wc in (w.first, w.confirmation) if wc]
        )

    def exit_code(self, *, fail_on_inconclusive: bool = False) -> int:
        """0 pass; 1 confirmed regression, behaviour change, failure or SLO breach; 3 (asked)
        a gated workload inconclusive."""
        if any(w.blocking for w in self.workloads) or any(s.passed is False for s in self.slos):
            return 1
        if fail_on_inconclusive and any(
            w.gate and w.outcome in ("inconclusive", "not_confirmed") for w in self.workloads
        ):
            return 3
        return 0

    @property
    def status(self) -> str:
        return {0: "pass", 1: "fail", 3: "inconclusive"}[self.exit_code()]


def gate_base(
    repo: Path, base: str | None, configured: str | None, env: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """(label, merge-base sha) of the base to compare HEAD with."""
    from perfop.measure.worktrees import default_base, git, resolve_ref

    env = os.environ if env is None else env
    label = base
    if label is None and env.get("GITHUB_BASE_REF"):
        name = env["GITHUB_BASE_REF"]
        remote = f"origin/{name}"
        label = (
            remote if git(repo, "rev-parse", "--verify", "--quiet", remote, check=False) else name
        )
    if label is None:
        label = default_base(repo, configured)
    sha = resolve_ref(repo, label)
    merge_base = git(repo, "merge-base", "HEAD", sha, check=False)
    if not merge_base:
        raise GitError(f"base {label} shares no history with HEAD; fetch it (fetch-depth: 0)")
    return label, merge_base.strip()


def _gate_names(loaded: LoadedConfig, names: Sequence[str]) -> list[str]:
    config = loaded.config
    if names:
        for n in names:
            loaded.workload(n)
        return list(dict.fromkeys(names))
    wanted = [n for n, wl in config.workloads.items() if wl.gate]
    wanted += [s.workload for s in config.slos if s.workload in config.workloads]
    if not wanted:
        raise UsageError(
            f"{loaded.source}: no workload with gate = true (or an SLO); add one under "
            "[tool.perfop.workloads.NAME]"
        )
    return list(dict.fromkeys(wanted))


def _suspicious(w: WorkloadComparison) -> bool:
    return w.failure is None and (w.regressed or w.behavior == "changed")


def _outcome(first: WorkloadComparison, confirmation: WorkloadComparison | None) -> GateOutcome:
    if first.failure is not None:
        return "failed"
    if confirmation is None:
        if first.verdict == Verdict.INCONCLUSIVE:
            return "inconclusive"
        return "pass"
    if confirmation.failure is not None:
        return "failed"
    if first.behavior == "changed" and confirmation.behavior == "changed":
        return "behaviour_changed"
    if first.suite is not None and confirmation.suite is not None:
        # A suite: the same benchmark must fail its criteria both times.
        if set(first.suite.failing) & set(confirmation.suite.failing):
            return "regression"
    elif first.verdict == Verdict.SLOWER and confirmation.verdict == Verdict.SLOWER:
        return "regression"
    return "not_confirmed"


def run_gate(
    store: Store,
    loaded: LoadedConfig,
    *,
    base: str | None = None,
    workloads: Sequence[str] = (),
    seed: int | None = None,
    max_time: float | None = None,
    max_pairs: int | None = None,
    max_runs: int | None = None,
    env: Mapping[str, str] | None = None,
    progress: CompareProgress | None = None,
    started: float | None = None,
) -> GateResult:
    """Compare BASE (merge-base) and HEAD, confirm any regression once, check SLOs on HEAD.

    The first comparison's budget counts from ``started`` (the CLI passes the process's start);
    the confirmation has its own. A PR whose whole change is in a workload's own files is
    measured anyway (a gate must not fail a benchmark-only PR as bad usage), with the A/A
    warning up front and in the output."""
    from perfop.compare.service import compare

    names = _gate_names(loaded, workloads)
    label, base_sha = gate_base(loaded.repo_root, base, loaded.config.base, env)
    first_seed = seed if seed is not None else secrets.randbits(32)
    kwargs: dict[str, Any] = {
        "max_time": max_time,
        "max_pairs": max_pairs if max_pairs is not None else max_runs,
        "progress": progress,
        "harness_only": "warn",
    }
    first = compare(
        store,
        loaded,
        base=base_sha,
        candidate="HEAD",
        workloads=names,
        seed=first_seed,
        started=started,
        **kwargs,
    )
    comparisons, seeds = [first.id], [first.seed]
    again = [w.name for w in first.workloads if _suspicious(w)]
    confirmed: dict[str, WorkloadComparison] = {}
    if again:
        # A fresh seed gives a fresh pair order: a one-off burst of noise does not repeat.
        second_seed = (first.seed + 1) % 2**32 if seed is not None else secrets.randbits(32)
        second = compare(
            store,
            loaded,
            base=base_sha,
            candidate="HEAD",
            workloads=again,
            seed=second_seed,
            **kwargs,
        )
        comparisons.append(second.id)
        seeds.append(second.seed)
        confirmed = {w.name: w for w in second.workloads}
    results = tuple(
        GateWorkload(
            name=w.name,
            gate=w.gate,
            outcome=_outcome(w, confirmed.get(w.name)),
            first=w,
            confirmation=confirmed.get(w.name),
        )
        for w in first.workloads
    )
    return GateResult(
        base_ref=label,
        base_sha=base_sha,
        head_sha=first.candidate.sha,
        threshold=first.threshold,
        comparisons=tuple(comparisons),
        seeds=tuple(seeds),
        workloads=results,
        slos=tuple(_check_slos(store, loaded, first, results)),
    )


def _check_slos(
    store: Store, loaded: LoadedConfig, first: ComparisonResult, results: Sequence[GateWorkload]
) -> list[SLOResult]:
    from perfop.compare.slo import check_slos

    samples: dict[str, list[dict[str, float]]] = {}
    for w in results:
        for wc in (w.first, w.confirmation):
            if wc is not None and wc.cand_run_id is not None:
                run = store.get_run(wc.cand_run_id)
                samples.setdefault(w.name, []).extend(dict(s.metrics) for s in run.samples)
    return check_slos(loaded.config.slos, samples)


# --- rendering ----------------------------------------------------------------------------------


def _change(wc: WorkloadComparison) -> str:
    p = wc.primary
    if p is None or not math.isfinite(p.analysis.ratio):
        return "-"
    a = p.analysis
    ci = f" (CI {a.ci_low:.3f}-{a.ci_high:.3f})" if math.isfinite(a.ci_low) else ""
    return f"{a.ratio - 1:+.1%}{ci}"


_LABEL = {
    "pass": "pass",
    "regression": "REGRESSION (confirmed)",
    "behaviour_changed": "BEHAVIOUR CHANGED (confirmed)",
    "not_confirmed": "not confirmed (noise)",
    "inconclusive": "inconclusive",
    "failed": "FAILED",
}


def _verdicts(w: GateWorkload) -> str:
    first = w.first.verdict.value if w.first.verdict else "failed"
    if w.confirmation is None:
        return first
    second = w.confirmation.verdict.value if w.confirmation.verdict else "failed"
    return f"{first}, then {second}"


def _describe(w: GateWorkload) -> str:
    wc = w.final
    p = wc.primary
    metric = p.name if p else wc.primary_metric
    if w.outcome == "failed":
        return f"{w.name}: could not be measured ({wc.failure or w.first.failure})"
    if wc.suite is not None:
        failing = ", ".join(wc.suite.failing[:5]) or "none"
        text = (
            f"{w.name}: suite of {len(wc.suite.benchmarks)} benchmarks over {wc.pairs} pairs; "
            f"{_verdicts(w)}; failing its criteria: {failing}"
        )
    else:
        text = f"{w.name}: {metric} {_change(wc)} over {wc.pairs} pairs; {_verdicts(w)}"
    if w.outcome == "behaviour_changed":
        text += "; output differs between base and head"
    return text


def format_text(result: GateResult, *, fail_on_inconclusive: bool = False) -> str:
    code = result.exit_code(fail_on_inconclusive=fail_on_inconclusive)
    status = {0: "PASS", 1: "FAIL", 3: "INCONCLUSIVE"}[code]
    lines = [
        f"perfop gate: {status} - base {result.base_ref} ({result.base_sha[:10]}) vs HEAD "
        f"({result.head_sha[:10]}), threshold {result.threshold:.1%}",
    ]
    rows = [("WORKLOAD", "GATE", "RESULT", "CHANGE", "PAIRS", "VERDICTS")]
    for w in result.workloads:
        rows.append(
            (
                w.name,
                "yes" if w.gate else "no",
                _LABEL[w.outcome],
                _change(w.final),
                str(w.final.pairs),
                _verdicts(w),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += [
        "  ".join(c.ljust(wd) for c, wd in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    for s in result.slos:
        mark = {True: "ok", False: "BREACH", None: "no data"}[s.passed]
        lines.append(f"SLO {mark}: {s.reason}{_slo_flag(result)}")
    if result.contention is not None:
        from perfop.measure.contention import format_line

        lines.append(format_line(result.contention, paired=True))
    lines += [f"note: {n}" for n in notices(result)]
    return "\n".join(lines) + "\n"


def _slo_flag(result: GateResult) -> str:
    """SLOs are absolute values: flagged, not trusted, when measured under high contention."""
    from perfop.measure.contention import is_high

    return (
        " (measured under high contention: absolute values inflated)"
        if is_high(result.contention)
        else ""
    )


def notices(result: GateResult) -> list[str]:
    """What the comparisons said up front (budget plans, harness), each line once."""
    seen: dict[str, None] = {}
    for w in result.workloads:
        for wc in (w.first, w.confirmation):
            for text in wc.notices if wc is not None else ():
                seen.setdefault(text)
    return list(seen)


def format_markdown(result: GateResult, *, fail_on_inconclusive: bool = False) -> str:
    """The GitHub step summary."""
    code = result.exit_code(fail_on_inconclusive=fail_on_inconclusive)
    icon = {0: "✅", 1: "❌", 3: "⚠️"}[code]
    status = {0: "passed", 1: "failed", 3: "inconclusive"}[code]
    out = [
        f"## {icon} perfop gate {status}",
        "",
        f"Base `{result.base_ref}` (`{result.base_sha[:10]}`, merge-base) vs HEAD "
        f"(`{result.head_sha[:10]}`); practical threshold {result.threshold:.1%}. Any slower "
        "verdict is re-measured with a fresh seed and fails only when the re-run agrees.",
        "",
        "| workload | gate | result | change (95% CI) | pairs | verdicts |",
        "|---|---|---|---:|---:|---|",
    ]
    for w in result.workloads:
        out.append(
            f"| {w.name} | {'yes' if w.gate else 'no'} | {_LABEL[w.outcome]} | "
            f"{_change(w.final)} | {w.final.pairs} | {_verdicts(w)} |"
        )
    if result.slos:
        out += ["", "| SLO | value | status |", "|---|---:|---|"]
        for s in result.slos:
            mark = {True: "ok", False: "**breach**", None: "no data"}[s.passed]
            value = f"{s.value:.6g}" if s.value is not None else "-"
            bound = " ".join(
                b
                for b in (
                    f"<= {s.max:g}" if s.max is not None else "",
                    f">= {s.min:g}" if s.min is not None else "",
                )
                if b
            )
            out.append(
                f"| {s.workload} {s.metric} {s.statistic} {bound} | {value} | "
                f"{mark}{_slo_flag(result)} |"
            )
    if result.contention is not None:
        from perfop.measure.contention import format_line

        machine = format_line(result.contention, paired=True).removeprefix("machine: ")
        out += ["", f"**Machine:** {machine}"]
    said = notices(result)
    if said:
        out += ["", *(f"- {n}" for n in said)]
    ids = ", ".join(f"#{i}" for i in result.comparisons)
    out += ["", f"Comparisons {ids} (seeds {', '.join(map(str, result.seeds))}) are in the store."]
    return "\n".join(out) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_commands(result: GateResult) -> list[str]:
    """``::error`` / ``::warning`` lines for GitHub Actions annotations."""
    lines = []
    for w in result.workloads:
        if w.outcome == "pass":
            continue
        level = "error" if w.blocking else "warning"
        if w.outcome == "not_confirmed":
            message = f"{_describe(w)}: the first run's result was not confirmed (treated as noise)"
        else:
            message = f"{_describe(w)}: {_LABEL[w.outcome]}"
        title = _escape_property(f"perfop gate: {w.name}")
        lines.append(f"::{level} title={title}::{_escape_data(message)}")
    for w in result.workloads:
        for wc in (w.first, w.confirmation):
            if wc is None:
                continue
            said = [n for n in wc.notices if wc.harness_only and "(an A/A run)" in n]
            if wc.budget is not None and wc.budget.level == "warning" and wc.budget.message:
                said.append(f"{w.name}: {wc.budget.message}")
            if said:
                title = _escape_property(f"perfop gate: {w.name}")
                lines += [f"::warning title={title}::{_escape_data(t)}" for t in said]
                break
    for s in result.slos:
        if s.passed is False:
            title = _escape_property(f"perfop SLO: {s.workload}")
            lines.append(f"::error title={title}::{_escape_data('SLO breached: ' + s.reason)}")
    from perfop.measure.contention import warning

    machine = warning(result.contention, what="the gate's comparisons")
    if machine:
        title = _escape_property("perfop: machine contention")
        lines.append(f"::warning title={title}::{_escape_data(machine)}")
    return lines


def gate_document(result: GateResult, *, fail_on_inconclusive: bool = False) -> dict[str, Any]:
    def metrics(wc: WorkloadComparison) -> list[dict[str, Any]]:
        def num(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return [
            {
                "name": m.name,
                "unit": m.unit,
                "base_median": num(m.base_median),
                "candidate_median": num(m.candidate_median),
                "ratio": num(m.analysis.ratio),
                "ci_low": num(m.analysis.ci_low),
                "ci_high": num(m.analysis.ci_high),
                "verdict": m.verdict.value,
            }
            for m in wc.metrics
        ]

    def side(wc: WorkloadComparison | None) -> dict[str, Any] | None:
        if wc is None:
            return None
        return {
            "verdict": wc.verdict.value if wc.verdict else None,
            "behavior": wc.behavior,
            "pairs": wc.pairs,
            "failure": wc.failure,
            "runs": {"base": wc.base_run_id, "candidate": wc.cand_run_id},
            "metrics": metrics(wc),
            "contention": wc.contention,
            "elapsed": round(wc.elapsed, 3),
            "harness_only": wc.harness_only,
            "budget": wc.budget.to_dict() if wc.budget else None,
            "notices": list(wc.notices),
            "suite": suite_document(wc.suite),
        }

    from perfop.compare.service import suite_document

    return {
        "schema": GATE_SCHEMA,
        "status": {0: "pass", 1: "fail", 3: "inconclusive"}[
            result.exit_code(fail_on_inconclusive=fail_on_inconclusive)
        ],
        "base": {"ref": result.base_ref, "sha": result.base_sha},
        "head": {"sha": result.head_sha},
        "threshold": result.threshold,
        "comparisons": list(result.comparisons),
        "seeds": list(result.seeds),
        "workloads": [
            {
                "name": w.name,
                "gate": w.gate,
                "outcome": w.outcome,
                "blocking": w.blocking,
                "first": side(w.first),
                "confirmation": side(w.confirmation),
            }
            for w in result.workloads
        ],
        "slos": [s.to_dict() for s in result.slos],
        "contention": result.contention,
        "notices": notices(result),
    }
