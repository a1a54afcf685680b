"""Validation tools: compare (A/B of two refs), validate (a hypothesis's candidate), report.

Each calls the CLI's service and answers with its ``--format json`` document. Refs pass the
guardrail's ref check (no option injection); the candidate defaults to the working tree, which
is snapshotted without touching the user's checkout.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from perfop.errors import GuardrailError
from perfop.services import documents as outputs
from perfop.services.envelope import engagement_doc
from perfop.services.guards import check_ref
from perfop.services.table import Answer, Args, Call, LongArgs, tool

if TYPE_CHECKING:
    from perfop.compare.service import WorkloadComparison


class _CompareProgress:
    """A ``CompareProgress`` that forwards each measured pair as a progress notification."""

    def __init__(self, call: Call) -> None:
        self.call = call

    def workload_started(self, name: str, planned_pairs: int) -> None:
        self.call.progress(0, planned_pairs or None, f"{name}: warming up")

    def pair_done(self, name: str, pairs: int, planned_pairs: int) -> None:
        self.call.progress(pairs, max(planned_pairs, pairs) or None, f"{name}: {pairs} pair(s)")

    def workload_finished(self, name: str) -> None:
        self.call.token.check()

    def notice(self, name: str, level: str, text: str) -> None:
        self.call.progress(0, None, f"{level}: {text}")


def comparison_line(workloads: Sequence[WorkloadComparison]) -> str:
    parts = []
    for w in workloads:
        if w.failure:
            parts.append(f"{w.name}: failed ({w.failure})")
            continue
        p = w.primary
        ratio = (
            f" {p.name} x{p.analysis.ratio:.3f} [{p.analysis.ci_low:.3f}, {p.analysis.ci_high:.3f}]"
            if p is not None
            else ""
        )
        verdict = w.verdict.value if w.verdict else "no verdict"
        behaviour = ", output changed" if w.behavior == "changed" else ""
        parts.append(f"{w.name}: {verdict}{ratio} after {w.pairs} pair(s){behaviour}")
    return "; ".join(parts)


class CompareArgs(LongArgs):
    base: str | None = Field(
        None, description="Base git ref (default: the configured base, else the merge-base)."
    )
    candidate: str | None = Field(
        None,
        description="Candidate git ref (default: the working tree, uncommitted changes included, "
        "snapshotted without touching it).",
    )
    workloads: list[str] = Field(
        default_factory=list, description="Configured workloads to compare (default: all)."
    )
    harness: Literal["base", "candidate"] = Field(
        "base", description="Whose benchmark harness files both sides run (default base)."
    )
    seed: int | None = Field(None, description="Seed of the pair order (for reproduction).")
    max_time: float | None = Field(
        None, gt=0, description="Measurement budget per workload, seconds."
    )
    max_runs: int | None = Field(None, ge=1, description="At most this many pairs per workload.")


@tool(
    "compare",
    CompareArgs,
    """A/B compare two refs: both checked out in disposable worktrees (never the user's
    checkout), interleaved pairs of fresh processes in random order, adaptive stopping, and a
    verdict per workload (faster, slower, unchanged, inconclusive) with the candidate/base ratio
    and its confidence interval. Reports progress; cancelling stops it cleanly.""",
    long=True,
    returns=outputs.ComparisonDoc,
)
def compare(call: Call, args: CompareArgs) -> Answer:
    from perfop.compare.service import compare as compare_service
    from perfop.compare.service import comparison_document

    result = compare_service(
        call.app.store,
        call.app.loaded,
        base=check_ref(args.base, argument="base") if args.base is not None else None,
        candidate=(
            check_ref(args.candidate, argument="candidate") if args.candidate is not None else None
        ),
        workloads=args.workloads,
        harness=args.harness,
        seed=args.seed,
        max_time=args.max_time,
        max_runs=args.max_runs,
        progress=_CompareProgress(call),
    )
    doc = comparison_document(result)
    text = f"comparison {result.id}: {comparison_line(result.workloads)}"
    failed = [w for w in result.workloads if w.failure]
    return Answer(doc, text, is_error=bool(failed), result=result)


class CalibrateArgs(LongArgs):
    workloads: list[str] = Field(
        default_factory=list, description="Configured workloads to calibrate (default: all)."
    )
    ref: str = Field("HEAD", description="The git ref measured on both sides (A/A).")
    seed: int | None = Field(None, description="Seed of the pair order (for reproduction).")
    max_time: float | None = Field(None, gt=0, description="Budget per workload, seconds.")
    max_runs: int | None = Field(None, ge=1, description="At most this many pairs per workload.")


class Calibration(outputs.Record):
    workload: str
    pairs: int
    noise_sd: float | None = Field(description="Robust SD of the A/A log-ratios per pair.")
    mde: float | None = Field(
        description="Minimum detectable effect (fraction) at the planned pairs."
    )
    planned_pairs: int
    threshold: float
    failure: str | None = None


class CalibrationDoc(outputs.Document):
    schema_id: Literal["perfop.calibration/2"] = Field(alias="schema")
    calibrations: list[Calibration]


@tool(
    "calibrate",
    CalibrateArgs,
    """Measure this machine's noise: an A/A comparison of one ref against itself per workload.
    Answers with the noise per pair and the minimum detectable effect (mde): a change smaller
    than that cannot be confirmed here at this budget, so predict, or raise the budget, above it.
    Stored; later comparisons size their first batch from it.""",
    long=True,
    returns=CalibrationDoc,
)
def calibrate(call: Call, args: CalibrateArgs) -> Answer:
    from perfop.compare.calibrate import calibrate as calibrate_service
    from perfop.compare.calibrate import calibration_document

    results = calibrate_service(
        call.app.store,
        call.app.loaded,
        workloads=args.workloads,
        ref=check_ref(args.ref, argument="ref"),
        seed=args.seed,
        max_time=args.max_time,
        max_pairs=args.max_runs,
        progress=_CompareProgress(call),
    )
    doc = calibration_document(results)
    parts = []
    for c in results:
        if c.failure:
            parts.append(f"{c.workload}: failed ({c.failure})")
        else:
            parts.append(
                f"{c.workload}: noise {c.noise_sd:.2%} per pair, minimum detectable effect "
                f"{c.mde:.1%} with {c.planned_pairs} pairs (threshold {c.threshold:.1%})"
            )
    return Answer(doc, "; ".join(parts), is_error=any(c.failure for c in results), result=results)


class ValidateArgs(LongArgs):
    label: str = Field(description="Hypothesis id, e.g. H1 (implemented: a candidate recorded).")
    candidate: str | None = Field(
        None, description="Record this git ref as the candidate first (else the recorded one)."
    )
    max_time: float | None = Field(None, gt=0, description="Seconds of measuring per workload.")
    max_runs: int | None = Field(None, ge=1, description="At most this many pairs per workload.")
    seed: int | None = Field(None, description="Seed of the pair order (for reproduction).")


@tool(
    "validate",
    ValidateArgs,
    """Validate a hypothesis before claiming anything: A/B compare its candidate against the
    engagement's base (targeted and gated workloads), run the test command at the candidate,
    check the SLOs, and set its status from that evidence (confirmed, refuted, inconclusive,
    rejected). A high-risk hypothesis is refused until a human approved it. Reports progress;
    cancelling stops it cleanly.""",
    long=True,
    returns=outputs.ValidationDoc,
)
def validate(call: Call, args: ValidateArgs) -> Answer:
    from perfop.engagement.validate import validate as validate_service

    report = validate_service(
        call.app.store,
        call.app.loaded,
        args.label,
        actor=call.app.actor,
        candidate=(
            check_ref(args.candidate, argument="candidate") if args.candidate is not None else None
        ),
        max_time=args.max_time,
        max_runs=args.max_runs,
        seed=args.seed,
        progress=_CompareProgress(call),
    )
    doc = engagement_doc("validation", **report.to_dict())
    h = report.hypothesis
    contradicts = " (contradicts the hypothesis)" if report.outcome.contradicts else ""
    out = report.outcome
    step = _after_validation(call, h.label, out, args.max_time)
    doc["next_step"] = step.to_dict("mcp")
    reasons = "; ".join([*out.reasons, *(f"regression: {r}" for r in out.regressions)])
    return Answer(
        doc,
        f"{h.label} -> {out.headline}{contradicts}: {reasons}; next: {step.hint('mcp')}",
        result=report,
    )


def _after_validation(call: Call, label: str, out: Any, max_time: float | None) -> Any:
    """The next step after a validation: revert and record it when the evidence says so,
    validate again with a larger budget when it could not decide, else the engagement's next."""
    from perfop.engagement import checks
    from perfop.engagement.hints import NextStep

    if out.advises_revert:
        return NextStep(
            f"{out.advice}; after reverting the candidate, record it",
            f"perfop hypothesis update {label} --status reverted --note WHY",
            "hypothesis_update",
            {"label": label, "status": "reverted", "note": "<why>"},
        )
    if out.rule == "undecided":
        budget = 2 * (max_time or 60.0)
        return NextStep(
            "validate again with a larger budget (or drop the hypothesis)",
            f"perfop validate {label} --max-time {budget:g}",
            "validate",
            {"label": label, "max_time": budget},
        )
    return checks.status(call.app.store, call.app.loaded).step


