"""The memory graph: people, places and organisations (large circles) and the memories that
mention them (small), laid out off the GUI thread, starting from where nodes already were.
Wheel to zoom, drag the background to pan, drag a node to move it, hover for a name, click to
open, type to find a node. The legend's boxes and the time span filter what is shown; for a
large graph, "Neighbourhood" shows only what is near the selected node. Rename, link, unlink
and merge go through the undo stack and the nodes' history (app.gui.graph.editing).

The GUI thread only places items: the read, the layout, what the filters show and the edges'
lines are prepared on a worker (app.gui.graph.drawing), the items get one look per kind, and
the scene keeps no index (rebuilding one for 2,000 moved nodes held the GUI thread at once)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui import tasks
from app.gui.graph.drawing import Drawing, Filtered, extent, filtered
from app.gui.graph.editing import EditingMixin
from app.gui.graph.scene import (
    ALWAYS_NAMED,
    COLOURS,
    LABEL_LOD,
    EdgesItem,
    NodeItem,
    edge_lines,
)
from app.gui.graph.shown import Shown
from app.gui.wiring import debounced, undo_stack

# The kinds a box in the legend shows or hides (the rarer ones are always shown).
LEGEND = {
    "person": "people",
    "place": "places",
    "organization": "organisations",
    "project": "projects",
    "episodic": "episodic",
    "semantic": "semantic",
    "procedural": "procedural",
}
SPANS = [
    ("Any time", None),
    ("Last 7 days", timedelta(days=7)),
    ("Last 30 days", timedelta(days=30)),
    ("Last year", timedelta(days=365)),
]
NEIGHBOURHOOD_DEPTH = 2
PLACE_CHUNK = 100  # nodes placed per turn of the event loop (~20 ms of item creation)


class ZoomingView(QGraphicsView):
    zoomed = Signal()

    def wheelEvent(self, event: QWheelEvent) -> None:
        factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
        self.scale(factor, factor)
        self.zoomed.emit()


class GraphView(EditingMixin, QWidget):
    laid_out = Signal()  # a layout reached the screen
    edited = Signal()  # a merge, rename, link or unlink (or its undo) reached the store
    opened = Signal(str, bool)  # node id, whether it is an entity
    edit_requested = Signal(str)  # a memory clicked: open it in the editor

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host: Any = None
        self.positions: dict[str, tuple[float, float]] = {}
        self.nodes: dict[str, NodeItem] = {}
        self.shown: set[str] = set()
        self.scene = QGraphicsScene(self)
        # No BSP index: a reload moves every node, and the index was rebuilt for all of them
        # at the next paint, in one go (~20–50 ms here). A scan of 2,000 items costs little.
        self.scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.view = ZoomingView(self.scene)
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.view.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.view.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.view.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.edges = EdgesItem()
        self.scene.addItem(self.edges)
        self.find = QLineEdit()
        self.find.setPlaceholderText("Find a person, place or memory")
        self.find.setClearButtonEnabled(True)
        self.find.returnPressed.connect(self.focus_match)
        self.near = QPushButton("Neighbourhood")
        self.near.setCheckable(True)
        self.near.setToolTip("Show only what is within two links of the selected node")
        self.rename = QPushButton("Rename…")
        self.rename.setToolTip("Give the selected person, place or thing another name")
        self.link = QPushButton("Link")
        self.link.setToolTip("Link the two selected nodes, or unlink them (Ctrl+Z undoes)")
        self.merge = QPushButton("Merge")
        self.merge.setToolTip("Two selected people or places are one: merge them (Ctrl+Z undoes)")
        for button in (self.rename, self.link, self.merge):
            button.setEnabled(False)
        self.undo_stack = undo_stack(self)
        self.edits = tasks.Serial()  # the stack's steps reach the store in order
        self.status = QLabel()
        self.status.setObjectName("muted")
        self.kinds: dict[str, QCheckBox] = {}
        legend = QHBoxLayout()
        for kind, label in LEGEND.items():
            box = QCheckBox(label)
            box.setChecked(True)
            box.setStyleSheet(f"QCheckBox {{ color: {COLOURS[kind]}; }}")
            box.toggled.connect(lambda _on: self.apply_filters())
            self.kinds[kind] = box
            legend.addWidget(box)
        legend.addStretch(1)
        self.span = QComboBox()
        for label, span in SPANS:
            self.span.addItem(label, span)
        self.span.setToolTip("Memories from this span, and who and what they name")
        self.span.currentIndexChanged.connect(lambda _index: self.apply_filters())
        column = QVBoxLayout(self)
        column.setContentsMargins(14, 12, 14, 12)
        top = QHBoxLayout()
        top.addWidget(self.find, 1)
        for widget in (self.span, self.near, self.rename, self.link, self.merge):
            top.addWidget(widget)
        column.addLayout(top)
        column.addWidget(self.status)
        column.addWidget(self.view, 1)
        column.addLayout(legend)
        # Changes come in bursts while a batch is written.
        self._refresh = debounced(self, 1000, self._refresh_if_seen)
        self._stale = False  # the store changed while the graph was not on screen
        self._task: tasks.Task | None = None
        self._graph: Any = None
        self._edge_list: list[tuple[str, str, str]] = []
        self._generation = 0
        self._focus: str | None = None
        self._small = True  # few enough entities to name them all at any zoom
        self._fitted = False  # the view was fitted to the graph once
        self._named: bool | None = None  # whether names are shown now
        self.view.zoomed.connect(self.show_names)

        self.scene.selectionChanged.connect(self._selection_changed)
        self.merge.clicked.connect(self.merge_selected)
        self.link.clicked.connect(self.link_selected)
        self.rename.clicked.connect(self._ask_rename)
        self.near.toggled.connect(self._toggle_neighbourhood)

    def set_host(self, host: Any) -> None:
        self.host = host
        self._refresh.start()

    def changed(self, change: Any) -> None:
        # A deleted input can take entities with it (they go with their last mention).
        if change.kind in ("entity", "link", "memory", "source") and self.host is not None:
            self._refresh.start()

    def _refresh_if_seen(self) -> None:
        """A change's redraw waits until the graph is on screen: laying out and placing
        2,000 nodes for a page nobody looks at took the window's time at start-up."""
        if self.isVisible():
            self.reload()
        else:
            self._stale = True

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale and self.host is not None:
            self.reload()

    def reload(self) -> None:
        """Read the graph and lay it out on a worker; the current picture stays meanwhile."""
        self._refresh.stop()  # this reload is the one a pending change asked for
        if self.host is None:
            return
        self._stale = False
        if self._task is not None:
            self._task.cancel()
        host, previous = self.host, dict(self.positions)
        filters, key = self.filters(), self.filters_key()

        def work(_ctx: Any) -> Drawing:
            from core.graph_layout import layout

            graph = host.graph()
            ids = [node.id for node in graph.nodes]
            positions = layout(ids, [(a, b) for a, b, _ in graph.edges], previous=previous)
            shown = filtered(graph.nodes, graph.edges, positions, filters)
            return Drawing(graph, positions, shown, key, extent(positions))

        self.status.setText("Laying out…")
        self._generation += 1
        generation = self._generation  # a newer reload makes this one's answer stale
        self._task = tasks.run(
            work,
            on_done=lambda result: self._draw(result) if generation == self._generation else None,
            on_error=self._failed,
            parent=self,
        )

    # -- what is shown -----------------------------------------------------------------------

    def filters(self) -> Shown:
        span = self.span.currentData()
        return Shown(
            hidden=frozenset(k for k, box in self.kinds.items() if not box.isChecked()),
            since=datetime.now(UTC) - span if span else None,
            focus=self._focus,
            depth=NEIGHBOURHOOD_DEPTH,
        )

    def filters_key(self) -> tuple[Any, ...]:
        """What the filters are set to (the span as chosen, not as a time)."""
        hidden = frozenset(k for k, box in self.kinds.items() if not box.isChecked())
        return hidden, self.span.currentIndex(), self._focus

    def apply_filters(self) -> None:
        """Show the nodes the legend, the span and the neighbourhood let through."""
        if self._graph is not None:
            self._show(filtered(self._graph.nodes, self._edge_list, self.positions, self.filters()))

    def _show(self, shown: Filtered) -> None:
        self.shown = shown.shown
        for node_id, item in self.nodes.items():
            if item.isVisible() != (node_id in self.shown):  # most stay as they were
                item.setVisible(node_id in self.shown)
        self.edges.set_lines(shown.lines, shown.bounds)
        self.status.setText(shown.status())

    def focus_match(self) -> None:
        """Centre and select the first node whose name holds the typed text."""
        wanted = self.find.text().strip().lower()
        for item in self.nodes.values():
            if wanted and wanted in item.label.lower() and item.isVisible():
                self.scene.clearSelection()
                item.setSelected(True)
                self.view.centerOn(item)
                return

    def _toggle_neighbourhood(self, on: bool) -> None:
        selected = self.selected_nodes()
        self._focus = selected[0].node_id if on and selected else None
        if on and self._focus is None:
            self.near.setChecked(False)  # nothing selected to centre on
            self.status.setText("Select a node first")
            return
        self.apply_filters()
        if self._focus in self.nodes:
            self.view.centerOn(self.nodes[self._focus])

    # -- drawing -----------------------------------------------------------------------------

    def _draw(self, drawing: Drawing) -> None:
        """Place the laid-out nodes, a chunk per turn of the event loop: creating 2,000 items
        at once held the GUI thread for ~0.4 s here."""
        self._task = None
        self.positions = drawing.positions
        # One repaint when all are placed, not one of the whole scene per chunk (the old
        # picture stays on screen meanwhile).
        self.view.viewport().setUpdatesEnabled(False)
        for node_id in list(self.nodes):
            if node_id not in drawing.positions:
                self.scene.removeItem(self.nodes.pop(node_id))
        self._place(drawing, 0, self._generation)

    def _place(self, drawing: Drawing, start: int, generation: int) -> None:
        if generation != self._generation:
            return  # a newer reload is under way; it places its own nodes
        shown = drawing.filtered.shown
        for node in drawing.graph.nodes[start : start + PLACE_CHUNK]:
            item = self.nodes.get(node.id)
            if item is None:
                item = NodeItem(
                    node.id, node.kind, node.label, node.is_entity, self._open, self._moved
                )
                self.nodes[node.id] = item
                self.scene.addItem(item)
            elif item.label != node.label:
                item.rename(node.label)
            item.setPos(QPointF(*self.positions[node.id]))
            if item.isVisible() != (node.id in shown):
                item.setVisible(node.id in shown)
        if start + PLACE_CHUNK < len(drawing.graph.nodes):
            QTimer.singleShot(
                0, self, lambda: self._place(drawing, start + PLACE_CHUNK, generation)
            )
            return
        self._placed(drawing)

    def _placed(self, drawing: Drawing) -> None:
        graph = drawing.graph
        self._graph = graph
        self._edge_list = list(graph.edges)
        self._small = sum(1 for node in graph.nodes if node.is_entity) <= ALWAYS_NAMED
        if self._focus is not None and self._focus not in self.nodes:
            self._focus = None  # the node it centred on went (merged, deleted)
            self.near.setChecked(False)
        if drawing.filters == self.filters_key():
            self._show(drawing.filtered)
        else:  # changed while the worker prepared it
            self.apply_filters()
        if drawing.extent is not None:
            self.scene.setSceneRect(drawing.extent.adjusted(-120, -80, 320, 80))  # names: right
            if not self._fitted:  # the first picture is the whole graph, never magnified
                self._fitted = True
                self.view.fitInView(self.scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
                if self.view.transform().m11() > 1:
                    self.view.resetTransform()
        self._named = None  # every item's name is set again, at the zoom now
        self.show_names()
        self.view.viewport().setUpdatesEnabled(True)  # and repaints, once
        self._selection_changed()
        self.laid_out.emit()

    def show_names(self) -> None:
        """Entities' names, in a small graph or once zoomed in enough to read them; smooth
        edges likewise (a whole large graph draws in half the time without them)."""
        named = self._small or self.view.transform().m11() >= LABEL_LOD
        if named == self._named:
            return
        self._named = named
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing, named)
        for item in self.nodes.values():
            item.show_name(named)

    def _draw_edges(self) -> None:
        self.edges.set_lines(*edge_lines(self._edge_list, self.positions, self.shown))

    def _moved(self, grabbed: NodeItem) -> None:
        """Nodes dragged by hand (the one grabbed and the others selected): their edges
        follow, and the next layout starts from where they are."""
        for item in {grabbed, *self.selected_nodes()}:
            self.positions[item.node_id] = (item.pos().x(), item.pos().y())
        self._draw_edges()

    def _open(self, node_id: str) -> None:
        """A memory opens in the browser's editor; an entity says how much is linked to it
        and what was last done to it by hand."""
        item = self.nodes.get(node_id)
        if item is None:
            return
        if item.entity:
            links = self._degree(node_id)
            self.status.setText(f"{item.label} ({item.kind}): {links} linked")
            host = self.host

            def said(events: list[Any]) -> None:
                if events and self.nodes.get(node_id) is item:
                    last = events[-1]
                    self.status.setText(
                        f"{item.label} ({item.kind}): {links} linked · {last.describe()}"
                    )

            tasks.run(lambda _ctx: host.graph_history(node_id), on_done=said, parent=self)
        else:
            self.edit_requested.emit(node_id)
        self.opened.emit(node_id, item.entity)

    def _failed(self, error: BaseException) -> None:
        self._task = None
        self.status.setText(f"Could not draw the graph: {error}")
