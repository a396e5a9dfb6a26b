"""Hybrid search: each ranking, their fusion, the filters, snippets and awkward queries."""

from datetime import UTC, datetime, timedelta

import pytest

from core.memory import EpisodicMemory, KnowledgeVaultItem, SemanticMemory
from core.store.memories import MemoryStore
from core.store.search import MAX_TERMS, SearchFilters, query_terms, search

T0 = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def filled(store: MemoryStore) -> MemoryStore:
    store.add_many(
        [
            SemanticMemory(name="Docker compose", summary="deploy the app with docker compose"),
            SemanticMemory(name="Kubernetes", summary="deploy containers to a cluster"),
            SemanticMemory(name="Sourdough", summary="feed the starter twice a day"),
            EpisodicMemory(
                summary="Deployed the billing app", occurred_at=T0, source_app="terminal"
            ),
            EpisodicMemory(
                summary="Deployed the search app",
                occurred_at=T0 + timedelta(days=30),
                source_app="vscode",
            ),
            KnowledgeVaultItem(
                caption="Deploy key for the billing server", sensitivity="high", secret_value="k"
            ),
        ]
    )
    return store


def headlines(hits) -> list[str]:
    return [hit.memory.headline for hit in hits]


def test_a_memory_found_by_both_rankings_comes_first(filled: MemoryStore) -> None:
    hits = search(filled, "docker compose deploy")
    assert hits[0].memory.headline == "Docker compose"
    assert hits[0].keyword_rank == 1 and hits[0].vector_rank == 1
    assert set(hits[0].parts) == {"keyword", "vector", "recency"}
    assert hits[0].score == pytest.approx(sum(hits[0].parts.values()))
    assert hits == sorted(hits, key=lambda h: h.score, reverse=True)


def test_unrelated_memories_are_not_returned(filled: MemoryStore) -> None:
    assert "Sourdough" not in headlines(search(filled, "docker compose deploy"))
    assert headlines(search(filled, "sourdough starter")) == ["Sourdough"]


def test_snippets_highlight_the_matched_words(filled: MemoryStore) -> None:
    hit = search(filled, "sourdough")[0]
    assert "[Sourdough]" in hit.snippet


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            SearchFilters.make(types=["episodic"]),
            {"Deployed the billing app", "Deployed the search app"},
        ),
        (SearchFilters.make(source_apps=["vscode"]), {"Deployed the search app"}),
        (
            SearchFilters.make(since=T0 + timedelta(days=1), types=["episodic"]),
            {"Deployed the search app"},
        ),
        (
            SearchFilters.make(until=T0 + timedelta(days=1), types=["episodic"]),
            {"Deployed the billing app"},
        ),
        (SearchFilters.make(sensitivities=["high"]), {"Deploy key for the billing server"}),
    ],
)
def test_filters_apply_to_every_ranking(filled: MemoryStore, filters, expected) -> None:
    hits = search(filled, "deploy deployed billing search app", filters=filters)
    assert set(headlines(hits)) == expected


def test_max_sensitivity_keeps_high_items_out(filled: MemoryStore) -> None:
    hits = search(
        filled, "deploy key billing", filters=SearchFilters.make(max_sensitivity="medium")
    )
    assert "Deploy key for the billing server" not in headlines(hits)
    assert hits  # the billing episode is still found


def test_recency_breaks_ties_between_equal_matches(filled: MemoryStore) -> None:
    hits = search(filled, "deployed app", filters=SearchFilters.make(types=["episodic"]))
    assert headlines(hits) == ["Deployed the search app", "Deployed the billing app"]
    assert hits[0].recency_rank == 1


def test_a_query_without_words_lists_by_recency(filled: MemoryStore) -> None:
    hits = search(filled, "  ?! ", filters=SearchFilters.make(types=["episodic"]))
    assert headlines(hits) == ["Deployed the search app", "Deployed the billing app"]


@pytest.mark.parametrize(
    "query", ['"unbalanced', "AND OR NOT", "col:value", "NEAR(a b)", "*", "docker'); --", "ünïcödé"]
)
def test_fts_syntax_in_queries_is_taken_literally(filled: MemoryStore, query: str) -> None:
    search(filled, query)  # must not raise


def test_query_terms_drop_stopwords_but_not_everything() -> None:
    assert query_terms("How do I deploy the app?") == ["deploy", "app"]
    assert query_terms("the the") == ["the"]
    assert query_terms("...") == []


def test_limit_is_respected(filled: MemoryStore) -> None:
    assert len(search(filled, "deploy", limit=2)) == 2


def test_a_pasted_page_is_searched_by_its_first_words(
    filled: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = "sourdough starter " + " ".join(f"word{n}" for n in range(20_000))
    terms = query_terms(page)
    assert terms[:2] == ["sourdough", "starter"] and len(terms) == MAX_TERMS
    lookups = []
    scalar = filled.db.scalar

    def counted(*args, **kw):  # type: ignore[no-untyped-def]
        lookups.append(args)
        return scalar(*args, **kw)

    monkeypatch.setattr(filled.db, "scalar", counted)
    assert headlines(search(filled, page))[0] == "Sourdough"
    assert len(lookups) <= MAX_TERMS  # one document frequency per term kept, not 20,002
