"""`perfop init-ci` in a real repository (the gate's own tests follow it in this module)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from perfop.ci.init_ci import PINNED_ACTIONS

CONFIG = "[project]\nname = 'x'\nversion = '0'\n\n[tool.perfop]\n"


def test_init_ci_writes_a_pinned_workflow_and_refuses_to_overwrite(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any]
) -> None:
    repo = git_repo({"pyproject.toml": CONFIG})
    res = run_cli(["init-ci"], cwd=repo)
    assert res.code == 0, res.err
    path = repo / ".github" / "workflows" / "perfop.yml"
    doc = yaml.safe_load(path.read_text())
    assert doc[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads the key `on` as True
    gate, record = doc["jobs"]["gate"], doc["jobs"]["record"]
    assert gate["if"] == "github.event_name == 'pull_request'"
    assert gate["steps"][0]["with"]["fetch-depth"] == 0
    assert any(step.get("run", "").startswith("perfop gate") for step in gate["steps"])
    assert any(step.get("run") == "perfop record" for step in record["steps"])
    uses = [s["uses"] for job in (gate, record) for s in job["steps"] if "uses" in s]
    for use in uses:
        action, ref = use.split("@")
        assert ref == PINNED_ACTIONS[action].sha and len(ref) == 40
    assert record["env"]["PERFOP_STORE"] == "sqlite:///.perfop/perfop.db"
    assert "actions/cache/save" in " ".join(uses)

    path.write_text("mine\n")
    res = run_cli(["init-ci"], cwd=repo)
    assert res.code == 2
    assert "already exists; pass --force" in res.err
    assert path.read_text() == "mine\n"

    res = run_cli(["init-ci", "--force", "--store-kind", "postgres"], cwd=repo)
    assert res.code == 0, res.err
    doc = yaml.safe_load(path.read_text())
    assert doc["jobs"]["gate"]["env"]["PERFOP_STORE"] == "${{ secrets.PERFOP_STORE_URL }}"
    assert "cache" not in path.read_text()


# --- perfop gate in real repositories ------------------------------------------------------------

PAIRS = 8

GATE_CONFIG = f"""\
[project]
name = "gated"
version = "0"

# A wide practical threshold: the regressions here are 2-25x, while this shared 2-core machine's
# noise between two identical interpreters can reach 10-15% over a few pairs.
[tool.perfop]
threshold = 0.3

[tool.perfop.workloads.work]
command = "{{python}} bench.py"
warmup = 1
min_runs = {PAIRS}
max_runs = {PAIRS}
max_time = 120
"""

BENCH = "import lib\nlib.work()\nprint('done')\n"
FAST = "import time\n\n\ndef work():\n    time.sleep(0.01)\n"
SLOW = "import time\n\n\ndef work():\n    time.sleep(0.25)\n"
# Slow for the first measured runs only (warm-up + one comparison's pairs), like a noisy
# neighbour during the first measurement; the counter lives outside the repository.
SPIKE = """\
import os
import time


def work():
    path = os.environ["SPIKE_COUNTER"]
    n = int(open(path).read()) if os.path.exists(path) else 0
    with open(path, "w") as fh:
        fh.write(str(n + 1))
    time.sleep(0.25 if n < {limit} else 0.01)
"""


def _pr_repo(
    git_repo: Callable[..., Path], git: Callable[..., str], head_lib: str, extra_config: str = ""
) -> Path:
    repo = git_repo(
        {
            "pyproject.toml": GATE_CONFIG + extra_config,
            "bench.py": BENCH,
            "lib.py": FAST,
            ".gitignore": ".perfop/\n__pycache__/\n",
        }
    )
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "lib.py").write_text(head_lib)
    (repo / "README.md").write_text("a change\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "pr change")
    return repo


def _gate(run_cli: Callable[..., Any], repo: Path, summary: Path, *args: str) -> Any:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_BASE_REF": "main"}
    return run_cli(["gate", "--seed", "7", *args], cwd=repo, env=env)


@pytest.mark.slow
def test_slower_pr_fails_with_summary_and_error(
    git_repo: Callable[..., Path],
    git: Callable[..., str],
    run_cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    slo = '\n[[tool.perfop.slos]]\nworkload = "work"\nstatistic = "median"\nmax = 0.2\n'
    repo = _pr_repo(git_repo, git, SLOW, slo)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    res = _gate(run_cli, repo, summary)
    assert res.code == 1, res.out + res.err
    assert res.out.startswith("perfop gate: FAIL")
    errors = [line for line in res.out.splitlines() if line.startswith("::error ")]
    assert len(errors) == 2
    assert errors[0].startswith("::error title=perfop gate%3A work::work: wall_time +")
    assert "slower, then slower" in errors[0]
    assert errors[1].startswith("::error title=perfop SLO%3A work::SLO breached: work wall_time")
    assert "SLO BREACH: work wall_time median" in res.out
    text = summary.read_text()
    assert text.startswith("earlier step\n## ❌ perfop gate failed")
    assert "| work | yes | REGRESSION (confirmed) |" in text
    # the machine during the comparisons, in the log and the step summary
    assert "\nmachine: " in res.out and "\n**Machine:** " in text


def test_unchanged_pr_passes(
    git_repo: Callable[..., Path],
    git: Callable[..., str],
    run_cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    repo = _pr_repo(git_repo, git, FAST + "# a comment only\n")
    summary = tmp_path / "summary.md"
    res = _gate(run_cli, repo, summary, "--format", "json")
    assert res.code == 0, res.out + res.err
    doc = json.loads(res.out)
    assert doc["schema"] == "perfop.gate/1" and doc["status"] == "pass"
    (w,) = doc["workloads"]
    assert doc["contention"]["cpus"] and w["first"]["contention"]["intervals"] >= 1
    assert w["outcome"] in ("pass", "not_confirmed", "inconclusive")
    assert "::error" not in res.out + res.err
    assert "perfop gate passed" in summary.read_text()


@pytest.mark.slow
def test_one_off_spike_is_not_confirmed(
    git_repo: Callable[..., Path],
    git: Callable[..., str],
    run_cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    counter = tmp_path / "spike-counter"
    env_line = f'env = {{ SPIKE_COUNTER = "{counter}" }}\n'
    repo = _pr_repo(git_repo, git, SPIKE.format(limit=1 + PAIRS), env_line)
    summary = tmp_path / "summary.md"
    res = _gate(run_cli, repo, summary, "--format", "json")
    assert res.code == 0, res.out + res.err
    doc = json.loads(res.out)
    (w,) = doc["workloads"]
    assert w["first"]["verdict"] == "slower"  # the spike fooled the first comparison ...
    assert w["confirmation"]["verdict"] != "slower"  # ... and the re-run with a fresh seed
    assert w["outcome"] == "not_confirmed" and not w["blocking"]
    assert len(doc["comparisons"]) == 2 and doc["seeds"] == [7, 8]
    assert "::warning title=perfop gate%3A work::" in res.err
    assert "::error" not in res.out + res.err
