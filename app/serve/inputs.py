"""What other tools send, checked before anything is done with it: limits, times, the
secrets in a memory's text."""

from datetime import UTC, datetime
from typing import Any

from app.serve.shapes import MAX_LIMIT
from core.capture.redact import redact
from core.errors import InvalidInput
from core.timeutil import as_utc, parse_when


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    return limit


def bounded(text: str, name: str, most: int) -> None:
    if len(text) > most:
        raise InvalidInput(f"the {name} is {len(text):,} characters long; at most {most:,}")


def when(value: str | datetime | None, name: str) -> datetime | None:
    """A time as a script or a model gives it: a datetime, or text `mnemo --since` reads."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        try:
            return as_utc(value)
        except ValueError:  # a bound past the years UTC can hold: the end of time it means
            return (
                datetime.max.replace(tzinfo=UTC)
                if value.year > 1
                else datetime.min.replace(tzinfo=UTC)
            )
    try:
        return parse_when(value)
    except ValueError as exc:
        raise InvalidInput(f"{name}: {exc}") from None


def redacted(fields: dict[str, Any], *, keep: str) -> tuple[dict[str, Any], dict[str, int]]:
    """Every text in `fields` with secrets replaced by markers, but the `keep` field (a vault
    value, which is encrypted instead); and how many of each kind were found."""
    found: dict[str, int] = {}

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            result = redact(value)
            for kind, count in result.found.items():
                found[kind] = found.get(kind, 0) + count
            return result.text
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return {k: v if k == keep else clean(v) for k, v in fields.items()}, found
