"""``perfop run`` and ``perfop runs`` end to end in real repositories, with real processes.

Covers configured and ad hoc runs, the JSON document, interruption by SIGINT/SIGTERM, two
concurrent writers on one SQLite file, and planted secrets that must not reach any artifact.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from perfop.store import open_store

PY = sys.executable
GH_TOKEN = "ghp" + "_" + "Zq8Xw7Ve6Ut5Sr4Qp3On2Ml1Kj0Ih9Gf8Ed7Cb"
AWS_KEY = "AKIA" + "Q3EGRWZ7PXLMNB4T"

CONFIG = f"""
[workloads.fast]
command = ["{PY}", "-c", "print('PERFOP_METRIC rows=12 unit=rows better=higher'); print('ok')"]
warmup = 1

[workloads.slow]
command = ["{PY}", "-c", "import time; time.sleep(0.01)"]
warmup = 0
"""


@pytest.fixture
def repo(git_repo) -> Path:
    return git_repo({"perfop.toml": CONFIG})


def _store(repo: Path):
    return open_store(f"sqlite:///{repo.resolve()}/.perfop/perfop.db")


def test_configured_workloads_run_and_are_stored(repo: Path, run_cli) -> None:
    code, out, err = run_cli(["run", "--runs", "3"], cwd=repo)
    assert code == 0, err
    assert "Traceback" not in err
    for fragment in ("fast (run 1, 3 samples, complete)", "slow (run 2, 3 samples, complete)"):
        assert fragment in out
    for col in ("metric", "median", "mean", "stdev", "CV", "min", "p95", "max", "unit"):
        assert col in out
    assert "wall_time" in out and "peak_rss" in out and "rows" in out

    code, out, _ = run_cli(["runs", "list"], cwd=repo)
    assert code == 0
    lines = [line for line in out.splitlines() if "complete" in line]
    assert len(lines) == 2 and "slow" in lines[0] and "fast" in lines[1]  # newest first

    code, out, _ = run_cli(["runs", "list", "--workload", "fast", "--format", "json"], cwd=repo)
    doc = json.loads(out)
    assert doc["schema"] == "perfop.runs/1"
    assert [r["workload"] for r in doc["runs"]] == ["fast"]
    assert doc["runs"][0]["samples_count"] == 3 and doc["runs"][0]["sha"]

    code, out, _ = run_cli(["runs", "show", "1", "--format", "json"], cwd=repo)
    (shown,) = json.loads(out)["runs"]
    assert len(shown["samples"]) == 3 and shown["status"] == "complete"
    assert all(s["metrics"]["rows"] == 12 for s in shown["samples"])
    assert shown["environment"]["python"]["executable"]
    assert shown["contention"]["intervals"] >= 1  # the machine while it ran, kept with the run

    code, out, _ = run_cli(["runs", "show", "1"], cwd=repo)
    assert code == 0 and "fast (run 1, 3 samples, complete)" in out and "command:" in out
    assert "  machine: " in out

    code, _, err = run_cli(["runs", "show", "99"], cwd=repo)
    assert code == 2 and err.strip() == (
        "perfop: error: no run with id 99; list runs with: perfop runs list"
    )


def test_one_named_workload(repo: Path, run_cli) -> None:
    code, out, err = run_cli(["run", "slow", "--runs", "2"], cwd=repo)
    assert code == 0, err
    assert "slow (run 1, 2 samples" in out and "fast" not in out


def test_adhoc_json_has_every_raw_sample(git_repo, run_cli) -> None:
    repo = git_repo()
    script = "print('PERFOP_METRIC items=7 unit=items better=higher')"
    code, out, err = run_cli(
        ["run", "--runs", "4", "--warmup", "2", "--format", "json", "--", PY, "-c", script],
        cwd=repo,
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "perfop.run/2"
    assert doc["environment"]["git"]["sha"]
    (run,) = doc["runs"]
    assert run["workload"] == "adhoc" and run["status"] == "complete"
    assert run["command"] == [PY, "-c", script]
    assert run["settings"]["runs"] == 4 and run["settings"]["warmup"] == 2
    assert [s["index"] for s in run["samples"]] == [0, 1, 2, 3]  # warm-ups are not samples
    for sample in run["samples"]:
        assert set(sample["metrics"]) >= {"wall_time", "user_time", "sys_time", "peak_rss"}
        assert sample["metrics"]["items"] == 7
    assert run["metrics"]["items"] == {
        "unit": "items",
        "better": "higher",
        "summary": run["metrics"]["items"]["summary"],
    }
    walls = sorted(s["metrics"]["wall_time"] for s in run["samples"])
    assert run["metrics"]["wall_time"]["summary"]["median"] == pytest.approx(
        (walls[1] + walls[2]) / 2
    )
    assert run["failures"] == []
    stored = _store(repo).get_run(run["id"])
    assert [s.metrics for s in stored.samples] == [s["metrics"] for s in run["samples"]]


def test_failures_are_listed_and_exit_1_without_samples(git_repo, run_cli) -> None:
    repo = git_repo()
    crash = "import sys; sys.stderr.write('boom: disk full\\n'); sys.exit(4)"
    code, out, _err = run_cli(
        ["run", "--runs", "2", "--warmup", "0", "--", PY, "-c", crash], cwd=repo
    )
    assert code == 1
    assert "failed samples 0-1 (2): exited with code 4: boom: disk full" in out
    assert "failed)" in out
    code, out, _ = run_cli(
        ["run", "--runs", "2", "--warmup", "0", "--format", "json", "--", PY, "-c", crash],
        cwd=repo,
    )
    assert code == 1
    (run,) = json.loads(out)["runs"]
    assert run["samples"] == [] and run["status"] == "failed"
    assert [f["exit_code"] for f in run["failures"]] == [4, 4]
    assert run["failures"][0]["stderr_tail"] == "boom: disk full\n"


COUNTING = (
    "import pathlib, sys; p = pathlib.Path(sys.argv[1]); "
    "n = len(p.read_text()) if p.exists() else 0; p.write_text('x' * (n + 1)); "
    "sys.stderr.write(f'attempt {n}\\n'); sys.exit({rule})"
)


def test_a_workload_that_never_succeeds_stops_after_three_failures(
    git_repo, run_cli, tmp_path
) -> None:
    repo = git_repo()
    counter = tmp_path / "attempts"
    crash = COUNTING.replace("{rule}", "4")
    argv = ["run", "--runs", "20", "--warmup", "1", "--format", "json"]
    code, out, _ = run_cli([*argv, "--", PY, "-c", crash, str(counter)], cwd=repo)
    assert code == 1
    assert len(counter.read_text()) == 3  # one warm-up and two samples, not 21 processes
    (run,) = json.loads(out)["runs"]
    assert run["status"] == "failed" and run["samples"] == []
    assert [f["index"] for f in run["failures"]] == [0, 1]
    assert "stopped after 3 failed runs in a row" in run["stopped"]
    counter.unlink()
    code, out, _ = run_cli([*argv[:-2], "--", PY, "-c", crash, str(counter)], cwd=repo)
    assert code == 1
    assert "failed sample 0: exited with code 4: attempt 1" in out
    assert "failed sample 1: exited with code 4: attempt 2" in out
    assert "stopped after 3 failed runs in a row and none succeeded" in " ".join(out.split())


def test_failing_warmups_alone_stop_the_workload_with_the_reason(
    git_repo, run_cli, tmp_path
) -> None:
    repo = git_repo()
    counter = tmp_path / "attempts"
    crash = COUNTING.replace("{rule}", "4")
    code, out, _ = run_cli(
        ["run", "--runs", "5", "--warmup", "4", "--", PY, "-c", crash, str(counter)], cwd=repo
    )
    assert code == 1
    assert len(counter.read_text()) == 3
    flat = " ".join(out.split())
    assert "0 samples" in flat and "last: exited with code 4" in flat


def test_a_flaky_workload_keeps_measuring_after_its_first_success(
    git_repo, run_cli, tmp_path
) -> None:
    repo = git_repo()
    counter = tmp_path / "attempts"
    flaky = COUNTING.replace("{rule}", "0 if n == 1 else 4")  # one success among failures
    argv = ["run", "--runs", "9", "--warmup", "0", "--format", "json"]
    code, out, _ = run_cli([*argv, "--", PY, "-c", flaky, str(counter)], cwd=repo)
    assert code == 0
    assert len(counter.read_text()) == 9
    (run,) = json.loads(out)["runs"]
    assert [s["index"] for s in run["samples"]] == [1]
    assert [f["index"] for f in run["failures"]] == [0, 2, 3, 4, 5, 6, 7, 8]
    assert run["stopped"] is None and run["status"] == "complete"


def test_timeout_flag_fails_the_sample(git_repo, run_cli) -> None:
    repo = git_repo()
    code, out, _ = run_cli(
        ["run", "--runs", "1", "--warmup", "0", "--timeout", "0.3", "--", "sleep", "30"],
        cwd=repo,
    )
    assert code == 1
    assert "failed sample 0: timed out after" in out


def test_usage_errors_are_one_line(git_repo, run_cli) -> None:
    repo = git_repo()
    for args, message in [
        (["run", "--runs", "0", "--", "true"], "perfop: error: --runs must be >= 1 (got 0)"),
        (["run"], "no workloads configured"),
        (["run", "--", "no-such-cmd-xyz"], "command not found: 'no-such-cmd-xyz'"),
        (["run", "--bogus"], "No such option: --bogus"),
    ]:
        code, _out, err = run_cli(args, cwd=repo)
        assert code == 2, (args, err)
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert message in err and err.startswith("perfop: error: ")


def test_a_workload_that_cannot_start_is_named_with_its_config_file(git_repo, run_cli) -> None:
    config = (
        '[workloads.fine]\ncommand = "true"\nwarmup = 0\n'
        '[workloads.typo]\ncommand = "no-such-cmd-xyz --fast"\n'
        '[workloads.prep]\ncommand = "true"\nsetup = "false"\n'
    )
    repo = git_repo({"perfop.toml": config})
    for args, message in [
        (["run"], "perfop.toml: workload 'typo': command not found: 'no-such-cmd-xyz'"),
        (["run", "prep"], "perfop.toml: workload 'prep': setup failed (exited with code 1); fix"),
        (["compare", "HEAD", "HEAD", "-w", "typo"], "perfop.toml: workload 'typo': command not"),
    ]:
        code, _out, err = run_cli(args, cwd=repo)
        assert code == 2, (args, err)
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert message in err, (args, err)
    # Nothing half-written: only the workload that could start has runs, all closed.
    store = _store(repo)
    try:
        runs = store.list_runs()
    finally:
        store.close()
    assert runs and {(r.workload, r.status) for r in runs} == {("fine", "complete")}
    con = sqlite3.connect(repo / ".perfop" / "perfop.db")
    try:
        assert con.execute("SELECT count(*) FROM comparisons").fetchone()[0] == 0
    finally:
        con.close()


# --- interruption ----------------------------------------------------------------------------


def _wait_for_lines(path: Path, n: int, proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"perfop exited early: {proc.communicate()}")
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached {n} lines")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_is_marked_and_keeps_completed_samples(
    git_repo, perfop_popen, sig: signal.Signals
) -> None:
    repo = git_repo()
    log = repo / "calls.log"
    script = (
        "import os, time; "
        f"open({str(log)!r}, 'a').write(str(os.getpid()) + '\\n'); "
        "time.sleep(0.15)"
    )
    proc = perfop_popen(["run", "--runs", "200", "--warmup", "0", "--", PY, "-c", script], cwd=repo)
    _wait_for_lines(log, 4, proc)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err

    pids = [int(p) for p in log.read_text().split()]
    last = pids[-1]
    with pytest.raises(ProcessLookupError):
        os.kill(last, 0)  # the workload in flight was killed with perfop

    db = repo / ".perfop" / "perfop.db"
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()
    store = _store(repo)
    try:
        (run,) = store.list_runs()
        record = store.get_run(run.id)
        assert record.status == "interrupted" and record.finished_at is not None
        assert 3 <= record.n_samples <= len(pids)
        assert [s.index for s in record.samples] == list(range(record.n_samples))
        assert all(s.metrics["wall_time"] >= 0.15 for s in record.samples)
    finally:
        store.close()


# --- concurrency -----------------------------------------------------------------------------


@pytest.mark.slow
def test_two_processes_on_one_sqlite_file_lose_nothing(git_repo, perfop_popen, tmp_path) -> None:
    repo = git_repo()
    db = tmp_path / "shared" / "perfop.db"  # not created yet: both race to create the schema
    db.parent.mkdir()
    procs = [
        perfop_popen(
            [
                "--store",
                f"sqlite:///{db}",
                "run",
                "--runs",
                "25",
                "--warmup",
                "0",
                "--format",
                "json",
                "--",
                PY,
                "-c",
                f"print({i})",
            ],
            cwd=repo,
        )
        for i in range(2)
    ]
    docs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        docs.append(json.loads(out))
    store = open_store(f"sqlite:///{db}")
    try:
        runs = store.list_runs()
        assert len(runs) == 2
        for doc in docs:
            (run,) = doc["runs"]
            record = store.get_run(run["id"])
            assert record.status == "complete"
            assert [s.index for s in record.samples] == list(range(25))
            assert [s.metrics for s in record.samples] == [s["metrics"] for s in run["samples"]]
    finally:
        store.close()


# --- secrets ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_planted_secrets_reach_no_artifact(git_repo, run_cli, tmp_path) -> None:
    repo = git_repo(
        {
            "perfop.toml": (
                "[workloads.deploy]\n"
                f'command = ["{PY}", "-c", "import os, sys; '
                "print(os.environ['UPLOAD_TARGET']); "
                "sys.stderr.write(os.environ['UPLOAD_TARGET'] + ' ' + os.environ['GH_TOKEN']); "
                "sys.exit(int(os.environ['FAIL']))\"]\n"
                f'env = {{ UPLOAD_TARGET = "{AWS_KEY}", FAIL = "0" }}\n'
                "warmup = 0\n"
                "[workloads.broken]\n"
                f'command = ["{PY}", "-c", "import os, sys; '
                "sys.stderr.write('leaked ' + os.environ['GH_TOKEN'] + ' ' + sys.argv[1]); "
                f'sys.exit(2)", "{AWS_KEY}"]\n'
                "warmup = 0\n"
            )
        }
    )
    env = {"GH_TOKEN": GH_TOKEN, "PYTHONWARNINGS": f"ignore::{AWS_KEY}"}
    outputs: list[str] = []

    def cli(*args: str) -> int:
        code, out, err = run_cli(list(args), cwd=repo, env=env)
        outputs.extend([out, err])
        return code

    assert cli("run", "--runs", "2", "deploy") == 0
    assert cli("run", "--runs", "2", "--format", "json", "deploy") == 0
    assert cli("run", "--runs", "1", "broken") == 1
    assert cli("run", "--runs", "1", "--format", "json", "broken") == 1
    adhoc = [PY, "-c", "import sys; print(sys.argv[1:])", "--token", GH_TOKEN, AWS_KEY]
    assert cli("run", "--runs", "2", "--", *adhoc) == 0
    assert cli("run", "--runs", "2", "--format", "json", "--", *adhoc) == 0
    assert cli("runs", "list") == 0
    assert cli("runs", "list", "--format", "json") == 0
    for run_id in range(1, 7):
        assert cli("runs", "show", str(run_id)) == 0 or run_id in (3, 4)
        cli("runs", "show", str(run_id), "--format", "json")

    text = "\n".join(outputs)
    assert "[REDACTED]" in text  # the secrets were there to hide ...
    for secret in (GH_TOKEN, AWS_KEY):  # ... and are nowhere
        assert secret not in text
    json_docs = [json.loads(o) for o in outputs if o.startswith("{")]
    assert len(json_docs) >= 10
    for doc in json_docs:
        dumped = json.dumps(doc)
        assert GH_TOKEN not in dumped and AWS_KEY not in dumped

    files = list((repo / ".perfop").glob("perfop.db*"))
    assert repo / ".perfop" / "perfop.db" in files
    for path in files:  # the database, its -wal and -shm
        data = path.read_bytes()
        for secret in (GH_TOKEN, AWS_KEY):
            assert secret.encode() not in data, f"{secret[:6]}... found in {path.name}"


NEW_FORMATS = {  # issue 16 item 5: each passed redaction before
    "gitlab": "glpat" + "-xY7zQ2rT9wL4mN8vB3kD",
    "password-in-text": "opensesame-4711",
    "random-24": "Zx9Qw2Er7Ty4Ui1Op8As5Df3",
}


def test_new_secret_formats_reach_no_terminal_output_or_store(git_repo, run_cli) -> None:
    gl, pw, rnd = NEW_FORMATS.values()
    repo = git_repo(
        {
            "perfop.toml": (
                "[workloads.leaky]\n"
                f'command = ["{PY}", "-c", "import sys; '
                f"sys.stderr.write('push with {gl} password={pw} id {rnd} ' + sys.argv[1]); "
                f'sys.exit(3)", "password: {pw}"]\n'
                "warmup = 0\n"
            )
        }
    )
    outputs: list[str] = []
    for args in (
        ["run", "--runs", "1", "leaky"],
        ["run", "--runs", "1", "--format", "json", "leaky"],
        ["runs", "list"],
        ["runs", "show", "1"],
        ["runs", "show", "2", "--format", "json"],
    ):
        _code, out, err = run_cli(args, cwd=repo)
        outputs += [out, err]
    text = "\n".join(outputs)
    assert "push with" in text and "[REDACTED]" in text  # the stderr tail is shown ...
    for name, secret in NEW_FORMATS.items():  # ... without the secrets
        assert secret not in text, name
        for path in (repo / ".perfop").glob("perfop.db*"):
            assert secret.encode() not in path.read_bytes(), (name, path.name)


@pytest.mark.parametrize("argv", [[""], [PY, ""]])
def test_an_unrunnable_ad_hoc_command_is_one_line_and_exit_2(git_repo, run_cli, argv) -> None:
    # `perfop run -- ""` printed pydantic's multi-line validation error and exited 1.
    repo = git_repo({"perfop.toml": CONFIG})
    code, out, err = run_cli(["run", "--runs", "1", "--", *argv], cwd=repo)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("perfop: error: the command after '--': command: ")
    assert "perfop run -- python bench.py" in lines[0]
    assert "pydantic" not in err and "Traceback" not in err and out == ""
