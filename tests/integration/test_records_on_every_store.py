"""Engagement and agent records round-trip on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import subprocess
from pathlib import Path

from perfop.config import load_config
from perfop.engagement import checks, lifecycle, service
from perfop.engagement.records import Actor, EngagementSpec, Status
from perfop.store import agent as agent_store
from perfop.store import open_store

HUMAN = Actor("ada")


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "perfop.toml").write_text('[workloads.w]\ncommand = "true"\n')
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "init"]):
        subprocess.run(
            ["git", "-c", "user.email=t@e", "-c", "user.name=t", *args],
            cwd=repo,
            check=True,
            capture_output=True,
        )
    return repo


def test_engagement_lifecycle_records_round_trip(tmp_path: Path, any_store_url: str) -> None:
    loaded = load_config(_repo(tmp_path))
    store = open_store(any_store_url)
    try:
        eng = service.start_engagement(
            store,
            loaded,
            EngagementSpec(title="Faster parse é ✓", workloads=("w",), goals=()),
            actor=HUMAN,
        )
        service.confirm_intake(store, actor=HUMAN)
        hyp = lifecycle.add(
            store,
            loaded,
            actor=HUMAN,
            statement="cache the tokenizer",
            risk="high",
            expected_ratio=0.8,
        )
        lifecycle.design(store, loaded, hyp.label, actor=HUMAN, fix="an LRU cache")
        lifecycle.approve(store, loaded, hyp.label, by="Ada", actor=HUMAN)
        service.add_note(store, "legal signed off", kind="stakeholder", actor=HUMAN)

        again = service.current(store, eng.id)
        assert again.spec.title == "Faster parse é ✓" and again.confirmed_at
        stored = lifecycle.get(store, hyp.label)
        assert stored.status is Status.APPROVED and stored.statement == "cache the tokenizer"
        kinds = [d.kind for d in service.decision_log(store)]
        assert "stakeholder" in kinds and len(kinds) >= 4
        assert checks.status(store, loaded).stage.value != "intake"
    finally:
        store.close()


def test_agent_transcript_round_trips(tmp_path: Path, any_store_url: str) -> None:
    store = open_store(any_store_url)
    try:
        sid = agent_store.begin_session(
            store, goal="make w faster", provider="openai", model="m", endpoint="http://x"
        )
        agent_store.add_message(
            store,
            sid,
            seq=1,
            stage="intake",
            role="assistant",
            content={"text": "recap", "tool_calls": [{"name": "status", "arguments": {}}]},
            input_tokens=10,
            output_tokens=5,
        )
        agent_store.update_session(store, sid, status="complete", steps=1)
        session = agent_store.get_session(store, sid)
        assert session is not None and session.status == "complete" and session.finished_at
    finally:
        store.close()
