"""Backups: a copy made beside a running store restores into a fresh folder with every memory,
source, picture and secret; damaged, unfinished and newer backups are refused; old ones go."""

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from core import backup as backups
from core.embed import HashingEmbedder
from core.errors import MnemoError
from core.memory import Source, SourceKind
from core.settings import Settings
from core.store.memories import MemoryStore
from core.store.search import search
from core.store.transfer import export_json
from tests.conftest import sample_memories

SECRET = "ghp_BACKUPCANARY0123456789abcdefABCDEF"


def fill(store: MemoryStore, data_dir: Path) -> dict[str, str]:
    picture = Path("capture/pictures/2026-11-30/20261130T101500000000-ab.webp")
    (data_dir / picture).parent.mkdir(parents=True)
    Image.new("RGB", (40, 30), "teal").save(data_dir / picture, "WEBP")
    seen = store.add_source(
        Source(
            kind=SourceKind.CAPTURE,
            occurred_at=datetime(2026, 11, 30, 10, 15, tzinfo=UTC),
            text="Quarterly report draft in LibreOffice",
            app="LibreOffice",
            thumbnail=str(picture),
        )
    )
    ids = {k: store.add(m, sources=[seen.id]).id for k, m in sample_memories().items()}  # type: ignore[arg-type]
    store.update(ids["knowledge_vault"], {"secret_value": SECRET}, cause="rotated")
    return {**ids, "source": seen.id, "picture": str(picture)}


def test_a_backup_restores_into_a_fresh_folder_with_everything(
    store: MemoryStore, data_dir: Path, tmp_path: Path
) -> None:
    made = fill(store, data_dir)
    info = backups.backup(data_dir, tmp_path / "backups")
    store.add(sample_memories()["semantic"])  # type: ignore[arg-type]  # after: not in the backup
    assert (info.memories, info.sources, info.pictures, info.key) == (7, 1, 1, "file")

    fresh = tmp_path / "fresh"
    restored_info = backups.restore(info.path, fresh)
    assert restored_info.memories == 7
    with MemoryStore(fresh, HashingEmbedder(), Settings()) as restored:
        assert restored.counts() == {**store.counts(), "semantic": 1}
        vault = restored.get(made["knowledge_vault"], reveal=True)
        assert vault.secret_value.get_secret_value() == SECRET  # type: ignore[attr-defined]
        assert restored.get_source(made["source"]).thumbnail == made["picture"]
        assert (fresh / made["picture"]).read_bytes() == (data_dir / made["picture"]).read_bytes()
        # The vector index was not copied; it was rebuilt, so meaning search finds them.
        assert restored.vectors.revisions() == {
            row["id"]: row["rev"] for row in restored.db.query("SELECT id, rev FROM memories")
        }
        hits = search(restored, "quarterly report", limit=3, snippets=False)
        assert hits
        assert export_json(restored)["memories"] != []


def test_restore_keeps_the_store_it_would_replace(
    store: MemoryStore, data_dir: Path, tmp_path: Path
) -> None:
    fill(store, data_dir)
    info = backups.backup(data_dir, tmp_path / "backups")
    target = tmp_path / "target"
    with MemoryStore(target, HashingEmbedder(), Settings()) as other:
        other.add(sample_memories()["episodic"])  # type: ignore[arg-type]
    with pytest.raises(MnemoError, match="already holds a Mnemo store"):
        backups.restore(info.path, target)
    backups.restore(info.path, target, replace=True)
    (aside,) = target.glob("before-restore-*")
    assert (aside / "mnemo.db").exists()  # the replaced store is kept, not deleted


def test_a_backup_from_a_newer_mnemo_is_refused(
    store: MemoryStore, data_dir: Path, tmp_path: Path
) -> None:
    info = backups.backup(data_dir, tmp_path / "backups")
    manifest = info.path / backups.MANIFEST
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "schema": 99}))
    with pytest.raises(MnemoError, match="newer Mnemo"):
        backups.restore(info.path, tmp_path / "fresh")
    assert not (tmp_path / "fresh" / "mnemo.db").exists()


