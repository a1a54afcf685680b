"""Real-work benchmark: perfop's verdicts on real performance commits, quiet and under load.

Each case is a pair of released versions of a public Python project whose changelog names a
performance fix. Their sdists come from PyPI (``pip download --no-deps --no-binary NAME``); the
package directories (with the sdists' licence files) are committed into a temporary git
repository as two commits, old and new, plus an empty commit on top of old for the A/A control.
A workload script exercises the changed code path on generated input.

For every case and condition the script runs, in this order:

- half of the **reference**: an independent interleaved measurement (this script's own loop: in
  each pair the two versions run once each, in random order, from plain checkouts of equal path
  length; wall time and CPU time of the child from ``os.wait4``), giving the reference ratio as
  the geometric mean of the paired new/old ratios with a t interval;
- ``perfop compare OLD NEW`` (``--reps`` times) and ``perfop compare OLD AA`` (A/A), each with
  the default budget (the workload sets no ``warmup``/``min_runs``/``max_runs``/``max_time``), the
  whole command timed from outside;
- the other half of the reference.

Conditions: ``quiet`` (nothing added; on a shared machine that is not quiet, so the load is
recorded) and ``load`` (two CPU-burning processes started by this script, always stopped). For
every comparison the load average, the machine's CPU busy share and CPU pressure (PSI) during it
are recorded beside whatever contention perfop itself reports.

    python benchmarks/realwork.py                         # every case, both conditions
    python benchmarks/realwork.py --cases sqlparse --conditions quiet --reps 1
    python benchmarks/realwork.py --summary --out benchmarks/data/realwork.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PY = sys.executable
CACHE = Path(tempfile.gettempdir()) / "perfop-realwork-sdists"
BIG_CHANGE = 1.2  # a change of at least 20% either way: ratio <= 1/1.2 or >= 1.2
QUIET_TOLERANCE = 0.05  # target: perfop's ratio within this of the reference on a quiet machine


@dataclass(frozen=True)
class Dist:
    """One sdist and the import package it vendors."""

    name: str
    version: str
    package: str  # directory holding the package's __init__.py


@dataclass(frozen=True)
class Case:
    name: str
    project: str
    old: tuple[Dist, ...]
    new: tuple[Dist, ...]
    change: str  # what the new version's changelog says
    script: str
    size: int  # the input size, sized for a run of about 0.5-2 s on a quiet machine here


MARKDOWN = """\
import markdown

N = {size}
parts = []
for i in range(N):
    parts.append(
        f'<div class="c{{i}}">\\n<p>block {{i}}</p>\\n</div>\\n\\n'
        f"Paragraph *{{i}}* with `code` and [a link](http://example.org/{{i}}).\\n"
    )
html = markdown.markdown("\\n".join(parts))
assert html.count("<div") == N
print("ok")
"""

SQLPARSE = """\
import sqlparse

N = {size}
cols = ", ".join(f"t{{i % 7}}.col_{{i}} AS alias_{{i}}" for i in range(60))
stmts = [
    f"SELECT {{cols}} FROM table_{{i}} t0 JOIN other t1 ON t0.id = t1.id AND t1.x > {{i}} "
    f"WHERE t0.a IN (1, 2, 3) AND (t0.b = 'x{{i}}' OR t1.c LIKE '%y%') "
    f"GROUP BY t0.a ORDER BY t1.c DESC;"
    for i in range(N)
]
out = sqlparse.format("\\n".join(stmts), reindent=True, keyword_case="upper")
assert out.count("SELECT") == N
print("ok")
"""

PACKAGING = """\
from packaging.requirements import Requirement

N = {size}
true = 0
for i in range(N):
    a, b = i % 9, i % 5
    r = Requirement(
        f"pkg-{{i}}[extra{{i % 3}},other]>={{a}}.{{b}},<{{a + 1}}.0,!={{a}}.{{b}}.1"
        f" ; python_version >= '3.{{i % 14}}' and (sys_platform == 'linux' or os_name != 'nt')"
    )
    env = {{"python_version": "3.11", "sys_platform": "linux", "os_name": "posix"}}
    true += bool(r.marker.evaluate(env))
assert true == sum(1 for i in range(N) if i % 14 <= 11)
print("ok")
"""

MORE_ITERTOOLS = """\
from more_itertools import chunked_even

