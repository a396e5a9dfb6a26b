"""Editing the graph by hand: merge two nodes for one person, rename, link and unlink, each
through the undo stack (app.gui.graph.undo). A mixin of GraphView (app.gui.graph.view), kept
apart for size: it shares its state."""

from typing import Any

from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QGraphicsScene, QInputDialog, QPushButton

from app.gui.graph.scene import NodeItem
from app.gui.graph.undo import LinkNodes, MergeEntities, RenameEntity


class EditingMixin:
    # What these methods use of the view (see GraphView), a QWidget.
    host: Any
    scene: QGraphicsScene
    nodes: dict[str, NodeItem]
    merge: QPushButton
    rename: QPushButton
    link: QPushButton
    undo_stack: QUndoStack
    _edge_list: list[tuple[str, str, str]]

    def selected_nodes(self) -> list[NodeItem]:
        return [i for i in self.scene.selectedItems() if isinstance(i, NodeItem)]

    def selected_entities(self) -> list[NodeItem]:
        return [i for i in self.selected_nodes() if i.entity]

    def _selection_changed(self) -> None:
        nodes = self.selected_nodes()
        self.merge.setEnabled(len(nodes) == 2 and all(i.entity for i in nodes))
        self.rename.setEnabled(len(nodes) == 1 and nodes[0].entity)
        self.link.setEnabled(len(nodes) == 2)
        if len(nodes) == 2:
            self.link.setText("Unlink" if self._between(*nodes) else "Link")

    def _between(self, a: NodeItem, b: NodeItem) -> list[tuple[str, str, str]]:
        ends = {a.node_id, b.node_id}
        return [edge for edge in self._edge_list if {edge[0], edge[1]} == ends]

    def merge_selected(self) -> None:
        """Merge the two selected entities into the one with more links."""
        pair = self.selected_entities()
        if len(pair) != 2 or self.host is None:
            return
        degree = {item.node_id: self._degree(item.node_id) for item in pair}
        keep, drop = sorted(pair, key=lambda item: -degree[item.node_id])
        self.undo_stack.push(MergeEntities(keep.node_id, drop.node_id, self))

    def link_selected(self) -> None:
        """Link the two selected nodes ("related"), or take away the links between them. A
        memory and an entity are linked memory → entity, as the memory team links them."""
        pair = self.selected_nodes()
        if len(pair) != 2 or self.host is None:
            return
        existing = self._between(*pair)
        if existing:
            self.undo_stack.push(LinkNodes(existing, False, self))
            return
        src, dst = sorted(pair, key=lambda item: item.entity)  # the memory first
        relation = "mentions" if dst.entity and not src.entity else "related"
        self.undo_stack.push(LinkNodes([(src.node_id, dst.node_id, relation)], True, self))

    def rename_entity(self, node_id: str, name: str) -> None:
        item = self.nodes.get(node_id)
        name = " ".join(name.split())
        if item is None or not item.entity or not name or name == item.label or not self.host:
            return
        self.undo_stack.push(RenameEntity(node_id, item.label, name, self))

    def _ask_rename(self) -> None:
        selected = self.selected_entities()
        if len(selected) != 1:
            return
        item = selected[0]
        name, ok = QInputDialog.getText(
            self, "Rename", f"New name for {item.label}:", text=item.label
        )
        if ok:
            self.rename_entity(item.node_id, name)

    def _degree(self, node_id: str) -> int:
        return sum(1 for edge in self._edge_list if node_id in edge[:2])
