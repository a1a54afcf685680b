"""Run one workload process and measure it: the only place perfop spawns a measured process.

One sample is one fresh process in its own process group. Wall time is taken from a monotonic
clock around spawn-to-reap; user/sys CPU and peak RSS come from ``os.wait4`` of that child alone
(``RUSAGE_CHILDREN`` accumulates over every child ever reaped and never resets). Output of any
size and encoding is drained while the process runs, so a chatty workload never blocks on a full
pipe; only a digest, a head and the metric lines are kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from perfop.config import ResolvedWorkload
from perfop.errors import WorkloadError
from perfop.model import BUILTIN_METRICS, MetricSpec, ProcessResult

STDERR_TAIL_BYTES = 2048
STDOUT_HEAD_BYTES = 64 * 1024
METRIC_PREFIX = b"PERFOP_METRIC "
_METRIC_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.:-]*)=(\S+)$")
_CHUNK = 1 << 16
_LONG_LINE = 1 << 20
_TRAILING_WS = re.compile(rb"[ \t\r\f\v]+(?=\n)")


class _StdoutSink:
    """Consumes stdout incrementally: metric lines, a digest of the rest, and its head.

    Normalisation for the behaviour check: trailing whitespace of each line and trailing blank
    lines of the whole output are dropped, and ``PERFOP_METRIC`` lines are removed. Work is done
    per block with C-level bytes operations, so 50 MB of output costs milliseconds, not seconds.
    """

    def __init__(self) -> None:
        self._pending = bytearray()
        self._digest = hashlib.sha256()
        self._head = bytearray()
        self._blank_run = 0  # newlines held back: they only count if more output follows
        self.total = 0
        self.metrics: dict[str, float] = {}
        self.specs: dict[str, MetricSpec] = {}

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        last_nl = data.rfind(b"\n")
        if last_nl < 0:
            self._pending += data
            if len(self._pending) > _LONG_LINE and not self._pending.startswith(METRIC_PREFIX):
                # A huge line is never a metric line: emit all but a tail that may hold whitespace.
                cut = len(self._pending) - 4096
                self._emit_partial(bytes(self._pending[:cut]))
                del self._pending[:cut]
            return
        block = bytes(self._pending) + data[: last_nl + 1]
        self._pending = bytearray(data[last_nl + 1 :])
        self._block(block)

    def close(self) -> None:
        if self._pending:
            self._block(bytes(self._pending) + b"\n")
            self._pending.clear()

    def _block(self, block: bytes) -> None:
        """``block`` is whole lines, ending with a newline."""
        if METRIC_PREFIX in block:
            kept = []
            for line in block.split(b"\n")[:-1]:
                if line.startswith(METRIC_PREFIX):
                    self._metric(line[len(METRIC_PREFIX) :].decode("utf-8", "replace"))
                else:
                    kept.append(line)
            if not kept:
                return
            block = b"\n".join(kept) + b"\n"
        norm = _TRAILING_WS.sub(b"", block)
        body = norm.rstrip(b"\n")
        if not body:
            self._blank_run += len(norm)
            return
        self._emit(b"\n" * self._blank_run + body + b"\n")
        self._blank_run = len(norm) - len(body) - 1

    def _emit_partial(self, chunk: bytes) -> None:
        self._emit(b"\n" * self._blank_run + chunk)
        self._blank_run = 0

    def _emit(self, out: bytes) -> None:
        self._digest.update(out)
        room = STDOUT_HEAD_BYTES - len(self._head)
        if room > 0:
            self._head += out[:room]

    def _metric(self, text: str) -> None:
        fields = text.split()
        if not fields:
            return
        match = _METRIC_RE.match(fields[0])
        if not match:
            return
        name, raw = match.groups()
        try:
            value = float(raw)
        except ValueError:
            return
        unit, better = "", "lower"
        for extra in fields[1:]:
            key, _, val = extra.partition("=")
            if key == "unit":
                unit = val
            elif key == "better" and val in ("lower", "higher"):
                better = val
        self.metrics[name] = value
        self.specs[name] = MetricSpec(name=name, unit=unit, better=better)  # type: ignore[arg-type]

    @property
    def digest(self) -> str:
        return self._digest.hexdigest()

    @property
    def head(self) -> str:
        return bytes(self._head).decode("utf-8", "replace")


def workload_env(
    extra: Mapping[str, str] | None = None, *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a workload process gets: perfop's own, with the workload's variables on top.

    Workloads need PATH, HOME, virtualenv variables and so on, so the process environment is
    inherited; only what is *recorded* is allow-listed and redacted (see environment.py).
    """
    env = dict(os.environ if base is None else base)
    env.update(extra or {})
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> ProcessResult:
    """Spawn ``argv`` once, drain its output, reap it, and return what was measured.

    Raises ``WorkloadError`` only when the process cannot be started at all; a crash, a signal or a
    timeout is a failed ``ProcessResult``.
    """
    sink = _StdoutSink()
    stderr_tail = bytearray()
    start = clock()
    try:
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
    except FileNotFoundError:
        if not Path(cwd).is_dir():
            raise WorkloadError(
                f"working directory {cwd} does not exist; fix the workload's cwd"
            ) from None
        raise WorkloadError(
            f"command not found: {argv[0]!r}; check the workload's command"
        ) from None
    except PermissionError:
        raise WorkloadError(f"command not executable: {argv[0]!r}; check its permissions") from None
    except OSError as exc:
        raise WorkloadError(f"cannot start {argv[0]!r}: {exc.strerror}") from None

    reaped: dict[str, object] = {}

    def reap() -> None:
        _, status, usage = os.wait4(proc.pid, 0)
        reaped["end"] = clock()
        reaped["status"] = status
        reaped["usage"] = usage

    reaper = threading.Thread(target=reap, name=f"perfop-reap-{proc.pid}", daemon=True)
    reaper.start()
    deadline = time.monotonic() + timeout
    timed_out = False
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    grace_until: float | None = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if not timed_out and now >= deadline:
                timed_out = True
                _kill_group(proc.pid)
            if not reaper.is_alive():
                # The child is gone; descendants still holding the pipes get a short grace.
                grace_until = grace_until or now + 0.5
                if now >= grace_until:
                    _kill_group(proc.pid)
                    break
            wait = max(0.0, min(deadline - now, 0.25)) if not timed_out else 0.05
            for key, _ in sel.select(timeout=wait):
                data = os.read(key.fd, _CHUNK)
                if not data:
                    sel.unregister(key.fileobj)
                elif key.data == "out":
                    sink.feed(data)
                else:
                    stderr_tail += data
                    if len(stderr_tail) > 4 * STDERR_TAIL_BYTES:
                        del stderr_tail[:-STDERR_TAIL_BYTES]
        remaining = max(0.0, deadline - time.monotonic())
        reaper.join(remaining)
        if reaper.is_alive():
            timed_out = True
            _kill_group(proc.pid)
            reaper.join()
    except BaseException:
        # Ctrl-C or SIGTERM while measuring: never leave the workload behind.
        _kill_group(proc.pid)
        reaper.join(5)
        raise
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
        # Popen never waited; tell it the child is reaped so it does not warn or wait again.
        proc.returncode = -1 if "status" not in reaped else 0
    # Leftover members of the group (daemons the workload started) must not leak into the next
    # sample's measurement.
    _kill_group(proc.pid)
    sink.close()
    status = int(reaped["status"])  # type: ignore[call-overload]
    usage = reaped["usage"]
    exit_code = os.waitstatus_to_exitcode(status)
    sig = -exit_code if exit_code < 0 else None
    wall = (int(reaped["end"]) - start) / 1e9  # type: ignore[call-overload]
    user = float(usage.ru_utime)  # type: ignore[attr-defined]
    sys_ = float(usage.ru_stime)  # type: ignore[attr-defined]
    rss = int(usage.ru_maxrss) * 1024  # type: ignore[attr-defined]  # Linux reports KiB
    metrics = {"wall_time": wall, "user_time": user, "sys_time": sys_, "peak_rss": float(rss)}
    specs = {
        name: MetricSpec(name, unit, better) for name, (unit, better) in BUILTIN_METRICS.items()
    }
    for name, value in sink.metrics.items():
        if name not in BUILTIN_METRICS:
            metrics[name] = value
            specs[name] = sink.specs[name]
    return ProcessResult(
        argv=tuple(argv),
        exit_code=None if sig is not None else exit_code,
        signal=sig if not timed_out else None,
        timed_out=timed_out,
        wall_time=wall,
        user_time=user,
        sys_time=sys_,
        peak_rss=rss,
        metrics=metrics,
        metric_specs=specs,
        stdout_digest=sink.digest,
        stdout_head=sink.head,
        stdout_bytes=sink.total,
        stderr_tail=bytes(stderr_tail[-STDERR_TAIL_BYTES:]).decode("utf-8", "replace"),
    )


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run_setup(
    resolved: ResolvedWorkload, *, env: Mapping[str, str], timeout: float = 900.0
) -> None:
    """Run the workload's ``setup`` command once (per checkout); a failure is a WorkloadError."""
    if not resolved.setup:
        return
    result = run_process(resolved.setup, cwd=resolved.cwd, env=env, timeout=timeout)
    if not result.ok:
        tail = result.stderr_tail.strip().splitlines()[-1:] or [""]
        raise WorkloadError(
            f"setup of workload {resolved.name!r} failed ({result.describe_failure()}): "
            f"{tail[0][:200]}; fix its 'setup' command"
        )


