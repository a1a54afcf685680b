"""The profiling records: raw stacks from any profiler, and the one hot-spot model built from them.

Pipeline: a backend produces ``RawProfile`` (stacks with weights, plain data) -> ``attribution``
folds the stacks onto the repository's own code -> ``HotSpot`` rows in a ``ProfilePart`` -> a
``ProfileReport`` (one per ``perfop profile`` invocation, one part per mode) -> JSON / store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Kind = Literal["cpu", "memory"]
KINDS: tuple[Kind, ...] = ("cpu", "memory")
OUTSIDE = "(outside the repository)"


@dataclass(frozen=True)
class Frame:
    """One stack frame as the profiler saw it; ``file`` is absolute where the profiler knew it."""

    function: str
    file: str
    line: int


@dataclass(frozen=True)
class StackSample:
    """A stack (root first, leaf last) and the weight it carries.

    CPU weight is seconds of sampled time; memory weight is bytes alive at the peak.
    ``count`` is the number of samples (CPU) or allocations (memory) folded into this row.
    """

    frames: tuple[Frame, ...]
    weight: float
    count: int = 1


@dataclass(frozen=True)
class RawProfile:
    """What one profiler run produced, before attribution."""

    kind: Kind
    backend: str
    unit: str  # "s" or "B"
    stacks: tuple[StackSample, ...]
    wall_time: float
    peak_bytes: int | None = None
    artifacts: dict[str, Path] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    cpu_time: float | None = None  # user+sys seconds of the profiled process tree, when known


def hotspot_id(kind: str, file: str, function: str) -> str:
    """A stable id for a hot spot: independent of line numbers, so edits elsewhere keep it."""
    digest = hashlib.sha256(f"{kind}\0{file}\0{function}".encode()).hexdigest()
    return f"{kind[0]}-{digest[:12]}"


@dataclass(frozen=True)
class HotSpot:
    """One function's share of a profile.

    ``file`` is repo-relative (POSIX separators) for the repository's own code; a harness row's
    file is the harness file; other code (only with ``--all``) keeps a shortened absolute path.
    Rows that are not one function (``(harness)``, ``(stdlib: json)``) name what they group.
    ``self_value``/``total_value`` are in the part's unit (seconds or bytes); ``count`` is samples
    (CPU) or allocations (memory).
    """

    id: str
    kind: Kind
    function: str
    file: str
    line: int
    self_pct: float
    total_pct: float
    self_value: float
    total_value: float
    count: int
    in_repo: bool = True
    origin: str = "repo"  # repo, harness, stdlib, package, generated, unknown (see attribution)


def guess_origin(function: str, in_repo: bool) -> str:
    """A hot spot's origin where only its name and ``in_repo`` were kept (rows stored before
    origins were recorded, the store's rows): exact for every row but ``--all``'s outside ones."""
    if in_repo:
        return "repo"
    if function == "(harness)":
        return "harness"
    if function == "(generated code)":
        return "generated"
    for origin in ("stdlib", "package"):
        if function.startswith(f"({origin}: "):
            return origin
    return "unknown"


@dataclass(frozen=True)
class ProfilePart:
    """One mode's result (cpu or memory) of a profile invocation."""

    kind: Kind
    backend: str
    unit: str
    total: float  # sum of all weights: sampled seconds, or bytes alive at the peak
    wall_time: float  # wall time of the profiled process, seconds
    peak_bytes: int | None
    sample_count: int
    hotspots: tuple[HotSpot, ...]
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> path relative to the repo
    notes: tuple[str, ...] = ()
    cpu_time: float | None = None  # user+sys seconds of the profiled process tree, when known
    # hot spot id -> (its heaviest repository callee, % of its inclusive weight through it)
    via: dict[str, tuple[str, float]] = field(default_factory=dict)

    def hotspot(self, function: str) -> HotSpot | None:
        """The hot spot of ``function`` (its qualified name as shown), if any."""
        return next((h for h in self.hotspots if h.function == function), None)


@dataclass(frozen=True)
class ProfileReport:
    """One ``perfop profile`` invocation: what was profiled, where, and one part per mode."""

    id: str
    created_at: str  # ISO 8601, UTC
    workload: str | None
    argv: tuple[str, ...]
    cwd: str  # relative to the repo root ("." for the root), absolute only when outside it
    ref: str | None
    sha: str | None
    all_frames: bool
    parts: tuple[ProfilePart, ...]
    artifact_dir: str  # relative to the repo root
    environment: dict[str, object] = field(default_factory=dict)
    repeat: int = 1  # profiled runs merged into this report (values are per run)

    def part(self, kind: Kind) -> ProfilePart | None:
        return next((p for p in self.parts if p.kind == kind), None)
