"""Guardrails of every tool call an agent makes (through the MCP server or perfop's agent
runner): confined paths, safe refs, argument parsing, one-line tool errors, and the cancel token
of a call running in a worker thread.

Pure helpers and a ``CancelToken``; nothing here knows about MCP messages (the server's worker
threads are ``perfop.mcp.guards.run_blocking``). A tool that breaks a rule gets a
``GuardrailError`` whose one-line message names the argument and the fix.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from perfop.errors import GuardrailError, PerfopError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_REF_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./@{}~^:+-]*$")


# --- paths ---------------------------------------------------------------------------------------


def confine_path(repo_root: Path, value: str, *, argument: str) -> Path:
    """Resolve ``value`` against the repository and refuse anything that leaves it.

    Refused: absolute paths outside the repository, ``..`` escapes, symlinks (anywhere on the way)
    that lead outside, paths inside ``.git`` (hooks and config are code), and NUL bytes or empty
    strings. The path need not exist (an output file may be new).
    """
    if not value or not value.strip():
        raise GuardrailError(f"{argument}: empty path; give a path inside the repository")
    if "\x00" in value:
        raise GuardrailError(f"{argument}: path contains a NUL byte; give a plain path")
    if value.startswith("~"):
        raise GuardrailError(
            f"{argument}: {value!r}: '~' is not expanded; give a path relative to the repository"
        )
    root = repo_root.resolve()
    raw = Path(value)
    candidate = raw if raw.is_absolute() else root / raw
    # strict=False resolves every symlink that exists, so a link pointing out is caught here.
    resolved = candidate.resolve(strict=False)
    try:
        rel = resolved.relative_to(root)
    except ValueError:
        raise GuardrailError(
            f"{argument}: {value!r} resolves outside the repository {root}; "
            "give a path inside it (absolute paths, '..' and symlinks out are refused)"
        ) from None
    if rel.parts[:1] == (".git",):
        raise GuardrailError(f"{argument}: {value!r} is inside .git; perfop does not touch it")
    return resolved


def looks_like_path(value: str) -> bool:
    """A component given as a path (not a dotted module name)."""
    return "/" in value or "\\" in value or value.startswith((".", "~")) or value.endswith(".py")


def check_components(repo_root: Path, components: Iterable[str], *, argument: str) -> None:
    for item in components:
        if looks_like_path(item) and not re.fullmatch(r"[A-Za-z0-9_.]+", item):
            confine_path(repo_root, item, argument=argument)


def check_ref(value: str, *, argument: str) -> str:
    """A git ref or sha given by the agent: no option injection, no whitespace or control chars."""
    text = value.strip()
    if text.startswith("-"):
        raise GuardrailError(f"{argument}: {value!r} starts with '-'; give a ref name, not a flag")
    if not text or not _REF_RE.match(text) or ".." in text:
        raise GuardrailError(
            f"{argument}: {value!r} is not a git ref; give a branch, tag or commit sha"
        )
    return text


# --- arguments and errors ------------------------------------------------------------------------


def parse_args(model: type[M], tool: str, arguments: Mapping[str, Any] | None) -> M:
    """Validate tool arguments; the first problem becomes a one-line ``UsageError``-like error."""
    from perfop.config import format_validation_error
    from perfop.errors import UsageError

    if arguments is not None and not isinstance(arguments, Mapping):
        raise UsageError(f"{tool}: arguments must be a JSON object")
    try:
        return model.model_validate(dict(arguments or {}))
    except ValidationError as exc:
        raise UsageError(format_validation_error(exc, model, tool)) from None


def error_message(exc: BaseException) -> str:
    """One line for any failure: perfop's own message, or the exception's type and text."""
    if isinstance(exc, PerfopError):
        return exc.message
    text = " ".join(str(exc).split()) or "no details"
    return f"internal error ({type(exc).__name__}: {text[:300]}); please report it"


# --- cancellable worker threads ------------------------------------------------------------------


class ToolCancelled(KeyboardInterrupt):
    """Raised inside a worker thread when its tool call is cancelled or runs out of time.

    A ``KeyboardInterrupt`` on purpose: services clean up after it exactly as after a Ctrl-C
    (interrupted runs marked, worktrees removed, workload process groups killed).
    """


class CancelToken:
    """Tells a service running in a worker thread to stop, the way Ctrl-C stops the CLI.

    ``check()`` raises at safe points (progress callbacks). If the service does not reach one soon
    (a long sample, a git command), ``interrupt()`` raises ``ToolCancelled`` asynchronously in the
    worker thread at its next Python instruction. Either way at most one exception is delivered,
    so the service's own clean-up is never interrupted twice.
    """

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._fired = False
        self.done = threading.Event()
        self.reason = "cancelled"
        self._thread_id: int | None = None
        # Who claimed the call first: the worker (it runs ``fn``) or the canceller (the job was
        # abandoned before a worker picked it up, so nothing will ever run or set ``done``).
        self._claimed_by: str | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self, reason: str) -> None:
        if not self._cancelled.is_set():
            self.reason = reason
            self._cancelled.set()

    def check(self) -> None:
        """Raise ``ToolCancelled`` in the calling (worker) thread if the call was cancelled."""
        if not self._cancelled.is_set():
            return
        with self._lock:
            if self._fired or self.done.is_set():
                return
            self._fired = True
        raise ToolCancelled(self.reason)

    def interrupt(self) -> None:
        """Deliver ``ToolCancelled`` to the worker thread now (unless already delivered).

        Delivered only under the lock and only while the worker is inside ``call`` (it clears
        its id under the same lock), so the exception can never land in the thread pool's own
        code after the call returned.
        """
        with self._lock:
            if self._fired or self._thread_id is None:
                return
            self._fired = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self._thread_id), ctypes.py_object(ToolCancelled)
            )

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in the current thread under this token (the worker's entry point)."""
        with self._lock:
            if self._claimed_by == "canceller":
                # Abandoned before it started: never run, and there is no one left to tell.
                raise ToolCancelled(self.reason)
            self._claimed_by = "worker"
            self._thread_id = threading.get_ident()
        try:
            self.check()
            return fn()
        finally:
            # An interrupt delivered just as ``fn`` returned surfaces here at the latest: absorb
            # it, the call is over either way, and ``done`` must always be set. The loop is
            # inline on purpose: an async exception fires at a function's entry, so entering a
            # helper (``_leave`` before) could raise outside its ``try`` and leave ``done`` unset
            # (the MCP call then waited for it forever: seen in CI under load).
            while True:
                try:
                    with self._lock:
                        self._thread_id = None
                    self.done.set()
                    break
                except ToolCancelled:
                    continue

    def abandon(self) -> bool:
        """Claim the call for the canceller if no worker has started it; True if the worker has.

        A job cancelled before a worker thread picks it up is never run (anyio drops it), so
        waiting for ``done`` would wait forever; after ``abandon`` the worker, should it still
        pick the job up, refuses to run it.
        """
        with self._lock:
            if self._claimed_by is None:
                self._claimed_by = "canceller"
                self.done.set()
            return self._claimed_by == "worker"
