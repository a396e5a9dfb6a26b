"""The engine: one object that wires Mnemo's parts. The CLI and the GUI are front ends on it."""

import logging
from pathlib import Path

from core.embed import Embedder
from core.llm.embedder import LlamaEmbedder
from core.logs import setup_logging
from core.paths import data_dir
from core.settings import Settings
from core.store.memories import MemoryStore
from core.store.search import SearchFilters, SearchHit, search

log = logging.getLogger(__name__)


def default_embedder(folder: Path) -> Embedder:
    """The bundled all-MiniLM-L6-v2 on llama.cpp, converted into the data folder on first use.

    The store records which embedder made its vectors and re-embeds everything when it changes,
    so switching models is safe.
    """
    return LlamaEmbedder.bundled(folder / "models")


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
        self.store = MemoryStore(
            self.data_dir, embedder or default_embedder(self.data_dir), self.settings
        )

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
