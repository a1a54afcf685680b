"""``perfop init-ci`` (write the GitHub Actions workflow) and ``perfop gate`` (pull requests)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from perfop.cli.common import (
    FORMAT_OPTION,
    FailOnInconclusiveOption,
    MaxPairsOption,
    MaxRunsOption,
    MaxTimeOption,
    OutputFormat,
    State,
    emit_json,
    get_state,
    pair_cap,
    seed_callback,
    warn_contention,
)

if TYPE_CHECKING:
    from perfop.ci.comment import PullRequest
    from perfop.ci.gate import GateResult


def register(app: typer.Typer) -> None:
    app.command(
        "gate",
        help="Pull-request gate: compare every gate workload between BASE (merge-base; default "
        "GITHUB_BASE_REF in Actions, else main) and HEAD, re-measure any regression once with a "
        "fresh seed, check SLOs on HEAD. Exit 0 pass, 1 confirmed regression or SLO breach, "
        "3 inconclusive with --fail-on-inconclusive.",
    )(gate)
    app.command(
        "init-ci",
        help="Write .github/workflows/perfop.yml: gate pull requests, record pushes to the "
        "default branch (pinned actions, fetch-depth 0, store cached or from a secret).",
    )(init_ci)


_ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")]
_StoreKindOption = Annotated[
    str,
    typer.Option(
        "--store-kind",
        help="sqlite: a store file kept in the Actions cache; postgres: a URL from the "
        "secret PERFOP_STORE_URL (durable history); postgres-service: each job's own "
        "throwaway PostgreSQL (services:), for the gate alone; data-branch: history in the git "
        "branch perfop-data (perfop data import/export), pushed by the record job.",
    ),
]
_BranchOption = Annotated[
    str | None,
    typer.Option("--branch", help="Default branch to record (default: from git)."),
]
_PythonOption = Annotated[str, typer.Option("--python", help="Python version to set up.")]
_InstallOption = Annotated[
    str | None,
    typer.Option(
        "--install",
        help="How the workflow installs perfop: 'perfop==X.Y.Z', a git URL "
        "(git+https://HOST/OWNER/perfop@TAG) or a path to a wheel or source tree "
        "(default: this perfop's version, pinned).",
        show_default=False,
    ),
]
_SetupOption = Annotated[
    str | None,
    typer.Option(
        "--setup",
        help="Command that sets up the project (default: 'pip install -e .' for an "
        "installable pyproject/setup.py, '-r requirements.txt', else none).",
        show_default=False,
    ),
]
_CommentOption = Annotated[
    bool,
    typer.Option("--comment/--no-comment", help="The gate comments on the pull request."),
]
_CheckRunOption = Annotated[
    bool, typer.Option("--check-run", help="The gate also creates a check run.")
]
_PagesOption = Annotated[
    bool,
    typer.Option(
        "--pages",
        help="After each record, publish the dashboard (perfop publish) to GitHub Pages.",
    ),
]


def init_ci(
    ctx: typer.Context,
    force: _ForceOption = False,
    store: _StoreKindOption = "sqlite",
    branch: _BranchOption = None,
    python: _PythonOption = "3.11",
    install: _InstallOption = None,
    setup: _SetupOption = None,
    comment: _CommentOption = True,
    check_run: _CheckRunOption = False,
    pages: _PagesOption = False,
) -> None:
    from perfop.ci.init_ci import (
        WorkflowOptions,
        default_branch,
        detect_setup,
        install_requirement,
        render_workflow,
        write_workflow,
    )

    _check_init_ci_flags(store=store, pages=pages, setup=setup)
    state = get_state(ctx)
    root = state.loaded.repo_root
    opts = WorkflowOptions(
        default_branch=branch or default_branch(root),
        python=python,
        install=install_requirement(install, root),
        setup=setup if setup is not None else detect_setup(root),
        store=store,  # type: ignore[arg-type]  # checked above
        comment=comment,
        check_run=check_run,
        pages=pages,
    )
    path = write_workflow(root, render_workflow(opts), force=force)
    typer.echo(
        f"wrote {path.relative_to(root)} (gate on pull requests, record on "
        f"{opts.default_branch}; installs {opts.install}); commit it to enable"
    )
    if install is None:
        typer.echo(
            f"note: {opts.install} installs only once that version is on the package index; "
            "until then pass --install with a git URL or a wheel path (README, Install)",
            err=True,
        )


def _check_init_ci_flags(*, store: str, pages: bool, setup: str | None) -> None:
    from perfop.errors import UsageError

    if store not in ("sqlite", "postgres", "postgres-service", "data-branch"):
        raise UsageError(
            f"--store-kind {store!r}: expected sqlite, postgres, postgres-service or data-branch"
        )
    if pages and store == "postgres-service":
        raise UsageError(
            "--pages with --store-kind postgres-service: each job's PostgreSQL starts empty, so "
            "the dashboard would have no history; use --store-kind postgres or sqlite"
        )
    if setup is not None and not setup.strip():
        raise UsageError("--setup '': give a command, e.g. --setup 'pip install -e .[test]'")


# The gate's own options (the shared ones are in cli/common.py).
_GateBaseOption = Annotated[
    str | None,
    typer.Option("--base", help="Base ref (its merge-base with HEAD is measured)."),
]
_GateWorkloadOption = Annotated[
    list[str] | None,
    typer.Option("--workload", "-w", help="Gate only this workload (repeatable)."),
]
_GateSeedOption = Annotated[
    int | None,
    typer.Option("--seed", callback=seed_callback, help="Seed of the first comparison (recorded)."),
]
_GateSummaryOption = Annotated[
    Path | None,
    typer.Option(
        "--summary",
        help="Append the Markdown summary to this file (default: $GITHUB_STEP_SUMMARY).",
        show_default=False,
    ),
]
_GateCommentOption = Annotated[
    bool,
    typer.Option(
        "--comment",
        help="Create or update the pull request's perfop comment (GITHUB_TOKEN; a fork's "
        "read-only token: a note in the step summary instead).",
    ),
]
_GateCheckRunOption = Annotated[
    bool, typer.Option("--check-run", help="Also create a check run with the summary.")
]
_GatePrOption = Annotated[
    int | None,
    typer.Option("--pr", min=1, help="Pull request number (default: the Actions event)."),
]


def gate(
    ctx: typer.Context,
    base: _GateBaseOption = None,
    workload: _GateWorkloadOption = None,
    seed: _GateSeedOption = None,
    max_time: MaxTimeOption = None,
    max_pairs: MaxPairsOption = None,
    max_runs: MaxRunsOption = None,
    fail_on_inconclusive: FailOnInconclusiveOption = False,
    summary: _GateSummaryOption = None,
    comment: _GateCommentOption = False,
    check_run: _GateCheckRunOption = False,
    pr: _GatePrOption = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.ci.gate import run_gate
    from perfop.compare.budget import command_started

    started = command_started()
    context = None
    if comment or check_run:
        from perfop.ci.comment import pull_request_context

        context = pull_request_context(number=pr)  # bad usage is said before measuring

    state = get_state(ctx)
    cap = pair_cap(state, max_pairs, max_runs)
    target = _summary_target(summary)
    from perfop.cli.compare import CompareBar

    with CompareBar(False, state.err_console) as notices:
        result = run_gate(
            state.store,
            state.loaded,
            base=base,
            workloads=list(workload or []),
            seed=seed,
            max_time=max_time,
            max_pairs=cap,
            progress=notices,
            started=started,
        )
    _report_gate(
        state,
        result,
        fmt,
        target=target,
        context=context,
        comment=comment,
        check_run=check_run,
        fail_on_inconclusive=fail_on_inconclusive,
    )
    code = result.exit_code(fail_on_inconclusive=fail_on_inconclusive)
    if code:
        raise typer.Exit(code)


def _summary_target(summary: Path | None) -> Path | None:
    """The step summary file (``--summary``, else ``$GITHUB_STEP_SUMMARY``), checked before
    measuring; no folder is created for it: a typo is not a place."""
    from perfop.errors import UsageError

    target = summary or (
        Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None
    )
    if target is not None:
        where = "--summary" if summary is not None else "GITHUB_STEP_SUMMARY"
        if target.is_dir():
            raise UsageError(f"{where} {target}: is a directory; give a file path")
        if not target.parent.is_dir():
            raise UsageError(
                f"{where} {target}: folder {target.parent} does not exist; create it first "
                "or give another path"
            )
    return target


def _report_gate(
    state: State,
    result: GateResult,
    fmt: OutputFormat,
    *,
    target: Path | None,
    context: PullRequest | None,
    comment: bool,
    check_run: bool,
    fail_on_inconclusive: bool,
) -> None:
    """Post, append the step summary, print the result, and emit the workflow commands."""
    from perfop.ci.gate import format_markdown, format_text, gate_document, workflow_commands
    from perfop.errors import UsageError

    fail3 = fail_on_inconclusive
    markdown = format_markdown(result, fail_on_inconclusive=fail3)
    if context is not None:
        markdown += _post(result, markdown, context, comment=comment, check_run=check_run)
    if target is not None:
        try:
            with target.open("a", encoding="utf-8") as fh:
                fh.write(markdown)
        except OSError as exc:
            raise UsageError(f"step summary {target}: cannot append ({exc.strerror})") from None
    if fmt is OutputFormat.json:
        emit_json(gate_document(result, fail_on_inconclusive=fail3))
    else:
        sys.stdout.write(format_text(result, fail_on_inconclusive=fail3))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        # The runner reads workflow commands from stdout and stderr; keep JSON stdout clean.
        stream = sys.stderr if fmt is OutputFormat.json else sys.stdout
        for line in workflow_commands(result):
            stream.write(line + "\n")
        stream.flush()
    else:
        warn_contention(state, result.contention, what="the gate's comparisons")


def _post(
    result: GateResult,
    markdown: str,
    context: PullRequest,
    *,
    comment: bool,
    check_run: bool,
) -> str:
    """Post the comment / check run; what the step summary should add (notes of what failed).

    A refusal or an unreachable API never changes the gate's verdict or exit code."""
    from perfop.ci.comment import (
        fallback_note,
        format_comment,
        publish_check_run,
        publish_comment,
    )
    from perfop.ci.github import GitHubClient, token_from_env
    from perfop.errors import RemoteError

    token = token_from_env()
    notes = ""
    with GitHubClient(context.repo, token=token) as client:
        for what, wanted in (("pull request comment", comment), ("check run", check_run)):
            if not wanted:
                continue
            try:
                if what == "check run":
                    outcome = publish_check_run(client, context, result, markdown)
                else:
                    body = format_comment(result, job=context.job_url)
                    outcome = publish_comment(client, context, body)
            except RemoteError as exc:
                from perfop.ci.comment import PublishOutcome

                outcome = PublishOutcome("skipped", reason=exc.message)
            if outcome.action == "skipped":
                notes += fallback_note(what, outcome)
                sys.stderr.write(f"perfop gate: no {what}: {outcome.reason}\n")
            else:
                sys.stderr.write(f"perfop gate: {what} {outcome.action}: {outcome.url or ''}\n")
    return notes
