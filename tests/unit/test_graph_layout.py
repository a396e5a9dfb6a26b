"""The graph layout: linked nodes end up near each other, others apart; the previous positions
anchor a new layout; the same graph gives the same picture."""

import math

from core.graph_layout import SPACING, layout


def distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.dist(a, b)


def test_linked_nodes_are_closer_than_strangers() -> None:
    nodes = [f"n{i}" for i in range(40)]
    # Two clusters of twenty, each a ring, no edge between them.
    edges = [(f"n{i}", f"n{(i + 1) % 20}") for i in range(20)]
    edges += [(f"n{20 + i}", f"n{20 + (i + 1) % 20}") for i in range(20)]
    pos = layout(nodes, edges)
    assert set(pos) == set(nodes) and all(math.isfinite(c) for p in pos.values() for c in p)
    linked = sum(distance(pos[a], pos[b]) for a, b in edges) / len(edges)
    across = sum(distance(pos[f"n{i}"], pos[f"n{20 + i}"]) for i in range(20)) / 20
    assert linked < across and linked < 3 * SPACING
    assert layout(nodes, edges) == pos  # deterministic


def test_a_new_layout_starts_from_where_nodes_were() -> None:
    nodes, edges = ["a", "b", "c"], [("a", "b"), ("b", "c")]
    first = layout(nodes, edges)
    again = layout([*nodes, "d"], [*edges, ("c", "d")], previous=first, iterations=5)
    assert all(distance(first[n], again[n]) < 2 * SPACING for n in nodes)
    assert layout([], []) == {}
