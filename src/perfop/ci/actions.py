"""GitHub Actions services behind ``perfop ci``: runs, jobs, logs, triage and security alerts.

Each function takes a ``GitHubClient`` and returns plain JSON-ready data (``schema`` field set);
``format_*`` functions render that data as text. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perfop.ci.github import GitHubClient
from perfop.ci.triage import TriageReport, strip_timestamps, triage

CI_SCHEMA = "perfop.ci/1"


def _pick(doc: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: doc.get(k) for k in keys}


def list_runs(
    client: GitHubClient, *, branch: str | None, status: str | None, limit: int
) -> dict[str, Any]:
    runs = [
        {
            **_pick(
                run,
                "id",
                "name",
                "head_branch",
                "head_sha",
                "event",
                "status",
                "conclusion",
                "run_attempt",
                "created_at",
                "html_url",
            ),
            "head_sha": str(run.get("head_sha") or "")[:12],
        }
        for run in client.workflow_runs(branch=branch, status=status, limit=limit)
    ]
    return {"schema": CI_SCHEMA, "kind": "runs", "repo": client.repo, "runs": runs}


def list_jobs(client: GitHubClient, run_id: int) -> dict[str, Any]:
    jobs = []
    for job in client.jobs(run_id):
        failed_steps = [
            step.get("name")
            for step in job.get("steps") or []
            if step.get("conclusion") in ("failure", "timed_out", "cancelled")
        ]
        jobs.append(
            {
                **_pick(
                    job,
                    "id",
                    "name",
                    "status",
                    "conclusion",
                    "run_attempt",
                    "started_at",
                    "completed_at",
                    "html_url",
                ),
                "failed_steps": failed_steps,
            }
        )
    return {
        "schema": CI_SCHEMA,
        "kind": "jobs",
        "repo": client.repo,
        "run_id": run_id,
        "jobs": jobs,
    }


def job_log(client: GitHubClient, job_id: int) -> str:
    """The job's log with GitHub's timestamps stripped."""
    return strip_timestamps(client.job_log(job_id))


def triage_job(client: GitHubClient, job_id: int) -> TriageReport:
    """Download a job's log and triage it; the API's failed-step name wins when it has one."""
    report = triage(client.job_log(job_id))
    job = client.job(job_id)
    api_failed = [
        str(step.get("name"))
        for step in job.get("steps") or []
        if step.get("conclusion") in ("failure", "timed_out")
    ]
    if api_failed and report.failing_step is None:
        from dataclasses import replace

        report = replace(report, failing_step=api_failed[0])
    return report


def _code_alert(alert: dict[str, Any]) -> dict[str, Any]:
    rule = alert.get("rule") or {}
    instance = alert.get("most_recent_instance") or {}
    location = instance.get("location") or {}
    where = location.get("path")
    if where and location.get("start_line"):
        where = f"{where}:{location['start_line']}"
    return {
        "number": alert.get("number"),
        "rule": rule.get("id"),
        "severity": rule.get("security_severity_level") or rule.get("severity"),
        "tool": (alert.get("tool") or {}).get("name"),
        "description": rule.get("description"),
        "location": where,
        "html_url": alert.get("html_url"),
    }


def _secret_alert(alert: dict[str, Any]) -> dict[str, Any]:
    # Never the secret itself: the client already dropped it, and we pick named fields only.
    return {
        "number": alert.get("number"),
        "secret_type": alert.get("secret_type_display_name") or alert.get("secret_type"),
        "created_at": alert.get("created_at"),
        "html_url": alert.get("html_url"),
    }


def security_alerts(
    client: GitHubClient, *, ref: str | None, compare: tuple[str, str] | None
) -> dict[str, Any]:
    """Open code-scanning and secret-scanning alerts; with ``compare`` those new on HEAD."""
    secrets = [_secret_alert(a) for a in client.secret_scanning_alerts()]
    doc: dict[str, Any] = {"schema": CI_SCHEMA, "kind": "alerts", "repo": client.repo}
    if compare is None:
        code = [_code_alert(a) for a in client.code_scanning_alerts(ref=ref)]
        doc.update(ref=ref, code_scanning=code, secret_scanning=secrets)
        return doc
    base, head = compare
    base_numbers = {a.get("number") for a in client.code_scanning_alerts(ref=base)}
    head_alerts = [_code_alert(a) for a in client.code_scanning_alerts(ref=head)]
    new = [a for a in head_alerts if a["number"] not in base_numbers]
    doc.update(
        base=base,
        head=head,
        code_scanning=head_alerts,
        new_on_head=new,
        # Secret scanning alerts are repository-wide (not per ref): all open ones are listed.
        secret_scanning=secrets,
    )
    return doc


def format_runs(doc: dict[str, Any]) -> str:
    rows = [("ID", "WORKFLOW", "BRANCH", "SHA", "EVENT", "STATUS", "CREATED")]
    for r in doc["runs"]:
        state = r["conclusion"] or r["status"] or ""
        rows.append(
            (
                str(r["id"]),
                str(r["name"] or ""),
                str(r["head_branch"] or ""),
                r["head_sha"],
                str(r["event"] or ""),
                state,
                str(r["created_at"] or ""),
            )
        )
    return _table(rows) if doc["runs"] else f"no workflow runs in {doc['repo']}\n"


def format_jobs(doc: dict[str, Any]) -> str:
    rows = [("ID", "JOB", "STATUS", "FAILED STEPS")]
    for j in doc["jobs"]:
        state = j["conclusion"] or j["status"] or ""
        rows.append((str(j["id"]), str(j["name"] or ""), state, ", ".join(j["failed_steps"])))
    return _table(rows) if doc["jobs"] else f"no jobs in run {doc['run_id']}\n"


def format_alerts(doc: dict[str, Any]) -> str:
    out: list[str] = []
    if "new_on_head" in doc:
        new = doc["new_on_head"]
        out.append(f"Code scanning alerts new on {doc['head']} (not on {doc['base']}): {len(new)}")
        out.extend(_alert_line(a) for a in new)
        out.append(f"Open code scanning alerts on {doc['head']}: {len(doc['code_scanning'])}")
    else:
        on = f" on {doc['ref']}" if doc.get("ref") else ""
        out.append(f"Open code scanning alerts{on}: {len(doc['code_scanning'])}")
        out.extend(_alert_line(a) for a in doc["code_scanning"])
    out.append(f"Open secret scanning alerts: {len(doc['secret_scanning'])}")
    out.extend(
        f"  #{a['number']} {a['secret_type']}  {a['html_url'] or ''}".rstrip()
        for a in doc["secret_scanning"]
    )
    return "\n".join(out) + "\n"


def _alert_line(a: dict[str, Any]) -> str:
    return f"  #{a['number']} [{a['severity']}] {a['rule']} at {a['location']}: {a['description']}"


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"
