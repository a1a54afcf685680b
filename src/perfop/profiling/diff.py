"""Diff two profiles of the same kind: where did the time (or memory) go between two refs. Pure.

Shares alone mislead: when a hot function gets faster, every other function's *share* rises while
its time stays put. So each row also carries the absolute amount per run, the self share times
that side's wall time (CPU) or the bytes alive at the peak (memory), and rows are ranked by the
change in that amount. Functions present on one side only are ``new`` or ``vanished``.
"""

from __future__ import annotations

from dataclasses import dataclass

from perfop.profiling.model import HotSpot, Kind, ProfilePart


@dataclass(frozen=True)
class DiffRow:
    id: str
    function: str
    file: str
    status: str  # "increase", "decrease", "new", "vanished"
    base_self_pct: float
    candidate_self_pct: float
    base_value: float  # seconds per run (cpu) or bytes (memory)
    candidate_value: float

    @property
    def delta_share_points(self) -> float:
        return self.candidate_self_pct - self.base_self_pct

    @property
    def delta_value(self) -> float:
        return self.candidate_value - self.base_value

    @property
    def relative_change(self) -> float | None:
        """candidate/base - 1, None when the base is zero."""
        return self.candidate_value / self.base_value - 1.0 if self.base_value else None


@dataclass(frozen=True)
class ProfileDiff:
    kind: Kind
    unit: str
    base_label: str
    candidate_label: str
    base_wall: float
    candidate_wall: float
    rows: tuple[DiffRow, ...]  # largest absolute change first

    def row(self, function: str) -> DiffRow | None:
        return next((r for r in self.rows if r.function == function), None)

    @property
    def decreases(self) -> tuple[DiffRow, ...]:
        """Rows that got cheaper, biggest saving first."""
        return tuple(
            sorted((r for r in self.rows if r.delta_value < 0), key=lambda r: r.delta_value)
        )

    @property
    def increases(self) -> tuple[DiffRow, ...]:
        return tuple(
            sorted((r for r in self.rows if r.delta_value > 0), key=lambda r: -r.delta_value)
        )


def amount_per_run(spot: HotSpot, part: ProfilePart) -> float:
    """Seconds per run for CPU (self share x wall time), bytes for memory."""
    if part.kind == "cpu":
        return spot.self_pct / 100.0 * part.wall_time
    return spot.self_value


def diff_parts(
    base: ProfilePart, candidate: ProfilePart, *, base_label: str, candidate_label: str
) -> ProfileDiff:
    """Rank every function of either side by the change in its amount per run."""
    if base.kind != candidate.kind:
        raise ValueError(f"cannot diff a {base.kind} profile against a {candidate.kind} profile")
    b = {h.id: h for h in base.hotspots}
    c = {h.id: h for h in candidate.hotspots}
    rows = []
    for hid in dict.fromkeys([*b, *c]):
        hb, hc = b.get(hid), c.get(hid)
        spot = hb or hc
        assert spot is not None
        bv = amount_per_run(hb, base) if hb else 0.0
        cv = amount_per_run(hc, candidate) if hc else 0.0
        if bv == 0 and cv == 0:
            continue  # only ever a caller: nothing of its own to compare
        if hb is None:
            status = "new"
        elif hc is None:
            status = "vanished"
        else:
            status = "decrease" if cv < bv else "increase"
        rows.append(
            DiffRow(
                id=hid,
                function=spot.function,
                file=spot.file,
                status=status,
                base_self_pct=hb.self_pct if hb else 0.0,
                candidate_self_pct=hc.self_pct if hc else 0.0,
                base_value=bv,
                candidate_value=cv,
            )
        )
    rows.sort(key=lambda r: (-abs(r.delta_value), r.file, r.function))
    return ProfileDiff(
        kind=base.kind,
        unit=base.unit,
        base_label=base_label,
        candidate_label=candidate_label,
        base_wall=base.wall_time,
        candidate_wall=candidate.wall_time,
        rows=tuple(rows),
    )


def diff_to_dict(diff: ProfileDiff) -> dict[str, object]:
    """JSON-ready form of a diff (the ``perfop.profile-diff/1`` document's body)."""
    return {
        "kind": diff.kind,
        "unit": diff.unit,
        "base": {"label": diff.base_label, "wall_time": diff.base_wall},
        "candidate": {"label": diff.candidate_label, "wall_time": diff.candidate_wall},
        "rows": [
            {
                "id": r.id,
                "function": r.function,
                "file": r.file,
                "status": r.status,
                "base_self_pct": r.base_self_pct,
                "candidate_self_pct": r.candidate_self_pct,
                "delta_share_points": r.delta_share_points,
                "base_per_run": r.base_value,
                "candidate_per_run": r.candidate_value,
                "delta_per_run": r.delta_value,
            }
            for r in diff.rows
        ],
    }
