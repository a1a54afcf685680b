"""The one outcome of a validation: what it concluded and what to do about it.

``perfop.engagement.outcome.decide`` makes it from the evidence (its ``RULES`` table); ``validate``
stores ``to_dict()`` with the validation, the CLI, MCP and the agent answer with that document, and
the report recomputes it from the stored evidence and reads the same type. The old path
``perfop.engagement.outcome.Outcome`` re-exports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from perfop.records.engagement import Status


@dataclass(frozen=True)
class Outcome:
    """What a validation concluded, and what to do about it."""

    status: Status
    reasons: tuple[str, ...]
    contradicts: bool  # the evidence contradicts the hypothesis (refuted or rejected)
    rule: str = ""
    qualifier: str = ""
    advice: str = ""
    advises_revert: bool = False
    regressions: tuple[str, ...] = ()  # findings of their own: SLOs newly broken, others slower
    residual_risks: tuple[str, ...] = ()  # SLOs still not met or not trusted, test warnings

    @property
    def headline(self) -> str:
        """``confirmed``, or ``confirmed — SLO still not met``."""
        return self.status.value + (f" — {self.qualifier}" if self.qualifier else "")

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["status"] = self.status.value
        doc["headline"] = self.headline
        return doc
