"""The memory browser: every memory Mnemo keeps, by type, newest first, with search as you
type and the selected memory's fields and the inputs it came from. Views only wire: rows come
from MemoryTableModel (paged off the GUI thread), reads go through the host via app.gui.tasks."""

from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
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
from app.gui.memories.history import HistoryView
from app.gui.memories.model import MemoryTableModel
from app.gui.memories.undo import DeleteMemory, EditMemory
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
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search memories")
        self.search.setClearButtonEnabled(True)
        self.count = QLabel()
        self.count.setObjectName("muted")
        top = QHBoxLayout()
        top.addWidget(self.kind)
        top.addWidget(self.span)
        top.addWidget(self.search, 1)
        top.addWidget(self.count)
        self.delete = QPushButton("Delete")
        self.delete.setEnabled(False)
        self.delete.setToolTip("Delete the selected memory everywhere (Ctrl+Z undoes it)")
        top.addWidget(self.delete)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        # Fixed by the widest value each column can hold: sizing to contents would measure
        # only the rows loaded so far (none, at first).
        metrics = self.table.fontMetrics()
        header.resizeSection(0, metrics.horizontalAdvance("2026-12-31 23:59") + 24)
        header.resizeSection(1, metrics.horizontalAdvance("procedural") + 24)
        header.setStretchLastSection(True)
        self.detail = QTextBrowser()
        self.detail.setPlaceholderText("Select a memory to see it and where it came from.")
        self.detail.setOpenLinks(False)
        self.detail.anchorClicked.connect(self._follow)
        self.opened: ItemDialog | None = None  # the input a link opened (tests look)
        self.editor = MemoryEditor()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.detail, "Details")
        self.tabs.addTab(self.editor, "Edit")
        self.history = HistoryView()
        self.tabs.addTab(self.history, "History")
        self.tabs.setTabEnabled(1, False)
        self.tabs.setTabEnabled(2, False)
        self.undo_stack = undo_stack(self)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.tabs)
        split.setSizes([380, 220])

        column = QVBoxLayout(self)
        column.setContentsMargins(14, 12, 14, 12)
        column.addLayout(top)
        column.addWidget(split, 1)

        self._debounce = debounced(self, SEARCH_DELAY_MS, self.reload)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.kind.currentIndexChanged.connect(lambda _index: self.reload())
        self.span.currentIndexChanged.connect(lambda _index: self.reload())
        self.model.loaded.connect(self._show_count)
        self.model.failed.connect(lambda error: self.count.setText(f"Could not read: {error}"))
        self.table.selectionModel().currentRowChanged.connect(lambda now, _: self._open(now.row()))
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

    def reload(self) -> None:
        self._debounce.stop()  # this reload is the one a pending change asked for
        if self.host is None:
            return
        host, kind, text = self.host, self.kind.currentData(), self.search.text().strip()
        types = None if kind is None else [kind]
        span = self.span.currentData()
        since = datetime.now(UTC) - span if span else None
        if text:
            self.model.show_results(
                lambda: host.search_memories(text, types=types, since=since, limit=RESULTS)
            )
        else:
            self.model.show_pages(
                lambda offset, limit: host.memories_page(
                    types=types, since=since, offset=offset, limit=limit
                )
            )

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
        memory = self.model.memory(row)
        self.delete.setEnabled(memory.type != MemoryType.CORE)  # blocks are emptied, not deleted
        self._show(memory.id)

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

    def _selected_id(self) -> str | None:
        row = self.table.currentIndex().row()
        return self.model.memory(row).id if 0 <= row < self.model.rowCount() else None

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
        row = self.table.currentIndex().row()
        if row < 0 or self.host is None or not self.delete.isEnabled():
            return
        memory = self.model.memory(row)

        def done(restored: str | None) -> None:
            self.count.setText("Restored." if restored else "Deleted. Ctrl+Z brings it back.")
            self.deleted_or_restored.emit()

        self.undo_stack.push(DeleteMemory(self.host, memory.id, done, self))

    def _show(self, memory_id: str) -> None:
        """Read the memory afresh (an edit may have changed it) and show it in both tabs."""
        host = self.host

        def read(_ctx: Any) -> tuple[Any, str, Any]:
            memory = host.store.get(memory_id)
            html = memory_html(memory, host.store.sources_of(memory.id))
            return memory, html, host.store.history(memory.id)

        def shown(result: tuple[Any, str, Any]) -> None:
            memory, html, versions = result
            if memory.id != self._selected_id():
                return  # the user moved on while it was read
            self.detail.setHtml(html)
            self.editor.edit(memory)
            self.history.show_history(memory.id, versions)
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

        tasks.run(
            lambda _ctx: host.store.update(memory_id, changes, cause=cause),
            on_done=saved,
            on_error=lambda error: self.editor.show_error(str(error)),
            parent=self,
        )