N = {size}
data = list(range(1000))
chunks = 0
for _ in range(N):
    for c in chunked_even(data, 13):
        chunks += 1
assert chunks == N * 77
print("ok")
"""

WINDOWED = """\
from more_itertools import windowed

N = {size}
total = 0
for w in windowed(range(N), 200):
    total += w[-1]
assert total == sum(range(199, N))
print("ok")
"""

CASES = (
    Case(
        name="markdown",
        project="Python-Markdown",
        old=(Dist("Markdown", "3.5", "markdown"),),
        new=(Dist("Markdown", "3.5.1", "markdown"),),
        change="3.5.1: 'Fix a performance problem with HTML extraction where large HTML input "
        "could trigger quadratic line counting behavior (#1392)'",
        script=MARKDOWN,
        size=500,
    ),
    Case(
        name="sqlparse",
        project="sqlparse",
        old=(Dist("sqlparse", "0.4.4", "sqlparse"),),
        new=(Dist("sqlparse", "0.5.0", "sqlparse"),),
        change="0.5.0: 'Optimize performance of matching function (pr799)'",
        script=SQLPARSE,
        size=30,
    ),
    Case(
        name="packaging",
        project="packaging",
        old=(Dist("packaging", "21.3", "packaging"), Dist("pyparsing", "3.0.9", "pyparsing")),
        new=(Dist("packaging", "22.0", "packaging"),),
        change="22.0: requirements and markers parsed by packaging's own tokenizer and parser "
        "instead of pyparsing (the pyparsing dependency dropped)",
        script=PACKAGING,
        size=250,
    ),
    Case(
        name="more-itertools",
        project="more-itertools",
        old=(Dist("more-itertools", "10.2.0", "more_itertools"),),
        new=(Dist("more-itertools", "10.3.0", "more_itertools"),),
        change="10.3.0: 'collapse, chunked_even, ichunked, padded, and windowed were optimized "
        "and improved'",
        script=MORE_ITERTOOLS,
        size=3000,
    ),
    Case(
        name="windowed",
        project="more-itertools",
        old=(Dist("more-itertools", "10.2.0", "more_itertools"),),
        new=(Dist("more-itertools", "10.3.0", "more_itertools"),),
        change="10.3.0: the same release's rewrite of windowed, on wide windows (n = 200): "
        "a real change of this code path that is small here (a control near 1)",
        script=WINDOWED,
        size=200_000,
    ),
)


# ---------------------------------------------------------------- pure helpers (unit-tested)


def paired_ratio(base: Sequence[float], cand: Sequence[float]) -> dict[str, float]:
    """Geometric mean of the paired ratios cand/base with a 95% t interval, and their median."""
    if len(base) != len(cand) or len(base) < 2:
        raise ValueError("paired_ratio needs two equally long samples of at least 2 values")
    from scipy import stats

    logs = [math.log(c / b) for b, c in zip(base, cand, strict=True)]
    n = len(logs)
    mean = statistics.fmean(logs)
    half = float(stats.t.ppf(0.975, n - 1)) * statistics.stdev(logs) / math.sqrt(n)
    return {
        "ratio": math.exp(mean),
        "ci_low": math.exp(mean - half),
        "ci_high": math.exp(mean + half),
        "median_ratio": statistics.median(c / b for b, c in zip(base, cand, strict=True)),
        "pairs": float(n),
    }


def consistent_verdicts(ref: dict[str, float], threshold: float = 0.02) -> set[str]:
    """The verdicts the reference's 95% interval allows: ``faster`` if it reaches below
    1 - threshold, ``slower`` if above 1 + threshold, ``unchanged`` if it meets the band."""
    low, high = ref.get("ci_low", ref["ratio"]), ref.get("ci_high", ref["ratio"])
    out = set()
    if low < 1 - threshold:
        out.add("faster")
    if high > 1 + threshold:
        out.add("slower")
    if low <= 1 + threshold and high >= 1 - threshold:
        out.add("unchanged")
    return out


def judge(row: dict[str, Any], ref: dict[str, float] | None) -> str:
    """'right', 'wrong-way', 'false', 'no verdict' or 'no reference'.

    On A/A any ``faster``/``slower`` is false. On a change, a verdict is right when the
    reference's interval allows it (``consistent_verdicts``); ``faster`` where the reference is
    wholly above 1 (or ``slower`` wholly below) is wrong-way; any other verdict is false.
    """
    verdict = row.get("verdict")
    if row["kind"] == "aa":
        return "false" if verdict in ("faster", "slower") else "right"
    if verdict not in ("faster", "slower", "unchanged"):
        return "no verdict"
    if ref is None:
        return "no reference"
    if verdict in consistent_verdicts(ref):
        return "right"
    low, high = ref.get("ci_low", ref["ratio"]), ref.get("ci_high", ref["ratio"])
    if (verdict == "faster" and low > 1) or (verdict == "slower" and high < 1):
        return "wrong-way"
    return "false"


def is_big(ref_ratio: float) -> bool:
    return ref_ratio <= 1 / BIG_CHANGE or ref_ratio >= BIG_CHANGE


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def summarise(rows: list[dict[str, Any]]) -> str:
    """Markdown tables of every comparison beside its reference, then the targets."""
    refs: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        if r["kind"] == "reference":
            refs[(r["case"], r["condition"])] = r
    comps = [r for r in rows if r["kind"] in ("change", "aa")]
    out = [
        "| condition | case | kind | reference ratio (95% CI, pairs) | perfop verdict | ratio "
        "| CI | pairs | stop | perfop wall (s) | |perfop - ref| | load avg | CPU busy "
        "| perfop contention | judged |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in comps:
        ref = refs.get((r["case"], r["condition"]))
        ref_ratio = ref["ratio"] if ref else None
        if r["kind"] == "aa":
            ref_ratio = 1.0
        if r["kind"] == "aa":
            ref_txt = "1 (same code)"
        elif ref and "ci_low" in ref:
            ref_txt = (
                f"{ref['ratio']:.3f} ({ref['ci_low']:.3f}-{ref['ci_high']:.3f}, {ref['pairs']:.0f})"
            )
        else:
            ref_txt = _fmt(ref_ratio)
        ratio = r.get("ratio")
        diff = abs(ratio - ref_ratio) if ratio is not None and ref_ratio is not None else None
        ci = (
            f"{r['ci_low']:.3f}-{r['ci_high']:.3f}"
            if r.get("ci_low") is not None and r.get("ci_high") is not None
            else "-"
        )
        load = r.get("load", {})
        out.append(
            f"| {r['condition']} | {r['case']} | {r['kind']} | {ref_txt} | {r.get('verdict')} "
            f"| {_fmt(ratio)} | {ci} | {r.get('pairs', '-')} | {r.get('stop', '-')} "
            f"| {_fmt(r.get('wall'), '.1f')} | {_fmt(diff)} "
            f"| {_fmt(load.get('loadavg_start'), '.1f')}-{_fmt(load.get('loadavg_end'), '.1f')} "
            f"| {_fmt(load.get('cpu_busy'), '.0%')} "
            f"| {contention_text(r.get('perfop_contention'))} | {judge(r, ref)} |"
        )
    out.append("")
    out.extend(targets(rows))
    return "\n".join(out)


def contention_text(c: dict[str, Any] | None) -> str:
    """perfop's own contention summary in a few words: its level and others' CPU share."""
    if not c:
        return "not reported"
    share = (c.get("others_cpu_share") or {}).get("median")
    load = (c.get("load") or {}).get("median")
    parts = [str(c.get("level", "?"))]
    if share is not None:
        parts.append(f"others {share:.0%}")
    if load is not None:
        parts.append(f"load {load:.1f}")
    return ", ".join(parts)


def references(rows: list[dict[str, Any]]) -> str:
    """The reference measurements: wall and CPU ratios, medians, load while they ran."""
    out = [
        "| condition | case | pairs | old median (s) | new median (s) | old / new CPU (s) "
        "| wall ratio (95% CI) | CPU ratio (95% CI) | load avg |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] != "reference":
            continue
        cpu = r.get("cpu") or {}
        halves = (r.get("load") or {}).values()
        loads = [h[k] for h in halves for k in ("loadavg_start", "loadavg_end") if k in h]
        out.append(
            f"| {r['condition']} | {r['case']} | {r['pairs']:.0f} | {_fmt(r.get('old_median_s'))} "
            f"| {_fmt(r.get('new_median_s'))} "
            f"| {_fmt(r.get('old_cpu_median_s'), '.2f')} "
            f"/ {_fmt(r.get('new_cpu_median_s'), '.2f')} "
            f"| {r['ratio']:.3f} ({_fmt(r.get('ci_low'))}-{_fmt(r.get('ci_high'))}) "
            f"| {_fmt(cpu.get('ratio'))} ({_fmt(cpu.get('ci_low'))}-{_fmt(cpu.get('ci_high'))}) "
            f"| {_fmt(min(loads) if loads else None, '.1f')}-"
            f"{_fmt(max(loads) if loads else None, '.1f')} |"
        )
    return "\n".join(out)


def targets(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's targets, each with its count."""
    refs = {(r["case"], r["condition"]): r for r in rows if r["kind"] == "reference"}
    lines = []
    for cond in sorted({r["condition"] for r in rows if "condition" in r}):
        comps = [r for r in rows if r.get("condition") == cond and r["kind"] in ("change", "aa")]
        changes = [r for r in comps if r["kind"] == "change"]
        aa = [r for r in comps if r["kind"] == "aa"]

        def ref_of(r: dict[str, Any], cond: str = cond) -> float | None:
            ref = refs.get((r["case"], cond))
            return float(ref["ratio"]) if ref else None

        judged = [judge(r, refs.get((r["case"], cond))) for r in changes]
        big = [r for r in changes if (x := ref_of(r)) is not None and is_big(x)]
        big_inc = sum(r.get("verdict") == "inconclusive" for r in big)
        diffs = [
            abs(r["ratio"] - x)
            for r in changes
            if r.get("ratio") is not None and (x := ref_of(r)) is not None
        ]
        within = sum(d <= QUIET_TOLERANCE for d in diffs)
        aa_false = sum(r.get("verdict") in ("faster", "slower") for r in aa)
        aa_unch = sum(r.get("verdict") == "unchanged" for r in aa)
        walls = [r["wall"] for r in comps if r.get("wall") is not None]
        lines.append(f"**{cond}**:")
        lines.append(
            f"- changes: {judged.count('right')}/{len(changes)} verdicts in the right direction, "
            f"{judged.count('wrong-way')} wrong-way, {judged.count('false')} other wrong verdicts "
            f"(e.g. `unchanged` on a real change), {judged.count('no verdict')} without a verdict"
        )
        lines.append(
            f"- `inconclusive` on changes >= 20% (by the reference): {big_inc}/{len(big)} "
            "(target 0)"
        )
        if diffs:
            lines.append(
                f"- |perfop ratio - reference| <= {QUIET_TOLERANCE}: {within}/{len(diffs)} "
                f"(largest {max(diffs):.3f})"
            )
        lines.append(f"- A/A: {aa_false}/{len(aa)} false verdicts, {aa_unch}/{len(aa)} `unchanged`")
        if walls:
            lines.append(
                f"- perfop whole-command wall time: median {statistics.median(walls):.1f} s, "
                f"max {max(walls):.1f} s"
            )
    return lines


