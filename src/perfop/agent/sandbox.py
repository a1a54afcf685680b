"""The agent's sandbox: a dedicated git worktree on its own branch, and the tools that act in it.

``Sandbox.create`` checks the base commit out under ``<repo>/.perfop/worktrees/`` (detached), and
``attach_branch`` puts it on a new branch ``perfop/<engagement>``. The tools ``view``, ``search``,
``edit`` and ``bash`` only ever read or write inside that worktree; ``bash`` runs with a scrubbed
environment (no credentials, a throwaway HOME, a dead proxy) and a timeout, after ``check_command``
refused anything on the deny-list (push, force, reset --hard off its own branch, rm or reads
outside the worktree, network tools, commits that bypass validation). The user's tree, index,
branches and remotes are never touched: the runner alone commits, and only with ``adopt`` after
validation confirmed a ``snapshot``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from perfop import git as gitrun
from perfop.errors import GitError, GuardrailError, UsageError
from perfop.measure.worktrees import claim_session, release_session

AGENT_DIR = Path(".perfop") / "agent"
OUTPUT_LIMIT = 12_000
VIEW_LINES = 400
SEARCH_LINES = 200
IDENTITY = {
    "GIT_AUTHOR_NAME": "perfop agent",
    "GIT_AUTHOR_EMAIL": "agent@perfop.invalid",
    "GIT_COMMITTER_NAME": "perfop agent",
    "GIT_COMMITTER_EMAIL": "agent@perfop.invalid",
}
# Generated files that never belong in a candidate commit.
SNAPSHOT_EXCLUDES = (
    ":(exclude,glob)**/__pycache__/**",
    ":(exclude,glob)**/*.pyc",
    ":(exclude,glob)**/.pytest_cache/**",
)

NETWORK_TOOLS = frozenset(
    {
        "curl",
        "wget",
        "ssh",
        "scp",
        "sftp",
        "nc",
        "ncat",
        "netcat",
        "telnet",
        "ftp",
        "rsync",
        "socat",
        "nmap",
        "http",
        "https",
        "aria2c",
        "lynx",
        "w3m",
        "ping",
        "dig",
        "nslookup",
    }
)
PRIVILEGE_TOOLS = frozenset({"sudo", "su", "doas", "pkexec", "chroot"})
WRAPPERS = frozenset({"env", "command", "time", "nice", "nohup", "stdbuf", "xargs", "builtin"})
SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh"})
DESTRUCTIVE = frozenset(
    {
        "rm",
        "rmdir",
        "unlink",
        "shred",
        "mv",
        "cp",
        "ln",
        "chmod",
        "chown",
        "truncate",
        "dd",
        "install",
        "tee",
        "touch",
        "mkdir",
    }
)
GIT_REMOTE = frozenset(
    {
        "push",
        "fetch",
        "pull",
        "clone",
        "remote",
        "ls-remote",
        "send-email",
        "request-pull",
        "submodule",
        "archive",
    }
)
GIT_HISTORY = frozenset(
    {
        "commit",
        "merge",
        "rebase",
        "cherry-pick",
        "revert",
        "am",
        "pull",
        "tag",
        "stash",
        "update-ref",
        "symbolic-ref",
        "worktree",
        "filter-branch",
        "filter-repo",
        "gc",
        "prune",
        "reflog",
        "replace",
        "notes",
        "config",
        "init",
        "bisect",
        "checkout-index",
        "read-tree",
    }
)
SENSITIVE = re.compile(
    r"(^|/)\.(ssh|aws|gnupg|netrc|git-credentials|pypirc|kube|docker|azure|gcloud)(/|$)"
    r"|(^|/)id_(rsa|dsa|ecdsa|ed25519)|/etc/(shadow|sudoers)|\.config/(gh|hub|gcloud)"
)
_OPERATORS = frozenset({";", "&&", "||", "|", "&", "(", ")", "|&", ";;"})
_REDIRECTS = frozenset({">", ">>", "<", "<<", "<<<", "&>", ">&", ">|"})
_HEADISH = re.compile(r"^(HEAD|@)([~^]\d*)*$")


def _git(cwd: Path, *args: str, check: bool = True) -> str:
    out = gitrun.run(cwd, "-c", "commit.gpgsign=false", *args, env=IDENTITY)
    if check and out.returncode != 0:
        raise GitError(f"git {' '.join(args[:3])} failed in {cwd}: {out.stderr.strip()[:200]}")
    return out.stdout.strip()


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _allowed_prefixes() -> tuple[Path, ...]:
    """Places outside the worktree a command may read: the interpreter and the system."""
    paths = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        "/usr",
        "/bin",
        "/lib",
        "/lib64",
        "/sbin",
        "/opt",
    }
    return tuple(Path(p).resolve() for p in paths)


_DEV_OK = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/zero"})


def check_command(command: str, root: Path, *, branch: str | None) -> None:
    """Raise ``GuardrailError`` (one line, naming the rule) if ``command`` is on the deny-list."""
    if "`" in command or "$(" in command or "<(" in command or ">(" in command:
        raise GuardrailError(
            "command substitution is refused in the sandbox; run the inner command on its own"
        )
    root = root.resolve()
    try:
        lexer = shlex.shlex(command.replace("\n", " ; "), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError as exc:
        raise GuardrailError(f"cannot parse the command ({exc}); fix the quoting") from None
    cwd = root
    current: list[str] = []
    redirect: str | None = None
    for token in [*tokens, ";"]:
        if redirect is not None:
            # Writing goes only into the worktree; reading may use the allowed system paths.
            _check_path(token, cwd, root, strict=">" in redirect, what="redirect target")
            redirect = None
            continue
        if token in _REDIRECTS or (token and set(token) <= set("<>&|") and set(token) & set("<>")):
            redirect = token
            continue
        if token in _OPERATORS or (token and set(token) <= set(";&|()")):
            if current:
                cwd = _check_simple(current, cwd, root, branch)
            current = []
            continue
        current.append(token)


def _check_path(token: str, cwd: Path, root: Path, *, strict: bool, what: str) -> None:
    if SENSITIVE.search(token):
        raise GuardrailError(f"{what} {token!r} is a credential location; reading it is refused")
    value = token.split("=", 1)[1] if token.startswith("-") and "=" in token else token
    looks_like_path = value.startswith(("/", "~", "$")) or ".." in value or strict
    if not looks_like_path or not value or value.startswith("-"):
        return
    if value.startswith(("$", "~")):
        raise GuardrailError(
            f"{what} {token!r} refers outside the sandbox worktree; use paths inside it"
        )
    if value in _DEV_OK:
        return
    path = (cwd / value).resolve() if not value.startswith("/") else Path(value).resolve()
    if _inside(path, root):
        return
    if not strict and any(_inside(path, p) for p in _allowed_prefixes()):
        return
    raise GuardrailError(
        f"{what} {token!r} is outside the sandbox worktree {root}; only paths inside it are allowed"
    )


def _check_simple(argv: list[str], cwd: Path, root: Path, branch: str | None) -> Path:
    """Check one simple command; returns the cwd after it (``cd`` is tracked)."""
    while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):
        _check_path(argv[0].split("=", 1)[1], cwd, root, strict=False, what="value")
        argv = argv[1:]
    while argv and os.path.basename(argv[0]) in WRAPPERS:
        argv = [a for a in argv[1:] if not a.startswith("-")] if argv[0] != "xargs" else argv[1:]
        while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):
            argv = argv[1:]
    if not argv:
        return cwd
    prog = os.path.basename(argv[0])
    args = argv[1:]
    if prog in PRIVILEGE_TOOLS:
        raise GuardrailError(f"{prog} is refused in the sandbox: no privilege changes")
    if prog in NETWORK_TOOLS:
        raise GuardrailError(f"{prog} is refused in the sandbox: no network tools")
    if prog in ("eval", "exec", "source", "."):
        raise GuardrailError(f"{prog} is refused in the sandbox; run the command directly")
    if prog in SHELLS and "-c" in args:
        inner = args[args.index("-c") + 1] if args.index("-c") + 1 < len(args) else ""
        check_command(inner, root, branch=branch)
        return cwd
    if prog == "cd":
        target = args[0] if args else "~"
        _check_path(target, cwd, root, strict=True, what="cd target")
        return (cwd / target).resolve()
    strict = prog in DESTRUCTIVE
    for arg in args:
        _check_path(arg, cwd, root, strict=strict and not arg.startswith("-"), what=prog + " path")
    if prog == "git":
        _check_git(args, cwd, root, branch)
    return cwd


def _check_git(args: list[str], cwd: Path, root: Path, branch: str | None) -> None:
    i = _check_git_options(args, cwd, root)
    if i >= len(args):
        return
    sub, rest = args[i], args[i + 1 :]
    if sub in GIT_REMOTE:
        raise GuardrailError(
            f"git {sub} is refused in the sandbox: no pushing, fetching or touching remotes"
        )
    if any(a.startswith("--force") for a in rest):
        raise GuardrailError(f"git {sub} --force is refused in the sandbox")
    if sub == "reset":
        _check_git_reset(rest, branch)
        return
    if sub in GIT_HISTORY:
        raise GuardrailError(
            f"git {sub} is refused in the sandbox: the runner commits on {branch or 'its branch'} "
            "only after validation confirms the change"
        )
    if sub in ("checkout", "switch"):
        _check_git_checkout(sub, rest, cwd, branch)
    if sub == "branch":
        _check_git_branch(rest)


def _check_git_options(args: list[str], cwd: Path, root: Path) -> int:
    """Check git's global options (``-C``, ``--git-dir``, ``--work-tree`` stay in the sandbox);
    returns the index of the subcommand (``len(args)`` when there is none)."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        opt = args[i]
        if opt in ("-C", "--git-dir", "--work-tree"):
            target = args[i + 1] if i + 1 < len(args) else ""
            _check_path(target, cwd, root, strict=True, what=f"git {opt}")
            i += 2
            continue
        if opt.startswith(("--git-dir=", "--work-tree=")):
            _check_path(opt.split("=", 1)[1], cwd, root, strict=True, what="git option")
        i += 2 if opt == "-c" else 1
    return i


