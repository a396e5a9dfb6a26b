"""The host's longer work: the models there are and their downloads, ingestion of chats,
files and notes, consolidation and backups. A mixin of Host (agents.host), kept apart for size."""

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.host_parts import HostParts
from agents.team import BatchReport
from core.errors import MnemoError

log = logging.getLogger(__name__)


class WorkMixin(HostParts):
    def _choose_llama_build(self, choice: str) -> None:
        """Point llama-cpp-python at the build to load (core.llm.builds), before any model
        loads: `choice` (from Settings), or the best that runs here. Its probe of a build it
        has not tried runs in a child process, once per build and CPU."""
        from core.llm import builds

        if choice != "auto":
            try:
                builds.ensure(choice)
                return
            except builds.BuildUnavailable as exc:
                self.alert("llama.cpp build", f"{exc}: the best build for this machine is used")
        try:
            builds.ensure("auto")
        except builds.BuildUnavailable as exc:  # memories still open and search by keyword
            self.alert("No llama.cpp build runs here", str(exc))

    def models(self) -> list[tuple[Any, str]]:
        """The models there are (core.llm.manager.ModelEntry), each with what it can do:
        "chat", "embedding", "projector" (a vision model's image part), or "unreadable"."""
        from core.errors import MnemoError as Unreadable

        manager = self.engine.models
        found = []
        for entry in manager.entries():
            try:
                header = manager.header(entry)
            except Unreadable:
                found.append((entry, "unreadable"))
                continue
            if header is None:  # on a server: named for the role it is used in
                kind = "embedding" if entry.name == manager.in_use("embedding") else "chat"
            elif header.is_projector:
                kind = "projector"
            else:
                kind = "embedding" if header.is_embedding_model else "chat"
            found.append((entry, kind))
        return found

    def download_model(
        self,
        name: str,
        progress: Callable[[int, int | None], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Any]:
        """Download a recommended model (resumable; `cancel` stops it, the part stays)."""
        return self.engine.models.download(name, progress=progress, cancel=cancel)

    def ingest_chat(self, path: Path, progress: Callable[[int, int], None] | None = None) -> Any:
        from agents.ingest import ingest_sessions
        from core.ingest.chats import read_chats

        def report(done: int, total: int) -> None:
            self.progress(f"Reading {Path(path).name}", done, total)
            if progress is not None:
                progress(done, total)

        return ingest_sessions(self.team, read_chats(Path(path)), progress=report)

    def ingest_file(self, path: Path) -> BatchReport:
        from agents.ingest import ingest_file

        return ingest_file(self.team, Path(path))

    def ingest_notes(self, path: Path, progress: Callable[[int, int], None] | None = None) -> Any:
        """A folder of Markdown notes (an Obsidian vault), read whole and filed as resource
        memories and graph edges in one transaction, without the model (core.ingest.keep_notes).
        `progress`: the embedding that follows the write."""
        from core.ingest.keep_notes import keep_notes
        from core.ingest.notes import read_vault

        def report(done: int, total: int) -> None:
            self.progress(f"Reading {Path(path).name}", done, total)
            if progress is not None:
                progress(done, total)

        return keep_notes(self.store, read_vault(Path(path)), progress=report)

    def consolidate(self, progress: Callable[[int, int], None] | None = None) -> Any:
        """Merge duplicates, flag conflicts, rank stale memories lower. Refused (BackgroundBusy)
        while another process owns this folder's background work: it consolidates on its own
        schedule, and two runs at once would merge the same memories twice."""
        from agents.consolidate import Consolidator

        self.owner.require("consolidate")

        def report(done: int, total: int) -> None:
            self.progress("Consolidating memories", done, total)
            if progress is not None:
                progress(done, total)

        try:
            return Consolidator(self.store, self.chat_model).run(progress=report)
        finally:
            self.progress("Consolidating memories", 1, 1)

    def backup(self) -> Any:
        """A scheduled backup (settings [backup]), keeping the newest `keep`. A failure is
        shown as an alert, never raised into the scheduler."""
        from core import backup as backups

        wanted = self.settings.backup
        dest = Path(wanted.folder).expanduser() if wanted.folder else None
        try:
            return backups.backup(self.data_dir, dest, keep=wanted.keep)
        except (MnemoError, OSError) as exc:
            log.exception("scheduled backup failed")
            self.alert("Backup failed", str(exc))
            return None

    def _consolidate_quietly(self) -> None:
        try:
            self.consolidate()
        except Exception as exc:
            log.exception("scheduled consolidation failed")
            self.alert("Consolidation failed", str(exc))
