"""Fold raw stacks onto the code a user would change and rank the functions: pure, no I/O.

Every frame has an origin: the repository's own code (inside the checkout, not in a virtualenv
or site-packages inside it), the *harness* (code outside the repository that the workload runs:
its driver script, ``python -c`` code), the standard library, or an installed package. By
default:

- time (or bytes) in the standard library or a package called *from repository code* is
  charged to that repository caller (its cost is the caller's to change);
- the harness's own time is one row per harness file, ``(harness)``, never a repository row;
- library time with no repository caller below the harness is one row per top-level package or
  stdlib module, ``(stdlib: json)`` / ``(package: numpy)``, so a user sees what outside code
  costs; frames with no file at all go to ``(outside the repository)``.

The percentages add up to 100. With ``include_all`` every frame is its own row.

``rank_causes`` is the other view of the same rows: the repository's own functions by inclusive
time (callees folded in), where a quadratic caller of a cheap callee ranks first although its own
self time is tiny; ``callees_dominate`` marks such functions.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise
from pathlib import PurePosixPath

from perfop.profiling.model import OUTSIDE, Frame, HotSpot, Kind, StackSample, hotspot_id

_NOT_OURS = frozenset(
    {"site-packages", "dist-packages", ".venv", "venv", ".tox", ".nox", "__pypackages__", ".perfop"}
)
HARNESS = "(harness)"
GENERATED = "(generated code)"
_STDLIB_RE = re.compile(r"/lib/(?:python|pypy)\d+(?:\.\d+)?t?/(?P<rest>.+)$")
_COMMAND_CODE = ("<command>", "<stdin>")  # python -c code (as the bootstrap names it), stdin
_FROZEN_RE = re.compile(r"^<frozen (?P<mod>[\w.]+)>$")


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


def _top_level(rest: str) -> str:
    first = rest.split("/", 1)[0]
    for suffix in (".py", ".pyc"):
        first = first.removesuffix(suffix)
    return first.split(".", 1)[0] if "/" not in rest else first


def origin_of(file: str, root: str) -> tuple[str, str]:
    """(origin, group) of a frame's file: ``repo`` (group: the repo-relative path), ``harness``
    (the file), ``stdlib`` or ``package`` (the top-level module or package), ``generated`` (code
    exec'd at run time, ``<string>``: folded into its caller like a library), or ``unknown``."""
    rel = repo_relative(file, root)
    if rel is not None:
        return "repo", rel
    if not file:
        return "unknown", ""
    frozen = _FROZEN_RE.match(file)
    if frozen:
        return "stdlib", frozen.group("mod").split(".", 1)[0]
    if file.startswith("<"):
        if file in _COMMAND_CODE:
            return "harness", file  # python -c code, stdin: the workload's own command
        if file.startswith("<string>"):
            return "generated", ""  # exec'd at run time (dataclasses, namedtuple): its caller's
        return "stdlib", "builtins"  # pyinstrument's <built-in>, <frozen ...> without a name
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in file:
            return "package", _top_level(file.split(marker, 1)[1])
    stdlib = _STDLIB_RE.search(file)
    if stdlib:
        rest = stdlib.group("rest")
        if rest.startswith("lib-dynload/"):
            rest = rest[len("lib-dynload/") :]
        return "stdlib", _top_level(rest)
    return "harness", file


def outside_label(origin: str, group: str) -> str:
    if origin in ("stdlib", "package") and group:
        return f"({origin}: {group})"
    if origin == "generated":
        return GENERATED
    return OUTSIDE


_Key = tuple[str, str]  # (display file, function)
_OWNERS = ("repo", "harness")


class _Keyed:
    __slots__ = ("frame", "key", "origin")

    def __init__(self, key: _Key, frame: Frame, origin: str) -> None:
        self.key, self.frame, self.origin = key, frame, origin


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
    origins: dict[_Key, str] = {}
    grand = 0.0
    for stack in stacks:
        grand += stack.weight
        keyed = _keyed_frames(stack.frames, root=root, include_all=include_all)
        leaf = keyed[-1] if include_all and keyed else _charged(keyed)
        credited = [k for k in keyed if include_all or k.origin in _OWNERS]
        for k in (*credited, leaf):
            origins[k.key] = k.origin
            lines[k.key][k.frame.line] += 0.0  # remember every line seen, weighted below
        self_w[leaf.key] += stack.weight
        counts[leaf.key] += stack.count
        lines[leaf.key][leaf.frame.line] += stack.weight
        for key in dict.fromkeys([*(k.key for k in credited), leaf.key]):
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
                in_repo=origins[key] == "repo",
                origin=origins[key],
            )
        )
    spots.sort(key=lambda h: (-h.self_value, -h.total_value, h.file, h.function))
    return spots


