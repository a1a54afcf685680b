"""Machine contention during a measurement: load, steal, run queue, CPU pressure, others' CPU.

A ``Monitor`` takes a ``Snapshot`` of /proc (``/proc/loadavg``, ``/proc/stat``,
``/proc/pressure/cpu``) between samples or pairs, never inside a timed process, and at most every
``min_interval`` seconds; each interval between two snapshots becomes an ``Interval``, whose
"others' CPU share" is the machine's busy CPU time minus what the measured workload (its
processes' own user+sys, from ``wait4``) and perfop itself used, over all CPUs' capacity.
``summarise`` turns the intervals into the JSON object stored with every run and comparison,
with a level from ``RULE``. Parsing takes the file text, so tests feed fixed text.
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

QUIET, BUSY, HIGH, UNKNOWN = "quiet", "busy", "high", "unknown"

# (busy, high) thresholds on the median over a measurement's intervals. "High" is where
# absolute numbers are no longer the code's own: others keep half of every CPU busy (a
# single-threaded workload on 2 CPUs then shares a core or its caches most of the time), more
# runnable tasks than CPUs besides perfop's own, a tenth of the time stolen by the hypervisor, or
# a fifth of the time some task was waiting for a CPU.
THRESHOLDS: dict[str, tuple[float, float]] = {
    "others_cpu_share": (0.10, 0.50),
    "others_load_per_cpu": (0.25, 1.0),
    "steal": (0.02, 0.10),
    "cpu_pressure": (0.05, 0.20),
}
RULE = (
    "median over the measurement: high when others' CPU share >= 50% of all CPUs, or others' "
    "load (1-min load minus perfop's one process) >= 1 per CPU, or steal >= 10%, or CPU "
    "pressure (some) >= 20%; busy from 10%, 0.25, 2%, 5%; quiet below"
)
MIN_INTERVAL = 0.5  # seconds between snapshots: /proc/stat counts in 10 ms ticks
# Below this much CPU time per CPU an interval's tick counts are too coarse for a share (a tick
# either side of 0.25 s on each CPU is +/-4%); its load and pressure are kept.
MIN_SHARE_SECONDS = 0.25


# --- parsing (pure: file text in, numbers out) -------------------------------------------------


@dataclass(frozen=True)
class CpuTimes:
    """The aggregate ``cpu`` line of /proc/stat, in clock ticks, and the run queue."""

    total: int
    idle: int  # idle + iowait
    steal: int
    cpus: int
    procs_running: int | None


def parse_stat(text: str) -> CpuTimes | None:
    """The aggregate CPU times of ``/proc/stat`` (None when the text has no ``cpu`` line)."""
    agg: list[int] | None = None
    cpus = 0
    running = None
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "cpu":
            agg = [int(v) for v in parts[1:]]
        elif parts[0].startswith("cpu") and parts[0][3:].isdigit():
            cpus += 1
        elif parts[0] == "procs_running" and len(parts) > 1:
            running = int(parts[1])
    if agg is None or len(agg) < 4:
        return None
    agg += [0] * (10 - len(agg))
    # user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
    # counted in user/nice, so it is left out of the total.
    total = sum(agg[:8])
    return CpuTimes(
        total=total,
        idle=agg[3] + agg[4],
        steal=agg[7],
        cpus=cpus or 1,
        procs_running=running,
    )


def parse_loadavg(text: str) -> float | None:
    """The 1-minute load average of ``/proc/loadavg``."""
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        return None


def parse_pressure(text: str) -> float | None:
    """The ``some`` stall total of ``/proc/pressure/cpu``, in microseconds."""
    for line in text.splitlines():
        if line.startswith("some "):
            for item in line.split()[1:]:
                key, _, value = item.partition("=")
                if key == "total":
                    try:
                        return float(value)
                    except ValueError:
                        return None
    return None


# --- snapshots and intervals -------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    at: float  # monotonic seconds
    stat: CpuTimes | None
    load: float | None
    pressure_us: float | None
    self_cpu: float  # perfop's own user+sys so far


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def take_snapshot(
    read: Callable[[str], str | None] = _read,
    clock: Callable[[], float] = time.monotonic,
    self_cpu: Callable[[], float] = _self_cpu,
) -> Snapshot:
    """Read /proc once (three small files); absent files give None fields."""
    stat = read("/proc/stat")
    load = read("/proc/loadavg")
    pressure = read("/proc/pressure/cpu")
    return Snapshot(
        at=clock(),
        stat=parse_stat(stat) if stat else None,
        load=parse_loadavg(load) if load else None,
        pressure_us=parse_pressure(pressure) if pressure else None,
        self_cpu=self_cpu(),
    )


@dataclass(frozen=True)
class Interval:
    seconds: float
    cpus: int | None
    load: float | None
    others_cpu_share: float | None  # of all CPUs' capacity, 0..1
    steal: float | None
    run_queue: int | None  # runnable tasks at the snapshot besides perfop's own reader
    cpu_pressure: float | None  # share of the interval some task waited for a CPU


def interval(a: Snapshot, b: Snapshot, own_cpu: float, *, hz: float) -> Interval:
    """What happened between snapshots ``a`` and ``b``; ``own_cpu`` is the workload's CPU in it."""
    seconds = max(b.at - a.at, 0.0)
    others = steal = None
    cpus = None
    if a.stat is not None and b.stat is not None:
        cpus = b.stat.cpus
        ticks = b.stat.total - a.stat.total
        if ticks > 0 and ticks / hz / max(cpus, 1) >= MIN_SHARE_SECONDS:
            stolen = b.stat.steal - a.stat.steal  # the hypervisor's, reported on its own
            busy = (ticks - (b.stat.idle - a.stat.idle) - stolen) / hz
            mine = own_cpu + max(b.self_cpu - a.self_cpu, 0.0)
            others = min(max((busy - mine) / (ticks / hz), 0.0), 1.0)
            steal = min(max(stolen / ticks, 0.0), 1.0)
    pressure = None
    if a.pressure_us is not None and b.pressure_us is not None and seconds > 0:
        pressure = min(max((b.pressure_us - a.pressure_us) / 1e6 / seconds, 0.0), 1.0)
    queue = None
    if b.stat is not None and b.stat.procs_running is not None:
        queue = max(b.stat.procs_running - 1, 0)
    return Interval(
        seconds=seconds,
        cpus=cpus,
        load=b.load,
        others_cpu_share=others,
        steal=steal,
        run_queue=queue,
        cpu_pressure=pressure,
    )


