"""`perfop publish` from a real store: `perfop record` at each commit of a real repository, then
the dashboard names the shift, the commit and the pull request that moved the series, and never
replaces an index.html perfop did not write."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CONFIG = """\
[tool.perfop.workloads.work]
command = "{python} bench.py"
warmup = 1
min_runs = 3
max_runs = 3
"""
BENCH = "import pathlib, time\ntime.sleep(float(pathlib.Path('delay.txt').read_text()))\n"


@pytest.mark.slow
def test_publish_marks_the_shift_and_the_pull_request_that_moved_it(
    git_repo: Callable[..., Path],
    git: Callable[..., str],
    run_cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    repo = git_repo(
        {
            "pyproject.toml": CONFIG,
            "bench.py": BENCH,
            "delay.txt": "0.01",
            ".gitignore": ".perfop/\n",
        }
    )
    env = {"GITHUB_REPOSITORY": None, "GITHUB_ACTIONS": None}
    for i in range(12):
        if i:
            (repo / "delay.txt").write_text("0.01" if i < 6 else "0.2")
            (repo / "notes.txt").write_text(f"{i}\n")
            git(repo, "add", "-A")
            subject = "Slow down the parser (#57)" if i == 6 else f"change {i}"
            git(repo, "commit", "-q", "-m", subject)
        res = run_cli(["record"], cwd=repo, env=env)
        assert res.code == 0, res.err
    site = tmp_path / "site"
    res = run_cli(
        ["publish", "-o", str(site), "--repo-url", "https://github.com/acme/demo"],
        cwd=repo,
        env=env,
    )
    assert res.code == 0, res.err
    assert "(1 workloads)" in res.out
    page = (site / "index.html").read_text()
    assert "<h2>work</h2>" in page and "over 12 commits" in page
    step = git(repo, "log", "--format=%H", "-1", "--grep", "#57")
    assert 'class="cp bad"' in page
    assert f'https://github.com/acme/demo/commit/{step}"' in page
    assert '<a href="https://github.com/acme/demo/pull/57">#57</a>' in page
    assert "<b>regression</b>" in page

    # Written by perfop: replaced; anybody else's: refused, unchanged, unless forced.
    assert run_cli(["publish", "-o", str(site)], cwd=repo, env=env).code == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "index.html").write_text("<p>my page</p>\n")
    res = run_cli(["publish", "-o", str(mine)], cwd=repo, env=env)
    assert res.code == 2 and "perfop did not write it" in res.err and "--force" in res.err
    assert (mine / "index.html").read_text() == "<p>my page</p>\n"
    assert run_cli(["publish", "-o", str(mine), "--force"], cwd=repo, env=env).code == 0


def test_publish_of_an_empty_store_says_how_to_start(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    repo = git_repo({"pyproject.toml": CONFIG})
    res = run_cli(["publish", "-o", str(tmp_path / "s"), "--repo-url", ""], cwd=repo)
    assert res.code == 0, res.err
    assert "perfop record" in (tmp_path / "s" / "index.html").read_text()


def test_publish_of_an_unknown_workload_is_bad_usage(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    repo = git_repo({"pyproject.toml": CONFIG})
    res = run_cli(["publish", "-o", str(tmp_path / "s"), "-w", "nope"], cwd=repo)
    assert res.code == 2 and "nope" in res.err
    assert not (tmp_path / "s").exists()
