"""What the candidate's checkout runs with: the test command's environment, and a probe of the
interpreter a command uses (its version, its installed distributions, where the project's own
packages import from).

``tests_env`` is the config's ``test_env`` when set, else the ``env`` of the validated workloads
(the first one wins a conflict), so the tests see the code the workloads measured. ``probe`` runs
the interpreter once with the same environment and working directory; a project package that
resolves outside the checkout means the tests (or the workload) exercise an installed copy, not
the candidate, and ``outside_checkout`` says so in one line.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perfop.config import Command, LoadedConfig, expand

PROBE_TIMEOUT = 60.0
_NOT_PACKAGES = frozenset({"tests", "test", "docs", "doc", "benchmarks", "bench", "examples"})
_PYTHON = re.compile(r"^(?:python|pypy)[0-9.]*$")
_PROBE = r"""
import importlib.util, json, platform, sys
from importlib import metadata
origins = {}
for name in json.loads(sys.argv[1]):
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        spec = None
    where = None
    if spec is not None:
        where = spec.origin if spec.origin not in (None, "namespace") else None
        if where is None and spec.submodule_search_locations:
            where = list(spec.submodule_search_locations)[0]
    origins[name] = where
packages = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if name:
        packages[name.lower()] = dist.version
print(json.dumps({
    "executable": sys.executable,
    "implementation": platform.python_implementation(),
    "version": platform.python_version(),
    "packages": dict(sorted(packages.items())),
    "origins": origins,
}))
"""


def tests_python(loaded: LoadedConfig, checkout: Path) -> str | None:
    """``test_python`` expanded for ``checkout`` (relative paths from its project folder), or
    None for perfop's own interpreter."""
    value = loaded.config.test_python
    if value is None:
        return None
    tree = loaded.project_dir(checkout)
    path = Path(expand(value, repo=checkout, worktree=tree))
    return str(path if path.is_absolute() else tree / path)


def _argv(command: Command, *, checkout: Path, tree: Path, python: str | None = None) -> list[str]:
    parts = shlex.split(command) if isinstance(command, str) else list(command)
    return [expand(p, repo=checkout, worktree=tree, python=python) for p in parts]


def tests_argv(loaded: LoadedConfig, checkout: Path) -> list[str]:
    command = loaded.config.test_command
    assert command is not None
    return _argv(
        command,
        checkout=checkout,
        tree=loaded.project_dir(checkout),
        python=tests_python(loaded, checkout),
    )


def tests_setup_argv(loaded: LoadedConfig, checkout: Path) -> list[str] | None:
    setup = loaded.config.test_setup
    if setup is None:
        return None
    return _argv(
        setup,
        checkout=checkout,
        tree=loaded.project_dir(checkout),
        python=tests_python(loaded, checkout),
    )


def tests_env(loaded: LoadedConfig, checkout: Path, workloads: Sequence[str]) -> dict[str, str]:
    """The variables the test command gets on top of perfop's environment, expanded for
    ``checkout``: ``test_env`` when configured, else the validated workloads' ``env``."""
    tree = loaded.project_dir(checkout)
    config = loaded.config
    if config.test_env is not None:
        raw: Mapping[str, str] = config.test_env
    else:
        merged: dict[str, str] = {}
        for name in workloads:
            wl = config.workloads.get(name)
            for key, value in (wl.env if wl else {}).items():
                merged.setdefault(key, value)
        raw = merged
    return {k: expand(v, repo=checkout, worktree=tree) for k, v in raw.items()}


def interpreter_of(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> str | None:
    """The Python interpreter ``argv`` runs: its program when that is a ``python``/``pypy``, or
    the interpreter in a console script's ``#!`` line, seen through version-manager shims
    (``profiling.launchers``); None for anything else."""
    if not argv:
        return None
    from perfop.profiling.launchers import resolve_launchers

    found = resolve_launchers(argv, cwd=cwd, env=env).python
    if found is not None:
        real = found.interpreter
        if os.sep not in real:
            real = shutil.which(real, path=env.get("PATH", os.defpath)) or real
        if Path(real).is_file():
            return real
    program = argv[0]
    if os.sep not in program:
        program = shutil.which(program, path=env.get("PATH", os.defpath)) or program
    path = Path(program) if os.path.isabs(program) else cwd / program
    if _PYTHON.match(path.name):
        return str(path) if path.exists() else None
    try:
        with path.open("rb") as fh:
            first = fh.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    parts = first[2:].split()
    if parts and Path(parts[0]).name == "env" and len(parts) > 1:
        located = shutil.which(parts[1], path=env.get("PATH", os.defpath))
        parts = [located] if located else []
    if parts and _PYTHON.match(Path(parts[0]).name) and Path(parts[0]).exists():
        return parts[0]
    return None


def project_packages(tree: Path) -> list[str]:
    """Import names of the project's own packages: ``src/NAME/`` and ``NAME/`` folders with an
    ``__init__.py`` (tests, docs, benchmarks and examples excluded)."""
    found = []
    for parent in (tree / "src", tree):
        if not parent.is_dir():
            continue
        for child in sorted(parent.iterdir()):
            if (
                child.is_dir()
                and (child / "__init__.py").is_file()
                and child.name.isidentifier()
                and child.name not in _NOT_PACKAGES
            ):
                found.append(child.name)
    return list(dict.fromkeys(found))[:20]


def probe(
    interpreter: str, *, cwd: Path, env: Mapping[str, str], packages: Sequence[str] = ()
) -> dict[str, Any] | None:
    """Ask ``interpreter`` (with ``env``, from ``cwd``) for its version, its installed
    distributions and where ``packages`` import from; None when it cannot answer."""
    try:
        out = subprocess.run(
            [interpreter, "-c", _PROBE, json.dumps(list(packages))],
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    try:
        doc = json.loads(out.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return None
    return doc if isinstance(doc, dict) else None


def outside_checkout(found: Mapping[str, Any], checkout: Path, *, who: str) -> list[str]:
    """One warning per project package that ``found`` (a ``probe``) resolves outside
    ``checkout``: ``who`` (the tests, a workload) would exercise an installed copy."""
    root = checkout.resolve()
    warnings = []
    for name, origin in sorted((found.get("origins") or {}).items()):
        if not origin:
            continue
        where = Path(origin).resolve()
        if where != root and root not in where.parents:
            warnings.append(
                f"{who} import {name} from {where}, outside the candidate's checkout: they "
                "exercise an installed copy, not the candidate; put the checkout first (e.g. "
                'test_env = { PYTHONPATH = "{worktree}/src" }) or install it editable from '
                "the checkout in a test_setup"
            )
    return warnings


def probe_warnings(environment: Mapping[str, Any]) -> list[str]:
    """The candidate side's "imports from outside the checkout" warnings of stored probes."""
    from perfop.records.evidence import load_probes

    return load_probes(environment).warnings
