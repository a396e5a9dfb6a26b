"""Screen capture on a real (virtual) X screen with real Qt windows, real OCR, the real store
and, for `once`, the real memory team: known text is captured and found; the excluded window's
canary and the fake API key never reach a file; start/pause/resume/stop work across processes.
"""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.display import app_window, available, virtual_display
from core.engine import Engine
from core.store.source_search import search_sources

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(available()), reason=str(available()))]

CANARY = "OKAPI-CANARY-9043"
FAKE_KEY = "sk-live-4eC39HqLyjWDarjtT1zdp7dc"


@pytest.fixture(scope="module")
def screen() -> Iterator[str]:
    with virtual_display() as name:
        yield name


def leaks(folder: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in (CANARY, FAKE_KEY):
                if needle.encode() in data:
                    found.setdefault(needle, []).append(str(path))
    return found


def test_known_text_is_captured_and_found_and_the_canaries_reach_no_file(
    screen: str, mnemo
) -> None:
    vault = ("--app", "KeePassXC", "--title", f"Vault {CANARY}", "--text", CANARY)
    notes = (
        "--title",
        "Trip notes",
        "--text",
        f"Flight to Lisbon on 14 March\nHotel near the river\nAPI key: {FAKE_KEY}",
    )
    with (
        app_window(*vault, "--geometry", "760,420,480,300"),
        app_window(*notes, "--geometry", "40,60,660,360"),
    ):
        code, out, err = mnemo("--json", "capture", "once")
    assert code == 0, err
    result = json.loads(out)
    (stored,) = result["stored"]
    assert "Lisbon" in stored["text"] and stored["title"] == "Trip notes"
    assert "[redacted: api key]" in stored["text"]
    status = result["status"]
    assert status["masked"] == 1 and status["batches"] == 1 and status["batches_failed"] == 0

    with Engine(mnemo.folder) as engine:
        hits = search_sources(engine.store, "flight Lisbon", limit=3)
        assert hits and hits[0].source.id == stored["id"]
        assert engine.store.source_vectors.count() >= 1  # the batch gave it a vector

    private = ("--app", "firefox", "--title", "Bank — Mozilla Firefox Private Browsing")
    with app_window(*private, "--text", CANARY, "--geometry", "0,0,1280,800"):
        code, out, _ = mnemo("--json", "capture", "once", "--no-agents")
    assert code == 0
    result = json.loads(out)
    assert result["stored"] == [] and result["status"]["excluded"] == 1
    assert leaks(mnemo.folder) == {}


def test_capture_runs_pauses_resumes_and_stops_from_other_commands(
    screen: str, tmp_path: Path
) -> None:
    folder = tmp_path / "data"

    def mnemo(*args: str, **kw) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "app.cli", "--data-dir", str(folder), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, **kw)

    def status() -> dict:
        return json.loads(mnemo("--json", "capture", "status").stdout)

    typing = ("--title", "Journal", "--text", "Dear diary,\n", "--scenario", "typing")
    with app_window(*typing, "--geometry", "0,0,900,600"):
        start = ["--json", "capture", "start", "--no-agents", "--interval", "1"]
        runner = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "--data-dir", str(folder), *start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                state = status()
                if state.get("alive") and state.get("stored", 0) >= 2:
                    break
                time.sleep(0.5)
            assert state["alive"] and state["state"] == "running", state

            assert mnemo("capture", "pause").stdout.strip() == "capture paused"
            paused = status()["ticks"]
            time.sleep(3)  # a running capture writes its status every 2 s
            assert status()["ticks"] == paused  # no frames while paused
            assert mnemo("capture", "resume").stdout.strip() == "capture resumed"
            assert mnemo("capture", "start").returncode == 1  # one capture per data folder
            stopped = mnemo("capture", "stop")
            assert stopped.returncode == 0, stopped.stderr
            out, err = runner.communicate(timeout=60)
        finally:
            if runner.poll() is None:
                runner.kill()
    assert runner.returncode == 0, err
    final = json.loads(out)
    assert final["state"] == "stopped" and final["stored"] >= 2 and final["failed"] == 0
    assert "not running" in mnemo("capture", "status").stdout
    with Engine(folder) as engine:
        typed = engine.store.db.query("SELECT text FROM sources WHERE kind = 'capture'")
        assert any("diary" in row["text"].lower() for row in typed)
