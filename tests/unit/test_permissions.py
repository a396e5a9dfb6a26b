"""Permissions and logs: the data folder is 0700 and every file in it 0600, however Mnemo is
started (the command line, the window, or its parts used from Python under a umask of 022);
a canary secret never appears in a log line, a crash report or a prompt."""

import importlib.util
import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agents.host import Host
from core.capture.change import Box
from core.capture.ocr import TextLine
from core.embed import HashingEmbedder
from core.memory import KnowledgeVaultItem, SemanticMemory
from core.settings import Settings
from core.store.memories import MemoryStore
from tests.capture_fakes import FakeDesktop, FakeScreen, screen_image, window
from tests.standins import ScriptedChat

REPO = Path(__file__).resolve().parents[2]
# A GitHub token: the redactor knows its shape, so it is kept nowhere and shown to no model.
CANARY_TOKEN = "ghp_Zq8CanaryTok3nAbCdEfGhIjKlMnOpQrStUv"
# Vault values: a high-sensitivity one never reaches a model; a medium one is shown to the
# model when asked about (what the user wants), and is logged nowhere.
CANARY_VAULT = "zebraquokka-vault-7731"
MEDIUM_VAULT = "marigold-lantern-quokka"
CANARIES = (CANARY_TOKEN, CANARY_VAULT, MEDIUM_VAULT)


def not_private(folder: Path) -> list[str]:
    """Everything under `folder` (itself included) that is not user-only: folders 0700,
    files 0600."""
    found = []
    for path in [folder, *folder.rglob("*")]:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            continue
        wanted = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
        if stat.S_IMODE(info.st_mode) != wanted:
            found.append(f"{path.relative_to(folder.parent)} {stat.S_IMODE(info.st_mode):o}")
    return found


# -- permissions -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_cli_keeps_the_data_folder_private(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",  # never the user's keyring
    }

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "--data-dir", str(folder), *args],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            preexec_fn=lambda: os.umask(0o022),  # the usual umask: files 0644 unless Mnemo acts
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("add", "semantic", "name=Harbour", "summary=boats at the harbour")
    cli("add", "vault", "caption=GitHub token", f"secret_value={CANARY_TOKEN}")
    if importlib.util.find_spec("app.cli_backup") is not None:
        cli("backup")
        assert list((folder / "backups").iterdir())
    assert (folder / "vault.key").exists() and (folder / "mnemo.log").exists()
    assert not_private(folder) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("opened_by", ["host", "store"])
def test_the_parts_used_from_python_keep_the_data_folder_private(
    tmp_path: Path, opened_by: str
) -> None:
    """A program that opens the Host or the store itself, under a umask of 022: SQLite,
    LanceDB, the log and the pictures used to come out 0644."""
    before = os.umask(0o022)
    try:
        folder = tmp_path / "data"
        folder.mkdir()  # made by the user: 0755
        if opened_by == "host":
            desktop = FakeDesktop([window("libreoffice", "report.odt")])
            host = Host(
                folder,
                settings=Settings(capture={"thumbnail_every_s": 0, "ocr": False}),
                embedder=HashingEmbedder(),
                chat=ScriptedChat({}),
                capture_options={
                    "screen": FakeScreen([screen_image({40: "Quarterly report"})]),
                    "desktop_factory": lambda: desktop,
                    "ocr": None,
                },
                watch_s=None,
            )
            host.start()
            host.store.add(SemanticMemory(name="Harbour", summary="boats at the harbour"))
            host.store.add(KnowledgeVaultItem(caption="Door code", secret_value="2468"))
            host.capture_once(agents=False)
            host.close()
            assert list((folder / "capture" / "pictures").rglob("*.webp"))
        else:
            with MemoryStore(folder, HashingEmbedder()) as store:
                store.add(SemanticMemory(name="Harbour", summary="boats at the harbour"))
                store.add(KnowledgeVaultItem(caption="Door code", secret_value="2468"))
    finally:
        os.umask(before)
    assert (folder / "vault.key").exists() and (folder / "vectors").is_dir()
    assert not_private(folder) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_data_folder_open_to_others_is_closed_when_opened(data_dir: Path) -> None:
    data_dir.chmod(0o755)
    with MemoryStore(data_dir, HashingEmbedder()):
        pass
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


# -- a canary secret -------------------------------------------------------------------------


class ScriptedOcr:
    def __init__(self, text: str) -> None:
        self.text = text

    def read(self, image: Any, regions: Any = None) -> list[TextLine]:
        return [TextLine(self.text, Box(10, 10, 700, 40), 0.99)]

    def unload_if_idle(self, idle_s: float) -> bool:
        return False


