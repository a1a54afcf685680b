"""``perfop demo``: the bundled example project, copied into a fresh git repository and measured.

The example (``perfop/examples/wordfreq``) is a small library with a real quadratic hot spot, its
own tests, a workload script and a prepared patch that fixes the hot spot. The demo never touches
the user's own repositories: it works in a new directory it creates (or one the user names, which
must be empty or absent).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from perfop.errors import UsageError

EXAMPLE = "wordfreq"
_GIT_ID = ["-c", "user.name=perfop demo", "-c", "user.email=demo@perfop.invalid",
           "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]


def example_source(name: str = EXAMPLE) -> Path:
    """Where the bundled example lives inside the installed package."""
    path = Path(str(resources.files("perfop") / "examples" / name))
    if not (path / "pyproject.toml").is_file():
        raise UsageError(f"bundled example {name!r} is missing from the perfop package; reinstall")
    return path


def git(repo: Path, *args: str) -> str:
    """Run git in the demo repository (never in the user's)."""
    out = subprocess.run(["git", *_GIT_ID, *args], cwd=repo, capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise UsageError(f"git {' '.join(args)} failed in {repo}: {out.stderr.strip()[:200]}")
    return out.stdout.strip()


def prepare_demo_repo(target: Path | None = None) -> Path:
    """Copy the example into ``target`` (a new temp dir by default) as a fresh git repository."""
    if target is None:
        target = Path(tempfile.mkdtemp(prefix="perfop-demo-"))
    elif target.exists() and any(target.iterdir()):
        raise UsageError(f"--dir {target}: not empty; give a new or empty directory")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(example_source(), target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".perfop"))
    (target / ".gitignore").write_text(".perfop/\n__pycache__/\n*.pyc\n.pytest_cache/\n")
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "wordfreq 1.0.0")
    return target
