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

from perfop import runner
from perfop.runner import STDOUT_HEAD_BYTES, _StdoutSink


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
