"""Run one workload process and measure it: the only way perfop runs a measured process.

One sample is one fresh process in its own process group. Wall time is taken from a monotonic
clock around spawn-to-reap; user/sys CPU and peak RSS come from ``os.wait4`` of that child alone
(``RUSAGE_CHILDREN`` accumulates over every child ever reaped and never resets). Output of any
size and encoding is drained while the process runs, so a chatty workload never blocks on a full
pipe; only a digest, a head and the metric lines are kept. The digest covers the first
``check_bytes`` of stdout (``STDOUT_CHECK_BYTES`` by default, the workload's
``check_output_bytes``) and only the length of the rest, which is skimmed for metric lines at
close to pipe speed. Starting and reaping the process is ``perfop.measure.launch``'s job.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import select
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from perfop.config import ResolvedWorkload
from perfop.errors import WorkloadError
from perfop.measure.launch import (
    BatchReport,
    Launched,
    LaunchedBatch,
    Reaped,
    SpawnFailed,
    drop_spawner,
    launch,
    launch_batch,
    spin_until_readable,
)
from perfop.model import BUILTIN_METRICS, MetricSpec, ProcessResult

STDERR_TAIL_BYTES = 2048
_EMPTY_DIGEST = hashlib.sha256().hexdigest()
STDOUT_HEAD_BYTES = 64 * 1024
# The behaviour check's budget: stdout lines that start within the first 16 MiB are normalised
# and hashed (~40 ms on a quiet core); of the rest only the length (metric lines excluded) is
# hashed, so 500 MB of output drains at close to pipe speed. ``check_output_bytes`` sets it.
STDOUT_CHECK_BYTES = 16 << 20
METRIC_PREFIX = b"PERFOP_METRIC "
_NL_METRIC = b"\n" + METRIC_PREFIX
# Names up to 200 characters (the store's column) and units up to 32; longer is not a metric line.
_METRIC_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.:-]{0,199})=(\S+)$")
_CHUNK = 1 << 16  # first reads; a pipe that fills a whole read is a chatty one:
_BIG_CHUNK = 1 << 20  # it is grown to this (F_SETPIPE_SZ) and read this much at a time
_LONG_LINE = 1 << 20
_TRAILING_WS = b" \t\r\f\v"
_WS_TO_SPACE = bytes.maketrans(b"\t\r\f\v", b"    ")
try:
    import fcntl

    _F_SETPIPE_SZ: int | None = fcntl.F_SETPIPE_SZ  # type: ignore[attr-defined,unused-ignore]
except (ImportError, AttributeError):  # not Linux, or Python without the constant
    _F_SETPIPE_SZ = None


def _grow_pipe(fd: int) -> None:
    """Give a chatty workload's pipe a 1 MiB buffer (fewer wake-ups of writer and reader);
    the system's limit (/proc/sys/fs/pipe-max-size) may refuse it, which only costs speed."""
    if _F_SETPIPE_SZ is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, _BIG_CHUNK)


