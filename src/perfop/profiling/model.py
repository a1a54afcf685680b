"""Moved to ``perfop.records.profiling`` (below the store); this path re-exports it."""

from perfop.records.profiling import *  # noqa: F403
