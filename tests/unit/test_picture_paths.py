"""A capture's picture path is read or deleted only when it is one of the store's own
(capture/pictures/<day>/<name>.webp inside the data folder, symlinks resolved): an imported
file or a restored backup may name any file on the disk, and deleting the capture must never
delete it."""

import json
import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import backup as backups
from core.capture.pictures import PictureStore, is_own_picture, picture_file
from core.embed import HashingEmbedder
from core.memory import Source, SourceKind
from core.settings import Settings
from core.store import db as db_module
from core.store.memories import MemoryStore
from core.store.migrations import MIGRATIONS, own_pictures
from core.store.transfer import export_json, import_json

WHEN = datetime(2026, 11, 30, 10, 15, tzinfo=UTC)
OWN = "capture/pictures/2026-11-30/20261130T101500000000-m0.webp"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file of the user's outside the data folder."""
    path = tmp_path / "elsewhere" / "cv.webp"
    path.parent.mkdir()
    path.write_bytes(b"the user's own file")
    return path


def capture(store: MemoryStore, thumbnail: str) -> Source:
    return store.add_source(
        Source(kind=SourceKind.CAPTURE, occurred_at=WHEN, text="a screen", thumbnail=thumbnail)
    )


def test_only_the_form_the_capture_pipeline_writes_is_a_picture(tmp_path: Path) -> None:
    assert is_own_picture(OWN)
    assert is_own_picture(OWN.replace("/", "\\"))  # as recorded on Windows
    assert is_own_picture("capture/pictures/2026-11-30/20261130T101500000000-m0n2.webp")
    for path in (
        None,
        "",
        "/etc/passwd",
        "mnemo.db",
        "vault.key",
        "../" + OWN,
        "/" + OWN,
        "capture/pictures/../../x/20261130T101500000000-m0.webp",
        "capture/pictures/2026-11-30/../20261130T101500000000-m0.webp",
        "capture/pictures/2026-11-30/cv.webp",
        "capture/pictures/2026-11-30/20261130T101500000000-m0.webp.pdf",
        "capture/pictures/٢٠٢٦-11-30/20261130T101500000000-m0.webp",  # other digits
        "pictures/20261130-t0.webp",
    ):
        assert not is_own_picture(path), path
        assert picture_file(tmp_path, path) is None, path
    assert picture_file(tmp_path, OWN) == tmp_path / OWN


def test_a_picture_whose_folder_leads_outside_is_not_the_stores(
    tmp_path: Path, outside: Path
) -> None:
    data = tmp_path / "data"
    (data / "capture" / "pictures").mkdir(parents=True)
    (data / "capture" / "pictures" / "2026-11-30").symlink_to(outside.parent)
    (outside.parent / "20261130T101500000000-m0.webp").write_bytes(b"another file of the user")
    assert picture_file(data, OWN) is None
    # A data folder reached through a symlink is still itself.
    link = tmp_path / "data-link"
    link.symlink_to(data)
    (data / "capture" / "pictures" / "2026-11-30").unlink()
    (data / "capture" / "pictures" / "2026-11-30").mkdir()
    assert picture_file(link, OWN) == link / OWN
    # Pictures the user moved to another disk, leaving a link, are still the store's.
    bigger = tmp_path / "bigger-disk"
    bigger.mkdir()
    (data / "capture" / "pictures").rename(bigger / "pictures")
    (data / "capture" / "pictures").symlink_to(bigger / "pictures")
    assert picture_file(data, OWN) == data / OWN


