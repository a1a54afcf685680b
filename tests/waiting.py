"""Wait for a state, never for a guessed time: poll a predicate until it holds or a deadline.

The deadline only stops a test that would otherwise hang; it is generous on purpose (a loaded
machine is slow, not wrong), so reaching it means the state never came.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0


def wait_until(
    predicate: Callable[[], T], *, what: str, timeout: float = DEFAULT_TIMEOUT, every: float = 0.05
) -> T:
    """The first truthy ``predicate()``; AssertionError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"never happened within {timeout:g} s: {what}")
        time.sleep(every)


async def wait_until_async(
    predicate: Callable[[], T | Awaitable[T]],
    *,
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
    every: float = 0.05,
) -> T:
    """``wait_until`` for anyio code: ``predicate`` may be a coroutine function."""
    import inspect

    import anyio

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(f"never happened within {timeout:g} s: {what}")
        await anyio.sleep(every)
