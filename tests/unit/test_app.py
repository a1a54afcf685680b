"""One application context (``perfop.app.AppContext``): the configuration and the store are
opened once, on first use, by every front end that holds one (CLI ``State``, MCP ``App``, demo,
agent runner), on a real git repository and a real SQLite store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from perfop.app import AppContext
from perfop.cli.common import State
from perfop.engagement.records import Actor
from perfop.mcp.tools import App
from perfop.store import Store, open_store

CONFIG = {"perfop.toml": '[workloads.w]\ncommand = "true"\n', ".gitignore": ".perfop/\n"}


def test_nothing_is_opened_until_asked_and_each_part_once(
    git_repo: Callable[..., Path],
) -> None:
    repo = git_repo(CONFIG)
    configs: list[object] = []
    stores: list[object] = []
    app = AppContext(repo, on_config=configs.append, on_store=stores.append)
    assert configs == [] and stores == []
    loaded = app.loaded
    assert app.loaded is loaded and app.repo_root == loaded.repo_root
    assert configs == [loaded] and stores == []
    try:
        store = app.store
        assert app.store is store and stores == [store]
        # Lazy by default: the store's file is written by the first write, not by opening.
        assert not (repo / ".perfop" / "perfop.db").exists()
    finally:
        app.close()


def test_concurrent_first_calls_open_the_store_once(git_repo: Callable[..., Path]) -> None:
    repo = git_repo(CONFIG)
    stores: list[object] = []
    app = AppContext(repo, on_store=stores.append)
    barrier = threading.Barrier(6)
    seen: list[object] = []

    def ask() -> None:
        barrier.wait()
        seen.append(app.store)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(stores) == 1 and all(s is stores[0] for s in seen) and len(seen) == 6
    finally:
        app.close()


def _count_closes(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    closes: list[int] = []
    real = store.close
    monkeypatch.setattr(store, "close", lambda: (closes.append(1), real())[1])
    return closes


def test_the_store_it_opened_is_closed_once_a_store_handed_in_never(
    git_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_repo(CONFIG)
    app = AppContext(repo)
    closes = _count_closes(app.store, monkeypatch)
    app.close()
    assert closes == [1]
    store = open_store(f"sqlite:///{repo / 'own.db'}")
    closes = _count_closes(store, monkeypatch)
    app = AppContext(repo, store=store)
    assert app.store is store
    app.close()
    assert closes == []  # its owner closes it
    store.close()
    assert closes == [1]


def test_every_front_end_holds_one(
    git_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_repo(CONFIG)
    state = State(repo=repo)
    try:
        assert isinstance(state.app, AppContext) and state.loaded is state.app.loaded
    finally:
        state.close()
    mcp_app = App(repo)
    try:
        assert isinstance(mcp_app, AppContext) and mcp_app.actor.kind == "agent"
    finally:
        mcp_app.close()
    store = open_store(f"sqlite:///{repo / 'own.db'}")
    closes = _count_closes(store, monkeypatch)
    agent = Actor(name="agent:test", kind="agent")
    agent_app = App(repo, store=store, actor=agent)
    assert agent_app.store is store and agent_app.actor is agent
    agent_app.close()
    assert closes == []  # the agent runner's store: the runner closes it
    store.close()