def _clock_ticks() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100.0


@dataclass
class Monitor:
    """Samples contention around the processes of one measurement (a run or a workload's pairs).

    Call ``start`` before the first measured process, ``add(cpu)`` after each process or pair
    with its own user+sys seconds (a snapshot is taken when ``min_interval`` has passed), and
    ``summary`` at the end (it closes the last interval).
    """

    snapshot: Callable[[], Snapshot] = take_snapshot
    min_interval: float = MIN_INTERVAL
    hz: float = field(default_factory=_clock_ticks)
    clock: Callable[[], float] = time.monotonic  # the clock of ``Snapshot.at``
    intervals: list[Interval] = field(default_factory=list)
    _last: Snapshot | None = None
    _own: float = 0.0
    _pending: int = 0  # processes or pairs added since the last snapshot

    def start(self) -> None:
        if self._last is None:
            self._last = self.snapshot()

    def add(self, own_cpu: float) -> None:
        if self._last is None:
            return
        self._own += own_cpu
        self._pending += 1
        if self.clock() - self._last.at >= self.min_interval:
            self._close()

    def _close(self) -> None:
        assert self._last is not None
        now = self.snapshot()
        self.intervals.append(interval(self._last, now, self._own, hz=self.hz))
        self._last, self._own, self._pending = now, 0.0, 0

    def summary(self) -> dict[str, Any]:
        if self._last is not None and (self._pending or not self.intervals):
            self._close()
        return summarise(self.intervals)


# --- summary -----------------------------------------------------------------------------------


def _stat(values: Sequence[float | None], digits: int = 3) -> dict[str, float] | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None
    return {"median": round(statistics.median(vals), digits), "max": round(max(vals), digits)}


def summarise(intervals: Sequence[Interval]) -> dict[str, Any]:
    """The ``contention`` object of the JSON documents and the store (see ``RULE``)."""
    cpus = next((i.cpus for i in reversed(intervals) if i.cpus), None) or os.cpu_count() or 1
    others_load = [None if i.load is None else max(i.load - 1.0, 0.0) / cpus for i in intervals]
    out: dict[str, Any] = {
        "cpus": cpus,
        "intervals": len(intervals),
        "seconds": round(sum(i.seconds for i in intervals), 3),
        "load": _stat([i.load for i in intervals], 2),
        "others_load_per_cpu": _stat(others_load),
        "others_cpu_share": _stat([i.others_cpu_share for i in intervals]),
        "steal": _stat([i.steal for i in intervals]),
        "run_queue": _stat(
            [None if i.run_queue is None else float(i.run_queue) for i in intervals], 1
        ),
        "cpu_pressure": _stat([i.cpu_pressure for i in intervals]),
    }
    level, reasons = classify(out)
    out["level"] = level
    out["reasons"] = reasons
    out["rule"] = RULE
    return out