# ---------------------------------------------------------------- machine state


def _cpu_times() -> tuple[float, float]:
    with open("/proc/stat") as fh:
        vals = [float(x) for x in fh.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0.0)
    return sum(vals[:8]), idle


def _psi_total() -> float | None:
    try:
        with open("/proc/pressure/cpu") as fh:
            for line in fh:
                if line.startswith("some"):
                    return float(line.rsplit("total=", 1)[1]) / 1e6
    except OSError:
        return None
    return None


@contextmanager
def machine_load(record: dict[str, Any]) -> Iterator[None]:
    """Record the load average, CPU busy share and CPU pressure over the block into ``record``."""
    total0, idle0 = _cpu_times()
    psi0 = _psi_total()
    t0 = time.monotonic()
    record["loadavg_start"] = os.getloadavg()[0]
    try:
        yield
    finally:
        total1, idle1 = _cpu_times()
        psi1 = _psi_total()
        dt = time.monotonic() - t0
        record["loadavg_end"] = os.getloadavg()[0]
        busy = total1 - total0
        record["cpu_busy"] = (busy - (idle1 - idle0)) / busy if busy > 0 else None
        if psi0 is not None and psi1 is not None and dt > 0:
            record["cpu_pressure_some"] = (psi1 - psi0) / dt


