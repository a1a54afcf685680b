"""Disposable worktrees in real git repositories: isolation, snapshots, stale cleanup, pinning."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from user_state import assert_untouched, user_state

from perfop.errors import GitError
from perfop.measure import worktrees as wt

Repo = Callable[..., Path]


@pytest.fixture
def repo(git_repo: Repo, git: Callable[..., str]) -> Path:
    r = git_repo(
        {
            ".gitignore": "ignored.txt\n",
            "src/app.py": "VALUE = 1\n",
            "benchmarks/bench.py": "print('bench v1')\n",
            "benchmarks/data.txt": "data v1\n",
        }
    )
    git(r, "checkout", "-q", "-b", "feature")
    (r / "src/app.py").write_text("VALUE = 2\n")
    git(r, "commit", "-q", "-am", "feature change")
    git(r, "stash", "list")
    return r


def _dirty(repo: Path, git: Callable[..., str]) -> None:
    (repo / "src/app.py").write_text("VALUE = 3  # uncommitted\n")
    (repo / "src/new_module.py").write_text("NEW = True\n")  # untracked, not ignored
    (repo / "ignored.txt").write_text("secret scratch\n")  # ignored
    (repo / "README.md").write_text("staged change\n")
    git(repo, "add", "README.md")
    # A stash entry must survive too.
    (repo / "benchmarks/data.txt").write_text("stashed\n")
    git(repo, "stash", "push", "-q", "--", "benchmarks/data.txt")


def test_resolve_ref_and_one_line_error(repo: Path, git: Callable[..., str]) -> None:
    assert wt.resolve_ref(repo, "main") == git(repo, "rev-parse", "main")
    with pytest.raises(GitError) as info:
        wt.resolve_ref(repo, "no-such-branch")
    assert "no-such-branch" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(GitError, match="--evil"):
        wt.resolve_ref(repo, "--evil")


def test_default_base_is_config_then_merge_base(repo: Path, git: Callable[..., str]) -> None:
    assert wt.default_base(repo, "v1.0") == "v1.0"
    assert wt.default_base(repo) == git(repo, "rev-parse", "main")


def test_default_base_without_main_or_master(git_repo: Repo, git: Callable[..., str]) -> None:
    r = git_repo(name="other")
    git(r, "branch", "-m", "trunk")
    with pytest.raises(GitError, match="neither main nor master"):
        wt.default_base(r)


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not inside a git repository"):
        wt.repo_root(tmp_path)
    with pytest.raises(GitError, match="is not inside a git repository, so git ref 'HEAD'"):
        wt.resolve_ref(tmp_path, "HEAD")


def test_ref_in_a_repository_without_commits_says_so(git_repo: Repo) -> None:
    r = git_repo({"a.py": "x = 1\n"}, name="fresh", commit=False)
    with pytest.raises(
        GitError, match=r"'HEAD' does not resolve in .*: the repository has no commits"
    ):
        wt.resolve_ref(r, "HEAD")


def test_checkouts_have_equal_path_lengths_and_leave_user_state(
    repo: Path, git: Callable[..., str]
) -> None:
    _dirty(repo, git)
    before = user_state(repo)
    with wt.WorktreeSession(repo) as session:
        base = session.checkout("base", "main")
        cand = session.checkout("cand", wt.WORKTREE)
        assert len(str(base.path)) == len(str(cand.path))
        assert base.path.parent == cand.path.parent
        assert str(base.path).startswith(str(repo / ".perfop" / "worktrees"))
        assert (base.path / "src/app.py").read_text() == "VALUE = 1\n"
        # WORKTREE = uncommitted + staged + untracked-not-ignored, not ignored files
        assert (cand.path / "src/app.py").read_text() == "VALUE = 3  # uncommitted\n"
        assert (cand.path / "src/new_module.py").exists()
        assert (cand.path / "README.md").read_text() == "staged change\n"
        assert not (cand.path / "ignored.txt").exists()
        assert not (cand.path / ".perfop").exists()
        # The stashed change is not part of the working tree.
        assert (cand.path / "benchmarks/data.txt").read_text() == "data v1\n"
        assert git(cand.path, "rev-parse", "HEAD") == cand.sha
        assert git(repo, "rev-parse", f"{cand.sha}^") == git(repo, "rev-parse", "HEAD")
        session_dir = session.path
    assert not session_dir.exists()
    assert str(session_dir) not in git(repo, "worktree", "list")
    assert_untouched(before, user_state(repo))


def test_snapshot_of_repository_without_commits(git_repo: Repo) -> None:
    r = git_repo({"a.py": "x = 1\n"}, name="fresh", commit=False)
    sha = wt.snapshot_worktree(r)
    out = subprocess.run(
        ["git", "-C", str(r), "ls-tree", "-r", "--name-only", sha],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(out) == ["README.md", "a.py"]


def test_unknown_side_is_rejected(repo: Path) -> None:
    with wt.WorktreeSession(repo) as session, pytest.raises(ValueError, match="side"):
        session.checkout("left", "main")


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from perfop.measure.worktrees import WorktreeSession
    s = WorktreeSession(Path(sys.argv[1])).__enter__()
    s.checkout("base", "main")
    s.checkout("cand", "WORKTREE")
    print(s.path, flush=True)
    time.sleep(600)
    """
)


