"""The schema, as an ordered list of migrations. Append only: never edit one that has shipped.

Each migration runs inside the transaction that also bumps `PRAGMA user_version`, so a crash
leaves the database at the old version or the new one, never between.
"""

from collections.abc import Callable

import sqlite_utils

Migration = Callable[[sqlite_utils.Database], None]

_INITIAL = [
    """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    # seq is the rowid the FTS index points at; an explicit INTEGER PRIMARY KEY is never
    # renumbered by VACUUM, which an implicit rowid can be.
    """CREATE TABLE memories (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL CHECK (type IN ('core', 'episodic', 'semantic', 'procedural',
                                           'resource', 'knowledge_vault')),
        headline TEXT NOT NULL,
        search_text TEXT NOT NULL,
        data TEXT NOT NULL CHECK (json_valid(data)),
        secret TEXT,
        tree_path TEXT NOT NULL DEFAULT '',
        event_time TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        source_app TEXT,
        sensitivity TEXT NOT NULL DEFAULT 'low' CHECK (sensitivity IN ('low', 'medium', 'high')),
        rev INTEGER NOT NULL DEFAULT 1
    )""",
    "CREATE INDEX memories_type_time ON memories (type, event_time)",
    "CREATE INDEX memories_time ON memories (event_time)",
    "CREATE INDEX memories_app ON memories (source_app)",
    # Two core blocks at most, one per label: the database enforces it, not only the code.
    """CREATE UNIQUE INDEX core_label ON memories (json_extract(data, '$.label'))
       WHERE type = 'core'""",
    """CREATE VIRTUAL TABLE memories_fts USING fts5(
        search_text, content = 'memories', content_rowid = 'seq',
        tokenize = 'porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
        INSERT INTO memories_fts (rowid, search_text) VALUES (new.seq, new.search_text);
    END""",
    """CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
        INSERT INTO memories_fts (memories_fts, rowid, search_text)
        VALUES ('delete', old.seq, old.search_text);
    END""",
    """CREATE TRIGGER memories_fts_update AFTER UPDATE OF search_text ON memories BEGIN
        INSERT INTO memories_fts (memories_fts, rowid, search_text)
        VALUES ('delete', old.seq, old.search_text);
        INSERT INTO memories_fts (rowid, search_text) VALUES (new.seq, new.search_text);
    END""",
    """CREATE TABLE versions (
        seq INTEGER PRIMARY KEY,
        memory_id TEXT NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
        rev INTEGER NOT NULL,
        changed_at TEXT NOT NULL,
        cause TEXT NOT NULL,
        actor TEXT NOT NULL,
        changed TEXT NOT NULL,
        old TEXT,
        UNIQUE (memory_id, rev)
    )""",
    """CREATE TABLE sources (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('chat', 'capture', 'file')),
        occurred_at TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        actor TEXT, app TEXT, title TEXT, url TEXT, path TEXT, thumbnail TEXT, ref TEXT,
        meta TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(meta)),
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX sources_time ON sources (occurred_at)",
    "CREATE INDEX sources_ref ON sources (ref)",
    """CREATE VIRTUAL TABLE sources_fts USING fts5(
        text, content = 'sources', content_rowid = 'seq',
        tokenize = 'porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER sources_fts_insert AFTER INSERT ON sources BEGIN
        INSERT INTO sources_fts (rowid, text) VALUES (new.seq, new.text);
    END""",
    """CREATE TRIGGER sources_fts_delete AFTER DELETE ON sources BEGIN
        INSERT INTO sources_fts (sources_fts, rowid, text) VALUES ('delete', old.seq, old.text);
    END""",
    """CREATE TRIGGER sources_fts_update AFTER UPDATE OF text ON sources BEGIN
        INSERT INTO sources_fts (sources_fts, rowid, text) VALUES ('delete', old.seq, old.text);
        INSERT INTO sources_fts (rowid, text) VALUES (new.seq, new.text);
    END""",
    """CREATE TABLE memory_sources (
        memory_id TEXT NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
        source_id TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        PRIMARY KEY (memory_id, source_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX memory_sources_source ON memory_sources (source_id)",
    """CREATE TABLE entities (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (kind, name COLLATE NOCASE)
    )""",
    # Graph edges join memories and entities, so no single foreign key fits: the triggers
    # below remove a node's edges when the node goes.
    """CREATE TABLE links (
        src TEXT NOT NULL,
        dst TEXT NOT NULL,
        relation TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (src, dst, relation)
    ) WITHOUT ROWID""",
    "CREATE INDEX links_dst ON links (dst)",
    """CREATE TRIGGER memories_unlink AFTER DELETE ON memories BEGIN
        DELETE FROM links WHERE src = old.id OR dst = old.id;
    END""",
    """CREATE TRIGGER entities_unlink AFTER DELETE ON entities BEGIN
        DELETE FROM links WHERE src = old.id OR dst = old.id;
    END""",
]


def initial_schema(db: sqlite_utils.Database) -> None:
    """Memories with FTS, versions, sources with FTS, provenance, entities and graph links."""
    for statement in _INITIAL:
        db.execute(statement)


def source_search_text(db: sqlite_utils.Database) -> None:
    """Sources get a search_text like memories: the attributed line after the turn it answers,
    which keyword search and the source vectors both read. This repeats Source.search_text on
    purpose: a shipped migration must give the same result when that method changes later."""
    import json

    db.execute("ALTER TABLE sources ADD COLUMN search_text TEXT NOT NULL DEFAULT ''")
    rows = db.execute("SELECT seq, actor, app, title, text, meta FROM sources").fetchall()
    for seq, actor, app, title, text, meta in rows:
        who = actor or " — ".join(x for x in (app, title) if x)
        line = f"{who}: {text}" if who else text
        context = json.loads(meta).get("context")
        db.execute(
            "UPDATE sources SET search_text = ? WHERE seq = ?",
            [f"{context}\n{line}" if context else line, seq],
        )
    for trigger in ("insert", "delete", "update"):
        db.execute(f"DROP TRIGGER sources_fts_{trigger}")
    db.execute("DROP TABLE sources_fts")
    for statement in _SOURCES_FTS:
        db.execute(statement)
    db.execute("INSERT INTO sources_fts (sources_fts) VALUES ('rebuild')")


_SOURCES_FTS = [
    """CREATE VIRTUAL TABLE sources_fts USING fts5(
        search_text, content = 'sources', content_rowid = 'seq',
        tokenize = 'porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER sources_fts_insert AFTER INSERT ON sources BEGIN
        INSERT INTO sources_fts (rowid, search_text) VALUES (new.seq, new.search_text);
    END""",
    """CREATE TRIGGER sources_fts_delete AFTER DELETE ON sources BEGIN
        INSERT INTO sources_fts (sources_fts, rowid, search_text)
        VALUES ('delete', old.seq, old.search_text);
    END""",
    """CREATE TRIGGER sources_fts_update AFTER UPDATE OF search_text ON sources BEGIN
        INSERT INTO sources_fts (sources_fts, rowid, search_text)
        VALUES ('delete', old.seq, old.search_text);
        INSERT INTO sources_fts (rowid, search_text) VALUES (new.seq, new.search_text);
    END""",
]


def memory_weight(db: sqlite_utils.Database) -> None:
    """A rank weight per memory: consolidation lowers it for stale memories, and search
    multiplies each memory's fused score by it. Changing it is not an edit (no version)."""
    db.execute("ALTER TABLE memories ADD COLUMN weight REAL NOT NULL DEFAULT 1.0")


def entity_mentions(db: sqlite_utils.Database) -> None:
    """Which kept inputs mention each entity, so the graph can show where a person or place
    came from. An entity left with no mention and no edge goes (delete removes everywhere,
    names included; a node with no edge is invisible in the graph anyway)."""
    db.execute(
        """CREATE TABLE entity_sources (
            entity_id TEXT NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
            source_id TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
            PRIMARY KEY (entity_id, source_id)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX entity_sources_source ON entity_sources (source_id)")
    orphan = """NOT EXISTS (SELECT 1 FROM entity_sources WHERE entity_id = {id})
        AND NOT EXISTS (SELECT 1 FROM links WHERE src = {id} OR dst = {id})"""
    db.execute(
        f"""CREATE TRIGGER entity_sources_orphan AFTER DELETE ON entity_sources
        WHEN {orphan.format(id="old.entity_id")}
        BEGIN DELETE FROM entities WHERE id = old.entity_id; END"""
    )
    for end in ("src", "dst"):
        db.execute(
            f"""CREATE TRIGGER links_orphan_{end} AFTER DELETE ON links
            WHEN {orphan.format(id=f"old.{end}")}
            BEGIN DELETE FROM entities WHERE id = old.{end}; END"""
        )


def graph_history(db: sqlite_utils.Database) -> None:
    """Changes made to the graph by hand (link, unlink, rename, merge, split), per node, so a
    memory's or a person's history shows them beside its edits. A link is not an edit of the
    memory: it does not bump the revision (the vector index keys on revisions). The other end
    is kept by id and named at read time, and the rows go with either node."""
    db.execute(
        """CREATE TABLE graph_history (
            seq INTEGER PRIMARY KEY,
            node TEXT NOT NULL,
            other TEXT NOT NULL DEFAULT '',
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            actor TEXT NOT NULL,
            at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX graph_history_node ON graph_history (node)")
    db.execute("CREATE INDEX graph_history_other ON graph_history (other)")
    for table in ("memories", "entities"):
        db.execute(
            f"""CREATE TRIGGER {table}_graph_history AFTER DELETE ON {table} BEGIN
            DELETE FROM graph_history WHERE node = old.id OR other = old.id;
            END"""
        )


# A sensitivity's rank, for "never lower a mark": 0 for none.
_RANK = "(CASE {x} WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END)"


def vault_lines(db: sqlite_utils.Database) -> None:
    """A line (chat turn, capture, file) a vault item was filed from is marked on the line
    itself with the most sensitive such item's sensitivity, by the database whoever links
    them: its words may spell out the value ("the garage code is 7731" passes redaction), and
    deleting the item, or unlinking it, must not make them readable again. A mark is never
    lowered. Lines of items deleted before this migration are not known any more."""
    db.execute(
        "ALTER TABLE sources ADD COLUMN vault TEXT CHECK (vault IN ('low', 'medium', 'high'))"
    )
    db.execute("CREATE INDEX sources_vault ON sources (vault) WHERE vault IS NOT NULL")
    filed = "(SELECT sensitivity FROM memories WHERE id = new.memory_id)"
    db.execute(
        f"""CREATE TRIGGER vault_lines_filed AFTER INSERT ON memory_sources
        WHEN (SELECT type FROM memories WHERE id = new.memory_id) = 'knowledge_vault'
        BEGIN
            UPDATE sources SET vault = {filed}
            WHERE id = new.source_id AND {_RANK.format(x="vault")} < {_RANK.format(x=filed)};
        END"""
    )
    db.execute(
        f"""CREATE TRIGGER vault_lines_raised AFTER UPDATE OF sensitivity ON memories
        WHEN new.type = 'knowledge_vault'
        BEGIN
            UPDATE sources SET vault = new.sensitivity
            WHERE id IN (SELECT source_id FROM memory_sources WHERE memory_id = new.id)
            AND {_RANK.format(x="vault")} < {_RANK.format(x="new.sensitivity")};
        END"""
    )
    db.execute(
        f"""UPDATE sources SET vault = (
            SELECT m.sensitivity FROM memory_sources ms JOIN memories m ON m.id = ms.memory_id
            WHERE ms.source_id = sources.id AND m.type = 'knowledge_vault'
            ORDER BY {_RANK.format(x="m.sensitivity")} DESC LIMIT 1)
        WHERE id IN (
            SELECT ms.source_id FROM memory_sources ms JOIN memories m ON m.id = ms.memory_id
            WHERE m.type = 'knowledge_vault')"""
    )


def own_pictures(db: sqlite_utils.Database) -> None:
    """A capture points only at a picture of the store's own (capture/pictures/<day>/<name>,
    as the capture pipeline records them): an import or a restore could bring any path on the
    disk, which deleting the capture would then delete. Such a capture keeps its text. The
    form is repeated here on purpose (see core.capture.pictures): a shipped migration must
    give the same result when that module changes later."""
    import logging
    import re

    form = re.compile(r"capture/pictures/\d{4}-\d{2}-\d{2}/\d{8}T\d{12}-[0-9a-z]+\.webp", re.ASCII)
    rows = db.execute("SELECT DISTINCT thumbnail FROM sources WHERE thumbnail != ''").fetchall()
    foreign = [rel for (rel,) in rows if not form.fullmatch(rel.replace("\\", "/"))]
    for rel in foreign:
        db.execute("UPDATE sources SET thumbnail = NULL WHERE thumbnail = ?", [rel])
    if foreign:
        logging.getLogger(__name__).warning(
            "%d picture path(s) outside Mnemo's capture pictures dropped (first: %r)",
            len(foreign),
            foreign[0][:200],
        )


def merged_memories(db: sqlite_utils.Database) -> None:
    """Which memory consolidation merged each near-duplicate into (ids only, no content), so
    a later `mnemo edit` or `show` of a merged id says where it went instead of only that
    it is not there."""
    db.execute(
        "CREATE TABLE merged (id TEXT PRIMARY KEY, into_id TEXT NOT NULL, merged_at TEXT NOT NULL)"
    )


MIGRATIONS: list[Migration] = [
    initial_schema,
    source_search_text,
    memory_weight,
    entity_mentions,
    graph_history,
    vault_lines,
    own_pictures,
    merged_memories,
]