class _StdoutSink:
    """Consumes stdout incrementally: metric lines, a digest of the rest, and its head.

    Normalisation for the behaviour check: trailing whitespace of each line and trailing blank
    lines of the whole output are dropped, and ``PERFOP_METRIC`` lines are removed. Work is done
    per block with C-level bytes operations, so 50 MB of output costs milliseconds, not seconds.

    The budget: lines that start within the first ``check_bytes`` bytes are normalised and
    hashed (a line still open 1 MiB past the budget is cut there). Everything after that cut is
    only skimmed for metric lines, and its length less theirs (``unchecked``) is added to the
    digest, so output that changes length there is still told apart, but not output that changes
    content at the same length.
    """

    def __init__(self, check_bytes: int = STDOUT_CHECK_BYTES) -> None:
        self._pending = bytearray()
        self._digest = hashlib.sha256()
        self._head = bytearray()
        self.emitted = 0  # normalised bytes, of which the head keeps the first STDOUT_HEAD_BYTES
        self._blank_run = 0  # newlines held back: they only count if more output follows
        self.total = 0
        self.metrics: dict[str, float] = {}
        self.specs: dict[str, MetricSpec] = {}
        self.check_bytes = check_bytes
        self.beyond: int | None = None  # raw bytes after the budget's cut; None: not reached
        self._metric_bytes = 0  # of ``beyond``: metric lines (not part of the compared length)
        self._candidate: bytearray | None = None  # an open line past the cut that may be a metric
        self._mid_line = False  # past the cut, inside a line that is not a metric line

    @property
    def unchecked(self) -> int:
        """Bytes past the budget, metric lines excluded: compared by their count only."""
        return 0 if self.beyond is None else self.beyond - self._metric_bytes

    def feed(self, data: bytes) -> None:
        before = self.total
        self.total += len(data)
        if self.beyond is not None:
            self._skim(data)
            return
        if self.total >= self.check_bytes:
            # Cut after the line that holds byte check_bytes - 1 (or 1 MiB later, mid-line).
            cut, mid_line = 0, False
            if self.check_bytes:
                limit = self.check_bytes + _LONG_LINE
                nl = data.find(b"\n", max(0, self.check_bytes - 1 - before), limit - before)
                if nl < 0 and self.total < limit:
                    self._feed_checked(data)
                    return
                cut, mid_line = (nl + 1, False) if nl >= 0 else (limit - before, True)
                self._feed_checked(data[:cut])
                self.close()
            self.beyond = 0
            self._mid_line = mid_line
            self._skim(data[cut:])
            return
        self._feed_checked(data)

    def _feed_checked(self, data: bytes) -> None:
        if self.total > _NUMPY_AFTER and self.total - len(data) <= _NUMPY_AFTER:
            # Output this large costs more to check without NumPy than loading it does.
            _load_numpy()
        last_nl = data.rfind(b"\n")
        if last_nl < 0:
            self._pending += data
            if len(self._pending) > _LONG_LINE and not self._pending.startswith(METRIC_PREFIX):
                # A huge line is never a metric line: emit all but a tail that may hold whitespace.
                cut = len(self._pending) - 4096
                self._emit_partial(bytes(self._pending[:cut]))
                del self._pending[:cut]
            return
        if self._pending or last_nl + 1 < len(data):
            block = bytes(self._pending) + data[: last_nl + 1]
            self._pending = bytearray(data[last_nl + 1 :])
        else:
            block = data  # whole lines, the usual case: no copy
        self._block(block)

    def close(self) -> None:
        if self._pending:
            self._block(bytes(self._pending) + b"\n")
            self._pending.clear()
        if self._candidate is not None:
            if self._candidate.startswith(METRIC_PREFIX):
                self._skimmed_metric(bytes(self._candidate))
            self._candidate = None

    def _skim(self, data: bytes) -> None:
        """Past the budget: find the metric lines, count the bytes, keep nothing else."""
        self.beyond = (self.beyond or 0) + len(data)
        start = 0
        if self._candidate is not None or self._mid_line:
            nl = data.find(b"\n")
            if nl < 0:
                if self._candidate is not None:
                    self._candidate += data
                    if not _may_be_metric(self._candidate):
                        self._candidate, self._mid_line = None, True
                return
            if self._candidate is not None:
                line = bytes(self._candidate) + data[:nl]
                self._candidate = None
                if _may_be_metric(line) and len(line) >= len(METRIC_PREFIX):
                    self._skimmed_metric(line + b"\n")
            self._mid_line = False
            start = nl + 1
        # data[start:] begins at a line start
        at = start if data.startswith(METRIC_PREFIX, start) else _next_metric(data, start)
        while at >= 0:
            nl = data.find(b"\n", at)
            if nl < 0:
                self._candidate = bytearray(data[at:])
                return
            if nl - at <= _LONG_LINE:  # as long as an unfinished line may grow (_may_be_metric)
                self._skimmed_metric(data[at : nl + 1])
            at = _next_metric(data, nl)
        last = data.rfind(b"\n", start)
        tail = data[last + 1 :] if last >= 0 else data[start:]
        if tail:
            if _may_be_metric(tail):
                self._candidate = bytearray(tail)
            else:
                self._mid_line = True

    def _skimmed_metric(self, line: bytes) -> None:
        self._metric_bytes += len(line)
        self._metric(line[len(METRIC_PREFIX) :].decode("utf-8", "replace"))

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
        if _has_trailing_whitespace(block):
            norm = b"\n".join([line.rstrip(_TRAILING_WS) for line in block.split(b"\n")])
        else:
            norm = block
        end = len(norm)  # the body ends before the block's trailing newlines (no copy made)
        while end and norm[end - 1] == 10:
            end -= 1
        if not end:
            self._blank_run += len(norm)
            return
        if self._blank_run:
            self._emit(b"\n" * self._blank_run)
        self._emit(memoryview(norm)[: end + 1])
        self._blank_run = len(norm) - end - 1

    def _emit_partial(self, chunk: bytes) -> None:
        self._emit(b"\n" * self._blank_run + chunk)
        self._blank_run = 0

    def _emit(self, out: bytes | memoryview) -> None:
        self._digest.update(out)
        self.emitted += len(out)
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
                unit = val[:32]
            elif key == "better" and val in ("lower", "higher"):
                better = val
        self.metrics[name] = value
        self.specs[name] = MetricSpec(name=name, unit=unit, better=better)  # type: ignore[arg-type]

    @property
    def digest(self) -> str:
        if not self.total:  # nothing was fed: the digest of no bytes (most silent samples)
            return _EMPTY_DIGEST
        if self.beyond is None:
            return self._digest.hexdigest()
        digest = self._digest.copy()
        digest.update(b"\0perfop: %d bytes not compared\n" % self.unchecked)
        return digest.hexdigest()

    @property
    def head(self) -> str:
        return bytes(self._head).decode("utf-8", "replace")


