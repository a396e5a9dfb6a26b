"""Backups of a data folder, and restoring one into a folder.

A backup is a folder `mnemo-backup-<UTC time>` holding:
- `mnemo.db`, copied with SQLite's online backup API: a consistent snapshot even while the app
  keeps writing, never a torn copy of a file being written;
- the capture pictures that snapshot points at (hard links where the file system allows, so a
  daily backup of 2 GB of pictures costs no second 2 GB; pictures are never changed in place);
- `settings.toml`, and the vault key when it is kept in a key file (or when asked to include a
  keyring key, for restoring on another computer);
- `backup.json`, a manifest written last: a folder without one is an unfinished backup.

The vector index is not copied: it is derived from SQLite and rebuilt on restore.
"""

import json
import logging
import os
import re
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.capture.pictures import is_own_picture, picture_file
from core.errors import InvalidInput, MnemoError, StorageFull
from core.locks import maintenance
from core.ownership import BackgroundOwner
from core.secrets import KEY_FILE, SecretBox
from core.settings import FILENAME as SETTINGS_FILE
from core.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)
DB_FILE = "mnemo.db"
MANIFEST = "backup.json"
PREFIX = "mnemo-backup-"
_NAME = re.compile(rf"^{PREFIX}\d{{8}}T\d{{6}}Z$")
Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    created_at: str
    schema: int
    memories: int
    sources: int
    pictures: int
    missing_pictures: int
    key: str  # "file" (a key file is in the backup), "keyring" (not in it) or "none"

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "path": str(self.path)}


def default_folder(data: Path) -> Path:
    return data / "backups"


def backup(
    data: Path,
    dest: Path | None = None,
    *,
    include_key: bool = False,
    keep: int | None = None,
    progress: Progress | None = None,
) -> BackupInfo:
    """Back up the data folder `data` into a new folder under `dest` (default `data/backups`).

    With `keep`, only the newest `keep` finished backups under `dest` are kept afterwards.
    A backup cut short (a crash, a full disk) leaves no folder that looks finished.
    """
    source_db = data / DB_FILE
    if not source_db.exists():
        raise MnemoError(f"there is nothing to back up: {data} holds no Mnemo store")
    dest = Path(dest) if dest is not None else default_folder(data)
    final = dest / f"{PREFIX}{_stamp(dest)}"
    if final.exists():
        raise MnemoError(f"{final} exists already; try again in a second")
    partial = final.with_name(final.name + ".partial")
    try:
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        _sweep_partial(dest)
        partial.mkdir(mode=0o700)
        # One backup or purge at a time: a purge compacting files under a backup's feet is
        # harmless for SQLite (online backup) but two backups would race for the same name.
        with maintenance(data, timeout=600) as held:
            if not held:
                raise MnemoError("another process is backing up or purging this folder")
            info = _write(data, partial, include_key, progress)
        os.replace(partial, final)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if exc.errno == 28:
            raise StorageFull(f"the disk is full: the backup to {dest} was not made") from exc
        raise MnemoError(f"the backup to {dest} failed: {exc}") from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    info = BackupInfo(**{**asdict(info), "path": final})
    log.info("backup written to %s (%d memories)", final, info.memories)
    if keep is not None:
        prune(dest, keep)
    return info


def _stamp(dest: Path) -> str:
    """The new backup's name sorts after every backup there, even when the clock was set back
    (keep-the-newest goes by name: it would otherwise delete the backup just made)."""
    stamp = datetime.now(UTC).replace(microsecond=0)
    made = backups(dest)
    try:
        newest = datetime.strptime(made[-1].path.name[len(PREFIX) :], "%Y%m%dT%H%M%SZ")
        stamp = max(stamp, newest.replace(tzinfo=UTC) + timedelta(seconds=1))
    except (IndexError, ValueError):  # none yet, or a name renamed by hand
        pass
    return stamp.strftime("%Y%m%dT%H%M%SZ")


