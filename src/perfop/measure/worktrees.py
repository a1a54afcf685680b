"""Disposable git worktrees for measuring refs, without ever touching the user's checkout.

Each ``WorktreeSession`` owns ``<repo>/.perfop/worktrees/<session>/`` holding one detached
worktree per side (``base``, ``cand``: equal path lengths) and an ``owner.json`` with its pid.
Sessions whose owner died (SIGKILL, power loss) are removed by the next session's start. The
``WORKTREE`` pseudo-ref snapshots uncommitted and untracked-not-ignored files into a dangling
commit built through a temporary index, so the live tree, index, HEAD, branches and stash stay
byte-for-byte what they were.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from perfop import git as gitrun
from perfop import interrupts
from perfop.errors import GitError

WORKTREE = "WORKTREE"
WORKTREES_DIR = Path(".perfop") / "worktrees"
SIDES = ("base", "cand")  # equal length on purpose: path length alone can move timings
HARNESS_DIRS = ("benchmarks", "benchmark", "bench", "perf")
_OWNER = "owner.json"


# The runner lives in perfop.git; these names stay for the callers (and tests) that use them.
_git_env = gitrun.environment
git = gitrun.git
_run_group = gitrun._run_group
_end_group = gitrun._end_group


def repo_root(path: Path) -> Path:
    """Top of the git work tree containing ``path``; GitError when it is not in one."""
    try:
        return Path(git(path, "rev-parse", "--show-toplevel")).resolve()
    except GitError:
        raise GitError(f"{path} is not inside a git repository; run perfop in one") from None


MAX_REF = 255  # the store's ref columns; git itself allows longer names


def check_ref_text(ref: str) -> None:
    """Refuse a ref that cannot name one commit: empty, a range, too long, a NUL."""
    if not ref.strip():
        raise GitError("git ref '' is empty; give a branch, tag or commit (e.g. main or HEAD)")
    if ".." in ref:
        a, _, b = ref.partition("...") if "..." in ref else ref.partition("..")
        raise GitError(
            f"git ref {ref!r} is a range, not one commit; give the two refs apart: "
            f"{a or 'BASE'} {b or 'CANDIDATE'}"
        )
    if len(ref) > MAX_REF:
        raise GitError(
            f"git ref {ref[:40]!r}... is {len(ref)} characters; at most {MAX_REF}, "
            "use the commit sha instead"
        )
    if "\0" in ref:
        raise GitError(f"git ref {ref!r} contains a NUL character; check the argument")


def resolve_ref(repo: Path, ref: str) -> str:
    """The commit sha ``ref`` names; one-line GitError naming the ref when it does not resolve."""
    if ref.startswith("-"):
        raise GitError(f"git ref {ref!r} does not resolve in {repo}; refs cannot start with '-'")
    check_ref_text(ref)
    sha = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if not sha:
        if not git(repo, "rev-parse", "--git-dir", check=False):
            raise GitError(
                f"{repo} is not inside a git repository, so git ref {ref!r} cannot resolve; "
                "run perfop in a clone of your project (`git init` and commit first if it has none)"
            )
        if not git(repo, "rev-parse", "--verify", "--quiet", "HEAD", check=False):
            raise GitError(
                f"git ref {ref!r} does not resolve in {repo}: the repository has no commits yet; "
                "commit your code first (perfop measures commits and the working tree against them)"
            )
        if git(repo, "rev-parse", "--is-shallow-repository", check=False) == "true":
            raise GitError(
                f"git ref {ref!r} does not resolve to a commit in {repo}, a shallow clone: its "
                "history may be missing; fetch it (`git fetch --deepen=50`, `git fetch "
                f"--unshallow`, or `git fetch --depth=1 origin {ref}`), or in Actions set "
                "fetch-depth: 0"
            )
        raise GitError(
            f"git ref {ref!r} does not resolve to a commit in {repo}; "
            f"check it with `git rev-parse {ref}`"
        )
    return sha


def _refuse_conflicts(repo: Path) -> None:
    """A working tree in the middle of a conflicted merge is not code to measure."""
    # ls-files reads the index without refreshing (GIT_OPTIONAL_LOCKS=0): nothing is written.
    unmerged = sorted(
        {line.split("\t", 1)[-1] for line in git(repo, "ls-files", "-u").splitlines()}
    )
    if unmerged:
        more = f" and {len(unmerged) - 1} more" if len(unmerged) > 1 else ""
        raise GitError(
            f"the working tree has unresolved merge conflicts ({unmerged[0]}{more}), so WORKTREE "
            "would measure conflict markers; resolve them (git add) or compare committed refs"
        )


def default_base(repo: Path, configured: str | None = None) -> str:
    """The base ref: config ``base``, else the merge-base of HEAD with main or master."""
    if configured:
        return configured
    for branch in ("main", "master", "origin/main", "origin/master"):
        if git(repo, "rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}", check=False):
            base = git(repo, "merge-base", "HEAD", branch, check=False)
            if base:
                return base
    raise GitError(
        f"no default base in {repo}: neither main nor master exists; "
        "pass BASE explicitly or set `base` in the config"
    )


def snapshot_worktree(repo: Path) -> str:
    """A dangling commit of the working tree as it is (tracked changes + untracked-not-ignored).

    Built with a temporary GIT_INDEX_FILE, so the user's index, HEAD, branches and stash are not
    touched; only new objects are written to the object store. ``.perfop/`` is left out.
    """
    _refuse_conflicts(repo)
    head = git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    tmp_dir = tempfile.mkdtemp(prefix="perfop-index-")
    env = {"GIT_INDEX_FILE": str(Path(tmp_dir) / "index")}
    try:
        if head:
            git(repo, "read-tree", head, env=env)
        # Naming an ignored path in a pathspec is an error for `git add`: only exclude
        # .perfop/ when the repository does not already ignore it.
        ignored = _is_ignored(repo, ".perfop/")
        spec = ["."] if ignored else [".", ":(exclude).perfop"]
        git(repo, "add", "-A", "--", *spec, env=env)
        tree = git(repo, "write-tree", env=env)
        parents = ["-p", head] if head else []
        return git(repo, "commit-tree", tree, *parents, "-m", "perfop WORKTREE snapshot", env=env)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _is_ignored(repo: Path, rel: str) -> bool:
    return gitrun.run(repo, "check-ignore", "-q", rel).returncode == 0


@dataclass(frozen=True)
class Checkout:
    """One side of a comparison checked out: the ref as given, its commit, where it lives."""

    side: str
    ref: str
    sha: str
    path: Path


def _pid_start(pid: int) -> str | None:
    """Start time of ``pid`` from /proc (guards against pid reuse); None if unknown or dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _owner_alive(owner: Mapping[str, object]) -> bool:
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = owner.get("pid_start")
    return started is None or _pid_start(pid) in (None, started)


