"""Local HTTP servers that speak the real OpenAI Chat Completions and Anthropic Messages protocols
and replay a scripted conversation, for the ``perfop agent`` tests.

A script maps a lifecycle stage to the replies the "model" gives in that stage, in order; the
server finds the stage from the runner's latest ``Stage: <name>.`` message. When a stage's replies
run out it answers ``finish_stage``. Requests are checked the way the real APIs check them (auth
header, message order, every tool call answered by its id, no empty text blocks); a violation is
a 400 with the APIs' error shape, so protocol bugs fail the tests.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted model reply (or an HTTP error)."""

    text: str = ""
    calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, args dict or raw str)
    status: int = 200
    error: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def call(name: str, **args: Any) -> Reply:
    return Reply(calls=[(name, args)])


def calls(*pairs: tuple[str, Any]) -> Reply:
    return Reply(calls=list(pairs))


def text(value: str) -> Reply:
    return Reply(text=value)


def raw_call(name: str, raw: str) -> Reply:
    """A tool call whose arguments are the literal string ``raw`` (e.g. invalid JSON)."""
    return Reply(calls=[(name, raw)])


def empty() -> Reply:
    return Reply()


def http_error(
    status: int, message: str, *, code: str = "", retry_after: str | None = None
) -> Reply:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return Reply(status=status, error={"message": message, "code": code}, headers=headers)


Script = Mapping[str, list[Reply | Callable[[dict[str, Any]], Reply]]]
_STAGE = re.compile(r"Stage: ([a-z-]+)\.")