def measure(
    resolved: ResolvedWorkload,
    *,
    runs: int,
    warmup: int,
    env: Mapping[str, str],
    on_result: Callable[[int, ProcessResult], None] | None = None,
    on_warmup: Callable[[int, ProcessResult], None] | None = None,
) -> list[ProcessResult]:
    """Warm up, then spawn the workload ``runs`` times; ``on_result`` sees each measured process.

    Warm-up results are discarded (they still reach ``on_warmup`` so a caller can show them).
    """
    for i in range(warmup):
        result = run_process(resolved.argv, cwd=resolved.cwd, env=env, timeout=resolved.timeout)
        if on_warmup:
            on_warmup(i, result)
    results: list[ProcessResult] = []
    for i in range(runs):
        result = run_process(resolved.argv, cwd=resolved.cwd, env=env, timeout=resolved.timeout)
        results.append(result)
        if on_result:
            on_result(i, result)
    return results


def set_affinity(cpus: Sequence[int] | None) -> None:
    """Pin perfop (and so every workload it spawns) to ``cpus``; None leaves the mask alone."""
    if not cpus:
        return
    try:
        os.sched_setaffinity(0, set(cpus))
    except (OSError, ValueError) as exc:
        raise WorkloadError(f"cannot pin to CPUs {list(cpus)}: {exc}; check 'affinity'") from None
