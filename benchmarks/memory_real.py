"""``perfop profile --mode memory`` on real code: markdown-it-py building a large token tree.

markdown-it-py's source is copied into a fresh repository (so it is the repository's own code),
and a workload parses a large generated document, keeping every token alive. We report the hot
allocation site perfop ranks first and its peak next to an independent measure: the same workload
run without perfop under ``tracemalloc`` (peak of traced Python memory). Repeated ``--rounds``
times, interleaved.

    .venv/bin/python benchmarks/memory_real.py [--rounds 3] [--paragraphs 6000]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

WORKLOAD = """\
import sys

from markdown_it import MarkdownIt

PARA = (
    "Some *emphasis*, a [link](https://example.com/{i}), `code {i}` and **strong** text "
    "with more words to make the inline parser work, item {i}.\\n\\n"
    "- a list item {i}\\n- another one with _style_\\n\\n"
)
text = "".join(PARA.format(i=i) for i in range(int(sys.argv[1])))
tokens = MarkdownIt().parse(text)
print(len(tokens))
"""
TRACEMALLOC = """\
import runpy, sys, tracemalloc
tracemalloc.start()
sys.argv = ["work.py", sys.argv[1]]
runpy.run_path("work.py", run_name="__main__")
print("PEAK", tracemalloc.get_traced_memory()[1])
"""


def _repo(root: Path) -> Path:
    import markdown_it

    repo = root / "repo"
    shutil.copytree(Path(markdown_it.__file__).parent, repo / "markdown_it")
    (repo / "work.py").write_text(WORKLOAD, encoding="utf-8")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "markdown-it-py"]):
        subprocess.run(
            ["git", "-c", "user.name=b", "-c", "user.email=b@e", *args],
            cwd=repo,
            check=True,
            capture_output=True,
        )
    return repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--paragraphs", type=int, default=6000)
    args = parser.parse_args()

    import markdown_it

    from perfop.config import load_config
    from perfop.profiling.service import ProfileOptions, profile

    n = str(args.paragraphs)
    perfop_peaks, tm_peaks, tops = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        repo = _repo(Path(tmp))
        for _ in range(args.rounds):
            report = profile(
                load_config(repo),
                command=[sys.executable, "work.py", n],
                options=ProfileOptions(mode="memory"),
                cwd=repo,
            )
            mem = report.part("memory")
            assert mem is not None and mem.peak_bytes
            perfop_peaks.append(mem.peak_bytes)
            top = next(h for h in mem.hotspots if h.in_repo)
            tops.append(f"{top.function} ({top.file}:{top.line}, {top.self_pct:.0f}% at peak)")
            out = subprocess.run(
                [sys.executable, "-c", TRACEMALLOC, n],
                cwd=repo,
                capture_output=True,
                text=True,
                check=True,
            )
            peak = next(ln for ln in out.stdout.splitlines() if ln.startswith("PEAK "))
            tm_peaks.append(int(peak.split()[1]))
            backend = mem.backend
    mib = 1 << 20
    p, t = statistics.median(perfop_peaks), statistics.median(tm_peaks)
    print(f"markdown-it-py {markdown_it.__version__}, {args.paragraphs} paragraphs")
    runs_p = [round(x / mib, 1) for x in perfop_peaks]
    runs_t = [round(x / mib, 1) for x in tm_peaks]
    print(f"perfop ({backend}) peak, median: {p / mib:.1f} MiB  {runs_p}")
    print(f"tracemalloc peak, median:      {t / mib:.1f} MiB  {runs_t}")
    print(f"difference: {100 * (p - t) / t:+.1f}%")
    for i, top in enumerate(tops, 1):
        print(f"round {i}: top site {top}")
    print(f"{platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
