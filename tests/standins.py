"""Stand-ins for what tests must not reach: small GGUF files and a local Hugging Face Hub."""

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import gguf
import numpy as np
from keyring.backend import KeyringBackend

from core.llm.chat import ChatModel
from core.llm.service import ModelService


def write_gguf(path: Path, *, arch: str = "llama", blocks: int = 2, width: int = 32) -> Path:
    """A small, valid GGUF file with a model's metadata and a few f32 tensors. llama.cpp
    cannot run it (most tensors are missing), but its header is real."""
    writer = gguf.GGUFWriter(str(path), arch=arch)
    writer.add_name(path.stem)
    writer.add_context_length(2048)
    writer.add_embedding_length(width)
    writer.add_block_count(blocks)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    if arch == "bert":
        writer.add_pooling_type(gguf.PoolingType.MEAN)
    else:
        writer.add_chat_template("{{ messages }}")
    writer.add_token_list([f"t{i}" for i in range(50)])
    rng = np.random.default_rng(0)
    writer.add_tensor("token_embd.weight", rng.standard_normal((50, width), dtype=np.float32))
    for block in range(blocks):
        writer.add_tensor(
            f"blk.{block}.ffn_up.weight", rng.standard_normal((width, width), dtype=np.float32)
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@dataclass
class HubStandIn:
    """Serves files as the Hub's /{repo}/resolve/{revision}/{file} does: HEAD with the LFS
    headers huggingface_hub reads, GET with byte ranges. Records each request's Range."""

    files: dict[str, bytes] = field(default_factory=dict)  # "repo/name/file" -> content
    wrong_sha: set[str] = field(default_factory=set)  # announce a wrong checksum for these
    cut_after: dict[str, int] = field(default_factory=dict)  # send only this many bytes, once
    # send this many bytes, then wait for `release` before the rest (a slow network, held)
    hold_after: dict[str, int] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    ranges: list[str | None] = field(default_factory=list)
    url: str = ""

    def add(self, repo: str, filename: str, content: bytes) -> None:
        self.files[f"{repo}/{filename}"] = content

    def _lookup(self, path: str) -> tuple[str, bytes] | None:
        repo_and_file = path.lstrip("/").replace("/resolve/main/", "/", 1)
        content = self.files.get(repo_and_file)
        return (repo_and_file, content) if content is not None else None

    @contextmanager
    def serving(self) -> Iterator["HubStandIn"]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _headers(self, key: str, content: bytes) -> None:
                sha = hashlib.sha256(content).hexdigest()
                if key in hub.wrong_sha:
                    sha = "0" * 64
                self.send_header("X-Repo-Commit", "c" * 40)
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("ETag", f'"{sha}"')
                self.send_header("X-Linked-Size", str(len(content)))
                self.send_header("Accept-Ranges", "bytes")

            def do_HEAD(self) -> None:
                found = hub._lookup(self.path)
                if found is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                key, content = found
                self.send_response(200)
                self._headers(key, content)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()

            def do_GET(self) -> None:
                found = hub._lookup(self.path)
                if found is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                key, content = found
                wanted = self.headers.get("Range")
                hub.ranges.append(wanted)
                start = int(wanted.split("=")[1].split("-")[0]) if wanted else 0
                body = content[start:]
                self.send_response(206 if wanted else 200)
                self._headers(key, content)
                self.send_header("Content-Length", str(len(body)))
                if wanted:
                    self.send_header(
                        "Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}"
                    )
                self.end_headers()
                cut = hub.cut_after.pop(key, None)
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.connection.close()  # the network drops mid-transfer
                    return
                hold = hub.hold_after.pop(key, None)
                if hold is not None:
                    self.wfile.write(body[:hold])
                    self.wfile.flush()
                    hub.release.wait(60)
                    body = body[hold:]
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


class ScriptedChat(ChatModel):
    """A chat model that answers from a script, for unit tests of orchestration only.

    `script` maps a schema's name to the raw texts to answer with, in order (then '{"items":
    []}'); every answer still goes through ChatModel's real validation and retries. Each
    call's schema name and messages are recorded in `received`.
    """

    def __init__(self, script: dict[str, list[str]]) -> None:
        super().__init__(ModelService(lambda: None, name="scripted"))
        self.script = {name: list(texts) for name, texts in script.items()}
        self.received: list[tuple[str, list[dict[str, str]]]] = []

    def _generate(self, model, messages, max_tokens, temperature, schema):  # type: ignore[override]
        name = schema.__name__ if schema else "text"
        self.received.append((name, messages))
        self.usage.prompt_tokens += sum(len(m["content"]) for m in messages) // 4
        answers = self.script.get(name) or []
        yield answers.pop(0) if answers else '{"items": []}'


class MemoryKeyring(KeyringBackend):
    """An OS keyring that keeps its passwords in a dict (`values` may be shared to see them)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, values: dict[tuple[str, str], str] | None = None) -> None:
        self.values = values if values is not None else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.values.pop((service, username), None)