def cleanup_stale(repo: Path) -> list[Path]:
    """Remove sessions under .perfop/worktrees whose owner process is gone; returns them."""
    root = repo / WORKTREES_DIR
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for session in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            owner = json.loads((session / _OWNER).read_text())
        except (OSError, ValueError):
            owner = {}
        if not owner:
            # A session without an owner file is either being created right now or is junk;
            # only junk older than a minute is removed.
            with contextlib.suppress(OSError):
                if time.time() - session.stat().st_mtime < 60:
                    continue
        elif _owner_alive(owner):
            continue
        _remove_session(repo, session)
        removed.append(session)
    # A record left locked by a `worktree add` stopped half-way whose folder is already gone.
    for path in _registered(repo, root):
        if not path.exists() and not (path.parent / _OWNER).exists():
            git(repo, "worktree", "unlock", str(path), check=False)
            removed.append(path.parent)
    if removed:
        git(repo, "worktree", "prune", check=False)
    return removed


def _registered(repo: Path, under: Path) -> list[Path]:
    """The worktrees git has on record below ``under``, whether or not their folders exist."""
    listing = git(repo, "worktree", "list", "--porcelain", check=False)
    paths = (Path(line[len("worktree ") :]) for line in listing.splitlines())
    return [p for p in paths if p.is_relative_to(under)]


def _remove_session(repo: Path, session: Path) -> None:
    # Every worktree in the session: comparison sides, an agent's sandbox, a profile's ref; and
    # any git has on record there without a folder (a `worktree add` stopped half-way leaves its
    # record locked, which `git worktree prune` never removes).
    on_disk = [p for p in session.iterdir() if (p / ".git").exists()] if session.is_dir() else []
    for path in sorted({*on_disk, *_registered(repo, session)}):
        git(repo, "worktree", "unlock", str(path), check=False)
        git(repo, "worktree", "remove", "--force", "--force", str(path), check=False)
    shutil.rmtree(session, ignore_errors=True)


def claim_session(repo: Path) -> Path:
    """A new session folder under ``.perfop/worktrees/`` owned by this process.

    Worktrees perfop creates live inside a session. Stale sessions (their owner process is gone)
    are removed first; this one is removed with every worktree in it by ``release_session``, or,
    if this process dies, by the next perfop that claims a session. Nothing else ever removes a
    session whose owner is alive, however old it is.
    """
    root = repo_root(repo)
    cleanup_stale(root)
    path = root / WORKTREES_DIR / f"{os.getpid()}-{secrets.token_hex(3)}"
    owner = {"pid": os.getpid(), "pid_start": _pid_start(os.getpid()), "created": time.time()}
    with interrupts.held():
        path.mkdir(parents=True)
        (path / _OWNER).write_text(json.dumps(owner))
    return path


def release_session(repo: Path, session: Path) -> None:
    """Remove a session and every worktree in it (git's bookkeeping pruned)."""
    with interrupts.held():
        if session.exists():
            _remove_session(repo, session)
            git(repo, "worktree", "prune", check=False)


