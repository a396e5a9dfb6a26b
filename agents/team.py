"""The memory team: a meta manager routes each batch of input to the six memory managers.

MIRIX sends every batch to up to 8 free-form tool-calling LLM calls. Here each call is
schema-constrained (agents.schemas), and every call of a batch starts with the same system
message: every agent's instructions (the same for all batches), then the batch itself. llama.cpp
keeps that prefix in its KV cache, so the instructions are read once per session, the batch once
per batch, and each call adds only a line naming its task and the memories it may update.

What a manager answers is applied item by item: an insert becomes a memory linked to the input
lines it cites, an update changes the memory it names (the old value stays in its history), a
skip does nothing. An answer that cannot be parsed or names nothing valid is dropped with a
logged reason; nothing is ever half-stored.
"""

import contextvars
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from importlib import resources
from typing import Any

from pydantic import ValidationError

from agents import about, entities, extract, gate, schemas, screen
from agents.dates import resolve_date
from core.capture.redact import redact
from core.errors import MnemoError
from core.llm.chat import ChatModel, StructuredOutputError, Usage
from core.llm.service import Priority
from core.memory.models import (
    EpisodicMemory,
    KnowledgeVaultItem,
    Memory,
    MemoryType,
    ProceduralMemory,
    ResourceMemory,
    SemanticMemory,
    Source,
    SourceKind,
)
from core.store.memories import MemoryStore
from core.store.search import SearchFilters, search
from core.store.vectors import VectorFilter

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


class MemoryTeam:
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
        token = _ON_BEHALF_OF.set(batch.on_behalf_of)
        try:
            self._process(batch, report, priority)
        finally:
            _ON_BEHALF_OF.reset(token)
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

    def _write_checked(
        self, memory: Memory, cited: list[Source], report: BatchReport, cause: str, actor: str
    ) -> None:
        kind = MemoryType(memory.type).value
        verdict = gate.check(memory, cited) or near_duplicate(self.store, memory)
        if verdict is not None:
            self._refuse(verdict, report, kind)
            return
        stored = self.store.add(
            memory, sources=[s.id for s in cited], cause=cause, actor=_as(actor)
        )
        report.inserted[kind] = report.inserted.get(kind, 0) + 1
        report.memory_ids.append(stored.id)

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
                memory, sources=[source.id], cause="filed whole", actor=_as("agent:resource")
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
        kind = MEMORY_TYPES[manager]
        hits = search(
            self.store, query, filters=SearchFilters.make(types=[kind]), limit=self.neighbours
        )
        return [(hit.memory.id, _describe(hit.memory)) for hit in hits]

    # -- applying answers ------------------------------------------------------------------

    def _apply(
        self, manager: str, item: Any, batch: Batch, shown: Sequence[str], report: BatchReport
    ) -> None:
        sources = self._cited(getattr(item, "sources", []), batch)
        item = _without_secrets(item)
        actor, cause = f"agent:{manager}", f"written by the {manager} manager"
        try:
            if manager == "core":
                verdict = gate.check_texts([item.text], sources)
                if verdict is not None:
                    self._refuse(verdict, report, manager)
                    return
                self._append_core(item, sources, report)
            elif item.op == "skip":
                report.skipped += 1
            elif item.op == "update":
                target = shown[item.target - 1]
                changes = _changes(manager, item, batch)
                texts = [
                    v for k, v in changes.items() if isinstance(v, str) and k != "secret_value"
                ]
                before = self.store.get(target).search_text()
                verdict = gate.check_texts(texts, sources, also=before)
                if verdict is not None:
                    self._refuse(verdict, report, manager)
                    return
                if changes:
                    self.store.update(target, changes, cause=cause, actor=_as(actor))
                self.store.link_sources(target, [s.id for s in sources])
                report.updated += 1
                report.memory_ids.append(target)
            else:
                memory = self._memory(manager, item, batch, sources)
                verdict = gate.check(memory, sources) or near_duplicate(self.store, memory)
                if verdict is not None:
                    self._refuse(verdict, report, manager)
                    return
                stored = self.store.add(
                    memory, sources=[s.id for s in sources], cause=cause, actor=_as(actor)
                )
                report.inserted[manager] = report.inserted.get(manager, 0) + 1
                report.memory_ids.append(stored.id)
        except (MnemoError, ValidationError) as exc:
            reason = str(exc)
            if isinstance(exc, ValidationError):
                reason = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
            log.info("%s item dropped: %s", manager, reason)
            report.invalid.append(f"{manager}: {reason}")

    def _refuse(self, verdict: tuple[str, str], report: BatchReport, manager: str) -> None:
        rule, reason = verdict
        log.info("%s memory refused by the gate (%s): %s", manager, rule, reason)
        report.refused[rule] = report.refused.get(rule, 0) + 1

    def _cited(self, numbers: Sequence[int], batch: Batch) -> list[Source]:
        """The input lines an item cites; all of the batch when it cites none that exist."""
        cited = [
            batch.sources[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(batch.sources)
        ]
        return cited or list(batch.sources)

    def _memory(self, manager: str, item: Any, batch: Batch, sources: list[Source]) -> Memory:
        when = min(s.occurred_at for s in sources)
        app = next((s.app for s in sources if s.app), None)
        if manager == "episodic":
            return EpisodicMemory(
                event_type=item.event_type or "event",
                summary=item.summary,
                details=item.details,
                actor=item.actor or (sources[0].actor or "user"),
                occurred_at=_occurred(item.when, when),
                source_app=app,
            )
        if manager == "semantic":
            return SemanticMemory(
                name=item.name, summary=item.summary, details=item.details, source_app=app
            )
        if manager == "procedural":
            return ProceduralMemory(
                entry_type=item.entry_type, summary=item.summary, steps=item.steps, source_app=app
            )
        if manager == "resource":
            return ResourceMemory(
                title=item.title or (sources[0].title or "untitled"),
                summary=item.summary,
                resource_type=item.resource_type or ("file" if batch.kind == "file" else "text"),
                content="\n".join(s.text for s in sources),
                source_app=app,
            )
        if not item.secret_value.strip():
            raise MnemoError("a vault item without a value")
        return KnowledgeVaultItem(
            entry_type=item.entry_type or "credential",
            source=item.source,
            sensitivity=item.sensitivity,
            secret_value=item.secret_value,
            caption=item.caption or item.entry_type or "secret",
            source_app=app,
        )

    def _append_core(self, edit: Any, sources: list[Source], report: BatchReport) -> None:
        if edit.op == "skip" or not edit.text.strip():
            report.skipped += 1
            return
        if not self._add_to_block(
            edit.block, edit.text.strip(), sources, "appended by the core manager", "agent:core"
        ):
            report.skipped += 1
            return
        report.updated += 1
        report.memory_ids.append(self.store.core_block(edit.block).id)

    def _learn_user(self, sources: list[Source], report: BatchReport) -> None:
        """Lasting facts the user states about themselves go into the `human` block."""
        for sentence, source in about.stable_facts(sources):
            clean = redact(sentence).text
            if about.known(clean, self.store.core_block("human").value):
                continue
            line = about.block_line(clean, source)
            verdict = gate.check_texts([clean], [source])
            if verdict is not None:
                self._refuse(verdict, report, "core")
            elif self._add_to_block("human", line, [source], "learnt from the user", "agent:about"):
                report.updated += 1
                report.memory_ids.append(self.store.core_block("human").id)

    def _add_to_block(
        self, label: str, text: str, sources: list[Source], cause: str, actor: str
    ) -> bool:
        """Append a line to a core block, oldest lines first out past 90 % of its limit
        (consolidation rewrites blocks properly); False when the block holds it already."""
        block = self.store.core_block(label)
        if text in block.value:
            return False
        lines = [*block.value.splitlines(), text]
        while len("\n".join(lines)) > 0.9 * block.char_limit and len(lines) > 1:
            lines.pop(0)
        self.store.update(block.id, {"value": "\n".join(lines)}, cause=cause, actor=_as(actor))
        self.store.link_sources(block.id, [s.id for s in sources])
        return True


# The tool a batch came from (Batch.on_behalf_of), for the history of what it writes; a context
# variable, as the app's writer thread and a waiting "remember" process batches at once.
_ON_BEHALF_OF: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "on_behalf_of", default=None
)


