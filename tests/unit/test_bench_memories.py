"""The memory benchmark's own checks (bench.memories): they must be able to fail."""

from datetime import UTC, datetime

from agents.chat import Answer, Item
from bench.memories import covers, echoes, junk, supported
from core.memory.models import EpisodicMemory, SemanticMemory, Source, SourceKind

MAY = datetime(2023, 5, 8, tzinfo=UTC)
LINE = Source(
    kind=SourceKind.CHAT,
    occurred_at=MAY,
    text="I went to the LGBTQ support group yesterday and it was so powerful.",
    actor="Caroline",
)


def note(text: str, number: int = 1) -> Item:
    return Item("source", "s", f"Caroline: {text}", text, MAY, ["s"], number=number)


def test_coverage_needs_half_of_the_facts_content_words() -> None:
    fact = "Caroline attended an LGBTQ support group recently."
    assert covers(f"Caroline: {LINE.text}", fact)
    assert not covers("Caroline went swimming with the kids.", fact)
    assert not covers("x" * 500 + LINE.text, fact)  # only the first 500 characters count


def test_junk_is_placeholders_invented_names_and_numbers_and_far_dates() -> None:
    good = EpisodicMemory(summary="Caroline: I went to the LGBTQ support group.", occurred_at=MAY)
    assert junk(good, [LINE]) is None
    assert junk(SemanticMemory(name="memory_name", summary="memory_name"), [LINE]) == "placeholder"
    invented = EpisodicMemory(summary="She went to the group with Marta.", occurred_at=MAY)
    assert junk(invented, [LINE]) == "ungrounded name: Marta"
    counted = EpisodicMemory(summary="She went to 3 groups.", occurred_at=MAY)
    assert junk(counted, [LINE]) == "ungrounded number: 3"
    far = EpisodicMemory(summary="went to the support group", occurred_at=datetime(2031, 1, 1))
    assert junk(far, [LINE]) == "impossible date"


def test_an_echo_is_the_prompt_or_several_notes_not_one_quote() -> None:
    notes = [note(LINE.text, 1), note("I'm going to paint a sunrise over the lake soon.", 2)]
    quote = Answer("q", text=f"Caroline said on 8 May 2023: “{LINE.text}” [1]", items=notes)
    assert not echoes(quote, "Answer the question from the notes only and cite them by number.")
    assert supported(quote)
    copied = Answer("q", text=f"[1] {notes[0].text}\n[2] {notes[1].text}", items=notes)
    assert echoes(copied, "Answer briefly.")
    parroted = Answer("q", text="Answer the question from the notes only, please.", items=notes)
    assert echoes(parroted, "Answer the question from the notes only and cite them by number.")
    made_up = Answer("q", text="Caroline moved to Toronto with her brother.", items=notes)
    assert not supported(made_up)
