"""``perfop mcp`` end to end: the MCP SDK's real client over stdio against the server started as a
subprocess in a temporary git repository.

Covers the tool list and schemas, an engagement driven through tools only, the approval guardrail,
path escapes, malformed arguments, a hanging workload, a planted secret, and cancellation.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from waiting import wait_until_async

mcp = pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

EXPECTED_TOOLS = {
    "status",
    "intake",
    "inventory",
    "run",
    "runs",
    "profile",
    "profile_diff",
    "hypothesis_add",
    "hypothesis_list",
    "hypothesis_update",
    "design",
    "request_approval",
    "compare",
    "validate",
    "report",
    "note",
    "log",
    "verify",
    "ci_triage",
}

PLAIN_SECRET = "correct-horse-battery-staple-4711"
PATTERN_SECRET = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"

SLOW_CORE = """\
def top_words(words):
    counts = []
    for w in words:
        for pair in counts:
            if pair[0] == w:
                pair[1] += 1
                break
        else:
            counts.append([w, 1])
    return sorted(counts, key=lambda p: -p[1])[:3]
"""

FAST_CORE = """\
from collections import Counter


def top_words(words):
    return [[w, n] for w, n in Counter(words).most_common(3)]
"""

BENCH = """\
import sys
import time
sys.path.insert(0, "src")
from slowpkg.core import top_words
words = [f"w{i % 400}" for i in range(4000)]
print(top_words(words))
"""

CONFIG = """\
[project]
name = "slowpkg"
version = "0"

[tool.perfop]
high_risk_paths = ["src/slowpkg/core.py"]
test_command = "{python} -c 'print(1)'"
seed = 7

[tool.perfop.workloads.bench]
command = "{python} bench.py"
warmup = 1
min_runs = 3
max_runs = 6
max_time = 2.0
timeout = 30

[tool.perfop.workloads.hang]
command = "{python} -c 'import time; time.sleep(120)' perfop-mcp-hang-marker"
warmup = 0
min_runs = 1
max_runs = 1
timeout = 120
gate = false

[tool.perfop.workloads.leaky]
command = "{python} leak.py"
warmup = 0
min_runs = 1
max_runs = 1
gate = false
"""

LEAK = """\
import os, sys
for name in ("PERFOP_TEST_PASSWORD", "GITHUB_TOKEN"):
    value = os.environ.get(name, "")
    print(f"{name}={value}")
    print(f"leaking {value}", file=sys.stderr)
