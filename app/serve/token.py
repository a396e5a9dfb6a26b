"""The bearer token of the HTTP server, kept in the data folder for the user's eyes only.

Binding to 127.0.0.1 keeps other machines out, not other programs or web pages on this one; a
page in the browser can reach 127.0.0.1 too. The token is what says a caller was given access
by the user, who copies it from `mnemo mcp --print-config` into a client's settings.
"""

import contextlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from core.errors import MnemoError

TOKEN_FILE = "api-token"


def token_path(folder: Path) -> Path:
    return Path(folder) / TOKEN_FILE


def load_or_create(folder: Path) -> str:
    """The folder's token, made (0600, atomically) on first use."""
    path = token_path(folder)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    fresh = secrets.token_urlsafe(32)
    part: Path | None = None
    try:
        # Written whole under a name of its own (mkstemp: 0600), then linked into place.
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{TOKEN_FILE}.")
        part = Path(name)
        with os.fdopen(fd, "w") as file:
            file.write(fresh + "\n")
        # Another process made one meanwhile: theirs stands, as a client may hold it already.
        with contextlib.suppress(FileExistsError):
            os.link(part, path)
    except OSError as exc:
        raise MnemoError(f"cannot write the API token {path}: {exc.strerror or exc}") from None
    finally:
        if part is not None:
            part.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    token = path.read_text("utf-8").strip()
    if len(token) < 32:
        raise MnemoError(f"the API token {path} is damaged; delete it and a new one is made")
    return token


def matches(header: str | None, token: str) -> bool:
    """Whether an Authorization header carries the token (compared in constant time)."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )
