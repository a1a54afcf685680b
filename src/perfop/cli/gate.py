"""``perfop init-ci`` (write the GitHub Actions workflow) and ``perfop gate`` (pull requests)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from perfop.cli.common import (
    FORMAT_OPTION,
    FailOnInconclusiveOption,
    MaxPairsOption,
    MaxRunsOption,
    MaxTimeOption,
    OutputFormat,
    emit_json,
    get_state,
    pair_cap,
    warn_contention,
)


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


def init_ci(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    store: Annotated[
        str,
        typer.Option(
            "--store-kind",
            help="sqlite: a store file kept in the Actions cache; postgres: a URL from the "
            "secret PERFOP_STORE_URL.",
        ),
    ] = "sqlite",
    branch: Annotated[
        str | None,
        typer.Option("--branch", help="Default branch to record (default: from git)."),
    ] = None,
    python: Annotated[str, typer.Option("--python", help="Python version to set up.")] = "3.11",
    install: Annotated[
        str | None,
        typer.Option("--install", help="Install command (default: the project and perfop)."),
    ] = None,
) -> None:
    from perfop.ci.init_ci import (
        WorkflowOptions,
        default_branch,
        render_workflow,
        write_workflow,
    )
    from perfop.errors import UsageError

    if store not in ("sqlite", "postgres"):
        raise UsageError(f"--store-kind {store!r}: expected sqlite or postgres")
    state = get_state(ctx)
    root = state.loaded.repo_root
    opts = WorkflowOptions(
        default_branch=branch or default_branch(root),
        python=python,
        store="postgres" if store == "postgres" else "sqlite",
        **({"install": install} if install else {}),
    )
    path = write_workflow(root, render_workflow(opts), force=force)
    typer.echo(
        f"wrote {path.relative_to(root)} (gate on pull requests, record on "
        f"{opts.default_branch}); commit it to enable"
    )


def gate(
    ctx: typer.Context,
    base: Annotated[
        str | None,
        typer.Option("--base", help="Base ref (its merge-base with HEAD is measured)."),
    ] = None,
    workload: Annotated[
        list[str] | None,
        typer.Option("--workload", "-w", help="Gate only this workload (repeatable)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the first comparison (recorded).")
    ] = None,
    max_time: MaxTimeOption = None,
    max_pairs: MaxPairsOption = None,
    max_runs: MaxRunsOption = None,
    fail_on_inconclusive: FailOnInconclusiveOption = False,
    summary: Annotated[
        Path | None,
        typer.Option(
            "--summary",
            help="Append the Markdown summary to this file (default: $GITHUB_STEP_SUMMARY).",
            show_default=False,
        ),
    ] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.budget import command_started
    from perfop.ci.gate import (
        format_markdown,
        format_text,
        gate_document,
        run_gate,
        workflow_commands,
    )
    from perfop.errors import UsageError

    started = command_started()

    state = get_state(ctx)
    cap = pair_cap(state, max_pairs, max_runs)
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
    fail3 = fail_on_inconclusive
    target = summary or (
        Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None
    )
    if target is not None:
        try:
            with target.open("a", encoding="utf-8") as fh:
                fh.write(format_markdown(result, fail_on_inconclusive=fail3))
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
    code = result.exit_code(fail_on_inconclusive=fail3)
    if code:
        raise typer.Exit(code)
