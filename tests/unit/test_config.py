"""Config validation through the real CLI: each error is one line naming file and dotted key.

Each malformed config is written into a fresh git repository and ``perfop run`` is invoked there;
the assertion is on the exact ``perfop: error: FILE: KEY: ...`` line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from perfop.config import (
    DEFAULT_STORE,
    expand,
    load_config,
    parse_config,
    resolve_store_url,
    resolve_workload,
    store_url,
)
from perfop.errors import ConfigError

GOOD_WL = '[tool.perfop.workloads.parse]\ncommand = "true"\n'

# (id, file, toml, dotted key, fragment of the explanation)
MALFORMED: list[tuple[str, str, str, str, str]] = [
    (
        "negative-timeout",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\ntimeout = -1\n',
        "tool.perfop.workloads.parse.timeout",
        "must be > 0.0 (got -1)",
    ),
    (
        "zero-max-time",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\nmax_time = 0\n',
        "tool.perfop.workloads.parse.max_time",
        "must be > 0",
    ),
    (
        "negative-warmup",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\nwarmup = -2\n',
        "tool.perfop.workloads.parse.warmup",
        "must be >= 0 (got -2)",
    ),
    (
        "fractional-warmup",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\nwarmup = 1.5\n',
        "tool.perfop.workloads.parse.warmup",
        "must be an integer (got 1.5)",
    ),
    (
        "zero-min-runs",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\nmin_runs = 0\n',
        "tool.perfop.workloads.parse.min_runs",
        "must be >= 1",
    ),
    (
        "zero-max-pairs",
        "perfop.toml",
        '[workloads.parse]\ncommand = "true"\nmax_pairs = 0\n',
        "workloads.parse.max_pairs",
        "must be >= 1 (got 0)",
    ),
    (
        "max-pairs-below-min-pairs",
        "perfop.toml",
        '[workloads.parse]\ncommand = "true"\nmin_pairs = 10\nmax_pairs = 5\n',
        "workloads.parse.max_pairs",
        "must be >= min_pairs (10) (got 5)",
    ),
    (
        "fractional-min-pairs",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\nmin_pairs = 2.5\n',
        "tool.perfop.workloads.parse.min_pairs",
        "must be an integer (got 2.5)",
    ),
    (
        "ceiling-below-max-time",
        "perfop.toml",
        '[workloads.parse]\ncommand = "true"\nmax_time = 120\nmax_time_ceiling = 60\n',
        "workloads.parse.max_time_ceiling",
        "must be >= max_time (120) (got 60)",
    ),
    (
        "zero-ceiling",
        "perfop.toml",
        '[workloads.parse]\ncommand = "true"\nmax_time_ceiling = 0\n',
        "workloads.parse.max_time_ceiling",
        "must be > 0",
    ),
    (
        "max-runs-below-min-runs",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\nmin_runs = 10\nmax_runs = 3\n',
        "tool.perfop.workloads.parse.max_runs",
        "must be >= min_runs (10) (got 3)",
    ),
    (
        "string-timeout",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\ntimeout = "5"\n',
        "tool.perfop.workloads.parse.timeout",
        "must be a number (got '5')",
    ),
    (
        "bool-timeout",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\ntimeout = true\n',
        "tool.perfop.workloads.parse.timeout",
        "must be a number",
    ),
    (
        "string-gate",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\ngate = "yes"\n',
        "tool.perfop.workloads.parse.gate",
        "must be true or false (got 'yes')",
    ),
    (
        "int-check-output",
        "perfop.toml",
        '[workloads.parse]\ncommand = "true"\ncheck_output = 3\n',
        "workloads.parse.check_output",
        "must be true or false",
    ),
    (
        "missing-command",
        "pyproject.toml",
        "[tool.perfop.workloads.parse]\ntimeout = 5\n",
        "tool.perfop.workloads.parse.command",
        "required key is missing",
    ),
    (
        "empty-command",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "  "\n',
        "tool.perfop.workloads.parse.command",
        "must not be empty",
    ),
    (
        "unbalanced-quote-command",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "python -c \'x"\n',
        "tool.perfop.workloads.parse.command",
        "cannot be split into arguments",
    ),
    (
        "empty-argv-item",
        "perfop.toml",
        '[workloads.parse]\ncommand = ["python", ""]\n',
        "workloads.parse.command",
        "non-empty list of non-empty strings",
    ),
    (
        "empty-setup",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\nsetup = ""\n',
        "tool.perfop.workloads.parse.setup",
        "must not be empty",
    ),
    (
        "bad-env-name",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\nenv = { "1BAD" = "x" }\n',
        "tool.perfop.workloads.parse.env",
        "'1BAD' is not a valid environment variable name",
    ),
    (
        "non-string-env-value",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\nenv = { N = 4 }\n',
        "tool.perfop.workloads.parse.env.N",
        "must be a string (got 4)",
    ),
    (
        "metrics-not-a-list",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\nmetrics = "wall_time"\n',
        "tool.perfop.workloads.parse.metrics",
        "must be a list",
    ),
    (
        "cwd-not-a-string",
        "pyproject.toml",
        '[tool.perfop.workloads.parse]\ncommand = "true"\ncwd = 3\n',
        "tool.perfop.workloads.parse.cwd",
        "must be a string (got 3)",
    ),
    (
        "workload-not-a-table",
        "pyproject.toml",
        '[tool.perfop.workloads]\nparse = "true"\n',
        "tool.perfop.workloads.parse",
        "must be a table",
    ),
    (
        "threshold-too-big",
        "pyproject.toml",
        "[tool.perfop]\nthreshold = 2\n" + GOOD_WL,
        "tool.perfop.threshold",
        "must be < 1.0 (got 2)",
    ),
    (
        "threshold-zero",
        "perfop.toml",
        'threshold = 0\n[workloads.parse]\ncommand = "true"\n',
        "threshold",
        "must be > 0",
    ),
    (
        "alpha-not-a-number",
        "pyproject.toml",
        '[tool.perfop]\nalpha = "low"\n' + GOOD_WL,
        "tool.perfop.alpha",
        "must be a number (got 'low')",
    ),
    (
        "store-not-a-string",
        "pyproject.toml",
        "[tool.perfop]\nstore = 3\n" + GOOD_WL,
        "tool.perfop.store",
        "must be a string (got 3)",
    ),
    (
        "base-not-a-string",
        "pyproject.toml",
        "[tool.perfop]\nbase = 1\n" + GOOD_WL,
        "tool.perfop.base",
        "must be a string",
    ),
    (
        "empty-test-command",
        "pyproject.toml",
        '[tool.perfop]\ntest_command = ""\n' + GOOD_WL,
        "tool.perfop.test_command",
        "must not be empty",
    ),
    (
        "affinity-not-ints",
        "pyproject.toml",
        '[tool.perfop]\naffinity = ["a"]\n' + GOOD_WL,
        "tool.perfop.affinity[0]",
        "must be an integer",
    ),
    (
        "high-risk-paths-not-a-list",
        "pyproject.toml",
        '[tool.perfop]\nhigh_risk_paths = "src"\n' + GOOD_WL,
        "tool.perfop.high_risk_paths",
        "must be a list",
    ),
    (
        "slo-unknown-workload",
        "pyproject.toml",
        GOOD_WL + '[[tool.perfop.slos]]\nworkload = "parze"\nmax = 1.0\n',
        "tool.perfop.slos[0].workload",
        "unknown workload 'parze' (known: parse)",
    ),
    (
        "slo-bad-statistic",
        "pyproject.toml",
        GOOD_WL + '[[tool.perfop.slos]]\nworkload = "parse"\nstatistic = "p50"\nmax = 1.0\n',
        "tool.perfop.slos[0].statistic",
        "must be one of 'median', 'mean', 'p90', 'p95', 'p99', 'max' or 'min' (got 'p50')",
    ),
    (
        "slo-without-bound",
        "pyproject.toml",
        GOOD_WL + '[[tool.perfop.slos]]\nworkload = "parse"\n',
        "tool.perfop.slos[0]",
        "needs 'max' or 'min'",
    ),
    (
        "slo-max-not-a-number",
        "perfop.toml",
        '[workloads.parse]\ncommand = "true"\n[[slos]]\nworkload = "parse"\nmax = "fast"\n',
        "slos[0].max",
        "must be a number (got 'fast')",
    ),
    (
        "slos-not-a-list",
        "pyproject.toml",
        GOOD_WL + '[tool.perfop.slos]\nworkload = "parse"\n',
        "tool.perfop.slos",
        "must be a list",
    ),
    (
        "perfop-section-not-a-table",
        "pyproject.toml",
        '[tool]\nperfop = "yes"\n',
        "tool.perfop",
        "must be a table",
    ),
]

UNKNOWN_KEYS: list[tuple[str, str, str, str]] = [
    # (file, toml, dotted key, did-you-mean / expected)
    ("pyproject.toml", "[tool.perfop]\nthreshhold = 0.1\n", "tool.perfop.threshhold",
     "did you mean 'threshold'?"),
    ("pyproject.toml", '[tool.perfop.workloads.parse]\ncomand = "true"\n',
     "tool.perfop.workloads.parse.comand", "did you mean 'command'?"),
    ("pyproject.toml", '[tool.perfop.workloads.parse]\ncommand = "true"\ntimout = 3\n',
     "tool.perfop.workloads.parse.timout", "did you mean 'timeout'?"),
    ("perfop.toml", '[workloads.parse]\ncommand = "true"\n[[slos]]\nworkload = "parse"\n'
     "max = 1\nmaxx = 2\n", "slos[0].maxx", "did you mean 'max'?"),
    ("perfop.toml", "zzzz = 1\n", "zzzz", "expected one of: affinity, "),
]  # fmt: skip


def _write(repo: Path, filename: str, text: str) -> None:
    (repo / filename).write_text(text, encoding="utf-8")


def _assert_one_line_error(err: str, filename: str, key: str, fragment: str) -> None:
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    prefix = f"perfop: error: {filename}: {key}: "
    assert lines[0].startswith(prefix), f"expected {prefix!r}, got {lines[0]!r}"
    assert fragment in lines[0][len(prefix) :], lines[0]


@pytest.mark.parametrize(
    ("filename", "text", "key", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in MALFORMED],
)
def test_malformed_config_is_one_line_naming_the_key(
    git_repo, run_cli, filename: str, text: str, key: str, fragment: str
) -> None:
    repo = git_repo()
    _write(repo, filename, text)
    code, out, err = run_cli(["run", "--runs", "1"], cwd=repo)
    assert code == 2
    assert out == ""
    _assert_one_line_error(err, filename, key, fragment)
    assert not (repo / ".perfop").exists(), "a bad config must not create a store"


def test_there_are_at_least_twenty_malformed_cases() -> None:
    assert len(MALFORMED) >= 20
    assert len({case[3] for case in MALFORMED}) >= 20, "cases should cover distinct keys"


@pytest.mark.parametrize(("filename", "text", "key", "hint"), UNKNOWN_KEYS)
def test_unknown_keys_are_errors_with_did_you_mean(
    git_repo, run_cli, filename: str, text: str, key: str, hint: str
) -> None:
    repo = git_repo()
    _write(repo, filename, text)
    code, _, err = run_cli(["run"], cwd=repo)
    assert code == 2
    _assert_one_line_error(err, filename, key, "unknown key; " + hint)


def test_invalid_toml_is_one_line(git_repo, run_cli) -> None:
    repo = git_repo()
    _write(repo, "perfop.toml", "[workloads.parse\ncommand = 1\n")
    code, _, err = run_cli(["run"], cwd=repo)
    assert code == 2
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert err.startswith("perfop: error: perfop.toml: invalid TOML:")


def test_unknown_workload_on_the_command_line_suggests_the_close_one(git_repo, run_cli) -> None:
    repo = git_repo()
    _write(repo, "pyproject.toml", GOOD_WL)
    code, _, err = run_cli(["run", "parze"], cwd=repo)
    assert code == 2
    assert err.strip() == (
        "perfop: error: pyproject.toml: unknown workload 'parze' (known: parse); "
        "did you mean 'parse'?"
    )


def test_missing_config_flag_file_is_a_usage_error(git_repo, run_cli) -> None:
    repo = git_repo()
    code, _, err = run_cli(["--config", "nope.toml", "run"], cwd=repo)
    assert code == 2
    assert err.strip() == (
        "perfop: error: nope.toml: config file not found; "
        "check the --config path (or PERFOP_CONFIG)"
    )


def test_pyproject_without_section_means_defaults(git_repo) -> None:
    repo = git_repo({"pyproject.toml": '[project]\nname = "x"\n'})
    loaded = load_config(repo)
    assert loaded.path is None
    assert loaded.config.store == DEFAULT_STORE
    assert loaded.config.threshold == 0.02 and loaded.config.alpha == 0.05
    assert loaded.repo_root == repo.resolve()


def test_perfop_toml_wins_over_pyproject(git_repo) -> None:
    repo = git_repo(
        {
            "pyproject.toml": "[tool.perfop]\nthreshold = 0.1\n",
            "perfop.toml": "threshold = 0.2\n",
        }
    )
    loaded = load_config(repo)
    assert loaded.path == repo / "perfop.toml"
    assert loaded.key_prefix == ""
    assert loaded.config.threshold == 0.2


def test_config_flag_wins_over_discovered_files(git_repo) -> None:
    repo = git_repo({"perfop.toml": "threshold = 0.2\n", "conf/other.toml": "threshold = 0.3\n"})
    loaded = load_config(repo, config_path=repo / "conf" / "other.toml")
    assert loaded.config.threshold == 0.3
    assert loaded.repo_root == repo.resolve()


def test_subdirectory_finds_config_at_repo_root(git_repo) -> None:
    repo = git_repo({"pyproject.toml": "[tool.perfop]\nthreshold = 0.1\n", "pkg/mod.py": ""})
    loaded = load_config(repo / "pkg")
    assert loaded.path == repo / "pyproject.toml"
    assert loaded.config.threshold == 0.1


def test_an_unknown_placeholder_is_a_config_error_naming_the_key() -> None:
    for value, hint in (("{literal}", ""), ("{worktre}/src", "did you mean {worktree}? ")):
        with pytest.raises(ConfigError) as info:
            parse_config({"workloads": {"w": {"command": "x", "env": {"K": value}}}}, source="p")
        name = value.split("}")[0] + "}"
        assert str(info.value) == (
            f"p: workloads.w.env: unknown placeholder {name}; {hint}use {{repo}}, {{worktree}} "
            f"or {{python}} (write {{{name}}} for a literal {name})"
        )


def test_placeholders_expand_in_command_cwd_env_and_setup(tmp_path: Path) -> None:
    config = parse_config(
        {
            "workloads": {
                "w": {
                    "command": "{python} {worktree}/bench.py --data {repo}/data",
                    "cwd": "{worktree}/sub",
                    # {{name}} is a literal {name}; braces inside code are the code's own
                    "env": {"DATA": "{repo}/data", "KEEP": "{{literal}}", "CODE": "f'{n}' ${X}"},
                    "setup": ["{python}", "-m", "pip", "install", "{worktree}"],
                }
            }
        },
        source="perfop.toml",
    )
    repo, tree = tmp_path / "repo", tmp_path / "wt"
    resolved = resolve_workload("w", config.workloads["w"], repo=repo, worktree=tree)
    assert resolved.argv == (sys.executable, f"{tree}/bench.py", "--data", f"{repo}/data")
    assert resolved.cwd == tree / "sub"
    assert resolved.env == {"DATA": f"{repo}/data", "KEEP": "{literal}", "CODE": "f'{n}' ${X}"}
    assert resolved.setup == (sys.executable, "-m", "pip", "install", str(tree))
    # a relative cwd is relative to the checkout; no cwd means the checkout itself
    rel = parse_config({"workloads": {"w": {"command": "x", "cwd": "sub"}}}, source="p")
    assert resolve_workload("w", rel.workloads["w"], repo=repo).cwd == repo / "sub"
    bare = parse_config({"workloads": {"w": {"command": "x"}}}, source="p")
    assert resolve_workload("w", bare.workloads["w"], repo=repo).cwd == repo
    assert expand("{python}", repo=repo, worktree=tree) == sys.executable


def test_placeholders_reach_the_workload_process(git_repo, run_cli) -> None:
    script = (
        "import os, pathlib; "
        "pathlib.Path(os.environ['OUT']).write_text(os.getcwd() + '|' + os.environ['HERE'])"
    )
    repo = git_repo(
        {
            "sub/.keep": "",
            "perfop.toml": (
                "[workloads.probe]\n"
                f'command = ["{{python}}", "-c", "{script}"]\n'
                'cwd = "{worktree}/sub"\n'
                'env = { OUT = "{repo}/out.txt", HERE = "{worktree}" }\n'
                "warmup = 0\n"
            ),
        }
    )
    code, _, err = run_cli(["run", "--runs", "1"], cwd=repo)
    assert code == 0, err
    root = repo.resolve()
    assert (repo / "out.txt").read_text() == f"{root / 'sub'}|{root}"


def _stores(repo: Path) -> set[str]:
    return {p.name for p in repo.glob("*.db")}


def test_store_precedence_flag_over_env_over_config(git_repo, run_cli, tmp_path: Path) -> None:
    repo = git_repo({"perfop.toml": 'store = "sqlite:///from-config.db"\n'})
    adhoc = ["run", "--runs", "1", "--warmup", "0", "--", "true"]

    code, _, err = run_cli(adhoc, cwd=repo)
    assert code == 0, err
    assert _stores(repo) == {"from-config.db"}

    code, _, err = run_cli(adhoc, cwd=repo, env={"PERFOP_STORE": "sqlite:///from-env.db"})
    assert code == 0, err
    assert _stores(repo) == {"from-config.db", "from-env.db"}

    code, _, err = run_cli(
        ["--store", "sqlite:///from-flag.db", *adhoc],
        cwd=repo,
        env={"PERFOP_STORE": "sqlite:///from-env.db"},
    )
    assert code == 0, err
    assert _stores(repo) == {"from-config.db", "from-env.db", "from-flag.db"}


def test_store_url_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_config(tmp_path)
    assert store_url(loaded) == f"sqlite:///{tmp_path.resolve()}/.perfop/perfop.db"
    monkeypatch.setenv("PERFOP_STORE", "postgresql://u@h/db")
    assert store_url(loaded) == "postgresql://u@h/db"
    assert store_url(loaded, "sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert resolve_store_url("sqlite://", tmp_path) == "sqlite://"
    assert resolve_store_url("sqlite:///:memory:", tmp_path) == "sqlite:///:memory:"


def test_config_error_is_a_single_line_exception() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"workloads": {"a": {"command": "x", "timeout": 0}}}, source="perfop.toml")
    assert str(info.value) == "perfop.toml: workloads.a.timeout: must be > 0.0 (got 0)"
