"""What a workload's command really runs: recognise Python commands and see through launchers.

``classify_command`` recognises ``python [opts] script|-m mod|-c code args`` and scripts with a
Python shebang (console-script entry points, pip's ``#!/bin/sh`` + ``'''exec'`` form for long
paths included). ``resolve_launchers`` replaces what only *starts* Python — a pyenv/asdf shim (a
shell script that ``exec``s the real interpreter after some work), a mise shim, any wrapper named
``python`` — by the interpreter it starts, so a profiler spawns Python itself and never has to wait
for a shell script to turn into it (py-spy gives up after about a second and reports "No python
processes found"). Each resolution is explained by a note the profile carries.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

_PYTHON_RE = re.compile(r"^(python|pypy)(\d+(\.\d+)*)?(\.exe)?$")
_OPTS_WITH_ARG = ("-X", "-W", "-Q")
# pip writes `#!/bin/sh` + `'''exec' /path/python "$0" "$@"` when a shebang would be too long.
_PIP_SH_EXEC = re.compile(rb"^'''exec' (\S+) \"\$0\" \"\$@\"", re.MULTILINE)
# pyenv: exec "/root/.pyenv/libexec/pyenv" exec "$program" "$@"; asdf: exec asdf exec "x" "$@".
_SHIM_EXEC = re.compile(rb"exec\s+\"?([^\"\s]+)\"?\s+exec\s")
_MANAGERS = ("pyenv", "asdf", "mise", "rtx")
PROBE_TIMEOUT = 60.0


@dataclass(frozen=True)
class PythonCommand:
    """A command that runs Python code: interpreter, its options, the target and its arguments."""

    interpreter: str
    options: tuple[str, ...]
    target_kind: str  # "script", "module" or "code"
    target: str
    args: tuple[str, ...]


def classify_command(
    argv: Sequence[str], *, cwd: Path, path: str | None = None
) -> PythonCommand | None:
    """Recognise ``python [opts] script|-m mod|-c code args`` or a script with a Python shebang.

    Returns None for anything else (a shell script, a binary): only py-spy can profile those.
    """
    if not argv:
        return None
    first = argv[0]
    if _PYTHON_RE.match(Path(first).name):
        return _parse_python_argv(first, list(argv[1:]), cwd=cwd)
    resolved = shutil.which(first, path=path) if os.sep not in first else str(cwd / first)
    if resolved and Path(resolved).is_file():
        interpreter = _shebang_python(Path(resolved))
        if interpreter:
            return PythonCommand(interpreter, (), "script", resolved, tuple(argv[1:]))
    return None


def _parse_python_argv(interpreter: str, rest: list[str], *, cwd: Path) -> PythonCommand | None:
    options: list[str] = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg in ("-m", "-c"):
            if i + 1 >= len(rest):
                return None
            kind = "module" if arg == "-m" else "code"
            return PythonCommand(
                interpreter, tuple(options), kind, rest[i + 1], tuple(rest[i + 2 :])
            )
        if arg.startswith(("-m", "-c")) and len(arg) > 2 and arg[1] in "mc":
            kind = "module" if arg[1] == "m" else "code"
            return PythonCommand(interpreter, tuple(options), kind, arg[2:], tuple(rest[i + 1 :]))
        if arg == "-" or arg == "--":
            return None
        if not arg.startswith("-"):
            script = arg if os.path.isabs(arg) else str(cwd / arg)
            return PythonCommand(
                interpreter, tuple(options), "script", script, tuple(rest[i + 1 :])
            )
        options.append(arg)
        if arg in _OPTS_WITH_ARG and i + 1 < len(rest):
            options.append(rest[i + 1])
            i += 1
        i += 1
    return None


def _head(path: Path, size: int = 512) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def _shebang_python(path: Path) -> str | None:
    head = _head(path)
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").split()
    if not words:
        return None
    if Path(words[0]).name == "sh":
        long_form = _PIP_SH_EXEC.search(head)
        if long_form:
            words = [long_form.group(1).decode("utf-8", "replace")]
    if Path(words[0]).name == "env" and len(words) > 1:
        words = words[1:]
    return words[0] if _PYTHON_RE.match(Path(words[0]).name) else None


def _locate(program: str, *, cwd: Path, env: Mapping[str, str]) -> Path | None:
    if os.sep in program:
        path = Path(program) if os.path.isabs(program) else cwd / program
        return path if path.is_file() else None
    found = shutil.which(program, path=env.get("PATH"))
    return Path(found) if found else None


def _is_python_binary(path: Path) -> bool:
    """A real interpreter: a native executable whose (symlink-resolved) name is python's."""
    real = path.resolve()
    return _head(real, 4) in (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe") and bool(
        _PYTHON_RE.match(real.name) or _PYTHON_RE.match(path.name)
    )