class ReportArgs(Args):
    format: Literal["md", "html", "json"] | None = Field(
        None, description="md, html or json (default: from the output extension, else md)."
    )
    output: str | None = Field(
        None,
        description="File to write, inside the repository (Markdown also writes its PNG plots "
        "beside it). Without it the report comes back in the answer.",
    )


@tool(
    "report",
    ReportArgs,
    """Write the engagement's hand-off report (objectives, hypotheses, changes, evidence tables
    and plots, residual risks, rollback, follow-ups) as Markdown, self-contained HTML or JSON,
    and record it for verify. Answers with the JSON report document; the text is the Markdown
    report itself when no output file is given. Before any intake it answers (not an error)
    that there is nothing to report and which tool starts an engagement.""",
    returns=outputs.ReportDoc,
    hints=False,
)
def report(call: Call, args: ReportArgs) -> Answer:
    import json

    from perfop.engagement import checks
    from perfop.report import render
    from perfop.report.files import Target
    from perfop.report.service import generate_report

    output = call.path(args.output, "output") if args.output else None
    if output is not None and _tracked(call.app.repo_root, output):
        raise GuardrailError(
            f"output: {args.output!r} is a file under version control; perfop does not overwrite "
            "the user's files, give a new path (e.g. under .perfop/ or docs/)"
        )
    target = None
    if output is not None:
        target = Target(
            output,
            f"output: {args.output!r}",
            force_hint=None,
            create_within=call.app.repo_root,
        )
    status = checks.status(call.app.store, call.app.loaded)
    if status.engagement is None:
        # The first calls an agent makes on a fresh repository are not errors (nothing is
        # written): the answer says there is nothing to report yet and which tool starts it.
        step = status.step
        doc = {
            "schema": "perfop.report.none/1",
            "engagement": None,
            "message": "no engagement yet: nothing to report",
            "next_step": step.to_dict("mcp"),
        }
        return Answer(doc, f"no engagement yet: nothing to report; {step.hint('mcp')}")
    result = generate_report(call.app.store, call.app.loaded, fmt=args.format, output=target)
    doc = json.loads(result.text if result.fmt == "json" else render(result.data, "json"))
    if output is None and result.fmt == "md":
        text = result.text
    else:
        root = call.app.repo_root
        where = ", ".join(str(p.relative_to(root)) for p in result.files) or "the answer"
        name = f"report {result.record.id}" if result.record else "report (not recorded)"
        text = f"{name} ({result.fmt}) written to {where}"
    return Answer(doc, text)


def _tracked(repo: Path, path: Path) -> bool:
    from perfop import git

    return bool(git.run(repo, "ls-files", "--", str(path), user_env=True).stdout.strip())
