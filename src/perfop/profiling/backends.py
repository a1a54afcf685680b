"""Adapters to the real profilers: run the workload once under one of them, return a RawProfile.

    py-spy        CPU, default: samples from outside the process, follows subprocesses.
    pyinstrument  CPU, in-process (the workload's interpreter must have it installed).
    memray        memory: bytes alive at the peak by allocation site, peak heap size.
    tracemalloc   memory fallback where memray cannot run (stdlib, slower, Python heap only).

Python commands run through ``_bootstrap.py`` with the workload's own interpreter, so perfop
always learns the workload's exit status and its own wall time (py-spy does not pass them on), and
the workload writes its stderr to a file of its own: py-spy's messages (and its error when the
workload ends before it attaches) share the process's stderr and must never pass for the
workload's. Every process goes through ``perfop.measure.runner.run_process``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from perfop.errors import ProfilerError, UsageError, WorkloadError
from perfop.measure.runner import run_process, word_aligned_tail
from perfop.model import ProcessResult
from perfop.profiling import parsers, render
from perfop.profiling.attribution import origin_of
from perfop.profiling.launchers import PythonCommand, Resolved, resolve_launchers
from perfop.profiling.model import RawProfile, StackSample

BOOTSTRAP = Path(__file__).with_name("_bootstrap.py")
INSTALL_HINT = "pip install 'perfop[profile]'"
CPU_BACKENDS = ("py-spy", "pyinstrument")


def bootstrap_argv(
    cmd: PythonCommand,
    *,
    status: Path,
    stderr: Path | None = None,
    profiler: str | None = None,
    out: Path | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    argv = [cmd.interpreter, *cmd.options, str(BOOTSTRAP), "--status", str(status)]
    if stderr:
        argv += ["--stderr", str(stderr)]
    if profiler:
        argv += ["--profiler", profiler, "--out", str(out)]
    argv += [*extra, f"--{cmd.target_kind}", cmd.target, "--", *cmd.args]
    return argv


def _run_bootstrapped(
    cmd: PythonCommand,
    profiler: str,
    out: Path,
    *,
    extra: Sequence[str] = (),
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    what: str,
) -> float:
    """Run the workload under ``profiler`` through the bootstrap, writing ``out``; its wall time.

    The status and stderr files sit beside ``out``, named by the profile's mode (cpu or memory),
    and a failed run raises with the workload's stderr tail.
    """
    mode = "memory" if profiler in ("memray", "tracemalloc") else "cpu"
    status = out.parent / f"status-{mode}.json"
    stderr = out.parent / f"stderr-{mode}.txt"
    result = run_process(
        bootstrap_argv(cmd, status=status, stderr=stderr, profiler=profiler, out=out, extra=extra),
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    wall = _check_outcome(result, status, what=what, stderr_file=stderr)
    stderr.unlink(missing_ok=True)
    return wall


def find_py_spy() -> str:
    """The py-spy executable: on PATH or next to perfop's interpreter."""
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if not found:
        raise ProfilerError(f"py-spy is not installed; {INSTALL_HINT}")
    return found