class Burners:
    """Two CPU-burning processes (this machine has two cores), stopped on every exit path."""

    def __init__(self, count: int = 2) -> None:
        self.count = count
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Burners:
        for _ in range(self.count):
            self.procs.append(
                subprocess.Popen([PY, "-S", "-c", "while True: pass"], start_new_session=True)
            )
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            p.wait()
        self.procs.clear()


# ---------------------------------------------------------------- building the repositories


def sh(argv: list[str], cwd: Path | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, **kw)


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    out = sh(["git", *args], cwd=repo, env=env)
    if out.returncode:
        raise SystemExit(f"git {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout.strip()


def sdist(dist: Dist, cache: Path) -> Path:
    """The sdist of ``dist`` from PyPI, downloaded once into ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    stem = dist.name.lower().replace("-", "[-_]")
    for f in cache.iterdir():
        if f.name.lower().replace("_", "-").startswith(f"{dist.name.lower()}-{dist.version}.t"):
            return f
    argv = [PY, "-m", "pip", "download", "--no-deps", "--no-binary", dist.name, "--quiet"]
    out = sh([*argv, "-d", str(cache), f"{dist.name}=={dist.version}"])
    for f in cache.iterdir():
        if f.name.lower().replace("_", "-").startswith(f"{dist.name.lower()}-{dist.version}.t"):
            return f
    raise SystemExit(f"pip download {dist.name}=={dist.version} ({stem}): {out.stderr[-400:]}")


def vendor(dist: Dist, cache: Path, dest: Path) -> None:
    """Extract the import package of ``dist`` and its licence files into ``dest``."""
    with tarfile.open(sdist(dist, cache)) as tf:
        names = tf.getnames()
        inits = sorted(
            (n for n in names if n.endswith(f"/{dist.package}/__init__.py")),
            key=lambda n: n.count("/"),
        )
        if not inits:
            raise SystemExit(f"{dist.name} {dist.version}: no {dist.package}/__init__.py")
        prefix = inits[0][: -len("__init__.py")]
        top = names[0].split("/")[0]
        licences = [n for n in names if n.count("/") == 1 and "LICEN" in n.upper()]
        tmp = dest.parent / f".x-{dist.package}"
        tf.extractall(tmp, filter="data")
    shutil.copytree(tmp / prefix, dest / dist.package)
    lic = dest / "LICENSES" / f"{dist.name}-{dist.version}"
    lic.mkdir(parents=True, exist_ok=True)
    for n in licences:
        shutil.copy(tmp / n, lic / Path(n).name)
    if not licences:
        (lic / "NOTE").write_text(f"no licence file at the top of {top}\n")
    shutil.rmtree(tmp)


CONFIG = """\
# The default budget: no warmup, min_runs, max_runs or max_time set.
[workloads.w]
command = ["{python}", "-S", "work.py"]
env = { PYTHONPATH = "{worktree}/vendor" }
"""


def build_repo(case: Case, root: Path, cache: Path) -> dict[str, str]:
    """A git repository with commits old, aa (empty, same tree as old) and new."""
    repo = root / case.name
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text(".perfop/\n")
    (repo / "perfop.toml").write_text(CONFIG)
    (repo / "work.py").write_text(case.script.format(size=case.size))
    for d in case.old:
        vendor(d, cache, repo / "vendor")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "old: " + ", ".join(f"{d.name} {d.version}" for d in case.old))
    shas = {"old": git(repo, "rev-parse", "HEAD")}
    git(repo, "commit", "-q", "--allow-empty", "-m", "A/A: same tree as old")
    shas["aa"] = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach", shas["old"])
    shutil.rmtree(repo / "vendor")
    for d in case.new:
        vendor(d, cache, repo / "vendor")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "new: " + ", ".join(f"{d.name} {d.version}" for d in case.new))
    shas["new"] = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    return shas


def plain_checkouts(repo: Path, root: Path, shas: dict[str, str]) -> tuple[Path, Path]:
    """Checkouts of old and new for the reference loop, paths of equal length."""
    a, b = root / "ref" / repo.name / "a", root / "ref" / repo.name / "b"
    for d, sha in ((a, shas["old"]), (b, shas["new"])):
        d.mkdir(parents=True)
        subprocess.run(f"git -C {repo} archive {sha} | tar -x -C {d}", shell=True, check=True)
    os.sync()
    return a, b


# ---------------------------------------------------------------- measuring


def run_once(tree: Path) -> tuple[float, float]:
    """Wall and CPU (user+sys) time of one run of the workload in ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree / "vendor")}
    t = time.perf_counter()
    proc = subprocess.Popen([PY, "-S", "work.py"], cwd=tree, env=env, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"reference run in {tree} exited {proc.returncode}")
    return wall, ru.ru_utime + ru.ru_stime


