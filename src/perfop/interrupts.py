"""Ctrl-C and SIGTERM: the first stops the command; the clean-up it starts is not cut short.

The first Ctrl-C (or SIGTERM) raises ``KeyboardInterrupt``, as Python does. What runs after it --
removing worktrees, recording the comparison as interrupted -- must not stop half-way, and with
Python's handler a second Ctrl-C did exactly that from wherever the unwinding was: CI saw a whole
session (both worktrees and its folder) left behind when the second landed in
``WorktreeSession.__exit__`` before its clean-up began.

- ``stopping()`` wraps a whole command (the CLI's ``main``): the first signal raises, the second
  only says that perfop is cleaning up, the third leaves at once (``os._exit(130)``; the next
  perfop command that opens the repository removes what is left).
- ``held()`` keeps a block whole anywhere (creating or removing a session): signals wait for its
  end, then count as above (or, outside ``stopping()``, raise ``KeyboardInterrupt``).
- ``first_only()`` is ``stopping()`` for one block of library code run without it: the first
  signal raises, the rest are dropped until the block is done.

Only the main thread receives signals; elsewhere every block runs as it is.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_CLEANING = b"perfop: cleaning up after the interrupt; interrupt again to leave at once\n"
_LEAVING = b"perfop: interrupted again; leaving now (the next perfop command cleans up)\n"


class _Stops:
    """The first signal raises KeyboardInterrupt; later ones say so (``loud``) or are dropped."""

    def __init__(self, *, loud: bool) -> None:
        self.loud = loud
        self.count = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count == 1:
            raise KeyboardInterrupt
        if not self.loud:
            return
        with contextlib.suppress(OSError):
            os.write(2, _CLEANING if self.count == 2 else _LEAVING)
        if self.count > 2:
            os._exit(130)


class _Hold:
    def __init__(self) -> None:
        self.pending: list[int] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)


@contextlib.contextmanager
def _installed(handler: _Stops | _Hold) -> Iterator[None]:
    # A signal ignored on purpose (``nohup``, a shell's background job) stays ignored, as
    # Python itself leaves SIGINT alone when it starts ignored.
    previous = {
        sig: signal.signal(sig, handler)
        for sig in STOP_SIGNALS
        if signal.getsignal(sig) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _active() -> object:
    """The handler in force for the stop signals (None off the main thread or all ignored)."""
    if not _on_main_thread():
        return None
    handlers = [signal.getsignal(sig) for sig in STOP_SIGNALS]
    return next((h for h in handlers if h is not signal.SIG_IGN), None)


@contextlib.contextmanager
def stopping() -> Iterator[None]:
    """One command: the first signal stops it, the second is a notice, the third leaves."""
    if not _on_main_thread():
        yield
        return
    with _installed(_Stops(loud=True)):
        yield


@contextlib.contextmanager
def first_only() -> Iterator[None]:
    """The first signal in the block raises KeyboardInterrupt; later ones wait for nothing."""
    if _active() is None or isinstance(_active(), _Stops | _Hold):
        yield  # a command's own policy, or an enclosing hold, already decides
        return
    with _installed(_Stops(loud=False)):
        yield


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done, then act on them."""
    outer = _active()
    if outer is None or isinstance(outer, _Hold):
        yield  # off the main thread, or an enclosing hold acts at its end
        return
    hold = _Hold()
    with _installed(hold):
        yield
    for signum in hold.pending:
        if isinstance(outer, _Stops):
            outer(signum, None)  # the first raises; later ones count as presses
        else:
            raise KeyboardInterrupt
