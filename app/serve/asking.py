"""Mnemo's chat agent and memory team as they work for another tool.

- The agent quotes what a tool may read and nothing else: the core blocks as they are served
  (app.serve.rules.served_block: an extractive answer quotes the human block's lines, and a
  model may repeat its prompt), and no screen text unless the user allows it.
- The team never edits the persona for a tool (agents.team_apply refuses it for any batch on
  a tool's behalf).
- An answer stops generating when the tool that asked cancels or goes away (`Stop`).
"""

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from agents.chat import ChatAgent, Item
from agents.team import MemoryTeam
from app.serve.rules import Rules
from core.errors import NotFound
from core.llm.chat import ChatModel
from core.memory.models import CoreBlock, SourceKind
from core.store.memories import MemoryStore

WIDER = 3  # candidates searched per answer slot when screen text is left out afterwards


class Stop:
    """Stops an answer from another thread (the server's event loop, when the client cancels
    or goes away), whether the answer has started generating yet or not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        self._stop: Callable[[], None] | None = None

    @property
    def stopped(self) -> bool:
        return self._stopped

    def __call__(self) -> None:
        with self._lock:
            self._stopped = True
            stop = self._stop
        if stop is not None:
            stop()

    def bind(self, stop: Callable[[], None]) -> None:
        """What stopping does from now on; done at once when stopped already."""
        with self._lock:
            self._stop = stop
            stopped = self._stopped
        if stopped:
            stop()


class ToolAgent(ChatAgent):
    """The chat agent answering another tool under `rules`."""

    def __init__(
        self,
        store: MemoryStore,
        chat: ChatModel,
        team: MemoryTeam,
        rules: Rules,
        served: Callable[[CoreBlock], str],
    ) -> None:
        super().__init__(
            _ServedStore(store, served),  # type: ignore[arg-type]
            chat,
            team,
            reveal_vault=rules.share_vault,
        )
        self.rules = rules
        self._store = store

    def retrieve(
        self, question: str, *, now: datetime | None = None, limit: int = 10
    ) -> tuple[list[Item], list[str], tuple | None]:
        if self.rules.screen_text:
            return super().retrieve(question, now=now, limit=limit)
        items, queries, span = super().retrieve(question, now=now, limit=limit * WIDER)
        kept = [item for item in items if not self._screen(item)][:limit]
        return kept, queries, span

    def _screen(self, item: Item) -> bool:
        if item.kind != "source":
            return False
        try:
            return self._store.get_source(item.id).kind == SourceKind.CAPTURE
        except NotFound:  # deleted a moment ago: nothing to quote
            return True


class _ServedStore:
    """The store, with core blocks as a tool may read them: what the agent quotes or puts
    into a prompt of them goes to the tool. Everything else is the store's own."""

    def __init__(self, store: MemoryStore, served: Callable[[CoreBlock], str]) -> None:
        self._store = store
        self._served = served

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def core_block(self, label: str) -> CoreBlock:
        return self._shown(self._store.core_block(label))

    def core_blocks(self) -> list[CoreBlock]:
        return [self._shown(block) for block in self._store.core_blocks()]

    def _shown(self, block: CoreBlock) -> CoreBlock:
        return block.model_copy(update={"value": self._served(block)})
