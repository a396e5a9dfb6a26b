"""Undoable changes to memories (Ctrl+Z / Ctrl+Shift+Z in the browser). Every step is a store
update, so the memory's history records the undo too; the work runs off the GUI thread."""

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
        tasks.run(
            lambda _ctx: host.store.update(memory_id, values, cause=cause),
            on_done=lambda _memory: self.done(),
            on_error=lambda error: _tell(self.owner, error),
            parent=self.owner,
        )


class DeleteMemory(QUndoCommand):
    """Delete a memory everywhere; undo writes it back with its sources and graph links (as a
    new memory: the deleted one's id and history went with it)."""

    def __init__(
        self, host: Any, memory_id: str, done: Callable[[str | None], None], owner: QObject
    ) -> None:
        super().__init__("delete a memory")
        self.host, self.memory_id, self.done, self.owner = host, memory_id, done, owner
        self._snapshot: tuple[Any, list[str], list[Any]] | None = None

    def redo(self) -> None:
        host, memory_id = self.host, self.memory_id

        def delete(_ctx: Any) -> None:
            memory = host.store.get(memory_id, reveal=True)
            sources = [s.id for s in host.store.sources_of(memory_id)]
            self._snapshot = (memory, sources, host.store.links(memory_id))
            host.store.delete(memory_id, cause="deleted in the app")

        tasks.run(
            delete,
            on_done=lambda _r: self.done(None),
            on_error=lambda error: _tell(self.owner, error),
            parent=self.owner,
        )

    def undo(self) -> None:
        host, snapshot = self.host, self._snapshot
        if snapshot is None:
            return
        memory, sources, links = snapshot

        def restore(_ctx: Any) -> str:
            fresh = memory.model_copy(update={"id": ""})
            stored = host.store.add(fresh, sources=sources, cause="restored (undo)")
            for link in links:
                src = stored.id if link.src == self.memory_id else link.src
                dst = stored.id if link.dst == self.memory_id else link.dst
                # The other end may have gone meanwhile (an entity named only by this memory).
                with contextlib.suppress(NotFound):
                    host.store.link(src, dst, link.relation)
            return str(stored.id)

        def restored(new_id: str) -> None:
            self.memory_id = new_id
            self.done(new_id)

        tasks.run(
            restore,
            on_done=restored,
            on_error=lambda error: _tell(self.owner, error),
            parent=self.owner,
        )


def _tell(owner: QObject, error: BaseException) -> None:
    """An undo or redo the store refused: the view says so (it has a `failed` method)."""
    report = getattr(owner, "failed", None)
    if callable(report):
        report(f"Could not do that: {error}")
