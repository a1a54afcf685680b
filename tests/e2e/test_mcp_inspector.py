"""``perfop mcp`` under the MCP Inspector CLI (``@modelcontextprotocol/inspector --cli``, npm): an
independent client, in both protocol eras (the ``initialize`` handshake, and 2026-07-28's
``server/discover``), on a fresh repository (issue 22's acceptance).

The inspector comes from npm (``.ci/run`` installs it and puts ``mcp-inspector`` on PATH); the
tests carry the ``inspector`` marker, so CI fails instead of skipping when it is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import require_program

pytestmark = [pytest.mark.inspector, pytest.mark.slow]

INSTALL = "npm install -g @modelcontextprotocol/inspector (.ci/run installs it)"

CONFIG = """\
[project]
name = "fresh"
version = "0"

[tool.perfop.workloads.bench]
command = "{python} -c 'print(sum(range(20000)))'"
warmup = 0
min_runs = 2
max_runs = 2
"""

ERAS = ["legacy", "modern"]


@pytest.fixture
def inspector() -> str:
    return require_program("inspector", "mcp-inspector", install=INSTALL)


@pytest.fixture
def fresh(git_repo: Callable[..., Path]) -> Path:
    """A repository with perfop configured and nothing recorded yet."""
    return git_repo({"pyproject.toml": CONFIG, ".gitignore": ".perfop/\n"})


def inspect(inspector: str, repo: Path, era: str, *args: str) -> tuple[int, Any, str]:
    """Run one inspector CLI call against ``perfop mcp``; (exit status, JSON answer, stderr)."""
    home = repo.parent / "inspector-home"  # its catalog and client config, not the user's
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PERFOP_STORE", "PERFOP_CONFIG")}
    env["HOME"] = str(home)
    argv = [inspector, "--cli", "--protocol-era", era, "--format", "json", *args]
    argv += [sys.executable, "-m", "perfop", "mcp", "--repo", str(repo)]
    done = subprocess.run(
        argv, capture_output=True, text=True, env=env, cwd=repo.parent, timeout=300, check=False
    )
    try:
        answer = json.loads(done.stdout)
    except json.JSONDecodeError:
        answer = None
    return done.returncode, answer, done.stderr


def call(inspector: str, repo: Path, era: str, tool: str, args: dict[str, Any]) -> Any:
    """Call one tool that must succeed; its result."""
    status, answer, stderr = inspect(
        inspector,
        repo,
        era,
        "-q",
        "--method",
        "tools/call",
        "--tool-name",
        tool,
        "--tool-args-json",
        json.dumps(args),
    )
    assert status == 0 and answer is not None, (tool, status, answer, stderr[-2000:])
    result = answer["result"]
    assert not result.get("isError"), (tool, result["content"])
    return result


@pytest.mark.parametrize("era", ERAS)
def test_the_inspector_lists_every_tool_with_portable_schemas(
    inspector: str, fresh: Path, era: str
) -> None:
    # --strict: the inspector's tool-schema portability check; exit 6 on any error-severity one.
    status, answer, stderr = inspect(inspector, fresh, era, "--strict", "--method", "tools/list")
    assert status == 0, stderr[-3000:]
    tools = {t["name"]: t for t in answer["result"]["tools"]}
    from perfop.agent.tools import load_mcp_tools

    assert set(tools) == set(load_mcp_tools())
    for name, t in tools.items():
        assert t["inputSchema"]["type"] == "object", name
        assert t["outputSchema"]["type"] == "object", name
        jsonschema.Draft202012Validator.check_schema(t["outputSchema"])
    assert "0 errors" in stderr, stderr[-3000:]


@pytest.mark.parametrize("era", ERAS)
def test_the_inspector_calls_status_run_and_report_on_a_fresh_repository(
    inspector: str, fresh: Path, era: str
) -> None:
    status, listing, stderr = inspect(inspector, fresh, era, "-q", "--method", "tools/list")
    assert status == 0, stderr[-2000:]
    schemas = {t["name"]: t["outputSchema"] for t in listing["result"]["tools"]}

    def checked(tool: str, args: dict[str, Any]) -> dict[str, Any]:
        result = call(inspector, fresh, era, tool, args)
        doc = result["structuredContent"]
        jsonschema.validate(doc, schemas[tool])
        # What a client that reads only text gets: the same facts, serialised.
        assert json.loads(result["content"][-1]["text"]) == doc, tool
        return doc

    doc = checked("status", {})
    assert doc["kind"] == "status"
    doc = checked("run", {"workloads": ["bench"], "runs": 2})
    assert doc["runs"][0]["workload"] == "bench" and len(doc["runs"][0]["samples"]) == 2
    doc = checked("report", {})  # before any intake: an answer, not an error
    assert doc["engagement"] is None and doc["next_step"]["tool"] == "intake"
    checked("intake", {"spec": {"title": "inspected", "workloads": ["bench"]}})
    doc = checked("report", {"format": "json"})
    assert doc["schema"].startswith("perfop.report") and doc["engagement"]["title"] == "inspected"

    status, answer, stderr = inspect(
        inspector, fresh, era, "-q", "--method", "resources/read", "--uri", "perfop://nope"
    )
    assert status != 0, answer
    assert "unknown resource 'perfop://nope'" in stderr + json.dumps(answer), stderr[-2000:]
