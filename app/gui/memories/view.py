"""The memory browser: every memory Mnemo keeps, by type, newest first (a header click sorts),
filtered by time, app, sensitivity and folder, with search as you type and the selected
memory's fields and the inputs it came from. Views only wire: rows come from MemoryTableModel
(paged off the GUI thread), reads go through the host via app.gui.tasks."""

from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.gui import tasks
from app.gui.chat.detail import ItemDialog, linked_item, memory_html
from app.gui.memories.editor import MemoryEditor
from app.gui.memories.folders import FolderTree
from app.gui.memories.history import HistoryView
from app.gui.memories.model import MemoryTableModel
from app.gui.memories.undo import DeleteMemories, EditMemory
from app.gui.wiring import debounced, undo_stack
from core.memory.models import MemoryType

TYPES = [
    ("All memories", None),
    ("Core", MemoryType.CORE),
    ("Episodic", MemoryType.EPISODIC),
    ("Semantic", MemoryType.SEMANTIC),
    ("Procedural", MemoryType.PROCEDURAL),
    ("Resources", MemoryType.RESOURCE),
    ("Vault", MemoryType.VAULT),
]
SPANS = [
    ("Any time", None),
    ("Last 24 hours", timedelta(days=1)),
    ("Last 7 days", timedelta(days=7)),
    ("Last 30 days", timedelta(days=30)),
    ("Last year", timedelta(days=365)),
]
SENSITIVITIES = [
    ("Any sensitivity", None),
    ("Low", ["low"]),
    ("Medium", ["medium"]),
    ("High", ["high"]),
]
SEARCH_DELAY_MS = 250  # typing pauses this long before the search runs
RESULTS = 200


