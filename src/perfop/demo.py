"""``perfop demo``: the whole lifecycle on the bundled example project, in a fresh git repository.

The example (``perfop/examples/wordfreq``) is a small library with a real quadratic hot spot
(``word_counts`` scans a list for every word), its own tests, a workload script, an intake file
and a prepared patch that fixes the hot spot. ``run_demo`` copies it into a new git repository and
drives the same services the CLI verbs use: intake, inventory, baseline, profile (the hot spot is
found), a hypothesis citing that hot spot, design, the patch committed on a branch, validate (A/B
comparison + tests + SLO), profile of the candidate, report (Markdown + HTML), verify. Every number
comes from measuring. It never touches the user's own repositories: it works in a directory it
creates (or one the user names, which must be empty or absent). Services never print: progress
goes to an ``on_stage`` callback.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfop import git as gitrun
from perfop.errors import UsageError

if TYPE_CHECKING:
    from perfop.config import LoadedConfig
    from perfop.engagement.records import Actor, EngagementSpec
    from perfop.profiling.service import ProfileOptions
    from perfop.records.profiling import HotSpot
    from perfop.store import Store

EXAMPLE = "wordfreq"
HOT_FUNCTION = "word_counts"
CANDIDATE_BRANCH = "perf/count-with-dict"
PATCH = "patches/count-with-dict.patch"
INTAKE = "intake.toml"
BASELINE_RUNS = 8
_GIT_ID = [
    "-c",
    "user.name=perfop demo",
    "-c",
    "user.email=demo@perfop.invalid",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
]
# perfop's git runner sets perfop's identity in the environment, which beats user.name above.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "perfop demo",
    "GIT_AUTHOR_EMAIL": "demo@perfop.invalid",
    "GIT_COMMITTER_NAME": "perfop demo",
    "GIT_COMMITTER_EMAIL": "demo@perfop.invalid",
}
STAGES = (
    "setup",
    "intake",
    "inventory",
    "baseline",
    "profile",
    "hypothesis",
    "design",
    "implementation",
    "validation",
    "profile diff",
    "report",
    "verify",
)

OnStage = Callable[[str, str], None]


def example_source(name: str = EXAMPLE) -> Path:
    """Where the bundled example lives inside the installed package."""
    path = Path(str(resources.files("perfop") / "examples" / name))
    if not (path / "pyproject.toml").is_file():
        raise UsageError(f"bundled example {name!r} is missing from the perfop package; reinstall")
    return path


def git(repo: Path, *args: str) -> str:
    """Run git in the demo repository (never in the user's)."""
    out = gitrun.run(repo, *_GIT_ID, *args, env=_GIT_ENV)
    if out.returncode != 0:
        raise UsageError(f"git {' '.join(args)} failed in {repo}: {out.stderr.strip()[:200]}")
    return out.stdout.strip()


def prepare_demo_repo(target: Path | None = None) -> Path:
    """Copy the example into ``target`` (a new temp dir by default) as a fresh git repository."""
    if target is None:
        target = Path(tempfile.mkdtemp(prefix="perfop-demo-"))
    elif target.exists() and any(target.iterdir()):
        raise UsageError(f"--dir {target}: not empty; give a new or empty directory")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        example_source(),
        target,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".perfop"),
    )
    (target / ".gitignore").write_text(".perfop/\n__pycache__/\n*.pyc\n.pytest_cache/\n")
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "wordfreq 1.0.0")
    return target


@dataclass
class DemoResult:
    """Where everything went and what the lifecycle concluded."""

    workdir: Path
    repo: Path
    store_url: str
    markdown: Path | None = None
    html: Path | None = None
    hotspot_id: str | None = None
    hypothesis: str | None = None
    status: str | None = None
    verdict: str | None = None
    tests_passed: bool | None = None
    verify: list[tuple[str, bool, str]] = field(default_factory=list)
    kept: bool = True


def _silent(stage: str, message: str) -> None:
    return None


def run_demo(
    directory: Path | None = None,
    *,
    keep: bool = False,
    store_override: str | None = None,
    on_stage: OnStage | None = None,
) -> DemoResult:
    """Run the lifecycle on a fresh copy of the example; returns the report paths and outcome.

    ``directory`` (new or empty; a temp dir by default) receives ``wordfreq/`` (the repository,
    with its store under ``.perfop/``) and ``report/`` (Markdown with its plots, and HTML).
    Without ``keep`` the repository is removed at the end and only ``report/`` stays.
    """
    say = on_stage or _silent
    if directory is None:
        workdir = Path(tempfile.mkdtemp(prefix="perfop-demo-"))
    else:
        workdir = directory.resolve()
        if workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
            raise UsageError(f"--dir {directory}: not empty; give a new or empty directory")
        workdir.mkdir(parents=True, exist_ok=True)
    repo = prepare_demo_repo(workdir / EXAMPLE)
    say("setup", f"example copied into a fresh git repository: {repo}")
    try:
        result = _lifecycle(repo, workdir, store_override, say)
    except BaseException:
        if not keep:
            _remove_repo(repo)
        raise
    if not keep:
        _remove_repo(repo)
        result.kept = False
    return result


