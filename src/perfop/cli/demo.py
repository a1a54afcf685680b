"""``perfop demo``: run perfop's main job on the bundled example project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfop.cli.common import emit, get_state


def register(app: typer.Typer) -> None:
    app.command("demo", help="Run perfop on its bundled example project (a fresh git repository "
                "in a temporary directory); prints where everything was written.")(demo)


def demo(
    ctx: typer.Context,
    directory: Annotated[Path | None, typer.Option(
        "--dir", help="Where to create the demo repository (new or empty).")] = None,
) -> None:
    from perfop.config import load_config, store_url
    from perfop.demo import prepare_demo_repo
    from perfop.measure import run_workloads
    from perfop.render.run import run_table
    from perfop.store import open_store

    state = get_state(ctx)
    repo = prepare_demo_repo(directory)
    typer.echo(f"demo repository: {repo}")
    loaded = load_config(repo)
    store = open_store(store_url(loaded, state.store_override))
    try:
        typer.echo("baseline: measuring every configured workload ...")
        for outcome in run_workloads(store, loaded):
            emit(state, run_table(outcome))
    finally:
        store.close()
    typer.echo(f"store: {store.display_url}")
