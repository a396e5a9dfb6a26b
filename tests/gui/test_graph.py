"""The memory graph on a real host: the demo conversations' people and places, laid out off
the GUI thread and placed in slices with one repaint, found by name, memories opened by a
click, filters that change while a reload is prepared honoured."""

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.gui.graph import view as graph_view
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


def seeded_graph(mnemo: MnemoApp, qtbot):  # type: ignore[no-untyped-def]
    """The graph page on screen, drawn from `seed_graph`'s month of memories."""
    graph = mnemo.window.graph
    mnemo.window.nav.setCurrentRow(2)
    seed_graph(mnemo.host)
    with qtbot.waitSignal(graph.laid_out, timeout=60_000):
        graph.reload()
    return graph


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

    # A memory clicked in the graph opens in the browser's editor.
    memory = next(item for item in graph.nodes.values() if not item.entity)
    graph._open(memory.node_id)
    browser = window.memories
    assert window.nav.currentRow() == 1 and browser.tabs.currentIndex() == 1
    qtbot.waitUntil(
        lambda: browser.editor.memory is not None and browser.editor.memory.id == memory.node_id,
        timeout=30_000,
    )
    assert memory.label[:20] in browser.detail.toPlainText()
    window.nav.setCurrentRow(2)

    # A new link redraws the graph, keeping the nodes where they were.
    before = dict(graph.positions)
    with qtbot.waitSignal(graph.laid_out, timeout=60_000):
        host.store.link(memory.node_id, host.store.entity("person", "Marta").id, "mentions")
    moved = [n for n in before if n in graph.positions and before[n] != graph.positions[n]]
    assert len(graph.positions) == len(before) and len(moved) <= len(before)


def test_two_nodes_for_one_person_merge_in_the_graph_and_undo(mnemo: MnemoApp, qtbot) -> None:
    host, graph = mnemo.host, mnemo.window.graph
    mnemo.window.nav.setCurrentRow(2)  # a change redraws the graph while it is on screen
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
    with qtbot.waitSignal(graph.edited, timeout=30_000):
        qtbot.mouseClick(graph.merge, Qt.MouseButton.LeftButton)
    names = {e.name for e in host.store.entities()}
    assert "Priya" in names and "Priya Nair" not in names  # the one with more links stays
    priya = host.store.entity("person", "Priya")
    assert (note.id, priya.id) in {(x.src, x.dst) for x in host.store.links(note.id)}
    with qtbot.waitSignal(graph.laid_out, timeout=60_000):
        pass  # the store change redraws the graph
    assert "Priya Nair" not in {item.label for item in graph.nodes.values()}

    with qtbot.waitSignal(graph.edited, timeout=30_000):
        graph.undo_stack.undo()
    assert {"Priya", "Priya Nair"} <= {e.name for e in host.store.entities()}
    assert (note.id, priya.id) not in {(x.src, x.dst) for x in host.store.links(note.id)}


