"""Issue 22 point 4: an agent transcript as an end-to-end test.

A scripted agent (no LLM) carries a whole engagement on the bundled example (wordfreq) through
the official MCP client against ``perfop mcp`` in a subprocess. It has no list of calls: a fixed
policy reads the previous answer's ``next_step`` (tool and arguments) and makes that call, filling
the placeholders (``<...>``) the way an agent does from its task and the repository: the intake
file it was handed, the human's answers to the open questions, its hypothesis from the profile's
hot spot, the fix it commits on a branch. What only a human may do (the sign-off) a person does
through the CLI. The engagement must end with ``verify`` passing, and no hint an agent read may
name a CLI command for something a tool does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from perfop.demo import PATCH, prepare_demo_repo

BRANCH = "perf/count-with-dict"
HUMAN = "Ada"
# A CLI command an agent could have been sent to instead of a tool (approve/accept are human).
CLI_HINT = re.compile(
    r"perfop (intake|inventory|run|runs|profile|hypothesis|design|validate|compare|report|"
    r"verify|status|note|log|calibrate|question)\b"
)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=agent", "-c", "user.email=agent@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


class ScriptedAgent:
    """The policy: call what the last answer's next step names, with its placeholders filled."""

    def __init__(self, session: ClientSession, repo: Path) -> None:
        self.session = session
        self.repo = repo
        self.transcript: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self.hints: list[str] = []

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.session.call_tool(tool, arguments)
        text = result.content[0].text if result.content else ""
        assert not result.is_error, f"{tool} {arguments}: {text}"
        doc = result.structured_content or {}
        self.transcript.append((tool, arguments, doc))
        for hint in _hints(doc):
            self.hints.append(hint)
        return doc

    def fill(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The agent's own part: what the placeholders stand for, from its task and its work."""
        args = dict(arguments)
        if tool == "intake" and "spec" in args:
            return {"from_file": "intake.toml"}  # the requester's intake, handed to the agent
        if tool == "run":
            args.update(runs=3, warmup=0)
        if tool == "profile":
            args.update(backend="pyinstrument", timeout=60)
        if tool == "hypothesis_add":
            args.update(
                statement="counting words with a dict instead of a linear scan makes "
                "top_words linear",
                root_cause="word_counts scans the list of pairs for every word (quadratic)",
                components=["src/wordfreq/core.py"],
                expected_ratio="-50%",
                effort="1h",
                confidence="high",
                verification=["validate H1: A/B top_words, tests pass, output unchanged"],
            )
        if tool == "design":
            args.update(
                fix="count with a dict (insertion order keeps first-appearance order)",
                tests_to_add=["tests/test_core.py::test_top_words_ties_keep_first_appearance"],
                rollback="git revert of the candidate commit",
            )
        if tool == "hypothesis_update" and "candidate" in args:
            self.implement()
            args["candidate"] = BRANCH
        for key, value in args.items():
            assert not (isinstance(value, str) and value.startswith("<")), (tool, key, value)
        return args

    def implement(self) -> None:
        """The agent's edit: the fix committed on a branch (the user's checkout is the agent's
        workspace here, as in a coding agent's sandbox)."""
        _git(self.repo, "switch", "-q", "-c", BRANCH)
        _git(self.repo, "apply", PATCH)
        _git(self.repo, "commit", "-q", "-am", "wordfreq: count words with a dict")
        _git(self.repo, "switch", "-q", "main")

    async def answer_open_questions(self) -> None:
        listing = await self.call("question", {})
        while listing["open"]:
            first = listing["open"][0]
            # The agent put the question to the human; this is the human's answer.
            listing = await self.call(
                "question",
                {
                    "number": first["number"],
                    "answer": f"answered in the kick-off: {first['question'][:40]}",
                    "by": HUMAN,
                },
            )


def _hints(doc: Any) -> list[str]:
    found: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("next", "advice", "reason") and isinstance(value, str):
                found.append(value)
            else:
                found += _hints(value)
    elif isinstance(doc, list):
        for item in doc:
            found += _hints(item)
    return found


@pytest.mark.slow
def test_a_scripted_agent_carries_the_engagement_on_hints_alone(
    tmp_path: Path, perfop_proc: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    repo = prepare_demo_repo(tmp_path / "wordfreq")
    env = {k: v for k, v in os.environ.items() if k not in ("PERFOP_STORE", "PERFOP_CONFIG")}
    env["PERFOP_AGENT_NAME"] = "scripted-agent"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "perfop", "mcp", "--repo", str(repo)],
        env=env,
        cwd=str(repo),
    )
    humans: list[str] = []

    async def main() -> ScriptedAgent:
        with open(os.devnull, "w") as errlog:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                agent = ScriptedAgent(session, repo)
                for _ in range(40):
                    status = await agent.call("status", {})
                    step = status["next_step"]
                    if step["tool"] is None:
                        if step["human"] is None:
                            break  # nothing left
                        # Only a person may do this: the human runs the command named.
                        assert step["human"].startswith("perfop accept"), step
                        done = await anyio.to_thread.run_sync(
                            lambda: perfop_proc(["--repo", repo, "accept", "--by", HUMAN])
                        )
                        assert done.returncode == 0, done.stderr
                        humans.append(step["human"])
                        continue
                    if step["tool"] == "intake" and "open question" in status["next"]:
                        await agent.answer_open_questions()
                    await agent.call(step["tool"], agent.fill(step["tool"], step["arguments"]))
                else:
                    pytest.fail("the engagement did not finish in 40 steps")
                verify = await agent.call("verify", {})
                assert verify["passed"], json.dumps(verify["checks"], indent=1)
                return agent

    agent = anyio.run(main)
    calls = [tool for tool, _, _ in agent.transcript]
    # The lifecycle, in order, chosen from hints: nothing here was scripted as a sequence.
    lifecycle = [c for c in calls if c not in ("status", "question")]
    assert lifecycle == [
        "intake",
        "intake",
        "run",
        "profile",
        "hypothesis_add",
        "design",
        "hypothesis_update",
        "validate",
        "report",
        "verify",
    ], calls
    assert "question" in calls and humans == ["perfop accept --by NAME"]
    validation = next(doc for tool, _, doc in agent.transcript if tool == "validate")
    assert validation["status"] == "confirmed", validation["outcome"]
    assert validation["next_step"]["tool"] == "report"  # its answer says what comes next
    stale = [h for h in agent.hints if CLI_HINT.search(h)]
    assert not stale, stale
    log = json.loads(perfop_proc(["--repo", repo, "log", "--format", "json"]).stdout)
    actors = {d["actor"] for d in log["decisions"]}
    assert "mcp:scripted-agent (agent)" in actors and HUMAN in actors, actors