def _remove_repo(repo: Path) -> None:
    gitrun.run(repo, "worktree", "prune")
    shutil.rmtree(repo, ignore_errors=True)


def _lifecycle(repo: Path, workdir: Path, store_override: str | None, say: OnStage) -> DemoResult:
    from perfop.app import AppContext

    app = AppContext(repo, store_override=store_override, lazy_store=False)
    store = app.store
    result = DemoResult(workdir=workdir, repo=repo, store_url=store.display_url)
    try:
        _stages(store, app.loaded, repo, workdir, result, say)
    finally:
        app.close()
    return result


def _stages(
    store: Store, loaded: LoadedConfig, repo: Path, workdir: Path, result: DemoResult, say: OnStage
) -> None:
    from perfop.config import load_config
    from perfop.engagement.records import Actor
    from perfop.profiling.service import ProfileOptions

    me = Actor("perfop demo")
    spec = _intake_and_inventory(store, loaded, repo, me, say)
    workloads = list(spec.workloads)
    run_ids = _baseline(store, loaded, workloads, say)
    options = ProfileOptions(mode="cpu")
    spot = _profile_base(store, loaded, options, result, say)
    label = _hypothesis_and_design(store, loaded, me, spot, workloads, run_ids[0], say)
    result.hypothesis = label
    _implement(store, loaded, repo, me, label, say)
    loaded = load_config(repo)
    _validation(store, loaded, me, label, result, say)
    _profile_candidate(store, loaded, options, spot, say)
    _report_and_verify(store, loaded, workdir, result, say)


def _intake_and_inventory(
    store: Store, loaded: LoadedConfig, repo: Path, me: Actor, say: OnStage
) -> EngagementSpec:
    from perfop.engagement import service
    from perfop.engagement.intake import load_intake

    # intake: the requester's goals, SLO and constraints from the bundled file
    spec = load_intake(repo / INTAKE, loaded.config)
    eng = service.start_engagement(store, loaded, spec, actor=me, confirm=True)
    say(
        "intake",
        f"engagement #{eng.id} {eng.title!r}: {len(spec.goals)} goals, "
        f"{len(spec.slos)} SLO, {len(eng.open_questions)} open question(s); confirmed",
    )

    inv = service.run_inventory(store, loaded, actor=me).inventory
    found = ", ".join(f"{k}={len(getattr(inv, k))}" for k in inv.CATEGORIES if getattr(inv, k))
    say("inventory", f"found {found or 'nothing'}")
    return spec


def _baseline(store: Store, loaded: LoadedConfig, workloads: list[str], say: OnStage) -> list[int]:
    """Measure every workload at the base; returns the run ids in workload order."""
    from perfop.measure.service import run_workloads
    from perfop.render import format_value

    outcomes = run_workloads(store, loaded, workloads, runs=BASELINE_RUNS)
    for o in outcomes:
        s = o.summaries().get("wall_time")
        say(
            "baseline",
            f"{o.workload}: median {format_value(s.median if s else None, 's')}, "
            f"p95 {format_value(s.p95 if s else None, 's')} over {len(o.samples)} runs "
            f"(run {o.run_id})",
        )
    return [o.run_id for o in outcomes]


def _profile_base(
    store: Store, loaded: LoadedConfig, options: ProfileOptions, result: DemoResult, say: OnStage
) -> HotSpot:
    """Profile the base and find the example's known hot spot (a usage error if it is missed)."""
    from perfop.profiling.service import profile, record_profile

    base_profile = profile(loaded, workload="top_words", options=options)
    record_profile(store, base_profile)
    part = base_profile.part("cpu")
    spot = next(
        (h for h in (part.hotspots if part else ()) if h.function.split(".")[-1] == HOT_FUNCTION),
        None,
    )
    if spot is None:
        top = part.hotspots[0].function if part and part.hotspots else "nothing"
        raise UsageError(
            f"demo: the profile did not find {HOT_FUNCTION} (top hot spot: {top}); "
            "check that py-spy works here: perfop profile top_words"
        )
    rank = part.hotspots.index(spot) + 1 if part else 0
    result.hotspot_id = spot.id
    say(
        "profile",
        f"hot spot #{rank}: {spot.function} ({spot.file}:{spot.line}) {spot.self_pct:.0f}% "
        f"self time, id {spot.id}",
    )
    return spot


