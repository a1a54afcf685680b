"""Fold raw stacks onto the repository's own code and rank the functions: pure, no I/O.

By default a frame counts only if its file lies inside the repository (and not in a virtualenv or
site-packages inside it); time or bytes spent in the standard library or third-party code are
charged to the innermost repository frame that called them. Stacks with no repository frame at all
go to one ``(outside the repository)`` row so the percentages still add up to 100.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import PurePosixPath

from perfop.profiling.model import OUTSIDE, Frame, HotSpot, Kind, StackSample, hotspot_id

_NOT_OURS = frozenset(
    {"site-packages", "dist-packages", ".venv", "venv", ".tox", ".nox", "__pypackages__", ".perfop"}
)


def repo_relative(file: str, root: str) -> str | None:
    """``file`` relative to ``root`` (POSIX), or None when it is not the repository's own code."""
    if not file or file.startswith("<") or not file.startswith("/"):
        return None
    path = PurePosixPath(file)
    try:
        rel = path.relative_to(PurePosixPath(root))
    except ValueError:
        return None
    if any(part in _NOT_OURS for part in rel.parts[:-1]):
        return None
    return rel.as_posix()


def display_path(file: str, root: str) -> str:
    """Repo-relative for our code, ``site-packages/...``-relative for installed code, else as is."""
    rel = repo_relative(file, root)
    if rel is not None:
        return rel
    for marker in ("site-packages/", "dist-packages/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


_Key = tuple[str, str]  # (display file, function)


def attribute(
    stacks: Iterable[StackSample],
    *,
    kind: Kind,
    root: str,
    include_all: bool = False,
) -> list[HotSpot]:
    """Rank functions by self weight. ``root`` is the checkout the profile ran in."""
    self_w: dict[_Key, float] = defaultdict(float)
    total_w: dict[_Key, float] = defaultdict(float)
    counts: dict[_Key, int] = defaultdict(int)
    lines: dict[_Key, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    in_repo: dict[_Key, bool] = {}
    grand = 0.0
    for stack in stacks:
        grand += stack.weight
        keyed = _keyed_frames(stack.frames, root=root, include_all=include_all)
        if not keyed:
            leaf_key: _Key = ("", OUTSIDE)
            in_repo[leaf_key] = False
            keyed = [(leaf_key, Frame(OUTSIDE, "", 0), False)]
        for key, frame, ours in keyed:
            in_repo[key] = ours
            lines[key][frame.line] += 0.0  # remember every line seen, weighted below
        leaf_key, leaf_frame, _ = keyed[-1]
        self_w[leaf_key] += stack.weight
        counts[leaf_key] += stack.count
        lines[leaf_key][leaf_frame.line] += stack.weight
        for key in dict.fromkeys(k for k, _, _ in keyed):
            total_w[key] += stack.weight
    if grand <= 0:
        return []
    spots = []
    for key, total in total_w.items():
        file, function = key
        by_line = lines[key]
        line = max(by_line, key=lambda ln: (by_line[ln], -ln)) if by_line else 0
        spots.append(
            HotSpot(
                id=hotspot_id(kind, file, function),
                kind=kind,
                function=function,
                file=file,
                line=line,
                self_pct=100.0 * self_w.get(key, 0.0) / grand,
                total_pct=100.0 * total / grand,
                self_value=self_w.get(key, 0.0),
                total_value=total,
                count=counts.get(key, 0),
                in_repo=in_repo[key],
            )
        )
    spots.sort(key=lambda h: (-h.self_value, -h.total_value, h.file, h.function))
    return spots


def _keyed_frames(
    frames: tuple[Frame, ...], *, root: str, include_all: bool
) -> list[tuple[_Key, Frame, bool]]:
    out: list[tuple[_Key, Frame, bool]] = []
    for frame in frames:
        rel = repo_relative(frame.file, root)
        if rel is None and not include_all:
            continue
        file = rel if rel is not None else display_path(frame.file, root)
        if out and out[-1][0][0] == file and frame.function.endswith(_COMPREHENSIONS):
            # Python 3.12 inlines comprehensions (PEP 709); fold them on 3.11 too, so the
            # function that wrote the comprehension is the hot spot on every version.
            out[-1] = (out[-1][0], Frame(out[-1][1].function, frame.file, frame.line), out[-1][2])
            continue
        out.append(((file, frame.function), frame, rel is not None))
    return out


_COMPREHENSIONS = ("<listcomp>", "<dictcomp>", "<setcomp>")
