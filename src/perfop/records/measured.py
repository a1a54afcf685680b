"""What a measurement stores beside its numbers, loaded: the machine's contention, CPU time
beside wall time, the metric a verdict was decided on, and the machine's environment.

Each ``load_*`` takes the stored JSON object (or anything else: a missing, empty or malformed
document loads as None, a missing key as its default) and returns one frozen record; ``to_dict``
is the stored form again, so ``load(x.to_dict()) == x``. Field order is the stored key order,
so ``dataclasses.asdict`` (the JSON report) writes the document perfop stored.

Stored forms (unchanged since each was introduced; the producers are named):
  contention   ``perfop.measure.contention.summarise`` / ``merge``, of a run, a comparison or a
               workload's pairs: cpus, intervals, seconds, load, others_load_per_cpu,
               others_cpu_share, steal, run_queue, cpu_pressure ({median, max} or null each),
               level, reasons, rule
  cpu_vs_wall  ``perfop.compare.cpuwall.CpuWall.as_dict``: wall_ratio, wall_ci, cpu_ratio, cpu_ci,
               disagree, note (``perfop.comparison/2`` workloads)
  decision     ``perfop.compare.pairs.Decision.as_dict``: metric, check, cpu_share, cpu_median,
               vetoed, reason (``perfop.comparison/2`` workloads, additively)
  environment  ``perfop.environment.capture_environment`` (the environments table), as far as it
               is read: hostname, cpu {model, logical_cores}, memory_bytes, os {system, release,
               machine}, python {implementation, version}, git {sha}, packages
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CPU_TIME = "cpu_time"


def stored_number(value: Any) -> float:
    """A stored number: null, a missing key or anything not a finite number is NaN."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def stored_pair(value: Any) -> tuple[float, float]:
    """A stored two-number list (an interval, a base/candidate pair): NaN where it is not."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return stored_number(value[0]), stored_number(value[1])
    return math.nan, math.nan


def _optional_pair(value: Any) -> tuple[float, float] | None:
    return stored_pair(value) if isinstance(value, list | tuple) else None


def stored_int(value: Any) -> int | None:
    """A stored integer (not a bool), or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _document(value: Any) -> Mapping[str, Any] | None:
    """A stored sub-document, or None when it is absent, empty or not an object."""
    return value if isinstance(value, Mapping) and value else None


# --- contention ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """The median and the maximum of one contention measure over a measurement's intervals."""

    median: float
    max: float


def _spread(value: Any) -> Spread | None:
    if not isinstance(value, Mapping) or not value:
        return None
    return Spread(stored_number(value.get("median")), stored_number(value.get("max")))


@dataclass(frozen=True)
class StoredContention:
    """The machine's contention during a measurement (``perfop.measure.contention``'s summary)."""

    cpus: int | None
    intervals: int
    seconds: float
    load: Spread | None
    others_load_per_cpu: Spread | None
    others_cpu_share: Spread | None
    steal: Spread | None
    run_queue: Spread | None
    cpu_pressure: Spread | None
    level: str  # quiet | busy | high | unknown (absent: unknown)
    reasons: tuple[str, ...]
    rule: str

    def to_dict(self) -> dict[str, Any]:
        spreads = (
            "load",
            "others_load_per_cpu",
            "others_cpu_share",
            "steal",
            "run_queue",
            "cpu_pressure",
        )
        doc: dict[str, Any] = {"cpus": self.cpus, "intervals": self.intervals}
        doc["seconds"] = self.seconds
        for key in spreads:
            s: Spread | None = getattr(self, key)
            doc[key] = None if s is None else {"median": s.median, "max": s.max}
        doc.update(level=self.level, reasons=list(self.reasons), rule=self.rule)
        return doc


def load_contention(value: Any) -> StoredContention | None:
    """A stored ``contention`` object (None: not recorded)."""
    doc = _document(value)
    if doc is None:
        return None
    seconds = stored_number(doc.get("seconds"))
    return StoredContention(
        cpus=stored_int(doc.get("cpus")),
        intervals=stored_int(doc.get("intervals")) or 0,
        seconds=0.0 if math.isnan(seconds) else seconds,
        load=_spread(doc.get("load")),
        others_load_per_cpu=_spread(doc.get("others_load_per_cpu")),
        others_cpu_share=_spread(doc.get("others_cpu_share")),
        steal=_spread(doc.get("steal")),
        run_queue=_spread(doc.get("run_queue")),
        cpu_pressure=_spread(doc.get("cpu_pressure")),
        level=str(doc.get("level") or "unknown"),
        reasons=tuple(str(r) for r in doc.get("reasons") or ()),
        rule=str(doc.get("rule") or ""),
    )


# --- CPU time beside wall time, and the deciding metric ----------------------------------------