def test_recycling_never_reaches_into_a_linked_day_folder(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "data" / "capture" / "pictures"
    root.mkdir(parents=True)
    (root / "2020-01-01").symlink_to(outside.parent)
    lookalike = outside.parent / "20200101T000000000000-m0.webp"
    lookalike.write_bytes(b"another file of the user")
    pictures = PictureStore(root, retention_days=1)
    assert pictures.pictures() == []
    pictures.recycle(WHEN, lambda paths: None)
    assert lookalike.exists()


def test_deleting_a_capture_never_deletes_a_file_outside_the_data_folder(
    store: MemoryStore, outside: Path
) -> None:
    # Rows as an older Mnemo could have stored them from an import.
    foreign = [
        capture(store, str(outside)),
        capture(store, str(Path("..") / ".." / outside.relative_to(outside.parents[1]))),
        capture(store, "mnemo.db"),
    ]
    day = store.folder / "capture" / "pictures" / "2026-11-30"
    day.parent.mkdir(parents=True)
    day.symlink_to(outside.parent)  # own form, but the folder leads outside
    lookalike = outside.parent / "20261130T101500000000-m0.webp"
    lookalike.write_bytes(b"another file of the user")
    foreign.append(capture(store, OWN))
    for source in foreign:
        store.delete_source(source.id)
    assert outside.read_bytes() == b"the user's own file"
    assert lookalike.exists()
    assert (store.folder / "mnemo.db").exists()

    day.unlink()  # the store's own picture still goes with its capture
    day.mkdir()
    (day / Path(OWN).name).write_bytes(b"a picture")
    store.delete_source(capture(store, OWN).id)
    assert not (day / Path(OWN).name).exists()


def test_an_import_drops_a_picture_path_that_is_not_the_stores(
    store: MemoryStore,
    outside: Path,
    tmp_path: Path,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    capture(store, OWN)
    export = export_json(store)
    hostile = dict(export["sources"][0], id="a" * 32, thumbnail=str(outside), text="read me")
    sneaky = dict(export["sources"][0], id="b" * 32, thumbnail="../../" + OWN, text="me too")
    export["sources"] += [hostile, sneaky]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    with MemoryStore(tmp_path / "other", HashingEmbedder(), settings) as other:
        with caplog.at_level(logging.WARNING, logger="core.store.transfer"):
            counts = import_json(other, path)
        assert counts["sources"] == 3
        assert "2 source(s) name a picture" in caplog.text
        kept = other.get_sources(["a" * 32, "b" * 32])
        assert [s.thumbnail for s in kept.values()] == [None, None]
        assert {s.text for s in kept.values()} == {"read me", "me too"}  # the text stays
        assert other.get_source(export["sources"][0]["id"]).thumbnail == OWN
        for source_id in kept:
            other.delete_source(source_id)
    assert outside.read_bytes() == b"the user's own file"


def test_a_restored_backup_brings_only_the_stores_own_pictures(
    store: MemoryStore,
    data_dir: Path,
    outside: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (data_dir / OWN).parent.mkdir(parents=True)
    (data_dir / OWN).write_bytes(b"a picture")
    own = capture(store, OWN)
    other = capture(store, "capture/pictures/2026-11-30/20261130T101600000000-m0.webp")
    info = backups.backup(data_dir, tmp_path / "backups")
    # Tampered with after: one capture names a file elsewhere; the backup's picture folder
    # holds a link out and a file of another form.
    with sqlite3.connect(info.path / backups.DB_FILE) as conn:
        conn.execute("UPDATE sources SET thumbnail = ? WHERE id = ?", [str(outside), other.id])
    conn.close()
    day = info.path / Path(OWN).parent
    (day / "20261130T101600000000-m0.webp").symlink_to(outside)
    (day / "notes.txt").write_text("not a picture")

    fresh = tmp_path / "fresh"
    with caplog.at_level(logging.WARNING, logger="core.backup"):
        backups.restore(info.path, fresh)
    assert "1 picture path(s)" in caplog.text and "2 file(s) under capture/" in caplog.text
    assert (fresh / OWN).read_bytes() == b"a picture"
    assert sorted(p.name for p in (fresh / OWN).parent.iterdir()) == [Path(OWN).name]
    with MemoryStore(fresh, HashingEmbedder(), Settings()) as restored:
        assert restored.get_source(own.id).thumbnail == OWN
        assert restored.get_source(other.id).thumbnail is None
        restored.delete_source(other.id)
    assert outside.read_bytes() == b"the user's own file"


def test_the_migration_drops_picture_paths_stored_before(
    data_dir: Path, settings: Settings, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS[: MIGRATIONS.index(own_pictures)])
    with MemoryStore(data_dir, HashingEmbedder(), settings) as old:
        foreign, own = capture(old, str(outside)), capture(old, OWN)
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS)
    with MemoryStore(data_dir, HashingEmbedder(), settings) as store:
        assert store.get_source(foreign.id).thumbnail is None
        assert store.get_source(foreign.id).text == "a screen"
        assert store.get_source(own.id).thumbnail == OWN
