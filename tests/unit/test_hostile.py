"""A hostile environment: a full disk, a read-only data folder, a keyring missing or locked at
start-up, a truncated model file, a clock that jumps backwards. Each gives the user one clear
line that names the problem, and loses nothing acknowledged before it: every test re-opens the
store and reads back what was written first.

A real full disk (a small tmpfs) and a real read-only mount need a mount namespace of their own
(`unshare`: root, or a user namespace); where there is none those tests are skipped, and the
simulated variants beside them (the same code paths, with the failing call made to fail) run
everywhere.
"""

import contextlib
import errno
import functools
import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked
from PIL import Image

from agents.host import Host
from core.capture.change import Box
from core.capture.ocr import TextLine
from core.embed import HashingEmbedder
from core.errors import ReadOnlyFolder, StorageFull
from core.llm.gguf_file import InvalidModelFile, read_header
from core.memory import KnowledgeVaultItem, SemanticMemory
from core.secrets import SecretError
from core.settings import Settings
from core.store.memories import MemoryStore
from core.store.search import search
from tests.capture_fakes import FakeDesktop, FakeScreen, screen_image, window
from tests.standins import MemoryKeyring, ScriptedChat, write_gguf

REPO = Path(__file__).resolve().parents[2]


def one_line(text: str) -> str:
    """The text, checked to be a single line."""
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"not one line: {text!r}"
    return lines[0]


def added(mnemo: Any, *args: str) -> str:
    """`mnemo add ARGS…`, which must succeed; the new memory's id."""
    code, out, err = mnemo("add", *args)
    assert code == 0, err
    return out.strip()


def secret_of(store: MemoryStore, memory_id: str) -> str:
    item = store.get(memory_id, reveal=True)
    assert isinstance(item, KnowledgeVaultItem) and item.secret_value is not None
    return item.secret_value.get_secret_value()


def last_line(err: str) -> str:
    """The CLI's error line (a warning that the folder is read-only may come before it)."""
    return err.strip().splitlines()[-1]


# -- a mount namespace of our own ------------------------------------------------------------


@functools.cache
def mount_prefix() -> tuple[str, ...] | None:
    """How to run a shell in a mount namespace where it may mount (root: unshare -m; anyone
    else: a user namespace, unshare -rm), or None where neither works here."""
    if not sys.platform.startswith("linux") or not (
        shutil.which("unshare") and shutil.which("mount")
    ):
        return None
    probe = Path(tempfile.mkdtemp())
    here = shlex.quote(str(probe))
    script = (
        f"mount --bind {here} {here} && mount -o remount,bind,ro {here} "
        f"&& ! touch {here}/written 2>/dev/null"
    )
    try:
        for prefix in (("unshare", "-m"), ("unshare", "-r", "-m")):
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                done = subprocess.run(
                    [*prefix, "--propagation", "private", "sh", "-c", script],
                    capture_output=True,
                    timeout=60,
                )
                if done.returncode == 0:
                    return (*prefix, "--propagation", "private")
        return None
    finally:
        shutil.rmtree(probe, ignore_errors=True)


needs_mounts = pytest.mark.skipif(
    "mount_prefix() is None",
    reason="no mount namespace here (unshare -m needs root, unshare -rm user namespaces); "
    "the simulated variants of these tests run instead",
)


def run_mounted(mount: str, code: str, *args: str) -> dict[str, Any]:
    """Run `mount` (shell) and then `code` (Python, in the repository) in a mount namespace of
    its own; returns the JSON object the code prints last."""
    prefix = mount_prefix()
    assert prefix is not None
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(code)
    command = " ".join(shlex.quote(a) for a in (sys.executable, script.name, *args))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",  # never the user's keyring
    }
    try:
        done = subprocess.run(
            [*prefix, "sh", "-c", f"{mount} && {command}"],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=600,
        )
    finally:
        os.unlink(script.name)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- fakes -----------------------------------------------------------------------------------


