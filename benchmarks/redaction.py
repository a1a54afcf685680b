"""Benchmark of secret redaction on hostile text: every pattern must stay linear.

Run: ``.venv/bin/python benchmarks/redaction.py`` (prints a Markdown table for docs/benchmarks.md).
Each input is 10 MB built to make a backtracking pattern quadratic (the old URL-credentials
pattern took 4.5 s on 40 kB of ``a``); the claim is < 1 s per input on a 2-core VM.
"""

from __future__ import annotations

import os
import platform
import string
import time

from perfop.redact import redact_text

SIZE = 10 * 1024 * 1024

HOSTILE = {
    "letters (no separator)": "a",
    "scheme-like run": "ab+c.d-",
    "'://' without '@'": "a://a:a",
    "'://user:' repeated": "://user:",
    "'password=' repeated": "password=",
    "'eyJ' repeated (JWT prefix)": "eyJ",
    "'-----BEGIN PRIVATE KEY-----' repeated": "-----BEGIN PRIVATE KEY-----",
    "token characters with '/'": "Ab1/",
    "one random-looking 24-char token repeated": "Zx9Qw2Er7Ty4Ui1Op8As5Df3 ",
    "'Bearer ' repeated": "Bearer ",
    "ordinary log lines": "2026-12-01 06:25:19 INFO worker 3 processed 1200 items in 0.4 s\n",
}


def _distinct_tokens() -> str:
    """10 MB of distinct random base62 24-character tokens (each one judged, none cached)."""
    import random

    rng = random.Random(16)
    alphabet = string.ascii_letters + string.digits
    out: list[str] = []
    size = 0
    while size < SIZE:
        out.append("".join(rng.choices(alphabet, k=24)))
        size += 25
    return " ".join(out)[:SIZE]


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print()
    print("| input (10 MB) | wall | CPU |")
    print("|---|---:|---:|")
    worst = 0.0
    inputs = {name: (unit * (SIZE // len(unit) + 1))[:SIZE] for name, unit in HOSTILE.items()}
    inputs["distinct random 24-char tokens"] = _distinct_tokens()
    for name, text in inputs.items():
        start, cpu = time.perf_counter(), time.process_time()
        redact_text(text)
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
        worst = max(worst, cpu)
        print(f"| {name} | {took:.2f} s | {cpu:.2f} s |")
    print()
    print(f"worst CPU time: {worst:.2f} s ({'under' if worst < 1 else 'OVER'} the 1 s claim)")


if __name__ == "__main__":
    main()
