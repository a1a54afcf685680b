"""The one timestamp helper: every time perfop stores or prints is UTC ISO 8601 from here."""

from __future__ import annotations

import datetime as dt
from typing import Literal

Timespec = Literal["seconds", "milliseconds", "microseconds"]


def utcnow(timespec: Timespec = "microseconds") -> str:
    """Now, in UTC, as ISO 8601 with an offset (``2026-12-01T15:15:32.123456+00:00``)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec=timespec)
