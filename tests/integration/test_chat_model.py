"""The bundled chat model (SmolLM2-135M) on llama.cpp: structured output, streaming,
cancellation and typed errors. A 135M model's answers are not judged; the mechanics are."""

import pytest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.llm import bundled
from core.llm.chat import ChatModel, LlamaChat, SchemaNotSupported, StructuredOutputError
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
def chat(tmp_path_factory):
    # As the app runs it: requantized into a models folder.
    model = LlamaChat.bundled(tmp_path_factory.mktemp("models"))
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


def test_a_missing_model_package_is_a_clear_error_on_first_use(monkeypatch) -> None:
    monkeypatch.setattr("core.llm.bundled.importlib.util.find_spec", lambda name: None)
    model = LlamaChat.bundled()  # lazy: the app starts even so
    with pytest.raises(bundled.ModelMissing, match="make setup"):
        model.complete([{"role": "user", "content": "hi"}], timeout=60)
    model.close()


def test_a_corrupt_model_file_fails_the_call_not_the_app(tmp_path) -> None:
    from core.llm.service import ModelError

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    model = LlamaChat.from_file(lambda: broken)
    with pytest.raises(ModelError, match="not a usable GGUF"):
        model.complete([{"role": "user", "content": "hi"}], timeout=60, priority=Priority.CHAT)
    model.close()


@pytest.mark.slow
def test_the_user_waiting_in_the_chat_pane_goes_first(chat: ChatModel) -> None:
    """With the model busy, queued work runs chat first, then memory, then consolidation."""
    import threading
    import time

    started, release = threading.Event(), threading.Event()

    def hold(model, job) -> None:
        started.set()
        release.wait(60)

    busy = chat.service.submit(hold, Priority.CONSOLIDATION)
    # The model's thread must have taken the busy job before the others queue up: until
    # then it is itself one of the queued jobs (it may still be finishing earlier work).
    assert started.wait(120)
    finished: list[str] = []

    def ask(label: str, priority: Priority) -> None:
        chat.complete(
            [{"role": "user", "content": f"Say {label}."}], max_tokens=4, priority=priority
        )
        finished.append(label)

    threads = []
    for label, priority in [
        ("consolidation", Priority.CONSOLIDATION),
        ("memory", Priority.MEMORY),
        ("chat", Priority.CHAT),
    ]:
        threads.append(threading.Thread(target=ask, args=(label, priority)))
        threads[-1].start()
    deadline = time.monotonic() + 30
    while chat.service.pending < 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # all three queued behind the busy job, in the worst order
    assert chat.service.pending == 3
    release.set()
    busy.result(60)
    for thread in threads:
        thread.join(120)
    assert finished == ["chat", "memory", "consolidation"]