class ScriptedOcr:
    """Reads the same text wherever it looks (real OCR is tested in test_capture_pipeline)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def read(self, image: Image.Image, regions: list[Box] | None = None) -> list[TextLine]:
        return [TextLine(self.text, Box(10, 10, image.width - 10, 40), 0.99)]

    def unload_if_idle(self, idle_s: float) -> bool:
        return False


def capture_host(data_dir: Path, ocr: ScriptedOcr | None = None) -> Host:
    screen = FakeScreen([screen_image({40: "Quarterly report"})])
    desktop = FakeDesktop([window("libreoffice", "report.odt")])
    host = Host(
        data_dir,
        settings=Settings(capture={"thumbnail_every_s": 0, "ocr_settle_s": 0, "ocr": False}),
        embedder=HashingEmbedder(),
        chat=ScriptedChat({}),
        capture_options={"screen": screen, "desktop_factory": lambda: desktop, "ocr": ocr},
        watch_s=None,
    )
    host.start()
    host.wait_for_startup_work()  # its sweep of pictures left by a crash is done
    return host


def pictures(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "capture" / "pictures").rglob("*.*"))


def alerts_of(host: Host) -> tuple[list[Any], threading.Event]:
    told: list[Any] = []
    came = threading.Event()

    def listen(notice: Any) -> None:
        if notice.kind == "alert":
            told.append(notice)
            came.set()

    host.notices.subscribe(listen)
    return told, came


# -- a full disk -----------------------------------------------------------------------------


def capped_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection opened from now on sees a database that cannot grow (SQLite clamps
    the cap to the current size): the same "database or disk is full" as a full disk."""
    import core.store.db

    monkeypatch.setattr(
        core.store.db, "PRAGMAS", (*core.store.db.PRAGMAS, "PRAGMA max_page_count = 1")
    )