def test_stale_session_of_killed_process_is_removed_at_next_start(
    repo: Path, git: Callable[..., str]
) -> None:
    _dirty(repo, git)
    before = user_state(repo)
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(repo)], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            stale = Path(proc.stdout.readline().strip())
            assert (stale / "cand" / "src/new_module.py").exists()
            # While the owner lives, another session leaves it alone.
            with wt.WorktreeSession(repo):
                assert stale.exists()
        finally:
            proc.kill()
            proc.wait()
    assert stale.exists()  # SIGKILL: nothing cleaned up
    with wt.WorktreeSession(repo) as session:
        assert not stale.exists()
        assert session.path.exists()
    assert "worktrees" not in git(repo, "worktree", "list").replace(".perfop/worktrees", "")
    assert git(repo, "worktree", "list").count("\n") == 0  # only the main worktree left
    assert_untouched(before, user_state(repo))


def test_cleanup_ignores_fresh_ownerless_dirs_and_removes_old_ones(repo: Path) -> None:
    root = repo / wt.WORKTREES_DIR
    fresh = root / "fresh"
    old = root / "old"
    fresh.mkdir(parents=True)
    old.mkdir()
    os.utime(old, (1, 1))
    assert wt.cleanup_stale(repo) == [old]
    assert fresh.exists()


def test_workload_files_finds_script_data_dir_and_module(repo: Path) -> None:
    cwd = repo
    files = wt.workload_files(
        [sys.executable, "benchmarks/bench.py", "--input=src/app.py", "-n", "3"],
        cwd=cwd,
        tree=repo,
    )
    assert files == ["benchmarks", "src/app.py"]
    (repo / "tool.py").write_text("")
    assert wt.workload_files(["python", "-m", "tool"], cwd=cwd, tree=repo) == ["tool.py"]
    assert wt.workload_files(["python", "-c", "print(1)", "."], cwd=cwd, tree=repo) == []
    assert wt.workload_files(["/bin/true", "/etc/hostname"], cwd=cwd, tree=repo) == []


