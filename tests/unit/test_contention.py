"""Contention from fixed /proc texts: parsing, intervals, the level rule, the terminal line."""

from __future__ import annotations

import time

import pytest

from perfop.measure import contention as c

STAT_A = """cpu  1000 0 200 8000 100 0 0 0 0 0
cpu0 500 0 100 4000 50 0 0 0 0 0
cpu1 500 0 100 4000 50 0 0 0 0 0
intr 12345
ctxt 999
procs_running 4
procs_blocked 0
"""
# 2 s later on 2 CPUs (USER_HZ 100): 400 ticks in all, 40 idle, 20 stolen -> 3.4 s busy.
STAT_B = """cpu  1300 0 240 8030 110 0 0 20 0 0
cpu0 650 0 120 4015 55 0 0 10 0 0
cpu1 650 0 120 4015 55 0 0 10 0 0
procs_running 5
"""
PRESSURE_A = """some avg10=9.25 avg60=13.70 avg300=22.16 total=1000000
full avg10=0.00 avg60=0.00 avg300=0.00 total=0
"""
PRESSURE_B = """some avg10=40.00 avg60=13.70 avg300=22.16 total=2000000
full avg10=0.00 avg60=0.00 avg300=0.00 total=0
"""


def test_parse_stat_reads_the_aggregate_line_cpus_and_run_queue() -> None:
    t = c.parse_stat(STAT_A)
    assert t == c.CpuTimes(total=9300, idle=8100, steal=0, cpus=2, procs_running=4)
    assert c.parse_stat("intr 1\n") is None


def test_parse_stat_leaves_guest_time_out_of_the_total() -> None:
    # guest and guest_nice are already inside user and nice.
    t = c.parse_stat("cpu  10 0 0 10 0 0 0 0 5 5\ncpu0 10 0 0 10 0 0 0 0 5 5\n")
    assert t is not None and t.total == 20


def test_parse_loadavg_and_pressure() -> None:
    assert c.parse_loadavg("5.21 4.10 3.00 3/412 12345\n") == 5.21
    assert c.parse_loadavg("") is None
    assert c.parse_pressure(PRESSURE_A) == 1_000_000
    assert c.parse_pressure("full avg10=0 total=5\n") is None


def _snap(at: float, stat: str, load: str, pressure: str | None, self_cpu: float) -> c.Snapshot:
    texts = {"/proc/stat": stat, "/proc/loadavg": load, "/proc/pressure/cpu": pressure}
    return c.take_snapshot(
        read=lambda path: texts.get(path), clock=lambda: at, self_cpu=lambda: self_cpu
    )


def test_interval_subtracts_the_workloads_and_perfops_own_cpu() -> None:
    a = _snap(10.0, STAT_A, "3.0 1 1 1/1 1", PRESSURE_A, 1.0)
    b = _snap(12.0, STAT_B, "5.2 1 1 1/1 1", PRESSURE_B, 1.2)
    # busy 3.4 s of 4.0 s capacity; the workload used 0.9 s, perfop 0.2 s -> others 2.3 s.
    i = c.interval(a, b, 0.9, hz=100)
    assert i.seconds == 2.0 and i.cpus == 2 and i.load == 5.2
    assert i.others_cpu_share == pytest.approx(2.3 / 4.0)
    assert i.steal == pytest.approx(20 / 400)
    assert i.run_queue == 4  # perfop's own reader excluded
    assert i.cpu_pressure == pytest.approx(0.5)  # 1 s of stall in 2 s


def test_missing_proc_files_give_an_unknown_level() -> None:
    a = _snap(0.0, "", "", None, 0.0)
    b = _snap(1.0, "", "", None, 0.0)
    s = c.summarise([c.interval(a, b, 0.0, hz=100)])
    assert s["level"] == c.UNKNOWN and not c.is_high(s)
    assert "not measured" in c.format_line(s, paired=True)


def _interval(others: float, load: float = 1.0, steal: float = 0.0, psi: float | None = None):
    return c.Interval(
        seconds=0.5,
        cpus=2,
        load=load,
        others_cpu_share=others,
        steal=steal,
        run_queue=0,
        cpu_pressure=psi,
    )


