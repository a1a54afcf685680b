"""History in a git branch (``perfop data export|import``): the zero-server store for CI.

Every recorded run becomes one JSON file ``runs/WORKLOAD/SHA-KEY.json`` on the branch
``perfop-data``, where KEY is a digest of the file's content: files are only ever added, a
re-export adds nothing, and two exports made apart merge without a conflict (same path, same
bytes). The branch is written with git plumbing only (``hash-object``, a temporary index,
``write-tree``, ``commit-tree``, ``update-ref`` with the old value), so the user's working tree,
index, HEAD, stash and other branches are never touched; a branch whose first commit perfop did
not write is refused. ``import_records`` reads the files back into a store through the store's
public functions (as imported runs, each file once).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfop import git as gitrun
from perfop.errors import GitError, UsageError

if TYPE_CHECKING:
    from perfop.store import Store

DATA_BRANCH = "perfop-data"
RECORD_SCHEMA = "perfop.record/1"
TRAILER = "Perfop-Data: 1"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class ExportResult:
    branch: str
    added: int
    commit: str | None  # None: nothing new, the branch is unchanged


def _git(
    repo: Path,
    *args: str,
    env: dict[str, str] | None = None,
    data: bytes | None = None,
    check: bool = True,
) -> str:
    proc = gitrun.run(repo, *args, input=data, timeout=120, env=env, user_env=True)
    if check and proc.returncode != 0:
        err = proc.stderr.strip().splitlines()
        raise GitError(f"git {args[0]} failed in {repo}: {err[-1] if err else proc.returncode}")
    return proc.stdout.strip()


def _check_branch(name: str) -> str:
    if (
        not name
        or name.startswith("-")
        or _git(Path.cwd(), "check-ref-format", "--branch", name, check=False) != name
    ):
        raise UsageError(f"--branch {name!r} is not a valid branch name")
    return name


def records(store: Store) -> list[tuple[str, bytes]]:
    """(path, content) of every recorded run in the store, one file each."""
    from perfop.store.history import known_workloads, run_metrics_of, series_runs

    out: list[tuple[str, bytes]] = []
    for workload in known_workloads(store):
        runs = series_runs(store, workload, kinds=("record",))
        samples = run_metrics_of(store, [r.run_id for r in runs])
        for run in runs:
            doc: dict[str, Any] = {
                "schema": RECORD_SCHEMA,
                "workload": workload,
                "sha": run.sha,
                "committed_at": run.committed_at,
                "branch": run.branch,
                "subject": run.subject,
                "started_at": run.started_at,
                "samples": samples[run.run_id],
            }
            body = (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode()
            key = hashlib.sha256(body).hexdigest()[:16]
            out.append((f"runs/{_SAFE.sub('_', workload)}/{run.sha}-{key}.json", body))
    return out


def export_records(store: Store, repo: Path, *, branch: str = DATA_BRANCH) -> ExportResult:
    """Add the store's recorded runs missing from ``branch`` as one new commit on it."""
    _check_branch(branch)
    ref = f"refs/heads/{branch}"
    old = _git(repo, "rev-parse", "--verify", "--quiet", ref, check=False)
    # A fresh clone has only the remote's branch: build on it, so the push is a fast-forward.
    base = old or _git(
        repo, "rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}", check=False
    )
    if base:
        # perfop's branch starts with perfop's commit (later merges of it are anybody's).
        roots = _git(repo, "rev-list", "--max-parents=0", base).split()
        if not all(TRAILER in _git(repo, "log", "-1", "--format=%B", r) for r in roots):
            raise UsageError(
                f"branch {branch} exists and perfop did not write it; perfop writes only its "
                f"own data branch: pass --branch with another name"
            )
    existing = set(_git(repo, "ls-tree", "-r", "--name-only", base).splitlines()) if base else set()
    new = [(p, b) for p, b in records(store) if p not in existing]
    if not new:
        return ExportResult(branch, 0, None)
    with tempfile.TemporaryDirectory(prefix="perfop-data-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if base:
            _git(repo, "read-tree", base, env=env)
        for path, body in new:
            blob = _git(repo, "hash-object", "-w", "--stdin", data=body)
            _git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = _git(repo, "write-tree", env=env)
    parents = ["-p", base] if base else []
    ident = {
        "GIT_AUTHOR_NAME": "perfop",
        "GIT_AUTHOR_EMAIL": "perfop@localhost",
        "GIT_COMMITTER_NAME": "perfop",
        "GIT_COMMITTER_EMAIL": "perfop@localhost",
    }
    commit = _git(
        repo,
        "commit-tree",
        tree,
        *parents,
        "-m",
        f"perfop: {len(new)} recorded runs\n\n{TRAILER}",
        env=ident,
    )
    # Compare-and-swap: if someone moved the branch meanwhile, fail instead of losing their data.
    _git(repo, "update-ref", "-m", "perfop data export", ref, commit, old or "0" * 40)
    return ExportResult(branch, len(new), commit)


def import_records(store: Store, repo: Path, *, ref: str = DATA_BRANCH) -> int:
    """Read every record file of ``ref`` into the store (each file once); how many were new."""
    from perfop.model import BUILTIN_METRICS, MetricSpec
    from perfop.store.history import CommitInfo, imported_keys, insert_imported_run, save_commit

    sha = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if not sha:
        raise UsageError(
            f"--ref {ref!r}: no such branch or commit (fetch it: git fetch origin "
            f"{DATA_BRANCH}:{DATA_BRANCH})"
        )
    seen = imported_keys(store)
    added = 0
    # Every file is read and checked before the first is stored: a bad one imports nothing.
    docs = [
        (path, _read_record(repo, sha, path, ref))
        for path in _git(repo, "ls-tree", "-r", "--name-only", sha, "runs/").splitlines()
    ]
    for path, doc in docs:
        key = Path(path).stem.rsplit("-", 1)[-1]
        if doc is None or (key, doc["workload"]) in seen:
            continue
        save_commit(
            store,
            CommitInfo(doc["sha"], doc.get("committed_at"), doc.get("branch"), doc.get("subject")),
        )
        names = sorted({m for s in doc["samples"] for m in s})
        insert_imported_run(
            store,
            workload=doc["workload"],
            argv=["perfop", "data", "import", path],
            samples=doc["samples"],
            settings={"import": {"digest": key, "format": RECORD_SCHEMA, "file": path}},
            metric_specs={m: MetricSpec(m, *BUILTIN_METRICS.get(m, ("", "lower"))) for m in names},
            environment_id=None,
            sha=doc["sha"],
            ref=doc.get("branch"),
            dirty=False,
        )
        seen.add((key, doc["workload"]))
        added += 1
    return added


def _read_record(repo: Path, sha: str, path: str, ref: str) -> dict[str, Any] | None:
    """The record at ``path`` of commit ``sha``, checked; None for a file of another schema."""
    from perfop.history.importers import check_record

    where = f"--ref {ref}: {path}"
    try:
        doc = json.loads(_git(repo, "cat-file", "blob", f"{sha}:{path}"))
    except ValueError:
        raise UsageError(f"{where}: not JSON; remove the file from the branch") from None
    if not isinstance(doc, dict) or doc.get("schema") != RECORD_SCHEMA:
        return None
    if not doc.get("sha"):
        raise UsageError(f"{where}: the record names no commit ('sha'); remove the file")
    check_record(
        where, workload=doc.get("workload"), sha=doc["sha"], committed_at=doc.get("committed_at")
    )
    samples = doc.get("samples")
    if not isinstance(samples, list) or not all(
        isinstance(s, dict)
        and all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
            for k, v in s.items()
        )
        for s in samples
    ):
        raise UsageError(
            f"{where}: 'samples' is not a list of metric-to-number maps; remove the file from "
            "the branch"
        )
    for key in ("branch", "subject"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise UsageError(f"{where}: {key!r} is not text; remove the file from the branch")
    return doc