def test_pin_harness_copies_base_files_and_reports_touched(
    repo: Path, git: Callable[..., str]
) -> None:
    (repo / "benchmarks/bench.py").write_text("print('gamed')\n")
    (repo / "benchmarks/extra.txt").write_text("new\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "touch the benchmark")
    with wt.WorktreeSession(repo) as session:
        base = session.checkout("base", "main")
        cand = session.checkout("cand", "feature")
        files = wt.workload_files(["python", "benchmarks/bench.py"], cwd=base.path, tree=base.path)
        touched = wt.harness_touched(repo, base.sha, cand.sha, files)
        assert touched == ["benchmarks/bench.py", "benchmarks/extra.txt"]
        assert wt.pin_harness(files, base=base.path, candidate=cand.path) == ["benchmarks"]
        assert (cand.path / "benchmarks/bench.py").read_text() == "print('bench v1')\n"
        assert not (cand.path / "benchmarks/extra.txt").exists()
        assert (cand.path / "src/app.py").read_text() == "VALUE = 2\n"  # code stays candidate's
        assert wt.harness_touched(repo, base.sha, base.sha, files) == []
        assert wt.pin_harness(["missing.py"], base=base.path, candidate=cand.path) == []


def test_any_command_that_opens_the_repository_removes_stale_sessions(
    repo: Path, git: Callable[..., str], run_cli: Callable[..., Any]
) -> None:
    """Issue 16 item 12: a SIGKILLed session used to stay until the next compare."""
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(repo)], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            stale = Path(proc.stdout.readline().strip())
        finally:
            proc.kill()
            proc.wait()
    assert stale.exists() and git(repo, "worktree", "list").count("\n") == 2
    res = run_cli(["runs", "list"], cwd=repo)  # a read-only command
    assert res.code == 0, res.err
    assert not stale.exists()
    assert git(repo, "worktree", "list").count("\n") == 0


@pytest.mark.slow
def test_double_ctrl_c_leaves_no_session_folder_or_worktree(
    git_repo: Repo, git: Callable[..., str]
) -> None:
    """Issue 16 item 12: a second Ctrl-C during clean-up left an empty session folder (or a
    worktree) behind. A real ``perfop compare`` gets two SIGINTs at different moments."""
    from conftest import PERFOP_ARGV, perfop_env
    from waiting import wait_until

    r = git_repo(
        {
            ".gitignore": ".perfop/\n",
            "perfop.toml": "[workloads.w]\nwarmup = 0\n"
            f'command = ["{sys.executable}", "-c", "import time; time.sleep(120)"]\n',
        }
    )
    git(r, "branch", "other")
    root = r / wt.WORKTREES_DIR
    # (what must exist before the first Ctrl-C, seconds between the two)
    for ready, gap in (("*/cand", 0.0), ("*/cand", 0.005), ("*/cand/perfop.toml", 0.05)):
        with subprocess.Popen(
            [*PERFOP_ARGV, "compare", "main", "other"],
            cwd=r,
            env=perfop_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            try:
                wait_until(lambda: list(root.glob(ready)), what=f"{ready} checked out")  # noqa: B023
                proc.send_signal(signal.SIGINT)
                time.sleep(gap)
                proc.send_signal(signal.SIGINT)
                _, err = proc.communicate(timeout=120)
            finally:
                if proc.poll() is None:
                    proc.kill()
        assert proc.returncode in (130, -signal.SIGINT), (ready, gap, err)
        assert "Traceback" not in err, err
        assert not list(root.iterdir()), (ready, gap, [str(p) for p in root.rglob("*")])
        assert git(r, "worktree", "list").count("\n") == 0, (ready, gap)


def test_a_conflicted_merge_is_not_measured_as_worktree(
    repo: Path, git: Callable[..., str]
) -> None:
    """Issue 16 item 15: conflict markers were measured as WORKTREE without a word."""
    git(repo, "checkout", "-q", "main")
    (repo / "src/app.py").write_text("VALUE = 9\n")
    git(repo, "commit", "-q", "-am", "main change")
    merge = subprocess.run(
        ["git", "-C", str(repo), "merge", "-q", "feature"], capture_output=True, text=True
    )
    assert merge.returncode != 0 and "<<<<<<<" in (repo / "src/app.py").read_text()
    before = user_state(repo)
    with pytest.raises(GitError) as info:
        wt.snapshot_worktree(repo)
    assert str(info.value) == (
        "the working tree has unresolved merge conflicts (src/app.py), so WORKTREE would "
        "measure conflict markers; resolve them (git add) or compare committed refs"
    )
    assert_untouched(before, user_state(repo))


def test_a_ref_missing_from_a_shallow_clone_hints_at_fetching_history(
    repo: Path, tmp_path: Path
) -> None:
    """Issue 16 item 15: a shallow clone's missing ref said only "does not resolve"."""
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{repo}", str(clone)],
        check=True,
    )
    with pytest.raises(GitError) as info:
        wt.resolve_ref(clone, "HEAD~1")
    msg = str(info.value)
    assert "'HEAD~1'" in msg and "shallow clone" in msg and "--unshallow" in msg
    assert "--deepen" in msg and "\n" not in msg
    with pytest.raises(GitError, match="check it with `git rev-parse nosuch`"):
        wt.resolve_ref(repo, "nosuch")  # a full clone keeps the plain message


