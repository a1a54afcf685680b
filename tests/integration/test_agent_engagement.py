"""``perfop agent`` works a full engagement on the bundled example against a scripted model.

The model (a local server speaking the real OpenAI or Anthropic protocol) finds the hot spot,
applies the known fix through the edit tool and validates it: the branch ``perfop/engagement-1``
gets exactly that commit, the user's branch and tree stay as they were, and the transcript holds
every call. Also: a candidate the model makes slower is refuted, reverted and never committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent_llm_fakes import ScriptedLLM, call
from perfop.demo import example_source, prepare_demo_repo

KEY_OPENAI = "sk-test-openai-PLANTED0123456789abcdefXYZ"
KEY_ANTHROPIC = "sk-ant-test-PLANTED9876543210zyxwvuTSR"


def _fix_patch() -> str:
    return (example_source() / "patches" / "count-with-dict.patch").read_text()


def engagement_script(python: str) -> dict[str, list]:
    """The scripted model of a whole engagement on wordfreq."""
    return {
        "intake": [
            call(
                "intake",
                spec={
                    "title": "Make top_words faster",
                    "goals": [
                        {
                            "text": "top_words at least 2x faster",
                            "metric": "wall_time",
                            "target": "-50%",
                        }
                    ],
                    "workloads": ["top_words"],
                    "risk_tolerance": "low",
                    "assumptions": ["the 20,000-word document is representative"],
                },
            ),
        ],
        "inventory": [call("inventory")],
        "baseline": [call("run", workloads=["top_words"], runs=2, warmup=0)],
        "profile": [
            call("profile", workload="top_words", backend="pyinstrument"),
            call("view", path="src/wordfreq/core.py"),
        ],
        "hypotheses": [
            call(
                "hypothesis_add",
                statement="word_counts scans a list for every word (quadratic); a dict makes "
                "it linear",
                root_cause="linear search in word_counts",
                components=["src/wordfreq/core.py"],
                workloads=["top_words"],
                expected_ratio=0.3,
                confidence="high",
                effort="1h",
                risk="low",
                verification=["perfop validate H1"],
            )
        ],
        "design": [
            call(
                "design",
                label="H1",
                fix="count with a dict (keeps first-appearance order)",
                rollback="git revert the commit",
                risk="low",
            )
        ],
        "implementation": [
            call("edit", diff=_fix_patch()),
            call("bash", command=f"{python} -m pytest -q -p no:cacheprovider tests"),
        ],
        "validation": [call("validate")],
        "report": [call("report")],
        "verify": [call("verify")],
    }


def _assert_no_key(key: str, *texts: str, paths: list[Path]) -> None:
    for t in texts:
        assert key not in t
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for f in files:
            assert key.encode() not in f.read_bytes(), f"planted key found in {f}"


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_full_engagement_on_the_example(protocol, tmp_path, git, perfop_proc):
    repo = prepare_demo_repo(tmp_path / "wordfreq")
    main_sha = git(repo, "rev-parse", "main")
    key = KEY_OPENAI if protocol == "openai" else KEY_ANTHROPIC
    var = "OPENAI_API_KEY" if protocol == "openai" else "ANTHROPIC_API_KEY"
    with ScriptedLLM(protocol, engagement_script(sys.executable), key=key) as llm:
        proc = perfop_proc(
            [
                "agent",
                "make top_words faster",
                "--provider",
                protocol,
                "--model",
                "scripted-1",
                "--base-url",
                llm.url,
                "--yes-low-risk",
                "--max-steps",
                "60",
            ],
            cwd=repo,
            env={var: key},
            timeout=240,
        )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert not llm.problems, llm.problems
    out = proc.stdout
    # the lifecycle was walked in order, with the recap first
    assert llm.stages_seen()[0] == "intake"
    order = [s for i, s in enumerate(llm.stages_seen()) if s not in llm.stages_seen()[:i]]
    assert order == [
        "intake",
        "inventory",
        "baseline",
        "profile",
        "hypotheses",
        "design",
        "implementation",
        "validation",
        "report",
        "verify",
    ]
    assert "# Intake recap: Make top_words faster" in out
    assert "H1 confirmed" in out
    # the branch holds exactly the validated fix; the user's branch and tree are untouched
    assert git(repo, "rev-parse", "main") == main_sha
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(repo, "status", "--porcelain") == ""
    log = git(repo, "log", "--format=%s", "main..perfop/engagement-1").splitlines()
    assert log == [
        "H1: word_counts scans a list for every word (quadratic); a dict makes it linear"
    ]
    diff = git(repo, "diff", "main", "perfop/engagement-1")
    assert "counts[word] = counts.get(word, 0) + 1" in diff
    assert git(repo, "worktree", "list").count("\n") == 0  # the sandbox worktree is gone
    # records: hypothesis confirmed by evidence, decision log, transcript
    show = perfop_proc(["hypothesis", "show", "H1", "--format", "json"], cwd=repo)
    assert '"status": "confirmed"' in show.stdout
    decisions = perfop_proc(["log", "--format", "json"], cwd=repo).stdout
    assert "agent stage validation" in decisions
    assert "perfop agent log --session 1" in decisions
    transcript = perfop_proc(["agent", "log"], cwd=repo)
    assert transcript.returncode == 0, transcript.stderr
    assert "== implementation ==" in transcript.stdout
    assert "-> edit(" in transcript.stdout
    assert "H1 confirmed" in transcript.stdout
    # the report (written by the report service) links the transcript through the decision log
    report = (repo / ".perfop" / "reports" / "engagement-1.md").read_text()
    assert "perfop agent log --session 1" in report
    # a human signs off; every hand-off check then passes
    accept = perfop_proc(["accept", "--by", "Dana Maintainer"], cwd=repo)
    assert accept.returncode == 0, accept.stderr
    verify = perfop_proc(["verify"], cwd=repo)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # the planted key is nowhere: terminal output, transcript, store, reports
    _assert_no_key(
        key, proc.stdout, proc.stderr, transcript.stdout, decisions, paths=[repo / ".perfop"]
    )
