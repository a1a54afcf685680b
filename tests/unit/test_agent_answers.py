"""Issue 22 point 3: answers an agent can act on.

Status on a fresh repository, hints that name the MCP tool (and CLI hints for the CLI), open
questions answered and closed, the intake amended with a logged change, ``--by`` on confirm and
note, and the agent's name in the decision log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import perfop.mcp.server  # noqa: F401 - registers every tool
from perfop.config import load_config
from perfop.engagement import checks, service
from perfop.engagement.records import Actor, EngagementSpec
from perfop.errors import UsageError
from perfop.mcp.hints import to_mcp
from perfop.mcp.tools import TOOLS, App, Call
from perfop.store import open_store

HUMAN = Actor("ada")
CONFIG = '[workloads.w]\ncommand = "true"\n'


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo({"perfop.toml": CONFIG, ".gitignore": ".perfop/\n"})


def _call(repo: Path, name: str, **arguments: Any) -> Any:
    tool = TOOLS[name]
    app = App(repo)
    try:
        return tool.fn(Call(app), tool.args.model_validate(arguments))
    finally:
        app.close()


def test_status_on_a_fresh_repository_is_an_answer_naming_the_intake_tool(repo: Path) -> None:
    answer = _call(repo, "status")
    assert not answer.is_error
    doc = answer.doc
    assert doc["engagement"] is None and doc["stage"] == "intake"
    assert doc["next_step"]["tool"] == "intake"
    assert doc["next_step"]["arguments"]["spec"]["workloads"] == ["w"]
    assert "call intake" in doc["next"] and "perfop intake" not in doc["next"]
    assert "no engagement yet" in answer.text


def test_report_on_a_fresh_repository_is_an_answer_that_validates_and_names_intake(
    repo: Path,
) -> None:
    import jsonschema

    from perfop.mcp.outputs import output_schema, structured

    answer = _call(repo, "report")
    assert not answer.is_error
    doc = answer.doc
    assert doc["engagement"] is None and doc["schema"] == "perfop.report.none/1"
    assert doc["next_step"]["tool"] == "intake"
    assert "call intake" in answer.text and "perfop intake" not in answer.text
    schema = output_schema(TOOLS["report"].returns)
    jsonschema.validate(structured(TOOLS["report"].returns, doc), schema)
    assert not (repo / ".perfop" / "perfop.db").exists()  # a read: nothing created
    # The report document itself still validates against the same advertised schema's branch.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema": "perfop.report.none/1", "engagement": {"id": 1}}, schema)


def test_cli_status_on_a_fresh_repository(repo: Path, run_cli: Callable[..., Any]) -> None:
    res = run_cli(["--repo", str(repo), "status"])
    assert res.code == 0, res.err
    assert "No engagement yet" in res.out and "perfop intake --from FILE" in res.out
    res = run_cli(["--repo", str(repo), "status", "--format", "json"])
    doc = json.loads(res.out)
    assert doc["engagement"] is None and "perfop intake" in doc["next"]


def test_mcp_hints_name_tools_and_cli_hints_name_commands(repo: Path) -> None:
    _call(repo, "intake", spec={"title": "t", "workloads": ["w"], "risk_tolerance": "low"})
    mcp_status = _call(repo, "status").doc
    assert mcp_status["next_step"]["tool"] == "intake"
    assert mcp_status["next_step"]["arguments"] == {"confirm": True}
    assert "perfop " not in mcp_status["next"], mcp_status["next"]
    verify = _call(repo, "verify").doc
    for item in verify["checks"]:
        if not item["passed"]:
            assert (
                "perfop intake" not in item["reason"] and "perfop hypothesis" not in item["reason"]
            ), item
    # The CLI keeps its own hints.
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        report = checks.status(store, load_config(repo))
        assert "perfop intake --confirm" in report.next_step
    finally:
        store.close()


def test_errors_through_mcp_name_the_tool(repo: Path) -> None:
    with pytest.raises(UsageError) as info:
        _call(repo, "hypothesis_list", label="H9")
    assert "no engagement" in str(info.value) or "call " in str(info.value)
    assert "perfop intake" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "run: perfop validate H1 --candidate REF",
            'call validate {"label": "H1", "candidate": "<ref>"}',
        ),
        ("list them with: perfop hypothesis list", "call hypothesis_list {}"),
        ("run: perfop intake --confirm", 'call intake {"confirm": true}'),
        ("then perfop profile parse", 'call profile {"workload": "parse"}'),
        ("ask: perfop approve H1 --by NAME", "a human runs: perfop approve H1 --by NAME"),
        ("perfop does not overwrite it", "perfop does not overwrite it"),
    ],
)
def test_cli_hints_become_tool_calls(text: str, expected: str) -> None:
    assert expected in to_mcp(text)
    assert to_mcp(to_mcp(text)) == to_mcp(text)


def test_open_questions_are_answered_and_closed(repo: Path) -> None:
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    loaded = load_config(repo)
    try:
        eng = service.start_engagement(store, loaded, EngagementSpec(title="T"), actor=HUMAN)
        before = list(eng.open_questions)
        assert len(before) >= 3
        eng = service.answer_question(
            store, 1, "the bench workload w", actor=Actor("claude", kind="agent"), by="Ada"
        )
        assert before[0] not in eng.open_questions
        assert len(eng.open_questions) == len(before) - 1
        eng = service.answer_question(store, 1, "not relevant here", actor=HUMAN, drop=True)
        assert len(eng.open_questions) == len(before) - 2
        assert [a.by for a in eng.answered_questions] == ["Ada", "ada"]
        recap = service.recap(store, eng)
        assert "answered by Ada: the bench workload w" in recap
        log = [d.what for d in service.decision_log(store)]
        assert any(w.startswith("open question answered by Ada") for w in log)
        with pytest.raises(UsageError, match="question 99"):
            service.answer_question(store, 99, "x", actor=HUMAN)
        # The report lists only what is still open, and no answered question as a risk.
        from perfop.report.data import collect

        data = collect(store, loaded)
        assert before[0] not in data.open_questions and before[1] not in data.open_questions
        assert len(data.open_questions) == len(before) - 2
        assert any("answered by Ada: the bench workload w" in q for q in data.answered_questions)
        from perfop.report import render

        text = render(data, "md")
        assert "Answered:" in text and "not relevant here" in text
        assert f"{len(before) - 2} open question(s) remain" in text
    finally:
        store.close()


def test_intake_amended_with_a_logged_change(repo: Path) -> None:
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    loaded = load_config(repo)
    try:
        eng = service.start_engagement(
            store, loaded, EngagementSpec(title="T", workloads=("w",)), actor=HUMAN
        )
        hardware_q = next(q for q in eng.open_questions if "hardware" in q)
        eng = service.amend_intake(
            store, loaded, {"hardware": "2 vCPU, 8 GiB"}, actor=HUMAN, why="maintainer said so"
        )
        assert eng.spec.hardware == "2 vCPU, 8 GiB" and eng.spec.workloads == ("w",)
        assert hardware_q not in eng.open_questions
        entry = service.decision_log(store)[-1]
        assert entry.what == "intake amended: hardware"
        assert "maintainer said so" in (entry.why or "") and "2 vCPU" in (entry.why or "")
        with pytest.raises(UsageError, match="unknown field"):
            service.amend_intake(store, loaded, {"hardwar": "x"}, actor=HUMAN)
        with pytest.raises(UsageError, match="workload"):
            service.amend_intake(store, loaded, {"workloads": ["nope"]}, actor=HUMAN)
    finally:
        store.close()


def test_by_on_confirm_and_note(repo: Path, run_cli: Callable[..., Any]) -> None:
    r = ["--repo", str(repo)]
    assert run_cli([*r, "intake", "--title", "T", "-w", "w"]).code == 0
    assert run_cli([*r, "intake", "--confirm", "--by", "Grace Hopper"]).code == 0
    assert run_cli([*r, "note", "ship it", "--by", "Grace Hopper"]).code == 0
    res = run_cli([*r, "question", "answer", "1", "2 cores", "--by", "Grace Hopper"])
    assert res.code == 0, res.err
    doc = json.loads(run_cli([*r, "log", "--format", "json"]).out)
    actors = [(d["actor"], d["what"]) for d in doc["decisions"]]
    assert ("Grace Hopper", "intake confirmed") in actors
    assert ("Grace Hopper", "ship it") in actors
    assert any(a == "Grace Hopper" and w.startswith("open question answered") for a, w in actors)


def test_agent_name_is_not_the_sdk_default(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = App(repo)
    app.actor_name = "mcp"  # what the Python SDK's client sends unless told otherwise
    assert app.actor.name == "mcp:mcp-client"
    app.actor_name = "claude-code"
    assert app.actor.name == "mcp:claude-code"
    monkeypatch.setenv("PERFOP_AGENT_NAME", "copilot")
    assert app.actor.name == "mcp:copilot"


@pytest.mark.parametrize(
    "path",
    [
        ".perfop/profiles/20261201T062519-d32910/py-spy.speedscope.json",
        "perfop/profiles/20261201T062519-d32910/py-spy",
        ".perfop/profiles/20261201T062519-d32910/pyinstrument.html",
        ".perfop/profiles/20261201T062519-d32910/memray.bin",
    ],
)
def test_artifact_paths_reach_the_agent_unredacted(path: str) -> None:
    from perfop.redact import Redactor

    redactor = Redactor.from_environment()
    doc = {"artifact_dir": path.rsplit("/", 1)[0], "artifacts": {"speedscope": path}}
    assert redactor.obj(doc) == doc
    assert redactor.text(f"artifacts in {path}") == f"artifacts in {path}"
    # while a real token next to it is still caught
    token = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"
    assert token not in redactor.text(f"{path} {token}")


def test_test_python_is_the_interpreter_of_the_tests(git_repo: Callable[..., Path]) -> None:
    """Issue 22: `{python}` in test_command was always perfop's own interpreter."""
    import sys

    from perfop.engagement.checkout import tests_argv, tests_setup_argv

    repo = git_repo(
        {
            "perfop.toml": 'test_command = "{python} -m pytest -q"\n'
            'test_setup = "{python} -m pip install -e ."\n'
            'test_python = ".venv/bin/python"\n'
            '[workloads.w]\ncommand = "{python} -c pass"\n'
        }
    )
    loaded = load_config(repo)
    checkout = repo.parent / "checkout"
    assert tests_argv(loaded, checkout)[0] == str(checkout / ".venv/bin/python")
    setup = tests_setup_argv(loaded, checkout)
    assert setup is not None and setup[0] == str(checkout / ".venv/bin/python")
    from perfop.config import resolve_workload

    wl = resolve_workload("w", loaded.config.workloads["w"], repo=repo, worktree=checkout)
    assert wl.argv[0] == sys.executable  # workloads keep perfop's interpreter


def test_test_python_refuses_python_placeholder(git_repo: Callable[..., Path]) -> None:
    from perfop.errors import ConfigError

    repo = git_repo({"perfop.toml": 'test_python = "{python}"\n'})
    with pytest.raises(ConfigError, match="test_python"):
        load_config(repo)
