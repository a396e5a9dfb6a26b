"""The app as bench.gui_views runs it: the real MnemoApp on a large store, driven by a script
that times the memory browser, the graph and the timeline as a user meets them.

    python -m bench.gui_views_run DATA_DIR

Prints one JSON line of figures when done. Not meant to be run by hand.
"""

import json
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QEventLoop, QObject, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget

from bench.gui_run import GcPauses, Heartbeat

QUERIES = ["budget review", "latency outage", "hiring interview", "invoice contract", "demo"]
FRAMES = 60
SEARCHES = ["notes", "latency", "billing", "frame 12"]  # timeline: all, some, few matches
KEY_MS = 120  # between two keys typed
SCRUB_STEPS, FRAME_MS = 60, 16
LEFT = Qt.MouseButton.LeftButton


class Painted(QObject):
    """When a widget next paints after `arm()`."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.at: float | None = None
        widget.installEventFilter(self)

    def arm(self) -> None:
        self.at = None

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
        if self.at is None and event.type() == QEvent.Type.Paint:
            self.at = time.perf_counter()
        return False


def wait_for(signal: Any, action: Any = None, timeout_s: float = 120) -> list[Any]:
    """Do `action`, then run the event loop until `signal` fires (the GUI stays live)."""
    loop, got = QEventLoop(), []

    def fired(*args: Any) -> None:
        got.append(args)
        loop.quit()

    signal.connect(fired)
    if action is not None:
        action()
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    if not got:
        loop.exec()
    signal.disconnect(fired)
    if not got:
        raise TimeoutError(f"no {signal} within {timeout_s} s")
    return list(got[0])


def until_painted(painted: Painted, timeout_s: float = 30) -> float:
    """When the widget first paints from now on: call it once what it shows has arrived, so
    the paint of an emptied table while it waited does not count."""
    painted.arm()
    deadline = time.perf_counter() + timeout_s
    while painted.at is None and time.perf_counter() < deadline:
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
    if painted.at is None:
        raise TimeoutError("no paint")
    return painted.at


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def browser(mnemo: Any, figures: dict[str, Any], heartbeat: Heartbeat) -> None:
    window, view = mnemo.window, mnemo.window.memories
    window.nav.setCurrentRow(1)
    wait_for(view.model.loaded, view.reload)
    painted = Painted(view.table.viewport())
    opens = []
    for _ in range(5):  # All memories → Episodic, as a user picks the type
        if view.kind.currentIndex() != 0:
            wait_for(view.model.loaded, lambda: view.kind.setCurrentIndex(0))
        started = time.perf_counter()
        wait_for(view.model.loaded, lambda: view.kind.setCurrentIndex(2))
        opens.append(until_painted(painted) - started)
    figures["browser_open_ms_100k"] = ms(statistics.median(opens))
    figures["browser_open_ms_100k_first"] = ms(opens[0])
    figures["browser_rows"] = view.model.total
    filters = []
    wait_for(view.model.loaded, lambda: view.kind.setCurrentIndex(0))
    for query in QUERIES:
        view.search.blockSignals(True)  # the 250 ms typing pause is not the search's cost
        view.search.setText(query)
        view.search.blockSignals(False)
        started = time.perf_counter()
        wait_for(view.model.loaded, view.reload)
        filters.append(until_painted(painted) - started)
    figures["browser_filter_ms_100k"] = ms(statistics.median(filters))
    figures["browser_filter_ms_100k_max"] = ms(max(filters))
    scrolled = []
    wait_for(view.model.loaded, view.search.clear)
    for _ in range(5):  # to the end of what is loaded: the next page comes in
        started = time.perf_counter()
        wait_for(view.model.loaded, view.table.scrollToBottom)
        scrolled.append(time.perf_counter() - started)
    figures["browser_next_page_ms"] = ms(statistics.median(scrolled))
    figures["browser_max_gui_stall_ms"] = ms(heartbeat.worst)


def graph(mnemo: Any, figures: dict[str, Any], heartbeat: Heartbeat) -> None:
    from app.gui import tasks
    from core.graph_layout import layout

    window, view = mnemo.window, mnemo.window.graph
    window.nav.setCurrentRow(2)
    heartbeat.reset()
    started = time.perf_counter()
    wait_for(view.laid_out, view.reload)
    figures["graph_reload_ms"] = ms(time.perf_counter() - started)  # read, layout, draw
    figures["graph_reload_max_gui_stall_ms"] = ms(heartbeat.worst)
    nodes, edges = view._graph.nodes, view._edge_list
    figures["graph_nodes"], figures["graph_edges"] = len(nodes), len(edges)

    ids, pairs, timed = [n.id for n in nodes], [(a, b) for a, b, _ in edges], []
    for _ in range(3):  # the layout alone on a worker, from scratch, the GUI ticking
        QApplication.processEvents()  # the reload's own paint is graph_reload's, not this
        heartbeat.reset()
        took: list[float] = []
        task = tasks.run(lambda _ctx: _timed(layout, ids, pairs), on_done=took.append)
        wait_for(task.finished)
        timed.append((took[0], heartbeat.worst))
    figures["graph_layout_ms_2000_nodes"] = ms(statistics.median(t for t, _ in timed))
    figures["graph_max_gui_stall_ms"] = ms(max(stall for _, stall in timed))

    # Scripted pan and zoom: each step and the repaint Qt makes for it (a pan repaints the
    # strip scrolled in, a zoom the whole view), timed; then the whole view repainted at each
    # step as well (what an expose or a resize costs).
    scene_view = view.view
    scene_view.fitInView(view.scene.sceneRect())
    steps, full = [], []
    for n in range(FRAMES):
        QApplication.processEvents()
        started = time.perf_counter()
        if n % 3 == 0:
            factor = 1.15 if n < FRAMES // 2 else 1 / 1.15
            scene_view.scale(factor, factor)
            scene_view.zoomed.emit()  # as the wheel does
        else:
            bar = scene_view.horizontalScrollBar()
            bar.setValue(bar.value() + (40 if (n // 10) % 2 == 0 else -40))
        QApplication.processEvents()
        steps.append(time.perf_counter() - started)
        started = time.perf_counter()
        scene_view.viewport().repaint()
        full.append(time.perf_counter() - started)
    heartbeat.reset()  # the frames above were painted on purpose, back to back
    for name, times in (("frame", steps), ("full_repaint", full)):
        times.sort()
        figures[f"graph_{name}_ms_p95_2000_nodes"] = ms(times[int(0.95 * (len(times) - 1))])
        figures[f"graph_{name}_ms_p50_2000_nodes"] = ms(times[len(times) // 2])


def _timed(work: Any, *args: Any) -> float:
    started = time.perf_counter()
    work(*args)
    return time.perf_counter() - started


def timeline(mnemo: Any, folder: Path, figures: dict[str, Any], heartbeat: Heartbeat) -> None:
    window, view = mnemo.window, mnemo.window.timeline
    window.nav.setCurrentRow(3)
    busy = datetime.fromisoformat((folder / "busy-day").read_text())
    painted = Painted(view.strip)
    heartbeat.reset()
    days = []
    for n in range(3):  # the busy day from the day before / after it
        other = busy.replace(day=busy.day - 1) if n % 2 == 0 else busy.replace(day=busy.day + 1)
        wait_for(view.loaded, lambda: view.go_to(other))  # noqa: B023
        started = time.perf_counter()
        wait_for(view.loaded, lambda: view.go_to(busy))
        days.append(until_painted(painted) - started)
    drawn(view.strip)  # the busy day's bars, drawn on a worker
    figures["timeline_day_ms"] = ms(statistics.median(days))
    figures["timeline_day_captures"] = len(view.day_captures)

    # Search as a user types it, a key every KEY_MS (the view searches when typing pauses);
    # then timed from asking to the strip painted with the matches.
    searches, found = [], []
    for query in SEARCHES:
        for end in range(1, len(query) + 1):
            view.search.setText(query[:end])
            pause(KEY_MS)
        started = time.perf_counter()
        wait_for(view.searched, view.search_now)
        drawn(view.strip)
        view.strip.repaint()  # what shows the matches
        searches.append(time.perf_counter() - started)
        found.append(len(view.captures))
    figures["timeline_search_ms"] = ms(statistics.median(searches))
    figures["timeline_search_matches"] = found
    view.search.clear()
    wait_for(view.searched, view.search_now)
    drawn(view.strip)

    # Scrub: the mouse dragged across the busy day, a step per frame, over its 1,000 captures.
    strip = view.strip
    left, right = strip.x_of(busy + timedelta(hours=7)), strip.x_of(busy + timedelta(hours=20))
    y = strip.height() // 2
    steps = []
    mouse(strip, QEvent.Type.MouseButtonPress, left, y)
    for n in range(SCRUB_STEPS):
        started = time.perf_counter()
        mouse(strip, QEvent.Type.MouseMove, left + (right - left) * n / SCRUB_STEPS, y)
        QApplication.processEvents()
        steps.append(time.perf_counter() - started)
        pause(FRAME_MS)
    mouse(strip, QEvent.Type.MouseButtonRelease, right, y)
    pause(500)  # the last moment's picture and memories come in
    steps.sort()
    figures["timeline_scrub_step_ms_p95"] = ms(steps[int(0.95 * (len(steps) - 1))])
    figures["timeline_max_gui_stall_ms"] = ms(heartbeat.worst)


def drawn(strip: Any) -> None:
    """Until the strip's bars for what it shows are drawn (on a worker)."""
    if strip.picture is None:
        wait_for(strip.drawn)


