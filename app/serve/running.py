"""Calling the service from the server's event loop.

The service blocks (the store, the local model), so every call runs on a worker thread while
the loop serves other requests. An answer is stopped when its caller is: an MCP client's
cancellation cancels the request's task, and an HTTP client that goes away is noticed by
`gone`; either way `stop` ends the generation, so the one local model is free for the next
question instead of writing an answer nobody reads.
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

T = TypeVar("T")


class Gone(Exception):
    """The HTTP client went away before its answer was ready."""


async def run(
    work: Callable[[], T],
    stop: Callable[[], None] | None = None,
    gone: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """`work()` on a worker thread. With `stop`: if this task is cancelled, or `gone` returns,
    `stop()` is called (from the loop's thread) and the thread is left to finish."""
    if stop is None:
        return await anyio.to_thread.run_sync(work)
    done: list[T] = []
    async with anyio.create_task_group() as group:
        if gone is not None:

            async def watch() -> None:
                await gone()
                group.cancel_scope.cancel()

            group.start_soon(watch)
        try:
            done.append(await anyio.to_thread.run_sync(work, abandon_on_cancel=True))
        except anyio.get_cancelled_exc_class():
            stop()
            raise
        group.cancel_scope.cancel()  # the answer is in: stop watching
    if not done:
        raise Gone
    return done[0]
