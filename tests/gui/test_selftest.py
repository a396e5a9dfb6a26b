"""`mnemo selftest` in a process of its own, as a package's test runs it: every native part
used for real, a line each, and a failing part named with a non-zero exit."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
PARTS = ("llama.cpp", "chat model", "store", "spaCy", "OCR", "window", "keyring")


def selftest(display: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "selftest"],
        env={
            **os.environ,
            "DISPLAY": display,
            "QT_QPA_PLATFORM": "xcb",
            "HOME": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_native_part_works_and_says_so(display: str, tmp_path: Path) -> None:
    done = selftest(display, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line[6:16].strip() for line in lines[:-1]] == list(PARTS)
    assert all(line.startswith("ok") for line in lines[:-1])
    assert "CPU (" in lines[0] and "read 'Mnemo remembers 42 things'" in done.stdout
    assert "Qt xcb drew a window" in done.stdout
    assert lines[-1] == "selftest: every part works"


def test_a_part_that_fails_is_named_and_the_exit_is_not_zero(display: str, tmp_path: Path) -> None:
    """A build asked for that this installation lacks: llama.cpp's line fails loudly."""
    done = selftest(display, tmp_path, MNEMO_LLAMA_BUILD="cuda")
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].startswith(
        "FAIL  llama.cpp   BuildUnavailable: no llama.cpp build 'cuda' here"
    )
    assert done.stdout.splitlines()[-1] == "selftest: FAILED (the traceback is above)"
