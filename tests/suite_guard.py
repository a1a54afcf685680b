"""pytest plugin: the suite always ends, and says why when it had to be stopped.

Loaded by ``tests/conftest.py``. Three guards, on top of pytest-timeout's per-test ``timeout``
(which fails the one test and goes on):

- **Hard stop.** A watchdog thread (backed by faulthandler's C timer, in case the GIL is never
  released) dumps every thread's stack to the terminal and exits with status 124 when the session
  runs ``HARD_STOP_GRACE`` seconds past pytest-timeout's ``session_timeout`` (which only stops
  scheduling tests; ini or ``--session-timeout``), when one test outlives its per-test timeout by
  ``HARD_STOP_GRACE`` (the timeout could not interrupt it), or when the process has not exited
  ``SHUTDOWN_GRACE`` seconds after pytest finished (a non-daemon thread blocking interpreter
  shutdown).
- **No surviving threads.** A non-daemon thread still alive when the session ends (after a short
  grace to finish) fails the run; the report names each thread, the test that started it and its
  stack.
- **What ran.** Every run ends with one line counting outcomes overall and per marker in
  ``TRACKED_MARKERS`` (``postgres: 40 passed``, ``slow: 12 deselected``...); with
  ``PERFOP_TEST_REPORT=PATH`` the same counts and every test's outcome are written there as JSON
  (``.ci/run`` reads it to fail on skipped PostgreSQL, chromium or hyperfine tests).

The exit status of a hard stop is 124, so callers (``.ci/run``) can tell it from test failures.
Works under pytest-xdist: workers report their surviving threads to the controller.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Generator
from typing import Any

import pytest

HARD_STOP_STATUS = 124
HARD_STOP_GRACE = 60.0  # seconds past a test's own timeout before the process is stopped
SHUTDOWN_GRACE = 60.0  # seconds between pytest's end and the interpreter's exit
THREAD_GRACE = 10.0  # seconds surviving non-daemon threads get to finish at session end
C_BACKSTOP = 30.0  # faulthandler's own timer fires this long after the Python watchdog
REPORT_VAR = "PERFOP_TEST_REPORT"
# The project's markers (pyproject.toml) whose tests each run counts.
TRACKED_MARKERS = ("postgres", "hyperfine", "chromium", "actionlint", "inspector", "mounts", "slow")
SLOW_HINT = 5.0  # seconds: a test over this on a quiet machine is marked slow


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SuiteGuard(config), "perfop-suite-guard")


def _session_timeout(config: pytest.Config) -> float:
    """pytest-timeout's ``session_timeout`` (option or ini), 0 when unset."""
    value = config.getoption("session_timeout", None) or config.getini("session_timeout") or 0
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 0.0


def _test_timeout(item: pytest.Item) -> float:
    """pytest-timeout's effective timeout for ``item`` (0 when none applies)."""
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        value = marker.args[0] if marker.args else marker.kwargs.get("timeout", 0)
    else:
        value = item.config.getoption("timeout", None) or item.config.getini("timeout") or 0
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


