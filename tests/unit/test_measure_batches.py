"""How ``perfop run`` groups consecutive samples into spawner batches (``measure._BatchSizes``)."""

from __future__ import annotations

from perfop.measure.service import _BatchSizes
from perfop.model import ProcessResult


def _result(wall: float) -> ProcessResult:
    return ProcessResult(
        argv=("w",),
        exit_code=0,
        signal=None,
        timed_out=False,
        wall_time=wall,
        user_time=0.0,
        sys_time=0.0,
        peak_rss=0,
    )


def _sizes(walls: list[float], remaining: int, succeeded: bool = True) -> list[int]:
    sizes, out = _BatchSizes(), []
    while remaining > 0:
        n = sizes.next(remaining, succeeded)
        out.append(n)
        for _ in range(n):
            sizes.add(_result(walls[len(out) - 1] if len(out) <= len(walls) else walls[-1]))
        remaining -= n
    return out


def test_fast_samples_grow_by_doubling_to_the_cap() -> None:
    assert _sizes([0.001], 300) == [1, 2, 4, 8, 16, 32, 64, 64, 64, 45]


def test_until_a_first_success_samples_go_one_at_a_time() -> None:
    # A broken command stops after FAIL_FAST failures exactly as without batches.
    assert _sizes([0.001], 5, succeeded=False) == [1, 1, 1, 1, 1]


def test_a_batch_fits_in_the_batch_seconds_by_its_slowest_sample() -> None:
    assert _sizes([0.02], 200)[:6] == [1, 2, 4, 8, 12, 12]
    assert set(_sizes([0.3], 5)) == {1}  # slower than a batch's time: one by one, as before


def test_one_slow_sample_shrinks_the_next_batch() -> None:
    sizes = _BatchSizes()
    assert sizes.next(1000, True) == 1
    sizes.add(_result(0.001))
    assert sizes.next(1000, True) == 2
    sizes.add(_result(0.001))
    sizes.add(_result(0.2))  # a slow one in the batch
    assert sizes.next(1000, True) == 1


def test_a_quick_failure_does_not_make_a_slow_workloads_batch_huge() -> None:
    # Growth is at most doubling, whatever the last batch's samples took.
    sizes = _BatchSizes()
    sizes.next(100, True)
    sizes.add(_result(0.00001))
    assert sizes.next(100, True) == 2
