"""perfop's start-up: `perfop --help`, `perfop run --help`, `perfop run --runs 1 -- true`.

One hyperfine run (``hyperfine -N``, no shell) measures the three figures through the console
script (``run -- true`` also with ``--format json``; both piped, as hyperfine's output is), and
``perfop runs list --limit 1`` (the start-up of the store's read verbs), beside
``python -c pass`` (the floor no Python program goes below) and the imports of the libraries
the verbs need (Typer, pydantic, SQLAlchemy, NumPy; Typer, SQLAlchemy and pydantic's models
together: the floor of a verb that opens the store). ``run -- true`` runs in a fresh
git repository with one commit, as a user's would (perfop records the commit), and writes to a
SQLite store there. hyperfine reports user and system CPU time beside wall time: on a shared
machine the wall time follows the load, the CPU time much less.

Two byte-code states, each its own table:

- ``cached``: every module's byte-code is on disk (``PYTHONDONTWRITEBYTECODE`` unset, warm-up
  runs first). This is what a ``pipx install perfop`` sees: pip compiles every module of a wheel
  when it installs it.
- ``perfop compiled at each start``: ``PYTHONDONTWRITEBYTECODE=1`` (this VM exports it) with an
  editable install of perfop, whose modules then have no byte-code and are compiled at every
  start (the libraries in site-packages were compiled by pip). Measured only for an editable
  install (perfop's source outside site-packages); perfop's ``__pycache__`` folders are removed
  before every run of that table.

Then ``python -X importtime`` once per verb, self time summed per top-level package: what each
verb's import budget is made of. The section "## Start-up" of docs/benchmarks.md is replaced.

    python benchmarks/startup.py [--runs 15] [--no-write] [--baseline SRC]

``--baseline SRC``: another perfop source tree (``git archive main src | tar -x -C DIR``, then
``DIR/src``); each perfop command also runs as ``env PYTHONPATH=SRC perfop ...`` in the same
hyperfine run (one ``env`` exec more, ~1 ms), so a change is measured beside its base.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _doc import write_section  # benchmarks/_doc.py (scripts run from benchmarks/)
from harness_overhead import DOC, ROOT, machine

HEADING = "## Start-up"
GOALS = {
    "perfop --help": 0.100,
    "perfop run --help": 0.150,
    "perfop run -- true": 0.150,
    "perfop run --format json -- true": 0.150,
}
# Start-up of the store's read verbs; their goals are for a 1M-sample store (benchmarks/scale.py).
READS = {"perfop runs list --limit 1": "< 0.5 s at 1M (scale.py)"}
NOTES = """\
What each figure is made of, and why the goals are or are not met (issue 18 point 1):

