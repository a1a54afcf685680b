"""``perfop report`` on a real store: formats, files, the record it leaves, and the verify item."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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
    out.parent.mkdir()  # outside the repository perfop creates no folder
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


def _reports(repo: Path) -> int:
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        with store.read() as conn:
            return int(conn.exec_driver_sql("select count(*) from reports").scalar() or 0)
    finally:
        store.close()


def _one_line_usage_error(res: Any, *needles: str) -> None:
    assert res.code == 2, (res.code, res.out, res.err)
    assert res.err.startswith("perfop: error: ") and res.err.count("\n") == 1, res.err
    assert "Traceback" not in res.err and "internal error" not in res.err, res.err
    for needle in needles:
        assert needle in res.err, (needle, res.err)


@pytest.mark.slow
def test_report_never_overwrites_a_user_file(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    """Issue 16 item 2: reports and plot folders replace only files perfop wrote."""
    repo = _repo(tmp_path)
    notes = repo / "notes.md"
    notes.write_text("my notes\n")
    res = run_cli(["report", "-o", "notes.md"], cwd=repo)
    _one_line_usage_error(res, "-o notes.md", "not written by perfop", "--force")
    assert notes.read_text() == "my notes\n"
    # a user's file in the plot folder the Markdown report would write
    plots = repo / "docs" / "r-plots"
    plots.mkdir(parents=True)
    (plots / "forest.png").write_bytes(b"user's png")
    res = run_cli(["report", "-o", "docs/r.md"], cwd=repo)
    _one_line_usage_error(res, "forest.png", "not written by perfop")
    assert (plots / "forest.png").read_bytes() == b"user's png"
    assert not (repo / "docs" / "r.md").exists() and sorted(plots.iterdir()) == [
        plots / "forest.png"
    ]
    assert _reports(repo) == 0
    # perfop's own files are replaced freely, on every format
    for name in ("own.md", "own.html", "own.json"):
        for _ in range(2):
            res = run_cli(["report", "-o", name], cwd=repo)
            assert res.code == 0, res.err
    assert (repo / "own-plots" / "forest.png").read_bytes().startswith(b"\x89PNG")
    # a person may force it; then the plots perfop wrote there are its own
    res = run_cli(["report", "-o", "notes.md", "--force"], cwd=repo)
    assert res.code == 0, res.err
    assert notes.read_text().startswith("# Performance report")
    res = run_cli(["report", "-o", "docs/r.md", "--force"], cwd=repo)
    assert res.code == 0, res.err
    assert (plots / "forest.png").read_bytes().startswith(b"\x89PNG")
    assert run_cli(["report", "-o", "docs/r.md"], cwd=repo).code == 0
    leftovers = [p for p in repo.rglob("*.tmp") if ".git" not in p.parts]
    assert leftovers == []


def test_report_bad_output_paths_are_one_line_errors(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    """Issue 16 items 2, 13, 15: no traceback, no half file, no folder made outside the repo."""
    repo = _repo(tmp_path)
    (repo / "adir").mkdir()
    (repo / "bench.py").write_text("print(1)\n")
    cases = [
        ("bench.py/x.md", "is not a directory"),
        ("adir", None),  # no extension: the format error comes first
        ("adir.md", None),
        ("/dev/full", None),
        ("/proc/x.md", "nothing was written"),
        (str(tmp_path / "nonexistent" / "dir" / "x.html"), "does not exist"),
    ]
    (repo / "adir.md").mkdir()
    for output, needle in cases:
        res = run_cli(["report", "-o", output, "--format", "md"], cwd=repo)
        _one_line_usage_error(res, f"-o {output}", *([needle] if needle else []))
    res = run_cli(["report", "-o", "adir.md"], cwd=repo)
    _one_line_usage_error(res, "is a directory")
    res = run_cli(["report", "-o", "/proc/x.json"], cwd=repo)  # no plots: the rename fails
    _one_line_usage_error(res, "cannot write /proc/x.json", "nothing was written")
    res = run_cli(["report", "-o", "/dev/full", "--format", "md", "--force"], cwd=repo)
    _one_line_usage_error(res, "not a regular file")
    assert not (tmp_path / "nonexistent").exists()
    assert not (repo / "bench.py").is_dir() and (repo / "bench.py").read_text() == "print(1)\n"
    assert list((repo / "adir").iterdir()) == [] and list((repo / "adir.md").iterdir()) == []
    assert _reports(repo) == 0
    # inside the repository a missing folder is created
    res = run_cli(["report", "-o", "out/new/r.html"], cwd=repo)
    assert res.code == 0, res.err
