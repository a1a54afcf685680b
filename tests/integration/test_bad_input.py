"""The bad-input battery (issue 16): every case is exit 2, one line on stderr naming the flag, key
or argument and no traceback, with nothing created or changed: no file in the repository (the
store included), no worktree, no store row.

Each case runs ``perfop`` in-process on a fresh repository whose store already holds one run, so
"nothing stored" is checked against real rows. Cases marked ``xfail(strict=True)`` are holes the
issue names that are not fixed yet; they turn into failures the day they are fixed, so the mark
must then be removed.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PY = sys.executable
GOOD = f"""\
[workloads.w]
command = ["{PY}", "-c", "pass"]
warmup = 0
min_runs = 1
max_runs = 2
"""
LONG = "w" * 300


def _snapshot(repo: Path) -> dict[str, Any]:
    files = sorted(
        str(p.relative_to(repo))
        for p in repo.rglob("*")
        if ".git" not in p.relative_to(repo).parts[:1] and not p.name.endswith(("-wal", "-shm"))
    )
    rows: dict[str, int] = {}
    db = repo / ".perfop" / "perfop.db"
    if db.exists():
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            names = [
                r[0] for r in conn.execute("select name from sqlite_master where type='table'")
            ]
            rows = {n: conn.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names}
        finally:
            conn.close()
    worktrees = subprocess.run(
        ["git", "worktree", "list", "--porcelain"], cwd=repo, capture_output=True, text=True
    ).stdout
    return {"files": files, "rows": rows, "worktrees": worktrees}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with a config, a second branch and one stored run (copied per case)."""
    from perfop.cli import main

    repo = tmp_path_factory.mktemp("battery") / "repo"
    repo.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "t"],
        ["config", "user.email", "t@e.invalid"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / "perfop.toml").write_text(GOOD)
    (repo / ".gitignore").write_text(".perfop/\n")
    (repo / "bench.py").write_text("print(1)\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, check=True)
    subprocess.run(["git", "branch", "other"], cwd=repo, check=True)
    import os

    cwd = os.getcwd()
    os.chdir(repo)
    try:
        assert main(["run", "--runs", "1", "w"]) == 0
        assert main(["intake", "--title", "battery"]) == 0
    finally:
        os.chdir(cwd)
    return repo


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "repo"
    shutil.copytree(template, target, symlinks=True)
    return target


def _nest(depth: int) -> str:
    return "[workloads.w]\ncommand = 'true'\nx = " + "[" * depth + "]" * depth + "\n"


# (id, argv, needle in the message[, config override or None[, files to write]])
Case = tuple[Any, ...]

FLAG_CASES: list[Case] = [
    ("runs-zero", ["run", "--runs", "0", "w"], "--runs", None, None),
    ("runs-negative", ["run", "--runs", "-1", "w"], "--runs", None, None),
    ("runs-word", ["run", "--runs", "many", "w"], "--runs", None, None),
    ("runs-huge", ["run", "--runs", str(10**26), "w"], "--runs", None, None),
    ("timeout-nan", ["run", "--timeout", "nan", "w"], "--timeout", None, None),
    ("timeout-inf", ["run", "--timeout", "inf", "w"], "--timeout", None, None),
    ("timeout-1e400", ["run", "--timeout", "1e400", "w"], "--timeout", None, None),
    ("timeout-negative", ["run", "--timeout", "-1", "w"], "--timeout", None, None),
    ("timeout-zero", ["run", "--timeout", "0", "w"], "--timeout", None, None),
    ("timeout-word", ["run", "--timeout", "soon", "w"], "--timeout", None, None),
    ("warmup-negative", ["run", "--warmup", "-1", "w"], "--warmup", None, None),
    ("run-format", ["run", "--format", "xml", "w"], "--format", None, None),
    ("run-unknown-workload", ["run", "nosuch"], "nosuch", None, None),
    ("run-unknown-flag", ["run", "--nosuch", "w"], "--nosuch", None, None),
    ("compare-range", ["compare", "HEAD..main", "HEAD"], "is a range", None, None),
    ("compare-range3", ["compare", "main...other", "HEAD"], "is a range", None, None),
    ("compare-long-ref", ["compare", "r" * 304, "HEAD"], "characters", None, None),
    ("compare-option-ref", ["compare", "--upload-pack=evil", "HEAD"], "upload-pack", None, None),
    ("compare-unknown-ref", ["compare", "nosuchref", "HEAD"], "nosuchref", None, None),
    ("compare-unknown-cand", ["compare", "HEAD", "nosuchref"], "nosuchref", None, None),
    (
        "compare-max-time-neg",
        ["compare", "--max-time", "-1", "main", "other"],
        "--max-time",
        None,
        None,
    ),
    (
        "compare-unknown-workload",
        ["compare", "main", "other", "-w", "nosuch"],
        "nosuch",
        None,
        None,
    ),
    (
        "runs-show-huge",
        ["runs", "show", "1180591620717411303424"],
        "1180591620717411303424",
        None,
        None,
    ),
    ("runs-show-word", ["runs", "show", "abc"], "run_id", None, None),
    ("runs-show-missing", ["runs", "show", "999"], "999", None, None),
    ("runs-show-negative", ["runs", "show", "-5"], "-5", None, None),
    ("report-txt", ["report", "-o", "r.txt"], "-o", None, None),
    ("report-format", ["report", "--format", "pdf"], "--format", None, None),
    ("report-dir", ["report", "-o", ".", "--format", "md"], "-o", None, None),
    ("report-through-file", ["report", "-o", "bench.py/x.md"], "-o", None, None),
    ("report-dev-full", ["report", "-o", "/dev/full", "--format", "md"], "-o", None, None),
    ("report-proc", ["report", "-o", "/proc/x.md"], "-o", None, None),
    (
        "report-user-file",
        ["report", "-o", "bench.py", "--format", "md"],
        "not written by perfop",
        None,
        None,
    ),
    (
        "report-missing-dir",
        ["report", "-o", "/nonexistent/dir/x.html"],
        "does not exist",
        None,
        None,
    ),
    ("store-empty", ["--store", "", "runs", "list"], "--store", None, None),
    ("store-unknown-scheme", ["--store", "nosuch://x", "runs", "list"], "nosuch", None, None),
    (
        "store-missing-dir",
        ["--store", "sqlite:////nonexistent/dir/x.db", "runs", "list"],
        "nonexistent",
        None,
        None,
    ),
    (
        "config-missing-file",
        ["--config", "/nonexistent/perfop.toml", "runs", "list"],
        "nonexistent",
        None,
        None,
    ),
    ("repo-missing", ["--repo", "/nonexistent/repo", "runs", "list"], "nonexistent", None, None),
    ("hypothesis-show-missing", ["hypothesis", "show", "H9"], "H9", None, None),
    ("hypothesis-bad-label", ["hypothesis", "show", "X1"], "X1", None, None),
    ("approve-missing", ["approve", "H9", "--by", "Ada"], "H9", None, None),
    ("validate-unconfirmed", ["validate", "H9"], "intake --confirm", None, None),
    ("design-missing", ["design", "H9", "--fix", "x"], "H9", None, None),
    ("report-engagement-missing", ["report", "--engagement", "9"], "--engagement", None, None),
    ("history-unknown-workload", ["history", "nosuch"], "nosuch", None, None),
    ("unknown-command", ["nosuchverb"], "nosuchverb", None, None),
    # issue 16 items 13-15: refs, budgets and seeds of the comparing verbs
    ("compare-empty-base", ["compare", "", "HEAD"], "is empty", None, None),
    ("compare-empty-cand", ["compare", "HEAD", ""], "is empty", None, None),
    ("compare-blank-base", ["compare", "  ", "HEAD"], "is empty", None, None),
    ("compare-nul-ref", ["compare", "ma\0in", "HEAD"], "NUL", None, None),
    ("compare-option-cand", ["compare", "HEAD", "-x"], "-x", None, None),
    ("compare-max-time-nan", ["compare", "--max-time", "nan", "main", "other"], "--max-time"),
    ("compare-max-time-inf", ["compare", "--max-time", "inf", "main", "other"], "--max-time"),
    ("compare-max-time-1e400", ["compare", "--max-time", "1e400", "main", "other"], "--max-time"),
    ("compare-max-time-zero", ["compare", "--max-time", "0", "main", "other"], "--max-time"),
    ("compare-max-time-word", ["compare", "--max-time", "long", "main", "other"], "--max-time"),
    ("compare-seed-2-70", ["compare", "--seed", str(2**70), "main", "other"], "--seed"),
    ("compare-seed-2-32", ["compare", "--seed", str(2**32), "main", "other"], "--seed"),
    ("compare-seed-negative", ["compare", "--seed", "-1", "main", "other"], "--seed"),
    ("compare-seed-word", ["compare", "--seed", "lucky", "main", "other"], "--seed"),
    ("compare-max-pairs-zero", ["compare", "--max-pairs", "0", "main", "other"], "--max-pairs"),
    ("compare-max-pairs-disagree", ["compare", "--max-pairs", "5", "--max-runs", "6"], "disagree"),
    ("compare-harness", ["compare", "--harness", "both", "main", "other"], "--harness"),
    ("compare-format", ["compare", "--format", "yaml", "main", "other"], "--format"),
    ("calibrate-seed-negative", ["calibrate", "--seed", "-1"], "--seed"),
    ("calibrate-max-time-nan", ["calibrate", "--max-time", "nan"], "--max-time"),
    ("gate-seed-2-70", ["gate", "--seed", str(2**70)], "--seed"),
    ("gate-max-time-inf", ["gate", "--max-time", "inf"], "--max-time"),
    ("gate-summary-missing-dir", ["gate", "--summary", "/nonexistent/dir/s.md"], "--summary"),
    ("gate-summary-dir", ["gate", "--summary", "."], "is a directory"),
    ("validate-seed-negative", ["validate", "H1", "--seed", "-1"], "--seed"),
    ("validate-max-time-nan", ["validate", "H1", "--max-time", "nan"], "--max-time"),
    ("run-runs-float", ["run", "--runs", "1.5", "w"], "--runs"),
    ("run-warmup-word", ["run", "--warmup", "some", "w"], "--warmup"),
    ("run-both-names-and-command", ["run", "w", "--", "true"], "not both"),
    ("profile-timeout-nan", ["profile", "--timeout", "nan", "w"], "--timeout"),
    ("profile-timeout-inf", ["profile", "--timeout", "inf", "w"], "--timeout"),
    ("profile-rate-zero", ["profile", "--rate", "0", "w"], "--rate"),
    ("profile-repeat-zero", ["profile", "--repeat", "0", "w"], "--repeat"),
    ("profile-unknown-workload", ["profile", "nosuch"], "nosuch"),
    ("agent-max-time-nan", ["agent", "--max-time", "nan", "be faster"], "--max-time"),
    ("agent-max-steps-zero", ["agent", "--max-steps", "0", "be faster"], "--max-steps"),
    ("agent-empty-goal", ["agent", " "], "GOAL"),
    ("runs-list-limit-word", ["runs", "list", "--limit", "few"], "--limit"),
    ("history-min-change-word", ["history", "w", "--min-change", "big"], "--min-change"),
    ("intake-use-missing", ["intake", "--use", "99"], "99"),
    ("store-blank", ["--store", "   ", "runs", "list"], "--store"),
    ("repo-is-file", ["--repo", "bench.py", "runs", "list"], "not a directory"),
    ("config-is-dir", ["--config", ".", "runs", "list"], "config file not found"),
    ("report-proc-html", ["report", "-o", "/proc/self/x.html"], "-o"),
]

CONFIG_CASES: list[Case] = [
    ("cfg-timeout-inf", ["run", "w"], "timeout", GOOD + "timeout = inf\n", None),
    ("cfg-timeout-nan", ["run", "w"], "timeout", GOOD + "timeout = nan\n", None),
    ("cfg-timeout-negative", ["run", "w"], "timeout", GOOD + "timeout = -1\n", None),
    (
        "cfg-warmup-negative",
        ["run", "w"],
        "warmup",
        GOOD.replace("warmup = 0", "warmup = -1"),
        None,
    ),
    (
        "cfg-min-runs-zero",
        ["run", "w"],
        "min_runs",
        GOOD.replace("min_runs = 1", "min_runs = 0"),
        None,
    ),
    ("cfg-unknown-key", ["run", "w"], "comand", GOOD + "comand = 'x'\n", None),
    ("cfg-unknown-top-key", ["run", "w"], "workload", "[workload.w]\ncommand = 'true'\n", None),
    ("cfg-empty-command", ["run", "w"], "command", "[workloads.w]\ncommand = ''\n", None),
    ("cfg-empty-argv", ["run", "w"], "command", "[workloads.w]\ncommand = []\n", None),
    ("cfg-command-number", ["run", "w"], "command", "[workloads.w]\ncommand = 3\n", None),
    ("cfg-no-command", ["run", "w"], "command", "[workloads.w]\nwarmup = 1\n", None),
    (
        "cfg-slo-min-above-max",
        ["run", "w"],
        "min 2 is above max 1",
        GOOD + "[[slos]]\nworkload = 'w'\nmetric = 'wall_time'\nmin = 2\nmax = 1\n",
        None,
    ),
    ("cfg-env-nul", ["run", "w"], "NUL", GOOD + 'env = { X = "a\\u0000b" }\n', None),
    (
        "cfg-argv-nul",
        ["run", "w"],
        "NUL",
        f'[workloads.w]\ncommand = ["{PY}", "-c", "pass\\u0000"]\nwarmup = 0\n',
        None,
    ),
    ("cfg-bad-toml", ["run", "w"], "perfop.toml", "[workloads.w\ncommand = 'true'\n", None),
    ("cfg-nested-5000", ["run", "w"], "perfop.toml", _nest(5000), None),
    (
        "cfg-long-workload-name",
        ["runs", "list"],
        "workload name",
        f"[workloads.{LONG}]\ncommand = 'true'\n",
        None,
    ),
    (
        "cfg-bad-workload-name",
        ["runs", "list"],
        "workload name",
        "[workloads.'a b']\ncommand = 'true'\n",
        None,
    ),
    ("cfg-long-metric-name", ["run", "w"], "metric name", GOOD + f"metrics = ['{LONG}']\n", None),
    ("cfg-env-bad-name", ["run", "w"], "env", GOOD + "env = { '1X' = 'y' }\n", None),
    ("cfg-env-not-string", ["run", "w"], "env", GOOD + "env = { X = 1 }\n", None),
    (
        "cfg-high-risk-string",
        ["run", "w"],
        "high_risk_paths",
        "high_risk_paths = 'src'\n" + GOOD,
        None,
    ),
    (
        "cfg-slo-unknown-workload",
        ["run", "w"],
        "slos",
        GOOD + "[[slos]]\nworkload = 'nosuch'\nmetric = 'wall_time'\nmax = 1\n",
        None,
    ),
    (
        "cfg-runs-string",
        ["run", "w"],
        "max_runs",
        GOOD.replace("max_runs = 2", "max_runs = 'x'"),
        None,
    ),
    ("cfg-gate-string", ["run", "w"], "gate", GOOD + "gate = 'yes'\n", None),
    (
        "cfg-unknown-placeholder",
        ["run", "w"],
        "{nosuch}",
        f'[workloads.w]\ncommand = ["{PY}", "{{nosuch}}"]\nwarmup = 0\n',
        None,
    ),
    ("cfg-cwd-missing", ["run", "w"], "cwd", GOOD + "cwd = 'nowhere'\n", None),
    ("cfg-cwd-file", ["run", "w"], "is not a directory", GOOD + "cwd = 'bench.py'\n", None),
    ("cfg-timeout-1e400", ["run", "w"], "timeout", GOOD + "timeout = 1e400\n", None),
    ("cfg-max-time-inf", ["run", "w"], "max_time", GOOD + "max_time = inf\n", None),
    ("cfg-max-time-nan", ["run", "w"], "max_time", GOOD + "max_time = nan\n", None),
    ("cfg-ceiling-inf", ["run", "w"], "max_time_ceiling", GOOD + "max_time_ceiling = inf\n"),
    ("cfg-ceiling-below", ["run", "w"], "max_time_ceiling", GOOD + "max_time_ceiling = 1\n"),
    (
        "cfg-max-runs-below-min",
        ["run", "w"],
        "max_runs",
        GOOD.replace("max_runs = 2", "max_runs = 0"),
    ),
    ("cfg-max-pairs-below-min", ["run", "w"], "max_pairs", GOOD + "min_pairs = 5\nmax_pairs = 2\n"),
    ("cfg-seed-negative", ["run", "w"], "seed", "seed = -1\n" + GOOD),
    ("cfg-seed-huge", ["run", "w"], "seed", f"seed = {2**40}\n" + GOOD),
    ("cfg-threshold-zero", ["run", "w"], "threshold", "threshold = 0\n" + GOOD),
    ("cfg-threshold-one", ["run", "w"], "threshold", "threshold = 1.0\n" + GOOD),
    ("cfg-alpha-half", ["run", "w"], "alpha", "alpha = 0.5\n" + GOOD),
    ("cfg-store-number", ["runs", "list"], "store", "store = 3\n" + GOOD),
    ("cfg-affinity-string", ["run", "w"], "affinity", "affinity = '0-1'\n" + GOOD),
    ("cfg-agent-provider", ["run", "w"], "agent.provider", GOOD + "[agent]\nprovider = 'x'\n"),
    ("cfg-agent-key-env", ["run", "w"], "api_key_env", GOOD + "[agent]\napi_key_env = '1A'\n"),
    ("cfg-agent-max-time-inf", ["run", "w"], "agent.max_time", GOOD + "[agent]\nmax_time = inf\n"),
    (
        "cfg-slo-max-nan",
        ["run", "w"],
        "slos[0].max",
        GOOD + "[[slos]]\nworkload = 'w'\nmax = nan\n",
    ),
    (
        "cfg-slo-no-bound",
        ["run", "w"],
        "needs 'max' or 'min'",
        GOOD + "[[slos]]\nworkload = 'w'\n",
    ),
    (
        "cfg-slo-statistic",
        ["run", "w"],
        "statistic",
        GOOD + "[[slos]]\nworkload = 'w'\nstatistic = 'p50'\nmax = 1\n",
    ),
    (
        "cfg-placeholder-typo",
        ["run", "w"],
        "did you mean {worktree}",
        f'[workloads.w]\ncommand = ["{PY}", "{{worktre}}/bench.py"]\n',
    ),
    ("cfg-placeholder-env", ["run", "w"], "workloads.w.env", GOOD + "env = { X = '{home}' }\n"),
    ("cfg-placeholder-cwd", ["run", "w"], "workloads.w.cwd", GOOD + "cwd = '{root}/x'\n"),
    (
        "cfg-placeholder-setup",
        ["run", "w"],
        "workloads.w.setup",
        GOOD + "setup = 'make {target}'\n",
    ),
    (
        "cfg-placeholder-test-command",
        ["runs", "list"],
        "test_command",
        "test_command = '{pyhton} -m pytest'\n" + GOOD,
    ),
    ("cfg-setup-nul", ["run", "w"], "NUL", GOOD + 'setup = "make\\u0000"\n'),
    ("cfg-env-name-nul", ["run", "w"], "env", GOOD + 'env = { "X\\u0000" = "1" }\n'),
    ("cfg-test-env-nul", ["runs", "list"], "NUL", 'test_env = { X = "a\\u0000" }\n' + GOOD),
    ("cfg-command-unsplittable", ["run", "w"], "command", "[workloads.w]\ncommand = 'a \"b'\n"),
    ("cfg-primary-number", ["run", "w"], "primary_metric", GOOD + "primary_metric = 1\n"),
]

PYPROJECT_CASES: list[Case] = [
    (
        "pyproject-tool-string",
        ["runs", "list"],
        "pyproject.toml",
        None,
        {"pyproject.toml": 'tool = "x"\n'},
    ),
    (
        "pyproject-perfop-string",
        ["runs", "list"],
        "pyproject.toml",
        None,
        {"pyproject.toml": '[tool]\nperfop = "x"\n'},
    ),
    (
        "pyproject-bad-toml",
        ["runs", "list"],
        "pyproject.toml",
        None,
        {"pyproject.toml": "[tool.perfop\n"},
    ),
]

INTAKE_CASES: list[Case] = [
    ("intake-missing-file", ["intake", "--from", "nosuch.yaml"], "nosuch.yaml", None, None),
    (
        "intake-unknown-key",
        ["intake", "--from", "i.yaml"],
        "titel",
        None,
        {"i.yaml": "title: x\ntitel: y\n"},
    ),
    (
        "intake-bad-yaml",
        ["intake", "--from", "i.yaml"],
        "i.yaml",
        None,
        {"i.yaml": "title: [unclosed\n"},
    ),
    (
        "intake-not-mapping",
        ["intake", "--from", "i.yaml"],
        "i.yaml",
        None,
        {"i.yaml": "- a\n- b\n"},
    ),
    (
        "intake-unknown-workload",
        ["intake", "--from", "i.yaml"],
        "nosuch",
        None,
        {"i.yaml": "title: x\nworkloads: [nosuch]\n"},
    ),
    ("intake-bad-toml", ["intake", "--from", "i.toml"], "i.toml", None, {"i.toml": "title = \n"}),
    ("intake-bad-extension", ["intake", "--from", "i.txt"], "i.txt", None, {"i.txt": "x"}),
    (
        "intake-billion-laughs",
        ["intake", "--from", "i.yaml"],
        "i.yaml",
        None,
        {
            "i.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                for p, c in zip("abcdefgh", "bcdefghi", strict=True)
            )
            + "title: x\n"
        },
    ),
    (
        "intake-option-base",
        ["intake", "--from", "i.yaml"],
        "base",
        None,
        {"i.yaml": "title: x\nbase: --upload-pack=evil\n"},
    ),
    (
        "intake-unknown-base",
        ["intake", "--from", "i.yaml"],
        "nosuchref",
        None,
        {"i.yaml": "title: x\nbase: nosuchref\n"},
    ),
]

