"""How records become rows and back, and the small SQL pieces the store's modules share."""

import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from core.errors import Ambiguous, InvalidInput, NotFound
from core.memory.models import MEMORY_MODELS, Memory, MemoryType, Source
from core.store.vectors import VectorRow
from core.timeutil import from_iso, now, to_iso


def sql_filters(
    *,
    types: Iterable[MemoryType] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    source_apps: Iterable[str] | str | None = None,
    sensitivities: Iterable[str] | None = None,
    folder: str | None = None,
    alias: str = "",
) -> tuple[str, list[Any]]:
    """A WHERE clause over the memories table for the common filters, with its parameters.
    `folder` is a tree path ("work/mnemo"): the memories in it and in the folders below it."""
    clauses, params = ["1"], []
    column = f"{alias}." if alias else ""
    if folder:  # exactly, case and all: LIKE would ignore case, unlike the folder list
        below = folder + "/"
        clauses.append(f"({column}tree_path = ? OR substr({column}tree_path, 1, {len(below)}) = ?)")
        params += [folder, below]
    if isinstance(source_apps, str):
        source_apps = [source_apps]
    for name, values in (
        ("type", types),
        ("source_app", source_apps),
        ("sensitivity", sensitivities),
    ):
        if values is not None:
            values = [str(v) for v in values]
            clauses.append(f"{column}{name} IN ({','.join('?' * len(values))})")
            params += values
    spans, times = between(f"{column}event_time", since, until)
    return " AND ".join(clauses + spans), params + times


def like_literal(text: str) -> str:
    """`text` as a literal inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def between(
    column: str, since: datetime | None, until: datetime | None
) -> tuple[list[str], list[Any]]:
    """SQL conditions (and their parameters) for a time column within [since, until]."""
    clauses, params = [], []
    if since is not None:
        clauses.append(f"{column} >= ?")
        params.append(to_iso(since))
    if until is not None:
        clauses.append(f"{column} <= ?")
        params.append(to_iso(until))
    return clauses, params


def has_secret(memory: Memory) -> bool:
    return getattr(memory, "secret_value", None) is not None


def check_fields(kind: MemoryType, changes: Mapping[str, Any]) -> None:
    """Refuse fields a memory of this type does not have, naming the ones it does."""
    model = MEMORY_MODELS[kind]
    for key in changes:
        if key in model.BOOKKEEPING or key in ("type", "secret_stored"):
            raise InvalidInput(f"{key!r} is kept by Mnemo and cannot be edited")
        if key not in model.model_fields:
            fields = ", ".join(
                f
                for f in model.model_fields
                if f not in model.BOOKKEEPING | {"type", "secret_stored"}
            )
            shown = key if len(key) <= 60 else key[:59] + "…"  # a pasted page is not a name
            raise InvalidInput(f"{kind.value} memories have no field {shown!r}; fields: {fields}")


def insert_version(
    db: Any,
    memory_id: str,
    rev: int,
    changed_at: str,
    cause: str,
    actor: str,
    changed: list[str],
    old: dict[str, Any] | None,
) -> None:
    db.execute(
        "INSERT INTO versions (memory_id, rev, changed_at, cause, actor, changed, old) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            memory_id,
            rev,
            changed_at,
            cause,
            actor,
            json.dumps(changed),
            None if old is None else json.dumps(old),
        ],
    )


def link_source(db: Any, memory_id: str, source_id: str) -> None:
    db.execute(
        "INSERT OR IGNORE INTO memory_sources (memory_id, source_id) VALUES (?, ?)",
        [memory_id, source_id],
    )


SENSITIVITY_RANK = {"low": 1, "medium": 2, "high": 3}


def mark_vault_line(db: Any, source_id: str, sensitivity: str) -> None:
    """Mark a line as one a vault item of this sensitivity was filed from; a mark is only ever
    raised (the database does the same when a vault item is linked to a line: see
    migrations.vault_lines)."""
    row = db.execute("SELECT vault FROM sources WHERE id = ?", [source_id]).fetchone()
    if row is not None and SENSITIVITY_RANK.get(row[0], 0) < SENSITIVITY_RANK[sensitivity]:
        db.execute("UPDATE sources SET vault = ? WHERE id = ?", [sensitivity, source_id])


def id_from_prefix(db: Any, table: str, ref: str, noun: str) -> str:
    """The full id in `table` (memories, sources) for an id or a unique prefix of one
    (≥ 4 hex characters), as people type them from what Mnemo printed; `noun` names one row
    of it in the errors."""
    prefix = ref.strip().lower()
    if len(prefix) < 4 or not all(c in "0123456789abcdef" for c in prefix):
        raise NotFound(f"{ref!r} is not a {noun} id (give at least 4 hex characters)")
    rows = db.query(
        f"SELECT id FROM {table} WHERE id >= ? AND id < ? LIMIT 2", [prefix, prefix + "g"]
    )
    if not rows:
        raise NotFound(f"no {noun} with id {ref!r}")
    if len(rows) > 1:
        raise Ambiguous(f"id prefix {ref!r} matches several {table}; give more characters")
    return str(rows[0]["id"])


def insert_sql(table: str, row: Mapping[str, Any]) -> str:
    return f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"


def integrity_message(row: Mapping[str, Any], exc: sqlite3.IntegrityError) -> str:
    if row["type"] == "core":
        label = json.loads(row["data"])["label"]
        return f"core block {label!r} exists already; edit it with: edit core:{label}"
    return f"cannot store memory: {exc}"


def vector_row(row: Mapping[str, Any], vector: Any) -> VectorRow:
    return VectorRow(
        id=row["id"],
        rev=row["rev"],
        type=str(row["type"]),
        event_ts=from_iso(row["event_time"]).timestamp(),
        source_app=row["source_app"] or "",
        sensitivity=row["sensitivity"],
        vector=vector,
    )


def source_vector_row(source: Source, vector: Any) -> VectorRow:
    return VectorRow(
        id=source.id,
        rev=1,
        type=source.kind.value,
        event_ts=source.occurred_at.timestamp(),
        source_app=source.app or "",
        sensitivity="low",
        vector=vector,
    )


def source_row(source: Source) -> dict[str, Any]:
    data = source.model_dump(mode="json")
    data["meta"] = json.dumps(source.meta, ensure_ascii=False)
    data["search_text"] = source.search_text()
    data["occurred_at"] = to_iso(source.occurred_at)
    data["created_at"] = to_iso(source.created_at or now())
    return data


def to_source(row: Mapping[str, Any]) -> Source:
    # `vault` is the store's mark on the line (see SourcesMixin.vault_sources), not the input's.
    data = {k: v for k, v in row.items() if k not in ("seq", "search_text", "vault")}
    data["meta"] = json.loads(data["meta"])
    return Source.model_validate(data)