class SuiteGuard:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        # Our own copy of the terminal's stderr: pytest redirects fd 2 while a test runs.
        self.fd = os.dup(sys.__stderr__.fileno() if sys.__stderr__ else 2)
        self.started = time.monotonic()
        limit = _session_timeout(config)
        self.session_deadline = self.started + limit + HARD_STOP_GRACE if limit > 0 else None
        self.session_limit = limit
        self.test_deadline: float | None = None
        self.test_reason = ""
        self.shutdown_deadline: float | None = None
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread_origin: dict[int, str] = {}
        self.leaked: list[tuple[threading.Thread, str]] = []
        self.remote_leaks: list[str] = []  # from xdist workers: "name (started during ...)"
        self.outcomes: dict[str, tuple[str, tuple[str, ...]]] = {}  # nodeid -> outcome, markers
        self.deselected: list[tuple[str, tuple[str, ...]]] = []
        self.durations: dict[str, float] = {}  # nodeid -> seconds (setup + call + teardown)
        self.tracked = TRACKED_MARKERS
        self.is_worker = hasattr(config, "workerinput")
        self.debugging = bool(config.getoption("usepdb", False))
        self.watchdog = threading.Thread(
            target=self._watch, name="perfop-test-watchdog", daemon=True
        )
        self.watchdog.start()
        self._arm_backstop()
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            # Runs at interpreter shutdown, before threading joins the non-daemon threads.
            register(self._arm_shutdown)

    # --- deadlines -------------------------------------------------------------------------------

    def _deadline(self) -> tuple[float, str] | None:
        options: list[tuple[float, str]] = []
        if self.session_deadline is not None:
            options.append(
                (
                    self.session_deadline,
                    f"the session ran {HARD_STOP_GRACE:g} s past session_timeout="
                    f"{self.session_limit:g} s (raise it with --session-timeout=SECONDS)",
                )
            )
        if self.test_deadline is not None:
            options.append((self.test_deadline, self.test_reason))
        if self.shutdown_deadline is not None:
            options.append(
                (
                    self.shutdown_deadline,
                    f"the process did not exit {SHUTDOWN_GRACE:g} s after pytest finished "
                    "(a non-daemon thread blocks interpreter shutdown)",
                )
            )
        return min(options) if options else None

    def _changed(self) -> None:
        self._arm_backstop()
        self.wake.set()

    def _arm_backstop(self) -> None:
        found = self._deadline()
        if found is None:
            faulthandler.cancel_dump_traceback_later()
            return
        remaining = max(1.0, found[0] - time.monotonic() + C_BACKSTOP)
        faulthandler.dump_traceback_later(remaining, exit=True, file=self.fd)

    def _watch(self) -> None:
        while True:
            with self.lock:
                found = self._deadline()
            now = time.monotonic()
            if found is not None and now >= found[0]:
                self._stop(found[1])
            self.wake.wait(timeout=None if found is None else max(0.05, found[0] - now))
            self.wake.clear()

    def _stop(self, reason: str) -> None:
        header = (
            f"\n\n==== perfop test watchdog: {reason}.\n"
            f"==== Every thread's stack follows; exiting with status {HARD_STOP_STATUS}.\n"
            "==== Threads:\n"
        )
        for thread in threading.enumerate():
            kind = "daemon" if thread.daemon else "non-daemon"
            header += f"====   Thread 0x{thread.ident or 0:016x} {thread.name!r} ({kind})\n"
        os.write(self.fd, header.encode())
        faulthandler.dump_traceback(file=self.fd, all_threads=True)
        os._exit(HARD_STOP_STATUS)

    def _arm_shutdown(self) -> None:
        with self.lock:
            self.test_deadline = None
            self.shutdown_deadline = time.monotonic() + SHUTDOWN_GRACE
        self._changed()

    # --- hooks -----------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        before = {t.ident for t in threading.enumerate()}
        timeout = _test_timeout(item)
        with self.lock:
            if timeout > 0 and not self.debugging:
                self.test_deadline = time.monotonic() + timeout + HARD_STOP_GRACE
                self.test_reason = (
                    f"{item.nodeid} outlived its {timeout:g} s timeout by {HARD_STOP_GRACE:g} s "
                    "(the timeout could not interrupt it)"
                )
            else:
                self.test_deadline = None
        self._changed()
        try:
            return (yield)
        finally:
            with self.lock:
                self.test_deadline = None
            self._changed()
            for thread in threading.enumerate():
                if thread.ident not in before and thread.ident is not None:
                    self.thread_origin.setdefault(thread.ident, item.nodeid)

    @pytest.hookimpl(trylast=True)
    def pytest_exception_interact(self) -> None:
        # pytest's faulthandler plugin cancels the C timer on every failure; put it back.
        self._arm_backstop()

    # --- outcomes --------------------------------------------------------------------------------

    def _markers(self, item: pytest.Item) -> tuple[str, ...]:
        names = {m.name for m in item.iter_markers()}
        return tuple(m for m in self.tracked if m in names)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        # A plain attribute: it travels with the report from an xdist worker to the controller.
        report.perfop_markers = list(self._markers(item))  # type: ignore[attr-defined]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return  # the controller counts what the workers report
        markers = tuple(getattr(report, "perfop_markers", ()))
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration
        previous = self.outcomes.get(report.nodeid, ("passed", markers))[0]
        if report.failed:
            outcome = "error" if report.when != "call" else "failed"
        elif report.skipped:
            outcome = "xfailed" if hasattr(report, "wasxfail") else "skipped"
        elif report.when == "call":
            outcome = "xpassed" if hasattr(report, "wasxfail") else "passed"
        else:
            return
        if previous in ("failed", "error"):
            return  # a teardown after a failed call does not undo the failure
        self.outcomes[report.nodeid] = (outcome, markers)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += [(i.nodeid, self._markers(i)) for i in items]

    def counts(self) -> dict[str, dict[str, int]]:
        """Outcome counts overall ("all") and per tracked marker."""
        table: dict[str, dict[str, int]] = {"all": {}}
        rows = [*self.outcomes.values(), *(("deselected", m) for _, m in self.deselected)]
        for outcome, markers in rows:
            for key in ("all", *markers):
                bucket = table.setdefault(key, {})
                bucket[outcome] = bucket.get(outcome, 0) + 1
        return table

    def summary_line(self) -> str:
        def fmt(bucket: dict[str, int]) -> str:
            order = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "deselected")
            return ", ".join(f"{bucket[k]} {k}" for k in order if bucket.get(k))

        table = self.counts()
        parts = [f"{m}: {fmt(table[m])}" for m in self.tracked if m in table]
        parts += [f"{m}: none collected" for m in self.tracked if m not in table]
        return f"ran {fmt(table['all']) or 'nothing'}; by marker: " + "; ".join(parts)

    # --- session end ------------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self.remote_leaks += getattr(node, "workeroutput", {}).get("perfop_leaked_threads", [])

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        deadline = time.monotonic() + THREAD_GRACE
        for thread in _surviving_threads():
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.leaked = [
            (t, self.thread_origin.get(t.ident or -1, "outside any test"))
            for t in _surviving_threads()
        ]
        if self.is_worker:
            workeroutput = self.config.workeroutput  # type: ignore[attr-defined]
            workeroutput["perfop_leaked_threads"] = [
                f"{t.name!r} (started during {origin})" for t, origin in self.leaked
            ]
        if (self.leaked or self.remote_leaks) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        path = os.environ.get(REPORT_VAR)
        if path and not self.is_worker:
            doc = {
                "schema": "perfop.test-report/1",
                "exitstatus": int(session.exitstatus),
                "counts": self.counts(),
                "leaked_threads": [f"{t.name!r} ({o})" for t, o in self.leaked] + self.remote_leaks,
                "tests": {
                    nodeid: {
                        "outcome": outcome,
                        "markers": list(markers),
                        "seconds": round(self.durations.get(nodeid, 0.0), 3),
                    }
                    for nodeid, (outcome, markers) in sorted(self.outcomes.items())
                },
            }
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=1)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        if self.leaked or self.remote_leaks:
            terminalreporter.section("non-daemon threads survived the session", sep="=", red=True)
            frames = sys._current_frames()
            for thread, origin in self.leaked:
                terminalreporter.line(f"{thread.name!r} (started during {origin}):")
                frame = frames.get(thread.ident or -1)
                stack = "".join(traceback.format_stack(frame)) if frame else "  (no stack)\n"
                terminalreporter.line(stack.rstrip())
            for line in self.remote_leaks:
                terminalreporter.line(f"{line} in an xdist worker")
            terminalreporter.line(
                "A test must stop and join every non-daemon thread it starts "
                "(they block interpreter exit)."
            )
        terminalreporter.write_line(f"perfop tests: {self.summary_line()}")
        unmarked = sorted(
            (
                (seconds, nodeid)
                for nodeid, seconds in self.durations.items()
                if seconds > SLOW_HINT and "slow" not in self.outcomes.get(nodeid, ("", ()))[1]
            ),
            reverse=True,
        )
        if unmarked:
            load = os.getloadavg()[0]
            names = ", ".join(f"{nodeid} ({seconds:.0f} s)" for seconds, nodeid in unmarked[:5])
            terminalreporter.write_line(
                f"perfop tests: {len(unmarked)} tests not marked slow took over {SLOW_HINT:g} s "
                f"(load now {load:.1f}; mark them if they do on a quiet machine): {names}"
            )

    def pytest_unconfigure(self) -> None:
        with self.lock:
            self.session_deadline = None
            self.test_deadline = None
        self._changed()
        if getattr(threading, "_register_atexit", None) is None:
            self._arm_shutdown()


def _surviving_threads() -> list[threading.Thread]:
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]
