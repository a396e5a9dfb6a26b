"""Qt on a machine that lacks one of its X libraries: the user and the test session learn which
library and which package, and nothing aborts (app.gui.preflight).

The missing library is made for real: a stand-in `libqxcb.so` is linked against a library that
is then removed, and Qt is pointed at it (QT_QPA_PLATFORM_PLUGIN_PATH), so Qt fails to load its
platform plugin exactly as it does where `libxcb-icccm4` is not installed.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.gui import preflight

GONE = "libmnemo-gone.so.4"
NO_DISPLAY = ":4242"


@pytest.fixture(scope="module")
def broken_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A platform-plugin folder whose xcb plugin links a library this system lacks."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is part of the setup (llama.cpp is compiled from source)"
    folder = tmp_path_factory.mktemp("plugins")
    (folder / "gone.c").write_text("int mnemo_gone(void) { return 4; }\n")
    (folder / "plugin.c").write_text(
        "int mnemo_gone(void);\nint plugin(void) { return mnemo_gone(); }\n"
    )
    lib = folder / GONE
    subprocess.run(
        [cc, "-shared", "-fPIC", f"-Wl,-soname,{GONE}", "-o", str(lib), str(folder / "gone.c")],
        check=True,
    )
    subprocess.run(
        [
            cc,
            "-shared",
            "-fPIC",
            "-o",
            str(folder / "libqxcb.so"),
            str(folder / "plugin.c"),
            str(lib),
        ],
        check=True,
    )
    lib.unlink()  # now missing, as an uninstalled package's library is
    return folder


def broken_env(folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "xcb",
        "QT_QPA_PLATFORM_PLUGIN_PATH": str(folder),
        # No X server there: Qt, failing to load the plugin named, falls back to its own
        # xcb plugin, which then cannot connect either (a live test display would let it).
        "DISPLAY": NO_DISPLAY,
    }


@pytest.mark.parametrize(
    ("library", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libEGL.so.1", "libegl1"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libglib-2.0.so.0", "libglib2.0-0"),
    ],
)
def test_a_missing_library_is_named_by_its_debian_package(library: str, package: str) -> None:
    assert preflight.package_for(library) == package


def test_the_plugins_missing_library_is_found_the_way_the_loader_finds_it(
    broken_plugins: Path,
) -> None:
    plugin = preflight.plugin_path("xcb", broken_env(broken_plugins))
    assert plugin == broken_plugins / "libqxcb.so"
    assert preflight.missing_libraries(plugin) == [GONE]


def test_the_problem_names_the_library_and_the_command_that_installs_it(
    broken_plugins: Path,
) -> None:
    said = preflight.problem(broken_env(broken_plugins))
    assert said is not None
    assert GONE in said
    assert "sudo apt-get install libmnemo-gone4" in said


def test_no_display_is_said_in_words() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "xcb"
    said = preflight.problem(env)
    assert said is not None and "no display" in said


def test_offscreen_needs_nothing() -> None:
    assert preflight.problem({"QT_QPA_PLATFORM": "offscreen"}) is None


def test_mnemo_says_what_is_missing_instead_of_aborting(
    broken_plugins: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "--data-dir", str(tmp_path / "data")],
        env=broken_env(broken_plugins),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert GONE in done.stderr
    assert "apt-get install libmnemo-gone4" in done.stderr
    assert "Aborted" not in done.stderr and "Fatal" not in done.stderr


def test_the_test_sessions_probe_returns_qts_reason_and_survives_the_abort(
    broken_plugins: Path,
) -> None:
    """What tests/gui/conftest.py does before any window test: Qt aborts in the child only."""
    reason = preflight.start_problem(broken_env(broken_plugins))
    assert reason is not None and GONE in reason
    no_display = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QT_QPA_PLATFORM")},
        "QT_QPA_PLATFORM": "xcb",
        "DISPLAY": NO_DISPLAY,
    }
    reason = preflight.start_problem(no_display)
    assert reason is not None and "display" in reason.lower()
