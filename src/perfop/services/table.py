"""The tool table every agent-facing front end offers: the MCP server and perfop's agent runner.

A tool is an argument model (its JSON schema is the tool's input schema), a return model (its JSON
schema is the tool's output schema, ``perfop.services.documents``) and a function that takes the
parsed arguments and a ``Call`` (the application context, the acting ``Actor``, a progress sink and
a cancel token), calls the same service function as the CLI verb and returns an ``Answer``: the
same JSON document as ``--format json`` (built in ``perfop.services.envelope``), one short line of
text and the typed result. Tools hold no lifecycle logic: the services enforce the rules, with the
caller's agent ``Actor`` (so approvals and sign-offs are refused there). ``perfop.services.catalog``
fills the table; front ends adapt it (MCP messages, worker threads; the agent's tool specs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from perfop.app import AppContext
from perfop.services.envelope import ENGAGEMENT_SCHEMA as ENGAGEMENT_SCHEMA
from perfop.services.envelope import engagement_doc as engagement_doc
from perfop.services.guards import CancelToken, confine_path

if TYPE_CHECKING:
    from perfop.engagement.records import Actor
    from perfop.store import Store


class Args(BaseModel):
    # strict: what the advertised JSON schema refuses (``{"limit": true}``, ``"3"`` for an
    # integer) is refused here too, instead of being coerced.
    model_config = ConfigDict(extra="forbid", strict=True)


class LongArgs(Args):
    """Arguments of tools that run processes."""

    max_seconds: float | None = Field(
        None,
        gt=0,
        description="Stop the call after this many seconds (like Ctrl-C: interrupted records "
        "are kept, worktrees removed) and answer with a timeout error.",
    )


@dataclass
class Answer:
    """What a tool returns: the JSON document, a short text, whether it is a failure, and the
    typed result the document was built from (None where the document is the result)."""

    doc: dict[str, Any]
    text: str
    is_error: bool = False
    result: Any = None


class ActingContext(AppContext):
    """An application context and the actor who calls its tools (the decision log names them)."""

    def __init__(
        self,
        repo: Path | None,
        *,
        store_url: str | None = None,
        config: Path | None = None,
        store: Store | None = None,
        actor: Actor | None = None,
    ) -> None:
        """``store`` given (the agent runner's): that store, which its owner closes; otherwise
        the configured store. ``actor``: who acts (subclasses may derive one when it is None)."""
        # The configuration is loaded once (the MCP server loads it at start): the workloads an
        # agent may run are those configured by the human, not ones an agent adds to the file
        # while it works.
        super().__init__(repo, config_path=config, store_override=store_url, store=store)
        self._actor = actor

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            raise TypeError("ActingContext: no actor given")
        return self._actor


@dataclass
class Call:
    """One tool call as a service sees it: the context, a progress sink and the cancel token."""

    app: ActingContext
    token: CancelToken = field(default_factory=CancelToken)
    progress: Callable[[float, float | None, str], None] = lambda done, total, msg: None

    def path(self, value: str, argument: str) -> Path:
        return confine_path(self.app.repo_root, value, argument=argument)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[Args]
    fn: Callable[[Call, Any], Answer]
    returns: type[BaseModel]  # the document's model: output schema and structured content
    long: bool = False  # runs processes: worker thread, progress, cancellable, time-limited
    read_only: bool = False
    raw: tuple[str, ...] = ()  # arguments passed through unvalidated to a service that checks them


TOOLS: dict[str, Tool] = {}

# Answer fields whose text is advice an agent acts on: their CLI hints become tool calls.
HINT_KEYS = frozenset({"next", "advice", "reason", "hint"})


def _tool_hints(value: Any, key: str | None = None) -> Any:
    from perfop.services.hints import to_mcp

    if isinstance(value, str):
        return to_mcp(value) if key in HINT_KEYS else value
    if isinstance(value, dict):
        return {k: _tool_hints(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_tool_hints(v, key) for v in value]
    return value


def tool(
    name: str,
    args: type[Args],
    description: str,
    *,
    returns: type[BaseModel],
    long: bool = False,
    read_only: bool = False,
    raw: tuple[str, ...] = (),
    hints: bool = True,
) -> Callable[[Callable[[Call, Any], Answer]], Callable[[Call, Any], Answer]]:
    """Register a tool. With ``hints`` (all but report, whose text is the human's document) the
    CLI hints in its text, its advice fields and its errors are rewritten as MCP tool calls."""

    def register(fn: Callable[[Call, Any], Answer]) -> Callable[[Call, Any], Answer]:
        def answered(call: Call, arguments: Any) -> Answer:
            from perfop.errors import PerfopError
            from perfop.services.hints import to_mcp

            try:
                answer = fn(call, arguments)
            except PerfopError as exc:
                exc.args = (to_mcp(str(exc)),)
                raise
            return Answer(
                _tool_hints(answer.doc), to_mcp(answer.text), answer.is_error, answer.result
            )

        TOOLS[name] = Tool(
            name,
            " ".join(description.split()),
            args,
            answered if hints else fn,
            returns,
            long,
            read_only,
            raw,
        )
        return fn

    return register
