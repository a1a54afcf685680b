"""Shared fixtures: real git repositories, the CLI in-process and as a subprocess, store URLs.

Fixture names are a contract other test modules rely on; extend, do not rename.

- ``git_repo(files=None, *, name="repo", commit=True) -> Path``: a real repository in tmp_path with
  a local user config and an initial commit (``files`` maps relative paths to text).
- ``git(repo, *args) -> str``: run git in a repository, return stripped stdout, fail loudly.
- ``run_cli(args, cwd=None, env=None) -> CliResult(code, out, err)``: ``perfop.cli.main`` in this
  process, stdout/stderr captured; ``env`` values of None delete a variable.
- ``perfop_proc(args, cwd=None, env=None, timeout=120) -> CompletedProcess`` (text, captured) and
  ``perfop_popen(args, cwd=None, env=None, **popen_kwargs) -> Popen``: ``python -m perfop``.
- ``pg_url``: a fresh, empty PostgreSQL database for this test (dropped afterwards). Skips when
  PERFOP_TEST_POSTGRES_URL is unset, but fails when PERFOP_REQUIRE_POSTGRES=1 (CI).
- ``require_program(marker, *names, install=...)`` (a function): a program's path, or skip --
  or fail when ``PERFOP_REQUIRE`` lists ``marker`` (CI lists postgres, hyperfine, chromium).
  Tests that need one carry the marker, so each run's summary counts them.
- ``any_store_url``: parametrised over ``sqlite`` (a file in tmp_path) and ``postgresql``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import pytest

# suite_guard: session watchdog, per-test hard stop, surviving-thread check (see its docstring).
pytest_plugins = ("suite_guard", "pytester")

PG_URL_VAR = "PERFOP_TEST_POSTGRES_URL"
PG_REQUIRE_VAR = "PERFOP_REQUIRE_POSTGRES"
REQUIRE_VAR = "PERFOP_REQUIRE"

# Variables that would leak the developer's or CI's own settings into a test.
_ISOLATED_VARS = ("PERFOP_STORE", "PERFOP_CONFIG")


@pytest.fixture(autouse=True)
def _isolate_perfop_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ISOLATED_VARS:
        monkeypatch.delenv(name, raising=False)


# A fresh machine (Debian's default) has no ``python`` on PATH. So that a test cannot pass here
# only because a developer's PATH has one (a pyenv shim, a hand-made link), the name resolves for
# the whole session to a stub that fails loudly: workloads use ``{python}`` / ``sys.executable``,
# or put a deliberate interpreter, shim or second venv on PATH themselves. (``python3`` is left
# alone: every supported machine has one, and some tests are about that very interpreter.)
BARE_PYTHON_NAMES = ("python",)
BARE_PYTHON_STUB = """#!/bin/sh
echo "perfop tests: a bare '$(basename "$0")' from PATH ran ($*); a fresh machine has none: \
use {python} or sys.executable" >&2
exit 127
"""


@pytest.fixture(autouse=True, scope="session")
def _no_bare_python_on_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    stubs = tmp_path_factory.mktemp("bare-python-stubs")
    for name in BARE_PYTHON_NAMES:
        stub = stubs / name
        stub.write_text(BARE_PYTHON_STUB, encoding="utf-8")
        stub.chmod(0o755)
    previous = os.environ.get("PATH")
    os.environ["PATH"] = os.pathsep.join([str(stubs), previous or os.defpath])
    try:
        yield stubs
    finally:
        if previous is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = previous


# --- git ---------------------------------------------------------------------------------------

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "perfop tests",
    "GIT_AUTHOR_EMAIL": "tests@perfop.invalid",
    "GIT_COMMITTER_NAME": "perfop tests",
    "GIT_COMMITTER_EMAIL": "tests@perfop.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def run_git(repo: Path, *args: str) -> str:
    """Run git in ``repo``; a failure raises with git's stderr (tests should see why)."""
    env = {**os.environ, **_GIT_ENV}
    out = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {repo}: {out.stderr.strip()}")
    return out.stdout.strip()


@pytest.fixture
def git() -> Callable[..., str]:
    return run_git


