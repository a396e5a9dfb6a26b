"""glibc's malloc, told to keep less: native libraries (onnxruntime, llama.cpp, LanceDB, Qt)
allocate from many threads, and glibc gives each thread that does an arena of its own, up to
8 per core, each keeping what was freed in it. Measured on the 100,000-memory store with the
chat model and OCR loaded: 1,545 MB resident with the default, 1,275 MB with two arenas.
Elsewhere than glibc (musl, macOS, Windows) these do nothing."""

import ctypes
import sys
from typing import Any

M_ARENA_MAX = -8  # mallopt's parameter number for the arena limit (glibc's malloc.h)


def _load() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt  # noqa: B018 (glibc has it; musl's libc.so.6, if any, may not)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _load()


def limit_arenas(arenas: int = 2) -> bool:
    """At most `arenas` malloc arenas for the whole process, threads to come included: call it
    first thing, before threads start. True if glibc took it."""
    return _LIBC is not None and bool(_LIBC.mallopt(M_ARENA_MAX, arenas))


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost",
        )
    ]  # fmt: skip


def malloc_mb() -> dict[str, int]:
    """What malloc holds, in MB: `in_use` by the program, `free` (kept, not given back) and
    `mapped` (large blocks, given back when freed); empty where glibc cannot say."""
    if _LIBC is None or not hasattr(_LIBC, "mallinfo2"):
        return {}
    _LIBC.mallinfo2.restype = _MallInfo2
    info = _LIBC.mallinfo2()
    mb = 1024 * 1024
    return {
        "in_use": (info.uordblks + info.hblkhd) // mb,
        "free": info.fordblks // mb,
        "mapped": info.hblkhd // mb,
    }


def give_back() -> None:
    """Return freed memory at the top of the heaps to the system (glibc keeps it mapped)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