def _next_metric(data: bytes, start: int) -> int:
    """Where the next line of ``data`` that starts with the metric prefix begins, or -1."""
    found = data.find(_NL_METRIC, start)
    return found + 1 if found >= 0 else -1


def _may_be_metric(line: bytes | bytearray) -> bool:
    """Whether an unfinished line could still turn out to be a metric line."""
    if len(line) < len(METRIC_PREFIX):
        return METRIC_PREFIX.startswith(line)
    return len(line) <= _LONG_LINE and line.startswith(METRIC_PREFIX)


def _loaded_numpy() -> Any:
    return sys.modules.get("numpy")


# Past this much output in one sample NumPy is loaded even during the sample: the bytes check
# costs ~3 ms per MB more than NumPy's (quiet machine), and loading NumPy ~60 ms.
_NUMPY_AFTER = 32 << 20


def _load_numpy() -> None:
    if "numpy" not in sys.modules:
        with contextlib.suppress(ImportError):
            import numpy  # noqa: F401


def _has_trailing_whitespace(block: bytes) -> bool:
    """Whether any line of ``block`` ends in whitespace: most output has none, and finding
    that out is 3-10x cheaper than normalising every line. NumPy, when perfop has loaded it
    (never during a sample: see ``run_process``), checks the byte before each newline at
    ~1.5 GB/s; without it a translate and a search manage ~300 MB/s."""
    np = _loaded_numpy()
    if np is None or len(block) < _CHUNK:
        return b" \n" in block.translate(_WS_TO_SPACE)
    arr = np.frombuffer(block, np.uint8)
    ends = np.flatnonzero(arr == 10)
    before = arr[ends[ends > 0] - 1]
    return bool(
        ((before == 32) | (before == 9) | (before == 13) | (before == 12) | (before == 11)).any()
    )


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