ENV_CASES: list[tuple[str, list[str], str, dict[str, str]]] = [
    ("env-store-scheme", ["runs", "list"], "nosuch", {"PERFOP_STORE": "nosuch://x"}),
    (
        "env-config-missing",
        ["runs", "list"],
        "nonexistent",
        {"PERFOP_CONFIG": "/nonexistent/perfop.toml"},
    ),
    ("env-config-dir", ["runs", "list"], "PERFOP_CONFIG", {"PERFOP_CONFIG": "/"}),
    (
        "env-store-missing-dir",
        ["runs", "list"],
        "/nonexistent/dir",
        {"PERFOP_STORE": "sqlite:////nonexistent/dir/x.db"},
    ),
    (
        "env-step-summary-missing-dir",
        ["gate"],
        "GITHUB_STEP_SUMMARY",
        {"GITHUB_STEP_SUMMARY": "/nonexistent/dir/s.md"},
    ),
]

# Holes the issue names that this battery shows are still open (strict: remove when fixed).
OPEN: dict[str, str] = {}


def _check(
    run_cli: Callable[..., Any],
    repo: Path,
    case_id: str,
    argv: list[str],
    needle: str,
    env: dict[str, str] | None = None,
) -> None:
    before = _snapshot(repo)
    res = run_cli(argv, cwd=repo, env=env)
    after = _snapshot(repo)
    assert res.code == 2, (case_id, res.code, res.out[-300:], res.err[-500:])
    err = res.err.strip()
    assert err and "\n" not in err, (case_id, res.err)
    assert "Traceback" not in res.err and "internal error" not in res.err, (case_id, res.err)
    assert needle in err, (case_id, needle, err)
    assert after == before, (case_id, "something was created or changed")


