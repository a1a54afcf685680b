"""The engagement verbs through the CLI entry point: exit codes, one-line errors, JSON output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from test_engagement_intake import MALFORMED  # same directory (rootdir-relative import)

from perfop.cli import main


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "perfop.toml").write_text(
        f'store = "sqlite:///{tmp_path}/perfop.db"\n'
        '[workloads.parse]\ncommand = "true"\n[workloads.render]\ncommand = "true"\n'
        '[[slos]]\nworkload = "parse"\nmax = 0.5\n'
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    monkeypatch.delenv("PERFOP_STORE", raising=False)
    return root


def run(repo: Path, *args: str) -> int:
    return main(["--repo", str(repo), *args])


@pytest.mark.parametrize(("name", "content", "key"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_intake_file_exits_2_with_one_line(
    repo: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, key: str
) -> None:
    path = repo / name
    path.write_text(content)
    assert run(repo, "intake", "--from", str(path)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"perfop: error: {path}: {key}")


def test_intake_json_and_confirm(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = repo / "intake.toml"
    path.write_text('title = "Faster parse"\nworkloads = ["parse"]\ngoals = ["be quicker"]\n')
    assert run(repo, "intake", "--from", str(path), "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "perfop.engagement/1"
    assert doc["engagement"]["title"] == "Faster parse"
    assert doc["engagement"]["confirmed_at"] is None
    assert any(
        "'be quicker' has no measurable target" in q for q in doc["engagement"]["open_questions"]
    )
    assert "# Intake recap: Faster parse" in doc["recap"]
    assert run(repo, "intake", "--confirm", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["engagement"]["confirmed_at"]


def test_flags_mode_and_verbs_in_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            repo,
            "intake",
            "--title",
            "T",
            "-w",
            "parse",
            "--stakeholder",
            "Ada:owner",
            "--risk-tolerance",
            "low",
            "--confirm",
        )
        == 0
    )
    assert "Ada (owner)" in capsys.readouterr().out
    assert (
        run(
            repo,
            "hypothesis",
            "add",
            "cache it",
            "--expect",
            "-25%",
            "--effort",
            "4h",
            "--risk",
            "high",
            "--format",
            "json",
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["hypothesis"]["label"] == "H1"
    assert run(repo, "hypothesis", "add", "tiny", "--expect", "0.99", "--format", "json") == 0
    capsys.readouterr()
    assert run(repo, "hypothesis", "list", "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["formula"].startswith("score = ")
    assert [h["label"] for h in doc["hypotheses"]] == ["H1", "H2"]
    assert (
        run(repo, "design", "H1", "--fix", "lru_cache", "--flag", "FAST", "--format", "json") == 0
    )
    assert json.loads(capsys.readouterr().out)["hypothesis"]["status"] == "designed"
    # not a terminal and no --by: approval refused
    assert run(repo, "approve", "H1") == 2
    assert "--by NAME is required" in capsys.readouterr().err
    assert run(repo, "approve", "H1", "--by", "Bob", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["approval"]["by"] == "Bob"
    assert run(repo, "hypothesis", "update", "H2", "--status", "confirmed") == 2
    assert "set only from evidence" in capsys.readouterr().err
    assert run(repo, "note", "ops wants a flag", "--kind", "risk", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["decision"]["kind"] == "risk"
    assert run(repo, "log", "--format", "json") == 0
    whats = [d["what"] for d in json.loads(capsys.readouterr().out)["decisions"]]
    assert "H1: designed -> approved" in whats
    assert run(repo, "status", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["stage"] == "baseline"
    assert run(repo, "verify", "--format", "json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] is False and doc["checks"][0]["passed"] is True
    assert run(repo, "accept", "--by", "Carol", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["approval"]["kind"] == "acceptance"
    assert run(repo, "inventory", "--format", "json") == 0
    assert "perfop_runs" in json.loads(capsys.readouterr().out)["inventory"]
    assert run(repo, "hypothesis", "show", "H9") == 2
    assert "H9 not found" in capsys.readouterr().err