sys.exit(3)
"""


# --- helpers -------------------------------------------------------------------------------------


# A folder holding another MCP SDK release (tests/e2e/test_mcp_sdk_versions.py installs the lowest
# supported one there): the server runs on it, the client stays on the installed one.
SDK_PATH_VAR = "PERFOP_TEST_MCP_SDK_PATH"


def server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PERFOP_STORE", "PERFOP_CONFIG")}
    sdk = os.environ.get(SDK_PATH_VAR)
    if sdk:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (sdk, env.get("PYTHONPATH")) if p)
    env.update(extra or {})
    return env


@asynccontextmanager
async def connect(repo: Path, env: Mapping[str, str] | None = None) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "perfop", "mcp", "--repo", str(repo)],
        env=server_env(env),
        cwd=str(repo.parent),
    )
    with open(os.environ.get("PERFOP_TEST_MCP_ERRLOG", os.devnull), "a") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def run_session(
    repo: Path,
    body: Callable[[ClientSession], Awaitable[None]],
    env: Mapping[str, str] | None = None,
) -> None:
    async def main() -> None:
        async with connect(repo, env) as session:
            await body(session)

    anyio.run(main)


# Tools whose answers were checked against their advertised output schema in this process.
CHECKED_TOOLS: set[str] = set()


async def answered(session: ClientSession, name: str, result: Any) -> Any:
    """Check a successful answer: its structured content validates against the output schema
    the tool advertises, and its last text block carries that JSON (for text-only clients)."""
    import jsonschema

    text = result.content[0].text if result.content else ""
    assert not result.is_error, f"{name} failed: {text}"
    assert text.strip()
    doc = result.structured_content
    assert doc is not None
    listing = {t.name: t for t in (await session.list_tools()).tools}
    schema = listing[name].output_schema
    assert schema is not None, name
    jsonschema.validate(doc, schema)
    assert json.loads(result.content[-1].text) == doc, name
    CHECKED_TOOLS.add(name)
    return doc


async def ok(session: ClientSession, name: str, args: dict[str, Any] | None = None) -> Any:
    """Call a tool that must succeed; return its structured document."""
    return await answered(session, name, await session.call_tool(name, args or {}))


async def fails(session: ClientSession, name: str, args: Any) -> str:
    """Call a tool that must fail; return its one-line message."""
    result = await session.call_tool(name, args)
    assert result.is_error, f"{name} unexpectedly succeeded: {result.content}"
    message = result.content[0].text
    assert "\n" not in message and "Traceback" not in message, message
    return message


@pytest.fixture
def project(git_repo: Callable[..., Path], git: Callable[..., str]) -> Path:
    repo = git_repo(
        {
            "pyproject.toml": CONFIG,
            "bench.py": BENCH,
            "leak.py": LEAK,
            "src/slowpkg/__init__.py": "",
            "src/slowpkg/core.py": SLOW_CORE,
            ".gitignore": ".perfop/\n__pycache__/\n",
            "logs/ci.log": "== step: tests\nFAILED tests/test_x.py::test_y - AssertionError\n",
            "perf/intake.yaml": "title: risky\nworkloads: [bench]\nrisk_tolerance: low\n",
        }
    )
    git(repo, "checkout", "-q", "-b", "faster")
    (repo / "src/slowpkg/core.py").write_text(FAST_CORE)
    git(repo, "commit", "-qam", "count with Counter")
    git(repo, "checkout", "-q", "main")
    return repo


def tree_state(repo: Path, git: Callable[..., str]) -> tuple[str, ...]:
    return (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "status", "--porcelain", "--untracked-files=all"),
        git(repo, "branch", "--list"),
        git(repo, "stash", "list"),
        git(repo, "worktree", "list", "--porcelain"),
    )


def live_processes(marker: str) -> list[int]:
    """Pids of live (not zombie) processes whose command line contains ``marker``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            pids.append(int(proc.name))
    return pids


def wait_until_gone(marker: str, timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := live_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def stale_worktrees(repo: Path) -> list[str]:
    root = repo / ".perfop" / "worktrees"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


# --- tests ---------------------------------------------------------------------------------------


def test_tools_are_listed_with_precise_schemas(project: Path) -> None:
    async def body(session: ClientSession) -> None:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) >= EXPECTED_TOOLS
        for t in tools.values():
            assert len(t.description or "") > 40, t.name
            assert t.input_schema["type"] == "object"
            assert t.input_schema.get("additionalProperties") is False, t.name
            # No tool takes a command line: only configured workloads run.
            assert not {"command", "cmd", "argv", "shell"} & set(t.input_schema["properties"])
        assert tools["hypothesis_add"].input_schema["required"] == ["statement"]
        assert set(tools["design"].input_schema["required"]) == {"label", "fix"}
        assert tools["run"].input_schema["properties"]["workloads"]["type"] == "array"
        assert "title" in json.dumps(tools["intake"].input_schema["properties"]["spec"])
        status_hints = tools["status"].annotations
        assert status_hints is not None and status_hints.read_only_hint
        assert "approve" not in tools  # agents request approval, never grant it
        uris = {str(r.uri) for r in (await session.list_resources()).resources}
        assert "perfop://engagement/current" in uris

    run_session(project, body)


