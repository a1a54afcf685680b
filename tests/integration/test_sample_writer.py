"""SampleWriter: few transactions, nothing lost on an interruption, bounded loss on a hard kill."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfop.model import ProcessResult, RunStatus
from perfop.store import open_store
from perfop.store.core import SampleWriter


def _result(ok: bool = True) -> ProcessResult:
    return ProcessResult(
        argv=("x",),
        exit_code=0 if ok else 1,
        signal=None,
        timed_out=False,
        wall_time=0.01,
        user_time=0.0,
        sys_time=0.0,
        peak_rss=1,
        metrics={"wall_time": 0.01},
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_flushes_when_the_interval_has_passed(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    run_id = store.begin_run(workload="w", argv=["x"])
    clock = _Clock()
    writer = SampleWriter(store, run_id, flush_interval=0.25, clock=clock)
    writer.add(0, _result())
    writer.add(1, _result(ok=False))
    assert store.get_run(run_id).n_samples == 0  # buffered: a fraction of the interval passed
    clock.now = 0.3
    writer.add(2, _result())
    run = store.get_run(run_id)
    assert (run.n_samples, run.n_failures) == (2, 1)
    writer.add(3, _result())
    writer.close()
    assert store.get_run(run_id).n_samples == 3


def test_an_exception_inside_the_block_still_writes_everything(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    run_id = store.begin_run(workload="w", argv=["x"])
    with pytest.raises(KeyboardInterrupt), store.sample_writer(run_id, flush_interval=60) as w:
        for i in range(5):
            w.add(i, _result())
        raise KeyboardInterrupt
    store.finish_run(run_id, RunStatus.INTERRUPTED)
    run = store.get_run(run_id)
    assert run.status == "interrupted" and [s.index for s in run.samples] == [0, 1, 2, 3, 4]
