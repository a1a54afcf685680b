"""asv suites through asv's own runner, in the environment perfop measures (no env builds).

Each run is ``asv run --python=same --set-commit-hash SHA --record-samples`` with a copy of the
project's ``asv.conf.json`` whose ``results_dir``/``html_dir``/``env_dir`` point into perfop's
own temporary folder, and a machine file there (``HOME`` of the asv process), so asv writes
nothing into the checkout or the user's home. Results are read from asv's result file: one
benchmark per parameter combination, ``name(p1, p2)``, its rounds from ``samples``.
Discovery is ``python -m asv.benchmark discover`` (what ``asv run`` itself calls).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import platform
import re
from pathlib import Path
from typing import Any

from perfop.errors import WorkloadError
from perfop.measure.suites import BenchmarkResult, SuiteRun
from perfop.model import ProcessResult

MACHINE = "perfop"
_UNITS = {"seconds": "s", "bytes": "B"}


def load_conf(path: Path) -> dict[str, Any]:
    """asv.conf.json: JSON with // and /* */ comments and trailing commas, as asv allows."""
    text = path.read_text(encoding="utf-8")
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            m = re.compile(r'"(?:\\.|[^"\\])*"').match(text, i)
            end = m.end() if m else n
            out.append(text[i:end])
            i = end
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    clean = re.sub(r",(\s*[}\]])", r"\1", "".join(out))
    doc = json.loads(clean)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def harness_paths(argv: tuple[str, ...], cwd: Path, tree: Path) -> list[str]:
    """The suite's benchmark folder (repo-relative), from the asv config the command names."""
    try:
        conf_path = Path(argv[_conf_index(argv)])
        conf_path = conf_path if conf_path.is_absolute() else cwd / conf_path
        conf = load_conf(conf_path)
        bdir = (conf_path.parent / str(conf.get("benchmark_dir", "benchmarks"))).resolve()
        rel = bdir.relative_to(tree.resolve())
    except (OSError, ValueError, IndexError):
        return []
    return [rel.as_posix()] if bdir.exists() and rel.parts else []


def _conf_index(argv: tuple[str, ...]) -> int:
    return argv.index("--config") + 1


def _commit(cwd: Path) -> str:
    from perfop import git

    out = git.run(cwd, "rev-parse", "HEAD")
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else "0" * 40


class Asv:
    def output_args(self, out_dir: Path) -> list[str]:
        return []

    def prepare(
        self, out_dir: Path, argv: tuple[str, ...], cwd: Path, env: dict[str, str]
    ) -> tuple[tuple[str, ...], dict[str, str]]:
        i = _conf_index(argv)
        conf_path = Path(argv[i])
        conf_path = conf_path if conf_path.is_absolute() else cwd / conf_path
        try:
            conf = load_conf(conf_path)
        except FileNotFoundError:
            raise WorkloadError(
                f"asv config {conf_path} not found; set 'suite' to the asv.conf.json path"
            ) from None
        except (OSError, ValueError) as exc:
            raise WorkloadError(f"cannot read asv config {conf_path}: {exc}") from None
        root = conf_path.parent
        conf["repo"] = str((root / str(conf.get("repo", "."))).resolve())
        conf["benchmark_dir"] = str((root / str(conf.get("benchmark_dir", "benchmarks"))).resolve())
        conf["results_dir"] = str(out_dir / "results")
        conf["html_dir"] = str(out_dir / "html")
        conf["env_dir"] = str(out_dir / "env")
        conf["environment_type"] = "existing"
        # The checkouts perfop measures are detached: asv's default branch may not exist.
        conf["branches"] = ["HEAD"]
        own = out_dir / "asv.conf.json"
        own.write_text(json.dumps(conf), encoding="utf-8")
        home = out_dir / "home"
        home.mkdir()
        machine = {
            "machine": MACHINE,
            "os": platform.system(),
            "arch": platform.machine(),
            "cpu": platform.processor() or platform.machine(),
            "num_cpu": str(os.cpu_count() or 1),
            "ram": "",
        }
        (home / ".asv-machine.json").write_text(
            json.dumps({MACHINE: machine, "version": 1}), encoding="utf-8"
        )
        if "run" in argv:
            extra: tuple[str, ...] = (
                "--machine",
                MACHINE,
                "--set-commit-hash",
                _commit(cwd),
                "--record-samples",
            )
        else:
            extra = ()
        new = (*argv[:i], str(own), *argv[i + 1 :], *extra)
        run_env = {**env, "HOME": str(home)}
        # asv drops PYTHONPATH for its benchmark processes and documents ASV_PYTHONPATH for it:
        # the import path perfop measures with (e.g. "{worktree}/src") reaches them that way.
        if env.get("PYTHONPATH") and "ASV_PYTHONPATH" not in env:
            run_env["ASV_PYTHONPATH"] = env["PYTHONPATH"]
        return new, run_env

    def parse(self, out_dir: Path, result: ProcessResult) -> SuiteRun:
        results = out_dir / "results"
        files = [p for p in (results / MACHINE).glob("*.json") if p.name != "machine.json"]
        if not files:
            raise ValueError("asv saved no result file")
        doc = json.loads(files[0].read_text(encoding="utf-8"))
        meta: dict[str, Any] = {}
        bpath = results / "benchmarks.json"
        if bpath.is_file():
            meta = json.loads(bpath.read_text(encoding="utf-8"))
        return parse_results(doc, meta)

    def discover_argv(self, base: tuple[str, ...], out_dir: Path) -> list[str]:
        conf = json.loads((out_dir / "asv.conf.json").read_text(encoding="utf-8"))
        return [
            base[0],
            "-m",
            "asv.benchmark",
            "discover",
            conf["benchmark_dir"],
            str(out_dir / "d"),
        ]

    def parse_discovery(self, out_dir: Path, stdout: str) -> list[str]:
        items = json.loads((out_dir / "d").read_text(encoding="utf-8"))
        names = []
        for b in items:
            names.extend(_combos(str(b["name"]), b.get("params") or []))
        return names


def _combos(name: str, params: list[list[Any]]) -> list[str]:
    if not params:
        return [name]
    return [f"{name}({', '.join(str(v) for v in c)})" for c in itertools.product(*params)]


def parse_results(doc: dict[str, Any], meta: dict[str, Any]) -> SuiteRun:
    """Benchmarks of one asv result file (format 2: ``result_columns``)."""
    columns = list(doc["result_columns"])
    benchmarks = []
    failed: dict[str, str] = {}
    for name, row in doc["results"].items():
        entry = dict(zip(columns, row, strict=False))
        values = entry.get("result") or []
        params = entry.get("params") or []
        samples = entry.get("samples") or [None] * len(values)
        info = meta.get(name, {})
        unit = _UNITS.get(str(info.get("unit", "seconds")), str(info.get("unit", "")))
        names = _combos(name, params)
        if values is None or not isinstance(values, list):
            failed[name] = "failed in asv"
            continue
        for label, value, rounds in zip(names, values, samples, strict=False):
            if value is None or not math.isfinite(float(value)):
                failed[label] = "failed or skipped in asv"
                continue
            kept = tuple(float(v) for v in rounds) if rounds else (float(value),)
            benchmarks.append(BenchmarkResult(label, float(value), kept, unit=unit))
    return SuiteRun(tuple(benchmarks), failed)