@pytest.mark.slow
def test_full_engagement_through_tools_only(
    project: Path, git: Callable[..., str], perfop_proc: Callable[..., Any]
) -> None:
    before = tree_state(project, git)
    progress: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total))

    async def body(session: ClientSession) -> None:
        doc = await ok(
            session,
            "intake",
            {
                "spec": {
                    "title": "make top_words fast",
                    "goals": [{"text": "halve bench time", "metric": "wall_time"}],
                    "workloads": ["bench"],
                    "stakeholders": [{"name": "Ada", "role": "maintainer"}],
                    "risk_tolerance": "medium",
                }
            },
        )
        assert doc["kind"] == "intake" and doc["engagement"]["workloads"] == ["bench"]
        assert "make top_words fast" in doc["recap"]
        doc = await ok(session, "intake", {"confirm": True})
        assert doc["engagement"]["confirmed_at"]
        doc = await ok(session, "inventory")
        assert doc["inventory"]["id"] >= 1

        res = await session.call_tool(
            "run", {"workloads": ["bench"], "runs": 3, "warmup": 0}, progress_callback=on_progress
        )
        run_doc = await answered(session, "run", res)
        assert run_doc["schema"] == "perfop.run/2"
        assert len(run_doc["runs"][0]["samples"]) == 3
        assert progress and progress[-1] == (3.0, 3.0)

        prof = await ok(
            session, "profile", {"workload": "bench", "backend": "pyinstrument", "timeout": 60}
        )
        spots = prof["parts"][0]["hotspots"]
        assert any(s["file"] == "src/slowpkg/core.py" for s in spots), spots
        spot = next(s for s in spots if s["file"] == "src/slowpkg/core.py")
        # Both views reach the agent: self time (hotspots) and causes (inclusive, callees folded).
        causes = {c["id"] for c in prof["parts"][0]["causes"]}
        assert spot["id"] in causes or any(
            s["id"] in causes for s in spots if s["file"] == "src/slowpkg/core.py"
        ), prof["parts"][0]["causes"]

        doc = await ok(
            session,
            "hypothesis_add",
            {
                "statement": "a Counter instead of a linear scan makes top_words linear",
                "root_cause": "quadratic list scan in top_words",
                "components": ["src/slowpkg/core.py"],
                "expected_ratio": "-50%",
                "effort": "2h",
                "confidence": "high",
                "risk": "low",
                "evidence": [f"hotspot:{spot['id']}"],
                "verification": ["compare bench base vs candidate"],
            },
        )
        hyp = doc["hypothesis"]
        assert hyp["label"] == "H1" and hyp["status"] == "proposed"
        assert hyp["expected_ratio"] == pytest.approx(0.5)
        doc = await ok(
            session,
            "design",
            {
                "label": "H1",
                "fix": "collections.Counter",
                "rollback": "revert",
                "tests_to_add": ["top_words keeps ties in first-seen order"],
            },
        )
        assert doc["hypothesis"]["status"] == "designed"
        await ok(
            session,
            "design_done",
            {"label": "H1", "item": "1", "evidence": "test:tests/test_core.py::test_ties"},
        )
        # core.py is a high_risk_path: the agent asks, a human approves through the CLI.
        doc = await ok(session, "request_approval", {"label": "H1", "reason": "2x on bench"})
        assert doc["needs_approval"] is True and doc["pending"] is True
        human = await anyio.to_thread.run_sync(
            lambda: perfop_proc(["--repo", project, "approve", "H1", "--by", "Ada"])
        )
        assert human.returncode == 0, human.stderr
        doc = await ok(session, "hypothesis_update", {"label": "H1", "candidate": "faster"})
        assert doc["hypothesis"]["status"] == "implemented"
        diff = await ok(
            session,
            "profile_diff",
            {"base": "main", "candidate": "faster", "workload": "bench", "backend": "pyinstrument"},
        )
        assert diff["schema"] == "perfop.profile-diff/1" and diff["diffs"]
        assert diff["candidate"]["ref"] == "faster"

        progress.clear()
        res = await session.call_tool(
            "compare",
            {
                "base": "main",
                "candidate": "faster",
                "workloads": ["bench"],
                "max_time": 8,
                "max_runs": 30,
            },
            progress_callback=on_progress,
        )
        cmp_doc = await answered(session, "compare", res)
        assert cmp_doc["schema"] == "perfop.comparison/2"
        assert cmp_doc["workloads"][0]["verdict"] == "faster", res.content[0].text
        assert progress

        progress.clear()
        res = await session.call_tool(
            "validate",
            {"label": "H1", "max_time": 8, "max_runs": 30},
            progress_callback=on_progress,
        )
        val = await answered(session, "validate", res)
        assert val["kind"] == "validation" and val["status"] == "confirmed", res.content[0].text
        assert val["hypothesis"]["status"] == "confirmed"
        assert progress

        res = await session.call_tool("report", {})
        assert (await answered(session, "report", res))["schema"].startswith("perfop.report")
        assert "# Performance report: make top" in res.content[0].text  # the Markdown itself
        doc = await ok(session, "report", {"output": ".perfop/reports/engagement.html"})
        assert (project / ".perfop/reports/engagement.html").is_file()
        msg = await fails(session, "report", {"output": "bench.py"})
        assert "version control" in msg
        latest = await session.read_resource("perfop://report/latest")
        assert latest.contents[0].mime_type == "text/markdown"
        assert "# Performance report: make top" in latest.contents[0].text

        # Read-back and the machine's noise (issue 22's new tools).
        await ok(session, "show", {"kind": "comparison", "id": str(cmp_doc["id"])})
        await ok(session, "show", {"kind": "profile", "id": prof["id"]})
        await ok(session, "question")
        await ok(session, "calibrate", {"workloads": ["bench"], "max_runs": 6, "max_time": 5})
        await ok(session, "note", {"text": "profiled with pyinstrument", "kind": "decision"})
        assert (await ok(session, "ci_triage", {"file": "logs/ci.log"}))["failed"] is True
        listing = await ok(session, "hypothesis_list")
        assert [h["label"] for h in listing["hypotheses"]] == ["H1"]
        mcp_docs["hypothesis list"] = listing
        mcp_docs["runs list"] = await ok(session, "runs", {"limit": 50})
        mcp_docs["log"] = await ok(session, "log")
        status = await ok(session, "status")
        assert status["kind"] == "status" and status["next"]
        checks = await ok(session, "verify")
        assert checks["kind"] == "verify" and checks["checks"]
        assert not checks["passed"]  # no stakeholder sign-off: only a human can give it
        log = await ok(session, "log")
        actors = {d["actor"] for d in log["decisions"]}
        # Every record is the agent's, except the approval the human gave through the CLI.
        assert actors - {"Ada"} and all(a.endswith("(agent)") for a in actors - {"Ada"}), actors
        resource = await session.read_resource("perfop://engagement/current")
        body_doc = json.loads(resource.contents[0].text)
        assert body_doc["hypotheses"][0]["label"] == "H1"
        assert body_doc["status"]["stage"]
        # Every tool answered, each checked against its advertised output schema (issue 22).
        listed = {t.name for t in (await session.list_tools()).tools}
        assert listed - CHECKED_TOOLS == set(), "tools this engagement never called"

    mcp_docs: dict[str, Any] = {}
    run_session(project, body)
    # Each tool answers the same document as the CLI's --format json.
    for verb, doc in mcp_docs.items():
        cli = perfop_proc(["--repo", project, *verb.split(), "--format", "json"])
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout) == doc, verb
    assert tree_state(project, git) == before
    assert stale_worktrees(project) == []


