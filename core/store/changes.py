"""What changed in the store, announced to whoever listens (the window's views).

A view subscribes and refreshes the rows a change names instead of polling. Writes made by
another process (the CLI, a capture process) cannot be announced by this one: `ExternalWatch`
notices them through SQLite's `PRAGMA data_version` and announces one `external` change.
"""

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger(__name__)

Kind = Literal["memory", "source", "link", "entity", "external"]
Action = Literal["added", "updated", "deleted", "changed"]


@dataclass(frozen=True)
class Change:
    kind: Kind
    action: Action
    ids: tuple[str, ...] = ()


Listener = Callable[[Change], None]


class ChangeHub:
    """Listeners called with each Change, on the thread that made it (a Qt view re-posts it to
    the GUI thread). A listener that raises is logged and kept; it cannot break a write."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Start calling `listener`; returns the function that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def emit(self, kind: Kind, action: Action, ids: Iterable[str] = ()) -> None:
        self.emit_change(Change(kind, action, tuple(ids)))

    def emit_change(self, change: Change) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(change)
            except Exception:
                log.exception("a change listener failed on %s", change)


class ExternalWatch:
    """Tells whether another process wrote to the database since the last look.

    `data_version` changes when any other connection commits, this process's other threads'
    connections included; the database's own commit counter tells those apart. When this
    process and another both wrote between two looks, the other's write goes unannounced —
    harmless, since this process's own change already made the views refresh.
    """

    def __init__(self, data_version: Callable[[], int], own_commits: Callable[[], int]) -> None:
        self._data_version = data_version
        self._own_commits = own_commits
        self._seen = (data_version(), own_commits())

    def changed(self) -> bool:
        version, commits = self._data_version(), self._own_commits()
        before_version, before_commits = self._seen
        self._seen = (version, commits)
        return version != before_version and commits == before_commits