def _hypothesis_and_design(
    store: Store,
    loaded: LoadedConfig,
    me: Actor,
    spot: HotSpot,
    workloads: list[str],
    run_id: int,
    say: OnStage,
) -> str:
    """Log the hypothesis that cites the hot spot and its design; returns the hypothesis label."""
    from perfop.engagement import lifecycle

    hyp = lifecycle.add(
        store,
        loaded,
        actor=me,
        statement="Counting words with a dict instead of a list scan makes top_words much faster",
        root_cause=(
            f"{HOT_FUNCTION} scans the list of (word, count) pairs for every word: "
            "O(words x vocabulary)"
        ),
        components=["src/wordfreq/core.py"],
        workloads=workloads,
        metric="wall_time",
        expected_ratio=0.3,
        effort=0.25,
        confidence=0.9,
        risk="low",
        verification=[
            "perfop validate H1 (A/B top_words, tests, SLO)",
            "profile diff: word_counts self time drops",
        ],
        evidence=[f"hotspot:{spot.id}", f"run:{run_id}"],
    )
    say("hypothesis", f"{hyp.label}: {hyp.statement} (evidence hotspot:{spot.id})")

    lifecycle.design(
        store,
        loaded,
        hyp.label,
        actor=me,
        fix="count in a dict (insertion-ordered, so first-appearance order is kept)",
        fallback="keep the list version behind a module constant if results ever differ",
        data_collection="wall time of top_words per sample; stdout compared for behaviour",
        tests_to_add=["test_word_counts_keeps_first_appearance_order (exists)"],
        rollback="git revert of the candidate commit",
        coverage="tests/test_core.py covers tokenize, word_counts and top_words",
    )
    say("design", "fix, fallback, rollback and test coverage recorded")
    return hyp.label


def _implement(
    store: Store, loaded: LoadedConfig, repo: Path, me: Actor, label: str, say: OnStage
) -> None:
    """Commit the prepared patch on the candidate branch and record it on the hypothesis."""
    from perfop.engagement import lifecycle

    git(repo, "switch", "-q", "-c", CANDIDATE_BRANCH)
    git(repo, "apply", PATCH)
    git(repo, "commit", "-q", "-am", "wordfreq: count words with a dict (O(n))")
    sha = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "main")
    lifecycle.update(store, loaded, label, actor=me, candidate=CANDIDATE_BRANCH)
    say("implementation", f"{PATCH} committed on {CANDIDATE_BRANCH} ({sha[:12]})")


def _validation(
    store: Store, loaded: LoadedConfig, me: Actor, label: str, result: DemoResult, say: OnStage
) -> None:
    from perfop.engagement.validate import validate

    report = validate(store, loaded, label, actor=me)
    ev = report.validation.evidence
    wl: dict[str, Any] = next(
        (w for w in ev.get("workloads", []) if w.get("workload") == "top_words"), {}
    )
    tests = ev.get("tests") or {}
    result.status = report.outcome.status.value
    result.verdict = wl.get("verdict")
    result.tests_passed = tests.get("candidate_ok")
    ratio = wl.get("ratio")
    slos = "; ".join(s.get("reason", "") for s in ev.get("slos", [])) or "none configured"
    say(
        "validation",
        f"{label} {report.outcome.headline}: top_words {result.verdict}"
        + (f", ratio {ratio:.3f}" if isinstance(ratio, float) else "")
        + f", tests {'passed' if result.tests_passed else 'FAILED'}; SLO {slos}",
    )


def _profile_candidate(
    store: Store, loaded: LoadedConfig, options: ProfileOptions, spot: HotSpot, say: OnStage
) -> None:
    from perfop.errors import ProfilerError
    from perfop.profiling.service import profile, record_profile

    try:
        cand_profile = profile(loaded, workload="top_words", ref=CANDIDATE_BRANCH, options=options)
    except ProfilerError as exc:
        # Supplementary evidence (the report's top movers): the validation above stands.
        say("profile diff", f"skipped: {exc}")
        return
    record_profile(store, cand_profile)
    cpart = cand_profile.part("cpu")
    after = cpart.hotspot(spot.function) if cpart else None
    say(
        "profile diff",
        f"{spot.function}: {spot.self_pct:.0f}% -> "
        + (f"{after.self_pct:.0f}%" if after else "below the sampling floor")
        + " of self time at the candidate",
    )


def _report_and_verify(
    store: Store, loaded: LoadedConfig, workdir: Path, result: DemoResult, say: OnStage
) -> None:
    from perfop.engagement import checks
    from perfop.report.service import generate_report

    checks.status(store, loaded)
    out = workdir / "report"
    out.mkdir(exist_ok=True)  # the demo's own folder, beside its repository
    md = generate_report(store, loaded, output=out / "perfop-report.md")
    html = generate_report(store, loaded, output=out / "perfop-report.html")
    result.markdown, result.html = md.files[0], html.files[0]
    say("report", f"Markdown ({len(md.files) - 1} plots) and self-contained HTML written")

    for item in checks.verify(store, loaded):
        result.verify.append((item.name, item.passed, item.reason))
        say("verify", f"[{'pass' if item.passed else 'FAIL'}] {item.name}: {item.reason}")
