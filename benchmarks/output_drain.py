"""How much a workload's large stdout inflates perfop's measured wall time (issue 16 item 8).

A producer writes S MB of 100-byte lines to stdout as fast as Python can. The same producer is
timed four ways, in an interleaved random order per repetition:

- ``devnull``: the producer alone, stdout to /dev/null (the floor: no reader at all);
- ``cat``: ``sh -c 'PRODUCER | cat > /dev/null'`` as a whole (a reader at pipe speed);
- ``hyperfine``: ``hyperfine -N --output=pipe`` (hyperfine reads and discards the pipe);
- ``perfop``: ``perfop run -- PRODUCER``, the sample's own measured wall time (perfop drains
  the pipe, digests and normalises its first 16 MiB for the behaviour check and counts the
  rest, keeps the head and metrics).

The section "## Large output" of docs/benchmarks.md is replaced with the result.

    python benchmarks/output_drain.py [--sizes 50 500] [--repeat 5] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _doc import write_section
from harness_overhead import DOC, ROOT, machine

HEADING = "## Large output"
PRODUCER = """\
import sys
mb = int(sys.argv[1])
block = (b"x" * 99 + b"\\n") * 10000  # 1 MB
out = sys.stdout.buffer
for _ in range(mb):
    out.write(block)
"""


def _timed(argv: list[str], cwd: Path, **kwargs: object) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({out.returncode}): {out.stderr[-2000:]}")
    return elapsed, str(out.stdout)


def measure(sizes: list[int], repeat: int, seed: int) -> dict[int, dict[str, list[float]]]:
    if shutil.which("hyperfine") is None:
        raise SystemExit("hyperfine not found; install it: apt-get install -y hyperfine")
    rng = random.Random(seed)
    results: dict[int, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="perfop-drain-") as tmp:
        cwd = Path(tmp)
        producer = cwd / "produce.py"
        producer.write_text(PRODUCER)
        for size in sizes:
            cmd = [sys.executable, str(producer), str(size)]
            got: dict[str, list[float]] = {"devnull": [], "cat": [], "hyperfine": [], "perfop": []}
            for rep in range(repeat):
                jobs = list(got)
                rng.shuffle(jobs)
                for job in jobs:
                    if job == "devnull":
                        with open(os.devnull, "wb") as sink:
                            start = time.perf_counter()
                            subprocess.run(cmd, stdout=sink, check=True)
                            got[job].append(time.perf_counter() - start)
                    elif job == "cat":
                        line = " ".join(cmd) + " | cat > /dev/null"
                        got[job].append(_timed(["sh", "-c", line], cwd)[0])
                    elif job == "hyperfine":
                        export = cwd / f"hf-{size}-{rep}.json"
                        _timed(
                            ["hyperfine", "-N", "--runs", "1", "--warmup", "0", "--output=pipe",
                             "--style", "none", "--export-json", str(export), " ".join(cmd)],
                            cwd,
                        )  # fmt: skip
                        got[job].append(json.loads(export.read_text())["results"][0]["times"][0])
                    else:
                        store = cwd / f"store-{size}-{rep}.db"
                        _, out = _timed(
                            [sys.executable, "-m", "perfop", "--store", f"sqlite:///{store}",
                             "run", "--runs", "1", "--warmup", "0", "--format", "json", "--",
                             *cmd],
                            cwd,
                        )  # fmt: skip
                        sample = json.loads(out)["runs"][0]["samples"][0]
                        got[job].append(sample["metrics"]["wall_time"])
            results[size] = got
    return results


def render(
    results: dict[int, dict[str, list[float]]], command: str, machine_text: str, loads: tuple
) -> str:
    rows = []
    for size, got in results.items():
        med = {k: statistics.median(v) for k, v in got.items()}
        rate = size / med["perfop"]
        rows.append(
            f"| {size} MB | {med['devnull']:.3f} s | {med['cat']:.3f} s | "
            f"{med['hyperfine']:.3f} s | {med['perfop']:.3f} s | {rate:.0f} MB/s | "
            f"{med['perfop'] / med['cat']:.2f}x |"
        )
        rows.append(
            "| (every repetition) | "
            + " | ".join(", ".join(f"{x:.2f}" for x in got[k]) for k in got)
            + " | | |"
        )
    return "\n".join(
        [
            HEADING,
            "",
            "Wall time of one process writing S MB of 100-byte lines to stdout, with no reader "
            "(`> /dev/null`), piped to `cat`, under `hyperfine -N --output=pipe`, and measured "
            "by `perfop run` (which drains the pipe, normalises and digests the behaviour check's "
            "budget of it, and keeps the head and the metric lines). Medians of interleaved "
            "repetitions; the second row of each size lists every repetition in the same column "
            "order.",
            "",
            "| stdout | no reader | `\\| cat` | hyperfine | perfop | perfop rate | perfop / cat |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"- Command: `{command}`",
            f"- Machine: {machine_text}",
            f"- Load average (1 min) before / after: {loads[0]:.1f} / {loads[1]:.1f} (shared "
            "with other engineers' test runs)",
            f"- Date: {time.strftime('%Y-%m-%d')}",
            "- What perfop does with it: stdout lines that start within the behaviour check's "
            "budget (`check_output_bytes`, default 16 MiB) are normalised and hashed (SHA-256) "
            "as before; past it the reader only looks for `PERFOP_METRIC` lines "
            "(`bytes.find`) and counts the bytes, and the behaviour check says that the rest "
            "was compared by its length only. So 50 MB costs about one 16 MiB hash more than "
            "`cat`, and the rest drains at the speed of a bare Python loop of 1 MiB reads.",
            "- Before (issue 16 item 8, every byte normalised and hashed), same benchmark: at "
            "load 6.1-6.9, 50 MB 0.609 s (`cat` 0.088 s) and 500 MB 5.62 s (`cat` 0.207 s); "
            "at load 12, 500 MB 10.8 s. Before the first round of item 8 (the per-line regular "
            "expression, 64 KiB reads): 50 MB 1.4-2.0 s, 500 MB a 28.5 s median.",
            "- For scale (2026-12-01, load ~7): a bare Python loop of 1 MiB `os.read` on the "
            "same 500 MB producer took 0.67-0.78 s wall (0.19-0.21 s CPU), so the skim past the "
            "budget adds little; reading into one reused buffer (`os.readv`) measured 0.43-0.74 "
            "s, no clear gain at that load, so it is not used. The rest of the gap to `cat` is "
            "the 16 MiB that are hashed and the Python reader's share of a loaded machine.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    before = os.getloadavg()[0]
    results = measure(args.sizes, args.repeat, args.seed)
    loads = (before, os.getloadavg()[0])
    sizes = " ".join(str(s) for s in args.sizes)
    command = f"python benchmarks/output_drain.py --sizes {sizes} --repeat {args.repeat}"
    text = render(results, command, machine(), loads)
    print(text)
    if not args.no_write:
        write_section(HEADING, text, DOC)
        print(f"written to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
