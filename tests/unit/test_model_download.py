"""Downloads through huggingface_hub against a local stand-in for the Hub (HF_ENDPOINT):
progress, resume in a later run, checksum and header checks. No network."""

import threading
from pathlib import Path

import pytest

from core.llm.download import DownloadCancelled, DownloadFailed, download
from tests.standins import HubStandIn, write_gguf

REPO = "someone/Tiny-GGUF"


@pytest.fixture
def model_bytes(tmp_path: Path) -> bytes:
    return write_gguf(tmp_path / "src.gguf", blocks=8, width=96).read_bytes()  # ~300 KB


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, model_bytes: bytes):
    # huggingface_hub reads 10 MB chunks; 16 KB ones give a 300 KB file many progress steps.
    monkeypatch.setattr("huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE", 16 * 1024)
    stand_in = HubStandIn()
    stand_in.add(REPO, "tiny.gguf", model_bytes)
    with stand_in.serving():
        monkeypatch.setenv("HF_ENDPOINT", stand_in.url)
        yield stand_in


def test_download_verifies_and_reports_progress(
    hub: HubStandIn, tmp_path: Path, model_bytes: bytes
) -> None:
    seen: list[tuple[int, int | None]] = []
    path = download(
        REPO, "tiny.gguf", tmp_path / "models", progress=lambda d, t: seen.append((d, t))
    )
    assert path == tmp_path / "models" / "tiny.gguf"
    assert path.read_bytes() == model_bytes
    assert seen[0] == (0, len(model_bytes)) and seen[-1] == (len(model_bytes), len(model_bytes))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert not list((tmp_path / "models").glob("*.part*"))

    hub.ranges.clear()
    assert download(REPO, "tiny.gguf", tmp_path / "models") == path
    assert hub.ranges == []  # already there and verified: nothing fetched


def test_a_cancelled_download_resumes_in_a_later_run(
    hub: HubStandIn, tmp_path: Path, model_bytes: bytes
) -> None:
    folder = tmp_path / "models"
    cancel = threading.Event()

    def stop_midway(done: int, total: int | None) -> None:
        if done > 0:
            cancel.set()

    with pytest.raises(DownloadCancelled, match="run it again to resume"):
        download(REPO, "tiny.gguf", folder, progress=stop_midway, cancel=cancel)
    kept = (folder / "tiny.gguf.part").stat().st_size
    assert 0 < kept < len(model_bytes)
    assert not (folder / "tiny.gguf").exists()  # never a partial file under the real name

    hub.ranges.clear()
    path = download(REPO, "tiny.gguf", folder)
    assert hub.ranges == [f"bytes={kept}-"]  # resumed, not restarted
    assert path.read_bytes() == model_bytes


def test_a_dropped_connection_is_resumed_within_the_call(
    hub: HubStandIn, tmp_path: Path, model_bytes: bytes
) -> None:
    hub.cut_after[f"{REPO}/tiny.gguf"] = 100_000
    path = download(REPO, "tiny.gguf", tmp_path / "models")
    assert path.read_bytes() == model_bytes
    assert hub.ranges[0] is None and hub.ranges[1].startswith("bytes=")
    assert 0 < int(hub.ranges[1][6:-1]) <= 100_000  # whole chunks kept, the rest refetched


def test_a_checksum_mismatch_keeps_nothing(hub: HubStandIn, tmp_path: Path) -> None:
    hub.wrong_sha.add(f"{REPO}/tiny.gguf")
    with pytest.raises(DownloadFailed, match="checksum"):
        download(REPO, "tiny.gguf", tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_a_file_that_is_not_a_model_is_refused(hub: HubStandIn, tmp_path: Path) -> None:
    hub.add(REPO, "fake.gguf", b"<html>rate limited</html>" * 100)
    with pytest.raises(DownloadFailed, match="not a usable model"):
        download(REPO, "fake.gguf", tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_missing_files_and_unreachable_hubs_are_clear_errors(
    hub: HubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DownloadFailed, match="not on the Hub"):
        download(REPO, "absent.gguf", tmp_path / "models")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(DownloadFailed, match="cannot reach the Hub"):
        download(REPO, "tiny.gguf", tmp_path / "models")
