"""The domain records shared by every layer: plain, frozen data with no behaviour beyond helpers.

Measurement produces ``ProcessResult`` (one spawned process); a run is a list of those split into
``Sample`` (succeeded) and ``Failure`` (non-zero exit, signal or timeout, never a sample).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Better = Literal["lower", "higher"]

# Built-in metrics measured for every sample: name -> (unit, better)
BUILTIN_METRICS: dict[str, tuple[str, Better]] = {
    "wall_time": ("s", "lower"),
    "user_time": ("s", "lower"),
    "sys_time": ("s", "lower"),
    "cpu_time": ("s", "lower"),  # user + sys: what the process computed, without its waiting
    "peak_rss": ("B", "lower"),
}
PRIMARY_METRIC = "wall_time"


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is: its unit and which direction is better."""

    name: str
    unit: str = ""
    better: Better = "lower"


@dataclass(frozen=True)
class ProcessResult:
    """One spawned process, spawn to reap.

    ``metrics`` holds the built-in metrics and every ``PERFOP_METRIC`` line the process printed.
    ``stdout_digest`` hashes the normalised stdout (metric lines removed, trailing whitespace
    stripped) and ``stdout_head`` keeps its first bytes for a readable diff.
    """

    argv: tuple[str, ...]
    exit_code: int | None
    signal: int | None
    timed_out: bool
    wall_time: float
    user_time: float
    sys_time: float
    peak_rss: int
    metrics: dict[str, float] = field(default_factory=dict)
    metric_specs: dict[str, MetricSpec] = field(default_factory=dict)
    stdout_digest: str = ""
    stdout_head: str = ""
    stdout_bytes: int = 0
    stdout_complete: bool = True  # the normalised stdout fits in stdout_head
    # Bytes past the behaviour check's budget (stdout_check_bytes): in the digest by count only.
    stdout_unchecked: int = 0
    stdout_check_bytes: int = 0
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.signal is None

    def describe_failure(self) -> str:
        """One-line reason this process failed (empty when it succeeded)."""
        if self.timed_out:
            return f"timed out after {self.wall_time:.3g} s"
        if self.signal is not None:
            return f"killed by signal {self.signal}"
        if self.exit_code not in (0, None):
            return f"exited with code {self.exit_code}"
        return ""


@dataclass(frozen=True)
class Sample:
    """One successful measured process of a run."""

    index: int
    metrics: dict[str, float]

    @property
    def wall_time(self) -> float:
        return self.metrics["wall_time"]


@dataclass(frozen=True)
class Failure:
    """One failed process of a run: kept apart from samples and always shown."""

    index: int
    reason: str
    exit_code: int | None
    signal: int | None
    timed_out: bool
    wall_time: float
    stderr_tail: str


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


class Verdict(StrEnum):
    """Outcome of an A/B comparison of one metric or one workload."""

    FASTER = "faster"
    SLOWER = "slower"
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"
