"""The OpenAI-compatible backend against a local stand-in server that runs the real bundled
models, the way llama-server or Ollama would: streaming, schema-constrained output,
cancellation, embeddings, server errors, and the manager and CLI choosing it."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel, Field

from app.cli import main
from core.llm.embedder import LlamaEmbedder
from core.llm.manager import ModelManager
from core.llm.openai_api import OpenAIChat, OpenAIClient, OpenAIEmbedder
from core.llm.service import ModelError
from core.settings import Settings


class Trip(BaseModel):
    city: str = Field(min_length=1, max_length=40)
    month: str = Field(max_length=20)


class StandInServer:
    """/v1/models, /v1/chat/completions (streamed, with response_format json_schema turned into
    a llama.cpp grammar, as llama-server does) and /v1/embeddings, on the bundled models."""

    def __init__(self, models_dir: Path) -> None:
        from llama_cpp import Llama

        from core.llm.bundled import chat_model_path

        self.llama = Llama(model_path=str(chat_model_path()), n_ctx=2048, verbose=False)
        self.embedder = LlamaEmbedder.bundled(models_dir)
        self.lock = threading.Lock()
        self.requests: list[dict] = []

    def handle(self, path: str, body: dict, send) -> None:
        self.requests.append({"path": path, **body})
        if body.get("model") == "broken":
            send(500, {"error": {"message": "model 'broken' failed to load"}})
        elif path == "/v1/embeddings":
            vectors = self.embedder.embed(body["input"])
            send(
                200,
                {"data": [{"index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]},
            )
        elif path == "/v1/chat/completions":
            send(200, None, stream=self.chat(body))
        else:
            send(404, {"error": "no such route"})

    def chat(self, body: dict) -> Iterator[dict]:
        from llama_cpp import LlamaGrammar

        grammar = None
        if (body.get("response_format") or {}).get("type") == "json_schema":
            schema = body["response_format"]["json_schema"]["schema"]
            grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        with self.lock:
            yield from self.llama.create_chat_completion(
                messages=body["messages"],
                max_tokens=body.get("max_tokens", 64),
                temperature=body.get("temperature", 0.2),
                grammar=grammar,
                stream=True,
            )

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._send(200, {"data": [{"id": "smollm2"}, {"id": "minilm"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.handle(self.path, body, self._send)

            def _send(self, status: int, payload, stream=None) -> None:
                self.send_response(status)
                if stream is None:
                    data = json.dumps(payload).encode()
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for chunk in stream:
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: its user pressed stop
                finally:
                    stream.close()
                self.close_connection = True

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[StandInServer, str]]:
    stand_in = StandInServer(tmp_path_factory.mktemp("server-models"))
    http, url = stand_in.serve()
    yield stand_in, url
    http.shutdown()
    http.server_close()


@pytest.fixture
def chat(server) -> Iterator[OpenAIChat]:
    model = OpenAIChat(OpenAIClient(server[1], timeout=120), "smollm2")
    yield model
    model.close()


PROMPT = [{"role": "user", "content": "I am flying to Lisbon in May. Where and when?"}]


@pytest.mark.slow
def test_streamed_chat(chat: OpenAIChat) -> None:
    pieces = list(chat.stream([{"role": "user", "content": "Count to five."}], max_tokens=24))
    assert len(pieces) > 2 and "".join(pieces).strip()


@pytest.mark.slow
def test_structured_output_through_the_server(server, chat: OpenAIChat) -> None:
    trip = chat.structured(PROMPT, Trip, max_tokens=64)
    assert isinstance(trip, Trip)
    sent = server[0].requests[-1]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"]["title"] == "Trip"


@pytest.mark.slow
def test_stopping_a_stream_frees_the_model(chat: OpenAIChat) -> None:
    for _ in chat.stream([{"role": "user", "content": "Tell a long story."}], max_tokens=300):
        break
    assert chat.complete([{"role": "user", "content": "Say yes."}], max_tokens=4, timeout=120)


def test_server_errors_and_unreachable_servers_are_typed_errors(server) -> None:
    broken = OpenAIChat(OpenAIClient(server[1]), "broken")
    with pytest.raises(ModelError, match=r"HTTP 500.*failed to load"):
        broken.complete(PROMPT, timeout=60)
    broken.close()
    nowhere = OpenAIChat(OpenAIClient("http://127.0.0.1:9/v1"), "x")
    with pytest.raises(ModelError, match="cannot reach the model server"):
        nowhere.complete(PROMPT, timeout=60)
    nowhere.close()


def test_server_embeddings_match_the_local_ones(server, tmp_path: Path) -> None:
    texts = ["Alice and I reviewed the Q3 budget.", "My cat sleeps on the keyboard."]
    remote = OpenAIEmbedder(OpenAIClient(server[1]), "minilm")
    assert remote.dim == 384
    local = LlamaEmbedder.bundled(tmp_path / "models").embed(texts)
    assert np.allclose(remote.embed(texts), local, atol=1e-5)
    assert remote.name.startswith("openai:minilm@http://127.0.0.1")


@pytest.mark.slow
def test_choosing_the_server_in_settings_drives_the_cli(
    server, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings()
    settings.models.openai.base_url = server[1]
    settings.save(data_dir)
    manager = ModelManager(data_dir)
    manager.use("chat", "openai:smollm2")
    manager.use("embedding", "openai:minilm")

    assert main(["--data-dir", str(data_dir), "generate", "--max-tokens", "8", "Hi"]) == 0
    assert capsys.readouterr().out.strip()
    assert server[0].requests[-1]["model"] == "smollm2"

    base = ["--data-dir", str(data_dir)]
    assert main([*base, "add", "semantic", "name=Lisbon", "summary=Capital of Portugal"]) == 0
    capsys.readouterr()
    embedded = sum(r["path"] == "/v1/embeddings" for r in server[0].requests)
    assert main([*base, "--json", "search", "Portuguese capital city"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and hits[0]["memory"]["name"] == "Lisbon"
    assert sum(r["path"] == "/v1/embeddings" for r in server[0].requests) > embedded
