"""The browser's folder pane: memories grouped by their tree path ("work/mnemo/releases"),
each folder with how many memories it and its subfolders hold. Choosing one narrows the
table to it."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget

PATH = Qt.ItemDataRole.UserRole


class FolderTree(QTreeWidget):
    chosen = Signal(str)  # the folder's path; "" is every memory

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = ""
        self.setHeaderHidden(True)
        self.setColumnCount(1)
        self.currentItemChanged.connect(lambda item, _old: self._choose(item))

    def show_folders(self, counts: dict[str, int]) -> None:
        """Rebuild the tree from core.store.reads.memory_folders, keeping the chosen folder."""
        self.blockSignals(True)
        self.clear()
        root = QTreeWidgetItem(self, [f"All folders ({counts.get('', 0):,})"])
        root.setData(0, PATH, "")
        items = {"": root}
        for path in sorted(p for p in counts if p):
            parent_path, _, name = path.rpartition("/")
            parent = items.get(parent_path, root)
            item = QTreeWidgetItem(parent, [f"{name} ({counts[path]:,})"])
            item.setData(0, PATH, path)
            items[path] = item
        gone = self.path not in items  # its last memory went
        if gone:
            self.path = ""
        self.setCurrentItem(items[self.path])
        self.expandToDepth(1)
        self.blockSignals(False)
        if gone:
            self.chosen.emit(self.path)

    def _choose(self, item: QTreeWidgetItem | None) -> None:
        if item is not None and item.data(0, PATH) != self.path:
            self.path = item.data(0, PATH)
            self.chosen.emit(self.path)
