"""``perfop init-ci``: a GitHub Actions workflow that gates pull requests and records main.

``render_workflow`` is pure (options in, YAML text out); ``write_workflow`` writes it to
``.github/workflows/perfop.yml`` and refuses to replace an existing file unless forced.
``install_requirement`` and ``detect_setup`` turn ``--install`` / ``--setup`` (or their absence)
into the two install steps. Actions are pinned to full commit SHAs (``perfop.ci.pins``); checkout
keeps no credentials; every job gets only the permissions it uses; a push to the default branch
is never cancelled by a later one (history would have a hole). ``--store-kind data-branch``
keeps the history in the git branch ``perfop-data`` (``perfop data import|export``): each job
imports it into a job-local SQLite store, and only ``record`` (``contents: write``) pushes it,
authenticated explicitly in that one step (checkout still keeps no credentials).
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from perfop import __version__, git
from perfop.ci.pins import PINNED_ACTIONS, uses
from perfop.errors import UsageError

__all__ = [
    "PINNED_ACTIONS",
    "WORKFLOW_PATH",
    "WorkflowOptions",
    "default_branch",
    "detect_setup",
    "install_requirement",
    "render_workflow",
    "write_workflow",
]

WORKFLOW_PATH = Path(".github/workflows/perfop.yml")

StoreKind = Literal["sqlite", "postgres", "postgres-service", "data-branch"]
# The job's own PostgreSQL (``services:``): a throwaway server per job, on the runner's loopback.
SERVICE_URL = "postgresql://postgres:postgres@localhost:5432/perfop"
POSTGRES_IMAGE = "postgres:17"

_PINNED = re.compile(r"^perfop(\[[A-Za-z0-9_,-]+\])?==[0-9]+(\.[0-9]+)*([a-z]+[0-9]+)?$")
_GIT = re.compile(r"^git\+(https|ssh|file)://[^\s'\"]+$")
_INSTALL_HELP = (
    "give a pinned version ('perfop==X.Y.Z'), a git URL (git+https://HOST/OWNER/perfop@TAG) or "
    "a path to a perfop wheel or source tree"
)


def install_requirement(spec: str | None, repo_root: Path) -> str:
    """The pip argument that installs perfop in the workflow, from ``--install`` (checked).

    No spec: this perfop's own version, pinned. A bare or range requirement is refused: it would
    install whatever someone publishes as ``perfop`` next."""
    if spec is None:
        return f"perfop=={__version__}"
    spec = spec.strip()
    if _PINNED.match(spec) or _GIT.match(spec):
        return spec
    if spec.startswith("perfop") or spec.startswith("git+"):
        raise UsageError(f"--install {spec!r}: {_INSTALL_HELP}")
    if any(c in spec for c in "'\"\n\r$`;&|<>"):
        raise UsageError(f"--install {spec!r}: quotes or shell characters; {_INSTALL_HELP}")
    path = Path(spec)
    target = path if path.is_absolute() else repo_root / path
    is_wheel = target.is_file() and target.name.startswith("perfop-") and target.suffix == ".whl"
    is_tree = target.is_dir() and (target / "pyproject.toml").is_file()
    if not (is_wheel or is_tree):
        raise UsageError(
            f"--install {spec!r}: not a perfop wheel (perfop-*.whl) or a directory with a "
            f"pyproject.toml; {_INSTALL_HELP}"
        )
    if path.is_absolute():
        return spec
    return spec if spec.startswith(("./", "../")) else f"./{spec}"


def detect_setup(repo_root: Path) -> str | None:
    """How to install the project under test: an installable pyproject/setup.py, else
    requirements.txt, else nothing."""
    pyproject = repo_root / "pyproject.toml"
    installable = (repo_root / "setup.py").is_file() or (repo_root / "setup.cfg").is_file()
    if pyproject.is_file():
        try:
            doc = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
            doc = {}
        installable = installable or "project" in doc or "build-system" in doc
    if installable:
        return "python -m pip install -e ."
    if (repo_root / "requirements.txt").is_file():
        return "python -m pip install -r requirements.txt"
    return None


@dataclass(frozen=True)
class WorkflowOptions:
    default_branch: str = "main"
    python: str = "3.11"
    install: str = f"perfop=={__version__}"
    setup: str | None = "python -m pip install -e ."
    store: StoreKind = "sqlite"
    store_secret: str = "PERFOP_STORE_URL"
    comment: bool = True
    check_run: bool = False
    pages: bool = False


def _yaml_str(text: str) -> str:
    """A single-quoted YAML scalar."""
    return "'" + text.replace("'", "''") + "'"


def _run_block(command: str, indent: str) -> str:
    lines = command.strip().splitlines() or [""]
    if len(lines) == 1:
        return f"run: {_yaml_str(lines[0])}"
    body = "\n".join(f"{indent}  {line}" if line else "" for line in lines)
    return f"run: |\n{body}"


def _setup_steps(opts: WorkflowOptions) -> str:
    extra = ' "psycopg[binary]>=3.1,<4"' if opts.store.startswith("postgres") else ""
    text = f"""\
      - uses: {uses("actions/checkout")}
        with:
          fetch-depth: 0  # the gate needs the merge base, history needs commit times
          persist-credentials: false
      - uses: {uses("actions/setup-python")}
        with:
          python-version: {_yaml_str(opts.python)}
      - name: Install perfop
        env:
          PERFOP_INSTALL: {_yaml_str(opts.install)}
        run: python -m pip install "$PERFOP_INSTALL"{extra}