class ScriptedLLM:
    """A scripted model behind a real HTTP server on 127.0.0.1 (a daemon thread)."""

    def __init__(
        self, protocol: str, script: Script, *, key: str, model: str = "scripted-1"
    ) -> None:
        assert protocol in ("openai", "anthropic")
        self.protocol = protocol
        self.queues = {stage: list(steps) for stage, steps in script.items()}
        self.key = key
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.statuses: list[int] = []
        self._n = 0
        self._lock = threading.Lock()
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}" + ("/v1" if self.protocol == "openai" else "")

    def stages_seen(self) -> list[str]:
        return [self._stage(r) or "?" for r in self.requests]

    def tool_results(self) -> list[str]:
        """Every tool result text the runner sent back, in order (from the last request)."""
        if not self.requests:
            return []
        body = self.requests[-1]
        out = []
        if self.protocol == "openai":
            out = [m["content"] for m in body["messages"] if m["role"] == "tool"]
        else:
            for m in body["messages"]:
                if m["role"] == "user":
                    out += [b["content"] for b in m["content"] if b["type"] == "tool_result"]
        return out

    # --- protocol ---------------------------------------------------------------------------
    def _stage(self, body: dict[str, Any]) -> str | None:
        for m in reversed(body.get("messages") or []):
            if m.get("role") != "user":
                continue
            content = m.get("content")
            texts = (
                [content]
                if isinstance(content, str)
                else [b.get("text", "") for b in content or [] if b.get("type") == "text"]
            )
            for t in reversed(texts):
                found = _STAGE.search(t or "")
                if found:
                    return found.group(1)
        return None

    def _check(self, headers: Mapping[str, str], body: dict[str, Any]) -> tuple[int, str] | None:
        if self.protocol == "openai":
            if headers.get("authorization") != f"Bearer {self.key}":
                return 401, "auth"
            return self._check_openai(body)
        if headers.get("x-api-key") != self.key:
            return 401, "auth"
        if not headers.get("anthropic-version"):
            return 400, "anthropic-version header is required"
        return self._check_anthropic(body)

    def _check_openai(self, body: dict[str, Any]) -> tuple[int, str] | None:
        if body.get("model") != self.model:
            return 404, f"The model `{body.get('model')}` does not exist"
        msgs = body.get("messages") or []
        if not msgs or msgs[0].get("role") != "system":
            return 400, "first message must be the system prompt"
        open_ids: list[str] = []
        for m in msgs[1:]:
            role = m.get("role")
            if role == "tool":
                if m.get("tool_call_id") not in open_ids:
                    return 400, f"tool message for unknown tool_call_id {m.get('tool_call_id')}"
                open_ids.remove(m["tool_call_id"])
                continue
            if open_ids:
                return 400, f"tool_calls {open_ids} must be followed by tool messages"
            if role == "assistant":
                if not m.get("content") and not m.get("tool_calls"):
                    return 400, "assistant message needs content or tool_calls"
                open_ids = [c["id"] for c in m.get("tool_calls") or []]
                for c in m.get("tool_calls") or []:
                    if c.get("type") != "function" or not isinstance(
                        c["function"].get("arguments"), str
                    ):
                        return 400, "tool_calls[].function.arguments must be a string"
            elif role != "user":
                return 400, f"unexpected role {role}"
        if open_ids:
            return 400, "the last tool_calls were not answered"
        for t in body.get("tools") or []:
            if t.get("type") != "function" or "parameters" not in t.get("function", {}):
                return 400, "tools[] must be functions with parameters"
        return None

    def _check_anthropic(self, body: dict[str, Any]) -> tuple[int, str] | None:
        if body.get("model") != self.model:
            return 404, f"model: {body.get('model')}"
        if not isinstance(body.get("max_tokens"), int):
            return 400, "max_tokens: field required"
        msgs = body.get("messages") or []
        expected = "user"
        pending: set[str] = set()
        for m in msgs:
            if m.get("role") != expected:
                return 400, "roles must alternate, starting with user"
            blocks = m.get("content")
            if not isinstance(blocks, list) or not blocks:
                return 400, "content must be a non-empty list of blocks"
            if expected == "user":
                results = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
                if results != pending:
                    return 400, f"tool_use ids {sorted(pending)} need tool_result blocks"
                pending = set()
            else:
                pending = {b["id"] for b in blocks if b.get("type") == "tool_use"}
            for b in blocks:
                if b.get("type") == "text" and not b.get("text"):
                    return 400, "text content blocks must be non-empty"
            expected = "assistant" if expected == "user" else "user"
        if expected != "assistant":
            return 400, "the last message must be from the user"
        for t in body.get("tools") or []:
            if "input_schema" not in t:
                return 400, "tools[].input_schema: field required"
        return None

    def _next(self, body: dict[str, Any]) -> Reply:
        stage = self._stage(body) or "?"
        queue = self.queues.get(stage) or []
        if not queue:
            return call("finish_stage", summary=f"{stage} done")
        step = queue.pop(0)
        return step(body) if callable(step) else step

    def _error_body(self, status: int, message: str, code: str) -> dict[str, Any]:
        if self.protocol == "openai":
            kind = {401: "invalid_api_key", 404: "model_not_found"}.get(status, code or None)
            return {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": kind,
                }
            }
        kind = {
            401: "authentication_error",
            404: "not_found_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(status, "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}}

    def _success(self, reply: Reply, n: int) -> dict[str, Any]:
        usage_in, usage_out = 100 + n, 20
        if self.protocol == "openai":
            tool_calls = [
                {
                    "id": f"call_{n}_{i}",
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
                for i, (name, args) in enumerate(reply.calls)
            ]
            message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
            if tool_calls:
                message["tool_calls"] = tool_calls
            return {
                "id": f"chatcmpl-{n}",
                "object": "chat.completion",
                "created": 1700000000 + n,
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if tool_calls else "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": usage_in,
                    "completion_tokens": usage_out,
                    "total_tokens": usage_in + usage_out,
                },
            }
        content: list[dict[str, Any]] = []
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        for i, (name, args) in enumerate(reply.calls):
            content.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_{n}_{i}",
                    "name": name,
                    "input": args if isinstance(args, dict) else {"raw": args},
                }
            )
        return {
            "id": f"msg_{n}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": "tool_use" if reply.calls else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": usage_in, "output_tokens": usage_out},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        llm = self
        path = "/v1/chat/completions" if self.protocol == "openai" else "/v1/messages"

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, doc: dict[str, Any], headers: Mapping[str, str]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with llm._lock:
                    llm._n += 1
                    n = llm._n
                    llm.requests.append(body)
                    if self.path != path:
                        llm.statuses.append(404)
                        self._send(404, llm._error_body(404, f"no route {self.path}", ""), {})
                        return
                    problem = llm._check(headers, body)
                    if problem is not None:
                        status, message = problem
                        if status == 401:
                            # Like the real API: the rejected key is echoed, partly masked.
                            got = headers.get("authorization") or headers.get("x-api-key") or ""
                            message = f"Incorrect API key provided: {got[-30:]}"
                        llm.problems.append(message)
                        llm.statuses.append(status)
                        self._send(status, llm._error_body(status, message, ""), {})
                        return
                    reply = llm._next(body)
                    llm.statuses.append(reply.status)
                    if reply.status != 200:
                        err = reply.error or {}
                        self._send(
                            reply.status,
                            llm._error_body(
                                reply.status, err.get("message", ""), err.get("code", "")
                            ),
                            reply.headers,
                        )
                        return
                    self._send(200, llm._success(reply, n), {})

        return Handler


# --- a tiny project: a ~30 ms workload, so agent tests stay fast ---------------------------------

# work() sleeps this long: against the interpreter's start-up (tens of ms quiet, several times that
# on a loaded machine, and noisy), a change of the sleep is decided in a few pairs at any load.
BASE_SLEEP = "0.2"
TINY_FILES = {
    "app/__init__.py": "",
    "app/core.py": (
        f"import time\n\n\ndef work() -> int:\n    time.sleep({BASE_SLEEP})\n    return 42\n"
    ),
    "bench.py": "import sys\nsys.path.insert(0, '.')\nfrom app.core import work\nprint(work())\n",
    "pyproject.toml": (
        "[project]\nname = 'tiny'\nversion = '0'\n\n"
        "[tool.perfop]\n"
        "base = 'main'\n"
        "test_command = \"{python} -c 'import app.core'\"\n"
        "high_risk_paths = ['app/payments/*']\n\n"
        "[tool.perfop.workloads.work]\n"
        "command = '{python} bench.py'\n"
        "min_runs = 5\nmax_runs = 8\nmax_time = 60\nwarmup = 1\n"
    ),
    ".gitignore": "__pycache__/\n",
}


def sleep_edit(seconds: str) -> Reply:
    """The edit tool call that changes the workload's sleep (faster or slower)."""
    return call(
        "edit",
        path="app/core.py",
        search=f"time.sleep({BASE_SLEEP})",
        replace=f"time.sleep({seconds})",
    )


def hypothesis(risk: str = "low", ratio: float = 0.5) -> Reply:
    return call(
        "hypothesis_add",
        statement="work() sleeps longer than it needs to",
        components=["app/core.py"],
        workloads=["work"],
        expected_ratio=ratio,
        confidence="medium",
        effort="1h",
        risk=risk,
    )
