"""Pure parts of profiling: attribution, parsers, diff, document, command classification."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from perfop.errors import ProfilerError
from perfop.profiling.attribution import attribute, display_path, repo_relative
from perfop.profiling.backends import BOOTSTRAP, strip_bootstrap
from perfop.profiling.diff import diff_parts, diff_runs, diff_to_dict
from perfop.profiling.document import SCHEMA, profile_document, report_from_document
from perfop.profiling.launchers import classify_command
from perfop.profiling.model import Frame, ProfilePart, ProfileReport, StackSample
from perfop.profiling.parsers import (
    enclosing_function,
    parse_pyinstrument_records,
    parse_speedscope,
    parse_tracemalloc,
)
from perfop.profiling.render import format_folded, format_speedscope

ROOT = "/src/repo"
MAIN = Frame("<module>", f"{ROOT}/app.py", 1)
WORK = Frame("work", f"{ROOT}/app.py", 10)
HELPER = Frame("helper", f"{ROOT}/pkg/util.py", 3)
DUMPS = Frame("dumps", "/usr/lib/python3.11/json/__init__.py", 183)
LIB = Frame("get", f"{ROOT}/.venv/lib/python3.11/site-packages/requests/api.py", 62)


def test_repo_relative_excludes_virtualenvs_and_outside_files() -> None:
    assert repo_relative(f"{ROOT}/pkg/util.py", ROOT) == "pkg/util.py"
    assert repo_relative(LIB.file, ROOT) is None
    assert repo_relative("/usr/lib/python3.11/json/__init__.py", ROOT) is None
    assert repo_relative("<frozen runpy>", ROOT) is None
    assert display_path(LIB.file, ROOT) == "requests/api.py"


def test_stdlib_and_site_packages_fold_into_their_repo_caller() -> None:
    stacks = [
        StackSample((MAIN, WORK, DUMPS), 6.0, 6),
        StackSample((MAIN, WORK, HELPER, LIB), 3.0, 3),
        StackSample((DUMPS,), 1.0, 1),  # no repository frame at all
    ]
    spots = attribute(stacks, kind="cpu", root=ROOT)
    by_name = {h.function: h for h in spots}
    assert [h.function for h in spots[:3]] == ["work", "helper", "(stdlib: json)"]
    assert by_name["work"].self_pct == pytest.approx(60.0)
    assert by_name["work"].total_pct == pytest.approx(90.0)
    assert by_name["helper"].file == "pkg/util.py" and by_name["helper"].count == 3
    assert by_name["<module>"].self_pct == 0 and by_name["<module>"].total_pct == pytest.approx(90)
    assert sum(h.self_pct for h in spots) == pytest.approx(100.0)
    assert not by_name["(stdlib: json)"].in_repo
    assert by_name["(stdlib: json)"].origin == "stdlib"


def test_all_keeps_every_frame() -> None:
    spots = attribute(
        [StackSample((MAIN, WORK, DUMPS), 1.0)], kind="cpu", root=ROOT, include_all=True
    )
    assert spots[0].function == "dumps" and not spots[0].in_repo
    assert spots[0].file == DUMPS.file


def test_recursion_counts_total_once_and_comprehensions_fold_into_their_function() -> None:
    comp = Frame("work.<locals>.<listcomp>", WORK.file, 12)
    spots = attribute([StackSample((MAIN, WORK, WORK, comp), 2.0)], kind="memory", root=ROOT)
    work = next(h for h in spots if h.function == "work")
    assert work.total_pct == pytest.approx(100.0) and work.self_pct == pytest.approx(100.0)
    assert work.line == 12  # the allocating line of the comprehension


def test_hotspot_ids_are_stable_across_line_moves_and_distinct_by_kind() -> None:
    a = attribute([StackSample((WORK,), 1.0)], kind="cpu", root=ROOT)[0]
    moved = attribute([StackSample((Frame("work", WORK.file, 99),), 1.0)], kind="cpu", root=ROOT)
    mem = attribute([StackSample((WORK,), 1.0)], kind="memory", root=ROOT)[0]
    assert a.id == moved[0].id and a.id != mem.id and a.id.startswith("c-")


def test_parse_speedscope_drops_process_pseudo_frames() -> None:
    doc = {
        "shared": {
            "frames": [
                {"name": 'process 7:"python x.py"', "file": "", "line": 0},
                {"name": "<module>", "file": "/r/x.py", "line": 1},
                {"name": "f", "file": "/r/x.py", "line": 4},
            ]
        },
        "profiles": [
            {
                "type": "sampled",
                "unit": "seconds",
                "samples": [[0, 1, 2], [0, 1]],
                "weights": [0.004, 0.004],
            }
        ],
    }
    stacks = parse_speedscope(doc)
    assert [len(s.frames) for s in stacks] == [2, 1]
    assert stacks[0].frames[-1] == Frame("f", "/r/x.py", 4) and stacks[0].weight == 0.004


def test_parse_pyinstrument_records_names_methods_by_class() -> None:
    records = [
        (
            [
                "MainThread\x00<thread>\x001",
                "<module>\x00/r/x.py\x001\x01l9",
                "run\x00/r/x.py\x003\x01l5\x01cJob",
            ],
            0.25,
        )
    ]
    (stack,) = parse_pyinstrument_records(records, interval=0.001)
    assert [f.function for f in stack.frames] == ["<module>", "Job.run"]
    assert stack.count == 250 and stack.frames[1].line == 3


def test_parse_tracemalloc_oldest_first_with_function_names() -> None:
    source = "import x\n\nclass A:\n    def f(self):\n        return [0] * 10\n"
    doc = {"traces": [{"frames": [["/r/m.py", 7], ["/r/m.py", 5]], "size": 80, "count": 1}]}
    (stack,) = parse_tracemalloc(doc, function_at=lambda f, ln: enclosing_function(source, ln))
    assert [f.function for f in stack.frames] == ["<module>", "A.f"]
    assert enclosing_function("def g(:\n", 1) == "<module>"


def test_strip_bootstrap_cuts_its_frames_and_drops_its_startup() -> None:
    boot = str(BOOTSTRAP)
    top = Frame("<module>", boot, 1)
    run = Frame("_run_target", boot, 40)
    runpy = Frame("_run_code", "<frozen runpy>", 88)
    stacks = [
        StackSample((top, Frame("_find_and_load", "<frozen importlib._bootstrap>", 1)), 1.0),
        StackSample((top, Frame("main", boot, 120), run, runpy, MAIN, WORK), 2.0),
        StackSample((MAIN,), 3.0),  # a subprocess: left alone
        # runpy importing pkgutil for itself, before the target runs: perfop's, not the workload's
        StackSample(
            (
                top,
                Frame("main", boot, 120),
                run,
                runpy,
                Frame("_find_and_load", "<frozen importlib._bootstrap>", 1165),
            ),
            0.25,
        ),
        # ... but a -m target's package imported by runpy is the workload's
        StackSample(
            (top, run, runpy, Frame("_find_and_load", "<frozen importlib._bootstrap>", 1165), MAIN),
            0.125,
        ),
        # The interpreter starting up (importing site, which runs .pth lines as <string>).
        StackSample(
            (
                Frame("_find_and_load", "<frozen importlib._bootstrap>", 1165),
                Frame("<module>", "<frozen site>", 1),
                Frame("addpackage", "<frozen site>", 186),
                Frame("<module>", "<string>", 1),
            ),
            0.5,
        ),
    ]
    out = strip_bootstrap(stacks)
    imp = Frame("_find_and_load", "<frozen importlib._bootstrap>", 1165)
    assert [s.frames for s in out] == [(MAIN, WORK), (MAIN,), (imp, MAIN)]


def test_classify_command(tmp_path: Path) -> None:
    c = classify_command(["python3", "-X", "dev", "-u", "app.py", "--n", "3"], cwd=tmp_path)
    assert c is not None and c.target_kind == "script" and c.options == ("-X", "dev", "-u")
    assert c.target == str(tmp_path / "app.py") and c.args == ("--n", "3")
    m = classify_command(["/usr/bin/python3.11", "-m", "pkg.cli", "x"], cwd=tmp_path)
    assert m is not None and (m.target_kind, m.target, m.args) == ("module", "pkg.cli", ("x",))
    assert classify_command(["sh", "-c", "python x.py"], cwd=tmp_path) is None
    script = tmp_path / "tool"
    script.write_text("#!/usr/bin/env python3\nprint(1)\n")
    s = classify_command(["./tool", "a"], cwd=tmp_path)
    assert s is not None and s.interpreter == "python3" and s.args == ("a",)


def _part(kind: str, wall: float, spots: dict[str, float]) -> ProfilePart:
    total = sum(spots.values())
    stacks = [StackSample((MAIN, Frame(name, f"{ROOT}/app.py", 5)), w) for name, w in spots.items()]
    return ProfilePart(
        kind=kind,
        backend="py-spy",
        unit="s",
        total=total,  # type: ignore[arg-type]
        wall_time=wall,
        peak_bytes=None,
        sample_count=len(stacks),
        hotspots=tuple(attribute(stacks, kind="cpu", root=ROOT)),
    )


def test_diff_ranks_by_absolute_time_per_run_not_share() -> None:
    base = _part("cpu", 1.0, {"slow_sum": 0.8, "steady": 0.2})
    cand = _part("cpu", 0.25, {"slow_sum": 0.04, "steady": 0.2, "fresh": 0.01})
    diff = diff_parts(base, cand, base_label="a", candidate_label="b")
    assert diff.rows[0].function == "slow_sum" and diff.decreases[0].function == "slow_sum"
    steady = diff.row("steady")
    assert steady is not None and steady.delta_share_points > 50
    assert abs(steady.delta_value) < 0.02
    fresh = diff.row("fresh")
    assert fresh is not None and fresh.status == "new"
    assert diff.row("<module>") is None  # never had time of its own
    with pytest.raises(ValueError):
        diff_parts(base, _part("memory", 1.0, {"x": 1.0}), base_label="a", candidate_label="b")


def test_diff_of_repeated_runs_compares_medians_so_one_noisy_run_does_not_count() -> None:
    base = [
        _part("cpu", 1.0, {"slow_sum": 0.8, "steady": 0.2}),
        _part("cpu", 2.0, {"slow_sum": 0.8, "steady": 0.2}),  # a noisy neighbour: wall doubled
        _part("cpu", 1.0, {"slow_sum": 0.8, "steady": 0.2}),
    ]
    cand = [
        _part("cpu", 0.25, {"slow_sum": 0.04, "steady": 0.2}),
        _part("cpu", 0.25, {"slow_sum": 0.04, "steady": 0.2}),
        _part("cpu", 0.3, {"steady": 0.2}),  # slow_sum too quick for a sample this time
    ]
    diff = diff_runs(base, cand, base_label="a", candidate_label="b")
    assert diff.repeat == 3 and diff.base_wall == 1.0 and diff.candidate_wall == 0.25
    slow, steady = diff.row("slow_sum"), diff.row("steady")
    assert slow is not None and steady is not None
    assert slow.base_runs == (0.8, 1.6, 0.8) and slow.candidate_runs[2] == 0.0
    assert slow.status == "decrease" and slow.base_value == 0.8
    assert steady.base_value == 0.2 and abs(steady.delta_value) < 0.01  # not 0.4
    row = diff_to_dict(diff)["rows"][0]  # type: ignore[index]
    assert row["base_runs"] == [0.8, 1.6, 0.8]
    # py-spy shares are shares of CPU time: with the CPU time known, it is the multiplier.
    on_cpu = dataclasses.replace(base[1], cpu_time=1.0)
    (one,) = [
        r
        for r in diff_parts(on_cpu, cand[0], base_label="a", candidate_label="b").rows
        if r.function == "slow_sum"
    ]
    assert one.base_value == 0.8


def test_document_round_trip_and_schema_check() -> None:
    part = _part("cpu", 1.0, {"slow_sum": 0.8, "steady": 0.2})
    report = ProfileReport(
        id="20260101T000000-abcdef",
        created_at="2026-01-01T00:00:00+00:00",
        workload="w",
        argv=("python", "app.py"),
        cwd=".",
        ref="main",
        sha="a" * 40,
        all_frames=False,
        parts=(part,),
        artifact_dir=".perfop/profiles/20260101T000000-abcdef",
        environment={"python": {"version": "3.11"}},
        repeat=3,
    )
    doc = json.loads(json.dumps(profile_document(report)))
    assert doc["schema"] == SCHEMA
    assert report_from_document(doc) == report
    old = {**doc, "parts": [{**p} for p in doc["parts"]]}
    del old["repeat"], old["parts"][0]["cpu_time"]  # written before these fields existed
    assert report_from_document(old) == dataclasses.replace(report, repeat=1)
    with pytest.raises(ProfilerError, match=r"perfop\.profile/1"):
        report_from_document({**doc, "schema": "perfop.profile/0"})


def test_folded_and_speedscope_renderers() -> None:
    stacks = [StackSample((MAIN, WORK), 0.5), StackSample((MAIN, WORK), 0.25)]
    folded = format_folded(stacks, scale=1000)
    assert folded == f"<module> ({ROOT}/app.py:1);work ({ROOT}/app.py:10) 750\n"
    doc = json.loads(format_speedscope(stacks, name="x", unit="seconds"))
    assert doc["profiles"][0]["samples"] == [[0, 1], [0, 1]]
    assert doc["shared"]["frames"][1]["name"] == "work"
