"""Whether Qt can open a window here, asked before Qt is loaded.

Qt aborts the whole process when its platform plugin cannot load (on Linux, most often an X
library missing: `libxcb-icccm.so.4` on a machine that had the others), with a message only
`QT_DEBUG_PLUGINS=1` makes readable. Asked first, the user (and `make sysdeps`) learns which
library is missing and which package brings it. This module imports nothing of Qt.

    python -m app.gui.preflight            # says what is wrong, exit 1; nothing, exit 0
    python -m app.gui.preflight --packages # the Debian packages that would fix it
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

LDD_TIMEOUT_S = 20
# Debian's package for each library Qt's xcb and wayland plugins link. Debian names a library's
# package after its soname (libfoo.so.4 -> libfoo4, with a hyphen when the name ends in a digit);
# these follow that rule but for the case of the letters or the version in the name, and any
# library not listed here is named by the rule.
PACKAGES = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}
_SONAME = re.compile(r"^(lib[\w.+-]*?)\.so\.(\d+)")


def package_for(library: str) -> str:
    """The Debian package that carries `library` (a soname such as libxcb-icccm.so.4)."""
    if library in PACKAGES:
        return PACKAGES[library]
    match = _SONAME.match(library)
    if match is None:
        return library
    name, version = match.group(1).lower(), match.group(2)
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def qt_folder() -> Path | None:
    """PySide6's Qt folder, found without importing PySide6 (which would load Qt)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "Qt"
    return folder if folder.is_dir() else None


def platform_name(env: Mapping[str, str]) -> str | None:
    """The platform plugin Qt will pick (None: not a Linux desktop, nothing to check)."""
    wanted = env.get("QT_QPA_PLATFORM", "")
    if wanted:
        return re.split(r"[;:]", wanted, maxsplit=1)[0] or None
    if not sys.platform.startswith("linux"):
        return None
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland":
        return "wayland"
    return "xcb"


def plugin_path(platform: str, env: Mapping[str, str]) -> Path | None:
    """The plugin file Qt will load for `platform` (QT_QPA_PLATFORM_PLUGIN_PATH first, as Qt)."""
    folders = [Path(p) for p in env.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(":") if p]
    qt = qt_folder()
    if qt is not None:
        folders.append(qt / "plugins" / "platforms")
    for folder in folders:
        for name in (f"libq{platform}.so", f"libq{platform}-generic.so"):
            if (folder / name).exists():
                return folder / name
    return None


def missing_libraries(plugin: Path) -> list[str]:
    """The libraries `plugin` links that this system lacks (from ldd, which follows them all
    the way down, Qt's own libraries included)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        out = subprocess.run(
            [ldd, str(plugin)], capture_output=True, text=True, timeout=LDD_TIMEOUT_S, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return sorted({line.split()[0] for line in out.splitlines() if "not found" in line})


def problem(env: Mapping[str, str] | None = None) -> str | None:
    """Why Qt could not open a window under `env` (default: this process's environment), in
    words a user can act on; None when it can."""
    env = os.environ if env is None else env
    platform = platform_name(env)
    if platform in (None, "offscreen", "minimal", "vnc"):
        return None
    if platform == "xcb" and not env.get("DISPLAY"):
        return (
            "Mnemo's window needs a desktop: no display was found (DISPLAY is not set). Start "
            "it from your desktop session, or use the command line: mnemo --help"
        )
    plugin = plugin_path(platform, env)
    if plugin is None:
        return None  # a platform this Qt has no plugin for: Qt names the ones it has
    missing = missing_libraries(plugin)
    if not missing:
        return None
    packages = sorted({package_for(lib) for lib in missing})
    return (
        f"Mnemo's window cannot start: Qt's {platform} display plugin needs "
        f"{', '.join(missing)}, which this system lacks.\n"
        f"On Debian or Ubuntu, install it with: sudo apt-get install {' '.join(packages)}\n"
        "(on other systems, install the package that provides those files)"
    )


PROBE = "from PySide6.QtWidgets import QApplication; app = QApplication(['mnemo-probe'])"


def start_problem(env: dict[str, str] | None = None, timeout: float = 120) -> str | None:
    """Start a QApplication in a child process (Qt aborts a process it cannot start in);
    None when it started, else Qt's reason: the missing libraries where that is the cause,
    else the lines Qt printed about its plugins."""
    env = {**(env or os.environ), "QT_DEBUG_PLUGINS": "1"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return f"a QApplication did not start within {timeout:g} s"
    if done.returncode == 0:
        return None
    known = problem(env)
    if known:
        return known
    said = [
        line.strip()
        for line in done.stderr.splitlines()
        if re.search(r"cannot|could not|not found|error|fatal|abort", line, re.IGNORECASE)
    ]
    return f"Qt exited with code {done.returncode}: " + " | ".join(said[-8:] or ["(no message)"])


def main(argv: list[str]) -> int:
    if "--packages" in argv:
        plugin = plugin_path("xcb", os.environ)  # what the window tests use (under Xvfb)
        missing = missing_libraries(plugin) if plugin else []
        print(" ".join(sorted({package_for(lib) for lib in missing})))
        return 0
    found = problem()
    if found:
        print(found, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
