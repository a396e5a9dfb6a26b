"""The extractive writer: for small models, code picks the input lines worth remembering and
writes the memory from them — the person's own words, cleaned, with the speaker and the time of
the line — instead of asking a 135M model to write them (it fills schemas with placeholders and
invented names; see agents/gate.py).

Which lines: agents.select, a small learned selector on the embedder Mnemo already runs
(its docstring has the figures); SmolLM2-135M asked to pick did worse than chance.
"""

import re
from collections.abc import Sequence

from agents import select as selector
from core.embed import Embedder
from core.memory.models import EpisodicMemory, Source

MIN_WORDS = 5
SUMMARY_CHARS = 160
DETAILS_CHARS = 600
_THE_USER = {"user", "you", "me", "i", "assistant", "system", "mnemo"}
_ASSISTANTS = {"assistant", "system", "tool", "mnemo"}  # mnemo: the app's own answers
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def memory_from(source: Source, *, event_type: str = "conversation") -> EpisodicMemory:
    """The line as an episodic memory: its first sentences as the summary, the rest as the
    details, the speaker as the actor, the line's time as the event's. Another person's
    words open with their name ("Caroline: I went to …"): "I" must say who."""
    text = " ".join(source.text.split())
    if source.actor and source.actor.casefold() not in _THE_USER:
        text = f"{source.actor}: {text}"
    summary = ""
    for sentence in _SENTENCE_END.split(text):
        if summary and len(summary) + 1 + len(sentence) > SUMMARY_CHARS:
            break
        summary = f"{summary} {sentence}".strip()
    if len(summary) > SUMMARY_CHARS:
        summary = summary[: SUMMARY_CHARS - 1].rsplit(" ", 1)[0] + "…"
    details = text[len(summary) :].strip() if text.startswith(summary) else text
    return EpisodicMemory(
        event_type=event_type,
        summary=summary,
        details=details[:DETAILS_CHARS],
        actor=source.actor or "user",
        occurred_at=source.occurred_at,
        source_app=source.app,
    )


def select(
    sources: Sequence[Source], embedder: Embedder, *, keep_all: bool = False
) -> list[Source]:
    """The lines to write memories from (`keep_all`: every line with text — what the user
    asked to remember). An assistant's replies are advice anyone could get, not the person's
    life: what the user said in answer to them is what is kept."""
    texts = [" ".join(s.text.split()) for s in sources]
    if keep_all:
        return [s for s, t in zip(sources, texts, strict=True) if t]
    pairs = zip(sources, texts, strict=True)
    candidates = [
        (s, t)
        for s, t in pairs
        if len(t.split()) >= MIN_WORDS and (s.actor or "").casefold() not in _ASSISTANTS
    ]
    chance = selector.scores(embedder, [t for _, t in candidates])
    return [s for (s, _), p in zip(candidates, chance, strict=True) if p >= selector.THRESHOLD]
