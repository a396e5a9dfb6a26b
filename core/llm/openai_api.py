"""A second backend: any OpenAI-compatible server (llama-server, Ollama, LM Studio, vLLM).

For users who already run a model server, perhaps on a bigger machine. Chat goes through the
same ModelService as a local model, so priorities, cancellation and timeouts behave the same;
structured output asks the server for `response_format: json_schema`, and pydantic still
validates every answer (servers differ in how strictly they enforce a schema). Plain urllib:
the protocol is a few JSON posts and a server-sent-event stream.
"""

import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel

from core.embed import normalise
from core.llm.chat import ChatModel, Message
from core.llm.service import ModelError, ModelService


class OpenAIClient:
    """Requests to one server. Stateless apart from its settings, so safe on any thread."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 120):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Any) -> "OpenAIClient":
        """From a core.settings.OpenAISettings; the key comes from the environment, never
        from the settings file."""
        return cls(
            settings.base_url,
            api_key=os.environ.get(settings.api_key_env) or None,
            timeout=settings.timeout_s,
        )

    def open(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST `body` (or GET without one) and return the open response."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read(2000).decode("utf-8", "replace").strip()
            raise ModelError(
                f"{self.base_url}{path} answered HTTP {exc.code}: {detail or exc.reason}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModelError(
                f"cannot reach the model server at {self.base_url}: {reason}"
            ) from None

    def post(self, path: str, body: dict[str, Any]) -> Any:
        with self.open(path, body) as response:
            try:
                return json.loads(response.read())
            except ValueError as exc:
                raise ModelError(f"{self.base_url}{path} did not answer JSON: {exc}") from None

    def models(self) -> list[str]:
        with self.open("/models") as response:
            return [m["id"] for m in json.loads(response.read()).get("data", [])]

    def chat_stream(self, body: dict[str, Any]) -> Iterator[str]:
        """The content pieces of a streamed chat completion, read as server-sent events."""
        with self.open("/chat/completions", {**body, "stream": True}) as response:
            for raw in response:
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    event = json.loads(data)
                except ValueError:
                    raise ModelError(f"the server sent a malformed event: {data[:200]}") from None
                if "error" in event:
                    raise ModelError(f"the server reported an error: {event['error']}")
                choices = event.get("choices") or [{}]
                yield (choices[0].get("delta") or {}).get("content") or ""


class OpenAIChat(ChatModel):
    """Chat on a remote OpenAI-compatible server, behind the same interface as LlamaChat."""

    def __init__(self, client: OpenAIClient, model: str) -> None:
        super().__init__(ModelService(lambda: client, name=f"openai:{model}"))
        self.model = model

    def _generate(
        self,
        model: Any,
        messages: list[Message],
        max_tokens: int,
        temperature: float,
        schema: type[BaseModel] | None,
    ) -> Generator[str, None, None]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema.__name__,
                    "schema": schema.model_json_schema(),
                },
            }
        return model.chat_stream(body)


class OpenAIEmbedder:
    """An `Embedder` over the server's /embeddings. Its dimension is learned from the first
    answer, since servers do not advertise it."""

    def __init__(self, client: OpenAIClient, model: str) -> None:
        self.client = client
        self.model = model
        self._dim: int | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"openai:{self.model}@{self.client.base_url}"

    @property
    def dim(self) -> int:
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        answer = self.client.post("/embeddings", {"model": self.model, "input": list(texts)})
        try:
            rows = sorted(answer["data"], key=lambda row: row["index"])
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"the server's embeddings are malformed: {exc!r}") from None
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ModelError(f"asked for {len(texts)} embeddings, got {vectors.shape}")
        with self._lock:
            if self._dim is None:
                self._dim = vectors.shape[1]
            elif vectors.shape[1] != self._dim:
                raise ModelError(f"embedding size changed from {self._dim} to {vectors.shape[1]}")
        return normalise(vectors)