def _check_git_reset(rest: list[str], branch: str | None) -> None:
    if "--hard" in rest or "--merge" in rest or "--keep" in rest:
        refs = [a for a in rest if not a.startswith("-")]
        own = {branch} if branch else set()
        if any(not (_HEADISH.match(r) or r in own) for r in refs):
            raise GuardrailError(
                f"git reset --hard {' '.join(refs)} is refused: reset --hard is only allowed "
                f"on the sandbox branch {branch or '(detached)'} itself (HEAD)"
            )


def _check_git_checkout(sub: str, rest: list[str], cwd: Path, branch: str | None) -> None:
    if "--" in rest:
        return
    flags = {a for a in rest if a.startswith("-")}
    if flags & {"-b", "-B", "-c", "-C", "--orphan", "--detach", "-f", "--create"} or sub == (
        "switch"
    ):
        raise GuardrailError(
            f"git {sub} of branches is refused: the sandbox stays on {branch or 'its branch'}"
        )
    for a in rest:
        if not a.startswith("-") and not (cwd / a).exists():
            raise GuardrailError(
                f"git {sub} {a} is refused: switching branches is not allowed; use "
                f"'git {sub} -- PATH' to restore files"
            )


_GIT_BRANCH_CHANGES = frozenset(
    {
        "-d",
        "-D",
        "-m",
        "-M",
        "-c",
        "-C",
        "-f",
        "--delete",
        "--move",
        "--copy",
        "-u",
        "--set-upstream-to",
        "--unset-upstream",
        "--edit-description",
    }
)


