"""How a measured process is started and reaped: through perfop's spawner, or directly.

``launch`` returns a ``Launched``: the process's output pipes, a blocking ``wait`` that yields its
``Reaped`` numbers (status, wall time, rusage) and a ``kill`` for its process group. The spawner
(``perfop.measure._spawner``, protocol in its docstring) keeps perfop's own memory out of the
child's peak RSS; where it cannot run, processes are spawned directly.
"""

from __future__ import annotations

import array
import contextlib
import functools
import marshal
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfop.errors import UsageError

DEFAULT_SPIN_US = 300


@dataclass(frozen=True)
class Reaped:
    pid: int
    status: int
    wall_ns: int
    utime: float
    stime: float
    maxrss_kb: int
    # Every process of the sample is gone (the spawner reaped them all): the output pipes hold
    # all the output there will be, so no end-of-file needs waiting for.
    contained: bool = False
    timed_out: bool = False  # killed by the spawner at its deadline (batches only)


class SpawnFailed(OSError):
    """The spawner could not start the program (its errno and message)."""


class Launched:
    """A started process: its output pipes, a blocking ``wait`` and a ``kill`` for its group.

    ``exit_fd``, when set, is the spawner's socket: it becomes readable once, when the spawner
    reports the exit (or that nothing could be started), so the output loop watches it instead of
    a reaper thread per sample. perfop never needs the pid while the process runs: a kill is a
    request to the spawner, which owns the child.
    """

    def __init__(
        self,
        out_fd: int,
        err_fd: int,
        wait: Callable[[], Reaped],
        kill: Callable[[], None],
        exit_fd: int | None = None,
        spin_ns: int = 0,
    ) -> None:
        self.out_fd, self.err_fd, self.wait, self.kill = out_fd, err_fd, wait, kill
        self.exit_fd, self.spin_ns = exit_fd, spin_ns


@dataclass(frozen=True)
class BatchReport:
    """What the spawner reported for a batch: the samples reaped, in order, and why it ended
    early, if it did (``stopped``: a kill was asked; ``error``: a sample could not start)."""

    reaped: list[Reaped]
    stopped: bool = False
    error: SpawnFailed | None = None


class LaunchedBatch:
    """``count`` samples of one command started as one batch: each sample's output pipes, the
    spawner's socket (readable once, when the whole batch is reported), ``wait`` for that
    report and ``kill`` to end the batch after the running sample."""

    def __init__(
        self,
        out_fds: list[int],
        err_fds: list[int],
        exit_fd: int,
        wait: Callable[[], BatchReport],
        kill: Callable[[], None],
    ) -> None:
        self.out_fds, self.err_fds, self.exit_fd = out_fds, err_fds, exit_fd
        self.wait, self.kill = wait, kill


class SpinChooser:
    """Learns, on this machine at its current load, whether the spawner should poll for the
    next request (for ``window_us``) or sleep until it comes.

    Polling saves the sender a wake-up (an inter-processor interrupt, a hypervisor trip on a
    VM: ~50 us measured on one Intel VM) but on a loaded machine a polling process that yields
    its CPU can wait behind other jobs for longer than a wake-up would have cost (on the AMD VM
    of issue 18, polling made the same run 2x slower at load 4). Which one wins depends on the
    CPU, the hypervisor and the load, so neither is hard-wired: samples are measured in blocks
    of ``BLOCK``, each block in one mode; the median per-sample hand-off cost of each block (the
    time from one exit report to the next, minus the measured process's own wall time) is kept
    for the last ``KEEP`` blocks of each mode, the cheaper mode is used, and both modes are
    re-measured every ``PERIOD`` blocks so a change of load is followed.
    """

    BLOCK = 8
    KEEP = 3
    PERIOD = 16

    def __init__(self, window_us: int, *, adaptive: bool = True) -> None:
        self.window_us = window_us
        self.adaptive = adaptive and window_us > 0
        self.costs: dict[int, list[float]] = {0: [], window_us: []}
        self._block: dict[int, list[float]] = {0: [], window_us: []}
        self._count = 0  # hand-off costs recorded

    def next_spin(self) -> int:
        """Microseconds to poll after the coming sample, for the request that follows it."""
        if not self.adaptive:
            return self.window_us
        block = self._count // self.BLOCK
        if block < 4 or block % self.PERIOD < 2:  # learning: alternate the two modes
            return self.window_us if block % 2 == 0 else 0
        return self.best()

    def best(self) -> int:
        """The cheaper mode so far (sleeping when the two are equal or unmeasured)."""
        spin, sleep = self.costs[self.window_us], self.costs[0]
        if spin and sleep and _median(spin) < _median(sleep):
            return self.window_us
        return 0 if self.adaptive else self.window_us

    def record(self, spin_us: int, cost_ns: float) -> None:
        """The hand-off cost of one sample whose request was waited for with ``spin_us``."""
        if not self.adaptive:
            return
        block = self._block.setdefault(spin_us, [])
        block.append(cost_ns)
        self._count += 1
        if len(block) == self.BLOCK:
            history = self.costs.setdefault(spin_us, [])
            history.append(_median(block))
            del history[: -self.KEEP]
            block.clear()


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


