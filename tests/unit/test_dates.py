"""Relative dates are counted from when the input happened, not from today."""

from datetime import date, datetime

import pytest

from agents.dates import resolve_date

MONDAY = datetime(2023, 5, 8, 13, 56)  # LoCoMo's first session: a Monday afternoon


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("yesterday", date(2023, 5, 7)),
        ("Today", date(2023, 5, 8)),
        ("last Friday", date(2023, 5, 5)),
        ("friday", date(2023, 5, 5)),
        ("last Monday", date(2023, 5, 1)),  # not today
        ("next Friday", date(2023, 5, 12)),
        ("this Wednesday", date(2023, 5, 10)),
        ("2 days ago", date(2023, 5, 6)),
        ("a week ago", date(2023, 5, 1)),
        ("three weeks ago", date(2023, 4, 17)),
        ("a few days ago", date(2023, 5, 5)),
        ("last week", date(2023, 5, 1)),
        ("last year", date(2022, 5, 8)),
        ("May 7", date(2023, 5, 7)),
        ("7 May", date(2023, 5, 7)),
        ("the 7th of May, 2022", date(2022, 5, 7)),
        ("December 25", date(2022, 12, 25)),  # said in May: last December
        ("in March 2021", date(2021, 3, 1)),
        ("2023-04-01", date(2023, 4, 1)),
        ("2023-04-01T10:00:00", date(2023, 4, 1)),
    ],
)
def test_words_become_dates(words: str, expected: date) -> None:
    assert resolve_date(words, MONDAY) == expected


@pytest.mark.parametrize("words", ["", "soon", "the other day", "February 30", "sometime"])
def test_unreadable_words_give_none(words: str) -> None:
    assert resolve_date(words, MONDAY) is None
