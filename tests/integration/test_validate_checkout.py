"""The test command runs against the candidate's checkout, not an installed copy of the package.

A real venv holds ``mypkg`` 0.1 installed into its site-packages; the repository's candidate
changes ``src/mypkg``. With the workload's ``env`` (``PYTHONPATH={worktree}/src``) applied by
default, the tests import the candidate's code; with ``test_env = {}`` they import the installed
copy, and perfop says so. Real git repository, real venv, real processes.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from perfop.config import load_config
from perfop.engagement.validate import checkout_evidence
from report_fixture import git

PKG = 'VERSION = "{version}"\n\n\ndef answer():\n    return {answer}\n'
CHECK = 'import mypkg\nassert mypkg.VERSION == "2", (mypkg.VERSION, mypkg.__file__)\n'
BENCH = "import mypkg\nmypkg.answer()\n"


def _venv(root: Path) -> Path:
    """A venv with mypkg 0.1 installed into its site-packages (files plus a dist-info)."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120
    )
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    site = Path(purelib)
    (site / "mypkg").mkdir(parents=True)
    (site / "mypkg" / "__init__.py").write_text(PKG.format(version="0.1", answer=1))
    info = site / "mypkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mypkg\nVersion: 0.1\n")
    (info / "RECORD").write_text("")
    return python


def _repo(root: Path, python: Path, extra: str = "") -> tuple[Path, str, str]:
    root.mkdir()
    (root / "src" / "mypkg").mkdir(parents=True)
    (root / "src" / "mypkg" / "__init__.py").write_text(PKG.format(version="1", answer=1))
    (root / "check.py").write_text(CHECK)
    (root / "bench.py").write_text(BENCH)
    (root / "perfop.toml").write_text(
        f'test_command = "{python} check.py"\n{extra}'
        "[workloads.app]\n"
        f'command = "{python} bench.py"\n'
        'env = { PYTHONPATH = "{worktree}/src" }\n'
    )
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    base = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "-b", "cand")
    (root / "src" / "mypkg" / "__init__.py").write_text(PKG.format(version="2", answer=1))
    git(root, "commit", "-qam", "candidate")
    cand = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "main")
    return root, base, cand


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _venv(tmp_path_factory.mktemp("venv") / "venv")


def test_tests_run_against_the_candidate_checkout_with_the_workload_env(
    tmp_path: Path, python: Path
) -> None:
    repo, base, cand = _repo(tmp_path / "repo", python)
    ev = checkout_evidence(load_config(repo), base, cand, ["app"])
    assert ev.tests is not None
    assert ev.tests.candidate_ok, ev.tests.candidate_tail
    assert ev.tests.warnings == ()
    # The report's environment: the workload's own interpreter and what it has installed.
    (side,) = ev.environment["candidate"]
    assert Path(side["executable"]).parent == python.parent
    assert side["packages"]["mypkg"] == "0.1" and side["workloads"] == ["app"]
    assert side["origins"]["mypkg"].endswith("src/mypkg/__init__.py")
    assert "/site-packages/" not in side["origins"]["mypkg"]
    assert side["outside_checkout"] == []
    assert ev.environment["base"][0]["version"] == side["version"]
    assert sysconfig.get_python_version() in side["version"]


def test_an_installed_copy_shadowing_the_checkout_is_named(tmp_path: Path, python: Path) -> None:
    repo, base, cand = _repo(tmp_path / "repo", python, extra="test_env = {}\n")
    ev = checkout_evidence(load_config(repo), base, cand, ["app"])
    assert ev.tests is not None
    assert not ev.tests.candidate_ok  # the installed 0.1 was tested, not the candidate
    (warning,) = ev.tests.warnings
    assert warning.startswith("the tests import mypkg from ")
    assert "site-packages/mypkg/__init__.py, outside the candidate's checkout" in warning


def test_a_workload_importing_an_installed_copy_is_a_residual_risk(
    tmp_path: Path, python: Path
) -> None:
    """Without PYTHONPATH the workload itself measures site-packages' mypkg, not the candidate:
    the probe names it, and the outcome lists it as a residual risk."""
    from perfop.engagement.checkout import probe_warnings
    from perfop.engagement.outcome import WorkloadEvidence, decide

    repo, _base, cand = _repo(tmp_path / "repo", python)
    config = repo / "perfop.toml"
    config.write_text(config.read_text().replace('env = { PYTHONPATH = "{worktree}/src" }\n', ""))
    git(repo, "commit", "-qam", "no PYTHONPATH")
    ev = checkout_evidence(load_config(repo), git(repo, "rev-parse", "HEAD"), cand, ["app"])
    (warning,) = probe_warnings(ev.environment)
    assert warning.startswith("workload app would import mypkg from ")
    assert "site-packages" in warning
    out = decide(
        expected_ratio=0.8,
        workloads=[WorkloadEvidence("app", "wall_time", "faster", 0.7)],
        tests=ev.tests,
        slos=[],
        warnings=probe_warnings(ev.environment),
    )
    assert warning in out.residual_risks
