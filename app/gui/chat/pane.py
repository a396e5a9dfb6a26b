"""The chat pane: ask your memory, see the answer stream in with its citations, stop it,
"remember …" and "forget …" (which deletes only after a confirmation dialog)."""

from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.gui import tasks
from app.gui.chat.detail import ItemDialog
from app.gui.chat.message import MessageCard
from app.gui.icons import icon

WELCOME = (
    "Ask about anything Mnemo has kept: what you read, wrote and talked about.\n"
    "Start with “remember …” to tell it something, or “forget …” to take something away."
)


class PromptEdit(QPlainTextEdit):
    """The question box: Enter sends, Shift+Enter starts a new line, Up and Down walk through
    the questions asked before (when the box is empty or showing one of them)."""

    submitted = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.history: list[str] = []
        self._at = 0
        self.setPlaceholderText("Ask your memory…")
        self.setTabChangesFocus(True)
        self.setFixedHeight(64)

    def remember(self, text: str) -> None:
        if not self.history or self.history[-1] != text:
            self.history.append(text)
        self._at = len(self.history)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            mods & Qt.KeyboardModifier.ShiftModifier
        ):
            self.submitted.emit()
            return
        browsing = not self.toPlainText() or self.toPlainText() in self.history
        if key == Qt.Key.Key_Up and browsing and self._at > 0:
            self._at -= 1
            self.setPlainText(self.history[self._at])
            self.moveCursor(self.textCursor().MoveOperation.End)
            return
        if key == Qt.Key.Key_Down and browsing and self._at < len(self.history):
            self._at += 1
            self.setPlainText(self.history[self._at] if self._at < len(self.history) else "")
            self.moveCursor(self.textCursor().MoveOperation.End)
            return
        super().keyPressEvent(event)


