"""`perfop init-ci` in a real repository (the gate's own tests follow it in this module)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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
        assert ref == PINNED_ACTIONS[action][0] and len(ref) == 40
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
