"""LLM providers with tool calling: OpenAI-compatible Chat Completions and Anthropic Messages.

The loop speaks one neutral conversation (``Message``, ``ToolSpec``, ``ToolCall``); a provider turns
it into its wire format, POSTs it with httpx and parses the reply into a ``ModelReply``. Keys come
from the environment only and live in the provider object: they are never stored, printed or
logged. Transport errors become one-line ``RemoteError``s:

    401/403          the key was rejected (names the variable, not the value)
    404 / model_not_found    the model is unknown at that endpoint
    connect error    the endpoint is unreachable
    429 / 5xx / 529  retried with exponential backoff honouring Retry-After, then RemoteError
"""

from __future__ import annotations

import email.utils
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from perfop.environment import redact_text
from perfop.errors import ConfigError, RemoteError, UsageError

if TYPE_CHECKING:
    import httpx

ProviderName = Literal["openai", "anthropic"]
PROVIDERS: tuple[str, ...] = ("openai", "anthropic")
DEFAULT_BASE_URL = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
DEFAULT_MODEL = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-5"}
ANTHROPIC_VERSION = "2023-06-01"
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: name, description and a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """A tool call the model made. ``arguments`` is None when ``raw_arguments`` is not a JSON
    object; ``error`` then says why (the loop answers the model with it)."""

    id: str
    name: str
    raw_arguments: str
    arguments: dict[str, Any] | None
    error: str | None = None


@dataclass(frozen=True)
class Message:
    """One turn of the neutral conversation.

    role "user": ``text``; "assistant": ``text`` and ``tool_calls``; "tool": the result of one
    call (``tool_call_id``, ``name``, ``text``, ``is_error``).
    """

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False


@dataclass(frozen=True)
class ModelReply:
    text: str
    tool_calls: tuple[ToolCall, ...]
    input_tokens: int
    output_tokens: int
    stop_reason: str | None = None
    retries: int = 0

    @property
    def empty(self) -> bool:
        return not self.text.strip() and not self.tool_calls


