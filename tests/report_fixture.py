"""Build an engagement with baselines, hypotheses, comparisons and validations for report tests.

The records go through the real services and store functions (engagement, hypotheses, designs,
runs with samples, comparison tables) with sample values drawn from a seeded RNG; validations are
written with the store's own ``insert_validation`` in the shape ``perfop validate`` records. Used
by the report tests and ``benchmarks/report_render.py`` (which puts ``tests/`` on sys.path).
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYPROJECT = """\
[project]
name = "demo"
version = "0.1.0"

[tool.perfop]
threshold = 0.02
test_command = "{python} -m pytest -q"
base = "main"

[tool.perfop.workloads.parse]
command = "{python} -c pass"

[tool.perfop.workloads.render]
command = "{python} -c pass"

[[tool.perfop.slos]]
workload = "parse"
metric = "wall_time"
statistic = "p95"
max = 0.2
unit = "s"
"""

GIT_ENV = {
    "GIT_AUTHOR_NAME": "perfop tests",
    "GIT_AUTHOR_EMAIL": "tests@perfop.invalid",
    "GIT_COMMITTER_NAME": "perfop tests",
    "GIT_COMMITTER_EMAIL": "tests@perfop.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    # Fixed dates: the same content gives the same shas on every run (golden reports).
    "GIT_AUTHOR_DATE": "2026-01-02T03:04:05+00:00",
    "GIT_COMMITTER_DATE": "2026-01-02T03:04:05+00:00",
}


def git(repo: Path, *args: str) -> str:
    import os

    out = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    return out.stdout.strip()


def make_repo(path: Path, *, pyproject: str = PYPROJECT) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "pyproject.toml").write_text(pyproject)
    (path / "lib.py").write_text("def f():\n    return 1\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


@dataclass(frozen=True)
class Outcome:
    """What one hypothesis's validation shows: its status and the verdict per workload."""

    status: str  # confirmed | refuted | inconclusive | rejected
    ratio: float  # true candidate/base ratio of the samples
    verdict: str
    tests_ok: bool = True
    behavior: str = "same"


TIMING_NOTE = (
    "1 line varies between runs of the same code and was not compared (line 2: 'took 0.0113 s')"
)
DEFAULT_OUTCOMES = (
    Outcome("confirmed", 0.55, "faster"),
    Outcome("refuted", 1.06, "slower"),
    Outcome("inconclusive", 0.99, "inconclusive"),
)


def _result(wall: float) -> Any:
    from perfop.model import ProcessResult

    return ProcessResult(
        argv=("python", "-c", "pass"),
        exit_code=0,
        signal=None,
        timed_out=False,
        wall_time=wall,
        user_time=wall * 0.9,
        sys_time=wall * 0.05,
        peak_rss=20_000_000,
        metrics={
            "wall_time": wall,
            "user_time": wall * 0.9,
            "sys_time": wall * 0.05,
            "peak_rss": 20e6,
        },
        stdout_digest="0" * 64,
    )


def _baseline(store: Any, workload: str, rng: random.Random, env_id: int, sha: str) -> int:
    from perfop.model import RunStatus

    rid = store.begin_run(
        workload=workload,
        argv=["python", "-c", "pass"],
        kind="run",
        ref="main",
        sha=sha,
        dirty=False,
        settings={"runs": 10},
        environment_id=env_id,
    )
    for i in range(10):
        store.add_result(rid, i, _result(0.1 * rng.lognormvariate(0, 0.03)))
    store.finish_run(rid, RunStatus.COMPLETE)
    return rid


