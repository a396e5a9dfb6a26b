"""The host: the one object both front ends hold (the window and the `mnemo` command line).

It owns the engine (store, models), the memory team, the chat agent, the capture service and
the one scheduler for background upkeep, and offers what a front end needs — asking,
remembering, forgetting, capture control, ingestion, typed reads and change events — so that no
front end builds these parts itself or touches the store's SQL.

Creating a Host costs nothing; `start()` opens the store (LanceDB, migrations) and is what the
window runs off its GUI thread. The vector index is brought in step in the background after
that (`repair`), while keyword search already answers.

Background work (capture, scheduled consolidation, picture retention) runs in one process per
data folder: the first to `start(background=True)` owns it (core.ownership); a second process
(the CLI beside a running app) still reads, asks and writes.
"""

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from agents.chat import Answer, AnswerStream, ChatAgent, Item
from agents.host_capture import CaptureMixin
from agents.host_reads import ReadsMixin
from agents.host_work import WorkMixin
from agents.team import Batch, BatchReport, MemoryTeam
from core.errors import MnemoError
from core.memory.models import Source, SourceKind
from core.ownership import BackgroundOwner
from core.paths import data_dir
from core.settings import Settings
from core.store.changes import ChangeHub, ExternalWatch, Hub
from core.timeutil import now as utc_now

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (what, done, total)
WATCH_S = 1.0  # how often another process's writes are looked for


class NotStarted(MnemoError):
    """The host's engine is not open yet (start() has not finished)."""


@dataclass(frozen=True)
class Notice:
    """Something a front end should show: an alert that needs the user (disk full, capture
    paused, a model that failed), capture's new state (running, paused, stopped), or the
    progress of background work (`done` of `total`; done == total when it ends)."""

    kind: Literal["alert", "capture", "progress"]
    text: str
    detail: str = ""
    done: int = 0
    total: int = 0