def test_request_approval_never_grants(project: Path) -> None:
    async def body(session: ClientSession) -> None:
        doc = await ok(session, "intake", {"from_file": "perf/intake.yaml"})
        assert doc["engagement"]["title"] == "risky"
        assert doc["engagement"]["risk_tolerance"] == "low"
        note = await ok(session, "note", {"text": "core is shared", "kind": "risk"})
        assert note["decision"]["kind"] == "risk"
        await ok(
            session,
            "hypothesis_add",
            {"statement": "rewrite the core", "components": ["src/slowpkg/core.py"]},
        )
        await ok(session, "design", {"label": "H1", "fix": "rewrite", "risk": "high"})
        doc = await ok(session, "request_approval", {"label": "H1", "reason": "2x faster"})
        assert doc["pending"] is True and doc["approved"] is False
        assert doc["command"] == "perfop approve H1 --by NAME"
        detail = (await ok(session, "hypothesis_list", {"label": "H1"}))["hypothesis"]
        assert detail["needs_approval"] is True
        assert detail["approvals"] == [] and detail["status"] == "designed"
        msg = await fails(session, "hypothesis_update", {"label": "H1", "status": "confirmed"})
        assert "status" in msg
        msg = await fails(session, "hypothesis_update", {"label": "H1", "status": "approved"})
        assert "status" in msg
        await ok(session, "hypothesis_update", {"label": "H1", "candidate": "faster"})
        await ok(session, "intake", {"confirm": True})
        msg = await fails(session, "validate", {"label": "H1", "max_runs": 3})
        assert "no human approval" in msg
        detail = (await ok(session, "hypothesis_list", {"label": "H1"}))["hypothesis"]
        assert detail["status"] == "implemented" and detail["approvals"] == []
        assert detail["validations"] == []
        log = await ok(session, "log")
        request = [d for d in log["decisions"] if "approval requested for H1" in d["what"]]
        assert request and request[0]["actor"].endswith("(agent)")

    run_session(project, body)


