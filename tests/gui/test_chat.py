"""The chat pane under the user's hands: Stop frees it at once, whatever the answer is waiting
for; an answer streams in by appending, not by rewriting what is shown; the exchange is kept
as memory after the answer, off the pane's time."""

from contextlib import contextmanager

import pytest
from PySide6.QtCore import Qt

from app.gui.chat.message import MessageCard
from app.gui.main import MnemoApp
from tests.gui.conftest import screenshot

pytestmark = pytest.mark.slow
ANSWER_MS = 240_000  # the real models on a busy 2-core machine: generous, never a measurement


@contextmanager
def embedder_held(host):  # type: ignore[no-untyped-def]
    """Hold the embedding model for the block (its turn taken here), so that a question's
    search is still under way when the test acts, however fast this machine is."""
    with host.store.embedder._turn(True):
        yield


def test_stop_during_the_search_frees_the_pane_at_once(mnemo: MnemoApp, qtbot) -> None:
    chat = mnemo.window.chat
    with qtbot.waitSignal(chat.answered, timeout=ANSWER_MS), embedder_held(mnemo.host):
        qtbot.keyClicks(chat.input, "What did I read about the budget?")
        qtbot.keyClick(chat.input, Qt.Key.Key_Return)
        assert chat.busy and chat.stop_button.isVisible()
        chat.stop()
        # Free now, while the search still waits for the model: Ask again is offered.
        assert not chat.busy and chat.send_button.isVisible()
        assert not chat.stop_button.isVisible() and chat.status.text() == ""
        card = chat.cards()[-1]
        assert card.text == "(stopped)" and card.note.text() == "Stopped."
    # The search's late answer is dropped: the card shows what it showed at Stop, and the
    # stopped exchange is not kept as memory.
    assert card.text == "(stopped)" and card.note.text() == "Stopped."
    assert chat.keeping is None
    assert not [s for s in mnemo.host.sources_between() if s.kind == "chat"]
    screenshot(mnemo.window, "chat-stopped-during-search")


def test_a_question_after_stop_is_answered_while_the_old_search_ends(
    mnemo: MnemoApp, qtbot
) -> None:
    chat = mnemo.window.chat
    with embedder_held(mnemo.host):
        qtbot.keyClicks(chat.input, "What did I read about the budget?")
        qtbot.keyClick(chat.input, Qt.Key.Key_Return)
        stopped = chat.task
        chat.stop()
        qtbot.keyClicks(chat.input, "remember that the budget review is on Thursday")
        qtbot.keyClick(chat.input, Qt.Key.Key_Return)
        asked = chat.task
        assert asked is not stopped and chat.busy
    for task in (asked, stopped):
        if not task.done:
            with qtbot.waitSignal(task.finished, timeout=ANSWER_MS):
                pass
    # The old search's end did not touch the new answer's state.
    assert not chat.busy and chat.send_button.isVisible()
    cards = chat.cards()
    assert cards[-1].text.startswith(("Remembered:", "Kept your words"))
    assert cards[-3].text == "(stopped)"


def test_an_answer_streams_in_by_appending(qtbot) -> None:
    card = MessageCard("mnemo")
    qtbot.addWidget(card)
    card.resize(400, 100)
    card.show()
    changes: list[tuple[int, int, int]] = []
    card.body.document().contentsChange.connect(
        lambda at, removed, added: changes.append((at, removed, added))
    )
    pieces = ["You talked", " with Priya", " about the budget", " on Thursday [1]."]
    for piece in pieces:
        card.append(piece)
    # Each piece was inserted at the end; nothing shown was laid out again from the start.
    ends = [sum(len(p) for p in pieces[:n]) for n in range(len(pieces))]
    assert changes == [(end, 0, len(piece)) for end, piece in zip(ends, pieces, strict=True)]
    assert card.text == "".join(pieces) == card.body.toPlainText()
    tall = card.body.height()
    card.append(" And more." * 40)  # wraps onto more lines: the text grows, not a scroll bar
    qtbot.waitUntil(lambda: card.body.height() > tall)
    assert card.body.verticalScrollBar().maximum() == 0


def test_the_exchange_is_kept_after_the_answer(mnemo: MnemoApp, qtbot) -> None:
    chat = mnemo.window.chat
    with qtbot.waitSignal(chat.answered, timeout=ANSWER_MS):
        qtbot.keyClicks(chat.input, "What is on my screen?")
        qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    assert chat.keeping is not None
    if not chat.keeping.done:
        with qtbot.waitSignal(chat.keeping.finished, timeout=ANSWER_MS):
            pass
    kept = [s for s in mnemo.host.sources_between() if s.kind == "chat"]
    assert {s.actor for s in kept} == {"user", "mnemo"}
    assert any("on my screen" in s.text for s in kept)
