"""``perfop ci runs|jobs|logs|triage|alerts``: GitHub Actions and code-security views."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from perfop.cli.common import FORMAT_OPTION, OutputFormat, emit_json, get_state
from perfop.errors import UsageError

if TYPE_CHECKING:
    from perfop.ci.github import GitHubClient

REPO_OPTION = typer.Option(
    "--repo",
    help="GitHub repository owner/name (default: GITHUB_REPOSITORY, else the origin remote).",
    show_default=False,
)


def register(app: typer.Typer) -> None:
    ci_app = typer.Typer(
        help="GitHub Actions: workflow runs, jobs, logs, failure triage, security alerts. "
        "Token from GITHUB_TOKEN or GH_TOKEN.",
        no_args_is_help=True,
    )
    ci_app.command("runs", help="List recent workflow runs.")(runs)
    ci_app.command("jobs", help="List the jobs of one workflow run.")(jobs)
    ci_app.command("logs", help="Print a job's log, timestamps stripped.")(logs)
    ci_app.command(
        "triage", help="Summarise why a job failed (JOB_ID, or --file LOG for a local log)."
    )(triage)
    ci_app.command(
        "alerts", help="Open code-scanning and secret-scanning alerts; --compare BASE HEAD."
    )(alerts)
    app.add_typer(ci_app, name="ci")


def _client(ctx: typer.Context, repo: str | None) -> GitHubClient:
    from perfop.ci.github import GitHubClient, resolve_repo, token_from_env

    cwd = get_state(ctx).repo
    return GitHubClient(resolve_repo(repo, cwd=cwd), token=token_from_env())


def runs(
    ctx: typer.Context,
    branch: Annotated[
        str | None, typer.Option("--branch", help="Only runs on this branch.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only runs with this status or conclusion (e.g. failure)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many runs.")] = 20,
    repo: Annotated[str | None, REPO_OPTION] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.ci.actions import format_runs, list_runs

    with _client(ctx, repo) as client:
        doc = list_runs(client, branch=branch, status=status, limit=limit)
    _out(fmt, doc, format_runs)


def jobs(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(help="Workflow run id (see 'perfop ci runs').")],
    repo: Annotated[str | None, REPO_OPTION] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.ci.actions import format_jobs, list_jobs

    with _client(ctx, repo) as client:
        doc = list_jobs(client, run_id)
    _out(fmt, doc, format_jobs)


def logs(
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(help="Job id (see 'perfop ci jobs RUN_ID').")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the log to this file.")
    ] = None,
    repo: Annotated[str | None, REPO_OPTION] = None,
) -> None:
    from perfop.ci.actions import job_log

    with _client(ctx, repo) as client:
        text = job_log(client, job_id)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output} ({len(text.splitlines())} lines)")
    else:
        sys.stdout.write(text)


def triage(
    ctx: typer.Context,
    job_id: Annotated[int | None, typer.Argument(help="Job id to download and triage.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Triage this local log file instead.")
    ] = None,
    repo: Annotated[str | None, REPO_OPTION] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.ci.triage import format_triage
    from perfop.ci.triage import triage as triage_text

    if (job_id is None) == (file is None):
        raise UsageError("give either a JOB_ID or --file LOG (not both)")
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"--file {file}: cannot read it ({exc.strerror})") from None
        report = triage_text(text)
    else:
        from perfop.ci.actions import triage_job

        assert job_id is not None
        with _client(ctx, repo) as client:
            report = triage_job(client, job_id)
    if fmt is OutputFormat.json:
        emit_json(report.to_dict())
    else:
        sys.stdout.write(format_triage(report))


def alerts(
    ctx: typer.Context,
    ref: Annotated[
        str | None, typer.Option("--ref", help="Only alerts on this ref (branch or refs/...).")
    ] = None,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option("--compare", help="BASE HEAD: list code-scanning alerts new on HEAD."),
    ] = None,
    repo: Annotated[str | None, REPO_OPTION] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.ci.actions import format_alerts, security_alerts

    if ref is not None and compare is not None:
        raise UsageError("--ref and --compare BASE HEAD exclude each other; give one")
    with _client(ctx, repo) as client:
        doc = security_alerts(client, ref=ref, compare=compare)
    _out(fmt, doc, format_alerts)


def _out(fmt: OutputFormat, doc: dict[str, Any], render: Callable[[dict[str, Any]], str]) -> None:
    if fmt is OutputFormat.json:
        emit_json(doc)
    else:
        sys.stdout.write(render(doc))
