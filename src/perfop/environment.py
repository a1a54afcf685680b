"""Environment fingerprint and secret redaction.

``capture_environment`` describes the machine, the interpreter, the project's installed
dependencies and the git state, so that every measurement can be reproduced and two runs can be
checked for like-for-like conditions. Everything recorded passes through ``redact_*`` first:
variables are kept on an allow-list, and any value that looks like a credential is replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from perfop.redact import (
    REDACTED,
    is_secret_name,
    redact_argv,
    redact_env,
    redact_obj,
    redact_text,
)

__all__ = [
    "ENV_ALLOWLIST",
    "REDACTED",
    "is_secret_name",
    "recorded_env",
    "redact_argv",
    "redact_env",
    "redact_obj",
    "redact_text",
]

# Variables worth recording: they change what a Python workload does or how fast it runs.
ENV_ALLOWLIST = frozenset(
    {
        "PATH",
        "PYTHONPATH",
        "PYTHONHASHSEED",
        "PYTHONOPTIMIZE",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONMALLOC",
        "PYTHONDEVMODE",
        "PYTHONUTF8",
        "PYTHON_GIL",
        "PYTHONWARNINGS",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "LANG",
        "LC_ALL",
        "TZ",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "CI",
        "GITHUB_ACTIONS",
        "GITHUB_REF",
        "GITHUB_SHA",
        "GITHUB_RUN_ID",
        "RUNNER_OS",
    }
)


def recorded_env(
    env: Mapping[str, str], workload_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables perfop records: the allow-list plus the workload's own, redacted."""
    keep = {k: v for k, v in env.items() if k in ENV_ALLOWLIST}
    keep.update(workload_env or {})
    return redact_env(dict(sorted(keep.items())))


# --- fingerprint -------------------------------------------------------------------------------


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _cpu_model() -> str:
    info = _read("/proc/cpuinfo") or ""
    for line in info.splitlines():
        if line.lower().startswith(("model name", "hardware", "processor\t: ")) and ":" in line:
            value = line.split(":", 1)[1].strip()
            if value and not value.isdigit():
                return value
    return platform.processor() or platform.machine()


def _physical_cores() -> int | None:
    info = _read("/proc/cpuinfo")
    if not info:
        return None
    pairs = set()
    phys = core = None
    for line in [*info.splitlines(), ""]:
        if line.startswith("physical id"):
            phys = line.split(":", 1)[1].strip()
        elif line.startswith("core id"):
            core = line.split(":", 1)[1].strip()
        elif not line.strip():
            if core is not None:
                pairs.add((phys, core))
            phys = core = None
    return len(pairs) or None


def _memory_bytes() -> int | None:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def _git(repo: Path, *args: str) -> str | None:
    from perfop import git

    try:
        # The runner sets GIT_OPTIONAL_LOCKS=0: `git status` must not rewrite the user's index.
        out = git.run(repo, *args, timeout=30, user_env=True)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state(repo: Path) -> dict[str, Any]:
    """sha, branch, dirty flag and a hash of the uncommitted diff (untracked files included).

    Two git processes for a clean tree, three for a dirty one: ``rev-parse`` answers the sha
    and the branch together (``--abbrev-ref=loose`` shortens as ``symbolic-ref --short`` does,
    ``HEAD`` when detached), ``status`` the dirty flag (its text is part of the hash)."""
    head = _git(repo, "rev-parse", "HEAD", "--abbrev-ref=loose", "HEAD")
    lines = head.splitlines() if head is not None else []
    if len(lines) != 2:
        return {"sha": None, "branch": None, "dirty": None, "diff_hash": None}
    sha, name = lines
    branch = None if name == "HEAD" else name
    status = _git(repo, "status", "--porcelain", "--untracked-files=normal") or ""
    dirty = bool(status)
    diff_hash = None
    if dirty:
        # Plumbing: porcelain `git diff` refreshes the index even with GIT_OPTIONAL_LOCKS=0.
        diff = _git(repo, "diff-index", "-p", "--binary", "HEAD") or ""
        digest = hashlib.sha256(diff.encode())
        digest.update(status.encode())
        diff_hash = digest.hexdigest()[:16]
    return {"sha": sha, "branch": branch, "dirty": dirty, "diff_hash": diff_hash}


