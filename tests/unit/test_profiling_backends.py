"""How a profiled run's outcome is judged, on recorded output: the workload's stderr is kept apart
from py-spy's own messages, and py-spy's failures are not blamed on the workload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfop.errors import ProfilerError, WorkloadError
from perfop.model import ProcessResult
from perfop.profiling.backends import (
    STDERR_TAIL_BYTES,
    check_py_spy_outcome,
    py_spy_error,
    strip_profiler_messages,
    workload_stderr,
)

# Recorded (py-spy 0.4, Linux): fails.py wrote its line, exited 3, and was gone before py-spy
# attached, so py-spy printed its error report into the same stderr and exited 1. The last frame
# and its "at" line are added by hand: the shape py-spy prints for frames with source locations.
SPY_RACE = """\
fixture: the database is on fire
Error: Failed to get process executable name. Check that the process is running.

Caused by:
    0: No such file or directory (os error 2)
    1: No such file or directory (os error 2)

Stack backtrace:
   0: <E as anyhow::context::ext::StdError>::ext_context
   1: py_spy::python_process_info::PythonProcessInfo::new
   2: py_spy::python_spy::PythonSpy::new
   3: py_spy::python_spy::PythonSpy::retry_new
   4: std::sys::backtrace::__rust_begin_short_backtrace
   5: core::ops::function::FnOnce::call_once{{vtable.shim}}
   6: std::sys::thread::unix::Thread::new::thread_start
   7: main
             at src/main.rs:12
"""
# Recorded: the same run when py-spy attached in time.
SPY_OK = """\
fixture: the database is on fire
py-spy> Sampling process 100 times a second. Press Control-C to exit.


py-spy> Stopped sampling because process exited
py-spy> Wrote speedscope file to '/tmp/o.json'. Samples: 0 Errors: 0
py-spy> Visit https://www.speedscope.app/ to view
"""
WORKLOAD_LINE = "fixture: the database is on fire"


def _result(exit_code: int, stderr: str, wall: float = 0.05) -> ProcessResult:
    return ProcessResult(
        argv=("py-spy", "record"),
        exit_code=exit_code,
        signal=None,
        timed_out=False,
        wall_time=wall,
        user_time=0.0,
        sys_time=0.0,
        peak_rss=0,
        stderr_tail=stderr,
    )


def _files(tmp_path: Path, *, exit_code: int | None, stderr: str | None) -> tuple[Path, Path]:
    status, err = tmp_path / "status.json", tmp_path / "stderr.txt"
    if exit_code is not None:
        status.write_text(json.dumps({"exit_code": exit_code, "wall_time": 0.02}))
    if stderr is not None:
        err.write_text(stderr)
    return status, err


@pytest.mark.parametrize("recorded", [SPY_RACE, SPY_OK])
def test_py_spy_messages_are_stripped_from_a_shared_stderr(recorded: str) -> None:
    kept = [ln for ln in strip_profiler_messages(recorded).splitlines() if ln.strip()]
    assert kept == [WORKLOAD_LINE]
    # The workload's lines after py-spy's report survive too.
    after = strip_profiler_messages(SPY_RACE + "Traceback (most recent call last):\n  x\n")
    assert after.split("\n")[-2:] == ["Traceback (most recent call last):", "  x"]
    assert py_spy_error(SPY_RACE).startswith("Failed to get process executable name")
    assert py_spy_error(SPY_OK) == ""


def test_the_workloads_own_stderr_file_wins_over_the_shared_one(tmp_path: Path) -> None:
    status, err = _files(tmp_path, exit_code=3, stderr=f"warming up\n{WORKLOAD_LINE}\n")
    with pytest.raises(WorkloadError) as info:
        check_py_spy_outcome(_result(1, SPY_RACE), status, what="workload 'w'", stderr_file=err)
    message = str(info.value)
    assert "exited with code 3" in message and "no profile stored" in message
    assert message.endswith(f"stderr: warming up | {WORKLOAD_LINE}")
    assert "backtrace" not in message.lower() and "Error:" not in message
    # Without the file (the bootstrap never got that far) the shared stderr is filtered instead.
    assert workload_stderr(_result(1, SPY_RACE), tmp_path / "missing.txt") == WORKLOAD_LINE
    assert workload_stderr(_result(0, SPY_OK), None) == WORKLOAD_LINE


def test_the_stderr_file_tail_never_starts_inside_a_word(tmp_path: Path) -> None:
    """A secret cut in two where the tail starts would escape pattern-based redaction."""
    token = "ghp" + "_" + "Zq8Xw7Ve6Ut5Sr4Qp3On2Ml1Kj0Ih9Gf8Ed7Cb"
    after = " " + "z" * (STDERR_TAIL_BYTES - 18) + "\n"  # the tail starts 16 bytes into the end
    err = tmp_path / "stderr.txt"
    err.write_text("n" * 9000 + "\nkey " + token + after)
    shown = workload_stderr(_result(1, SPY_RACE), err)
    assert token[-16:] not in shown and shown == "z" * (STDERR_TAIL_BYTES - 18)


def test_a_short_successful_workload_blames_py_spy_not_the_workload(tmp_path: Path) -> None:
    status, err = _files(tmp_path, exit_code=0, stderr="")
    race = SPY_RACE.replace(WORKLOAD_LINE + "\n", "")
    with pytest.raises(ProfilerError) as info:
        check_py_spy_outcome(_result(1, race), status, what="workload 'w'", stderr_file=err)
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert "finished (0.02 s) before py-spy attached" in message
    assert "profile a longer run or use --backend pyinstrument" in message
    # py-spy fine, workload fine: its wall time comes from the status file.
    assert check_py_spy_outcome(_result(0, SPY_OK), status, what="w", stderr_file=err) == 0.02


def test_py_spy_that_cannot_start_the_workload_says_so(tmp_path: Path) -> None:
    status, err = _files(tmp_path, exit_code=None, stderr=None)
    spy = "Error: Failed to spawn process: No such file or directory\n"
    with pytest.raises(ProfilerError, match=r"py-spy could not run w: Failed to spawn process"):
        check_py_spy_outcome(_result(1, spy), status, what="w", stderr_file=err)
