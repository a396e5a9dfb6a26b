"""Delete means gone from every file; vault keys live in the keyring or an explicit fallback."""

import contextlib
import stat
import time
from pathlib import Path

import keyring
import pytest

from core.embed import HashingEmbedder
from core.memory import KnowledgeVaultItem, SemanticMemory
from core.secrets import SecretBox, SecretError
from core.settings import Settings
from core.store.memories import MemoryStore
from tests.standins import MemoryKeyring

# Porter stemming leaves this word as it is, so a byte search finds it in the FTS index too
# ("zebracanary" would be stored as "zebracanari" and escape the check).
CANARY = "zebraquokkax"


def files_containing(folder: Path, needle: bytes) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_deleted_text_is_gone_from_every_file(data_dir: Path, settings: Settings) -> None:
    with MemoryStore(data_dir, HashingEmbedder(), settings) as store:
        # Without automerge, FTS5 keeps a deleted row's words until something merges its
        # segments: only Mnemo's purge can make this test pass.
        store.db.db.execute("INSERT INTO memories_fts (memories_fts, rank) VALUES ('automerge', 0)")
        keep = store.add(SemanticMemory(name="Keep", summary="an ordinary note"))
        doomed = store.add(SemanticMemory(name="Diary", summary=f"my secret {CANARY} entry"))
        store.update(doomed.id, {"details": f"more about {CANARY}"})
        store.db.checkpoint()
        assert files_containing(data_dir, CANARY.encode())  # the check can see it when present
        store.delete(doomed.id)
    assert files_containing(data_dir, CANARY.encode()) == []
    assert files_containing(data_dir, doomed.id.encode()) == []
    with MemoryStore(data_dir, HashingEmbedder(), settings) as store:
        assert store.get(keep.id).headline == "Keep"


def test_deletes_are_purged_soon_while_the_store_stays_open(
    data_dir: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.store.deletes.PURGE_DELAY_S", 0.1)
    with MemoryStore(data_dir, HashingEmbedder(), settings) as store:
        store.db.db.execute("INSERT INTO memories_fts (memories_fts, rank) VALUES ('automerge', 0)")
        doomed = store.add(SemanticMemory(name="Diary", summary=f"{CANARY} words"))
        store.delete(doomed.id)
        deadline = time.monotonic() + 30
        while store.meta("purge_pending") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.meta("purge_pending") is None
        assert files_containing(data_dir, CANARY.encode()) == []


def test_a_delete_interrupted_before_purge_is_purged_at_next_start(
    data_dir: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.store.deletes.PURGE_DELAY_S", 3600)  # the process dies first
    store = MemoryStore(data_dir, HashingEmbedder(), settings)
    store.db.db.execute("INSERT INTO memories_fts (memories_fts, rank) VALUES ('automerge', 0)")
    doomed = store.add(SemanticMemory(name="Diary", summary=f"{CANARY} words"))
    store.delete(doomed.id)
    store.db.checkpoint()
    assert store.meta("purge_pending") == "1"
    assert files_containing(data_dir, CANARY.encode())  # the words are still in the index
    # A crash: nothing else of this process runs. The next start must finish the purge.
    reopened = MemoryStore(data_dir, HashingEmbedder(), settings)
    reopened.db.checkpoint()
    assert files_containing(data_dir, CANARY.encode()) == []
    reopened.close()
    store._purge_timer.cancel()


def test_key_goes_to_the_keyring_when_there_is_one(data_dir: Path) -> None:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    with MemoryStore(data_dir, HashingEmbedder(), Settings()) as store:
        item = store.add(KnowledgeVaultItem(caption="PIN", secret_value="2468"))
        assert store.meta("vault_key_location") == "keyring"
        assert not (data_dir / "vault.key").exists()
        assert len(backend.values) == 1
    with MemoryStore(data_dir, HashingEmbedder(), Settings()) as store:
        assert store.get(item.id, reveal=True).secret_value.get_secret_value() == "2468"  # type: ignore[union-attr]


def test_without_a_keyring_the_key_file_is_user_only(data_dir: Path) -> None:
    with MemoryStore(data_dir, HashingEmbedder(), Settings()) as store:
        store.add(KnowledgeVaultItem(caption="PIN", secret_value="2468"))
        assert store.meta("vault_key_location") == "file"
    mode = stat.S_IMODE((data_dir / "vault.key").stat().st_mode)
    assert mode == 0o600


def test_a_key_recorded_in_the_keyring_is_never_silently_replaced(data_dir: Path) -> None:
    keyring.set_keyring(MemoryKeyring())
    with MemoryStore(data_dir, HashingEmbedder(), Settings()) as store:
        item = store.add(KnowledgeVaultItem(caption="PIN", secret_value="2468"))
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())  # the keyring went away (locked session, headless run)
    with MemoryStore(data_dir, HashingEmbedder(), Settings()) as store:
        assert store.get(item.id).headline == "PIN"  # everything but the secret still works
        with pytest.raises(SecretError, match="keyring"):
            store.get(item.id, reveal=True)
    assert not (data_dir / "vault.key").exists()


def test_a_wrong_key_is_a_clear_error(tmp_path: Path) -> None:
    boxes = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        boxes.append(SecretBox.open(tmp_path / name, name, location=None, use_keyring=False))
    token = boxes[0].encrypt("hello")
    assert boxes[0].decrypt(token) == "hello"
    with pytest.raises(SecretError, match="cannot be decrypted"):
        boxes[1].decrypt(token)


def test_a_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="missing"):
        SecretBox.open(tmp_path, "x", location="file", use_keyring=False)