def _params(cases: list[Case]) -> list[Any]:
    out = []
    for case in cases:
        marks = [pytest.mark.xfail(strict=True, reason=OPEN[case[0]])] if case[0] in OPEN else []
        argv, needle, config, files = (*case[1:], None, None)[:4]
        out.append(pytest.param(argv, needle, config, files, id=case[0], marks=marks))
    return out


@pytest.mark.parametrize(
    ("argv", "needle", "config", "files"),
    _params(FLAG_CASES + CONFIG_CASES + PYPROJECT_CASES + INTAKE_CASES),
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    repo: Path,
    run_cli: Callable[..., Any],
    request: pytest.FixtureRequest,
    argv: list[str],
    needle: str,
    config: str | None,
    files: dict[str, str] | None,
) -> None:
    if config is not None:
        (repo / "perfop.toml").write_text(config)
    for rel, text in (files or {}).items():
        (repo / rel).write_text(text)
    if "pyproject.toml" in (files or {}):
        (repo / "perfop.toml").unlink()
    _check(run_cli, repo, request.node.callspec.id, argv, needle)


@pytest.mark.parametrize(
    ("argv", "needle", "env"),
    [
        pytest.param(
            *c[1:],
            id=c[0],
            marks=[pytest.mark.xfail(strict=True, reason=OPEN[c[0]])] if c[0] in OPEN else [],
        )
        for c in ENV_CASES
    ],
)
def test_bad_environment_variables(
    repo: Path,
    run_cli: Callable[..., Any],
    request: pytest.FixtureRequest,
    argv: list[str],
    needle: str,
    env: dict[str, str],
) -> None:
    _check(run_cli, repo, request.node.callspec.id, argv, needle, env)


