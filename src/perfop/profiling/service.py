"""The profiling service: run a workload (or command, or a ref's checkout) under the profilers and
turn the result into a ``ProfileReport`` whose artifacts sit in ``<repo>/.perfop/profiles/<id>/``.

Services never print. Storing is separate (``perfop.store.profiles.save_profile``) so the CLI, the
MCP server and the agent all store the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from perfop.config import LoadedConfig, ResolvedWorkload, WorkloadConfig, resolve_workload
from perfop.errors import UsageError
from perfop.profiling import backends
from perfop.profiling.attribution import attribute
from perfop.profiling.diff import ProfileDiff, diff_parts
from perfop.profiling.document import profile_document
from perfop.profiling.model import Kind, ProfilePart, ProfileReport, RawProfile

if TYPE_CHECKING:
    from perfop.store import Store

Mode = Literal["cpu", "memory", "both"]
ADHOC = "adhoc"
PROFILES_DIR = Path(".perfop") / "profiles"


@dataclass(frozen=True)
class ProfileOptions:
    """How to profile; the same options are used for both sides of a diff."""

    mode: Mode = "cpu"
    backend: str = "py-spy"
    include_all: bool = False
    native: bool = False
    rate: int = 250
    subprocesses: bool = True
    timeout: float | None = None

    def kinds(self) -> tuple[Kind, ...]:
        return ("cpu", "memory") if self.mode == "both" else (self.mode,)

    def check(self) -> None:
        if self.backend not in backends.CPU_BACKENDS:
            raise UsageError(
                f"--backend {self.backend}: unknown; use one of {', '.join(backends.CPU_BACKENDS)}"
            )
        if self.mode not in ("cpu", "memory", "both"):
            raise UsageError(f"--mode {self.mode}: unknown; use cpu, memory or both")
        if not 1 <= self.rate <= 10_000:
            raise UsageError(f"--rate {self.rate}: must be between 1 and 10000 samples per second")


def new_profile_id() -> str:
    now = dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def _relative(path: Path, root: Path) -> str:
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        return str(path)
    return rel.as_posix() or "."


def run_backend(
    kind: Kind,
    resolved: ResolvedWorkload,
    *,
    env: Mapping[str, str],
    out_dir: Path,
    options: ProfileOptions,
) -> RawProfile:
    """Run one profiler over ``resolved`` once."""
    timeout = options.timeout or resolved.timeout
    what = (
        f"workload {resolved.name!r}" if resolved.name != ADHOC else f"command {resolved.argv[0]!r}"
    )
    common: dict[str, Any] = dict(
        cwd=resolved.cwd, env=env, timeout=timeout, out_dir=out_dir, what=what
    )
    if kind == "memory":
        return backends.run_memray(resolved.argv, native=options.native, **common)
    if options.backend == "pyinstrument":
        return backends.run_pyinstrument(resolved.argv, **common)
    return backends.run_py_spy(
        resolved.argv,
        rate=options.rate,
        native=options.native,
        subprocesses=options.subprocesses,
        **common,
    )


def build_part(
    raw: RawProfile, *, checkout_root: Path, repo_root: Path, include_all: bool
) -> ProfilePart:
    """Attribute a raw profile to the checkout's files; artifact paths relative to the repo."""
    spots = attribute(
        raw.stacks, kind=raw.kind, root=str(checkout_root.resolve()), include_all=include_all
    )
    return ProfilePart(
        kind=raw.kind,
        backend=raw.backend,
        unit=raw.unit,
        total=sum(s.weight for s in raw.stacks),
        wall_time=raw.wall_time,
        peak_bytes=raw.peak_bytes,
        sample_count=sum(s.count for s in raw.stacks),
        hotspots=tuple(spots),
        artifacts={name: _relative(p, repo_root) for name, p in raw.artifacts.items()},
        notes=raw.notes,
    )


def profile_resolved(
    resolved: ResolvedWorkload,
    *,
    repo_root: Path,
    checkout_root: Path,
    options: ProfileOptions,
    env: Mapping[str, str],
    workload: str | None,
    ref: str | None = None,
    sha: str | None = None,
    environment: Mapping[str, Any] | None = None,
) -> ProfileReport:
    """Profile a resolved workload in ``checkout_root`` (the repo itself or a worktree)."""
    options.check()
    profile_id = new_profile_id()
    out_dir = repo_root / PROFILES_DIR / profile_id
    out_dir.mkdir(parents=True, exist_ok=True)
    ignore = out_dir.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# perfop profile artifacts\n*\n", encoding="utf-8")
    parts: list[ProfilePart] = []
    try:
        for kind in options.kinds():
            raw = run_backend(kind, resolved, env=env, out_dir=out_dir, options=options)
            parts.append(
                build_part(
                    raw,
                    checkout_root=checkout_root,
                    repo_root=repo_root,
                    include_all=options.include_all,
                )
            )
    except BaseException:
        _remove_tree(out_dir)  # a failed workload leaves no profile behind
        raise
    report = ProfileReport(
        id=profile_id,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        workload=workload,
        argv=_display_argv(resolved.argv, checkout_root),
        cwd=_relative(resolved.cwd, checkout_root),
        ref=ref,
        sha=sha,
        all_frames=options.include_all,
        parts=tuple(parts),
        artifact_dir=_relative(out_dir, repo_root),
        environment=dict(environment or {}),
    )
    (out_dir / "profile.json").write_text(
        json.dumps(profile_document(report), indent=2), encoding="utf-8"
    )
    return report