@lru_cache(maxsize=32)
def _importable(interpreter: str, options: tuple[str, ...], module: str) -> bool:
    try:
        proc = subprocess.run(
            [interpreter, *options, "-c", f"import {module}"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def has_module(cmd: PythonCommand, module: str) -> bool:
    """Whether the workload's interpreter can import ``module`` (a profiler running in-process)."""
    return _importable(cmd.interpreter, cmd.options, module)


def _require_python(cmd: PythonCommand | None, argv: Sequence[str], backend: str) -> PythonCommand:
    if cmd is None:
        raise UsageError(
            f"{backend} profiles Python code in-process, but {argv[0]!r} is not a Python command; "
            "use the default py-spy backend (it follows Python subprocesses) or run `python ...`"
        )
    return cmd


def _read_status(status_file: Path) -> dict[str, Any]:
    if not status_file.is_file():
        return {}
    try:
        status = json.loads(status_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def _check_outcome(
    result: ProcessResult, status_file: Path, *, what: str, stderr_file: Path | None = None
) -> float:
    """The workload's own wall time; raises when it failed (so no profile is stored)."""
    status = _read_status(status_file)
    exit_code = status.get("exit_code", result.exit_code)
    if result.timed_out:
        raise WorkloadError(
            f"{what} timed out after {result.wall_time:.3g} s while profiled; "
            "no profile stored (raise the workload's timeout)"
        )
    if exit_code != 0 or not result.ok:
        reason = f"exited with code {exit_code}" if exit_code else result.describe_failure()
        raise WorkloadError(
            f"{what} {reason} while profiled; no profile stored; "
            f"stderr: {workload_stderr(result, stderr_file)}"
        )
    return float(status.get("wall_time", result.wall_time))


STDERR_TAIL_BYTES = 8192


def workload_stderr(result: ProcessResult, stderr_file: Path | None, lines: int = 3) -> str:
    """The last lines the workload wrote to stderr, joined on one line.

    From the workload's own stderr file when the bootstrap made one; otherwise from the shared
    stderr with the profiler's own messages removed.
    """
    text = None
    if stderr_file is not None and stderr_file.is_file():
        with stderr_file.open("rb") as fh:
            fh.seek(max(0, stderr_file.stat().st_size - STDERR_TAIL_BYTES - 1))
            text = word_aligned_tail(fh.read(), STDERR_TAIL_BYTES).decode("utf-8", "replace")
    if text is None:
        text = strip_profiler_messages(result.stderr_tail)
    kept = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(kept[-lines:]) or "(empty)"


# py-spy's error report: "Error: ..." then, after blank lines, "Caused by:" / "Stack backtrace:"
# sections whose entries are indented ("    0: ...", "   3: main", "             at src/x.rs:1").
_SPY_SECTION_RE = re.compile(r"^(Caused by:|Stack backtrace:)\s*$")
_SPY_ENTRY_RE = re.compile(r"^\s+(\d+:\s|at\s)")


def strip_profiler_messages(text: str) -> str:
    """``text`` without py-spy's own lines: its ``py-spy>`` status lines and its error blocks."""
    out: list[str] = []
    in_error = False
    for line in text.splitlines():
        if line.startswith("py-spy>"):
            continue
        if line.startswith("Error: "):
            in_error = True
            continue
        if in_error and (
            not line.strip() or _SPY_SECTION_RE.match(line) or _SPY_ENTRY_RE.match(line)
        ):
            continue
        in_error = False
        out.append(line)
    return "\n".join(out)


def py_spy_error(text: str) -> str:
    """py-spy's own one-line error ("Failed to ..."), or the empty string."""
    for line in text.splitlines():
        if line.startswith("Error: "):
            return line[len("Error: ") :].strip()
    return ""


SHORT_RUN = 1.0  # seconds: below this a py-spy failure to attach is most likely the race


class ShortRunMissed(ProfilerError):
    """py-spy missed a short, successful run (it ended before py-spy attached or sampled)."""


def check_py_spy_outcome(
    result: ProcessResult, status_file: Path, *, what: str, stderr_file: Path | None
) -> float:
    """Like ``_check_outcome``, but when py-spy itself failed, say so instead of blaming the
    workload: most often the workload succeeded but ended before py-spy could attach to it."""
    status = _read_status(status_file)
    error = py_spy_error(result.stderr_tail)
    if not result.ok and not result.timed_out:
        if status.get("exit_code") == 0:
            wall = float(status.get("wall_time", result.wall_time))
            if wall < SHORT_RUN:
                raise ShortRunMissed(
                    f"{what} finished ({wall:.2g} s) before py-spy attached "
                    f"({error or result.describe_failure()}); profile a longer run or use "
                    "--backend pyinstrument"
                )
            raise ProfilerError(
                f"py-spy failed while profiling {what}: {error or result.describe_failure()}"
            )
        if not status and error:
            raise ProfilerError(f"py-spy could not run {what}: {error}")
    return _check_outcome(result, status_file, what=what, stderr_file=stderr_file)


_PTRACE_RE = re.compile(r"permission denied|operation not permitted|ptrace", re.IGNORECASE)


def _target(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]
) -> tuple[Resolved, Mapping[str, str]]:
    """``argv`` with launchers seen through, and the environment to run it in."""
    resolved = resolve_launchers(argv, cwd=cwd, env=env)
    run_env = env if resolved.path is None else {**env, "PATH": resolved.path}
    return resolved, run_env


NO_PYTHON = "No python processes found"


def run_py_spy(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    out_dir: Path,
    rate: int = 250,
    subprocesses: bool = True,
    native: bool = False,
    what: str = "workload",
) -> RawProfile:
    """Sample ``argv`` with py-spy (speedscope output) and return its stacks.

    The process py-spy starts is always Python (the interpreter behind a launcher, or perfop's
    own launcher around a non-Python command), so ``--subprocesses`` never waits on a shell
    script; should py-spy still find no Python process with it, the run is repeated without.
    """
    py_spy = find_py_spy()
    resolved, run_env = _target(argv, cwd=cwd, env=env)
    cmd = resolved.python
    status = out_dir / "status-cpu.json"
    stderr = out_dir / "stderr-cpu.txt"
    if cmd is not None:
        target = bootstrap_argv(cmd, status=status, stderr=stderr)
    else:
        target = _python_launcher_argv(argv, status=status, stderr=stderr)
        subprocesses = True
        run_env, note = _python_children_direct(out_dir, cwd=cwd, env=run_env)
        resolved = dataclasses.replace(resolved, note=note)
    speedscope = out_dir / "py-spy.speedscope.json"
    spy = _py_spy_record_argv(py_spy, speedscope, rate=rate, native=native)
    notes = [resolved.note]
    flags = ["--subprocesses"] if subprocesses else []
    result = run_process([*spy, *flags, "--", *target], cwd=cwd, env=run_env, timeout=timeout)
    if flags and cmd is not None and NO_PYTHON in result.stderr_tail and not status.is_file():
        notes.append(
            f"py-spy --subprocesses found no Python process ({py_spy_error(result.stderr_tail)}); "
            "profiled again without --subprocesses (Python child processes not followed)"
        )
        result = run_process([*spy, "--", *target], cwd=cwd, env=run_env, timeout=timeout)
    shutil.rmtree(out_dir / _DIRECT_BIN, ignore_errors=True)
    if not status.is_file() and _PTRACE_RE.search(result.stderr_tail):
        raise ProfilerError(
            "py-spy was denied ptrace access to the workload; run perfop as the same user as the "
            "workload, grant CAP_SYS_PTRACE (e.g. docker --cap-add SYS_PTRACE), or set "
            "kernel.yama.ptrace_scope=0 (sysctl)"
        )
    wall = check_py_spy_outcome(result, status, what=what, stderr_file=stderr)
    stderr.unlink(missing_ok=True)
    hint = "" if cmd is not None else f"; is {argv[0]!r} running Python code?"
    stacks = _py_spy_stacks(result, speedscope, wall=wall, what=what, hint=hint)
    artifacts = {"speedscope": speedscope, "raw": speedscope}
    artifacts.update(_write_views(stacks, out_dir, "cpu", unit="s", speedscope=False))
    cpu_time = _read_status(status).get("cpu_time")
    return RawProfile(
        "cpu",
        "py-spy",
        "s",
        tuple(stacks),
        wall,
        None,
        artifacts,
        tuple(n for n in notes if n),
        cpu_time=None if cpu_time is None else float(cpu_time),
    )


def _python_launcher_argv(argv: Sequence[str], *, status: Path, stderr: Path) -> list[str]:
    """Not Python itself: a Python launcher runs it and records its exit status; py-spy
    follows the Python processes it starts."""
    launcher = PythonCommand(
        sys.executable,
        ("-I",),
        "code",
        "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))",
        tuple(argv),
    )
    return bootstrap_argv(launcher, status=status, stderr=stderr)


def _py_spy_record_argv(py_spy: str, speedscope: Path, *, rate: int, native: bool) -> list[str]:
    spy = [
        py_spy,
        "record",
        "--format",
        "speedscope",
        "--output",
        str(speedscope),
        "--rate",
        str(rate),
        "--function",
        "--full-filenames",
    ]
    if native:
        spy.append("--native")
    return spy


def _py_spy_stacks(
    result: ProcessResult, speedscope: Path, *, wall: float, what: str, hint: str
) -> list[StackSample]:
    """The Python stacks of py-spy's speedscope file (rewritten without command lines)."""
    if not speedscope.is_file():
        error = py_spy_error(result.stderr_tail) or "(no error message)"
        raise ProfilerError(f"py-spy wrote no profile: {error}")
    doc = json.loads(speedscope.read_text(encoding="utf-8"))
    speedscope.write_text(json.dumps(strip_command_lines(doc)), encoding="utf-8")
    stacks = strip_bootstrap(parsers.parse_speedscope(doc))
    if not stacks:
        if wall < SHORT_RUN:
            raise ShortRunMissed(
                f"py-spy collected no Python samples from {what}; it finished in {wall:.2g} s, "
                "before py-spy took a sample"
            )
        raise ProfilerError(f"py-spy collected no Python samples from {what}{hint}")
    return stacks


_DIRECT_BIN = "python-bin"


def _python_children_direct(
    out_dir: Path, *, cwd: Path, env: Mapping[str, str]
) -> tuple[Mapping[str, str], str | None]:
    """For a command that is not Python itself (a shell script, ``uv run``): where ``python`` or
    ``python3`` on PATH is a launcher (a pyenv shim), put a directory first on PATH whose
    ``python``/``python3`` exec the interpreter it would start, at once. py-spy follows Python
    children, but gives up on a child that is still a shell script when it first looks."""
    links = {}
    for name in ("python", "python3"):
        found = resolve_launchers([name, "-c", ""], cwd=cwd, env=env)
        if found.note and found.python is not None:
            links[name] = found.python.interpreter
    if not links:
        return env, None
    bindir = out_dir / _DIRECT_BIN
    bindir.mkdir(exist_ok=True)
    for name, real in links.items():
        wrapper = bindir / name
        wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(real)} "$@"\n', encoding="utf-8")
        wrapper.chmod(0o755)
    note = (
        f"{' and '.join(links)} on PATH {'are launchers' if len(links) > 1 else 'is a launcher'}; "
        f"the command's Python children ran {', '.join(sorted(set(links.values())))} directly"
    )
    return {**env, "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}"}, note


_PROCESS_FRAME = re.compile(r"^process (\d+):.*", re.DOTALL)
_PROFILE_NAME = re.compile(r"^(Process \d+ )?(Thread \d+).*", re.DOTALL)


def strip_command_lines(doc: dict[str, Any]) -> dict[str, Any]:
    """py-spy's speedscope document without the command lines it records (the process frames'
    names and the profiles' names hold each process's full argv, secrets included)."""
    for frame in doc.get("shared", {}).get("frames", []):
        name = frame.get("name")
        if isinstance(name, str) and not frame.get("file"):
            frame["name"] = _PROCESS_FRAME.sub(r"process \1", name)
    for profile in doc.get("profiles", []):
        name = profile.get("name")
        if isinstance(name, str):
            profile["name"] = _PROFILE_NAME.sub(r"\1\2", name)
    if isinstance(doc.get("name"), str):
        doc["name"] = "py-spy profile"
    return doc


def run_pyinstrument(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    out_dir: Path,
    interval: float = 0.001,
    what: str = "workload",
) -> RawProfile:
    """Profile ``argv`` in-process with pyinstrument; HTML and speedscope from its renderers."""
    resolved, env = _target(argv, cwd=cwd, env=env)
    cmd = _require_python(resolved.python, argv, "pyinstrument")
    if not has_module(cmd, "pyinstrument"):
        raise ProfilerError(
            f"pyinstrument is not installed for {cmd.interpreter}; {INSTALL_HINT} in that "
            "environment, or use the default py-spy backend"
        )
    try:
        from pyinstrument.renderers import HTMLRenderer, SpeedscopeRenderer
        from pyinstrument.session import Session
    except ImportError:
        raise ProfilerError(f"pyinstrument is not installed for perfop; {INSTALL_HINT}") from None
    session_file = out_dir / "pyinstrument.pyisession"
    wall = _run_bootstrapped(
        cmd,
        "pyinstrument",
        session_file,
        extra=["--interval", str(interval)],
        cwd=cwd,
        env=env,
        timeout=timeout,
        what=what,
    )
    session = Session.load(str(session_file))
    stacks = strip_bootstrap(
        parsers.parse_pyinstrument_records(session.frame_records, interval=interval)
    )
    html_file = out_dir / "pyinstrument.html"
    html_file.write_text(HTMLRenderer().render(session), encoding="utf-8")
    speedscope = out_dir / "pyinstrument.speedscope.json"
    speedscope.write_text(SpeedscopeRenderer().render(session), encoding="utf-8")
    folded = out_dir / "cpu.folded"
    folded.write_text(render.format_folded(stacks, scale=1e6), encoding="utf-8")
    artifacts = {
        "raw": session_file,
        "flamegraph": html_file,
        "speedscope": speedscope,
        "folded": folded,
    }
    notes = (resolved.note,) if resolved.note else ()
    return RawProfile("cpu", "pyinstrument", "s", tuple(stacks), wall, None, artifacts, notes)


def run_sampler(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    out_dir: Path,
    interval: float = 0.001,
    what: str = "workload",
) -> RawProfile:
    """Profile ``argv`` in-process with perfop's own stdlib sampler (any interpreter, no extras)."""
    resolved, env = _target(argv, cwd=cwd, env=env)
    cmd = _require_python(resolved.python, argv, "perfop's sampler")
    dump = out_dir / "sampler.json"
    wall = _run_bootstrapped(
        cmd,
        "sampler",
        dump,
        extra=["--interval", str(interval)],
        cwd=cwd,
        env=env,
        timeout=timeout,
        what=what,
    )
    stacks = strip_bootstrap(parsers.parse_sampler(json.loads(dump.read_text(encoding="utf-8"))))
    artifacts: dict[str, Path] = {"raw": dump}
    artifacts.update(_write_views(stacks, out_dir, "cpu", unit="s", speedscope=True))
    notes = (resolved.note,) if resolved.note else ()
    return RawProfile("cpu", "sampler", "s", tuple(stacks), wall, None, artifacts, notes)


def run_memray(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    out_dir: Path,
    native: bool = False,
    what: str = "workload",
) -> RawProfile:
    """Track allocations with memray; falls back to tracemalloc where memray cannot run."""
    resolved, run_env = _target(argv, cwd=cwd, env=env)
    cmd = _require_python(resolved.python, argv, "memray")
    if not (sys.platform.startswith(("linux", "darwin")) and has_module(cmd, "memray")):
        raw = run_tracemalloc(argv, cwd=cwd, env=env, timeout=timeout, out_dir=out_dir, what=what)
        note = f"memray is not available for {cmd.interpreter}; used tracemalloc ({INSTALL_HINT})"
        return dataclasses.replace(raw, notes=(*raw.notes, note))
    try:
        import memray
    except ImportError:
        raise ProfilerError(f"memray is not installed for perfop; {INSTALL_HINT}") from None
    capture = out_dir / "memray.bin"
    wall = _run_bootstrapped(
        cmd,
        "memray",
        capture,
        extra=["--native", "1" if native else "0"],
        cwd=cwd,
        env=run_env,
        timeout=timeout,
        what=what,
    )
    reader = memray.FileReader(str(capture))
    try:
        peak = int(reader.metadata.peak_memory)
        records = [
            (rec.stack_trace(), int(rec.size), int(rec.n_allocations))
            for rec in reader.get_high_watermark_allocation_records(merge_threads=True)
        ]
    finally:
        reader.close()
    stacks = strip_bootstrap(parsers.parse_memray_records(records))
    flame = out_dir / "memray-flamegraph.html"
    proc = subprocess.run(
        [sys.executable, "-m", "memray", "flamegraph", "--force", "-o", str(flame), str(capture)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    artifacts: dict[str, Path] = {"raw": capture}
    if proc.returncode == 0 and flame.is_file():
        artifacts["flamegraph"] = flame
    views = _write_views(stacks, out_dir, "memory", unit="B", speedscope=True)
    if "flamegraph" in artifacts:
        views.pop("flamegraph")
    artifacts.update(views)
    notes = (resolved.note,) if resolved.note else ()
    return RawProfile("memory", "memray", "B", tuple(stacks), wall, peak, artifacts, notes)


def run_tracemalloc(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    out_dir: Path,
    what: str = "workload",
) -> RawProfile:
    """Track the Python heap with tracemalloc through the bootstrap (stdlib only)."""
    resolved, env = _target(argv, cwd=cwd, env=env)
    cmd = _require_python(resolved.python, argv, "tracemalloc")
    dump = out_dir / "tracemalloc.json"
    wall = _run_bootstrapped(cmd, "tracemalloc", dump, cwd=cwd, env=env, timeout=timeout, what=what)
    doc = json.loads(dump.read_text(encoding="utf-8"))
    stacks = strip_bootstrap(parsers.parse_tracemalloc(doc, function_at=_function_at))
    artifacts: dict[str, Path] = {"raw": dump}
    artifacts.update(_write_views(stacks, out_dir, "memory", unit="B", speedscope=True))
    return RawProfile(
        "memory",
        "tracemalloc",
        "B",
        tuple(stacks),
        wall,
        int(doc.get("peak", 0)),
        artifacts,
        (resolved.note,) if resolved.note else (),
    )


def merge_runs(raws: Sequence[RawProfile], out_dir: Path) -> RawProfile:
    """One profile from several runs of the same kind: each stack's weight divided by the number
    of runs (so amounts stay per run), the median wall time, CPU time and peak, perfop's views of
    the merged stacks in ``out_dir``; each run's raw files stay in its own directory."""
    first, n = raws[0], len(raws)
    stacks = tuple(StackSample(s.frames, s.weight / n, s.count) for raw in raws for s in raw.stacks)
    peaks = [r.peak_bytes for r in raws if r.peak_bytes is not None]
    cpu = [r.cpu_time for r in raws if r.cpu_time is not None]
    artifacts = {"raw": first.artifacts["raw"]} if "raw" in first.artifacts else {}
    artifacts.update(_write_views(stacks, out_dir, first.kind, unit=first.unit, speedscope=True))
    return RawProfile(
        first.kind,
        first.backend,
        first.unit,
        stacks,
        float(statistics.median(r.wall_time for r in raws)),
        int(statistics.median(peaks)) if peaks else None,
        artifacts,
        tuple(dict.fromkeys(note for r in raws for note in r.notes)),
        float(statistics.median(cpu)) if len(cpu) == n else None,
    )


_RUNPY_FILES = ("<frozen runpy>", "runpy.py")
_SITE_FILES = ("<frozen site>", "/site.py")
_IMPORT_FILES = ("<frozen importlib.", "<frozen zipimport>")


def strip_bootstrap(stacks: Sequence[StackSample]) -> list[StackSample]:
    """Remove perfop's bootstrap from the stacks: its own start-up samples and an interpreter's
    start-up (``site`` importing, running ``.pth`` files) are dropped, and the bootstrap and
    runpy frames above the target's ``<module>`` are cut off."""
    boot = str(BOOTSTRAP)
    out: list[StackSample] = []
    for stack in stacks:
        frames = stack.frames
        if not frames or frames[0].file != boot:
            if not any(f.file.endswith(_SITE_FILES) for f in frames):
                out.append(stack)  # else: an interpreter starting up (site, its .pth files)
            continue
        cut = next(
            (i for i, f in enumerate(frames) if f.file == boot and f.function == "_run_target"),
            None,
        )
        if cut is None:
            continue  # the bootstrap starting up or writing its results: not the workload
        i = cut + 1
        while i < len(frames) and frames[i].file.endswith(_RUNPY_FILES):
            i += 1
        rest = frames[i:]
        if rest and not (
            rest[0].file.startswith(_IMPORT_FILES)
            and all(origin_of(f.file, "")[0] == "stdlib" for f in rest)
        ):
            out.append(StackSample(rest, stack.weight, stack.count))
        # else: runpy importing what it needs (pkgutil, ...) before the target runs
    return out


@lru_cache(maxsize=256)
def _source(file: str) -> str:
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _function_at(file: str, line: int) -> str:
    source = _source(file) if file.startswith("/") else ""
    return parsers.enclosing_function(source, line) if source else "<module>"


def _write_views(
    stacks: Sequence[StackSample], out_dir: Path, kind: str, *, unit: str, speedscope: bool
) -> dict[str, Path]:
    """Folded stacks and a flame graph (and a speedscope file) rendered by perfop itself."""
    files: dict[str, Path] = {}
    folded = out_dir / f"{kind}.folded"
    folded.write_text(
        render.format_folded(stacks, scale=1e6 if unit == "s" else 1.0), encoding="utf-8"
    )
    files["folded"] = folded
    flame = out_dir / f"{kind}-flamegraph.html"
    flame.write_text(
        render.format_flamegraph_html(stacks, title=f"perfop {kind} profile", unit=unit),
        encoding="utf-8",
    )
    files["flamegraph"] = flame
    if speedscope:
        scope = out_dir / f"{kind}.speedscope.json"
        scope.write_text(
            render.format_speedscope(
                stacks, name=f"perfop {kind}", unit="seconds" if unit == "s" else "bytes"
            ),
            encoding="utf-8",
        )
        files["speedscope"] = scope
    return files
