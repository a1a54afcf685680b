"""A local HTTP server speaking GitHub's REST API for pull-request comments and check runs.

Responses are the recorded fixtures in tests/data/github (real shapes: ids, users, ``Link``
pagination, GitHub's 403/429 bodies and rate-limit headers). Each repository name picks a
behaviour:

- ``acme/demo``: comments paginated three to a page (``Link: rel="next"``), writes accepted;
- ``acme/forked``: reads work, every write is 403 "Resource not accessible by integration";
- ``acme/busy``: the first write is 429 with ``retry-after: 1``, then accepted;
- ``acme/secondary``: the first write is 403, a secondary rate limit (``retry-after``), then ok;
- ``acme/exhausted``: every request 403, ``x-ratelimit-remaining: 0``, reset an hour away.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent / "data" / "github"
PAGE = 3

_COMMENTS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<n>\d+)/comments$")
_COMMENT = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$")
_CHECKS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/check-runs$")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Request:
    def __init__(self, method: str, path: str, query: dict[str, str], auth: str | None, body: Any):
        self.method, self.path, self.query, self.auth, self.body = method, path, query, auth, body

    def __repr__(self) -> str:
        return f"{self.method} {self.path} {self.query}"


class GitHubApi(ThreadingHTTPServer):
    requests: list[Request]
    comments: dict[str, list[dict[str, Any]]]
    writes: dict[str, int]
    check_runs: list[dict[str, Any]]
    lock: threading.Lock

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class _Handler(BaseHTTPRequestHandler):
    server: GitHubApi

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("x-ratelimit-limit", "5000")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def _record(self) -> tuple[str, dict[str, str], Any]:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        with self.server.lock:
            self.server.requests.append(
                Request(self.command, url.path, query, self.headers.get("Authorization"), body)
            )
        return url.path, query, body

    def _limited(self, repo: str, write: bool) -> bool:
        if repo == "acme/exhausted":
            reset = str(int(time.time()) + 3600)
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
            self._send(403, {"message": "API rate limit exceeded for installation ID 1."}, headers)
            return True
        if not write:
            return False
        with self.server.lock:
            self.server.writes[repo] = self.server.writes.get(repo, 0) + 1
            first = self.server.writes[repo] == 1
        if repo == "acme/forked":
            self._send(403, fixture("forbidden_integration.json"))
            return True
        if repo == "acme/busy" and first:
            self._send(429, {"message": "Too Many Requests"}, {"retry-after": "1"})
            return True
        if repo == "acme/secondary" and first:
            self._send(403, fixture("secondary_rate_limit.json"), {"retry-after": "1"})
            return True
        return False

    def _comments(self, repo: str) -> list[dict[str, Any]]:
        with self.server.lock:
            if repo not in self.server.comments:
                self.server.comments[repo] = [
                    *fixture("issue_comments_page1.json"),
                    *fixture("issue_comments_page2.json"),
                ]
            return self.server.comments[repo]

    def do_GET(self) -> None:
        path, query, _ = self._record()
        m = _COMMENTS.match(path)
        if m is None:
            return self._send(404, {"message": "Not Found", "status": "404"})
        repo = m["repo"]
        if self._limited(repo, write=False):
            return None
        comments = self._comments(repo)
        page = int(query.get("page", "1"))
        chunk = comments[(page - 1) * PAGE : page * PAGE]
        headers = {}
        if page * PAGE < len(comments):
            nxt = f"{self.server.url}{path}?per_page={PAGE}&page={page + 1}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        return self._send(200, chunk, headers)

    def do_POST(self) -> None:
        path, _, body = self._record()
        m = _COMMENTS.match(path) or _CHECKS.match(path)
        if m is None:
            return self._send(404, {"message": "Not Found", "status": "404"})
        repo = m["repo"]
        if self._limited(repo, write=True):
            return None
        if path.endswith("/check-runs"):
            doc = {**fixture("check_run_created.json"), **body}
            with self.server.lock:
                self.server.check_runs.append(doc)
            return self._send(201, doc)
        doc = fixture("issue_comment_created.json")
        comments = self._comments(repo)
        with self.server.lock:
            doc["id"] = 2510000200 + len(comments)
            doc["html_url"] = f"https://github.com/{repo}/pull/{m['n']}#issuecomment-{doc['id']}"
            doc["body"] = body["body"]
            comments.append(doc)
        return self._send(201, doc)

    def do_PATCH(self) -> None:
        path, _, body = self._record()
        m = _COMMENT.match(path)
        if m is None:
            return self._send(404, {"message": "Not Found", "status": "404"})
        repo = m["repo"]
        if self._limited(repo, write=True):
            return None
        for c in self._comments(repo):
            if c["id"] == int(m["id"]):
                with self.server.lock:
                    c["body"] = body["body"]
                return self._send(200, c)
        return self._send(404, {"message": "Not Found", "status": "404"})


@contextmanager
def github_api() -> Iterator[GitHubApi]:
    server = GitHubApi(("127.0.0.1", 0), _Handler)
    server.requests, server.comments, server.writes, server.check_runs = [], {}, {}, []
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
