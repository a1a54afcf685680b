"""Moved to ``perfop.records.engagement`` (below the store); this path re-exports it."""

from perfop.records.engagement import *  # noqa: F403
