"""Sentence embeddings on llama.cpp, from the bundled all-MiniLM-L6-v2."""

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import core.llm  # first: sets OpenMP's wait policy before llama_cpp loads
from core.embed import normalise
from core.llm import minilm


class LlamaEmbedder:
    """An `Embedder` over a GGUF embedding model, loaded on first use.

    A `Llama` is not thread-safe, so calls are serialised; texts longer than the model's 512
    tokens are truncated, as sentence-transformers does.
    """

    def __init__(self, model_path: Path, *, name: str, dim: int, threads: int | None = None):
        self.model_path = model_path
        self._name = name
        self._dim = dim
        self._threads = threads or core.llm.default_threads()
        self._lock = threading.Lock()
        self._llama = None

    @classmethod
    def bundled(cls, models_dir: Path) -> "LlamaEmbedder":
        """The bundled MiniLM, converted into `models_dir` on first use."""
        return cls(
            minilm.gguf_path(models_dir),
            name=f"all-MiniLM-L6-v2/gguf-f16-c{minilm.CONVERTER_VERSION}",
            dim=384,
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _model(self):  # type: ignore[no-untyped-def]
        if self._llama is None:
            from llama_cpp import Llama

            self._llama = Llama(
                model_path=str(self.model_path),
                embedding=True,
                n_ctx=512,
                n_batch=512,
                n_ubatch=512,  # a whole sequence must fit in one micro-batch for BERT
                n_threads=self._threads,
                verbose=False,
            )
        return self._llama

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        with self._lock:
            vectors = self._model().embed(list(texts), normalize=False, truncate=True)
        return normalise(np.asarray(vectors, dtype=np.float32).reshape(len(texts), self._dim))
