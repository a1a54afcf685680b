"""A small GitHub REST client: Actions runs, jobs, logs, security alerts, PR comments, checks.

The token comes from ``GITHUB_TOKEN`` or ``GH_TOKEN`` and lives only in the request headers: it is
never stored, printed, logged or put in an error message. Pagination follows ``Link`` headers; an
exhausted rate limit is waited out when the reset is near, else it is a one-line ``RemoteError``.
``GITHUB_API_URL`` overrides the API base (GitHub Enterprise, tests against a local server).
The transport is a seam: pass an ``httpx.BaseTransport`` to test without a network.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfop import __version__, git
from perfop.errors import RemoteError, UsageError

if TYPE_CHECKING:
    import httpx

DEFAULT_API_URL = "https://api.github.com"
TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")
_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_REMOTE_RE = re.compile(
    r"^(?:https?://(?:[^@/]+@)?|ssh://(?:[^@/]+@)?|git@)(?P<host>[^/:]+)(?::\d+)?[/:]"
    r"(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?$"
)
_LINK_NEXT = re.compile(r'<(?P<url>[^>]+)>\s*;\s*rel="next"')


def token_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The API token from ``GITHUB_TOKEN`` or ``GH_TOKEN`` (first set wins), or None."""
    env = os.environ if env is None else env
    for name in TOKEN_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def parse_remote_url(url: str) -> str | None:
    """``owner/name`` from a git remote URL (https, ssh or scp form), credentials dropped."""
    m = _REMOTE_RE.match(url.strip())
    return m.group("repo") if m else None