def test_an_agent_cannot_lower_risk_to_skip_the_approval(project: Path) -> None:
    """Issue 16 item 1: hypothesis_update lowering the risk used to let validate confirm."""

    async def body(session: ClientSession) -> None:
        await ok(session, "intake", {"from_file": "perf/intake.yaml"})
        await ok(
            session,
            "hypothesis_add",
            {"statement": "rewrite", "components": ["src/slowpkg/core.py"], "risk": "high"},
        )
        await ok(session, "design", {"label": "H1", "fix": "rewrite"})
        await ok(session, "hypothesis_update", {"label": "H1", "candidate": "faster"})
        await ok(session, "intake", {"confirm": True})
        assert "no human approval" in await fails(session, "validate", {"label": "H1"})
        msg = await fails(
            session,
            "hypothesis_update",
            {"label": "H1", "risk": "low", "components": ["bench.py"]},
        )
        assert "never lower it" in msg
        msg = await fails(session, "hypothesis_update", {"label": "H1", "components": ["bench.py"]})
        assert "src/slowpkg/core.py" in msg
        assert "no human approval" in await fails(session, "validate", {"label": "H1"})
        # declared low with harmless components: the candidate's diff still decides
        await ok(
            session,
            "hypothesis_add",
            {"statement": "tweak", "components": ["bench.py"], "risk": "low"},
        )
        await ok(session, "design", {"label": "H2", "fix": "tweak"})
        await ok(session, "hypothesis_update", {"label": "H2", "candidate": "faster"})
        assert "no human approval" in await fails(session, "validate", {"label": "H2"})
        for label in ("H1", "H2"):
            detail = (await ok(session, "hypothesis_list", {"label": label}))["hypothesis"]
            assert detail["risk"] == "high" and detail["status"] == "implemented", detail
            assert detail["validations"] == [] and detail["needs_approval"] is True
        log = await ok(session, "log")
        assert any("H2 risk low -> high (derived" in d["what"] for d in log["decisions"])

    run_session(project, body)


@pytest.mark.slow
def test_report_never_overwrites_the_users_files(project: Path, git: Callable[..., str]) -> None:
    """Issue 16 item 2: MCP report replaced an untracked file and a tracked plot."""
    (project / "notes.md").write_text("mine\n")
    plots = project / "docs" / "r-plots"
    plots.mkdir(parents=True)
    (plots / "history-bench.png").write_bytes(b"tracked png")
    git(project, "add", "docs")
    git(project, "commit", "-qm", "docs")

    async def body(session: ClientSession) -> None:
        await ok(session, "intake", {"from_file": "perf/intake.yaml"})
        for _ in range(2):  # two runs: the report plots the workload's history
            await ok(session, "run", {"workloads": ["bench"], "runs": 2})
        for output, needle in (
            ("notes.md", "not written by perfop"),
            ("docs/r.md", "history-bench.png"),
            ("bench.py/x.md", "is not a directory"),
        ):
            msg = await fails(session, "report", {"output": output})
            assert msg.startswith(f"output: {output!r}") and needle in msg, msg
            assert "--force" not in msg and "internal error" not in msg, msg
        await ok(session, "report", {"output": "reports/r.md"})
        await ok(session, "report", {"output": "reports/r.md"})  # its own file: replaced

    run_session(project, body)
    assert (project / "notes.md").read_text() == "mine\n"
    assert (plots / "history-bench.png").read_bytes() == b"tracked png"
    assert not (project / "docs" / "r.md").exists()
    assert (project / "reports" / "r.md").read_text().startswith("# Performance report")
    assert (project / "reports" / "r-plots" / "history-bench.png").exists()


def test_path_escapes_are_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.log").write_text("FAILED tests/test_a.py::test_b\n")
    (project / "link-out").symlink_to(outside)
    (project / "logs" / "escape.log").symlink_to(outside / "secret.log")
    variants = [
        str(outside / "secret.log"),  # absolute, outside
        "/etc/passwd",
        "../outside/secret.log",  # '..' escape
        "logs/../../outside/secret.log",  # '..' after a real directory
        "link-out/secret.log",  # symlinked directory pointing out
        "logs/escape.log",  # symlinked file pointing out
        ".git/config",  # inside the repository but git's own
        "~/secret.log",
        "",
    ]

    async def body(session: ClientSession) -> None:
        for path in variants:
            msg = await fails(session, "ci_triage", {"file": path})
            assert msg.startswith("file:"), (path, msg)
        for path in ("../report.md", "/tmp/report.md", "link-out/report.md"):
            msg = await fails(session, "report", {"output": path})
            assert msg.startswith("output:"), (path, msg)
        msg = await fails(session, "intake", {"from_file": "/etc/hostname"})
        assert "outside the repository" in msg
        msg = await fails(
            session,
            "hypothesis_add",
            {"statement": "x", "components": ["../../etc/passwd"]},
        )
        assert "components" in msg
        doc = await ok(session, "ci_triage", {"file": "logs/ci.log"})
        assert doc["failed"] is True

    run_session(project, body)