def test_metrics_none_of_which_is_reported_fail_the_run(
    repo: Path, run_cli: Callable[..., Any]
) -> None:
    """Issue 16 item 14: ``metrics = ["nosuch"]`` gave an empty table on a "complete" run.

    Whether a workload prints a metric is known only once it ran, so this is exit 1 (a failed
    run, stored as such) rather than a config error.
    """
    (repo / "perfop.toml").write_text(GOOD + "metrics = ['nosuch']\n")
    res = run_cli(["run", "w", "--format", "json"], cwd=repo)
    assert res.code == 1, res.err
    import json

    doc = json.loads(res.out)
    (run,) = doc["runs"]
    assert run["status"] == "failed"
    assert "'nosuch' never reported" in run["stopped"] and "PERFOP_METRIC" in run["stopped"]
    (repo / "perfop.toml").write_text(GOOD + "metrics = ['wall_time', 'nosuch']\n")
    res = run_cli(["run", "w", "--format", "json"], cwd=repo)
    assert res.code == 0, res.err  # one listed metric was reported: complete, with the note
    (run,) = json.loads(res.out)["runs"]
    assert run["status"] == "complete" and "'nosuch' never reported" in run["stopped"]


def _foreign_store(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("create table runs (x integer)")
    conn.commit()
    conn.close()


def _banana_store(path: Path) -> None:
    from perfop.store import open_store

    open_store(f"sqlite:///{path}").close()
    conn = sqlite3.connect(path)
    conn.execute("update perfop_meta set value = 'banana' where key = 'schema_version'")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        pytest.param(_foreign_store, "perfop did not create", id="store-foreign-runs-table"),
        pytest.param(_banana_store, "schema_version is 'banana'", id="store-schema-banana"),
    ],
)
def test_a_store_perfop_did_not_write_is_refused_untouched(
    repo: Path,
    tmp_path: Path,
    run_cli: Callable[..., Any],
    make: Callable[[Path], None],
    needle: str,
    request: pytest.FixtureRequest,
) -> None:
    db = tmp_path / "other.db"
    make(db)
    before, raw = _dump(db), db.read_bytes()
    files = sorted(p.name for p in tmp_path.iterdir())
    _check(
        run_cli,
        repo,
        request.node.callspec.id,
        ["--store", f"sqlite:///{db}", "runs", "list"],
        needle,
    )
    # Nothing changed: not the rows, and not one byte of the file either (opening a SQLite
    # store for writing switches it to WAL, header bytes 18-19: the check runs read-only
    # first), and no -wal or -shm file is left next to it.
    assert _dump(db) == before
    assert db.read_bytes() == raw
    assert sorted(p.name for p in tmp_path.iterdir()) == files


