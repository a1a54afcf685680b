"""perfop installs as its README says: wheel and sdist build and pass ``twine check``; pipx
installs the wheel and ``git+file://`` into fresh environments, and the installed ``perfop``
works (``--help``, a small ``perfop run``, the packaged docs, agent files and JSON Schema).

The dependencies come from the package index (pip's cache makes a second run quicker), so
this is slow; CI runs it (.ci/run: make test-all).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from perfop import __version__

ROOT = Path(__file__).resolve().parents[2]
WHEEL = f"perfop-{__version__}-py3-none-any.whl"
SDIST = f"perfop-{__version__}.tar.gz"

PACKAGED = {
    "perfop/share/docs/agents.md",  # `perfop mcp --help` points at it
    "perfop/share/docs/guide.md",
    "perfop/share/docs/ci.md",
    "perfop/share/docs/release.md",
    "perfop/share/agents/perf-operator.md",
    "perfop/report/report.schema.json",
    "perfop/examples/wordfreq/pyproject.toml",  # `perfop demo`
    "perfop/examples/wordfreq/src/wordfreq/core.py",
}


def _run(
    args: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (args, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)])
    return out


@pytest.mark.slow
def test_wheel_and_sdist_build_and_pass_twine_check(dist: Path) -> None:
    assert sorted(p.name for p in dist.iterdir()) == sorted([WHEEL, SDIST])
    proc = _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())])
    assert proc.stdout.count("PASSED") == 2
    names = set(zipfile.ZipFile(dist / WHEEL).namelist())
    assert names >= PACKAGED, PACKAGED - names
    assert f"perfop-{__version__}.dist-info/licenses/LICENSE" in names
    with tarfile.open(dist / SDIST) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    for path in (
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "src/perfop/cli/__init__.py",
        "src/perfop/examples/wordfreq/pyproject.toml",
        "docs/release.md",
    ):
        assert path in members, path


def _pipx_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFOP_", "PIPX_"))}
    env.update(
        PIPX_HOME=str(home / "pipx"),
        PIPX_BIN_DIR=str(home / "bin"),
        PIPX_MAN_DIR=str(home / "man"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return env


def _pipx() -> list[str]:
    return [sys.executable, "-m", "pipx"]


def _check_installed(perfop: Path, git_repo: Callable[..., Path], env: dict[str, str]) -> None:
    assert perfop.is_file()
    # The installed command, not this checkout: its interpreter is pipx's environment.
    assert str(ROOT) not in perfop.read_text(errors="replace").splitlines()[0]
    out = _run([str(perfop), "--help"], env=env, timeout=120).stdout
    assert "init-ci" in out and "gate" in out
    assert __version__ in _run([str(perfop), "--version"], env=env, timeout=120).stdout
    repo = git_repo({"README.md": "x\n"})
    run = _run(
        [str(perfop), "run", "--runs", "3", "--warmup", "0", "--", "/bin/true"],
        cwd=repo,
        env=env,
        timeout=300,
    )
    assert "3 samples, complete" in run.stdout
    py = perfop.parent.resolve().parent / "bin" / "python"
    code = (
        "from importlib import resources; import perfop, json; "
        "r = resources.files('perfop'); "
        "print((r / 'share' / 'docs' / 'agents.md').is_file(), "
        "(r / 'share' / 'agents' / 'perf-operator.md').is_file(), "
        "json.loads((r / 'report' / 'report.schema.json').read_text())['$schema'][:4], "
        "perfop.__file__)"
    )
    found = _run([str(py), "-c", code], env=env, timeout=120).stdout.split()
    assert found[:3] == ["True", "True", "http"], found
    assert not found[3].startswith(str(ROOT)), found


@pytest.mark.slow
def test_pipx_installs_the_wheel(dist: Path, tmp_path: Path, git_repo: Callable[..., Path]) -> None:
    env = _pipx_env(tmp_path)
    _run([*_pipx(), "install", str(dist / WHEEL)], env=env)
    _check_installed(tmp_path / "pipx" / "venvs" / "perfop" / "bin" / "perfop", git_repo, env)
    assert (tmp_path / "bin" / "perfop").exists()


@pytest.mark.slow
def test_pipx_installs_from_git(tmp_path: Path, git_repo: Callable[..., Path]) -> None:
    # The committed tree of this checkout (HEAD), as `pipx install git+URL@REF` would fetch it.
    head = _run(["git", "-C", str(ROOT), "rev-parse", "HEAD"]).stdout.strip()
    env = _pipx_env(tmp_path)
    _run([*_pipx(), "install", f"git+file://{ROOT}@{head}"], env=env)
    _check_installed(tmp_path / "pipx" / "venvs" / "perfop" / "bin" / "perfop", git_repo, env)
