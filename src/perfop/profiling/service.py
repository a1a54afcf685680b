"""The profiling service: run a workload (or command, or a ref's checkout) under the profilers and
turn the result into a ``ProfileReport`` whose artifacts sit in ``<repo>/.perfop/profiles/<id>/``.

``perfop profile diff`` profiles each side ``repeat`` times (default 3), base and candidate runs
interleaved, so drift and noisy neighbours hit both sides alike; the diff compares per-function
medians. Services never print. Storing is separate (``perfop.store.profiles.save_profile``) so
the CLI, the MCP server and the agent all store the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from perfop.clock import utcnow
from perfop.config import LoadedConfig, ResolvedWorkload, WorkloadConfig, resolve_workload
from perfop.errors import UsageError
from perfop.profiling import backends
from perfop.profiling.attribution import attribute, heaviest_callees
from perfop.profiling.diff import ProfileDiff, diff_runs
from perfop.profiling.document import profile_document
from perfop.profiling.model import Kind, ProfilePart, ProfileReport, RawProfile

if TYPE_CHECKING:
    from perfop.store import Store

Mode = Literal["cpu", "memory", "both"]
ADHOC = "adhoc"
PROFILES_DIR = Path(".perfop") / "profiles"
DIFF_REPEAT = 3
MAX_REPEAT = 50


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
    repeat: int | None = None  # runs per profile (per side of a diff); None: 1, or 3 for a diff

    def repeats(self, *, diff: bool = False) -> int:
        return self.repeat or (DIFF_REPEAT if diff else 1)

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
        if self.repeat is not None and not 1 <= self.repeat <= MAX_REPEAT:
            raise UsageError(f"--repeat {self.repeat}: must be between 1 and {MAX_REPEAT} runs")


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
    try:
        return backends.run_py_spy(
            resolved.argv,
            rate=options.rate,
            native=options.native,
            subprocesses=options.subprocesses,
            **common,
        )
    except backends.ShortRunMissed as missed:
        # A run too short for a sampler from outside (py-spy attaches after the start) is
        # profiled from inside instead: a Python command never goes unprofiled for being fast,
        # and never needs perfop's extras in the workload's interpreter.
        return _profile_in_process(resolved, missed, common)


def _profile_in_process(
    resolved: ResolvedWorkload, missed: backends.ShortRunMissed, common: dict[str, Any]
) -> RawProfile:
    from perfop.errors import ProfilerError
    from perfop.profiling.launchers import resolve_launchers

    python = resolve_launchers(resolved.argv, cwd=resolved.cwd, env=common["env"]).python
    if python is None:
        raise missed  # not a Python command: nothing better to offer
    try:
        if backends.has_module(python, "pyinstrument"):
            raw = backends.run_pyinstrument(resolved.argv, **common)
            how = "pyinstrument"
        else:
            raw = backends.run_sampler(resolved.argv, **common)
            how = (
                "perfop's own sampler (pyinstrument is not installed for "
                f"{python.interpreter}; nothing to install for this)"
            )
    except ProfilerError as exc:
        raise ProfilerError(f"{missed}; profiling it in-process failed too: {exc}") from None
    note = (
        f"py-spy missed this {raw.wall_time:.2g} s run (it ended before py-spy could sample it); "
        f"profiled in-process with {how} instead"
    )
    return dataclasses.replace(raw, notes=(*raw.notes, note))


def build_part(
    raw: RawProfile, *, checkout_root: Path, repo_root: Path, include_all: bool
) -> ProfilePart:
    """Attribute a raw profile to the checkout's files; artifact paths relative to the repo."""
    root = str(checkout_root.resolve())
    spots = attribute(raw.stacks, kind=raw.kind, root=root, include_all=include_all)
    via = heaviest_callees(raw.stacks, kind=raw.kind, root=root, include_all=include_all)
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
        cpu_time=raw.cpu_time,
        via=via,
    )


@dataclass
class _Side:
    """One tree being profiled: what runs, where its artifacts go, and each run's raw profiles."""

    resolved: ResolvedWorkload
    env: Mapping[str, str]
    checkout_root: Path
    workload: str | None
    ref: str | None
    sha: str | None
    environment: Mapping[str, Any]
    profile_id: str
    out_dir: Path
    runs: list[dict[Kind, RawProfile]] = field(default_factory=list)


def _new_side(
    resolved: ResolvedWorkload,
    *,
    repo_root: Path,
    checkout_root: Path,
    env: Mapping[str, str],
    workload: str | None,
    ref: str | None,
    sha: str | None,
    environment: Mapping[str, Any] | None,
) -> _Side:
    profile_id = new_profile_id()
    out_dir = repo_root / PROFILES_DIR / profile_id
    out_dir.mkdir(parents=True, exist_ok=True)
    ignore = out_dir.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# perfop profile artifacts\n*\n", encoding="utf-8")
    return _Side(
        resolved,
        env,
        checkout_root,
        workload,
        ref,
        sha,
        dict(environment or {}),
        profile_id,
        out_dir,
    )


def _run_once(side: _Side, options: ProfileOptions, *, repeat: int) -> None:
    """Profile ``side`` once more in every mode; with repeats each run gets its own directory."""
    run_dir = side.out_dir if repeat == 1 else side.out_dir / f"run-{len(side.runs) + 1}"
    run_dir.mkdir(exist_ok=True)
    side.runs.append(
        {
            kind: run_backend(kind, side.resolved, env=side.env, out_dir=run_dir, options=options)
            for kind in options.kinds()
        }
    )


def _run_parts(side: _Side, kind: Kind, *, repo_root: Path, include_all: bool) -> list[ProfilePart]:
    return [
        build_part(
            run[kind],
            checkout_root=side.checkout_root,
            repo_root=repo_root,
            include_all=include_all,
        )
        for run in side.runs
    ]


