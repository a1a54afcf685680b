"""The MCP server over stdio: tool and resource handlers on the official SDK's low-level server
(mcp 2.x: both protocol eras, the ``initialize`` handshake and 2026-07-28's ``server/discover``).

Every call runs its service in a worker thread (the event loop keeps answering), long calls are
serialised (two measurements at once would disturb each other), report progress, and stop on
cancellation or ``max_seconds`` the way Ctrl-C stops the CLI. Every answer is redacted; every
failure is a tool error with one line of text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from io import TextIOWrapper
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfop import __version__
from perfop.errors import PerfopError
from perfop.mcp import resources
from perfop.mcp.guards import run_blocking
from perfop.mcp.tools import App
from perfop.redact import Redactor
from perfop.services import catalog as _catalog  # noqa: F401 - registers every tool
from perfop.services import documents as outputs
from perfop.services.guards import CancelToken, error_message, parse_args
from perfop.services.table import TOOLS, Answer, Call, Tool

if TYPE_CHECKING:
    import mcp.types as types
    from mcp.server.context import ServerRequestContext
    from mcp.server.lowlevel import Server

INVALID_PARAMS = -32602  # JSON-RPC's codes (mcp.types has them; it is imported lazily)
INTERNAL_ERROR = -32603

INSTRUCTIONS = """perfop: a performance engagement with evidence at every step. Start with status
(and the perfop://engagement/current resource); record or confirm the intake; measure a
baseline (run); profile; log hypotheses from the profile's hot spots; design each fix; for
high-risk changes call request_approval and wait for a human; implement on a branch and record
the candidate (hypothesis_update); validate (A/B with statistics and tests) before claiming any
speed-up; finish with report and verify. Only configured workloads run; paths stay inside the
repository; approvals are granted by humans only."""

DEFAULT_CALL_LIMIT = 3600.0


def input_schema(t: Tool) -> dict[str, Any]:
    schema = t.args.model_json_schema()
    schema.pop("title", None)
    if t.name == "intake":
        from perfop.engagement.intake import IntakeFile

        spec = IntakeFile.model_json_schema()
        schema.setdefault("$defs", {}).update(spec.pop("$defs", {}))
        description = schema["properties"]["spec"].get("description")
        schema["properties"]["spec"] = {"anyOf": [spec, {"type": "null"}], "default": None}
        if description:
            schema["properties"]["spec"]["description"] = description
    return schema


class PerfopServer:
    """Tool dispatch with guardrails; ``build()`` wires it into an SDK ``Server``."""

    def __init__(self, app: App, *, call_limit: float = DEFAULT_CALL_LIMIT) -> None:
        import anyio

        self.app = app
        self.call_limit = call_limit
        self.redactor = Redactor.from_environment()
        self.measure_lock = anyio.Lock()

    def build(self) -> Server[Any]:
        from mcp.server.lowlevel import Server

        return Server(
            "perfop",
            version=__version__,
            instructions=INSTRUCTIONS,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            on_list_resources=self.list_resources,
            on_read_resource=self.read_resource,
        )

    async def list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        import mcp.types as types

        return types.ListToolsResult(tools=[tool_definition(t) for t in TOOLS.values()])

    async def list_resources(self, ctx: Any, params: Any) -> types.ListResourcesResult:
        import mcp.types as types

        return types.ListResourcesResult(
            resources=[
                types.Resource(uri=r.uri, name=r.name, description=r.description, mime_type=r.mime)
                for r in resources.available()
            ]
        )

    async def read_resource(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        import mcp.types as types
        from mcp.shared.exceptions import MCPError

        uri = str(params.uri)
        res = resources.RESOURCES.get(uri)
        if res is None:
            raise MCPError(
                code=resource_not_found_code(ctx.protocol_version),
                message=f"unknown resource {uri!r}; known: {', '.join(resources.RESOURCES)}",
                data={"uri": uri},
            )
        token = CancelToken()
        try:
            text = await run_blocking(
                lambda: res.read(self.app), token=token, time_limit=self.call_limit
            )
        except Exception as exc:
            raise MCPError(
                code=INTERNAL_ERROR, message=self.redactor.text(error_message(exc))
            ) from None
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(
                    uri=uri, mime_type=res.mime, text=self.redactor.text(text)
                )
            ]
        )

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        from mcp.shared.exceptions import MCPError

        name, arguments = params.name, params.arguments
        tool = TOOLS.get(name)
        if tool is None:
            # The spec's protocol error for an unknown tool (not a tool execution error).
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"unknown tool {name!r}; see the tool list (tools/list)",
                data={"tool": name},
            )
        client = ctx.session.client_params
        if client is not None and client.client_info.name:
            self.app.actor_name = client.client_info.name
        return await self.call(ctx, tool, arguments)

    async def call(
        self, ctx: ServerRequestContext[Any], tool: Tool, arguments: dict[str, Any] | None
    ) -> types.CallToolResult:
        import anyio

        name = tool.name
        token = CancelToken()
        limit = self.call_limit
        if isinstance(arguments, dict) and tool.long:
            limit = _max_seconds(arguments, limit)

        def progress(done: float, total: float | None, message: str) -> None:
            token.check()
            # Progress is best effort (a no-op unless the client asked for it): the client may be
            # gone or the loop closing.
            with contextlib.suppress(Exception):
                anyio.from_thread.run(
                    ctx.session.report_progress,
                    float(done),
                    None if total is None else float(total),
                    self.redactor.text(message),
                )

        call = Call(self.app, token=token, progress=progress)

        def work() -> Answer:
            args = _parse(tool, arguments)
            return tool.fn(call, args)

        try:
            if tool.long:
                async with self.measure_lock:
                    answer = await run_blocking(work, token=token, time_limit=limit)
            else:
                answer = await run_blocking(work, token=token, time_limit=limit)
        except TimeoutError:
            return self._error(
                f"{name}: timed out after {limit:g} s and was stopped like a Ctrl-C (interrupted "
                "records kept, worktrees removed); raise max_seconds or fix the hanging workload"
            )
        except Exception as exc:
            return self._error(error_message(exc))
        except KeyboardInterrupt:
            return self._error(f"{name}: interrupted")
        return self._result(tool, answer)

    def _error(self, message: str) -> types.CallToolResult:
        import mcp.types as types

        text = self.redactor.text(" ".join(message.split()))
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)], is_error=True
        )

    def _result(self, tool: Tool, answer: Answer) -> types.CallToolResult:
        import mcp.types as types
        from pydantic import ValidationError

        doc = self.redactor.obj(answer.doc)
        # Round-trip through JSON so every value is JSON (paths, enums, tuples).
        doc = json.loads(json.dumps(doc, default=str))
        try:
            doc = outputs.structured(tool.returns, doc)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the document"
            return self._error(
                f"internal error ({tool.name}: answer does not match its output schema at "
                f"{where}: {first['msg']}); please report it"
            )
        text = self.redactor.text(" ".join(answer.text.split()) if answer.is_error else answer.text)
        # The spec: structured content also goes out serialised, for clients that read only text.
        content = [
            types.TextContent(type="text", text=text),
            types.TextContent(type="text", text=json.dumps(doc, indent=1, ensure_ascii=False)),
        ]
        return types.CallToolResult(
            content=content, structured_content=doc, is_error=answer.is_error
        )


def tool_definition(t: Tool) -> types.Tool:
    """The ``tools/list`` entry of a tool: schemas from its argument and return models."""
    import mcp.types as types

    return types.Tool(
        name=t.name,
        description=t.description,
        input_schema=input_schema(t),
        output_schema=outputs.output_schema(t.returns),
        annotations=types.ToolAnnotations(
            read_only_hint=t.read_only,
            destructive_hint=False,
            idempotent_hint=t.read_only,
            open_world_hint=t.name == "ci_triage",
        ),
    )


def resource_not_found_code(protocol_version: str | None) -> int:
    """-32602 (invalid params) from protocol 2026-07-28 on (SEP-2164); -32002 before, as the
    2025-11-25 and earlier specifications state."""
    from mcp.types.version import MODERN_PROTOCOL_VERSIONS

    return INVALID_PARAMS if protocol_version in MODERN_PROTOCOL_VERSIONS else -32002


def _max_seconds(arguments: dict[str, Any], default: float) -> float:
    value = arguments.get("max_seconds")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return min(float(value), default)
    return default


def _parse(tool: Tool, arguments: dict[str, Any] | None) -> Any:
    raw = {}
    args = dict(arguments or {}) if isinstance(arguments, dict) else arguments
    if isinstance(args, dict):
        for key in tool.raw:
            if key in args:
                raw[key] = args.pop(key)
    parsed = parse_args(tool.args, tool.name, args)
    for key, value in raw.items():
        setattr(parsed, key, value)
    return parsed


def _protocol_streams() -> tuple[Any, Any]:
    """Keep stdin/stdout for the protocol alone: children and stray prints get /dev/null and
    stderr instead, so nothing perfop spawns can read or corrupt a protocol message."""
    import anyio

    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    reader = TextIOWrapper(proto_in, encoding="utf-8", errors="replace")
    writer = TextIOWrapper(proto_out, encoding="utf-8", write_through=True)
    return anyio.wrap_file(reader), anyio.wrap_file(writer)


def serve(
    repo: Path | None,
    *,
    store_url: str | None = None,
    config: Path | None = None,
    call_limit: float | None = None,
) -> None:
    """Run the MCP server on stdio until the client closes the connection."""
    import anyio
    from mcp.server.stdio import stdio_server

    # The SDK logs every request at INFO on stderr; clients show stderr as the server's log.
    logging.getLogger("mcp").setLevel(logging.WARNING)
    app = App(repo, store_url=store_url, config=config)
    # Read the configuration now; a broken one is reported by every tool call until fixed.
    with contextlib.suppress(PerfopError):
        _ = app.loaded
    perfop = PerfopServer(app, call_limit=call_limit or DEFAULT_CALL_LIMIT)
    server = perfop.build()
    stdin, stdout = _protocol_streams()

    async def main() -> None:
        async with stdio_server(stdin, stdout) as (read, write):
            await server.run(read, write, server.create_initialization_options())

    try:
        anyio.run(main)
    finally:
        app.close()