def _project_packages(repo: Path) -> dict[str, str]:
    """Versions of installed distributions (the project's dependencies live among them).

    Reading every distribution's metadata costs ~0.1-0.2 s (300 packages), so the answer is
    cached per interpreter and package set (``packages_key``): in this process, and in a file
    under the user's cache directory that the next perfop command reads instead.
    """
    key = packages_key()
    cached = _PACKAGES.get(key)
    if cached is None:
        cached = _read_packages_cache(key)
    if cached is None:
        versions: dict[str, str] = {}
        for dist in metadata.distributions():
            name = dist.metadata["Name"]
            if name:
                versions[name.lower()] = dist.version
        cached = dict(sorted(versions.items()))
        _write_packages_cache(key, cached)
    _PACKAGES[key] = cached
    return dict(cached)


_PACKAGES: dict[str, dict[str, str]] = {}
_CACHE_SCHEMA = "perfop.packages/1"


def packages_key() -> str:
    """What the installed package set depends on: the interpreter, its search path, and the
    distributions each directory on it holds -- the ``*.dist-info`` names (which carry the
    version, so installing, upgrading or removing one changes the key) and the modification
    time of any ``*.egg-info`` (a development install's version is inside it). A directory's
    own mtime is not used: the current directory is on the path and changes all the time."""
    parts = [sys.executable, sys.version]
    for entry in sys.path:
        parts.append(f"@{entry}")
        try:
            with os.scandir(entry or ".") as it:
                for de in it:
                    if de.name.endswith(".dist-info"):
                        parts.append(de.name)
                    elif de.name.endswith(".egg-info"):
                        parts.append(f"{de.name}:{de.stat().st_mtime_ns}")
        except NotADirectoryError:  # a zip or egg file on the path
            with contextlib.suppress(OSError):
                parts.append(str(os.stat(entry).st_mtime_ns))
        except OSError:
            parts.append("-")
    return hashlib.sha256("\0".join(parts).encode("utf-8", "replace")).hexdigest()[:32]


def cache_dir() -> Path:
    """perfop's own cache: ``PERFOP_CACHE_DIR``, else ``$XDG_CACHE_HOME/perfop`` or
    ``~/.cache/perfop``. Only perfop's own files live there; deleting it is always safe."""
    explicit = os.environ.get("PERFOP_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "perfop"


def _packages_cache_file(key: str) -> Path:
    return cache_dir() / f"packages-{key}.json"


def _read_packages_cache(key: str) -> dict[str, str] | None:
    import json

    try:
        doc = json.loads(_packages_cache_file(key).read_text(encoding="utf-8"))
    except (OSError, ValueError, RuntimeError):  # RuntimeError: no home directory
        return None
    if not isinstance(doc, dict) or doc.get("schema") != _CACHE_SCHEMA or doc.get("key") != key:
        return None
    packages = doc.get("packages")
    if not isinstance(packages, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in packages.items()
    ):
        return None
    return dict(packages)


def _write_packages_cache(key: str, packages: dict[str, str]) -> None:
    """Best effort and atomic: a cache that cannot be written only costs the next command time."""
    import json
    import tempfile

    try:
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".packages-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"schema": _CACHE_SCHEMA, "key": key, "packages": packages}, fh)
            os.replace(tmp, _packages_cache_file(key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except (OSError, RuntimeError):
        return


def capture_environment(
    repo_root: Path,
    *,
    env: Mapping[str, str] | None = None,
    workload_env: Mapping[str, str] | None = None,
    git: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The fingerprint stored with every run. Every string in it is already redacted.

    ``git`` is the tree's ``git_state`` when the caller has just taken it (it is 3-4 git
    processes, ~20-70 ms); otherwise it is taken here."""
    env = os.environ if env is None else env
    uname = platform.uname()
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    try:
        affinity = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    fingerprint: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "cpu": {
            "model": _cpu_model(),
            "logical_cores": os.cpu_count(),
            "physical_cores": _physical_cores(),
            "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
            "affinity": affinity,
        },
        "memory_bytes": _memory_bytes(),
        "os": {
            "system": uname.system,
            "release": uname.release,
            "version": uname.version,
            "machine": uname.machine,
        },
        "python": {
            "implementation": platform.python_implementation(),
            "version": platform.python_version(),
            "executable": sys.executable,
        },
        "load_average": load,
        "packages": _project_packages(repo_root),
        "git": dict(git) if git is not None else git_state(repo_root),
        "env": recorded_env(env, workload_env),
    }
    return redact_obj(fingerprint)  # type: ignore[no-any-return]


def fingerprint_hash(fingerprint: Mapping[str, Any]) -> str:
    """A short hash of the parts that make two environments comparable (not load, not git)."""
    stable = {
        k: fingerprint.get(k)
        for k in ("hostname", "cpu", "memory_bytes", "os", "python", "packages")
    }
    cpu = dict(stable.get("cpu") or {})
    stable["cpu"] = cpu
    return hashlib.sha256(repr(sorted(stable.items())).encode()).hexdigest()[:16]
