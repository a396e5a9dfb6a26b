"""The running app on a virtual screen: the window and its chat pane on the real bundled
model, citations that open what they cite, Stop, remember, forget with its dialog, the tray
(pause capture from its menu, close to tray) and the single instance."""

import gc
import os
import subprocess
import sys
import threading
import weakref
from contextlib import contextmanager

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtNetwork import QLocalServer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.gui.main import MnemoApp
from app.gui.single_instance import instance_name, raise_running
from core.errors import NotFound
from core.llm.service import Priority
from core.memory import SemanticMemory
from tests.gui.conftest import screenshot

pytestmark = pytest.mark.slow
ANSWER_MS = 240_000  # the real model on a busy 2-core machine: generous, never a measurement


def ask(qtbot, app: MnemoApp, text: str, timeout: int = ANSWER_MS):  # type: ignore[no-untyped-def]
    chat = app.window.chat
    with qtbot.waitSignal(chat.answered, timeout=timeout) as answered:
        qtbot.keyClicks(chat.input, text)
        qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    return answered.args[0]


def test_the_window_opens_and_the_chat_pane_is_ready(mnemo: MnemoApp, qtbot) -> None:
    window = mnemo.window
    assert window.isVisible() and window.chat.input.isEnabled()
    assert [window.nav.item(i).text() for i in range(window.nav.count())] == [
        "Chat",
        "Memories",
        "Graph",
        "Timeline",
    ]
    assert window.capture_button.text() == "Capture off"
    screenshot(window, "main-window")


def test_a_question_gets_a_streamed_cited_answer_and_a_chip_opens_its_memory(
    mnemo: MnemoApp, qtbot
) -> None:
    host = mnemo.host
    cat = host.store.add(
        SemanticMemory(name="Miso", summary="My cat Miso is a grey tabby from the Elm shelter")
    )
    answer = ask(qtbot, mnemo, "What is my cat called?")
    assert answer is not None and answer.intent == "ask"
    card = mnemo.window.chat.cards()[-1]
    assert "Miso" in answer.text and card.text == answer.text
    chips = card.chips.chips
    assert chips, "an answer always shows what it was drawn from"
    assert cat.id in {chip.item.id for chip in chips}
    screenshot(mnemo.window, "chat-answer")

    chip = next(chip for chip in chips if chip.item.id == cat.id)
    chip.click()
    qtbot.waitUntil(lambda: mnemo.window.chat.last_dialog is not None, timeout=10_000)
    dialog = mnemo.window.chat.last_dialog
    if not dialog.task.done:
        with qtbot.waitSignal(dialog.task.finished, timeout=30_000):
            pass
    shown = dialog.text.toPlainText()
    assert "Miso" in shown and "grey tabby" in shown and "semantic memory" in shown
    qtbot.waitExposed(dialog)
    screenshot(dialog, "citation-memory")
    dialog.close()

    # The exchange itself becomes memory: both turns are kept as chat sources.
    chat = mnemo.window.chat
    if chat.keeping is not None and not chat.keeping.done:
        with qtbot.waitSignal(chat.keeping.finished, timeout=ANSWER_MS):
            pass
    kept = [s for s in host.sources_between() if s.kind == "chat"]
    assert {s.actor for s in kept} == {"user", "mnemo"}
    assert any("cat called" in s.text for s in kept)


@contextmanager
def model_held(service):  # type: ignore[no-untyped-def]
    """Keep the model busy until the block's `release` is set (or it ends), so that a
    question is still queued when the test acts: the outcome does not depend on how fast
    this machine generates."""
    holding, release = threading.Event(), threading.Event()
    blocker = service.submit(lambda *_: (holding.set(), release.wait(120)), Priority.CHAT)
    assert holding.wait(120)
    try:
        yield release
    finally:
        release.set()
        blocker.result(60)


def test_stop_ends_the_answer_and_frees_the_model(mnemo: MnemoApp, qtbot) -> None:
    chat_model = mnemo.host.chat_model
    chat = mnemo.window.chat
    with (
        model_held(chat_model.service) as release,
        qtbot.waitSignal(chat.answered, timeout=ANSWER_MS),
    ):
        qtbot.keyClicks(chat.input, "Tell me a long story about the sea")
        qtbot.keyClick(chat.input, Qt.Key.Key_Return)
        assert chat.stop_button.isVisible()
        mnemo.window.activateWindow()
        qtbot.waitActive(mnemo.window)
        qtbot.keyClick(mnemo.window, Qt.Key.Key_Escape)  # the shortcut for Stop
        release.set()
    card = chat.cards()[-1]
    assert chat.task.cancelled and card.note.text() == "Stopped."
    assert chat.send_button.isVisible() and not chat.stop_button.isVisible()
    # The model takes the next job: nothing of the stopped answer is left running.
    assert chat_model.complete([{"role": "user", "content": "Hi"}], max_tokens=2) is not None
    assert chat_model.service.pending == 0