def _finish(side: _Side, options: ProfileOptions, *, repo_root: Path) -> ProfileReport:
    """The side's report: each mode's runs merged (values per run), written as profile.json."""
    parts = []
    for kind in options.kinds():
        raws = [run[kind] for run in side.runs]
        raw = raws[0] if len(raws) == 1 else backends.merge_runs(raws, side.out_dir)
        parts.append(
            build_part(
                raw,
                checkout_root=side.checkout_root,
                repo_root=repo_root,
                include_all=options.include_all,
            )
        )
    report = ProfileReport(
        id=side.profile_id,
        created_at=utcnow("seconds"),
        workload=side.workload,
        argv=_display_argv(side.resolved.argv, side.checkout_root),
        cwd=_relative(side.resolved.cwd, side.checkout_root),
        ref=side.ref,
        sha=side.sha,
        all_frames=options.include_all,
        parts=tuple(parts),
        artifact_dir=_relative(side.out_dir, repo_root),
        environment=dict(side.environment),
        repeat=len(side.runs),
    )
    (side.out_dir / "profile.json").write_text(
        json.dumps(profile_document(report), indent=2), encoding="utf-8"
    )
    return report


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
    side = _new_side(
        resolved,
        repo_root=repo_root,
        checkout_root=checkout_root,
        env=env,
        workload=workload,
        ref=ref,
        sha=sha,
        environment=environment,
    )
    repeat = options.repeats()
    try:
        for _ in range(repeat):
            _run_once(side, options, repeat=repeat)
        return _finish(side, options, repo_root=repo_root)
    except BaseException:
        _remove_tree(side.out_dir)  # a failed workload leaves no profile behind
        raise


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
    """A disposable worktree of ``ref`` (perfop.measure.worktrees), yielding (path, sha)."""
    from perfop.measure.worktrees import WorktreeSession

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


def _prepare(
    loaded: LoadedConfig,
    workload: str | None,
    command: Sequence[str] | None,
    *,
    tree: Path,
    cwd: Path | None,
) -> tuple[str | None, ResolvedWorkload, dict[str, str], dict[str, Any]]:
    """Resolve the target in ``tree``, run its setup; its env and environment fingerprint."""
    from perfop.environment import capture_environment
    from perfop.measure.runner import run_setup, workload_env

    name, resolved = resolve_target(loaded, workload, command, checkout=tree, cwd=cwd)
    env = workload_env(resolved.env)
    run_setup(resolved, env=env)
    environment = capture_environment(tree, workload_env=resolved.env)
    return name, resolved, env, environment


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
    options = options or ProfileOptions()
    options.check()
    repo_root = loaded.repo_root
    context: contextlib.AbstractContextManager[tuple[Path, str | None]]
    context = (checkout or _default_checkout)(repo_root, ref) if ref else _live_tree(repo_root)
    with context as (tree, sha):
        name, resolved, env, environment = _prepare(loaded, workload, command, tree=tree, cwd=cwd)
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


@contextlib.contextmanager
def _both_checkouts(
    repo_root: Path, base: str, candidate: str, checkout: CheckoutFactory | None
) -> Iterator[list[tuple[Path, str | None]]]:
    """Both refs checked out at once (one worktree session, side names of equal length as
    perfop compare uses, so paths are equally long); or through ``checkout`` when given."""
    with contextlib.ExitStack() as stack:
        if checkout is not None:
            trees: list[tuple[Path, str | None]] = [
                stack.enter_context(checkout(repo_root, ref)) for ref in (base, candidate)
            ]
        else:
            from perfop.measure.worktrees import WorktreeSession

            session = stack.enter_context(WorktreeSession(repo_root))
            trees = []
            for side, ref in (("base", base), ("cand", candidate)):
                made = session.checkout(side, ref)
                trees.append((made.path, made.sha))
        yield trees


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
    """Profile both refs with the same settings, ``options.repeat`` times each (default 3) in
    interleaved order (base, cand, cand, base, ...), and diff each mode's per-run medians."""
    options = options or ProfileOptions()
    options.check()
    repeat = options.repeats(diff=True)
    repo_root = loaded.repo_root
    with _both_checkouts(repo_root, base, candidate, checkout) as trees:
        sides = []
        for ref, (tree, sha) in zip((base, candidate), trees, strict=True):
            name, resolved, env, environment = _prepare(
                loaded, workload, command, tree=tree, cwd=None
            )
            sides.append(
                _new_side(
                    resolved,
                    repo_root=repo_root,
                    checkout_root=tree,
                    env=env,
                    workload=name,
                    ref=ref,
                    sha=sha,
                    environment=environment,
                )
            )
        try:
            for i in range(repeat):
                for side in sides if i % 2 == 0 else sides[::-1]:
                    _run_once(side, options, repeat=repeat)
            reports = [_finish(side, options, repo_root=repo_root) for side in sides]
            diffs = [
                diff_runs(
                    *(
                        _run_parts(side, kind, repo_root=repo_root, include_all=options.include_all)
                        for side in sides
                    ),
                    base_label=base,
                    candidate_label=candidate,
                )
                for kind in options.kinds()
            ]
        except BaseException:
            for side in sides:
                _remove_tree(side.out_dir)
            raise
    return DiffResult(reports[0], reports[1], tuple(diffs))


def artifact_path(repo_root: Path, relative: str) -> Path:
    return repo_root / relative if not os.path.isabs(relative) else Path(relative)


def record_profile(store: Store, report: ProfileReport) -> list[int]:
    """Store a profile (and its environment); returns the profile row ids, one per mode."""
    from perfop.store.profiles import save_profile

    env_id = store.add_environment(report.environment) if report.environment else None
    return save_profile(store, report, environment_id=env_id)
