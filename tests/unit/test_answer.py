"""Answers that say only what the notes say: the echo the bundled model produced is caught,
and the extractive answer quotes the note that answers, attributed and cited."""

from collections.abc import Sequence
from datetime import UTC, datetime

from agents.answer import NOTHING, echoes_prompt, extractive, grounded
from agents.chat import ChatAgent, Item
from core.embed import Embedder
from core.memory.models import Source, SourceKind
from core.store.memories import MemoryStore
from tests.standins import ScriptedChat

NOV = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
HOTEL = (
    "user: I'm flying to Lisbon on 14 March for the PyCon talk; "
    "I booked the Memmo Alfama hotel for three nights."
)
RIVER = "assistant: Nice! The Memmo Alfama is close to the river."
SISTER = "user: My sister Marta is allergic to peanuts, and her birthday is on 3 June."


def items() -> list[Item]:
    return [
        Item("source", f"s{n}", label, label, NOV, [f"s{n}"], number=n)
        for n, label in enumerate((HOTEL, RIVER, SISTER), 1)
    ]


# What SmolLM2-135M streamed back for "Which hotel am I staying at in Lisbon?"
ECHO = f"""Mnemo, the user's personal memory, running on their own computer.

[1] (2026-11-20 10:00, chat) {HOTEL}
[2] (2026-11-20 10:00, chat) {RIVER}

Question: Which hotel am I staying at in Lisbon?"""


def test_the_echo_is_caught_and_a_supported_answer_passes() -> None:
    assert echoes_prompt(ECHO) and not grounded(ECHO, items())
    assert grounded("You booked the Memmo Alfama hotel in Lisbon [1].", items())
    assert not grounded("You are staying at the Ritz in Porto.", items())


def test_a_memory_is_quoted_from_its_text_not_only_its_name() -> None:
    cat = Item(
        "memory",
        "m1",
        "Miso",
        "(2026-11-20, semantic memory) Miso: My cat Miso is a grey tabby from the shelter",
        NOV,
        [],
        number=1,
    )
    answer = extractive("What is my cat called?", [cat])
    quoted = "“Miso: My cat Miso is a grey tabby from the shelter” [1]"
    assert answer == f"From your memory on 20 Nov 2026: {quoted}"


def test_the_extractive_answer_quotes_the_note_that_answers() -> None:
    answer = extractive("Which hotel am I staying at in Lisbon?", items())
    assert answer.startswith("You said on 20 Nov 2026: “I'm flying to Lisbon")
    assert "Memmo Alfama hotel" in answer and answer.endswith("[1]")
    assert "Marta" in extractive("When is my sister's birthday?", items())
    assert extractive("What is the capital of Peru?", items()) == NOTHING


def test_a_small_model_answers_extractively_and_a_generated_echo_is_replaced(
    store: MemoryStore,
) -> None:
    store.add_sources(
        [Source(kind=SourceKind.CHAT, occurred_at=NOV, text=HOTEL.split(": ", 1)[1], actor="user")]
    )
    small = ScriptedChat({})
    small.small = True
    answer = ChatAgent(store, small).ask("Which hotel am I staying at in Lisbon?", now=NOV)
    assert "Memmo Alfama" in answer.text and small.received == []
    assert answer.citations and answer.citations[0].kind == "source"

    echoing = ScriptedChat({"text": [ECHO]})
    answer = ChatAgent(store, echoing).ask("Which hotel am I staying at in Lisbon?", now=NOV)
    assert echoing.received  # the model was asked, and its echo replaced
    assert not echoes_prompt(answer.text) and "Memmo Alfama" in answer.text


def test_quotes_say_whose_words_they_are_and_meaning_breaks_ties(minilm: Embedder) -> None:
    notes = [
        Item("source", "s1", RIVER, RIVER, NOV, ["s1"], number=1),
        Item("source", "s2", "Caroline: I painted a lake at sunrise.", "", NOV, ["s2"], number=2),
    ]
    assert extractive("Is the hotel close to the river?", notes[:1]).startswith(
        "The assistant said on 20 Nov 2026:"
    )
    assert extractive("What did Caroline paint?", notes[1:]).startswith("Caroline said")

    def similarity(question: str, sentences: Sequence[str]) -> list[float]:
        vectors = minilm.embed([question, *sentences])
        return [float(v) for v in vectors[1:] @ vectors[0]]

    # One shared word each ("sister", "allergic"): the meaning picks the allergy.
    about = [
        Item("memory", "c", "About you", text, None, [], number=n)
        for n, text in enumerate(
            ["My sister Marta turns 30 on 3 June.", "Marta is severely allergic to peanuts."], 1
        )
    ]
    answer = extractive("What is my sister allergic to?", about, similarity)
    assert "peanuts" in answer and answer.endswith("[2]")
