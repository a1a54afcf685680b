"""The spawner's way of waiting (poll briefly or sleep) is learnt from measured hand-off costs,
not tuned to one machine (issue 18, point 2)."""

from __future__ import annotations

import pytest

from perfop.measure.launch import SpinChooser


def _drive(chooser: SpinChooser, cost: dict[int, float], samples: int) -> list[int]:
    """Run ``samples`` samples whose hand-off costs ``cost[mode]``; the modes used, in order."""
    used = []
    for _ in range(samples):
        mode = chooser.next_spin()
        used.append(mode)
        chooser.record(mode, cost[mode])
    return used


@pytest.mark.parametrize(
    ("spin_cost", "sleep_cost", "expect"), [(40e3, 90e3, 300), (250e3, 90e3, 0)]
)
def test_the_cheaper_way_of_waiting_wins(spin_cost: float, sleep_cost: float, expect: int) -> None:
    chooser = SpinChooser(300)
    used = _drive(chooser, {300: spin_cost, 0: sleep_cost}, 400)
    assert chooser.best() == expect
    after_learning = used[4 * SpinChooser.BLOCK :]
    # Most samples after the first blocks use the cheaper mode; the rest re-measure the other.
    assert after_learning.count(expect) >= 0.8 * len(after_learning)
    assert set(used) == {0, 300}  # both were measured


def test_a_change_of_load_is_followed() -> None:
    chooser = SpinChooser(300)
    _drive(chooser, {300: 40e3, 0: 90e3}, 300)
    assert chooser.best() == 300
    # The machine gets busy: polling now loses; periodic re-measuring notices.
    _drive(chooser, {300: 400e3, 0: 90e3}, 600)
    assert chooser.best() == 0


def test_an_explicit_window_is_used_as_given() -> None:
    chooser = SpinChooser(50, adaptive=False)
    assert set(_drive(chooser, {50: 1e9, 0: 1.0}, 200)) == {50}
    off = SpinChooser(0)
    assert set(_drive(off, {0: 1.0}, 50)) == {0}