def test_rename_link_unlink_filter_and_neighbourhood_in_the_graph(mnemo: MnemoApp, qtbot) -> None:
    host, graph = mnemo.host, seeded_graph(mnemo, qtbot)
    by_label = {item.label: item for item in graph.nodes.values()}
    ken = by_label["Ken"]

    # Rename, through the undo stack and the node's history.
    ken.setSelected(True)
    assert graph.rename.isEnabled() and not graph.link.isEnabled()
    with qtbot.waitSignal(graph.edited, timeout=30_000):
        graph.rename_entity(ken.node_id, "Ken Adams")
    assert {e.name for e in host.store.entities()} >= {"Ken Adams"}
    (event,) = host.store.graph_history(ken.node_id)
    assert event.describe() == "renamed (was 'Ken')" and event.actor == "user"
    qtbot.waitUntil(lambda: graph.nodes[ken.node_id].label == "Ken Adams", timeout=60_000)
    with qtbot.waitSignal(graph.edited, timeout=30_000):
        graph.undo_stack.undo()
    assert "Ken" in {e.name for e in host.store.entities()}

    # Link a memory to a place it was not linked to, then unlink it; each undoable.
    memory = next(
        item for item in graph.nodes.values() if not item.entity and "Met Ken" in item.label
    )
    oslo = by_label["Oslo"]
    pair = {memory.node_id, oslo.node_id}
    if any({a, b} == pair for a, b, _ in graph._edge_list):
        oslo = by_label["Sintra"] if "Oslo" in memory.label else by_label["Oslo"]
    graph.scene.clearSelection()
    memory.setSelected(True)
    oslo.setSelected(True)
    assert graph.link.text() == "Link" and not graph.merge.isEnabled()
    with qtbot.waitSignal(graph.edited, timeout=30_000):
        graph.link_selected()
    linked = {(x.dst, x.relation) for x in host.store.links(memory.node_id)}
    assert (oslo.node_id, "mentions") in linked
    history = host.store.graph_history(memory.node_id)
    assert history[-1].action == "linked" and history[-1].other_name == oslo.label
    qtbot.waitUntil(lambda: graph.link.text() == "Unlink", timeout=60_000)  # redrawn
    with qtbot.waitSignal(graph.edited, timeout=30_000):
        graph.link_selected()
    assert (oslo.node_id, "mentions") not in {
        (x.dst, x.relation) for x in host.store.links(memory.node_id)
    }
    with qtbot.waitSignal(graph.edited, timeout=30_000):
        graph.undo_stack.undo()  # the unlink
    assert (oslo.node_id, "mentions") in {
        (x.dst, x.relation) for x in host.store.links(memory.node_id)
    }
    qtbot.waitUntil(lambda: not graph._refresh.isActive() and graph._task is None, timeout=60_000)

    # Filters: only people; then the neighbourhood of one person.
    for kind, box in graph.kinds.items():
        box.setChecked(kind == "person")
    shown = [item for item in graph.nodes.values() if item.isVisible()]
    assert shown and all(item.kind == "person" for item in shown)
    for box in graph.kinds.values():
        box.setChecked(True)
    graph.scene.clearSelection()
    priya = next(item for item in graph.nodes.values() if item.label == "Priya")
    priya.setSelected(True)
    graph.near.setChecked(True)
    near = {item.node_id for item in graph.nodes.values() if item.isVisible()}
    assert priya.node_id in near and len(near) < len(graph.nodes)
    assert all(item.label != "Marta" for item in graph.nodes.values() if item.isVisible())
    screenshot(mnemo.window, "memory-graph-neighbourhood")
    graph.near.setChecked(False)
    assert all(item.isVisible() for item in graph.nodes.values())


def test_a_dragged_node_takes_its_edges_along(mnemo: MnemoApp, qtbot) -> None:
    graph = seeded_graph(mnemo, qtbot)
    porto = next(item for item in graph.nodes.values() if item.label == "Porto")
    before = porto.pos()
    viewport = graph.view.viewport()
    start = graph.view.mapFromScene(porto.scenePos())
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for step in (1, 2, 3):  # a drag: moves with the button held
        at = start + QPoint(20 * step, 12 * step)
        move = QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(at),
            QPointF(viewport.mapToGlobal(at)),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(viewport, move)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=start + QPoint(60, 36))
    assert porto.pos() != before  # it moved with the mouse
    x, y = graph.positions[porto.node_id]
    assert (x, y) == (porto.pos().x(), porto.pos().y())
    ends = {(p.x(), p.y()) for line in graph.edges._lines for p in (line.p1(), line.p2())}
    assert (x, y) in ends


def test_a_change_redraws_the_graph_when_it_is_next_shown(mnemo: MnemoApp, qtbot) -> None:
    host, window, graph = mnemo.host, mnemo.window, mnemo.window.graph
    window.nav.setCurrentRow(1)  # the memory browser: the graph is not on screen
    seed_graph(host)
    qtbot.waitUntil(lambda: graph._stale, timeout=30_000)
    assert not graph.nodes  # nothing laid out for a page nobody looks at
    with qtbot.waitSignal(graph.laid_out, timeout=60_000):
        window.nav.setCurrentRow(2)
    assert {"Priya", "Porto"} <= {item.label for item in graph.nodes.values()}


