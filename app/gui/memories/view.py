"""The memory browser: every memory Mnemo keeps, by type, newest first, with search as you
type and the selected memory's fields and the inputs it came from. Views only wire: rows come
from MemoryTableModel (paged off the GUI thread), reads go through the host via app.gui.tasks."""

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.gui import tasks
from app.gui.chat.detail import memory_html
from app.gui.memories.model import MemoryTableModel
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
SEARCH_DELAY_MS = 250  # typing pauses this long before the search runs
RESULTS = 200


class MemoryBrowser(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host: Any = None
        self.model = MemoryTableModel(self)

        self.kind = QComboBox()
        for label, kind in TYPES:
            self.kind.addItem(label, kind)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search memories")
        self.search.setClearButtonEnabled(True)
        self.count = QLabel()
        self.count.setObjectName("muted")
        top = QHBoxLayout()
        top.addWidget(self.kind)
        top.addWidget(self.search, 1)
        top.addWidget(self.count)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.detail = QTextBrowser()
        self.detail.setPlaceholderText("Select a memory to see it and where it came from.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setSizes([380, 220])

        column = QVBoxLayout(self)
        column.setContentsMargins(14, 12, 14, 12)
        column.addLayout(top)
        column.addWidget(split, 1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self.reload)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.kind.currentIndexChanged.connect(lambda _index: self.reload())
        self.model.loaded.connect(self._show_count)
        self.model.failed.connect(lambda error: self.count.setText(f"Could not read: {error}"))
        self.table.selectionModel().currentRowChanged.connect(lambda now, _: self._open(now.row()))

    def set_host(self, host: Any) -> None:
        self.host = host
        self.reload()

    def changed(self, change: Any) -> None:
        """A store change (from the bridge): memories changed, so the list may have."""
        if change.kind == "memory" and self.host is not None:
            self._debounce.start()

    def reload(self) -> None:
        if self.host is None:
            return
        host, kind, text = self.host, self.kind.currentData(), self.search.text().strip()
        types = None if kind is None else [kind]
        if text:
            from core.store.search import SearchFilters

            filters = SearchFilters.make(types=types)
            self.model.show_results(
                lambda: [h.memory for h in host.search(text, filters=filters, limit=RESULTS)]
            )
        else:
            self.model.show_pages(
                lambda offset, limit: host.memories_page(types=types, offset=offset, limit=limit)
            )

    def _show_count(self) -> None:
        searched = bool(self.search.text().strip())
        total = self.model.total
        noun = "memory" if total == 1 else "memories"
        self.count.setText(f"{total:,} {noun} found" if searched else f"{total:,} {noun}")

    def _open(self, row: int) -> None:
        if row < 0 or self.host is None:
            return
        memory, host = self.model.memory(row), self.host
        tasks.run(
            lambda _ctx: memory_html(memory, host.store.sources_of(memory.id)),
            on_done=self.detail.setHtml,
            on_error=lambda error: self.detail.setPlainText(f"Could not open it: {error}"),
            parent=self,
        )
