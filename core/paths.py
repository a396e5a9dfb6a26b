"""Where Mnemo keeps its files: one data folder, readable by its owner only."""

import os
import stat
from pathlib import Path

import platformdirs

ENV_VAR = "MNEMO_DATA_DIR"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: an explicit override, else $MNEMO_DATA_DIR, else the platform's default.

    The folder is created on first use with user-only permissions.
    """
    chosen = override or os.environ.get(ENV_VAR) or platformdirs.user_data_dir("mnemo", False)
    path = Path(chosen).expanduser().resolve()
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
    elif not path.is_dir():
        raise NotADirectoryError(f"data folder {path} exists and is not a folder")
    make_private(path)
    return path


def make_private(folder: Path) -> None:
    """Keep what Mnemo writes in `folder` for its user's eyes only.

    SQLite, LanceDB and the log create their files with the process's umask, which no flag of
    ours reaches: a caller's usual 022 would make them 0644. So the umask becomes 077 (what the
    window and the CLI set first thing), and a folder that already existed open to others (one
    the user made, or one made before this rule) is closed to them; a folder that cannot be
    changed (read-only, someone else's) is left as it is.
    """
    if os.name != "posix":
        return
    os.umask(0o077)
    try:
        info = folder.stat()
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
            folder.chmod(stat.S_IMODE(info.st_mode) & 0o700)
    except OSError:
        pass


def writable(path: Path) -> bool:
    """Whether the file `path` can be changed, or files made and changed in the folder `path`
    (False on a read-only mount, or where the user may only read)."""
    return os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0))
