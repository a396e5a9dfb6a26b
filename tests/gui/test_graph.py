"""The memory graph on a real host: the demo conversations' people and places, laid out off
the GUI thread, found by name, memories opened by a click."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import Qt

from app.gui.main import MnemoApp
from core.memory import EpisodicMemory
from tests.gui.conftest import screenshot

DEMO = Path(__file__).resolve().parents[2] / "docs/demo/three-conversations.json"
START = datetime(2026, 10, 1, tzinfo=UTC)
PEOPLE = ["Priya", "Tomás", "Ana", "Jonas", "Leila", "Marco", "Sofia", "Ken"]
PLACES = ["Porto", "Berlin", "Sintra", "Alfama", "Toronto", "Oslo"]


def seed_graph(host) -> None:  # type: ignore[no-untyped-def]
    """A month of memories that mention people and places, as the team links them."""
    start = START
    people = [host.store.entity("person", name) for name in PEOPLE]
    places = [host.store.entity("place", name) for name in PLACES]
    for n in range(120):
        who, where = people[n % len(people)], places[(n * 5) % len(places)]
        memory = host.store.add(
            EpisodicMemory(
                summary=f"Met {who.name} in {where.name} about the grant (note {n})",
                occurred_at=start + timedelta(hours=6 * n),
            )
        )
        host.store.link(memory.id, who.id, "mentions")
        host.store.link(memory.id, where.id, "mentions")


def test_the_graph_shows_people_places_and_memories(mnemo: MnemoApp, qtbot) -> None:
    host, window = mnemo.host, mnemo.window
    host.ingest_chat(DEMO)
    seed_graph(host)
    graph = window.graph
    window.nav.setCurrentRow(2)
    with qtbot.waitSignal(graph.laid_out, timeout=60_000):
        graph.reload()
    labels = {item.label for item in graph.nodes.values()}
    assert {"Marta", "Lisbon", "Priya", "Porto"} <= labels
    assert "links" in graph.status.text() and len(graph.edges._lines) >= 240
    graph.view.fitInView(graph.scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
    screenshot(window, "memory-graph")

    graph.find.setText("marta")
    graph.focus_match()
    (selected,) = graph.scene.selectedItems()
    assert selected.label == "Marta" and selected.entity

    memory = next(item for item in graph.nodes.values() if not item.entity)
    graph._open(memory.node_id)
    dialog = graph.opened_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: memory.label[:20] in dialog.text.toPlainText(), timeout=30_000)
    dialog.close()

    # A new link redraws the graph, keeping the nodes where they were.
    before = dict(graph.positions)
    with qtbot.waitSignal(graph.laid_out, timeout=60_000):
        host.store.link(memory.node_id, host.store.entity("person", "Marta").id, "mentions")
    moved = [n for n in before if n in graph.positions and before[n] != graph.positions[n]]
    assert len(graph.positions) == len(before) and len(moved) <= len(before)


def test_two_nodes_for_one_person_merge_in_the_graph_and_undo(mnemo: MnemoApp, qtbot) -> None:
    host, graph = mnemo.host, mnemo.window.graph
    seed_graph(host)
    nair = host.store.entity("organization", "Priya Nair")  # spaCy called her a company
    note = host.store.add(
        EpisodicMemory(summary="Priya Nair is on call this week", occurred_at=START)
    )
    host.store.link(note.id, nair.id, "mentions")
    with qtbot.waitSignal(graph.laid_out, timeout=60_000):
        graph.reload()
    by_label = {item.label: item for item in graph.nodes.values()}
    by_label["Priya"].setSelected(True)
    by_label["Priya Nair"].setSelected(True)
    assert graph.merge.isEnabled()
    with qtbot.waitSignal(graph.merged, timeout=30_000):
        qtbot.mouseClick(graph.merge, Qt.MouseButton.LeftButton)
    names = {e.name for e in host.store.entities()}
    assert "Priya" in names and "Priya Nair" not in names  # the one with more links stays
    priya = host.store.entity("person", "Priya")
    assert (note.id, priya.id) in {(x.src, x.dst) for x in host.store.links(note.id)}
    with qtbot.waitSignal(graph.laid_out, timeout=60_000):
        pass  # the store change redraws the graph
    assert "Priya Nair" not in {item.label for item in graph.nodes.values()}

    with qtbot.waitSignal(graph.merged, timeout=30_000):
        graph.undo_stack.undo()
    assert {"Priya", "Priya Nair"} <= {e.name for e in host.store.entities()}
    assert (note.id, priya.id) not in {(x.src, x.dst) for x in host.store.links(note.id)}
