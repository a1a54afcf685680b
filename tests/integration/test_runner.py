"""The runner against real processes: crashes, hangs, output floods, odd bytes, metrics, memory."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from perfop.config import WorkloadConfig, resolve_workload
from perfop.errors import WorkloadError
from perfop.measure.runner import (
    STDERR_TAIL_BYTES,
    STDOUT_CHECK_BYTES,
    STDOUT_HEAD_BYTES,
    _StdoutSink,
    measure,
    run_process,
    run_setup,
)

PY = sys.executable
MiB = 2**20


def py(code: str, tmp: Path, *, timeout: float = 30.0, env: dict[str, str] | None = None):
    """Run a Python snippet as one measured process."""
    return run_process(
        [PY, "-c", textwrap.dedent(code)],
        cwd=tmp,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def _gone(pid: int, wait: float = 5.0) -> bool:
    """True once ``pid`` no longer exists (a zombie awaiting its new parent counts as gone)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_success_is_measured(tmp_path: Path) -> None:
    r = py("print('hello')", tmp_path)
    assert r.ok and r.exit_code == 0 and r.signal is None and not r.timed_out
    assert r.describe_failure() == ""
    assert r.wall_time > 0 and r.user_time >= 0 and r.sys_time >= 0 and r.peak_rss > 0
    assert set(r.metrics) == {"wall_time", "user_time", "sys_time", "cpu_time", "peak_rss"}
    assert r.metrics["wall_time"] == r.wall_time
    assert r.metrics["cpu_time"] == r.user_time + r.sys_time
    assert r.stdout_head == "hello\n" and r.stdout_bytes == 6


def test_cpu_time_is_the_childs_own(tmp_path: Path) -> None:
    # A child burning 1 s of CPU, then one burning 0.2 s: each reports at least what it burned,
    # and the second less than the first (accumulated over earlier children, it would be more).
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\n"
    first = py(burn.format(s=1.0), tmp_path)
    second = py(burn.format(s=0.2), tmp_path)
    assert first.ok and second.ok
    assert first.user_time + first.sys_time >= 0.95
    assert second.user_time + second.sys_time >= 0.19
    assert second.user_time + second.sys_time < first.user_time + first.sys_time
    for r in (first, second):
        # timing-ok: one thread's CPU time never exceeds its wall time; load only adds wall time
        assert r.wall_time >= r.user_time * 0.9


def test_crash_keeps_exit_code_and_stderr_tail(tmp_path: Path) -> None:
    r = py(
        """
        import sys
        sys.stderr.write("noise\\n" * 2000)
        sys.stderr.write("Traceback: ValueError: the real reason\\n")
        sys.exit(3)
        """,
        tmp_path,
    )
    assert not r.ok
    assert r.exit_code == 3 and r.signal is None and not r.timed_out
    assert r.describe_failure() == "exited with code 3"
    assert len(r.stderr_tail.encode()) <= STDERR_TAIL_BYTES
    assert r.stderr_tail.endswith("ValueError: the real reason\n")


def test_killed_by_signal(tmp_path: Path) -> None:
    r = py("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", tmp_path)
    assert not r.ok
    assert r.signal == signal.SIGKILL and r.exit_code is None and not r.timed_out
    assert r.describe_failure() == "killed by signal 9"


