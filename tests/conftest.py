"""Shared fixtures: every test gets its own real data folder (real SQLite, real LanceDB)."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.embed import Embedder, HashingEmbedder
from core.memory import (
    CoreBlock,
    EpisodicMemory,
    KnowledgeVaultItem,
    ProceduralMemory,
    ResourceMemory,
    SemanticMemory,
)
from core.settings import Settings
from core.store.memories import MemoryStore


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test touches the user's real data folder or the OS keyring."""
    monkeypatch.setenv("MNEMO_DATA_DIR", str(tmp_path / "default-data"))
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())


@pytest.fixture
def mnemo(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """Runs `mnemo ARGS…` in-process on a fresh data folder; returns (code, stdout, stderr)."""
    folder = tmp_path / "cli-data"

    def run(*args: str) -> tuple[int, str, str]:
        from app.cli import main

        code = main(["--data-dir", str(folder), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    run.folder = folder  # type: ignore[attr-defined]
    return run


@pytest.fixture(scope="session")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The bundled MiniLM, for tests where the real embedding matters."""
    from core.llm.embedder import LlamaEmbedder

    return LlamaEmbedder.bundled(tmp_path_factory.mktemp("minilm"))


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def store(data_dir: Path, settings: Settings) -> Iterator[MemoryStore]:
    with MemoryStore(data_dir, HashingEmbedder(), settings) as opened:
        yield opened


def sample_memories() -> dict[str, object]:
    """One valid memory of every type that callers can add (core blocks exist already)."""
    return {
        "episodic": EpisodicMemory(
            event_type="meeting",
            summary="Reviewed the Q3 budget with Alice on Zoom",
            details="We agreed to cut the travel line by 10%",
            actor="user",
            occurred_at=datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
            source_app="zoom",
            tree_path=["work", "finance"],
        ),
        "semantic": SemanticMemory(
            name="Docker compose",
            summary="Tool to run multi-container apps from a YAML file",
            details="`docker compose up -d` starts everything in the background",
            source="docs.docker.com",
        ),
        "procedural": ProceduralMemory(
            entry_type="workflow",
            summary="Release a new version",
            steps=["tag the commit", "build the wheel", "upload to PyPI"],
        ),
        "resource": ResourceMemory(
            title="Quarterly plan.md",
            summary="The team's plan for Q3",
            resource_type="markdown",
            content="# Q3\n- ship the search\n- hire two engineers",
        ),
        "knowledge_vault": KnowledgeVaultItem(
            entry_type="api_key",
            source="github.com",
            sensitivity="high",
            secret_value="ghp_CANARY0123456789abcdef",
            caption="GitHub personal access token",
        ),
    }


__all__ = ["CoreBlock", "sample_memories"]
