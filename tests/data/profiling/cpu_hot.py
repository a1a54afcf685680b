"""CPU fixture: ``hot_loop`` takes about 80% of the time, ``side_work`` the rest.

``--truth`` times each function alone (perf_counter) and prints JSON instead of profiling input.
"""

import json
import sys
import time


def hot_loop(n):
    total = 0
    for i in range(n):
        total += (i * 7) % 13
    return total


def side_work(n):
    total = 0
    for i in range(n):
        total += (i * 7) % 13
    return total


def main(scale=1.0):
    t0 = time.perf_counter()
    hot_loop(int(12_000_000 * scale))
    t1 = time.perf_counter()
    side_work(int(3_000_000 * scale))
    t2 = time.perf_counter()
    return {"hot_loop": t1 - t0, "side_work": t2 - t1, "total": t2 - t0}


if __name__ == "__main__":
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    times = main(scale)
    if sys.argv[1:2] == ["--truth"]:
        print(json.dumps(times))