class Spawner:
    """Client of ``perfop.measure._spawner``: a small helper process that spawns and reaps for
    us."""

    def __init__(self) -> None:
        self.spin_us = spin_us_setting()
        self.chooser = SpinChooser(self.spin_us, adaptive=spin_us_is_default())
        self._spin_sent: int | None = None  # the spin asked for after the previous sample
        self._spin_now = 0
        self._last_reply_ns: int | None = None
        # The spawner watches its child through a pidfd (Linux 5.3+); without one, spawn directly.
        os.close(os.pidfd_open(os.getpid()))
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        script = Path(__file__).with_name("_spawner.py")
        self.proc = subprocess.Popen(
            [sys.executable, "-S", "-E", "-s", str(script), str(child.fileno()), str(self.spin_us)],
            pass_fds=[child.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        child.close()
        self.sock = parent
        self._sent_env: dict[str, str] | None = None
        self._running = False  # a request was sent and its reply not read yet
        self._last_pid: int | None = None
        self.contained: bool | None = None  # what the spawner's reports say; None: none yet

    def launch(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Launched:
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        try:
            spin = self.chooser.next_spin()
            message: dict[str, Any] = {"argv": list(argv), "cwd": str(cwd), "spin": spin}
            if env != self._sent_env:  # the spawner keeps the last environment it was sent
                message["env"] = dict(env)
            request = marshal.dumps(message)
            self.sock.sendmsg(
                [request],
                [
                    (
                        socket.SOL_SOCKET,
                        socket.SCM_RIGHTS,
                        array.array("i", [out_w, err_w]).tobytes(),
                    )
                ],
            )
            if "env" in message:
                self._sent_env = message["env"]
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        self._running, self._last_pid = True, None
        self._spin_now = spin
        return Launched(
            out_r, err_r, self._wait, self._kill, self.sock.fileno(), self.spin_us * 1000
        )

    # At most this many samples in one request: two fds each, under SCM_RIGHTS' 253 per message.
    MAX_BATCH = 64

    @property
    def batches(self) -> bool:
        """Whether this spawner runs batches: only as a subreaper, whose samples are contained
        (every process reaped), so that nothing of one sample outlives it into the next."""
        return self.contained is True

    def launch_batch(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], *, count: int, timeout: float
    ) -> LaunchedBatch:
        """Start ``count`` (<= ``MAX_BATCH``) samples of ``argv`` as one request: the spawner
        runs them back to back, each within ``timeout`` seconds, and reports them together."""
        if not 1 <= count <= self.MAX_BATCH:
            raise ValueError(f"a batch is 1 to {self.MAX_BATCH} samples (got {count})")
        reads: list[int] = []
        writes: list[int] = []
        try:
            for _ in range(2 * count):
                r, w = os.pipe2(os.O_CLOEXEC)
                reads.append(r)
                writes.append(w)
            message: dict[str, Any] = {
                "argv": list(argv),
                "cwd": str(cwd),
                "count": count,
                "timeout": float(timeout),
                "spin": 0,  # the next request is a batch's processing away: sleep for it
            }
            if env != self._sent_env:
                message["env"] = dict(env)
            self.sock.sendmsg(
                [marshal.dumps(message)],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", writes).tobytes())],
            )
            if "env" in message:
                self._sent_env = message["env"]
        except BaseException:
            for fd in reads:
                os.close(fd)
            raise
        finally:
            for fd in writes:
                os.close(fd)
        self._running, self._last_pid = True, None
        # The chooser's report-to-report costs would mix a batch in: start its series afresh.
        self._last_reply_ns = self._spin_sent = None
        return LaunchedBatch(
            reads[0::2], reads[1::2], self.sock.fileno(), self._wait_batch, self._kill
        )

    def _wait_batch(self) -> BatchReport:
        r = self._recv()
        self._running = False
        contained = self.contained = bool(r.get("contained", False))
        reaped = [
            Reaped(int(pid), int(st), int(ns), float(ut), float(sy), int(kb), contained, bool(to))
            for pid, st, ns, ut, sy, kb, to in r["batch"]
        ]
        if reaped:
            self._last_pid = reaped[-1].pid
        error = SpawnFailed(r["error"], r.get("message", "")) if "error" in r else None
        return BatchReport(reaped, bool(r.get("stopped", False)), error)

    def _wait(self) -> Reaped:
        r = self._recv()
        now = time.perf_counter_ns()
        self._running = False
        previous, self._last_reply_ns = self._last_reply_ns, now
        spin_before, self._spin_sent = self._spin_sent, self._spin_now
        if "error" in r:
            raise SpawnFailed(r["error"], r.get("message", ""))
        if previous is not None and spin_before is not None:
            # From one report to the next, less the process's own time: what the hand-offs
            # (and perfop's own work between samples) cost with that way of waiting.
            self.chooser.record(spin_before, now - previous - int(r["wall_ns"]))
        self._last_pid = int(r["pid"])
        self.contained = bool(r.get("contained", False))
        return Reaped(
            self._last_pid,
            int(r["status"]),
            int(r["wall_ns"]),
            float(r["utime"]),
            float(r["stime"]),
            int(r["maxrss_kb"]),
            bool(r.get("contained", False)),
        )

    def _kill(self) -> None:
        """Kill the current process group: through the spawner while it runs, directly after."""
        if self._running:
            with contextlib.suppress(OSError):
                self.sock.send(marshal.dumps({"kill": True}))
        elif self._last_pid is not None:
            kill_group(self._last_pid)  # members the workload left behind

    def _recv(self) -> dict[str, Any]:
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("perfop's spawner exited")
        return marshal.loads(data)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=2)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


_local = threading.local()


def spawner() -> Spawner | None:
    """This thread's spawner, started on first use; None when it cannot run (spawn directly)."""
    sp: Spawner | None = getattr(_local, "spawner", None)
    if sp is not None and sp.proc.poll() is None:
        return sp
    if getattr(_local, "spawner_failed", False):
        return None
    try:
        _local.spawner = Spawner()
    except (OSError, AttributeError):  # AttributeError: no os.pidfd_open on this platform
        _local.spawner_failed = True
        return None
    return _local.spawner  # type: ignore[no-any-return]


def drop_spawner() -> None:
    sp: Spawner | None = getattr(_local, "spawner", None)
    if sp is not None:
        sp.close()
        _local.spawner = None


def launch_direct(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Launched:
    """Fallback without the spawner: peak RSS is then floored at perfop's own resident size."""
    start = time.perf_counter_ns()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = os.dup(proc.stdout.fileno()), os.dup(proc.stderr.fileno())
    proc.stdout.close()
    proc.stderr.close()

    def wait() -> Reaped:
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter_ns() - start
        proc.returncode = 0  # reaped here; keep Popen from waiting or warning
        return Reaped(proc.pid, status, wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss)

    return Launched(out_fd, err_fd, wait, functools.partial(kill_group, proc.pid))


def spin_us_setting() -> int:
    """Microseconds perfop and its spawner poll before sleeping while a reply is imminent.

    ``PERFOP_SPIN_US`` overrides the default; 0 turns polling off (every wait sleeps).
    """
    raw = os.environ.get("PERFOP_SPIN_US", "").strip()
    if not raw:
        return DEFAULT_SPIN_US
    if not (raw.isascii() and raw.isdigit()) or int(raw) > 100_000:
        raise UsageError(
            f"PERFOP_SPIN_US must be a whole number of microseconds from 0 to 100000 "
            f"(got {raw[:40]!r}); unset it for the default {DEFAULT_SPIN_US}, or 0 to never poll"
        )
    return int(raw)


def spin_us_is_default() -> bool:
    """No ``PERFOP_SPIN_US`` given: the polling window is learnt (``SpinChooser``)."""
    return not os.environ.get("PERFOP_SPIN_US", "").strip()


def spin_until_readable(fd: int, spin_ns: int) -> bool:
    """Poll ``fd`` for a moment without sleeping, yielding the CPU; True once it is readable.

    Used only after the measured process has closed its output, when the spawner's report is
    microseconds away: sleeping would make the spawner pay for waking us (see _spawner.py).
    """
    until = time.perf_counter_ns() + spin_ns
    while time.perf_counter_ns() < until:
        if select.select([fd], [], [], 0)[0]:
            return True
        os.sched_yield()
    return False


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def launch(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Launched:
    """Start ``argv`` (an absolute program path first) through the spawner, or directly.

    Raises ``OSError`` when the program cannot be started.
    """
    sp = spawner()
    if sp is not None:
        try:
            return sp.launch(argv, cwd, env)
        except (ConnectionError, BrokenPipeError):
            drop_spawner()
    return launch_direct(argv, cwd, env)


def launch_batch(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], *, count: int, timeout: float
) -> LaunchedBatch | None:
    """Start ``count`` samples of ``argv`` as one batch (``Spawner.launch_batch``); None when
    this thread's spawner cannot run batches (not running, or its samples not contained):
    the caller then runs them one by one.

    Raises ``OSError`` when the request cannot be sent (the spawner is then dropped).
    """
    sp = spawner()
    if sp is None or not sp.batches:
        return None
    try:
        return sp.launch_batch(argv, cwd, env, count=count, timeout=timeout)
    except (ConnectionError, BrokenPipeError):
        drop_spawner()
        return None