def reference(
    a: Path, b: Path, pairs: int, rng: random.Random, samples: dict[str, list[float]]
) -> None:
    """``pairs`` interleaved pairs (random order within each) appended to ``samples``."""
    for _ in range(pairs):
        order = [("a", a), ("b", b)]
        rng.shuffle(order)
        for side, tree in order:
            wall, cpu = run_once(tree)
            samples[f"{side}_wall"].append(wall)
            samples[f"{side}_cpu"].append(cpu)


def run_perfop(repo: Path, base: str, cand: str, seed: int) -> dict[str, Any]:
    """``perfop compare`` with the default budget, the whole command timed from outside."""
    t = time.perf_counter()
    out = sh(
        [PY, "-m", "perfop", "compare", base, cand, "--seed", str(seed), "--format", "json"],
        cwd=repo,
    )
    wall = time.perf_counter() - t
    row: dict[str, Any] = {"wall": wall, "exit": out.returncode}
    if out.returncode not in (0, 1, 3):
        row.update(verdict="error", error=out.stderr.strip()[-400:])
        return row
    doc = json.loads(out.stdout)
    w = doc["workloads"][0]
    primary = w.get("primary_metric", "wall_time")
    metrics = {m["name"]: m for m in w.get("metrics", [])}
    m = metrics.get(primary) or metrics.get("wall_time", {})
    row.update(
        verdict=w.get("verdict"),
        ratio=m.get("ratio"),
        ci_low=m.get("ci_low"),
        ci_high=m.get("ci_high"),
        pairs=w.get("pairs"),
        elapsed=w.get("elapsed"),
        stop=w.get("stop_reason"),
        schema=doc.get("schema"),
        message=w.get("message") or w.get("reason"),
        stderr=out.stderr.strip()[-600:],
    )
    row["metrics"] = {
        name: {k: m.get(k) for k in ("ratio", "ci_low", "ci_high", "verdict", "pairs")}
        for name, m in metrics.items()
        if name != "peak_rss"
    }
    # what perfop itself says about the machine (schema 2 on): kept as it says it
    row["perfop_contention"] = w.get("contention") or doc.get("contention")
    row["cpu_vs_wall"] = w.get("cpu_vs_wall")
    # which metric decided (cpu_time for a CPU-bound workload, issue 14 point 8b); "ratio" above
    # stays wall time's, compared with the reference's wall-time ratio
    row["decided_on"] = w.get("decided_on") or primary
    row["decision"] = w.get("decision")
    row["perfop_workload"] = {k: v for k, v in w.items() if k != "metrics"}
    return row


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        **perfop_code(),
    }


