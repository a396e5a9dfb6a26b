"""Which nodes the graph shows: kinds, a time span, the neighbourhood of one node."""

from datetime import UTC, datetime, timedelta

from app.gui.graph.shown import Shown, visible
from core.store.reads import GraphNode

NOW = datetime(2026, 11, 30, tzinfo=UTC)
NODES = [
    GraphNode("marta", "person", "Marta", True, NOW - timedelta(days=90)),
    GraphNode("lisbon", "place", "Lisbon", True, NOW - timedelta(days=90)),
    GraphNode("old", "episodic", "Dinner in Lisbon", False, NOW - timedelta(days=60)),
    GraphNode("new", "episodic", "Marta's birthday", False, NOW - timedelta(days=2)),
    GraphNode("far", "semantic", "Bike lock code", False, NOW - timedelta(days=1)),
    GraphNode("farther", "semantic", "Spare key", False, NOW - timedelta(days=1)),
]
EDGES = [
    ("old", "lisbon", "mentions"),
    ("old", "marta", "mentions"),
    ("new", "marta", "mentions"),
    ("new", "far", "related"),
    ("far", "farther", "related"),
]


def test_everything_shows_by_default() -> None:
    assert visible(NODES, EDGES, Shown()) == {n.id for n in NODES}


def test_kinds_filter() -> None:
    assert visible(NODES, EDGES, Shown(hidden=frozenset({"episodic", "semantic"}))) == {
        "marta",
        "lisbon",
    }


def test_a_time_span_keeps_recent_memories_and_the_entities_they_name() -> None:
    shown = visible(NODES, EDGES, Shown(since=NOW - timedelta(days=7)))
    assert shown == {"marta", "new", "far", "farther"}  # Lisbon only in an older memory


def test_the_neighbourhood_is_within_depth_links() -> None:
    assert visible(NODES, EDGES, Shown(focus="lisbon", depth=1)) == {"lisbon", "old"}
    assert visible(NODES, EDGES, Shown(focus="lisbon", depth=2)) == {"lisbon", "old", "marta"}
    assert visible(NODES, EDGES, Shown(focus="gone")) == {n.id for n in NODES}