- `perfop --help` imports Typer and perfop's CLI shell only: the verb list comes from a static
  table (`perfop.cli.verbs`, kept equal to the modules' own help by tests/unit/test_cli_lazy.py)
  and no verb's module is imported. It costs `import typer` plus a few ms; Typer is its floor.
- `perfop run --help` imports `perfop.cli.run` alone. Typer (0.29) builds a pydantic
  TypeAdapter for every option it processes, even an absent one, so the root options alone
  used to import pydantic (and, through its plugin loader, `importlib.metadata`) for any
  `perfop VERB --help`; absent root options now pass as None without that coercion
  (`perfop.cli.lazy`), and the verb's own options are never processed before `--help` exits.
- `perfop run -- CMD` imports what the command cannot do without: Typer, the store (SQLAlchemy
  Core), pydantic (the config and the ad hoc command are validated by the config's models, which
  the measurement pipeline takes), and on a terminal Rich for the progress bar and the table; the
  row `import typer, sqlalchemy, perfop.config` is that floor. Issue 18's pass took off the rest:
  Rich when the output is piped (the table, the machine line and the contention warning are
  written as Rich's console printed them, `perfop.render.run.plain_run_table`, compared byte for
  byte with Rich's output by tests/unit/test_run_render.py; a terminal, a non-UTF-8 stdout, a
  table wider than the console, markup, an emoji code, a control or wide character still go
  through Rich), NumPy (a run's summary, and the `run_metrics` row written with it, is computed in
  Python for up to 1000 finite samples by `perfop.describe` in NumPy's order of operations,
  bit-identical, tests/unit/test_describe.py; larger samples, a NaN, an infinity or a negative
  zero still go to NumPy), Typer's pydantic coercion machinery (`typer._adapters`: plain option
  values are coerced by `perfop.cli.lazy` exactly as Typer's adapters coerce them, which a test
  checks on every parameter of every verb; anything else, and every refusal, is Typer's), the
  other areas' table modules (an up-to-date store is recognised by `perfop.store.TABLES`), the
  package scan (cached per interpreter and package set), a second reading of the git state (and,
  for `--format json`, of the whole environment: the document shows the one stored with the runs),
  every other verb's module. The measured process starts after the store is open and ends before
  the summary is computed: start-up costs the whole command, not the measurement.
- Why `perfop run -- true` stays above 150 ms: the imports it cannot do without cost more than
  that by themselves. On the Intel VM of the table above (2026-12-02, load 1.1-1.5), the floor row
  `import typer, sqlalchemy, perfop.config` took 348 ms of CPU (hyperfine's mean; 396 ms median in
  the interleaved measurement below), and `perfop run -- true` is 17-36 ms of CPU above it: the
  spawner (a `python -S` process, ~10 ms of CPU; its start now overlaps the imports), 4 git
  processes (the repository's root, then `rev-parse` and `status`, and `diff-index` because the
  store's `-wal`/`-shm` files make this benchmark's tree dirty; 3 on a clean tree), SQLAlchemy's
  SQLite dialect (~8 ms, imported by `create_engine`), the store's opening read and 4 write
  transactions with their first statement compiles (~15 ms), perfop's own modules on the path (~20
  ms of import). Earlier, on the AMD VM, in the interleaved measurement below (load 4.1-4.3),
  `import sqlalchemy` took 266 ms of CPU (median; 224 ms the least), `import typer` 74 ms, and
  Typer, SQLAlchemy and pydantic's models together 398 ms (303 ms the least): the floor of any
  verb that opens the store and reads the config, about 2.5x the goal on this VM. Going below it
  would take a second store implementation (plain `sqlite3` for these verbs beside SQLAlchemy for
  PostgreSQL: every record written and read two ways) and a config validated without its models
  (the measurement pipeline takes the models); neither is worth it against the design's one store
  and one config, so this row is at its floor plus what it does: the spawner, git, the store's
  statements (Rich, ~40 ms, only on a terminal now).
- Before and after this pass (main at 072fdc4 against this branch, the same interpreter and
  byte-code, 15 interleaved rounds in random order, CPU time of each process and its children
  from `wait4`, load 4.1-4.3, median / least, ms): `perfop run --runs 1 -- true` 654 / 545 ->
  494 / 421; `perfop runs list --limit 1` 497 / 384 -> 408 / 364; `perfop history adhoc
  --no-plot` (one commit) 584 / 496 -> 531 / 417; the floor row above 398 / 303. `runs list` is
  now ~10 ms above the floor, `run` ~100 ms (Rich, the spawner, git, the measurement itself).
- Before and after the start-up pass of branch h18s (main f88d539 as `--baseline`, the same
  interpreter and byte-code, 20 interleaved rounds in random order, CPU and wall of each process
  and its children from `wait4`, load 1.1-1.5, median, ms): `perfop run --runs 1 -- true`
  piped 455 -> 428 CPU, 460 -> 417 wall; with `--format json` 439 -> 413 CPU, 439 -> 402 wall;
  on a terminal (`script -qc`, 12 rounds; Rich still draws) 480 -> 464 CPU, 501 -> 482 wall,
  and with `--format json` 450 -> 417, 468 -> 432; `runs list --limit 1` unchanged (369 / 373);
  the floor row 396 CPU, 397 wall. What it took off: Rich when piped, one git process of each
  reading, the JSON document's second environment capture (3-4 git processes and the
  fingerprint), and the spawner's start from the critical path (wall only).
- `perfop runs list` (start-up of the 1M-sample row of "perfop at scale"): Typer, SQLAlchemy,
  pydantic; no NumPy, no table module of another area, and, piped at a width its lines fit,
  no Rich (plain columns written as the console printed them; a narrower console or a control
  character in a cell still goes through Rich, which folds or drops as before).
