"""The table model behind the memory browser: rows page in from the store as the view scrolls
(canFetchMore / fetchMore), each page read off the GUI thread, so a store of any size opens at
once. A search shows its hits instead of pages."""

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from app.gui import tasks
from core.memory.models import Memory

Index = QModelIndex | QPersistentModelIndex
PAGE = 200
COLUMNS = ("When", "Type", "App", "Memory")
ORDERS = ("when", "type", "app", "memory")  # what each column sorts by (core.store.reads)


def _sort_key(order: str) -> Callable[[Memory], Any]:
    """The same orders as the store's, for a search's hits (sorted where they are)."""
    if order == "when":
        return lambda m: m.event_time or m.created_at
    if order == "type":
        return lambda m: str(m.type)
    if order == "app":
        return lambda m: m.source_app or ""
    return lambda m: m.headline.lower()


class MemoryTableModel(QAbstractTableModel):
    loaded = Signal()  # a page or a search's hits arrived
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Memory] = []
        self._total = 0
        self._fetch: Callable[[int, int], Any] | None = None
        self._pending: tasks.Task | None = None
        self._generation = 0  # a reset makes answers to earlier requests stale
        self.order, self.descending = "when", True

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """A click on a column's header: pages come again from the store in that order (the
        fetch reads `order` and `descending`); a search's hits are sorted where they are."""
        if not 0 <= column < len(ORDERS):
            return
        self.order = ORDERS[column]
        self.descending = order == Qt.SortOrder.DescendingOrder
        if self._fetch is not None:
            self.show_pages(self._fetch)
        elif self._rows:
            self.layoutAboutToBeChanged.emit()
            self._rows.sort(key=_sort_key(self.order), reverse=self.descending)
            self.layoutChanged.emit()

    # -- what to show ------------------------------------------------------------------------

    def show_pages(self, fetch: Callable[[int, int], Any]) -> None:
        """Page through `fetch(offset, limit)` → core.store.reads.Page, in the order the
        model's `order` and `descending` say (the fetch reads them)."""
        self._reset(fetch)
        self._request(0)

    def show_results(self, search: Callable[[], list[Memory]]) -> None:
        """Show what `search()` returns (run off the GUI thread)."""
        self._reset(None)
        generation = self._generation
        self._pending = tasks.run(
            lambda _ctx: search(),
            on_done=lambda found: self._replace(generation, found),
            on_error=lambda error: self._error(generation, error),
            parent=self,
        )

    @property
    def total(self) -> int:
        return self._total

    def memory(self, row: int) -> Memory:
        return self._rows[row]

    # -- Qt's side ---------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = 0) -> Any:
        if not index.isValid():
            return None
        memory = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == 0:
                when = memory.event_time or memory.created_at
                return when.astimezone().strftime("%Y-%m-%d %H:%M") if when else ""
            if index.column() == 1:
                return str(memory.type).replace("knowledge_vault", "vault")
            if index.column() == 2:
                return memory.source_app or ""
            return " ".join(memory.headline.split())[:200]
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 3:
            return memory.search_text()[:500]
        return None

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return (
            not parent.isValid()
            and self._fetch is not None
            and self._pending is None
            and len(self._rows) < self._total
        )

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if self.canFetchMore(parent):
            self._request(len(self._rows))

    # -- loading -----------------------------------------------------------------------------

    def _reset(self, fetch: Callable[[int, int], Any] | None) -> None:
        self._generation += 1
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self.beginResetModel()
        self._rows, self._total, self._fetch = [], 0, fetch
        self.endResetModel()

    def _request(self, offset: int) -> None:
        fetch, generation = self._fetch, self._generation
        assert fetch is not None
        self._pending = tasks.run(
            lambda _ctx: fetch(offset, PAGE),
            on_done=lambda page: self._append(generation, page),
            on_error=lambda error: self._error(generation, error),
            parent=self,
        )

    def _append(self, generation: int, page: Any) -> None:
        if generation != self._generation:
            return
        self._pending = None
        self._total = page.total
        if page.items:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(page.items) - 1)
            self._rows.extend(page.items)
            self.endInsertRows()
        self.loaded.emit()

    def _replace(self, generation: int, found: list[Memory]) -> None:
        if generation != self._generation:
            return
        self._pending = None
        self.beginResetModel()
        self._rows, self._total = list(found), len(found)
        self.endResetModel()
        self.loaded.emit()

    def _error(self, generation: int, error: BaseException) -> None:
        if generation != self._generation:
            return
        self._pending = None
        self.failed.emit(str(error))
