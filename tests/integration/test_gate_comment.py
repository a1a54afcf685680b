"""`perfop gate --comment / --check-run` against a local server speaking GitHub's REST API.

The client part runs in-process against tests/github_api.py (recorded fixtures: paginated
comments, a fork's 403, 429 and secondary rate limits, an exhausted primary limit); the last tests
run a real gate in a real repository as a subprocess and read what reached the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from github_api import FIXTURES, GitHubApi, github_api
from perfop.ci.comment import MARKER, PullRequest, publish_check_run, publish_comment
from perfop.ci.github import GitHubClient
from perfop.errors import RemoteError

TOKEN = "ghs_PLANTEDgateTOKEN0123456789abcdefXYZ"


@pytest.fixture
def api() -> Iterator[GitHubApi]:
    with github_api() as server:
        yield server


def _pr(repo: str = "acme/demo", *, fork: bool = False) -> PullRequest:
    return PullRequest(repo, 7, "9d1c0b7a6f5e4d3c2b1a09f8e7d6c5b4a3928170", None, fork)


def _client(api: GitHubApi, repo: str, sleeps: list[float] | None = None) -> GitHubClient:
    record = sleeps if sleeps is not None else []
    return GitHubClient(repo, token=TOKEN, base_url=api.url, sleep=record.append)


def test_the_marked_comment_on_a_later_page_is_edited_not_duplicated(api: GitHubApi) -> None:
    body = f"{MARKER}\n## perfop gate passed (this run)\n"
    with _client(api, "acme/demo") as client:
        outcome = publish_comment(client, _pr(), body)
    assert outcome.action == "updated"
    assert outcome.url == "https://github.com/acme/demo/pull/7#issuecomment-2510000100"
    reads = [r for r in api.requests if r.method == "GET"]
    assert [r.query.get("page") for r in reads] == [None, "2"]  # followed the Link header
    writes = [r for r in api.requests if r.method != "GET"]
    assert [(w.method, w.path) for w in writes] == [
        ("PATCH", "/repos/acme/demo/issues/comments/2510000100")
    ]
    assert writes[0].body == {"body": body}
    assert all(r.auth == f"Bearer {TOKEN}" for r in api.requests)
    assert len(api.comments["acme/demo"]) == 5  # no new comment


def test_without_a_marked_comment_one_is_created_then_edited(api: GitHubApi) -> None:
    api.comments["acme/demo"] = json.loads((FIXTURES / "issue_comments_page1.json").read_text())
    with _client(api, "acme/demo") as client:
        first = publish_comment(client, _pr(), f"{MARKER}\nfirst\n")
        second = publish_comment(client, _pr(), f"{MARKER}\nsecond\n")
    assert (first.action, second.action) == ("created", "updated")
    marked = [c for c in api.comments["acme/demo"] if MARKER in c["body"]]
    assert len(marked) == 1 and marked[0]["body"].endswith("second\n")
    posts = [r for r in api.requests if r.method == "POST"]
    assert [p.path for p in posts] == ["/repos/acme/demo/issues/7/comments"]


def test_a_forks_read_only_token_gets_a_note_instead_of_an_error(api: GitHubApi) -> None:
    with _client(api, "acme/forked") as client:
        outcome = publish_comment(client, _pr("acme/forked", fork=True), f"{MARKER}\nx\n")
        check = publish_check_run(client, _pr("acme/forked", fork=True), _Result(), "summary")
    assert outcome.action == "skipped" and check.action == "skipped"
    assert outcome.reason is not None and "fork" in outcome.reason
    assert "step summary" in outcome.reason
    assert TOKEN not in (outcome.reason or "")


def test_a_403_on_a_non_fork_names_the_missing_permission(api: GitHubApi) -> None:
    with _client(api, "acme/forked") as client:
        outcome = publish_comment(client, _pr("acme/forked"), f"{MARKER}\nx\n")
    assert outcome.action == "skipped"
    assert "Resource not accessible by integration" in (outcome.reason or "")
    assert "pull-requests: write" in (outcome.reason or "")


@pytest.mark.parametrize("repo", ["acme/busy", "acme/secondary"])
def test_rate_limited_writes_wait_for_retry_after_then_succeed(api: GitHubApi, repo: str) -> None:
    sleeps: list[float] = []
    with _client(api, repo, sleeps) as client:
        outcome = publish_comment(client, _pr(repo), f"{MARKER}\nx\n")
    assert outcome.action == "updated"
    assert sleeps == [1.0]
    patches = [r for r in api.requests if r.method == "PATCH"]
    assert len(patches) == 2  # the limited one, then the retry


def test_an_exhausted_rate_limit_is_a_one_line_error_without_the_token(api: GitHubApi) -> None:
    sleeps: list[float] = []
    with _client(api, "acme/exhausted", sleeps) as client, pytest.raises(RemoteError) as err:
        publish_comment(client, _pr("acme/exhausted"), f"{MARKER}\nx\n")
    assert "rate limit exhausted until" in str(err.value)
    assert TOKEN not in str(err.value) and "\n" not in str(err.value)
    assert sleeps == []  # an hour away: not waited for


class _Result:
    """The two fields a check run reads from a GateResult."""

    status = "fail"
    head_sha = "0" * 40


def test_check_run_carries_the_conclusion_and_the_summary(api: GitHubApi) -> None:
    pr = PullRequest(
        "acme/demo", 7, "ab" * 20, "https://github.com/acme/demo/actions/runs/5", False
    )
    with _client(api, "acme/demo") as client:
        outcome = publish_check_run(client, pr, _Result(), "## summary")  # type: ignore[arg-type]
    assert outcome.action == "created"
    (sent,) = [r.body for r in api.requests if r.path == "/repos/acme/demo/check-runs"]
    assert sent["head_sha"] == "ab" * 20 and sent["conclusion"] == "failure"
    assert sent["status"] == "completed" and sent["output"]["summary"] == "## summary"
    assert sent["details_url"] == "https://github.com/acme/demo/actions/runs/5"


# --- the whole command, in a real repository -----------------------------------------------------

GATE_CONFIG = """\
[project]
name = "gated"
version = "0"

