"""What the graph shows under its filters, made ready to put on screen: which nodes show, the
lines of their edges and what the status line counts. A reload prepares it on its worker with
the layout, so the GUI thread only places items; a change of filters prepares it again."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QLineF, QRectF

from app.gui.graph.scene import edge_lines
from app.gui.graph.shown import Shown, visible


@dataclass(frozen=True)
class Filtered:
    shown: set[str]  # the ids of the nodes shown
    lines: list[QLineF]  # the edges between them
    bounds: QRectF  # of the lines
    entities: int  # entities shown

    def status(self) -> str:
        memories = len(self.shown) - self.entities
        return f"{self.entities:,} entities · {memories:,} memories · {len(self.lines):,} links"


def filtered(
    nodes: Sequence[Any],
    edges: Sequence[tuple[str, str, str]],
    positions: Mapping[str, tuple[float, float]],
    filters: Shown,
) -> Filtered:
    """The nodes (core.store.reads.GraphNode) and edges shown under `filters`. Plain Python
    and value types only (no item): it runs on a worker as well as on the GUI thread."""
    shown = visible(nodes, edges, filters)
    lines, bounds = edge_lines(edges, positions, shown)
    entities = sum(1 for node in nodes if node.is_entity and node.id in shown)
    return Filtered(shown, lines, bounds, entities)


@dataclass(frozen=True)
class Drawing:
    """A reload's answer: the graph, where its nodes go and what shows of it."""

    graph: Any  # core.store.reads.Graph
    positions: dict[str, tuple[float, float]]
    filtered: Filtered
    filters: tuple[Any, ...]  # the filters it was prepared under (GraphView.filters_key)
    extent: QRectF | None  # of every node's position


def extent(positions: Mapping[str, tuple[float, float]]) -> QRectF | None:
    if not positions:
        return None
    xs = [x for x, _ in positions.values()]
    ys = [y for _, y in positions.values()]
    return QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
