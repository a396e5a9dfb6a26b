"""Window tests: real widgets on a virtual X screen (Xvfb) with a window manager (openbox) and
a tray host (trayer), the real host on real SQLite/LanceDB files and the bundled models.

Each screen's test saves a screenshot under test-artifacts/gui/ at the repository's root.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6

from bench.display import available, tray_host, virtual_display

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "gui"


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    missing = available("trayer")
    if missing:
        pytest.skip(missing)
    with virtual_display("1280x800x24") as name, tray_host():
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        yield name


@pytest.fixture(scope="session")
def qapp(display: str):  # pytest-qt's fixture, created only once the display runs
    # Qt aborts a process it cannot start in (a missing X library): learn that in a child
    # process, and fail the window tests with Qt's reason instead of losing the whole run.
    from app.gui.preflight import start_problem

    reason = start_problem()
    if reason:
        pytest.fail(f"Qt cannot start a window on this machine: {reason}", pytrace=False)
    from PySide6.QtWidgets import QApplication

    from app.gui.style import apply_style

    app = QApplication.instance() or QApplication(["mnemo-tests"])
    app.setQuitOnLastWindowClosed(False)
    apply_style(app)
    yield app
    # Ended before the X server it talks to: Qt exits the process with an error when its
    # display goes away under it.
    for widget in app.topLevelWidgets():
        widget.close()
    app.processEvents()
    shiboken6.delete(app)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled models, prepared once (requantized chat, converted embeddings) and shared
    by every test's data folder."""
    from core.llm import bundled, minilm

    folder = tmp_path_factory.mktemp("models")
    bundled.chat_model(folder)
    minilm.gguf_path(folder)
    return folder


@pytest.fixture
def data_folder(tmp_path: Path, models_dir: Path) -> Path:
    folder = tmp_path / "mnemo-data"
    folder.mkdir(mode=0o700)
    models = folder / "models"
    models.mkdir()
    for path in models_dir.iterdir():  # linked one by one: a test's download stays its own
        (models / path.name).symlink_to(path)
    return folder


def screenshot(widget, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save what `widget` shows as test-artifacts/gui/NAME.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert widget.grab().save(str(path)), f"could not save {path}"
    return path


def fake_capture() -> dict:
    """Capture on a scripted screen and desktop (one LibreOffice window), without OCR: the
    app's capture controls are tested, not the pipeline (tests/integration has that)."""
    from tests.capture_fakes import FakeDesktop, FakeScreen, screen_image, window

    screen = FakeScreen([screen_image({40: "Quarterly report draft", 80: "Budget review"})])
    desktop = FakeDesktop([window("libreoffice", "report.odt — LibreOffice Writer")])
    return {"screen": screen, "desktop_factory": lambda: desktop, "ocr": None}


def seen_welcome(folder: Path) -> None:
    from core.settings import Settings

    settings = Settings()
    settings.app.first_run_done = True
    settings.save(folder)


@pytest.fixture
def start_app(qtbot, data_folder: Path):  # type: ignore[no-untyped-def]
    """Starts the app (real host, fake capture) on the test's data folder; quits it after."""
    from agents.host import Host
    from app.gui.main import MnemoApp

    started: list[MnemoApp] = []

    def start(*, welcome_seen: bool = True) -> MnemoApp:
        if welcome_seen:
            seen_welcome(data_folder)
        app = MnemoApp(
            data_folder,
            make_host=lambda: Host(data_folder, capture_options=fake_capture()),
            use_tray=True,
            exit_on_quit=False,
        )
        qtbot.addWidget(app.window)
        with qtbot.waitSignal(app.host_started, timeout=120_000):
            app.start()
        started.append(app)
        return app

    yield start
    for app in started:
        if not app.quitting:
            with qtbot.waitSignal(app.closed, timeout=120_000):
                app.quit()


@pytest.fixture
def mnemo(start_app):  # type: ignore[no-untyped-def]
    return start_app()
