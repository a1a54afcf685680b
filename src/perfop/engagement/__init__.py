"""The engagement lifecycle: intake, inventory, hypotheses, designs, approvals, log, verify.

Pure rules live in ``records``, ``intake``, ``questions``, ``inventory`` and ``hypotheses``; the
store-backed services that front ends call live in ``service`` and ``lifecycle``.
"""

from __future__ import annotations

from perfop.engagement.records import (
    Actor,
    Approval,
    Decision,
    Design,
    Engagement,
    EngagementSpec,
    Hypothesis,
    Stage,
    Status,
)

__all__ = [
    "Actor",
    "Approval",
    "Decision",
    "Design",
    "Engagement",
    "EngagementSpec",
    "Hypothesis",
    "Stage",
    "Status",
]
