"""Chat completion on a local model: free text, streamed text, and schema-constrained output.

Structured calls build a grammar from the pydantic model's JSON Schema and pass it as
`grammar=` (llama-cpp-python 0.3.36 silently ignores `response_format` of type json_schema),
then validate with pydantic. An invalid answer is retried a bounded number of times and then
raised as a typed error: callers get a whole, valid object or an exception, never partial data.
"""

import functools
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

import core.llm  # first: sets OpenMP's wait policy before llama_cpp loads
from core.llm.bundled import chat_model_path
from core.llm.service import Job, ModelError, ModelService, Priority

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
Message = dict[str, str]


class SchemaNotSupported(ModelError):
    """A pydantic model whose JSON Schema llama.cpp cannot turn into a grammar."""


class StructuredOutputError(ModelError):
    """No valid answer after every attempt; `last_output` is the final raw text."""

    def __init__(self, message: str, last_output: str) -> None:
        super().__init__(message)
        self.last_output = last_output


@functools.cache
def grammar_for(schema: type[BaseModel]) -> Any:
    """The llama.cpp grammar for a pydantic model, built once per model class."""
    from llama_cpp import LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(json.dumps(schema.model_json_schema()), verbose=False)
    except (AssertionError, ValueError, KeyError, RecursionError) as exc:
        raise SchemaNotSupported(f"{schema.__name__}'s JSON Schema has no grammar: {exc}") from exc


def load_llama(path: os.PathLike[str] | str, *, n_ctx: int = 4096) -> Any:
    """Load a GGUF chat model, offloading every layer to the GPU when the build supports it."""
    import llama_cpp

    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    return llama_cpp.Llama(
        model_path=str(path),
        n_ctx=n_ctx,
        n_threads=core.llm.default_threads(),
        n_gpu_layers=-1 if gpu else 0,
        verbose=False,
    )


class ChatModel:
    """A chat model behind its ModelService: safe to call from any thread."""

    def __init__(self, service: ModelService) -> None:
        self.service = service

    @classmethod
    def bundled(cls) -> "ChatModel":
        path = chat_model_path()
        return cls(ModelService(lambda: load_llama(path), name="chat"))

    def close(self) -> None:
        self.service.close()

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.2,
        grammar: Any = None,
        priority: Priority = Priority.CHAT,
        timeout: float | None = None,
    ) -> str:
        return "".join(
            self.stream(
                messages,
                max_tokens=max_tokens,
                temperature=temperature,
                grammar=grammar,
                priority=priority,
                timeout=timeout,
            )
        )

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.2,
        grammar: Any = None,
        priority: Priority = Priority.CHAT,
        timeout: float | None = None,
    ) -> Iterator[str]:
        """Tokens as the model produces them; stopping early cancels the generation."""

        def produce(llama: Any, job: Job[None], emit: Callable[[str], None]) -> None:
            chunks = llama.create_chat_completion(
                messages=list(messages),
                max_tokens=max_tokens,
                temperature=temperature,
                grammar=grammar,
                stream=True,
            )
            try:
                for chunk in chunks:
                    if job.cancelled:
                        break
                    text = chunk["choices"][0]["delta"].get("content")
                    if text:
                        emit(text)
            finally:
                # Stops llama.cpp's decode loop here, on the model's thread, before the next job
                # uses the model, rather than whenever the generator is garbage-collected.
                chunks.close()

        return self.service.stream(produce, priority, timeout)

    def structured(
        self,
        messages: Sequence[Message],
        schema: type[M],
        *,
        retries: int = 2,
        max_tokens: int = 512,
        priority: Priority = Priority.MEMORY,
        timeout: float | None = None,
    ) -> M:
        """A `schema` instance generated under its grammar and validated by pydantic.

        Each failed attempt is shown to the model with the reason before the next one; a
        truncated answer gets twice the tokens. After `retries` more attempts, raises
        StructuredOutputError.
        """
        grammar = grammar_for(schema)
        conversation = list(messages)
        output, reason = "", ""
        for attempt in range(1, retries + 2):
            output = self.complete(
                conversation,
                max_tokens=max_tokens,
                temperature=0.2 if attempt == 1 else 0.7,
                grammar=grammar,
                priority=priority,
                timeout=timeout,
            )
            try:
                return schema.model_validate_json(output)
            except ValidationError as exc:
                reason = _reason(exc)
                if "EOF" in reason or "json_invalid" in reason:
                    max_tokens *= 2  # most likely cut off by max_tokens
                log.info(
                    "structured attempt %d for %s invalid: %s", attempt, schema.__name__, reason
                )
                conversation += [
                    {"role": "assistant", "content": output},
                    {"role": "user", "content": f"That is not valid ({reason}). Answer again."},
                ]
        raise StructuredOutputError(
            f"no valid {schema.__name__} after {retries + 1} attempts: {reason}", output
        )


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{first['type']} at {where or 'top level'}: {first['msg']}"
