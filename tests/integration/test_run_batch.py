"""Batches: consecutive samples of one command run by the spawner in its own loop.

Real processes throughout. Every sample of a batch is measured, contained and classified as a
single sample is: a failure in the middle, a timeout, a daemon left behind, output of any size,
a program that disappears, and Ctrl-C while a batch runs.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from perfop.errors import WorkloadError
from perfop.measure import launch, runner
from perfop.model import ProcessResult
from waiting import wait_until

PY = sys.executable


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[int]:
    """The sizes of the batches sent to the spawner (a fallback to single samples sends none),
    with a spawner that has reported once (so it is known to contain its samples)."""
    assert runner.run_process(["true"], cwd=tmp_path, env=dict(os.environ), timeout=30).ok
    sizes: list[int] = []
    real = launch.Spawner.launch_batch

    def spy(self: launch.Spawner, *args: Any, **kwargs: Any) -> launch.LaunchedBatch:
        sizes.append(kwargs["count"])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(launch.Spawner, "launch_batch", spy)
    return sizes


def _batch(argv: list[str], cwd: Path, count: int, timeout: float = 30) -> list[ProcessResult]:
    results: list[ProcessResult] = []
    runner.run_batch(
        argv, cwd=cwd, env=dict(os.environ), timeout=timeout, count=count, on_result=results.append
    )
    return results


def _counting(tmp_path: Path, body: str) -> list[str]:
    """A Python command that knows which run of the batch it is (``n``, from 1)."""
    log = tmp_path / "runs.log"
    return [
        PY,
        "-c",
        "import os, sys, time\n"
        f"log = {str(log)!r}\n"
        "with open(log, 'a') as f: f.write(f'{os.getpid()}\\n')\n"
        "n = len(open(log).read().split())\n" + body,
    ]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_a_failing_sample_in_the_middle_is_classified_and_the_batch_goes_on(
    tmp_path: Path, batches: list[int]
) -> None:
    argv = _counting(
        tmp_path,
        "print(f'run {n}'); print(f'PERFOP_METRIC items={n * 10}')\n"
        "if n == 3:\n    sys.stderr.write('boom on run 3\\n'); sys.exit(3)\n",
    )
    results = _batch(argv, tmp_path, 5)
    assert batches == [5]
    assert [r.exit_code for r in results] == [0, 0, 3, 0, 0]
    assert [r.ok for r in results] == [True, True, False, True, True]
    assert "boom on run 3" in results[2].stderr_tail
    assert all(r.stderr_tail == "" for i, r in enumerate(results) if i != 2)
    assert [r.stdout_head for r in results] == [f"run {n}\n" for n in range(1, 6)]
    assert [r.metrics["items"] for r in results] == [10.0, 20.0, 30.0, 40.0, 50.0]
    assert all(r.wall_time > 0 and r.peak_rss > 0 for r in results)
    # Each sample's output digest is its own, as for single samples.
    single = runner.run_process(
        [PY, "-c", "print('run 2'); print('PERFOP_METRIC items=20')"],
        cwd=tmp_path,
        env=dict(os.environ),
        timeout=30,
    )
    assert results[1].stdout_digest == single.stdout_digest
    assert len({r.stdout_digest for r in results}) == 5


def test_a_timeout_inside_a_batch_kills_that_sample_only(
    tmp_path: Path, batches: list[int]
) -> None:
    argv = _counting(tmp_path, "if n == 2:\n    time.sleep(60)\nprint('done')\n")
    results = _batch(argv, tmp_path, 4, timeout=1.0)
    assert batches == [4]
    assert [r.timed_out for r in results] == [False, True, False, False]
    assert results[1].signal is None and results[1].exit_code is None  # a timeout, not a crash
    assert not results[1].ok and results[1].describe_failure().startswith("timed out")
    assert [r.stdout_head for r in results] == ["done\n", "", "done\n", "done\n"]
    pids = [int(p) for p in (tmp_path / "runs.log").read_text().split()]
    assert not _alive(pids[1])


def test_a_daemon_started_inside_a_batch_is_swept_before_the_next_sample(
    tmp_path: Path, batches: list[int]
) -> None:
    pids = tmp_path / "daemons"
    daemon = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
        "        print('daemon keeps stdout open', flush=True)\n"
        "        time.sleep(60)\n"
        "    os._exit(0)\n"
        "os.wait()\n"
        "while True:\n"
        f"    if os.path.exists({str(pids)!r}) and open({str(pids)!r}).read().endswith('\\n'):\n"
        "        break\n"
        "    time.sleep(0.005)\n"
    )
    counter = tmp_path / "count"
    # Each sample waits until its own daemon has written its pid (n lines after n samples).
    argv = [
        PY,
        "-c",
        f"open({str(counter)!r}, 'a').write('x')\n"
        f"n = len(open({str(counter)!r}).read())\n"
        + daemon.replace(".read().endswith('\\n')", ".read().count('\\n') >= n"),
    ]
    results = _batch(argv, tmp_path, 4)
    assert batches == [4]
    assert all(r.ok for r in results), [r.describe_failure() for r in results]
    # A sample that waited for its daemon's open stdout would have timed out (the 30 s timeout
    # is shorter than the daemon's minute) and not be ok.
    daemons = [int(p) for p in pids.read_text().split()]
    assert len(daemons) == 4
    assert not any(_alive(p) for p in daemons)


def test_output_of_any_size_is_drained_while_the_batch_runs(
    tmp_path: Path, batches: list[int]
) -> None:
    # 2 MB per sample: far more than a pipe holds, so a batch that left its pipes unread would
    # hang until the timeout.
    code = "import sys\nfor i in range(25000):\n    sys.stdout.write(f'{i:079d}\\n')\n"
    results = _batch([PY, "-c", code], tmp_path, 3, timeout=60)
    assert batches == [3]
    assert all(r.ok and not r.timed_out for r in results)
    assert all(r.stdout_bytes == 25000 * 80 for r in results)
    assert len({r.stdout_digest for r in results}) == 1
    single = runner.run_process([PY, "-c", code], cwd=tmp_path, env=dict(os.environ), timeout=60)
    assert results[0].stdout_digest == single.stdout_digest


def test_a_program_that_disappears_mid_batch_ends_it_with_one_clear_error(
    tmp_path: Path, batches: list[int]
) -> None:
    script = tmp_path / "once-twice.sh"
    count = tmp_path / "count"
    script.write_text(
        f'#!/bin/sh\necho x >> {count}\n[ "$(wc -l < {count})" -ge 2 ] && rm -f "$0"\nexit 0\n'
    )
    script.chmod(0o755)
    results: list[ProcessResult] = []
    with pytest.raises(WorkloadError, match=r"cannot start .*once-twice.*No such file"):
        runner.run_batch(
            [str(script)],
            cwd=tmp_path,
            env=dict(os.environ),
            timeout=30,
            count=5,
            on_result=results.append,
        )
    assert batches == [5]
    assert [r.ok for r in results] == [True, True]  # the samples before the error are kept
    assert runner.run_process(["true"], cwd=tmp_path, env=dict(os.environ), timeout=30).ok


def test_ctrl_c_mid_batch_keeps_the_completed_samples_and_kills_the_running_one(
    tmp_path: Path, batches: list[int]
) -> None:
    argv = _counting(tmp_path, "time.sleep(60 if n == 4 else 0)\n")
    log = tmp_path / "runs.log"
    sp = launch.spawner()
    assert sp is not None

    def interrupt() -> None:
        wait_until(lambda: log.exists() and len(log.read_text().split()) >= 4, what="run 4")
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Thread(target=interrupt, daemon=True)
    timer.start()
    results: list[ProcessResult] = []
    with pytest.raises(KeyboardInterrupt):
        runner.run_batch(
            argv,
            cwd=tmp_path,
            env=dict(os.environ),
            timeout=120,
            count=10,
            on_result=results.append,
        )
    timer.join()
    assert batches == [10]
    assert len(results) == 3 and all(r.ok for r in results)  # run 4 was running: not a sample
    pids = [int(p) for p in log.read_text().split()]
    assert len(pids) == 4 and not _alive(pids[3])
    # The same spawner goes on serving samples.
    assert runner.run_process(["true"], cwd=tmp_path, env=dict(os.environ), timeout=30).ok
    current = launch.spawner()
    assert current is sp and current.proc.poll() is None


def test_without_a_contained_spawner_samples_run_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launch, "spawner", lambda: None)
    results = _batch([PY, "-c", "print('direct')"], tmp_path, 3)
    assert [r.stdout_head for r in results] == ["direct\n"] * 3


# --- through `perfop run` --------------------------------------------------------------------


def test_perfop_run_batches_consecutive_samples_and_interrupts_cleanly(
    tmp_path: Path, perfop_popen: Any
) -> None:
    # Fast samples run in batches of up to 64; SIGINT while one runs marks the run interrupted
    # with every completed sample stored in order, and leaves no workload behind.
    log = tmp_path / "pids"
    code = (
        f"import os, time; open({str(log)!r}, 'a').write(f'{{os.getpid()}}\\n'); time.sleep(0.01)"
    )
    db = tmp_path / "s.db"
    proc = perfop_popen(
        ["--store", f"sqlite:///{db}", "run", "--runs", "5000", "--warmup", "2", "--",
         PY, "-c", code],
        cwd=tmp_path,
    )  # fmt: skip
    wait_until(
        lambda: (log.exists() and len(log.read_text().split()) >= 60) or proc.poll() is not None,
        what="60 samples",
    )
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    pids = [int(p) for p in log.read_text().split()]
    assert not any(_alive(p) for p in pids)
    con = sqlite3.connect(db)
    try:
        status, run_id = con.execute("SELECT status, id FROM runs").fetchone()
    finally:
        con.close()
    assert status == "interrupted"
    from perfop.store import open_store

    store = open_store(f"sqlite:///{db}")
    try:
        record = store.get_run(run_id)
        assert 3 <= record.n_samples <= len(pids) - 2  # warm-ups are not samples
        assert [s.index for s in record.samples] == list(range(record.n_samples))
    finally:
        store.close()
