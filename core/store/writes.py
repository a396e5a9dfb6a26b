"""Writing memories: adding, updating, the rows they are stored as, and their vectors, which
follow each commit in commit order. A mixin of MemoryStore, kept apart for size: it shares its
state."""

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from core.embed import Embedder
from core.errors import Changed, Closed, InvalidInput, MnemoError
from core.ids import new_id
from core.memory.models import Memory, MemoryType, Sensitivity, parse_memory, sensitivity_of
from core.secrets import SecretBox
from core.store.changes import ChangeHub
from core.store.db import Database
from core.store.rows import (
    check_fields,
    has_secret,
    insert_sql,
    insert_version,
    integrity_message,
    link_source,
    vector_row,
)
from core.store.vectors import VectorIndex
from core.timeutil import from_iso, now, to_iso

log = logging.getLogger(__name__)


class WritesMixin:
    # What these methods use of the store (see MemoryStore).
    db: Database
    changes: ChangeHub
    embedder: Embedder
    vectors: VectorIndex
    _vector_queue: ThreadPoolExecutor | None
    _vector_queue_lock: threading.Lock
    _closed: bool
    resolve: Callable[[str], str]
    secret_box: Callable[[], SecretBox]
    get: Callable[..., Memory]
    _to_memory: Callable[..., Memory]
    _check_sources: Callable[[Sequence[str]], None]

    def add(
        self,
        memory: Memory,
        *,
        sources: Sequence[str] = (),
        cause: str = "created",
        actor: str = "user",
    ) -> Memory:
        """Store a new memory, optionally linked to the sources it came from."""
        return self.add_many([memory], sources=sources, cause=cause, actor=actor)[0]

    def add_many(
        self,
        memories: Sequence[Memory],
        *,
        sources: Sequence[str] = (),
        cause: str = "created",
        actor: str = "user",
    ) -> list[Memory]:
        """Store new memories in one transaction: all of them, or none if any is invalid."""
        stamp = now()
        stored = [
            m.model_copy(
                update={"id": new_id(), "created_at": stamp, "updated_at": stamp, "rev": 1}
            )
            for m in memories
        ]
        rows = [self.row_for(m, self._secret_token(m)) for m in stored]
        vectors = self._embed([row["search_text"] for row in rows])
        changed_at = to_iso(stamp)
        with self.db.lock:  # queued under the lock: vectors are written in commit order
            with self.db.write() as db:
                self._check_sources(sources)
                for row in rows:
                    try:
                        db.execute(insert_sql("memories", row), list(row.values()))
                    except sqlite3.IntegrityError as exc:
                        raise InvalidInput(integrity_message(row, exc)) from None
                    insert_version(db, row["id"], 1, changed_at, cause, actor, [], None)
                    for source_id in sources:
                        link_source(db, row["id"], source_id)
            written = self._in_order(self._put_vectors, rows, vectors, new=True)
        written.result()
        self.changes.emit("memory", "added", [m.id for m in stored])
        return [
            m.model_copy(update={"secret_value": None, "secret_stored": has_secret(m)})
            if m.type == MemoryType.VAULT
            else m
            for m in stored
        ]

    def update(
        self,
        ref: str,
        changes: Mapping[str, Any],
        *,
        cause: str = "edited",
        actor: str = "user",
        expect_rev: int | None = None,
    ) -> Memory:
        """Change some fields of a memory, keeping the old value in its history.

        Unknown fields, the store's own fields and invalid values are refused with nothing
        written. An update that changes nothing records no version. With `expect_rev`, only
        if the memory is still at that revision (raises Changed): changes computed from what
        was read must not overwrite an edit made since.
        """
        memory_id = self.resolve(ref)
        for _attempt in range(3):
            row = self.db.query("SELECT * FROM memories WHERE id = ?", [memory_id])[0]
            if expect_rev is not None and row["rev"] != expect_rev:
                raise Changed(f"memory {memory_id} changed meanwhile; it was left as it is")
            kind = MemoryType(row["type"])
            check_fields(kind, changes)
            old = json.loads(row["data"])
            if actor != "user" and "sensitivity" in changes:
                # Only the user lowers a sensitivity: an agent's or a tool's update may not
                # (a schema default once turned every updated high item into a medium one).
                was = Sensitivity(row["sensitivity"])
                if Sensitivity(changes["sensitivity"]).level < was.level:
                    raise InvalidInput(
                        f"only the user may lower memory {memory_id}'s sensitivity (from {was})"
                    )
            new = {**old, **{k: v for k, v in changes.items() if k != "secret_value"}}
            token = row["secret"]
            if "secret_value" in changes:
                secret = changes["secret_value"]
                token = None if secret in (None, "") else self.secret_box().encrypt(str(secret))
            candidate = parse_memory(
                {**new, "id": memory_id, "created_at": row["created_at"], "rev": row["rev"] + 1}
            )
            new = candidate.payload()
            changed = sorted(k for k in new.keys() | old.keys() if new.get(k) != old.get(k))
            if token != row["secret"]:
                changed.append("secret_value")
            if not changed:
                return self._to_memory(row)
            # Never before the version it replaces: a clock set back must not date an edit
            # earlier than the one before it (the history's times follow its revisions).
            stamp = max(now(), from_iso(row["updated_at"]))
            candidate = candidate.model_copy(update={"updated_at": stamp})
            new_row = self.row_for(candidate, token)
            vector = self._embed([new_row["search_text"]])
            with self.db.lock:  # queued under the lock: vectors are written in commit order
                with self.db.write() as db:
                    if (
                        self.db.scalar("SELECT rev FROM memories WHERE id = ?", [memory_id])
                        != row["rev"]
                    ):
                        continue  # changed under us between read and write: start again
                    assignments = ", ".join(f"{k} = ?" for k in new_row if k != "id")
                    db.execute(
                        f"UPDATE memories SET {assignments} WHERE id = ?",
                        [v for k, v in new_row.items() if k != "id"] + [memory_id],
                    )
                    old_snapshot = dict(old, secret=row["secret"]) if row["secret"] else old
                    insert_version(
                        db,
                        memory_id,
                        new_row["rev"],
                        to_iso(stamp),
                        cause,
                        actor,
                        changed,
                        old_snapshot,
                    )
                written = self._in_order(self._put_vectors, [new_row], vector, new=False)
            written.result()
            self.changes.emit("memory", "updated", [memory_id])
            return self.get(memory_id)
        raise MnemoError(f"memory {memory_id} kept changing while being updated; try again")

    def _in_order(self, write: Callable[..., None], *args: Any, **kw: Any) -> Future[None]:
        """Queue a vector write behind those of earlier commits. Callers queue it while holding
        the database lock (so the queue's order is the commit order) and wait for it after
        letting go: a slow vector write (LanceDB compacting) then holds up no other writer
        of SQLite, such as an edit made in the window."""
        with self._vector_queue_lock:
            if self._closed:  # the commit stands; the next start's repair writes its vector
                log.info("the store closed before a vector was written; repair adds it")
                skipped: Future[None] = Future()
                skipped.set_result(None)
                return skipped
            if self._vector_queue is None:
                self._vector_queue = ThreadPoolExecutor(1, thread_name_prefix="mnemo-vectors")
            return self._vector_queue.submit(write, *args, **kw)

    def _secret_token(self, memory: Memory) -> str | None:
        secret = getattr(memory, "secret_value", None)
        return None if secret is None else self.secret_box().encrypt(secret.get_secret_value())

    def row_for(self, memory: Memory, secret_token: str | None) -> dict[str, Any]:
        assert memory.created_at is not None and memory.updated_at is not None
        return {
            "id": memory.id,
            "type": memory.type,
            "headline": memory.headline,
            "search_text": memory.search_text(),
            "data": json.dumps(memory.payload(), ensure_ascii=False),
            "secret": secret_token,
            "tree_path": "/".join(memory.tree_path),
            "event_time": to_iso(memory.event_time or memory.created_at),
            "created_at": to_iso(memory.created_at),
            "updated_at": to_iso(memory.updated_at),
            "source_app": memory.source_app,
            "sensitivity": sensitivity_of(memory).value,
            "rev": memory.rev,
        }

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts; an empty text gets the zero vector, which matches nothing (a
        model would embed it as its bare [CLS] [SEP], close to every short query)."""
        out = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        filled = [i for i, text in enumerate(texts) if text.strip()]
        if filled:
            out[filled] = self.embedder.embed([texts[i] for i in filled])
        return out

    def _put_vectors(self, rows: Sequence[Mapping[str, Any]], vectors: Any, *, new: bool) -> None:
        try:
            self.vectors.upsert(
                [vector_row(row, vectors[i]) for i, row in enumerate(rows)], new=new
            )
        except (OSError, RuntimeError, ValueError, Closed) as exc:
            # SQLite already holds the memory; the next start-up's repair() embeds it again.
            log.error("vector write failed, repair at next start-up will redo it: %s", exc)
