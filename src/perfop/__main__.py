"""``python -m perfop``."""

from perfop.cli import entry

entry()
