"""Uses under way of something that closes: close waits for them and refuses new ones.

A `sqlite3` connection closed while another thread steps a statement on it crashes the process
(a fresh clone's `make test` segfaulted when the app quit while a browser read was under way);
a llama.cpp model freed under an embedding call does the same. So the store, the vector index
and the models own their own shutdown, whoever calls it and in whatever order: each use enters
its object's `Uses`, and `close()` waits for the uses under way and refuses new ones with
`Closed`. A thread already inside a use may enter again (a write transaction's own reads), so
work under way finishes whole.
"""

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Concatenate, ParamSpec, TypeVar

from core.errors import Closed

S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")


class Uses:
    """Counts uses under way of one closable thing (`what` names it in the error)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._cond = threading.Condition()
        self._count = 0
        self._closing = False
        self._local = threading.local()  # this thread's depth of nested uses

    @property
    def closed(self) -> bool:
        return self._closing

    @contextmanager
    def __call__(self) -> Iterator[None]:
        """One use: refused with Closed once `close()` has begun, unless this thread is
        already inside a use (its work finishes)."""
        depth = getattr(self._local, "depth", 0)
        with self._cond:
            if self._closing and depth == 0:
                raise Closed(f"the {self.what} is closed")
            self._count += 1
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            with self._cond:
                self._count -= 1
                if self._count == 0:
                    self._cond.notify_all()

    def close(self, timeout: float | None = None) -> bool:
        """Refuse new uses and wait for those under way; False if some outlived `timeout`.
        Called from inside a use, it waits for the others only."""
        mine = getattr(self._local, "depth", 0)
        with self._cond:
            self._closing = True
            return self._cond.wait_for(lambda: self._count <= mine, timeout)


def used(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """A method that is one use of its object's `_uses` (a `Uses`)."""

    @functools.wraps(method)
    def within(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._uses():  # type: ignore[attr-defined]
            return method(self, *args, **kwargs)

    return within
