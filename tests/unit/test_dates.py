"""Relative dates are counted from when the input happened, not from today."""

from datetime import UTC, date, datetime

import pytest

from agents.dates import resolve_date, time_range

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


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("what did I do yesterday?", date(2026, 11, 22), date(2026, 11, 22)),
        ("Anything last week?", date(2026, 11, 16), date(2026, 11, 22)),
        ("what happened this month", date(2026, 11, 1), date(2026, 11, 30)),
        ("who did I meet in May?", date(2026, 5, 1), date(2026, 5, 31)),
        ("what about December", date(2025, 12, 1), date(2025, 12, 31)),  # the last December
        ("on 7 May 2023 what did we say", date(2023, 5, 7), date(2023, 5, 7)),
        ("in 2023", date(2023, 1, 1), date(2023, 12, 31)),
        ("last Friday's lunch", date(2026, 11, 20), date(2026, 11, 20)),
    ],
)
def test_questions_name_time_ranges(question: str, since: date, until: date) -> None:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
    found = time_range(question, now)
    assert found is not None
    assert (found[0].date(), found[1].date()) == (since, until)
    assert found[0].time() == datetime.min.time()


@pytest.mark.parametrize("question", ["what is my cat called?", "may I see my notes?"])
def test_questions_without_time_words_have_no_range(question: str) -> None:
    assert time_range(question, datetime(2026, 11, 23, tzinfo=UTC)) is None
