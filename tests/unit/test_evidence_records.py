"""A validation's stored evidence and a measurement's sub-documents load into one record each,
from every shape perfop stored (today's, older key names, missing keys, junk), and each record
writes back the form it was read from (issue 20: report and MCP read types, never raw dicts)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from perfop.compare.cpuwall import CpuWall, decision_text, format_cpu_wall
from perfop.compare.pairs import Decision
from perfop.compare.slo import SLOResult
from perfop.engagement.goals import GoalCheck
from perfop.engagement.outcome import TestEvidence, WorkloadEvidence
from perfop.measure import contention as cn
from perfop.records.evidence import (
    StackedOn,
    StoredBudget,
    load_budget,
    load_evidence,
    load_goal,
    load_probes,
    load_slo,
    load_stacked_on,
    load_tests,
    load_workload_evidence,
)
from perfop.records.measured import (
    load_contention,
    load_cpu_vs_wall,
    load_decision,
    load_environment,
)

DATA = Path(__file__).resolve().parents[1] / "data"
STORED = json.loads((DATA / "compare" / "comparison_2_main_3ac9f6d.json").read_text())
WORKLOAD = STORED["workloads"][0]
JUNK: list[Any] = [None, {}, [], "text", 3]


# --- the sub-documents of a stored comparison ----------------------------------------------------


def test_todays_sub_documents_round_trip_exactly() -> None:
    for doc in (WORKLOAD["contention"], STORED["contention"]):
        loaded = load_contention(doc)
        assert loaded is not None and loaded.to_dict() == doc
        assert load_contention(loaded.to_dict()) == loaded
    cw = load_cpu_vs_wall(WORKLOAD["cpu_vs_wall"])
    assert cw is not None and cw.to_dict() == WORKLOAD["cpu_vs_wall"]
    dec = load_decision(WORKLOAD["decision"])
    assert dec is not None and dec.to_dict() == WORKLOAD["decision"]
    assert (dec.metric, dec.check, dec.vetoed) == ("cpu_time", "wall_time", False)


def test_what_the_producers_write_loads_back() -> None:
    summary = cn.summarise([cn.Interval(0.5, 2, 5.2, 0.61, 0.0, 2, None)] * 3)
    loaded = load_contention(summary)
    assert loaded is not None and loaded.to_dict() == summary
    assert (loaded.level, loaded.load, loaded.cpu_pressure) == ("high", cn_spread(5.2), None)
    merged = cn.merge([summary, cn.summarise([])])
    loaded_merged = load_contention(merged)
    assert loaded_merged is not None and loaded_merged.to_dict() == merged
    cpu = CpuWall(0.8, (0.75, 0.85), 1.0, (0.98, 1.02), contended=True)
    assert load_cpu_vs_wall(cpu.as_dict()).to_dict() == cpu.as_dict()  # type: ignore[union-attr]
    for d in (Decision("cpu_time", "wall_time", (0.99, 0.98), (0.97, 0.97), True), Decision("x")):
        assert load_decision(d.as_dict()).to_dict() == d.as_dict()  # type: ignore[union-attr]


def cn_spread(value: float) -> Any:
    from perfop.records.measured import Spread

    return Spread(value, value)


def test_partial_and_missing_sub_documents_load_with_defaults() -> None:
    for junk in JUNK:
        assert load_contention(junk) is None
        assert load_cpu_vs_wall(junk) is None
        assert load_decision(junk) is None
        assert load_environment(junk) is None
    old = load_contention({"level": "high", "reasons": ["others' CPU share 61%"], "load": {}})
    assert old is not None
    assert (old.level, old.reasons, old.load, old.intervals, old.cpus) == (
        "high", ("others' CPU share 61%",), None, 0, None,
    )  # fmt: skip
    assert load_contention({"cpus": 2}).level == "unknown"  # type: ignore[union-attr]
    assert load_contention(old.to_dict()) == old
    bare = load_cpu_vs_wall({"note": ""})
    assert bare is not None and math.isnan(bare.wall_ratio) and bare.note is None
    assert math.isnan(bare.wall_ci[0]) and not bare.disagree
    dec = load_decision({"metric": "cpu_time", "reason": "old words", "vetoed": True})
    assert dec is not None and (dec.check, dec.cpu_share, dec.cpu_median) == (None, None, None)
    assert load_decision(dec.to_dict()) == dec


def test_the_texts_are_the_records_and_the_cli_reads_them_through_the_loader() -> None:
    doc = WORKLOAD["cpu_vs_wall"]
    assert format_cpu_wall(doc) == load_cpu_vs_wall(doc).text()  # type: ignore[union-attr]
    assert format_cpu_wall(doc).endswith(": they agree")  # type: ignore[union-attr]
    assert format_cpu_wall(None) is None and decision_text({}) is None
    assert decision_text({"metric": ""}) is None
    assert decision_text({"metric": "wall_time"}) == "wall_time"
    vetoed = decision_text({"metric": "cpu_time", "reason": "CPU-bound", "vetoed": True})
    assert vetoed == (
        "CPU time (user+sys): CPU-bound; wall time's interval contradicted CPU time's verdict, "
        "so there is none"
    )


def test_the_machine_environment_loads_what_the_report_shows() -> None:
    env = load_environment(
        {
            "hostname": "h",
            "cpu": {"model": "Test CPU", "logical_cores": 2, "governor": None},
            "memory_bytes": 8,
            "os": {"system": "Linux", "release": "6.1", "version": "#1", "machine": "x86_64"},
            "python": {"implementation": "CPython", "version": "3.12.1", "executable": "/p"},
            "git": {"sha": "abc", "dirty": False},
            "packages": {"b": "2", "a": "1"},
        }
    )
    assert env is not None
    assert (env.hostname, env.cpu_model, env.logical_cores, env.memory_bytes, env.git_sha) == (
        "h", "Test CPU", 2, 8, "abc",
    )  # fmt: skip
    assert env.os == ("Linux", "6.1", "x86_64") and env.python == ("CPython", "3.12.1")
    assert env.packages == (("a", "1"), ("b", "2"))
    assert load_environment(env.to_dict()) == env
    odd = load_environment({"cpu": "x", "os": None, "python": {"version": "3.9"}, "git": 1})
    assert odd is not None and odd.cpu_model is None and odd.os == ("", "", "")
    assert odd.python == ("", "3.9") and odd.git_sha is None and odd.packages == ()


# --- a validation's evidence --------------------------------------------------------------------


def test_todays_test_evidence_round_trips() -> None:
    for t in (
        TestEvidence("pytest -q", candidate_ok=True, candidate_tail="3 passed\n"),
        TestEvidence("pytest", candidate_ok=False, base_ok=True, candidate_tail="x\n1 failed",
                     base_tail="ok", warnings=("imports demo from /src",)),
    ):  # fmt: skip
        loaded = load_tests(t.to_dict())
        assert loaded is not None and loaded.evidence() == t
    assert load_tests(t.to_dict()).summary == "1 failed"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        # (command, passed, base_passed, output_tail, summary)
        (
            {"argv": ["python", "-m", "pytest"], "exit_code": 1, "output_tail": "x\n1 failed\n\n",
             "base_passed": True},
            ("python -m pytest", False, True, "x\n1 failed\n\n", "1 failed"),
        ),
        ({"command": "make test", "passed": True, "tail": "ok\n", "summary": "3 passed"},
         ("make test", True, None, "ok\n", "3 passed")),
        ({"command": ["pytest", "-k", "a b"], "exit_code": 0},
         ("pytest -k 'a b'", True, None, "", "")),
        ({"candidate_ok": None, "passed": True}, ("", None, None, "", "")),
        ({}, ("", None, None, "", "")),
    ],
)  # fmt: skip
def test_older_test_documents_load_by_their_old_names(doc: dict[str, Any], expected: Any) -> None:
    t = load_tests(doc)
    assert t is not None
    assert (t.command, t.passed, t.base_passed, t.output_tail, t.summary) == expected
    assert (t.evidence() is None) == (t.passed is None)


def test_no_tests_document_is_none() -> None:
    assert all(load_tests(junk) is None for junk in (None, [], "text", 3))


def test_slo_rows_round_trip_and_older_rows_get_a_state() -> None:
    today = SLOResult("parse", "wall_time", "p95", 0.3, 0.2, None, 12, False, "p95 0.3",
                      unit="s", base_value=0.4, base_passed=False, state="still not met",
                      contention="load 6.1 on 2 cores")  # fmt: skip
    assert load_slo(today.to_dict()) == today  # the one record: what compare.slo makes
    old = load_slo({"workload": "parse", "value": 0.3, "max": 0.2, "passed": False})
    assert (old.metric, old.statistic, old.unit, old.state, old.reason) == (
        "wall_time", "p95", "", "newly broken", "",
    )  # fmt: skip
    assert load_slo({"passed": True}).state == "met"
    assert load_slo({"passed": None, "value": "nan"}).state == "no data"
    odd = load_slo({"passed": "yes", "value": float("inf"), "min": 1, "contention": ""})
    assert (odd.passed, odd.value, odd.min, odd.contention, odd.workload) == (
        None, None, 1.0, None, "?",
    )  # fmt: skip


def test_budget_goals_stacked_on_and_probes() -> None:
    assert load_budget({"max_time": 10, "max_pairs": 40}) == StoredBudget(10.0, 40)
    assert load_budget({"max_time": 12, "max_runs": 30}) == StoredBudget(12.0, 30)  # older
    assert load_budget({"max_pairs": None, "max_runs": 30}) == StoredBudget(None, None)
    assert load_budget({"max_pairs": True, "max_time": "x"}) == StoredBudget(None, None)
    assert load_budget("junk") == StoredBudget(None, None)
    b = StoredBudget(30.0, 40)
    assert load_budget(b.to_dict()) == b

    check = GoalCheck("fast", "x0.5", "parse", "wall_time", "ratio", 0.7, 0.5, False)
    goal = load_goal(check.to_dict())
    assert (goal.met, goal.text) == (False, check.describe())
    assert load_goal(goal.to_dict()) == goal
    assert load_goal({"met": "no"}).met is None

    assert load_stacked_on({"label": "H1", "sha": "abc"}) == StackedOn("H1", "abc")
    assert load_stacked_on(StackedOn("H2", None).to_dict()) == StackedOn("H2", None)
    assert all(load_stacked_on(j) is None for j in (None, "H2", {"sha": "abc"}))

    probe = {
        "executable": "/v/bin/python", "implementation": "CPython", "version": "3.12.1",
        "packages": {"numpy": "2.0.0", "demo": "0.1.0"}, "origins": {"demo": "/w/src/demo"},
        "workloads": ["parse"], "outside_checkout": ["parse imports demo from /src"],
    }  # fmt: skip
    probes = load_probes({"candidate": [probe, "junk"], "base": [{"version": "3.11"}]})
    assert probes.warnings == ["parse imports demo from /src"]
    assert probes.candidate[0].packages == (("demo", "0.1.0"), ("numpy", "2.0.0"))
    assert (probes.base[0].executable, probes.base[0].implementation) == ("?", "")
    assert load_probes(probes.to_dict()) == probes
    assert load_probes("junk").candidate == () and load_probes(None).warnings == []


def test_workload_rows_round_trip_and_partial_rows_load() -> None:
    row = WorkloadEvidence("parse", "cpu_time", "faster", 0.5, 0.45, 0.55, gate=False,
                           behaviour_changed=True, candidate_failures=1, comparison_id=3,
                           targeted=False, mde=0.02)  # fmt: skip
    assert load_workload_evidence(row.to_dict()) == row
    bare = load_workload_evidence({"verdict": "slower", "comparison_id": "4"})
    assert bare == WorkloadEvidence("?", "wall_time", "slower", None, comparison_id=4)


# What ``perfop validate`` stores today (engagement/validate.py), built by the producers.
EVIDENCE_TODAY: dict[str, Any] = {
    "method": "perfop compare (interleaved A/B, sequential stopping)",
    "comparison_id": 7,
    "stacked_on": {"label": "H1", "sha": "abc"},
    "seed": 101,
    "budget": {"max_time": 10, "max_pairs": None},
    "workloads": [
        WorkloadEvidence("parse", "wall_time", "faster", 0.9, comparison_id=7).to_dict(),
        WorkloadEvidence("render", "wall_time", "unchanged", 1.0, comparison_id=7).to_dict(),
    ],
    "tests": TestEvidence("pytest -q", candidate_ok=True, candidate_tail="4 passed").to_dict(),
    "slos": [
        SLOResult(
            "parse",
            "wall_time",
            "p95",
            0.09,
            0.08,
            None,
            12,
            False,
            "r",
            base_value=0.1,
            base_passed=False,
            state="still not met",
        ).to_dict()
    ],
    "outcome": {"status": "confirmed"},
    "goals": [GoalCheck("g", "x0.5", "parse", "wall_time", "ratio", 0.9, 0.5, False).to_dict()],
    "environment": {"candidate": [{"version": "3.12.1"}], "base": [{"version": "3.12.1"}]},
    "contention": STORED["contention"],
    "cpu_vs_wall": {"parse": WORKLOAD["cpu_vs_wall"]},
    "plans": {"parse": {"plan": None, "notices": []}},
}


def test_a_whole_evidence_document_loads_once() -> None:
    ev = load_evidence(EVIDENCE_TODAY)
    assert ev.comparison_ids == (7,) and ev.comparison is None
    assert (ev.seed, ev.budget, ev.workload_rows) == (101, StoredBudget(10.0, None), 2)
    assert [w.workload for w in ev.workloads] == ["parse", "render"]
    assert ev.tests is not None and ev.tests.passed is True
    assert [s.state for s in ev.slos] == ["still not met"]
    assert ev.stacked_on == StackedOn("H1", "abc") and ev.environment.candidate[0].version
    assert [g.met for g in ev.goals] == [False]


def test_older_evidence_documents_load_too() -> None:
    embedded = {"schema": "perfop.comparison/1", "seed": 5, "workloads": [{"workload": "parse"}]}
    ev = load_evidence(
        {
            "comparison_ids": [3, "4", 3, "x", None],
            "workloads": [{"workload": "parse", "comparison_id": 5}, {"comparison_id": 4}, 1],
            "comparison": embedded,
            "seed": "9",
            "goals": "junk",
            "slos": [{"passed": True}, "junk"],
        }
    )
    assert ev.comparison_ids == (3, 4, 5)
    assert ev.comparison is not None and ev.comparison.id == 3 and ev.comparison.seed == 5
    assert ev.comparison.workloads[0].name == "parse"
    assert (ev.workloads, ev.workload_rows, ev.seed, ev.goals) == ((), 2, None, ())
    assert [s.state for s in ev.slos] == ["met"] and ev.tests is None
    with_id = load_evidence({"comparison_id": 8, "comparison": {"id": 2, "workloads": []}})
    assert with_id.comparison is not None and with_id.comparison.id == 2
    for junk in JUNK:
        empty = load_evidence(junk)
        assert (empty.comparison_ids, empty.comparison, empty.tests, empty.slos) == (
            (),
            None,
            None,
            (),
        )
        assert empty.environment.warnings == [] and empty.stacked_on is None
