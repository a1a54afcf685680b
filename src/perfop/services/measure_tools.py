"""Measuring tools: run, runs, profile, profile_diff, ci_triage.

Only configured workloads are ever run (by name): no tool accepts a command line. Each tool calls
the CLI's service function and answers with its ``--format json`` document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from perfop.services import documents as outputs
from perfop.services.envelope import profile_diff_document, runs_document
from perfop.services.guards import check_ref
from perfop.services.table import Answer, Args, Call, LongArgs, tool

if TYPE_CHECKING:
    from perfop.measure.service import WorkloadRun
    from perfop.model import ProcessResult


class _Progress:
    """A ``RunProgress`` that forwards each sample as an MCP progress notification."""

    def __init__(self, call: Call, total: int) -> None:
        self.call = call
        self.total = total
        self.done = 0

    def workload_started(self, name: str, total: int) -> None:
        self.call.token.check()

    def sample_done(self, name: str, index: int, result: ProcessResult) -> None:
        self.done += 1
        last = f"{result.wall_time * 1e3:.1f} ms" if result.ok else result.describe_failure()
        self.call.progress(self.done, self.total or None, f"{name} #{index + 1}: {last}")

    def workload_finished(self, name: str) -> None:
        self.call.token.check()


def _failed_runs_message(outcomes: Sequence[WorkloadRun]) -> str | None:
    """One line when a workload produced no sample at all (the CLI exits 1 then)."""
    bad = [o for o in outcomes if not o.samples]
    if not bad:
        return None
    parts = []
    for o in bad:
        reasons = sorted({f.reason for f in o.failures}) or ["no run completed"]
        timed_out = any(f.timed_out for f in o.failures)
        kind = "timed out" if timed_out else "failed"
        parts.append(f"workload {o.workload!r} {kind}: {'; '.join(reasons)} (run {o.run_id})")
    hint = (
        "raise its timeout or fix the hang"
        if any(f.timed_out for o in bad for f in o.failures)
        else "see the failures' stderr_tail"
    )
    return f"{', '.join(parts)}; {hint}"


class RunArgs(LongArgs):
    workloads: list[str] = Field(
        default_factory=list,
        description="Configured workload names to measure (default: all of them).",
    )
    runs: int | None = Field(None, ge=1, le=1000, description="Measured runs per workload.")
    warmup: int | None = Field(None, ge=0, le=100, description="Discarded warm-up runs.")
    timeout: float | None = Field(
        None, gt=0, description="Seconds before one run is killed and counted as a failure."
    )


@tool(
    "run",
    RunArgs,
    """Measure configured workloads in the working tree (the baseline, or the current state):
    each sample is a fresh process, stored with the environment. Returns every sample and a
    summary per metric. Only workloads configured in pyproject.toml / perfop.toml can run.""",
    long=True,
    returns=outputs.RunDoc,
)
def run(call: Call, args: RunArgs) -> Answer:
    from perfop.measure.service import environment_of, run_document, run_workloads

    app = call.app
    loaded = app.loaded
    names = args.workloads or list(loaded.config.workloads)
    total = 0
    for name in names:
        wl = loaded.workload(name)
        total += args.runs or wl.max_runs
    outcomes = run_workloads(
        app.store,
        loaded,
        args.workloads,
        runs=args.runs,
        warmup=args.warmup,
        timeout=args.timeout,
        progress=_Progress(call, total),
    )
    doc = run_document(outcomes, environment_of(outcomes, app.repo_root))
    failed = _failed_runs_message(outcomes)
    if failed:
        return Answer(doc, failed, is_error=True, result=outcomes)
    parts = []
    for o in outcomes:
        wall = o.summaries().get("wall_time")
        median = f"median {wall.median * 1e3:.1f} ms" if wall else "no wall_time"
        parts.append(f"{o.workload}: {len(o.samples)} sample(s), {median} (run {o.run_id})")
    return Answer(doc, "; ".join(parts), result=outcomes)


class RunsArgs(Args):
    workload: str | None = Field(None, description="Only runs of this workload.")
    limit: int = Field(20, ge=1, le=500, description="At most this many runs, newest first.")


@tool(
    "runs",
    RunsArgs,
    "Stored runs (baselines, comparison sides), newest first, with their status and counts.",
    read_only=True,
    returns=outputs.RunsDoc,
)
def runs(call: Call, args: RunsArgs) -> Answer:
    records = call.app.store.list_runs(workload=args.workload, limit=args.limit)
    return Answer(runs_document(records), f"{len(records)} run(s)", result=records)


class ProfileArgs(LongArgs):
    workload: str = Field(description="Configured workload to profile.")
    ref: str | None = Field(
        None, description="Profile this git ref in an isolated worktree (default: working tree)."
    )
    mode: Literal["cpu", "memory", "both"] = Field("cpu", description="cpu, memory or both.")
    backend: Literal["py-spy", "pyinstrument"] = Field("py-spy", description="CPU profiler.")
    include_all: bool = Field(
        False, description="Keep stdlib and third-party frames instead of folding them."
    )
    native: bool = Field(False, description="Include native frames (py-spy, memray).")
    rate: int = Field(250, ge=1, le=10000, description="py-spy samples per second.")
    timeout: float | None = Field(None, gt=0, description="Seconds before the run is killed.")


def _options(args: ProfileArgs | ProfileDiffArgs) -> Any:
    from perfop.profiling.service import ProfileOptions

    options = ProfileOptions(
        mode=args.mode,
        backend=args.backend,
        include_all=args.include_all,
        native=args.native,
        rate=args.rate,
        timeout=args.timeout,
    )
    options.check()
    return options


def _top_spots(report: Any, n: int = 3) -> str:
    from perfop.profiling.attribution import callees_dominate, rank_causes

    views = []
    for part in report.parts:
        by_self = [
            f"{s.id} {s.function} ({s.file}:{s.line}, {s.self_pct:.0f}% self)"
            for s in part.hotspots[:n]
        ]
        causes = [
            f"{s.id} {s.function} ({s.file}:{s.line}, {s.total_pct:.0f}% total"
            + (", callees dominate)" if callees_dominate(s) else ")")
            for s in rank_causes(part.hotspots)[:n]
        ]
        views.append(f"{part.kind} by self: {'; '.join(by_self) or 'none'}")
        views.append(f"{part.kind} causes (inclusive): {'; '.join(causes) or 'none'}")
    return " | ".join(views) or "no hot spots"


@tool(
    "profile",
    ProfileArgs,
    """Profile a configured workload (CPU with py-spy or pyinstrument, memory with memray) and
    rank its hot spots two ways: by self time (hotspots) and, for the repository's own functions,
    by inclusive time with callees folded in (causes; callees_dominate marks a caller whose
    callees hold its time, often the code to change). The harness and outside packages get rows
    of their own. The profile is stored; cite either view's ids as evidence when you add a
    hypothesis. Artifacts go to .perfop/profiles/<id>/.""",
    long=True,
    returns=outputs.ProfileDoc,
)
def profile(call: Call, args: ProfileArgs) -> Answer:
    from perfop.profiling.document import profile_document
    from perfop.profiling.service import profile as profile_service
    from perfop.profiling.service import record_profile

    options = _options(args)
    ref = check_ref(args.ref, argument="ref") if args.ref else None
    call.progress(0, 1, f"profiling {args.workload}")
    report = profile_service(call.app.loaded, workload=args.workload, ref=ref, options=options)
    call.token.check()
    record_profile(call.app.store, report)
    call.progress(1, 1, f"profile {report.id} recorded")
    return Answer(
        profile_document(report), f"profile {report.id}: {_top_spots(report)}", result=report
    )


class ProfileDiffArgs(LongArgs):
    base: str = Field(description="Base git ref.")
    candidate: str = Field(description="Candidate git ref.")
    workload: str = Field(description="Configured workload to profile at both refs.")
    mode: Literal["cpu", "memory", "both"] = Field("cpu", description="cpu, memory or both.")
    backend: Literal["py-spy", "pyinstrument"] = Field("py-spy", description="CPU profiler.")
    include_all: bool = Field(False, description="Keep stdlib and third-party frames.")
    native: bool = Field(False, description="Include native frames.")
    rate: int = Field(250, ge=1, le=10000, description="py-spy samples per second.")
    timeout: float | None = Field(None, gt=0, description="Seconds before a run is killed.")


@tool(
    "profile_diff",
    ProfileDiffArgs,
    """Profile a workload at two refs (isolated worktrees, same settings) and show where time or
    memory moved between them, function by function.""",
    long=True,
    returns=outputs.ProfileDiffDoc,
)
def profile_diff(call: Call, args: ProfileDiffArgs) -> Answer:
    from perfop.profiling.service import profile_diff as diff_service
    from perfop.profiling.service import record_profile

    options = _options(args)
    base = check_ref(args.base, argument="base")
    candidate = check_ref(args.candidate, argument="candidate")
    call.progress(0, 1, f"profiling {args.workload} at {base} and {candidate}")
    result = diff_service(call.app.loaded, base, candidate, workload=args.workload, options=options)
    call.token.check()
    for report in (result.base, result.candidate):
        record_profile(call.app.store, report)
    call.progress(1, 1, "profiles recorded")
    return Answer(
        profile_diff_document(result),
        f"profile diff {base}..{candidate}: {len(result.diffs)} part(s)",
        result=result,
    )


class TriageArgs(Args):
    file: str | None = Field(None, description="A CI log file inside the repository to triage.")
    job_id: int | None = Field(
        None, ge=1, description="A GitHub Actions job id to download and triage."
    )
    repo: str | None = Field(
        None, description="GitHub owner/name (default: GITHUB_REPOSITORY or the origin remote)."
    )


@tool(
    "ci_triage",
    TriageArgs,
    """Summarise why a CI job failed: failed steps, failing tests, tracebacks, timeouts and
    flaky reruns, from a local log file (file) or a GitHub Actions job (job_id).""",
    read_only=True,
    returns=outputs.TriageDoc,
)
def ci_triage(call: Call, args: TriageArgs) -> Answer:
    from perfop.ci.triage import triage
    from perfop.errors import UsageError

    if (args.file is None) == (args.job_id is None):
        raise UsageError("ci_triage: give either file or job_id (not both)")
    if args.file is not None:
        path = call.path(args.file, "file")
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"file {args.file!r}: cannot read it ({exc.strerror})") from None
        report = triage(text)
    else:
        from perfop.ci.actions import triage_job
        from perfop.ci.github import GitHubClient, resolve_repo, token_from_env

        assert args.job_id is not None
        repo = resolve_repo(args.repo, cwd=call.app.repo_root)
        with GitHubClient(repo, token=token_from_env()) as client:
            report = triage_job(client, args.job_id)
    if not report.failed:
        text = "no sign of failure in the log"
    else:
        step = f"step {report.failing_step!r}" if report.failing_step else "unknown step"
        text = (
            f"failed at {step}: {len(report.failures)} test failure(s), "
            f"{len(report.tracebacks)} traceback(s), {len(report.timeouts)} timeout(s)"
        )
    return Answer(report.to_dict(), text, result=report)