class WorktreeSession:
    """Owns the worktrees of one comparison; use as a context manager.

    Entering removes stale sessions of dead processes and records this process as owner;
    leaving removes this session's worktrees and prunes git's bookkeeping.
    """

    def __init__(self, repo: Path) -> None:
        self.repo = repo_root(repo)
        self.path = self.repo / WORKTREES_DIR / "(not entered)"
        self.checkouts: dict[str, Checkout] = {}

    def __enter__(self) -> WorktreeSession:
        self.path = claim_session(self.repo)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        interrupted = False
        for _ in range(3):
            try:
                release_session(self.repo, self.path)
                break
            except KeyboardInterrupt:
                # A second Ctrl-C that lands before the release holds signals (or the one it
                # held): release again (a no-op once done), then stop as asked.
                interrupted = True
        self.checkouts.clear()
        if interrupted:
            raise KeyboardInterrupt

    def checkout(self, side: str, ref: str) -> Checkout:
        """Check ``ref`` (or ``WORKTREE``) out as ``side`` ('base' or 'cand'), detached."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        sha = snapshot_worktree(self.repo) if ref == WORKTREE else resolve_ref(self.repo, ref)
        path = self.path / side
        git(self.repo, "worktree", "add", "--detach", "--force", "--quiet", str(path), sha)
        if (path / ".gitmodules").is_file():
            _checkout_submodules(path, ref)
        checkout = Checkout(side=side, ref=ref, sha=sha, path=path)
        self.checkouts[side] = checkout
        return checkout


def _checkout_submodules(path: Path, ref: str) -> None:
    """Check out the submodules a checkout names, so its code runs as in the user's clone.

    Each submodule is cloned from the URL in ``.gitmodules`` (its git dir lives under the
    worktree's own admin folder and goes with it); one that cannot be fetched is a one-line
    error naming it, not a "can't open file" from inside the workload.
    """
    try:
        git(path, "submodule", "update", "--init", "--recursive", "--quiet")
    except GitError as exc:
        detail = str(exc).split(": ", 1)[-1]
        raise GitError(
            f"the submodules of {ref!r} could not be checked out in perfop's worktree "
            f"({detail}); make their URLs in .gitmodules reachable from this machine"
        ) from None


def settle_disk() -> None:
    """Flush dirty pages to disk before measuring.

    Fresh checkouts (and pinned files, setup output) are dirty pages that the kernel writes back
    a little later; measured on this machine, the side checked out second ran 3-7% slower in its
    first pairs without this, because that writeback overlapped them.
    """
    os.sync()


# --- harness pinning ------------------------------------------------------------------------


def workload_files(argv: Sequence[str], *, cwd: Path, tree: Path) -> list[str]:
    """Repo-relative paths of the files a workload's command runs or reads from ``tree``.

    Every argument (and the value of ``--opt=value``) naming an existing file or directory
    inside ``tree`` counts, as does ``-m pkg.module``. When such a file lives under a harness
    directory (benchmarks/, benchmark/, bench/, perf/), that whole directory is included: it
    holds the script's data. The ``cwd`` itself is never pinned as a whole.
    """
    tree = tree.resolve()
    found: list[str] = []
    args = list(argv)
    candidates: list[Path] = []
    for i, arg in enumerate(args):
        value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
        if i > 0 and args[i - 1] == "-m":
            mod = Path(*value.split("."))
            candidates += [cwd / (str(mod) + ".py"), cwd / mod]
        elif value and not value.startswith("-"):
            candidates.append(Path(value) if Path(value).is_absolute() else cwd / value)
    for cand in candidates:
        try:
            path = cand.resolve()
            rel = path.relative_to(tree)
        except (OSError, ValueError):
            continue
        if not path.exists() or path == cwd.resolve() or not rel.parts:
            continue
        top = next((k for k, part in enumerate(rel.parts[:-1]) if part in HARNESS_DIRS), None)
        if top is not None:
            rel = Path(*rel.parts[: top + 1])
        text = rel.as_posix()
        if text not in found and not text.startswith(".perfop"):
            found.append(text)
    return found


def pin_harness(files: Iterable[str], *, base: Path, candidate: Path) -> list[str]:
    """Copy the workload files from the base checkout over the candidate's; returns those copied.

    A file absent from the base is left as the candidate has it (there is nothing to pin).
    """
    pinned: list[str] = []
    for rel in files:
        src, dst = base / rel, candidate / rel
        if not src.exists():
            continue
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        elif dst.exists() or dst.is_symlink():
            dst.unlink()
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst, follow_symlinks=False)
        pinned.append(rel)
    return pinned


def harness_touched(repo: Path, base_sha: str, cand_sha: str, files: Sequence[str]) -> list[str]:
    """The workload files (or files under workload directories) the candidate's diff changes."""
    if not files:
        return []
    # Plumbing (diff-tree), never porcelain `git diff`, which may refresh the user's index.
    out = git(
        repo, "diff-tree", "-r", "--name-only", "--no-renames", base_sha, cand_sha, "--", *files
    )
    return [line for line in out.splitlines() if line]