def test_undo_steps_run_in_order_and_bring_back_what_an_unlink_took(mnemo: MnemoApp, qtbot) -> None:
    host, graph = mnemo.host, mnemo.window.graph
    mnemo.window.nav.setCurrentRow(2)
    note = host.store.add(EpisodicMemory(summary="Coffee with Ines in Braga", occurred_at=START))
    ines = host.store.entity("person", "Ines")
    host.store.link(note.id, ines.id, "mentions")  # her only link: she goes with it
    other = host.store.add(EpisodicMemory(summary="Ines sent the slides", occurred_at=START))
    with qtbot.waitSignal(graph.laid_out, timeout=60_000):
        graph.reload()
    nodes = graph.nodes
    nodes[note.id].setSelected(True)
    nodes[ines.id].setSelected(True)
    assert graph.link.text() == "Unlink"
    with qtbot.waitSignals([graph.edited, graph.edited], timeout=60_000):
        graph.link_selected()  # unlink: Ines goes with her last link…
        graph.undo_stack.undo()  # …and the undo, queued at once, runs after it
    assert [(x.src, x.dst) for x in host.store.links(note.id)] == [(note.id, ines.id)]
    assert host.store.entity("person", "Ines").id == ines.id  # back under her own id

    # Rename, then merge with another node, then undo both: each step finds its node.
    host.store.link(other.id, host.store.entity("person", "Duarte").id, "mentions")
    with qtbot.waitSignal(graph.laid_out, timeout=60_000):
        graph.reload()
    duarte = next(i for i in graph.nodes.values() if i.label == "Duarte")
    with qtbot.waitSignals([graph.edited] * 4, timeout=60_000):
        graph.rename_entity(ines.id, "Inês")
        graph.scene.clearSelection()
        graph.nodes[ines.id].setSelected(True)
        duarte.setSelected(True)
        graph.merge_selected()
        graph.undo_stack.undo()  # the merge
        graph.undo_stack.undo()  # the rename
    names = {e.name for e in host.store.entities()}
    assert {"Ines", "Duarte"} <= names and "Inês" not in names
    assert [(x.src, x.dst) for x in host.store.links(note.id)] == [(note.id, ines.id)]


def test_a_refused_edit_leaves_the_undo_stack(mnemo: MnemoApp, qtbot) -> None:
    host, graph = mnemo.host, seeded_graph(mnemo, qtbot)
    ken = next(i for i in graph.nodes.values() if i.label == "Ken")
    graph.rename_entity(ken.node_id, "Priya")  # taken: the store refuses
    qtbot.waitUntil(lambda: "already a node" in graph.status.text(), timeout=30_000)
    graph.undo_stack.undo()  # does nothing, and drops the refused step
    assert graph.undo_stack.count() == 0
    assert {"Ken", "Priya"} <= {e.name for e in host.store.entities()}


def test_a_reload_places_nodes_in_slices_and_repaints_once(
    mnemo: MnemoApp, qtbot, monkeypatch
) -> None:
    """The read, the layout, the filters and the edges' lines are prepared on a worker; the
    GUI thread places the nodes a slice per turn of its event loop, with the view's repaints
    held until all are placed: one repaint, not one of the whole scene per slice."""
    graph = seeded_graph(mnemo, qtbot)
    monkeypatch.setattr(graph_view, "PLACE_CHUNK", 20)  # 134 nodes: seven slices
    viewport = graph.view.viewport()
    events: list[str] = []

    class Watch(QObject):
        def eventFilter(self, _watched, event) -> bool:  # type: ignore[no-untyped-def]
            if event.type() == QEvent.Type.Paint:
                events.append("paint")
            return False

    watch = Watch()
    viewport.installEventFilter(watch)
    turns = QTimer()
    turns.timeout.connect(lambda: events.append("turn"))
    graph.laid_out.connect(lambda: events.append("laid out"))
    with qtbot.waitSignal(graph.laid_out, timeout=60_000):
        graph.reload()
        task = graph._task
        task.finished.connect(lambda: (events.append("placing"), turns.start(0)))
    turns.stop()
    qtbot.waitUntil(lambda: events[-1] == "paint", timeout=30_000)  # the one repaint
    viewport.removeEventFilter(watch)
    placing = events[events.index("placing") : events.index("laid out")]
    assert "turn" in placing and "paint" not in placing
    assert viewport.updatesEnabled()


def test_filters_changed_while_a_reload_is_prepared_are_the_ones_shown(
    mnemo: MnemoApp, qtbot, monkeypatch
) -> None:
    host, graph = mnemo.host, seeded_graph(mnemo, qtbot)
    asked, answer = threading.Event(), threading.Event()
    read = host.graph

    def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        asked.set()
        answer.wait(60)
        return read(*args, **kwargs)

    monkeypatch.setattr(host, "graph", held)
    graph.reload()  # prepared under the filters of now: every kind shown
    qtbot.waitUntil(asked.is_set, timeout=30_000)
    graph.kinds["person"].setChecked(False)  # meanwhile, people hidden
    with qtbot.waitSignal(graph.laid_out, timeout=60_000):
        answer.set()
    people = [item for item in graph.nodes.values() if item.kind == "person"]
    assert people and not any(item.isVisible() for item in people)
    assert any(item.isVisible() for item in graph.nodes.values() if item.kind == "place")
    assert "0 entities" not in graph.status.text()