"""
    if opts.setup:
        text += f"""\
      - name: Set up the project
        {_run_block(opts.setup, "        ")}
"""
    return text


def _store_steps(opts: WorkflowOptions) -> tuple[str, str]:
    """The steps that restore the job's store before perfop runs and save it after ``record``."""
    if opts.store.startswith("postgres"):
        return "", ""
    if opts.store == "data-branch":
        return _data_branch_steps()
    restore = f"""\
      - name: Restore the perfop store
        uses: {uses("actions/cache/restore")}
        with:
          path: .perfop/perfop.db
          key: perfop-store-${{{{ github.run_id }}}}
          restore-keys: perfop-store-
"""
    save = f"""\
      - name: Save the perfop store
        if: always()
        uses: {uses("actions/cache/save")}
        with:
          path: .perfop/perfop.db
          key: perfop-store-${{{{ github.run_id }}}}
"""
    return restore, save


def _gate_settings(opts: WorkflowOptions) -> tuple[str, list[str], str]:
    """The gate job's permissions, ``perfop gate`` arguments and step environment."""
    gate_permissions = "      contents: read  # checkout\n"
    gate_args = ['--base "origin/$BASE_REF"']
    gate_env = "          BASE_REF: ${{ github.base_ref }}  # via env, never pasted in the script\n"
    if opts.comment:
        gate_permissions += (
            "      pull-requests: write  # the PR comment (a fork's token cannot: summary then)\n"
        )
        gate_args.append("--comment")
    if opts.check_run:
        gate_permissions += "      checks: write  # the check run\n"
        gate_args.append("--check-run")
    if opts.comment or opts.check_run:
        gate_env += "          GITHUB_TOKEN: ${{ github.token }}\n"
    return gate_permissions, gate_args, gate_env


def render_workflow(opts: WorkflowOptions) -> str:
    """The workflow YAML for ``opts``."""
    store_env = _store_env(opts) + _services(opts)
    restore, save = _store_steps(opts)
    record_permissions = (
        "      contents: write  # push the perfop-data branch (that step alone has the token)\n"
        if opts.store == "data-branch"
        else "      contents: read  # checkout\n"
    )
    gate_permissions, gate_args, gate_env = _gate_settings(opts)
    setup = _setup_steps(opts)
    return f"""\
# Written by `perfop init-ci`. Pull requests: `perfop gate` compares every gate workload between
# the merge base and the head (exit 1 on a confirmed regression or SLO breach). Pushes to
# {opts.default_branch}: `perfop record` adds the commit to the history (`perfop history W`).
name: perfop

on:
  pull_request:
  push:
    branches: [{_yaml_str(opts.default_branch)}]

permissions: {{}}

# A new push to a pull request cancels its running gate; every push to {opts.default_branch} gets a
# group of its own, so no `record` is ever cancelled or dropped from the queue.
concurrency:
  group: perfop-${{{{ github.event_name == 'pull_request' && github.ref || github.run_id }}}}
  cancel-in-progress: ${{{{ github.event_name == 'pull_request' }}}}

jobs:
  gate:
    name: perfop gate
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    timeout-minutes: 60
    permissions:
{gate_permissions}    env:
{store_env}    steps:
{setup}{restore}      - name: perfop gate
        env:
{gate_env}        run: perfop gate {" ".join(gate_args)}

  record:
    name: perfop record
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    timeout-minutes: 60
    permissions:
{record_permissions}    env:
{store_env}    steps:
{setup}{restore}      - name: perfop record
        run: perfop record
{save}{_pages_jobs(opts, restore)}"""


