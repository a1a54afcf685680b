"""One application context for every front end: the repository's configuration and its store,
each opened once, on first use, so that ``--help`` or a command refused before it reads anything
opens neither.

The CLI (``perfop.cli.common.State``), the MCP server (its ``App``), ``perfop demo`` and the agent
runner (``perfop.services.table.ActingContext``, which adds the acting agent) each hold one
``AppContext``; what differs between them is passed in: a
hook run when the configuration is first loaded (the CLI removes worktrees a killed perfop
left), one run when the store is opened (the CLI prints the store's notes), whether the store is
opened lazily (created by its first write), or a store that someone else owns and closes (the
agent runner's). Calls may come from several threads (the MCP server's workers): each part is
opened under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfop.config import LoadedConfig
    from perfop.store import Store


class AppContext:
    """Configuration and store of one repository, opened once, lazily."""

    def __init__(
        self,
        repo: Path | None = None,
        *,
        config_path: Path | None = None,
        store_override: str | None = None,
        store: Store | None = None,
        lazy_store: bool = True,
        on_config: Callable[[LoadedConfig], None] | None = None,
        on_store: Callable[[Store], None] | None = None,
    ) -> None:
        """``repo``: where to look for the configuration (default: the current directory's
        repository); ``store_override``: a store URL that beats the configuration's; ``store``:
        an open store to use as is (its owner closes it, ``close`` leaves it open)."""
        self.repo = repo
        self.config_path = config_path
        self.store_override = store_override
        self._loaded: LoadedConfig | None = None
        self._store = store
        self._owns_store = store is None
        self._lazy_store = lazy_store
        self._on_config = on_config
        self._on_store = on_store
        self._lock = threading.Lock()

    @property
    def loaded(self) -> LoadedConfig:
        """The configuration, loaded on first use and kept: a change to the file later in the
        process is not seen (the workloads are those configured when the command started)."""
        with self._lock:
            if self._loaded is None:
                from perfop.config import load_config

                self._loaded = load_config(self.repo, config_path=self.config_path)
                if self._on_config is not None:
                    self._on_config(self._loaded)
            return self._loaded

    @property
    def repo_root(self) -> Path:
        return self.loaded.repo_root

    @property
    def store(self) -> Store:
        """The store the configuration (or ``store_override``) names, opened on first use."""
        if self._store is not None:
            return self._store
        loaded = self.loaded
        with self._lock:
            if self._store is None:
                from perfop.config import store_url
                from perfop.store import open_store

                url = store_url(loaded, self.store_override)
                self._store = open_store(url, lazy=self._lazy_store)
                if self._on_store is not None:
                    self._on_store(self._store)
            return self._store

    def close(self) -> None:
        """Close the store if this context opened it."""
        if self._store is not None and self._owns_store:
            self._store.close()
