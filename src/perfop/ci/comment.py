"""The gate's pull-request comment and check run (``perfop gate --comment / --check-run``).

One comment per pull request, found again by its marker, so a re-run edits it instead of adding
another. ``pull_request_context`` reads what GitHub Actions says about the run (event file and
``GITHUB_*`` variables); ``format_comment`` is pure; ``publish_comment`` and
``publish_check_run`` talk to the API and return a ``PublishOutcome`` instead of raising when the
token may not write (a fork's pull request): the caller then says so in the step summary.
The token is only ever in the client's request headers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from perfop.errors import UsageError

if TYPE_CHECKING:
    from perfop.ci.gate import GateResult
    from perfop.ci.github import GitHubClient

MARKER = "<!-- perfop-gate -->"
# GitHub's limit for an issue comment's body and a check run's summary is 65,536 characters.
MAX_BODY = 65_000


@dataclass(frozen=True)
class PullRequest:
    repo: str
    number: int
    head_sha: str | None
    job_url: str | None
    fork: bool


@dataclass(frozen=True)
class PublishOutcome:
    """What became of a comment or check run (not a validation's ``Outcome``)."""

    action: Literal["created", "updated", "skipped"]
    url: str | None = None
    reason: str | None = None


def pull_request_context(
    *, number: int | None = None, env: Mapping[str, str] | None = None
) -> PullRequest:
    """The pull request this run is for: ``--pr`` or the Actions event file, and the job's URL."""
    from perfop.ci.github import resolve_repo

    env = os.environ if env is None else env
    repo = resolve_repo(None, env=env)
    event: dict[str, object] = {}
    event_path = env.get("GITHUB_EVENT_PATH")
    if event_path:
        try:
            loaded = json.loads(Path(event_path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"GITHUB_EVENT_PATH={event_path}: cannot read it ({exc})") from None
        event = loaded if isinstance(loaded, dict) else {}
    pr = event.get("pull_request")
    pr = pr if isinstance(pr, dict) else {}
    if number is None:
        found = pr.get("number", event.get("number"))
        if not isinstance(found, int):
            raise UsageError(
                "--comment: no pull request number (not a pull_request event); pass --pr N"
            )
        number = found
    head = pr.get("head") if isinstance(pr.get("head"), dict) else {}
    base = pr.get("base") if isinstance(pr.get("base"), dict) else {}
    head_repo = (head.get("repo") or {}) if isinstance(head, dict) else {}
    base_repo = (base.get("repo") or {}) if isinstance(base, dict) else {}
    fork = bool(
        isinstance(head_repo, dict)
        and isinstance(base_repo, dict)
        and head_repo.get("full_name")
        and head_repo.get("full_name") != base_repo.get("full_name")
    )
    sha = head.get("sha") if isinstance(head, dict) else None
    return PullRequest(
        repo=repo,
        number=number,
        head_sha=sha if isinstance(sha, str) else None,
        job_url=job_url(env),
        fork=fork,
    )


def job_url(env: Mapping[str, str]) -> str | None:
    """The Actions run (and attempt) this gate ran in, or None outside Actions."""
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repo, run = env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    if not (repo and run and run.isdigit()):
        return None
    url = f"{server}/{repo}/actions/runs/{run}"
    attempt = env.get("GITHUB_RUN_ATTEMPT", "")
    return f"{url}/attempts/{attempt}" if attempt.isdigit() and attempt != "1" else url


def format_comment(
    result: GateResult, *, job: str | None, fail_on_inconclusive: bool = False
) -> str:
    """The comment's Markdown: the marker, the gate's summary, the job's link."""
    from perfop.ci.gate import format_markdown

    body = format_markdown(result, fail_on_inconclusive=fail_on_inconclusive)
    tail = [""]
    if job:
        tail.append(f"[The job's log and step summary]({job}) · ")
    tail.append(
        "No plot: GitHub shows only images hosted elsewhere, and perfop uploads nothing; "
        "`perfop report` draws them from the same store. This comment is updated on every run."
    )
    text = f"{MARKER}\n{body}" + "".join(tail) + "\n"
    if len(text) > MAX_BODY:
        text = text[: MAX_BODY - 40] + "\n\n…(cut at GitHub's size limit)\n"
    return text


def publish_comment(client: GitHubClient, pr: PullRequest, body: str) -> PublishOutcome:
    """Edit the PR's perfop comment (the first with the marker), or create it."""
    from perfop.ci.github import GitHubForbidden

    try:
        existing = next(
            (c for c in client.issue_comments(pr.number) if MARKER in str(c.get("body") or "")),
            None,
        )
        if existing is not None and isinstance(existing.get("id"), int):
            doc = client.update_comment(int(existing["id"]), body)
            return PublishOutcome("updated", _url(doc))
        doc = client.create_comment(pr.number, body)
        return PublishOutcome("created", _url(doc))
    except GitHubForbidden as exc:
        return PublishOutcome("skipped", reason=_forbidden_reason(pr, str(exc)))


def publish_check_run(
    client: GitHubClient, pr: PullRequest, result: GateResult, summary: str
) -> PublishOutcome:
    """A completed check run ``perfop gate`` on the head commit with the same summary."""
    from perfop.ci.github import GitHubForbidden

    status = result.status
    conclusion = {"pass": "success", "fail": "failure", "inconclusive": "neutral"}[status]
    payload = {
        "name": "perfop gate",
        "head_sha": pr.head_sha or result.head_sha,
        "status": "completed",
        "conclusion": conclusion,
        "output": {"title": f"perfop gate: {status}", "summary": summary[:MAX_BODY]},
    }
    if pr.job_url:
        payload["details_url"] = pr.job_url
    try:
        return PublishOutcome("created", _url(client.create_check_run(payload)))
    except GitHubForbidden as exc:
        return PublishOutcome("skipped", reason=_forbidden_reason(pr, str(exc)))


def _url(doc: Mapping[str, object]) -> str | None:
    url = doc.get("html_url")
    return url if isinstance(url, str) else None


def _forbidden_reason(pr: PullRequest, message: str) -> str:
    if pr.fork:
        return (
            "this pull request comes from a fork, whose workflow token is read-only, so the "
            "result is in this step summary only"
        )
    return f"{message}; the result is in this step summary only"


def fallback_note(what: str, outcome: PublishOutcome) -> str:
    """The step summary's line for a comment or check run that could not be written."""
    return f"\n> **perfop could not post the {what}:** {outcome.reason}.\n"
