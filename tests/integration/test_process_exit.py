"""perfop's own exit: the command's output and exit code, the ``atexit`` handlers and the
spawner's end, but no interpreter teardown, whose time no budget counted (issue 14, 8a)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SITECUSTOMIZE = """\
import atexit, os

class _Teardown:
    def __del__(self, _open=open, _path=os.environ["PROBE_DIR"] + "/teardown"):
        _open(_path, "w").close()  # builtins may be gone by now: bound at definition

_probe = _Teardown()
atexit.register(lambda: open(os.environ["PROBE_DIR"] + "/atexit", "w").close())
"""


def _perfop(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {**os.environ, "PYTHONPATH": str(site), "PROBE_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "perfop", "--store", f"sqlite:///{tmp_path / 's.db'}", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_exit_skips_teardown_but_keeps_output_atexit_and_exit_code(tmp_path: Path) -> None:
    res = _perfop(tmp_path, "run", "--runs", "200", "--format", "json", "--", "true")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)  # all of a large document, flushed before the exit
    assert len(doc["runs"][0]["samples"]) == 200
    assert (tmp_path / "atexit").exists()
    assert not (tmp_path / "teardown").exists()
    # The spawner that measured the samples was stopped and reaped by perfop before it exited.
    assert _spawners_in(tmp_path) == []


def test_a_failing_command_keeps_its_exit_code(tmp_path: Path) -> None:
    res = _perfop(tmp_path, "run", "--runs", "1", "--", "false")
    assert res.returncode == 1
    res = _perfop(tmp_path, "run", "--runs", "0", "--", "true")
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert (tmp_path / "atexit").exists() and not (tmp_path / "teardown").exists()


def _spawners_in(folder: Path) -> list[int]:
    """perfop spawners whose working directory is ``folder`` (where the samples ran)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if b"_spawner.py" in cmdline and cwd == str(folder):
            found.append(int(proc.name))
    return found


def test_a_profiled_perfop_still_writes_its_profile(tmp_path: Path) -> None:
    # `python -m cProfile -o FILE -m perfop ...` writes FILE after the command returns: the
    # fast exit must leave a profiler (or a tracer such as coverage) its normal exit.
    out = tmp_path / "perfop.prof"
    res = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "perfop", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert out.is_file() and out.stat().st_size > 0
