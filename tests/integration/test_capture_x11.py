"""Screen capture on a real (virtual) X screen with real Qt windows, real OCR, the real store
and, for `once`, the real memory team: known text is captured and found; the excluded window's
canary and the fake API key never reach a file; an excluded window behind the user's work is
painted over only where it shows; start/pause/resume/stop work across processes.
"""

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from bench.display import activate_window, app_window, available, find_window, virtual_display
from core.capture.change import Box
from core.capture.desktop import X11Desktop
from core.capture.ocr import Ocr
from core.capture.screen import MssScreen
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


def test_mnemos_window_behind_the_users_work_is_painted_over_only_where_it_shows(
    screen: str, mnemo
) -> None:
    """Mnemo's 1000 × 720 window left open behind another program's window: the frame is kept
    and read, Mnemo's window is black where it shows (before, its whole box counted, 76 % of
    the screen, and every frame was dropped). Once the window in front is minimised, what
    shows of Mnemo's is most of the screen and the frame is dropped."""
    own = ("--app", "mnemo", "--title", f"Mnemo {CANARY}", "--geometry", "10,40,1000,720")
    own_text = f"{CANARY} top left\n" + "\n" * 24 + f"{CANARY} bottom left"
    invoice = ("--title", "Shed invoice", "--geometry", "400,200,860,560")
    invoice_text = "Garden shed invoice 2231\nPay the carpenter before Friday"
    side = ("--title", "Todo", "--text", "Water the plants", "--geometry", "1030,40,240,120")
    with (
        app_window(*own, "--text", own_text),
        app_window(*side),
        app_window(*invoice, "--text", invoice_text),
    ):
        activate_window("Shed invoice")
        desktop = X11Desktop()
        try:
            state = desktop.state()
        finally:
            desktop.close()
        assert state.stacked
        titles = [w.title for w in state.windows]
        front, behind = state.windows[0], state.windows[titles.index(f"Mnemo {CANARY}")]
        assert front.title == "Shed invoice" and front.cover == front.box
        assert front.box.overlaps(behind.box)
        # The canary is on the screen, in the part of Mnemo's window left uncovered.
        shown = Box(behind.box.left, behind.box.top, front.box.left, behind.box.bottom)
        grab = MssScreen()
        try:
            raw = grab.grab(grab.monitors()[0])
        finally:
            grab.close()
        assert CANARY in " ".join(line.text for line in Ocr().read(raw, [shown]))

        code, out, err = mnemo("--json", "capture", "once", "--no-agents")
        assert code == 0, err
        result = json.loads(out)
        (stored,) = result["stored"]
        assert "Garden shed invoice" in stored["text"] and stored["title"] == "Shed invoice"
        assert CANARY not in stored["text"]
        assert result["status"]["masked"] == 1 and result["status"]["excluded"] == 0
        picture = Image.open(mnemo.folder / stored["picture"]).convert("L")
        scale = picture.width / raw.width

        def extrema(box: Box) -> tuple[int, int]:
            scaled = [round(v * scale) for v in (box.left, box.top, box.right, box.bottom)]
            return picture.crop(scaled).getextrema()  # type: ignore[return-value]

        # What shows of Mnemo's window is black (a few pixels short of the window in front,
        # which the picture's scaling blends in).
        assert extrema(Box(shown.left, shown.top, shown.right - 4, shown.bottom))[1] < 40
        assert extrema(Box(front.box.left + 20, behind.box.top + 200, 1000, 700))[1] > 200

        minimise("Shed invoice")
        activate_window("Todo")
        desktop = X11Desktop()
        try:
            assert "Shed invoice" not in [w.title for w in desktop.state().windows]
        finally:
            desktop.close()
        code, out, _ = mnemo("--json", "capture", "once", "--no-agents")
        assert code == 0
        result = json.loads(out)
        assert result["stored"] == [] and result["status"]["excluded"] == 1
    assert leaks(mnemo.folder) == {}


