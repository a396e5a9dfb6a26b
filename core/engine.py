"""The engine: one object that wires Mnemo's parts. The CLI and the GUI are front ends on it."""

import logging
from pathlib import Path

from core.embed import Embedder, HashingEmbedder
from core.logs import setup_logging
from core.paths import data_dir
from core.settings import Settings
from core.store.memories import MemoryStore
from core.store.search import SearchFilters, SearchHit, search

log = logging.getLogger(__name__)


def default_embedder() -> Embedder:
    """The embedder the app uses when none is injected.

    Until the llama.cpp runtime lands this is the hashing embedder; switching models later is
    safe because the store records which embedder made its vectors and re-embeds on a change.
    """
    return HashingEmbedder()


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
        self.store = MemoryStore(self.data_dir, embedder or default_embedder(), self.settings)

    def search(
        self, query: str, *, filters: SearchFilters | None = None, limit: int = 10
    ) -> list[SearchHit]:
        return search(self.store, query, filters=filters, limit=limit)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
