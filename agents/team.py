"""The memory team: a meta manager routes each batch of input to the six memory managers.

MIRIX sends every batch to up to 8 free-form tool-calling LLM calls. Here each call is
schema-constrained (agents.schemas), and every call of a batch starts with the same system
message: every agent's instructions (the same for all batches), then the batch itself. llama.cpp
keeps that prefix in its KV cache, so the instructions are read once per session, the batch once
per batch, and each call adds only a line naming its task and the memories it may update.

What a manager answers is applied item by item (agents.team_apply). An answer that cannot be
parsed or names nothing valid is dropped with a logged reason; nothing is ever half-stored.
"""

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

from agents import entities, extract, schemas, screen
from agents.team_apply import ON_BEHALF_OF, ApplyMixin, actor_for
from core.capture.redact import redact
from core.llm.chat import ChatModel, StructuredOutputError, Usage
from core.llm.service import Priority
from core.memory.models import (
    Memory,
    MemoryType,
    ResourceMemory,
    Sensitivity,
    Source,
    SourceKind,
    sensitivity_of,
)
from core.store.memories import MemoryStore
from core.store.search import SearchFilters, search

log = logging.getLogger(__name__)

MEMORY_TYPES = {
    "core": MemoryType.CORE,
    "episodic": MemoryType.EPISODIC,
    "semantic": MemoryType.SEMANTIC,
    "procedural": MemoryType.PROCEDURAL,
    "resource": MemoryType.RESOURCE,
    "knowledge_vault": MemoryType.VAULT,
}
DEFAULT_MANAGERS = ("episodic", "semantic")
LINE_CHARS = 600  # of one input line, as the model sees it (files: the resource keeps it all)
FILE_CHARS = 3000
DESCRIBED_CHARS = 120  # of an existing memory shown to a manager: each call evaluates these


@functools.cache
def prompt(name: str) -> str:
    """A prompt text from resources/prompts/, where they can be read and edited as text."""
    return resources.files("resources").joinpath(f"prompts/{name}.txt").read_text("utf-8").strip()


@functools.cache
def instructions() -> str:
    """The system prompt and every agent's task, in one text that never changes: as the start
    of every call's prompt it stays in llama.cpp's KV cache from one batch to the next."""
    tasks = "\n\n".join(f"Task {name}: {prompt(name)}" for name in ("meta", *schemas.MANAGERS))
    return f"{prompt('system')}\n\n{tasks}"


@dataclass
class Batch:
    """Inputs the team reads together, already kept as sources (so they have ids).
    `requested`: the user asked to remember these words (every line is kept)."""

    sources: list[Source]
    kind: str = "chat"
    requested: bool = False
    on_behalf_of: str | None = None  # the tool that sent them (`mnemo mcp`): in the history

    @property
    def at(self) -> datetime:
        return max(s.occurred_at for s in self.sources)

    def render(self) -> str:
        lines = []
        for n, source in enumerate(self.sources, 1):
            when = source.occurred_at.strftime("%Y-%m-%d %H:%M")
            if source.kind == "file":
                lines.append(f"[{n}] {when} file {source.title}:\n{source.text[:FILE_CHARS]}")
                continue
            who = source.actor or " — ".join(x for x in (source.app, source.title) if x)
            text = " ".join(source.text.split())[:LINE_CHARS]
            lines.append(f"[{n}] {when} {who}: {text}")
        return "\n".join(lines)


@dataclass
class BatchReport:
    topics: list[str] = field(default_factory=list)
    managers: list[str] = field(default_factory=list)
    calls: int = 0
    prompt_tokens: int = 0
    inserted: dict[str, int] = field(default_factory=dict)
    updated: int = 0
    skipped: int = 0
    invalid: list[str] = field(default_factory=list)
    answers: int = 0  # structured answers asked for
    dropped_answers: int = 0  # of those, answers that never validated (after retries)
    memory_ids: list[str] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)  # by the quality gate, per rule
    entities: int = 0  # names recorded in the graph