class Host(CaptureMixin, WorkMixin, ReadsMixin):
    """See the module; capture, longer work and reads for views are its mixins'."""

    def __init__(
        self,
        folder: str | Path | None = None,
        *,
        settings: Settings | None = None,
        embedder: Any = None,
        chat: Any = None,
        capture_options: dict[str, Any] | None = None,
        watch_s: float | None = WATCH_S,
    ) -> None:
        """`embedder`, `chat` and `capture_options` (screen, desktop_factory, ocr for the
        CaptureService) replace the real parts in tests. `watch_s`: how often to look for
        another process's writes (None: only when poll_external() is called)."""
        self.data_dir = data_dir(folder)
        self._settings = settings
        self._embedder = embedder
        self._chat_override = chat
        self._capture_options = capture_options or {}
        self._watch_s = watch_s
        self.changes = ChangeHub()
        self.notices: Hub[Notice] = Hub()
        self.ready = threading.Event()
        self.owner = BackgroundOwner(self.data_dir)
        self.engine: Any = None  # core.engine.Engine, imported in start(): it pulls in LanceDB
        self._capture: Any = None
        self._scheduler: Any = None
        self._unsubscribe: Callable[[], None] | None = None
        # Two locks, never held across each other's slow work: capture's state (starting or
        # stopping capture can take a while), and the agents built on the chat model.
        self._capture_lock = threading.RLock()
        self._parts_lock = threading.Lock()
        self._watch: ExternalWatch | None = None
        self._team: MemoryTeam | None = None
        self._agent: ChatAgent | None = None
        self._writer: Any = None  # the background memory writer (one thread)
        self._batches = [0, 0]  # the writer's batches: done, handed over
        self._batches_lock = threading.Lock()
        self._started_at = utc_now()  # set again by start()
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, progress: Progress | None = None, *, background: bool = True) -> None:
        """Open the store and, with `background`, the scheduler: it looks for another
        process's writes, and, when this process owns the folder's background work
        (core.ownership), runs consolidation, picture retention and the vector repair.
        Returns when the store answers; repair goes on in the background."""
        from concurrent.futures import ThreadPoolExecutor

        from core.engine import Engine

        report = progress or (lambda *_: None)
        self._started_at = utc_now()
        settings = self._settings or Settings.load(self.data_dir)  # read once, for both
        self._choose_llama_build(settings.models.llama_build)
        report("opening the memory store", 0, 1)
        # With background work the vector repair runs after start() returns; without (the
        # command line), before, as a command expects a consistent index.
        engine = Engine(
            self.data_dir, embedder=self._embedder, settings=settings, repair=not background
        )
        if self._chat_override is not None:
            engine.set_chat(self._chat_override)
        # Whoever can take the background lock makes deletions final on disk; a process
        # beside the owner leaves its pending purge to the owner.
        engine.store.may_purge = self.owner.acquire
        self.engine = engine
        self._unsubscribe = engine.store.changes.subscribe(self.changes.publish)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="mnemo-writer")
        self.ready.set()
        report("opening the memory store", 1, 1)
        if engine.store.read_only:  # the store opened for reading only: say why, once
            full = engine.store.db.full
            self.alert(
                "Disk full" if full else "Read-only data folder",
                f"{self.data_dir} {'is out of space' if full else 'cannot be written'}: your "
                "memories can be read and searched, but nothing new is saved",
            )
        if background:
            owner = self.owner.acquire()
            self._start_scheduler(owner)
            if owner:
                if not engine.store.read_only:  # the index is brought in step when writable
                    self._writer.submit(self._repair)
                self._writer.submit(self._warm_up)
            elif not self.owner.read_only:
                log.info("background work is owned by process %s", self.owner.owner_pid())

    def _repair(self) -> None:
        def indexing(done: int, total: int) -> None:
            self.progress("Indexing memories", done, total)

        try:
            self.store.purge_if_pending()
            self.store.repair(indexing)
            self._sweep_pictures()
        except Exception as exc:  # logged and shown; search falls back to keywords meanwhile
            log.exception("vector repair failed")
            self.alert("Indexing failed", str(exc))
        indexing(1, 1)

    def wait_for_startup_work(self) -> None:
        """Wait until the work queued at start (index repair, the warm-up) has ended: a
        benchmark measures the app at rest, not while it settles."""
        if self._writer is not None:
            self._writer.submit(lambda: None).result()

    def _warm_up(self) -> None:
        """Load now, at start, what the first question or search would otherwise wait for:
        the vector matrices (1-2 s for 100,000 memories; their ANN index then builds in the
        background) and spaCy's pipeline (reading its vocabulary holds the GIL ~100 ms, a
        freeze of the window if it came in the middle of a conversation)."""
        from agents import entities

        try:
            self.store.vectors.load()
            self.store.source_vectors.load()
        except Exception:  # a search loads them again, and says what is wrong
            log.exception("loading the vector matrices failed")
        entities.warm()

    def _start_scheduler(self, owner: bool) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor as Executor
        from apscheduler.schedulers.background import BackgroundScheduler

        from agents.consolidate import schedule

        self._watch = ExternalWatch(self.store.db)
        scheduler = BackgroundScheduler(
            executors={"default": Executor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        if self._watch_s:
            scheduler.add_job(
                self.poll_external, "interval", seconds=self._watch_s, id="mnemo-watch"
            )
        if owner:
            hours = self.settings.agents.consolidate_every_hours
            schedule(scheduler, self._consolidate_quietly, hours)
            scheduler.add_job(self._recycle_pictures, "interval", hours=1, id="mnemo-retention")
            every = self.settings.backup.every_hours
            if every:
                scheduler.add_job(self.backup, "interval", hours=every, id="mnemo-backup")
        scheduler.start()
        self._scheduler = scheduler

    def close(self) -> None:
        """Stop capture and the scheduler (waiting for a running job), finish the batch the
        memory writer is on (queued ones are dropped: their inputs are kept as sources), close
        the models (so none is freed at interpreter exit) and the store. The engine stays: its
        parts refuse later calls with Closed, which front ends drop quietly."""
        if self._closed:
            return
        self._closed = True
        self.capture_stop()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self._writer is not None:
            self._writer.shutdown(wait=True, cancel_futures=True)
            self._writer = None
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.engine is not None:
            self.engine.close()
        self.ready.clear()
        self.owner.release()

    def __enter__(self) -> "Host":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def progress(self, what: str, done: int, total: int) -> None:
        """Report background work's progress to the front end (and to `start`'s caller)."""
        self.notices.publish(Notice("progress", what, done=done, total=total))

    def alert(self, text: str, detail: str = "") -> None:
        """Tell the front end something needs the user."""
        log.warning("%s: %s", text, detail)
        self.notices.publish(Notice("alert", text, detail))

    def poll_external(self) -> bool:
        """Announce another process's writes (the scheduler calls this every WATCH_S). The
        owner of the background work also finishes deletions another process left pending."""
        watch = self._watch
        if watch is None or self.engine is None:
            return False
        if watch.changed():
            self.changes.emit("external", "changed")
            if self.owner.held:
                self.store.purge_if_pending()
            return True
        return False

    # -- parts -----------------------------------------------------------------------------

    @property
    def store(self) -> Any:
        engine = self.engine
        if engine is None:
            raise NotStarted("the memory store is still opening")
        return engine.store

    @property
    def settings(self) -> Settings:
        return self.engine.settings if self.engine is not None else Settings.load(self.data_dir)

    @property
    def chat_model(self) -> Any:
        return self.engine.chat

    @property
    def team(self) -> MemoryTeam:
        chat = self.chat_model
        with self._parts_lock:
            if self._team is None or self._team.chat is not chat:
                self._team = MemoryTeam(self.store, chat)
            return self._team

    @property
    def agent(self) -> ChatAgent:
        team = self.team
        with self._parts_lock:
            if self._agent is None or self._agent.chat is not team.chat:
                self._agent = ChatAgent(self.store, team.chat, team)
            return self._agent

    def use_chat_model(self, ref: str) -> str:
        """Switch the chat model (a name from the model list, a GGUF path, openai:<model>);
        takes effect for the next question, without a restart. Returns its name."""
        engine = self.engine
        entry = engine.models.use("chat", ref)
        engine.set_chat(engine.models.chat_model())
        return entry.name

    def apply_settings(self, new: Settings) -> list[str]:
        """Save `new` as settings.toml and make it take effect now, without a restart: the
        chat model is switched, a running capture restarts with its new rules, redaction and
        start-at-login follow. Returns notes on what waits for the next start (the embedding
        model re-embeds everything then). Invalid settings (a bad exclusion pattern, a chat
        model that does not exist) are refused with nothing saved."""
        from core import autostart
        from core.capture.exclusions import Exclusions
        from core.capture.redact import configure
        from core.llm.manager import ModelManager

        rules = new.capture.exclusions
        Exclusions.make(apps=rules.apps, title_patterns=rules.title_patterns, domains=rules.domains)
        current = self.settings
        old = current.model_copy(deep=True)
        chat_fields = ("chat", "context_length", "gpu_layers", "threads", "openai")
        chat = None
        if any(getattr(old.models, f) != getattr(new.models, f) for f in chat_fields):
            chat = ModelManager(self.data_dir, new).chat_model()  # made before anything is saved
        new.save(self.data_dir)
        # In place: the engine, the model manager and the store hold this same object.
        for name in Settings.model_fields:
            setattr(current, name, getattr(new, name).model_copy(deep=True))
        notes = []
        configure(emails=new.privacy.redact_emails, phones=new.privacy.redact_phones)
        if chat is not None:
            self.engine.set_chat(chat)
        if old.models.embedding != new.models.embedding:
            notes.append("the new embedding model re-indexes your memories at next start")
        with self._capture_lock:
            if old.capture != new.capture and self._capture is not None:
                state = self._capture.state
                self.capture_stop()
                self.capture_start()
                if state == "paused":
                    self.capture_pause()
        if old.app.start_at_login != new.app.start_at_login:
            autostart.set_enabled(new.app.start_at_login, self.data_dir)
        return notes

    # -- asking ----------------------------------------------------------------------------

    def ask(self, message: str, *, now: datetime | None = None) -> AnswerStream:
        """Start answering a message: iterate the stream for its text; `cancel()` it from any
        thread to stop (the model is free again before its next token)."""
        return self.agent.stream(message, now=now)

    def keep_exchange(self, answer: Answer, *, now: datetime | None = None) -> None:
        """The conversation becomes memory, as in MIRIX: the user's question and the answer are
        kept as chat sources and handed to the memory team in the background."""
        if answer.intent != "ask" or not answer.text.strip():
            return
        from core.capture.redact import redact

        at = now or utc_now()
        turns = []
        for actor, text in (("user", answer.question), ("mnemo", answer.text)):
            redacted = redact(text)
            turns.append(
                Source(
                    kind=SourceKind.CHAT,
                    occurred_at=at,
                    text=redacted.text,
                    actor=actor,
                    meta={"app": "mnemo-chat"},
                )
            )
        stored = self.store.add_sources(turns)
        self.write_in_background(Batch(stored, "chat"))

    def write_in_background(self, batch: Batch) -> Any:
        """Hand a batch to the memory team on the writer thread (behind chat on the model)."""
        with self._batches_lock:
            self._batches[1] += 1
            done, total = self._batches
        self.progress("Writing memories", done, total)
        return self._writer.submit(self._process_quietly, batch)

    def _process_quietly(self, batch: Batch) -> BatchReport | None:
        try:
            return self.team.process(batch)
        except Exception as exc:  # the inputs stay kept as sources; only the memories wait
            log.exception("memory writing failed")
            self.alert("Writing memories failed", str(exc))
            return None
        finally:
            with self._batches_lock:
                self._batches[0] += 1
                done, total = self._batches
                if done == total:
                    self._batches = [0, 0]
            self.progress("Writing memories", done, total)

    def remember(self, text: str, *, now: datetime | None = None) -> Answer:
        return self.agent.remember(text, now=now)

    def find_to_forget(self, text: str) -> Answer:
        return self.agent.find_to_forget(text)

    def forget(self, items: Sequence[Item], progress: Callable[[int], None] | None = None) -> int:
        return self.agent.forget(items, progress)
