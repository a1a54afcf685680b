"""The one way perfop runs git: every perfop git call goes through this module.

Every call runs ``git -c core.hooksPath=/dev/null -C <repo> ...`` in a process group of its own
with ``GIT_OPTIONAL_LOCKS=0`` (never refresh the user's index as a side effect) and
``GIT_TERMINAL_PROMPT=0``. By default the user's ``GIT_*`` overrides are removed and perfop's
identity is set (``env``); a read-only call whose answer must follow the user's set-up (where
the repository is, what ``origin`` points at) passes ``user_env=True`` to keep the user's
environment. ``tests/unit/test_git_runner.py`` fails when another module spawns git itself.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perfop import interrupts
from perfop.errors import GitError

IDENTITY = {
    "GIT_AUTHOR_NAME": "perfop",
    "GIT_AUTHOR_EMAIL": "perfop@localhost",
    "GIT_COMMITTER_NAME": "perfop",
    "GIT_COMMITTER_EMAIL": "perfop@localhost",
}


def environment(extra: Mapping[str, str] | None = None, *, user: bool = False) -> dict[str, str]:
    """The environment for perfop's git calls.

    ``user=False``: the user's GIT_* overrides removed, perfop's identity set. ``user=True``: the
    user's environment as it is. Both: no optional locks, no terminal prompt; ``extra`` last.
    """
    if user:
        env = dict(os.environ)
    else:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(IDENTITY)
    env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0")
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True)
class Completed:
    """A finished git call: exit status and raw output (``stdout``/``stderr``: decoded)."""

    returncode: int
    stdout_bytes: bytes
    stderr_bytes: bytes

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", "replace")

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(
    repo: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    user_env: bool = False,
    timeout: float = 300.0,
    input: bytes | str | None = None,
) -> Completed:
    """Run ``git -C repo args`` (hooks off); whatever the exit status. Raises OSError when git
    cannot be started, ``subprocess.TimeoutExpired`` after ``timeout`` seconds (git killed)."""
    argv = ["git", "-c", "core.hooksPath=/dev/null", "-C", str(repo), *args]
    data = input.encode() if isinstance(input, str) else input
    code, out, err = _run_group(
        argv, env=environment(env, user=user_env), timeout=timeout, input=data
    )
    return Completed(code, out, err)


def git(
    repo: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 300.0,
    input: bytes | str | None = None,
) -> str:
    """Run ``git -C repo args`` with hooks disabled; stdout stripped. Raises GitError on failure."""
    try:
        done = run(repo, *args, env=env, timeout=timeout, input=input)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH; install git") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"`git {shlex.join(args)}` timed out in {repo}") from None
    if check and done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise GitError(f"`git {shlex.join(args)}` failed in {repo}: {detail}")
    return done.stdout.strip()


def _run_group(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    input: bytes | None = None,
) -> tuple[int, bytes, bytes]:
    """Run ``argv`` in a process group of its own; on any exception the whole group is gone first.

    git does its work in children (``git worktree add`` runs ``git reset --hard``): killing only
    the ``git`` that perfop started, as ``subprocess.run`` does on Ctrl-C, left the grandchild
    writing files into a worktree that the session's release had already removed. The group
    also keeps a terminal's Ctrl-C from reaching git half-way: perfop decides when git stops.
    """
    with interrupts.first_only():
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            process_group=0,
        )
        try:
            out, err = proc.communicate(input=input, timeout=timeout)
        except BaseException:
            _end_group(proc)
            raise
    return proc.returncode, out, err


def _end_group(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGKILL ``proc``'s group, reap ``proc``, and wait (bounded) until no member is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.kill()  # a no-op unless the group could not be signalled
    proc.wait()  # a killed group writes nothing more: the pipes need no draining
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):  # stdin: unflushed input to a killed git
                pipe.close()
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.005)
