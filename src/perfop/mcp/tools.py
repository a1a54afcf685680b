"""The MCP server's application context, and the tool table it serves.

The tools (argument models, output models, the functions that call the services) are
``perfop.services``' and are re-exported here; what is MCP's own is ``App``: which agent acts,
named by ``PERFOP_AGENT_NAME`` or the client.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from perfop.services.envelope import ENGAGEMENT_SCHEMA as ENGAGEMENT_SCHEMA
from perfop.services.envelope import engagement_doc as engagement_doc
from perfop.services.table import TOOLS as TOOLS
from perfop.services.table import ActingContext
from perfop.services.table import Answer as Answer
from perfop.services.table import Args as Args
from perfop.services.table import Call as Call
from perfop.services.table import LongArgs as LongArgs
from perfop.services.table import Tool as Tool
from perfop.services.table import tool as tool

if TYPE_CHECKING:
    from perfop.engagement.records import Actor
    from perfop.store import Store

# Client names SDKs send when the application set none: they name the library, not the agent.
SDK_DEFAULT_NAMES = frozenset({"mcp", "mcp-client", "python-mcp", ""})


class App(ActingContext):
    """Server state shared by every call: repository, config and store (opened once, lazily,
    ``perfop.app.AppContext``) and the agent that acts."""

    def __init__(
        self,
        repo: Path | None,
        *,
        store_url: str | None = None,
        config: Path | None = None,
        store: Store | None = None,
        actor: Actor | None = None,
    ) -> None:
        """``store`` and ``actor`` given: that store, which its owner closes, and that actor;
        otherwise the configured store and the client's name."""
        super().__init__(repo, store_url=store_url, config=config, store=store, actor=actor)
        self.actor_name = "mcp-client"

    @property
    def actor(self) -> Actor:
        """The agent as the decision log names it: ``PERFOP_AGENT_NAME`` (what ``perfop
        init-agent`` writes into the client's server entry), else the client's own name, unless
        that is an SDK's default (``mcp``), which says nothing about who acts."""
        from perfop.engagement.records import Actor

        if self._actor is not None:
            return self._actor
        name = os.environ.get("PERFOP_AGENT_NAME", "").strip()
        if not name:
            name = self.actor_name if self.actor_name not in SDK_DEFAULT_NAMES else "mcp-client"
        return Actor(name=f"mcp:{name}", kind="agent")
