"""The Markdown report of a multi-validation engagement, compared whole against a golden file.

``report_fixture.build_multi_validation`` records three hypotheses and four validations the way
``perfop validate`` does (one superseded, one refuted, one with a regression of another gated
workload). The machine-specific environment rows and timestamps are fixed before rendering;
everything else (samples from a seeded RNG, shas from pinned git dates) is deterministic.
Regenerate after an intended change with ``PERFOP_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from perfop.config import load_config
from perfop.report import markdown
from perfop.report.data import collect
from perfop.report.model import ReportData
from perfop.store import open_store
from report_fixture import build_multi_validation, make_repo

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "report" / "multi_validation.md"
_TIMES = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:\+00:00|Z)?")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ReportData:
    repo = make_repo(tmp_path_factory.mktemp("golden") / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_multi_validation(store, repo)
        data = collect(store, load_config(repo))
    finally:
        store.close()
    assert data.environment is not None
    env = dataclasses.replace(
        data.environment,
        hostname="build-host",
        cpu="Test CPU",
        logical_cores=2,
        memory_bytes=8 * 2**30,
        os="Linux 6.1 x86_64",
        python="CPython 3.12.1",
    )
    return dataclasses.replace(
        data, environment=env, generated_at="2026-01-02T03:04:05+00:00", perfop_version="0.0.0"
    )


def rendered(data: ReportData) -> str:
    return _TIMES.sub("<time>", markdown.render(data))


def test_markdown_report_matches_the_golden_file(data: ReportData) -> None:
    text = rendered(data)
    if os.environ.get("PERFOP_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_each_claim_of_the_golden_report(data: ReportData) -> None:
    """What the golden file must show, stated on its own so a regenerated file cannot lose it."""
    text = rendered(data)
    summary = text.split("## Context")[0]
    assert "**H1 confirmed**" in summary and "**H2 refuted**" in summary
    assert "**H3 confirmed**" in summary and "regression: another workload slower" in summary
    # the superseded validation of H1 (SLO still not met) is not a residual risk any more
    risks = summary.split("**Residual risks:**")[1]
    assert "H1" not in risks and "still not met" not in risks
    assert "H3: regression: another gated workload regressed: render" in risks
    # reproduce: each validation's own comparison, seed and budget flags
    block = text.split("**Reproduce:**")[1].split("```", 2)[1]
    commands = [ln for ln in block.splitlines() if ln.startswith("perfop compare")]
    assert len(commands) == 4
    assert commands[0].endswith("-w parse -w render --seed 101 --max-time 10")
    assert commands[1].endswith("--seed 202 --max-time 30 --max-pairs 40")
    assert "--seed 303" in commands[2] and "--seed 404" in commands[3]
    # the measured project's interpreter, not perfop's virtualenv
    method = text.split("## Method")[1].split("## Baseline")[0]
    assert "/srv/demo/.venv/bin/python" in method and "numpy==2.0.0" in method
    assert "mypy" not in method and "ruff" not in method
    assert "| perfop | 0.0.0 (on CPython 3.12.1) |" in method
    # each test command once
    mitigation = text.split("## Regression mitigation")[1].split("## Decision log")[0]
    tests = [ln for ln in mitigation.splitlines() if "pytest" in ln]
    assert tests == ["- H1, H2, H3: `python -m pytest -q` passed"]
    # no revert advised for a change that did what was predicted
    follow = text.split("## Follow-ups")[1].split("## Changelog")[0]
    assert "H3 is confirmed with a regression: keep the gain, fix the other workload" in follow
    assert "H2 was refuted: revert the candidate or revise the hypothesis" in follow
    rollback = mitigation.split("**Rollback:**")[1]
    assert re.search(r"# H1 \(confirmed\): keep it", rollback)
    assert re.search(r"# H3 \(confirmed — regression: another workload slower\): keep it", rollback)
    assert re.search(r"# H2 \(refuted\): advised: revert", rollback)
    changelog = text.split("## Changelog entry")[1]
    assert "cache the tokenizer" in changelog and "compile the grammar once" in changelog
    assert "skip the second pass" not in changelog


def test_html_and_json_say_the_same(data: ReportData) -> None:
    import json

    import jsonschema

    from perfop.report import html, jsonfmt

    page = html.render(data, with_plots=False)
    assert "perfop compare 0b4aa85fe1e5" in page
    assert "--seed 202 --max-time 30 --max-pairs 40" in page
    assert "/srv/demo/.venv/bin/python" in page and "numpy==2.0.0" in page
    assert "confirmed — regression: another workload slower" in page
    assert "H1, H2, H3: <code>python -m pytest -q</code> passed" in page
    doc = json.loads(jsonfmt.render(data))
    jsonschema.Draft202012Validator(jsonfmt.json_schema()).validate(doc)
    derived = {v["id"]: v["derived"]["headline"] for v in doc["validations"]}
    assert derived == {
        1: "confirmed — SLO still not met",
        2: "confirmed",
        3: "refuted",
        4: "confirmed — regression: another workload slower",
    }
    assert doc["environment"]["measured"][0]["side"] == "base and candidate"
