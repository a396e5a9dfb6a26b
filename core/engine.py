"""The engine: one object that wires Mnemo's parts. The CLI and the GUI are front ends on it."""

import logging
import threading
from pathlib import Path

from core.embed import Embedder
from core.llm.chat import ChatModel
from core.llm.manager import ModelManager
from core.logs import setup_logging
from core.paths import data_dir
from core.settings import Settings
from core.store.memories import MemoryStore
from core.store.search import SearchFilters, SearchHit, search

log = logging.getLogger(__name__)


class Engine:
    def __init__(
        self,
        folder: str | Path | None = None,
        *,
        embedder: Embedder | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.data_dir = data_dir(folder)
        self.log_path = setup_logging(self.data_dir)
        self.settings = settings or Settings.load(self.data_dir)
        self.models = ModelManager(self.data_dir, self.settings)
        # The store records which embedder made its vectors and re-embeds everything when it
        # changes, so switching embedding models is safe.
        self.store = MemoryStore(self.data_dir, embedder or self.models.embedder(), self.settings)
        self._chat: ChatModel | None = None
        self._chat_lock = threading.Lock()

    @property
    def chat(self) -> ChatModel:
        """The chat model in use; it loads on its first job, so this returns at once."""
        with self._chat_lock:
            if self._chat is None:
                self._chat = self.models.chat_model()
            return self._chat

    def search(
        self, query: str, *, filters: SearchFilters | None = None, limit: int = 10
    ) -> list[SearchHit]:
        return search(self.store, query, filters=filters, limit=limit)

    def close(self) -> None:
        with self._chat_lock:
            if self._chat is not None:
                self._chat.close()
        self.store.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
