"""The services layer below the front ends (issue 20): a tool called directly with an
``ActingContext`` gives the document the MCP server answers, the CLI's ``--format json`` is built
by the same envelope functions, and the agent runner calls the same tools through the same guards.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import perfop
from perfop.engagement.records import Actor
from perfop.services import catalog, envelope
from perfop.services.table import ActingContext, Answer, Call

CONFIG = {"perfop.toml": '[workloads.w]\ncommand = "true"\n', ".gitignore": ".perfop/\n"}
AGENT = Actor(name="agent:test", kind="agent")


@pytest.fixture
def repo(git_repo: Callable[..., Path], run_cli: Callable[..., Any]) -> Path:
    root = git_repo(CONFIG)
    r = ["--repo", str(root)]
    assert run_cli([*r, "intake", "--title", "T", "-w", "w", "--confirm"]).code == 0
    assert run_cli([*r, "hypothesis", "add", "cache it", "--expect", "0.8"]).code == 0
    return root


def _direct(repo: Path, name: str, arguments: dict[str, Any]) -> Answer:
    tool = catalog.tools()[name]
    app = ActingContext(repo, actor=AGENT)
    try:
        return tool.fn(Call(app), tool.args.model_validate(arguments))
    finally:
        app.close()


def _json(doc: dict[str, Any]) -> Any:
    return json.loads(json.dumps(doc, default=str))


READS = [
    ("status", {}),
    ("log", {}),
    ("verify", {}),
    ("question", {}),
    ("hypothesis_list", {}),
    ("hypothesis_list", {"label": "H1"}),
    ("runs", {}),
]


@pytest.mark.parametrize(("name", "arguments"), READS)
def test_a_tool_called_directly_gives_the_document_the_mcp_server_answers(
    repo: Path, name: str, arguments: dict[str, Any]
) -> None:
    pytest.importorskip("mcp")
    import anyio

    from perfop.mcp.server import PerfopServer
    from perfop.mcp.tools import App

    direct = _direct(repo, name, arguments)
    app = App(repo)
    try:
        server = PerfopServer(app)
        result = anyio.run(server.call, None, catalog.tools()[name], arguments)
    finally:
        app.close()
    assert not result.is_error, result.content
    assert result.structured_content == _json(direct.doc)
    assert result.content[0].text == direct.text  # type: ignore[union-attr]
    assert direct.result is not None  # the typed result the document was built from


@pytest.mark.parametrize(
    ("argv", "tool", "arguments"),
    [
        (["question", "list"], "question", {}),
        (["hypothesis", "list"], "hypothesis_list", {}),
        (["runs", "list"], "runs", {}),
        (["log"], "log", {}),
    ],
)
def test_the_cli_json_is_the_tools_envelope(
    repo: Path,
    run_cli: Callable[..., Any],
    argv: list[str],
    tool: str,
    arguments: dict[str, Any],
) -> None:
    res = run_cli(["--repo", str(repo), *argv, "--format", "json"])
    assert res.code == 0, res.err
    assert json.loads(res.out) == _json(_direct(repo, tool, arguments).doc)


def test_status_and_verify_differ_between_fronts_only_in_their_hints(
    repo: Path, run_cli: Callable[..., Any]
) -> None:
    from perfop.config import load_config
    from perfop.engagement import checks
    from perfop.store import open_store

    res = run_cli(["--repo", str(repo), "status", "--format", "json"])
    loaded = load_config(repo)
    store = open_store(f"sqlite:///{repo / '.perfop' / 'perfop.db'}")
    try:
        report = checks.status(store, loaded)
    finally:
        store.close()
    assert json.loads(res.out) == _json(envelope.status_document(report))
    assert _direct(repo, "status", {}).doc == envelope.status_document(report, front="mcp")


def test_envelope_builder_and_schema_names() -> None:
    assert envelope.engagement_doc("log", decisions=[]) == {
        "schema": "perfop.engagement/1",
        "kind": "log",
        "decisions": [],
    }
    assert envelope.envelope(envelope.RUNS_SCHEMA, runs=[]) == {
        "schema": "perfop.runs/1",
        "runs": [],
    }
    from perfop.mcp import tools as mcp_tools

    assert mcp_tools.ENGAGEMENT_SCHEMA is envelope.ENGAGEMENT_SCHEMA


def test_the_agent_calls_the_service_tools_through_the_services_guards(repo: Path) -> None:
    from perfop.agent.tools import ToolBox, _compact
    from perfop.store import open_store

    store = open_store(f"sqlite:///{repo / '.perfop' / 'perfop.db'}")
    try:
        box = ToolBox.build(
            sandbox=SimpleNamespace(path=repo),  # type: ignore[arg-type]
            store=store,
            actor=AGENT,
            extra={},
        )
        assert set(catalog.tools()) <= set(box.tools)
        out = box.call("verify", "status", {})
        direct = _direct(repo, "status", {})
        assert out.text == f"{direct.text}\n{_compact(direct.doc)}"
        # The guards an MCP call meets: a path out of the repository, an unknown argument.
        refused = box.call(
            "hypotheses", "hypothesis_add", {"statement": "s", "components": ["../../etc/x.py"]}
        )
        assert refused.refused and "resolves outside the repository" in refused.text
        bad = box.call("verify", "status", {"bogus": 1})
        assert bad.is_error and not bad.refused and bad.text.startswith("error: status")
    finally:
        store.close()


SCHEMA_NAME = re.compile(r"^perfop\.[a-z][a-z.-]*/[0-9]+$")
FRONT_ENDS = ("cli", "mcp", "agent", "demo.py", "init_agent.py", "__main__.py")


def _envelopes_built_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Dict) and any(
            isinstance(k, ast.Constant) and k.value == "schema" for k in node.keys
        ):
            found.append(f"{path.name}:{node.lineno}: a {{'schema': ...}} literal")
        elif isinstance(node, ast.Constant) and SCHEMA_NAME.match(str(node.value)):
            found.append(f"{path.name}:{node.lineno}: schema name {node.value!r}")
    return found


def test_front_ends_build_no_envelopes_of_their_own() -> None:
    src = Path(perfop.__file__).parent
    files = [
        p for f in FRONT_ENDS for p in ([src / f] if f.endswith(".py") else (src / f).rglob("*.py"))
    ]
    found = [hit for path in files for hit in _envelopes_built_in(path)]
    assert not found, "build JSON envelopes in perfop.services.envelope: " + "; ".join(found)
    assert _envelopes_built_in(Path(envelope.__file__))  # the check sees them where they are


def test_the_engagement_resource_reads_through_the_services_the_tools_use(repo: Path) -> None:
    from perfop.mcp import resources
    from perfop.mcp.tools import App
    from perfop.services.engagement_tools import current_engagement

    status = _json(_direct(repo, "status", {}).doc)  # stores the stage the evidence gives
    app = App(repo)
    try:
        served = json.loads(resources.find("perfop://engagement/current").read(app))
        doc = _json(current_engagement(app))
    finally:
        app.close()
    assert (doc["schema"], doc["kind"]) == (envelope.ENGAGEMENT_SCHEMA, "engagement")
    assert served == doc
    # each hypothesis row is the hypothesis_list tool's row, without its latest validation
    listed = _json(_direct(repo, "hypothesis_list", {}).doc)
    assert doc["formula"] == listed["formula"]
    assert doc["hypotheses"] == [
        {k: v for k, v in row.items() if k != "last_validation"} for row in listed["hypotheses"]
    ]
    assert doc["status"]["stage"] == status["stage"] == doc["engagement"]["stage"]
    assert doc["recap"].startswith("# Intake recap: T")
