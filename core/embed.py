"""The embedder interface the store depends on, and a deterministic one for tests.

The store never knows which model it talks to: it is handed an `Embedder`. The real one (the
bundled MiniLM on llama.cpp) lives in core.llm; `HashingEmbedder` is a dependency-free stand-in
whose vectors are stable across runs and machines, so tests can assert exact rankings.
"""

import hashlib
import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed size."""

    @property
    def name(self) -> str:
        """Identifies model and version: a change of name means every stored vector is stale."""
        ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dim), each row of unit length."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale rows to unit length; an all-zero row (empty text) stays zero rather than NaN."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


class HashingEmbedder:
    """Feature hashing of lower-cased words: texts sharing words get similar vectors.

    Not a language model: synonyms are strangers to it. It exists so that unit tests and the
    search benchmark run without loading a model, and give the same answer every time.
    """

    def __init__(self, dim: int = 384) -> None:
        self._dim = dim

    @property
    def name(self) -> str:
        return f"hashing-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self._dim] += 1.0 if (value >> 32) & 1 else -1.0
        return normalise(out)
