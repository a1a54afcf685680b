"""The report's Method section shows the machine's contention during every baseline and
validation, warns when absolute numbers were measured under high contention, and labels them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from perfop.config import load_config
from perfop.measure import contention as cn
from perfop.model import RunStatus
from perfop.records.measured import load_contention
from perfop.report import html, jsonfmt, markdown
from perfop.report.data import collect
from perfop.report.model import ReportData
from perfop.store import open_store
from report_fixture import build_engagement, make_repo


def _summary(others: float, load: float) -> dict[str, object]:
    return cn.summarise([cn.Interval(0.5, 2, load, others, 0.0, 2, None)] * 3)


HIGH = _summary(0.61, 5.2)
QUIET = _summary(0.02, 1.1)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ReportData:
    repo = make_repo(tmp_path_factory.mktemp("cond") / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_engagement(store, repo)
        first = collect(store, load_config(repo))
        # The baseline of the first workload ran under high contention, as stored by `run`.
        b0 = first.baselines[0]
        store.finish_run(b0.run_id, RunStatus.COMPLETE, contention=HIGH)
        data = collect(store, load_config(repo))
    finally:
        store.close()
    # collected from the store, into the record (and written back as it was stored)
    stored = data.baselines[0].contention
    assert stored == load_contention(HIGH) and stored is not None and stored.to_dict() == HIGH
    v0 = data.validations[0]
    workloads = tuple(replace(w, contention=load_contention(QUIET)) for w in v0.workloads)
    v1 = data.validations[1]
    loaded = tuple(replace(w, contention=load_contention(HIGH)) for w in v1.workloads)
    validations = (replace(v0, workloads=workloads), replace(v1, workloads=loaded))
    return replace(data, validations=validations + data.validations[2:])


def _section(text: str, name: str) -> str:
    start = text.index(f"## {name}\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_method_section_lists_contention_and_warns_for_absolute_numbers(data: ReportData) -> None:
    method = _section(markdown.render(data), "Method")
    assert "**Machine contention during each measurement:**" in method
    b0 = data.baselines[0]
    row = next(ln for ln in method.splitlines() if f"baseline run {b0.run_id} " in ln)
    assert "absolute" in row and "**high**" in row and "61%" in row and "5.2" in row
    v0 = data.validations[0]
    assert any(f"validation {v0.id}" in ln and "quiet" in ln for ln in method.splitlines())
    assert f"> **Warning:** Baseline run {b0.run_id} ({b0.workload}) was measured under " in method
    assert "absolute times are inflated" in method
    v1 = data.validations[1]
    assert f"{v1.hypothesis} validation {v1.id}" in method and "ratios from interleaved" in method
    assert "_Rule: median over the measurement" in method


def test_baseline_is_labelled_and_each_validation_shows_the_machine(data: ReportData) -> None:
    text = markdown.render(data)
    baseline = _section(text, "Baseline")
    b0 = data.baselines[0]
    assert f"run {b0.run_id} @ {(b0.sha or '?')[:12]} (high contention: absolute values" in baseline
    others = [b for b in data.baselines if b.run_id != b0.run_id]
    assert others and all(f"run {b.run_id} @ {(b.sha or '?')[:12]} |" in baseline for b in others)
    validation = _section(text, "Validation")
    assert "**Machine:** load 1.1 on 2 CPUs, others used 2% CPU — quiet" in validation
    assert "**Machine:** load 5.2 on 2 CPUs, others used 61% CPU — high contention" in validation


def test_html_and_json_carry_the_same(data: ReportData) -> None:
    page = html.render(data, with_plots=False)
    assert "Machine contention during each measurement" in page
    assert "was measured under high contention" in page
    assert "high contention: absolute values inflated" in page
    doc = jsonfmt.report_document(data)
    assert doc["baselines"][0]["contention"] == HIGH
    import jsonschema

    jsonschema.Draft202012Validator(jsonfmt.json_schema()).validate(doc)


def test_no_contention_recorded_says_so(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_engagement(store, repo)
        data = collect(store, load_config(repo))
    finally:
        store.close()
    method = _section(markdown.render(data), "Method")
    assert "not recorded" in method and "> **Warning:**" not in method