class ChatPane(QWidget):
    answered = Signal(object)  # agents.chat.Answer, once an answer (or a stop) is complete
    forgotten = Signal(int)  # items deleted after a confirmed "forget"
    busy_changed = Signal(bool)
    streamed = Signal(int)  # characters of the answer shown so far, as they arrive
    retrieved = Signal(int)  # notes found for the question, before the answer starts

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host: Any = None
        self.task: tasks.Task | None = None
        self.confirm_forget = self._ask_confirmation  # replaced in tests
        self.last_dialog: ItemDialog | None = None
        self.answer_stream: Any = None
        self._card: MessageCard | None = None  # the answer being written
        self._keeper = tasks.Serial()  # exchanges become memory in the order asked
        self.keeping: tasks.Task | None = None  # the last exchange being kept (tests wait)

        self.transcript = QWidget()
        self.transcript.setObjectName("transcript")
        self.column = QVBoxLayout(self.transcript)
        self.column.setContentsMargins(24, 18, 24, 18)
        self.column.setSpacing(12)
        self.column.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.transcript)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.verticalScrollBar().rangeChanged.connect(self._follow)

        self.status = QLabel()
        self.status.setObjectName("chatStatus")
        self.input = PromptEdit()
        self.input.submitted.connect(self.send)
        self.send_button = QPushButton(icon("send"), "Ask")
        self.send_button.clicked.connect(self.send)
        self.send_button.setDefault(True)
        self.stop_button = QPushButton(icon("stop"), "Stop")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()

        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        entry = QHBoxLayout()
        entry.setContentsMargins(24, 0, 24, 0)
        entry.addWidget(self.input, 1)
        entry.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 12)
        layout.addWidget(self.scroll, 1)
        self.status.setContentsMargins(24, 0, 24, 0)
        layout.addWidget(self.status)
        layout.addLayout(entry)
        self.new_chat()
        self.set_host(None)

    # -- state -----------------------------------------------------------------------------

    def set_host(self, host: Any) -> None:
        """The host once its store answers; until then the pane says it is opening."""
        self.host = host
        ready = host is not None
        self.input.setEnabled(ready)
        self.send_button.setEnabled(ready)
        self.status.setText("" if ready else "Opening your memory…")
        if ready:
            self.input.setFocus()

    @property
    def busy(self) -> bool:
        """An answer is being written (a stopped one no longer counts)."""
        return self.task is not None and not self.task.done and not self.task.cancelled

    def _set_busy(self, busy: bool) -> None:
        self.send_button.setVisible(not busy)
        self.stop_button.setVisible(busy)
        self.busy_changed.emit(busy)

    def cards(self) -> list[MessageCard]:
        return self.transcript.findChildren(MessageCard)

    def new_chat(self) -> None:
        """Clear the transcript (what was said stays in memory)."""
        if self.busy:
            self.stop()
        for card in self.cards():
            card.setParent(None)
            card.deleteLater()
        welcome = MessageCard("mnemo", WELCOME, self.transcript)
        welcome.setObjectName("welcomeCard")
        self.column.insertWidget(self.column.count() - 1, welcome)

    def _add(self, role: str, text: str = "") -> MessageCard:
        card = MessageCard(role, text, self.transcript)
        self.column.insertWidget(self.column.count() - 1, card)
        return card

    def _follow(self, _low: int, high: int) -> None:
        self.scroll.verticalScrollBar().setValue(high)

    # -- asking ----------------------------------------------------------------------------

    def send(self) -> None:
        text = self.input.toPlainText().strip()
        if not text or self.host is None or self.busy:
            return
        self.input.remember(text)
        self.input.clear()
        self._add("user", text)
        card = self._add("mnemo")
        host = self.host
        self.answer_stream = None
        chat_model = host.engine.loaded_chat if host.engine is not None else None
        loaded = getattr(getattr(chat_model, "service", None), "loaded", False)
        self.status.setText("Searching your memory…" if loaded else "Loading the model…")

        def work(ctx: tasks.Context) -> Any:
            from core.llm.embed_order import waited_on  # here: numpy is not for start-up

            with waited_on():  # the search's embeddings before those of filing
                stream = host.ask(text)
            self.answer_stream = stream  # what Stop stops (a benchmark times its job)
            ctx.on_cancel(stream.cancel)
            ctx.progress(("items", stream.answer.items))
            for piece in stream:
                if ctx.cancelled:
                    break
                ctx.progress(piece)
            return stream.answer

        def progress(values: list[Any]) -> None:
            # Nothing after Stop, nor on a transcript a new chat cleared meanwhile.
            if task.cancelled or not shiboken6.isValid(card):
                return
            text = [value for value in values if isinstance(value, str)]
            for value in values:
                if isinstance(value, tuple):
                    if value[1]:
                        self.status.setText(f"Answering from {len(value[1])} notes…")
                    self.retrieved.emit(len(value[1]))
            if text:
                card.append("".join(text))
                self.streamed.emit(len(card.text))

        task = tasks.run(
            work,
            on_done=lambda answer: self._answered(task, card, answer),
            on_error=lambda error: self._failed(task, card, error),
            on_progress=progress,
            parent=self,
        )
        self.task, self._card = task, card
        self._set_busy(True)

    def stop(self) -> None:
        """Stop the answer being written (Esc); what was written so far stays. The pane is
        free at once: the model stops before its next token, and what the search under way
        still finds is dropped."""
        task = self.task
        if task is None or task.done or task.cancelled:
            return
        task.cancel()
        self._set_busy(False)
        self.status.setText("")
        if shiboken6.isValid(self._card):
            self._card.set_note("Stopped.")
            if not self._card.text:
                self._card.set_text("(stopped)")

    def _answered(self, task: tasks.Task, card: MessageCard, answer: Any) -> None:
        if task is self.task and not task.cancelled:  # else Stop or a new question took over
            self._set_busy(False)
            self.status.setText("")
        if not task.cancelled:
            self._keep(answer)
        if not shiboken6.isValid(card):
            self.answered.emit(answer)
            return
        if task.cancelled:  # what was shown when Stop was pressed stays, with its sources
            card.set_text(card.text or "(stopped)")
        else:
            card.set_text(answer.text or "(no answer)")
        if answer.intent == "forget" and not task.cancelled:
            self._offer_forget(card, answer)
        elif answer.intent == "remember":
            card.set_citations(answer.citations, self.open_item)
        else:
            card.set_citations(answer.citations, self.open_item)
            if task.cancelled:
                card.set_note("Stopped.")
            elif answer.citations and not answer.cited_by_model:
                card.set_note("The answer cites no note by number; these are the notes it read.")
        self.answered.emit(answer)

    def _keep(self, answer: Any) -> None:
        """The exchange becomes memory, on a worker after the answer is shown: storing and
        embedding it took 1-3 s of a busy machine, during which the pane was not free. Kept
        in the order asked."""
        host = self.host
        if host is not None:
            self.keeping = self._keeper.run(lambda _ctx: host.keep_exchange(answer))

    def _failed(self, task: tasks.Task, card: MessageCard, error: BaseException) -> None:
        if task is self.task and not task.cancelled:
            self._set_busy(False)
            self.status.setText("")
        if not shiboken6.isValid(card):
            self.answered.emit(None)
            return
        card.set_text("Mnemo could not answer.")
        card.set_note(str(error))
        self.answered.emit(None)

    # -- forgetting ------------------------------------------------------------------------

    def _offer_forget(self, card: MessageCard, answer: Any) -> None:
        if not answer.items:
            return
        if not self.confirm_forget(answer.items):
            card.set_note("Nothing was deleted.")
            return
        host = self.host
        card.set_note(f"Deleting {len(answer.items)} item(s)…")

        def done(count: int) -> None:
            card.set_note(f"Deleted {count} item(s) everywhere.")
            self.forgotten.emit(count)

        self.task = tasks.run(
            lambda ctx: host.forget(answer.items),
            on_done=done,
            on_error=lambda error: card.set_note(f"Deleting failed: {error}"),
            parent=self,
        )

    def _ask_confirmation(self, items: list[Any]) -> bool:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Forget")
        box.setText(f"Delete these {len(items)} item(s) everywhere?")
        box.setInformativeText(
            "They are removed from memory, search and disk. This cannot be undone."
        )
        box.setDetailedText("\n".join(f"[{i.number}] {i.kind}: {i.label[:120]}" for i in items))
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    # -- citations -------------------------------------------------------------------------

    def open_item(self, item: Any) -> None:
        self.last_dialog = ItemDialog(self.host, item, self)
        self.last_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        QTimer.singleShot(0, self.last_dialog.show)
