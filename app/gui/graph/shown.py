"""Which nodes the graph shows under its filters: the kinds ticked in the legend, a time span
for memories, and "the neighbourhood of this node" for large graphs. Pure, so it is tested
without a window."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Shown:
    hidden: frozenset[str] = frozenset()  # kinds unticked in the legend
    since: datetime | None = None  # memories from this time on
    focus: str | None = None  # only nodes within `depth` links of this one
    depth: int = 2


def visible(
    nodes: Iterable[object], edges: Sequence[tuple[str, str, str]], shown: Shown
) -> set[str]:
    """The ids of the nodes (core.store.reads.GraphNode) to show. An entity of a shown kind
    shows when no time span is set, or when a memory it is linked to is in the span."""
    kept: dict[str, bool] = {}  # id → is an entity
    for node in nodes:
        kind, entity, when = node.kind, node.is_entity, node.when  # type: ignore[attr-defined]
        if kind in shown.hidden:
            continue
        if not entity and shown.since is not None and (when is None or when < shown.since):
            continue
        kept[node.id] = entity  # type: ignore[attr-defined]
    if shown.since is not None:
        memories = {n for n, entity in kept.items() if not entity}
        linked = {b if a in memories else a for a, b, _ in edges if a in memories or b in memories}
        kept = {n: entity for n, entity in kept.items() if not entity or n in linked}
    if shown.focus is None or shown.focus not in kept:
        return set(kept)
    near, frontier = {shown.focus}, {shown.focus}
    for _ in range(shown.depth):
        reached = {b for a, b, _ in edges if a in frontier} | {
            a for a, b, _ in edges if b in frontier
        }
        frontier = (reached & kept.keys()) - near
        near |= frontier
    return near