- Without byte-code (this VM's `PYTHONDONTWRITEBYTECODE=1` on an editable install) every perfop
  module on the path is compiled at every start: the second table shows what that adds; a
  user's installed perfop does not pay it.
- Before the lazy CLI (main at 8e12bd5, same machine, load 2.8, `hyperfine -N`, 15 runs, byte-code
  cached, median wall / mean CPU): `perfop --help` 110 / 109 ms, `perfop run --help` 189 / 182 ms,
  `perfop run --runs 1 -- true` 637 / 641 ms (after, in the same run: 63 / 64, 66 / 69,
  978 / 643 ms; two more runs of the last pair: 664 -> 589 and 702 -> 652 ms of CPU). Earlier
  work on the same issue took the package scan, NumPy before the summary, SciPy in the budget
  planner and the interpreter's teardown (`os._exit` after output and `atexit`) off the path."""


def perfop_script() -> list[str]:
    script = Path(sys.executable).with_name("perfop")
    return [str(script)] if script.exists() else [sys.executable, "-m", "perfop"]


def commands(store: str, baseline: str | None = None) -> dict[str, list[str]]:
    py = sys.executable
    perfop = perfop_script()
    cmds = {
        "python -c pass": [py, "-c", "pass"],
        "import typer": [py, "-c", "import typer"],
        "import typer, pydantic": [py, "-c", "import typer, pydantic"],
        "import sqlalchemy": [py, "-c", "import sqlalchemy"],
        "import numpy": [py, "-c", "import numpy"],
        # What a store-using verb cannot do without: the CLI, the store, the config's models.
        "import typer, sqlalchemy; pydantic.BaseModel": [
            py, "-c", "import typer, sqlalchemy; from pydantic import BaseModel"
        ],
        # The same with the config's pydantic models built (perfop.config imports pydantic and
        # the standard library only): what validating a config or an ad hoc command needs.
        "import typer, sqlalchemy, perfop.config": [
            py, "-c", "import typer, sqlalchemy, perfop.config"
        ],
        "perfop --help": [*perfop, "--help"],
        "perfop run --help": [*perfop, "run", "--help"],
        "perfop run -- true": [
            *perfop, "--store", store, "run", "--runs", "1", "--warmup", "0", "--", "true"
        ],
        "perfop run --format json -- true": [
            *perfop, "--store", store, "run", "--runs", "1", "--warmup", "0", "--format", "json",
            "--", "true"
        ],
        "perfop runs list --limit 1": [*perfop, "--store", store, "runs", "list", "--limit", "1"],
    }  # fmt: skip
    if baseline is not None:
        env = ["env", f"PYTHONPATH={baseline}"]
        for name in [n for n in cmds if n.startswith("perfop")]:
            cmds[f"{name} (baseline)"] = [*env, *cmds[name]]
    return cmds


def _perfop_source() -> Path | None:
    """perfop's package folder when it is an editable install (outside site-packages)."""
    import perfop

    folder = Path(perfop.__file__).resolve().parent
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    return None if folder.is_relative_to(site) else folder


def _env(*, bytecode: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _repo(folder: Path) -> None:
    git = ["git", "-C", str(folder), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (folder / "README.md").write_text("a user's project\n")
    (folder / ".gitignore").write_text(".perfop/\n*.db\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)


def hyperfine(
    cmds: dict[str, list[str]], cwd: Path, runs: int, *, bytecode: bool, prepare: str | None
) -> dict[str, dict[str, float | list[float]]]:
    out = cwd.parent / "hyperfine.json"
    argv = ["hyperfine", "-N", "--runs", str(runs), "--export-json", str(out), "--style", "basic"]
    argv += ["--warmup", "0" if prepare else "2"]
    for name, cmd in cmds.items():
        if prepare:
            argv += ["--prepare", prepare]
        argv += ["-n", name, shlex.join(cmd)]
    subprocess.run(argv, cwd=cwd, env=_env(bytecode=bytecode), check=True, stdout=sys.stderr)
    doc = json.loads(out.read_text())
    return {
        r["command"]: {
            "median": r["median"], "user": r["user"], "system": r["system"],
            "times": r["times"], "min": r["min"],
        }
        for r in doc["results"]
    }  # fmt: skip


def importtime(argv: list[str], cwd: Path) -> dict[str, float]:
    """Seconds of self import time per top-level package (``python -X importtime``)."""
    script = argv[0]
    if Path(script).name == "perfop":  # the console script: the same modules via -m
        argv = [sys.executable, "-m", "perfop", *argv[1:]]
    out = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]], cwd=cwd, env=_env(bytecode=True),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    per: dict[str, float] = defaultdict(float)
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, _cum, name = (part.strip() for part in line.replace(":", "|", 1).split("|"))
        top = name.strip().split(".")[0]
        per[top if not top.startswith("_") else "(C modules)"] += int(self_us) / 1e6
    return dict(per)


def measure(
    runs: int, baseline: str | None = None
) -> tuple[dict[str, dict], dict[str, dict[str, float]], str]:
    if shutil.which("hyperfine") is None:
        raise SystemExit("hyperfine not found; install it: apt-get install -y hyperfine")
    tables: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="perfop-startup-") as tmp:
        cwd = Path(tmp) / "project"
        cwd.mkdir()
        _repo(cwd)
        cmds = commands(f"sqlite:///{cwd / 'perfop.db'}", baseline)
        tables["cached"] = hyperfine(cmds, cwd, runs, bytecode=True, prepare=None)
        source = _perfop_source()
        if source is not None:
            perfop_cmds = {
                k: v for k, v in cmds.items() if k.startswith("perfop") and "(baseline)" not in k
            }
            prepare = shlex.join(
                [sys.executable, "-c", "import pathlib, shutil, sys; "
                 "[shutil.rmtree(p) for p in pathlib.Path(sys.argv[1]).rglob('__pycache__')]",
                 str(source)]
            )  # fmt: skip
            tables["perfop compiled at each start"] = hyperfine(
                perfop_cmds, cwd, runs, bytecode=False, prepare=prepare
            )
            # Leave byte-code behind for whatever runs next (and for the import budgets).
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(source)], check=False)
        # The least of 3 processes per package: one process on a loaded machine can stall
        # for a second inside any import.
        budgets = {}
        for name in [*GOALS, *READS]:
            runs3 = [importtime(cmds[name], cwd) for _ in range(3)]
            budgets[name] = {p: min(r.get(p, 0.0) for r in runs3) for p in runs3[0]}
    return tables, budgets, " ".join(perfop_script())


