"""Record ids: 32 hex characters, time-ordered so that new rows land together in indexes."""

import os
import time


def new_id() -> str:
    """A UUIDv7-like id: 48 bits of milliseconds then 80 random bits, as lowercase hex."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"