def _charged(keyed: list[_Keyed]) -> _Keyed:
    """Which row a stack's weight is charged to: the innermost repository or harness frame, with
    the library frames it called folded into it when it is repository code; library time called
    from the harness (or from nothing) goes to that library's row."""
    owner = next((i for i in range(len(keyed) - 1, -1, -1) if keyed[i].origin in _OWNERS), None)
    if owner is not None and (keyed[owner].origin == "repo" or owner == len(keyed) - 1):
        return keyed[owner]
    entry = keyed[0 if owner is None else owner + 1] if keyed else None
    if entry is None or entry.origin == "unknown":
        return _Keyed(("", OUTSIDE), Frame(OUTSIDE, "", 0), "unknown")
    return entry


def _keyed_frames(frames: tuple[Frame, ...], *, root: str, include_all: bool) -> list[_Keyed]:
    out: list[_Keyed] = []
    for frame in frames:
        origin, group = origin_of(frame.file, root)
        if include_all or origin == "repo":
            file = group if origin == "repo" else display_path(frame.file, root)
            if out and out[-1].key[0] == file and frame.function.endswith(_COMPREHENSIONS):
                # Python 3.12 inlines comprehensions (PEP 709); fold them on 3.11 too, so the
                # function that wrote the comprehension is the hot spot on every version.
                prev = out[-1]
                out[-1] = _Keyed(
                    prev.key, Frame(prev.frame.function, frame.file, frame.line), origin
                )
                continue
            out.append(_Keyed((file, frame.function), frame, origin))
        elif origin == "harness":
            out.append(_Keyed((group, HARNESS), frame, origin))
        else:
            out.append(_Keyed(("", outside_label(origin, group)), frame, origin))
    return out


_COMPREHENSIONS = ("<listcomp>", "<dictcomp>", "<setcomp>")


CALLEES_DOMINATE = 0.75  # share of a function's inclusive time spent in what it calls


def callees_dominate(spot: HotSpot) -> bool:
    """Most of ``spot``'s inclusive time is in its callees (the cause is the caller's loop or
    algorithm, not its own lines)."""
    return spot.total_value > 0 and spot.self_value <= (1 - CALLEES_DOMINATE) * spot.total_value


def rank_causes(spots: Iterable[HotSpot]) -> list[HotSpot]:
    """The repository's own functions by inclusive time, largest first: the "where would I change
    code" view. Module top levels (``<module>``) are left out: they contain everything."""
    ours = [h for h in spots if h.origin == "repo" and h.function != "<module>"]
    return sorted(ours, key=lambda h: (-h.total_value, h.self_value, h.file, h.function))


def heaviest_callees(
    stacks: Iterable[StackSample], *, kind: Kind, root: str, include_all: bool = False
) -> dict[str, tuple[str, float]]:
    """For each repository function, its heaviest repository callee and the share (percent) of
    the function's inclusive weight that passes through it: ``{hot spot id: (callee, pct)}``.
    A wrapper reads ``via parse 100%``; a quadratic caller splits across its callees."""
    totals: dict[_Key, float] = defaultdict(float)
    edges: dict[_Key, dict[_Key, float]] = defaultdict(lambda: defaultdict(float))
    for stack in stacks:
        keyed = _keyed_frames(stack.frames, root=root, include_all=include_all)
        ours = [k.key for k in keyed if k.origin == "repo"]
        for key in dict.fromkeys(ours):
            totals[key] += stack.weight
        pairs = {(a, b) for a, b in pairwise(ours) if a != b}
        for parent, child in pairs:
            edges[parent][child] += stack.weight
    out: dict[str, tuple[str, float]] = {}
    for parent, children in edges.items():
        child, weight = max(children.items(), key=lambda kv: (kv[1], kv[0]))
        if totals[parent] > 0:
            out[hotspot_id(kind, *parent)] = (child[1], 100.0 * weight / totals[parent])
    return out
