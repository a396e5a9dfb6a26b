"""Consolidation: the memory's upkeep, run on a schedule and by `mnemo consolidate`.

- Near-duplicates (same type, vectors at cosine >= `duplicate_similarity`) are merged into the
  older memory: what the newer one adds is appended to the older one's details (the merge is a
  version in its history, naming the memory merged in), the newer one's sources and graph links
  move over, and the newer one is deleted. The merge is done by code, not by the model: a small
  model asked to merge two texts loses facts.
- Conflicts: semantic memories with the same name whose summaries disagree (not similar enough
  to be duplicates) are linked with the relation "conflicts", for the user to settle in the
  memory browser; nothing is deleted.
- Staleness: a memory not confirmed (updated) for a long time weighs less in search, halving
  every `stale_half_life_days` down to a floor; an update restores it. Core blocks and vault
  items never decay.
- Core blocks over 90% full are rewritten by the model to about half their limit; the old
  value stays in the block's history. A rewrite that is empty or too long is not applied.

Only memories changed since the last run are compared against the rest, so a run over an
unchanged store costs a query.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

from apscheduler.schedulers.base import BaseScheduler
from pydantic import BaseModel, ConfigDict, Field, create_model

from agents.team import prompt
from core.errors import MnemoError
from core.llm.chat import ChatModel, StructuredOutputError
from core.llm.service import Priority
from core.memory.models import Memory, MemoryType
from core.store.memories import MemoryStore
from core.store.upkeep import (
    changed_since,
    in_order_written,
    rank_weights,
    same_name,
    set_rank_weights,
)
from core.store.vectors import VectorFilter
from core.timeutil import now, to_iso

log = logging.getLogger(__name__)
ACTOR = "agent:consolidation"
MERGEABLE = (
    MemoryType.EPISODIC,
    MemoryType.SEMANTIC,
    MemoryType.PROCEDURAL,
    MemoryType.RESOURCE,
)
# The field a merge appends the newer memory's text to, and the fields it reads it from.
DETAILS = {
    MemoryType.EPISODIC: ("details", ("summary", "details")),
    MemoryType.SEMANTIC: ("details", ("summary", "details")),
    MemoryType.PROCEDURAL: (None, ()),  # steps are not text to append: the older one stays
    MemoryType.RESOURCE: ("summary", ("summary",)),
}
DETAILS_LIMIT = 2000


@dataclass
class ConsolidationReport:
    checked: int = 0
    merged: list[tuple[str, str]] = field(default_factory=list)  # (kept, merged in)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    decayed: int = 0
    restored: int = 0
    core_rewritten: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Consolidator:
    def __init__(
        self,
        store: MemoryStore,
        chat: ChatModel | None = None,
        *,
        duplicate_similarity: float = 0.92,
        stale_half_life_days: float = 180.0,
        weight_floor: float = 0.25,
    ) -> None:
        self.store = store
        self.chat = chat
        self.duplicate_similarity = duplicate_similarity
        self.stale_half_life_days = stale_half_life_days
        self.weight_floor = weight_floor

    def run(
        self, *, at: datetime | None = None, progress: Callable[[int, int], None] | None = None
    ) -> ConsolidationReport:
        at = at or now()
        report = ConsolidationReport()
        since = self.store.meta("consolidated_at")
        if since is not None and since > to_iso(at):
            # The clock was set back since the last run: what was written meanwhile is dated
            # before that run, and would never be compared. Everything is, once.
            since = None
        changed = changed_since(self.store, MERGEABLE, since)
        gone: set[str] = set()
        for n, memory_id in enumerate(changed, 1):
            if memory_id not in gone:
                self._compare(memory_id, report, gone)
            report.checked += 1
            if progress:
                progress(n, len(changed))
        self._decay(at, report)
        if self.chat is not None:
            self._rewrite_full_core_blocks(report)
        self.store.set_meta("consolidated_at", to_iso(at))
        return report

    # -- duplicates and conflicts ----------------------------------------------------------

    def _compare(self, memory_id: str, report: ConsolidationReport, gone: set[str]) -> None:
        memories = self.store.get_many([memory_id])
        if memory_id not in memories:
            return
        memory = memories[memory_id]
        vector = self.store.embedder.embed([memory.search_text()])[0]
        near = self.store.vectors.search(vector, 6, VectorFilter(types=frozenset([memory.type])))
        duplicates = [
            other_id
            for other_id, similarity, _ in near
            if similarity >= self.duplicate_similarity
            and other_id != memory_id
            and other_id not in gone
        ]
        others = self.store.get_many(duplicates)
        alike: set[str] = set()
        for other_id in duplicates:
            if other_id not in others:
                continue
            # The one the store has held longer stays: by the order written, not by its
            # created_at, which a clock set back dates before a memory held for months (whose
            # whole history a merge into the new one would delete).
            first = in_order_written(self.store, [memory.id, other_id])[0]
            older, newer = (
                (memory, others[other_id]) if first == memory.id else (others[other_id], memory)
            )
            try:
                if not self._merge(older, newer):
                    alike.add(other_id)  # the same, not in conflict: kept apart for room
                    continue
            except MnemoError as exc:
                report.errors.append(f"merging {newer.id} into {older.id}: {exc}")
                continue
            report.merged.append((older.id, newer.id))
            gone.add(newer.id)
            if newer.id == memory_id:
                return
            memory = self.store.get(older.id)
        if memory.type == MemoryType.SEMANTIC:
            self._flag_conflicts(memory, report, gone | alike)

    def _flag_conflicts(self, memory: Memory, report: ConsolidationReport, gone: set[str]) -> None:
        """Other semantic memories of the same name that were not merged disagree with it
        (`gone`: merged, or alike)."""
        for other in same_name(self.store, str(getattr(memory, "name", "")), besides=memory.id):
            if other not in gone and not self._linked(memory.id, other):
                self.store.link(memory.id, other, "conflicts")
                report.conflicts.append((memory.id, other))

    def _merge(self, older: Memory, newer: Memory) -> bool:
        """Merge `newer` into `older` (True), or keep both (False) where `older` has no room
        for what `newer` adds: the newer one is deleted only once its text is kept."""
        target, fields = DETAILS[MemoryType(older.type)]
        if target is not None:
            current = str(getattr(older, target) or "")
            added = [
                text
                for name in fields
                if (text := str(getattr(newer, name) or "").strip())
                and text.lower() not in current.lower()
                and text.lower() not in older.search_text().lower()
            ]
            if added:
                merged = "\n".join(x for x in (current, *added) if x)
                if len(merged) > DETAILS_LIMIT:
                    log.info("kept %s beside %s: no room to merge its text", newer.id, older.id)
                    return False
                self.store.update(
                    older.id,
                    {target: merged},
                    cause=f"merged duplicate {newer.id}: {newer.headline[:80]}",
                    actor=ACTOR,
                    expect_rev=older.rev,
                )
        sources = [s.id for s in self.store.sources_of(newer.id)]
        self.store.link_sources(older.id, sources)
        for link in self.store.links(newer.id):
            src = older.id if link.src == newer.id else link.src
            dst = older.id if link.dst == newer.id else link.dst
            if src != dst:
                self.store.link(src, dst, link.relation)
        # Only the version merged in: an edit made since (by the user, in another process)
        # keeps the memory, and the next run merges it with that edit.
        self.store.delete(
            newer.id,
            cause=f"merged into {older.id}",
            actor=ACTOR,
            expect_rev=newer.rev,
            merged_into=older.id,
        )
        return True

    def _linked(self, a: str, b: str) -> bool:
        return any({link.src, link.dst} == {a, b} for link in self.store.links(a))

    # -- staleness -------------------------------------------------------------------------

    def _decay(self, at: datetime, report: ConsolidationReport) -> None:
        changes = []
        for memory_id, updated, old in rank_weights(
            self.store, [MemoryType.CORE, MemoryType.VAULT]
        ):
            days = max((at - updated).total_seconds() / 86400, 0.0)
            weight = max(self.weight_floor, 0.5 ** (days / self.stale_half_life_days))
            weight = round(weight, 3)
            if abs(weight - old) >= 0.01:
                changes.append((memory_id, weight))
                if weight < old:
                    report.decayed += 1
                else:
                    report.restored += 1
        set_rank_weights(self.store, changes)

    # -- core blocks -----------------------------------------------------------------------

    def _rewrite_full_core_blocks(self, report: ConsolidationReport) -> None:
        assert self.chat is not None
        for label in ("human", "persona"):
            block = self.store.core_block(label)
            if block.fullness <= 0.9:
                continue
            limit = block.char_limit
            schema = _rewrite_schema(limit // 2)
            messages = [
                {"role": "system", "content": prompt("core_rewrite")},
                {"role": "user", "content": f"Block {label}:\n{block.value}"},
            ]
            try:
                answer = self.chat.structured(messages, schema, priority=Priority.CONSOLIDATION)
            except StructuredOutputError as exc:
                report.errors.append(f"core:{label} rewrite dropped: {exc}")
                continue
            text = answer.text.strip()  # type: ignore[attr-defined]
            if len(text) < 20:
                report.errors.append(f"core:{label} rewrite dropped: nearly empty")
                continue
            self.store.update(
                block.id,
                {"value": text},
                cause="rewritten to half its limit by consolidation",
                actor=ACTOR,
            )
            report.core_rewritten.append(label)


def _rewrite_schema(chars: int) -> type[BaseModel]:
    return create_model(
        "CoreRewrite",
        __config__=ConfigDict(extra="forbid"),
        text=(Annotated[str, Field(min_length=1, max_length=chars)], ...),
    )


def schedule(
    scheduler: BaseScheduler, consolidate: Callable[[], object], hours: float = 24
) -> None:
    """Add consolidation to an apscheduler scheduler: every `hours`, first run in 10 minutes
    (not at start-up, when the user is waiting for the app), never two runs at once."""
    scheduler.add_job(
        consolidate,
        "interval",
        hours=hours,
        id="mnemo-consolidate",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        next_run_time=now() + timedelta(minutes=10),
    )
