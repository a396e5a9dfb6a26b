"""Turning the words a model copies from a conversation ("yesterday", "last Friday", "2 weeks
ago", "May 7") into dates, counted from when the input happened, not from today.

A small model cannot do calendar arithmetic, so it is asked only to copy the words; this does
the counting. Anything it cannot read gives None and the memory keeps the input's own time.
"""

import re
from datetime import date, datetime, timedelta

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = [
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
]  # fmt: skip
UNITS = {"day": 1, "week": 7, "month": 30, "year": 365}
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
           "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a few": 3, "few": 3, "couple of": 2,
           "a couple of": 2}  # fmt: skip


def resolve_date(text: str, reference: datetime) -> date | None:
    """The day `text` names, seen from `reference` (the time of the input that says it)."""
    try:
        return _resolve_date(text, reference)
    except (OverflowError, ValueError):  # "9999 years ago": a day outside years 1 to 9999
        return None


def _resolve_date(text: str, reference: datetime) -> date | None:
    words = " ".join(text.lower().strip().replace(",", " ").split())
    if not words:
        return None
    today = reference.date()
    if words in ("today", "tonight", "this morning", "this afternoon", "this evening", "now"):
        return today
    if words in ("yesterday", "last night"):
        return today - timedelta(days=1)
    if words == "tomorrow":
        return today + timedelta(days=1)
    if words in ("the day before yesterday",):
        return today - timedelta(days=2)
    if iso := _iso(words):
        return iso
    if match := re.fullmatch(rf"(last|this|next|on)?\s*({'|'.join(WEEKDAYS)})", words):
        return _weekday(today, WEEKDAYS.index(match.group(2)), match.group(1) or "last")
    if match := re.fullmatch(
        r"(\w+|a few|a couple of|couple of) (day|week|month|year)s? ago", words
    ):
        n = int(match.group(1)) if match.group(1).isdigit() else NUMBERS.get(match.group(1))
        return today - timedelta(days=n * UNITS[match.group(2)]) if n else None
    if match := re.fullmatch(r"(last|next) (week|month|year)", words):
        sign = -1 if match.group(1) == "last" else 1
        return today + timedelta(days=sign * UNITS[match.group(2)])
    if found := _month_day(words, today):
        return found
    return None


def _iso(words: str) -> date | None:
    try:
        return date.fromisoformat(words[:10])
    except ValueError:
        return None


def _weekday(today: date, weekday: int, which: str) -> date:
    """'last Friday' is the most recent Friday before today; 'next Friday' the first after;
    'this Friday' the one in the current week."""
    if which == "next":
        return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    if which == "this":
        return today + timedelta(days=weekday - today.weekday())
    return today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)


def _month_day(words: str, today: date) -> date | None:
    """'May 7', '7 May', '7th of May 2023', 'May 2023' (its first day)."""
    months = "|".join(m[:3] + r"\w*" for m in MONTHS)
    patterns = [
        rf"(?P<m>{months}) (?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?: (?P<y>\d{{4}}))?",
        rf"(?:the )?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?: of)? (?P<m>{months})(?: (?P<y>\d{{4}}))?",
        rf"(?:in )?(?P<m>{months}) (?P<y>\d{{4}})",
    ]
    for pattern in patterns:
        match = re.fullmatch(pattern, words)
        if not match:
            continue
        month = next(i + 1 for i, m in enumerate(MONTHS) if match.group("m").startswith(m[:3]))
        day = int(match.groupdict().get("d") or 1)
        year = int(match.group("y")) if match.group("y") else today.year
        try:
            found = date(year, month, day)
        except ValueError:
            return None
        if not match.group("y") and found > today + timedelta(days=31):
            found = found.replace(year=year - 1)  # "May 7" said in January means last May
        return found
    return None


_RANGE_WORDS = re.compile(
    r"\b(?:today|yesterday|last night|tonight|this morning|the day before yesterday"
    rf"|(?:this|last|past) (?:week|month|year)"
    rf"|(?:last|on|this) (?:{'|'.join(WEEKDAYS)})"
    r"|(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a few|a couple of) "
    r"(?:day|week|month|year)s? ago"
    rf"|(?:in |on )?(?:the )?\d{{1,2}}(?:st|nd|rd|th)?(?: of)? (?:{'|'.join(MONTHS)})(?: \d{{4}})?"
    rf"|(?:in |on )?(?:{'|'.join(MONTHS)})(?: \d{{1,2}}(?:st|nd|rd|th)?)?(?:,? \d{{4}})?"
    r"|in \d{4})\b"
)


def time_range(question: str, now: datetime) -> tuple[datetime, datetime] | None:
    """The span of time a question asks about ("what did I do last week?", "in May"), as
    [since, until) in `now`'s timezone, or None when it names no time.

    Used as a search filter, so it errs wide: a day is the whole day, "last week" the seven
    days before this week, "in May" the month (the last May, unless a year is said).
    """
    try:
        return _time_range(question, now)
    except (OverflowError, ValueError):  # "in 9999", "in 0000": a span outside years 1 to 9999
        return None


def _time_range(question: str, now: datetime) -> tuple[datetime, datetime] | None:
    # A bare "may" is the verb far more often than the month.
    found = (m for m in _RANGE_WORDS.finditer(question.lower()) if m.group(0) != "may")
    match = next(found, None)
    if match is None:
        return None
    words = match.group(0).removeprefix("in ").removeprefix("on ").replace(",", "")
    today = now.date()
    if year := re.fullmatch(r"\d{4}", words):
        start, end = date(int(year.group(0)), 1, 1), date(int(year.group(0)) + 1, 1, 1)
    elif period := re.fullmatch(r"(this|last|past) (week|month|year)", words):
        which, unit = period.groups()
        if which == "past":
            start, end = today - timedelta(days=UNITS[unit]), today + timedelta(days=1)
        elif unit == "week":
            start = today - timedelta(days=today.weekday()) - timedelta(weeks=which == "last")
            end = start + timedelta(weeks=1)
        elif unit == "month":
            first = today.replace(day=1)
            start = (first - timedelta(days=1)).replace(day=1) if which == "last" else first
            end = (start + timedelta(days=32)).replace(day=1)
        else:
            start = date(today.year - (which == "last"), 1, 1)
            end = date(start.year + 1, 1, 1)
    elif month := re.fullmatch(rf"({'|'.join(MONTHS)})(?: (\d{{4}}))?", words):
        number = MONTHS.index(month.group(1)) + 1
        year_said = int(month.group(2)) if month.group(2) else None
        year_of = year_said or (today.year if number <= today.month else today.year - 1)
        start = date(year_of, number, 1)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        day = resolve_date(words, now)
        if day is None:
            return None
        start, end = day, day + timedelta(days=1)
    zone = now.tzinfo
    return (
        datetime.combine(start, datetime.min.time(), tzinfo=zone),
        datetime.combine(end, datetime.min.time(), tzinfo=zone) - timedelta(microseconds=1),
    )