def resolve_repo(
    repo: str | None, *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> str:
    """``owner/name`` from ``--repo``, else ``GITHUB_REPOSITORY``, else the origin remote."""
    env = os.environ if env is None else env
    if repo:
        if not _REPO_RE.match(repo):
            raise UsageError(f"--repo {repo!r} is not of the form owner/name")
        return repo
    from_env = env.get("GITHUB_REPOSITORY", "").strip()
    if from_env:
        if not _REPO_RE.match(from_env):
            raise UsageError(f"GITHUB_REPOSITORY={from_env!r} is not of the form owner/name")
        return from_env
    try:
        # The user's environment and configuration decide what origin is.
        proc = git.run(cwd or Path.cwd(), "remote", "get-url", "origin", timeout=10, user_env=True)
    except (OSError, subprocess.TimeoutExpired):
        proc = None
    if proc is not None and proc.returncode == 0:
        parsed = parse_remote_url(proc.stdout)
        if parsed:
            return parsed
    raise UsageError(
        "cannot tell which GitHub repository to use: pass --repo owner/name, set "
        "GITHUB_REPOSITORY, or add a GitHub 'origin' remote"
    )


class GitHubForbidden(RemoteError):
    """403 that is not a rate limit: the token may not do this (a fork's read-only token)."""


@dataclass(frozen=True)
class RateLimitPolicy:
    """How long to wait for an exhausted rate limit before giving up with an error."""

    max_wait: float = 60.0


class GitHubClient:
    """Thin typed access to the endpoints perfop uses. Use as a context manager."""

    def __init__(
        self,
        repo: str,
        *,
        token: str | None = None,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        rate_limit: RateLimitPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
    ) -> None:
        import httpx

        self.repo = repo
        self._has_token = token is not None
        self._policy = rate_limit or RateLimitPolicy()
        self._sleep = sleep
        self._clock = clock
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": f"perfop/{__version__}",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        base = (base_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        self._http = httpx.Client(
            base_url=base,
            headers=headers,
            transport=transport,
            timeout=timeout,
            follow_redirects=True,
        )

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- transport -----------------------------------------------------------------------------

    def _request(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        # params=None keeps a next-page URL's own query string (a dict would replace it)
        return self._send("GET", path, params=dict(params) if params else None)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        import httpx

        for _attempt in range(3):
            try:
                response = self._http.request(method, path, params=params, json=body)
            except httpx.HTTPError as exc:
                raise RemoteError(
                    f"cannot reach GitHub at {self._http.base_url} ({type(exc).__name__}); "
                    "check the network or GITHUB_API_URL"
                ) from None
            wait = self._rate_limit_wait(response)
            if wait is None:
                self._raise_for_status(response, path, write=method != "GET")
                return response
            self._sleep(wait)
        raise RemoteError(f"GitHub kept answering 'rate limited' for {path}; try again later")

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying a rate-limited response, or None if not limited."""
        if response.status_code not in (403, 429):
            return None
        headers = response.headers
        retry_after = headers.get("retry-after")
        if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
            wait = max(float(headers["x-ratelimit-reset"]) - self._clock(), 0.0) + 1.0
        elif retry_after is not None and retry_after.isdigit():
            wait = float(retry_after)  # secondary rate limit
        elif response.status_code == 429:
            wait = 60.0
        else:
            return None
        if wait > self._policy.max_wait:
            reset = time.strftime("%H:%M:%S UTC", time.gmtime(self._clock() + wait))
            hint = "" if self._has_token else "; set GITHUB_TOKEN or GH_TOKEN for a higher limit"
            raise RemoteError(
                f"GitHub API rate limit exhausted until {reset} ({wait:.0f} s away){hint}"
            )
        return wait

    def _raise_for_status(self, response: httpx.Response, path: str, *, write: bool) -> None:
        status = response.status_code
        if status < 400:
            return
        detail = _api_message(response)
        if status == 401:
            raise RemoteError(
                f"GitHub rejected the credentials (401 {detail}) for {path}: set GITHUB_TOKEN or "
                "GH_TOKEN to a valid, unexpired token"
            )
        if status == 403 and write:
            raise GitHubForbidden(
                f"GitHub refused the write (403 {detail}) to {path}: the token cannot write to "
                f"{self.repo} (a pull request from a fork gets a read-only token; the workflow "
                "job needs 'pull-requests: write' / 'checks: write')"
            )
        if status == 403:
            raise RemoteError(
                f"GitHub refused access (403 {detail}) to {path}: the token needs read access to "
                f"{self.repo} (scopes: repo or actions:read; security_events for code scanning, "
                "secret_scanning_alerts for secret scanning)"
            )
        if status == 404:
            who = (
                "the token" if self._has_token else "an anonymous client (no GITHUB_TOKEN/GH_TOKEN)"
            )
            raise RemoteError(
                f"GitHub says not found (404) for {path}: check --repo {self.repo}, the id, and "
                f"that {who} can see the repository"
            )
        raise RemoteError(f"GitHub answered {status} {detail} for {path}; try again later")

    def _paginate(
        self, path: str, params: Mapping[str, Any], key: str | None, limit: int | None
    ) -> Iterator[dict[str, Any]]:
        """Items of a listing across pages; ``key`` names the list in an object response."""
        query: dict[str, Any] | None = {
            "per_page": 100 if limit is None else min(max(limit, 1), 100),
            **params,
        }
        url: str | None = path
        count = 0
        while url is not None:
            response = self._request(url, query)
            query = None  # the next link carries its own query string
            body = response.json()
            items = body.get(key, []) if key is not None and isinstance(body, dict) else body
            if not isinstance(items, list):
                raise RemoteError(f"GitHub answered {path} with an unexpected document shape")
            for item in items:
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            url = _next_link(response.headers.get("link", ""))
            if url is not None and not self._same_origin(url):
                # Our token goes with every request: never follow a link to another host.
                raise RemoteError(f"GitHub's next-page link for {path} points to another host")

    def _same_origin(self, url: str) -> bool:
        import httpx

        target, base = httpx.URL(url), self._http.base_url
        if not target.is_absolute_url:
            return True
        return (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)

    # -- endpoints -----------------------------------------------------------------------------

    def workflow_runs(
        self, *, branch: str | None = None, status: str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"branch": branch, "status": status}.items() if v}
        path = f"/repos/{self.repo}/actions/runs"
        return list(self._paginate(path, params, "workflow_runs", limit))

    def jobs(self, run_id: int, *, all_attempts: bool = False) -> list[dict[str, Any]]:
        path = f"/repos/{self.repo}/actions/runs/{run_id}/jobs"
        params = {"filter": "all" if all_attempts else "latest"}
        return list(self._paginate(path, params, "jobs", None))

    def job(self, job_id: int) -> dict[str, Any]:
        body = self._request(f"/repos/{self.repo}/actions/jobs/{job_id}").json()
        return dict(body)

    def job_log(self, job_id: int) -> str:
        """Raw log text of one job (GitHub redirects to a short-lived download URL)."""
        response = self._request(f"/repos/{self.repo}/actions/jobs/{job_id}/logs")
        return response.content.decode("utf-8", errors="replace")

    def code_scanning_alerts(
        self, *, ref: str | None = None, state: str = "open"
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"state": state}
        if ref:
            params["ref"] = qualify_ref(ref)
        return list(self._paginate(f"/repos/{self.repo}/code-scanning/alerts", params, None, None))

    def secret_scanning_alerts(self, *, state: str = "open") -> list[dict[str, Any]]:
        path = f"/repos/{self.repo}/secret-scanning/alerts"
        # The alert carries the secret itself: drop it at once so it can never be shown or stored.
        return [
            {k: v for k, v in alert.items() if k != "secret"}
            for alert in self._paginate(path, {"state": state, "hide_secret": "true"}, None, None)
        ]

    def issue_comments(self, number: int) -> Iterator[dict[str, Any]]:
        """Every comment of an issue or pull request, oldest first, across pages."""
        return self._paginate(f"/repos/{self.repo}/issues/{number}/comments", {}, None, None)

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        path = f"/repos/{self.repo}/issues/{number}/comments"
        return dict(self._send("POST", path, body={"body": body}).json())

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        path = f"/repos/{self.repo}/issues/comments/{comment_id}"
        return dict(self._send("PATCH", path, body={"body": body}).json())

    def create_check_run(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/repos/{self.repo}/check-runs"
        return dict(self._send("POST", path, body=payload).json())


def qualify_ref(ref: str) -> str:
    """``main`` -> ``refs/heads/main``; ``pull/7/merge`` -> ``refs/pull/7/merge``; refs/... kept."""
    if ref.startswith("refs/"):
        return ref
    if ref.startswith("pull/"):
        return f"refs/{ref}"
    return f"refs/heads/{ref}"


def _next_link(header: str) -> str | None:
    m = _LINK_NEXT.search(header)
    return m.group("url") if m else None


def _api_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"]).splitlines()[0][:200]
    return response.reason_phrase
