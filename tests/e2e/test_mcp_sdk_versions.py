"""The MCP server on the lowest MCP SDK release perfop's pin allows (the test suite itself runs on
the newest one the pin allows, which ``make venv`` installs): a subset of the SDK-client e2e tests
with the server on that release (issue 22: the old pin named releases that did not work).

The release comes from PyPI through pip (``--target``, no dependencies: the SDK's own package and
its wire types; everything else is the installed environment's), cached between runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE_VAR = "PERFOP_TEST_CACHE"

pytestmark = pytest.mark.slow

# What differs between SDK releases: listing, calls and argument errors, progress and
# cancellation, both protocol eras and the error codes.
SUBSET = "listed or malformed or cancelled or eras or unknown_resource or schema_refuses"


def lowest_pinned() -> str:
    """The lower bound of the ``mcp`` extra's requirement, e.g. ``2.0.0`` for ``mcp>=2.0,<3``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (requirement,) = project["optional-dependencies"]["mcp"]
    match = re.search(r">=\s*([0-9][0-9.]*)", requirement)
    assert match, f"the mcp extra {requirement!r} has no lower bound"
    version = match[1]
    return version + ".0" * (2 - version.count("."))


def install(version: str) -> Path:
    cache = Path(os.environ.get(CACHE_VAR) or Path.home() / ".cache" / "perfop-tests")
    target = cache / f"mcp-{version}"
    if not (target / ".complete").exists():
        partial = cache / f"mcp-{version}.partial"
        subprocess.run(["rm", "-rf", str(partial)], check=True)
        # mcp pins its wire types to its own version (mcp-types==X).
        argv = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target"]
        argv += [str(partial), f"mcp=={version}", f"mcp-types=={version}"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, f"pip could not install mcp {version}: {done.stderr[-2000:]}"
        subprocess.run(["rm", "-rf", str(target)], check=True)
        partial.rename(target)
        (target / ".complete").write_text(version)
    return target


def test_the_server_works_on_the_lowest_pinned_sdk(tmp_path: Path) -> None:
    version = lowest_pinned()
    sdk = install(version)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFOP_TEST_REPORT")}
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.metadata as m, mcp.server.lowlevel as s;"
            "print(m.version('mcp'), s.__file__)",
        ],
        env={**env, "PYTHONPATH": str(sdk)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    found, where = probe.stdout.split()
    assert found == version and where.startswith(str(sdk)), probe.stdout
    env["PERFOP_TEST_MCP_SDK_PATH"] = str(sdk)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not slow",
            "--basetemp",
            str(tmp_path / "inner"),
            "-k",
            SUBSET,
            "tests/e2e/test_mcp.py",
            "tests/e2e/test_mcp_protocol.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    tail = (done.stdout + done.stderr)[-4000:]
    assert done.returncode == 0, tail
    passed = re.search(r"\b(\d+) passed\b", done.stdout)
    # 3 tests of test_mcp.py, 5 of test_mcp_protocol.py (two per era): none skipped or failed.
    assert passed and int(passed[1]) >= 8, tail
    assert not re.search(r"\b\d+ (failed|skipped|errors?)\b", done.stdout), tail
