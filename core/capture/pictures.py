"""The pictures of kept captures: small WebP files under `capture/pictures/<day>/`, recycled by
age and by a disk budget, oldest first. Their text lives in the store and stays searchable
after the picture is gone; the store is told which pictures went so nothing points at them.
"""

import contextlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import StorageFull

if TYPE_CHECKING:  # the store checks picture paths too, and must not load Pillow for that
    from PIL import Image

log = logging.getLogger(__name__)

# Only files of this shape are ever deleted: a user's file dropped in the folder is not ours.
_NAME = re.compile(r"^(\d{8}T\d{12})-[0-9a-z]+\.webp$")
# A picture's path as the store records it (relative to the data folder; see `save`).
_STORED = re.compile(r"capture/pictures/\d{4}-\d{2}-\d{2}/\d{8}T\d{12}-[0-9a-z]+\.webp", re.ASCII)
WEBP_MAX = 16383


def is_own_picture(rel: str | None) -> bool:
    """Whether `rel` has the form of a picture path the capture pipeline records. A path from
    an imported file or a restored backup may be anything ("/home/me/cv.pdf", "../../x")."""
    return rel is not None and _STORED.fullmatch(_posix(rel)) is not None


def picture_file(data: Path, rel: str | None) -> Path | None:
    """The file behind a capture's picture path `rel`, only if it is one of the store's own:
    of the recorded form, and inside the data folder `data` once symlinks and `..` are
    resolved (or inside its pictures folder, if the user moved that to another disk and left
    a link). None for any other path, which is then never read or deleted."""
    if rel is None or not is_own_picture(rel):
        return None
    path = data.joinpath(*_posix(rel).split("/"))
    try:
        real = path.resolve()
        inside = real.is_relative_to(data.resolve()) or real.is_relative_to(
            (data / "capture" / "pictures").resolve()
        )
    except (OSError, RuntimeError):  # a symlink loop
        return None
    return path if inside else None


def _posix(rel: str) -> str:
    """Separators as the platform wrote them: Windows records `capture\\pictures\\…`."""
    return rel.replace("\\", "/")


@dataclass
class Recycled:
    files: int = 0
    bytes: int = 0


class PictureStore:
    def __init__(
        self,
        folder: Path,
        *,
        scale: float = 0.5,
        quality: int = 50,
        retention_days: float = 30,
        budget_mb: float = 2000,
    ) -> None:
        self.folder = folder
        self.scale, self.quality = scale, quality
        self.retention_days, self.budget_bytes = retention_days, int(budget_mb * 1024 * 1024)

    def save(self, image: "Image.Image", at: datetime, name: str) -> Path:
        """Write a picture atomically (a crash leaves no half file); returns its path."""
        from PIL import Image

        day = self.folder / f"{at:%Y-%m-%d}"
        day.mkdir(parents=True, exist_ok=True)
        path = day / f"{at:%Y%m%dT%H%M%S%f}-{name}.webp"
        # A clock set back (or too coarse) can give a second picture the first one's time:
        # it gets a name of its own rather than replacing a picture a source points at.
        again = 1
        while path.exists():
            again += 1
            path = day / f"{at:%Y%m%dT%H%M%S%f}-{name}n{again}.webp"
        # A WebP picture holds at most 16383 pixels a side: a wider one is scaled to fit.
        scale = min(self.scale, WEBP_MAX / image.width, WEBP_MAX / image.height)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        small = image.convert("RGB").resize(size, Image.Resampling.BILINEAR)
        tmp = path.with_suffix(".tmp")
        try:
            small.save(tmp, "WEBP", quality=self.quality, method=4)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno == 28:  # ENOSPC
                raise StorageFull(
                    f"the disk is full: cannot save a capture picture ({exc})"
                ) from exc
            raise
        return path

    def pictures(self) -> list[tuple[Path, int, datetime]]:
        """(path, bytes, time taken) of every picture, oldest first. The time comes from the
        name, which a copy or a backup restore does not change the way it changes mtime."""
        found = []
        for day in self.folder.glob("????-??-??"):
            if day.is_symlink():  # not a folder of ours: its files are somewhere else
                continue
            for path in day.iterdir():
                match = _NAME.match(path.name)
                if match:
                    try:
                        size = path.stat().st_size
                    except OSError:
                        continue
                    taken = datetime.strptime(match[1], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
                    found.append((path, size, taken))
        return sorted(found, key=lambda item: (item[2], item[0].name))

    def recycle(self, now: datetime, forget: Callable[[list[Path]], None]) -> Recycled:
        """Delete pictures older than the retention period, then the oldest ones until the rest
        fit the budget. `forget` is called first with the doomed paths, so the store never
        points at a missing file for longer than a failed delete."""
        pictures = self.pictures()
        cutoff = now - timedelta(days=self.retention_days)
        doomed = []
        total = sum(size for _, size, _ in pictures)
        for path, size, taken in pictures:
            expired = self.retention_days > 0 and taken < cutoff
            if expired or total > self.budget_bytes:
                doomed.append((path, size))
                total -= size
        if not doomed:
            return Recycled()
        forget([path for path, _ in doomed])
        done = Recycled()
        for path, size in doomed:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("could not delete picture %s: %s", path.name, exc)
                continue
            done.files += 1
            done.bytes += size
        for day in self.folder.glob("????-??-??"):
            with contextlib.suppress(OSError):
                day.rmdir()  # only empty ones go
        log.info("recycled %d capture pictures (%.1f MB)", done.files, done.bytes / 1e6)
        return done


def orphans(data: Path, kept: set[str], *, before: datetime) -> list[Path]:
    """Pictures under `data`/capture/pictures taken and written before `before` that no
    capture keeps (`kept`: paths relative to `data`, as the store records them). A picture
    written since `before` is left alone whatever its name's time says: an import or a
    restore may be saving an older picture whose capture it has not stored yet."""
    store = PictureStore(data / "capture" / "pictures")
    return [
        path
        for path, _, taken in store.pictures()
        if taken < before
        and str(path.relative_to(data)) not in kept
        and _written_before(path, before)
    ]


def _written_before(path: Path, when: datetime) -> bool:
    try:
        return path.stat().st_mtime < when.timestamp()
    except OSError:
        return False  # gone already
