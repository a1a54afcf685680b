"""The spawner keeps perfop's own resident memory out of a workload's peak RSS."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from perfop.errors import WorkloadError
from perfop.measure import launch, runner
from waiting import wait_until


def _rss_self_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_small_child_peak_rss_is_not_floored_at_perfops_own(tmp_path: Path) -> None:
    ballast = bytearray(150 * 1024 * 1024)  # make this (perfop's) process clearly big
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    assert _rss_self_kib() > 150 * 1024
    result = runner.run_process(
        [sys.executable, "-c", "pass"], cwd=tmp_path, env=dict(os.environ), timeout=30
    )
    assert result.ok
    # A bare interpreter is ~10 MB; through a direct fork/exec it would report >150 MB.
    assert result.peak_rss < 40 * 1024 * 1024, result.peak_rss
    del ballast


def test_direct_fallback_when_the_spawner_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launch, "spawner", lambda: None)
    result = runner.run_process(
        [sys.executable, "-c", "print('ok')"], cwd=tmp_path, env=dict(os.environ), timeout=30
    )
    assert result.ok and result.stdout_head == "ok\n"


def test_spawner_restarts_after_it_dies(tmp_path: Path) -> None:
    first = launch.spawner()
    assert first is not None
    first.proc.kill()
    first.proc.wait()
    result = runner.run_process(
        [sys.executable, "-c", "print('again')"], cwd=tmp_path, env=dict(os.environ), timeout=30
    )
    assert result.ok and result.stdout_head == "again\n"


def test_workload_does_not_inherit_ignored_sigint(tmp_path: Path) -> None:
    # The spawner ignores SIGINT; the workload must get the default disposition back.
    code = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    result = runner.run_process(
        [sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ), timeout=30
    )
    assert result.stdout_head == "True\n"


def test_one_spawner_serves_many_samples(tmp_path: Path) -> None:
    # The direct-spawn fallback would hide a spawner that dies between samples; the spawner
    # process must stay the same, and a changed environment must reach the workload.
    env = dict(os.environ)
    code = "import os; print(os.environ.get('PERFOP_PROBE', '-'))"
    first = launch.spawner()
    assert first is not None
    pid = first.proc.pid
    outs = []
    for i in range(6):
        if i == 3:
            env = {**env, "PERFOP_PROBE": "changed"}
        result = runner.run_process([sys.executable, "-c", code], cwd=tmp_path, env=env, timeout=30)
        assert result.ok
        outs.append(result.stdout_head.strip())
    current = launch.spawner()
    assert current is not None and current.proc.pid == pid and current.proc.poll() is None
    assert outs == ["-", "-", "-", "changed", "changed", "changed"]


def test_a_program_the_kernel_refuses_is_one_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-program"
    bogus.write_bytes(b"\x00\x01 neither ELF nor a script\n")
    bogus.chmod(0o755)
    for _ in range(2):  # and the spawner stays usable afterwards
        with pytest.raises(WorkloadError, match=r"cannot start .*not-a-program.*: Exec format"):
            runner.run_process([str(bogus)], cwd=tmp_path, env=dict(os.environ), timeout=30)
    result = runner.run_process(
        [sys.executable, "-c", "print(7)"], cwd=tmp_path, env=dict(os.environ), timeout=30
    )
    assert result.stdout_head == "7\n"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        # Gone before the open, or reaped between the open and the read (ESRCH).
        return False


def test_sigkill_of_perfop_mid_sample_kills_the_workload_and_the_spawner(
    tmp_path: Path, perfop_popen: Any
) -> None:
    # The spawner owns the child; when perfop dies, the socket closes and it must not leave the
    # workload running unobserved (here: for a minute) or linger itself.
    pidfile = tmp_path / "pids"
    code = (
        "import os, subprocess, sys, time; "
        "kid = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pidfile)!r}, 'w').write(f'{{os.getpid()}} {{kid.pid}} {{os.getppid()}}'); "
        "time.sleep(60)"
    )
    store = f"sqlite:///{tmp_path / 's.db'}"
    proc = perfop_popen(
        ["--store", store, "run", "-n", "1", "--warmup", "0", "--", sys.executable, "-c", code],
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and pidfile.read_text().count(" ") == 2):
        assert time.monotonic() < deadline and proc.poll() is None, "workload never started"
        time.sleep(0.05)
    workload, grandchild, spawner = (int(x) for x in pidfile.read_text().split())
    assert spawner != proc.pid  # started by the spawner, not by perfop itself
    assert all(_alive(p) for p in (workload, grandchild, spawner))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in (workload, grandchild, spawner)):
        assert time.monotonic() < deadline, "workload or spawner outlived perfop"
        time.sleep(0.05)


def _state(pid: int) -> str:
    """The process's scheduler state from /proc: R running or runnable, S sleeping, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]