def _check_git_branch(rest: list[str]) -> None:
    positional = [a for a in rest if not a.startswith("-")]
    if set(rest) & _GIT_BRANCH_CHANGES or (
        positional and "--list" not in rest and "-l" not in rest
    ):
        raise GuardrailError("git branch changes are refused: branches belong to the user")


@dataclass(frozen=True)
class BashResult:
    exit_code: int | None
    output: str
    timed_out: bool

    def render(self) -> str:
        status = "timed out (killed)" if self.timed_out else f"exit code {self.exit_code}"
        return f"[{status}]\n{self.output}"


def _truncate(text: str, limit: int = OUTPUT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + f"\n... [{len(text) - limit} characters cut] ...\n" + text[-half:]


class Sandbox:
    """A git worktree of the user's repository that the agent may change."""

    def __init__(
        self, repo_root: Path, path: Path, base_sha: str, home: Path, session: Path
    ) -> None:
        self.repo_root = repo_root
        self.session = session
        self.path = path
        self.base_sha = base_sha
        self.home = home
        self.branch: str | None = None
        self.attempts = 0

    # --- lifecycle ---------------------------------------------------------------------------
    @classmethod
    def create(cls, repo_root: Path, name: str, base_ref: str) -> Sandbox:
        """Check ``base_ref`` out (detached) into a worktree session this process owns.

        The session (``perfop.measure.worktrees.claim_session``) keeps other perfop commands'
        clean-up away from the sandbox while the agent runs, however long, and lets the next perfop
        remove it if the agent is killed.
        """
        repo_root = repo_root.resolve()
        base_sha = _git(
            repo_root, "rev-parse", "--verify", "--quiet", f"{base_ref}^{{commit}}", check=False
        )
        if not base_sha:
            raise GitError(f"base ref {base_ref!r} does not resolve in {repo_root}; check the name")
        perfop_dir = repo_root / ".perfop"
        perfop_dir.mkdir(exist_ok=True)
        ignore = perfop_dir / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n")  # perfop's own files never show up in the user's status
        session = claim_session(repo_root)
        path = session / "agent"
        _git(repo_root, "worktree", "add", "--detach", "-q", str(path), base_sha)
        # Profiles and other perfop files written inside the sandbox are never part of a commit.
        (path / ".perfop").mkdir(exist_ok=True)
        (path / ".perfop" / ".gitignore").write_text("*\n")
        home = repo_root / AGENT_DIR / f"home-{name}"
        home.mkdir(parents=True, exist_ok=True)
        return cls(repo_root, path.resolve(), base_sha, home, session)

    def move_base(self, sha: str) -> None:
        """Start from ``sha`` instead (only before any branch or change exists)."""
        if sha != self.base_sha:
            _git(self.path, "checkout", "-q", "--detach", sha)
            self.base_sha = sha

    def attach_branch(self, name: str) -> str:
        """Put the worktree on a new branch ``name`` (``-2``, ``-3`` ... if it exists)."""
        candidate, n = name, 1
        while _git(
            self.repo_root,
            "rev-parse",
            "--verify",
            "--quiet",
            f"refs/heads/{candidate}",
            check=False,
        ):
            n += 1
            candidate = f"{name}-{n}"
        _git(self.path, "checkout", "-q", "-b", candidate)
        self.branch = candidate
        return candidate

    def close(self) -> None:
        """Remove the worktree and its session (the branch and its commits stay)."""
        release_session(self.repo_root, self.session)

    def head(self) -> str:
        return _git(self.path, "rev-parse", "HEAD")

    # --- paths --------------------------------------------------------------------------------
    def resolve(self, rel: str, *, for_write: bool = False) -> Path:
        """``rel`` (relative to the worktree, or absolute inside it) as a checked path."""
        if not rel:
            raise UsageError("give a path inside the worktree")
        if SENSITIVE.search(rel):
            raise GuardrailError(f"path {rel!r} is a credential location; reading it is refused")
        raw = Path(rel)
        path = (raw if raw.is_absolute() else self.path / raw).resolve()
        if not _inside(path, self.path):
            raise GuardrailError(
                f"path {rel!r} is outside the sandbox worktree; give a path relative to it"
            )
        if for_write and (path == self.path / ".git" or _inside(path, self.path / ".git")):
            raise GuardrailError(f"path {rel!r} is git metadata; it cannot be edited")
        return path

    def relative(self, path: Path) -> str:
        return path.relative_to(self.path).as_posix() or "."

    # --- tools --------------------------------------------------------------------------------
    def view(self, path: str, start: int | None = None, end: int | None = None) -> str:
        target = self.resolve(path)
        if target.is_dir():
            entries = sorted(
                p.name + ("/" if p.is_dir() else "")
                for p in target.iterdir()
                if p.name not in (".git", "__pycache__", ".perfop")
            )
            return f"{self.relative(target)}/\n" + "\n".join(entries)
        if not target.is_file():
            raise UsageError(f"view: {path} does not exist in the worktree")
        lines = target.read_text(encoding="utf-8", errors="replace").splitlines()
        first = max(1, start or 1)
        last = min(len(lines), end or first + VIEW_LINES - 1, first + VIEW_LINES - 1)
        body = "\n".join(f"{i:5d}  {lines[i - 1]}" for i in range(first, last + 1))
        more = (
            f"\n... ({len(lines) - last} more lines; view with start={last + 1})"
            if (last < len(lines))
            else ""
        )
        return f"{self.relative(target)} (lines {first}-{last} of {len(lines)})\n{body}{more}"

    def search(self, pattern: str, path: str | None = None) -> str:
        if not pattern:
            raise UsageError("search: give a pattern (extended regular expression)")
        where = self.relative(self.resolve(path)) if path else "."
        out = gitrun.run(
            self.path, "grep", "-n", "-I", "-E", "--untracked", "-e", pattern, "--", where
        )
        if out.returncode == 1:
            return "no matches"
        if out.returncode != 0:
            raise UsageError(f"search: {out.stderr.strip()[:200]}")
        lines = out.stdout.splitlines()
        extra = (
            f"\n... {len(lines) - SEARCH_LINES} more matches" if len(lines) > SEARCH_LINES else ""
        )
        return "\n".join(lines[:SEARCH_LINES]) + extra

    def edit(
        self,
        *,
        diff: str | None = None,
        path: str | None = None,
        search: str | None = None,
        replace: str | None = None,
        content: str | None = None,
    ) -> str:
        """Apply a unified diff, a search/replace in one file, or write a whole file."""
        if diff:
            return self._apply_diff(diff)
        if not path:
            raise UsageError("edit: give 'diff', or 'path' with 'search'/'replace' or 'content'")
        target = self.resolve(path, for_write=True)
        if content is not None and search is None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            return f"wrote {self.relative(target)} ({len(content.splitlines())} lines)"
        if search is None or replace is None:
            raise UsageError("edit: search/replace needs both 'search' and 'replace'")
        if not target.is_file():
            raise UsageError(f"edit: {path} does not exist; use 'content' to create it")
        text = target.read_text(encoding="utf-8")
        count = text.count(search)
        if count != 1:
            raise UsageError(
                f"edit: 'search' occurs {count} times in {path}; it must occur exactly once "
                "(include more context)"
            )
        target.write_text(text.replace(search, replace, 1), encoding="utf-8")
        return f"edited {self.relative(target)}: replaced 1 occurrence"

    def _apply_diff(self, diff: str) -> str:
        for line in diff.splitlines():
            if line.startswith(("--- ", "+++ ")):
                name = line[4:].split("\t")[0].strip()
                if name == "/dev/null":
                    continue
                if name.startswith(("a/", "b/")):
                    name = name[2:]
                self.resolve(name, for_write=True)
        text = diff if diff.endswith("\n") else diff + "\n"
        for strip in ("-p1", "-p0"):
            out = gitrun.run(
                self.path, "apply", "--recount", "--whitespace=nowarn", strip, "-", input=text
            )
            if out.returncode == 0:
                break
        else:
            raise UsageError(f"edit: the diff does not apply: {out.stderr.strip()[:300]}")
        files = self.changed_files()
        return "applied the diff; changed files: " + (", ".join(files) or "none")

    def bash(self, command: str, *, timeout: float = 120.0) -> BashResult:
        """Run ``command`` with bash in the worktree after the deny-list check."""
        check_command(command, self.path, branch=self.branch)
        proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-c", command],
            cwd=self.path,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            errors="replace",
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
            return BashResult(proc.returncode, _truncate(out), False)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            return BashResult(None, _truncate(out), True)

    def env(self) -> dict[str, str]:
        """The scrubbed environment of ``bash``: no credentials, no network, a throwaway HOME."""
        keep = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "VIRTUAL_ENV", "TMPDIR")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        dead_proxy = "http://127.0.0.1:9"
        env.update(
            HOME=str(self.home),
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONHASHSEED="0",
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL="/dev/null",
            GIT_TERMINAL_PROMPT="0",
            GIT_SSH_COMMAND="false",
            http_proxy=dead_proxy,
            https_proxy=dead_proxy,
            HTTP_PROXY=dead_proxy,
            HTTPS_PROXY=dead_proxy,
            ALL_PROXY=dead_proxy,
            all_proxy=dead_proxy,
            no_proxy="",
            NO_PROXY="",
            PIP_NO_INDEX="1",
            PERFOP_SANDBOX=str(self.path),
            **IDENTITY,
        )
        return env

    # --- changes ------------------------------------------------------------------------------
    def changed_files(self) -> list[str]:
        tracked = _git(self.path, "diff", "--name-only", "HEAD", "--", ".", *SNAPSHOT_EXCLUDES)
        new = _git(
            self.path, "ls-files", "--others", "--exclude-standard", "--", ".", *SNAPSHOT_EXCLUDES
        )
        return sorted({n for n in (*tracked.splitlines(), *new.splitlines()) if n.strip()})

    def diff(self) -> str:
        _git(self.path, "add", "-A", "--", ".", *SNAPSHOT_EXCLUDES)
        return _git(self.path, "diff", "--cached", "HEAD")

    def snapshot(self, message: str) -> str:
        """The worktree's changes as a commit object (not on the branch yet), kept under
        ``refs/perfop/agent/<branch>/attempt-N`` so a refuted attempt stays inspectable."""
        _git(self.path, "add", "-A", "--", ".", *SNAPSHOT_EXCLUDES)
        tree = _git(self.path, "write-tree")
        if tree == _git(self.path, "rev-parse", "HEAD^{tree}"):
            raise UsageError("no changes in the sandbox to validate; make an edit first")
        sha = _git(self.path, "commit-tree", tree, "-p", "HEAD", "-m", message)
        self.attempts += 1
        label = (self.branch or "detached").replace("perfop/", "")
        _git(self.path, "update-ref", f"refs/perfop/agent/{label}/attempt-{self.attempts}", sha)
        return sha

    def adopt(self, sha: str) -> None:
        """Move the sandbox branch to the validated commit ``sha`` (worktree unchanged)."""
        _git(self.path, "reset", "-q", "--soft", sha)

    def revert(self) -> list[str]:
        """Drop every uncommitted change in the worktree; returns the files that were changed."""
        files = self.changed_files()
        _git(self.path, "reset", "-q", "--hard", "HEAD")
        _git(self.path, "clean", "-fdq", "-e", ".perfop")
        return files