def _comparison(
    store: Any,
    workloads: list[str],
    outcome: Outcome,
    rng: random.Random,
    base_sha: str,
    cand_sha: str,
    cand_ref: str,
    env_id: int,
    pairs: int = 12,
    *,
    seed: int = 1234,
    ratios: dict[str, tuple[float, str]] | None = None,
) -> int:
    from perfop.model import RunStatus
    from perfop.stats import summarize
    from perfop.store import compare as cstore

    cid = cstore.begin_comparison(
        store,
        base_ref="main",
        base_sha=base_sha,
        cand_ref=cand_ref,
        cand_sha=cand_sha,
        seed=seed,
        threshold=0.02,
        alpha=0.05,
        harness="base",
        environment_id=env_id,
    )
    docs = []
    for wl in workloads:
        ratio_wl, verdict = (ratios or {}).get(wl, (outcome.ratio, outcome.verdict))
        run_ids = {}
        values: dict[str, list[float]] = {"base": [], "candidate": []}
        for side, sha in (("base", base_sha), ("candidate", cand_sha)):
            run_ids[side] = store.begin_run(
                workload=wl,
                argv=["python", "-c", "pass"],
                kind="compare",
                ref=cand_ref if side == "candidate" else "main",
                sha=sha,
                environment_id=env_id,
                comparison_id=cid,
                side=side,
            )
        for i in range(pairs):
            b = 0.1 * rng.lognormvariate(0, 0.03)
            c = b * ratio_wl * rng.lognormvariate(0, 0.02)
            for side, v in (("base", b), ("candidate", c)):
                store.add_result(run_ids[side], i, _result(v))
                values[side].append(v)
        for rid in run_ids.values():
            store.finish_run(rid, RunStatus.COMPLETE)
        bm, cm = summarize(values["base"]).median, summarize(values["candidate"]).median
        ratio = cm / bm
        metric = {
            "name": "wall_time",
            "unit": "s",
            "better": "lower",
            "base_median": bm,
            "candidate_median": cm,
            "ratio": ratio,
            "ci_low": ratio * 0.98,
            "ci_high": ratio * 1.02,
            "p_value": 0.001 if verdict != "inconclusive" else 0.4,
            "verdict": verdict,
        }
        row = {
            "workload": wl,
            "verdict": verdict,
            "pairs": pairs,
            "behavior": outcome.behavior,
            "harness": "base",
            "harness_touched": False,
            "failure": None,
            "base_run_id": run_ids["base"],
            "cand_run_id": run_ids["candidate"],
            "elapsed": 1.0,
        }
        cstore.add_workload_result(store, cid, row, [metric])
        docs.append(
            {
                "name": wl,
                "verdict": verdict,
                "pairs": pairs,
                "behavior": outcome.behavior,
                "behavior_diff": "-a 1\n+a 2" if outcome.behavior == "changed" else None,
                "behavior_note": TIMING_NOTE if outcome.status == "confirmed" else None,
                "harness": "base",
                "harness_touched": False,
                "gate": True,
                "primary_metric": "wall_time",
                "failure": None,
                "runs": {"base": run_ids["base"], "candidate": run_ids["candidate"]},
                "metrics": [metric],
            }
        )
    document = {
        "schema": "perfop.comparison/1",
        "id": cid,
        "base": {"ref": "main", "sha": base_sha},
        "candidate": {"ref": cand_ref, "sha": cand_sha},
        "seed": seed,
        "threshold": 0.02,
        "alpha": 0.05,
        "harness": "base",
        "workloads": docs,
    }
    cstore.finish_comparison(store, cid, "complete", document)
    return cid


