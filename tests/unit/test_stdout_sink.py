"""The stdout sink's fast normalisation gives the digest the behaviour check was defined with.

The reference below is the definition (docs/guide.md): trailing whitespace of each line and
trailing blank lines dropped, ``PERFOP_METRIC`` lines removed; the sink computes it block by
block with split/rstrip/join, on arbitrary read boundaries.
"""

from __future__ import annotations

import hashlib
import random
import re

import pytest

from perfop.measure import runner
from perfop.measure.runner import STDOUT_HEAD_BYTES, _StdoutSink


def reference(data: bytes) -> bytes:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    kept = [line for line in lines if not line.startswith(b"PERFOP_METRIC ")]
    text = b"".join(re.sub(rb"[ \t\r\f\v]+$", b"", line) + b"\n" for line in kept)
    return text.rstrip(b"\n") + b"\n" if text.strip(b"\n") else b""


PIECES = (b"alpha", b"beta gamma", b" ", b"\t", b"\r", b"\f", b"\v", b"\n", b"\n", b"\n",
          b"\r\n", b"PERFOP_METRIC rows=3\n", b"x" * 300, "é".encode(), b"\xff")  # fmt: skip


def _feed(data: bytes, rng: random.Random) -> _StdoutSink:
    sink = _StdoutSink()
    at = 0
    while at < len(data):
        step = rng.choice((3, 7, 64, 4096, 70_000, 200_000))
        sink.feed(data[at : at + step])
        at += step
    sink.close()
    return sink


@pytest.mark.parametrize("with_numpy", [True, False])
@pytest.mark.parametrize("seed", range(16))
def test_digest_matches_the_definition_on_random_output(
    seed: int, with_numpy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both ways of finding trailing whitespace: NumPy's (once perfop has loaded it) and bytes'.
    if with_numpy:
        import numpy

        monkeypatch.setattr(runner, "_loaded_numpy", lambda: numpy)
    else:
        monkeypatch.setattr(runner, "_loaded_numpy", lambda: None)
    rng = random.Random(seed)
    data = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 3000)))
    sink = _feed(data, rng)
    want = reference(data)
    assert sink.digest == hashlib.sha256(want).hexdigest()
    assert sink.head == want[:STDOUT_HEAD_BYTES].decode("utf-8", "replace")
    assert sink.total == len(data)
    assert sink.metrics == ({"rows": 3.0} if b"PERFOP_METRIC rows=3\n" in data else {})


def test_crlf_and_trailing_blanks_are_normalised_across_read_boundaries() -> None:
    sink = _StdoutSink()
    for piece in (b"one \r", b"\ntwo\t", b"\t\r\n", b"\n \n", b"\r\n"):
        sink.feed(piece)
    sink.close()
    assert sink.digest == hashlib.sha256(b"one\ntwo\n").hexdigest()


# -- the behaviour check's budget (issue 16 item 8) ---------------------------------------------

LONG = b"y" * 3000  # with _LONG_LINE patched to 5000 below, a few of these make an overlong line


def _lines(data: bytes) -> list[bytes]:
    return re.findall(rb"[^\n]*\n|[^\n]+$", data)


def reference_budgeted(data: bytes, budget: int, long_line: int) -> tuple[bytes, int | None]:
    """(what is normalised and hashed, bytes compared by count only; None: no cut), as defined:
    lines that start within the first ``budget`` bytes are checked, a line still open
    ``long_line`` bytes past the budget is cut there; past the cut, metric lines (no longer than
    ``long_line``) are metrics, and every other byte is counted."""
    if not data or (budget and len(data) < budget):
        return reference(data), None
    mid = False
    if budget == 0:
        cut = 0
    else:
        nl = data.find(b"\n", budget - 1, budget + long_line)
        if nl >= 0:
            cut = nl + 1
        elif len(data) >= budget + long_line:
            cut, mid = budget + long_line, True
        else:
            return reference(data), None
    rest = _lines(data[cut:])
    metric = sum(
        len(line)
        for i, line in enumerate(rest)
        if line.startswith(b"PERFOP_METRIC ")
        and not (i == 0 and mid)
        and len(line.rstrip(b"\n")) <= long_line
    )
    return reference(data[:cut]), len(data) - cut - metric