def _write(data: Path, out: Path, include_key: bool, progress: Progress | None) -> BackupInfo:
    target = out / DB_FILE
    src = sqlite3.connect(data / DB_FILE)
    dst = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout = 30000")

        def report(_status: int, remaining: int, total: int) -> None:
            if progress:
                progress("Copying the database", total - remaining, total)

        src.backup(dst, pages=1024, progress=report)
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        schema = dst.execute("PRAGMA user_version").fetchone()[0]
        memories = dst.execute("SELECT count(*) FROM memories").fetchone()[0]
        sources = dst.execute("SELECT count(*) FROM sources").fetchone()[0]
        pictures = [
            row[0]
            for row in dst.execute("SELECT DISTINCT thumbnail FROM sources WHERE thumbnail != ''")
        ]
        meta = dict(dst.execute("SELECT key, value FROM meta").fetchall())
    finally:
        src.close()
        dst.close()
    copied = missing = 0
    for i, rel in enumerate(pictures, 1):
        if _copy_picture(data, out, rel):
            copied += 1
        else:
            missing += 1  # recycled by retention between the snapshot and now
        if progress and (i % 200 == 0 or i == len(pictures)):
            progress("Copying pictures", i, len(pictures))
    if (data / SETTINGS_FILE).exists():
        shutil.copy2(data / SETTINGS_FILE, out / SETTINGS_FILE)
    key = meta.get("vault_key_location") or "none"
    if key == "file" and (data / KEY_FILE).exists():
        shutil.copy2(data / KEY_FILE, out / KEY_FILE)
    elif key == "keyring" and include_key:
        box = SecretBox.open(data, meta["store_id"], location="keyring")
        _write_private(out / KEY_FILE, box.key)
        key = "file"
    info = BackupInfo(
        path=out,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        schema=schema,
        memories=memories,
        sources=sources,
        pictures=copied,
        missing_pictures=missing,
        key=key,
    )
    manifest = out / MANIFEST
    fields = {k: v for k, v in info.to_json().items() if k != "path"}  # it moves when done
    manifest.write_text(json.dumps(fields, indent=2), "utf-8")
    _fsync_tree(out)
    return info


def _copy_picture(data: Path, out: Path, rel: str) -> bool:
    source = picture_file(data, rel)  # a store's own picture, never a file elsewhere
    if source is None or not source.is_file():
        return False
    target = out / rel
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)
    return True


