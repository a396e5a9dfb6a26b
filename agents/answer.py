"""Answers that say only what the notes say.

A 135M model asked a question over numbered notes often streams the prompt back, notes and all,
or states what no note says. For small models the answer is extractive: the note sentence that
best matches the question, attributed and cited, in a short template. A generated answer is
kept only when it passes `grounded`; otherwise the extractive one replaces it.
"""

import re
from collections.abc import Sequence
from typing import Any

from agents.gate import GROUNDED_SHARE, content_words

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_OPENING = re.compile(r"^\([^)]*\)\s*")
_NOTE_HEADER = re.compile(r"\[\d{1,3}\]\s*\(\d{4}-\d{2}-\d{2}")  # how notes open in the prompt
PROMPT_MARKERS = ("Question:", "Notes:", "About the user:", "Today is ")
NOTHING = "I found nothing about that in your memory."


def echoes_prompt(text: str) -> bool:
    """Whether an answer repeats the prompt's scaffolding (its notes' headers, its labels)."""
    return bool(_NOTE_HEADER.search(text)) or any(marker in text for marker in PROMPT_MARKERS)


def supported(text: str, items: Sequence[Any]) -> bool:
    """Whether most of the answer's content words are found in the notes it was shown."""
    words = content_words(re.sub(r"\[\d{1,3}\]", " ", text))
    if not words:
        return False
    shown = set().union(*(content_words(f"{i.label} {i.text}") for i in items)) if items else set()
    return len(words & shown) / len(words) >= GROUNDED_SHARE


def grounded(text: str, items: Sequence[Any]) -> bool:
    return bool(text.strip()) and not echoes_prompt(text) and supported(text, items)


def extractive(question: str, items: Sequence[Any]) -> str:
    """The best-matching sentence of the notes, attributed and cited: "You said on 20 Nov
    2026: “…” [2]"; or NOTHING when no note shares a word with the question."""
    wanted = content_words(question)
    best: tuple[float, str, Any] | None = None
    for rank, item in enumerate(items):
        if item.kind == "source":
            speaker, _, body = item.label.partition(": ")
            body = body or item.label
        else:  # a memory's prompt text, without its "(date, type memory)" opening
            speaker, body = "", _OPENING.sub("", item.text)
        for sentence in _SENTENCE.split(" ".join(body.split())):
            score = len(wanted & content_words(sentence)) - rank * 0.01
            if score > 0 and (best is None or score > best[0]):
                best = (score, sentence, (item, speaker))
    if best is None:
        return NOTHING
    _, sentence, (item, speaker) = best
    when = f" on {item.when:%-d %b %Y}" if item.when else ""
    if item.kind == "source":
        who = "You" if speaker.lower() in ("user", "you", "") else speaker
        return f"{who} said{when}: “{sentence}” [{item.number}]"
    return f"From your memory{when}: “{sentence}” [{item.number}]"
