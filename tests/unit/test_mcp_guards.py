"""The MCP server's guardrails on their own: path confinement, refs, redaction, argument errors,
and the cancellable worker thread (a real thread, interrupted like a Ctrl-C)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import Field

from perfop.errors import GuardrailError, UsageError
from perfop.mcp.guards import (
    CancelToken,
    ToolCancelled,
    check_components,
    check_ref,
    confine_path,
    error_message,
    parse_args,
    run_blocking,
)
from perfop.mcp.tools import Args
from perfop.redact import Redactor
from waiting import wait_until_async


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "src" / "a.py").write_text("x = 1\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text("secret\n")
    (root / "out-dir").symlink_to(outside)
    (root / "src" / "out-file").symlink_to(outside / "f.txt")
    (root / "in-link").symlink_to(root / "src")
    return root


@pytest.mark.parametrize(
    "value",
    [
        "/etc/passwd",
        "../outside/f.txt",
        "src/../../outside/f.txt",
        "out-dir/f.txt",
        "src/out-file",
        ".git/config",
        ".git",
        "~/f.txt",
        "",
        "  ",
        "src/a.py\x00.txt",
    ],
)
def test_paths_leaving_the_repository_are_refused(repo: Path, value: str) -> None:
    with pytest.raises(GuardrailError, match=r"^file: "):
        confine_path(repo, value, argument="file")


@pytest.mark.parametrize("value", ["src/a.py", "src/new/report.md", "in-link/a.py", "./src"])
def test_paths_inside_the_repository_resolve(repo: Path, value: str) -> None:
    path = confine_path(repo, value, argument="file")
    assert path.is_relative_to(repo.resolve())


def test_absolute_path_inside_the_repository_is_fine(repo: Path) -> None:
    assert confine_path(repo, str(repo / "src" / "a.py"), argument="f") == repo / "src" / "a.py"


def test_components_checked_only_when_they_look_like_paths(repo: Path) -> None:
    check_components(repo, ["pkg.module", "src/a.py", "core"], argument="components")
    with pytest.raises(GuardrailError, match="components"):
        check_components(repo, ["pkg.module", "../../etc/passwd"], argument="components")


@pytest.mark.parametrize("ref", ["main", "v1.2", "origin/main", "HEAD~2", "abc123", "feat/x^"])
def test_refs_accepted(ref: str) -> None:
    assert check_ref(ref, argument="base") == ref


@pytest.mark.parametrize(
    "ref", ["--upload-pack=evil", "-b", "a..b", "main; rm -rf /", "a b", "", "$(id)"]
)
def test_refs_refused(ref: str) -> None:
    with pytest.raises(GuardrailError, match=r"^base: "):
        check_ref(ref, argument="base")


def test_redactor_hides_patterns_and_the_servers_own_secret_values() -> None:
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    redactor = Redactor(env={"DB_PASSWORD": "hunter2-but-longer", "HOME": "/root", "API_KEY": "x"})
    doc = {
        "text": "password hunter2-but-longer and token " + token,
        "nested": [{"stderr_tail": "hunter2-but-longer"}],
        "api_token": "anything",
        "home": "/root",
    }
    out = redactor.obj(doc)
    flat = repr(out)
    assert "hunter2-but-longer" not in flat and token not in flat
    assert out["api_token"] == "[REDACTED]"
    assert out["home"] == "/root"  # not a secret-named variable: left alone
    assert redactor.text("x") == "x"  # values shorter than 6 characters are not replaced


class _Demo(Args):
    statement: str = Field(description="s")
    runs: int = Field(1, ge=1)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "demo: statement: required key is missing"),
        ({"statment": "x"}, "did you mean 'statement'?"),
        ({"statement": "x", "runs": "many"}, "demo: runs: must be an integer"),
        ({"statement": "x", "runs": 0}, "demo: runs: must be >= 1"),
    ],
)
def test_argument_errors_are_one_line(arguments: dict[str, object], expected: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_args(_Demo, "demo", arguments)
    assert expected in err.value.message
    assert "\n" not in err.value.message


def test_error_message_never_carries_a_traceback() -> None:
    assert error_message(UsageError("bad\nthing")) == "bad thing"
    msg = error_message(RuntimeError("boom\n  at line 3"))
    assert msg.startswith("internal error (RuntimeError: boom at line 3)")


def _busy_until_interrupted(seen: dict[str, object]) -> str:
    """Pure Python loop that never checks the token: only an asynchronous interrupt stops it."""
    try:
        while True:
            time.sleep(0.01)
    except ToolCancelled as exc:
        seen["cleaned_up"] = True
        seen["thread"] = threading.get_ident()
        raise exc


def test_time_limit_interrupts_the_worker_and_waits_for_its_clean_up() -> None:
    seen: dict[str, object] = {}
    token = CancelToken()

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await run_blocking(
                lambda: _busy_until_interrupted(seen), token=token, time_limit=0.2, grace=0.1
            )

    anyio.run(main)
    assert seen.get("cleaned_up") is True  # clean-up ran before run_blocking returned
    assert seen["thread"] != threading.get_ident()
    assert token.done.is_set()


def test_cancellation_stops_at_a_safe_point_first() -> None:
    token = CancelToken()
    checks: list[int] = []

    def cooperative() -> None:
        while True:
            checks.append(1)
            token.check()  # the progress callbacks' safe point
            time.sleep(0.01)

    async def main() -> None:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await run_blocking(cooperative, token=token, time_limit=30)

            tg.start_soon(call)
            await wait_until_async(lambda: checks, what="the worker runs the call")
            tg.cancel_scope.cancel()

    anyio.run(main)
    assert token.cancelled and token.done.is_set() and checks


def test_a_finished_call_is_never_interrupted_afterwards() -> None:
    token = CancelToken()

    async def main() -> int:
        return await run_blocking(lambda: 42, token=token, time_limit=5)

    assert anyio.run(main) == 42
    token.cancel("late")
    token.interrupt()  # no thread to interrupt any more: a no-op
    token.check()  # and no exception either


def test_interrupts_racing_the_end_of_a_call_never_escape_into_the_thread_pool() -> None:
    """Time limits that expire just as the work ends: every call finishes, the pool stays usable."""

    def work(n: int) -> int:
        deadline = time.perf_counter() + n / 2000
        while time.perf_counter() < deadline:
            pass
        return n

    async def main() -> list[str]:
        outcomes = []
        for n in range(40):
            token = CancelToken()
            try:
                await run_blocking(lambda n=n: work(n), token=token, time_limit=0.01, grace=0.0)
                outcomes.append("done")
            except TimeoutError:
                outcomes.append("timeout")
            assert token.done.is_set()
        # The workers are healthy: a plain call still runs and returns.
        assert await anyio.to_thread.run_sync(lambda: 7) == 7
        return outcomes

    outcomes = anyio.run(main)
    assert "done" in outcomes and "timeout" in outcomes


def _returns_within(main: Callable[[], Any], bound: float) -> dict[str, Any]:
    """Run ``anyio.run(main)`` in a daemon thread; fail (instead of hanging) past ``bound``."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = anyio.run(main)
        except BaseException as exc:  # the test inspects it
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(bound)
    assert not thread.is_alive(), f"run_blocking did not return within {bound} s"
    return box


