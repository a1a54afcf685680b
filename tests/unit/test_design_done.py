"""Issue 22 point 3: a design's tests to add are marked done with evidence (a test id or a
commit), logged, and the report lists them as added instead of still to add."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import perfop.mcp.server  # noqa: F401 - registers every tool
from perfop.mcp.tools import TOOLS, App, Call


def test_tests_to_add_are_marked_done_with_evidence(
    git_repo: Callable[..., Path], git: Callable[..., str], run_cli: Callable[..., Any]
) -> None:
    repo = git_repo(
        {"perfop.toml": '[workloads.w]\ncommand = "true"\n', ".gitignore": ".perfop/\n"}
    )
    r = ["--repo", str(repo)]
    assert run_cli([*r, "intake", "--title", "T", "-w", "w", "--confirm"]).code == 0
    assert run_cli([*r, "hypothesis", "add", "cache it"]).code == 0
    res = run_cli(
        [*r, "design", "H1", "--fix", "a cache", "--test", "ties keep order", "--test", "empty"]
    )
    assert res.code == 0, res.err
    sha = git(repo, "rev-parse", "HEAD")
    res = run_cli([*r, "hypothesis", "done", "H1", "1", "--evidence", "tests/test_x.py::test_ties"])
    assert res.code == 0, res.err
    # The agent marks the other one through MCP, citing the commit that added it.
    tool = TOOLS["design_done"]
    app = App(repo)
    try:
        answer = tool.fn(
            Call(app),
            tool.args.model_validate({"label": "H1", "item": "empty", "evidence": "HEAD"}),
        )
    finally:
        app.close()
    done = answer.doc["design"]["done"]
    assert done["ties keep order"]["evidence"] == "test:tests/test_x.py::test_ties"
    assert done["empty"]["evidence"] == f"commit:{sha}"
    bad = run_cli([*r, "hypothesis", "done", "H1", "3", "--evidence", "HEAD"])
    assert bad.code == 2 and "item 3" in bad.err
    bad = run_cli([*r, "hypothesis", "done", "H1", "1", "--evidence", "no-such-ref"])
    assert bad.code == 2 and "--evidence 'no-such-ref'" in bad.err
    log = json.loads(run_cli([*r, "log", "--format", "json"]).out)["decisions"]
    assert any(d["what"] == "H1: test to add done: empty" for d in log)
    report = run_cli([*r, "report"]).out
    assert "test added: ties keep order (test:tests/test" in report  # Markdown-escaped
    assert "test to add: empty" not in report and "test to add: ties" not in report