[tool.perfop]
threshold = 0.3

[tool.perfop.workloads.work]
command = "{python} bench.py"
gate = true
warmup = 1
min_runs = 6
max_runs = 6
max_time = 120
"""
BENCH = "import time\ntime.sleep(0.01)\nprint('done')\n"


def _repo(git_repo: Callable[..., Path], git: Callable[..., str]) -> Path:
    repo = git_repo({"pyproject.toml": GATE_CONFIG, "bench.py": BENCH, ".gitignore": ".perfop/\n"})
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "README.md").write_text("a change\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "docs")
    return repo


def _gate(api: GitHubApi, repo: Path, tmp: Path, event: str, slug: str, *extra: str) -> tuple:
    summary = tmp / "summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_") and k != "GH_TOKEN"}
    env.update(
        GITHUB_ACTIONS="true",
        GITHUB_API_URL=api.url,
        GITHUB_TOKEN=TOKEN,
        GITHUB_REPOSITORY=slug,
        GITHUB_EVENT_PATH=str(FIXTURES / event),
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_BASE_REF="main",
        GITHUB_RUN_ID="11903452101",
        GITHUB_RUN_ATTEMPT="2",
        GITHUB_SERVER_URL="https://github.com",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "perfop", "gate", "--seed", "3", *extra],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc, summary


def _no_token_anywhere(proc: subprocess.CompletedProcess[str], repo: Path, summary: Path) -> None:
    assert TOKEN not in proc.stdout + proc.stderr
    assert TOKEN not in summary.read_text()
    for path in (repo / ".perfop").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_gate_comments_on_the_pull_request_and_edits_the_comment_on_a_rerun(
    api: GitHubApi, git_repo: Callable[..., Path], git: Callable[..., str], tmp_path: Path
) -> None:
    repo = _repo(git_repo, git)
    proc, summary = _gate(
        api, repo, tmp_path, "event_pull_request.json", "acme/demo", "--comment", "--check-run"
    )
    assert proc.returncode == 0, proc.stderr
    assert "pull request comment updated" in proc.stderr
    (patch,) = [r for r in api.requests if r.method == "PATCH"]
    body = patch.body["body"]
    assert body.startswith(MARKER)
    assert "| workload | gate | result | change (95% CI) |" in body
    assert "| work | yes |" in body and "(CI " in body
    assert "https://github.com/acme/demo/actions/runs/11903452101/attempts/2" in body
    (check,) = api.check_runs
    assert check["head_sha"] == "9d1c0b7a6f5e4d3c2b1a09f8e7d6c5b4a3928170"
    assert check["conclusion"] == "success"
    assert "could not post" not in summary.read_text()
    _no_token_anywhere(proc, repo, summary)

    proc, summary = _gate(api, repo, tmp_path, "event_pull_request.json", "acme/demo", "--comment")
    assert proc.returncode == 0, proc.stderr
    assert len([r for r in api.requests if r.method == "PATCH"]) == 2
    assert not [r for r in api.requests if r.method == "POST" and "comments" in r.path]
    assert len([c for c in api.comments["acme/demo"] if MARKER in c["body"]]) == 1


@pytest.mark.slow
def test_gate_on_a_fork_falls_back_to_the_step_summary_with_a_note(
    api: GitHubApi, git_repo: Callable[..., Path], git: Callable[..., str], tmp_path: Path
) -> None:
    repo = _repo(git_repo, git)
    proc, summary = _gate(
        api, repo, tmp_path, "event_pull_request_fork.json", "acme/forked", "--comment"
    )
    assert proc.returncode == 0, proc.stderr  # the verdict decides, not the comment
    text = summary.read_text()
    assert "perfop gate passed" in text
    assert "perfop could not post the pull request comment:" in text
    assert "comes from a fork" in text
    assert "no pull request comment" in proc.stderr
    _no_token_anywhere(proc, repo, summary)


def test_comment_outside_a_pull_request_is_bad_usage_before_measuring(
    git_repo: Callable[..., Path], run_cli: Callable[..., object], tmp_path: Path
) -> None:
    repo = git_repo({"pyproject.toml": GATE_CONFIG, "bench.py": BENCH})
    env = {k: None for k in os.environ if k.startswith("GITHUB_")}
    env["GITHUB_REPOSITORY"] = "acme/demo"
    res = run_cli(["gate", "--comment"], cwd=repo, env=env)
    assert res.code == 2  # type: ignore[attr-defined]
    assert "no pull request number" in res.err and "--pr N" in res.err  # type: ignore[attr-defined]
    assert not (repo / ".perfop" / "perfop.db").exists()