def _resolve_executable(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> list[str]:
    if not argv:
        raise WorkloadError("empty command; give the program to run")
    # Every sample checks these: one C-level search of the joined strings, and the loops only
    # to name the culprit (a Python loop over the environment cost ~10 us a sample).
    if "\0" in "".join(argv):
        for i, arg in enumerate(argv):
            if "\0" in arg:
                raise WorkloadError(
                    f"argument {i} of the command ({arg.split(chr(0))[0][:40]!r}...) contains a "
                    "NUL character, which no process can receive; remove it"
                )
    if "\0" in "".join(env) or "\0" in "".join(env.values()):
        for key, value in env.items():
            if "\0" in key or "\0" in value:
                raise WorkloadError(
                    f"environment variable {key.split(chr(0))[0][:40]!r} contains a NUL "
                    "character, which no process can receive; remove it"
                )
    program = _resolve_program(argv[0], str(cwd), env.get("PATH", os.defpath))
    return [program, *argv[1:]]


def check_startable(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> None:
    """WorkloadError (one line) unless ``argv``'s program exists and is executable from ``cwd``."""
    _resolve_executable(argv, cwd, env)


@functools.lru_cache(maxsize=256)
def _resolve_program(program: str, cwd_text: str, search_path: str) -> str:
    """Absolute path of ``program`` run from ``cwd``; checked once per (program, cwd, PATH).

    A sample loop spawns the same command hundreds of times: it must not stat and walk PATH for
    each. Errors are not cached (lru_cache does not keep exceptions).
    """
    cwd = Path(cwd_text)
    if not cwd.is_dir():
        what = "is not a directory" if cwd.exists() else "does not exist"
        raise WorkloadError(f"working directory {cwd} {what}; fix the workload's cwd")
    if "/" in program:
        path = Path(program) if Path(program).is_absolute() else Path(cwd) / program
        if not path.exists():
            raise WorkloadError(f"command not found: {program!r}; check the workload's command")
        if not os.access(path, os.X_OK) or path.is_dir():
            raise WorkloadError(f"command not executable: {program!r}; check its permissions")
        return str(path)
    found = shutil.which(program, path=search_path)
    if found is None:
        raise WorkloadError(
            f"command not found: {program!r}; check the workload's command and PATH"
        )
    return found


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    check_bytes: int = STDOUT_CHECK_BYTES,
) -> ProcessResult:
    """Spawn ``argv`` once, drain its output, reap it, and return what was measured.

    Raises ``WorkloadError`` only when the process cannot be started at all; a crash, a signal or a
    timeout is a failed ``ProcessResult``. ``check_bytes`` is the behaviour check's budget of
    stdout (see ``_StdoutSink``).
    """
    exe_argv = _resolve_executable(argv, cwd, env)
    sink = _StdoutSink(check_bytes)
    try:
        launched = launch(exe_argv, Path(cwd), env)
    except PermissionError:
        raise WorkloadError(f"command not executable: {argv[0]!r}; check its permissions") from None
    except OSError as exc:
        raise WorkloadError(f"cannot start {argv[0]!r}: {exc.strerror}") from None
    watch = _Watch(launched, sink, timeout)
    try:
        watch.drain()
    except BaseException:
        # Ctrl-C or SIGTERM while measuring: never leave the workload behind.
        watch.abandon()
        raise
    finally:
        os.close(launched.out_fd)
        os.close(launched.err_fd)
    # Leftover members of the group (daemons the workload started) must not leak into the next
    # sample's measurement. A contained sample has none: the spawner killed and reaped every
    # process it left (one kill(2) a sample saved).
    if not (watch.reaped and watch.reaped[0].contained):
        launched.kill()
    if watch.chunk[launched.out_fd] == _BIG_CHUNK:
        # A chatty workload: load NumPy now, between samples, for the fast whitespace check.
        _load_numpy()
    if watch.reap_error and isinstance(watch.reap_error[0], SpawnFailed):
        raise WorkloadError(f"cannot start {argv[0]!r}: {watch.reap_error[0].strerror}")
    if watch.reap_error or not watch.reaped:
        drop_spawner()
        raise WorkloadError(f"lost track of {argv[0]!r} (perfop's spawner exited); run again")
    sink.close()
    return _measured(argv, watch.reaped[0], sink, watch.stderr_tail, watch.timed_out, check_bytes)


def run_batch(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    count: int,
    on_result: Callable[[ProcessResult], None],
    check_bytes: int = STDOUT_CHECK_BYTES,
) -> None:
    """Spawn ``argv`` ``count`` times in a row, each sample exactly as ``run_process`` does, and
    hand each result to ``on_result`` in order.

    Through the spawner the samples run as one batch (``launch.Spawner.launch_batch``): no
    round trip between perfop and its spawner per sample, and perfop asleep while they run
    (it wakes only to drain output they write). Without a spawner that runs batches, or for
    one sample, they run one by one. Samples completed before an interruption (Ctrl-C,
    SIGTERM) still reach ``on_result``; the exception is raised after them.
    """
    exe_argv = _resolve_executable(argv, cwd, env)
    batch = None
    if count > 1:
        try:
            batch = launch_batch(exe_argv, Path(cwd), env, count=count, timeout=timeout)
        except OSError as exc:
            raise WorkloadError(f"cannot start {argv[0]!r}: {exc.strerror}") from None
    if batch is None:
        for _ in range(count):
            on_result(run_process(argv, cwd=cwd, env=env, timeout=timeout, check_bytes=check_bytes))
        return
    watch = _BatchWatch(batch, check_bytes, deadline=time.monotonic() + count * (timeout + 1) + 5)
    interrupt: BaseException | None = None
    try:
        watch.drain()
    except BaseException as exc:
        interrupt = exc
        watch.abandon()
    finally:
        for fd in (*batch.out_fds, *batch.err_fds):
            os.close(fd)
    if any(size == _BIG_CHUNK for size in watch.chunk.values()):
        _load_numpy()  # a chatty workload: load NumPy now, between batches
    report = watch.report
    if report is None:
        if interrupt is not None:
            raise interrupt
        drop_spawner()
        raise WorkloadError(f"lost track of {argv[0]!r} (perfop's spawner exited); run again")
    # A batch stopped on request ends with the sample that was running then: not a sample.
    done = report.reaped[:-1] if report.stopped else report.reaped
    for i, reaped in enumerate(done):
        sink = watch.sinks.get(batch.out_fds[i]) or _StdoutSink(check_bytes)
        sink.close()
        tail = watch.tails.get(batch.err_fds[i], b"")
        on_result(_measured(argv, reaped, sink, tail, reaped.timed_out, check_bytes))
    if interrupt is not None:
        raise interrupt
    if report.error is not None:
        raise WorkloadError(f"cannot start {argv[0]!r}: {report.error.strerror}")
    if report.stopped:  # only a kill of perfop's own stops a batch: never without an interrupt
        raise WorkloadError(f"lost track of {argv[0]!r} (its batch was stopped); run again")


class _BatchWatch:
    """A batch while it runs: every sample's pipes drained as they are written (sinks and
    stderr tails made on first output), until the spawner reports the whole batch; then what
    is left in the pipes is read without waiting for an end-of-file (every process is gone)."""

    def __init__(self, batch: LaunchedBatch, check_bytes: int, *, deadline: float) -> None:
        self.batch, self.check_bytes, self.deadline = batch, check_bytes, deadline
        self.report: BatchReport | None = None
        self.sinks: dict[int, _StdoutSink] = {}
        self.tails: dict[int, bytearray] = {}
        self.outs = set(batch.out_fds)
        self.chunk: dict[int, int] = {}
        self.poller = select.poll()
        for fd in (*batch.out_fds, *batch.err_fds, batch.exit_fd):
            self.poller.register(fd, select.POLLIN)

    def drain(self) -> None:
        exit_fd = self.batch.exit_fd
        while self.report is None:
            events = self.poller.poll(250)
            if not events and time.monotonic() >= self.deadline:
                return  # the spawner never reported: abandoned by the caller (report None)
            for fd, _event in events:
                if fd == exit_fd:
                    self.poller.unregister(fd)
                    try:
                        self.report = self.batch.wait()
                    except (ConnectionError, OSError):
                        return
                else:
                    self._read(fd)
        while events := self.poller.poll(0):
            for fd, _event in events:
                self._read(fd)

    def _read(self, fd: int) -> None:
        size = self.chunk.get(fd, _CHUNK)
        data = os.read(fd, size)
        if len(data) == size < _BIG_CHUNK:
            _grow_pipe(fd)
            self.chunk[fd] = _BIG_CHUNK
        if not data:
            self.poller.unregister(fd)
        elif fd in self.outs:
            sink = self.sinks.get(fd)
            if sink is None:
                sink = self.sinks[fd] = _StdoutSink(self.check_bytes)
            sink.feed(data)
        else:
            tail = self.tails.setdefault(fd, bytearray())
            tail += data
            if len(tail) > 4 * STDERR_TAIL_BYTES:
                del tail[: -(STDERR_TAIL_BYTES + 1)]  # +1: see word_aligned_tail

    def abandon(self) -> None:
        """End the batch after its running sample and collect the report of what completed;
        a spawner that gives none within 5 s is dropped (the next sample starts a fresh one)."""
        if self.report is not None:
            return
        self.batch.kill()
        try:
            if select.select([self.batch.exit_fd], [], [], 5)[0]:
                self.report = self.batch.wait()
        except BaseException:
            self.report = None
        if self.report is None:
            drop_spawner()


class _Watch:
    """One sample while it runs: its two pipes drained (stdout into the sink, stderr's tail
    kept) until both close or the workload is gone, its exit report collected, and the deadline
    enforced. poll(2) on raw fds: a selectors object per sample costs more than the syscalls it
    wraps."""

    def __init__(self, launched: Launched, sink: _StdoutSink, timeout: float) -> None:
        self.launched = launched
        self.sink = sink
        self.stderr_tail = bytearray()
        self.reaped: list[Reaped] = []
        self.reap_error: list[BaseException] = []
        # Without an exit fd to watch (direct spawn), a thread blocks in wait4 instead.
        self.reaper: threading.Thread | None = None
        if launched.exit_fd is None:
            self.reaper = threading.Thread(target=self.reap, name="perfop-reap", daemon=True)
            self.reaper.start()
        self.deadline = time.monotonic() + timeout
        self.timed_out = False
        self.poller = select.poll()
        self.kinds = {launched.out_fd: "out", launched.err_fd: "err"}
        if launched.exit_fd is not None:
            self.kinds[launched.exit_fd] = "exit"
        for fd in self.kinds:
            self.poller.register(fd, select.POLLIN)
        self.grace_until: float | None = None
        self.pipes_open = 2
        self.chunk = {launched.out_fd: _CHUNK, launched.err_fd: _CHUNK}

    def reap(self) -> None:
        try:
            self.reaped.append(self.launched.wait())
        except BaseException as exc:  # the spawner died: reported by run_process
            self.reap_error.append(exc)

    def wait_exit(self, limit: float | None) -> bool:
        """Collect the exit report within ``limit`` seconds (None: block); False on timeout."""
        if self.reaped or self.reap_error:
            return True
        if self.reaper is not None:
            self.reaper.join(limit)
            return not self.reaper.is_alive()
        launched = self.launched
        assert launched.exit_fd is not None
        if (
            not spin_until_readable(launched.exit_fd, launched.spin_ns)
            and limit is not None
            and not select.select([launched.exit_fd], [], [], limit)[0]
        ):
            return False
        self.reap()
        return True

    def drain(self) -> None:
        """Read both pipes until they close (or the workload is gone), then reap it; a
        workload past its deadline is killed and marked timed out."""
        while self.pipes_open and self._step():
            pass
        if not self.wait_exit(max(0.0, self.deadline - time.monotonic())):
            self.timed_out = True
            self.launched.kill()
            self.wait_exit(None)

    def _gone(self) -> bool:
        return bool(
            self.reaped
            or self.reap_error
            or (self.reaper is not None and not self.reaper.is_alive())
        )

    def _step(self) -> bool:
        """One poll of the pipes; False when reading should stop."""
        now = time.monotonic()
        if not self.timed_out and now >= self.deadline:
            self.timed_out = True
            self.launched.kill()
        if self._gone():
            # The child is gone; descendants still holding the pipes get a short grace.
            self.grace_until = self.grace_until or now + 0.5
            if now >= self.grace_until:
                self.launched.kill()
                return False
        # Everything the sample wrote is in the pipes already once the spawner has reaped
        # all its processes: read what is there and stop, without waiting for an EOF.
        drained = bool(self.reaped) and self.reaped[0].contained
        wait = max(0.0, min(self.deadline - now, 0.25)) if not self.timed_out else 0.05
        events = self.poller.poll(0 if drained else wait * 1000)
        if drained and not events:
            return False
        for fd, _event in events:
            self._ready(fd)
        return True

    def _ready(self, fd: int) -> None:
        kind = self.kinds[fd]
        if kind == "exit":
            self.poller.unregister(fd)
            self.reap()
            return
        size = self.chunk[fd]
        data = os.read(fd, size)
        if len(data) == size < _BIG_CHUNK:
            _grow_pipe(fd)
            self.chunk[fd] = _BIG_CHUNK
        if not data:
            self.poller.unregister(fd)
            self.pipes_open -= 1
        elif kind == "out":
            self.sink.feed(data)
        else:
            self.stderr_tail += data
            if len(self.stderr_tail) > 4 * STDERR_TAIL_BYTES:
                del self.stderr_tail[: -(STDERR_TAIL_BYTES + 1)]  # +1: see word_aligned_tail

    def abandon(self) -> None:
        """Kill the workload and wait briefly for its report; a spawner that gives none is
        dropped (the next sample starts a fresh one)."""
        self.launched.kill()
        try:
            done = self.wait_exit(5)
        except BaseException:
            done = False
        if not done:
            drop_spawner()


# Frozen: every sample's ``metric_specs`` shares these (its dict is its own).
_BUILTIN_SPECS = {
    name: MetricSpec(name, unit, better) for name, (unit, better) in BUILTIN_METRICS.items()
}


def _measured(
    argv: Sequence[str],
    r: Reaped,
    sink: _StdoutSink,
    stderr_tail: bytes | bytearray,
    timed_out: bool,
    check_bytes: int,
) -> ProcessResult:
    """The ``ProcessResult`` of a reaped sample: rusage, exit, and what its output said."""
    exit_code = os.waitstatus_to_exitcode(r.status)
    sig = -exit_code if exit_code < 0 else None
    wall = r.wall_ns / 1e9
    rss = r.maxrss_kb * 1024  # Linux reports KiB
    metrics = {
        "wall_time": wall,
        "user_time": r.utime,
        "sys_time": r.stime,
        "cpu_time": r.utime + r.stime,
        "peak_rss": float(rss),
    }
    specs = dict(_BUILTIN_SPECS)
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
        user_time=r.utime,
        sys_time=r.stime,
        peak_rss=rss,
        metrics=metrics,
        metric_specs=specs,
        stdout_digest=sink.digest,
        stdout_head=sink.head,
        stdout_bytes=sink.total,
        stdout_complete=sink.emitted <= STDOUT_HEAD_BYTES and sink.beyond is None,
        stdout_unchecked=sink.unchecked,
        stdout_check_bytes=check_bytes,
        stderr_tail=word_aligned_tail(stderr_tail, STDERR_TAIL_BYTES).decode("utf-8", "replace"),
    )


def word_aligned_tail(data: bytes | bytearray, limit: int) -> bytes:
    """The last ``limit`` bytes of ``data``, starting at a word: a word cut in two could be the
    unrecognisable end of a secret, which redaction (by pattern, on whole tokens) would miss."""
    tail = bytes(data[-limit:])
    if len(data) > limit and not data[-limit - 1 : -limit].isspace():
        space = next((i for i, b in enumerate(tail) if b in b" \t\r\n"), len(tail))
        tail = tail[space + 1 :]
    return tail


def run_setup(
    resolved: ResolvedWorkload, *, env: Mapping[str, str], timeout: float = 900.0
) -> None:
    """Run the workload's ``setup`` command once (per checkout); a failure is a WorkloadError."""
    if not resolved.setup:
        return
    result = run_process(resolved.setup, cwd=resolved.cwd, env=env, timeout=timeout)
    if not result.ok:
        tail = (result.stderr_tail.strip().splitlines()[-1:] or [""])[0][:200]
        raise WorkloadError(
            f"setup failed ({result.describe_failure()}){': ' + tail if tail else ''}; "
            "fix its 'setup' command"
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
