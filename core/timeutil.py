"""One representation of time: aware UTC datetimes in memory, fixed-width ISO strings on disk.

Fixed width matters: SQLite compares the stored strings, so every one must sort like the instant
it names.
"""

import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as the user's local time, the way they typed them."""
    try:
        if value.tzinfo is None:
            value = value.astimezone()
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is in the year 10000 in UTC
        raise ValueError(f"{value.isoformat()} is outside the years 1 to 9999 in UTC") from None


def to_iso(value: datetime) -> str:
    value = as_utc(value)
    # %Y does not pad a year before 1000 to four digits (glibc): "999-…" would neither sort
    # with the others nor parse back.
    return f"{value.year:04d}-{value:%m-%dT%H:%M:%S.%fZ}"


def from_iso(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def parse_when(text: str, *, reference: datetime | None = None) -> datetime:
    """Parse what a person types for a time: an ISO date or datetime, 'now', or an age like '7d'.

    An age counts back from `reference` (default: now), so `--since 7d` means the last week.
    """
    text = text.strip()
    reference = reference or now()
    if text.lower() == "now":
        return reference
    match = _RELATIVE.match(text.lower())
    if match:
        amount, unit = match.groups()
        try:
            return reference - timedelta(**{_UNITS[unit]: int(amount)})
        except OverflowError:
            raise ValueError(f"{text!r} reaches back before the year 1") from None
    try:
        return from_iso(text)
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a time: use an ISO date like 2024-05-01, "
            "a datetime like 2024-05-01T14:30, 'now', or an age like 30m, 12h, 7d, 2w"
        ) from None
