"""The model manager: what is listed, what can be added and chosen, and that the choice
persists in settings.toml. Downloads go to a local stand-in for the Hub."""

from pathlib import Path

import pytest

from core.errors import InvalidInput, NotFound
from core.llm.gguf_file import InvalidModelFile
from core.llm.manager import BUNDLED_CHAT, BUNDLED_EMBEDDING, ModelManager, recommended
from core.settings import Settings
from tests.standins import HubStandIn, write_gguf


@pytest.fixture
def manager(data_dir: Path) -> ModelManager:
    return ModelManager(data_dir)


def names(manager: ModelManager) -> list[str]:
    return [e.name for e in manager.entries()]


def test_the_bundled_models_are_listed_and_in_use(manager: ModelManager) -> None:
    assert names(manager)[:2] == [BUNDLED_CHAT, BUNDLED_EMBEDDING]
    assert manager.in_use("chat") == BUNDLED_CHAT
    assert manager.in_use("embedding") == BUNDLED_EMBEDDING


def test_an_added_model_can_be_chosen_and_the_choice_persists(
    manager: ModelManager, data_dir: Path, tmp_path: Path
) -> None:
    path = write_gguf(tmp_path / "Elsewhere-3B-Q4_K_M.gguf")
    entry = manager.add(path)
    assert entry.name == "Elsewhere-3B-Q4_K_M" and entry.path == path
    manager.use("chat", "elsewhere-3b-q4_k_m")  # names match in any case

    reopened = ModelManager(data_dir)
    assert reopened.in_use("chat") == "Elsewhere-3B-Q4_K_M"
    assert "Elsewhere-3B-Q4_K_M" in names(reopened)
    assert Settings.load(data_dir).models.added == [str(path)]
    info = reopened.info("Elsewhere-3B-Q4_K_M")
    assert info["in_use_for"] == ["chat"]
    assert (info["kind"], info["layers"], info["context_length_trained"]) == ("chat", 3, 2048)
    assert info["gpu_layers"] == (3 if info["gpu_build"] else 0)


def test_adding_twice_records_it_once(manager: ModelManager, tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf")
    manager.add(path)
    manager.add(path)
    assert manager.settings.models.added == [str(path)]


def test_bad_files_are_refused_and_nothing_is_recorded(
    manager: ModelManager, tmp_path: Path
) -> None:
    whole = write_gguf(tmp_path / "whole.gguf").read_bytes()
    (tmp_path / "cut.gguf").write_bytes(whole[:-10])
    with pytest.raises(InvalidModelFile, match="truncated"):
        manager.add(tmp_path / "cut.gguf")
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(InvalidModelFile, match="magic"):
        manager.add(tmp_path / "notes.txt")
    assert manager.settings.models.added == []
    assert not (manager.folder / "settings.toml").exists()


def test_a_model_must_fit_its_role(manager: ModelManager, tmp_path: Path) -> None:
    manager.add(write_gguf(tmp_path / "encoder.gguf", arch="bert"))
    manager.add(write_gguf(tmp_path / "talker.gguf"))
    with pytest.raises(InvalidInput, match="cannot chat"):
        manager.use("chat", "encoder")
    with pytest.raises(InvalidInput, match="not an embedding model"):
        manager.use("embedding", "talker")
    manager.use("embedding", "encoder")
    assert manager.in_use("embedding") == "encoder"
    with pytest.raises(InvalidInput, match="role"):
        manager.use("vision", "talker")  # type: ignore[arg-type]


def test_a_path_and_a_server_model_can_be_used_directly(
    manager: ModelManager, tmp_path: Path
) -> None:
    path = write_gguf(tmp_path / "loose.gguf")
    manager.use("chat", str(path))
    assert manager.in_use("chat") == str(path)
    assert manager.info(str(path))["in_use_for"] == ["chat"]

    manager.use("chat", "openai:qwen2.5:3b")
    assert manager.in_use("chat") == "openai:qwen2.5:3b"
    assert ("openai:qwen2.5:3b", "server") in [(e.name, e.origin) for e in manager.entries()]
    with pytest.raises(InvalidInput, match="name the server's model"):
        manager.use("chat", "openai:")


def test_unknown_names_are_not_found(manager: ModelManager) -> None:
    with pytest.raises(NotFound, match="mnemo models list"):
        manager.use("chat", "gpt-17")


def test_recommended_models_are_well_formed() -> None:
    choices = recommended()
    assert {r.role for r in choices} >= {"chat"}
    for r in choices:
        assert "/" in r.repo and r.file.endswith(".gguf") and r.about
    assert any(r.mmproj for r in choices if r.role == "vision")


def test_downloading_a_recommended_model_fetches_its_projector_too(
    manager: ModelManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vision = next(r for r in recommended() if r.mmproj)
    hub = HubStandIn()
    hub.add(vision.repo, vision.file, write_gguf(tmp_path / "a.gguf").read_bytes())
    hub.add(vision.repo, vision.mmproj, write_gguf(tmp_path / "b.gguf", arch="clip").read_bytes())
    with hub.serving():
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        entries = manager.download(vision.name)
    assert [e.path.name for e in entries] == [vision.file, vision.mmproj]
    listed = {e.name: e.origin for e in manager.entries()}
    assert listed[Path(vision.file).stem] == "downloaded"
    assert manager.info(Path(vision.mmproj).stem)["kind"] == "projector"
    with pytest.raises(InvalidInput, match="projector"):
        manager.use("chat", Path(vision.mmproj).stem)
    with pytest.raises(NotFound, match="not a recommended model"):
        manager.download("no-such-model")