def _pages_jobs(opts: WorkflowOptions, restore: str) -> str:
    """After each record: build the dashboard (``perfop publish``) and deploy it to Pages."""
    if not opts.pages:
        return ""
    setup = _setup_steps(replace(opts, setup=None))  # publish reads the store, runs no code
    return f"""
  dashboard:
    name: perfop dashboard
    needs: record
    runs-on: ubuntu-latest
    timeout-minutes: 15
    permissions:
      contents: read  # checkout
    env:
{_store_env(opts)}    steps:
{setup}{restore}      - name: perfop publish
        run: perfop publish --output _site
      - uses: {uses("actions/upload-pages-artifact")}
        with:
          path: _site

  pages:
    name: deploy the dashboard
    needs: dashboard
    runs-on: ubuntu-latest
    timeout-minutes: 10
    permissions:
      pages: write  # deploy to GitHub Pages
      id-token: write  # deploy-pages proves the deployment's origin with an OIDC token
    environment:
      name: github-pages
      url: ${{{{ steps.deployment.outputs.page_url }}}}
    steps:
      - id: deployment
        uses: {uses("actions/deploy-pages")}
"""


_GIT_AUTH = """\
# checkout kept no credentials: authenticate these git commands only (env, not .git/config)
basic=$(printf 'x-access-token:%s' "$GITHUB_TOKEN" | base64 -w0)
echo "::add-mask::$basic"
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.$SERVER_URL/.extraheader"
export GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $basic"
"""
_GIT_AUTH_ENV = """\
        env:
          GITHUB_TOKEN: ${{ github.token }}
          SERVER_URL: ${{ github.server_url }}
"""


def _data_branch_steps() -> tuple[str, str]:
    """Import ``perfop-data`` into the job's store (every job); export and push it (record)."""
    fetch = "git fetch -q --no-tags origin +refs/heads/perfop-data:refs/remotes/origin/perfop-data"
    importing = f"""{_GIT_AUTH}status=0
git ls-remote --exit-code --heads origin perfop-data > /dev/null || status=$?
if [ "$status" = 0 ]; then
  {fetch}
  perfop data import --ref origin/perfop-data
elif [ "$status" = 2 ]; then
  echo "no perfop-data branch yet: the first perfop record creates it"
else
  exit "$status"
fi
"""
    # Records of two pushes can finish together: on a rejected push, rebuild on the new branch
    # (files are content-addressed, so nothing is lost or duplicated) and try again.
    pushing = f"""{_GIT_AUTH}for attempt in 1 2 3 4 5; do
  perfop data export
  git rev-parse -q --verify refs/heads/perfop-data > /dev/null || exit 0  # nothing new
  if git push -q origin refs/heads/perfop-data:refs/heads/perfop-data; then exit 0; fi
  {fetch}
  git update-ref -d refs/heads/perfop-data
  sleep $((attempt * 5))
done
exit 1
"""
    restore = f"""\
      - name: Import the history (perfop-data branch)
{_GIT_AUTH_ENV}        {_run_block(importing, "        ")}
"""
    save = f"""\
      - name: Export and push the history (perfop-data branch)
{_GIT_AUTH_ENV}        {_run_block(pushing, "        ")}
"""
    return restore, save


def _services(opts: WorkflowOptions) -> str:
    """The job's PostgreSQL service (``--store-kind postgres-service``), healthy before steps."""
    if opts.store != "postgres-service":
        return ""
    return f"""\
    services:
      postgres:
        # A tag, not a digest: perfop cannot vouch for a digest it has not pulled. Pin yours
        # with `docker pull {POSTGRES_IMAGE}` and its RepoDigest (docs/ci.md).
        image: {POSTGRES_IMAGE}  # zizmor: ignore[unpinned-images]
        env:
          POSTGRES_PASSWORD: postgres  # a throwaway server of this job, reachable only from it
          POSTGRES_DB: perfop
        ports:
          - 5432:5432
        options: >-
          --health-cmd "pg_isready -U postgres" --health-interval 2s --health-timeout 5s
          --health-retries 30
"""


def _store_env(opts: WorkflowOptions) -> str:
    if opts.store == "postgres-service":
        return f"      PERFOP_STORE: {SERVICE_URL}\n"
    if opts.store == "postgres":
        return f"      PERFOP_STORE: ${{{{ secrets.{opts.store_secret} }}}}\n"
    return "      PERFOP_STORE: sqlite:///.perfop/perfop.db\n"


def default_branch(repo_root: Path) -> str:
    """The remote's default branch when git knows it, else the current branch, else main."""
    for args in (
        ["symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD"],
        ["symbolic-ref", "--short", "-q", "HEAD"],
    ):
        try:
            out = git.run(repo_root, *args, timeout=10, user_env=True)
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