def build_engagement(
    store: Any,
    repo: Path,
    *,
    outcomes: tuple[Outcome, ...] = DEFAULT_OUTCOMES,
    comparisons_per_hypothesis: int = 1,
    payload: str = "",
    title: str = "Make parsing fast",
    seed: int = 7,
) -> None:
    """An engagement in ``repo`` (made by ``make_repo``) with one hypothesis per outcome.

    ``payload`` is appended to user-supplied text (hypothesis statements, notes, test output) so
    escaping can be tested.
    """
    from perfop.config import load_config
    from perfop.engagement import lifecycle, service
    from perfop.engagement.records import Actor, EngagementSpec, Goal, SLOTarget, Stakeholder
    from perfop.environment import capture_environment
    from perfop.store import engagement as es

    rng = random.Random(seed)
    loaded = load_config(repo)
    human = Actor("alice")
    spec = EngagementSpec(
        title=title + payload,
        requester="Product team" + payload,
        goals=(Goal("parse p95 below 200 ms" + payload, "wall_time", "0.2"),),
        workloads=("parse", "render"),
        slos=(SLOTarget("parse", "wall_time", "p95", 0.2, None, "s"),),
        constraints=("no new dependencies",),
        stakeholders=(Stakeholder("Bob", "maintainer"),),
        assumptions=("CI hardware like this machine",),
        risk_tolerance="medium",
    )
    service.start_engagement(store, loaded, spec, actor=human, confirm=True)
    base_sha = git(repo, "rev-parse", "HEAD")
    env_id = store.add_environment(capture_environment(repo))
    for wl in ("parse", "render"):
        _baseline(store, wl, rng, env_id, base_sha)
    service.add_note(store, "keep the public API" + payload, kind="decision", actor=human)
    service.add_note(store, "benchmark on ARM too", kind="follow-up", actor=human)

    for i, outcome in enumerate(outcomes, 1):
        branch = f"h{i}"
        git(repo, "checkout", "-q", "-b", branch, "main")
        (repo / "lib.py").write_text(f"def f():\n    return {i + 1}\n")
        git(repo, "commit", "-q", "-am", f"H{i}: candidate change{payload}")
        cand_sha = git(repo, "rev-parse", "HEAD")
        git(repo, "checkout", "-q", "main")
        hyp = lifecycle.add(
            store,
            loaded,
            actor=human,
            statement=f"hypothesis {i}: cache the tokenizer{payload}",
            root_cause="recompiled regex per call",
            workloads=["parse", "render"],
            expected_ratio=0.7,
            effort=1.0 + i % 3,
            confidence=0.6,
        )
        lifecycle.design(
            store,
            loaded,
            hyp.label,
            actor=human,
            fix="compile once at import",
            kill_switch="PARSE_NO_CACHE=1",
            tests_to_add=["test_cache_invalidation"],
        )
        lifecycle.update(store, loaded, hyp.label, actor=human, candidate=branch)
        for _ in range(comparisons_per_hypothesis):
            cid = _comparison(
                store, ["parse", "render"], outcome, rng, base_sha, cand_sha, branch, env_id
            )
            p95 = 0.1 * outcome.ratio * 1.05
            with store.write() as conn:
                es.insert_validation(
                    conn,
                    hypothesis_id=hyp.id,
                    candidate_ref=branch,
                    candidate_sha=cand_sha,
                    base_ref="main",
                    base_sha=base_sha,
                    outcome=outcome.status,
                    reasons=[f"parse wall_time: {outcome.verdict}{payload}"],
                    evidence={
                        "comparison_id": cid,
                        "tests": {
                            "command": "python -m pytest -q",
                            "candidate_ok": outcome.tests_ok,
                            "base_ok": None,
                            "candidate_tail": f"4 passed in 0.1s{payload}",
                            "base_tail": "",
                        },
                        "slos": [
                            {
                                "workload": "parse",
                                "metric": "wall_time",
                                "statistic": "p95",
                                "value": p95,
                                "max": 0.2,
                                "min": None,
                                "n": 12,
                                "passed": p95 <= 0.2,
                                "reason": f"parse wall_time p95 = {p95:.4g}",
                            }
                        ],
                    },
                )
                es.update_hypothesis(conn, hyp.id, status=outcome.status)


# --- a multi-validation engagement recorded the way ``perfop validate`` records it -------------

PROBE = {
    "executable": "/srv/demo/.venv/bin/python",
    "implementation": "CPython",
    "version": "3.12.1",
    "packages": {"demo": "0.1.0", "numpy": "2.0.0"},
    "origins": {},
    "workloads": ["parse"],
    "outside_checkout": [],
}


@dataclass(frozen=True)
class Step:
    """One ``perfop validate`` of hypothesis ``hyp``: the comparison's seed and budget, and the
    true candidate/base ratio (and verdict) per workload."""

    hyp: int
    seed: int
    ratios: dict[str, tuple[float, str]]
    max_time: float | None = None
    max_pairs: int | None = None


MULTI_HYPOTHESES = (
    # (statement, workloads, expected ratio)
    ("cache the tokenizer", ("parse",), 0.5),
    ("skip the second pass", ("parse",), 0.8),
    ("compile the grammar once", ("parse",), 0.7),
)
MULTI_STEPS = (
    # H1 first: faster but the SLO still not met (base breaches it too) ...
    Step(1, 101, {"parse": (0.9, "faster"), "render": (1.0, "unchanged")}, max_time=10),
    # ... then again with a bigger budget: met. The first one is superseded.
    Step(1, 202, {"parse": (0.5, "faster"), "render": (1.0, "unchanged")}, 30, 40),
    # H2 slower than base: refuted.
    Step(2, 303, {"parse": (1.06, "slower"), "render": (1.0, "unchanged")}),
    # H3 faster on its own workload, another gated workload slower: a regression.
    Step(3, 404, {"parse": (0.6, "faster"), "render": (1.2, "slower")}),
)
MULTI_SLO_MAX = 0.08  # parse p95: base (~100 ms) breaches it


