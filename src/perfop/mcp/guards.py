"""The MCP server's side of the guardrails: running a blocking tool call in a worker thread that a
cancellation or a time limit stops. The checks themselves (confined paths, safe refs, argument
parsing, one-line errors, ``CancelToken``) are ``perfop.services.guards``, which the agent runner
applies too; they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from perfop.services.guards import CancelToken as CancelToken
from perfop.services.guards import ToolCancelled as ToolCancelled
from perfop.services.guards import check_components as check_components
from perfop.services.guards import check_ref as check_ref
from perfop.services.guards import confine_path as confine_path
from perfop.services.guards import error_message as error_message
from perfop.services.guards import looks_like_path as looks_like_path
from perfop.services.guards import parse_args as parse_args

T = TypeVar("T")


async def run_blocking(
    fn: Callable[[], T], *, token: CancelToken, time_limit: float, grace: float = 0.5
) -> T:
    """Run a blocking service call in a worker thread without blocking the event loop.

    On cancellation of the calling task, or when ``time_limit`` seconds pass, the token is
    cancelled, the worker gets ``grace`` seconds to stop at a safe point before it is interrupted,
    and this coroutine waits (shielded) until the worker has finished its clean-up. A time-out
    raises ``TimeoutError``; a cancellation propagates as the caller's cancellation.
    """
    import anyio

    try:
        with anyio.fail_after(time_limit):
            return await anyio.to_thread.run_sync(token.call, fn, abandon_on_cancel=True)
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            token.cancel("timed out" if isinstance(exc, TimeoutError) else "cancelled")
            if token.abandon() and not token.done.is_set():
                with anyio.move_on_after(grace):
                    while not token.done.is_set():
                        await anyio.sleep(0.02)
                if not token.done.is_set():
                    token.interrupt()
                # Poll instead of parking a second worker thread on ``done.wait``: a thread
                # blocked there outlives the server (and pytest) if the worker never returns.
                while not token.done.is_set():
                    await anyio.sleep(0.02)
        raise
