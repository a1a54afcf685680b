"""``perfop compare`` (A/B of two git refs) and ``perfop calibrate`` (A/A noise of this machine).

Thin: parse, call ``perfop.compare.service``, render. ``format_*`` return text or renderables; only
the commands print. Exit codes: 0 ok; 1 a side failed, or with --fail-on-regression a gated workload
is slower or changed behaviour; 3 with --fail-on-inconclusive; 2 bad usage, config or ref.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

import typer

from perfop.cli.common import (
    FORMAT_OPTION,
    FailOnInconclusiveOption,
    MaxPairsOption,
    MaxRunsOption,
    MaxTimeOption,
    OutputFormat,
    SeedOption,
    emit,
    emit_json,
    get_state,
    pair_cap,
    warn_contention,
)
from perfop.cli.progress import TaskBar

if TYPE_CHECKING:
    from rich.table import Table

    from perfop.compare.calibrate import CalibrationResult
    from perfop.compare.pairs import MetricResult
    from perfop.compare.service import ComparisonResult, WorkloadComparison


def register(app: typer.Typer) -> None:
    app.command(
        "compare",
        help="A/B compare two git refs (default: config base or merge-base with main, against "
        "WORKTREE, the working tree with uncommitted changes): interleaved runs in disposable "
        "worktrees, adaptive stopping, a verdict per workload.",
    )(compare_cmd)
    app.command(
        "calibrate",
        help="A/A run of one ref on both sides: this machine's noise per workload and the "
        "smallest change 'compare' can detect within the budget.",
    )(calibrate_cmd)


# --- rendering ------------------------------------------------------------------------------


def _fmt_value(value: float, unit: str) -> str:
    """Table cells: fixed ms/s/MiB precision (``perfop.render.format_value`` is the general one)."""
    if not math.isfinite(value):
        return "-"
    if unit == "s":
        return f"{value * 1e3:.2f} ms" if value < 1 else f"{value:.3f} s"
    if unit == "B":
        return f"{value / 2**20:.1f} MiB"
    return f"{value:.4g}{(' ' + unit) if unit else ''}"


def _factor(m: MetricResult) -> tuple[float, float, float]:
    """Change as a factor >= 1 in the direction of the verdict: (factor, ci_a, ci_b)."""
    a = m.analysis
    ratio, lo, hi = a.ratio, a.ci_low, a.ci_high
    grew = ratio >= 1
    if grew:
        return ratio, lo, hi
    return 1 / ratio, 1 / hi, 1 / lo


def _ratio_text(m: MetricResult) -> str:
    a = m.analysis
    if not math.isfinite(a.ratio):
        return "-"
    return f"{a.ratio:.3f} ({a.ci_low:.3f}-{a.ci_high:.3f})"


def format_summary_line(w: WorkloadComparison, threshold: float) -> str:
    """One line per workload, e.g. ``parse: 1.84x faster (CI 1.79x-1.90x, 23 pairs, ...)``."""
    from perfop.model import Verdict

    if w.failure is not None:
        return f"{w.name}: FAILED, no verdict ({w.failure})"
    if w.suite is not None:
        return format_suite_line(w)
    p = w.primary
    assert p is not None and w.verdict is not None
    behaviour = {
        "same": "behaviour unchanged",
        "unchecked": "behaviour not checked",
        "changed": "BEHAVIOUR CHANGED",
    }[w.behavior]
    pairs = f"{w.pairs} pairs"
    # CPU time decides for wall time (a CPU-bound workload): said after the verdict, below.
    metric = "" if p.name in ("wall_time", "cpu_time") else f" in {p.name}"
    factor, c1, c2 = _factor(p)
    if w.verdict in (Verdict.FASTER, Verdict.SLOWER):
        word = (
            w.verdict.value
            if p.name in ("wall_time", "cpu_time", "user_time", "sys_time")
            else ("better" if w.verdict is Verdict.FASTER else "worse")
        )
        text = f"{factor:.2f}x {word}{metric} (CI {c1:.2f}x-{c2:.2f}x, {pairs}, {behaviour})"
    elif w.verdict is Verdict.UNCHANGED:
        a = p.analysis
        # the equivalence interval (two one-sided tests), which is what lies within the threshold
        lo, hi = (
            (a.eq_ci_low, a.eq_ci_high) if math.isfinite(a.eq_ci_low) else (a.ci_low, a.ci_high)
        )
        text = (
            f"unchanged{metric} (ratio {a.ratio:.3f}, equivalence CI {lo:.3f}-{hi:.3f} within "
            f"+/-{threshold:.1%}, {pairs}, {behaviour})"
        )
    else:
        a = p.analysis
        ci = f"CI {a.ci_low:.3f}-{a.ci_high:.3f}, " if math.isfinite(a.ci_low) else ""
        mde = f"; detectable change at this noise: {w.mde:.1%}" if w.mde is not None else ""
        text = f"inconclusive{metric} (ratio {a.ratio:.3f}, {ci}{pairs}, {behaviour}{mde})"
        text += _to_decide_text(w, threshold)
    check = w.check
    if check is not None and math.isfinite(check.analysis.ratio):
        text += f"; decided on {_metric_label(p.name)}"
        if w.decision is not None and w.decision.vetoed:
            text += (
                f", but wall time {_ratio_text(check)} contradicts it (disjoint intervals), so "
                "no verdict: the waiting changed, not only the computing"
            )
        else:
            text += f", wall time {_ratio_text(check)} consistent"
    if w.behavior == "changed":
        text = f"BEHAVIOUR CHANGED, not a valid speed comparison: {text}"
    if w.harness_touched:
        files = ", ".join(w.touched_files[:3]) + (" ..." if len(w.touched_files) > 3 else "")
        how = "pinned to base" if w.harness == "base" else "candidate's own (--harness candidate)"
        if w.harness_only:
            how += ", so both sides ran the same code (A/A): the change was not measured"
        text += f" [candidate changes workload files {files}: harness {how}]"
    return f"{w.name}: {text}"


def _to_decide_text(w: WorkloadComparison, threshold: float) -> str:
    """What an inconclusive result would take, e.g. ``; unchanged within +/-2.0% would take
    ~150 pairs at this noise if nothing changed (~49 s: --max-time 49)``."""
    from perfop.compare.service import to_decide

    need = to_decide(w, threshold)
    if need is None:
        return ""
    seconds = need["seconds"]
    when = f" (~{math.ceil(seconds)} s: --max-time {math.ceil(seconds)})" if seconds else ""
    if need["verdict"] == "unchanged":
        what = f"unchanged within +/-{threshold:.1%} would take ~{need['pairs']} pairs at this "
        return f"; {what}noise if nothing changed{when}"
    return f"; a verdict on a change this size would take ~{need['pairs']} pairs{when}"


def format_suite_line(w: WorkloadComparison) -> str:
    """A suite's summary, e.g. ``bench: suite slower: 1 slower, 9 unchanged of 10 benchmarks
    (BH-controlled; suite wall time 1.02x, 12 pairs); gate fails on test_parse``."""
    suite = w.suite
    assert suite is not None
    counts = ", ".join(f"{n} {k}" for k, n in sorted(suite.counts().items(), key=lambda i: -i[1]))
    total = len(suite.benchmarks)
    wall = next((m for m in w.metrics if m.name == "wall_time"), None)
    wall_text = (
        f"suite wall time {wall.analysis.ratio:.3f}x, "
        if wall is not None and math.isfinite(wall.analysis.ratio)
        else ""
    )
    text = (
        f"{w.name}: suite {suite.verdict.value}: {counts} of {total} benchmarks "
        f"(false discoveries controlled across them; {wall_text}{w.pairs} pairs)"
    )
    if suite.failing:
        shown = ", ".join(suite.failing[:5]) + (" ..." if len(suite.failing) > 5 else "")
        text += f"; fails a gate on {shown}"
    return text


def format_suite_table(w: WorkloadComparison) -> Table:
    """One row per benchmark, largest effect first; failed or missing ones say so."""
    from rich.table import Table

    suite = w.suite
    assert suite is not None
    table = Table(
        title=f"{w.name} (suite: {len(suite.benchmarks)} benchmarks)",
        caption=f"{w.pairs} pairs, {w.elapsed:.1f} s, stopped: {w.stop_reason}",
        title_justify="left",
    )
    for col in ("benchmark", "base median", "candidate median", "ratio (CI)", "verdict"):
        table.add_column(col, justify="left" if col in ("benchmark", "verdict") else "right")
    for b in suite.benchmarks:
        m = b.metric
        if m is None:
            why = f"{b.status}: {b.reason}" if b.reason else b.status
            table.add_row(b.name, "-", "-", "-", why.upper() if b.fails_gate else why)
            continue
        verdict = m.verdict.value + (" (not after FDR control)" if b.bh_downgraded else "")
        table.add_row(
            b.name + (" !" if b.fails_gate else ""),
            _fmt_value(m.base_median, m.unit),
            _fmt_value(m.candidate_median, m.unit),
            _ratio_text(m),
            verdict,
        )
    return table


def _metric_label(name: str) -> str:
    return "CPU time (user+sys)" if name == "cpu_time" else name


def format_decision_line(w: WorkloadComparison) -> str | None:
    """``decided on CPU time: CPU-bound: cpu/wall ...`` (None without a verdict)."""
    if w.decision is None or w.verdict is None:
        return None
    return f"decided on {_metric_label(w.decided_on)}: {w.decision.reason}"


def format_comparison_table(w: WorkloadComparison) -> Table:
    from rich.table import Table

    if w.suite is not None:
        return format_suite_table(w)

    table = Table(
        title=f"{w.name}",
        caption=f"{w.pairs} pairs, {w.elapsed:.1f} s, stopped: {w.stop_reason}",
        title_justify="left",
    )
    for col in ("metric", "base median", "candidate median", "ratio (CI)", "verdict"):
        table.add_column(col, justify="left" if col in ("metric", "verdict") else "right")
    for m in w.metrics:
        table.add_row(
            m.name + (" *" if m.name == w.decided_on else ""),
            _fmt_value(m.base_median, m.unit),
            _fmt_value(m.candidate_median, m.unit),
            _ratio_text(m),
            m.verdict.value,
        )
    return table


def format_behavior_diff(w: WorkloadComparison) -> str:
    return "\n".join("    " + line for line in w.behavior_diff.splitlines())


# --- commands -------------------------------------------------------------------------------


class CompareBar(TaskBar):
    """The comparison's progress (pairs per workload) on a ``TaskBar``; its notices (the budget
    plan, the harness) as ``perfop: note:`` / ``perfop: warning:`` lines on stderr, before the
    pairs are measured."""

    def __init__(self, enabled: bool, err_console: Any) -> None:
        super().__init__(enabled)
        self._err = err_console

    def notice(self, name: str, level: str, text: str) -> None:
        console = self._progress.console if self._progress is not None else self._err
        console.print(f"perfop: {level}: {text}", markup=False, soft_wrap=True, highlight=False)

    def workload_started(self, name: str, planned_pairs: int) -> None:
        self.add(name, planned_pairs, label=f"{name} (pairs)")

    def pair_done(self, name: str, pairs: int, planned_pairs: int) -> None:
        self.update(name, completed=pairs, total=planned_pairs)

    def workload_finished(self, name: str) -> None:
        self.remove(name)


def compare_cmd(
    ctx: typer.Context,
    base: Annotated[
        str | None,
        typer.Argument(
            help="Base git revision (default: config 'base', else merge-base of HEAD "
            "with main/master).",
            show_default=False,
        ),
    ] = None,
    candidate: Annotated[
        str | None,
        typer.Argument(
            help="Candidate git revision, or WORKTREE (default): the working tree "
            "with uncommitted and untracked changes.",
            show_default=False,
        ),
    ] = None,
    workload: Annotated[
        list[str] | None,
        typer.Option("--workload", "-w", help="Workload to compare (repeatable; default all)."),
    ] = None,
    harness: Annotated[
        str,
        typer.Option(
            "--harness",
            help="Whose workload files (benchmark script, data) to measure with: base "
            "(default, anti-gaming: both sides run base's script) or candidate. A candidate "
            "whose whole change is in those files is refused under base (it would be A/A).",
        ),
    ] = "base",
    seed: SeedOption = None,
    max_time: MaxTimeOption = None,
    max_pairs: MaxPairsOption = None,
    max_runs: MaxRunsOption = None,
    fail_on_regression: Annotated[
        bool,
        typer.Option(
            "--fail-on-regression",
            help="Exit 1 when a gated workload is slower or changed behaviour.",
        ),
    ] = False,
    fail_on_inconclusive: FailOnInconclusiveOption = False,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.compare.budget import command_started
    from perfop.compare.service import compare, comparison_document, exit_code
    from perfop.errors import UsageError

    started = command_started()
    if harness not in ("base", "candidate"):
        raise UsageError(f"--harness must be 'base' or 'candidate' (got {harness!r})")
    state = get_state(ctx)
    cap = pair_cap(state, max_pairs, max_runs)
    show_bar = fmt is OutputFormat.text and state.err_console.is_terminal
    with CompareBar(show_bar, state.err_console) as bar:
        result = compare(
            state.store,
            state.loaded,
            base=base,
            candidate=candidate,
            workloads=list(workload or []),
            harness=harness,  # type: ignore[arg-type]
            seed=seed,
            max_time=max_time,
            max_pairs=cap,
            progress=bar,
            started=started,
        )
    if fmt is OutputFormat.json:
        emit_json(comparison_document(result))
    else:
        _print_comparison(state, result)
    warn_contention(state, result.contention, what=f"comparison {result.id}")
    code = exit_code(
        result, fail_on_regression=fail_on_regression, fail_on_inconclusive=fail_on_inconclusive
    )
    if code:
        raise typer.Exit(code)


def _line(state: Any, text: str) -> None:
    from rich.text import Text

    # Plain text ('[...]' is not Rich markup here), one line per summary whatever the width.
    state.console.print(Text(text), soft_wrap=True)


def _print_comparison(state: Any, result: ComparisonResult) -> None:
    cand_sha = result.candidate.sha[:10]
    _line(
        state,
        f"compare #{result.id}: {result.base.ref} ({result.base.sha[:10]}) -> "
        f"{result.candidate.ref} ({cand_sha}), seed {result.seed}",
    )
    for w in result.workloads:
        if w.metrics or w.suite is not None:
            emit(state, format_comparison_table(w))
    for w in result.workloads:
        _line(state, format_summary_line(w, result.threshold))
        if w.behavior_note:
            _line(state, f"    behaviour check: {w.behavior_note}")
        if w.behavior == "changed" and w.behavior_diff:
            _line(state, format_behavior_diff(w))
        for extra in format_machine_lines(w):
            _line(state, f"    {extra}")


def format_machine_lines(w: WorkloadComparison) -> list[str]:
    """CPU time beside wall time, and the machine's contention, under a workload's summary."""
    from perfop.compare.cpuwall import cpu_vs_wall_document, format_cpu_wall
    from perfop.measure.contention import format_line

    lines = []
    decided = format_decision_line(w)
    if decided:
        lines.append(decided)
    cpu = format_cpu_wall(cpu_vs_wall_document(w.metrics, contention=w.contention))
    if cpu:
        lines.append(cpu)
    if w.contention is not None:
        lines.append(format_line(w.contention, paired=True))
    return lines


def format_calibration_line(c: CalibrationResult) -> str:
    if c.failure:
        return f"{c.workload}: FAILED ({c.failure})"
    return (
        f"{c.workload}: noise {c.noise_sd:.2%} per pair (robust SD of log-ratios, {c.pairs} A/A "
        f"pairs); smallest detectable change {c.mde:.1%} with {c.planned_pairs} pairs "
        f"(noise floor {c.noise_floor:.1%}, threshold {c.threshold:.1%})"
    )


def calibrate_cmd(
    ctx: typer.Context,
    workload: Annotated[
        list[str] | None,
        typer.Option("--workload", "-w", help="Workload to calibrate (repeatable; default all)."),
    ] = None,
    ref: Annotated[str, typer.Option("--ref", help="Revision measured on both sides.")] = "HEAD",
    seed: SeedOption = None,
    max_time: MaxTimeOption = None,
    max_pairs: MaxPairsOption = None,
    max_runs: MaxRunsOption = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.compare.budget import command_started
    from perfop.compare.calibrate import calibrate, calibration_document
    from perfop.measure.contention import format_line

    started = command_started()
    state = get_state(ctx)
    cap = pair_cap(state, max_pairs, max_runs)
    show_bar = fmt is OutputFormat.text and state.err_console.is_terminal
    with CompareBar(show_bar, state.err_console) as bar:
        results = calibrate(
            state.store,
            state.loaded,
            workloads=list(workload or []),
            ref=ref,
            seed=seed,
            max_time=max_time,
            max_pairs=cap,
            progress=bar,
            started=started,
        )
    if fmt is OutputFormat.json:
        emit_json(calibration_document(results))
    else:
        for c in results:
            _line(state, format_calibration_line(c))
            if c.contention is not None:
                _line(state, f"    {format_line(c.contention, paired=True)}")
            if c.warning:
                state.err_console.print(
                    f"perfop: warning: {c.warning}", markup=False, soft_wrap=True
                )
    for c in results:
        # A noise figure measured under high contention overstates this machine's usual noise.
        warn_contention(state, c.contention, what=f"calibration of {c.workload}")
    if any(c.failure for c in results):
        raise typer.Exit(1)


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
