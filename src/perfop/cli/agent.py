"""``perfop agent "GOAL"`` (the operator as an autonomous agent) and ``perfop agent log``."""

from __future__ import annotations

import math
import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from perfop.cli.common import FORMAT_OPTION, OutputFormat, emit_json, get_state


class _DefaultRun(TyperGroup):
    """``perfop agent GOAL`` means ``perfop agent run GOAL``; ``perfop agent log`` is the log."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


class ConsoleTerminal:
    """The human at the terminal: stage updates to stdout, questions read from stdin."""

    def __init__(self, interactive: bool) -> None:
        self._interactive = interactive

    @property
    def interactive(self) -> bool:
        return self._interactive

    def say(self, text: str) -> None:
        sys.stdout.write(text.rstrip("\n") + "\n")
        sys.stdout.flush()

    def ask(self, prompt: str) -> str | None:
        if not self._interactive:
            return None
        sys.stdout.write(prompt)
        sys.stdout.flush()
        line = sys.stdin.readline()
        return line.rstrip("\r\n") if line else None


def register(app: typer.Typer) -> None:
    agent_app = typer.Typer(
        cls=_DefaultRun,
        help='The operator as an autonomous agent: perfop agent "GOAL" works the engagement '
        "end to end with an LLM (OpenAI-compatible or Anthropic), in a sandbox branch, asking a "
        "human at every risky step; perfop agent log shows a session's transcript.",
        no_args_is_help=True,
    )
    agent_app.command("run", help='Work an engagement toward GOAL (same as: perfop agent "GOAL").')(
        agent_run
    )
    agent_app.command("log", help="Show an agent session's transcript (redacted).")(agent_log)
    app.add_typer(agent_app, name="agent")


def agent_run(
    ctx: typer.Context,
    goal: Annotated[str, typer.Argument(help="What to achieve, in plain words.")],
    model: Annotated[str | None, typer.Option("--model", help="Model name.")] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help="openai (any compatible API) or anthropic.")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="API endpoint, e.g. http://localhost:11434/v1")
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", help="At most this many model calls.")
    ] = None,
    budget_tokens: Annotated[
        int | None, typer.Option("--budget-tokens", help="At most this many tokens in total.")
    ] = None,
    max_time: Annotated[
        float | None, typer.Option("--max-time", help="Wall-time budget in seconds.")
    ] = None,
    yes_low_risk: Annotated[
        bool,
        typer.Option(
            "--yes-low-risk",
            help="Implement low- and medium-risk designs without asking (never high risk).",
        ),
    ] = False,
) -> None:
    from perfop.agent.loop import AgentOptions, AgentRunner, Budget
    from perfop.agent.providers import make_provider, resolve_settings
    from perfop.errors import PerfopError, UsageError
    from perfop.redact import Redactor

    if not goal.strip():
        raise UsageError('GOAL is empty; say what to achieve, e.g. perfop agent "make X faster"')
    for flag, value in (
        ("--max-steps", max_steps),
        ("--budget-tokens", budget_tokens),
        ("--max-time", max_time),
    ):
        if value is not None and not 0 < value < math.inf:  # nan fails both comparisons
            raise UsageError(f"{flag} must be a finite number > 0 (got {value})")
    state = get_state(ctx)
    loaded = state.loaded
    cfg = loaded.config.agent
    settings = resolve_settings(cfg, provider=provider, model=model, base_url=base_url)
    secrets = [os.environ.get(settings.api_key_env, "")]
    llm = make_provider(settings)
    try:
        runner = AgentRunner(
            provider=llm,
            store=state.store,
            loaded=loaded,
            terminal=ConsoleTerminal(sys.stdin.isatty()),
            options=AgentOptions(
                goal=goal.strip(),
                budget=Budget(
                    max_steps=max_steps or cfg.max_steps,
                    max_tokens=budget_tokens or cfg.budget_tokens,
                    max_time=max_time or cfg.max_time,
                ),
                yes_low_risk=yes_low_risk,
            ),
            redactor=Redactor.from_environment(secrets),
        )
        outcome = runner.run()
    finally:
        llm.close()
    if outcome.status == "error":
        raise PerfopError(outcome.stop_reason or "the agent stopped on an error")


def agent_log(
    ctx: typer.Context,
    session: Annotated[
        int | None, typer.Option("--session", help="Session id (default: the latest).")
    ] = None,
    engagement: Annotated[
        int | None, typer.Option("--engagement", help="The latest session of this engagement.")
    ] = None,
    list_all: Annotated[bool, typer.Option("--list", help="List the sessions.")] = False,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.agent.transcript import format_session, session_document
    from perfop.errors import UsageError
    from perfop.store import agent as sa_agent

    state = get_state(ctx)
    sessions = sa_agent.list_sessions(state.store, engagement_id=engagement)
    if list_all:
        if fmt is OutputFormat.json:
            from perfop.services.envelope import AGENT_SESSIONS_SCHEMA, envelope

            emit_json(envelope(AGENT_SESSIONS_SCHEMA, sessions=[s.to_dict() for s in sessions]))
        else:
            for s in sessions:
                typer.echo(
                    f"{s.id}\t{s.status}\tengagement {s.engagement_id or '-'}\t"
                    f"{s.branch or '-'}\t{s.goal}"
                )
        return
    chosen: Any
    if session is not None:
        chosen = sa_agent.get_session(state.store, session)
        if chosen is None:
            raise UsageError(
                f"--session {session}: no such agent session; see perfop agent log --list"
            )
    elif sessions:
        chosen = sessions[-1]
    else:
        raise UsageError('no agent session yet; start one with: perfop agent "GOAL"')
    messages = sa_agent.list_messages(state.store, chosen.id)
    if fmt is OutputFormat.json:
        emit_json(session_document(chosen, messages))
    else:
        sys.stdout.write(format_session(chosen, messages))
