"""``perfop report`` on a real store: formats, files, the record it leaves, and the verify item."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfop.store import open_store
from report_fixture import DEFAULT_OUTCOMES, build_engagement, make_repo

NAME = "report generated after the last validation"


def _repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_engagement(store, repo, outcomes=DEFAULT_OUTCOMES[:1])
    finally:
        store.close()
    return repo


def _verify_item(run_cli: Callable[..., Any], repo: Path) -> dict[str, Any]:
    res = run_cli(["verify", "--format", "json"], cwd=repo)
    assert res.code == 1  # the sign-off is missing in every case here
    return next(c for c in json.loads(res.out)["checks"] if c["name"] == NAME)


def test_report_files_record_and_verify(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    repo = _repo(tmp_path)
    item = _verify_item(run_cli, repo)
    assert item == {
        "name": NAME,
        "passed": False,
        "reason": "no report generated; run: perfop report -o report.md",
    }

    out = tmp_path / "out" / "report.html"
    res = run_cli(["report", "-o", out], cwd=repo)
    assert res.code == 0, res.err
    assert res.out.startswith(f"report: {out} (html, recorded as report 1)")
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "<metadata>" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    item = _verify_item(run_cli, repo)
    assert item["passed"] is True and str(out.resolve()) in item["reason"]

    res = run_cli(["report"], cwd=repo)  # Markdown to stdout: fits $GITHUB_STEP_SUMMARY
    assert res.code == 0 and res.out.startswith("# Performance report: Make parsing fast")
    assert "](" not in res.out.split("## Plots")[1].split("##")[0]  # no image without files

    # a newer validation makes the report stale
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        from perfop.store import engagement as es

        with store.write() as conn:
            (hyp,) = es.list_hypotheses(conn, 1)
            old = es.list_validations(conn, hyp.id)[-1]
            es.insert_validation(
                conn,
                hypothesis_id=hyp.id,
                candidate_ref=old.candidate_ref,
                candidate_sha=old.candidate_sha,
                base_ref=old.base_ref,
                base_sha=old.base_sha,
                outcome="confirmed",
                reasons=["re-validated"],
                evidence={},
            )
    finally:
        store.close()
    item = _verify_item(run_cli, repo)
    assert item["passed"] is False and "predates the last validation" in item["reason"]


def test_report_format_errors(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    repo = _repo(tmp_path)
    res = run_cli(["report", "-o", tmp_path / "r.txt"], cwd=repo)
    assert res.code == 2
    assert res.err == (
        f"perfop: error: -o {tmp_path / 'r.txt'}: cannot tell the format from '.txt'; "
        "use .md, .html or .json, or give --format\n"
    )
    res = run_cli(["report", "--format", "pdf"], cwd=repo)
    assert res.code == 2 and "--format pdf: unknown report format" in res.err
    res = run_cli(["report", "--engagement", "9"], cwd=repo)
    assert res.code == 2 and "--engagement 9: no such engagement" in res.err
    assert not (tmp_path / "r.txt").exists()


def test_collect_and_record_on_any_store(tmp_path: Path, any_store_url: str) -> None:
    import jsonschema

    from perfop.config import load_config
    from perfop.report.jsonfmt import json_schema, report_document
    from perfop.report.service import generate_report
    from perfop.store.reports import list_reports

    repo = make_repo(tmp_path / "repo")
    store = open_store(any_store_url)
    try:
        build_engagement(store, repo)
        result = generate_report(store, load_config(repo), output=tmp_path / "r.json")
        doc = report_document(result.data)
        jsonschema.Draft202012Validator(json_schema()).validate(doc)
        assert [v["outcome"] for v in doc["validations"]] == [
            "confirmed",
            "refuted",
            "inconclusive",
        ]
        assert all(len(w["base_values"]) == 12 for v in doc["validations"] for w in v["workloads"])
        (rec,) = list_reports(store, result.data.engagement.id)
        assert rec.format == "json" and rec.validations == 3 and rec.path
    finally:
        store.close()


def test_report_shows_the_stage_the_evidence_supports(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    # The engagement was built through the services without `perfop status` ever running, so
    # the stored stage is stale; the report must derive it from the evidence like status does.
    repo = _repo(tmp_path)
    report = run_cli(["report"], cwd=repo)  # before anything stores a fresh stage
    assert report.code == 0
    res = run_cli(["status", "--format", "json"], cwd=repo)
    derived = json.loads(res.out)["stage"]
    assert derived != "intake"
    assert f"(stage {derived})" in report.out
