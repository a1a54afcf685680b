"""The agent's tools: perfop's service tools (``perfop.services.catalog``, the same table the MCP
server serves, reused, not redefined) plus the sandbox tools ``view``, ``search``, ``edit`` and
``bash``, and the runner's own ``validate``, ``report`` (written in the user's repository) and
``finish_stage``.

Each service tool is called with an ``ActingContext`` rooted at the sandbox worktree, on the
user's store and as the agent's ``Actor``, its arguments checked by the same guards
(``perfop.services.guards``) as an MCP call. Every tool returns a ``ToolOutput``; failures never
raise out of ``ToolBox.call``: they come back as an error result the model can read and act on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfop.agent.providers import ToolSpec
from perfop.errors import GuardrailError, PerfopError

if TYPE_CHECKING:
    from perfop.agent.sandbox import Sandbox
    from perfop.engagement.records import Actor
    from perfop.services.table import ActingContext, Tool
    from perfop.store import Store

DOC_LIMIT = 6000

# Which tools each stage offers (finish_stage is always offered). A name the tool table does not
# have (e.g. a service that has not landed yet) is simply left out.
STAGE_TOOLS: dict[str, tuple[str, ...]] = {
    "intake": ("intake", "status", "view", "search", "note"),
    "inventory": ("inventory", "status", "view", "search", "note"),
    "baseline": ("run", "runs", "view", "search", "bash", "note"),
    "profile": ("profile", "view", "search", "bash", "note"),
    "hypotheses": (
        "hypothesis_add",
        "hypothesis_list",
        "hypothesis_update",
        "view",
        "search",
        "note",
    ),
    "design": ("design", "hypothesis_list", "request_approval", "view", "search", "note"),
    "implementation": ("view", "search", "edit", "bash", "hypothesis_list", "note"),
    "validation": ("validate", "bash", "view", "search", "hypothesis_list", "note"),
    "report": ("report", "log", "status", "note"),
    "verify": ("verify", "status", "log", "note"),
}


@dataclass(frozen=True)
class ToolOutput:
    text: str
    is_error: bool = False
    refused: bool = False


Handler = Callable[[dict[str, Any]], ToolOutput]


@dataclass(frozen=True)
class AgentTool:
    spec: ToolSpec
    handler: Handler


def _schema(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


FINISH_STAGE = ToolSpec(
    "finish_stage",
    "End the current lifecycle stage with a short summary of what it established. Call it once "
    "the stage's work is done; the runner then moves to the next stage.",
    _schema({"summary": {"type": "string", "description": "What this stage established."}}, []),
)


def service_tools() -> dict[str, Tool]:
    """Every service tool, by name, in the MCP server's order (``perfop.services.catalog``)."""
    from perfop.services import catalog

    return catalog.tools()


def load_mcp_tools() -> dict[str, Tool]:
    """The same table under its old name: the tools the MCP server lists are the agent's."""
    return service_tools()


def _agent_context(sandbox_path: Path, store: Store, actor: Actor) -> ActingContext:
    """A context rooted at the sandbox, on the user's store (the runner's, which the runner
    closes), acting as the agent."""
    from perfop.services.table import ActingContext

    return ActingContext(sandbox_path, store=store, actor=actor)


def _compact(doc: Any) -> str:
    text = json.dumps(doc, default=str, separators=(",", ":"))
    return text if len(text) <= DOC_LIMIT else text[:DOC_LIMIT] + "...[truncated]"


def _wrap_service(tool: Tool, app: ActingContext) -> AgentTool:
    from perfop.services.guards import parse_args
    from perfop.services.table import Call

    schema = tool.args.model_json_schema()
    schema.pop("title", None)

    def handler(arguments: dict[str, Any]) -> ToolOutput:
        args = parse_args(tool.args, tool.name, arguments)
        answer = tool.fn(Call(app), args)
        return ToolOutput(f"{answer.text}\n{_compact(answer.doc)}", is_error=answer.is_error)

    return AgentTool(ToolSpec(tool.name, tool.description, schema), handler)


