"""Where Mnemo keeps its files: one data folder, readable by its owner only."""

import os
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
    return path
