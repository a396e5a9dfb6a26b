"""The engine: one object that wires Mnemo's parts. The CLI and the GUI are front ends on it."""

import logging
import threading
from pathlib import Path

from core.capture.redact import configure as configure_redaction
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
        repair: bool = True,
    ) -> None:
        self.data_dir = data_dir(folder)
        self.log_path = setup_logging(self.data_dir)
        self.settings = settings or Settings.load(self.data_dir)
        privacy = self.settings.privacy
        configure_redaction(emails=privacy.redact_emails, phones=privacy.redact_phones)
        self.models = ModelManager(self.data_dir, self.settings)
        # The store records which embedder made its vectors and re-embeds everything when it
        # changes, so switching embedding models is safe.
        self.store = MemoryStore(
            self.data_dir, embedder or self.models.embedder(), self.settings, repair=repair
        )
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
        self,
        query: str,
        *,
        filters: SearchFilters | None = None,
        limit: int = 10,
        snippets: bool = True,
    ) -> list[SearchHit]:
        return search(self.store, query, filters=filters, limit=limit, snippets=snippets)

    @property
    def loaded_chat(self) -> ChatModel | None:
        """The chat model if one was made already (a status bar must not make one)."""
        return self._chat

    def set_chat(self, chat: ChatModel) -> None:
        """Use another chat model from now on; the old one finishes its running job and is
        closed (on a worker thread: the caller may be a GUI)."""
        with self._chat_lock:
            old, self._chat = self._chat, chat
        if old is not None:
            threading.Thread(target=old.close, name="mnemo-chat-close", daemon=True).start()

    def close(self) -> None:
        """Close the chat model (its running job stops at its next token), the store and the
        embedder; each waits for its own uses under way and refuses later ones (Closed)."""
        with self._chat_lock:
            if self._chat is not None:
                self._chat.close(cancel_running=True)
        self.store.close()
        close_embedder = getattr(self.store.embedder, "close", None)
        if close_embedder is not None:
            close_embedder()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
