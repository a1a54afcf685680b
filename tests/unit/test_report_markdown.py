"""The Markdown report: sections in order, well-formed GFM tables, honest refuted/inconclusive."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from perfop.config import load_config
from perfop.report import markdown, pick_format, write_report
from perfop.report.data import collect
from perfop.report.model import ReportData
from perfop.store import open_store
from report_fixture import DEFAULT_OUTCOMES, Outcome, build_engagement, make_repo

_PIPE = re.compile(r"(?<!\\)\|")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ReportData:
    repo = make_repo(tmp_path_factory.mktemp("md") / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_engagement(store, repo)
        return collect(store, load_config(repo))
    finally:
        store.close()


def tables(text: str) -> list[list[str]]:
    """Blocks of consecutive lines starting with '|' (outside code fences)."""
    blocks: list[list[str]] = []
    current: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("|"):
            current.append(line)
            continue
        if current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def cells(row: str) -> list[str]:
    assert row.startswith("|") and row.rstrip().endswith("|"), row
    return _PIPE.split(row.strip())[1:-1]


def test_sections_present_and_in_order(data: ReportData) -> None:
    text = markdown.render(data)
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings == list(markdown.SECTIONS)
    assert text.startswith("# Performance report: Make parsing fast\n")
    # the summary comes first and names the outcome of every validated hypothesis
    summary = text.split("## Context")[0]
    for label in ("H1 confirmed", "H2 refuted", "H3 inconclusive"):
        assert f"**{label}**" in summary


def test_tables_are_well_formed(data: ReportData) -> None:
    text = markdown.render(data)
    blocks = tables(text)
    assert len(blocks) >= 8
    for block in blocks:
        assert len(block) >= 2, block
        width = len(cells(block[0]))
        assert all(re.fullmatch(r"-{3,}", c.strip()) for c in cells(block[1])), block[1]
        for row in block:
            assert len(cells(row)) == width, (row, block[0])


def test_validation_tables_carry_the_numbers(data: ReportData) -> None:
    text = markdown.render(data)
    h1 = text.split("### H1: confirmed")[1].split("### H2")[0]
    rows = [r for b in tables(h1) for r in b if r.startswith("| parse | wall")]
    assert rows, h1
    c = [x.strip() for x in cells(rows[0])]
    assert c[7] == "**faster**" and c[8] == "12"
    ratio = float(c[4])
    # The stored comparison's ratio (the fixture's seeded samples), as the table rounds it.
    (stored,) = [
        m.ratio
        for v in data.validations_of("H1")
        for w in v.workloads
        if w.workload == "parse"
        for m in w.metrics
        if m.name == "wall_time"
    ]
    assert stored is not None and c[4] == f"{stored:.{len(c[4].split('.')[1])}f}"
    lo, hi = (float(x) for x in c[5].split("-"))
    assert lo < ratio < hi
    assert "**Tests:** passed" in h1
    assert re.search(
        r"\| parse \| wall\\_time p95 \d+(\.\d)? ms <= max 200 ms \| met \|",
        h1.replace("&lt;", "<"),
    )
    # The behaviour check's note (lines that vary between runs, not compared) reaches the report.
    assert "parse behaviour check: 1 line varies between runs of the same code" in h1


def test_summary_sentence_and_rollback(data: ReportData) -> None:
    text = markdown.render(data)
    assert re.search(
        r"parse: 1\.\d\dx faster \(CI \d\.\d\d-\d\.\d\dx\), "
        r"p95 \d+(\.\d+)? -> \d+(\.\d+)? ms, SLO met",
        text,
    ), text.split("## Context")[0]
    h1 = data.hypothesis("H1")
    assert h1 is not None and h1.candidate_sha
    assert f"git revert --no-edit {h1.candidate_sha}" in text
    assert "### Changed\n- Performance: hypothesis 1" in text


def test_refuted_and_inconclusive_are_rendered_honestly(data: ReportData) -> None:
    text = markdown.render(data)
    summary = text.split("## Context")[0]
    refuted = next(line for line in summary.splitlines() if "**H2 refuted**" in line)
    assert "slower" in refuted and "faster" not in refuted
    assert "predicted 0.700x" in refuted
    inconclusive = next(line for line in summary.splitlines() if "**H3 inconclusive**" in line)
    assert "inconclusive after 12 pairs" in inconclusive and "faster" not in inconclusive
    changelog = text.split("## Changelog entry")[1]
    assert "hypothesis 1" in changelog
    assert "hypothesis 2" not in changelog and "hypothesis 3" not in changelog
    followups = text.split("## Follow-ups")[1].split("## Changelog")[0]
    assert "H2 was refuted" in followups and "H3 is inconclusive" in followups


def test_nothing_confirmed_says_so(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_engagement(store, repo, outcomes=(Outcome("refuted", 1.2, "slower"),))
        text = markdown.render(collect(store, load_config(repo)))
    finally:
        store.close()
    assert "No performance change confirmed by this engagement." in text
    assert "**H1 refuted**" in text
    assert "H1 confirmed" not in text


def test_user_text_is_escaped_in_markdown(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    payload = "<img src=x onerror=alert(1)>|`x`*y*"
    try:
        build_engagement(store, repo, outcomes=DEFAULT_OUTCOMES[:1], payload=payload)
        text = markdown.render(collect(store, load_config(repo)))
    finally:
        store.close()
    outside_fences = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    assert "<img" not in outside_fences
    assert "&lt;img src=x onerror=alert(1)>" in outside_fences
    for block in tables(text):
        width = len(cells(block[0]))
        assert all(len(cells(row)) == width for row in block)


def test_plots_written_beside_markdown(data: ReportData, tmp_path: Path) -> None:
    out = tmp_path / "r" / "report.md"
    out.parent.mkdir()
    files = write_report(data, out, pick_format(None, out))
    assert files[0] == out
    pngs = [f for f in files[1:] if f.suffix == ".png"]
    assert {p.name for p in pngs} >= {"forest.png", "paired-1.png"}
    text = out.read_text()
    for png in pngs:
        assert png.read_bytes().startswith(b"\x89PNG")
        assert f"](report-plots/{png.name})" in text


def test_history_plot_when_a_workload_has_several_runs(tmp_path: Path) -> None:
    from report_fixture import _baseline

    repo = make_repo(tmp_path / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_engagement(store, repo, outcomes=DEFAULT_OUTCOMES[:1])
        import random

        _baseline(store, "parse", random.Random(1), 1, "f" * 40)
        data = collect(store, load_config(repo))
    finally:
        store.close()
    (history,) = [h for h in data.history if h.workload == "parse"]
    assert len(history.points) == 2 and history.points[-1].sha == "f" * 40
    files = write_report(data, tmp_path / "out.md", "md")
    assert tmp_path / "out-plots" / "history-parse.png" in files
    assert "](out-plots/history-parse.png)" in (tmp_path / "out.md").read_text()


def test_earlier_validations_fold_into_details(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_engagement(store, repo, outcomes=DEFAULT_OUTCOMES[:1], comparisons_per_hypothesis=2)
        text = markdown.render(collect(store, load_config(repo)))
    finally:
        store.close()
    section = text.split("## Validation")[1].split("## Plots")[0]
    first, folded = section.split("<summary>Earlier validations (1)</summary>")
    assert first.count("### H1: confirmed") == 1 and folded.count("### H1: confirmed") == 1
    assert folded.rstrip().endswith("</details>")


def test_a_record_refuted_under_earlier_rules_is_not_advised_for_revert(tmp_path: Path) -> None:
    """A store written before the outcome rules: H1 recorded `refuted` although its comparison
    confirmed the predicted direction with tests passing. The report derives the outcome from
    the evidence: confirmed, no revert advised, in the changelog, with a note about the record."""
    repo = make_repo(tmp_path / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_engagement(store, repo, outcomes=(Outcome("refuted", 0.4, "faster"),))
        text = markdown.render(collect(store, load_config(repo)))
    finally:
        store.close()
    summary = text.split("## Context")[0]
    line = next(ln for ln in summary.splitlines() if ln.startswith("- **H1"))
    assert line.startswith("- **H1 confirmed**"), line
    assert "recorded as refuted under earlier rules; run perfop validate H1" in line
    follow = text.split("## Follow-ups")[1].split("## Changelog")[0]
    assert "revert" not in follow
    rollback = text.split("**Rollback:**")[1].split("## Decision log")[0]
    assert "# H1 (confirmed): keep it" in rollback and "advised" not in rollback
    changelog = text.split("## Changelog entry")[1]
    assert "- Performance: hypothesis 1" in changelog
    assert "No performance change confirmed" not in changelog


def test_a_status_set_by_a_person_after_the_validation_stands(tmp_path: Path) -> None:
    from perfop.store import engagement as es

    repo = make_repo(tmp_path / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_engagement(store, repo, outcomes=DEFAULT_OUTCOMES[:1])
        with store.write() as conn:
            (hyp,) = es.list_hypotheses(conn, 1)
            es.update_hypothesis(conn, hyp.id, status="rejected")
        text = markdown.render(collect(store, load_config(repo)))
    finally:
        store.close()
    summary = text.split("## Context")[0]
    assert "**H1 rejected**" in summary and "earlier rules" not in summary
    assert "No performance change confirmed by this engagement." in text
