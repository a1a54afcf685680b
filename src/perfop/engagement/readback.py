"""Read back a stored record by id: a comparison, a validation, a profile or a run.

What ``show`` answers (MCP and CLI): the record as it was stored, so an agent can cite or re-read
evidence (``comparison:12``, ``validation:3``, ``profile:20261201T...``) without re-measuring.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from perfop.errors import UsageError
from perfop.store import Store
from perfop.store import engagement as es

Kind = Literal["comparison", "validation", "profile", "run"]
KINDS: tuple[str, ...] = ("comparison", "validation", "profile", "run")
SCHEMA = "perfop.record/1"


def _int_id(kind: str, value: str | int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UsageError(f"id: {kind} ids are numbers, got {value!r}") from None


def _missing(kind: str, value: object, listing: str) -> UsageError:
    return UsageError(f"{kind} {value!r} not found in the store; list them with: {listing}")


def stored_record(store: Store, kind: str, record_id: str | int) -> dict[str, Any]:
    """The stored record ``kind:record_id`` as a JSON-ready document."""
    if kind not in KINDS:
        raise UsageError(f"kind: {kind!r} is not one of: {', '.join(KINDS)}")
    body: dict[str, Any]
    if kind == "comparison":
        from perfop.store.compare import get_comparison

        row = get_comparison(store, _int_id(kind, record_id))
        if row is None:
            raise _missing(kind, record_id, "the comparison_id of a compare or validate answer")
        body = {
            "comparison": row.get("document") or {k: v for k, v in row.items() if k != "document"}
        }
    elif kind == "validation":
        with store.read() as conn:
            val = es.get_validation(conn, _int_id(kind, record_id))
            hyp = es.get_hypothesis_by_id(conn, val.hypothesis_id) if val else None
        if val is None:
            raise _missing(kind, record_id, "perfop hypothesis show H")
        body = {
            "validation": val.to_dict(),
            "hypothesis": hyp.label if hyp is not None else None,
        }
    elif kind == "profile":
        from perfop.store.profiles import get_profiles

        parts = get_profiles(store, str(record_id))
        if not parts:
            raise _missing(kind, record_id, "perfop profile W")
        body = {"profile_id": str(record_id), "parts": [asdict(p) for p in parts]}
    else:
        from perfop.errors import StoreError

        try:
            run = store.get_run(_int_id(kind, record_id))
        except StoreError:
            raise _missing(kind, record_id, "perfop runs list") from None
        body = {"run": run.summary_document()}
    return {"schema": SCHEMA, "kind": kind, "id": str(record_id), **body}
