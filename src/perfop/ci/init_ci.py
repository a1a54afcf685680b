"""``perfop init-ci``: a GitHub Actions workflow that gates pull requests and records main.

``render_workflow`` is pure (options in, YAML text out); ``write_workflow`` writes it to
``.github/workflows/perfop.yml`` and refuses to replace an existing file unless forced.
Actions are pinned to full commit SHAs (the tag each SHA is for is in a comment), so a moved tag
cannot change what runs with the repository's token.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from perfop.errors import UsageError

WORKFLOW_PATH = Path(".github/workflows/perfop.yml")

# action -> (commit sha, the release tag it is)
PINNED_ACTIONS: dict[str, tuple[str, str]] = {
    "actions/checkout": ("11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "actions/setup-python": ("0b93645e9fea7318ecaed2b359559ac225c90a2b", "v5.3.0"),
    "actions/cache/restore": ("1bd1e32a3bdc45362d1e726936510720a7c30a57", "v4.2.0"),
    "actions/cache/save": ("1bd1e32a3bdc45362d1e726936510720a7c30a57", "v4.2.0"),
}

StoreKind = Literal["sqlite", "postgres"]


@dataclass(frozen=True)
class WorkflowOptions:
    default_branch: str = "main"
    python: str = "3.11"
    install: str = 'python -m pip install -e . "perfop"'
    store: StoreKind = "sqlite"
    store_secret: str = "PERFOP_STORE_URL"


def _uses(action: str) -> str:
    sha, tag = PINNED_ACTIONS[action]
    return f"{action}@{sha}  # {tag}"


def render_workflow(opts: WorkflowOptions) -> str:
    """The workflow YAML for ``opts``."""
    if opts.store == "postgres":
        store_env = f"      PERFOP_STORE: ${{{{ secrets.{opts.store_secret} }}}}\n"
        restore = save = ""
    else:
        store_env = "      PERFOP_STORE: sqlite:///.perfop/perfop.db\n"
        restore = f"""\
      - name: Restore the perfop store
        uses: {_uses("actions/cache/restore")}
        with:
          path: .perfop/perfop.db
          key: perfop-store-${{{{ github.run_id }}}}
          restore-keys: perfop-store-
"""
        save = f"""\
      - name: Save the perfop store
        if: always()
        uses: {_uses("actions/cache/save")}
        with:
          path: .perfop/perfop.db
          key: perfop-store-${{{{ github.run_id }}}}
"""
    setup = f"""\
      - uses: {_uses("actions/checkout")}
        with:
          fetch-depth: 0  # the gate needs the merge base, history needs commit times
      - uses: {_uses("actions/setup-python")}
        with:
          python-version: "{opts.python}"
      - name: Install
        run: {opts.install}
"""
    return f"""\
# Written by `perfop init-ci`. Pull requests: `perfop gate` compares every gate workload between
# the merge base and the head (exit 1 on a confirmed regression or SLO breach). Pushes to
# {opts.default_branch}: `perfop record` adds the commit to the history (`perfop history W`).
name: perfop

on:
  pull_request:
  push:
    branches: [{opts.default_branch}]

permissions:
  contents: read

concurrency:
  group: perfop-${{{{ github.ref }}}}
  cancel-in-progress: true

jobs:
  gate:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    timeout-minutes: 60
    env:
{store_env}    steps:
{setup}{restore}      - name: perfop gate
        env:
          BASE_REF: ${{{{ github.base_ref }}}}  # via env, never pasted into the script
        run: perfop gate --base "origin/$BASE_REF"

  record:
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    timeout-minutes: 60
    env:
{store_env}    steps:
{setup}{restore}      - name: perfop record
        run: perfop record
{save}"""


def default_branch(repo_root: Path) -> str:
    """The remote's default branch when git knows it, else the current branch, else main."""
    for args in (
        ["symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD"],
        ["symbolic-ref", "--short", "-q", "HEAD"],
    ):
        try:
            out = subprocess.run(
                ["git", *args], cwd=repo_root, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        name = out.stdout.strip()
        if out.returncode == 0 and name:
            return name.removeprefix("origin/")
    return "main"


def write_workflow(repo_root: Path, text: str, *, force: bool = False) -> Path:
    """Write the workflow file; an existing one is replaced only with ``force``."""
    path = repo_root / WORKFLOW_PATH
    if path.exists() and not force:
        raise UsageError(f"{WORKFLOW_PATH} already exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
