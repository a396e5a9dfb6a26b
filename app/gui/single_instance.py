"""One running app per data folder: a second start asks the first to show its window, over a
local socket named for the folder and the user."""

import hashlib
import os
from pathlib import Path
from typing import Any

from PySide6.QtNetwork import QLocalServer, QLocalSocket


def instance_name(folder: Path) -> str:
    """One running app per data folder (and user): the local socket's name."""
    digest = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]
    return f"mnemo-{os.getuid() if hasattr(os, 'getuid') else 0}-{digest}"


def raise_running(name: str) -> bool:
    """Ask a running instance to show its window; True if one answered."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(500):
        return False
    socket.write(b"raise\n")
    socket.waitForBytesWritten(500)
    socket.disconnectFromServer()
    return True


def answer(server: QLocalServer, mnemo: Any) -> None:
    """Show `mnemo`'s window when another start asks (raise_running)."""
    socket = server.nextPendingConnection()
    if socket is not None:
        socket.readyRead.connect(lambda: (socket.readAll(), mnemo.show_window()))
        socket.disconnected.connect(socket.deleteLater)
