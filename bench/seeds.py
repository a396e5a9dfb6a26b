"""Seeded stores for the benchmarks, built once and kept in the user cache folder: seeding
embeds or writes tens of thousands of rows, which is not what a benchmark measures."""

import shutil
from collections.abc import Callable
from pathlib import Path


def cached(name: str, seed: Callable[[Path], None]) -> Path:
    """The folder `name` in the cache, `seed(folder)` run into it first if it is not there
    whole (a seed cut short is thrown away and made again)."""
    from platformdirs import user_cache_dir

    folder = Path(user_cache_dir("mnemo-bench")) / name
    if not (folder / "seeded").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        seed(folder)
        (folder / "seeded").touch()
    return folder
