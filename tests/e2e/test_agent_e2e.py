"""``perfop agent`` as a real process: a high-risk design stops for a human approval, answered
through a pseudo-terminal, or refused when there is no terminal (``--yes-low-risk`` never covers
high risk).
"""

from __future__ import annotations

import json
import os
import pty
import select
import time

import pytest

from agent_llm_fakes import TINY_FILES, ScriptedLLM, call, hypothesis, sleep_edit

KEY = "sk-test-e2e-PLANTED0123456789abcdefghij"


def _script():
    return {
        "hypotheses": [hypothesis(risk="high")],
        "design": [
            call(
                "design",
                label="H1",
                fix="sleep less in work()",
                risk="high",
                kill_switch="env WORK_SLEEP",
                rollback="git revert",
            )
        ],
        "implementation": [sleep_edit("0.005")],
        "validation": [call("validate")],
    }


class _Pty:
    """The agent on a pseudo-terminal: read until a prompt, answer it."""

    def __init__(self, perfop_popen, args, cwd, env):
        self.master, slave = pty.openpty()
        self.proc = perfop_popen(args, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        self.out = b""

    def read_until(self, marker: bytes, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.out:
            assert time.monotonic() < deadline, self.out.decode(errors="replace")[-3000:]
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the agent exited and closed the terminal
                    break
                if not chunk:
                    break
                self.out += chunk
        assert marker in self.out, self.out.decode(errors="replace")[-3000:]

    def answer(self, text: str) -> None:
        os.write(self.master, text.encode() + b"\n")

    def finish(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.out += chunk
            elif self.proc.poll() is not None:
                break
        self.proc.wait(timeout=30)
        os.close(self.master)
        return self.out.decode(errors="replace").replace("\r\n", "\n")


def _decisions(perfop_proc, repo):
    doc = json.loads(perfop_proc(["log", "--format", "json"], cwd=repo).stdout)
    return doc.get("decisions") or doc.get("entries") or []


@pytest.mark.slow
def test_high_risk_design_waits_for_approval_on_the_terminal(
    git_repo, git, perfop_popen, perfop_proc
):
    repo = git_repo(TINY_FILES)
    with ScriptedLLM("openai", _script(), key=KEY) as llm:
        term = _Pty(
            perfop_popen,
            [
                "agent",
                "speed up work",
                "--model",
                "scripted-1",
                "--base-url",
                llm.url,
                "--yes-low-risk",
            ],
            cwd=repo,
            env={"OPENAI_API_KEY": KEY},
        )
        term.read_until(b"Answer the open questions above")
        term.answer("a 2-core CI runner; 1 request at a time")
        term.read_until(b"Approve H1 (high risk)? Type your name to approve")
        # the runner waits: nothing of the implementation has been asked of the model yet
        assert "implementation" not in llm.stages_seen()
        term.answer("Dana Reviewer")
        out = term.finish()
    assert term.proc.returncode == 0, out[-3000:]
    assert "H1 is HIGH RISK and needs a human approval" in out
    assert "H1 confirmed" in out
    assert git(repo, "log", "--format=%s", "main..perfop/engagement-1") == (
        "H1: work() sleeps longer than it needs to"
    )
    decisions = _decisions(perfop_proc, repo)
    assert any(
        d["actor"] == "Dana Reviewer" and "approved" in d["what"].lower() for d in decisions
    ), decisions
    assert any(d["kind"] == "stakeholder" and "2-core CI runner" in d["what"] for d in decisions)
    assert KEY not in out


@pytest.mark.slow
def test_high_risk_design_is_refused_without_a_terminal(git_repo, git, perfop_proc):
    repo = git_repo(TINY_FILES)
    with ScriptedLLM("openai", _script(), key=KEY) as llm:
        proc = perfop_proc(
            [
                "agent",
                "speed up work",
                "--model",
                "scripted-1",
                "--base-url",
                llm.url,
                "--yes-low-risk",
            ],
            cwd=repo,
            env={"OPENAI_API_KEY": KEY},
        )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "implementation" not in llm.stages_seen()  # never offered to the model
    assert git(repo, "rev-parse", "perfop/engagement-1") == git(repo, "rev-parse", "main")
    whats = [d["what"] for d in _decisions(perfop_proc, repo)]
    assert any("approval needed: high-risk H1 is not implemented" in w for w in whats), whats
    assert any("no terminal: " in w and "open question(s) recorded" in w for w in whats), whats
    assert "a human decides on H1: perfop approve H1 --by NAME" in proc.stdout
    assert KEY not in proc.stdout + proc.stderr
