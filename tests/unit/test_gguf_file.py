"""GGUF header checks: a model file that is whole is described; anything else is refused
with the reason, before llama.cpp sees it."""

from pathlib import Path

import pytest

from core.llm.gguf_file import InvalidModelFile, read_header
from tests.standins import write_gguf


def test_a_valid_file_is_described(tmp_path: Path) -> None:
    header = read_header(write_gguf(tmp_path / "tiny-chat.gguf", blocks=3, width=32))
    assert header.architecture == "llama"
    assert header.block_count == 3
    assert header.context_length == 2048
    assert header.embedding_length == 32
    assert header.quantization == "F32"
    assert header.parameters == 50 * 32 + 3 * 32 * 32
    assert header.metadata["tokenizer.ggml.tokens"] == "[50]"
    assert not header.is_embedding_model and not header.is_projector


def test_an_encoder_is_an_embedding_model(tmp_path: Path) -> None:
    assert read_header(write_gguf(tmp_path / "enc.gguf", arch="bert")).is_embedding_model


@pytest.mark.parametrize("keep", [0, 3, 4, 12, 40, 200, -1])
def test_every_truncation_is_refused(tmp_path: Path, keep: int) -> None:
    whole = write_gguf(tmp_path / "whole.gguf").read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[: keep if keep >= 0 else len(whole) + keep])
    with pytest.raises(InvalidModelFile, match=r"cut\.gguf is not a usable GGUF model"):
        read_header(cut)


def test_the_reason_is_given(tmp_path: Path) -> None:
    whole = write_gguf(tmp_path / "whole.gguf").read_bytes()
    (tmp_path / "half.gguf").write_bytes(whole[: len(whole) - 100])
    with pytest.raises(InvalidModelFile, match=r"truncated: .* bytes of the .* its header"):
        read_header(tmp_path / "half.gguf")
    (tmp_path / "photo.gguf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(InvalidModelFile, match="GGUF magic"):
        read_header(tmp_path / "photo.gguf")
    with pytest.raises(InvalidModelFile, match="no such file"):
        read_header(tmp_path / "missing.gguf")
    with pytest.raises(InvalidModelFile, match="folder"):
        read_header(tmp_path)


def test_garbage_counts_fail_fast(tmp_path: Path) -> None:
    # Magic and version, then a tensor count of 2**63: refused without allocating anything.
    (tmp_path / "huge.gguf").write_bytes(b"GGUF" + (3).to_bytes(4, "little") + b"\xff" * 16)
    with pytest.raises(InvalidModelFile, match="implausible count"):
        read_header(tmp_path / "huge.gguf")


def test_the_bundled_chat_model_reads_whole() -> None:
    from core.llm.bundled import chat_model_path

    header = read_header(chat_model_path())
    assert (header.architecture, header.quantization, header.block_count) == ("llama", "Q4_1", 30)
    assert header.context_length == 8192
