"""Profiling works whatever starts Python: a pyenv-like shim (a shell script that execs the real
interpreter after some work), this machine's own ``python3``, ``python -m``, console scripts, a
venv without perfop's extras; py-spy's failures are retried or fallen back from, and said."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from perfop.config import load_config
from perfop.errors import ProfilerError
from perfop.profiling import backends
from perfop.profiling.model import ProfilePart
from perfop.profiling.service import ProfileOptions, profile

WORK = """\
import sys
import time


def crunch(until):
    x = 0
    while time.perf_counter() < until:
        for i in range(2000):
            x += i * i
    return x


def main(seconds):
    crunch(time.perf_counter() + seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1])))
"""
CONSOLE_SCRIPT = """\
import sys

from pkg.work import main

if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1])))
"""
# A shim like pyenv's: it works out which interpreter to run (pyenv reads version files and runs
# several helper scripts: 0.25 s on this machine when idle, over a second under load), then execs.
SHIM = '#!/bin/sh\nsleep 0.3\nexec {real} "$@"\n'


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second venv of the base interpreter, without pip and without perfop's extras."""
    base = getattr(sys, "_base_executable", sys.executable)
    where = tmp_path_factory.mktemp("venvs") / "bare"
    subprocess.run([base, "-m", "venv", "--without-pip", str(where)], check=True, timeout=300)
    python = where / "bin" / "python"
    lacks = subprocess.run([python, "-c", "import pyinstrument"], capture_output=True, check=False)
    assert lacks.returncode != 0, "the bare venv must not have pyinstrument"
    return python


def _shim_dir(tmp_path: Path, real: Path, name: str = "python3") -> Path:
    shims = tmp_path / "shims"
    shims.mkdir(exist_ok=True)
    shim = shims / name
    shim.write_text(SHIM.format(real=real), encoding="utf-8")
    shim.chmod(0o755)
    return shims


def _repo(git_repo: Callable[..., Path], command: str) -> Path:
    config = f'[workloads.w]\ncommand = {command}\nenv = {{ PYTHONPATH = "{{repo}}" }}\n'
    return git_repo(
        {"pkg/__init__.py": "", "pkg/work.py": WORK, "work.py": WORK, "perfop.toml": config}
    )


def _top(part: ProfilePart) -> str:
    return next(h.function for h in part.hotspots if h.in_repo and h.self_value > 0)


@pytest.mark.parametrize(
    "seconds", [0.1, 0.5, pytest.param(3.0, marks=pytest.mark.slow)], ids=["0.1s", "0.5s", "3s"]
)
def test_a_shim_named_python3_is_seen_through(
    git_repo: Callable[..., Path],
    bare_venv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    seconds: float,
) -> None:
    monkeypatch.setenv("PATH", f"{_shim_dir(tmp_path, bare_venv)}:{os.environ['PATH']}")
    repo = _repo(git_repo, f'["python3", "work.py", "{seconds}"]')
    cpu = profile(load_config(repo), workload="w").part("cpu")
    assert cpu is not None
    assert _top(cpu) == "crunch"
    assert any("'python3' is a launcher" in n and str(bare_venv) in n for n in cpu.notes)
    if seconds >= 0.5:
        assert cpu.backend == "py-spy", cpu.notes
    else:  # py-spy may miss a 0.1 s run under load: then the fallback says so
        assert cpu.backend == "py-spy" or any("py-spy missed" in n for n in cpu.notes)


def test_this_machines_python3(git_repo: Callable[..., Path]) -> None:
    found = shutil.which("python3")
    if found is None or Path(found).read_bytes()[:2] != b"#!":
        pytest.skip("python3 on PATH is not a shim here")
    repo = _repo(git_repo, '["python3", "work.py", "0.5"]')
    cpu = profile(load_config(repo), workload="w").part("cpu")
    assert cpu is not None and cpu.backend == "py-spy"
    assert _top(cpu) == "crunch"
    assert any("'python3' is a" in n for n in cpu.notes), cpu.notes