@pytest.mark.parametrize(
    ("intervals", "level"),
    [
        ([_interval(0.02), _interval(0.03)], c.QUIET),
        ([_interval(0.2), _interval(0.3)], c.BUSY),
        ([_interval(0.6), _interval(0.7), _interval(0.0)], c.HIGH),
        ([_interval(0.0, load=3.5)], c.HIGH),  # (3.5 - 1) / 2 CPUs >= 1
        ([_interval(0.0, load=1.6)], c.BUSY),
        ([_interval(0.0, steal=0.15)], c.HIGH),
        ([_interval(0.0, psi=0.3)], c.HIGH),
        # one noisy interval does not make a measurement high: the rule takes the median
        ([_interval(0.0), _interval(0.9), _interval(0.01)], c.QUIET),
    ],
)
def test_level_follows_the_documented_rule(intervals: list[c.Interval], level: str) -> None:
    s = c.summarise(intervals)
    assert s["level"] == level
    assert c.is_high(s) is (level == c.HIGH)
    assert s["rule"] == c.RULE and s["intervals"] == len(intervals)


def test_high_line_and_warning_say_what_is_and_is_not_valid() -> None:
    s = c.summarise([_interval(0.61, load=5.2), _interval(0.61, load=5.2)])
    assert c.format_line(s, paired=True) == (
        "machine: load 5.2 on 2 CPUs, others used 61% CPU — high contention: absolute times "
        "are inflated; ratios from interleaved pairs remain valid"
    )
    assert "perfop compare" in c.format_line(s, paired=False)
    w = c.warning(s, what="the run")
    assert w is not None and "others' CPU share 61%" in w and "inflated" in w
    assert c.warning(c.summarise([_interval(0.0)]), what="the run") is None


def test_merge_keeps_the_worst_level() -> None:
    quiet = c.summarise([_interval(0.01)])
    high = c.summarise([_interval(0.8)])
    merged = c.merge([quiet, None, high])
    assert merged is not None and merged["level"] == c.HIGH and merged["intervals"] == 2
    assert merged["others_cpu_share"]["max"] == 0.8
    assert c.merge([None]) is None


def test_monitor_snapshots_between_processes_only() -> None:
    # The monitor compares a snapshot's time with time.monotonic() (the machine's uptime on
    # Linux): fake snapshots taken "now", or a machine up for over an hour would see
    # min_interval=3600 as long passed.
    now = time.monotonic()
    snaps = iter(
        [
            _snap(now, STAT_A, "3.0", PRESSURE_A, 0.0),
            _snap(now + 2.0, STAT_B, "5.2", PRESSURE_B, 0.0),
        ]
    )
    m = c.Monitor(snapshot=lambda: next(snaps), min_interval=3600.0, hz=100, clock=lambda: 1.0)
    m.add(1.0)  # before start: ignored
    m.start()
    m.add(0.5)
    m.add(0.5)  # min_interval not reached: no snapshot yet
    s = m.summary()  # closes the last interval with both processes' CPU
    assert s["intervals"] == 1
    assert s["others_cpu_share"]["median"] == pytest.approx((3.4 - 1.0) / 4.0, abs=1e-3)


def test_a_short_interval_has_no_cpu_share_but_keeps_load_and_pressure() -> None:
    # 30 ms on 2 CPUs: 6 ticks, where one tick more or less would move the share by 17%.
    a = _snap(0.0, "cpu  0 0 0 100 0 0 0 0 0 0\ncpu0 x\ncpu1 x\n", "3.0", PRESSURE_A, 0.0)
    b = _snap(0.03, "cpu  5 0 0 101 0 0 0 0 0 0\ncpu0 x\ncpu1 x\n", "3.0", PRESSURE_B, 0.0)
    i = c.interval(a, b, 0.0, hz=100)
    assert i.others_cpu_share is None and i.steal is None
    assert i.load == 3.0 and i.cpu_pressure == 1.0
    s = c.summarise([i])
    assert s["others_cpu_share"] is None and s["level"] == c.HIGH  # pressure alone decides
    assert "others used" not in c.format_line(s, paired=False)


def test_nothing_measured_says_so() -> None:
    s = c.summarise([])
    assert s["level"] == c.UNKNOWN and s["intervals"] == 0
    assert c.format_line(s, paired=True) == (
        "machine: contention not measured (no sample or pair completed)"
    )