def render(
    tables: dict[str, dict], budgets: dict, command: str, script: str, loads: tuple[str, str]
) -> str:
    ms = 1e3
    lines = [
        HEADING,
        "",
        f"`hyperfine -N` through the console script (`{Path(script).name}`), one run of this "
        "benchmark; median wall time, mean CPU time (user + system), the fastest run, and every "
        "run's wall time.",
        "",
    ]
    for title, results in tables.items():
        lines += [
            f"Byte-code {title}:",
            "",
            "| command | median wall | mean CPU | min wall | goal (issue 18) "
            "| every run, wall (ms) |",
            "|---|---:|---:|---:|---|---|",
        ]
        for name, r in results.items():
            goal = GOALS.get(name)
            lines.append(
                f"| `{name}` | {r['median'] * ms:.0f} ms | {(r['user'] + r['system']) * ms:.0f} ms "
                f"| {r['min'] * ms:.0f} ms | "
                + (
                    f"<= {goal * ms:.0f} ms"
                    if goal
                    else READS.get(name, "(base)" if "(baseline)" in name else "(floor)")
                )
                + " | "
                + ", ".join(f"{t * ms:.0f}" for t in r["times"])
                + " |"
            )
        lines.append("")
    lines += [
        "Import budget per verb (`python -X importtime`, byte-code cached, self time summed per "
        "top-level package, the least of 3 processes, largest first; ms):",
        "",
        "| verb | all imports | largest |",
        "|---|---:|---|",
    ]
    for verb, per in budgets.items():
        top = sorted(per.items(), key=lambda kv: -kv[1])[:8]
        lines.append(
            f"| `{verb}` | {sum(per.values()) * ms:.0f} ms | "
            + ", ".join(f"{k} {v * ms:.0f}" for k, v in top)
            + " |"
        )
    lines += [
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine()}",
        f"- `uptime` before: `{loads[0]}`",
        f"- `uptime` after: `{loads[1]}`",
        "- The machine is shared with other engineers' test runs: wall times grow with the load "
        "(several-fold at load 4 and more on 2 CPUs), CPU times much less.",
        f"- Date: {time.strftime('%Y-%m-%d')}",
        "",
        NOTES,
        "",
    ]
    return "\n".join(lines)


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="hyperfine runs per command")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--baseline", help="another perfop source tree (its src folder)")
    args = parser.parse_args()
    before = uptime()
    tables, budgets, script = measure(args.runs, args.baseline)
    loads = (before, uptime())
    command = f"python benchmarks/startup.py --runs {args.runs}"
    if args.baseline:
        command += " --baseline SRC"
    text = render(tables, budgets, command, script, loads)
    print(text)
    if not args.no_write:
        write_section(HEADING, text, DOC)
        print(f"written to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
