"""The memory browser on a real host and store: pages in as it scrolls, filters by type,
searches as you type, opens a memory with the inputs it came from, follows store changes."""

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt, QUrl

from app.gui.main import MnemoApp
from app.gui.memories.model import PAGE
from app.gui.memories.view import bulk_question
from core.errors import NotFound
from core.memory import EpisodicMemory, KnowledgeVaultItem, ProceduralMemory, SemanticMemory
from core.memory.models import Source, SourceKind
from tests.gui.conftest import screenshot

START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
DAYS = [
    "Reviewed the pull requests for the calendar parser with Priya",
    "Ran along the river before work, 8 km in 44 minutes",
    "Called mum about the family dinner on Sunday",
    "Fixed the flaky upload test in the CI pipeline",
    "Read two chapters of The Left Hand of Darkness",
    "Planned the Lisbon talk slides on local-first apps",
    "Cooked green curry for Marta, peanut-free",
    "Paid the electricity bill and filed the receipt",
    "Met Tomás for coffee to talk about the open-source grant",
]


def seed(host) -> int:  # type: ignore[no-untyped-def]
    memories = [
        EpisodicMemory(
            event_type="day",
            summary=f"{DAYS[n % len(DAYS)]} (week {n // 7 + 1})",
            occurred_at=START + timedelta(hours=7 * n),
        )
        for n in range(430)
    ]
    memories += [
        SemanticMemory(name="Marta", summary="My sister; severely allergic to peanuts"),
        SemanticMemory(name="Dentist", summary="Dr. Ortiz on Rua Augusta, every six months"),
        ProceduralMemory(summary="Release the parser", steps=["tag", "build the wheel", "upload"]),
    ]
    host.store.add_many(memories)
    return len(memories) + 2  # the two core blocks


def test_the_browser_pages_filters_searches_and_opens_a_memory(mnemo: MnemoApp, qtbot) -> None:
    host, window = mnemo.host, mnemo.window
    total = seed(host)
    browser = window.memories
    window.nav.setCurrentRow(1)
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.reload()
    assert browser.model.total == total and browser.model.rowCount() == PAGE
    assert browser.count.text() == f"{total} memories"
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.model.fetchMore()
    assert browser.model.rowCount() == 2 * PAGE
    screenshot(window, "memory-browser")

    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.kind.setCurrentIndex(3)  # Semantic
    assert {browser.model.memory(r).headline for r in range(browser.model.rowCount())} == {
        "Marta",
        "Dentist",
    }

    browser.kind.setCurrentIndex(0)
    qtbot.waitUntil(lambda: browser.model.total == total, timeout=30_000)
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.search.setText("peanut allergy sister")
    assert browser.model.memory(0).headline == "Marta"
    assert browser.count.text().endswith("found")

    line = host.store.add_source(
        Source(kind=SourceKind.CHAT, occurred_at=START, text="My sister is allergic", actor="user")
    )
    host.store.link_sources(browser.model.memory(0).id, [line.id])
    browser.table.selectRow(0)
    qtbot.waitUntil(lambda: "My sister is allergic" in browser.detail.toPlainText(), timeout=30_000)
    assert "severely allergic to peanuts" in browser.detail.toPlainText()
    screenshot(window, "memory-browser-search")

    # Provenance both ways: the input the memory came from, and what was written from it.
    browser.detail.anchorClicked.emit(QUrl(f"mnemo://source/{line.id}"))
    dialog = browser.opened
    assert dialog is not None
    qtbot.waitUntil(lambda: "Memories written from it" in dialog.text.toPlainText(), timeout=30_000)
    assert "My sister is allergic" in dialog.text.toPlainText()
    assert "Marta" in dialog.text.toPlainText()
    marta = browser.model.memory(0).id
    dialog.text.anchorClicked.emit(QUrl(f"mnemo://memory/{marta}"))
    opened = dialog.opened
    assert opened is not None
    qtbot.waitUntil(lambda: "severely allergic" in opened.text.toPlainText(), timeout=30_000)
    opened.close()
    dialog.close()


def test_the_browser_follows_changes_to_the_store(mnemo: MnemoApp, qtbot) -> None:
    host, browser = mnemo.host, mnemo.window.memories
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.reload()
    before = browser.model.total
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        host.store.add(SemanticMemory(name="Bike lock", summary="The code is on the fridge"))
    assert browser.model.total == before + 1
    assert browser.model.memory(0).headline == "Bike lock"  # newest first


