"""The main window: navigation, the views, and a status bar. It only lays out and wires; the
app (app.gui.main) connects it to the host."""

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.chat.pane import ChatPane
from app.gui.graph.view import GraphView
from app.gui.icons import icon
from app.gui.memories.view import MemoryBrowser
from app.gui.timeline.view import TimelineView

CAPTURE_LABELS = {
    "stopped": ("capture", "Capture off"),
    "running": ("capturing", "Capturing"),
    "paused": ("paused", "Capture paused"),
    "unavailable": ("error", "Capture unavailable"),
}


class MainWindow(QMainWindow):
    capture_clicked = Signal()
    settings_requested = Signal()
    close_requested = Signal()  # the user closed the window (the app decides: hide or quit)

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Mnemo")
        self.setWindowIcon(icon("app"))
        self.setMinimumSize(QSize(720, 480))

        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setIconSize(QSize(20, 20))
        self.stack = QStackedWidget()
        self.chat = ChatPane()
        self._add_view("Chat", "chat", self.chat)
        self.memories = MemoryBrowser()
        self._add_view("Memories", "memories", self.memories)
        self.graph = GraphView()
        self._add_view("Graph", "graph", self.graph)
        self.timeline = TimelineView()
        self._add_view("Timeline", "timeline", self.timeline)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.nav.setCurrentRow(0)
        self.graph.edit_requested.connect(self.edit_memory)

        self.settings_button = QToolButton()
        self.settings_button.setObjectName("navButton")
        self.settings_button.setIcon(icon("settings"))
        self.settings_button.setText("Settings")
        self.settings_button.setToolTip("Settings (Ctrl+,)")
        self.settings_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.settings_button.setAutoRaise(True)
        self.settings_button.setEnabled(False)  # until the memory store answers
        self.settings_button.clicked.connect(self.settings_requested)
        side = QWidget()
        side.setObjectName("side")
        side.setFixedWidth(168)
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 10)
        column.addWidget(self.nav, 1)
        column.addWidget(self.settings_button, 0, Qt.AlignmentFlag.AlignHCenter)

        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(side)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.capture_button = QToolButton()
        self.capture_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.capture_button.setAutoRaise(True)
        self.capture_button.clicked.connect(self.capture_clicked)
        self.model_label = QLabel()
        self.work_label = QLabel()
        self.work_bar = QProgressBar()
        self.work_bar.setMaximumWidth(160)
        self.work_bar.setTextVisible(False)
        self.work_label.hide()
        self.work_bar.hide()
        bar = self.statusBar()
        bar.addWidget(self.capture_button)
        bar.addWidget(self.model_label)
        bar.addPermanentWidget(self.work_label)
        bar.addPermanentWidget(self.work_bar)
        self.set_capture_state("stopped")
        self.set_model_state("Model loads with the first question")

        QShortcut(QKeySequence("Ctrl+K"), self, self.focus_ask)
        QShortcut(QKeySequence("Ctrl+N"), self, self.new_chat)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.chat.stop)
        QShortcut(QKeySequence("Ctrl+,"), self, self.settings_button.click)

    def edit_memory(self, memory_id: str) -> None:
        """Open a memory in the browser's editor (a memory clicked in the graph)."""
        self.nav.setCurrentRow(1)
        self.memories.open_memory(memory_id)

    def _add_view(self, title: str, icon_name: str, widget: QWidget) -> None:
        item = QListWidgetItem(icon(icon_name), title)
        item.setSizeHint(QSize(150, 40))
        self.nav.addItem(item)
        self.stack.addWidget(widget)

    # -- what the app tells the window -----------------------------------------------------

    def set_capture_state(self, state: str, detail: str = "") -> None:
        name, text = CAPTURE_LABELS.get(state, CAPTURE_LABELS["stopped"])
        self.capture_button.setIcon(icon(name))
        self.capture_button.setText(text)
        tips = {
            "stopped": "Start capturing the screen",
            "running": "Pause capture",
            "paused": "Resume capture",
        }
        self.capture_button.setToolTip(detail or tips.get(state, ""))
        # The status bar keeps a widget's first width: grow it to the new text.
        self.capture_button.setMinimumWidth(self.capture_button.sizeHint().width())
        self.capture_state = state

    def set_model_state(self, text: str) -> None:
        self.model_label.setText(text)

    def set_work(self, what: str, done: int, total: int) -> None:
        """Background work with progress; hidden when `done` reaches `total`."""
        finished = total <= 0 or done >= total
        self.work_label.setVisible(not finished)
        self.work_bar.setVisible(not finished)
        if not finished:
            self.work_label.setText(what)
            self.work_bar.setRange(0, total)
            self.work_bar.setValue(done)

    # -- shortcuts -------------------------------------------------------------------------

    def focus_ask(self) -> None:
        self.nav.setCurrentRow(0)
        self.chat.input.setFocus()

    def new_chat(self) -> None:
        self.nav.setCurrentRow(0)
        self.chat.new_chat()
        self.chat.input.setFocus()

    def closeEvent(self, event: QCloseEvent) -> None:
        event.ignore()
        self.close_requested.emit()
