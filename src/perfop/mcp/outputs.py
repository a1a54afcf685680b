"""The tools' output models, ``perfop.services.documents``, under their MCP name."""

from __future__ import annotations

from perfop.services.documents import *  # noqa: F403 - the same models, re-exported
from perfop.services.documents import output_schema as output_schema
from perfop.services.documents import structured as structured