def test_remember_shows_what_was_stored(mnemo: MnemoApp, qtbot) -> None:
    answer = ask(qtbot, mnemo, "remember that my dentist is Dr. Ortiz on Main Street")
    assert answer.intent == "remember"
    card = mnemo.window.chat.cards()[-1]
    assert card.text.startswith(("Remembered:", "Kept your words"))
    for memory in (c.item for c in card.chips.chips):
        assert memory.kind == "memory"
    kept = [s for s in mnemo.host.sources_between() if "Dr. Ortiz" in s.text]
    assert kept and kept[0].actor == "user"
    screenshot(mnemo.window, "chat-remember")


def _answer_dialog(qtbot, button: QMessageBox.StandardButton, seen: list[str]) -> QTimer:  # type: ignore[no-untyped-def]
    """Answer the confirmation dialog as a user would, once it is open."""
    timer = QTimer()

    def look() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            timer.stop()
            seen.append(box.text())
            screenshot(box, "forget-confirm")
            box.button(button).click()

    timer.timeout.connect(look)
    timer.start(50)
    return timer


def test_forget_deletes_only_after_the_dialog_is_confirmed(mnemo: MnemoApp, qtbot) -> None:
    host = mnemo.host
    secret = host.store.add(
        SemanticMemory(name="Zephyrine", summary="Zephyrine is the codename of the merger")
    )
    seen: list[str] = []
    timer = _answer_dialog(qtbot, QMessageBox.StandardButton.No, seen)
    answer = ask(qtbot, mnemo, "forget Zephyrine")
    timer.stop()
    assert answer.intent == "forget" and seen and "Delete these" in seen[0]
    assert any(item.id == secret.id for item in answer.items)
    assert host.memory(secret.id).id == secret.id  # declined: still there
    assert mnemo.window.chat.cards()[-1].note.text() == "Nothing was deleted."

    seen.clear()
    timer = _answer_dialog(qtbot, QMessageBox.StandardButton.Yes, seen)
    with qtbot.waitSignal(mnemo.window.chat.forgotten, timeout=60_000) as forgotten:
        ask(qtbot, mnemo, "forget Zephyrine")
    timer.stop()
    assert forgotten.args[0] >= 1
    with pytest.raises(NotFound):
        host.memory(secret.id)
    assert "Deleted" in mnemo.window.chat.cards()[-1].note.text()


def test_the_tray_pauses_and_resumes_capture(mnemo: MnemoApp, qtbot) -> None:
    tray = mnemo.tray
    assert tray is not None and tray.isVisible() and tray.isSystemTrayAvailable()
    assert not tray.pause_action.isEnabled()  # nothing to pause yet
    with qtbot.waitSignal(mnemo.bridge.capture_state, timeout=60_000) as started:
        mnemo.set_capture("start")
    assert started.args == ["running"]
    assert tray.state == "capturing" and tray.pause_action.text() == "Pause capture"
    assert mnemo.window.capture_button.text() == "Capturing"

    with qtbot.waitSignal(mnemo.bridge.capture_state, timeout=60_000) as paused:
        tray.pause_action.trigger()
    assert paused.args == ["paused"] and mnemo.host.capture_state() == "paused"
    assert tray.state == "paused" and tray.pause_action.text() == "Resume capture"
    assert "paused" in tray.toolTip()
    screenshot(mnemo.window, "capture-paused")

    with qtbot.waitSignal(mnemo.bridge.capture_state, timeout=60_000) as resumed:
        tray.pause_action.trigger()
    assert resumed.args == ["running"] and mnemo.host.capture_state() == "running"


def test_closing_the_window_hides_it_to_the_tray(mnemo: MnemoApp, qtbot) -> None:
    mnemo.window.close()
    assert not mnemo.window.isVisible()
    assert mnemo.host.ready.is_set()  # still running, in the tray
    mnemo.tray.open_action.trigger()
    qtbot.waitExposed(mnemo.window)
    assert mnemo.window.isVisible()


def test_a_second_start_raises_the_running_window(mnemo: MnemoApp, qtbot) -> None:
    from app.gui.single_instance import answer

    name = instance_name(mnemo.folder) + "-test"
    server = QLocalServer()
    QLocalServer.removeServer(name)
    assert server.listen(name)
    server.newConnection.connect(lambda: answer(server, mnemo))
    mnemo.window.hide()
    raised = threading.Event()

    def second_instance() -> None:
        if raise_running(name):
            raised.set()

    thread = threading.Thread(target=second_instance)
    thread.start()
    qtbot.waitUntil(lambda: mnemo.window.isVisible(), timeout=30_000)
    thread.join(30)
    assert raised.is_set()
    server.close()


def test_a_new_chat_while_answering_drops_the_old_answer_cleanly(mnemo: MnemoApp, qtbot) -> None:
    chat = mnemo.window.chat
    with (
        model_held(mnemo.host.chat_model.service) as release,
        qtbot.waitSignal(chat.answered, timeout=ANSWER_MS),
    ):
        qtbot.keyClicks(chat.input, "What did I do on Monday?")
        qtbot.keyClick(chat.input, Qt.Key.Key_Return)
        mnemo.window.new_chat()  # Ctrl+N: the transcript is cleared under the answer
        release.set()
    assert [card.objectName() for card in chat.cards()] == ["welcomeCard"]
    assert chat.send_button.isVisible()


