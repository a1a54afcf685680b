"""Issue 20, one result model: the report's series of baseline runs is the one
``perfop.records.history.History`` (one point per run), and its JSON says what ``perfop.report/1``
always said of it (run id, start time, sha or null, median); ``perfop.history/1`` documents of the
same type carry no ``started_at``."""

from __future__ import annotations

import json
import random
from pathlib import Path

import jsonschema

from perfop.config import load_config
from perfop.records.history import History
from perfop.report.data import collect
from perfop.report.jsonfmt import json_schema, render
from perfop.store import open_store
from report_fixture import _baseline, build_engagement, make_repo


def test_the_report_history_is_the_one_history_and_its_json_is_unchanged(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_engagement(store, repo)
        env = store.get_run(1).environment_id
        rng = random.Random(5)
        added = [_baseline(store, "parse", rng, env, sha) for sha in ("a" * 40, None, "b" * 40)]
        data = collect(store, load_config(repo))
    finally:
        store.close()
    parse = next(h for h in data.history if h.workload == "parse")
    assert type(parse) is History and (parse.statistic, parse.shifts) == ("median", ())
    assert [p.run_ids for p in parse.points][-3:] == [(r,) for r in added]
    doc = json.loads(render(data))
    jsonschema.Draft202012Validator(json_schema()).validate(doc)
    points = next(h for h in doc["history"] if h["workload"] == "parse")["points"]
    assert [set(p) for p in points] == [{"run_id", "started_at", "sha", "median"}] * len(points)
    assert [p["sha"] for p in points][-3:] == ["a" * 40, None, "b" * 40]
    assert [p["median"] for p in points] == [p.value for p in parse.points]
    assert all(p["started_at"] for p in points)
    # the same type as perfop.history/1: no started_at there
    assert "started_at" not in parse.to_dict()["points"][0]
    assert parse.to_dict()["schema"] == "perfop.history/1"