def test_a_limit_that_fires_before_a_worker_starts_the_job_returns() -> None:
    """The race that hung the suite: the job is abandoned before any worker thread picks it up."""
    ran: list[int] = []
    token = CancelToken()

    async def main() -> None:
        await run_blocking(lambda: ran.append(1), token=token, time_limit=1e-6, grace=0.0)

    box = _returns_within(main, 20)
    assert isinstance(box.get("error"), TimeoutError) or box.get("error") is None
    assert token.done.is_set()


def test_a_job_abandoned_while_every_worker_is_busy_never_runs_and_never_blocks() -> None:
    release = threading.Event()
    ran: list[int] = []
    token = CancelToken()

    async def main() -> str:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = 1
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: anyio.to_thread.run_sync(release.wait))
            await wait_until_async(
                lambda: limiter.borrowed_tokens == 1, what="the only worker slot is taken"
            )
            try:
                await run_blocking(lambda: ran.append(1), token=token, time_limit=0.05, grace=0.0)
                outcome = "returned"
            except TimeoutError:
                outcome = "timeout"
            release.set()
        return outcome

    box = _returns_within(main, 20)
    assert box.get("value") == "timeout", box
    assert token.done.is_set() and ran == []
    with pytest.raises(ToolCancelled):
        token.call(lambda: ran.append(2))  # a worker that picks the job up late refuses it
    assert ran == []