def test_malformed_arguments_are_one_line_tool_errors(project: Path) -> None:
    async def body(session: ClientSession) -> None:
        cases: list[tuple[str, Any, str]] = [
            ("run", {"runs": "many"}, "runs"),
            ("run", {"runs": 0}, "runs"),
            ("run", {"workloads": ["nope"]}, "unknown workload 'nope'"),
            ("run", {"command": "rm -rf /"}, "unknown key"),
            ("design", {"label": "H1"}, "fix"),
            ("hypothesis_add", {"statment": "x"}, "did you mean 'statement'"),
            ("hypothesis_add", {"statement": "x", "expected_ratio": "fast"}, "expected_ratio"),
            ("compare", {"base": "--upload-pack=evil"}, "base"),
            ("compare", {"base": "no-such-ref", "workloads": ["bench"]}, "no-such-ref"),
            # what the advertised schema refuses is refused, not coerced (issue 22)
            ("runs", {"limit": True}, "limit"),
            ("runs", {"limit": "3"}, "limit"),
            ("intake", {"confirm": 1}, "confirm"),
            ("log", {}, "no engagement yet; start one with: call intake"),  # status answers
        ]
        for name, args, expected in cases:
            msg = await fails(session, name, args)
            assert expected in msg, (name, args, msg)
        # An unknown tool is a protocol error (invalid params), not a tool result.
        with pytest.raises(MCPError) as err:
            await session.call_tool("no_such_tool", {})
        assert err.value.code == -32602 and "unknown tool 'no_such_tool'" in err.value.message

    run_session(project, body)


# Long enough for the server to start the hanging run and answer other calls on a loaded machine.
HANG_LIMIT = 10


@pytest.mark.slow
def test_hanging_workload_times_out_and_the_server_keeps_answering(project: Path) -> None:
    async def body(session: ClientSession) -> None:
        msg = await fails(session, "run", {"workloads": ["hang"], "timeout": 1})
        assert "timed out" in msg

        finished = anyio.Event()
        answer: dict[str, Any] = {}

        async def hang() -> None:
            answer["result"] = await session.call_tool(
                "run", {"workloads": ["hang"], "max_seconds": HANG_LIMIT}
            )
            finished.set()

        async def hang_is_running() -> bool:
            runs = await ok(session, "runs", {"workload": "hang"})
            return finished.is_set() or runs["runs"][0]["status"] == "running"

        async with anyio.create_task_group() as tg:
            tg.start_soon(hang)
            # The hanging call is in flight; the server still answers others meanwhile.
            await wait_until_async(hang_is_running, what="the hanging run is recorded as running")
            assert not finished.is_set(), answer
        result = answer["result"]
        assert result.is_error and f"timed out after {HANG_LIMIT} s" in result.content[0].text
        runs = await ok(session, "runs", {"workload": "hang"})
        assert [r["status"] for r in runs["runs"]] == ["interrupted", "failed"]
        await ok(session, "intake", {"spec": {"title": "after the hang"}})
        assert wait_until_gone("perfop-mcp-hang-marker") == []  # the workload was killed

    run_session(project, body)


