"""Issue 22 point 1: ``perfop init-agent`` writes each agent's files in its vendor's format, the
agent text names every tool, and no file perfop did not write is ever replaced."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from perfop.init_agent import agent_text, tool_names

INSTALL = "git+https://example.com/team/perfop@v0.1.0"


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo({"pyproject.toml": '[tool.perfop.workloads.w]\ncommand = "true"\n'})


def _front_matter(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text()
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    assert match, f"{path}: no front matter"
    return yaml.safe_load(match.group(1)), match.group(2)


def test_the_agent_text_names_every_tool() -> None:
    text = agent_text()
    missing = [name for name in tool_names() if f"`{name}`" not in text]
    assert not missing, f"agents/perf-operator.md never mentions: {missing}"
    assert {"runs", "log", "profile_diff", "ci_triage"} <= set(tool_names())


def test_init_agent_for_all_writes_files_in_each_format(
    repo: Path, run_cli: Callable[..., Any]
) -> None:
    res = run_cli(["--repo", str(repo), "init-agent", "--for", "all", "--install", INSTALL])
    assert res.code == 0, res.err
    written = {
        ".github/agents/perf-operator.agent.md",
        ".github/workflows/copilot-setup-steps.yml",
        ".claude/agents/perf-operator.md",
        ".mcp.json",
        ".vscode/mcp.json",
        ".cursor/mcp.json",
    }
    for path in written:
        assert f"wrote {path}" in res.out, res.out
    tools = tool_names()

    # Copilot / VS Code custom agent (docs.github.com: custom agents configuration).
    meta, body = _front_matter(repo / ".github/agents/perf-operator.agent.md")
    assert set(meta) >= {"name", "description", "tools", "mcp-servers"}
    assert meta["name"] == "perf-operator" and len(meta["description"]) > 40
    assert "perfop/*" in meta["tools"]
    server = meta["mcp-servers"]["perfop"]
    assert [server["command"], *server["args"]][:2] == ["perfop", "mcp"]
    assert server["type"] == "local" and server["tools"] == ["*"]
    assert "`validate`" in body

    # Copilot cloud agent's setup steps: one job named copilot-setup-steps installing perfop.
    wf = yaml.safe_load((repo / ".github/workflows/copilot-setup-steps.yml").read_text())
    assert list(wf["jobs"]) == ["copilot-setup-steps"]
    job = wf["jobs"]["copilot-setup-steps"]
    assert job["permissions"] == {"contents": "read"}
    install = next(s for s in job["steps"] if s.get("name") == "Install perfop")
    assert install["env"]["PERFOP_INSTALL"] == INSTALL
    assert "pip install" in install["run"]
    assert all(re.search(r"@[0-9a-f]{40}$", s["uses"]) for s in job["steps"] if "uses" in s)

    # Claude Code subagent: tools name every perfop tool as mcp__perfop__<tool>.
    meta, _ = _front_matter(repo / ".claude/agents/perf-operator.md")
    assert set(meta) >= {"name", "description", "tools"}
    listed = {t.strip() for t in meta["tools"].split(",")}
    assert {f"mcp__perfop__{t}" for t in tools} <= listed

    # .mcp.json (Claude Code) and .cursor/mcp.json: mcpServers; .vscode/mcp.json: servers.
    for path, key in ((".mcp.json", "mcpServers"), (".cursor/mcp.json", "mcpServers")):
        entry = json.loads((repo / path).read_text())[key]["perfop"]
        assert entry["command"] == "perfop" and entry["args"][0] == "mcp", path
        assert entry["env"]["PERFOP_AGENT_NAME"]
    vscode = json.loads((repo / ".vscode/mcp.json").read_text())["servers"]["perfop"]
    assert vscode["type"] == "stdio" and vscode["command"] == "perfop"
    assert vscode["args"] == ["mcp", "--repo", "${workspaceFolder}"]


def test_refuses_to_overwrite_and_never_replaces_the_users_files(
    repo: Path, run_cli: Callable[..., Any]
) -> None:
    r = ["--repo", str(repo), "init-agent"]
    assert run_cli([*r, "--for", "claude,cursor"]).code == 0
    again = run_cli([*r, "--for", "claude,cursor"])
    assert again.code == 0 and "unchanged .mcp.json" in again.out  # identical: nothing to do
    # A different content (another client name) is refused without --force ...
    (repo / ".claude/agents/perf-operator.md").write_text("my own agent\n")
    before = (repo / ".mcp.json").read_text()
    res = run_cli([*r, "--for", "claude", "--force"])
    assert res.code == 2 and "was not written by perfop" in res.err
    assert "\n" not in res.err.strip() and "Traceback" not in res.err
    assert (repo / ".claude/agents/perf-operator.md").read_text() == "my own agent\n"
    assert (repo / ".mcp.json").read_text() == before  # nothing half-written
    # ... and perfop's own file is replaced only with --force.
    (repo / ".claude/agents/perf-operator.md").unlink()
    cursor = repo / ".cursor/mcp.json"
    doc = json.loads(cursor.read_text())
    assert run_cli([*r, "--for", "cursor"]).code == 0
    (repo / ".perfop/init-agent.json").write_text((repo / ".perfop/init-agent.json").read_text())
    user = repo / ".vscode/mcp.json"
    user.parent.mkdir()
    user.write_text('{"servers": {"mine": {"type": "stdio", "command": "x"}}}\n')
    res = run_cli([*r, "--for", "vscode", "--force"])
    assert res.code == 2 and ".vscode/mcp.json" in res.err
    assert json.loads(user.read_text())["servers"] == {"mine": {"type": "stdio", "command": "x"}}
    assert not (repo / ".github/agents/perf-operator.agent.md").exists()
    assert json.loads(cursor.read_text()) == doc


def test_force_replaces_perfops_own_file(repo: Path, run_cli: Callable[..., Any]) -> None:
    r = ["--repo", str(repo), "init-agent", "--for", "copilot"]
    assert run_cli([*r, "--install", INSTALL]).code == 0
    other = "git+https://example.com/team/perfop@v0.2.0"
    res = run_cli([*r, "--install", other])
    assert res.code == 2 and "--force" in res.err
    assert INSTALL in (repo / ".github/workflows/copilot-setup-steps.yml").read_text()
    assert run_cli([*r, "--install", other, "--force"]).code == 0
    assert other in (repo / ".github/workflows/copilot-setup-steps.yml").read_text()


def test_dry_run_prints_and_writes_nothing(repo: Path, run_cli: Callable[..., Any]) -> None:
    res = run_cli(["--repo", str(repo), "init-agent", "--for", "vscode", "--dry-run"])
    assert res.code == 0
    assert "==> .vscode/mcp.json" in res.out and '"servers"' in res.out
    assert not (repo / ".vscode").exists() and not (repo / ".perfop/init-agent.json").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--for", "copilot"], "--install"),
        (["--for", "emacs"], "--for 'emacs'"),
        (["--for", "copilot", "--install", "perfop"], "--install 'perfop'"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    repo: Path, run_cli: Callable[..., Any], args: list[str], needle: str
) -> None:
    res = run_cli(["--repo", str(repo), "init-agent", *args])
    assert res.code == 2 and needle in res.err, res.err
    assert len(res.err.strip().splitlines()) == 1
    assert not (repo / ".github").exists()