def test_a_damaged_or_unfinished_backup_is_refused(
    store: MemoryStore, data_dir: Path, tmp_path: Path
) -> None:
    info = backups.backup(data_dir, tmp_path / "backups")
    db = info.path / "mnemo.db"
    data = bytearray(db.read_bytes())
    data[4096 : 4096 * 3] = b"\xa5" * 8192  # pages of the schema's tables
    db.write_bytes(bytes(data))
    with pytest.raises(MnemoError, match="damaged"):
        backups.restore(info.path, tmp_path / "fresh")
    (info.path / backups.MANIFEST).unlink()
    with pytest.raises(MnemoError, match="not a finished Mnemo backup"):
        backups.restore(info.path, tmp_path / "fresh")
    assert not (tmp_path / "fresh" / "mnemo.db").exists()


def test_only_the_newest_backups_are_kept(
    store: MemoryStore, data_dir: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "backups"
    made = []
    for i in range(4):
        # Backups are named by the second; make each name distinct without waiting.
        info = backups.backup(data_dir, dest)
        renamed = info.path.with_name(f"{backups.PREFIX}2026010{i + 1}T000000Z")
        info.path.rename(renamed)
        made.append(renamed)
    (dest / f"{backups.PREFIX}20260109T000000Z.partial").mkdir()  # a crash mid-backup
    gone = backups.prune(dest, keep=2)
    assert gone == made[:2]
    assert [b.path for b in backups.backups(dest)] == made[2:]
    backups.backup(data_dir, dest, keep=2)
    assert len(backups.backups(dest)) == 2
    assert not list(dest.glob("*.partial"))  # swept by the next backup


def test_the_cli_backs_up_and_restores(mnemo, tmp_path: Path) -> None:
    code, out, err = mnemo("add", "vault", "caption=wifi", f"secret_value={SECRET}")
    assert code == 0, err
    code, out, err = mnemo("backup", str(tmp_path / "b"))
    assert code == 0 and "backed up 3 memories" in out, err
    (made,) = (tmp_path / "b").iterdir()
    code, out, err = mnemo("restore", str(made))
    assert code == 1 and "already holds a Mnemo store" in err

    from app.cli import main

    assert main(["--data-dir", str(tmp_path / "new"), "restore", str(made)]) == 0
    assert main(["--data-dir", str(tmp_path / "new"), "--json", "list"]) == 0


def test_a_backup_made_while_another_thread_writes_is_one_committed_state(
    store: MemoryStore, data_dir: Path, tmp_path: Path
) -> None:
    fill(store, data_dir)
    started, stop = threading.Event(), threading.Event()

    def write() -> None:
        while not stop.is_set():
            store.add(sample_memories()["semantic"])  # type: ignore[arg-type]
            started.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        started.wait()
        before = store.counts()["semantic"]
        info = backups.backup(data_dir, tmp_path / "b")
    finally:
        stop.set()
        writer.join()
    after = store.counts()["semantic"]
    conn = sqlite3.connect(info.path / "mnemo.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copied = conn.execute("SELECT count(*) FROM memories WHERE type = 'semantic'").fetchone()[0]
    conn.close()
    assert before <= copied <= after


def test_restore_is_refused_while_the_app_has_the_folder(
    store: MemoryStore, data_dir: Path, tmp_path: Path
) -> None:
    from core.ownership import BackgroundOwner

    info = backups.backup(data_dir, tmp_path / "backups")
    target = tmp_path / "target"
    target.mkdir()
    app = BackgroundOwner(target)
    assert app.acquire()
    try:
        with pytest.raises(MnemoError, match="quit the app first"):
            backups.restore(info.path, target)
    finally:
        app.release()
    assert not (target / "mnemo.db").exists()
    backups.restore(info.path, target)
    assert (target / "mnemo.db").exists()