@pytest.fixture
def git_repo(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``git_repo(files=None, *, name="repo", commit=True)`` makes a real repository."""

    def make(
        files: Mapping[str, str] | None = None, *, name: str = "repo", commit: bool = True
    ) -> Path:
        repo = tmp_path / name
        repo.mkdir(parents=True)
        run_git(repo, "init", "-q", "-b", "main")
        for key, value in {
            "user.name": "perfop tests",
            "user.email": "tests@perfop.invalid",
            "commit.gpgsign": "false",
            "core.autocrlf": "false",
        }.items():
            run_git(repo, "config", key, value)
        all_files = {"README.md": "test repository\n", **(files or {})}
        for rel, text in all_files.items():
            path = repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if commit:
            run_git(repo, "add", "-A")
            run_git(repo, "commit", "-q", "-m", "initial")
        return repo

    return make


# --- the CLI -------------------------------------------------------------------------------------


class CliResult(NamedTuple):
    code: int
    out: str
    err: str


def _apply_env(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str | None] | None) -> None:
    for name, value in (env or {}).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Factory: run ``perfop ARGS`` in this process; returns (code, out, err)."""
    from perfop.cli import main

    def invoke(
        args: list[str],
        cwd: Path | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> CliResult:
        capsys.readouterr()  # drop anything printed before
        with monkeypatch.context() as mp:
            if cwd is not None:
                mp.chdir(cwd)
            _apply_env(mp, env)
            previous = signal.getsignal(signal.SIGTERM)
            try:
                code = main([str(a) for a in args])
            finally:
                # main() installs a SIGTERM handler meant for a real perfop process.
                signal.signal(signal.SIGTERM, previous)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


def perfop_env(env: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """os.environ without perfop's own settings, with ``env`` applied (None deletes)."""
    base = {k: v for k, v in os.environ.items() if k not in _ISOLATED_VARS}
    for name, value in (env or {}).items():
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return base


PERFOP_ARGV = (sys.executable, "-m", "perfop")


@pytest.fixture
def perfop_proc() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Factory: run ``python -m perfop ARGS`` to completion; text output captured."""

    def invoke(
        args: list[str],
        cwd: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*PERFOP_ARGV, *(str(a) for a in args)],
            cwd=cwd,
            env=perfop_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    return invoke


@pytest.fixture
def perfop_popen() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Factory: start ``python -m perfop ARGS`` (pipes, text); killed at teardown if still alive."""
    started: list[subprocess.Popen[str]] = []

    def start(
        args: list[str],
        cwd: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        **kwargs: Any,
    ) -> subprocess.Popen[str]:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(
            [*PERFOP_ARGV, *(str(a) for a in args)],
            cwd=cwd,
            env=perfop_env(env),
            text=True,
            **kwargs,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


# --- stores --------------------------------------------------------------------------------------


def required_tools() -> set[str]:
    """Markers whose tests must run, never skip: ``PERFOP_REQUIRE=postgres,hyperfine,chromium``.

    ``PERFOP_REQUIRE_POSTGRES=1`` (the older spelling) adds ``postgres``. ``.ci/run`` sets both.
    """
    names = {n.strip() for n in os.environ.get(REQUIRE_VAR, "").split(",") if n.strip()}
    if os.environ.get(PG_REQUIRE_VAR) == "1":
        names.add("postgres")
    return names


def unavailable(marker: str, reason: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it when ``marker`` is required (CI)."""
    if marker in required_tools():
        pytest.fail(f"{reason}, but {REQUIRE_VAR} requires the {marker} tests to run")
    pytest.skip(reason)


def require_program(marker: str, *names: str, install: str) -> str:
    """The path of the first of ``names`` on PATH; otherwise skip (or fail, see ``unavailable``)."""
    for name in names:
        found = shutil.which(name)
        if found is not None:
            return found
    unavailable(marker, f"{names[0]} is not installed ({install})")


def _pg_unavailable(reason: str) -> None:
    unavailable("postgres", reason)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The configured server URL, checked once per session (skip or fail as described above)."""
    url = os.environ.get(PG_URL_VAR)
    if not url:
        _pg_unavailable(
            f"PostgreSQL tests need {PG_URL_VAR} "
            "(e.g. postgresql://postgres@127.0.0.1:5432/postgres)"
        )
        raise AssertionError("unreachable")
    try:
        import psycopg
    except ImportError:
        _pg_unavailable("psycopg is not installed (pip install 'perfop[postgres]')")
        raise AssertionError("unreachable") from None
    try:
        with psycopg.connect(_libpq_url(url), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        _pg_unavailable(f"PostgreSQL at {PG_URL_VAR} is unreachable: {str(exc).strip()}")
    return url


def _libpq_url(url: str) -> str:
    """psycopg takes libpq URIs: drop a SQLAlchemy driver suffix such as ``+psycopg``."""
    scheme, sep, rest = url.partition("://")
    return scheme.split("+", 1)[0] + sep + rest


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A brand-new database on the configured server, dropped after the test."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"perfop_test_{uuid.uuid4().hex[:12]}"
    admin = _libpq_url(pg_server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(pg_server_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL: a SQLite file, then (second parameter) a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'perfop-store.db'}"
    return str(request.getfixturevalue("pg_url"))
