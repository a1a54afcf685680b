"""A secret in the workload's argv never reaches a profiler artifact (py-spy's speedscope names
each process by its command line; memray stores sys.argv in its capture and shows it in its
reports): every byte perfop writes under .perfop/ is searched, binary files and the store too."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TOKEN = "ghp_" + "Zq8Xw2Lm4Np6Rt1Vy3Bc5Df7Gh9Jk0Ms2Pu4"  # GitHub-token shaped, planted
MARKER = "plantedargvmarker"  # a harmless argument: shows whether command lines are kept at all
APP = """\
import sys


def work():
    data = [bytearray(64 * 1024) for _ in range(200)]
    total = 0
    for i in range(300_000):
        total += i * i
    return total, len(data)


work()
"""


def _written(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    "flags",
    [
        ["--mode", "both"],  # py-spy (following subprocesses) and memray
        ["--backend", "pyinstrument"],
    ],
    ids=["py-spy+memray", "pyinstrument"],
)
def test_an_argv_token_is_in_no_byte_perfop_writes(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any], flags: list[str]
) -> None:
    repo = git_repo({"app.py": APP})
    res = run_cli(
        ["profile", *flags, "--", sys.executable, "app.py", "--token", TOKEN, MARKER], cwd=repo
    )
    assert res.code == 0, res.err
    assert TOKEN not in res.out and TOKEN not in res.err
    files = _written(repo / ".perfop")
    names = {p.name for p in files}
    expected = (
        {"py-spy.speedscope.json", "memray.bin", "memray-flamegraph.html"}
        if "both" in flags
        else {"pyinstrument.pyisession", "pyinstrument.html"}
    )
    assert expected <= names, names
    for path in files:
        data = path.read_bytes()
        assert TOKEN.encode() not in data, path
        if path.name != "profile.json" and not path.name.startswith("perfop.db"):
            # Profiler artifacts keep no command line at all (profile.json and the store record
            # the redacted argv, as every measurement does).
            assert MARKER.encode() not in data, path
