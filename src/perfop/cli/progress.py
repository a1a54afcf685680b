"""One progress bar for every long verb: Rich on a terminal (stderr), silent otherwise.

Verbs adapt their service's progress protocol to ``TaskBar`` in a few lines; machine-readable
stdout is never touched.
"""

from __future__ import annotations

from typing import Any, Self


class TaskBar:
    """Named tasks with a bar each; every method is a no-op when not enabled."""

    def __init__(self, enabled: bool, *, show_last: bool = False) -> None:
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
            if show_last:
                columns.append(TextColumn("{task.fields[last]}"))
            self._progress = Progress(*columns, console=Console(stderr=True), transient=True)

    @property
    def enabled(self) -> bool:
        return self._progress is not None

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def add(self, key: str, total: int, *, label: str | None = None) -> None:
        if self._progress is not None:
            self._tasks[key] = self._progress.add_task(label or key, total=total, last="")

    def update(
        self,
        key: str,
        *,
        advance: int = 0,
        completed: int | None = None,
        total: int | None = None,
        last: str | None = None,
    ) -> None:
        if self._progress is None or key not in self._tasks:
            return
        fields: dict[str, Any] = {"advance": advance}
        if completed is not None:
            fields["completed"] = completed
        if total is not None:
            fields["total"] = total
        if last is not None:
            fields["last"] = last
        self._progress.update(self._tasks[key], **fields)

    def settle(self, key: str) -> None:
        """The task is done: its total becomes what was completed (runs may stop early)."""
        if self._progress is not None and key in self._tasks:
            task = self._tasks[key]
            self._progress.update(task, total=self._progress.tasks[task].completed)

    def remove(self, key: str) -> None:
        if self._progress is not None and key in self._tasks:
            self._progress.remove_task(self._tasks.pop(key))
