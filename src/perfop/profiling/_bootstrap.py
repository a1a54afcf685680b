"""Run a Python target the way ``python`` would, optionally under an in-process profiler.

This file is executed *by path* with the workload's own interpreter, so it imports nothing from
perfop and only the standard library at top level (pyinstrument/memray are imported on demand).

    python [interpreter options] _bootstrap.py --status FILE [--stderr FILE]
           [--profiler NAME --out FILE] (--script PATH | --module NAME | --code TEXT) -- [args...]

It always writes ``--status`` as JSON ``{"exit_code": int, "wall_time": s, "cpu_time": s}`` (CPU
time of the target and the children it waited for, from the target's start: the interpreter's own
start-up, which no profiler samples, is left out) so perfop knows how the target ended even when
a profiler sits between them (py-spy, for one, does not pass the exit code on). ``--stderr`` gives
the target (and its children) a stderr of its own, that file, so a profiler's own messages on the
shared stderr are never mistaken for the workload's.
Profilers: ``pyinstrument`` (session file), ``memray`` (capture file), ``sampler`` (perfop's
own stdlib sampler: JSON stacks with seconds), ``tracemalloc`` (JSON: peak and the allocation
tracebacks alive at the largest snapshot taken).
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from typing import Any

# json, threading and traceback are imported where used: the bootstrap's own start-up should cost
# the profiled run as little as possible.


def _parse(argv: list[str]) -> tuple[dict[str, str | None], tuple[str, str] | None, list[str]]:
    opts: dict[str, str | None] = {
        "status": None,
        "profiler": None,
        "out": None,
        "interval": "0.001",
        "native": "0",
        "stderr": None,
    }
    target: tuple[str, str] | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return opts, target, argv[i + 1 :]
        key = arg[2:]
        if key in ("script", "module", "code"):
            target = (key, argv[i + 1])
        else:
            opts[key] = argv[i + 1]
        i += 2
    return opts, target, []


def _run_target(target: tuple[str, str], args: list[str]) -> None:
    kind, value = target
    if kind == "script":
        sys.argv = [value, *args]
        path = os.path.abspath(value)  # absolute file names in every frame
        sys.path[0] = os.path.dirname(path)
        runpy.run_path(path, run_name="__main__")
    elif kind == "module":
        sys.argv = [value, *args]
        sys.path[0] = os.getcwd()
        runpy.run_module(value, run_name="__main__", alter_sys=True)
    else:
        sys.argv = ["-c", *args]
        sys.path[0] = ""
        # Not "<string>": that is also the file name of code generated at run time (dataclasses'
        # __init__, namedtuples), which is its caller's; "<command>" is the workload's own.
        code = compile(value, "<command>", "exec")
        namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
        exec(code, namespace)


class _TracemallocWatcher:
    """Snapshots the traced heap whenever it grows well past the last snapshot.

    tracemalloc records the peak *size* but cannot snapshot at the peak, so a thread polls and keeps
    the snapshot of the largest heap it saw: allocations freed before exit are still attributed.
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.best_size = 0
        self.best: Any = None
        import threading

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="perfop-tracemalloc", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        import tracemalloc

        while not self._stop.wait(self.interval):
            self.check(tracemalloc)

    def check(self, tracemalloc: Any) -> None:
        current = tracemalloc.get_traced_memory()[0]
        if (current > self.best_size * 1.05 and current > 1 << 20) or self.best is None:
            self.best = tracemalloc.take_snapshot()
            self.best_size = current

    def stop(self) -> Any:
        import tracemalloc

        self._stop.set()
        self._thread.join()
        self.check(tracemalloc)
        return self.best


class _StackSampler:
    """perfop's own sampler, standard library only: a thread that reads the main thread's stack
    every ``interval`` and charges it the time elapsed since the previous sample (wall clock, like
    pyinstrument). The fallback when py-spy misses a short run and pyinstrument is not installed
    in the workload's interpreter."""

    def __init__(self, interval: float) -> None:
        import threading

        self.interval = interval
        self.stacks: dict[tuple[tuple[str, str, int], ...], list[float]] = {}
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="perfop-sampler", daemon=True)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        now = time.perf_counter()
        elapsed, self._last = now - self._last, now
        frame = sys._current_frames().get(self._main or 0)
        chain = []
        while frame is not None:
            code = frame.f_code
            name = getattr(code, "co_qualname", code.co_name)
            chain.append((name, code.co_filename, code.co_firstlineno))
            frame = frame.f_back
        if chain:
            entry = self.stacks.setdefault(tuple(reversed(chain)), [0.0, 0])
            entry[0] += elapsed
            entry[1] += 1

    def stop(self, path: str) -> None:
        import json

        self._stop.set()
        self._thread.join()
        stacks = [
            {"frames": [list(f) for f in key], "seconds": seconds, "count": count}
            for key, (seconds, count) in self.stacks.items()
        ]
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"interval": self.interval, "stacks": stacks}, fh)


