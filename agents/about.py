"""The `human` core block learns who the user is, from the user's own words: stable facts about
the person — relationships, work, home, health, preferences, recurring plans — are quoted into
the block with their date, and the lines they came from are linked as its sources. Every answer
sees this block first, so it holds only what stays true for a while, never chit-chat.

Written by code from patterns, not by the model (the 135M model left the block empty after
conversations full of such facts). A capable model's core manager can still add to it.
"""

import re
from collections.abc import Sequence

from agents.gate import content_words
from core.capture.redact import redact
from core.memory.models import Source

THE_USER = {"user", "me", "you", "i"}
MIN_WORDS, MAX_WORDS = 5, 40
SAME_SHARE = 0.8  # of a sentence's content words already in one block line: nothing new
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_PEOPLE = (
    r"wife|husband|partner|sister|brother|mom|mum|mother|dad|father|son|daughter|kids?|"
    r"children|girlfriend|boyfriend|fianc[eé]e?|grandma|grandmother|grandpa|grandfather|"
    r"aunt|uncle|cousin|niece|nephew|best friend|boss|manager|dentist|doctor|therapist|dog|cat"
)
STABLE = [
    re.compile(rf"\bmy (?:little |big |older |younger )?(?:{_PEOPLE})\b", re.I),
    re.compile(r"\bI(?:'m| am) (?:a|an) (?!bit\b|little\b|lot\b)[a-z]+", re.I),
    re.compile(r"\bI work(?:ed)? (?:at|for|as|on|in)\b|\bmy (?:job|team|company|role)\b", re.I),
    re.compile(r"\bI live in\b|\bI(?:'m| am) from\b|\bI grew up\b|\bI moved to\b", re.I),
    re.compile(r"\bI (?:really )?(?:love|like|prefer|hate|enjoy|can't stand)\b", re.I),
    re.compile(r"\bmy favou?rite\b", re.I),
    re.compile(r"\ballergic to\b|\bI(?:'m| am) (?:vegetarian|vegan|diabetic)\b", re.I),
    re.compile(
        r"\b(?:every|each) (?:day|morning|evening|week|weekend|month|year|"
        r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
        re.I,
    ),
    re.compile(r"\bI (?:usually|always|never)\b", re.I),
    re.compile(rf"\bI was born\b|\bI have (?:\d+|an?|one|two|three|four) (?:{_PEOPLE})\b", re.I),
]
# A number that opens something: a PIN, an unlock, door or locker code, a passcode, account or
# card digits, a phone number. The human block goes into every prompt and to other tools as it
# is, so a sentence holding one is never quoted there. Such a number is any number in a
# sentence that names a code, or a run of digits no fact needs: 4 digits that are not a year,
# 5 or more (groups split by spaces or dashes count together, unless each is a year:
# "2015-2019"). A year ("born in 1985") and a count ("2 kids", "every 3 weeks") stay.
_CODE_WORDS = re.compile(
    r"\b(?:pins?|passcodes?|pass codes?|passwords?|passphrases?|passwd|codes?|combinations?|"
    r"unlock|logins?|cvv|cvc|iban|ssn|social security|(?:account|card|routing|security) "
    r"(?:numbers?|answers?|questions?))\b",
    re.I,
)
_NUMBER = re.compile(r"\d+(?:[ -]\d+)*")


def holds_code(sentence: str) -> bool:
    """Whether a sentence holds a code-like number (see _CODE_WORDS): it is not quoted."""
    numbers = _NUMBER.findall(sentence)
    if not numbers:
        return False
    if _CODE_WORDS.search(sentence):
        return True
    for number in numbers:
        groups = re.split(r"[ -]", number)
        if all(len(g) == 4 and 1900 <= int(g) <= 2099 for g in groups):
            continue  # years
        digits = sum(len(g) for g in groups)
        if digits >= 5 or any(len(g) == 4 for g in groups):
            return True
    return False


def said_by_user(source: Source) -> bool:
    return (source.actor or "").casefold() in THE_USER


def stable_facts(sources: Sequence[Source]) -> list[tuple[str, Source]]:
    """The user's sentences that state something lasting about them, with their line."""
    found = []
    for source in sources:
        if not said_by_user(source):
            continue
        # Redacted whole, before it is cut into sentences: a secret split over two lines
        # ("My password:\nSunflower99 …") is only recognised in one piece.
        for sentence in _SENTENCE.split(redact(source.text).text):
            sentence = " ".join(sentence.split())
            words = len(sentence.split())
            if sentence.endswith("?") or not MIN_WORDS <= words <= MAX_WORDS:
                continue
            # A sentence a secret was cut from named one ("My PIN is [redacted: …]"): no
            # lasting fact about the person, and half a secret's context.
            if holds_code(sentence) or "[redacted: " in sentence:
                continue
            if any(pattern.search(sentence) for pattern in STABLE):
                found.append((sentence, source))
    return found


def block_line(sentence: str, source: Source) -> str:
    """How a fact reads in the block: the user's words, quoted, with the day they said it."""
    return f"- “{sentence}” ({source.occurred_at:%-d %b %Y})"


def unquote(line: str) -> str:
    """A block line's sentence, without the quotes and the date `block_line` adds."""
    match = re.fullmatch(r"- “(.*)” \([^)]*\)", line.strip())
    return match.group(1) if match else line.strip().lstrip("- ")


def known(sentence: str, block: str) -> bool:
    """Whether a line of the block already says this."""
    wanted = content_words(sentence)
    return not wanted or any(
        len(wanted & content_words(line)) >= SAME_SHARE * len(wanted) for line in block.splitlines()
    )