def sandbox_tools(sandbox: Sandbox, *, bash_timeout: float) -> dict[str, AgentTool]:
    """``view``, ``search``, ``edit`` and ``bash`` bound to one sandbox."""

    def view(a: dict[str, Any]) -> ToolOutput:
        return ToolOutput(sandbox.view(str(a.get("path") or "."), a.get("start"), a.get("end")))

    def search(a: dict[str, Any]) -> ToolOutput:
        return ToolOutput(sandbox.search(str(a.get("pattern") or ""), a.get("path")))

    def edit(a: dict[str, Any]) -> ToolOutput:
        return ToolOutput(
            sandbox.edit(
                diff=a.get("diff"),
                path=a.get("path"),
                search=a.get("search"),
                replace=a.get("replace"),
                content=a.get("content"),
            )
        )

    def bash(a: dict[str, Any]) -> ToolOutput:
        command = str(a.get("command") or "").strip()
        if not command:
            raise PerfopError("bash: give a command")
        timeout = min(float(a.get("timeout") or bash_timeout), bash_timeout)
        result = sandbox.bash(command, timeout=timeout)
        return ToolOutput(result.render(), is_error=result.exit_code != 0)

    s, i = {"type": "string"}, {"type": "integer"}
    return {
        "view": AgentTool(
            ToolSpec(
                "view",
                "Read a file of the sandbox worktree with line numbers (or list a directory). "
                "Paths are relative to the repository root.",
                _schema({"path": s, "start": i, "end": i}, ["path"]),
            ),
            view,
        ),
        "search": AgentTool(
            ToolSpec(
                "search",
                "Search the sandbox worktree (git grep, extended regex); answers path:line:text.",
                _schema({"pattern": s, "path": s}, ["pattern"]),
            ),
            search,
        ),
        "edit": AgentTool(
            ToolSpec(
                "edit",
                "Change files in the sandbox worktree: a unified diff ('diff', paths a/... b/... "
                "from the repository root), or 'path' with 'search' (must occur exactly once) and "
                "'replace', or 'path' with 'content' to write a whole file.",
                _schema({"diff": s, "path": s, "search": s, "replace": s, "content": s}, []),
            ),
            edit,
        ),
        "bash": AgentTool(
            ToolSpec(
                "bash",
                "Run a shell command in the sandbox worktree (cwd), with a timeout and no "
                "credentials. Refused: push/fetch/remotes, --force, reset --hard off the sandbox "
                "branch, commits (the runner commits after validation), rm or paths outside the "
                "worktree, network tools.",
                _schema({"command": s, "timeout": {"type": "number"}}, ["command"]),
            ),
            bash,
        ),
    }


class ToolBox:
    """Every tool the agent may call, and the per-stage selection offered to the model."""

    def __init__(self, tools: Mapping[str, AgentTool]) -> None:
        self.tools = dict(tools)

    @classmethod
    def build(
        cls,
        *,
        sandbox: Sandbox,
        store: Store,
        actor: Actor,
        extra: Mapping[str, AgentTool],
        bash_timeout: float = 300.0,
    ) -> ToolBox:
        tools: dict[str, AgentTool] = {}
        app = _agent_context(sandbox.path, store, actor)
        for name, service in service_tools().items():
            tools[name] = _wrap_service(service, app)
        tools.update(sandbox_tools(sandbox, bash_timeout=bash_timeout))
        for name, tool in extra.items():
            # The runner's validate must feed its commit-or-revert step, and its report is
            # written in the user's repository (the sandbox is removed at the end).
            if name not in tools or name in ("validate", "report"):
                tools[name] = tool
        return cls(tools)

    def specs(self, stage: str) -> list[ToolSpec]:
        names = [n for n in STAGE_TOOLS.get(stage, ()) if n in self.tools]
        return [self.tools[n].spec for n in names] + [FINISH_STAGE]

    def allowed(self, stage: str) -> list[str]:
        return [s.name for s in self.specs(stage)]

    def call(self, stage: str, name: str, arguments: dict[str, Any]) -> ToolOutput:
        """Run one tool call of ``stage``; every failure becomes an error result."""
        from perfop.services.guards import error_message

        if name not in self.tools:
            return ToolOutput(
                f"error: unknown tool {name!r}; tools in stage {stage}: "
                f"{', '.join(self.allowed(stage))}",
                is_error=True,
            )
        if name not in STAGE_TOOLS.get(stage, ()):
            return ToolOutput(
                f"error: tool {name!r} is not available in stage {stage}; use one of: "
                f"{', '.join(self.allowed(stage))}",
                is_error=True,
            )
        try:
            return self.tools[name].handler(arguments)
        except GuardrailError as exc:
            return ToolOutput(f"refused: {exc.message}", is_error=True, refused=True)
        except PerfopError as exc:
            return ToolOutput(f"error: {exc.message}", is_error=True)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            return ToolOutput(f"error: {error_message(exc)}", is_error=True)
