"""The agent's transcript: every model message, tool call, tool result and runner event, redacted,
stored with the engagement (``perfop.store.agent``) and rendered for ``perfop agent log``.

Redaction happens here, before anything reaches the store: the generic credential patterns of
``perfop.redact`` plus the exact values of the secrets the runner knows about
(the API key it was given), so even a key in an unusual format never lands on disk.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from perfop.redact import Redactor
from perfop.store import Store
from perfop.store import agent as sa_agent


class Transcript:
    """Append-only record of one agent session."""

    def __init__(self, store: Store, session_id: int, redactor: Redactor) -> None:
        self.store = store
        self.session_id = session_id
        self.redactor = redactor
        self._seq = 0

    @classmethod
    def begin(
        cls,
        store: Store,
        *,
        goal: str,
        provider: str,
        model: str,
        endpoint: str,
        redactor: Redactor,
    ) -> Transcript:
        sid = sa_agent.begin_session(
            store,
            goal=redactor.text(goal),
            provider=provider,
            model=model,
            endpoint=redactor.text(endpoint),
        )
        return cls(store, sid, redactor)

    def record(
        self,
        *,
        stage: str,
        role: str,
        content: Any,
        name: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
    ) -> None:
        self._seq += 1
        sa_agent.add_message(
            self.store,
            self.session_id,
            seq=self._seq,
            stage=stage,
            role=role,
            name=name,
            content=self.redactor.obj(content),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    def update(self, **values: Any) -> None:
        sa_agent.update_session(self.store, self.session_id, **self.redactor.obj(values))


def _one(content: Any) -> str:
    if isinstance(content, dict):
        parts = []
        if content.get("text"):
            parts.append(str(content["text"]))
        for call in content.get("tool_calls") or []:
            parts.append(f"-> {call.get('name')}({call.get('arguments')})")
        if "result" in content:
            flag = " [error]" if content.get("is_error") else ""
            parts.append(f"{content['result']}{flag}")
        return "\n".join(parts) if parts else json.dumps(content)
    return str(content)


def format_session(
    session: sa_agent.SessionRecord, messages: Sequence[sa_agent.MessageRecord]
) -> str:
    """The transcript of one session as plain text (what ``perfop agent log`` prints)."""
    lines = [
        f"# agent session {session.id}: {session.goal}",
        f"engagement: {session.engagement_id or '-'}  branch: {session.branch or '-'}  "
        f"status: {session.status}",
        f"model: {session.provider}/{session.model} at {session.endpoint}",
        f"steps: {session.steps}  tokens: {session.input_tokens} in / {session.output_tokens} out",
        f"started: {session.started_at}  finished: {session.finished_at or '-'}",
        "",
    ]
    stage = None
    for m in messages:
        if m.stage != stage:
            stage = m.stage
            lines.append(f"== {stage} ==")
        who = m.role + (f" {m.name}" if m.name else "")
        body = _one(m.content).rstrip()
        if len(body) > 2000:
            body = body[:2000] + f" ... [{len(body) - 2000} more characters]"
        indented = body.replace("\n", "\n    ")
        lines.append(f"[{m.seq}] {who}: {indented}")
    if session.summary:
        lines += ["", session.summary]
    return "\n".join(lines) + "\n"


def session_document(
    session: sa_agent.SessionRecord, messages: Sequence[sa_agent.MessageRecord]
) -> dict[str, Any]:
    from perfop.services.envelope import AGENT_LOG_SCHEMA, envelope

    return envelope(
        AGENT_LOG_SCHEMA, session=session.to_dict(), messages=[m.to_dict() for m in messages]
    )
