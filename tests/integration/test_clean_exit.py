"""No command prints a traceback: the first `mnemo add` on a fresh data folder used to end
with `Llama.__del__ … TypeError` at interpreter exit (the embedding model was never closed)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_a_first_add_and_search_end_without_a_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "fresh"
    env = {**os.environ, "MNEMO_DATA_DIR": str(folder)}

    def mnemo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    added = mnemo("add", "semantic", "name=Lisbon", "summary=Trip in March")
    found = mnemo("search", "Lisbon trip")
    for done in (added, found):
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr
    assert "Lisbon" in found.stdout