def test_edit_shows_validation_inline_and_undo_restores(mnemo: MnemoApp, qtbot) -> None:
    host, browser = mnemo.host, mnemo.window.memories
    mnemo.window.nav.setCurrentRow(1)
    dentist = host.store.add(SemanticMemory(name="Dentist", summary="Dr. Ortiz every six months"))
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.reload()
    row = next(
        r for r in range(browser.model.rowCount()) if browser.model.memory(r).id == dentist.id
    )
    browser.table.selectRow(row)
    editor = browser.editor
    qtbot.waitUntil(lambda: editor.memory is not None and editor.memory.id == dentist.id)
    browser.tabs.setCurrentIndex(1)

    editor._fields["summary"].setPlainText("Dr. Ortiz on Rua Augusta, every six months")
    assert editor.save.isEnabled()
    qtbot.mouseClick(editor.save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Rua Augusta" in host.store.get(dentist.id).summary, timeout=30_000)
    assert [v.cause for v in host.store.history(dentist.id)][-1] == "edited in the app"
    screenshot(mnemo.window, "memory-editor")

    qtbot.waitUntil(lambda: editor.memory is not None and editor.memory.rev == 2, timeout=30_000)
    editor._fields["name"].setText("   ")  # a memory needs a name: the store refuses
    qtbot.mouseClick(editor.save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "name" in editor.error.text(), timeout=30_000)
    assert host.store.get(dentist.id).name == "Dentist"  # type: ignore[attr-defined]

    browser.undo_stack.undo()
    qtbot.waitUntil(
        lambda: host.store.get(dentist.id).summary == "Dr. Ortiz every six months", timeout=30_000
    )
    browser.undo_stack.redo()
    qtbot.waitUntil(lambda: "Rua Augusta" in host.store.get(dentist.id).summary, timeout=30_000)

    editor.edit(host.store.core_block("human"))
    editor._fields["value"].setPlainText("x" * 5001)
    assert (
        editor.counter.text() == "5,001 / 5,000 characters"
        and "c0392b" in editor.counter.styleSheet()
    )


def test_delete_removes_everywhere_and_undo_brings_it_back(mnemo: MnemoApp, qtbot) -> None:
    host, browser = mnemo.host, mnemo.window.memories
    mnemo.window.nav.setCurrentRow(1)
    line = host.store.add_source(
        Source(kind=SourceKind.CHAT, occurred_at=START, text="Locker code is 4411", actor="user")
    )
    locker = host.store.add(
        SemanticMemory(name="Gym locker", summary="Locker 4411 at the climbing gym"),
        sources=[line.id],
    )
    host.store.update(locker.id, {"details": "the one by the bouldering wall"})
    history = host.store.history(locker.id)
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.reload()
    row = next(
        r for r in range(browser.model.rowCount()) if browser.model.memory(r).id == locker.id
    )
    browser.table.setFocus()
    browser.table.selectRow(row)
    qtbot.waitUntil(browser.delete.isEnabled)
    with qtbot.waitSignal(browser.deleted_or_restored, timeout=30_000):
        qtbot.keyClick(browser.table, Qt.Key.Key_Delete)
    with pytest.raises(NotFound):
        host.store.get(locker.id)
    assert not [m for m in host.store.memories() if m.headline == "Gym locker"]

    with qtbot.waitSignal(browser.deleted_or_restored, timeout=30_000):
        browser.undo_stack.undo()
    (back,) = [m for m in host.store.memories() if m.headline == "Gym locker"]
    assert back.id == locker.id  # itself, not a copy
    assert back.summary == "Locker 4411 at the climbing gym"  # type: ignore[attr-defined]
    assert back.rev == 2 and host.store.history(back.id) == history
    assert [s.id for s in host.store.sources_of(back.id)] == [line.id]
    assert [h.id for h in host.search_memories("climbing gym locker")][:1] == [locker.id]

    core = next(
        r for r in range(browser.model.rowCount()) if browser.model.memory(r).type == "core"
    )
    browser.table.selectRow(core)
    qtbot.waitUntil(lambda: not browser.delete.isEnabled())


def test_history_lists_changes_and_restores_a_version(mnemo: MnemoApp, qtbot) -> None:
    host, browser = mnemo.host, mnemo.window.memories
    mnemo.window.nav.setCurrentRow(1)
    cat = host.store.add(SemanticMemory(name="Miso", summary="A grey cat from the shelter"))
    host.link(cat.id, host.store.entity("place", "Elm Street").id, "mentions")  # in the graph
    host.store.update(cat.id, {"summary": "A grey tabby from the Elm Street shelter"})
    host.store.update(cat.id, {"name": "Miso the cat"}, cause="renamed")
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.reload()
    row = next(r for r in range(browser.model.rowCount()) if browser.model.memory(r).id == cat.id)
    browser.table.selectRow(row)
    history = browser.history
    qtbot.waitUntil(lambda: history.list.count() == 4, timeout=30_000)
    browser.tabs.setCurrentIndex(2)
    newest = history.list.item(0).text()
    assert newest.startswith("rev 3") and "renamed [name]" in newest and 'was: "Miso"' in newest
    screenshot(mnemo.window, "memory-history")

    graph = history.list.item(2).text()
    assert graph.startswith("graph") and "linked to 'Elm Street' (mentions)" in graph
    history.list.setCurrentRow(2)
    assert not history.restore.isEnabled()  # a graph change is undone in the graph
    history.list.setCurrentRow(3)  # rev 1, as created
    qtbot.mouseClick(history.restore, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: host.store.get(cat.id).rev == 4, timeout=30_000)
    restored = host.store.get(cat.id)
    assert (restored.name, restored.summary) == ("Miso", "A grey cat from the shelter")  # type: ignore[attr-defined]
    assert host.store.history(cat.id)[-1].cause == "restored rev 1"
    qtbot.waitUntil(lambda: browser.undo_stack.canUndo(), timeout=30_000)
    browser.undo_stack.undo()
    qtbot.waitUntil(lambda: host.store.get(cat.id).name == "Miso the cat", timeout=30_000)  # type: ignore[attr-defined]


def test_a_vault_secret_stays_masked_until_revealed(mnemo: MnemoApp, qtbot) -> None:
    host, browser = mnemo.host, mnemo.window.memories
    wifi = host.store.add(
        KnowledgeVaultItem(caption="Home wifi", secret_value="hunter22-blue", sensitivity="low")
    )
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.reload()
    row = next(r for r in range(browser.model.rowCount()) if browser.model.memory(r).id == wifi.id)
    browser.table.selectRow(row)
    qtbot.waitUntil(lambda: "Home wifi" in browser.detail.toPlainText(), timeout=30_000)
    assert (
        "hunter22-blue" not in browser.detail.toPlainText()
        and "••••••" in browser.detail.toPlainText()
    )
    assert not any(
        "hunter22-blue" in str(browser.model.data(browser.model.index(row, column)))
        for column in range(browser.model.columnCount())
    )
    browser.detail.anchorClicked.emit(QUrl(f"mnemo://reveal/{wifi.id}"))
    qtbot.waitUntil(lambda: "hunter22-blue" in browser.detail.toPlainText(), timeout=30_000)


def test_the_time_filter_keeps_what_happened_in_the_span(mnemo: MnemoApp, qtbot) -> None:
    host, browser = mnemo.host, mnemo.window.memories
    now = datetime.now(UTC)
    old = host.store.add(
        EpisodicMemory(
            summary="Moved into the flat on Rua Nova", occurred_at=now - timedelta(days=100)
        )
    )
    new = host.store.add(
        EpisodicMemory(summary="Fixed the bike's back brake", occurred_at=now - timedelta(days=2))
    )
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.reload()
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.span.setCurrentIndex(3)  # Last 30 days
    shown = {browser.model.memory(r).id for r in range(browser.model.rowCount())}
    assert new.id in shown and old.id not in shown
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.search.setText("flat Rua Nova")  # a search keeps the span
    assert old.id not in {browser.model.memory(r).id for r in range(browser.model.rowCount())}


def shown(browser) -> list:  # type: ignore[no-untyped-def]
    return [browser.model.memory(r) for r in range(browser.model.rowCount())]


def test_sort_filter_by_app_sensitivity_and_folder(mnemo: MnemoApp, qtbot) -> None:
    host, browser = mnemo.host, mnemo.window.memories
    mnemo.window.nav.setCurrentRow(1)
    host.store.add_many(
        [
            SemanticMemory(name="Zebra crossing", summary="By the school", source_app="Firefox"),
            SemanticMemory(name="apple pie", summary="Gran's recipe", tree_path=["home"]),
            SemanticMemory(
                name="Release checklist",
                summary="Tag, build, upload",
                source_app="Slack",
                tree_path=["work", "mnemo"],
            ),
            SemanticMemory(name="Standup", summary="At 9:30", tree_path=["work"]),
            KnowledgeVaultItem(caption="Bank PIN", secret_value="9911", sensitivity="high"),
        ]
    )
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.reload()
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.table.sortByColumn(3, Qt.SortOrder.AscendingOrder)  # by the memory, A to Z
    headlines = [m.headline for m in shown(browser)]
    assert headlines == sorted(headlines, key=str.lower) and headlines[0] == "apple pie"
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)

    qtbot.waitUntil(lambda: browser.app.findData("Slack") > 0, timeout=30_000)
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.app.setCurrentIndex(browser.app.findData("Slack"))
    assert [m.headline for m in shown(browser)] == ["Release checklist"]
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.app.setCurrentIndex(0)

    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.sensitivity.setCurrentIndex(3)  # High
    assert [m.headline for m in shown(browser)] == ["Bank PIN"]
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.sensitivity.setCurrentIndex(0)

    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.show_folders.setChecked(True)
    tree = browser.folders
    qtbot.waitUntil(lambda: tree.topLevelItemCount() == 1, timeout=30_000)
    root = tree.topLevelItem(0)
    names = {root.child(n).text(0) for n in range(root.childCount())}
    assert names == {"home (1)", "work (2)"}
    work = next(
        root.child(n) for n in range(root.childCount()) if root.child(n).text(0) == "work (2)"
    )
    assert work.child(0).text(0) == "mnemo (1)"
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        tree.setCurrentItem(work)
    assert {m.headline for m in shown(browser)} == {"Standup", "Release checklist"}
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.search.setText("checklist upload")  # a search stays in the folder
    assert [m.headline for m in shown(browser)] == ["Release checklist"]
    screenshot(mnemo.window, "memory-browser-folders")


