"""The embedding model's turns: a question's query waits for at most one chunk of a long
embedding (a conversation being filed), not for all of it; texts come back whole and in order."""

import threading
from collections.abc import Sequence

import numpy as np

from core.embed import HashingEmbedder
from core.llm.embed_order import CHUNK, QueriesFirst, waited_on


class Recording(HashingEmbedder):
    """Hashing vectors (the embedder is not what is tested: the order of its calls is), each
    call recorded; a call of `hold_first` texts waits for `release` once it has begun."""

    def __init__(self, hold_first: int) -> None:
        super().__init__()
        self.calls: list[int] = []
        self.holding, self.release = threading.Event(), threading.Event()
        self._hold_first = hold_first

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        if len(self.calls) == 1 and len(texts) == self._hold_first:
            self.holding.set()
            assert self.release.wait(30)
        return super().embed(texts)


def filing_meanwhile(inner: Recording, order: QueriesFirst, texts: list[str]):  # type: ignore[no-untyped-def]
    """Start embedding `texts` on a thread; return it once its first chunk is in the model."""
    done: list[np.ndarray] = []
    thread = threading.Thread(target=lambda: done.append(order.embed(texts)))
    thread.start()
    assert inner.holding.wait(30)
    return thread, done


def asking(order: QueriesFirst, texts: list[str], *, urgent: bool = False):  # type: ignore[no-untyped-def]
    """Embed `texts` on another thread; return it once it waits for its turn."""
    got: list[np.ndarray] = []

    def ask() -> None:
        if urgent:
            with waited_on():
                got.append(order.embed(texts))
        else:
            got.append(order.embed(texts))

    with order._cond:
        before = len(order._waiting)
    thread = threading.Thread(target=ask)
    thread.start()
    with order._cond:  # until it waits for its turn
        assert order._cond.wait_for(lambda: len(order._waiting) > before, 30)
    return thread, got


def test_a_query_goes_before_the_rest_of_a_long_embedding() -> None:
    texts = [f"line {n} of a long conversation" for n in range(5 * CHUNK)]
    inner = Recording(hold_first=CHUNK)
    order = QueriesFirst(inner)
    filing, filed = filing_meanwhile(inner, order, texts)
    query, got = asking(order, ["when did I talk with Priya?"])
    inner.release.set()
    query.join(30)
    filing.join(30)
    # The query came right after the chunk under way, not after the five chunks.
    assert inner.calls == [CHUNK, 1, CHUNK, CHUNK, CHUNK, CHUNK]
    assert np.allclose(filed[0], HashingEmbedder().embed(texts))
    assert np.allclose(got[0], HashingEmbedder().embed(["when did I talk with Priya?"]))


def test_a_long_embedding_someone_waits_for_goes_first_too() -> None:
    inner = Recording(hold_first=CHUNK)
    order = QueriesFirst(inner)
    filing, _filed = filing_meanwhile(inner, order, [f"filed {n}" for n in range(3 * CHUNK)])
    later, _ = asking(order, [f"other {n}" for n in range(CHUNK - 1)])  # in turn
    answer = [f"sentence {n} of the notes" for n in range(2 * CHUNK - 2)]
    urgent, got = asking(order, answer, urgent=True)
    inner.release.set()
    for thread in (urgent, later, filing):
        thread.join(30)
    # The answer's two chunks first, then the others in the order they asked.
    assert inner.calls == [CHUNK, CHUNK, CHUNK - 2, CHUNK - 1, CHUNK, CHUNK]
    assert np.allclose(got[0], HashingEmbedder().embed(answer))
    assert order.name == inner.name and order.dim == inner.dim


def test_threads_in_turn_take_turns_by_chunk() -> None:
    inner = Recording(hold_first=CHUNK)
    order = QueriesFirst(inner)
    first, _ = filing_meanwhile(inner, order, [f"a {n}" for n in range(3 * CHUNK)])
    second, _ = asking(order, [f"b {n}" for n in range(2 * CHUNK - 1)])
    inner.release.set()
    first.join(30)
    second.join(30)
    # Neither waits for the whole of the other: a chunk each, in the order asked.
    assert inner.calls == [CHUNK, CHUNK, CHUNK, CHUNK - 1, CHUNK]
