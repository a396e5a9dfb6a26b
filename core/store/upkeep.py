"""The queries consolidation runs: what changed since the last run, same-named facts, and the
rank weights that make stale memories count less. Kept here so that nothing outside
core/store writes SQL against the store."""

from collections.abc import Iterable, Sequence
from datetime import datetime

from core.memory.models import MemoryType
from core.store.memories import MemoryStore
from core.timeutil import from_iso


def changed_since(store: MemoryStore, types: Iterable[MemoryType], since: str | None) -> list[str]:
    """Ids of memories of `types` updated after `since` (an ISO time; None: all), oldest
    first."""
    kinds = [t.value for t in types]
    rows = store.db.query(
        f"SELECT id FROM memories WHERE type IN ({','.join('?' * len(kinds))}) "
        "AND updated_at > ? ORDER BY created_at",
        [*kinds, since or ""],
    )
    return [row["id"] for row in rows]


def in_order_written(store: MemoryStore, ids: Sequence[str]) -> list[str]:
    """`ids` in the order the store first held them (its row order, which no clock moves)."""
    rows = store.db.query_in("SELECT id FROM memories WHERE id IN ({marks}) ORDER BY seq", ids)
    return [row["id"] for row in rows]


def same_name(store: MemoryStore, name: str, *, besides: str) -> list[str]:
    """Other semantic memories with this name (any case, outer spaces ignored)."""
    rows = store.db.query(
        "SELECT id FROM memories WHERE type = 'semantic' AND id != ? "
        "AND lower(trim(json_extract(data, '$.name'))) = ?",
        [besides, name.strip().lower()],
    )
    return [row["id"] for row in rows]


def rank_weights(
    store: MemoryStore, skip: Iterable[MemoryType]
) -> list[tuple[str, datetime, float]]:
    """(id, updated_at, weight) of every memory not of a type in `skip`."""
    kinds = [t.value for t in skip]
    rows = store.db.query(
        "SELECT id, updated_at, weight FROM memories "
        f"WHERE type NOT IN ({','.join('?' * len(kinds))})",
        kinds,
    )
    return [(row["id"], from_iso(row["updated_at"]), row["weight"]) for row in rows]


def set_rank_weights(store: MemoryStore, weights: Sequence[tuple[str, float]]) -> None:
    """Set (id, weight) pairs in one transaction. A weight is not a change of the memory's
    content: no version is recorded and nothing is re-embedded."""
    if weights:
        with store.db.write() as db:
            db.conn.executemany(
                "UPDATE memories SET weight = ? WHERE id = ?", [(w, i) for i, w in weights]
            )
