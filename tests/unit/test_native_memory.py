"""glibc's malloc arenas, limited before threads start: sixteen threads allocating at once
share them instead of each getting one of its own (checked in a child process, whose
malloc_info lists the heaps)."""

import subprocess
import sys

import pytest

CHILD = """
import ctypes, sys, threading
from core.native_memory import limit_arenas, give_back
if sys.argv[1] == "limit":
    assert limit_arenas(2)
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
together = threading.Barrier(16)
def work():
    block = libc.malloc(4096)  # this thread's arena is chosen here
    together.wait()  # all sixteen hold one at once
    libc.free(block)
threads = [threading.Thread(target=work) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
give_back()
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.fclose.argtypes = [ctypes.c_void_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
out = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, out)
libc.fclose(out)
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")


def heaps(tmp_path, mode: str) -> int:  # type: ignore[no-untyped-def]
    report = tmp_path / f"{mode}.xml"
    subprocess.run([sys.executable, "-c", CHILD, mode, str(report)], check=True, timeout=120)
    return report.read_text().count("<heap nr=")


def test_threads_share_the_arenas_allowed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert heaps(tmp_path, "limit") <= 2
    assert heaps(tmp_path, "default") > 2  # what the limit prevents
