"""The quality gate: nothing is written that a person would not keep.

A small model fills a schema with whatever fits it: the field's own name (`memory_name`), a
date alone, a summary that repeats the name, names and numbers found nowhere in what it read.
Every memory the team writes passes these checks first, in code, whatever the model; a refused
one is logged and counted by its reason (BatchReport.refused), never half-stored.
"""

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from core.memory.models import (
    EpisodicMemory,
    KnowledgeVaultItem,
    Memory,
    ProceduralMemory,
    ResourceMemory,
    SemanticMemory,
    Source,
)

GROUNDED_SHARE = 0.5  # of a memory's content words that must be in the lines it cites
DATE_SLACK = timedelta(days=366)  # how far an event may be from the lines that tell it
DUPLICATE_SIMILARITY = 0.95  # cosine to an existing memory of its type: update that one

# Words a model copies from the schema or the prompt instead of writing a memory.
PLACEHOLDERS = {
    "memory",
    "memory name",
    "name",
    "summary",
    "details",
    "title",
    "caption",
    "event",
    "event type",
    "string",
    "text",
    "example",
    "todo",
    "none",
    "null",
    "n/a",
    "unknown",
    "untitled",
    "item",
    "value",
    "topic",
    "fact",
}
STOP_WORDS = set(
    """a an the and or but if then so of to in on at by for with from about as into over
    after before between is are was were be been being am has have had do does did will would
    can could should may might must shall i me my mine we us our you your he him his she her it
    its they them their this that these those there here what which who whom whose when where
    why how not no yes all any some each every more most other such only own same than too very
    just also up down out off again once s t don now user""".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d[\d.,:/-]*")
_IDENTIFIER = re.compile(r"^[a-z]+(?:_[a-z0-9-]+)+$")  # memory_name, memory_name_2026-11-30
_DATE_ONLY = re.compile(r"^\W*(\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})\W*$")
_POSSESSIVE = re.compile(r"['’]s$")
_YEAR = re.compile(r"\b(19|20)\d{2}\b")


def main_texts(memory: Memory) -> list[str]:
    """The fields a person reads a memory by (not the verbatim content of a resource)."""
    if isinstance(memory, EpisodicMemory):
        return [memory.summary, memory.details]
    if isinstance(memory, SemanticMemory):
        return [memory.name, memory.summary, memory.details]
    if isinstance(memory, ProceduralMemory):
        return [memory.summary, *memory.steps]
    if isinstance(memory, ResourceMemory):
        return [memory.title, memory.summary]
    if isinstance(memory, KnowledgeVaultItem):
        return [memory.caption]
    return [memory.search_text()]


def placeholder(texts: Iterable[str]) -> str | None:
    """The first text that is a placeholder, a schema field's name, or a date alone."""
    for text in texts:
        plain = " ".join(text.replace("_", " ").split()).strip(" .:-").lower()
        if not plain:
            continue
        if plain in PLACEHOLDERS or _IDENTIFIER.match(text.strip()) or _DATE_ONLY.match(text):
            return text
    return None


def words(text: str) -> list[str]:
    """Lower-cased words and numbers; a possessive is its name ("Marta's" → "marta")."""
    found = (w.strip("'’-").lower().rstrip(".,:") for w in _WORD.findall(text))
    return [_POSSESSIVE.sub("", w) for w in found]


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if len(w) > 2 and w not in STOP_WORDS}


def _proper_nouns_and_numbers(text: str) -> set[str]:
    """Capitalised words not opening a sentence, and numbers: what a model invents."""
    found = set()
    for sentence in re.split(r"(?<=[.!?:;])\s+|\n", text):
        tokens = _WORD.findall(sentence)
        for position, token in enumerate(tokens):
            if token[0].isdigit():
                found.add(token.rstrip(".,:"))
            elif position > 0 and token[0].isupper() and token.lower() not in STOP_WORDS:
                found.add(_POSSESSIVE.sub("", token.lower()))
    return found