def _write_private(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def _fsync_tree(folder: Path) -> None:
    """The manifest says "finished": make sure what it describes is on disk first."""
    for path in (folder / DB_FILE, folder / MANIFEST):
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def _sweep_partial(dest: Path) -> None:
    for path in dest.glob(f"{PREFIX}*.partial"):
        shutil.rmtree(path, ignore_errors=True)


def backups(dest: Path) -> list[BackupInfo]:
    """Finished backups under `dest`, oldest first."""
    found = []
    if not dest.is_dir():
        return []
    for path in sorted(dest.iterdir()):
        if _NAME.match(path.name) and (path / MANIFEST).exists():
            try:
                found.append(read_manifest(path))
            except InvalidInput as exc:
                log.warning("skipping a backup with a broken manifest: %s", exc)
    return found


def prune(dest: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` finished backups under `dest`; returns what went."""
    if keep < 1:
        raise InvalidInput("keep at least one backup")
    old = [info.path for info in backups(dest)][:-keep]
    for path in old:
        shutil.rmtree(path)
        log.info("old backup deleted: %s", path)
    return old


def read_manifest(path: Path) -> BackupInfo:
    manifest = path / MANIFEST
    try:
        raw = json.loads(manifest.read_text("utf-8"))
        raw["path"] = path
        return BackupInfo(**raw)
    except FileNotFoundError:
        raise InvalidInput(f"{path} is not a finished Mnemo backup (no {MANIFEST})") from None
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{manifest} is not a valid backup manifest: {exc}") from exc


def restore(path: Path, data: Path, *, replace: bool = False) -> BackupInfo:
    """Restore the backup at `path` into the data folder `data`.

    Refuses a backup from a newer Mnemo, a damaged one, and a folder that holds a store unless
    `replace`: then the store there is moved aside into `data/before-restore-<time>/`, not
    deleted. The vector index is rebuilt when the store next opens (the caller opens it).
    """
    info = read_manifest(path)
    if info.schema > len(MIGRATIONS):
        raise MnemoError(
            f"this backup was made by a newer Mnemo (schema {info.schema}; this version knows "
            f"{len(MIGRATIONS)}): upgrade Mnemo to restore it"
        )
    _check_database(path / DB_FILE)
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    owner = BackgroundOwner(data)
    if not owner.acquire():  # the app (or `mnemo capture start`) has the store open
        if owner.read_only:
            raise MnemoError(f"{data} is read-only: nothing can be restored into it")
        pid = owner.owner_pid()
        raise MnemoError(
            f"{data} is in use by Mnemo (process {pid or '?'}): quit the app first, then restore"
        )
    try:
        return _restore(path, data, info, replace)
    finally:
        owner.release()


def _restore(path: Path, data: Path, info: BackupInfo, replace: bool) -> BackupInfo:
    with maintenance(data, timeout=0) as held:
        if not held:
            raise MnemoError(f"{data} is in use (a backup or purge runs); close Mnemo first")
        if (data / DB_FILE).exists():
            if not replace:
                raise MnemoError(
                    f"{data} already holds a Mnemo store; restore into an empty folder, or "
                    "pass --replace to move the current store aside first"
                )
            _move_aside(data)
        tmp = data / f"{DB_FILE}.restoring"
        shutil.copy2(path / DB_FILE, tmp)
        _forget_foreign_pictures(tmp)
        for rel in _pictures(path):
            target = data / rel
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copy2(path / rel, target)
        if (path / SETTINGS_FILE).exists() and not (data / SETTINGS_FILE).exists():
            shutil.copy2(path / SETTINGS_FILE, data / SETTINGS_FILE)
        if (path / KEY_FILE).exists():
            _install_key(path / KEY_FILE, data / KEY_FILE)
        if info.key == "file":
            with sqlite3.connect(tmp) as conn:
                conn.execute("UPDATE meta SET value = 'file' WHERE key = 'vault_key_location'")
            conn.close()
        os.replace(tmp, data / DB_FILE)
    log.info("restored %s into %s", path, data)
    return info


def _install_key(key: Path, target: Path) -> None:
    """The backup's key in place; a different key file already there is kept aside, never
    overwritten (it may be the only key to some other store's secrets)."""
    if target.exists():
        if target.read_bytes() == key.read_bytes():
            return
        os.replace(target, target.with_name(f"{KEY_FILE}.before-restore-{os.getpid()}"))
    shutil.copy2(key, target)


def _check_database(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise MnemoError(f"the backup's database {path} is damaged: {exc}") from exc
    if result != "ok":
        raise MnemoError(f"the backup's database {path} is damaged: {result}")


def _move_aside(data: Path) -> Path:
    aside = data / f"before-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    aside.mkdir(mode=0o700)
    for name in (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", "vectors", "capture", KEY_FILE):
        if (data / name).exists():
            os.replace(data / name, aside / name)
    log.info("the store that was in %s is kept in %s", data, aside)
    return aside


def _pictures(backup: Path) -> list[Path]:
    """The capture pictures in a backup, relative to it: only files of the form the store
    writes, inside the backup folder once symlinks are resolved (a backup folder is only
    files, and anything else in it was not put there by Mnemo)."""
    folder = backup / "capture"
    if not folder.is_dir():
        return []
    found, skipped = [], 0
    for path in folder.rglob("*"):
        rel = path.relative_to(backup)
        if not path.is_file():
            continue
        if picture_file(backup, rel.as_posix()) is None:
            skipped += 1
        else:
            found.append(rel)
    if skipped:
        log.warning(
            "restore: %d file(s) under capture/ are not capture pictures: not copied", skipped
        )
    return found


def _forget_foreign_pictures(db_file: Path) -> None:
    """A restored store points only at its own pictures: a capture naming any other path
    keeps its text, without the picture (deleting the capture would delete that file)."""
    conn = sqlite3.connect(db_file)
    try:
        with conn:
            paths = [
                row[0]
                for row in conn.execute("SELECT DISTINCT thumbnail FROM sources")
                if row[0] and not is_own_picture(row[0])
            ]
            for rel in paths:
                conn.execute("UPDATE sources SET thumbnail = NULL WHERE thumbnail = ?", [rel])
    finally:
        conn.close()
    if paths:
        log.warning(
            "restore: %d picture path(s) outside Mnemo's capture pictures dropped (first: %r); "
            "their captures' text is kept",
            len(paths),
            paths[0][:200],
        )