@dataclass(frozen=True)
class StoredCpuWall:
    """Wall and CPU ratios of one workload with their intervals, and what their gap means."""

    wall_ratio: float
    wall_ci: tuple[float, float]
    cpu_ratio: float
    cpu_ci: tuple[float, float]
    disagree: bool
    note: str | None

    def text(self) -> str:
        """``wall ratio 0.800 [0.750, 0.850] vs CPU ratio 1.000 [0.980, 1.020]: ...``."""
        w, c = self.wall_ci, self.cpu_ci
        text = (
            f"wall ratio {self.wall_ratio:.3f} [{w[0]:.3f}, {w[1]:.3f}] vs CPU ratio "
            f"{self.cpu_ratio:.3f} [{c[0]:.3f}, {c[1]:.3f}]"
        )
        return f"{text}: {self.note}" if self.note else f"{text}: they agree"

    def to_dict(self) -> dict[str, Any]:
        return {
            "wall_ratio": self.wall_ratio,
            "wall_ci": list(self.wall_ci),
            "cpu_ratio": self.cpu_ratio,
            "cpu_ci": list(self.cpu_ci),
            "disagree": self.disagree,
            "note": self.note,
        }


def load_cpu_vs_wall(value: Any) -> StoredCpuWall | None:
    """A stored ``cpu_vs_wall`` object (None: not both metrics were analysed)."""
    doc = _document(value)
    if doc is None:
        return None
    note = doc.get("note")
    return StoredCpuWall(
        wall_ratio=stored_number(doc.get("wall_ratio")),
        wall_ci=stored_pair(doc.get("wall_ci")),
        cpu_ratio=stored_number(doc.get("cpu_ratio")),
        cpu_ci=stored_pair(doc.get("cpu_ci")),
        disagree=bool(doc.get("disagree")),
        note=str(note) if note else None,
    )


@dataclass(frozen=True)
class StoredDecision:
    """Which metric decided a workload's verdict and why, as ``compare`` stored it."""

    metric: str  # "" in a document that names none
    check: str | None
    cpu_share: tuple[float, float] | None  # (base, candidate)
    cpu_median: tuple[float, float] | None
    vetoed: bool
    reason: str

    def text(self) -> str | None:
        """``CPU time (user+sys): CPU-bound: ...`` (None when no metric is named)."""
        if not self.metric:
            return None
        label = "CPU time (user+sys)" if self.metric == CPU_TIME else self.metric
        text = f"{label}: {self.reason}".rstrip(": ")
        if self.vetoed:
            text += "; wall time's interval contradicted CPU time's verdict, so there is none"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "check": self.check,
            "cpu_share": None if self.cpu_share is None else list(self.cpu_share),
            "cpu_median": None if self.cpu_median is None else list(self.cpu_median),
            "vetoed": self.vetoed,
            "reason": self.reason,
        }


def load_decision(value: Any) -> StoredDecision | None:
    """A stored ``decision`` object (None: not recorded, decided on the primary metric)."""
    doc = _document(value)
    if doc is None:
        return None
    check = doc.get("check")
    return StoredDecision(
        metric=str(doc.get("metric") or ""),
        check=str(check) if check else None,
        cpu_share=_optional_pair(doc.get("cpu_share")),
        cpu_median=_optional_pair(doc.get("cpu_median")),
        vetoed=bool(doc.get("vetoed")),
        reason=str(doc.get("reason") or ""),
    )


# --- the machine's environment -------------------------------------------------------------------


@dataclass(frozen=True)
class StoredEnvironment:
    """The machine and interpreter a measurement ran on, as far as a reader shows them."""

    hostname: str | None
    cpu_model: str | None
    logical_cores: int | None
    memory_bytes: int | None
    os: tuple[str, str, str]  # system, release, machine ("" when absent)
    python: tuple[str, str]  # implementation, version
    git_sha: str | None
    packages: tuple[tuple[str, str], ...]  # sorted by name

    def to_dict(self) -> dict[str, Any]:
        return {
            "hostname": self.hostname,
            "cpu": {"model": self.cpu_model, "logical_cores": self.logical_cores},
            "memory_bytes": self.memory_bytes,
            "os": dict(zip(("system", "release", "machine"), self.os, strict=True)),
            "python": dict(zip(("implementation", "version"), self.python, strict=True)),
            "git": {"sha": self.git_sha},
            "packages": dict(self.packages),
        }


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _words(doc: Mapping[str, Any], *keys: str) -> tuple[str, ...]:
    return tuple("" if doc.get(k) is None else str(doc.get(k)) for k in keys)


def packages_of(value: Any) -> tuple[tuple[str, str], ...]:
    """A stored ``{name: version}`` object as sorted pairs."""
    return tuple(sorted((str(k), str(v)) for k, v in _mapping(value).items()))


def load_environment(value: Any) -> StoredEnvironment | None:
    """A stored environment fingerprint (None: none recorded)."""
    doc = _document(value)
    if doc is None:
        return None
    cpu = _mapping(doc.get("cpu"))
    os_ = _words(_mapping(doc.get("os")), "system", "release", "machine")
    py = _words(_mapping(doc.get("python")), "implementation", "version")
    return StoredEnvironment(
        hostname=_text_or_none(doc.get("hostname")),
        cpu_model=_text_or_none(cpu.get("model")),
        logical_cores=stored_int(cpu.get("logical_cores")),
        memory_bytes=stored_int(doc.get("memory_bytes")),
        os=(os_[0], os_[1], os_[2]),
        python=(py[0], py[1]),
        git_sha=_text_or_none(_mapping(doc.get("git")).get("sha")),
        packages=packages_of(doc.get("packages")),
    )