def ungrounded(texts: Sequence[str], cited: Sequence[Source], also: str = "") -> str | None:
    """Why the texts are not grounded in the cited lines (or in `also`: what an updated
    memory said already), or None: a name or number found in none of them, or too few of the
    texts' content words found there."""
    source_text = "\n".join([also, *(_source_text(s) for s in cited)])
    source_words = set(words(source_text))
    source_digits = {re.sub(r"\D", "", w) for w in source_words if w[:1].isdigit()}
    for item in _proper_nouns_and_numbers(" . ".join(texts)):
        if item[:1].isdigit():
            if item not in source_words and re.sub(r"\D", "", item) not in source_digits:
                return f"the number {item} is in none of the cited lines"
        elif item not in source_words:
            return f"the name {item!r} is in none of the cited lines"
    mine = set().union(*(content_words(t) for t in texts)) if texts else set()
    if mine:
        found = len(mine & source_words) / len(mine)
        if found < GROUNDED_SHARE:
            return f"only {found:.0%} of its words are in the cited lines"
    return None


def impossible_date(when: datetime | None, cited: Sequence[Source]) -> str | None:
    """An event dated far from the lines that tell it, unless they name that year."""
    if when is None or not cited:
        return None
    first = min(s.occurred_at for s in cited)
    last = max(s.occurred_at for s in cited)
    if first - DATE_SLACK <= when <= last + DATE_SLACK:
        return None
    if str(when.year) in {m.group(0) for s in cited for m in _YEAR.finditer(s.text)}:
        return None
    return f"dated {when:%Y-%m-%d}, far from the lines that tell it ({first:%Y-%m-%d})"


Verdict = tuple[str, str]  # (rule, reason)


def check_texts(
    texts: Sequence[str], cited: Sequence[Source], *, grounded: bool = True, also: str = ""
) -> Verdict | None:
    """The placeholder and grounding rules, for any texts (an update's, with what the memory
    said already as `also`; a core-block line)."""
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        return None
    echo = placeholder(texts)
    if echo is not None:
        return "placeholder", f"{echo!r} is a placeholder, not a memory"
    reason = ungrounded(texts, cited, also) if grounded else None
    return ("ungrounded", reason) if reason is not None else None


def check(memory: Memory, cited: Sequence[Source]) -> Verdict | None:
    """(rule, reason) when `memory` must not be written from the `cited` lines, else None.
    Rules: placeholder, summary-repeats-name, ungrounded, date."""
    verdict = check_given(memory)
    if verdict is not None:
        return verdict
    texts = [t for t in main_texts(memory) if t and t.strip()]
    verdict = check_texts(texts, cited, grounded=not isinstance(memory, KnowledgeVaultItem))
    if verdict is not None:
        return verdict
    if isinstance(memory, EpisodicMemory):
        reason = impossible_date(memory.occurred_at, cited)
        if reason is not None:
            return "date", reason
    return None


def check_given(memory: Memory) -> Verdict | None:
    """The rules for a memory typed whole by a person or another tool (`add_memory`):
    placeholder and summary-repeats-name. Grounding and dates are left out: they check what a
    model made of the lines it read, and here there are no lines, only the memory."""
    texts = [t for t in main_texts(memory) if t and t.strip()]
    if not texts:
        return "placeholder", "no text"
    echo = placeholder(texts)
    if echo is not None:
        return "placeholder", f"{echo!r} is a placeholder, not a memory"
    if isinstance(memory, SemanticMemory) and (
        memory.summary.strip().lower() == memory.name.strip().lower()
    ):
        return "summary-repeats-name", f"the summary only repeats the name {memory.name!r}"
    return None


def _source_text(source: Source) -> str:
    """What a source lets a memory say: its line with the speaker, window and address."""
    return " ".join(x for x in (source.line, source.title or "", source.app or "") if x)