@pytest.mark.slow
def test_hang_past_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    r = py(
        f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open({str(pidfile)!r}, "w").write(str(child.pid))
        print("started", flush=True)
        time.sleep(120)
        """,
        tmp_path,
        # Time for two interpreters to start on a loaded machine before the timeout kills both.
        timeout=8,
    )
    assert r.timed_out and not r.ok
    assert r.signal is None  # reported as a timeout, not as the SIGKILL perfop sent
    assert r.describe_failure().startswith("timed out after")
    assert r.stdout_head == "started\n"
    child = int(pidfile.read_text())
    assert _gone(child), f"grandchild {child} survived the timeout"


def test_daemon_holding_the_pipes_does_not_block_and_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.pid"
    r = py(
        f"""
        import subprocess, sys
        d = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open({str(pidfile)!r}, "w").write(str(d.pid))
        print("parent done")
        """,
        tmp_path,
        timeout=60,
    )
    # The parent exited 0 while its child still held stdout: the sample counts, nothing hangs.
    assert r.ok and not r.timed_out
    assert _gone(int(pidfile.read_text()))


def test_fifty_megabytes_of_output_on_both_pipes(tmp_path: Path) -> None:
    r = py(
        """
        import sys
        block = b"x" * (1 << 20)
        for _ in range(50):
            sys.stdout.buffer.write(block)
            sys.stderr.buffer.write(block)
        sys.stderr.buffer.write(b"\\nend of stderr\\n")
        """,
        tmp_path,
    )
    assert r.ok
    assert r.stdout_bytes == 50 * MiB
    # One 50 MiB line without a newline: the behaviour check's budget (16 MiB) cuts it 1 MiB
    # past the budget, normalised as a line of its own; the other 33 MiB count by length only.
    assert 16 * MiB == STDOUT_CHECK_BYTES
    assert r.stdout_unchecked == 33 * MiB
    checked = b"x" * (17 * MiB) + b"\n" + b"\0perfop: %d bytes not compared\n" % (33 * MiB)
    assert r.stdout_digest == hashlib.sha256(checked).hexdigest()
    assert r.stdout_head == "x" * STDOUT_HEAD_BYTES
    # The tail's first 2 KiB were inside one long word: dropped, not shown as a cut-off fragment.
    assert r.stderr_tail == "end of stderr\n"


def test_a_workload_writing_forever_is_stopped_at_its_timeout(tmp_path: Path) -> None:
    """Past the behaviour check's budget the reader only skims: it must still watch the clock,
    kill the writer at its timeout and keep the head, the metrics and the stderr tail."""
    r = py(
        """
        import sys
        out, err = sys.stdout.buffer, sys.stderr.buffer
        out.write(b"PERFOP_METRIC early=1\\n")
        block = b"y" * 99 + b"\\n"
        block *= 10000
        i = 0
        while True:
            out.write(block)
            if i % 16 == 0:
                out.write(b"PERFOP_METRIC late=%d\\n" % (i + 1))
            err.write(b"err line\\n")
            i += 1
        """,
        tmp_path,
        timeout=2.0,
    )
    assert r.timed_out and not r.ok
    assert r.metrics["early"] == 1 and r.metrics.get("late", 1) >= 1
    assert r.stdout_head.startswith("y" * 99 + "\n")
    assert not r.stdout_complete
    words = r.stderr_tail.split()
    assert words and set(words) == {"err", "line"}, r.stderr_tail[:200]


@pytest.mark.parametrize("chunks", [1, 7])  # one write, and writes that trim the buffer
def test_stderr_tail_never_starts_inside_a_word(tmp_path: Path, chunks: int) -> None:
    """A secret cut in two by the tail's start would escape pattern-based redaction."""
    token = "ghp" + "_" + "Zq8Xw7Ve6Ut5Sr4Qp3On2Ml1Kj0Ih9Gf8Ed7Cb"
    after = " " + "z" * (STDERR_TAIL_BYTES - 18) + "\n"  # the tail starts 16 bytes into the end
    noise = "n" * (6 * STDERR_TAIL_BYTES) + "\n"
    r = py(
        f"""
        import sys
        text = {noise!r} + "key " + {token!r} + {after!r}
        step = -(-len(text) // {chunks})
        for i in range(0, len(text), step):
            sys.stderr.write(text[i : i + step]); sys.stderr.flush()
        """,
        tmp_path,
    )
    assert r.ok
    assert token[-16:] not in r.stderr_tail and "Ih9Gf8Ed7Cb" not in r.stderr_tail
    assert r.stderr_tail == "z" * (STDERR_TAIL_BYTES - 18) + "\n"


def test_fifty_megabytes_of_short_lines(tmp_path: Path) -> None:
    r = py(
        """
        import sys
        line = b"0123456789abcdef  \\n"  # trailing blanks are normalised away
        sys.stdout.buffer.write(line * (50 * (1 << 20) // len(line)))
        """,
        tmp_path,
    )
    assert r.ok
    n = 50 * MiB // 19
    assert r.stdout_bytes == n * 19
    # Lines that start within the budget are normalised and hashed; the rest by length.
    k = (STDOUT_CHECK_BYTES - 1) // 19 + 1
    assert r.stdout_unchecked == (n - k) * 19
    trailer = b"\0perfop: %d bytes not compared\n" % ((n - k) * 19)
    assert r.stdout_digest == hashlib.sha256(b"0123456789abcdef\n" * k + trailer).hexdigest()


@pytest.mark.slow
def test_two_hundred_megabytes_of_mixed_output_keep_digest_head_and_tail(tmp_path: Path) -> None:
    # Issue 16 item 8: draining at pipe speed (1 MiB reads, a grown pipe, split/rstrip
    # normalisation) must not change what the behaviour check and the failure report see.
    r = py(
        """
        import sys
        block = b"".join(
            b"row %d  \\t\\r\\n" % i + b"\\n" * (i % 3) + b"data %d\\n" % i for i in range(20000)
        )
        out, err = sys.stdout.buffer, sys.stderr.buffer
        for i in range(200 * (1 << 20) // len(block)):
            out.write(block)
            err.write(b"e" * 50000 + b" ")
        out.write(b"PERFOP_METRIC rows=42\\n")
        out.write(b"last line \\r\\n\\n\\n")
        err.write(b"\\nthe final words\\n")
        """,
        tmp_path,
        timeout=600,
    )
    assert r.ok, r.stderr_tail
    block = b"".join(
        b"row %d  \t\r\n" % i + b"\n" * (i % 3) + b"data %d\n" % i for i in range(20000)
    )
    norm = b"".join(b"row %d\n" % i + b"\n" * (i % 3) + b"data %d\n" % i for i in range(20000))
    n = 200 * MiB // len(block)
    assert r.stdout_bytes == n * len(block) + len(b"PERFOP_METRIC rows=42\n") + 14
    # The whole output fed to a sink at once: what the runner must have handed it, read by read.
    sink = _StdoutSink()
    sink.feed(block * n + b"PERFOP_METRIC rows=42\nlast line \r\n\n\n")
    sink.close()
    assert r.stdout_digest == sink.digest and r.stdout_unchecked == sink.unchecked > 100 * MiB
    big = _StdoutSink(10**9)  # a budget past the output: every normalised byte hashed
    big.feed(block * n + b"PERFOP_METRIC rows=42\nlast line \r\n\n\n")
    big.close()
    assert big.digest == hashlib.sha256(norm * n + b"last line\n").hexdigest()
    assert r.stdout_head == (norm * 2)[:STDOUT_HEAD_BYTES].decode()
    assert r.metrics["rows"] == 42
    assert r.stderr_tail == "\nthe final words\n"  # the cut-off word before it is dropped
    assert not r.stdout_complete


def test_invalid_utf8_is_handled(tmp_path: Path) -> None:
    r = py(
        """
        import sys
        sys.stdout.buffer.write(b"ok \\xff\\xfe\\x80 bytes\\n")
        sys.stderr.buffer.write(b"err \\xc3\\x28 here\\n")
        """,
        tmp_path,
    )
    assert r.ok
    assert r.stdout_head == "ok \ufffd\ufffd\ufffd bytes\n"
    assert r.stdout_digest == hashlib.sha256(b"ok \xff\xfe\x80 bytes\n").hexdigest()
    assert "\ufffd" in r.stderr_tail and r.stderr_tail.startswith("err ")


def test_custom_metrics(tmp_path: Path) -> None:
    r = py(
        """
        print("warming up")
        print("PERFOP_METRIC throughput=1234.5 unit=req/s better=higher")
        print("PERFOP_METRIC p95_latency=0.012 unit=s")
        print("PERFOP_METRIC items=42")
        print("PERFOP_METRIC broken")
        print("PERFOP_METRIC nan_value=abc unit=s")
        print("PERFOP_METRIC wall_time=999")
        print("PERFOP_METRIC weird=1 better=sideways")
        print("done")
        """,
        tmp_path,
    )
    assert r.ok
    assert r.metrics["throughput"] == 1234.5
    assert r.metric_specs["throughput"].unit == "req/s"
    assert r.metric_specs["throughput"].better == "higher"
    assert r.metrics["p95_latency"] == 0.012
    assert (r.metric_specs["p95_latency"].unit, r.metric_specs["p95_latency"].better) == (
        "s",
        "lower",
    )
    assert r.metrics["items"] == 42 and r.metric_specs["items"].unit == ""
    assert r.metric_specs["weird"].better == "lower"
    assert "broken" not in r.metrics and "nan_value" not in r.metrics
    assert r.metrics["wall_time"] == r.wall_time != 999  # built-ins cannot be overridden
    assert r.stdout_head == "warming up\ndone\n"


def test_stdout_digest_normalisation(tmp_path: Path) -> None:
    plain = py("print('alpha'); print('beta')", tmp_path)
    noisy = py(
        """
        import sys
        sys.stdout.write("alpha   \\r\\n")
        sys.stdout.write("PERFOP_METRIC rows=10\\n")
        sys.stdout.write("beta\\t\\n\\n\\n  \\n")
        """,
        tmp_path,
    )
    no_newline = py("import sys; sys.stdout.write('alpha\\nbeta')", tmp_path)
    different = py("print('alpha'); print('gamma')", tmp_path)
    inner_blank = py("print('alpha'); print(); print('beta')", tmp_path)
    assert plain.stdout_digest == hashlib.sha256(b"alpha\nbeta\n").hexdigest()
    assert noisy.stdout_digest == plain.stdout_digest
    assert no_newline.stdout_digest == plain.stdout_digest
    assert different.stdout_digest != plain.stdout_digest
    assert inner_blank.stdout_digest != plain.stdout_digest  # blank lines inside still count
    assert noisy.metrics["rows"] == 10


def test_two_hundred_megabytes_peak_rss(tmp_path: Path) -> None:
    r = py(
        """
        data = b"\\x01" * (200 * (1 << 20))  # bytes() fills every page: all of it resident
        print(len(data))
        """,
        tmp_path,
    )
    assert r.ok
    assert abs(r.peak_rss - 200 * MiB) <= 0.10 * 200 * MiB, r.peak_rss / MiB
    assert r.metrics["peak_rss"] == r.peak_rss


def test_small_workload_rss_is_not_inflated_by_a_large_parent(tmp_path: Path) -> None:
    """A tiny child must report its own peak RSS, whatever perfop's own size.

    Linux folds the RSS high-water mark of the memory the child inherits at fork/vfork into the
    child's ``ru_maxrss`` at exec, so a child spawned straight from a big perfop reports perfop's
    size (``true`` showed 330 MiB when perfop held 300 MiB).
    """
    ballast = b"\x01" * (300 * MiB)
    r = py("pass", tmp_path)
    del ballast
    assert r.ok
    assert r.peak_rss < 100 * MiB, f"python -c pass reported {r.peak_rss / MiB:.0f} MiB"


def test_unstartable_commands_raise_workload_error(tmp_path: Path) -> None:
    env = dict(os.environ)
    with pytest.raises(WorkloadError, match="command not found: 'no-such-command-xyz'"):
        run_process(["no-such-command-xyz"], cwd=tmp_path, env=env, timeout=5)
    with pytest.raises(WorkloadError, match=r"working directory .* does not exist"):
        run_process(["true"], cwd=tmp_path / "missing", env=env, timeout=5)
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(WorkloadError, match="not executable"):
        run_process([str(script)], cwd=tmp_path, env=env, timeout=5)


def _resolved(tmp_path: Path, code: str, **extra: object):
    wl = WorkloadConfig.model_validate({"command": [PY, "-c", code], **extra})
    return resolve_workload("probe", wl, repo=tmp_path)


def test_warmup_runs_are_discarded(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    code = f"open({str(log)!r}, 'a').write('x\\n')"
    resolved = _resolved(tmp_path, code)
    seen_warm: list[int] = []
    seen: list[int] = []
    results = measure(
        resolved,
        runs=3,
        warmup=2,
        env=dict(os.environ),
        on_result=lambda i, r: seen.append(i),
        on_warmup=lambda i, r: seen_warm.append(i),
    )
    assert len(log.read_text().splitlines()) == 5  # every run happened ...
    assert len(results) == 3  # ... but only the measured ones are returned
    assert seen_warm == [0, 1] and seen == [0, 1, 2]


def test_setup_runs_once_and_failure_is_a_workload_error(tmp_path: Path) -> None:
    marker = tmp_path / "setup.done"
    ok = _resolved(tmp_path, "pass", setup=[PY, "-c", f"open({str(marker)!r}, 'w').write('1')"])
    run_setup(ok, env=dict(os.environ))
    assert marker.read_text() == "1"
    bad = _resolved(tmp_path, "pass", setup=[PY, "-c", "import sys; sys.exit('pip exploded')"])
    with pytest.raises(WorkloadError, match=r"^setup failed .*pip exploded; fix its 'setup'"):
        run_setup(bad, env=dict(os.environ))


def test_environment_reaches_the_process(tmp_path: Path) -> None:
    r = py(
        "import os; print(os.environ['PERFOP_PROBE'], os.getcwd())",
        tmp_path,
        env={"PERFOP_PROBE": "value-42"},
    )
    assert r.stdout_head == f"value-42 {tmp_path}\n"


DAEMONIZE = """
import os, sys, time
def daemon(pidfile):
    if os.fork():
        return
    os.setsid()
    if os.fork():
        os._exit(0)
    fd = os.open(os.devnull, os.O_RDWR)
    for n in (0, 1, 2):
        os.dup2(fd, n)
    with open(pidfile + ".tmp", "w") as fh:
        fh.write(str(os.getpid()))
    os.rename(pidfile + ".tmp", pidfile)
    time.sleep(300)
    os._exit(0)
"""


def _daemon_pids(tmp: Path, n: int) -> list[int]:
    deadline = time.monotonic() + 30
    files = [tmp / f"d{i}.pid" for i in range(n)]
    while not all(f.exists() for f in files):
        assert time.monotonic() < deadline, "the daemons never wrote their pid files"
        time.sleep(0.05)
    return [int(f.read_text()) for f in files]


def _kill_leftovers(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("ending", ["exit", "timeout"])
def test_double_forked_setsid_daemons_do_not_outlive_the_sample(
    tmp_path: Path, ending: str
) -> None:
    """Issue 16 item 7: daemons out of the process group used to survive, reparented to init."""
    files = [str(tmp_path / f"d{i}.pid") for i in range(3)]
    code = DAEMONIZE + "".join(f"daemon({f!r})\n" for f in files)
    code += f"while not all(os.path.exists(f) for f in {files!r}):\n    time.sleep(0.01)\n"
    if ending == "timeout":
        code += "time.sleep(300)\n"
    r = py(code, tmp_path, timeout=300 if ending == "exit" else 5.0)
    pids = _daemon_pids(tmp_path, 3)
    try:
        assert r.timed_out is (ending == "timeout")
        for pid in pids:
            assert _gone(pid, wait=10), f"daemon {pid} survived the sample ({ending})"
    finally:
        _kill_leftovers(pids)