def test_input_history_and_shortcuts(mnemo: MnemoApp, qtbot) -> None:
    chat = mnemo.window.chat
    chat.input.remember("first question")
    chat.input.remember("second question")
    chat.input.clear()
    qtbot.keyClick(chat.input, Qt.Key.Key_Up)
    assert chat.input.toPlainText() == "second question"
    qtbot.keyClick(chat.input, Qt.Key.Key_Up)
    assert chat.input.toPlainText() == "first question"
    qtbot.keyClick(chat.input, Qt.Key.Key_Down)
    qtbot.keyClick(chat.input, Qt.Key.Key_Down)
    assert chat.input.toPlainText() == ""
    mnemo.window.settings_button.setFocus()
    mnemo.window.activateWindow()
    qtbot.waitActive(mnemo.window)
    qtbot.keyClick(mnemo.window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert chat.input.hasFocus()


def test_an_alert_shows_in_the_tray_until_the_window_is_opened(mnemo: MnemoApp, qtbot) -> None:
    with qtbot.waitSignal(mnemo.bridge.alert, timeout=10_000):
        mnemo.host.alert("Writing memories failed", "the model could not be loaded")
    assert mnemo.tray.state == "error" and "could not be loaded" in mnemo.tray.toolTip()
    mnemo.tray.open_action.trigger()
    assert mnemo.tray.state == "idle"


def test_the_window_remembers_its_size(start_app, qtbot) -> None:
    first = start_app()
    first.window.resize(900, 640)
    with qtbot.waitSignal(first.closed, timeout=120_000):
        first.quit()
    second = start_app()
    assert (second.window.width(), second.window.height()) == (900, 640)


def test_mnemo_opens_the_window_and_a_second_start_raises_it(display, data_folder) -> None:
    """The real entry point, in processes of their own, as a user starts it twice."""
    from bench.display import find_window
    from tests.gui.conftest import seen_welcome

    seen_welcome(data_folder)
    command = [sys.executable, "-m", "app.cli", "--data-dir", str(data_folder)]
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        find_window("Mnemo", pid=first.pid, timeout=120)
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stderr
        assert first.poll() is None  # the first one goes on
    finally:
        first.terminate()
        first.wait(60)


def test_quit_never_waits_on_the_gui_thread(qtbot, data_folder, monkeypatch) -> None:
    """Quit closes the host on a worker and ends the event loop only once no worker runs,
    and the GUI thread is never the one that waits: a read still running at quit is let go
    by the GUI thread's own event loop, after the host has closed, and only then does the
    app end. Checked by the order of events, not by times."""
    from agents.host import Host
    from app.gui import tasks
    from core.errors import Closed
    from tests.gui.conftest import fake_capture, seen_welcome

    seen_welcome(data_folder)
    app = MnemoApp(
        data_folder,
        make_host=lambda: Host(data_folder, capture_options=fake_capture()),
        use_tray=False,
        exit_on_quit=True,
    )
    qtbot.addWidget(app.window)
    with qtbot.waitSignal(app.host_started, timeout=120_000):
        app.start()
    host, store = app.host, app.host.store
    events: list[str] = []
    # The session's QApplication goes on: the app's end is recorded instead.
    monkeypatch.setattr(QApplication, "quit", staticmethod(lambda: events.append("app ended")))
    closed, let_go = threading.Event(), threading.Event()
    close = host.close

    def recorded_close() -> None:
        close()
        events.append("host closed")
        closed.set()

    monkeypatch.setattr(host, "close", recorded_close)

    def late_read(_ctx: tasks.Context) -> None:
        let_go.wait(120)
        events.append("read let go")
        try:
            store.counts()
        except Closed:
            events.append("read refused")

    tasks.run(late_read)

    def turn() -> None:  # runs on each turn of the GUI thread's event loop
        if closed.is_set() and not let_go.is_set():
            events.append("event loop turned")
            let_go.set()

    timer = QTimer()
    timer.timeout.connect(turn)
    timer.start(5)
    with qtbot.waitSignal(app.closed, timeout=120_000):
        app.quit()
    timer.stop()
    assert events == [
        "host closed",
        "event loop turned",
        "read let go",
        "read refused",
        "app ended",
    ]


def test_full_collections_wait_until_the_window_hides(mnemo: MnemoApp, qtbot) -> None:
    """While the app runs, Python collects only young objects on its own schedule (a full
    collection freezes the window); cycles among old objects go when the window hides to the
    tray (or stops being the active window, or an hour has passed)."""

    class Node:
        pass

    node = Node()
    node.me = node  # a cycle: only a collection frees it
    gone = weakref.ref(node)
    gc.collect(1)  # it survives the young collections: it is old now
    del node
    kept = [[] for _ in range(300_000)]  # Python's own schedule would collect all by now
    assert gone() is not None
    with qtbot.waitSignal(mnemo.collector.collected, timeout=30_000):
        mnemo.window.close()  # hidden to the tray
    assert gone() is None and not mnemo.window.isVisible()
    del kept
