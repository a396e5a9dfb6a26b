"""How Mnemo starts itself or one of its modules in another process, from a source checkout,
a frozen bundle (which has no `python -m`: the app's executable runs the module with
`mnemo --run-module NAME ARGS...`, handled first thing by app.cli) or an AppImage."""

import os
import shutil
import sys
from pathlib import Path

RUN_MODULE = "--run-module"


def module_command(module: str, *args: str) -> list[str]:
    """The command line that runs `module` as __main__ with `args`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, RUN_MODULE, module, *args]
    return [sys.executable, "-m", module, *args]


def app_command() -> list[str]:
    """The command that starts Mnemo itself, for another program to run later (autostart, an
    MCP client's config): the AppImage file (not its mount, which changes with every run),
    the bundle's executable, else `mnemo` on PATH, else this Python with `-m app.cli`."""
    appimage = os.environ.get("APPIMAGE")
    if appimage:
        return [appimage]
    if getattr(sys, "frozen", False):
        return [sys.executable]
    mnemo = shutil.which("mnemo") or str(Path(sys.executable).with_name("mnemo"))
    return [mnemo] if Path(mnemo).exists() else [sys.executable, "-m", "app.cli"]