class Provider(Protocol):
    name: str
    model: str
    endpoint: str

    def complete(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> ModelReply: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ProviderSettings:
    """Resolved settings: flags beat ``[tool.perfop.agent]`` beat the defaults."""

    provider: ProviderName
    model: str
    base_url: str
    api_key_env: str
    timeout: float = 120.0
    max_retries: int = 5
    max_tokens: int = 4096


def parse_arguments(
    raw: str | Mapping[str, Any] | None,
) -> tuple[dict[str, Any] | None, str | None]:
    """The arguments of a tool call as a dict, or (None, reason) when they are not a JSON object."""
    if isinstance(raw, Mapping):
        return dict(raw), None
    text = (raw or "").strip() or "{}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"arguments are not valid JSON ({exc.msg} at char {exc.pos})"
    if not isinstance(value, dict):
        return None, f"arguments must be a JSON object, got {type(value).__name__}"
    return value, None


def retry_delay(attempt: int, retry_after: str | None, *, cap: float = 60.0) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): Retry-After if given, else 2**attempt."""
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), cap)
        except ValueError:
            when = email.utils.parsedate_to_datetime(retry_after) if retry_after else None
            if when is not None:
                return min(max(when.timestamp() - time.time(), 0.0), cap)
    return float(min(2**attempt, cap))


class _HTTPProvider:
    """Shared transport: POST JSON, retry on 429/5xx, map errors to one line."""

    name: str = ""

    def __init__(
        self,
        settings: ProviderSettings,
        api_key: str | None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        self.settings = settings
        self.model = settings.model
        self.endpoint = settings.base_url.rstrip("/")
        self._key = api_key
        self._sleep = sleep
        self._client = httpx.Client(timeout=settings.timeout, transport=transport)

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(model={self.model!r}, endpoint={self.endpoint!r})"

    def close(self) -> None:
        self._client.close()

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _clean(self, text: str) -> str:
        out = redact_text(text)
        if self._key:
            out = out.replace(self._key, "[REDACTED]")
        return " ".join(out.split())[:300]

    def _post(self, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        import httpx

        url = self.endpoint + path
        retries = 0
        while True:
            try:
                resp = self._client.post(url, json=body, headers=self._headers())
            except httpx.TimeoutException:
                if retries < self.settings.max_retries:
                    self._sleep(retry_delay(retries, None))
                    retries += 1
                    continue
                raise RemoteError(
                    f"{self.name} endpoint {self.endpoint} timed out after "
                    f"{self.settings.timeout:g} s ({retries} retries); try again later"
                ) from None
            except httpx.HTTPError as exc:
                raise RemoteError(
                    f"{self.name} endpoint {self.endpoint} is unreachable "
                    f"({type(exc).__name__}); check --base-url and that the server is running"
                ) from None
            if resp.status_code in RETRY_STATUSES and retries < self.settings.max_retries:
                self._sleep(retry_delay(retries, resp.headers.get("retry-after")))
                retries += 1
                continue
            if resp.status_code >= 400:
                raise self._error(resp, retries)
            try:
                data = resp.json()
            except ValueError:
                raise RemoteError(
                    f"{self.name} endpoint {self.endpoint} answered {resp.status_code} with a "
                    "body that is not JSON; check --base-url points at the API"
                ) from None
            if not isinstance(data, dict):
                raise RemoteError(f"{self.name} endpoint {self.endpoint}: reply is not an object")
            return data, retries

    def _error(self, resp: httpx.Response, retries: int) -> RemoteError:
        code, message = _error_fields(resp)
        status = resp.status_code
        if status in (401, 403) or code in ("invalid_api_key", "authentication_error"):
            return RemoteError(
                f"{self.name} endpoint {self.endpoint} rejected the API key ({status}); "
                f"set a valid key in {self.settings.api_key_env}"
            )
        if status == 404 or code in ("model_not_found", "not_found_error"):
            return RemoteError(
                f"{self.name} endpoint {self.endpoint}: model {self.model!r} not found ({status}); "
                "pick a model the endpoint serves with --model or [tool.perfop.agent] model"
            )
        if status in RETRY_STATUSES:
            return RemoteError(
                f"{self.name} endpoint {self.endpoint} still answered {status} after {retries} "
                f"retries ({self._clean(message)}); try again later or lower the request rate"
            )
        return RemoteError(
            f"{self.name} endpoint {self.endpoint} answered {status}: {self._clean(message)}"
        )


def _error_fields(resp: httpx.Response) -> tuple[str, str]:
    try:
        data = resp.json()
    except ValueError:
        return "", resp.text[:300]
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        code = str(err.get("code") or err.get("type") or "")
        return code, str(err.get("message") or "")
    if isinstance(err, str):
        return "", err
    return "", json.dumps(data)[:300]


class OpenAIProvider(_HTTPProvider):
    """OpenAI Chat Completions (also vLLM, Ollama, llama.cpp server, LiteLLM ...)."""

    name = "openai"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    @staticmethod
    def wire_messages(system: str, messages: Sequence[Message]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"role": "system", "content": system}]
        for m in messages:
            if m.role == "user":
                out.append({"role": "user", "content": m.text})
            elif m.role == "assistant":
                item: dict[str, Any] = {"role": "assistant", "content": m.text or None}
                if m.tool_calls:
                    item["tool_calls"] = [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.raw_arguments},
                        }
                        for c in m.tool_calls
                    ]
                out.append(item)
            else:
                out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.text})
        return out

    def complete(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> ModelReply:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": self.wire_messages(system, messages),
            "max_tokens": self.settings.max_tokens,
        }
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in tools
            ]
            body["tool_choice"] = "auto"
        data, retries = self._post("/chat/completions", body)
        choices = data.get("choices") or []
        if not choices:
            return ModelReply(
                "",
                (),
                *_usage(data, "prompt_tokens", "completion_tokens"),
                stop_reason=None,
                retries=retries,
            )
        choice = choices[0] or {}
        msg = choice.get("message") or {}
        calls = []
        for i, raw in enumerate(msg.get("tool_calls") or []):
            fn = raw.get("function") or {}
            raw_args = fn.get("arguments")
            args, err = parse_arguments(raw_args)
            calls.append(
                ToolCall(
                    id=str(raw.get("id") or f"call_{i}"),
                    name=str(fn.get("name") or ""),
                    raw_arguments=raw_args if isinstance(raw_args, str) else json.dumps(raw_args),
                    arguments=args,
                    error=err,
                )
            )
        content = msg.get("content")
        text = content if isinstance(content, str) else ""
        return ModelReply(
            text,
            tuple(calls),
            *_usage(data, "prompt_tokens", "completion_tokens"),
            stop_reason=choice.get("finish_reason"),
            retries=retries,
        )


class AnthropicProvider(_HTTPProvider):
    """Anthropic Messages API with tool_use / tool_result blocks."""

    name = "anthropic"

    def _headers(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if self._key:
            headers["x-api-key"] = self._key
        return headers

    @staticmethod
    def wire_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
        """Blocks per message; consecutive user-side turns (text, tool results) are merged,
        because the API wants user and assistant turns to alternate."""
        out: list[dict[str, Any]] = []
        for m in messages:
            if m.role == "assistant":
                blocks: list[dict[str, Any]] = []
                if m.text:
                    blocks.append({"type": "text", "text": m.text})
                for c in m.tool_calls:
                    blocks.append(
                        {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments or {}}
                    )
                out.append(
                    {"role": "assistant", "content": blocks or [{"type": "text", "text": ""}]}
                )
                continue
            if m.role == "tool":
                block: dict[str, Any] = {
                    "type": "tool_result",
                    "tool_use_id": m.tool_call_id,
                    "content": m.text,
                }
                if m.is_error:
                    block["is_error"] = True
            else:
                block = {"type": "text", "text": m.text}
            if out and out[-1]["role"] == "user":
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        return out

    def complete(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> ModelReply:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.settings.max_tokens,
            "system": system,
            "messages": self.wire_messages(messages),
        }
        if tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]
        data, retries = self._post("/v1/messages", body)
        texts: list[str] = []
        calls: list[ToolCall] = []
        for i, block in enumerate(data.get("content") or []):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                texts.append(str(block.get("text") or ""))
            elif block.get("type") == "tool_use":
                raw_input = block.get("input")
                args, err = parse_arguments(
                    raw_input if isinstance(raw_input, dict) else json.dumps(raw_input)
                )
                calls.append(
                    ToolCall(
                        id=str(block.get("id") or f"toolu_{i}"),
                        name=str(block.get("name") or ""),
                        raw_arguments=json.dumps(raw_input),
                        arguments=args,
                        error=err,
                    )
                )
        return ModelReply(
            "\n".join(t for t in texts if t),
            tuple(calls),
            *_usage(data, "input_tokens", "output_tokens"),
            stop_reason=data.get("stop_reason"),
            retries=retries,
        )


def _usage(data: Mapping[str, Any], inp: str, out: str) -> tuple[int, int]:
    usage = data.get("usage") or {}
    try:
        return int(usage.get(inp) or 0), int(usage.get(out) or 0)
    except (TypeError, ValueError):
        return 0, 0


def resolve_settings(
    config: Any,
    *,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
) -> ProviderSettings:
    """Merge flags over ``[tool.perfop.agent]`` (``config`` is its ``AgentConfig``)."""
    name = provider or config.provider
    if name not in PROVIDERS:
        raise UsageError(f"--provider {name}: unknown; use one of: {', '.join(PROVIDERS)}")
    return ProviderSettings(
        provider="anthropic" if name == "anthropic" else "openai",
        model=model or config.model or DEFAULT_MODEL[name],
        base_url=(base_url or config.base_url or DEFAULT_BASE_URL[name]).rstrip("/"),
        api_key_env=config.api_key_env or DEFAULT_KEY_ENV[name],
    )


def make_provider(
    settings: ProviderSettings,
    *,
    environ: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Provider:
    """Build the provider; the key is read from ``settings.api_key_env`` here and only here.

    A missing key is an error for the vendors' own endpoints; a self-hosted OpenAI-compatible
    server (Ollama, vLLM ...) at another URL may need none.
    """
    env = os.environ if environ is None else environ
    key = env.get(settings.api_key_env) or None
    official = settings.base_url == DEFAULT_BASE_URL[settings.provider]
    if key is None and (official or settings.provider == "anthropic"):
        raise ConfigError(
            f"{settings.api_key_env} is not set; export your {settings.provider} API key in it "
            "(or name another variable with [tool.perfop.agent] api_key_env)"
        )
    if settings.provider == "anthropic":
        return AnthropicProvider(settings, key, transport=transport, sleep=sleep)
    return OpenAIProvider(settings, key, transport=transport, sleep=sleep)


@dataclass
class Usage:
    """Running totals the loop checks against its budget."""

    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    retries: int = 0
    by_stage: dict[str, int] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, reply: ModelReply, stage: str) -> None:
        self.steps += 1
        self.input_tokens += reply.input_tokens
        self.output_tokens += reply.output_tokens
        self.retries += reply.retries
        self.by_stage[stage] = self.by_stage.get(stage, 0) + 1