def _dump_tracemalloc(path: str, snapshot: Any, peak: int) -> None:
    import json

    traces = []
    for stat in snapshot.statistics("traceback"):
        frames = [[f.filename, f.lineno] for f in stat.traceback]  # oldest first (3.7+)
        traces.append({"frames": frames, "size": stat.size, "count": stat.count})
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"peak": peak, "traces": traces}, fh)


def _cpu_time() -> float | None:
    """User + system CPU seconds of this process and of the children it waited for."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class _Profilers:
    """The in-process profiler the target runs under, if any: started before it, stopped after."""

    def __init__(self) -> None:
        self.session: Any = None
        self.tracker: Any = None
        self.watcher: _TracemallocWatcher | None = None
        self.sampler: _StackSampler | None = None

    def start(
        self, profiler: str | None, opts: dict[str, str | None], target: tuple[str, str], out: str
    ) -> None:
        if profiler == "pyinstrument":
            from pyinstrument import Profiler

            self.session = Profiler(
                interval=float(opts["interval"] or 0.001), async_mode="disabled"
            )
            self.session.start()
        elif profiler == "memray":
            import memray

            # memray stores " ".join(sys.argv) in its capture file (and its reports show it):
            # the target's arguments may hold secrets, so it sees only what runs.
            sys.argv = [target[1] if target[0] != "code" else "-c"]
            self.tracker = memray.Tracker(
                out, native_traces=opts["native"] == "1", follow_fork=True
            )
            self.tracker.__enter__()
        elif profiler == "sampler":
            self.sampler = _StackSampler(float(opts["interval"] or 0.001))
            self.sampler.start()
        elif profiler == "tracemalloc":
            import tracemalloc

            tracemalloc.start(int(opts.get("frames") or 64))
            self.watcher = _TracemallocWatcher()
            self.watcher.start()

    def stop(self, out: str) -> None:
        if self.sampler is not None:
            self.sampler.stop(out)
        if self.session is not None:
            result = self.session.stop()
            result.save(out)
        if self.tracker is not None:
            self.tracker.__exit__(None, None, None)
        if self.watcher is not None:
            import tracemalloc

            snapshot = self.watcher.stop()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            _dump_tracemalloc(out, snapshot, peak)


def _redirect_stderr(path: str) -> None:
    # At the file-descriptor level, so C extensions and child processes write there too.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    sys.stderr.flush()
    os.dup2(fd, 2)
    os.close(fd)


def _exit_code(exc: SystemExit) -> int:
    """The exit code ``python`` gives a ``SystemExit`` (a non-int code is printed, exit 1)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _write_status(path: str, exit_code: int, wall: float, cpu_start: float | None) -> None:
    import json

    status: dict[str, Any] = {"exit_code": exit_code, "wall_time": wall}
    cpu = _cpu_time()
    if cpu is not None and cpu_start is not None:
        status["cpu_time"] = cpu - cpu_start
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(status, fh)


def main() -> None:
    opts, target, args = _parse(sys.argv[1:])
    if target is None:
        sys.stderr.write("perfop bootstrap: no target given\n")
        raise SystemExit(2)
    if opts["stderr"]:
        _redirect_stderr(opts["stderr"])
    out = opts["out"] or ""
    exit_code = 0
    profilers = _Profilers()
    cpu_start = _cpu_time()  # the interpreter's and the bootstrap's start-up are not the target's
    start = time.perf_counter()
    try:
        profilers.start(opts["profiler"], opts, target, out)
        _run_target(target, args)
    except SystemExit as exc:
        exit_code = _exit_code(exc)
    except BaseException:
        import traceback

        traceback.print_exc()
        exit_code = 1
    finally:
        wall = time.perf_counter() - start
        profilers.stop(out)
        if opts["status"]:
            _write_status(opts["status"], exit_code, wall, cpu_start)
        sys.stdout.flush()
        sys.stderr.flush()
    if exit_code:
        sys.exit(exit_code)


if __name__ == "__main__":
    main()
