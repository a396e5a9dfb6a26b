"""The desktop app: QApplication, palette, single instance, first paint, then the host.

The window is shown before anything heavy is imported: the host (LanceDB, pyarrow, the
models) is created and started on a worker, and the chat pane is enabled when its store
answers. Closing the window hides it to the tray; Quit (tray menu, Ctrl+Q) ends the app.
"""

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QObject, QSettings, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtNetwork import QLocalServer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.gui import tasks, tray
from app.gui.bridge import Bridge
from app.gui.collector import Collector
from app.gui.single_instance import answer, instance_name, raise_running
from app.gui.style import apply_style
from app.gui.window import MainWindow
from core.llm import builds
from core.native_memory import give_back, limit_arenas

log = logging.getLogger(__name__)
STATUS_MS = 1000
TRIM_MS = 30_000  # how often memory freed by the native libraries goes back to the system
QUIT_WAIT_S = 10.0  # at most, for other workers to end once the host is closed
GIL_SWITCH_S = 0.001  # how often the status bar reads the host's in-memory state


class MnemoApp(QObject):
    """Wires the window, the tray and the host together."""

    host_started = Signal(object)
    closed = Signal()  # after quit(): the host is closed (the QApplication ends next)

    def __init__(
        self,
        folder: Path,
        *,
        make_host: Callable[[], Any] | None = None,
        use_tray: bool | None = None,
        exit_on_quit: bool = True,
    ) -> None:
        super().__init__()
        self.folder = folder
        self.bridge = Bridge()
        self.window = MainWindow()
        self.window.resize(1000, 720)
        self.host: Any = None
        self._make_host = make_host or self._default_host
        self._quitting = False
        self._exit_on_quit = exit_on_quit
        self._geometry = QSettings(str(folder / "window.ini"), QSettings.Format.IniFormat)
        saved = self._geometry.value("geometry")
        if isinstance(saved, QByteArray):
            self.window.restoreGeometry(saved)

        self.tray: tray.Tray | None = None
        if use_tray if use_tray is not None else tray.available():
            self.tray = tray.Tray(self.window)
            self.tray.open_requested.connect(self.show_window)
            self.tray.pause_toggled.connect(self.toggle_pause)
            self.tray.quit_requested.connect(self.quit)
            self.tray.messageClicked.connect(self.show_window)
            self.tray.show()
        self.window.close_requested.connect(self._window_closed)
        self.window.capture_clicked.connect(self.capture_clicked)
        self.window.settings_requested.connect(self.open_settings)
        self.settings_dialog: Any = None
        self.first_run: Any = None
        QShortcut(QKeySequence("Ctrl+Q"), self.window, self.quit)

        self.bridge.progress.connect(self.window.set_work)
        self.bridge.capture_state.connect(self._capture_changed)
        self.bridge.alert.connect(self._alert)
        self._needs_user: str | None = None  # an alert not seen yet: the tray shows "error"
        self.window.chat.busy_changed.connect(lambda _busy: self._refresh_status())
        self._status = QTimer(self)
        self._status.setInterval(STATUS_MS)
        self._status.timeout.connect(self._refresh_status)
        # An answer, a batch of OCR, a day of captures read: what they freed, glibc keeps
        # mapped until told (a worker tells it: the trim walks the heaps without the GIL).
        self._trim = QTimer(self)
        self._trim.setInterval(TRIM_MS)
        self._trim.timeout.connect(lambda: tasks.run(lambda _ctx: give_back()))
        self._capture_state = "stopped"
        self.collector = Collector(self.window, self)

    # -- start and stop --------------------------------------------------------------------

    def _default_host(self) -> Any:
        from agents.host import Host  # here, on a worker: it imports LanceDB and pyarrow

        return Host(self.folder)

    def start(self) -> tasks.Task:
        """Show the window now; open the host on a worker."""
        self.window.show()
        bridge = self.bridge

        def work(_ctx: tasks.Context) -> Any:
            host = self._make_host()
            bridge.attach(host)  # before start: its first progress reaches the status bar
            host.start(bridge.report)
            return host

        return tasks.run(work, on_done=self._host_ready, on_error=self._host_failed)

    def _host_ready(self, host: Any) -> None:
        if self._quitting:  # quit while the store was opening: close what was opened
            self._close(host)
            return
        self.host = host
        # What start-up loaded (Qt, LanceDB, pyarrow, the models' Python side) lives as long
        # as the app: out of the collector's sight, a full collection no longer walks ~190,000
        # objects, which held the GIL — and so the window — for ~110 ms at a time here; and
        # full collections come when nobody waits on the window (app.gui.collector).
        self.collector.start()
        self.window.chat.set_host(host)
        self.window.memories.set_host(host)
        self.bridge.changed.connect(self.window.memories.changed)
        self.window.graph.set_host(host)
        self.bridge.changed.connect(self.window.graph.changed)
        self.window.timeline.set_host(host)
        self.bridge.changed.connect(self.window.timeline.changed)
        self._status.start()
        self._trim.start()
        self._refresh_status()
        self.window.settings_button.setEnabled(True)
        self.host_started.emit(host)
        if not host.settings.app.first_run_done:
            self.open_first_run()
        elif host.settings.app.capture_on_start:
            self.set_capture("start")

    def open_first_run(self) -> None:
        from app.gui.firstrun import FirstRun

        self.first_run = FirstRun(self.host, self.window)
        self.first_run.saved.connect(lambda agreed: agreed and self.set_capture("start"))
        self.first_run.open()

    def open_settings(self) -> None:
        from app.gui.settings.dialog import SettingsDialog

        if self.host is None:
            return
        if self.settings_dialog is None or not self.settings_dialog.isVisible():
            self.settings_dialog = SettingsDialog(self.host, self.window)
            self.settings_dialog.applied.connect(lambda _notes: self._settings_applied())
        self.settings_dialog.show()
        self.settings_dialog.raise_()

    def _settings_applied(self) -> None:
        """Capture follows its on/off setting; the rest took effect in the host."""
        wanted = self.host.settings.app.capture_on_start
        if wanted and self._capture_state == "stopped":
            self.set_capture("start")
        elif not wanted and self._capture_state in ("running", "paused"):
            self.set_capture("stop")

    def _host_failed(self, error: BaseException) -> None:
        log.error("the memory store could not be opened", exc_info=error)
        self.window.chat.status.setText(f"Mnemo could not open its memory: {error}")
        self._alert("Mnemo could not start", str(error))

    @property
    def quitting(self) -> bool:
        return self._quitting

    def quit(self) -> None:
        """Save the window's place, close the host (capture, models, store), and exit."""
        if self._quitting:
            return
        self._quitting = True
        self._geometry.setValue("geometry", self.window.saveGeometry())
        self._geometry.sync()
        self._status.stop()
        self._trim.stop()
        self.window.chat.stop()
        if self.tray is not None:
            self.tray.hide()
        self.window.hide()
        if self.host is not None:  # else still opening: _host_ready closes it when it comes
            self._close(self.host)

    def _close(self, host: Any) -> None:
        """Close the host on a worker; the GUI thread keeps turning meanwhile. The store, the
        index and the models wait for their own uses under way and refuse later ones
        (core.errors.Closed), so nothing here waits before closing."""

        def close(_ctx: tasks.Context) -> None:
            try:
                host.close()
            finally:
                # What other workers still run fails fast now, with Closed. The app's objects
                # go once the event loop ends: wait here, on this worker, for those workers to
                # end first, so none runs on after them.
                if not tasks.wait_for_others(timeout=QUIT_WAIT_S):
                    log.warning("quitting while background work is still running")

        def failed(error: BaseException) -> None:
            log.error("closing failed: %s", error)
            self._closed_down()

        tasks.run(close, on_done=lambda _r: self._closed_down(), on_error=failed)

    def _closed_down(self) -> None:
        """The host is closed and no other worker runs: the event loop may end."""
        self.collector.stop()  # the process goes on as it was (tests)
        self.closed.emit()
        if self._exit_on_quit:
            QApplication.quit()

    def show_window(self) -> None:
        self._needs_user = None  # the user is looking: the alert was seen
        self._refresh_status()
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def _window_closed(self) -> None:
        if self.tray is not None and self.tray.isVisible():
            self._geometry.setValue("geometry", self.window.saveGeometry())
            self.window.hide()
            self.collector.soon()  # nobody sees the window wait now
            if not self._geometry.value("told_about_tray"):
                self.tray.showMessage("Mnemo is still running", "Open it again from the tray.")
                self._geometry.setValue("told_about_tray", True)
        else:
            self.quit()

    # -- capture ---------------------------------------------------------------------------

    def toggle_pause(self) -> None:
        if self._capture_state == "running":
            self.set_capture("pause")
        elif self._capture_state == "paused":
            self.set_capture("resume")

    def _consent(self) -> bool:
        """Capture starts only after the user agreed, once; the answer is kept in settings
        (saved by the capture task, off this thread)."""
        settings = self.host.settings
        if settings.app.capture_on_start:
            return True
        rules = settings.capture.exclusions
        own = [*rules.apps, *rules.title_patterns, *rules.domains]
        answer = QMessageBox.question(
            self.window,
            "Start capturing your screen?",
            f"Mnemo will read the text on your screen every {settings.capture.interval_s:g} s "
            "and keep small pictures, here on this computer only. Secrets are redacted before "
            "anything is stored. Never recorded: password managers, private and incognito "
            "windows, Mnemo itself"
            + (f", and your rules: {', '.join(own)}" if own else "")
            + ".\n\nCapture will also start with the app from now on; pause it any time from "
            "the tray.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def capture_clicked(self) -> None:
        if self._capture_state == "running":
            self.set_capture("pause")
        elif self._capture_state == "paused":
            self.set_capture("resume")
        elif self.host is not None and self._consent():
            self.set_capture("start", remember=True)

    def set_capture(self, action: str, *, remember: bool = False) -> tasks.Task:
        """start, pause, resume or stop capture on a worker; the state comes back by signal.
        `remember`: the user just agreed to capture, which settings keep for next time."""
        host, bridge = self.host, self.bridge

        def work(_ctx: tasks.Context) -> str:
            if remember:
                agreed = host.settings.model_copy(deep=True)
                agreed.app.capture_on_start = True
                host.apply_settings(agreed)
            getattr(host, f"capture_{action}")()
            return host.capture_state()

        def failed(error: BaseException) -> None:
            bridge.capture_state.emit("unavailable")
            bridge.alert.emit("Capture stopped", str(error))

        return tasks.run(work, on_done=bridge.capture_state.emit, on_error=failed)

    def _capture_changed(self, state: str) -> None:
        self._capture_state = state
        self.window.set_capture_state(state)
        self._refresh_status()

    # -- status ----------------------------------------------------------------------------

    def _refresh_status(self) -> None:
        """The status bar and the tray, from the host's in-memory state (no I/O, no locks)."""
        host = self.host
        if host is None:
            return
        engine = host.engine
        service = getattr(engine.loaded_chat, "service", None) if engine else None
        busy = self.window.chat.busy
        if service is None:
            model = "Model: loads with the first question"
        elif busy:
            model = "Model: answering" if service.loaded else "Model: loading…"
        else:
            model = "Model: ready" if service.loaded else "Model: loads with the first question"
        if service is not None and service.pending:
            model += f" · {service.pending} waiting"
        build = builds.current()
        if build is not None:
            model += f" · {build.label}"
        self.window.set_model_state(model)
        error = self._needs_user
        if self.tray is not None:
            state = {"running": "capturing", "paused": "paused"}.get(self._capture_state, "idle")
            if self._capture_state == "unavailable" or error:
                state = "error"
            elif state == "idle" and (busy or (service is not None and service.pending)):
                state = "working"
            self.tray.set_state(state, capture=self._capture_state, detail=error or "")

    def _alert(self, title: str, message: str) -> None:
        self._needs_user = f"{title}: {message}"
        self._refresh_status()
        if self.tray is not None and self.tray.isVisible():
            self.tray.notify(title, message)
        else:
            self.window.statusBar().showMessage(f"{title}: {message}", 15_000)


def main(argv: Sequence[str] | None = None, *, folder: str | None = None) -> int:
    """Run the desktop app; returns its exit code."""
    from core.paths import data_dir

    os.umask(0o077)
    limit_arenas()  # before Qt's and the libraries' threads start
    # Workers (search, embedding, the memory team) hold the GIL between their C calls; a
    # shorter switch interval lets the GUI thread in sooner (a 5 ms default per waiting thread
    # added up to stalls a user feels).
    sys.setswitchinterval(GIL_SWITCH_S)
    app = QApplication.instance() or QApplication(list(argv or sys.argv))
    app.setApplicationName("Mnemo")
    app.setDesktopFileName("mnemo")
    app.setQuitOnLastWindowClosed(False)
    where = data_dir(folder)
    name = instance_name(where)
    if raise_running(name):
        print("Mnemo is already running: its window was raised.", file=sys.stderr)
        return 0
    apply_style(app)
    app.styleHints().colorSchemeChanged.connect(lambda _scheme: apply_style(app))
    mnemo = MnemoApp(where)
    server = QLocalServer(app)
    if not server.listen(name):
        # Another instance that started just now, or the socket file of one that crashed.
        if raise_running(name):
            return 0
        QLocalServer.removeServer(name)
        server.listen(name)
    server.newConnection.connect(lambda: answer(server, mnemo))
    if mnemo.tray is None:
        mnemo.window.statusBar().showMessage(
            "This desktop has no system tray: closing the window quits Mnemo.", 30_000
        )
        print(
            "Mnemo: this desktop has no system tray; closing the window quits Mnemo.",
            file=sys.stderr,
        )
    mnemo.start()
    return app.exec()