def test_bulk_delete_asks_and_undo_brings_all_back_with_their_links(mnemo: MnemoApp, qtbot) -> None:
    host, browser = mnemo.host, mnemo.window.memories
    a, b, c = host.store.add_many(
        [
            EpisodicMemory(summary=f"Trip day {n} in Porto", occurred_at=START + timedelta(days=n))
            for n in range(3)
        ]
    )
    host.store.link(a.id, b.id, "followed by")
    porto = host.store.entity("place", "Porto")
    host.store.link(c.id, porto.id, "mentions")  # only c names Porto: it goes with c
    with qtbot.waitSignal(browser.model.loaded, timeout=30_000):
        browser.reload()
    selection = browser.table.selectionModel()
    for memory in (a, b, c):
        row = next(r for r, m in enumerate(shown(browser)) if m.id == memory.id)
        browser.table.selectRow(row) if memory is a else selection.select(
            browser.model.index(row, 0),
            selection.SelectionFlag.Select | selection.SelectionFlag.Rows,
        )
    assert sorted(browser.selected_ids()) == sorted([a.id, b.id, c.id])
    assert browser.delete.text() == "Delete 3"
    assert bulk_question(3).startswith("Delete 3 memories everywhere")
    with qtbot.waitSignal(browser.deleted_or_restored, timeout=30_000):
        browser.delete_selected(confirm=False)
    assert not [m for m in host.store.memories() if "in Porto" in m.headline]
    assert browser.count.text() == "Deleted. Ctrl+Z brings them back."
    assert "Porto" not in {e.name for e in host.store.entities()}

    with qtbot.waitSignal(browser.deleted_or_restored, timeout=30_000):
        browser.undo_stack.undo()
    back = {m.headline: m.id for m in host.store.memories() if "in Porto" in m.headline}
    assert back == {m.headline: m.id for m in (a, b, c)}  # each back as itself
    (link,) = host.store.links(back[a.headline])
    assert (link.src, link.dst, link.relation) == (
        back[a.headline],
        back[b.headline],
        "followed by",
    )
    assert [(x.dst, x.relation) for x in host.store.links(back[c.headline])] == [
        (porto.id, "mentions")  # Porto is back, under its own id
    ]