def test_python_dash_m_through_a_shim(
    git_repo: Callable[..., Path], bare_venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{_shim_dir(tmp_path, bare_venv)}:{os.environ['PATH']}")
    repo = _repo(git_repo, '["python3", "-m", "pkg.work", "0.5"]')
    cpu = profile(load_config(repo), workload="w").part("cpu")
    assert cpu is not None and cpu.backend == "py-spy"
    assert _top(cpu) == "crunch"
    assert next(h for h in cpu.hotspots if h.function == "crunch").file == "pkg/work.py"


@pytest.mark.parametrize("form", ["shebang", "pip-sh"])
def test_console_script_of_a_venv_without_extras(
    git_repo: Callable[..., Path],
    bare_venv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    form: str,
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "worktool"
    head = (
        f"#!{bare_venv}\n"
        if form == "shebang"
        else f"#!/bin/sh\n'''exec' {bare_venv} \"$0\" \"$@\"\n' '''\n"  # pip's long-path form
    )
    script.write_text(head + CONSOLE_SCRIPT, encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    repo = _repo(git_repo, '["worktool", "0.5"]')
    cpu = profile(load_config(repo), workload="w").part("cpu")
    assert cpu is not None and cpu.backend == "py-spy"
    assert _top(cpu) == "crunch"


def test_a_version_manager_shim_for_a_console_script(
    git_repo: Callable[..., Path], bare_venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pyenv's shims for console scripts: `exec "$PYENV_ROOT/libexec/pyenv" exec "$program" "$@"`.
    real_dir = tmp_path / "versions" / "bin"
    real_dir.mkdir(parents=True)
    real = real_dir / "worktool"
    real.write_text(f"#!{bare_venv}\n" + CONSOLE_SCRIPT, encoding="utf-8")
    real.chmod(0o755)
    manager = tmp_path / "libexec" / "pyenv"
    manager.parent.mkdir()
    manager.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = which ]; then echo {real_dir}/"$2"; exit 0; fi\n'
        f'shift; program="$1"; shift; sleep 0.3; exec {real_dir}/"$program" "$@"\n',
        encoding="utf-8",
    )
    manager.chmod(0o755)
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "worktool").write_text(
        f'#!/bin/sh\nprogram="${{0##*/}}"\nexec "{manager}" exec "$program" "$@"\n',
        encoding="utf-8",
    )
    (shims / "worktool").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}:{os.environ['PATH']}")
    repo = _repo(git_repo, '["worktool", "0.5"]')
    cpu = profile(load_config(repo), workload="w").part("cpu")
    assert cpu is not None and cpu.backend == "py-spy"
    assert _top(cpu) == "crunch"
    assert any("pyenv shim" in n and str(real) in n for n in cpu.notes), cpu.notes


def _missed(*args: object, **kwargs: object) -> object:
    raise backends.ShortRunMissed("workload 'w' finished (0.01 s) before py-spy attached")


def test_a_missed_short_run_needs_no_extras_in_the_workloads_interpreter(
    git_repo: Callable[..., Path], bare_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backends, "run_py_spy", _missed)  # the race, forced
    repo = _repo(git_repo, f'["{bare_venv}", "work.py", "0.1"]')
    cpu = profile(load_config(repo), workload="w", options=ProfileOptions()).part("cpu")
    assert cpu is not None and cpu.backend == "sampler"
    assert _top(cpu) == "crunch"
    (note,) = [n for n in cpu.notes if "py-spy missed" in n]
    assert "perfop's own sampler" in note and "pyinstrument is not installed" in note


def _fake_py_spy(tmp_path: Path, *, always: bool) -> None:
    real = backends.find_py_spy()
    fake = tmp_path / "fakebin" / "py-spy"
    fake.parent.mkdir()
    fail = "Error: No python processes found in process 4242 or any of its subprocesses"
    test = "true" if always else 'case " $* " in *" --subprocesses "*) true;; *) false;; esac'
    fake.write_text(
        f"#!/bin/sh\nif {test}; then echo '{fail}' >&2; exit 1; fi\nexec {real} \"$@\"\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    os.environ["PATH"] = f"{fake.parent}:{os.environ['PATH']}"


def test_no_python_processes_with_subprocesses_is_retried_without(
    git_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", os.environ["PATH"])
    _fake_py_spy(tmp_path, always=False)
    repo = _repo(git_repo, f'["{sys.executable}", "work.py", "0.5"]')
    cpu = profile(load_config(repo), workload="w").part("cpu")
    assert cpu is not None and cpu.backend == "py-spy"
    assert _top(cpu) == "crunch"
    assert any("without --subprocesses" in n for n in cpu.notes), cpu.notes


def test_when_py_spy_fails_the_error_is_py_spys(
    git_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", os.environ["PATH"])
    _fake_py_spy(tmp_path, always=True)
    repo = _repo(git_repo, f'["{sys.executable}", "work.py", "0.1"]')
    with pytest.raises(ProfilerError, match="No python processes found") as err:
        profile(load_config(repo), workload="w")
    assert "pyinstrument" not in str(err.value)


def test_a_shell_script_that_starts_python_through_a_shim(
    git_repo: Callable[..., Path], bare_venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uv run / tox / a project's run.sh: not Python itself; py-spy follows its Python children.
    monkeypatch.setenv("PATH", f"{_shim_dir(tmp_path, bare_venv)}:{os.environ['PATH']}")
    repo = _repo(git_repo, '["sh", "run.sh"]')
    (repo / "run.sh").write_text("set -e\npython3 work.py 0.5\n", encoding="utf-8")
    cpu = profile(load_config(repo), workload="w").part("cpu")
    assert cpu is not None and cpu.backend == "py-spy"
    assert _top(cpu) == "crunch", cpu.hotspots
