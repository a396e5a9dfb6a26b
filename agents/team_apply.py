"""Applying the memory managers' answers: an insert becomes a memory linked to the input lines
it cites, an update changes the fields it names of the memory it names (the old value stays in
its history), a skip does nothing; and the `human` block learns the user's lasting facts. A
mixin of MemoryTeam (agents.team), kept apart for size: it shares its state.

An update changes only what the model wrote. A schema default it left out ("medium", "workflow")
is not a change, and no agent lowers a vault item's sensitivity: the user alone may.
"""

import contextvars
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agents import about, gate
from agents.dates import resolve_date
from core.capture.redact import redact
from core.errors import MnemoError
from core.memory.models import (
    EpisodicMemory,
    KnowledgeVaultItem,
    Memory,
    MemoryType,
    ProceduralMemory,
    ResourceMemory,
    SemanticMemory,
    Sensitivity,
    Source,
    sensitivity_of,
)
from core.store.memories import MemoryStore
from core.store.vectors import VectorFilter

if TYPE_CHECKING:
    from agents.team import Batch, BatchReport

log = logging.getLogger(__name__)

# The fields an update may change, per memory type (`when` becomes an episode's occurred_at).
UPDATABLE = {
    "episodic": ("event_type", "summary", "details", "actor"),
    "semantic": ("name", "summary", "details"),
    "procedural": ("entry_type", "summary", "steps"),
    "resource": ("title", "summary", "resource_type"),
    "knowledge_vault": ("entry_type", "caption", "source", "secret_value", "sensitivity"),
}


class ApplyMixin:
    # What these methods use of the team (see MemoryTeam).
    store: MemoryStore

    def _apply(
        self, manager: str, item: Any, batch: "Batch", shown: Sequence[str], report: "BatchReport"
    ) -> None:
        sources = self._cited(getattr(item, "sources", []), batch)
        item = _without_secrets(item)
        actor, cause = f"agent:{manager}", f"written by the {manager} manager"
        try:
            if manager == "core":
                verdict = gate.check_texts([item.text], sources) or _code_in(item.text)
                if verdict is not None:
                    self._refuse(verdict, report, manager)
                    return
                self._append_core(item, sources, report)
            elif item.op == "skip":
                report.skipped += 1
            elif item.op == "update":
                self._update(manager, item, shown[item.target - 1], batch, sources, report)
            else:
                memory = self._memory(manager, item, batch, sources)
                self._write_checked(memory, sources, report, cause, actor)
        except (MnemoError, ValidationError) as exc:
            reason = str(exc)
            if isinstance(exc, ValidationError):
                reason = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
            log.info("%s item dropped: %s", manager, reason)
            report.invalid.append(f"{manager}: {reason}")

    def _write_checked(
        self, memory: Memory, cited: list[Source], report: "BatchReport", cause: str, actor: str
    ) -> None:
        """Store a new memory that passes the quality gate and is no near-duplicate."""
        kind = MemoryType(memory.type).value
        verdict = gate.check(memory, cited) or near_duplicate(self.store, memory)
        if verdict is not None:
            self._refuse(verdict, report, kind)
            return
        stored = self.store.add(
            memory, sources=[s.id for s in cited], cause=cause, actor=actor_for(actor)
        )
        report.inserted[kind] = report.inserted.get(kind, 0) + 1
        report.memory_ids.append(stored.id)

    def _update(
        self,
        manager: str,
        item: Any,
        target: str,
        batch: "Batch",
        sources: list[Source],
        report: "BatchReport",
    ) -> None:
        """Change what the update names of the memory it names: against the revision read
        here (Changed if it moved since), never a high-sensitivity item and never to a lower
        sensitivity."""
        before = self.store.get(target)
        changes = _changes(manager, item, batch)
        verdict = _lowers(before, changes)
        if verdict is None:
            # What a person reads: not the encrypted value, nor a level ("high" is no claim).
            texts = [
                v
                for k, v in changes.items()
                if isinstance(v, str) and k not in ("secret_value", "sensitivity")
            ]
            verdict = gate.check_texts(texts, sources, also=before.search_text())
        if verdict is not None:
            self._refuse(verdict, report, manager)
            return
        cause = f"written by the {manager} manager"
        if changes:
            self.store.update(
                target,
                changes,
                cause=cause,
                actor=actor_for(f"agent:{manager}"),
                expect_rev=before.rev,
            )
        self.store.link_sources(target, [s.id for s in sources])
        report.updated += 1
        report.memory_ids.append(target)

    def _refuse(self, verdict: tuple[str, str], report: "BatchReport", manager: str) -> None:
        rule, reason = verdict
        log.info("%s memory refused by the gate (%s): %s", manager, rule, reason)
        report.refused[rule] = report.refused.get(rule, 0) + 1

    def _cited(self, numbers: Sequence[int], batch: "Batch") -> list[Source]:
        """The input lines an item cites; all of the batch when it cites none that exist."""
        cited = [
            batch.sources[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(batch.sources)
        ]
        return cited or list(batch.sources)

    def _memory(self, manager: str, item: Any, batch: "Batch", sources: list[Source]) -> Memory:
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

    def _append_core(self, edit: Any, sources: list[Source], report: "BatchReport") -> None:
        if edit.op == "skip" or not edit.text.strip():
            report.skipped += 1
            return
        if edit.block == "persona" and ON_BEHALF_OF.get():
            # The persona goes into every later prompt of the user's own assistant: another
            # tool's words are not the user's instructions.
            self._refuse(("persona", "no tool edits the assistant's persona"), report, "core")
            return
        if not self._add_to_block(
            edit.block, edit.text.strip(), sources, "appended by the core manager", "agent:core"
        ):
            report.skipped += 1
            return
        report.updated += 1
        report.memory_ids.append(self.store.core_block(edit.block).id)

    def _learn_user(self, sources: list[Source], report: "BatchReport") -> None:
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
        self.store.update(
            block.id, {"value": "\n".join(lines)}, cause=cause, actor=actor_for(actor)
        )
        self.store.link_sources(block.id, [s.id for s in sources])
        return True


# The tool a batch came from (Batch.on_behalf_of), for the history of what it writes; a context
# variable, as the app's writer thread and a waiting "remember" process batches at once.
ON_BEHALF_OF: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "on_behalf_of", default=None
)


