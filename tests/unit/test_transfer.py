"""Export → import round trips, and broken import files that must import nothing."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.embed import HashingEmbedder
from core.errors import ImportFailed
from core.memory import SemanticMemory, Source, SourceKind
from core.store.memories import MemoryStore
from core.store.search import search
from core.store.transfer import export_json, export_markdown, import_json
from tests.conftest import sample_memories


def fill(store: MemoryStore) -> None:
    turn = store.add_source(
        Source(
            kind=SourceKind.CHAT,
            occurred_at=datetime(2024, 5, 1, tzinfo=UTC),
            text="hi",
            ref="D1:1",
        )
    )
    # The vault item comes from a line of its own: an export without secrets leaves it out.
    told = store.add_source(
        Source(
            kind=SourceKind.CHAT,
            occurred_at=datetime(2024, 5, 1, 0, 1, tzinfo=UTC),
            text="my GitHub token, for the vault",
            ref="D1:2",
        )
    )
    added = [
        store.add(m, sources=[told.id if kind == "knowledge_vault" else turn.id])  # type: ignore[arg-type]
        for kind, m in sample_memories().items()
    ]
    store.update(added[1].id, {"details": "edited once"}, cause="fix")
    store.update(added[4].id, {"secret_value": "ghp_SECOND"}, cause="rotated")
    store.update("core:human", {"value": "Name: Sam"})
    store.link(added[0].id, store.entity("person", "Alice").id, "with")
    store.link(added[0].id, added[1].id)


def comparable(export: dict) -> dict:
    return {k: v for k, v in export.items() if k != "exported_at"}


def test_round_trip_is_identical(store: MemoryStore, tmp_path: Path, settings) -> None:
    fill(store)
    original = export_json(store, include_secrets=True)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(original))
    with MemoryStore(tmp_path / "other", HashingEmbedder(), settings) as other:
        counts = import_json(other, path)
        assert counts["memories"] == 7 and counts["skipped"] == 0
        again = export_json(other, include_secrets=True)
        assert comparable(again) == comparable(original)
        assert search(other, "budget Alice")[0].memory.headline.startswith("Reviewed")


def test_importing_twice_changes_nothing(store: MemoryStore, tmp_path: Path) -> None:
    fill(store)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export_json(store)))
    before = comparable(export_json(store))
    counts = import_json(store, path)
    assert counts["memories"] == 0 and counts["skipped"] == 7
    assert comparable(export_json(store)) == before


def test_secrets_stay_out_of_exports_unless_asked(store: MemoryStore) -> None:
    fill(store)
    assert "ghp_" not in json.dumps(export_json(store))
    assert "ghp_" not in export_markdown(store)
    assert "ghp_SECOND" in json.dumps(export_json(store, include_secrets=True))


def test_markdown_export_is_readable(store: MemoryStore) -> None:
    fill(store)
    text = export_markdown(store)
    assert "## Procedural (1)" in text
    assert "### Release a new version" in text
    assert "- steps: tag the commit; build the wheel; upload to PyPI" in text


def corruptions(export: dict) -> list[tuple[str, object]]:
    bad_memory = json.loads(json.dumps(export))
    bad_memory["memories"][-1]["summary"] = ""
    bad_memory["memories"][-1]["type"] = "semantic"
    bad_version = json.loads(json.dumps(export))
    bad_version["versions"][-1]["rev"] = "three"
    bad_link = json.loads(json.dumps(export))
    bad_link["links"].append(
        {"src": "0" * 32, "dst": "1" * 32, "relation": "x", "created_at": None}
    )
    bad_provenance = json.loads(json.dumps(export))
    bad_provenance["provenance"].append(["9" * 32, export["sources"][0]["id"]])
    wrong_format = dict(export, format="something-else")
    missing = {k: v for k, v in export.items() if k != "sources"}
    return [
        ("bad memory at the end", bad_memory),
        ("bad version", bad_version),
        ("link to nowhere", bad_link),
        ("provenance of an unknown memory", bad_provenance),
        ("wrong format", wrong_format),
        ("missing section", missing),
        ("not json", '{"format": "mnemo-export", '),
        ("a list", []),
    ]


@pytest.mark.parametrize("case", range(8))
def test_a_broken_file_imports_nothing(
    store: MemoryStore, tmp_path: Path, settings, case: int
) -> None:
    fill(store)
    name, broken = corruptions(export_json(store))[case]
    path = tmp_path / "broken.json"
    path.write_text(broken if isinstance(broken, str) else json.dumps(broken))
    with MemoryStore(tmp_path / "other", HashingEmbedder(), settings) as other:
        other.add(SemanticMemory(name="Existing", summary="already here"))
        before = comparable(export_json(other))
        with pytest.raises(ImportFailed):
            import_json(other, path)
        assert comparable(export_json(other)) == before, name


def test_unreadable_file_is_a_clear_error(store: MemoryStore, tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="cannot read"):
        import_json(store, tmp_path / "missing.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ImportFailed):
        import_json(store, binary)
