"""`mnemo models list|add|download|use|info` as a user runs them."""

import json
from pathlib import Path

import pytest

from tests.standins import HubStandIn, write_gguf


def test_list_add_use_info(mnemo, tmp_path: Path) -> None:
    code, out, _ = mnemo("models", "list")
    assert code == 0
    assert "smollm2-135m" in out and "← chat" in out and "Recommended downloads" in out

    path = write_gguf(tmp_path / "Mine-1B.gguf")
    code, out, _ = mnemo("models", "add", str(path))
    assert code == 0 and "added Mine-1B" in out
    assert mnemo("models", "use", "chat", "Mine-1B")[0] == 0

    code, out, _ = mnemo("--json", "models", "info")
    info = json.loads(out)
    assert (info["name"], info["in_use_for"], info["quantization"]) == ("Mine-1B", ["chat"], "F32")
    code, out, _ = mnemo("models", "info", "Mine-1B")
    assert "context length trained   2048" in out and "gpu layers" in out

    listed = json.loads(mnemo("--json", "models", "list")[1])
    assert {"name": "Mine-1B", "in_use_for": ["chat"]}.items() <= listed["models"][-1].items()


def test_refusals_have_exit_codes(mnemo, tmp_path: Path) -> None:
    (tmp_path / "broken.gguf").write_bytes(b"GGUF\x03\0\0\0")
    code, _, err = mnemo("models", "add", str(tmp_path / "broken.gguf"))
    assert code == 1 and "truncated" in err
    code, _, err = mnemo("models", "use", "chat", "nothing-like-it")
    assert code == 3 and "mnemo models list" in err
    code, _, err = mnemo("models", "use", "embedding", "smollm2-135m")
    assert code == 1 and "not an embedding model" in err


def test_download_shows_a_bar_and_prints_how_to_use_it(
    mnemo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = HubStandIn()
    hub.add("me/Models", "small.gguf", write_gguf(tmp_path / "small.gguf").read_bytes())
    with hub.serving():
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        code, out, err = mnemo("models", "download", "me/Models", "small.gguf")
        assert code == 0
        assert "downloaded small" in out and "mnemo models use chat small" in out
        assert "small.gguf" in err and "100%" in err  # the tqdm bar
        code, _, err = mnemo("models", "download", "me/Models", "absent.gguf")
        assert code == 1 and "not on the Hub (HTTP 404)" in err