class MemoryBrowser(QWidget):
    deleted_or_restored = Signal()  # a delete (or its undo) reached the store

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host: Any = None
        self.model = MemoryTableModel(self)

        self.kind = QComboBox()
        for label, kind in TYPES:
            self.kind.addItem(label, kind)
        self.span = QComboBox()
        for label, span in SPANS:
            self.span.addItem(label, span)
        self.app = QComboBox()
        self.app.addItem("All apps", None)
        self.app.setToolTip("Memories written from what you did in one app")
        self.sensitivity = QComboBox()
        for label, levels in SENSITIVITIES:
            self.sensitivity.addItem(label, levels)
        self.sensitivity.setToolTip("Vault items by how sensitive they are (the rest are low)")
        self.folders = FolderTree()
        self.show_folders = QPushButton("Folders")
        self.show_folders.setCheckable(True)
        self.show_folders.setToolTip("Group memories by their folder (tree path)")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search memories")
        self.search.setClearButtonEnabled(True)
        self.count = QLabel()
        self.count.setObjectName("muted")
        self.count.setMinimumWidth(
            self.count.fontMetrics().horizontalAdvance("Deleted. Ctrl+Z brings them back.") + 8
        )
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.count)
        filters = QHBoxLayout()
        for widget in (self.kind, self.span, self.app, self.sensitivity, self.show_folders):
            filters.addWidget(widget)
        filters.addStretch(1)
        self.delete = QPushButton("Delete")
        self.delete.setEnabled(False)
        self.delete.setToolTip("Delete the selected memories everywhere (Ctrl+Z undoes it)")
        top.addWidget(self.delete)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.DescendingOrder)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        # Fixed by the widest value each column can hold: sizing to contents would measure
        # only the rows loaded so far (none, at first).
        metrics = self.table.fontMetrics()
        header.resizeSection(0, metrics.horizontalAdvance("2026-12-31 23:59") + 24)
        header.resizeSection(1, metrics.horizontalAdvance("procedural") + 24)
        header.resizeSection(2, metrics.horizontalAdvance("Thunderbird") + 24)
        header.setStretchLastSection(True)
        self.detail = QTextBrowser()
        self.detail.setPlaceholderText("Select a memory to see it and where it came from.")
        self.detail.setOpenLinks(False)
        self.detail.anchorClicked.connect(self._follow)
        self.opened: ItemDialog | None = None  # the input a link opened (tests look)
        self._opened: str | None = None  # a memory opened from elsewhere (open_memory)
        self.editor = MemoryEditor()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.detail, "Details")
        self.tabs.addTab(self.editor, "Edit")
        self.history = HistoryView()
        self.tabs.addTab(self.history, "History")
        self.tabs.setTabEnabled(1, False)
        self.tabs.setTabEnabled(2, False)
        self.undo_stack = undo_stack(self)
        self.edits = tasks.Serial()  # edits and their undos reach the store in order
        self._choices_asked = 0
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.tabs)
        split.setSizes([380, 220])
        sides = QSplitter()
        sides.addWidget(self.folders)
        sides.addWidget(split)
        sides.setSizes([200, 800])
        self.folders.hide()

        column = QVBoxLayout(self)
        column.setContentsMargins(14, 12, 14, 12)
        column.addLayout(top)
        column.addLayout(filters)
        column.addWidget(sides, 1)

        self._debounce = debounced(self, SEARCH_DELAY_MS, self.reload)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.kind.currentIndexChanged.connect(lambda _index: self._kind_changed())
        for combo in (self.span, self.app, self.sensitivity):
            combo.currentIndexChanged.connect(lambda _index: self.reload())
        self.show_folders.toggled.connect(self._toggle_folders)
        self.folders.chosen.connect(lambda _path: self.reload())
        # A search's hits come by relevance until a header click sorts them.
        header.sectionClicked.connect(lambda _section: header.setSortIndicatorShown(True))
        self.model.loaded.connect(self._show_count)
        self.model.failed.connect(lambda error: self.count.setText(f"Could not read: {error}"))
        self.table.selectionModel().currentRowChanged.connect(lambda now, _: self._open(now.row()))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.model.modelReset.connect(self._selection_changed)
        self.editor.save_requested.connect(self._save)
        self.history.restore_requested.connect(self._restore)
        self.delete.clicked.connect(self._delete)
        self.table.installEventFilter(self)

    def set_host(self, host: Any) -> None:
        self.host = host
        self.reload()

    def changed(self, change: Any) -> None:
        """A store change (from the bridge): memories changed, so the list may have."""
        if change.kind == "memory" and self.host is not None:
            self._debounce.start()

    def filters(self) -> dict[str, Any]:
        """What the filters above the table ask for, as Host.memories_page's keywords."""
        kind, span = self.kind.currentData(), self.span.currentData()
        return {
            "types": None if kind is None else [kind],
            "since": datetime.now(UTC) - span if span else None,
            "source_apps": None if self.app.currentData() is None else [self.app.currentData()],
            "sensitivities": self.sensitivity.currentData(),
            "folder": self.folders.path if self.show_folders.isChecked() else None,
        }

    def reload(self) -> None:
        self._debounce.stop()  # this reload is the one a pending change asked for
        if self.host is None:
            return
        host, text, filters, model = (
            self.host,
            self.search.text().strip(),
            self.filters(),
            self.model,
        )
        if text:
            self.table.horizontalHeader().setSortIndicatorShown(False)
            model.show_results(lambda: host.search_memories(text, limit=RESULTS, **filters))
        else:
            self._read_choices()  # not while typing: the apps and folders stay as they are
            self.table.horizontalHeader().setSortIndicatorShown(True)
            model.show_pages(
                lambda offset, limit: host.memories_page(
                    order=model.order,
                    descending=model.descending,
                    offset=offset,
                    limit=limit,
                    **filters,
                )
            )

    def _read_choices(self) -> None:
        """The apps to filter by and the folders (when shown), read off the GUI thread."""
        host, kind = self.host, self.kind.currentData()
        folders = self.show_folders.isChecked()

        def read(_ctx: Any) -> tuple[list[str], dict[str, int] | None]:
            types = None if kind is None else [kind]
            return host.memory_apps(), host.memory_folders(types) if folders else None

        self._choices_asked += 1
        asked = self._choices_asked  # a later answer wins, whichever arrives first
        tasks.run(
            read,
            on_done=lambda found: self._choices(*found) if asked == self._choices_asked else None,
            parent=self,
        )

    def _choices(self, apps: list[str], folders: dict[str, int] | None) -> None:
        chosen = self.app.currentData()
        if [self.app.itemData(i) for i in range(1, self.app.count())] != apps:
            self.app.blockSignals(True)
            self.app.clear()
            self.app.addItem("All apps", None)
            for app in apps:
                self.app.addItem(app, app)
            self.app.setCurrentIndex(max(self.app.findData(chosen), 0) if chosen else 0)
            self.app.blockSignals(False)
            if chosen is not None and chosen not in apps:
                self.reload()  # its last memory went: the table shows every app again
        if folders is not None:
            self.folders.show_folders(folders)

    def _kind_changed(self) -> None:
        self.folders.path = ""  # folders belong to a type
        self.reload()

    def _toggle_folders(self, shown: bool) -> None:
        self.folders.setVisible(shown)
        self.reload()

    def _show_count(self) -> None:
        searched = bool(self.search.text().strip())
        total = self.model.total
        noun = "memory" if total == 1 else "memories"
        self.count.setText(f"{total:,} {noun} found" if searched else f"{total:,} {noun}")

    def eventFilter(self, watched: Any, event: Any) -> bool:
        if (
            watched is self.table
            and event.type() == QEvent.Type.KeyPress
            and event.key() == Qt.Key.Key_Delete
        ):
            self._delete()
            return True
        return super().eventFilter(watched, event)

    def _open(self, row: int) -> None:
        if row < 0 or self.host is None:
            return
        self._opened = None
        self._show(self.model.memory(row).id)

    def selected_ids(self) -> list[str]:
        """The selected memories that can be deleted (core blocks are emptied, not deleted)."""
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        memories = [self.model.memory(r) for r in rows if r < self.model.rowCount()]
        return [m.id for m in memories if m.type != MemoryType.CORE]

    def _selection_changed(self) -> None:
        if self._opened is not None and self.table.selectionModel().hasSelection():
            self._open(self.table.currentIndex().row())  # a row chosen again: show it
        n = len(self.selected_ids())
        self.delete.setEnabled(n > 0)
        self.delete.setText("Delete" if n < 2 else f"Delete {n}")

    def _follow(self, url: Any) -> None:
        """A source link in the detail: the input, its picture, and what was written from it.
        The vault's "show" link decrypts the secret for this view only."""
        kind, _, memory_id = url.toString().removeprefix("mnemo://").partition("/")
        if kind == "reveal" and self.host is not None:
            self._reveal(memory_id)
            return
        if self.host is not None and (item := linked_item(url)) is not None:
            self.opened = ItemDialog(self.host, item, self)
            self.opened.show()

    def failed(self, message: str) -> None:
        """An undo, redo or delete the store refused."""
        self.count.setText(message)

    def open_memory(self, memory_id: str) -> None:
        """Show one memory in the detail, editor and history tabs, on the Edit tab, whether
        or not its row is loaded in the table (a memory opened from the graph)."""
        self._opened = memory_id
        self.table.clearSelection()
        self.tabs.setCurrentIndex(1)
        self._show(memory_id)

    def _selected_id(self) -> str | None:
        """The memory the tabs are for: the current row's, or the one opened from elsewhere."""
        row = self.table.currentIndex().row()
        if self.table.selectionModel().hasSelection() and 0 <= row < self.model.rowCount():
            return self.model.memory(row).id
        return self._opened

    def _reveal(self, memory_id: str) -> None:
        host = self.host

        def reveal(html: str) -> None:
            if memory_id == self._selected_id():  # never another memory's secret
                self.detail.setHtml(html)

        def read(_ctx: Any) -> str:
            memory = host.memory(memory_id, reveal=True)
            secret = memory.secret_value.get_secret_value() if memory.secret_value else ""
            return memory_html(memory, host.store.sources_of(memory_id), secret=secret)

        tasks.run(read, on_done=reveal, parent=self)

    def _delete(self) -> None:
        self.delete_selected()

    def delete_selected(self, *, confirm: bool = True) -> None:
        """Delete the selected memories everywhere; more than one asks first."""
        doomed = self.selected_ids()
        if not doomed or self.host is None:
            return
        if confirm and len(doomed) > 1:
            answer = QMessageBox.question(self, "Delete memories", bulk_question(len(doomed)))
            if answer != QMessageBox.StandardButton.Yes:
                return

        def done(restored: list[str] | None) -> None:
            it = "it" if len(doomed) == 1 else "them"
            self.count.setText("Restored." if restored else f"Deleted. Ctrl+Z brings {it} back.")
            self.deleted_or_restored.emit()

        self.undo_stack.push(DeleteMemories(self.host, doomed, done, self))

    def _show(self, memory_id: str) -> None:
        """Read the memory afresh (an edit may have changed it) and show it in both tabs."""
        host = self.host

        def read(_ctx: Any) -> tuple[Any, str, Any]:
            memory = host.store.get(memory_id)
            html = memory_html(memory, host.store.sources_of(memory.id))
            return memory, html, (host.store.history(memory.id), host.graph_history(memory.id))

        def shown(result: tuple[Any, str, Any]) -> None:
            memory, html, versions = result
            if memory.id != self._selected_id():
                return  # the user moved on while it was read
            self.detail.setHtml(html)
            self.editor.edit(memory)
            self.history.show_history(memory.id, *versions)
            self.tabs.setTabEnabled(1, True)
            self.tabs.setTabEnabled(2, True)

        tasks.run(
            read,
            on_done=shown,
            on_error=lambda error: self.detail.setPlainText(f"Could not open it: {error}"),
            parent=self,
        )

    def _restore(self, memory_id: str, rev: int) -> None:
        """Put the memory back as it was at `rev`: an edit like any other (undoable)."""
        host, now = self.host, self.editor.memory
        if now is None or now.id != memory_id:
            return

        def changes(_ctx: Any) -> dict[str, Any]:
            then = host.as_of(memory_id, rev)
            current = now.payload()
            return {k: v for k, v in then.items() if current.get(k) != v}

        tasks.run(
            changes,
            on_done=lambda found: self._save(
                memory_id, found, cause=f"restored rev {rev}", before=now
            ),
            parent=self,
        )

    def _save(
        self,
        memory_id: str,
        changes: dict[str, Any],
        cause: str = "edited in the app",
        before: Any = None,
    ) -> None:
        host, before = self.host, before or self.editor.memory
        if before is None or before.id != memory_id:
            return
        if not changes:
            return
        old = {key: before.payload().get(key) for key in changes}

        def saved(_memory: Any) -> None:
            self.undo_stack.push(
                EditMemory(host, memory_id, old, changes, lambda: self._show(memory_id), self)
            )
            self._show(memory_id)

        self.edits.run(
            lambda _ctx: host.store.update(memory_id, changes, cause=cause),
            on_done=saved,
            on_error=lambda error: self.editor.show_error(str(error)),
            parent=self,
        )


def bulk_question(n: int) -> str:
    return (
        f"Delete {n:,} memories everywhere — their text, search entries, links and history? "
        "Ctrl+Z brings them back (as new memories)."
    )
