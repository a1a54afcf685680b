"""The whole engagement lifecycle in a real temporary git repository, through the CLI.

The workload sleeps a known time, so "faster" and "slower" candidates are unambiguous with a
handful of pairs; a test script stands in for the project's test suite.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from perfop.cli import main

APP = """\
import time
DELAY = {delay}
def answer():
    return {answer}
def main():
    time.sleep(DELAY)
    print("result", answer())
"""
# The workload's own script is the benchmark harness (pinned to base by the comparison); the
# code under test is the module it imports.
BENCH = "import app\napp.main()\n"
CHECK = """\
import app
assert app.answer() > 0, "answer must be positive"
"""
INTAKE = """\
title: Make the app faster
requester: Ada
scenario: The nightly job runs the app thousands of times.
goals:
  - app wall time p95 under 100 ms
workloads: [app]
stakeholders:
  - {name: Ada, role: owner}
  - {name: Bob, role: SRE}
risk_tolerance: low
hardware: 2 vCPU VM
dataset: built-in
traffic: batch
dashboards: [none]
regression_tests: [check.py]
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@e", "-c", "user.name=t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def commit_app(repo: Path, branch: str, *, delay: float, answer: int = 42) -> None:
    git(repo, "checkout", "-q", "-b", branch, "main")
    (repo / "app.py").write_text(APP.format(delay=delay, answer=answer))
    git(repo, "commit", "-qam", branch)
    git(repo, "checkout", "-q", "main")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "perfop.toml").write_text(
        f'store = "sqlite:///{tmp_path}/perfop.db"\n'
        'test_command = "{python} check.py"\n'
        "[workloads.app]\n"
        'command = "{python} bench.py"\n'
        "warmup = 1\nmin_runs = 6\nmax_runs = 12\nmax_time = 6\n"
        '[[slos]]\nworkload = "app"\nstatistic = "p95"\nmax = 5.0\n'
    )
    (root / "app.py").write_text(APP.format(delay=0.08, answer=42))
    (root / "check.py").write_text(CHECK)
    (root / "bench.py").write_text(BENCH)
    (root / "intake.yaml").write_text(INTAKE)
    (root / ".gitignore").write_text(".perfop/\n__pycache__/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-qm", "base")
    monkeypatch.delenv("PERFOP_STORE", raising=False)
    return root


