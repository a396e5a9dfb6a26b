"""A bare `mnemo` opens the window without importing the command line's heavy parts; the
login entry quotes paths as the Desktop Entry spec wants."""

import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import window_folder
from core import autostart


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], (True, None)),
        (["--data-dir", "/tmp/x"], (True, "/tmp/x")),
        (["--data-dir=/tmp/y"], (True, "/tmp/y")),
        (["--help"], (False, None)),
        (["stats"], (False, None)),
        (["--data-dir", "/tmp/x", "list"], (False, None)),
        (["--json"], (False, None)),
    ],
)
def test_only_a_bare_command_opens_the_window(argv: list[str], expected: tuple) -> None:
    assert window_folder(argv) == expected


def test_the_entry_point_imports_nothing_heavy() -> None:
    heavy = ("lancedb", "pyarrow", "llama_cpp", "PySide6")
    code = f"import sys, app.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_login_entry_quotes_a_folder_with_spaces(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = tmp_path / "My Memory $HOME"
    path = autostart.set_enabled(True, folder)
    exec_line = next(ln for ln in path.read_text().splitlines() if ln.startswith("Exec="))
    assert exec_line.endswith(f'--data-dir "{str(folder).replace("$", chr(92) + "$")}"')
    assert autostart.is_enabled()
    autostart.set_enabled(False, folder)
    assert not path.exists() and not autostart.is_enabled()


def test_the_login_entry_and_client_configs_start_a_bundle_or_an_appimage_itself(
    monkeypatch, tmp_path: Path
) -> None:
    """Frozen, the bundle's executable is the app; in an AppImage, the AppImage file (its
    mount point changes with every run)."""
    from core.child import app_command

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("APPIMAGE", raising=False)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/mnemo/mnemo")
    assert app_command() == ["/opt/mnemo/mnemo"]
    assert autostart.command(tmp_path).startswith(f"/opt/mnemo/mnemo --data-dir {tmp_path}")
    monkeypatch.setenv("APPIMAGE", "/home/me/Apps/Mnemo x86_64.AppImage")
    assert app_command() == ["/home/me/Apps/Mnemo x86_64.AppImage"]
    assert autostart.command(tmp_path).startswith('"/home/me/Apps/Mnemo x86_64.AppImage" ')
