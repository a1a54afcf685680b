"""`perfop ci` against a real local HTTP server serving responses shaped like GitHub's REST API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from perfop.ci.github import GitHubClient, parse_remote_url, resolve_repo
from perfop.errors import RemoteError, UsageError

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURES = DATA / "github"
TOKEN = "ghp_PLANTEDtokenVALUE0123456789abcdefXYZ"
SECRET = "sk_live_PLANTEDstripeSECRET0001"
JOB_ID = 33224411001
RUN_ID = 11903452101


class _Api(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def _fixture(self, name: str) -> Any:
        return json.loads((FIXTURES / name).read_text())

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        auth = self.headers.get("Authorization")
        self.server.requests.append((url.path, query, auth))
        path = url.path
        base = "/repos/acme/demo"
        if auth == "Bearer bad-token":
            return self._send(401, {"message": "Bad credentials", "status": "401"})
        if path.startswith("/repos/acme/limited/"):
            # first call: primary rate limit exhausted, resetting now; then fine
            self.server.limited_calls += 1
            if self.server.limited_calls == 1:
                reset = str(int(time.time()))
                headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
                return self._send(403, {"message": "API rate limit exceeded"}, headers)
            return self._send(200, {"total_count": 0, "workflow_runs": []})
        if path.startswith("/repos/acme/exhausted/"):
            headers = {
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(time.time()) + 3000),
            }
            return self._send(403, {"message": "API rate limit exceeded for 10.0.0.1."}, headers)
        if path == f"{base}/actions/runs":
            if query.get("page") == "2":
                return self._send(200, self._fixture("runs_page2.json"))
            per_page = query.get("per_page", "30")
            nxt = f"http://127.0.0.1:{self.server.server_port}{base}/actions/runs?per_page={per_page}&page=2"
            last = nxt
            link = f'<{nxt}>; rel="next", <{last}>; rel="last"'
            return self._send(200, self._fixture("runs_page1.json"), {"Link": link})
        if path == f"{base}/actions/runs/{RUN_ID}/jobs":
            return self._send(200, self._fixture("jobs.json"))
        if path == f"{base}/actions/jobs/{JOB_ID}":
            return self._send(200, self._fixture("jobs.json")["jobs"][0])
        if path == f"{base}/actions/jobs/{JOB_ID}/logs":
            return self._send(302, b"", {"Location": f"/_blobs/jobs/{JOB_ID}/log.txt?sig=abc"})
        if path == f"/_blobs/jobs/{JOB_ID}/log.txt":
            return self._send(200, (DATA / "ci" / "job_pytest_failure.log").read_bytes())
        if path == f"{base}/code-scanning/alerts":
            ref = query.get("ref", "refs/heads/main")
            name = (
                "code_scanning_pull_7.json"
                if ref == "refs/pull/7/merge"
                else "code_scanning_main.json"
            )
            return self._send(200, self._fixture(name))
        if path == f"{base}/secret-scanning/alerts":
            return self._send(200, self._fixture("secret_scanning.json"))
        return self._send(404, {"message": "Not Found", "status": "404"})


class _Server(ThreadingHTTPServer):
    requests: list[tuple[str, dict[str, str], str | None]]
    limited_calls: int


@pytest.fixture(scope="module")
def api() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _Api)
    server.requests = []
    server.limited_calls = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _perfop(
    api: _Server, tmp_path: Path, *args: str, token: str = TOKEN
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_REPOSITORY")}
    env.update(
        GITHUB_API_URL=f"http://127.0.0.1:{api.server_port}",
        GITHUB_TOKEN=token,
        GITHUB_REPOSITORY="acme/demo",
        PERFOP_STORE=f"sqlite:///{tmp_path / 'store.db'}",
        COLUMNS="200",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "perfop", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert TOKEN not in proc.stdout + proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    return proc


@pytest.mark.slow
def test_runs_follow_link_pagination(api: _Server, tmp_path: Path) -> None:
    proc = _perfop(api, tmp_path, "ci", "runs", "--limit", "4")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["ID", "WORKFLOW", "BRANCH", "SHA", "EVENT", "STATUS", "CREATED"]
    assert [line.split()[0] for line in lines[1:]] == [
        "11903452101",
        "11903452099",
        "11903452090",
        "11903452011",
    ]
    assert "feature/faster-parse" in lines[2] and "b0a9f8e7d6c5" in lines[2]
    doc = json.loads(_perfop(api, tmp_path, "ci", "runs", "--format", "json").stdout)
    assert doc["schema"] == "perfop.ci/1"
    assert [r["conclusion"] for r in doc["runs"]] == [
        "failure",
        "success",
        None,
        "success",
        "cancelled",
    ]
    pages = [q.get("page") for p, q, _ in api.requests if p == "/repos/acme/demo/actions/runs"]
    assert "2" in pages
    assert all(auth == f"Bearer {TOKEN}" for *_, auth in api.requests)


def test_branch_and_status_filters_are_sent(api: _Server, tmp_path: Path) -> None:
    api.requests.clear()
    proc = _perfop(api, tmp_path, "ci", "runs", "--branch", "main", "--status", "failure")
    assert proc.returncode == 0, proc.stderr
    _, query, _ = api.requests[0]
    assert query["branch"] == "main" and query["status"] == "failure"


@pytest.mark.slow
def test_jobs_logs_and_triage(api: _Server, tmp_path: Path) -> None:
    proc = _perfop(api, tmp_path, "ci", "jobs", str(RUN_ID))
    assert proc.returncode == 0, proc.stderr
    assert "test (3.11)" in proc.stdout and "failure" in proc.stdout and "Tests" in proc.stdout

    proc = _perfop(api, tmp_path, "ci", "logs", str(JOB_ID))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Current runner version: '2.329.0'\n")
    assert "2026-11-20T" not in proc.stdout

    proc = _perfop(api, tmp_path, "ci", "triage", str(JOB_ID), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "perfop.triage/1" and doc["failed"]
    assert doc["likely_flaky"] == ["tests/test_core.py::test_network_flaky"]
    assert doc["failing_step"] == "pytest -v -rfE tests || pytest -v --lf tests"


def test_triage_of_a_local_file_needs_no_network(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_"))}
    env["GITHUB_API_URL"] = "http://127.0.0.1:9"  # nothing listens: any request would fail
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "perfop",
            "ci",
            "triage",
            "--file",
            str(DATA / "ci" / "job_timeout.log"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "FAILED tests/test_slow.py::test_hangs_on_lock" in proc.stdout
    assert "exceeded the maximum execution time" in proc.stdout


@pytest.mark.slow
def test_alerts_and_new_on_head(api: _Server, tmp_path: Path) -> None:
    proc = _perfop(api, tmp_path, "ci", "alerts", "--ref", "main")
    assert proc.returncode == 0, proc.stderr
    assert "Open code scanning alerts on main: 1" in proc.stdout
    assert "#2 Stripe API Key" in proc.stdout

    proc = _perfop(
        api, tmp_path, "ci", "alerts", "--compare", "main", "pull/7/merge", "--format", "json"
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [a["number"] for a in doc["new_on_head"]] == [9]
    assert doc["new_on_head"][0]["severity"] == "critical"
    assert doc["new_on_head"][0]["location"] == "src/demo/fast.py:17"
    refs = [q.get("ref") for p, q, _ in api.requests if p.endswith("/code-scanning/alerts")]
    assert {"refs/heads/main", "refs/pull/7/merge"} <= set(refs)


@pytest.mark.slow
def test_errors_are_one_line_with_the_fix(api: _Server, tmp_path: Path) -> None:
    proc = _perfop(api, tmp_path, "ci", "runs", "--repo", "acme/missing")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "not found (404)" in proc.stderr and "--repo acme/missing" in proc.stderr

    proc = _perfop(api, tmp_path, "ci", "jobs", "1", token="bad-token")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "401 Bad credentials" in proc.stderr and "GITHUB_TOKEN" in proc.stderr

    proc = _perfop(api, tmp_path, "ci", "runs", "--repo", "acme/exhausted")
    assert proc.returncode == 2
    assert proc.stderr.startswith("perfop: error: GitHub API rate limit exhausted until ")
    assert proc.stderr.count("\n") == 1


def test_rate_limit_reset_is_waited_out(api: _Server, tmp_path: Path) -> None:
    proc = _perfop(api, tmp_path, "ci", "runs", "--repo", "acme/limited")
    assert proc.returncode == 0, proc.stderr
    assert api.limited_calls == 2
    assert "no workflow runs in acme/limited" in proc.stdout


def test_token_never_reaches_files(api: _Server, tmp_path: Path) -> None:
    _perfop(api, tmp_path, "ci", "logs", str(JOB_ID), "-o", "job.log")
    _perfop(api, tmp_path, "ci", "alerts", "--format", "json")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert tmp_path / "job.log" in written
    for path in written:
        data = path.read_bytes()
        assert TOKEN.encode() not in data and SECRET.encode() not in data, path


def test_client_in_process_waits_with_injected_sleep(api: _Server) -> None:
    slept: list[float] = []
    api.limited_calls = 0
    base = f"http://127.0.0.1:{api.server_port}"
    with GitHubClient("acme/limited", token=TOKEN, base_url=base, sleep=slept.append) as client:
        assert client.workflow_runs(limit=5) == []
    assert len(slept) == 1 and 0 <= slept[0] <= 3


def test_repository_resolution(tmp_path: Path) -> None:
    assert parse_remote_url("git@github.com:acme/demo.git") == "acme/demo"
    assert parse_remote_url("https://x-access-token:abc@github.com/acme/demo") == "acme/demo"
    assert parse_remote_url("ssh://git@github.com/acme/demo.git") == "acme/demo"
    assert parse_remote_url("/srv/git/demo.git") is None
    assert resolve_repo("o/n", env={}) == "o/n"
    assert resolve_repo(None, env={"GITHUB_REPOSITORY": "a/b"}) == "a/b"
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "remote", "add", "origin", "https://github.com/acme/demo.git"],
        check=True,
    )
    assert resolve_repo(None, cwd=tmp_path, env={}) == "acme/demo"
    with pytest.raises(UsageError, match="owner/name"):
        resolve_repo("not-a-repo", env={})


def test_next_link_to_another_host_is_refused() -> None:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        link = '<https://evil.example/steal?page=2>; rel="next"'
        return httpx.Response(200, json=[{"number": 1}], headers={"Link": link})

    client = GitHubClient("acme/demo", token=TOKEN, transport=httpx.MockTransport(handler))
    with client, pytest.raises(RemoteError, match="another host"):
        client.code_scanning_alerts()
