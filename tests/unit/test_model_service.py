"""The model service's orchestration: priority, cancellation, timeouts, errors, shutdown.

The "model" here is a plain object: these tests are about the thread and the queue, not about
llama.cpp (tests/integration/test_chat_model.py runs the real one)."""

import threading

import pytest

from core.errors import InvalidInput
from core.llm.service import BUFFER, Cancelled, ModelError, ModelService, Priority


@pytest.fixture
def service():
    loads = []
    svc = ModelService(lambda: loads.append(1) or "model", name="test")
    svc.loads = loads  # type: ignore[attr-defined]
    yield svc
    svc.close()


def block(service: ModelService) -> threading.Event:
    """Occupy the worker until the returned event is set."""
    release, started = threading.Event(), threading.Event()
    service.submit(lambda m, j: (started.set(), release.wait(10)), Priority.CHAT)
    assert started.wait(10)
    return release


def test_model_loads_lazily_and_once(service) -> None:
    assert service.loads == []
    assert service.run(lambda model, job: model.upper(), Priority.CHAT, timeout=10) == "MODEL"
    service.run(lambda model, job: None, Priority.MEMORY, timeout=10)
    assert service.loads == [1]


def test_jobs_run_by_priority_then_in_order(service) -> None:
    release = block(service)
    order: list[str] = []
    jobs = [
        service.submit(lambda m, j, name=name: order.append(name), priority)
        for name, priority in [
            ("consolidate", Priority.CONSOLIDATION),
            ("memory-1", Priority.MEMORY),
            ("chat", Priority.CHAT),
            ("memory-2", Priority.MEMORY),
        ]
    ]
    release.set()
    for job in jobs:
        job.result(10)
    assert order == ["chat", "memory-1", "memory-2", "consolidate"]


def test_a_job_cancelled_before_it_starts_never_runs(service) -> None:
    release = block(service)
    ran = []
    job = service.submit(lambda m, j: ran.append(1), Priority.MEMORY)
    job.cancel()
    release.set()
    with pytest.raises(Cancelled):
        job.result(10)
    assert ran == []


def test_a_timeout_cancels_the_job(service) -> None:
    release = block(service)
    job = service.submit(lambda m, j: "late", Priority.MEMORY)
    with pytest.raises(Cancelled, match="within"):
        job.result(timeout=0.05)
    assert job.cancelled
    release.set()


def test_errors_reach_the_caller_typed(service) -> None:
    def broken(model, job):
        raise ValueError("bad tensor")

    with pytest.raises(ModelError, match="bad tensor"):
        service.run(broken, Priority.CHAT, timeout=10)

    def refuses(model, job):
        raise InvalidInput("no")

    with pytest.raises(InvalidInput):
        service.run(refuses, Priority.CHAT, timeout=10)
    assert service.run(lambda m, j: "still alive", Priority.CHAT, timeout=10) == "still alive"


def test_a_failed_load_is_reported_and_retried() -> None:
    attempts = []

    def load():
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("model file is truncated")
        return "model"

    service = ModelService(load)
    with pytest.raises(ModelError, match="truncated"):
        service.run(lambda m, j: m, Priority.CHAT, timeout=10)
    assert service.run(lambda m, j: m, Priority.CHAT, timeout=10) == "model"
    service.close()


def test_stream_stops_the_producer_when_the_reader_stops(service) -> None:
    produced = []

    def produce(model, job, emit):
        for i in range(10_000):
            if job.cancelled:
                return
            produced.append(i)
            emit(str(i))

    for piece in service.stream(produce, Priority.CHAT, timeout=10):
        if piece == "3":
            break
    # Back-pressure: however fast the producer, it can be at most BUFFER pieces ahead of
    # the reader (it raced to all 10,000 on a busy machine when the buffer was unbounded).
    count = service.run(lambda m, j: len(produced), Priority.CHAT, timeout=10)
    assert 4 <= count <= 4 + BUFFER + 1


def test_close_cancels_queued_jobs_and_refuses_new_ones(service) -> None:
    release = block(service)
    queued = service.submit(lambda m, j: "never", Priority.CONSOLIDATION)
    closer = threading.Thread(target=service.close)
    closer.start()
    release.set()
    closer.join(10)
    with pytest.raises(Cancelled):
        queued.result(1)
    with pytest.raises(Cancelled, match="shut down"):
        service.run(lambda m, j: 1, Priority.CHAT, timeout=1)


def test_a_stream_whose_model_fails_to_load_ends_at_once() -> None:
    def load():
        raise OSError("not a GGUF file")

    service = ModelService(load)
    with pytest.raises(ModelError, match="not a GGUF"):
        # A timeout long enough that only a missing end marker could reach it.
        list(service.stream(lambda m, j, emit: emit("x"), Priority.CHAT, timeout=600))
    service.close()


def test_a_question_preempts_memory_writing_which_then_starts_over_whole() -> None:
    """A memory being written gives the model to the user's question between two tokens, and
    is written again from the start afterwards: its caller gets one whole answer."""
    from collections.abc import Iterator

    from core.llm.chat import ChatModel

    first_piece, question_queued = threading.Event(), threading.Event()
    runs: list[str] = []

    class Slow(ChatModel):
        def _generate(self, model, messages, max_tokens, temperature, schema) -> Iterator[str]:  # type: ignore[override]
            runs.append(messages[-1]["content"])
            if messages[-1]["content"] == "question":
                yield "answer"
                return
            yield "mem"
            if len(runs) == 1:  # the first attempt: hold here until the question is queued
                first_piece.set()
                assert question_queued.wait(10)
            yield "ory"

    chat = Slow(ModelService(lambda: "model", name="slow"))
    try:
        written: list[str] = []
        writer = threading.Thread(
            target=lambda: written.append(
                chat.complete([{"role": "user", "content": "memory"}], priority=Priority.MEMORY)
            )
        )
        writer.start()
        assert first_piece.wait(10)
        answer = chat.service.submit(
            lambda model, job: "".join(
                chat._generate(model, [{"content": "question"}], 1, 0, None)
            ),
            Priority.CHAT,
        )
        question_queued.set()
        writer.join(10)
        assert answer.result(10) == "answer"
        assert written == ["memory"]  # whole, not "memmemory"
        assert runs == ["memory", "question", "memory"]  # given way, then started over
    finally:
        chat.close()


def test_close_stops_the_running_job_and_frees_the_model_only_after_it() -> None:
    """The app quitting: the running generation stops at its next check, and the model is
    freed on its own thread once no job uses it (never under one)."""
    events: list[str] = []

    class Model:
        def close(self) -> None:
            events.append("model freed")

    service = ModelService(Model, name="test")
    started = threading.Event()

    def generate(_model: Model, job) -> str:  # type: ignore[no-untyped-def]
        started.set()
        while not job.cancelled:  # a generation checks between tokens
            threading.Event().wait(0.01)
        events.append("job ended")
        return "stopped"

    job = service.submit(generate, Priority.MEMORY)
    assert started.wait(10)
    service.close(timeout=None, cancel_running=True)
    assert job.result(0) == "stopped"
    assert events == ["job ended", "model freed"]
    with pytest.raises(Cancelled):
        service.run(lambda m, j: None, Priority.CHAT, timeout=10)