def pause(ms_: int) -> None:
    """Let the event loop run for `ms_` milliseconds (a user's pace)."""
    loop = QEventLoop()
    QTimer.singleShot(ms_, loop.quit)
    loop.exec()


def mouse(widget: QWidget, kind: QEvent.Type, x: float, y: float) -> None:
    buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else LEFT
    event = QMouseEvent(
        kind,
        QPointF(x, y),
        QPointF(widget.mapToGlobal(QPointF(x, y))),
        LEFT,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)


def main() -> None:
    from core.native_memory import limit_arenas

    folder = Path(sys.argv[1])
    limit_arenas()  # as app.gui.main.main does
    qt = QApplication(sys.argv[:1])
    qt.setQuitOnLastWindowClosed(False)

    from app.gui.main import GIL_SWITCH_S, MnemoApp
    from app.gui.style import apply_style

    sys.setswitchinterval(GIL_SWITCH_S)
    apply_style(qt)
    mnemo = MnemoApp(folder)
    figures: dict[str, Any] = {}
    heartbeat = Heartbeat()
    pauses = GcPauses()

    def run(host: Any) -> None:
        mnemo.window.resize(1280, 760)
        # Steady state: the vector indexes of 100,000 memories and 20,000 captures are built
        # in the background after the store opens (searches scan exactly until then), and
        # the start-up work on the writer thread has ended.
        started = time.perf_counter()
        host.wait_for_startup_work()  # index repair, vector matrices and spaCy loaded
        host.store.vectors.wait_for_index()
        host.store.source_vectors.wait_for_index()
        figures["startup_work_wait_s"] = round(time.perf_counter() - started, 1)
        heartbeat.start()
        pauses.reset()
        try:
            parts_at = {}  # when each part began, in s after the heartbeat started
            for part, measure in (
                ("browser", lambda: browser(mnemo, figures, heartbeat)),
                ("graph", lambda: graph(mnemo, figures, heartbeat)),
                ("timeline", lambda: timeline(mnemo, folder, figures, heartbeat)),
            ):
                parts_at[part] = round(time.perf_counter() - heartbeat.started, 2)
                measure()
            figures["parts_began_s"] = parts_at
            # [s after the heartbeat started, ms, ms on a CPU, ms waiting for one]
            figures["gui_stalls_over_50_ms"] = heartbeat.long
            parts = ("browser", "graph_reload", "graph", "timeline")
            figures["max_gui_stall_ms_views"] = max(
                figures[f"{part}_max_gui_stall_ms"] for part in parts
            )
            figures["gc_max_pause_ms"] = ms(pauses.worst())
            figures["gc_full_collections"] = pauses.full()
        finally:
            heartbeat.stop()
            print(json.dumps(figures), flush=True)
            mnemo.quit()

    mnemo.host_started.connect(lambda host: QTimer.singleShot(0, lambda: run(host)))
    mnemo.start()
    sys.exit(qt.exec())


if __name__ == "__main__":
    main()
