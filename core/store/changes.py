"""What changed in the store, announced to whoever listens (the window's views).

A view subscribes and refreshes the rows a change names instead of polling. Writes made by
another process (the CLI, a capture process) cannot be announced by this one: `ExternalWatch`
notices them through SQLite's `PRAGMA data_version` and announces one `external` change.
"""

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

if TYPE_CHECKING:
    from core.store.db import Database

log = logging.getLogger(__name__)

Kind = Literal["memory", "source", "link", "entity", "external"]
Action = Literal["added", "updated", "deleted", "changed"]


@dataclass(frozen=True)
class Change:
    kind: Kind
    action: Action
    ids: tuple[str, ...] = ()


T = TypeVar("T")


class Hub(Generic[T]):
    """Listeners called with each event, on the thread that made it (a Qt view re-posts it to
    the GUI thread). A listener that raises is logged and kept; it cannot break a write."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[T], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Callable[[T], None]) -> Callable[[], None]:
        """Start calling `listener`; returns the function that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: T) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("a listener failed on %s", event)


class ChangeHub(Hub[Change]):
    """What changed in the store, for the views."""

    def emit(self, kind: Kind, action: Action, ids: Iterable[str] = ()) -> None:
        self.publish(Change(kind, action, tuple(ids)))


class ExternalWatch:
    """Tells whether another process wrote to the database since the last look.

    `data_version` belongs to one connection: it changes when any other connection commits,
    this process's own included, so the watch keeps a connection of its own and the database's
    commit counter tells this process's writes apart. When this process and another both wrote
    between two looks, the other's write goes unannounced — harmless, since this process's own
    change already made the views refresh. Safe to call from any thread.
    """

    def __init__(self, db: "Database") -> None:
        self._db = db
        self._conn = db.private_connection()
        self._lock = threading.Lock()
        self._seen = (self._version(), db.commits)

    def _version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        with self._lock:
            commits = self._db.commits
            version = self._version()
            before_version, before_commits = self._seen
            self._seen = (version, commits)
            return version != before_version and commits == before_commits

    def close(self) -> None:
        with self._lock:
            self._conn.close()
