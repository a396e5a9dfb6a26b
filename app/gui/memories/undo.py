"""Undoable changes to memories (Ctrl+Z / Ctrl+Shift+Z in the browser). Every step is a store
update, so the memory's history records the undo too; the work runs off the GUI thread."""

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand

from app.gui import tasks


class EditMemory(QUndoCommand):
    """An edit already applied: undo writes the old values back, redo the new ones."""

    def __init__(
        self,
        host: Any,
        memory_id: str,
        before: dict[str, Any],
        after: dict[str, Any],
        done: Callable[[], None],
    ) -> None:
        super().__init__(f"edit {', '.join(sorted(after))}")
        self.host, self.memory_id, self.before, self.after = host, memory_id, before, after
        self.done = done
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
        )