def _dump(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.mark.postgres
def test_a_sql_ascii_postgres_database_is_one_line_naming_the_encoding(
    pg_server_url: str, repo: Path, run_cli: Callable[..., Any]
) -> None:
    """A SQL_ASCII cluster (or database) handed text back as bytes: a TypeError traceback."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    from conftest import _libpq_url

    name = f"perfop_test_ascii_{uuid.uuid4().hex[:8]}"
    admin = _libpq_url(pg_server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE \"{name}\" ENCODING 'SQL_ASCII' TEMPLATE template0 "
            "LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    try:
        url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
        _check(run_cli, repo, "store-sql-ascii", ["--store", url, "runs", "list"], "SQL_ASCII")
        res = run_cli(["--store", url, "runs", "list"], cwd=repo)
        assert "needs UTF8" in res.err and "createdb -E UTF8" in res.err
        with psycopg.connect(_libpq_url(url)) as conn:  # nothing was created in it
            tables = conn.execute(
                "select count(*) from information_schema.tables where table_schema = 'public'"
            ).fetchone()
        assert tables == (0,)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# (tool, arguments, needle): what an agent may send wrong; each is isError with one line.
MCP_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("compare", {"base": "", "candidate": "HEAD"}, "base"),
    ("compare", {"base": "HEAD", "candidate": ""}, "candidate"),
    ("compare", {"base": "HEAD..main"}, "base"),
    ("compare", {"base": "--upload-pack=evil"}, "base"),
    ("compare", {"base": "nosuchref"}, "nosuchref"),
    ("compare", {"base": "main", "candidate": "other", "seed": -1}, "seed"),
    ("compare", {"base": "main", "candidate": "other", "seed": 2**70}, "seed"),
    ("compare", {"base": "main", "candidate": "other", "max_seconds": -1}, "max_seconds"),
    ("compare", {"base": "main", "candidate": "other", "workloads": ["nosuch"]}, "nosuch"),
    ("run", {"workloads": ["nosuch"]}, "nosuch"),
    ("run", {"runs": 0}, "runs"),
    ("run", {"runs": 10**26}, "runs"),
    ("run", {"timeout": 0}, "timeout"),
    ("run", {"command": "rm -rf /"}, "unknown key"),
    ("runs", {"limit": 0}, "limit"),
    ("report", {"output": "/nonexistent/dir/x.md"}, "output"),
    ("report", {"output": "../x.md"}, "output"),
    ("report", {"output": "bench.py"}, "bench.py"),
    ("intake", {"spec": {"title": "x", "base": "--upload-pack=evil"}}, "base"),
    ("hypothesis_add", {"statment": "x"}, "statement"),
    ("show", {"kind": "run", "id": 99}, "99"),
    ("show", {"kind": "nosuch", "id": 1}, "kind"),
]


def test_bad_mcp_arguments_are_one_line_tool_errors_that_change_nothing(repo: Path) -> None:
    """The battery's MCP part: one server, every case isError with one line naming the
    argument, and no file, store row or worktree created or changed by any of them."""
    pytest.importorskip("mcp")
    import anyio
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    from conftest import perfop_env

    before = _snapshot(repo)
    failures: list[Any] = []

    async def main() -> None:
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "perfop", "mcp", "--repo", str(repo)],
            env=perfop_env(),
            cwd=str(repo.parent),
        )
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            for name, args, needle in MCP_CASES:
                result = await session.call_tool(name, args)
                text = result.content[0].text if result.content else ""
                if not (result.is_error and "\n" not in text and needle in text):
                    failures.append((name, args, result.is_error, text[:300]))
                if "Traceback" in text or "internal error" in text:
                    failures.append((name, args, "traceback", text[:300]))

    anyio.run(main)
    assert not failures, failures
    assert _snapshot(repo) == before, "an MCP call created or changed something"
