"""Start Mnemo at login: an XDG autostart entry (Linux desktops read ~/.config/autostart).

The entry runs the same `mnemo` the user installed, with the data folder it runs on now, so a
second data folder set up for testing does not hijack the login.
"""

import os
import sys
from importlib import resources
from pathlib import Path

from core.child import app_command
from core.errors import MnemoError

ENTRY = "mnemo.desktop"


def autostart_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart"


def command(data_dir: Path) -> str:
    """The command line the entry runs, quoted as the Desktop Entry spec wants for Exec
    (double quotes; backslash before " ` $ and \\; % doubled)."""
    parts = app_command()
    return " ".join(_quote(part) for part in [*parts, "--data-dir", str(data_dir)])


def _quote(arg: str) -> str:
    arg = arg.replace("%", "%%")
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        return arg
    return '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'


def is_enabled() -> bool:
    return (autostart_dir() / ENTRY).exists()


def set_enabled(enabled: bool, data_dir: Path) -> Path:
    """Write or remove the entry; returns its path."""
    path = autostart_dir() / ENTRY
    if not sys.platform.startswith("linux"):
        raise MnemoError("starting at login is set up only on Linux desktops (XDG autostart)")
    if enabled:
        template = resources.files("resources").joinpath("desktop/mnemo.desktop")
        path.parent.mkdir(parents=True, exist_ok=True)
        text = template.read_text("utf-8").replace("{exec}", command(data_dir))
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, "utf-8")
        os.replace(tmp, path)
    else:
        path.unlink(missing_ok=True)
    return path