def _display_argv(argv: Sequence[str], root: Path) -> tuple[str, ...]:
    """argv with the checkout path replaced by ``{worktree}``, so refs compare and nothing leaks."""
    text_root = str(root.resolve())
    from perfop.environment import redact_argv

    return tuple(a.replace(text_root, "{worktree}") for a in redact_argv(argv))


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


CheckoutFactory = Callable[[Path, str], contextlib.AbstractContextManager[tuple[Path, str]]]


@contextlib.contextmanager
def _default_checkout(repo_root: Path, ref: str, side: str = "base") -> Iterator[tuple[Path, str]]:
    """A disposable worktree of ``ref`` (perfop.worktrees), yielding (path, sha)."""
    from perfop.worktrees import WorktreeSession

    with WorktreeSession(repo_root) as session:
        checkout = session.checkout(side, ref)
        yield checkout.path, checkout.sha


@contextlib.contextmanager
def _live_tree(repo_root: Path) -> Iterator[tuple[Path, str | None]]:
    from perfop.environment import git_state

    yield repo_root, git_state(repo_root).get("sha")


def resolve_target(
    loaded: LoadedConfig,
    workload: str | None,
    command: Sequence[str] | None,
    *,
    checkout: Path,
    cwd: Path | None = None,
) -> tuple[str | None, ResolvedWorkload]:
    """A configured workload, or an ad hoc command, resolved for one checkout."""
    if command:
        wl = WorkloadConfig(command=list(command))
        run_cwd = cwd or Path.cwd()
        if checkout != loaded.repo_root:
            # The same place inside the other checkout.
            try:
                run_cwd = checkout / run_cwd.resolve().relative_to(loaded.repo_root.resolve())
            except ValueError:
                run_cwd = checkout
        return None, resolve_workload(ADHOC, wl, repo=loaded.repo_root, worktree=run_cwd)
    if not workload:
        raise UsageError(
            "give a workload name or '-- CMD ARGS'; e.g. perfop profile -- python app.py"
        )
    return workload, resolve_workload(
        workload,
        loaded.workload(workload),
        repo=loaded.repo_root,
        worktree=loaded.project_dir(checkout),
    )


def profile(
    loaded: LoadedConfig,
    *,
    workload: str | None = None,
    command: Sequence[str] | None = None,
    ref: str | None = None,
    options: ProfileOptions | None = None,
    checkout: CheckoutFactory | None = None,
    cwd: Path | None = None,
) -> ProfileReport:
    """Profile a workload or ad hoc command, in the live tree or (``ref``) an isolated worktree."""
    from perfop.environment import capture_environment
    from perfop.runner import run_setup, workload_env

    options = options or ProfileOptions()
    options.check()
    repo_root = loaded.repo_root
    context: contextlib.AbstractContextManager[tuple[Path, str | None]]
    context = (checkout or _default_checkout)(repo_root, ref) if ref else _live_tree(repo_root)
    with context as (tree, sha):
        name, resolved = resolve_target(loaded, workload, command, checkout=tree, cwd=cwd)
        env = workload_env(resolved.env)
        run_setup(resolved, env=env)
        environment = capture_environment(tree, workload_env=resolved.env)
        return profile_resolved(
            resolved,
            repo_root=repo_root,
            checkout_root=tree,
            options=options,
            env=env,
            workload=name,
            ref=ref,
            sha=sha,
            environment=environment,
        )


@dataclass(frozen=True)
class DiffResult:
    base: ProfileReport
    candidate: ProfileReport
    diffs: tuple[ProfileDiff, ...]


def profile_diff(
    loaded: LoadedConfig,
    base: str,
    candidate: str,
    *,
    workload: str | None = None,
    command: Sequence[str] | None = None,
    options: ProfileOptions | None = None,
    checkout: CheckoutFactory | None = None,
) -> DiffResult:
    """Profile both refs with the same settings and diff each mode's parts."""
    options = options or ProfileOptions()
    sides = [
        profile(
            loaded,
            workload=workload,
            command=command,
            ref=ref,
            options=options,
            # The same side names (equal path lengths) as perfop compare uses.
            checkout=checkout or functools.partial(_default_checkout, side=side),
        )
        for ref, side in ((base, "base"), (candidate, "cand"))
    ]
    diffs = []
    for part in sides[0].parts:
        other = sides[1].part(part.kind)
        if other is not None:
            diffs.append(diff_parts(part, other, base_label=base, candidate_label=candidate))
    return DiffResult(sides[0], sides[1], tuple(diffs))


def artifact_path(repo_root: Path, relative: str) -> Path:
    return repo_root / relative if not os.path.isabs(relative) else Path(relative)


def record_profile(store: Store, report: ProfileReport) -> list[int]:
    """Store a profile (and its environment); returns the profile row ids, one per mode."""
    from perfop.store.profiles import save_profile

    env_id = store.add_environment(report.environment) if report.environment else None
    return save_profile(store, report, environment_id=env_id)
