"""The bundled chat model (SmolLM2-135M) on llama.cpp: structured output, streaming,
cancellation and typed errors. A 135M model's answers are not judged; the mechanics are."""

import pytest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.llm import bundled
from core.llm.chat import ChatModel, SchemaNotSupported, StructuredOutputError
from core.llm.service import Priority


class Fact(BaseModel):
    name: str = Field(min_length=1, max_length=60)
    summary: str = Field(max_length=160)


class Extraction(BaseModel):
    topics: list[str] = Field(max_length=3)
    facts: list[Fact] = Field(max_length=2)


class Impossible(BaseModel):
    """The grammar allows any word; the validator accepts none: every attempt fails."""

    word: str = Field(max_length=12)

    @field_validator("word")
    @classmethod
    def never(cls, value: str) -> str:
        raise ValueError("rejected on purpose")


@pytest.fixture(scope="module")
def chat():
    model = ChatModel.bundled()
    yield model
    model.close()


PROMPT = [
    {"role": "system", "content": "Extract topics and facts from the user's message as JSON."},
    {"role": "user", "content": "I moved to Lisbon last month. I work on billing with Alice."},
]


@pytest.mark.slow
def test_structured_output_is_a_valid_instance(chat: ChatModel) -> None:
    result = chat.structured(PROMPT, Extraction, max_tokens=256)
    assert isinstance(result, Extraction)
    assert len(result.topics) <= 3 and len(result.facts) <= 2


@pytest.mark.slow
def test_invalid_output_is_retried_then_raised_whole(chat: ChatModel, monkeypatch) -> None:
    calls = []
    original = chat.complete

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(chat, "complete", counting)
    with pytest.raises(StructuredOutputError, match="after 3 attempts") as caught:
        chat.structured(PROMPT, Impossible, retries=2, max_tokens=32)
    assert len(calls) == 3
    assert caught.value.last_output.startswith("{")


def test_a_schema_without_a_grammar_is_a_typed_error(chat: ChatModel) -> None:
    class Lookbehind(BaseModel):
        # pydantic accepts this with Python's regex engine; llama.cpp's grammar cannot say it.
        model_config = ConfigDict(regex_engine="python-re")
        code: str = Field(pattern=r"(?<=x)y")

    with pytest.raises(SchemaNotSupported, match="Lookbehind"):
        chat.structured(PROMPT, Lookbehind)


@pytest.mark.slow
def test_streaming_and_cancellation(chat: ChatModel) -> None:
    pieces = list(
        chat.stream([{"role": "user", "content": "Count from one to ten."}], max_tokens=40)
    )
    assert len(pieces) > 3 and "".join(pieces).strip()
    for _piece in chat.stream([{"role": "user", "content": "Tell a long story."}], max_tokens=400):
        break  # the user pressed stop
    answer = chat.complete([{"role": "user", "content": "Say yes."}], max_tokens=8, timeout=120)
    assert isinstance(answer, str)  # the model is free again after the cancelled stream


def test_a_missing_model_package_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr("core.llm.bundled.importlib.util.find_spec", lambda name: None)
    with pytest.raises(bundled.ModelMissing, match="make setup"):
        ChatModel.bundled()


def test_a_corrupt_model_file_fails_the_call_not_the_app(tmp_path) -> None:
    from core.llm.chat import load_llama
    from core.llm.service import ModelError, ModelService

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    model = ChatModel(ModelService(lambda: load_llama(broken), name="broken"))
    with pytest.raises(ModelError):
        model.complete([{"role": "user", "content": "hi"}], timeout=60, priority=Priority.CHAT)
    model.close()