def test_a_write_on_a_full_disk_is_one_line_from_the_cli_and_nothing_is_lost(
    mnemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, kept, _ = mnemo("add", "semantic", "name=Harbour", "summary=boats at the harbour")
    assert code == 0
    with monkeypatch.context() as full:
        capped_pages(full)
        code, out, err = mnemo("add", "resource", "title=Plan", f"content={'word ' * 40_000}")
        assert code == 1 and out == ""
        line = one_line(err)
        assert line.startswith(f"mnemo: {mnemo.folder} is out of space")
        assert "nothing was written" in line and "Free some disk space" in line
        code, out, _ = mnemo("list")  # reading still works
        assert code == 0 and "Harbour" in out and "Plan" not in out
    code, out, _ = mnemo("list")
    assert "Plan" not in out  # the refused write left nothing behind
    assert mnemo("add", "resource", "title=Plan", "content=fits now")[0] == 0
    code, out, _ = mnemo("show", kept.strip())
    assert code == 0 and "boats at the harbour" in out


def test_a_full_disk_pauses_capture_and_the_host_says_so(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = capture_host(data_dir)
    try:
        kept = host.store.add(SemanticMemory(name="Harbour", summary="boats at the harbour"))
        (first,), _ = host.capture_once(agents=False)  # acknowledged: stored with its picture
        assert first.thumbnail and (data_dir / first.thumbnail).exists()
        told, paused = alerts_of(host)

        def no_space(*args: Any, **kwargs: Any) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        with monkeypatch.context() as full:
            full.setattr(Image.Image, "save", no_space)
            host.capture_start(interval_s=3600, agents=False)  # its first frame comes at once
            assert paused.wait(60)
            assert host.capture_state() == "paused"
        (alert,) = told
        assert alert.text == "Capture paused"
        assert one_line(alert.detail).startswith("the disk is full: cannot save a capture picture")
        status = host.capture_status()
        assert status["state"] == "paused" and "disk is full" in status["last_error"]
        host.capture_stop()
        assert pictures(data_dir) == [data_dir / first.thumbnail]  # no half-written file
    finally:
        host.close()
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        assert store.get(kept.id).headline == "Harbour"
        assert store.get_source(first.id).thumbnail == first.thumbnail
        assert len(store.get_sources([first.id])) == 1


def test_a_database_full_mid_capture_takes_the_picture_back_and_pauses(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The picture is saved before its capture is stored: when the store refuses the capture,
    the picture goes too (no file that nothing points at)."""
    long_line = " ".join(f"quarterly figure {n}" for n in range(4000))
    host = capture_host(data_dir, ScriptedOcr("Quarterly report for the board"))
    try:
        (first,), _ = host.capture_once(agents=False)
        told, paused = alerts_of(host)
        with monkeypatch.context() as full:
            capped_pages(full)  # the capture thread's connection is opened after this
            host._capture_options["ocr"] = ScriptedOcr(long_line)
            host.capture_start(interval_s=3600, agents=False)
            assert paused.wait(60)
        (alert,) = told
        assert alert.text == "Capture paused"
        line = one_line(alert.detail)
        assert "is out of space" in line and "nothing was written" in line
        host.capture_stop()
        assert pictures(data_dir) == [data_dir / first.thumbnail]
    finally:
        host.close()
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        assert store.get_source(first.id).text == "Quarterly report for the board"
        assert search_sources_text(store, "figure") == []  # the refused capture is nowhere
        assert store.db.scalar("SELECT count(*) FROM sources") == 1


def search_sources_text(store: MemoryStore, query: str) -> list[str]:
    from core.store.source_search import search_sources

    return [hit.source.text for hit in search_sources(store, query)]


FULL_DISK_CHILD = """
import json, sys
from pathlib import Path
from agents.host import Host
from core.embed import HashingEmbedder
from core.errors import MnemoError
from core.memory import SemanticMemory, ResourceMemory
from tests.standins import ScriptedChat

disk, folder = Path(sys.argv[1]), Path(sys.argv[2])
out = {}

def host():
    made = Host(folder, embedder=HashingEmbedder(), chat=ScriptedChat({}), watch_s=None)
    notices = []
    made.notices.subscribe(lambda n: notices.append([n.kind, n.text, n.detail]))
    made.start()
    return made, notices

h, _ = host()
out["kept"] = h.store.add(SemanticMemory(name="Harbour", summary="boats at the harbour")).id
h.close()

with open(disk / "filler", "wb", buffering=0) as filler:  # the disk fills up, to the byte
    for size in (1 << 16, 512, 1):
        try:
            while True:
                filler.write(b"\\0" * size)
        except OSError:
            pass

h, notices = host()
out["alerts"] = [n for n in notices if n[0] == "alert"]
out["read_only"] = h.store.read_only
out["read"] = h.store.get(out["kept"]).headline
out["search"] = [hit.memory.headline for hit in h.search("harbour boats")]
for name, memory in (
    ("add", ResourceMemory(title="Plan", content="word " * 5000)),
    ("vault", None),
):
    try:
        if memory is None:
            from core.memory import KnowledgeVaultItem
            memory = KnowledgeVaultItem(caption="Door", secret_value="2468")
        h.store.add(memory)
        out[name] = "written"
    except MnemoError as exc:
        out[name] = f"{type(exc).__name__}: {exc}"
h.close()

(disk / "filler").unlink()  # room again: everything is there, and writes work
h, _ = host()
out["after"] = sorted(m.headline for m in h.store.memories(types=["semantic", "resource"]))
h.store.add(SemanticMemory(name="Ferry", summary="every 20 minutes"))
out["written_after"] = h.store.counts()["semantic"]
h.close()
print(json.dumps(out))
"""


@pytest.mark.slow
@needs_mounts
def test_a_disk_full_at_start_up_opens_the_store_for_reading(tmp_path: Path) -> None:
    """On a full disk SQLite cannot make the files it needs to write, so the store used not to
    open at all ("disk I/O error"); it opens for reading and says why."""
    disk = tmp_path / "disk"
    disk.mkdir()
    folder = disk / "data"
    mount = f"mount -t tmpfs -o size=16m tmpfs {shlex.quote(str(disk))}"
    out = run_mounted(mount, FULL_DISK_CHILD, str(disk), str(folder))
    ((kind, text, detail),) = out["alerts"]
    assert (kind, text) == ("alert", "Disk full")
    assert one_line(detail) == (
        f"{folder} is out of space: your memories can be read and searched, "
        "but nothing new is saved"
    )
    assert out["read_only"] and out["read"] == "Harbour" and out["search"][0] == "Harbour"
    for refused in (out["add"], out["vault"]):
        assert one_line(refused).startswith(f"StorageFull: {folder} is out of space:")
    assert out["after"] == ["Harbour"] and out["written_after"] == 2


def test_a_disk_full_at_start_up_opens_for_reading_simulated(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The variant of the test above that runs anywhere: opening for writing fails the way a
    full disk makes it fail, and the disk reports no room."""
    import sqlite3

    import core.store.db

    with MemoryStore(data_dir, HashingEmbedder()) as store:
        kept = store.add(SemanticMemory(name="Harbour", summary="boats at the harbour"))

    real_connect = sqlite3.connect

    class NoRoomForTheWal(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql.startswith("PRAGMA journal_mode"):
                raise sqlite3.OperationalError("disk I/O error")
            return super().execute(sql, *args)

    def connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        if not kwargs.get("uri"):  # opening for writing
            kwargs["factory"] = NoRoomForTheWal
        return real_connect(database, *args, **kwargs)

    with monkeypatch.context() as full:
        full.setattr(core.store.db.sqlite3, "connect", connect)
        full.setattr(core.store.db, "_out_of_space", lambda folder: True)
        host = Host(data_dir, embedder=HashingEmbedder(), chat=ScriptedChat({}), watch_s=None)
        told, _ = alerts_of(host)
        host.start()
        try:
            assert [(n.text, n.detail) for n in told] == [
                (
                    "Disk full",
                    f"{data_dir} is out of space: your memories can be read and searched, "
                    "but nothing new is saved",
                )
            ]
            assert host.store.get(kept.id).headline == "Harbour"
            assert host.search("harbour")[0].memory.id == kept.id
            with pytest.raises(StorageFull, match=r"is out of space: nothing was saved\."):
                host.store.add(SemanticMemory(name="Ferry", summary="every 20 minutes"))
        finally:
            host.close()
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        assert store.get(kept.id).headline == "Harbour"
        store.add(SemanticMemory(name="Ferry", summary="every 20 minutes"))


# -- a read-only data folder -----------------------------------------------------------------


READ_ONLY_CHILD = """
import contextlib, io, json, sys
from app.commands import main

folder, vault, harbour = sys.argv[1:4]
out = {}

def cli(name, *args):
    said, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(err):
        code = main(["--data-dir", folder, *args])
    out[name] = [code, said.getvalue(), err.getvalue()]

cli("list", "list")
cli("search", "search", "harbour boats")
cli("reveal", "show", vault, "--reveal")
cli("history", "history", harbour)
cli("add", "add", "semantic", "name=Ferry", "summary=every 20 minutes")
cli("vault", "add", "vault", "caption=Bike lock", "secret_value=1357")
cli("edit", "edit", harbour, "summary=changed")
cli("delete", "delete", harbour, "--yes")

from agents.host import Host
host = Host(folder, watch_s=None)  # the window's host, with its background work
notices = []
host.notices.subscribe(lambda n: notices.append([n.kind, n.text, n.detail]))
host.start()
out["alerts"] = [n for n in notices if n[0] == "alert"]
out["found"] = [hit.memory.headline for hit in host.search("harbour boats")]
try:
    host.capture_start()
    out["capture"] = "started"
except Exception as exc:
    out["capture"] = f"{type(exc).__name__}: {exc}"
host.close()
print(json.dumps(out))
"""


def read_only_folder_checks(out: dict[str, Any], folder: Path) -> None:
    code, listed, _ = out["list"]
    assert code == 0 and "Harbour" in listed and "Door code" in listed
    code, found, _ = out["search"]
    assert code == 0 and "Harbour" in found
    code, shown, _ = out["reveal"]
    assert code == 0 and "secret_value: 2468-quokka" in shown
    assert out["history"][0] == 0
    for name in ("add", "vault", "edit", "delete"):
        code, said, err = out[name]
        assert code == 1 and said == "", name
        assert last_line(err).startswith(f"mnemo: the data folder {folder} is read-only: "), name
        assert "Your memories can still be read and searched" in last_line(err)


@pytest.mark.slow
@needs_mounts
def test_a_read_only_mount_reads_and_searches_and_refuses_writes_in_one_line(mnemo) -> None:
    vault = added(
        mnemo, "vault", "caption=Door code", "secret_value=2468-quokka", "sensitivity=low"
    )
    harbour = added(mnemo, "semantic", "name=Harbour", "summary=boats at the harbour")
    folder = mnemo.folder
    here = shlex.quote(str(folder))
    mount = f"mount --bind {here} {here} && mount -o remount,bind,ro {here}"
    out = run_mounted(mount, READ_ONLY_CHILD, str(folder), vault, harbour)
    read_only_folder_checks(out, folder)
    ((_, text, detail),) = out["alerts"]
    assert text == "Read-only data folder"
    assert one_line(detail) == (
        f"{folder} cannot be written: your memories can be read and searched, "
        "but nothing new is saved"
    )
    assert out["found"][0] == "Harbour"
    assert (
        out["capture"]
        == f"ReadOnlyFolder: cannot start capture: the data folder {folder} is read-only"
    )
    # Nothing was lost, and the folder works as before once it is writable again.
    _, listed, _ = mnemo("list")
    assert "Harbour" in listed and "Door code" in listed and "Ferry" not in listed
    assert "2468-quokka" in mnemo("show", vault, "--reveal")[1]
    assert mnemo("add", "semantic", "name=Ferry", "summary=every 20 minutes")[0] == 0


@contextlib.contextmanager
def read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The folder made read-only for this user (0500). Root writes there all the same, so for
    root the access check says what it would say to a user; SQLite's own refusal is real (the
    store opens the database read-only)."""
    folder.chmod(0o500)
    real_access = os.access
    inside = str(folder)

    def access(path: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        if mode & os.W_OK and str(path).startswith(inside):
            return False
        return real_access(path, mode, *args, **kwargs)

    try:
        with monkeypatch.context() as patched:
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                patched.setattr(os, "access", access)
            yield
    finally:
        folder.chmod(0o700)


def test_a_read_only_data_folder_reads_and_refuses_writes_simulated(
    mnemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = added(
        mnemo, "vault", "caption=Door code", "secret_value=2468-quokka", "sensitivity=low"
    )
    harbour = added(mnemo, "semantic", "name=Harbour", "summary=boats at the harbour")
    folder = mnemo.folder
    out: dict[str, Any] = {}
    with read_only(folder, monkeypatch):
        for name, args in (
            ("list", ["list"]),
            ("search", ["search", "harbour boats"]),
            ("reveal", ["show", vault, "--reveal"]),
            ("history", ["history", harbour]),
            ("add", ["add", "semantic", "name=Ferry", "summary=every 20 minutes"]),
            ("vault", ["add", "vault", "caption=Bike lock", "secret_value=1357"]),
            ("edit", ["edit", harbour, "summary=changed"]),
            ("delete", ["delete", harbour, "--yes"]),
        ):
            out[name] = list(mnemo(*args))
        host = Host(folder, embedder=HashingEmbedder(), chat=ScriptedChat({}), watch_s=None)
        told, _ = alerts_of(host)
        host.start(background=False)
        try:
            assert host.store.read_only
            assert [n.text for n in told] == ["Read-only data folder"]
            assert host.search("harbour boats")[0].memory.headline == "Harbour"
        finally:
            host.close()
    read_only_folder_checks(out, folder)
    _, listed, _ = mnemo("list")
    assert "Harbour" in listed and "Ferry" not in listed
    assert "2468-quokka" in mnemo("show", vault, "--reveal")[1]
    assert mnemo("add", "semantic", "name=Ferry", "summary=every 20 minutes")[0] == 0


def test_a_first_vault_secret_in_a_read_only_folder_makes_no_key(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        kept = store.add(SemanticMemory(name="Harbour", summary="boats at the harbour"))
    before = sorted(p.name for p in data_dir.iterdir())
    with read_only(data_dir, monkeypatch), MemoryStore(data_dir, HashingEmbedder()) as store:
        with pytest.raises(ReadOnlyFolder) as refused:
            store.add(KnowledgeVaultItem(caption="Door code", secret_value="2468"))
        assert one_line(str(refused.value)).startswith(
            f"the data folder {data_dir} is read-only: no vault secret can be saved."
        )
        assert store.get(kept.id).headline == "Harbour"
    assert sorted(p.name for p in data_dir.iterdir()) == before  # no key, no lock file


def test_a_folder_that_turns_read_only_while_open_refuses_writes_clearly(
    store: MemoryStore,
) -> None:
    kept = store.add(SemanticMemory(name="Harbour", summary="boats at the harbour"))
    store.db.db.execute("PRAGMA query_only = ON")  # SQLite's own "readonly database" refusal
    for write in (
        lambda: store.add(SemanticMemory(name="Ferry", summary="every 20 minutes")),
        lambda: store.update(kept.id, {"summary": "changed"}),
        lambda: store.delete(kept.id),
    ):
        with pytest.raises(ReadOnlyFolder) as refused:
            write()
        assert one_line(str(refused.value)).startswith(
            f"the data folder {store.folder} is read-only: nothing was saved."
        )
    store.db.db.execute("PRAGMA query_only = OFF")
    unchanged = store.get(kept.id)
    assert isinstance(unchanged, SemanticMemory) and unchanged.summary == "boats at the harbour"
    assert [v.rev for v in store.history(kept.id)] == [1]
    assert store.counts()["semantic"] == 1


# -- a keyring missing or locked at start-up -------------------------------------------------


class LockedKeyring(KeyringBackend):
    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the login keyring is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("the login keyring is locked")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("the login keyring is locked")


class DBusFailure(Exception):
    """What a secret-service backend may raise that is no KeyringError."""


class BrokenKeyring(LockedKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise DBusFailure("org.freedesktop.DBus.Error.ServiceUnknown")


def unreachable_keyrings() -> list[Any]:
    from keyring.backends import fail

    return [
        pytest.param(LockedKeyring, id="locked"),
        pytest.param(fail.Keyring, id="missing"),
        pytest.param(BrokenKeyring, id="d-bus-error"),
    ]


@pytest.mark.parametrize("unreachable", unreachable_keyrings())
def test_an_unreachable_keyring_at_start_up_blocks_only_the_vault(
    data_dir: Path, unreachable: type[KeyringBackend]
) -> None:
    kept = MemoryKeyring()
    keyring.set_keyring(kept)
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        pin = store.add(KnowledgeVaultItem(caption="Door code", secret_value="2468"))
        note = store.add(SemanticMemory(name="Harbour", summary="boats at the harbour"))
    key = dict(kept.values)

    keyring.set_keyring(unreachable())
    host = Host(data_dir, embedder=HashingEmbedder(), chat=ScriptedChat({}), watch_s=None)
    host.start()  # the vault key is not needed to start
    try:
        store = host.store
        assert host.search("harbour")[0].memory.id == note.id
        added = store.add(SemanticMemory(name="Ferry", summary="every 20 minutes"))
        assert store.get(pin.id).headline == "Door code"  # all but the secret reads
        for vault_work in (
            lambda: store.get(pin.id, reveal=True),
            lambda: store.add(KnowledgeVaultItem(caption="Bike lock", secret_value="1357")),
            lambda: store.update(pin.id, {"secret_value": "9999"}),
        ):
            with pytest.raises(SecretError) as refused:
                vault_work()
            assert one_line(str(refused.value)) == (
                "the vault key is kept in the OS keyring, which is not reachable now; "
                "unlock or start the keyring and try again"
            )
        assert store.counts()["knowledge_vault"] == 1
        assert store.meta("vault_key_location") == "keyring"
        assert [v.rev for v in store.history(pin.id)] == [1]
    finally:
        host.close()
    assert not (data_dir / "vault.key").exists()  # never replaced by a new file key

    keyring.set_keyring(MemoryKeyring(dict(key)))  # unlocked again: every secret reads
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        assert secret_of(store, pin.id) == "2468"
        assert store.get(added.id).headline == "Ferry"


def test_a_locked_keyring_is_one_line_from_the_cli(mnemo) -> None:
    keyring.set_keyring(MemoryKeyring())
    code, pin, _ = mnemo("add", "vault", "caption=Door code", "secret_value=2468")
    assert code == 0
    keyring.set_keyring(LockedKeyring())
    code, out, err = mnemo("show", pin.strip(), "--reveal")
    assert code == 1 and out == ""
    assert one_line(err) == (
        "mnemo: the vault key is kept in the OS keyring, which is not reachable now; "
        "unlock or start the keyring and try again"
    )
    code, _, err = mnemo("add", "vault", "caption=Bike lock", "secret_value=1357")
    assert code == 1 and "unlock or start the keyring" in one_line(err)
    code, shown, _ = mnemo("show", pin.strip())  # masked, as always: it needs no key
    assert code == 0 and "Door code" in shown
    assert mnemo("add", "semantic", "name=Ferry", "summary=every 20 minutes")[0] == 0
    assert "Bike lock" not in mnemo("list")[1]


def test_a_first_secret_beside_a_locked_keyring_goes_to_a_key_file_and_says_so(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keyring.set_keyring(LockedKeyring())
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        pin = store.add(KnowledgeVaultItem(caption="Door code", secret_value="2468"))
        assert store.meta("vault_key_location") == "file"
    assert "no usable OS keyring (the login keyring is locked)" in caplog.text
    assert "the vault key goes in a user-only key file" in caplog.text
    keyring.set_keyring(MemoryKeyring())  # unlocked later: the key stays where it was put
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        assert secret_of(store, pin.id) == "2468"


# -- a truncated model file ------------------------------------------------------------------


def cut_model(models: Path, name: str = "cut", **kw: Any) -> Path:
    models.mkdir(parents=True, exist_ok=True)
    whole = write_gguf(models / f"{name}.whole", **kw).read_bytes()
    (models / f"{name}.whole").unlink()
    path = models / f"{name}.gguf"
    path.write_bytes(whole[: len(whole) // 2])
    return path


def test_a_truncated_model_in_the_models_folder_is_named_where_it_is_listed_or_chosen(
    mnemo,
) -> None:
    assert mnemo("add", "semantic", "name=Harbour", "summary=boats at the harbour")[0] == 0
    cut = cut_model(mnemo.folder / "models")
    code, out, _ = mnemo("models", "list")
    assert code == 0
    (line,) = [x for x in out.splitlines() if x.strip().startswith("unusable:")]
    assert line.strip().startswith(
        f"unusable: {cut} is not a usable GGUF model: the file is truncated"
    )
    listed = json.loads(mnemo("--json", "models", "list")[1])["models"]
    assert [m["problem"] is not None for m in listed if m["name"] == "cut"] == [True]
    for args in (("models", "use", "chat", "cut"), ("models", "info", "cut")):
        code, out, err = mnemo(*args)
        assert code == 1 and out == ""
        assert one_line(err).startswith(
            f"mnemo: {cut} is not a usable GGUF model: the file is truncated"
        )
    assert not (mnemo.folder / "settings.toml").exists()  # nothing chosen
    code, out, _ = mnemo("search", "harbour")  # the store opens and answers
    assert code == 0 and "Harbour" in out


def test_a_chosen_chat_model_cut_short_fails_clearly_and_search_still_works(
    data_dir: Path,
) -> None:
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        kept = store.add(SemanticMemory(name="Harbour", summary="boats at the harbour"))
    (data_dir / "models").mkdir()
    path = write_gguf(data_dir / "models" / "tiny-chat.gguf")
    settings = Settings()
    settings.models.chat = "tiny-chat"
    settings.save(data_dir)
    path.write_bytes(path.read_bytes()[:-100])  # cut short after it was chosen
    host = Host(data_dir, embedder=HashingEmbedder(), watch_s=None)
    host.start()  # the chat model loads on its first job: the app starts
    try:
        assert host.search("harbour boats")[0].memory.id == kept.id
        assert ("tiny-chat", "unreadable") in [(e.name, kind) for e, kind in host.models()]
        with pytest.raises(InvalidModelFile) as refused:
            host.ask("where are the boats?")
        line = one_line(str(refused.value))
        assert line.startswith(f"the chat model {path} is not a usable GGUF model: the file is")
        assert line.endswith(
            "download it again, or choose another with `mnemo models use chat NAME` "
            "(the bundled one: smollm2-135m)"
        )
        assert host.store.get(kept.id).headline == "Harbour"
    finally:
        host.close()


def test_a_chosen_embedding_model_cut_short_is_named_and_nothing_is_lost(mnemo) -> None:
    code, kept, _ = mnemo("add", "semantic", "name=Harbour", "summary=boats at the harbour")
    path = cut_model(mnemo.folder / "models", "tiny-encoder", arch="bert")
    settings = Settings.load(mnemo.folder)
    settings.models.embedding = "tiny-encoder"
    settings.save(mnemo.folder)
    code, out, err = mnemo("list")  # the store cannot embed: refused at start, with the way out
    assert code == 1 and out == ""
    line = one_line(err)
    assert line.startswith(f"mnemo: the embedding model {path} is not a usable GGUF model")
    assert "mnemo models use embedding NAME` (the bundled one: all-minilm-l6-v2)" in line
    assert mnemo("models", "use", "embedding", "all-minilm-l6-v2")[0] == 0  # needs no store
    code, out, _ = mnemo("show", kept.strip())
    assert code == 0 and "boats at the harbour" in out


def test_a_bundled_model_cut_short_is_made_again(mnemo, caplog: pytest.LogCaptureFixture) -> None:
    assert mnemo("add", "semantic", "name=Harbour", "summary=boats at the harbour")[0] == 0
    (model,) = (mnemo.folder / "models").glob("all-MiniLM-*.gguf")
    whole = model.stat().st_size
    with model.open("r+b") as file:
        file.truncate(whole // 3)  # a bad copy, a failing disk
    code, out, _ = mnemo("--json", "search", "boats harbour")
    assert code == 0
    assert json.loads(out)[0]["vector_rank"] == 1  # vectors work again
    assert model.stat().st_size == whole and read_header(model).tensor_count > 0
    assert f"{model} is not a usable GGUF model" in caplog.text and "making it again" in caplog.text


# -- a clock that jumps backwards ------------------------------------------------------------


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def set_clock(monkeypatch: pytest.MonkeyPatch, at: datetime) -> Clock:
    """Every `now()` Mnemo reads (core.timeutil's, wherever it was imported) reads `clock.at`."""
    # Imported first, so that the `now` each of them imported is replaced too.
    for name in ("agents.consolidate", "core.capture.pipeline", "core.capture.service"):
        importlib.import_module(name)
    timeutil = importlib.import_module("core.timeutil")
    clock = Clock(at)
    real = timeutil.now
    for module in list(sys.modules.values()):
        for name in ("now", "utc_now"):
            with contextlib.suppress(Exception):
                if getattr(module, name, None) is real:
                    monkeypatch.setattr(module, name, clock)
    return clock


NOON = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_a_clock_set_back_overwrites_nothing_and_the_newest_edit_wins(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = set_clock(monkeypatch, NOON)
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        note = store.add(SemanticMemory(name="Ferry", summary="leaves at 9"))
        store.update(note.id, {"summary": "leaves at 10"})
        clock.at = NOON - timedelta(days=400)  # the battery died: back to an older time
        later = [
            store.add(SemanticMemory(name=f"Note {n}", summary=f"text {n}")) for n in range(20)
        ]
        store.update(note.id, {"summary": "leaves at 11"})
        clock.at = NOON - timedelta(days=800)
        store.update(note.id, {"summary": "leaves at 12"})
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        ids = [note.id, *(m.id for m in later)]
        assert len(set(ids)) == 21 and len(store.get_many(ids)) == 21
        current = store.get(note.id)
        assert isinstance(current, SemanticMemory)
        assert current.summary == "leaves at 12" and current.rev == 4
        history = store.history(note.id)
        assert [v.rev for v in history] == [1, 2, 3, 4]
        assert [v.old and v.old["summary"] for v in history] == [
            None,
            "leaves at 9",
            "leaves at 10",
            "leaves at 11",
        ]
        times = [v.changed_at for v in history]
        assert times == sorted(times)  # an edit is never dated before the one it replaced
        assert current.updated_at and current.created_at
        assert current.updated_at >= current.created_at
        assert search(store, "leaves at 12")[0].memory.id == note.id


def test_capture_retention_and_purge_keep_fresh_data_after_the_clock_goes_back(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = set_clock(monkeypatch, NOON)
    host = capture_host(data_dir)
    try:
        (before,), _ = host.capture_once(agents=False)
        clock.at = NOON - timedelta(days=400)  # the clock jumps back past retention (30 days)
        (after,), _ = host.capture_once(agents=False)
        clock.at = NOON  # back to the very instant of the first picture
        (same,), _ = host.capture_once(agents=False)
        thumbnails = [s.thumbnail for s in (before, after, same)]
        assert len(set(thumbnails)) == 3  # the same instant twice: two pictures, not one
        service = host._capture_service(agents=False)
        clock.at = NOON - timedelta(days=400)
        service.recycle()  # retention counts from the clock: nothing here is "old"
        host.capture_stop()
        doomed = host.store.add(SemanticMemory(name="Diary", summary="private words"))
        host.store.delete(doomed.id)
        host.store.purge()
    finally:
        host.close()
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        for source in (before, after, same):
            kept = store.get_source(source.id)
            assert kept.thumbnail and kept.thumbnail == source.thumbnail
            assert (data_dir / kept.thumbnail).exists()
        assert store.get_many([doomed.id]) == {}
    assert len(pictures(data_dir)) == 3


def test_consolidation_after_the_clock_goes_back_keeps_the_memory_it_held(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agents.consolidate import Consolidator

    clock = set_clock(monkeypatch, NOON)
    held = store.add(SemanticMemory(name="Miso", summary="Miso is the user's grey cat"))
    store.update(held.id, {"source": "a chat in May"})
    Consolidator(store, duplicate_similarity=0.9).run()
    clock.at = NOON - timedelta(days=30)
    newer = store.add(
        SemanticMemory(name="Miso", summary="Miso is the user's grey cat", details="Likes tuna")
    )
    report = Consolidator(store, duplicate_similarity=0.9).run()
    # The duplicate written after the jump is still compared (it is dated before the last
    # run), and merged into the memory the store held: its history stays whole.
    assert report.merged == [(held.id, newer.id)]
    kept = store.get(held.id)
    assert isinstance(kept, SemanticMemory) and kept.details == "Likes tuna"
    assert [v.rev for v in store.history(held.id)] == [1, 2, 3]


def test_backup_retention_keeps_the_backup_just_made_after_the_clock_goes_back(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.backup

    with MemoryStore(data_dir, HashingEmbedder()) as store:
        store.add(SemanticMemory(name="Harbour", summary="boats at the harbour"))

    class Clocked(datetime):
        at = NOON

        @classmethod
        def now(cls, tz: Any = None) -> "Clocked":
            return cls.fromtimestamp(cls.at.timestamp(), tz)

    monkeypatch.setattr(core.backup, "datetime", Clocked)
    core.backup.backup(data_dir, tmp_path / "backups", keep=1)
    Clocked.at = NOON - timedelta(days=1)
    fresh = core.backup.backup(data_dir, tmp_path / "backups", keep=1)
    assert fresh.path.exists()