KEY = "sk-proj-" + CANARY + "0123456789abcdef"


def test_secrets_in_chats_and_files_never_reach_a_file(
    data_dir: Path, settings: Settings, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from core.ingest.chats import Session, Turn
    from core.ingest.keep import keep_file, keep_session

    when = datetime(2026, 11, 20, tzinfo=UTC)
    notes = tmp_path / "notes.md"
    notes.write_text(f"# Setup\nOPENAI_API_KEY={KEY}\n")
    with MemoryStore(data_dir, HashingEmbedder(), settings) as store:
        session = Session(
            "debugging",
            when,
            [
                Turn("user", f"my key {KEY} fails", when, "c:1"),
                Turn("assistant", "Rotate it now.", when, "c:2"),  # context holds the key
            ],
        )
        kept, _ = keep_session(store, session)
        document = keep_file(store, notes)
        assert kept[0].text == "my key [redacted: api key] fails"
        assert kept[0].meta["redacted"] == {"api key": 1}
        assert "[redacted: api key]" in kept[1].search_text()
        assert "[redacted: api key]" in document.text
        store.db.checkpoint()
    assert files_containing(data_dir, CANARY.encode()) == []


def test_a_secret_to_remember_goes_to_the_vault_encrypted_only(
    data_dir: Path, settings: Settings
) -> None:
    import json

    from agents.chat import ChatAgent
    from tests.standins import ScriptedChat

    chat = ScriptedChat(
        {
            "Routing": [
                json.dumps({"topics": ["wifi"], "managers": ["knowledge_vault", "semantic"]})
            ],
            "SemanticAnswer": [  # a model copying the password into a fact
                json.dumps(
                    {
                        "items": [
                            {
                                "op": "insert",
                                "name": "Home wifi",
                                "summary": f"The wifi password is {CANARY}",
                                "sources": [1],
                            }
                        ]
                    }
                )
            ],
            "KnowledgeVaultAnswer": [
                json.dumps(
                    {
                        "items": [
                            {
                                "op": "insert",
                                "caption": "Home wifi password",
                                "secret_value": CANARY,
                                "sensitivity": "medium",
                                "sources": [1],
                            }
                        ]
                    }
                )
            ],
        }
    )
    with MemoryStore(data_dir, HashingEmbedder(), settings) as store:
        answer = ChatAgent(store, chat).ask(f"remember that my wifi password is {CANARY}")
        sent = json.dumps([messages for _, messages in chat.received])
        assert CANARY in sent  # the team saw the words it was asked to remember
        vault = [m for m in store.memories(types=["knowledge_vault"])]
        assert store.get(vault[0].id, reveal=True).secret_value.get_secret_value() == CANARY
        fact = next(m for m in store.memories(types=["semantic"]))
        assert fact.summary == "The wifi password is [redacted: password]"
        assert answer.items[0].label == "user: my wifi password is [redacted: password]"
        store.db.checkpoint()
    assert files_containing(data_dir, CANARY.encode()) == []


def _encrypt_first_secret(args: tuple[str, object, int]) -> str:
    import threading

    import core.secrets

    folder, both_made_one, n = args
    make = core.secrets.Fernet.generate_key

    def generate_key() -> bytes:
        # Two processes that both got here would both make a key: wait for the other one.
        # With the key's lock, only one ever gets here, and it goes on when the wait ends.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_made_one.wait(3)  # type: ignore[attr-defined]
        return make()

    core.secrets.Fernet.generate_key = generate_key  # type: ignore[method-assign]
    box = SecretBox.open(Path(folder), "store-x", location=None, use_keyring=False)
    return box.encrypt(f"secret {n}")


def test_processes_opening_the_vault_at_once_share_one_key(tmp_path: Path) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(2)
        with context.Pool(2) as pool:
            tokens = pool.map(_encrypt_first_secret, [(str(tmp_path), barrier, n) for n in (0, 1)])
    # Both processes encrypted with the key that was kept: each secret reads back.
    box = SecretBox.open(tmp_path, "store-x", location="file", use_keyring=False)
    assert [box.decrypt(token) for token in tokens] == ["secret 0", "secret 1"]
    assert not list(tmp_path.glob("vault.key.*.new"))  # no half-made key left aside
