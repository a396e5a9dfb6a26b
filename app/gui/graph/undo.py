"""Undoable edits made in the graph (Ctrl+Z / Ctrl+Shift+Z): merge, rename, link, unlink. Each
step is a store change made as the user, so the nodes' graph history records the undo too;
the work runs off the GUI thread, one step after another (the view's `edits` queue), and the
view hears back through its `edited` signal. A step the store refused leaves the stack."""

from typing import Any

from PySide6.QtGui import QUndoCommand


class GraphEdit(QUndoCommand):
    """A step whose redo and undo are each one host call; `view` has `edited` and `status`."""

    def __init__(self, text: str, view: Any) -> None:
        super().__init__(text)
        self.host, self.view = view.host, view
        self.failed = False

    def run(self, work: Any, then: Any = None) -> None:
        if self.failed:
            return

        def done(result: Any) -> None:
            if then is not None:
                then(result)
            self.view.edited.emit()

        def refused(error: BaseException) -> None:
            self.failed = True
            self.setObsolete(True)  # the next undo or redo drops it from the stack
            self.view.status.setText(f"Could not {self.text()}: {error}")

        self.view.edits.run(lambda _ctx: work(), on_done=done, on_error=refused, parent=self.view)


class MergeEntities(GraphEdit):
    """Two nodes become one; undo splits them again (store.split_entity)."""

    def __init__(self, keep: str, drop: str, view: Any) -> None:
        super().__init__("merge two entities", view)
        self.keep, self.drop = keep, drop
        self.moved: Any = None

    def redo(self) -> None:
        def merge() -> Any:
            self.moved = self.host.merge_entities(self.keep, self.drop)
            return self.moved

        self.run(merge)

    def undo(self) -> None:
        def split(entity: Any) -> None:
            self.drop = entity.id  # a redo merges the restored node again

        # Read when the step runs: the merge before it in the queue has set it by then.
        self.run(lambda: self.host.split_entity(self.moved), split)


class RenameEntity(GraphEdit):
    def __init__(self, entity_id: str, old: str, new: str, view: Any) -> None:
        super().__init__(f"rename {old!r}", view)
        self.entity_id, self.old, self.new = entity_id, old, new

    def redo(self) -> None:
        self.run(lambda: self.host.rename_entity(self.entity_id, self.new))

    def undo(self) -> None:
        self.run(lambda: self.host.rename_entity(self.entity_id, self.old))


class LinkNodes(GraphEdit):
    """Draw links (`linking`) or take them away; the other one undoes it. A person or place
    whose last link goes is deleted with it (as everywhere in the store), so taking links
    away first notes the entities at their ends, and drawing them again brings those back."""

    def __init__(self, links: list[tuple[str, str, str]], linking: bool, view: Any) -> None:
        super().__init__("link two nodes" if linking else "unlink two nodes", view)
        self.links, self.linking = list(links), linking
        self.ends: dict[str, Any] = {}  # entity id → the Entity, noted before an unlink

    def _link(self) -> None:
        renamed = {e.id: self.host.restore_entity(e) for e in self.ends.values()}
        for src, dst, relation in self.links:
            self.host.link(renamed.get(src, src), renamed.get(dst, dst), relation)

    def _unlink(self) -> None:
        nodes = {node for src, dst, _ in self.links for node in (src, dst)}
        self.ends = {e.id: e for e in self.host.store.entities(sorted(nodes))}
        for src, dst, relation in self.links:
            self.host.unlink(src, dst, relation)

    def redo(self) -> None:
        self.run(self._link if self.linking else self._unlink)

    def undo(self) -> None:
        self.run(self._unlink if self.linking else self._link)