_LABELS = {
    "others_cpu_share": "others' CPU share {:.0%}",
    "others_load_per_cpu": "others' load {:.2f} per CPU",
    "steal": "steal {:.0%}",
    "cpu_pressure": "CPU pressure {:.0%}",
}


def classify(summary: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``(level, reasons)`` from a summary's medians by ``THRESHOLDS``."""
    seen = False
    high: list[str] = []
    busy: list[str] = []
    for key, (busy_at, high_at) in THRESHOLDS.items():
        stat = summary.get(key)
        if not stat:
            continue
        seen = True
        value = float(stat["median"])
        if value >= high_at:
            high.append(_LABELS[key].format(value))
        elif value >= busy_at:
            busy.append(_LABELS[key].format(value))
    if not seen:
        return UNKNOWN, []
    if high:
        return HIGH, high
    return (BUSY, busy) if busy else (QUIET, [])


def is_high(summary: Mapping[str, Any] | None) -> bool:
    """True when absolute numbers measured under ``summary`` are distorted by contention."""
    return bool(summary) and summary.get("level") == HIGH  # type: ignore[union-attr]


def merge(summaries: Sequence[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """One summary for several measurements (a comparison's workloads): the worst level, with
    medians of the medians and the largest maxima."""
    parts = [s for s in summaries if s]
    if not parts:
        return None
    if len(parts) == 1:
        return dict(parts[0])
    out: dict[str, Any] = {
        "cpus": parts[-1].get("cpus"),
        "intervals": sum(int(p.get("intervals") or 0) for p in parts),
        "seconds": round(sum(float(p.get("seconds") or 0) for p in parts), 3),
    }
    for key in (
        "load",
        "others_load_per_cpu",
        "others_cpu_share",
        "steal",
        "run_queue",
        "cpu_pressure",
    ):
        stats = [p[key] for p in parts if p.get(key)]
        out[key] = (
            {
                "median": statistics.median(s["median"] for s in stats),
                "max": max(s["max"] for s in stats),
            }
            if stats
            else None
        )
    rank = {UNKNOWN: 0, QUIET: 1, BUSY: 2, HIGH: 3}
    worst = max(parts, key=lambda p: rank.get(str(p.get("level")), 0))
    out["level"] = worst.get("level", UNKNOWN)
    out["reasons"] = list(worst.get("reasons") or [])
    out["rule"] = RULE
    return out


# --- text --------------------------------------------------------------------------------------

_CONSEQUENCE = {
    HIGH: "high contention: absolute times are inflated",
    BUSY: "busy: absolute times may be inflated",
    QUIET: "quiet",
}


def format_line(summary: Mapping[str, Any] | None, *, paired: bool) -> str:
    """One line for a terminal summary, e.g. ``machine: load 5.2 on 2 CPUs, others used 61% CPU
    — high contention: absolute times are inflated; ratios from interleaved pairs remain valid``.
    ``paired``: the measurement was interleaved pairs (compare/validate), not a plain run."""
    if not summary or summary.get("level") in (None, UNKNOWN):
        if summary and not summary.get("intervals"):
            return "machine: contention not measured (no sample or pair completed)"
        return "machine: contention not measured (no /proc on this system)"
    facts = []
    if summary.get("load"):
        facts.append(f"load {summary['load']['median']:.1f} on {summary.get('cpus')} CPUs")
    if summary.get("others_cpu_share"):
        facts.append(f"others used {summary['others_cpu_share']['median']:.0%} CPU")
    if summary.get("steal") and summary["steal"]["median"] >= THRESHOLDS["steal"][0]:
        facts.append(f"steal {summary['steal']['median']:.0%}")
    if summary.get("cpu_pressure"):
        facts.append(f"CPU pressure {summary['cpu_pressure']['median']:.0%}")
    level = str(summary["level"])
    text = f"machine: {', '.join(facts)} — {_CONSEQUENCE.get(level, level)}"
    if level in (HIGH, BUSY):
        text += (
            "; ratios from interleaved pairs remain valid"
            if paired
            else "; compare refs with 'perfop compare' (interleaved ratios stay valid)"
        )
    return text


def warning(summary: Mapping[str, Any] | None, *, what: str) -> str | None:
    """The terminal warning when contention is high (None otherwise)."""
    if not is_high(summary):
        return None
    assert summary is not None
    reasons = ", ".join(summary.get("reasons") or [])
    return (
        f"high machine contention during {what} ({reasons}): absolute numbers (times, "
        "baselines, SLO checks) are inflated and not the code's own; measure them again on a "
        "quieter machine"
    )
