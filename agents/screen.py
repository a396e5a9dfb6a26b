"""Memories from what was on screen, written by code from the OCR lines (the small-model path;
SmolLM2-135M wrote nothing from five minutes of real windows).

A capture batch becomes, per visit (consecutive captures of one window):
- an episodic memory of what the person did: the window, the app, roughly how long, and the
  most telling lines on it;
- a semantic memory for each line that states something worth keeping: a date, a time or an
  amount beside words that say what it is (a flight's departure and seat, an appointment).
OCR noise is never a fact: menu bars, toolbars, lone words and glyph soup are dropped first.
Every memory cites the captures its lines came from and passes the quality gate like any other.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.capture.redact import redact
from core.memory.models import EpisodicMemory, SemanticMemory, Source

TELLING_LINES = 3
MAX_FACTS = 8  # per visit: a page of numbers is a table, not a set of facts
FACT_CHARS = 200
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+")
_TIME = re.compile(r"\b\d{1,2}[:.]\d{2}\s*(?:am|pm|h)?\b|\b\d{1,2}\s*(?:am|pm)\b", re.I)
_DATE = re.compile(
    r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+\d{1,2}(?:st|nd|rd|th)?\b|"
    r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|"
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow)\b",
    re.I,
)
_AMOUNT = re.compile(r"(?:[$€£]\s?\d[\d,.]*|\b\d[\d,.]*\s?(?:eur|usd|gbp|dollars|euros)\b)", re.I)
_COUNT = re.compile(r"\b\d+\s+(?:nights?|days?|weeks?|hours?)\b|\b\d{3,}\b", re.I)
_CODE = re.compile(r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{5,}\b")
_KEY = re.compile(
    r"\b(flights?|seat|gate|boarding|departs?|arrives?|appointment|booking|booked|reservation|"
    r"confirmation|meeting|deadline|due|check-?in|check-?out|hotel|invoice|order|tracking|"
    r"dentist|doctor|interview|birthday|rent|budget|ticket|train|address|room|reference|"
    r"on-call|extension|phone|code|nights)\b",
    re.I,
)
# Words of application chrome: a line made only of these is a menu or a toolbar.
_CHROME = set(
    """file edit view history bookmarks tools help window go insert format selection run
    terminal debug navigate code refactor build vcs image layer select filter options settings
    preferences reply forward delete archive move spam junk inbox sent drafts search new open
    message messages get write save close back home share more print refresh compose starred
    snoozed important all mail
    trash labels sort newest oldest page next previous menu mark read unread""".split()
)


@dataclass
class Visit:
    """Consecutive captures of one window."""

    app: str
    title: str
    captures: list[Source] = field(default_factory=list)


def visits(sources: Sequence[Source]) -> list[Visit]:
    found: list[Visit] = []
    for source in sorted(sources, key=lambda s: s.occurred_at):
        app, title = source.app or "", source.title or ""
        if not found or (found[-1].app, found[-1].title) != (app, title):
            found.append(Visit(app, title))
        found[-1].captures.append(source)
    return [v for v in found if v.app or v.title]


def noise(line: str) -> bool:
    """OCR that says nothing: too short, mostly not letters, or application chrome."""
    words = _WORD.findall(line)
    letters = sum(c.isalpha() for c in line)
    if len(words) < 3 or len(line) < 12 or letters < 0.6 * len(line.replace(" ", "")):
        return True
    if all(w.lower() in _CHROME for w in words):
        return True
    # A row of capitalised single words and nothing else is a menu or a tab strip.
    return len(words) >= 4 and all(w[0].isupper() for w in line.split())


def lines(visit: Visit) -> list[tuple[str, Source]]:
    """The visit's distinct, clean lines in the order first seen, each with its capture."""
    seen: dict[str, tuple[str, Source]] = {}
    for capture in visit.captures:
        for raw in redact(capture.text).text.splitlines():  # already redacted when captured
            line = " ".join(raw.split())
            key = line.casefold()
            if key and key not in seen and not noise(line) and key != visit.title.casefold():
                seen[key] = (line, capture)
    return list(seen.values())


def is_fact(line: str) -> bool:
    """A line that pins something down: a date, a time or an amount, and words saying what."""
    pinned = any(p.search(line) for p in (_TIME, _DATE, _AMOUNT, _COUNT, _CODE))
    return bool(pinned) and bool(_KEY.search(line)) and len(_WORD.findall(line)) >= 2


def duration(visit: Visit) -> str:
    """Roughly how long, in words (the gate holds digits to what was on screen)."""
    times = [c.occurred_at for c in visit.captures]
    minutes = (max(times) - min(times)).total_seconds() / 60
    if minutes < 2:
        return "briefly"
    if minutes < 8:
        return "for a few minutes"
    if minutes < 20:
        return "for about ten minutes"
    if minutes < 45:
        return "for about half an hour"
    if minutes < 90:
        return "for about an hour"
    return "for a few hours"


def episode(visit: Visit, telling: Sequence[str]) -> EpisodicMemory:
    """What the person did in this window, with the lines that say what it was about."""
    where = f"“{visit.title}” in {visit.app}" if visit.title else visit.app
    details = "; ".join(telling[:TELLING_LINES])
    return EpisodicMemory(
        event_type="screen",
        summary=f"Viewed {where} {duration(visit)}"[:300],
        details=f"On screen: {details}" if details else "",
        actor="user",
        occurred_at=visit.captures[0].occurred_at,
        source_app=visit.app or None,
    )


def fact(visit: Visit, line: str) -> SemanticMemory:
    return SemanticMemory(
        name=(visit.title or visit.app)[:80],
        summary=line[:FACT_CHARS],
        details=f"Seen in {visit.app}" if visit.app else "",
        source_app=visit.app or None,
    )


def telling(found: Sequence[tuple[str, Source]]) -> list[str]:
    """The lines that say most about the page: the wordiest, in the order seen."""
    ranked = sorted(found, key=lambda pair: -len(set(_WORD.findall(pair[0].lower()))))
    chosen = {line for line, _ in ranked[:TELLING_LINES]}
    return [line for line, _ in found if line in chosen]


Written = tuple[EpisodicMemory | SemanticMemory, list[Source]]


def memories(sources: Sequence[Source]) -> list[Written]:
    """Each memory to write from a batch of captures, with the captures it cites."""
    written: list[Written] = []
    for visit in visits(sources):
        found = lines(visit)
        if not found:
            continue
        written.append((episode(visit, telling(found)), visit.captures))
        facts = [(line, capture) for line, capture in found if is_fact(line)]
        for line, capture in facts[:MAX_FACTS]:
            written.append((fact(visit, line), [capture]))
    return written
