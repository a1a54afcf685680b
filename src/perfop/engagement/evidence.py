"""Evidence ids on hypotheses and decisions: ``kind:id`` strings checked against the store.

Kinds: ``hotspot:<id>`` (a profiled hot spot; a bare id like ``c-0123456789ab`` is accepted),
``profile:<id>``, ``run:<n>``, ``comparison:<n>``, ``validation:<n>``, ``commit:<sha>``. A hot spot,
run or profile that the store does not hold is refused, so every hypothesis traces to real evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from perfop.errors import StoreError, UsageError
from perfop.store import Store

KINDS = (
    "hotspot",
    "profile",
    "run",
    "comparison",
    "validation",
    "commit",
    "inventory",
    "design",
    "approval",
)
_BARE_HOTSPOT = re.compile(r"^[a-z]-[0-9a-f]{12}$")


def normalise(item: str) -> str:
    raw = item.strip()
    if _BARE_HOTSPOT.match(raw):
        return f"hotspot:{raw}"
    kind, sep, ref = raw.partition(":")
    if not sep or not ref or kind not in KINDS:
        raise UsageError(
            f"--evidence {item!r}: expected KIND:ID with KIND one of {', '.join(KINDS)} "
            "(e.g. hotspot:c-0123456789ab, run:12)"
        )
    return f"{kind}:{ref}"


def check_evidence(store: Store, items: Iterable[str]) -> tuple[str, ...]:
    """Normalised evidence ids; UsageError for one the store does not hold."""
    out: list[str] = []
    for item in items:
        ev = normalise(item)
        kind, _, ref = ev.partition(":")
        if kind == "run":
            if not ref.isdigit():
                raise UsageError(f"--evidence {item!r}: run ids are numbers (see perfop runs list)")
            try:
                store.get_run(int(ref), with_samples=False)
            except StoreError:
                raise UsageError(
                    f"--evidence {item!r}: no run {ref} in the store; see perfop runs list"
                ) from None
        elif kind == "hotspot" and not _hotspot_known(store, ref):
            raise UsageError(
                f"--evidence {item!r}: no stored profile has hot spot {ref}; run perfop profile"
            )
        elif kind == "comparison" and not _comparison_known(store, ref):
            raise UsageError(
                f"--evidence {item!r}: no comparison {ref} in the store; run perfop compare"
            )
        elif kind == "profile" and not _profile_known(store, ref):
            raise UsageError(f"--evidence {item!r}: no stored profile {ref}; run perfop profile")
        out.append(ev)
    return tuple(dict.fromkeys(out))


def _hotspot_known(store: Store, hotspot_id: str) -> bool:
    try:
        from perfop.store.profiles import find_hotspot
    except ImportError:  # profiling not installed in this build: accept the id as given
        return True
    return bool(find_hotspot(store, hotspot_id))


def _profile_known(store: Store, profile_id: str) -> bool:
    try:
        from perfop.store.profiles import get_profiles
    except ImportError:
        return True
    return bool(get_profiles(store, profile_id))


def _comparison_known(store: Store, ref: str) -> bool:
    if not ref.isdigit():
        return False
    try:
        from perfop.store.compare import get_comparison
    except ImportError:
        return True
    return get_comparison(store, int(ref)) is not None
