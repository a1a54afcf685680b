"""``perfop publish``: the static dashboard of every recorded workload (for GitHub Pages)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from perfop.cli.common import get_state


def register(app: typer.Typer) -> None:
    app.command(
        "publish",
        help="Write a static dashboard (DIR/index.html: every workload's series over commits, "
        "change points marked, the commits and PRs that moved them; no script, no external "
        "asset) for GitHub Pages or any static host.",
    )(publish)


def _repo_url(state_root: Path, given: str | None) -> str | None:
    if given is not None:
        return given.rstrip("/") or None
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repo = os.environ.get("GITHUB_REPOSITORY")
    if repo:
        return f"{server}/{repo}"
    from perfop.ci.github import resolve_repo
    from perfop.errors import UsageError

    try:
        return f"https://github.com/{resolve_repo(None, cwd=state_root, env={})}"
    except UsageError:
        return None


def publish(
    ctx: typer.Context,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory to write index.html into.")
    ] = Path("_site"),
    workload: Annotated[
        list[str] | None,
        typer.Option("--workload", "-w", help="Only this workload (repeatable; default: all)."),
    ] = None,
    metric: Annotated[str, typer.Option("--metric", help="Metric to chart.")] = "wall_time",
    statistic: Annotated[
        str, typer.Option("--statistic", help="Per-commit statistic (median, mean, p95, ...).")
    ] = "median",
    title: Annotated[
        str, typer.Option("--title", help="Page title.")
    ] = "perfop: performance over commits",
    repo_url: Annotated[
        str | None,
        typer.Option(
            "--repo-url",
            help="Link commits and PRs here (default: from GITHUB_REPOSITORY or the origin "
            "remote; '' for no links).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an index.html perfop did not write.")
    ] = False,
) -> None:
    import datetime as dt

    from perfop.history.publish import DashboardOptions, collect, render_dashboard, write_dashboard

    state = get_state(ctx)
    root = state.loaded.repo_root
    histories = collect(
        state.store, repo_root=root, workloads=workload or (), metric=metric, statistic=statistic
    )
    opts = DashboardOptions(
        title=title,
        repo_url=_repo_url(root, repo_url),
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    target = output if output.is_absolute() else Path.cwd() / output
    path = write_dashboard(target, render_dashboard(histories, opts), force=force)
    typer.echo(f"wrote {path} ({len(histories)} workloads)")
