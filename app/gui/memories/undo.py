"""Undoable changes to memories (Ctrl+Z / Ctrl+Shift+Z in the browser). Every step is a store
update, so the memory's history records the undo too; the work runs off the GUI thread, one
step after another (the owner's `edits` queue: an undo never overtakes what it undoes)."""

import contextlib
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QUndoCommand

from app.gui import tasks
from core.errors import NotFound


class EditMemory(QUndoCommand):
    """An edit already applied: undo writes the old values back, redo the new ones."""

    def __init__(
        self,
        host: Any,
        memory_id: str,
        before: dict[str, Any],
        after: dict[str, Any],
        done: Callable[[], None],
        owner: QObject,
    ) -> None:
        super().__init__(f"edit {', '.join(sorted(after))}")
        self.host, self.memory_id, self.before, self.after = host, memory_id, before, after
        self.done, self.owner = done, owner  # the owner's end drops the callbacks
        self._applied = True  # pushed after the store took the edit

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self._apply(self.after, "redone")

    def undo(self) -> None:
        self._apply(self.before, "undone")

    def _apply(self, values: dict[str, Any], cause: str) -> None:
        host, memory_id = self.host, self.memory_id
        _queue(self.owner).run(
            lambda _ctx: host.store.update(memory_id, values, cause=cause),
            on_done=lambda _memory: self.done(),
            on_error=lambda error: _tell(self.owner, error),
            parent=self.owner,
        )


class DeleteMemories(QUndoCommand):
    """Delete memories everywhere; undo brings each back as itself (same id, fields, history,
    sources, links, and the people or places that went with it: core.store.deletes)."""

    def __init__(
        self,
        host: Any,
        memory_ids: list[str],
        done: Callable[[list[str] | None], None],
        owner: QObject,
    ) -> None:
        n = len(memory_ids)
        super().__init__("delete a memory" if n == 1 else f"delete {n} memories")
        self.host, self.memory_ids, self.done, self.owner = host, list(memory_ids), done, owner
        self._deletions: list[Any] = []

    def redo(self) -> None:
        host = self.host

        def delete(_ctx: Any) -> None:
            self._deletions = []
            for memory_id in self.memory_ids:
                with contextlib.suppress(NotFound):  # gone meanwhile: nothing to bring back
                    deletion = host.store.delete(memory_id, cause="deleted in the app")
                    self._deletions.append(deletion)  # as each one goes

        _queue(self.owner).run(
            delete,
            on_done=lambda _r: self.done(None),
            on_error=lambda error: _tell(self.owner, error),
            parent=self.owner,
        )

    def undo(self) -> None:
        host = self.host

        def restore(_ctx: Any) -> list[str]:
            return [str(m.id) for m in host.store.undelete(self._deletions)]

        _queue(self.owner).run(
            restore,
            on_done=self.done,
            on_error=lambda error: _tell(self.owner, error),
            parent=self.owner,
        )


def _queue(owner: QObject) -> tasks.Serial:
    """The owner's queue of store changes (views that hold an undo stack have `edits`)."""
    queue: tasks.Serial = getattr(owner, "edits")  # noqa: B009
    return queue


def _tell(owner: QObject, error: BaseException) -> None:
    """An undo or redo the store refused: the view says so (it has a `failed` method)."""
    report = getattr(owner, "failed", None)
    if callable(report):
        report(f"Could not do that: {error}")