def build_multi_validation(store: Any, repo: Path, *, seed: int = 11) -> None:
    """Three hypotheses, four validations (one superseded), stored with the evidence document
    ``perfop validate`` writes: workload rows, tests, SLOs checked at both sides, the outcome,
    the budget flags and the probed interpreter."""
    from perfop.compare.slo import check_slo
    from perfop.config import SLOConfig, load_config
    from perfop.engagement import lifecycle, service
    from perfop.engagement.outcome import TestEvidence, WorkloadEvidence, decide
    from perfop.engagement.records import Actor, EngagementSpec, Goal, SLOTarget
    from perfop.environment import capture_environment
    from perfop.store import engagement as es

    rng = random.Random(seed)
    loaded = load_config(repo)
    human = Actor("alice")
    spec = EngagementSpec(
        title="Parse and render faster",
        requester="Product team",
        goals=(Goal("parse p95 below 80 ms", "wall_time", "0.08"),),
        workloads=("parse", "render"),
        slos=(SLOTarget("parse", "wall_time", "p95", MULTI_SLO_MAX, None, "s"),),
        risk_tolerance="medium",
    )
    service.start_engagement(store, loaded, spec, actor=human, confirm=True)
    base_sha = git(repo, "rev-parse", "HEAD")
    env_id = store.add_environment(capture_environment(repo))
    for wl in ("parse", "render"):
        _baseline(store, wl, rng, env_id, base_sha)
    hyps = []
    for i, (statement, workloads, expected) in enumerate(MULTI_HYPOTHESES, 1):
        branch = f"h{i}"
        git(repo, "checkout", "-q", "-b", branch, "main")
        (repo / "lib.py").write_text(f"def f():\n    return {i + 1}\n")
        git(repo, "commit", "-q", "-am", f"H{i}: {statement}")
        git(repo, "checkout", "-q", "main")
        hyp = lifecycle.add(
            store,
            loaded,
            actor=human,
            statement=statement,
            workloads=list(workloads),
            expected_ratio=expected,
            effort=float(i),
            confidence=0.6,
        )
        lifecycle.design(store, loaded, hyp.label, actor=human, fix="the change")
        lifecycle.update(store, loaded, hyp.label, actor=human, candidate=branch)
        hyps.append((lifecycle.get(store, hyp.label), workloads, expected, branch))
    slo = SLOConfig(workload="parse", statistic="p95", max=MULTI_SLO_MAX, unit="s")
    tests = TestEvidence("python -m pytest -q", candidate_ok=True, candidate_tail="4 passed")
    for step in MULTI_STEPS:
        hyp, workloads, expected, branch = hyps[step.hyp - 1]
        assert hyp.candidate_sha is not None
        cid = _comparison(
            store,
            ["parse", "render"],
            Outcome("confirmed", 1.0, "faster"),
            rng,
            base_sha,
            hyp.candidate_sha,
            branch,
            env_id,
            seed=step.seed,
            ratios=step.ratios,
        )
        doc = _stored_document(store, cid)
        evidence_rows = []
        samples: dict[str, dict[str, list[float]]] = {}
        for w in doc["workloads"]:
            m = w["metrics"][0]
            evidence_rows.append(
                WorkloadEvidence(
                    workload=w["name"],
                    metric="wall_time",
                    verdict=m["verdict"],
                    ratio=m["ratio"],
                    ci_low=m["ci_low"],
                    ci_high=m["ci_high"],
                    comparison_id=cid,
                    targeted=w["name"] in workloads,
                )
            )
            samples[w["name"]] = {
                side: store.get_run(w["runs"][side]).values("wall_time")
                for side in ("base", "candidate")
            }
        slos = [check_slo(slo, samples["parse"]["candidate"], base_values=samples["parse"]["base"])]
        outcome = decide(expected_ratio=expected, workloads=evidence_rows, tests=tests, slos=slos)
        evidence = {
            "method": "perfop compare (interleaved A/B, sequential stopping)",
            "comparison_id": cid,
            "seed": step.seed,
            "budget": {"max_time": step.max_time, "max_pairs": step.max_pairs},
            "workloads": [e.to_dict() for e in evidence_rows],
            "tests": tests.to_dict(),
            "slos": [r.to_dict() for r in slos],
            "outcome": outcome.to_dict(),
            "environment": {"candidate": [PROBE], "base": [PROBE]},
        }
        with store.write() as conn:
            es.insert_validation(
                conn,
                hypothesis_id=hyp.id,
                candidate_ref=branch,
                candidate_sha=hyp.candidate_sha,
                base_ref="main",
                base_sha=base_sha,
                outcome=outcome.status,
                reasons=outcome.reasons,
                evidence=evidence,
            )
            es.update_hypothesis(conn, hyp.id, status=outcome.status)


def _stored_document(store: Any, cid: int) -> dict[str, Any]:
    import sqlalchemy as sa

    from perfop.store.compare import comparisons

    with store.read() as conn:
        doc = conn.execute(
            sa.select(comparisons.c.document).where(comparisons.c.id == cid)
        ).scalar_one()
    return dict(doc)