def cli(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["--repo", str(repo), *args, "--format", "json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {"stderr": err})


def prepare(repo: Path, capsys: pytest.CaptureFixture[str], *, risk: str = "low") -> None:
    assert cli(repo, capsys, "intake", "--from", str(repo / "intake.yaml"), "--confirm")[0] == 0
    assert cli(repo, capsys, "inventory")[0] == 0
    code, _ = cli(repo, capsys, "run", "app", "-n", "2", "--warmup", "0")
    assert code == 0
    code, doc = cli(
        repo,
        capsys,
        "hypothesis",
        "add",
        "sleep less",
        "--expect",
        "0.5",
        "--risk",
        risk,
        "--verify",
        "perfop validate H1",
    )
    assert code == 0 and doc["hypothesis"]["status"] == "proposed"
    code, doc = cli(
        repo,
        capsys,
        "design",
        "H1",
        "--fix",
        "shorter sleep",
        "--rollback",
        "git revert",
        "--test",
        "check.py",
    )
    assert code == 0 and doc["hypothesis"]["status"] == "designed"


@pytest.mark.slow
def test_full_lifecycle_confirmed_and_verified(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare(repo, capsys, risk="high")
    commit_app(repo, "fast", delay=0.02)
    head_before = git(repo, "rev-parse", "HEAD")
    # high risk: validation refused until a human approves
    code, doc = cli(repo, capsys, "validate", "H1", "--candidate", "fast")
    assert code == 2 and "no human approval" in doc["stderr"]
    assert cli(repo, capsys, "approve", "H1", "--by", "Bob", "--note", "ok")[0] == 0
    code, doc = cli(repo, capsys, "validate", "H1", "--seed", "1")
    assert code == 0, doc.get("validation", doc)
    assert doc["status"] == "confirmed", doc["validation"]["reasons"]
    assert doc["hypothesis"]["status"] == "confirmed"
    ev = doc["validation"]["evidence"]
    assert ev["workloads"][0]["verdict"] == "faster"
    assert ev["workloads"][0]["ratio"] < 1.0
    assert ev["tests"]["candidate_ok"] is True
    assert ev["slos"][0]["passed"] is True
    # the machine during the comparison, and CPU time beside wall time (a sleeping workload: the
    # wall time fell, the CPU time did not follow it)
    assert ev["contention"]["level"] in ("quiet", "busy", "high") and ev["contention"]["cpus"]
    assert ev["cpu_vs_wall"]["app"]["wall_ratio"] == pytest.approx(ev["workloads"][0]["ratio"])
    # never touches the user's checkout
    assert git(repo, "rev-parse", "HEAD") == head_before
    assert git(repo, "status", "--porcelain") == ""
    code, doc = cli(repo, capsys, "verify")
    assert code == 1
    failing = {c["name"] for c in doc["checks"] if not c["passed"]}
    # the report item is registered by perfop.store.reports (pluggable checklist)
    assert "stakeholder sign-off" in failing
    assert failing <= {"stakeholder sign-off", "report generated after the last validation"}
    out = repo.parent / "report.json"
    assert main(["--repo", str(repo), "report", "-o", str(out)]) == 0
    capsys.readouterr()
    assert cli(repo, capsys, "accept", "--by", "Ada", "--note", "trade-offs fine")[0] == 0
    code, doc = cli(repo, capsys, "verify")
    assert code == 0 and doc["passed"] is True
    code, doc = cli(repo, capsys, "status")
    assert doc["stage"] == "hand-off"
    code, doc = cli(repo, capsys, "log")
    whats = [d["what"] for d in doc["decisions"]]
    assert "H1: implemented -> confirmed" in whats
    confirmed = next(d for d in doc["decisions"] if d["what"] == "H1: implemented -> confirmed")
    assert any(e.startswith("comparison:") for e in confirmed["evidence"])


@pytest.mark.parametrize(
    ("name", "delay", "answer", "status", "needle"),
    [
        ("breaks-test", 0.02, -1, "rejected", "tests fail at the candidate"),
        # 5x slower than base's 0.08 s: clear at 8 pairs even when load stretches start-up.
        ("slower", 0.4, 42, "refuted", "moved the other way"),
        ("changes-output", 0.02, 43, "rejected", "behaviour changed"),
    ],
)
@pytest.mark.slow
def test_bad_candidates(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    delay: float,
    answer: int,
    status: str,
    needle: str,
) -> None:
    prepare(repo, capsys)
    commit_app(repo, name, delay=delay, answer=answer)
    code, doc = cli(
        repo, capsys, "validate", "H1", "--candidate", name, "--seed", "2", "--max-runs", "8"
    )
    assert code == 1, doc
    assert doc["status"] == status
    assert doc["contradicts"] is True
    assert any(needle in r for r in doc["validation"]["reasons"]), doc["validation"]["reasons"]
    code, log = cli(repo, capsys, "log")
    assert any("contradicts the hypothesis" in d["what"] for d in log["decisions"])
    # the operator reverts it
    code, doc = cli(
        repo, capsys, "hypothesis", "update", "H1", "--status", "reverted", "--note", "did not work"
    )
    assert code == 0 and doc["hypothesis"]["status"] == "reverted"


@pytest.mark.slow
def test_a_3x_speed_up_breaching_an_slo_at_base_too_is_confirmed_and_reproducible(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The sqlparse-style lifecycle: 3x faster, tests pass, an SLO both sides breach (max 1 ms
    against a 30 ms candidate, whatever the load). Confirmed, the SLO a residual risk; the
    report's summary, follow-ups, rollback advice and changelog agree; its reproduce command
    runs as printed and repeats the validation's comparison (same shas and seed)."""
    import shlex

    config = repo / "perfop.toml"
    tight = re.sub(r"\nmax = [0-9.]+\n", "\nmax = 0.001\n", config.read_text())
    assert "max = 0.001" in tight
    config.write_text(tight)
    git(repo, "commit", "-qam", "tight SLO")
    prepare(repo, capsys)
    (repo / "app.py").write_text(APP.format(delay=0.09, answer=42))
    git(repo, "commit", "-qam", "slow base")
    commit_app(repo, "fast3x", delay=0.03)
    code, doc = cli(
        repo,
        capsys,
        "validate",
        "H1",
        "--candidate",
        "fast3x",
        "--seed",
        "5",
        "--max-time",
        "20",
        "--max-pairs",
        "30",
    )
    assert doc["status"] == "confirmed", doc["validation"]["reasons"]
    assert code == 0, doc
    outcome = doc["outcome"]
    (slo,) = doc["validation"]["evidence"]["slos"]
    assert slo["passed"] is False and slo["base_passed"] is False
    assert slo["state"] in ("still not met", "not trusted"), slo  # not trusted: a loaded machine
    assert outcome["qualifier"] in ("SLO still not met", "SLO not trusted (high contention)")
    assert not outcome["advises_revert"] and not outcome["regressions"]
    assert any(
        r.startswith(f"SLO {slo['state']}: app wall_time p95 ") for r in outcome["residual_risks"]
    )
    assert re.search(r"p95 \d+(\.\d+)? m?s > max 1\.00 ms \(base \d+(\.\d+)? m?s\)", slo["reason"])
    code, log = cli(repo, capsys, "log")
    assert not any("contradicts the hypothesis" in d["what"] for d in log["decisions"])

    out = tmp_path / "report.json"
    assert main(["--repo", str(repo), "report", "-o", str(out)]) == 0
    capsys.readouterr()
    report = json.loads(out.read_text())
    summary = report["summary"]
    (line,) = summary["outcomes"]
    assert line["status"] == "confirmed"
    assert "SLO still not met" in line["sentence"] or "SLO not trusted" in line["sentence"]
    assert any("H1: SLO " in r and "app wall_time p95" in r for r in summary["residual_risks"])
    assert not any("revert" in f for f in summary["follow_ups"]), summary["follow_ups"]
    assert any(f.startswith("H1 is confirmed") for f in summary["follow_ups"])
    assert "- Performance: sleep less" in summary["changelog"]
    assert "No performance change confirmed" not in summary["changelog"]
    md_out = tmp_path / "report.md"
    assert main(["--repo", str(repo), "report", "-o", str(md_out)]) == 0
    capsys.readouterr()
    assert "# H1 (confirmed" in md_out.read_text() and "): keep it;" in md_out.read_text()

    # The reproduce command of this validation, run exactly as printed.
    (command,) = [c for c in summary["reproduce"] if c.startswith("perfop compare")]
    v = doc["validation"]
    assert f"--seed {v['evidence']['seed']}" in command
    assert command.endswith("--max-time 20 --max-pairs 30")
    argv = shlex.split(command)
    assert argv[:2] == ["perfop", "compare"]
    code, again = cli(repo, capsys, *argv[1:])
    assert code in (0, 1), again
    assert again["seed"] == v["evidence"]["seed"]
    assert again["base"]["sha"] == v["base_sha"] and again["candidate"]["sha"] == v["candidate_sha"]
    assert [w["name"] for w in again["workloads"]] == ["app"]


@pytest.mark.slow
def test_another_gated_workload_slower_is_a_regression_not_a_refutation(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """H1 names `app`; the candidate makes it 3x faster and the gated `other` workload 3x
    slower. The hypothesis is confirmed (its own effect was measured), the regression is its own
    finding, validate exits 1 and advises fixing it, not reverting the gain."""
    (repo / "other_mod.py").write_text("import time\ntime.sleep(0.02)\n")
    (repo / "other.py").write_text("import other_mod\n")
    config = repo / "perfop.toml"
    config.write_text(
        config.read_text().replace(
            "[[slos]]",
            '[workloads.other]\ncommand = "{python} other.py"\n'
            "warmup = 1\nmin_runs = 6\nmax_runs = 12\nmax_time = 6\n[[slos]]",
        )
    )
    (repo / "app.py").write_text(APP.format(delay=0.09, answer=42))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "second workload")
    prepare(repo, capsys)  # the engagement's (and so H1's) workloads: [app]
    git(repo, "checkout", "-q", "-b", "trade", "main")
    (repo / "app.py").write_text(APP.format(delay=0.03, answer=42))
    (repo / "other_mod.py").write_text("import time\ntime.sleep(0.09)\n")
    git(repo, "commit", "-qam", "trade")
    git(repo, "checkout", "-q", "main")
    code, doc = cli(repo, capsys, "validate", "H1", "--candidate", "trade", "--seed", "7")
    assert doc["status"] == "confirmed", doc["validation"]["reasons"]
    outcome = doc["outcome"]
    assert outcome["rule"] == "confirmed-other-regression", outcome
    assert outcome["regressions"][0].startswith("another gated workload regressed: other ")
    assert not outcome["advises_revert"] and "fix the other workload" in outcome["advice"]
    assert code == 1


def test_validate_says_up_front_when_its_budget_cannot_buy_a_verdict(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare(repo, capsys)
    # A pair sleeps at least 0.08 + 0.3 s, so the 5 pairs a verdict needs cannot fit in 1 s on
    # any machine, quiet or loaded (a fast candidate fitted on a quiet one: no warning).
    commit_app(repo, "slow", delay=0.3)
    code = main(["--repo", str(repo), "validate", "H1", "--candidate", "slow", "--max-time", "1"])
    _, err = capsys.readouterr()
    assert code in (0, 1), err
    # The planner's one line, said before the pairs (explicit --max-time: never extended). On a
    # quiet machine warm-up's pair prices the verdict out of reach; on a loaded one start-up,
    # checkouts and setup may already take the whole second, and then no pair is measured.
    (line,) = [x for x in err.splitlines() if x.startswith("perfop: warning: app: ")]
    priced = "a pair takes ~" in line and "max_time 1 s was set explicitly, so it is not" in line
    spent = "start-up, checkouts and setup took" in line and "no pair fits" in line
    assert priced or spent, line
    code, doc = cli(repo, capsys, "hypothesis", "show", "H1")
    plans = doc["hypothesis"]["validations"][-1]["evidence"]["plans"]
    assert plans["app"]["plan"]["max_time_explicit"] is True
    assert plans["app"]["plan"]["verdict_reachable"] is False
    assert plans["app"]["notices"][0] == line[len("perfop: warning: ") :]


def test_validate_refuses_a_candidate_that_only_edits_the_workload_script(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare(repo, capsys)
    git(repo, "checkout", "-q", "-b", "gamed", "main")
    (repo / "bench.py").write_text("import app\napp.DELAY = 0\napp.main()\n")
    git(repo, "commit", "-qam", "gamed")
    git(repo, "checkout", "-q", "main")
    code = main(["--repo", str(repo), "validate", "H1", "--candidate", "gamed"])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1, err
    assert "app: the candidate changes only the workload's own files (bench.py)" in err
    assert "(an A/A run)" in err
    code, doc = cli(repo, capsys, "hypothesis", "show", "H1")
    assert code == 0 and doc["hypothesis"]["validations"] == []
