from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.errors import InvalidInput
from core.memory import CoreBlock, EpisodicMemory, MemoryType, Sensitivity, parse_memory
from core.timeutil import parse_when, to_iso


def test_parse_picks_the_model_by_type() -> None:
    memory = parse_memory({"type": "semantic", "name": "Rust", "summary": "A language"})
    assert memory.type == "semantic"
    assert memory.headline == "Rust"


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"type": "semantic", "name": "Rust"}, "summary"),
        ({"type": "semantic", "name": "  ", "summary": "x"}, "name"),
        ({"type": "procedural", "summary": "x", "steps": []}, "steps"),
        (
            {"type": "procedural", "summary": "x", "steps": ["a"], "entry_type": "poem"},
            "entry_type",
        ),
        ({"type": "knowledge_vault", "caption": "x", "sensitivity": "secret"}, "sensitivity"),
        ({"type": "episodic", "summary": "x", "occurred_at": "not a date"}, "occurred_at"),
        ({"type": "semantic", "name": "a", "summary": "b", "colour": "red"}, "colour"),
        ({"type": "dream", "summary": "x"}, "type"),
    ],
)
def test_invalid_fields_are_named_in_the_error(data: dict, complaint: str) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        parse_memory(data)


def test_core_block_enforces_its_character_limit() -> None:
    CoreBlock(label="human", value="x" * 100, char_limit=100)
    with pytest.raises(ValueError, match="limit is 100"):
        CoreBlock(label="human", value="x" * 101, char_limit=100)


def test_times_are_normalised_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    memory = EpisodicMemory(summary="x", occurred_at=datetime(2024, 5, 1, 12, tzinfo=plus_two))
    assert memory.occurred_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert to_iso(memory.occurred_at) == "2024-05-01T10:00:00.000000Z"


def test_type_names_accept_what_people_type() -> None:
    assert MemoryType.parse("Vault") is MemoryType.VAULT
    assert MemoryType.parse("EPISODIC") is MemoryType.EPISODIC
    with pytest.raises(InvalidInput, match="choose one of"):
        MemoryType.parse("diary")


def test_sensitivity_ceiling() -> None:
    assert Sensitivity.MEDIUM.up_to() == {Sensitivity.LOW, Sensitivity.MEDIUM}
    assert Sensitivity.LOW.up_to() == {Sensitivity.LOW}


def test_vault_secret_is_neither_searchable_nor_in_the_payload() -> None:
    item = parse_memory({"type": "knowledge_vault", "caption": "Bank PIN", "secret_value": "4321"})
    assert "4321" not in item.search_text()
    assert "4321" not in str(item.payload())
    assert "4321" not in repr(item)


def test_parse_when_understands_ages_and_dates() -> None:
    reference = datetime(2024, 5, 10, tzinfo=UTC)
    assert parse_when("7d", reference=reference) == datetime(2024, 5, 3, tzinfo=UTC)
    assert parse_when("2024-05-01T00:00Z") == datetime(2024, 5, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="cannot read"):
        parse_when("last blue moon")
