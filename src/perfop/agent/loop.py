"""The lifecycle-driven agent loop: the runner walks the stages, the model works inside each one.

Stages: intake -> inventory -> baseline -> profile -> hypotheses -> design -> implementation ->
validation -> report -> verify. In each stage the model sees only that stage's tools (plus
``finish_stage``); the runner itself does what must not be left to a model:

- after intake: the recap and the open questions go to the human (one prompt on a terminal; with
  no terminal they are recorded and the agent proceeds on the stated assumptions);
- after design: low-risk designs proceed with ``--yes-low-risk`` or a yes on the terminal; a
  high-risk design always stops for a human approval on the terminal (refused with no terminal);
- implementation and validation run per hypothesis: the edits are snapshotted, A/B validated, and
  only a confirmed candidate is committed on the sandbox branch; anything else is reverted and
  logged;
- each stage is announced on the terminal and in the decision log; budgets (model calls, tokens,
  wall time) end the run cleanly; the run always ends with the approval-ready summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from perfop.agent.providers import Message, ModelReply, Provider, ToolCall, ToolSpec, Usage
from perfop.agent.sandbox import Sandbox
from perfop.agent.tools import AgentTool, ToolBox, ToolOutput
from perfop.agent.transcript import Transcript
from perfop.config import LoadedConfig
from perfop.engagement.records import Actor, Hypothesis, Status
from perfop.errors import PerfopError, UsageError
from perfop.redact import Redactor
from perfop.store import Store

STAGES: tuple[str, ...] = (
    "intake",
    "inventory",
    "baseline",
    "profile",
    "hypotheses",
    "design",
    "implementation",
    "validation",
    "report",
    "verify",
)
STAGE_STEP_CAP = 30
EMPTY_REPLIES_CAP = 3
AGENT_ACTOR = Actor(name="perfop-agent", kind="agent")

STAGE_BRIEF: dict[str, str] = {
    "intake": "Record the engagement with the intake tool: a title, the goals (with measurable "
    "targets where the goal states them), the configured workloads that matter, constraints, "
    "risk tolerance and the assumptions you are making. The runner then shows the recap and the "
    "open questions to the human.",
    "inventory": "Take the inventory of what the repository already has (inventory tool).",
    "baseline": "Measure the baseline of the engagement's workloads at the base commit (run "
    "tool; a few runs are enough for a first picture).",
    "profile": "Profile the slowest workload (profile tool) and read the hot spots' code "
    "(view, search) to understand why they are hot.",
    "hypotheses": "Log ranked hypotheses (hypothesis_add), each with its root cause, the files it "
    "touches (components), expected_ratio, confidence, effort, risk and verification steps; cite "
    "profile hot spots in evidence.",
    "design": "Record a design for the hypotheses worth doing (design): the fix, fallback, "
    "feature flag or kill switch, rollback, tests, and an honest risk level. High-risk designs "
    "will need a human approval.",
    "implementation": "Implement the design in the sandbox worktree (edit; bash to run the tests). "
    "Do not commit: the runner validates the change and commits it only if it is confirmed.",
    "validation": "Validate the candidate (validate tool): an interleaved A/B against its parent "
    "plus the regression tests. Then finish the stage with what the evidence says.",
    "report": "Write the engagement report (report tool).",
    "verify": "Run the hand-off checklist (verify) and say what remains for the human.",
}

SYSTEM_PROMPT = """You are perfop, a Performance Optimization Operator working one engagement on a \
Python repository. The runner walks the lifecycle stages in order and offers you only the tools \
of the current stage; call finish_stage with a short summary when a stage's work is done. Work \
from evidence: measure before you change, profile before you guess, and state predictions you \
can check. All edits happen in a sandbox git worktree on a branch of its own; the runner commits \
a change only after validation confirms it and reverts anything else. Never try to push, force, \
touch the user's branches or read credentials: such commands are refused and logged. Keep replies \
short."""


class Terminal(Protocol):
    """Where the runner talks to the human. ``ask`` returns None when nobody can answer."""

    @property
    def interactive(self) -> bool: ...

    def say(self, text: str) -> None: ...

    def ask(self, prompt: str) -> str | None: ...


@dataclass(frozen=True)
class Budget:
    max_steps: int
    max_tokens: int
    max_time: float


@dataclass(frozen=True)
class AgentOptions:
    goal: str
    budget: Budget
    yes_low_risk: bool = False
    bash_timeout: float = 300.0
    seed: int = 0


def _brief(text: str, limit: int = 160) -> str:
    """One line of at most ``limit`` characters for the terminal."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class _CompareProgress:
    """Pairs of the validation's A/B as terminal lines."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say

    def workload_started(self, name: str, planned_pairs: int) -> None:
        self.say(f"[validation] {name}: up to {planned_pairs} interleaved pairs")

    def pair_done(self, name: str, pairs: int, planned_pairs: int) -> None:
        if pairs % 5 == 0:
            self.say(f"[validation] {name}: {pairs} pairs")

    def workload_finished(self, name: str) -> None:
        self.say(f"[validation] {name}: done")

    def notice(self, name: str, level: str, text: str) -> None:
        self.say(f"[validation] {level}: {text}")


class BudgetSpent(Exception):
    """Raised between model calls when a budget is spent; ends the run with the summary."""


@dataclass
class AgentOutcome:
    session_id: int
    engagement_id: int | None
    branch: str | None
    status: str  # completed | budget | error
    stop_reason: str | None
    summary: str
    commits: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


class AgentRunner:
    """One ``perfop agent`` session from goal to approval-ready summary."""

    def __init__(
        self,
        *,
        provider: Provider,
        store: Store,
        loaded: LoadedConfig,
        terminal: Terminal,
        options: AgentOptions,
        redactor: Redactor,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.store = store
        self.loaded = loaded
        self.terminal = terminal
        self.options = options
        self.redactor = redactor
        self.clock = clock
        self.usage = Usage()
        self.messages: list[Message] = []
        self.engagement_id: int | None = None
        self.sandbox: Sandbox | None = None
        self.transcript: Transcript | None = None
        self.toolbox: ToolBox | None = None
        self.stage = "intake"
        self.commits: list[str] = []
        self.focus: Hypothesis | None = None
        self.pending: tuple[Hypothesis, str] | None = None  # (hypothesis, candidate sha)
        self.validated: Any = None
        self.report_path: str | None = None
        self.answers: list[str] = []
        self.notes: list[str] = []
        self._started = 0.0
        self._known: set[int] = set()
        self._closed = False

    # --- output -------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        self.terminal.say(self.redactor.text(text))

    def record(self, role: str, content: Any, **kw: Any) -> None:
        assert self.transcript is not None
        self.transcript.record(stage=self.stage, role=role, content=content, **kw)

    def log(self, text: str, *, kind: str = "decision") -> None:
        """A decision-log entry by the agent (only once the engagement exists)."""
        self.record("runner", {"text": text})
        if self.engagement_id is None:
            self.notes.append(text)
            return
        from perfop.engagement import service

        service.add_note(self.store, self.redactor.text(text), kind=kind, actor=AGENT_ACTOR)

    # --- the run ------------------------------------------------------------------------------
    def run(self) -> AgentOutcome:
        self._started = self.clock()
        self.transcript = Transcript.begin(
            self.store,
            goal=self.options.goal,
            provider=self.provider.name,
            model=self.provider.model,
            endpoint=self.provider.endpoint,
            redactor=self.redactor,
        )
        status, reason = "completed", None
        try:
            from perfop.engagement import service

            self._known = {e.id for e in service.list_engagements(self.store)}
            from perfop.measure.worktrees import default_base

            base = default_base(self.loaded.repo_root, self.loaded.config.base)
            self.sandbox = Sandbox.create(
                self.loaded.repo_root, f"agent-{self.transcript.session_id}", base
            )
            self.toolbox = ToolBox.build(
                sandbox=self.sandbox,
                store=self.store,
                actor=AGENT_ACTOR,
                extra=self._runner_tools(),
                bash_timeout=self.options.bash_timeout,
            )
            self.say(
                f"perfop agent: session {self.transcript.session_id}, goal: {self.options.goal}"
            )
            self.messages.append(Message("user", self._intro()))
            self._walk()
        except BudgetSpent as exc:
            status, reason = "budget", str(exc)
            self.say(f"stopping: {reason}")
        except PerfopError as exc:
            status, reason = "error", exc.message
            self.say(f"stopping: {reason}")
        except BaseException:
            # Ctrl-C or a bug: still revert unvalidated edits and remove the worktree.
            self._wind_down("interrupted")
            self.transcript.update(status="interrupted", steps=self.usage.steps)
            raise
        self._wind_down(reason)
        summary = self._summary(status, reason)
        self.say(summary)
        assert self.transcript is not None
        self.stage = "summary"
        self.record("runner", {"text": summary})
        self.transcript.update(
            status=status,
            summary=summary,
            steps=self.usage.steps,
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
        )
        return AgentOutcome(
            session_id=self.transcript.session_id,
            engagement_id=self.engagement_id,
            branch=self.sandbox.branch if self.sandbox else None,
            status=status,
            stop_reason=reason,
            summary=summary,
            commits=list(self.commits),
            usage=self.usage,
        )

    def _intro(self) -> str:
        cfg = self.loaded.config
        workloads = ", ".join(
            f"{n} ({w.description or w.command})" for n, w in cfg.workloads.items()
        )
        return (
            f"Goal from the human: {self.options.goal}\n"
            f"Configured workloads: {workloads or 'none'}\n"
            f"Test command: {cfg.test_command or 'none configured'}\n"
            f"Threshold: {cfg.threshold:g}; "
            f"high-risk paths: {', '.join(cfg.high_risk_paths) or '-'}"
        )

    def _walk(self) -> None:
        for stage in ("intake", "inventory", "baseline", "profile", "hypotheses", "design"):
            self.run_stage(stage)
            if stage == "intake":
                self._after_intake()
        for hyp in self._ready_hypotheses():
            self._implement_and_validate(hyp)
        self.run_stage("report")
        if self.report_path is None:
            self._write_report()
        self.run_stage("verify")

    # --- one stage ----------------------------------------------------------------------------
    def run_stage(self, stage: str, *, extra: str = "") -> str:
        assert self.toolbox is not None
        self.stage = stage
        brief = STAGE_BRIEF[stage]
        self.say(f"== stage: {stage} ==")
        self.log(f"agent stage {stage}: {brief.split('.')[0]}")
        tools = self.toolbox.specs(stage)
        self.messages.append(
            Message(
                "user",
                f"Stage: {stage}. {brief}{(' ' + extra) if extra else ''}\n"
                f"Tools in this stage: {', '.join(t.name for t in tools)}.",
            )
        )
        self.record("user", {"text": self.messages[-1].text})
        empties = 0
        for _ in range(STAGE_STEP_CAP):
            reply = self._complete(tools)
            if reply.empty:
                empties += 1
                self.record(
                    "assistant",
                    {"text": "", "empty": True},
                    input_tokens=reply.input_tokens,
                    output_tokens=reply.output_tokens,
                )
                if empties >= EMPTY_REPLIES_CAP:
                    self.log(
                        f"stage {stage} ended after {empties} empty model replies", kind="risk"
                    )
                    return ""
                nudge = "Your reply was empty. Call one of the tools, or finish_stage."
                self.messages.append(Message("user", nudge))
                self.record("user", {"text": nudge})
                continue
            empties = 0
            self.messages.append(Message("assistant", reply.text, reply.tool_calls))
            self.record(
                "assistant",
                {
                    "text": reply.text,
                    "tool_calls": [
                        {"id": c.id, "name": c.name, "arguments": c.raw_arguments}
                        for c in reply.tool_calls
                    ],
                },
                input_tokens=reply.input_tokens,
                output_tokens=reply.output_tokens,
            )
            if reply.text.strip():
                self.say(f"[{stage}] {reply.text.strip()}")
            if not reply.tool_calls:
                return reply.text  # a plain answer ends the stage
            finished: str | None = None
            for call in reply.tool_calls:
                if call.name == "finish_stage" and call.arguments is not None:
                    finished = str(call.arguments.get("summary") or reply.text or "done")
                    self._answer(call, ToolOutput("stage finished"))
                    continue
                self._answer(call, self._execute(stage, call))
            if finished is not None:
                self.say(f"[{stage}] done: {finished}")
                return finished
        self.log(f"stage {stage} ended at its cap of {STAGE_STEP_CAP} model calls", kind="risk")
        return ""

    def _complete(self, tools: list[ToolSpec]) -> ModelReply:
        b = self.options.budget
        if self.usage.steps >= b.max_steps:
            raise BudgetSpent(
                f"step budget spent ({self.usage.steps} of {b.max_steps} model calls)"
            )
        if self.usage.tokens >= b.max_tokens:
            raise BudgetSpent(f"token budget spent ({self.usage.tokens} of {b.max_tokens} tokens)")
        elapsed = self.clock() - self._started
        if elapsed >= b.max_time:
            raise BudgetSpent(f"time budget spent ({elapsed:.0f} s of {b.max_time:g} s)")
        reply = self.provider.complete(SYSTEM_PROMPT, self.messages, tools)
        self.usage.add(reply, self.stage)
        return reply

    def _execute(self, stage: str, call: ToolCall) -> ToolOutput:
        assert self.toolbox is not None
        self.say(f"[{stage}] -> {call.name} {_brief(call.raw_arguments)}")
        if call.arguments is None:
            return ToolOutput(
                f"error: {call.error}; call {call.name} again with a JSON object matching its "
                "schema",
                is_error=True,
            )
        out = self.toolbox.call(stage, call.name, call.arguments)
        self.say(f"[{stage}]    {_brief(out.text)}")
        if out.refused:
            what = call.arguments.get("command") or call.arguments.get("path") or call.name
            self.log(f"refused {call.name} {what!r}: {out.text}", kind="risk")
            self.say(f"[{stage}] {out.text}")
        return out

    def _answer(self, call: ToolCall, out: ToolOutput) -> None:
        text = self.redactor.text(out.text)
        self.messages.append(
            Message("tool", text, tool_call_id=call.id, name=call.name, is_error=out.is_error)
        )
        self.record(
            "tool", {"call_id": call.id, "result": text, "is_error": out.is_error}, name=call.name
        )

    # --- runner-driven steps ------------------------------------------------------------------
    def _after_intake(self) -> None:
        from perfop.engagement import service

        assert self.transcript is not None and self.sandbox is not None
        try:
            eng = service.current(self.store)
        except UsageError:
            eng = None
        if eng is None or eng.id in self._known:
            spec = service.parse_intake_mapping(
                {
                    "title": self.options.goal[:120],
                    "goals": [self.options.goal],
                    "workloads": list(self.loaded.config.workloads),
                    "assumptions": ["the configured workloads represent production use"],
                },
                self.loaded,
                "agent goal",
            )
            eng = service.start_engagement(self.store, self.loaded, spec, actor=AGENT_ACTOR)
            self.log("the model recorded no intake; the runner recorded one from the goal")
        self.engagement_id = eng.id
        # Validation compares against the engagement's base: the sandbox starts from it too.
        from perfop.measure.worktrees import default_base, resolve_ref

        base = eng.spec.base or default_base(self.loaded.repo_root, self.loaded.config.base)
        self.sandbox.move_base(resolve_ref(self.loaded.repo_root, base))
        branch = self.sandbox.attach_branch(f"perfop/engagement-{eng.id}")
        self.transcript.update(engagement_id=eng.id, branch=branch)
        for text in self.notes:
            service.add_note(
                self.store, self.redactor.text(text), kind="decision", actor=AGENT_ACTOR
            )
        self.notes.clear()
        self.log(
            f"agent transcript: perfop agent log --session {self.transcript.session_id} "
            f"(sandbox branch {branch})"
        )
        recap = service.recap(self.store, eng)
        self.say(recap)
        questions = list(eng.open_questions)
        if questions and self.terminal.interactive:
            answer = self.terminal.ask(
                "Answer the open questions above (one line), or press Enter to let the agent "
                "proceed on its stated assumptions: "
            )
            if answer and answer.strip():
                self.answers.append(answer.strip())
                self.record("human", {"text": answer.strip()})
                service.add_note(
                    self.store,
                    f"answers to the open questions: {answer.strip()}",
                    kind="stakeholder",
                    actor=Actor("terminal user"),
                )
        if questions and not self.answers:
            assumptions = (
                "; ".join(eng.spec.assumptions)
                or "the configured workloads and test command are representative"
            )
            why = "no terminal" if not self.terminal.interactive else "no answer given"
            self.log(
                f"{why}: {len(questions)} open question(s) recorded; proceeding on the stated "
                f"assumptions: {assumptions}",
                kind="stakeholder",
            )
        service.confirm_intake(self.store, actor=AGENT_ACTOR)
        reply = (
            f"The human answered: {' | '.join(self.answers)}"
            if self.answers
            else "No answers to the open questions: proceed on your stated assumptions."
        )
        self.messages.append(Message("user", reply))
        self.record("user", {"text": reply})

    def _ready_hypotheses(self) -> list[Hypothesis]:
        """Designed hypotheses cleared for implementation, best ranked first."""
        from perfop.engagement import lifecycle

        if self.engagement_id is None:
            return []
        ready = []
        for ranked in lifecycle.ranked(self.store):
            hyp = ranked.hypothesis
            if hyp.status not in (Status.DESIGNED, Status.APPROVED):
                continue
            if self._cleared(hyp):
                ready.append(hyp)
        if not ready:
            self.log("no designed hypothesis is cleared for implementation", kind="follow-up")
        return ready

    def _needs_approval(self, hyp: Hypothesis) -> bool:
        from perfop.engagement.hypotheses import needs_approval

        return needs_approval(hyp, self.loaded.config.high_risk_paths)

    def _approved(self, hyp: Hypothesis) -> bool:
        from perfop.engagement import lifecycle

        return bool(lifecycle.show(self.store, self.loaded, hyp.label).approvals)

    def _cleared(self, hyp: Hypothesis) -> bool:
        """Ask the human where the rules say so; True when the hypothesis may be implemented."""
        from perfop.engagement import lifecycle

        detail = lifecycle.show(self.store, self.loaded, hyp.label)
        fix = detail.design.fix if detail.design else hyp.statement
        if self._needs_approval(hyp):
            if detail.approvals:
                return True
            self.say(f"{hyp.label} is HIGH RISK and needs a human approval: {fix}")
            if not self.terminal.interactive:
                self.log(
                    f"approval needed: high-risk {hyp.label} is not implemented without a human "
                    f"approval (no terminal to ask); a human runs: perfop approve {hyp.label} "
                    "--by NAME, then re-runs the agent",
                    kind="stakeholder",
                )
                return False
            name = self.terminal.ask(
                f"Approve {hyp.label} (high risk)? Type your name to approve, or press Enter "
                "to refuse: "
            )
            if not name or not name.strip():
                self.record("human", {"text": f"refused approval of {hyp.label}"})
                self.log(f"the human refused approval of high-risk {hyp.label}", kind="stakeholder")
                return False
            self.record("human", {"text": f"approved {hyp.label} as {name.strip()}"})
            lifecycle.approve(
                self.store,
                self.loaded,
                hyp.label,
                by=name.strip(),
                actor=Actor(name.strip()),
                note="approved on the terminal during perfop agent",
            )
            return True
        if self.options.yes_low_risk:
            self.log(f"{hyp.label} ({hyp.risk} risk) proceeds to implementation (--yes-low-risk)")
            return True
        if self.terminal.interactive:
            ans = self.terminal.ask(f"Implement {hyp.label} ({hyp.risk} risk): {fix}? [y/N] ")
            if ans and ans.strip().lower() in ("y", "yes"):
                self.record("human", {"text": f"go ahead with {hyp.label}"})
                return True
        self.log(
            f"{hyp.label} ({hyp.risk} risk) not implemented: nobody confirmed it; re-run with "
            "--yes-low-risk or answer on a terminal",
            kind="follow-up",
        )
        return False

    def _implement_and_validate(self, hyp: Hypothesis) -> None:
        from perfop.engagement import lifecycle
        from perfop.engagement.hypotheses import matches_high_risk

        assert self.sandbox is not None
        self.focus = hyp
        detail = lifecycle.show(self.store, self.loaded, hyp.label)
        fix = detail.design.fix if detail.design else hyp.statement
        self.run_stage(
            "implementation", extra=f"Implement {hyp.label}: {hyp.statement} Design: {fix}"
        )
        changed = self.sandbox.changed_files()
        if not changed:
            self.log(
                f"{hyp.label}: the implementation changed no file; nothing to validate",
                kind="follow-up",
            )
            return
        hits = matches_high_risk(changed, self.loaded.config.high_risk_paths)
        if hits and not self._approved(hyp):
            lifecycle.update(
                self.store,
                self.loaded,
                hyp.label,
                actor=AGENT_ACTOR,
                components=sorted({*hyp.components, *hits}),
                note="the change touches high_risk_paths",
            )
            hyp = lifecycle.get(self.store, hyp.label)
            if not self._cleared(hyp):
                files = self.sandbox.revert()
                self.log(
                    f"{hyp.label}: change to high-risk paths {', '.join(hits)} not approved; "
                    f"reverted {', '.join(files)}",
                    kind="risk",
                )
                return
        sha = self.sandbox.snapshot(f"{hyp.label}: {hyp.statement}\n\nperfop agent candidate")
        lifecycle.update(
            self.store,
            self.loaded,
            hyp.label,
            actor=AGENT_ACTOR,
            candidate=sha,
            note=f"candidate in sandbox: {', '.join(changed)}",
        )
        self.pending = (lifecycle.get(self.store, hyp.label), sha)
        self.validated = None
        self.run_stage("validation", extra=f"Validate {hyp.label} (candidate {sha[:12]}).")
        if self.validated is None:
            self.say(f"[validation] the model did not validate {hyp.label}; the runner does")
            self._validate({})
        result = self.validated.outcome if self.validated is not None else None
        # A confirmed change with a regression (another gated workload slower, an SLO newly
        # broken) is not the agent's to keep: reverted, the regression logged, a person decides.
        if result is not None and result.status is Status.CONFIRMED and not result.regressions:
            self.sandbox.adopt(sha)
            self.commits.append(sha)
            self.log(f"{hyp.label} confirmed; committed {sha[:12]} on {self.sandbox.branch}")
        else:
            files = self.sandbox.revert()
            outcome = result.headline if result is not None else "not validated"
            current = lifecycle.get(self.store, hyp.label)
            if current.status is not Status.REVERTED:
                lifecycle.update(
                    self.store,
                    self.loaded,
                    hyp.label,
                    actor=AGENT_ACTOR,
                    status=Status.REVERTED,
                    note=f"{outcome}: change reverted from "
                    f"the sandbox ({', '.join(files)}); attempt kept at {sha[:12]}",
                )
            self.log(
                f"{hyp.label} {outcome}; reverted {', '.join(files)}, nothing committed",
                kind="risk",
            )
        self.pending = None
        self.focus = None

    # --- the runner's own tools ---------------------------------------------------------------
    def _runner_tools(self) -> dict[str, AgentTool]:
        empty = {"type": "object", "properties": {}, "additionalProperties": False}
        return {
            "validate": AgentTool(
                ToolSpec(
                    "validate",
                    "A/B validate the current candidate against its parent "
                    "(interleaved runs, statistics, regression tests) and record the "
                    "outcome. The runner commits it on the sandbox branch only if confirmed, "
                    "and reverts it otherwise.",
                    empty,
                ),
                self._validate,
            ),
            "report": AgentTool(
                ToolSpec(
                    "report",
                    "Write the engagement's report (Markdown) with the evidence "
                    "and the approval-ready summary.",
                    empty,
                ),
                lambda _a: ToolOutput(f"report written: {self._write_report()}"),
            ),
        }

    def _validate(self, _args: dict[str, Any]) -> ToolOutput:
        """The engagement's validate service on the pending candidate, remembered for the
        commit-or-revert decision that follows the validation stage."""
        from perfop.engagement.validate import validate

        if self.pending is None:
            return ToolOutput("error: no candidate to validate in this stage", is_error=True)
        if self.validated is not None:
            return ToolOutput(f"already validated: {self.validated.outcome.status.value}")
        hyp, _sha = self.pending
        report = validate(
            self.store,
            self.loaded,
            hyp.label,
            actor=AGENT_ACTOR,
            seed=self.options.seed,
            progress=_CompareProgress(self.say),
        )
        self.validated = report
        outcome = report.outcome
        verdict = f"{hyp.label} {outcome.headline}: " + "; ".join(outcome.reasons)
        self.say(f"[validation] {verdict}")
        keep = outcome.status is Status.CONFIRMED and not outcome.regressions
        then = "it will be committed" if keep else "it will be reverted"
        return ToolOutput(f"{verdict} (validation {report.validation.id}); {then}")

    def _write_report(self) -> str:
        from perfop.report.service import generate_report

        if self.engagement_id is None:
            raise UsageError("report: no engagement yet")
        out = self.loaded.repo_root / ".perfop" / "reports" / f"engagement-{self.engagement_id}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        generate_report(
            self.store, self.loaded, engagement_id=self.engagement_id, fmt="md", output=out
        )
        self.report_path = str(out)
        self.log(f"report written: {out}")
        return str(out)

    # --- the end ------------------------------------------------------------------------------
    def _wind_down(self, reason: str | None) -> None:
        """Revert whatever was not validated and remove the worktree (once)."""
        if self.sandbox is None or self._closed:
            return
        self._closed = True
        try:
            if self.sandbox.changed_files():
                files = self.sandbox.revert()
                self.log(
                    f"uncommitted changes reverted at the end ({reason or 'run over'}): "
                    f"{', '.join(files)}",
                    kind="risk",
                )
        finally:
            self.sandbox.close()

    def _summary(self, status: str, reason: str | None) -> str:
        from perfop.agent.summary import approval_summary

        assert self.transcript is not None
        return approval_summary(
            self.store,
            self.loaded,
            engagement_id=self.engagement_id,
            session_id=self.transcript.session_id,
            branch=self.sandbox.branch if self.sandbox else None,
            commits=self.commits,
            stop_reason=reason,
            status=status,
            answers=self.answers,
            report=self.report_path,
        )