@pytest.mark.parametrize("seed", range(24))
def test_past_the_budget_only_the_length_is_hashed_on_any_read_boundaries(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "_LONG_LINE", 5000)
    rng = random.Random(seed)
    pieces = (*PIECES, LONG, b"PERFOP_M", b"ETRIC late=7\n", b"PERFOP_METRIC late=9\n")
    data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 3000)))
    budget = rng.choice((0, 1, 40, 999, 4096, len(data) // 2, len(data), len(data) + 1))
    sink = _StdoutSink(budget)
    at = 0
    while at < len(data):
        step = rng.choice((1, 3, 7, 13, 64, 4096, 70_000))
        sink.feed(data[at : at + step])
        at += step
    sink.close()
    checked, unchecked = reference_budgeted(data, budget, 5000)
    if unchecked is None:
        assert sink.beyond is None
        assert sink.digest == hashlib.sha256(checked).hexdigest()
    else:
        trailer = b"\0perfop: %d bytes not compared\n" % unchecked
        assert sink.unchecked == unchecked
        assert sink.digest == hashlib.sha256(checked + trailer).hexdigest()
    assert sink.head == checked[:STDOUT_HEAD_BYTES].decode("utf-8", "replace")
    assert sink.total == len(data)
    # Metric lines count wherever they are, before or past the cut (the last value wins).
    values = re.findall(rb"(?:^|\n)PERFOP_METRIC (rows|late)=(\d)\n", data)
    want = {}
    for name, value in values:
        want[name.decode()] = float(value)
    assert sink.metrics == want


def test_a_change_within_the_budget_is_seen_and_a_length_change_past_it_too() -> None:
    def digest(data: bytes) -> str:
        sink = _StdoutSink(1000)
        for i in range(0, len(data), 300):
            sink.feed(data[i : i + 300])
        sink.close()
        return sink.digest

    base = b"".join(b"line %05d\n" % i for i in range(1000))  # 11 kB
    assert digest(base) == digest(base)
    early = base.replace(b"line 00050\n", b"line 0005X\n")  # within the first 1000 bytes
    assert digest(early) != digest(base)
    longer = base.replace(b"line 00700\n", b"line 000700\n")  # past it, one byte longer
    assert digest(longer) != digest(base)
    same_length = base.replace(b"line 00700\n", b"line 0070X\n")  # past it, same length
    assert digest(same_length) == digest(base)  # not compared: what the note says
    metric = base + b"PERFOP_METRIC t=0.123456\n"  # metric lines are never part of it
    assert digest(metric) == digest(base + b"PERFOP_METRIC t=1\n") == digest(base)


@pytest.mark.parametrize("step", [1, 7, 100, 10_000])
def test_past_the_budget_a_line_continued_or_overlong_is_no_metric(
    step: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "_LONG_LINE", 200)
    # The line holding the budget's last byte runs on past budget + 200, where the cut falls
    # mid-line: what follows the cut is the rest of that line, even if it reads like a metric.
    data = b"a" * 201 + b"PERFOP_METRIC cont=1\n" + b"PERFOP_METRIC " + b"9" * 300 + b"=1\n"
    data += b"PERFOP_METRIC ok=2\nend\n"
    sink = _StdoutSink(1)
    for i in range(0, len(data), step):
        sink.feed(data[i : i + step])
    sink.close()
    checked, unchecked = reference_budgeted(data, 1, 200)
    assert sink.metrics == {"ok": 2.0}  # not 'cont' (a continuation), not the 300-digit name
    assert sink.unchecked == unchecked == len(data) - 201 - len(b"PERFOP_METRIC ok=2\n")
    assert (
        sink.digest
        == hashlib.sha256(checked + b"\0perfop: %d bytes not compared\n" % unchecked).hexdigest()
    )
