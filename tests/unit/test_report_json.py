"""The JSON report validates against its JSON Schema and round-trips every number."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from perfop.config import load_config
from perfop.report import RENDERERS, pick_format, renderer
from perfop.report.data import collect
from perfop.report.jsonfmt import json_schema
from perfop.store import open_store
from report_fixture import build_engagement, make_repo


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> dict:
    repo = make_repo(tmp_path_factory.mktemp("json") / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_engagement(store, repo)
        return json.loads(renderer("json")(collect(store, load_config(repo))))
    finally:
        store.close()


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(json_schema())


def test_document_validates(doc: dict) -> None:
    assert doc["schema"] == "perfop.report/1"
    jsonschema.Draft202012Validator(json_schema()).validate(doc)


def test_schema_rejects_a_broken_document(doc: dict) -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    bad = json.loads(json.dumps(doc))
    bad["validations"][0]["workloads"][0]["verdict"] = "fastest"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(bad)
    bad = json.loads(json.dumps(doc))
    del bad["summary"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(bad)


def test_numbers_and_summary(doc: dict) -> None:
    by_label = {h["label"]: h for h in doc["hypotheses"]}
    assert {k: v["status"] for k, v in by_label.items()} == {
        "H1": "confirmed",
        "H2": "refuted",
        "H3": "inconclusive",
    }
    v1 = next(v for v in doc["validations"] if v["hypothesis"] == "H1")
    parse = next(w for w in v1["workloads"] if w["workload"] == "parse")
    assert len(parse["base_values"]) == len(parse["candidate_values"]) == 12
    metric = parse["metrics"][0]
    assert metric["ci_low"] < metric["ratio"] < metric["ci_high"]
    assert by_label["H1"]["measured_ratio"] == pytest.approx(metric["ratio"])
    assert v1["tests"]["passed"] is True and v1["slos"][0]["passed"] is True
    outcomes = [o["status"] for o in doc["summary"]["outcomes"]]
    assert outcomes == ["confirmed", "refuted", "inconclusive"]
    assert doc["summary"]["rollback"]["H1"].startswith("git revert --no-edit ")


def test_registry_and_format_choice(tmp_path: Path) -> None:
    assert set(RENDERERS) == {"md", "html", "json"}
    assert pick_format(None, tmp_path / "r.html") == "html"
    assert pick_format(None, tmp_path / "r.JSON") == "json"
    assert pick_format("md", tmp_path / "r.html") == "md"
    assert pick_format(None, None) == "md"


def test_json_has_no_nan(doc: dict) -> None:
    text = json.dumps(doc, allow_nan=False)  # raises on NaN/Infinity
    assert "NaN" not in text


def test_planted_secrets_never_reach_a_report(tmp_path: Path) -> None:
    from report_fixture import PYPROJECT

    token = "ghp_" + "Ab1" * 12
    # issue 16 item 5: formats that used to pass (GitLab, password= in free text, 20-31 chars)
    planted = ["glpat" + "-xY7zQ2rT9wL4mN8vB3kD", "hunter3-plain", "Zx9Qw2Er7Ty4Ui1Op8As5D"]
    pyproject = PYPROJECT.replace(
        '[tool.perfop.workloads.parse]\ncommand = "{python} -c pass"\n',
        '[tool.perfop.workloads.parse]\ncommand = "{python} -c pass"\n'
        'env = { API_TOKEN = "hunter2-not-a-word", PLAIN = "visible" }\n',
    )
    assert pyproject != PYPROJECT
    repo = make_repo(tmp_path / "repo", pyproject=pyproject)
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_engagement(
            store,
            repo,
            payload=f" token {token} {planted[0]} password={planted[1]} id {planted[2]}",
        )
        data = collect(store, load_config(repo))
    finally:
        store.close()
    for fmt in RENDERERS:
        text = renderer(fmt)(data)
        assert token not in text and "hunter2-not-a-word" not in text, fmt
        for secret in planted:
            assert secret not in text, (fmt, secret)
        assert "[REDACTED]" in text and "visible" in text
