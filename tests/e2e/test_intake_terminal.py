"""`perfop intake` on a real terminal (a pty): prompts, config defaults, a stored engagement."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from perfop.config import load_config
from perfop.engagement import service
from perfop.store import open_store

CONFIG = """\
[workloads.parse]
command = "true"

[workloads.render]
command = "true"
"""

# (text of the prompt, answer); an empty answer takes the prompt's default.
DIALOGUE = [
    ("Title of the engagement", "Faster parsing"),
    ("Requester", "Search team"),
    ("Scenario", ""),
    ("Goals", "parse p95 under 100 ms"),
    ("Affected workloads", ""),  # default: every configured workload
    ("Non-functional constraints", ""),
    ("Assumptions", ""),
    ("Risk tolerance", "low"),
    ("Hardware", ""),
    ("Dataset", ""),
    ("Traffic", ""),
    ("Base ref", ""),
    ("Stakeholders", "Ada:owner"),
]


def _read_until(fd: int, text: str, seen: bytearray, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while text.encode() not in seen:
        left = end - time.monotonic()
        assert left > 0, f"no prompt {text!r}; the terminal showed: {seen.decode(errors='replace')}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other side closed
                chunk = b""
            assert chunk, f"perfop exited before {text!r}: {seen.decode(errors='replace')}"
            seen += chunk


def test_interactive_intake_on_a_terminal(git_repo: Callable[..., Path]) -> None:
    repo = git_repo({"perfop.toml": CONFIG})
    master, slave = os.openpty()
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfop", "intake"],
        cwd=repo,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    seen = bytearray()
    try:
        for prompt, answer in DIALOGUE:
            _read_until(master, prompt, seen)
            del seen[:]
            os.write(master, answer.encode() + b"\r")
        assert proc.wait(timeout=60) == 0, seen.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)

    loaded = load_config(repo)
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        eng = service.current(store)
    finally:
        store.close()
    assert loaded.config.workloads
    assert eng.spec.title == "Faster parsing" and eng.spec.requester == "Search team"
    assert set(eng.spec.workloads) == {"parse", "render"}  # the config's default was taken
    assert str(eng.spec.risk_tolerance) == "low"
    assert [(s.name, s.role) for s in eng.spec.stakeholders] == [("Ada", "owner")]