def actor_for(agent: str) -> str:
    """The history's actor: the agent, and the tool it wrote for ("mcp:Cursor via agent:x")."""
    tool = ON_BEHALF_OF.get()
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
    """The item with secrets redacted from every text field it names but the vault's value,
    which is encrypted at rest: a model copying "my password is …" into a fact leaves a marker
    there. The fields it left out stay left out (an update changes only those it names)."""
    changes: dict[str, Any] = {}
    for name in item.model_fields_set - {"secret_value"}:
        value = getattr(item, name)
        if isinstance(value, str):
            changes[name] = redact(value).text
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            changes[name] = [redact(v).text for v in value]
    return item.model_copy(update=changes)


def _occurred(words: str, reference: datetime) -> datetime:
    """The event's time: the day its words name, else the time of the input that tells it."""
    day = resolve_date(words, reference) if words else None
    if day is None or day == reference.date():
        return reference
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def _changes(manager: str, item: Any, batch: "Batch") -> dict[str, Any]:
    """The fields an update names, left non-empty, by the memory type's field names. A field
    the model did not write holds the schema's default ("medium", "workflow"): no change."""
    named = item.model_fields_set
    changes = {
        name: getattr(item, name)
        for name in UPDATABLE[manager]
        if name in named and getattr(item, name)
    }
    if manager == "episodic" and "when" in named and item.when:
        changes["occurred_at"] = _occurred(item.when, batch.at)
    return changes


def _lowers(before: Memory, changes: dict[str, Any]) -> tuple[str, str] | None:
    """Refuse an agent's update of a high-sensitivity item (never shown to a model, so never
    its to change) or one that lowers a sensitivity: what the user marked secret stays so."""
    was = sensitivity_of(before)
    if was == Sensitivity.HIGH:
        return "sensitivity", f"memory {before.id} is high-sensitivity: no agent updates it"
    wanted = changes.get("sensitivity")
    if wanted is not None and Sensitivity(wanted).level < was.level:
        return "sensitivity", f"an agent may not lower memory {before.id} from {was} to {wanted}"
    return None


def _code_in(text: str) -> tuple[str, str] | None:
    """Core blocks go into every prompt and to other tools verbatim: no code-like number."""
    if about.holds_code(text):
        return "code-like number", "a core block line may not hold a PIN, code or account number"
    return None
