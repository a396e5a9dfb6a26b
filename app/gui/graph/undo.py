"""Undoable edits made in the graph (Ctrl+Z / Ctrl+Shift+Z): merge, rename, link, unlink. Each
step is a store change made as the user, so the nodes' graph history records the undo too;
the work runs off the GUI thread and the view hears back through its `edited` signal."""

from typing import Any

from PySide6.QtGui import QUndoCommand

from app.gui import tasks


class GraphEdit(QUndoCommand):
    """A step whose redo and undo are each one host call; `view` has `edited` and `status`."""

    def __init__(self, text: str, view: Any) -> None:
        super().__init__(text)
        self.host, self.view = view.host, view

    def run(self, work: Any, then: Any = None) -> None:
        def done(result: Any) -> None:
            if then is not None:
                then(result)
            self.view.edited.emit()

        tasks.run(
            lambda _ctx: work(),
            on_done=done,
            on_error=lambda error: self.view.status.setText(f"Could not {self.text()}: {error}"),
            parent=self.view,
        )


class MergeEntities(GraphEdit):
    """Two nodes become one; undo splits them again (store.split_entity)."""

    def __init__(self, keep: str, drop: str, view: Any) -> None:
        super().__init__("merge two entities", view)
        self.keep, self.drop = keep, drop
        self.moved: Any = None

    def redo(self) -> None:
        def merged(moved: Any) -> None:
            self.moved = moved

        keep, drop = self.keep, self.drop
        self.run(lambda: self.host.merge_entities(keep, drop), merged)

    def undo(self) -> None:
        moved = self.moved
        if moved is None:
            return

        def split(entity: Any) -> None:
            self.drop = entity.id  # a redo merges the restored node again

        self.run(lambda: self.host.split_entity(moved), split)


class RenameEntity(GraphEdit):
    def __init__(self, entity_id: str, old: str, new: str, view: Any) -> None:
        super().__init__(f"rename {old!r}", view)
        self.entity_id, self.old, self.new = entity_id, old, new

    def redo(self) -> None:
        self.run(lambda: self.host.rename_entity(self.entity_id, self.new))

    def undo(self) -> None:
        self.run(lambda: self.host.rename_entity(self.entity_id, self.old))


class LinkNodes(GraphEdit):
    """Draw links (`linking`) or take them away; the other one undoes it."""

    def __init__(self, links: list[tuple[str, str, str]], linking: bool, view: Any) -> None:
        super().__init__("link two nodes" if linking else "unlink two nodes", view)
        self.links, self.linking = list(links), linking

    def _link(self) -> None:
        for src, dst, relation in self.links:
            self.host.link(src, dst, relation)

    def _unlink(self) -> None:
        for src, dst, relation in self.links:
            self.host.unlink(src, dst, relation)

    def redo(self) -> None:
        self.run(self._link if self.linking else self._unlink)

    def undo(self) -> None:
        self.run(self._unlink if self.linking else self._link)
