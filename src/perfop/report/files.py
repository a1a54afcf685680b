"""Writing report files without harming the user's: ownership marks, checks first, atomic writes.

perfop replaces only files it wrote. A report carries a marker (an HTML comment at the end of
Markdown and HTML, the ``schema`` field of JSON); a plot folder carries a manifest
(``.perfop-plots``) naming the plots perfop put there. Everything is checked before the first
byte is written, and each file is written to a temporary file beside it and renamed into place,
so a full disk or an interrupted command leaves the old file (or nothing), never half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from perfop.errors import UsageError

MARKER = "<!-- written by perfop report; perfop may replace this file -->"
MANIFEST = ".perfop-plots"
_TAIL = 4096
_JSON_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Target:
    """Where a report goes and how errors name it (``-o PATH`` or ``output: 'PATH'``)."""

    path: Path
    label: str
    force: bool = False
    force_hint: str | None = "or --force to replace it"
    create_within: Path | None = None

    @classmethod
    def cli(cls, path: Path, *, force: bool = False, create_within: Path | None = None) -> Target:
        return cls(path, f"-o {path}", force=force, create_within=create_within)


def marked(text: str) -> str:
    """``text`` with the ownership marker appended (Markdown and HTML)."""
    return text if text.rstrip().endswith(MARKER) else f"{text.rstrip()}\n{MARKER}\n"


def written_by_perfop(path: Path) -> bool:
    """A regular file whose content says perfop wrote it (see the module docstring)."""
    try:
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode):
            return False
        with path.open("rb") as fh:
            if st.st_size > _TAIL:
                fh.seek(st.st_size - _TAIL)
            tail = fh.read().decode("utf-8", errors="replace")
        if tail.rstrip().endswith(MARKER):
            return True
        if path.suffix.lower() != ".json" or st.st_size > _JSON_LIMIT:
            return False
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and str(doc.get("schema", "")).startswith("perfop.report/")


def _hint(target: Target) -> str:
    return f"; give a new path{', ' + target.force_hint if target.force_hint else ''}"


def check_parent(target: Target) -> bool:
    """Raise unless ``target``'s folder exists or may be created; True when it must be created."""
    parent = target.path.parent
    if parent.is_dir():
        return False
    if parent.exists() or parent.is_symlink():
        raise UsageError(f"{target.label}: {parent} is not a directory; give a path in a folder")
    ancestor = next((p for p in parent.parents if p.exists()), None)
    if ancestor is not None and not ancestor.is_dir():
        raise UsageError(f"{target.label}: {ancestor} is not a directory; give a path in a folder")
    root = target.create_within
    if root is not None and parent.resolve().is_relative_to(root.resolve()):
        return True
    raise UsageError(
        f"{target.label}: folder {parent} does not exist; create it first or write inside "
        "the repository"
    )


def check_replaceable(target: Target, path: Path, *, owned: bool) -> None:
    """Raise unless writing ``path`` creates it or replaces a file perfop wrote (or --force)."""
    if not (path.exists() or path.is_symlink()):
        return
    mode = path.lstat().st_mode
    if stat.S_ISDIR(mode):
        raise UsageError(f"{target.label}: {path} is a directory; give a file path")
    if not stat.S_ISREG(mode) and not stat.S_ISLNK(mode):
        raise UsageError(f"{target.label}: {path} is not a regular file; give a new file path")
    if owned or target.force:
        return
    raise UsageError(
        f"{target.label}: {path} exists and was not written by perfop; it is left alone"
        + _hint(target)
    )


def read_manifest(folder: Path) -> set[str]:
    try:
        lines = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    return {line.strip() for line in lines if line.strip() and "/" not in line}


def check_plot_folder(target: Target, folder: Path, names: Iterable[str]) -> None:
    """Raise unless every plot in ``folder`` may be written (new, listed in the manifest, force)."""
    if not (folder.exists() or folder.is_symlink()):
        return
    if folder.is_symlink() or not folder.is_dir():
        raise UsageError(
            f"{target.label}: {folder} (the plot folder) is not a directory perfop made; "
            "give another report path"
        )
    owned = read_manifest(folder)
    for name in [*names, MANIFEST]:
        check_replaceable(target, folder / name, owned=name in owned or name == MANIFEST)


def make_folder(target: Target, folder: Path, *, parents: bool = False) -> None:
    try:
        folder.mkdir(parents=parents, exist_ok=parents)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise UsageError(
            f"{target.label}: cannot create folder {folder} ({why}); nothing was written"
        ) from None


def _umask() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def atomic_write(target: Target, path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    fd = -1
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, 0o666 & ~_umask())
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise UsageError(
            f"{target.label}: cannot write {path} ({why}); nothing was written, check the "
            "path and free space"
        ) from None
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
