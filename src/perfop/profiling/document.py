"""The ``perfop.profile/1`` JSON document: build it from a ``ProfileReport`` and read it back.

Format history (bump the suffix on any incompatible change):
  perfop.profile/1 — report metadata, ``parts`` (cpu/memory) each with hot spots and artifact
                     paths relative to the repository root.
                     Later, compatible additions: ``repeat`` (runs merged into the report,
                     1 when absent) and each part's ``cpu_time`` (null when unknown); each hot
                     spot's ``origin`` (repo, harness, stdlib, package, unknown); each part's
                     ``causes`` (derived: repository functions by inclusive time, as
                     ``{"id", "callees_dominate"}``); each part's ``via`` (hot spot id ->
                     [heaviest repository callee, % of the inclusive time through it]).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from perfop.errors import ProfilerError
from perfop.profiling.attribution import callees_dominate, rank_causes
from perfop.profiling.model import HotSpot, ProfilePart, ProfileReport, guess_origin

SCHEMA = "perfop.profile/1"


def profile_document(report: ProfileReport) -> dict[str, Any]:
    """The JSON-ready document for ``--format json`` and the artifact ``profile.json``."""
    doc: dict[str, Any] = {"schema": SCHEMA}
    body = asdict(report)
    body["argv"] = list(report.argv)
    for part, model in zip(body["parts"], report.parts, strict=True):
        part["notes"] = list(part["notes"])
        part["hotspots"] = list(part["hotspots"])
        part["via"] = {k: list(v) for k, v in model.via.items()}
        part["causes"] = [
            {"id": h.id, "callees_dominate": callees_dominate(h)}
            for h in rank_causes(model.hotspots)
        ]
    body["parts"] = list(body["parts"])
    doc.update(body)
    return doc


def report_from_document(doc: dict[str, Any]) -> ProfileReport:
    """Inverse of ``profile_document``; refuses other schemas with a one-line error."""
    schema = doc.get("schema")
    if schema != SCHEMA:
        raise ProfilerError(
            f"profile document has schema {schema!r}, expected {SCHEMA!r}; "
            "re-create it with this perfop version"
        )
    parts = tuple(
        ProfilePart(
            kind=p["kind"],
            backend=p["backend"],
            unit=p["unit"],
            total=float(p["total"]),
            wall_time=float(p["wall_time"]),
            peak_bytes=None if p["peak_bytes"] is None else int(p["peak_bytes"]),
            sample_count=int(p["sample_count"]),
            hotspots=tuple(
                HotSpot(**{"origin": guess_origin(h["function"], h["in_repo"]), **h})
                for h in p["hotspots"]
            ),
            artifacts=dict(p["artifacts"]),
            notes=tuple(p["notes"]),
            cpu_time=None if p.get("cpu_time") is None else float(p["cpu_time"]),
            via={k: (str(v[0]), float(v[1])) for k, v in (p.get("via") or {}).items()},
        )
        for p in doc["parts"]
    )
    return ProfileReport(
        id=doc["id"],
        created_at=doc["created_at"],
        workload=doc["workload"],
        argv=tuple(doc["argv"]),
        cwd=doc["cwd"],
        ref=doc["ref"],
        sha=doc["sha"],
        all_frames=bool(doc["all_frames"]),
        parts=parts,
        artifact_dir=doc["artifact_dir"],
        environment=dict(doc.get("environment") or {}),
        repeat=int(doc.get("repeat", 1)),
    )