def perfop_code() -> dict[str, str]:
    """Which perfop is measured: the module ``python -m perfop`` imports, and its commit.

    Measure from a frozen copy (``git archive SHA``, ``PYTHONPATH=COPY/src``,
    ``PERFOP_BENCH_COMMIT=SHA``) when the working tree may change during the run.
    """
    where = sh([PY, "-c", "import perfop; print(perfop.__file__)"]).stdout.strip()
    commit = os.environ.get("PERFOP_BENCH_COMMIT", "")
    if not commit and where:
        commit = sh(["git", "rev-parse", "HEAD"], cwd=Path(where).parent).stdout.strip()
    return {"perfop_module": where, "perfop_commit": commit or "unknown"}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--cases", default=",".join(c.name for c in CASES))
    ap.add_argument("--conditions", default="quiet,load")
    ap.add_argument("--reps", type=int, default=2, help="perfop comparisons old -> new per case")
    ap.add_argument("--aa", type=int, default=1, help="A/A comparisons per case and condition")
    ap.add_argument("--aa-conditions", default="quiet,load", help="conditions that get A/A runs")
    ap.add_argument("--ref-pairs", type=int, default=20, help="pairs of the reference loop")
    ap.add_argument("--size-scale", type=float, default=1.0, help="scale every input size")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/realwork.jsonl"))
    ap.add_argument("--cache", type=Path, default=CACHE, help="where sdists are kept")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--summary", action="store_true", help="only summarise the rows in --out")
    args = ap.parse_args()
    if args.summary:
        rows = [json.loads(x) for x in args.out.read_text().splitlines() if x.strip()]
        rows = [r for r in rows if "header" not in r]
        print(summarise(rows))
        print()
        print(references(rows))
        return
    wanted = args.cases.split(",")
    cases = [c for c in CASES if c.name in wanted]
    if not cases:
        known = ", ".join(c.name for c in CASES)
        raise SystemExit(f"--cases: none of {wanted} is a case ({known})")
    scaled = [
        Case(**{**c.__dict__, "size": max(1, round(c.size * args.size_scale))}) for c in cases
    ]
    root = Path(tempfile.mkdtemp(prefix="perfop-realwork-"))
    burners = Burners()
    # a SIGTERM (e.g. `timeout`) must stop the burners too
    signal.signal(signal.SIGTERM, lambda *_: (burners.__exit__(), sys.exit(143)))
    try:
        repos = {c.name: (c, build_repo(c, root, args.cache)) for c in scaled}
        checkouts = {n: plain_checkouts(root / n, root, shas) for n, (_, shas) in repos.items()}
        header = {
            "machine": machine(),
            "args": {k: str(v) for k, v in vars(args).items()},
            "cases": {c.name: {"size": c.size, "change": c.change} for c in scaled},
            "started_utc": time.strftime("%FT%TZ", time.gmtime()),
        }
        print(json.dumps(header), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        rng = random.Random(args.seed)
        seed = args.seed
        with args.out.open("w") as fh:

            def emit(row: dict[str, Any]) -> None:
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                print(json.dumps(row), flush=True)

            emit({"header": header})
            for cond in args.conditions.split(","):
                if cond == "load":
                    burners.__enter__()
                    time.sleep(2)  # let the load average and the scheduler see them
                try:
                    for case, shas in repos.values():
                        a, b = checkouts[case.name]
                        samples: dict[str, list[float]] = {
                            k: [] for k in ("a_wall", "b_wall", "a_cpu", "b_cpu")
                        }
                        ref_load: dict[str, Any] = {}
                        with machine_load(ref_load):
                            reference(a, b, args.ref_pairs // 2, rng, samples)
                        plan = [("change", shas["new"])] * args.reps
                        if cond in args.aa_conditions.split(","):
                            plan += [("aa", shas["aa"])] * args.aa
                        for i, (kind, cand) in enumerate(plan):
                            seed += 1
                            load: dict[str, Any] = {}
                            with machine_load(load):
                                row = run_perfop(root / case.name, shas["old"], cand, seed)
                            row.update(
                                case=case.name, condition=cond, kind=kind, i=i, seed=seed, load=load
                            )
                            emit(row)
                        with machine_load(ref_load2 := {}):
                            reference(a, b, args.ref_pairs - args.ref_pairs // 2, rng, samples)
                        wall = paired_ratio(samples["a_wall"], samples["b_wall"])
                        cpu = paired_ratio(samples["a_cpu"], samples["b_cpu"])
                        emit(
                            {
                                "kind": "reference",
                                "case": case.name,
                                "condition": cond,
                                "method": "own interleaved loop, random order within each pair",
                                **wall,
                                "cpu": cpu,
                                "old_median_s": statistics.median(samples["a_wall"]),
                                "new_median_s": statistics.median(samples["b_wall"]),
                                "old_cpu_median_s": statistics.median(samples["a_cpu"]),
                                "new_cpu_median_s": statistics.median(samples["b_cpu"]),
                                "load": {"first_half": ref_load, "second_half": ref_load2},
                            }
                        )
                finally:
                    burners.__exit__()
            emit({"finished_utc": time.strftime("%FT%TZ", time.gmtime()), "kind": "end"})
    finally:
        burners.__exit__()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