def _with_submodule(git_repo: Repo, git: Callable[..., str], tmp_path: Path) -> Path:
    sub = git_repo({"mod.py": "print('from the submodule')\n"}, name="sub")
    top = git_repo({"bench.py": "import runpy\n"}, name="top")
    git(top, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "subm")
    git(top, "commit", "-q", "-m", "add submodule")
    return top


def test_submodules_are_checked_out_in_perfops_worktrees(
    git_repo: Repo, git: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16 item 15: a submodule's files were missing inside perfop's worktree
    ("can't open file .../subm/mod.py")."""
    top = _with_submodule(git_repo, git, tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    # Submodule clones refuse file:// URLs unless the user allows them (git >= 2.38.1).
    (home / ".gitconfig").write_text('[protocol "file"]\n\tallow = always\n')
    monkeypatch.setenv("HOME", str(home))
    before = user_state(top)
    with wt.WorktreeSession(top) as session:
        base = session.checkout("base", "HEAD")
        assert (base.path / "subm" / "mod.py").read_text() == "print('from the submodule')\n"
        session_dir = session.path
    assert not session_dir.exists()
    assert git(top, "worktree", "list").count("\n") == 0
    assert_untouched(before, user_state(top))


def test_an_unreachable_submodule_is_one_line_naming_it(
    git_repo: Repo, git: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = _with_submodule(git_repo, git, tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # no gitconfig allowing file:// submodules
    with wt.WorktreeSession(top) as session, pytest.raises(GitError) as info:
        session.checkout("base", "HEAD")
    msg = str(info.value)
    assert msg.startswith("the submodules of 'HEAD' could not be checked out in perfop's worktree")
    assert msg.endswith("make their URLs in .gitmodules reachable from this machine")
    assert "\n" not in msg


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_an_interrupted_git_call_leaves_no_child_of_git_running(repo: Path, tmp_path: Path) -> None:
    """CI saw ``git worktree add``'s own child (``git reset --hard``) go on writing files after
    Ctrl-C had killed only the ``git`` perfop started and the session was already removed."""
    import threading

    from waiting import wait_until

    pidfile = tmp_path / "grandchild.pid"
    alias = f"alias.slow=!echo $$ > {pidfile}; exec sleep 60"

    def interrupt() -> None:
        wait_until(lambda: pidfile.is_file() and pidfile.read_text().strip(), what="git's child")
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt)
    thread.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            wt.git(repo, "-c", alias, "slow")
    finally:
        thread.join()
    pid = int(pidfile.read_text())
    assert not _running(pid), f"git's child {pid} outlived the interrupted call"


def test_a_worktree_record_left_locked_by_a_stopped_checkout_is_removed(
    repo: Path, git: Callable[..., str]
) -> None:
    """CI saw ``git worktree list`` keep ``.../cand 0000000 (detached HEAD) locked`` after Ctrl-C
    stopped ``git worktree add`` half-way: the record is locked, so ``prune`` never drops it."""
    with wt.WorktreeSession(repo) as session:
        half = session.path / "cand"
        git(repo, "worktree", "add", "--lock", "--detach", str(half), "main")
        shutil.rmtree(half)
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    # The same record whose session folder is already gone: the next session's start drops it.
    gone = repo / wt.WORKTREES_DIR / "1-dead00" / "base"
    git(repo, "worktree", "add", "--lock", "--detach", str(gone), "main")
    shutil.rmtree(gone.parent)
    assert wt.cleanup_stale(repo) == [gone.parent]
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
