"""Answers that say only what the notes say.

A 135M model asked a question over numbered notes often streams the prompt back, notes and all,
or states what no note says. For small models the answer is extractive: the note sentence that
best matches the question, attributed and cited, in a short template. A generated answer is
kept only when it passes `grounded`; otherwise the extractive one replaces it.
"""

import re
from collections.abc import Callable, Sequence
from typing import Any

from agents.gate import GROUNDED_SHARE, content_words

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_OPENING = re.compile(r"^\([^)]*\)\s*")
_NOTE_HEADER = re.compile(r"\[\d{1,3}\]\s*\(\d{4}-\d{2}-\d{2}")  # how notes open in the prompt
_WHO = {"user": "You", "you": "You", "": "You", "assistant": "The assistant", "mnemo": "Mnemo"}
PROMPT_MARKERS = ("Question:", "Notes:", "About the user:", "Today is ")
NOTHING = "I found nothing about that in your memory."
MEANING_WEIGHT = 1.0  # of the cosine, against one per shared word
RANK_STEP = 0.05  # the retrieval's order is evidence too
ASSISTANT_PENALTY = 0.5  # a question about one's life is answered by one's own words first


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


def _stems(words: set[str]) -> set[str]:
    """Words without their commonest endings, so "paint" finds "painted" and "painting"."""
    return {re.sub(r"(?<=\w{3})(ing|ed|es|s)$", "", w) for w in words}


def extractive(
    question: str,
    items: Sequence[Any],
    similarity: Callable[[str, Sequence[str]], Sequence[float]] | None = None,
) -> str:
    """The best-matching sentence of the notes, attributed and cited: "You said on 20 Nov
    2026: “…” [2]"; or NOTHING when no note shares a word with the question.

    Sentences are ranked by the question's words they hold and, given `similarity` (the
    embedder's cosine), by meaning: "What is my sister allergic to?" shares one word each
    with "My sister turns 30" and "Marta is allergic to peanuts"; the meaning tells them apart."""
    wanted = _stems(content_words(question))
    candidates = []
    for rank, item in enumerate(items):
        if item.kind == "source":
            speaker, _, body = item.label.partition(": ")
            body = body or item.label
        else:  # a memory's prompt text, without its "(date, type memory)" opening
            speaker, body = "", _OPENING.sub("", item.text)
        for sentence in _SENTENCE.split(" ".join(body.split())):
            shared = len(wanted & _stems(content_words(f"{speaker} {sentence}")))
            if shared:
                score = shared - rank * RANK_STEP
                if speaker.lower() in ("assistant", "system", "mnemo"):
                    score -= ASSISTANT_PENALTY
                candidates.append((score, sentence, item, speaker))
    if not candidates:
        return NOTHING
    if similarity is not None:
        meaning = similarity(question, [c[1] for c in candidates])
        candidates = [
            (score + MEANING_WEIGHT * m, *rest)
            for (score, *rest), m in zip(candidates, meaning, strict=True)
        ]
    _, sentence, item, speaker = max(candidates, key=lambda c: c[0])
    when = f" on {item.when:%-d %b %Y}" if item.when else ""
    if item.kind == "source":
        who = _WHO.get(speaker.lower(), speaker)
        return f"{who} said{when}: “{sentence}” [{item.number}]"
    return f"From your memory{when}: “{sentence}” [{item.number}]"
