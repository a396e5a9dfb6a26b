"""Export to JSON or Markdown, and import from Mnemo's JSON.

A JSON export holds everything needed to rebuild a store: memories with their ids, times and
revisions, version history, sources, provenance, entities and links. Importing it into an empty
store and exporting again gives the same file (bar `exported_at`). Vault secrets are left out
unless asked for, because an export file sits outside the encrypted store; so are the lines vault
items were filed from, which may spell the secrets out.
"""

import json
import logging
import os
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from core.capture.pictures import is_own_picture
from core.errors import ImportFailed, InvalidInput, NotFound
from core.ingest.keep import CONTEXT_CHARS
from core.memory.models import Entity, Link, MemoryType, Source, Version, parse_memory
from core.store.memories import MemoryStore, Progress
from core.store.rows import (
    insert_sql,
    insert_version,
    link_source,
    mark_vault_line,
    source_row,
    to_source,
)
from core.timeutil import now, to_iso

log = logging.getLogger(__name__)
FORMAT = "mnemo-export"
ID = re.compile(r"[0-9a-f]{32}")
FORMAT_VERSION = 1


class ExportSource(Source):
    """A kept input as exported: with the store's mark when a vault item was filed from it
    (the sensitivity of the most sensitive one), so the line stays hidden where it goes."""

    vault: Literal["low", "medium", "high"] | None = None


class ExportFile(BaseModel):
    """The shape of an export file; an import validates all of it before writing anything."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["mnemo-export"]
    version: Literal[1]
    exported_at: str
    includes_secrets: bool
    memories: list[dict[str, Any]]
    versions: list[Version]
    sources: list[ExportSource]
    provenance: list[tuple[str, str]]
    entities: list[Entity]
    links: list[Link]


def export_json(store: MemoryStore, *, include_secrets: bool = False) -> dict[str, Any]:
    memories = []
    # Sorted by id, not by storage order, so that a re-imported store exports the same file.
    for memory in sorted(store.memories(), key=lambda m: m.id):
        data = memory.model_dump(mode="json", exclude={"secret_value"})
        if include_secrets and getattr(memory, "secret_stored", False):
            revealed = store.get(memory.id, reveal=True)
            data["secret_value"] = revealed.secret_value.get_secret_value()  # type: ignore[union-attr]
        memories.append(data)
    versions = []
    for data in memories:
        for version in store.history(data["id"]):
            if version.old and "secret" in version.old:
                token = version.old.pop("secret")
                if include_secrets:
                    version.old["secret_value"] = store.secret_box().decrypt(token)
            versions.append(version.model_dump(mode="json"))
    rows = store.db.query("SELECT * FROM sources ORDER BY occurred_at, seq")
    # Without secrets, the lines vault items were filed from (even items deleted since) stay
    # home with them, and so do the copies of such a line indexed with the turn after it.
    hidden = [] if include_secrets else [row for row in rows if row["vault"]]
    gone = {row["id"] for row in hidden}
    quoted = {_as_context(to_source(row)) for row in hidden}
    sources = [_to_json_source(row, quoted) for row in rows if row["id"] not in gone]
    provenance = [
        [row["memory_id"], row["source_id"]]
        for row in store.db.query("SELECT * FROM memory_sources ORDER BY memory_id, source_id")
        if row["source_id"] not in gone
    ]
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "exported_at": to_iso(now()),
        "includes_secrets": include_secrets,
        "memories": memories,
        "versions": versions,
        "sources": sources,
        "provenance": provenance,
        "entities": [e.model_dump(mode="json") for e in store.entities()],
        "links": [link.model_dump(mode="json") for link in store.links()],
    }


def _to_json_source(row: dict[str, Any], quoted: set[str]) -> dict[str, Any]:
    data = to_source(row).model_dump(mode="json")
    if data["meta"].get("context") in quoted:
        data["meta"] = {k: v for k, v in data["meta"].items() if k != "context"}
    if row["vault"]:
        data["vault"] = row["vault"]
    return data


def _as_context(source: Source) -> str:
    """A chat line as the next turn keeps it for search (core.ingest.keep.keep_session)."""
    return f"{source.actor}: {source.text}"[:CONTEXT_CHARS]


def export_markdown(store: MemoryStore, *, include_secrets: bool = False) -> str:
    """A readable document: one section per memory type, newest first."""
    lines = ["# Mnemo export", "", f"Exported {to_iso(now())}.", ""]
    for kind in MemoryType:
        memories = store.memories(types=[kind])
        if not memories:
            continue
        lines += [f"## {kind.value.replace('_', ' ').title()} ({len(memories)})", ""]
        for memory in memories:
            lines.append(f"### {memory.headline}")
            lines.append("")
            lines.append(f"- id: `{memory.id}`")
            for key, value in memory.payload().items():
                if key == "type" or value in ("", [], None):
                    continue
                if isinstance(value, list):
                    value = "; ".join(map(str, value))
                lines.append(f"- {key}: {value}")
            if getattr(memory, "secret_stored", False):
                secret = "••••••"
                if include_secrets:
                    revealed = store.get(memory.id, reveal=True)
                    secret = revealed.secret_value.get_secret_value()  # type: ignore[union-attr]
                lines.append(f"- secret_value: {secret}")
            lines.append("")
    return "\n".join(lines)


def write_private(path: Path, text: str) -> None:
    """Write an export with user-only permissions, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def read_export(path: Path) -> ExportFile:
    """Parse and validate a whole export file, or raise ImportFailed saying where it is broken."""
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ImportFailed(f"{path} is not JSON: {exc}") from None
    except RecursionError:  # the parser recurses once per level of nesting
        raise ImportFailed(f"{path} is not a Mnemo export: nested too deeply") from None
    try:
        export = ExportFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])[:80]  # a key may be a pasted page
        raise ImportFailed(f"{path} is not a Mnemo export: at {where}: {first['msg']}") from None
    for index, data in enumerate(export.memories):
        try:
            memory = parse_memory(data)
        except InvalidInput as exc:
            raise ImportFailed(f"{path}: memories[{index}]: {exc}") from None
        _check_id(path, f"memories[{index}]", memory.id)
        # What the store keeps of every memory: a memory without them cannot be a row.
        missing = [name for name in ("created_at", "updated_at") if not getattr(memory, name)]
        if missing:
            raise ImportFailed(f"{path}: memories[{index}]: no {' or '.join(missing)}")
    for index, source in enumerate(export.sources):
        _check_id(path, f"sources[{index}]", source.id)
    for index, entity in enumerate(export.entities):
        _check_id(path, f"entities[{index}]", entity.id)
    for index, pair in enumerate(export.provenance):
        for record_id in pair:
            _check_id(path, f"provenance[{index}]", record_id)
    return export


