"""``perfop mcp`` and the MCP protocol itself, through the SDK's real client over stdio: both
protocol eras (the ``initialize`` handshake and 2026-07-28's ``server/discover``), the spec's error
codes, and the one-line refusal of an SDK too old (issue 22)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

mcp = pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402
from mcp.types.version import LATEST_MODERN_VERSION  # noqa: E402
from test_mcp import server_env  # noqa: E402

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


@pytest.fixture
def fresh(git_repo: Callable[..., Path]) -> Path:
    return git_repo({"pyproject.toml": CONFIG, ".gitignore": ".perfop/\n"})


@asynccontextmanager
async def connect(repo: Path, *, modern: bool) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "perfop", "mcp", "--repo", str(repo)],
        env=server_env(),
        cwd=str(repo.parent),
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        if modern:
            found = await session.discover()
            assert LATEST_MODERN_VERSION in found.supported_versions
        else:
            await session.initialize()
        yield session


def run(repo: Path, modern: bool, body: Callable[[ClientSession], Any]) -> None:
    async def main() -> None:
        async with connect(repo, modern=modern) as session:
            await body(session)

    anyio.run(main)


@pytest.mark.parametrize("modern", [False, True], ids=["handshake", "2026-07-28"])
def test_both_protocol_eras_list_and_call_tools(fresh: Path, modern: bool) -> None:
    async def body(session: ClientSession) -> None:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert tools["runs"].output_schema is not None
        result = await session.call_tool("runs", {"limit": 5})  # the client checks the schema
        assert not result.is_error, result.content
        assert result.structured_content == {"schema": "perfop.runs/1", "runs": []}
        resources = await session.list_resources()
        assert "perfop://engagement/current" in {str(r.uri) for r in resources.resources}

    run(fresh, modern, body)


@pytest.mark.parametrize(
    ("modern", "code"), [(False, -32002), (True, -32602)], ids=["handshake", "2026-07-28"]
)
def test_an_unknown_resource_is_the_specs_error_for_the_negotiated_version(
    fresh: Path, modern: bool, code: int
) -> None:
    """-32002 up to 2025-11-25, -32602 (invalid params) from 2026-07-28 on (SEP-2164); it was 0."""

    async def body(session: ClientSession) -> None:
        with pytest.raises(MCPError) as err:
            await session.read_resource("perfop://no-such-thing")
        assert err.value.code == code
        assert "unknown resource 'perfop://no-such-thing'" in err.value.message
        assert "perfop://engagement/current" in err.value.message  # and which ones exist
        with pytest.raises(MCPError) as err:
            await session.call_tool("no_such_tool", {})
        assert err.value.code == -32602

    run(fresh, modern, body)


def test_arguments_the_schema_refuses_are_tool_errors_naming_the_argument(fresh: Path) -> None:
    """Input validation errors are tool execution errors (the spec), so the model can fix them."""

    async def body(session: ClientSession) -> None:
        for args, name in (({"limit": True}, "limit"), ({"limit": 2.5}, "limit")):
            result = await session.call_tool("runs", args)
            assert result.is_error, args
            text = result.content[0].text  # type: ignore[union-attr]
            assert name in text and "\n" not in text, text

    run(fresh, False, body)


def test_an_mcp_sdk_older_than_2_is_a_one_line_error(
    fresh: Path, tmp_path: Path, perfop_proc: Callable[..., Any]
) -> None:
    """mcp 1.x has another server API: perfop used to crash at start on the wrong major."""
    old = tmp_path / "old-sdk"
    (old / "mcp").mkdir(parents=True)
    (old / "mcp" / "__init__.py").write_text("")
    dist = old / "mcp-1.27.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mcp\nVersion: 1.27.0\n")
    done = perfop_proc(["mcp", "--repo", fresh], env={"PYTHONPATH": str(old)})
    assert done.returncode == 2, done.stderr
    assert "mcp 1.27.0" in done.stderr and "mcp >= 2.0" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