@lru_cache(maxsize=64)
def _probe(program: str, cwd: str, env_items: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    """(sys.executable, PATH) as seen by the Python that ``program`` starts; ("", "") if none."""
    try:
        proc = subprocess.run(
            [program, "-c", "import os, sys; print(sys.executable); print(os.environ['PATH'])"],
            cwd=cwd,
            env=dict(env_items),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return "", ""
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) < 2 or not os.path.isabs(lines[0]):
        return "", ""
    return lines[0], lines[1]


@lru_cache(maxsize=64)
def _manager_which(
    manager: str, name: str, cwd: str, env_items: tuple[tuple[str, str], ...]
) -> str:
    try:
        proc = subprocess.run(
            [manager, "which", name],
            cwd=cwd,
            env=dict(env_items),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return ""
    out = proc.stdout.strip().splitlines()
    return out[-1] if proc.returncode == 0 and out and os.path.isabs(out[-1]) else ""


def _shim_manager(path: Path) -> str | None:
    """The version manager behind a shim (its executable), or None when ``path`` is no shim."""
    real = path.resolve()
    if real.name in _MANAGERS and real != path:
        return str(real)  # mise/rtx: shims are symlinks to the manager itself
    head = _head(path, 4096)
    if not head.startswith(b"#!"):
        return None
    found = _SHIM_EXEC.search(head)
    if found:
        manager = found.group(1).decode("utf-8", "replace")
        if Path(manager).name in _MANAGERS:
            return manager
    return None


@dataclass(frozen=True)
class Resolved:
    """The command to profile after launchers are seen through, and what was done about them."""

    argv: tuple[str, ...]
    python: PythonCommand | None
    path: str | None = None  # the PATH the launcher would have given the interpreter
    note: str | None = None


def resolve_launchers(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> Resolved:
    """See through a launcher in ``argv[0]``: the interpreter a shim or wrapper starts, or the
    console script a version manager's shim stands for."""
    env_items = tuple(sorted(env.items()))
    cmd = classify_command(argv, cwd=cwd, path=env.get("PATH"))
    if cmd is None and argv:
        located = _locate(argv[0], cwd=cwd, env=env)
        manager = _shim_manager(located) if located else None
        if located and manager:
            real = _manager_which(manager, Path(argv[0]).name, str(cwd), env_items)
            if real and Path(real).resolve() != located.resolve():
                again = classify_command([real, *argv[1:]], cwd=cwd, path=env.get("PATH"))
                if again is not None:
                    note = (
                        f"{argv[0]!r} is a {Path(manager).name} shim; profiled the program it "
                        f"runs, {real}"
                    )
                    resolved = resolve_launchers([real, *argv[1:]], cwd=cwd, env=env)
                    return replace(resolved, note=_join(note, resolved.note))
        return Resolved(tuple(argv), None)
    if cmd is None:
        return Resolved(tuple(argv), None)
    located = _locate(cmd.interpreter, cwd=cwd, env=env)
    if located is None or _is_python_binary(located):
        return Resolved(tuple(argv), cmd)
    real, path = _probe(str(located), str(cwd), env_items)
    if not real or not Path(real).is_file() or Path(real) == located:
        return Resolved(tuple(argv), cmd)
    manager = _shim_manager(located)
    what = f"a {Path(manager).name} shim" if manager else "a launcher, not the interpreter itself"
    note = f"{cmd.interpreter!r} is {what}; profiled the interpreter it starts, {real}"
    return Resolved(
        tuple(argv),
        replace(cmd, interpreter=real),
        path=path if path != env.get("PATH") else None,
        note=note,
    )


def _join(*notes: str | None) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(kept) or None
