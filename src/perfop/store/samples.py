"""Samples in compact blocks, and the per-run summaries written when a run finishes.

A block is one row of ``sample_blocks``: the samples one flush of a run's writer recorded, as a
little-endian float64 column per metric (``data``, metric-major), their indices (NULL when they
run on from ``first_idx``) and their stdout digests (distinct values plus a code per sample when
they differ). Metric names and digests are text lists joined by ``SEP`` (JSON, marked by a
leading ``JSON_MARK``, only for a name holding a separator): a block is often one sample, and
splitting a string costs a fraction of ``json.loads``. A metric absent from a sample is stored
as ``ABSENT``, a NaN with its own payload,
so a measured NaN stays a NaN. ``run_metrics`` keeps, per finished run and metric, the count,
sums and every statistic of ``perfop.stats.STATISTICS``: history and listings read those rows and
never decode a sample. Pure encoding here plus the queries; ``Store`` calls them.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from perfop.store import schema as s

ABSENT_BITS = 0x7FF8_0000_DEAD_0001  # a quiet NaN no arithmetic produces
_ABSENT: float = struct.unpack("<d", struct.pack("<Q", ABSENT_BITS))[0]
_CHUNK = 500  # ids per IN (...) clause
_STRUCT_BLOCK = 1000  # block_values decodes blocks of at most this many samples with struct
SEP, JSON_MARK = "\x1f", "\x1e"


def pack_names(names: Sequence[str | None]) -> str:
    """``names`` as one text value (None as the empty string)."""
    if any(n and (SEP in n or n.startswith(JSON_MARK)) for n in names):
        import json

        return JSON_MARK + json.dumps(list(names))
    return SEP.join(n or "" for n in names)


def unpack_names(text: str) -> list[str]:
    if text.startswith(JSON_MARK):
        import json

        return [n or "" for n in json.loads(text[1:])]
    return text.split(SEP) if text else []


@dataclass(frozen=True)
class DecodedSample:
    index: int
    metrics: dict[str, float]
    stdout_digest: str | None


def encode_block(
    items: Sequence[tuple[int, Mapping[str, float], str | None]],
) -> dict[str, Any]:
    """Column values of one ``sample_blocks`` row for ``(index, metrics, stdout digest)`` items."""
    names: list[str] = []
    seen: set[str] = set()
    for _, metrics, _ in items:
        for name in metrics:
            if name not in seen:
                seen.add(name)
                names.append(name)
    n = len(items)
    # struct, not numpy: the writer's path (``perfop run``) stays free of NumPy's import
    data = [_ABSENT] * (len(names) * n)  # metric-major: data[k * n + j] is metric k of sample j
    position = {name: k for k, name in enumerate(names)}
    for j, (_, metrics, _) in enumerate(items):
        for name, value in metrics.items():
            data[position[name] * n + j] = float(value)
    indices = [i for i, _, _ in items]
    first = indices[0] if indices else 0
    contiguous = indices == list(range(first, first + n))
    digests: list[str | None] = []
    codes: list[int] = []
    for _, _, digest in items:
        if digest not in digests:
            digests.append(digest)
        codes.append(digests.index(digest))
    return {
        "n": n,
        "first_idx": first,
        "indices": None if contiguous else struct.pack(f"<{n}q", *indices),
        "metrics": pack_names(names),
        "data": struct.pack(f"<{len(data)}d", *data),
        "digests": pack_names(digests),
        "digest_codes": struct.pack(f"<{n}I", *codes) if len(digests) > 1 else None,
    }


def block_indices(row: Any) -> list[int]:
    if row.indices is None:
        return list(range(row.first_idx, row.first_idx + row.n))
    return list(struct.unpack(f"<{row.n}q", row.indices))


def taken_indices(conn: Connection, run_id: int) -> set[int]:
    """Sample indices a run already has (block ranges; only scattered blocks are decoded)."""
    t = s.sample_blocks
    out: set[int] = set()
    for row in conn.execute(
        sa.select(t.c.first_idx, t.c.n, t.c.indices).where(t.c.run_id == run_id)
    ):
        out.update(block_indices(row))
    return out


def block_metrics(row: Any) -> list[tuple[int, dict[str, float]]]:
    """``(index, metrics)`` of each sample of one block row, in the order written."""
    names = unpack_names(row.metrics)
    n, width = row.n, len(names)
    # struct, not numpy: most blocks hold one or a few samples, where numpy's overhead dominates
    values = struct.unpack(f"<{n * width}d", row.data)
    bits = struct.unpack(f"<{n * width}Q", row.data)
    if n == 1:  # the usual block of a slow workload: one sample
        index = row.first_idx if row.indices is None else block_indices(row)[0]
        return [
            (index, {k: v for k, v, b in zip(names, values, bits, strict=True) if b != ABSENT_BITS})
        ]
    return [
        (
            idx,
            {names[k]: values[k * n + j] for k in range(width) if bits[k * n + j] != ABSENT_BITS},
        )
        for j, idx in enumerate(block_indices(row))
    ]


def decode_block(row: Any) -> list[DecodedSample]:
    """The samples of one block row with their stdout digests, in the order written."""
    digests: list[str | None] = [d or None for d in unpack_names(row.digests)] or [None]
    codes = (
        struct.unpack(f"<{row.n}I", row.digest_codes)
        if row.digest_codes is not None
        else (0,) * row.n
    )
    return [
        DecodedSample(index=idx, metrics=metrics, stdout_digest=digests[codes[j]])
        for j, (idx, metrics) in enumerate(block_metrics(row))
    ]


def block_values(rows: Iterable[Any], metric: str) -> list[float]:
    """Every value of ``metric`` in these block rows (in row order), without building samples.

    NumPy decodes a large block; struct a small one (a run's writer flushes every 0.25 s, so
    most blocks hold one or a few samples), which keeps ``perfop run`` free of NumPy's import.
    """
    out: list[float] = []
    for row in rows:
        names = unpack_names(row.metrics)
        if metric not in names:
            continue
        k = names.index(metric)
        if row.n <= _STRUCT_BLOCK:
            values = struct.unpack_from(f"<{row.n}d", row.data, 8 * k * row.n)
            bits = struct.unpack_from(f"<{row.n}Q", row.data, 8 * k * row.n)
            out.extend(v for v, b in zip(values, bits, strict=True) if b != ABSENT_BITS)
            continue
        import numpy as np

        column = np.frombuffer(row.data, dtype="<f8", count=row.n, offset=8 * k * row.n)
        out.extend(column[column.view("<u8") != ABSENT_BITS].tolist())
    return out


BLOCK_COLUMNS = (
    s.sample_blocks.c.run_id,
    s.sample_blocks.c.n,
    s.sample_blocks.c.first_idx,
    s.sample_blocks.c.indices,
    s.sample_blocks.c.metrics,
    s.sample_blocks.c.data,
    s.sample_blocks.c.digests,
    s.sample_blocks.c.digest_codes,
)


def read_blocks(conn: Connection, run_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Block rows of these runs, per run in the order written."""
    out: dict[int, list[Any]] = {rid: [] for rid in run_ids}
    ids = list(run_ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for row in conn.execute(
            sa.select(*BLOCK_COLUMNS)
            .where(s.sample_blocks.c.run_id.in_(chunk))
            .order_by(s.sample_blocks.c.run_id, s.sample_blocks.c.id)
        ):
            out[row.run_id].append(row)
    return out


def run_samples(conn: Connection, run_id: int) -> list[DecodedSample]:
    """A run's samples ordered by index."""
    decoded = [d for row in read_blocks(conn, [run_id])[run_id] for d in decode_block(row)]
    return sorted(decoded, key=lambda d: d.index)


def sample_counts(conn: Connection, run_ids: Sequence[int]) -> dict[int, int]:
    """Number of samples of each run (one grouped query per 500 runs, no decoding)."""
    out = dict.fromkeys(run_ids, 0)
    ids = list(run_ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for rid, total in conn.execute(
            sa.select(s.sample_blocks.c.run_id, sa.func.sum(s.sample_blocks.c.n))
            .where(s.sample_blocks.c.run_id.in_(chunk))
            .group_by(s.sample_blocks.c.run_id)
        ):
            out[int(rid)] = int(total or 0)
    return out


def failure_counts(conn: Connection, run_ids: Sequence[int]) -> dict[int, int]:
    out = dict.fromkeys(run_ids, 0)
    ids = list(run_ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for rid, total in conn.execute(
            sa.select(s.failures.c.run_id, sa.func.count())
            .where(s.failures.c.run_id.in_(chunk))
            .group_by(s.failures.c.run_id)
        ):
            out[int(rid)] = int(total)
    return out


def _finite_or_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def summary_rows(run_id: int, blocks: Sequence[Any]) -> list[dict[str, Any]]:
    """``run_metrics`` rows of one run from its block rows (perfop.describe per metric)."""
    from perfop.describe import summarize, sums  # no NumPy import for a run of <= 1000

    order: list[str] = []
    for row in blocks:
        order.extend(m for m in unpack_names(row.metrics) if m not in order)
    rows = []
    for metric in order:
        values = block_values(blocks, metric)
        if not values:
            continue
        summary = summarize(values)
        total, total_sq = sums(values)
        rows.append(
            {
                "run_id": run_id,
                "metric": metric,
                "n": summary.n,
                "sum": _finite_or_none(total),
                "sum_sq": _finite_or_none(total_sq),
                **{
                    name: _finite_or_none(float(getattr(summary, name)))
                    for name in ("mean", "stdev", "median", "p90", "p95", "p99", "min", "max")
                },
            }
        )
    return rows


def write_summaries(conn: Connection, run_id: int) -> None:
    """(Re)write ``run_metrics`` of ``run_id`` from its stored samples."""
    blocks = read_blocks(conn, [run_id])[run_id]
    conn.execute(s.run_metrics.delete().where(s.run_metrics.c.run_id == run_id))
    rows = summary_rows(run_id, blocks)
    if rows:
        conn.execute(s.run_metrics.insert(), rows)


@dataclass(frozen=True)
class RunSummary:
    """One run's stored summary of one metric (NaN where the statistic was NaN)."""

    n: int
    total: float
    total_sq: float
    stats: dict[str, float]


def read_summaries(conn: Connection, run_ids: Sequence[int], metric: str) -> dict[int, RunSummary]:
    """``run_metrics`` of ``metric`` for these runs (runs without that metric are absent)."""
    t = s.run_metrics
    names = ("mean", "median", "p90", "p95", "p99", "min", "max", "stdev")
    out: dict[int, RunSummary] = {}
    ids = list(run_ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for row in conn.execute(
            sa.select(t.c.run_id, t.c.n, t.c.sum, t.c.sum_sq, *(t.c[n] for n in names)).where(
                t.c.run_id.in_(chunk), t.c.metric == metric
            )
        ):

            def val(x: Any) -> float:
                return math.nan if x is None else float(x)

            out[int(row.run_id)] = RunSummary(
                n=int(row.n),
                total=val(row.sum),
                total_sq=val(row.sum_sq),
                stats={n: val(getattr(row, n)) for n in names},
            )
    return out