def routing(*managers: str) -> str:
    return json.dumps({"topics": ["setup"], "managers": list(managers)})


def leaks(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary in text]


def test_a_canary_secret_reaches_no_log_line_crash_report_or_prompt(
    data_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    chat = ScriptedChat(
        {
            "Routing": [routing("semantic", "knowledge_vault")] * 8,
            # A model that streams its prompt back: the answer is replaced, and logged.
            "text": [f"Notes: [1] Home wifi password: {MEDIUM_VAULT}. Question: ..."],
        }
    )
    desktop = FakeDesktop([window("terminal", "bash")])
    host = Host(
        data_dir,
        settings=Settings(capture={"thumbnail_every_s": 0, "ocr": False}),
        embedder=HashingEmbedder(),
        chat=chat,
        capture_options={
            "screen": FakeScreen([screen_image({40: "a terminal"})]),
            "desktop_factory": lambda: desktop,
            "ocr": ScriptedOcr(f"export GITHUB_TOKEN={CANARY_TOKEN}"),
        },
        watch_s=None,
    )
    notices: list[Any] = []
    host.notices.subscribe(notices.append)
    host.start()
    try:
        store = host.store
        token = store.add(
            KnowledgeVaultItem(
                caption="GitHub token", secret_value=CANARY_VAULT, sensitivity="high"
            )
        )
        store.add(
            KnowledgeVaultItem(
                caption="Home wifi password", secret_value=MEDIUM_VAULT, sensitivity="medium"
            )
        )
        # Inputs holding the token: a chat export, a file, a screen.
        export = tmp_path / "chat.json"
        export.write_text(
            json.dumps(
                {
                    "title": "Setting up CI",
                    "started_at": "2026-03-01T10:00:00Z",
                    "turns": [
                        {"speaker": "user", "text": f"my token {CANARY_TOKEN} fails in CI"},
                        {"speaker": "assistant", "text": "Rotate it and store it as a secret."},
                    ],
                }
            )
        )
        host.ingest_chat(export)
        notes = tmp_path / "ci.md"
        notes.write_text(f"# CI\nGITHUB_TOKEN={CANARY_TOKEN}\n")
        host.ingest_file(notes)
        host.capture_once(agents=True)
        # A question that holds the token and asks about the vault.
        stream = host.ask(f"why does {CANARY_TOKEN} fail, and what is my GitHub token?")
        answer = "".join(stream)
        host.keep_exchange(stream.answer)
        host.wait_for_startup_work()  # the exchange's memories are written
        assert stream.answer.items  # something was found and shown
        prompts = json.dumps([messages for _, messages in chat.received])
        assert "[redacted: api key]" in prompts  # the inputs were read, redacted
        assert CANARY_TOKEN not in prompts and CANARY_VAULT not in prompts
        assert CANARY_TOKEN not in answer

        # "remember": the words reach the memory team whole (a secret belongs in the vault),
        # so its prompts are not checked; what it logs is.
        chat.script["Routing"] = [routing("knowledge_vault")]
        chat.script["KnowledgeVaultAnswer"] = [
            json.dumps(
                {
                    "items": [
                        {
                            "op": "insert",
                            "caption": "CI token",
                            "secret_value": CANARY_TOKEN,
                            "sensitivity": "high",
                            "sources": [1],
                        }
                    ]
                }
            )
        ]
        host.remember(f"remember my CI token is {CANARY_TOKEN}")
    finally:
        host.close()

    # A crash while showing a revealed secret: one line on the terminal, the traceback in the
    # log, the secret in neither.
    from app.cli import main

    capsys.readouterr()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("simulated bug while printing")

    monkeypatch.setattr("app.cli_output.print_memory", broken)
    assert main(["--data-dir", str(data_dir), "show", token.id, "--reveal"]) == 1
    crash = capsys.readouterr()
    assert "unexpected error" in crash.err and "simulated bug while printing" in crash.err
    assert "Traceback" not in crash.err and leaks(crash.out + crash.err) == []

    logs = "".join(p.read_text() for p in data_dir.glob("mnemo.log*"))
    assert "simulated bug while printing" in logs and "Traceback" in logs
    assert "a generated answer (" in logs  # the echoed prompt was logged, by its length
    assert leaks(logs) == []
    recorded = caplog.text + "".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert leaks(recorded) == []
    assert leaks(" ".join(f"{n.text} {n.detail}" for n in notices)) == []
    # The checks can see a canary where there is one.
    with MemoryStore(data_dir, HashingEmbedder()) as store:
        shown = store.get(token.id, reveal=True)
        assert isinstance(shown, KnowledgeVaultItem) and shown.secret_value is not None
        assert shown.secret_value.get_secret_value() == CANARY_VAULT
