"""MCP tool schemas: the advertised input schema and the argument parser agree on every value,
and every tool's output schema comes from the model of its document (issue 22)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from perfop.errors import UsageError
from perfop.mcp import outputs
from perfop.mcp.guards import parse_args
from perfop.mcp.server import input_schema
from perfop.mcp.tools import TOOLS, Tool

# JSON values of every type, plus the edges strict parsing must refuse (a bool for an integer,
# digits in a string for a number, a float for an integer).
POOL: list[Any] = [True, False, 0, 1, 3, -1, 1.5, "3", "x", "", None, [], ["x"], [1], {}, {"a": 1}]


def _types(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return prop.get("anyOf", [prop])


def _sample(prop: dict[str, Any]) -> Any:
    """A value the schema accepts for ``prop``."""
    for option in _types(prop):
        kind = option.get("type")
        if "enum" in option:
            return option["enum"][0]
        if "const" in option:
            return option["const"]
        if kind == "string":
            return "x"
        if kind in ("integer", "number"):
            low = option.get("minimum", option.get("exclusiveMinimum", 0) + 1)
            return int(low) if kind == "integer" else float(low)
        if kind == "boolean":
            return False
        if kind == "array":
            return []
        if kind == "object":
            return {}
    raise AssertionError(f"no sample for {prop}")


def _minimal(t: Tool, schema: dict[str, Any]) -> dict[str, Any]:
    return {name: _sample(schema["properties"][name]) for name in schema.get("required", [])}


def _parses(t: Tool, args: dict[str, Any]) -> bool:
    try:
        parse_args(t.args, t.name, args)
    except UsageError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_arguments_are_accepted_exactly_when_the_input_schema_accepts_them(name: str) -> None:
    t = TOOLS[name]
    schema = input_schema(t)
    validator = jsonschema.Draft202012Validator(schema)
    base = _minimal(t, schema)
    assert validator.is_valid(base) and _parses(t, base), base
    disagreements = []
    for prop in schema["properties"]:
        if prop in t.raw:  # passed through to a service that validates it itself
            continue
        for value in POOL:
            args = {**base, prop: value}
            advertised = validator.is_valid(args)
            if advertised != _parses(t, args):
                disagreements.append((prop, value, "schema accepts" if advertised else "refuses"))
    assert not disagreements, disagreements


def test_a_bool_for_an_integer_is_refused_naming_the_argument() -> None:
    with pytest.raises(UsageError, match="limit"):
        parse_args(TOOLS["runs"].args, "runs", {"limit": True})


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_every_tool_advertises_the_schema_of_its_own_document_model(name: str) -> None:
    t = TOOLS[name]
    assert issubclass(t.returns, outputs.Document)
    assert t.returns not in (outputs.Document, outputs.EngagementDocument), name
    schema = outputs.output_schema(t.returns)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert "schema" in schema["required"], name


def test_a_document_keeps_the_keys_its_model_does_not_name() -> None:
    doc = {"schema": "perfop.engagement/1", "kind": "log", "decisions": [], "new_field": [1, 2]}
    assert outputs.structured(outputs.LogDoc, doc) == doc


def test_an_answer_its_model_refuses_is_an_internal_error_not_a_wrong_document() -> None:
    pytest.importorskip("mcp")
    from perfop.mcp.server import PerfopServer
    from perfop.mcp.tools import Answer, App

    server = PerfopServer(App(None))
    bad = Answer({"schema": "perfop.runs/1", "runs": [{"id": "one"}]}, "1 run(s)")
    result = server._result(TOOLS["runs"], bad)
    assert result.is_error and result.structured_content is None
    (text,) = [c.text for c in result.content]  # type: ignore[union-attr]
    assert text.startswith(
        "internal error (runs: answer does not match its output schema at runs.0"
    )
    good = server._result(
        TOOLS["runs"], Answer({"schema": "perfop.runs/1", "runs": []}, "0 run(s)")
    )
    assert not good.is_error and good.structured_content == {"schema": "perfop.runs/1", "runs": []}
    assert [c.text for c in good.content] == [  # type: ignore[union-attr]
        "0 run(s)",
        '{\n "schema": "perfop.runs/1",\n "runs": []\n}',
    ]
