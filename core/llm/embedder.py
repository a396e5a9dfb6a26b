"""Sentence embeddings on llama.cpp, from the bundled all-MiniLM-L6-v2."""

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import core.llm  # first: sets OpenMP's wait policy before llama_cpp loads
from core.embed import normalise
from core.llm import minilm
from core.uses import Uses, used

MAX_TOKENS = 256
PACK_TOKENS = 128


class LlamaEmbedder:
    """An `Embedder` over a GGUF embedding model, loaded on first use.

    A `Llama` is not thread-safe, so calls are serialised. Texts are cut at 256 tokens, as
    sentence-transformers cuts MiniLM (its max_seq_length). Short texts are packed into
    batches of about PACK_TOKENS: llama.cpp attends across a whole micro-batch of an encoder
    with a mask, so bigger packs cost more than they save. Measured here on texts of ~23
    tokens: ~100-120 texts/s packed by 96-128 tokens, ~70-100 by 256, ~65 by 512.
    """

    def __init__(self, model_path: Path, *, name: str, dim: int, threads: int | None = None):
        self.model_path = model_path
        self._name = name
        self._dim = dim
        self._threads = threads or core.llm.default_threads()
        self._lock = threading.Lock()
        self._llama: Any = None
        self._uses = Uses("embedding model")

    @classmethod
    def bundled(cls, models_dir: Path, *, threads: int = 0) -> "LlamaEmbedder":
        """The bundled MiniLM, converted into `models_dir` on first use."""
        return cls(
            minilm.gguf_path(models_dir),
            name=bundled_name(),
            dim=384,
            threads=threads,
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _model(self) -> Any:
        if self._llama is None:
            self._llama = core.llm.llama_cpp().Llama(
                model_path=str(self.model_path),
                embedding=True,
                n_ctx=512,
                n_batch=MAX_TOKENS,
                n_ubatch=MAX_TOKENS,  # an encoder's sequence must fit in one micro-batch
                n_threads=self._threads,
                n_threads_batch=core.llm.batch_threads(self._threads),
                verbose=False,
            )
        return self._llama

    def close(self) -> None:
        """Free the model now: left to interpreter exit, llama.cpp's finalizer runs after its
        library is unloaded and prints a TypeError traceback. Embeddings under way finish
        first; later ones are refused (Closed) rather than load the model again."""
        self._uses.close()
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    @used
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        with self._lock:
            model = self._model()
            packs = list(_packs(model, texts))
        vectors: list = []
        for pack in packs:
            # The lock is taken a pack at a time: a search's one-line query waits for one pack
            # of a long re-embedding, not for all of it.
            with self._lock:
                vectors += self._model().embed(pack, normalize=False, truncate=True)
        return normalise(np.asarray(vectors, dtype=np.float32).reshape(len(texts), self._dim))


def _packs(model: Any, texts: Sequence[str]) -> Iterator[list[str]]:
    """Consecutive runs of texts of at most PACK_TOKENS tokens together (a longer text alone)."""
    pack: list[str] = []
    size = 0
    for text in texts:
        n = min(len(model.tokenize(text.encode("utf-8"))), MAX_TOKENS)
        if pack and size + n > PACK_TOKENS:
            yield pack
            pack, size = [], 0
        pack.append(text)
        size += n
    if pack:
        yield pack


def bundled_name() -> str:
    """The bundled MiniLM's name as the store records it: vectors made by another model (or
    another conversion of it) are not comparable, and the store re-embeds when it changes."""
    return f"all-MiniLM-L6-v2/gguf-f16-c{minilm.CONVERTER_VERSION}-t{MAX_TOKENS}"
