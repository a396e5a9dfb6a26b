"""The timeline's filter over kept inputs (core.store.source_search.sources_matching): every
word as a word's start, within a time range and kinds, through the FTS index; a query that
is not FTS syntax stays words."""

from datetime import UTC, datetime, timedelta

from core.memory.models import Source, SourceKind
from core.store.memories import MemoryStore
from core.store.source_search import MAX_FILTER_TERMS, sources_matching

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def capture(when: datetime, text: str, app: str = "Firefox") -> Source:
    return Source(kind=SourceKind.CAPTURE, occurred_at=when, text=text, app=app, title="Wiki")


def test_every_word_as_a_words_start_within_the_range_oldest_first(store: MemoryStore) -> None:
    late, early, other, yesterday = store.add_sources(
        [
            capture(DAY + timedelta(hours=15), "Deploys run every Thursday"),
            capture(DAY + timedelta(hours=9), "deploy runbook, Thursday at 15:00"),
            capture(DAY + timedelta(hours=10), "Departs 14 March, seat 14C", "Thunderbird"),
            capture(DAY - timedelta(hours=2), "Deploys run every Thursday"),
        ]
    )
    end = DAY + timedelta(days=1) - timedelta(microseconds=1)
    assert sources_matching(store, "depl thurs", since=DAY, until=end) == [early.id, late.id]
    assert sources_matching(store, "deploy", since=DAY - timedelta(days=1)) == [
        yesterday.id,
        early.id,
        late.id,
    ]
    assert sources_matching(store, "SEAT 14c", since=DAY, until=end) == [other.id]
    assert sources_matching(store, "thunderbird", since=DAY, until=end) == [other.id]  # app
    assert sources_matching(store, "deploy seat", since=DAY, until=end) == []  # every word
    assert sources_matching(store, "deploy", since=DAY, until=end, kinds=["chat"]) == []
    assert sources_matching(store, "deploy", since=DAY, until=end, limit=1) == [early.id]


def test_no_words_match_nothing_and_syntax_stays_words(store: MemoryStore) -> None:
    (kept,) = store.add_sources([capture(DAY, 'a "quoted" NEAR(x y) word OR not')])
    assert sources_matching(store, "") == []
    assert sources_matching(store, "!! ?? --") == []
    assert sources_matching(store, 'NEAR( "quoted') == [kept.id]
    assert sources_matching(store, "word OR") == [kept.id]
    assert sources_matching(store, "text: word") == []  # no column filter: "text" is a word


def test_a_long_query_counts_its_first_words_only(store: MemoryStore) -> None:
    words = [f"w{n}" for n in range(MAX_FILTER_TERMS)]
    (kept,) = store.add_sources([capture(DAY, " ".join(words))])
    assert sources_matching(store, " ".join(words)) == [kept.id]
    assert sources_matching(store, " ".join([*words, "absent", "missing"])) == [kept.id]
    assert sources_matching(store, " ".join(["absent", *words])) == []
