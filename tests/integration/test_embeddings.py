"""The bundled embedding model: converted from safetensors, run by llama.cpp, checked against
sentence-transformers' own similarities."""

import json
from pathlib import Path

import numpy as np
import pytest

from core.llm import minilm
from core.llm.embedder import LlamaEmbedder
from core.memory import EpisodicMemory, SemanticMemory
from core.settings import Settings
from core.store.memories import MemoryStore
from core.store.search import search

SENTENCES = [
    "Alice and I reviewed the Q3 budget in a Zoom meeting.",
    "We discussed quarterly finances with Alice.",
    "My cat likes to sleep on the keyboard.",
    "How do I deploy the app with docker compose?",
]
# Cosine similarities from sentence-transformers' all-MiniLM-L6-v2 (the reference model).
REFERENCE = {
    (0, 1): 0.569,
    (0, 2): 0.012,
    (0, 3): 0.062,
    (1, 2): 0.021,
    (1, 3): 0.009,
    (2, 3): 0.013,
}


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    minilm.gguf_path(folder)
    return folder


@pytest.fixture(scope="session")
def embedder(models_dir: Path) -> LlamaEmbedder:
    return LlamaEmbedder.bundled(models_dir)


def test_similarities_match_sentence_transformers(embedder: LlamaEmbedder) -> None:
    vectors = embedder.embed(SENTENCES)
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    for (a, b), expected in REFERENCE.items():
        assert float(vectors[a] @ vectors[b]) == pytest.approx(expected, abs=0.01), (a, b)


def test_batches_and_single_texts_agree(embedder: LlamaEmbedder) -> None:
    batch = embedder.embed(SENTENCES)
    one = embedder.embed([SENTENCES[2]])[0]
    assert float(batch[2] @ one) == pytest.approx(1, abs=1e-4)
    assert embedder.embed([]).shape == (0, 384)


def test_packing_keeps_every_text_in_its_place(embedder: LlamaEmbedder) -> None:
    # Texts of many lengths, so that they fall into several packs of different sizes.
    texts = [" ".join(["word"] * n) + f" {n}" for n in (1, 40, 3, 90, 130, 2, 7, 300, 5, 60)]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([text]) for text in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_long_texts_are_truncated_not_refused(embedder: LlamaEmbedder) -> None:
    vector = embedder.embed(["budget " * 2000])[0]
    assert np.isfinite(vector).all() and abs(float(np.linalg.norm(vector)) - 1) < 1e-5


def test_conversion_is_reused_and_redone_when_stale(models_dir: Path) -> None:
    path = minilm.gguf_path(models_dir)
    made = path.stat().st_mtime_ns
    assert minilm.gguf_path(models_dir).stat().st_mtime_ns == made
    stamp = path.with_suffix(".json")
    stamp.write_text(json.dumps({"converter": -1}))
    assert minilm.gguf_path(models_dir).stat().st_mtime_ns != made
    assert json.loads(stamp.read_text())["converter"] == minilm.CONVERTER_VERSION


def test_a_failed_conversion_leaves_no_model_behind(tmp_path: Path, monkeypatch) -> None:
    def broken(source: Path, target: Path) -> None:
        target.write_bytes(b"GGUF half written")
        raise OSError("No space left on device")

    monkeypatch.setattr(minilm, "convert", broken)
    with pytest.raises(OSError, match="No space"):
        minilm.gguf_path(tmp_path)
    assert not (tmp_path / minilm.FILENAME).exists()


def test_a_missing_model_package_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr("core.llm.bundled.importlib.util.find_spec", lambda name: None)
    with pytest.raises(minilm.ModelMissing, match="make setup"):
        minilm.source_dir()


def test_hybrid_search_finds_paraphrases_with_the_real_model(
    embedder: LlamaEmbedder, data_dir: Path
) -> None:
    from datetime import UTC, datetime

    with MemoryStore(data_dir, embedder, Settings()) as store:
        budget = store.add(
            EpisodicMemory(summary=SENTENCES[0], occurred_at=datetime(2024, 5, 1, tzinfo=UTC))
        )
        store.add(SemanticMemory(name="Cat", summary=SENTENCES[2]))
        store.add(SemanticMemory(name="Deploying", summary=SENTENCES[3]))
        hits = search(store, "quarterly finances")  # shares no word with the memory
        assert hits[0].memory.id == budget.id
        assert hits[0].keyword_rank is None and hits[0].vector_rank == 1
        # Empty core blocks have no vector, so they never show up as vector hits.
        assert all(hit.memory.type != "core" for hit in hits)
