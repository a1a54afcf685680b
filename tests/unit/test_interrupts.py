"""Ctrl-C and SIGTERM policy (perfop.interrupts), with real signals sent to this process.

CI saw a second Ctrl-C land in ``WorktreeSession.__exit__`` before its clean-up began, leaving a
whole session behind: the second signal must not cut short what the first one started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from perfop import interrupts


def _press(sig: int = signal.SIGINT) -> None:
    """Deliver ``sig`` to this thread; Python runs its handler before the next bytecode."""
    signal.raise_signal(sig)


@pytest.fixture(autouse=True)
def _python_default_handlers() -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_second_signal_does_not_cut_the_clean_up_short(
    sig: int, capfd: pytest.CaptureFixture[str]
) -> None:
    steps: list[str] = []
    with interrupts.stopping():
        try:
            _press(sig)
            steps.append("not reached")
        except KeyboardInterrupt:
            _press(sig)  # what Python's own handler turned into a second KeyboardInterrupt
            steps.append("cleaned up")
    assert steps == ["cleaned up"]
    assert "cleaning up after the interrupt" in capfd.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_a_third_signal_leaves_at_once_with_130() -> None:
    code = textwrap.dedent(
        """
        import signal, time
        from perfop import interrupts
        with interrupts.stopping():
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                signal.raise_signal(signal.SIGINT)
                signal.raise_signal(signal.SIGINT)
                print("not reached", flush=True)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 130, proc.stderr
    assert "not reached" not in proc.stdout
    assert "leaving now" in proc.stderr and "Traceback" not in proc.stderr


def test_a_held_block_finishes_then_the_signal_stops_the_command() -> None:
    done: list[str] = []
    with interrupts.stopping(), pytest.raises(KeyboardInterrupt):
        with interrupts.held():
            _press()
            done.append("block finished")
        done.append("not reached")
    assert done == ["block finished"]


def test_a_held_block_outside_a_command_raises_at_its_end() -> None:
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt), interrupts.held():
        _press(signal.SIGTERM)
        with interrupts.held():  # nested: the outer one acts
            _press()
            done.append("inner")
        done.append("outer")
    assert done == ["inner", "outer"]


def test_a_signal_held_during_the_clean_up_is_only_a_notice(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with interrupts.stopping():
        with pytest.raises(KeyboardInterrupt):
            _press()
        with interrupts.held():
            _press()
    assert "cleaning up" in capfd.readouterr().err


def test_first_only_drops_the_later_signals_of_its_block() -> None:
    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt), interrupts.first_only():
        try:
            _press()
        except KeyboardInterrupt:
            _press()
            steps.append("cleaned up")
            raise
    assert steps == ["cleaned up"]


def test_an_ignored_sigint_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts.stopping(), interrupts.held():
            _press()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_off_the_main_thread_blocks_run_as_they_are() -> None:
    import threading

    seen: list[object] = []

    def work() -> None:
        with interrupts.stopping(), interrupts.held(), interrupts.first_only():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


def test_a_ctrl_c_during_the_exit_keeps_the_code_and_prints_no_traceback() -> None:
    """Seen in CI: a second Ctrl-C during ``atexit`` (logging's shutdown) printed a traceback."""
    code = textwrap.dedent(
        """
        import atexit, os, signal
        from perfop.cli import exit_now
        atexit.register(lambda: signal.raise_signal(signal.SIGINT))
        exit_now(130)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "COVERAGE_PROCESS_START"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 130
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr
