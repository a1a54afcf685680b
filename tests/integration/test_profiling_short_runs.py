"""A Python workload too short for py-spy to attach to is still profiled (with pyinstrument)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from perfop.config import load_config
from perfop.profiling import backends
from perfop.profiling.service import ProfileOptions, profile

PY = sys.executable
SCRIPT = """\
def busy():
    return sum(i * i for i in range(200_000))


busy()
"""


def _missed(*args: Any, **kwargs: Any) -> Any:
    raise backends.ShortRunMissed(
        "workload 'x' finished (0.015 s) before py-spy attached (No python processes found)"
    )


def test_missed_short_run_falls_back_to_pyinstrument_with_a_note(
    git_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The race is real but not reproducible on demand, so py-spy's miss is forced here.
    monkeypatch.setattr(backends, "run_py_spy", _missed)
    repo = git_repo({"quick.py": SCRIPT})
    report = profile(
        load_config(repo), command=[PY, "quick.py"], options=ProfileOptions(), cwd=repo
    )
    cpu = report.part("cpu")
    assert cpu is not None and cpu.backend == "pyinstrument"
    assert any("py-spy missed" in n and "pyinstrument" in n for n in cpu.notes)
    assert any(h.function == "busy" for h in cpu.hotspots)


def test_a_non_python_command_still_gets_the_one_line_error(
    git_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backends, "run_py_spy", _missed)
    repo = git_repo({"quick.py": SCRIPT})
    with pytest.raises(backends.ShortRunMissed, match="before py-spy attached"):
        profile(
            load_config(repo),
            command=["sh", "-c", f"{PY} quick.py"],
            options=ProfileOptions(),
            cwd=repo,
        )