def _as(agent: str) -> str:
    """The history's actor: the agent, and the tool it wrote for ("mcp:Cursor via agent:x")."""
    tool = _ON_BEHALF_OF.get()
    return f"{tool} via {agent}" if tool else agent


def near_duplicate(store: MemoryStore, memory: Memory) -> tuple[str, str] | None:
    """A memory of the same type that says nearly the same (the writer should have updated
    it): the gate's last rule, which needs the store."""
    vector = store.embedder.embed([memory.search_text()])[0]
    hits = store.vectors.search(vector, 1, VectorFilter(types=frozenset([memory.type])))
    if hits and hits[0][1] >= gate.DUPLICATE_SIMILARITY:
        return "near-duplicate", f"it repeats memory {hits[0][0]} (cosine {hits[0][1]:.2f})"
    return None


def _without_secrets(item: Any) -> Any:
    """The item with secrets redacted from every text field but the vault's value, which is
    encrypted at rest: a model copying "my password is …" into a fact leaves a marker there."""
    changes: dict[str, Any] = {}
    for name, value in item:
        if name == "secret_value":
            continue
        if isinstance(value, str):
            changes[name] = redact(value).text
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            changes[name] = [redact(v).text for v in value]
    return item.model_copy(update=changes)


def _describe(memory: Memory) -> str:
    when = memory.event_time
    date = f" ({when:%Y-%m-%d})" if when else ""
    return f"{memory.headline}{date}"[:DESCRIBED_CHARS]


def _occurred(words: str, reference: datetime) -> datetime:
    """The event's time: the day its words name, else the time of the input that tells it."""
    day = resolve_date(words, reference) if words else None
    if day is None or day == reference.date():
        return reference
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def _changes(manager: str, item: Any, batch: Batch) -> dict[str, Any]:
    """The non-empty fields of an update, by the memory type's field names."""
    fields = {
        "episodic": ("event_type", "summary", "details", "actor"),
        "semantic": ("name", "summary", "details"),
        "procedural": ("entry_type", "summary", "steps"),
        "resource": ("title", "summary", "resource_type"),
        "knowledge_vault": ("entry_type", "caption", "source", "secret_value", "sensitivity"),
    }[manager]
    changes = {name: getattr(item, name) for name in fields if getattr(item, name)}
    if manager == "episodic" and item.when:
        changes["occurred_at"] = _occurred(item.when, batch.at)
    return changes
