"""The suite's own guards (tests/suite_guard.py): every run ends, and a stopped run says why.

Each case runs a tiny test file in a child pytest with the guard loaded, and checks its exit
status and what it printed. The child's limits are a few seconds; the parent only bounds how long
it waits for the child.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]


# The child's graces, short so that each case takes seconds.
CHILD_CONFTEST = """
import suite_guard

suite_guard.HARD_STOP_GRACE = 1.0
suite_guard.SHUTDOWN_GRACE = 1.0
suite_guard.THREAD_GRACE = 0.5
"""


def run_child(
    tmp_path: Path, source: str, *args: str, env_report: Path | None = None
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_child.py").write_text(source, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(CHILD_CONFTEST, encoding="utf-8")
    if not (tmp_path / "pytest.ini").exists():
        (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR)}
    env.pop("PERFOP_TEST_REPORT", None)
    if env_report is not None:
        env["PERFOP_TEST_REPORT"] = str(env_report)
    pytest_argv = [sys.executable, "-m", "pytest", "-p", "suite_guard", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*pytest_argv, "-q", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


HANG_IN_THREAD_AT_EXIT = """
import threading

def test_starts_a_thread_that_never_ends():
    threading.Thread(target=threading.Event().wait, name="stuck-worker").start()
"""


def test_a_surviving_non_daemon_thread_fails_the_run_and_exit_is_forced(tmp_path: Path) -> None:
    # The hang: the summary printed, then threading._shutdown waited forever.
    import suite_guard

    result = run_child(tmp_path, HANG_IN_THREAD_AT_EXIT)
    out = result.stdout + result.stderr
    assert "non-daemon threads survived the session" in out
    origin = "test_child.py::test_starts_a_thread_that_never_ends"
    assert f"'stuck-worker' (started during {origin})" in out
    assert "did not exit 1 s after pytest finished" in out
    dump = out.split("perfop test watchdog", 1)[1]
    assert "'stuck-worker' (non-daemon)" in dump
    assert "in wait" in dump  # every thread's stack, the stuck one's too
    assert result.returncode == suite_guard.HARD_STOP_STATUS


def test_a_clean_run_passes_and_exits_normally(tmp_path: Path) -> None:
    source = "import threading\n\ndef test_joins():\n    t = threading.Thread(target=int)\n"
    source += "    t.start()\n    t.join()\n"
    result = run_child(tmp_path, source, "--session-timeout=120")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "watchdog" not in result.stdout + result.stderr


SLEEPS_TOO_LONG = """
import time

def test_fast():
    pass

def test_sleeps():
    time.sleep(600)
"""


def test_a_session_past_its_timeout_dumps_every_stack_and_exits_124(tmp_path: Path) -> None:
    result = run_child(tmp_path, SLEEPS_TOO_LONG, "--session-timeout=1", "-o", "timeout=0")
    out = result.stdout + result.stderr
    assert result.returncode == 124, out
    assert "perfop test watchdog: the session ran 1 s past session_timeout=1 s" in out
    assert "in test_sleeps" in out  # the main thread's stack names the stuck test


UNINTERRUPTIBLE = """
import signal
import time

import pytest

@pytest.mark.timeout(1)
def test_ignores_the_timeout():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})  # the per-test timeout cannot fire
    time.sleep(600)
"""


def test_a_test_the_timeout_cannot_interrupt_is_stopped(tmp_path: Path) -> None:
    result = run_child(tmp_path, UNINTERRUPTIBLE)
    out = result.stdout + result.stderr
    assert result.returncode == 124, out
    assert "test_child.py::test_ignores_the_timeout outlived its 1 s timeout by 1 s" in out


MARKED = """
import pytest

@pytest.mark.postgres
def test_db():
    pass

@pytest.mark.postgres
def test_db_skipped():
    pytest.skip("no server")

@pytest.mark.slow
def test_slow():
    pass

def test_fails():
    assert False
"""


def test_every_run_counts_outcomes_per_marker_and_writes_them_for_ci(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n  postgres\n  slow\n")
    result = run_child(tmp_path, MARKED, "-m", "not slow", env_report=report)
    assert result.returncode == 1, result.stdout
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("perfop tests: "))
    assert line == (
        "perfop tests: ran 1 passed, 1 failed, 1 skipped, 1 deselected; by marker: "
        "postgres: 1 passed, 1 skipped; slow: 1 deselected; "
        "hyperfine: none collected; chromium: none collected; actionlint: none collected; "
        "inspector: none collected; mounts: none collected"
    )
    doc = json.loads(report.read_text())
    assert doc["counts"]["postgres"] == {"passed": 1, "skipped": 1}
    skipped = doc["tests"]["test_child.py::test_db_skipped"]
    assert skipped["outcome"] == "skipped" and skipped["markers"] == ["postgres"]
    assert skipped["seconds"] >= 0
    assert doc["exitstatus"] == 1
