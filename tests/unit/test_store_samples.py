"""Sample blocks (perfop.store.samples): what goes in comes out, bit for bit."""

from __future__ import annotations

import math
import struct
from types import SimpleNamespace

from perfop.store.samples import (
    ABSENT_BITS,
    block_values,
    decode_block,
    encode_block,
    pack_names,
    unpack_names,
)


def _bits(x: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", x))[0])


def test_a_block_round_trips_values_absences_nan_indices_and_digests() -> None:
    items = [
        (0, {"wall_time": 0.1, "rows": math.nan}, "d1"),
        (2, {"wall_time": 0.30000000000000004}, None),
        (7, {"rows": 12.0, "peak_rss": 1e7}, "d1"),
        (8, {"wall_time": -0.0, "peak_rss": 5e-324}, "d2"),
    ]
    row = SimpleNamespace(**encode_block(items))
    back = decode_block(row)
    assert [d.index for d in back] == [0, 2, 7, 8]
    assert [d.stdout_digest for d in back] == ["d1", None, "d1", "d2"]
    for (_, metrics, _), got in zip(items, back, strict=True):
        assert set(got.metrics) == set(metrics)  # an absent metric stays absent
        for name, value in metrics.items():
            assert _bits(got.metrics[name]) == _bits(value)  # NaN stays NaN, -0.0 stays -0.0
    assert block_values([row], "wall_time") == [0.1, 0.30000000000000004, -0.0]
    assert len(block_values([row], "rows")) == 2 and math.isnan(block_values([row], "rows")[0])
    assert _bits(math.nan) != ABSENT_BITS


def test_a_contiguous_block_with_one_digest_stores_no_index_or_code_column() -> None:
    block = encode_block([(i, {"wall_time": float(i)}, "same") for i in range(3, 8)])
    assert block["indices"] is None and block["digest_codes"] is None
    assert (block["first_idx"], block["n"]) == (3, 5)
    assert len(block["data"]) == 5 * 8


def test_names_with_the_separator_survive() -> None:
    for names in (["a", "b"], [], ["x\x1fy", "z"], ["\x1estart"], ["", "b"]):
        assert unpack_names(pack_names(names)) == names