def test_planted_secret_never_appears_in_any_answer(project: Path) -> None:
    env = {"PERFOP_TEST_PASSWORD": PLAIN_SECRET, "GITHUB_TOKEN": PATTERN_SECRET}
    answers: list[str] = []

    async def record(session: ClientSession, name: str, args: dict[str, Any]) -> None:
        result = await session.call_tool(name, args)
        answers.append(result.model_dump_json())

    async def body(session: ClientSession) -> None:
        await record(session, "intake", {"spec": {"title": f"tune {PLAIN_SECRET}"}})
        await record(session, "run", {"workloads": ["leaky"]})
        await record(session, "run", {"workloads": ["bench"], "runs": 1, "warmup": 0})
        await record(session, "note", {"text": f"token is {PATTERN_SECRET}", "kind": "risk"})
        await record(session, "hypothesis_add", {"statement": f"cache {PLAIN_SECRET}"})
        for name in ("status", "log", "verify", "runs", "hypothesis_list", "inventory"):
            await record(session, name, {})
        await record(session, "ci_triage", {"file": "logs/ci.log"})
        await record(session, "run", {"workloads": [PLAIN_SECRET]})
        resource = await session.read_resource("perfop://engagement/current")
        answers.append(resource.model_dump_json())

    run_session(project, body, env=env)
    everything = "\n".join(answers)
    assert "leaking" in everything  # the leaky workload's stderr did come back
    assert PLAIN_SECRET not in everything
    assert PATTERN_SECRET not in everything


def test_new_secret_formats_never_reach_answers_reports_or_store(project: Path) -> None:
    """Issue 16 item 5: GitLab tokens, password= in free text and 20-31-char random tokens."""
    planted = ["glpat" + "-xY7zQ2rT9wL4mN8vB3kD", "opensesame-4711", "Zx9Qw2Er7Ty4Ui1Op8As5Df3"]
    gl, pw, rnd = planted
    answers: list[str] = []

    async def record(session: ClientSession, name: str, args: dict[str, Any]) -> None:
        result = await session.call_tool(name, args)
        answers.append(result.model_dump_json())

    async def body(session: ClientSession) -> None:
        await record(session, "intake", {"spec": {"title": f"tune password: {pw}"}})
        await record(session, "note", {"text": f"deploy token {gl}, id {rnd}", "kind": "risk"})
        await record(session, "hypothesis_add", {"statement": f"cache password={pw} {rnd}"})
        for name in ("status", "log", "hypothesis_list"):
            await record(session, name, {})
        await record(session, "report", {})
        for out in ("r/report.md", "r/report.html", "r/report.json"):
            await record(session, "report", {"output": out})

    run_session(project, body)
    everything = "\n".join(answers)
    assert "deploy token" in everything and "[REDACTED]" in everything
    files = [*(project / "r").iterdir(), *(project / ".perfop").glob("perfop.db*")]
    assert len(files) >= 4
    for secret in planted:
        assert secret not in everything, secret
        for path in files:
            assert secret.encode() not in path.read_bytes(), (secret, path.name)


def test_cancelled_compare_leaves_no_worktree_and_the_tree_untouched(
    project: Path, git: Callable[..., str]
) -> None:
    (project / "scratch.txt").write_text("uncommitted work\n")
    before = tree_state(project, git)

    async def body(session: ClientSession) -> None:
        started = anyio.Event()
        outcome: dict[str, Any] = {}

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            started.set()

        scope = anyio.CancelScope()

        async def compare() -> None:
            with scope:
                outcome["result"] = await session.call_tool(
                    "compare",
                    {"base": "main", "candidate": "faster", "max_time": 60, "max_runs": 500},
                    progress_callback=on_progress,
                )

        async with anyio.create_task_group() as tg:
            tg.start_soon(compare)
            with anyio.fail_after(60):
                await started.wait()
            # The comparison is running in its worktrees.
            await wait_until_async(lambda: stale_worktrees(project), what="compare's worktrees")
            # Abandoning the call makes the SDK's client send notifications/cancelled.
            scope.cancel()
        assert scope.cancelled_caught and "result" not in outcome, outcome
        # A measuring call waits for the cancelled one to finish its clean-up.
        await ok(session, "run", {"workloads": ["bench"], "runs": 1, "warmup": 0})
        assert stale_worktrees(project) == []
        runs = await ok(session, "runs", {"workload": "bench"})
        comparison_ids.update(r["comparison_id"] for r in runs["runs"] if r["comparison_id"])

    comparison_ids: set[int] = set()
    run_session(project, body)
    assert tree_state(project, git) == before
    # As after a Ctrl-C: the comparison is recorded as interrupted, not left running.
    from perfop.store import open_store
    from perfop.store.compare import get_comparison

    store = open_store(f"sqlite:///{project / '.perfop' / 'perfop.db'}")
    try:
        assert len(comparison_ids) == 1
        row = get_comparison(store, comparison_ids.pop())
        assert row is not None and row["status"] == "interrupted"
    finally:
        store.close()
