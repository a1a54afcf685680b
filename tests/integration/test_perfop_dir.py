"""perfop's own folder never shows up in the user's git status."""

from __future__ import annotations

import subprocess
from pathlib import Path

from perfop.store import open_store


def test_store_folder_ignores_itself(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    store = open_store(f"sqlite:///{tmp_path}/.perfop/perfop.db")
    store.close()
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (tmp_path / ".perfop" / "perfop.db").exists()
    assert status == ""