def _check_id(path: Path, where: str, record_id: str) -> None:
    """Ids are what Mnemo makes (core.ids): any other could be stored but never found again,
    since an id typed or shown is read as a lower-case hex prefix."""
    if not ID.fullmatch(record_id):
        raise ImportFailed(f"{path}: {where}: {record_id[:40]!r} is not a Mnemo id (32 hex digits)")


def import_json(store: MemoryStore, path: Path, progress: Progress | None = None) -> dict[str, int]:
    """Import an export file in one transaction: everything, or nothing if any part is broken.

    Memories whose id exists already are skipped, so importing twice changes nothing. Core
    blocks match by label: an empty local block is replaced, a filled one is kept.
    """
    export = read_export(path)
    try:
        counts = _import(store, export)
    except sqlite3.IntegrityError as exc:  # e.g. provenance naming a memory that is not there
        raise ImportFailed(f"{path} is inconsistent: {exc}") from None
    except (NotFound, InvalidInput) as exc:  # the transaction was rolled back whole
        raise ImportFailed(f"{path} is inconsistent: {exc}") from None
    store.repair(progress)
    return counts


def _import(store: MemoryStore, export: ExportFile) -> dict[str, int]:
    counts = {"memories": 0, "skipped": 0, "sources": 0, "entities": 0, "links": 0}
    with store.db.write() as db:
        imported: set[str] = set()
        for data in export.memories:
            memory = parse_memory(data)
            if db.execute("SELECT 1 FROM memories WHERE id = ?", [memory.id]).fetchone():
                counts["skipped"] += 1
                continue
            if memory.type == MemoryType.CORE:
                local = store.get(f"core:{memory.label}")  # type: ignore[union-attr]
                if local.value:  # type: ignore[union-attr]
                    counts["skipped"] += 1
                    continue
                db.execute("DELETE FROM memories WHERE id = ?", [local.id])
            secret = data.get("secret_value")
            token = store.secret_box().encrypt(secret) if secret else None
            row = store.row_for(memory, token)
            db.execute(insert_sql("memories", row), list(row.values()))
            imported.add(memory.id)
            counts["memories"] += 1
        for version in export.versions:
            if version.memory_id in imported:
                _insert_version(store, db, version)
        for source in _own_pictures(export.sources):
            if not db.execute("SELECT 1 FROM sources WHERE id = ?", [source.id]).fetchone():
                row = source_row(source)
                db.execute(insert_sql("sources", row), list(row.values()))
                counts["sources"] += 1
            elif source.vault:
                mark_vault_line(db, source.id, source.vault)
        for memory_id, source_id in export.provenance:
            link_source(db, memory_id, source_id)
        # An entity this store knows by name already (made here, or imported from another
        # device) is that one: the file's links to it are moved to the id it has here.
        known: dict[str, str] = {}
        for entity in export.entities:
            cursor = db.execute(
                "INSERT OR IGNORE INTO entities (id, kind, name, created_at) VALUES (?, ?, ?, ?)",
                [entity.id, entity.kind.value, entity.name, to_iso(entity.created_at or now())],
            )
            counts["entities"] += cursor.rowcount
            if not cursor.rowcount:
                found = db.execute(
                    "SELECT id FROM entities WHERE id = ? UNION ALL SELECT id FROM entities "
                    "WHERE kind = ? AND name = ? COLLATE NOCASE",
                    [entity.id, entity.kind.value, entity.name],
                ).fetchone()
                if found:
                    known[entity.id] = found[0]
        links = [
            link.model_copy(
                update={"src": known.get(link.src, link.src), "dst": known.get(link.dst, link.dst)}
            )
            for link in export.links
        ]
        _check_nodes(db, links)
        for link in links:
            cursor = db.execute(
                "INSERT OR IGNORE INTO links (src, dst, relation, created_at) VALUES (?, ?, ?, ?)",
                [link.src, link.dst, link.relation, to_iso(link.created_at or now())],
            )
            counts["links"] += cursor.rowcount
    return counts


