"""Memories from the screen (what the person did, the facts shown) and the `human` block
learning who the user is — both written by code for small models, through the gate."""

from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image, ImageDraw, ImageFont

from agents import about, screen
from agents.team import Batch, MemoryTeam
from core.capture.ocr import Ocr
from core.memory.models import Source, SourceKind
from core.store.memories import MemoryStore
from tests.standins import ScriptedChat

NINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MAIL = [
    "File   Edit   View   Go   Message   Tools   Help",
    "Get Messages   Write   Reply   Forward   Archive   Delete",
    "Your booking is confirmed: flight TP 1337 from Lisbon to Berlin",
    "Departs 14 March at 07:45 from Terminal 1, seat 14C",
    "Baggage: one cabin bag is included in your fare",
    "api_key = sk-live-4eC39HqLyjWDarjtT1zdp7dc",
]


def small() -> ScriptedChat:
    chat = ScriptedChat({})
    chat.small = True
    return chat


def capture(text: str, minute: int, title: str = "Your flight booking - Inbox") -> Source:
    return Source(
        kind=SourceKind.CAPTURE,
        occurred_at=NINE + timedelta(minutes=minute),
        text=text,
        app="Thunderbird",
        title=title,
    )


def said(text: str, actor: str = "user", day: int = 0) -> Source:
    return Source(
        kind=SourceKind.CHAT, occurred_at=NINE + timedelta(days=day), text=text, actor=actor
    )


def test_ocr_noise_is_never_a_fact() -> None:
    assert all(screen.noise(line) for line in MAIL[:2])
    assert screen.noise("§ |¦ 1 2 3 :: ..") and screen.noise("Inbox")
    assert not screen.noise(MAIL[3])
    assert screen.is_fact(MAIL[3]) and screen.is_fact("Booking reference QX7P2L")
    assert not screen.is_fact("asyncio is a library to write concurrent code with async/await")


def test_a_capture_batch_becomes_what_i_did_and_the_facts_on_screen(store: MemoryStore) -> None:
    captures = store.add_sources(
        [capture("\n".join(MAIL), 0), capture("", 6), capture("Notes from the call", 7, "Notes")]
    )
    report = MemoryTeam(store, small()).process(Batch(captures, "capture"))
    # Two visits (the mail, then the notes): two episodes; two lines on the mail are facts.
    assert report.inserted == {"episodic": 2, "semantic": 2} and report.calls == 0
    (episode,) = [m for m in store.memories(types=["episodic"]) if "flight" in m.headline]
    assert episode.summary == (  # type: ignore[attr-defined]
        "Viewed “Your flight booking - Inbox” in Thunderbird for a few minutes"
    )
    assert "Departs 14 March at 07:45" in episode.details  # type: ignore[attr-defined]
    assert {s.id for s in store.sources_of(episode.id)} == {captures[0].id, captures[1].id}
    facts = sorted(m.summary for m in store.memories(types=["semantic"]))  # type: ignore[attr-defined]
    assert facts == sorted(MAIL[2:4])
    everything = " ".join(m.search_text() for m in store.memories())
    assert "Forward" not in everything and "sk-live" not in everything
    # The same screen again later is not a second set of memories.
    again = store.add_sources([capture("\n".join(MAIL), 60)])
    report = MemoryTeam(store, small()).process(Batch(again, "capture"))
    assert report.inserted == {} and report.refused == {"near-duplicate": 3}


@pytest.mark.slow
def test_real_ocr_of_a_mail_reaches_the_memories(store: MemoryStore) -> None:
    image = Image.new("RGB", (1280, 400), "white")
    pen = ImageDraw.Draw(image)
    font = ImageFont.load_default(18)
    for n, line in enumerate(MAIL[:5]):
        pen.text((24, 8 + n * 40), line, fill="black", font=font)
    text = "\n".join(line.text for line in Ocr().read(image))
    captures = store.add_sources([capture(text, 0)])
    MemoryTeam(store, small()).process(Batch(captures, "capture"))
    facts = " ".join(m.search_text() for m in store.memories(types=["semantic"]))
    assert "07:45" in facts and "14C" in facts and "Help" not in facts


def word(n: int) -> str:
    """A distinct made-up word per number (digits would not make sentences differ)."""
    return "".join(chr(ord("a") + int(d)) for d in f"{n:03d}")


def test_lasting_facts_the_user_states_are_found() -> None:
    lines = [
        said("My sister Marta is allergic to peanuts. She turns 30 in June!"),
        said("I work as a nurse at the children's hospital and I love night shifts."),
        said("Do you like my sister's cake?"),
        said("Haha that was such a fun day, thanks!"),
        said("My sister Ana is allergic to cats.", actor="assistant"),
        said("We go climbing every Saturday morning at the old gym.", actor="Caroline"),
    ]
    found = [sentence for sentence, _ in about.stable_facts(lines)]
    assert found == [
        "My sister Marta is allergic to peanuts.",
        "I work as a nurse at the children's hospital and I love night shifts.",
    ]


def test_the_human_block_learns_the_user_with_provenance(store: MemoryStore) -> None:
    first = store.add_sources(
        [said("My sister Marta is allergic to peanuts, so no satay at her birthday party.")]
    )
    MemoryTeam(store, small()).process(Batch(first))
    block = store.core_block("human")
    assert block.value == (
        "- “My sister Marta is allergic to peanuts, so no satay at her birthday party.”"
        " (2 Mar 2026)"
    )
    assert [s.id for s in store.sources_of(block.id)] == [first[0].id]
    # Said again a month later: nothing new, the block does not grow.
    again = store.add_sources(
        [said("My sister Marta is allergic to peanuts, so no satay at her birthday party!", day=30)]
    )
    MemoryTeam(store, small()).process(Batch(again))
    assert store.core_block("human").value == block.value
    # The block stays within its limit: the oldest line goes first.
    many = store.add_sources(
        [
            said(f"I love the music of {word(n)}band and the food at {word(n)}cafe.", day=n)
            for n in range(200)
        ]
    )
    MemoryTeam(store, small()).process(Batch(many))
    grown = store.core_block("human")
    assert len(grown.value) <= 0.9 * grown.char_limit and f"{word(199)}band" in grown.value
    assert "Marta" not in grown.value


def test_a_secret_split_over_lines_never_reaches_the_human_block(store: MemoryStore) -> None:
    lines = store.add_sources([said("My password:\nSunflower99 is what I type every day.")])
    MemoryTeam(store, small()).process(Batch(lines))
    assert "Sunflower99" not in store.core_block("human").value