def test_spawner_sleeps_between_runs(tmp_path: Path) -> None:
    # It polls for a fraction of a millisecond after a sample; then it must block in the kernel
    # (S), not keep burning CPU. A spinner is running or runnable (R) whenever it is looked at,
    # however loaded the machine; a blocked process stays S until the next sample is due.
    result = runner.run_process(["true"], cwd=tmp_path, env=dict(os.environ), timeout=30)
    assert result.ok
    sp = launch.spawner()
    assert sp is not None and sp.spin_us > 0
    pid = sp.proc.pid
    wait_until(lambda: _state(pid) == "S", what="the spawner blocks after its polling window")
    seen = set()
    for _ in range(50):
        seen.add(_state(pid))
        time.sleep(0.01)
    assert seen == {"S"}


@pytest.mark.parametrize("value", ["0", "50"])
def test_spin_setting_is_honoured(tmp_path: Path, perfop_proc: Any, value: str) -> None:
    store = f"sqlite:///{tmp_path / 's.db'}"
    code = "print('hi')"
    out = perfop_proc(
        ["--store", store, "run", "-n", "3", "--format", "json", "--", sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PERFOP_SPIN_US": value},
    )
    assert out.returncode == 0, out.stderr
    assert '"samples"' in out.stdout


@pytest.mark.parametrize("value", ["fast", "-1", "1e3", "99999999"])
def test_a_bad_spin_setting_is_one_line(tmp_path: Path, perfop_proc: Any, value: str) -> None:
    store = f"sqlite:///{tmp_path / 's.db'}"
    out = perfop_proc(["--store", store, "run", "-n", "1", "--", "true"], cwd=tmp_path,
                      env={"PERFOP_SPIN_US": value})  # fmt: skip
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "PERFOP_SPIN_US" in lines[0] and "Traceback" not in out.stderr


def test_perfop_is_woken_once_per_sample_by_the_exit_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 18 point 2: the spawner keeps the output pipes' write ends until its report is sent,
    # so the workload's exit does not first wake perfop with an end-of-file and then again with
    # the report. The first wake-up with events of every sample includes the report.
    real_poll = runner.select.poll
    first_events: list[list[int]] = []

    class Poll:
        def __init__(self) -> None:
            self._poll = real_poll()
            self._first = True

        def register(self, fd: int, mask: int) -> None:
            self._poll.register(fd, mask)

        def unregister(self, fd: int) -> None:
            self._poll.unregister(fd)

        def poll(self, timeout: float) -> list[tuple[int, int]]:
            events = self._poll.poll(timeout)
            if events and self._first:
                self._first = False
                first_events.append([fd for fd, _ in events])
            return events

    monkeypatch.setattr(runner.select, "poll", Poll)
    sp = launch.spawner()
    assert sp is not None
    for _ in range(20):
        result = runner.run_process(["true"], cwd=tmp_path, env=dict(os.environ), timeout=60)
        assert result.ok
    assert len(first_events) == 20
    assert all(sp.sock.fileno() in fds for fds in first_events), first_events


def test_the_report_says_every_process_of_the_sample_is_gone(tmp_path: Path) -> None:
    sp = launch.spawner()
    assert sp is not None
    launched = sp.launch(["/bin/sh", "-c", "sleep 0.01 & echo hi"], tmp_path, dict(os.environ))
    try:
        reaped = launched.wait()
    finally:
        os.close(launched.out_fd)
        os.close(launched.err_fd)
    assert reaped.contained and os.waitstatus_to_exitcode(reaped.status) == 0


def test_a_contained_sample_needs_no_kill_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The spawner has killed and reaped everything a contained sample left (its daemons
    # included), so the runner sends no kill of its own: one system call a sample fewer.
    kills: list[int] = []
    monkeypatch.setattr(launch, "kill_group", kills.append)
    sp = launch.spawner()
    assert sp is not None
    code = (
        "import subprocess, sys; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])"
    )
    for argv in (["true"], [sys.executable, "-c", code]):
        result = runner.run_process(argv, cwd=tmp_path, env=dict(os.environ), timeout=60)
        assert result.ok
    assert kills == []


def test_without_containment_the_group_is_still_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The direct fallback (no subreaper): leftover members of the group are killed as before.
    kills: list[int] = []
    monkeypatch.setattr(launch, "spawner", lambda: None)
    real = launch.kill_group
    monkeypatch.setattr(launch, "kill_group", lambda pgid: (kills.append(pgid), real(pgid)))
    result = runner.run_process(["true"], cwd=tmp_path, env=dict(os.environ), timeout=60)
    assert result.ok and len(kills) == 1