def _own_pictures(sources: list[ExportSource]) -> list[ExportSource]:
    """The sources, each without its picture unless the path is of the store's own form: a
    file can name any path on the disk, and deleting the capture would delete that file."""
    kept, foreign = [], []
    for source in sources:
        if source.thumbnail and not is_own_picture(source.thumbnail):
            foreign.append(source.thumbnail)
            source = source.model_copy(update={"thumbnail": None})
        kept.append(source)
    if foreign:
        log.warning(
            "import: %d source(s) name a picture that is not one of Mnemo's capture pictures "
            "(first: %r); their text is kept without the picture",
            len(foreign),
            foreign[0][:200],
        )
    return kept


def _insert_version(store: MemoryStore, db: Any, version: Version) -> None:
    old = version.old
    if old and "secret_value" in old:
        old = dict(old)
        old["secret"] = store.secret_box().encrypt(old.pop("secret_value"))
    insert_version(
        db,
        version.memory_id,
        version.rev,
        to_iso(version.changed_at),
        version.cause,
        version.actor,
        version.changed,
        old,
    )


def _check_nodes(db: Any, links: Iterable[Link]) -> None:
    for link in links:
        for node in (link.src, link.dst):
            known = db.execute(
                "SELECT 1 FROM memories WHERE id = ? UNION ALL SELECT 1 FROM entities WHERE id = ?",
                [node, node],
            ).fetchone()
            if not known:
                raise ImportFailed(f"link {link.src} -> {link.dst} names an unknown node {node}")