class MemoryTeam(ApplyMixin):
    def __init__(
        self,
        store: MemoryStore,
        chat: ChatModel,
        *,
        neighbours: int = 5,
        writer: str | None = None,
    ) -> None:
        self.store = store
        self.chat = chat
        self.neighbours = neighbours
        self.writer = writer or store.settings.agents.writer

    @property
    def extractive(self) -> bool:
        """Whether chat memories are written from the lines themselves (see agents.extract)."""
        return self.writer == "extractive" or (self.writer == "auto" and self.chat.small)

    def process(self, batch: Batch, *, priority: Priority = Priority.MEMORY) -> BatchReport:
        """Read one batch: route it, run the chosen managers, apply their answers.

        `priority`: background writing by default; Priority.CHAT when the user is waiting
        ("remember …" typed in the chat pane)."""
        report = BatchReport()
        token = ON_BEHALF_OF.set(batch.on_behalf_of)
        try:
            self._process(batch, report, priority)
        finally:
            ON_BEHALF_OF.reset(token)
        return report

    def _process(self, batch: Batch, report: BatchReport, priority: Priority) -> None:
        if batch.kind in ("chat", "capture") and self.extractive:
            chats = [s for s in batch.sources if s.kind != SourceKind.CAPTURE]
            self._extract(Batch(chats, "chat", batch.requested, batch.on_behalf_of), report)
            self._from_screen([s for s in batch.sources if s.kind == SourceKind.CAPTURE], report)
        else:
            self._write(batch, report, priority)
        memories = self.store.get_many(report.memory_ids).values()
        written = [m for m in memories if m.type != MemoryType.CORE]
        report.entities = entities.record(self.store, batch.sources, written)

    def _write(self, batch: Batch, report: BatchReport, priority: Priority) -> None:
        """The abstractive path: the managers write, the gate checks."""
        usage = Usage()
        system = {
            "role": "system",
            "content": f"{instructions()}\n\nInput ({batch.kind}):\n{batch.render()}",
        }
        ask = functools.partial(self._ask, system, report=report, usage=usage, priority=priority)
        routing = ask("Task meta.", schemas.Routing, who="meta")
        report.topics = list(routing.topics) if routing else []
        chosen = set(routing.managers) if routing and routing.managers else set(DEFAULT_MANAGERS)
        if batch.kind == "file":
            chosen.add("resource")
        report.managers = [m for m in schemas.MANAGERS if m in chosen]
        query = " ".join(report.topics) or batch.render()[:300]
        for manager in report.managers:
            shown = self._neighbours(manager, query)
            listing = "\n".join(f"#{i} {line}" for i, (_, line) in enumerate(shown, 1))
            task = f"Task {manager}. Existing memories:\n{listing or '(none)'}"
            schema = (
                schemas.CoreAnswer
                if manager == "core"
                else schemas.answer_schema(manager, len(shown))
            )
            answer = ask(task, schema, who=manager)
            if answer is not None:
                for item in answer.items:
                    self._apply(manager, item, batch, [memory_id for memory_id, _ in shown], report)
        if batch.kind == "file" and not report.inserted.get("resource"):
            self._file_as_resource(batch, report)
        report.calls, report.prompt_tokens = usage.calls, usage.prompt_tokens

    def _extract(self, batch: Batch, report: BatchReport) -> None:
        """Chat lines worth keeping become episodic memories in their own words, through the
        same gate as every memory; no model call."""
        kind = "note" if batch.requested else "conversation"
        for source in extract.select(batch.sources, self.store.embedder, keep_all=batch.requested):
            # The words a user asked to remember reach the team unredacted (a secret belongs
            # in the vault); a memory in their own words must not carry it.
            clean = source.model_copy(update={"text": redact(source.text).text})
            memory = extract.memory_from(clean, event_type=kind)
            self._write_checked(memory, [source], report, "kept in its own words", "agent:extract")
        self._learn_user(batch.sources, report)

    def _from_screen(self, captures: list[Source], report: BatchReport) -> None:
        """What the person did on screen and the facts shown there (agents.screen)."""
        for memory, cited in screen.memories(captures):
            self._write_checked(memory, cited, report, "kept from the screen", "agent:screen")

    def _file_as_resource(self, batch: Batch, report: BatchReport) -> None:
        """File a document the resource manager skipped or garbled: an ingested file must
        always be findable as a resource, whatever a small model made of it."""
        for source in batch.sources:
            first = next((ln.strip() for ln in source.text.splitlines() if ln.strip()), "")
            memory = ResourceMemory(
                title=source.title or "untitled",
                summary=first.lstrip("# ")[:160],
                resource_type="file",
                content=source.text,
            )
            stored = self.store.add(
                memory, sources=[source.id], cause="filed whole", actor=actor_for("agent:resource")
            )
            report.inserted["resource"] = report.inserted.get("resource", 0) + 1
            report.memory_ids.append(stored.id)

    def _ask(
        self,
        system: dict[str, str],
        task: str,
        schema: type[Any],
        *,
        who: str,
        report: BatchReport,
        usage: Usage,
        priority: Priority,
    ) -> Any:
        messages = [system, {"role": "user", "content": task}]
        report.answers += 1
        try:
            # No max_tokens: the schema's own bound, so a bounded answer is never cut off.
            return self.chat.structured(messages, schema, priority=priority, usage=usage)
        except StructuredOutputError as exc:
            log.warning("%s manager's answer dropped: %s", who, exc)
            report.invalid.append(f"{who}: {exc}")
            report.dropped_answers += 1
            return None

    def _neighbours(self, manager: str, query: str) -> list[tuple[str, str]]:
        """(id, line) of the memories a manager may update, numbered from 1 in the prompt."""
        if manager == "core":
            blocks = self.store.core_blocks()
            return [(b.id, f"{b.label}: {b.value[-400:] or '(empty)'}") for b in blocks]
        # A high-sensitivity vault item is never shown to a model: not even its caption, and
        # so never an update's target either (agents.team_apply refuses one all the same).
        filters = SearchFilters.make(types=[MEMORY_TYPES[manager]], max_sensitivity="medium")
        hits = search(self.store, query, filters=filters, limit=self.neighbours)
        return [
            (hit.memory.id, _describe(hit.memory))
            for hit in hits
            if sensitivity_of(hit.memory) != Sensitivity.HIGH  # raised a moment ago elsewhere
        ]


def _describe(memory: Memory) -> str:
    when = memory.event_time
    date = f" ({when:%Y-%m-%d})" if when else ""
    return f"{memory.headline}{date}"[:DESCRIBED_CHARS]