def test_without_a_window_manager_nothing_counts_as_hidden(screen: str, monkeypatch) -> None:
    """A bare X server lists no stacking order: the desktop says so and no window hides
    another, so excluded windows are painted over whole."""
    with _bare_display() as bare:
        monkeypatch.setenv("DISPLAY", bare)
        with (
            app_window("--title", "Below", "--geometry", "0,0,600,400"),
            app_window("--title", "Above", "--geometry", "100,100,600,400"),
        ):
            desktop = X11Desktop(bare)
            try:
                state = desktop.state()
            finally:
                desktop.close()
    assert {"Below", "Above"} <= {w.title for w in state.windows}
    assert not state.stacked and all(w.cover is None for w in state.windows)


def test_a_window_that_may_be_see_through_hides_nothing(screen: str) -> None:
    """Under a compositing manager a window with an opacity setting may show what is below it;
    a shaped window shows it through its holes: neither counts as hiding anything, and a shaped
    frame (rounded corners) hides only its client area."""
    from Xlib import X, Xatom, display
    from Xlib.ext import shape

    def cover() -> tuple[Box | None, Box]:
        desktop = X11Desktop()
        try:
            (found,) = [w for w in desktop.state().windows if w.title == "Glass"]
        finally:
            desktop.close()
        return found.cover, found.box

    with app_window("--title", "Glass", "--geometry", "100,100,600,400"):
        connection = display.Display()
        try:
            client = connection.create_resource_object("window", find_window("Glass"))
            frame = client.query_tree().parent
            while frame.query_tree().parent != connection.screen().root:
                frame = frame.query_tree().parent
            opacity = connection.intern_atom("_NET_WM_WINDOW_OPACITY")
            client.change_property(opacity, Xatom.CARDINAL, 32, [0x80000000])
            connection.sync()
            hidden, box = cover()
            assert hidden == box  # no compositing manager: X draws the window opaque

            # This connection owns the compositing manager's selection, as a compositor does.
            owner = connection.screen().root.create_window(0, 0, 1, 1, 0, X.CopyFromParent)
            owner.set_selection_owner(connection.intern_atom("_NET_WM_CM_S0"), X.CurrentTime)
            connection.sync()
            assert cover()[0] is None
            client.delete_property(opacity)
            connection.sync()
            assert cover()[0] == box

            geometry = client.get_geometry()
            frame.shape_rectangles(
                shape.SO.Set, shape.SK.Bounding, 0, 0, 0, [(4, 0, box.right - box.left - 8, 30)]
            )
            connection.sync()
            hidden, _ = cover()
            assert hidden is not None and hidden.area == geometry.width * geometry.height
            client.shape_rectangles(shape.SO.Set, shape.SK.Bounding, 0, 0, 0, [(0, 0, 50, 50)])
            connection.sync()
            assert cover()[0] is None
        finally:
            connection.close()


def minimise(title: str, timeout: float = 10) -> None:
    """Minimise the window titled `title` as its minimise button would (ICCCM
    WM_CHANGE_STATE to IconicState), and return once the window manager says it is hidden."""
    from Xlib import X, display
    from Xlib.protocol import event

    wid = find_window(title, timeout=timeout)
    connection = display.Display()
    try:
        root = connection.screen().root
        window = connection.create_resource_object("window", wid)
        message = event.ClientMessage(
            window=window,
            client_type=connection.intern_atom("WM_CHANGE_STATE"),
            data=(32, [3, 0, 0, 0, 0]),  # IconicState
        )
        root.send_event(message, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
        connection.flush()
        state = connection.intern_atom("_NET_WM_STATE")
        hidden = connection.intern_atom("_NET_WM_STATE_HIDDEN")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = window.get_full_property(state, X.AnyPropertyType)
            if reply is not None and hidden in reply.value:
                return
            time.sleep(0.05)
    finally:
        connection.close()
    raise RuntimeError(f"the window titled {title!r} was not minimised")


@contextlib.contextmanager
def _bare_display() -> Iterator[str]:
    """Xvfb with no window manager."""
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait(10)


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
